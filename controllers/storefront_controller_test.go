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

package controllers

import (
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestEarliestRequeueWins(t *testing.T) {
	cases := map[string]struct {
		a, b, want time.Duration
	}{
		"neither requeues":      {0, 0, 0},
		"only the second does":  {0, time.Minute, time.Minute},
		"only the first does":   {time.Minute, 0, time.Minute},
		"the sooner of the two": {time.Hour, time.Minute, time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := earliest(ctrl.Result{RequeueAfter: tc.a}, ctrl.Result{RequeueAfter: tc.b})
			if got.RequeueAfter != tc.want {
				t.Errorf("requeue after %v, want %v", got.RequeueAfter, tc.want)
			}
		})
	}
}

func TestReferencedSecrets(t *testing.T) {
	sf := newStorefront("shops", withExternalCache())
	if got := referencedSecrets(sf); len(got) != 2 || got[0] != "acme-db" || got[1] != "acme-redis" {
		t.Errorf("referenced secrets %v, want [acme-db acme-redis]", got)
	}
	aurora := newStorefront("shops")
	aurora.Spec.Database = shopv1alpha1.DatabaseSpec{Aurora: &shopv1alpha1.AuroraDatabase{
		CABundleSecretRef: &shopv1alpha1.SecretKeyRef{Name: "rds-ca", Key: "ca.pem"}}}
	if got := referencedSecrets(aurora); len(got) != 1 || got[0] != "rds-ca" {
		t.Errorf("referenced secrets %v, want [rds-ca]", got)
	}
}
