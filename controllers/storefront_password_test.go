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
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestDesiredPasswordSecret(t *testing.T) {
	cases := map[string]struct {
		policy shopv1alpha1.DeletionPolicy
		owned  bool
	}{
		"owned under Delete, which deletes it with the database": {shopv1alpha1.DeletionPolicyDelete, true},
		"not owned under Snapshot: the snapshot needs it":        {shopv1alpha1.DeletionPolicySnapshot, false},
		"not owned under Retain: the kept cluster needs it":      {shopv1alpha1.DeletionPolicyRetain, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := auroraStorefront(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = tc.policy })
			s, err := desiredPasswordSecret(sf, testScheme, 3, "2026-q1")
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "acme-db-password-v3" || s.Type != corev1.SecretTypeOpaque {
				t.Errorf("name %q type %q", s.Name, s.Type)
			}
			if pw := string(s.Data[keyDBPassword]); !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(pw) {
				t.Errorf("password %q is not 32 alphanumerics", pw)
			}
			if s.Annotations[annotationPasswordVersion] != "3" || s.Annotations[annotationPasswordRotation] != "2026-q1" {
				t.Errorf("annotations %v", s.Annotations)
			}
			if metav1.IsControlledBy(s, sf) != tc.owned {
				t.Errorf("owned %v, want %v", metav1.IsControlledBy(s, sf), tc.owned)
			}
			if s.Labels[labelComponent] != roleDBPassword || s.Labels[labelInstance] != "acme" {
				t.Errorf("labels %v", s.Labels)
			}
		})
	}
	a, _ := desiredPasswordSecret(auroraStorefront(), testScheme, 1, "")
	b, _ := desiredPasswordSecret(auroraStorefront(), testScheme, 1, "")
	if string(a.Data[keyDBPassword]) == string(b.Data[keyDBPassword]) {
		t.Error("two generated passwords are equal")
	}
}

func TestPasswordSecretNames(t *testing.T) {
	if got := passwordSecretName(storefrontNamed("acme"), 12); got != "acme-db-password-v12" {
		t.Errorf("got %q", got)
	}
	long := storefrontNamed(strings.Repeat("x", 60))
	if a, b := passwordSecretName(long, 1), passwordSecretName(long, 2); a == b || len(a) > 63 {
		t.Errorf("versions of a long name: %q, %q", a, b)
	}
	p := dbPassword{secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shops", Name: "acme-db-password-v2"}}}
	if p.ref() != "shops/acme-db-password-v2.password" {
		t.Errorf("ref %q: not what rds-controller writes in last-applied-secret-reference", p.ref())
	}
}
