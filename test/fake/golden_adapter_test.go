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

// The golden tests' access to the old stand-in, for the one run that records their
// failures against it.

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
)

func goldenOptions() fake.Options {
	return fake.Options{ACKRetry: 200 * time.Millisecond}
}

func deletingOptions(d time.Duration) fake.Options {
	return fake.Options{ACKRetry: 200 * time.Millisecond, ACKDelay: d}
}

func deploymentOptions(ns string, delay time.Duration) fake.Options {
	return fake.Options{Namespaces: []string{ns}}
}

func forceAWSStatus(s *fake.StandIns, gvk schema.GroupVersionKind, key client.ObjectKey, id, status string) {
	s.SetACKFault(gvk, key, fake.ACKFault{Status: status})
}

func refuseModify(s *fake.StandIns, gvk schema.GroupVersionKind, key client.ObjectKey, id, code, message string) {
	s.SetACKFault(gvk, key, fake.ACKFault{Terminal: "api error " + code + ": " + message})
}

func allowModify(s *fake.StandIns, gvk schema.GroupVersionKind, key client.ObjectKey, id string) {
	s.SetACKFault(gvk, key, fake.ACKFault{})
}

// The old stand-in has no AWS of its own.
func awsStatus(s *fake.StandIns, gvk schema.GroupVersionKind, region, id string) string { return "" }

func awsField(s *fake.StandIns, gvk schema.GroupVersionKind, region, id, field string) any {
	return nil
}
