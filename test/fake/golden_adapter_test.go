/*
Copyright 2026 The Storefront Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package fake_test

// The golden tests' access to the stand-in's knobs and to its AWS. (When the golden
// tests were written, a version of this file for the old stand-in ran them once to
// record that each failed there.)

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
)

// goldenOptions are quick: ACK's 30-second requeue is 200ms, its 10-hour resync 300ms
// (so a state AWS takes without a call is seen), AWS takes 200ms to change.
func goldenOptions() fake.Options {
	return fake.Options{ACKRetry: 200 * time.Millisecond, ACKResync: 300 * time.Millisecond, ACKDelay: 200 * time.Millisecond}
}

// deletingOptions are goldenOptions where AWS takes d.
func deletingOptions(d time.Duration) fake.Options {
	o := goldenOptions()
	o.ACKDelay = d
	return o
}

func deploymentOptions(ns string, delay time.Duration) fake.Options {
	return fake.Options{Namespaces: []string{ns}, DeploymentDelay: delay}
}

func forceAWSStatus(s *fake.StandIns, gvk schema.GroupVersionKind, _ client.ObjectKey, id, status string) {
	s.AWS().SetStatus(gvk.Kind, id, status)
}

func refuseModify(s *fake.StandIns, gvk schema.GroupVersionKind, _ client.ObjectKey, id, code, message string) {
	s.AWS().Refuse(gvk.Kind, fake.OpModify, id, fake.NewAPIError(code, message))
}

func allowModify(s *fake.StandIns, gvk schema.GroupVersionKind, _ client.ObjectKey, id string) {
	s.AWS().Allow(gvk.Kind, fake.OpModify, id)
}

// awsStatus is the own status AWS reports for the resource, "" when it has none.
func awsStatus(s *fake.StandIns, gvk schema.GroupVersionKind, region, id string) string {
	r, ok := s.AWS().Get(fake.AWSKey{Account: testAccount, Region: region, Kind: gvk.Kind, ID: id})
	if !ok {
		return ""
	}
	return r.Status
}

func awsField(s *fake.StandIns, gvk schema.GroupVersionKind, region, id, field string) any {
	r, ok := s.AWS().Get(fake.AWSKey{Account: testAccount, Region: region, Kind: gvk.Kind, ID: id})
	if !ok {
		return nil
	}
	return r.Spec[field]
}
