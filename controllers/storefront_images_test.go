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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// A bucket name is valid for S3 (3 to 63 of [a-z0-9-], a letter or digit first and
// last), starts with sf- (hack/eks's policy), and differs between two Storefronts of the
// same namespace and name (another cluster: another UID).
func TestImagesBucketName(t *testing.T) {
	valid := regexp.MustCompile(`^sf-[a-z0-9][a-z0-9-]{1,59}[a-z0-9]$`)
	long := &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Namespace: strings.Repeat("team-", 12) + "x",
		Name: strings.Repeat("a", 42), UID: types.UID("0b7e1c5e-0000-4000-8000-000000000001")}}
	other := long.DeepCopy()
	other.UID = "0b7e1c5e-0000-4000-8000-000000000002"
	for _, sf := range []*shopv1alpha1.Storefront{long, other} {
		if n := imagesBucketName(sf); !valid.MatchString(n) || len(n) > 63 || strings.Contains(n, "--") {
			t.Errorf("imagesBucketName = %q (%d characters)", n, len(n))
		}
	}
	if imagesBucketName(long) == imagesBucketName(other) {
		t.Error("two UIDs, one bucket name")
	}
	if imagesBucketName(long) != imagesBucketName(long.DeepCopy()) {
		t.Error("the name is not stable")
	}
}

func TestImagesCDNDeletionPolicy(t *testing.T) {
	sf := &shopv1alpha1.Storefront{Spec: shopv1alpha1.StorefrontSpec{
		Database: shopv1alpha1.DatabaseSpec{Aurora: &shopv1alpha1.AuroraDatabase{DeletionPolicy: shopv1alpha1.DeletionPolicyRetain}},
		Images:   &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{}}}}
	for _, tc := range []struct {
		name   string
		policy shopv1alpha1.BucketDeletionPolicy
		gvk    schema.GroupVersionKind
		want   string
	}{
		{"a bucket retains by default", "", gvkBucket, "retain"},
		{"Retain", shopv1alpha1.BucketDeletionPolicyRetain, gvkBucket, "retain"},
		{"Delete", shopv1alpha1.BucketDeletionPolicyDelete, gvkBucket, "delete"},
		{"the certificate always goes, whatever the database's policy", "", gvkCertificate, "delete"},
		{"the distribution too", shopv1alpha1.BucketDeletionPolicyRetain, gvkDistribution, "delete"},
		{"the database's objects keep theirs", shopv1alpha1.BucketDeletionPolicyDelete, gvkDBCluster, "retain"},
	} {
		sf.Spec.Images.Bucket.DeletionPolicy = tc.policy
		if got := ackDeletionPolicy(sf, tc.gvk); got != tc.want {
			t.Errorf("%s: %s", tc.name, got)
		}
	}
}

// The validation records are listed once each, sorted; a failed certificate says why.
func TestCertificateWaitMessage(t *testing.T) {
	cert := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"domainValidations": []any{
		map[string]any{"domainName": "shop.acme.example", "resourceRecord": map[string]any{"name": "_b.shop.acme.example.", "type_": "CNAME", "value": "_y.acm-validations.aws."}},
		map[string]any{"domainName": "*.shop.acme.example", "resourceRecord": map[string]any{"name": "_b.shop.acme.example.", "type_": "CNAME", "value": "_y.acm-validations.aws."}},
		map[string]any{"domainName": "acme.example", "resourceRecord": map[string]any{"name": "_a.acme.example.", "type_": "CNAME", "value": "_x.acm-validations.aws."}},
	}}}}
	cert.SetName("acme-cdn")
	want := "Certificate acme-cdn waits for DNS validation: create CNAME _a.acme.example. -> _x.acm-validations.aws. (for acme.example); " +
		"CNAME _b.shop.acme.example. -> _y.acm-validations.aws. (for shop.acme.example)"
	if got := certificateWaitMessage(cert, "PENDING_VALIDATION"); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	_ = unstructured.SetNestedField(cert.Object, "CAA_ERROR", "status", "failureReason")
	if got := certificateWaitMessage(cert, "FAILED"); got != "Certificate acme-cdn is FAILED (CAA_ERROR): request another by changing spec.cdn.aliases" {
		t.Errorf("failed: %q", got)
	}
	empty := &unstructured.Unstructured{Object: map[string]any{}}
	empty.SetName("acme-cdn")
	if got := certificateWaitMessage(empty, ""); got != "Certificate acme-cdn: waiting for ACM to publish the DNS validation records" {
		t.Errorf("no records yet: %q", got)
	}
}

// The condition as the AWS Load Balancer Controller's annotations.md spells it.
func TestOriginVerifyCondition(t *testing.T) {
	want := `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Origin-Verify","values":["s3cret"]}}]`
	if got := originVerifyCondition("s3cret"); got != want {
		t.Errorf("got %s", got)
	}
}
