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
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

const (
	cdnOriginHost = "origin.acme.example"
	cdnAlias      = "shop.acme.example"
	cdnAlias2     = "www.acme.example"
	cdnALBCert    = "arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000002"
	cdnCertARN    = "arn:aws:acm:us-east-1:123456789012:certificate/9f8e7d6c-0000-4000-8000-000000000003"
	cdnDistARN    = "arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"
	cdnDomain     = "d111111abcdef8.cloudfront.net"
)

// requireImagesCDNCRDs fails unless the suite's API server has the real CRDs of
// images-cdn: the fields below are checked against them, never against a guess.
func requireImagesCDNCRDs(t *testing.T) {
	t.Helper()
	dir, real, err := testenv.ACKCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, testenv.ImagesCDNSubdir, "s3.services.k8s.aws_buckets.yaml")); !real || statErr != nil {
		t.Fatalf("the real ACK CRDs of images-cdn are not in %s: set ACK_CRDS_DIR to ../shared/ack-crds (CI assembles it with hack/ack-crds.sh)", dir)
	}
}

// withImagesAndCDN is acme with an images bucket and the CDN in front of its ALB.
func withImagesAndCDN(policy shopv1alpha1.BucketDeletionPolicy) storefrontOption {
	return func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Ingress = &shopv1alpha1.IngressSpec{ClassName: "alb", Host: cdnOriginHost, CertificateARN: cdnALBCert}
		sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{DeletionPolicy: policy}}
		sf.Spec.CDN = &shopv1alpha1.CDNSpec{Enabled: true, Aliases: []string{cdnAlias, cdnAlias2}}
	}
}

func ackMetadata(arn, region string) map[string]any {
	return map[string]any{"arn": arn, "ownerAccountID": "123456789012", "region": region}
}

func liveACK(g Gomega, ns string, gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	obj := newACKObject(gvk)
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed())
	return obj
}

func nested(obj *unstructured.Unstructured, path ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
	return v
}

// The API refuses a CDN it could not build, naming the field.
func TestCDNSpecValidation(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(sf *shopv1alpha1.Storefront)
		want   string
	}{
		{"no images bucket", func(sf *shopv1alpha1.Storefront) { sf.Spec.Images = nil },
			"spec.cdn.enabled: Invalid value: cdn.enabled requires images.bucket"},
		{"no alias", func(sf *shopv1alpha1.Storefront) { sf.Spec.CDN.Aliases = nil },
			"spec.cdn.aliases: Invalid value: enabled requires at least one alias"},
		{"an ingress of another class", func(sf *shopv1alpha1.Storefront) {
			sf.Spec.Ingress = &shopv1alpha1.IngressSpec{ClassName: "nginx", Host: cdnOriginHost}
		}, "cdn.enabled requires ingress with className alb and a host"},
		{"the origin's host as an alias", func(sf *shopv1alpha1.Storefront) { sf.Spec.CDN.Aliases = []string{cdnOriginHost} },
			"spec.cdn.aliases: Invalid value: cdn.aliases must not contain ingress.host"},
		{"an alias that is no host name", func(sf *shopv1alpha1.Storefront) { sf.Spec.CDN.Aliases = []string{"Shop Example"} },
			"spec.cdn.aliases[0]: Invalid value: \"Shop Example\": spec.cdn.aliases[0] in body should match"},
		{"an unknown deletion policy", func(sf *shopv1alpha1.Storefront) { sf.Spec.Images.Bucket.DeletionPolicy = "Snapshot" },
			"spec.images.bucket.deletionPolicy: Unsupported value: \"Snapshot\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sf := newStorefront(ns, withImagesAndCDN(shopv1alpha1.BucketDeletionPolicyRetain))
			tc.change(sf)
			err := k8sClient.Create(ctx, sf, client.FieldValidation("Strict"))
			if err == nil {
				_ = k8sClient.Delete(ctx, sf)
				t.Fatal("the API server accepted it")
			}
			NewWithT(t).Expect(err.Error()).To(ContainSubstring(tc.want))
		})
	}
	// And accepts the valid one, with the bucket's policy defaulted to Retain.
	sf := newStorefront(ns, withImagesAndCDN(""))
	createStorefront(t, sf)
	NewWithT(t).Expect(sf.Spec.Images.Bucket.DeletionPolicy).To(Equal(shopv1alpha1.BucketDeletionPolicyRetain))
}

// Every field the operator writes on the Bucket, Certificate, OriginAccessControl,
// CachePolicy and Distribution, and the status fields it reads, are in the real CRDs
// (s3-controller 1.10.0, acm-controller 1.3.4, cloudfront-controller 1.7.1): field
// validation Strict refuses an unknown one.
func TestImagesCDNObjectsFitTheRealCRDs(t *testing.T) {
	requireImagesCDNCRDs(t)
	ns := newNamespace(t)
	ctx := context.Background()
	strict := client.FieldValidation("Strict")
	sf := newStorefront(ns, withImagesAndCDN(shopv1alpha1.BucketDeletionPolicyRetain))
	sf.UID = "7a1c3e4f-0000-4000-8000-000000000026"
	bucket := imagesBucketName(sf)
	objects := []struct {
		obj    *unstructured.Unstructured
		status map[string]any
	}{
		{desiredBucket(sf, testScheme, "eu-central-1", cloudFrontReadPolicy(bucket, cdnDistARN)),
			map[string]any{"ackResourceMetadata": ackMetadata("arn:aws:s3:::"+bucket, "eu-central-1"), "location": "http://" + bucket + ".s3.amazonaws.com/"}},
		{desiredCertificate(sf, testScheme), map[string]any{
			"ackResourceMetadata": ackMetadata(cdnCertARN, "us-east-1"), "status": "PENDING_VALIDATION",
			"domainValidations": []any{map[string]any{"domainName": cdnAlias, "validationMethod": "DNS", "validationStatus": "PENDING_VALIDATION",
				"resourceRecord": map[string]any{"name": "_a79865eb4cd1a6ab990a45779b4e0b96.shop.acme.example.", "type_": "CNAME",
					"value": "_424c7224e9b0146f9a8808af955727d0.acm-validations.aws."}}},
			"failureReason": ""}},
		{desiredOriginAccessControl(sf, testScheme, "eu-central-1"), map[string]any{"id": "E2QWRUHAPOMQZL", "eTag": "ETVPDKIKX0DER"}},
		{desiredPagesCachePolicy(sf, testScheme, "eu-central-1"), map[string]any{"id": "2766f3ec-0000-4000-8000-000000000004", "eTag": "E23ZP02F085DFQ"}},
		{desiredDistribution(sf, testScheme, "eu-central-1", distributionInputs{certificateARN: cdnCertARN, originAccessControlID: "E2QWRUHAPOMQZL",
			pagesCachePolicyID: "2766f3ec-0000-4000-8000-000000000004", bucket: bucket, bucketRegion: "eu-central-1", originVerify: "v3ry-s3cret"}),
			map[string]any{"ackResourceMetadata": ackMetadata(cdnDistARN, "eu-central-1"), "domainName": cdnDomain, "id": "E2QWRUHAPOMQZL",
				"status": "InProgress", "eTag": "E2QWRUHEXAMPLE", "callerReference": "storefront"}},
	}
	for _, o := range objects {
		obj := o.obj.DeepCopy()
		obj.SetNamespace(ns)
		obj.SetOwnerReferences(nil) // the Storefront does not exist here
		if err := k8sClient.Create(ctx, obj, strict); err != nil {
			t.Fatalf("creating %s with the operator's fields: %v", obj.GetKind(), err)
		}
		obj.Object["status"] = o.status
		o.status["conditions"] = []any{map[string]any{"type": ackConditionSynced, "status": "True", "lastTransitionTime": "2026-12-03T10:00:00Z"}}
		if err := k8sClient.Status().Update(ctx, obj, strict); err != nil {
			t.Fatalf("%s: ACK's status: %v", obj.GetKind(), err)
		}
	}
}

// The operator's objects for a shop with images and the CDN, with the ACK stand-ins
// (test/fake: s3-, acm- and cloudfront-controller): the bucket, the certificate's
// validation records in CDNReady, the distribution created once the certificate is
// issued, status.url on the first alias once it is deployed, and the ALB refusing
// requests without the origin header.
func TestImagesBucketAndCDN(t *testing.T) {
	requireImagesCDNCRDs(t)
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	const role = "arn:aws:iam::123456789012:role/storefront-shop-images"
	startOperator(t, ns, Options{AWSRegion: "eu-central-1", ImagesRoleARN: role})
	g := NewWithT(t)
	sf := readyShop(t, ns, withImagesAndCDN(shopv1alpha1.BucketDeletionPolicyRetain))
	g.Expect(sf.Status.URL).To(Equal("https://"+cdnOriginHost), "the Ingress serves until the CDN does")
	bucket := awsIdentifier(ns, "acme") + "-" + shortHash(string(sf.UID))
	g.Expect(bucket).To(MatchRegexp(`^sf-[a-z0-9-]+-[0-9a-f]{8}-[0-9a-f]{8}$`))
	g.Expect(len(bucket)).To(BeNumerically("<=", 63))

	// The bucket: encrypted, private, versioned, owner-enforced, kept on deletion.
	b := liveACK(g, ns, gvkBucket, "acme-images")
	g.Expect(b.GetAnnotations()).To(And(HaveKeyWithValue("services.k8s.aws/deletion-policy", "retain"),
		HaveKeyWithValue("services.k8s.aws/region", "eu-central-1")))
	g.Expect(nested(b, "spec", "name")).To(Equal(bucket))
	// Cost allocation tags (issue 23): S3 takes them as the bucket's tag set.
	g.Expect(nested(b, "spec", "tagging", "tagSet")).To(ConsistOf(
		map[string]any{"key": "storefront.dev/namespace", "value": ns},
		map[string]any{"key": "storefront.dev/name", "value": "acme"}))
	g.Expect(nested(b, "spec", "publicAccessBlock")).To(Equal(map[string]any{
		"blockPublicACLs": true, "blockPublicPolicy": true, "ignorePublicACLs": true, "restrictPublicBuckets": true}))
	g.Expect(nested(b, "spec", "versioning", "status")).To(Equal("Enabled"))
	g.Expect(nested(b, "spec", "ownershipControls")).To(Equal(map[string]any{"rules": []any{map[string]any{"objectOwnership": "BucketOwnerEnforced"}}}))
	g.Expect(nested(b, "spec", "encryption")).To(Equal(map[string]any{"rules": []any{map[string]any{
		"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "AES256"}, "bucketKeyEnabled": true}}}))
	g.Expect(nested(b, "spec", "createBucketConfiguration", "locationConstraint")).To(Equal("eu-central-1"))
	g.Expect(nested(b, "spec", "policy")).To(BeNil(), "no distribution yet, so no CloudFront read access")

	regional := "https://" + bucket + ".s3.eu-central-1.amazonaws.com/images"
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionImagesReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%+v", c)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonBucketAvailable))
		g.Expect(sf.Status.Images).To(Equal(&shopv1alpha1.ImagesStatus{Bucket: bucket, BaseURL: regional}))
		env := deployment(g, ns).Spec.Template.Spec.Containers[0].Env
		g.Expect(env).To(ContainElements(corev1.EnvVar{Name: "IMAGE_STORE", Value: "s3://" + bucket + "/images"},
			corev1.EnvVar{Name: "IMAGE_BASE_URL", Value: regional}))
		sa := get(g, ns, "acme-shop", &corev1.ServiceAccount{})
		g.Expect(sa.Annotations).To(HaveKeyWithValue("eks.amazonaws.com/role-arn", role))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	_, s3 := standIns.S3()
	g.Expect(s3.BucketExists(bucket)).To(BeTrue(), "the stand-in's S3 has the bucket")

	// The certificate in us-east-1 for both aliases; the origin access control and the
	// pages' cache policy.
	cert := liveACK(g, ns, gvkCertificate, "acme-cdn")
	g.Expect(cert.GetAnnotations()).To(And(HaveKeyWithValue("services.k8s.aws/region", "us-east-1"),
		HaveKeyWithValue("services.k8s.aws/deletion-policy", "delete")))
	g.Expect(nested(cert, "spec", "domainName")).To(Equal(cdnAlias))
	g.Expect(nested(cert, "spec", "subjectAlternativeNames")).To(Equal([]any{cdnAlias2}))
	g.Expect(tagsOf(cert)).To(Equal(map[string]string{"storefront.dev/namespace": ns, "storefront.dev/name": "acme"}))
	oac := liveACK(g, ns, gvkOriginAccessControl, "acme-cdn")
	g.Expect(nested(oac, "spec", "originAccessControlConfig")).To(Equal(map[string]any{
		"name": awsIdentifier(ns, "acme"), "description": "Storefront " + ns + "/acme images",
		"originAccessControlOriginType": "s3", "signingBehavior": "always", "signingProtocol": "sigv4"}))
	pages := liveACK(g, ns, gvkCachePolicy, "acme-pages")
	g.Expect(nested(pages, "spec", "cachePolicyConfig", "maxTTL")).To(BeEquivalentTo(300))
	g.Expect(nested(pages, "spec", "cachePolicyConfig", "defaultTTL")).To(BeEquivalentTo(0))
	g.Expect(nested(pages, "spec", "cachePolicyConfig", "parametersInCacheKeyAndForwardedToOrigin", "cookiesConfig")).
		To(Equal(map[string]any{"cookieBehavior": "all"}))

	// ACM publishes the validation records: CDNReady lists them; no distribution yet,
	// and the Ingress is open to all.
	var records map[string]string
	g.Eventually(func(g Gomega) {
		records = standIns.CertificateValidationRecords()
		g.Expect(records).To(HaveLen(2))
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionCDNReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonCertificatePendingValidation))
		g.Expect(c.Message).To(HavePrefix("Certificate acme-cdn waits for DNS validation: create CNAME "))
		for name, value := range records {
			g.Expect(c.Message).To(ContainSubstring("CNAME " + name + " -> " + value + " (for "))
		}
		g.Expect(storefrontEvents(g, ns)).To(ContainElement(ContainSubstring("CDNReady=False: Certificate acme-cdn waits for DNS validation")))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(absent(ns, "acme-cdn", newACKObject(gvkDistribution))).To(BeTrue())
	g.Expect(get(g, ns, "acme-shop", &networkingv1.Ingress{}).Annotations).NotTo(HaveKey("alb.ingress.kubernetes.io/conditions.acme-shop"))

	// The records are created: ISSUED, then the distribution with both origins and the
	// behaviours; once deployed, status.url is the first alias, images come from it,
	// the bucket lets the distribution read, and the ALB forwards only requests with
	// the origin header.
	for name, value := range records {
		standIns.PublishDNSRecord(name, value)
	}
	var dist *unstructured.Unstructured
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.URL).To(Equal("https://" + cdnAlias))
		g.Expect(condition(sf, shopv1alpha1.ConditionCDNReady).Status).To(Equal(metav1.ConditionTrue))
		dist = liveACK(g, ns, gvkDistribution, "acme-cdn")
		domain, _ := nested(dist, "status", "domainName").(string)
		g.Expect(sf.Status.CDN).To(Equal(&shopv1alpha1.CDNStatus{DomainName: domain, CertificateStatus: "ISSUED", DistributionStatus: "Deployed"}))
		g.Expect(sf.Status.Images.BaseURL).To(Equal("https://" + cdnAlias + "/images"))
		env := deployment(g, ns).Spec.Template.Spec.Containers[0].Env
		g.Expect(env).To(ContainElement(corev1.EnvVar{Name: "IMAGE_BASE_URL", Value: "https://" + cdnAlias + "/images"}))
		arn, _ := nested(dist, "status", "ackResourceMetadata", "arn").(string)
		g.Expect(nested(liveACK(g, ns, gvkBucket, "acme-images"), "spec", "policy")).To(Equal(cloudFrontReadPolicy(bucket, arn)))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	origin := string(get(g, ns, "acme-cdn-origin", &corev1.Secret{}).Data["originVerify"])
	g.Expect(origin).To(HaveLen(48))
	g.Eventually(func(g Gomega) {
		ing := get(g, ns, "acme-shop", &networkingv1.Ingress{})
		var conds []map[string]any
		g.Expect(json.Unmarshal([]byte(ing.Annotations["alb.ingress.kubernetes.io/conditions.acme-shop"]), &conds)).To(Succeed())
		g.Expect(conds).To(Equal([]map[string]any{{"field": "http-header",
			"httpHeaderConfig": map[string]any{"httpHeaderName": "X-Origin-Verify", "values": []any{origin}}}}))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	certARN, _ := nested(liveACK(g, ns, gvkCertificate, "acme-cdn"), "status", "ackResourceMetadata", "arn").(string)
	g.Expect(tagsOf(dist)).To(Equal(map[string]string{"storefront.dev/namespace": ns, "storefront.dev/name": "acme"}))
	dc := nested(dist, "spec", "distributionConfig").(map[string]any)
	g.Expect(dc["aliases"]).To(Equal(map[string]any{"items": []any{cdnAlias, cdnAlias2}}))
	g.Expect(dc["viewerCertificate"]).To(Equal(map[string]any{"acmCertificateARN": certARN, "sslSupportMethod": "sni-only", "minimumProtocolVersion": "TLSv1.2_2021"}))
	origins := dc["origins"].(map[string]any)["items"].([]any)
	g.Expect(origins).To(HaveLen(2))
	g.Expect(origins[0]).To(Equal(map[string]any{
		"id": "shop", "domainName": cdnOriginHost,
		"customOriginConfig": map[string]any{"httpPort": int64(80), "httpSPort": int64(443), "originProtocolPolicy": "https-only",
			"originSSLProtocols": map[string]any{"items": []any{"TLSv1.2"}}},
		"customHeaders": map[string]any{"items": []any{map[string]any{"headerName": "X-Origin-Verify", "headerValue": origin}}},
	}))
	oacID, _ := nested(liveACK(g, ns, gvkOriginAccessControl, "acme-cdn"), "status", "id").(string)
	g.Expect(origins[1]).To(Equal(map[string]any{
		"id": "images", "domainName": bucket + ".s3.eu-central-1.amazonaws.com", "originAccessControlID": oacID,
		"s3OriginConfig": map[string]any{"originAccessIdentity": ""}}))
	pagesID, _ := nested(liveACK(g, ns, gvkCachePolicy, "acme-pages"), "status", "id").(string)
	def := dc["defaultCacheBehavior"].(map[string]any)
	g.Expect(def["cachePolicyID"]).To(Equal(pagesID))
	g.Expect(def["targetOriginID"]).To(Equal("shop"))
	var paths []string
	for _, cb := range dc["cacheBehaviors"].(map[string]any)["items"].([]any) {
		m := cb.(map[string]any)
		paths = append(paths, m["pathPattern"].(string)+" "+m["targetOriginID"].(string)+" "+m["cachePolicyID"].(string))
	}
	g.Expect(paths).To(Equal([]string{
		"/static/* shop 658327ea-f89d-4fab-a63d-7e88639e58f6",
		"/images/* images 658327ea-f89d-4fab-a63d-7e88639e58f6",
		"/api/* shop 4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
		"/admin* shop 4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
	}))

	// Through the distribution stand-in: an image in the bucket is served with its
	// immutable header and cached; an anonymous page is a hit on the second request, a
	// signed-in one never; the shop sees the origin header on every request.
	g.Expect(s3.PutObject(bucket, "images/0f3a.webp", map[string]string{"Content-Type": "image/webp",
		"Cache-Control": "public, max-age=31536000, immutable"}, strings.NewReader("WEBP"), 4, nil)).Error().NotTo(HaveOccurred())
	var originHeaders []string
	var mu sync.Mutex
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		originHeaders = append(originHeaders, r.Header.Get("X-Origin-Verify"))
		mu.Unlock()
		if r.Header.Get("Cookie") != "" {
			w.Header().Set("Cache-Control", "private")
		} else {
			w.Header().Set("Cache-Control", "public, s-maxage=60")
		}
		_, _ = io.WriteString(w, "<h1>Products</h1>")
	}))
	defer shop.Close()
	standIns.SetCDNOriginResolver(func(host string) (string, bool) { return shop.URL, host == cdnOriginHost })
	domain, _ := nested(dist, "status", "domainName").(string)
	fetch := func(path, cookie string) (string, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+domain+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK), path)
		return resp.Header.Get("X-Cache"), resp.Header.Get("Cache-Control")
	}
	xc, cc := fetch("/images/0f3a.webp", "")
	g.Expect([]string{xc, cc}).To(Equal([]string{"Miss from cloudfront", "public, max-age=31536000, immutable"}))
	xc, _ = fetch("/images/0f3a.webp", "")
	g.Expect(xc).To(Equal("Hit from cloudfront"))
	for i, want := range []string{"Miss from cloudfront", "Hit from cloudfront"} {
		xc, _ := fetch("/products", "")
		g.Expect(xc).To(Equal(want), "anonymous request %d", i)
	}
	for i := range 2 {
		xc, _ := fetch("/products", "session=abc")
		g.Expect(xc).To(Equal("Miss from cloudfront"), "signed-in request %d", i)
	}
	mu.Lock()
	g.Expect(originHeaders).To(Equal([]string{origin, origin, origin}))
	mu.Unlock()

	// Disabling the CDN removes its objects and gives the URL back to the Ingress.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.CDN.Enabled = false })
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.URL).To(Equal("https://" + cdnOriginHost))
		g.Expect(sf.Status.CDN).To(BeNil())
		for _, gvk := range cdnKinds {
			g.Expect(absent(ns, cdnObjectName(sf, gvk), newACKObject(gvk))).To(BeTrue(), gvk.Kind)
		}
		g.Expect(get(g, ns, "acme-shop", &networkingv1.Ingress{}).Annotations).NotTo(HaveKey("alb.ingress.kubernetes.io/conditions.acme-shop"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// A distribution that served keeps the shop on it while ACK retries on (or refuses) one
// of the objects it was built from: the pods are not rolled to the private bucket's
// URL, the ALB keeps refusing requests without the origin header, status.url stays;
// CDNReady says CDNDegraded with ACK's words, then CDNAvailable once ACK recovers.
func TestCDNKeepsServingThroughACKTrouble(t *testing.T) {
	requireImagesCDNCRDs(t)
	ctx := context.Background()
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{AWSRegion: "eu-central-1"})
	g := NewWithT(t)
	readyShop(t, ns, withImagesAndCDN(shopv1alpha1.BucketDeletionPolicyRetain))
	g.Eventually(func(g Gomega) {
		g.Expect(standIns.CertificateValidationRecords()).To(HaveLen(2))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	for name, value := range standIns.CertificateValidationRecords() {
		standIns.PublishDNSRecord(name, value)
	}
	serving := func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.URL).To(Equal("https://" + cdnAlias))
		env := deployment(g, ns).Spec.Template.Spec.Containers[0].Env
		g.Expect(env).To(ContainElement(corev1.EnvVar{Name: "IMAGE_BASE_URL", Value: "https://" + cdnAlias + "/images"}))
		g.Expect(get(g, ns, "acme-shop", &networkingv1.Ingress{}).Annotations).To(HaveKey("alb.ingress.kubernetes.io/conditions.acme-shop"))
	}
	g.Eventually(func(g Gomega) {
		serving(g)
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionCDNReady).Reason).To(Equal(shopv1alpha1.ReasonCDNAvailable))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// ACK retries on the pages' cache policy (a throttled read, as ACK records it:
	// runtime reconciler.go HandleReconcileError sets ACK.Recoverable with the error).
	setRecoverable := func(msg string) {
		g.Eventually(func() error {
			pages := newACKObject(gvkCachePolicy)
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-pages"}, pages); err != nil {
				return err
			}
			conds, _, _ := unstructured.NestedSlice(pages.Object, "status", "conditions")
			kept := []any{}
			for _, c := range conds {
				if c.(map[string]any)["type"] != ackConditionRecoverable {
					kept = append(kept, c)
				}
			}
			if msg != "" {
				kept = append(kept, map[string]any{"type": ackConditionRecoverable, "status": "True", "message": msg,
					"lastTransitionTime": metav1.Now().UTC().Format(time.RFC3339)})
			}
			_ = unstructured.SetNestedSlice(pages.Object, kept, "status", "conditions")
			return k8sClient.Status().Update(ctx, pages)
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}
	op.counter.Reset()
	setRecoverable("Throttling: Rate exceeded")
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionCDNReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonCDNDegraded))
		g.Expect(c.Message).To(HaveSuffix("changes to the CDN wait: CachePolicy acme-pages: ACK is retrying: Throttling: Rate exceeded"))
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonCDNDegraded))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	serving(g)
	g.Expect(op.counter.Count("patch", "Deployment")).To(BeZero(), "the pods were rolled: %s", op.counter.MutationSummary())
	g.Expect(op.counter.Count("patch", "Ingress")).To(BeZero(), "the Ingress changed: %s", op.counter.MutationSummary())

	setRecoverable("")
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionCDNReady).Reason).To(Equal(shopv1alpha1.ReasonCDNAvailable))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	serving(g)
	g.Expect(op.counter.Count("patch", "Deployment")).To(BeZero(), "the pods were rolled: %s", op.counter.MutationSummary())
}

// The bucket follows spec.images.bucket.deletionPolicy: Retain keeps it in AWS
// (ACK's retain policy: the stand-in's S3 still has it), Delete deletes it.
func TestImagesBucketDeletionPolicy(t *testing.T) {
	requireImagesCDNCRDs(t)
	for _, policy := range []shopv1alpha1.BucketDeletionPolicy{shopv1alpha1.BucketDeletionPolicyRetain, shopv1alpha1.BucketDeletionPolicyDelete} {
		t.Run(string(policy), func(t *testing.T) {
			ns := newNamespace(t)
			standIns := startStandIns(t, ns, fake.Options{})
			startOperator(t, ns, Options{})
			g := NewWithT(t)
			sf := readyShop(t, ns, func(sf *shopv1alpha1.Storefront) {
				sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{}}
			})
			bucket := imagesBucketName(sf)
			annotation := func() any {
				return nested(liveACK(g, ns, gvkBucket, "acme-images"), "metadata", "annotations", "services.k8s.aws/deletion-policy")
			}
			g.Expect(annotation()).To(Equal("retain"), "Retain is the default")
			_, s3 := standIns.S3()
			g.Eventually(func() (bool, error) { return s3.BucketExists(bucket) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
			if policy == shopv1alpha1.BucketDeletionPolicyDelete {
				updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Images.Bucket.DeletionPolicy = policy })
				g.Eventually(annotation).WithTimeout(eventually).WithPolling(poll).Should(Equal("delete"))
			}
			g.Expect(k8sClient.Delete(context.Background(), getStorefront(g, ns))).To(Succeed())
			g.Eventually(func() bool {
				return absent(ns, "acme", &shopv1alpha1.Storefront{}) && absent(ns, "acme-images", newACKObject(gvkBucket))
			}).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())
			exists, err := s3.BucketExists(bucket)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(exists).To(Equal(policy == shopv1alpha1.BucketDeletionPolicyRetain), "bucket %s in S3 after the Storefront went", bucket)
		})
	}
}

// Removing spec.images takes back what it gave: the ServiceAccount's IRSA role annotation
// and the pods' IMAGE_STORE leave with it, and the Bucket object goes under its policy
// (Retain: ACK keeps the bucket in AWS).
func TestRemovingImagesWithdrawsTheRole(t *testing.T) {
	requireImagesCDNCRDs(t)
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	const role = "arn:aws:iam::123456789012:role/storefront-shop-images"
	startOperator(t, ns, Options{AWSRegion: "eu-central-1", ImagesRoleARN: role})
	g := NewWithT(t)
	sf := readyShop(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{DeletionPolicy: shopv1alpha1.BucketDeletionPolicyRetain}}
	})
	bucket := sf.Status.Images.Bucket
	g.Eventually(func(g Gomega) {
		sa := get(g, ns, "acme-shop", &corev1.ServiceAccount{})
		g.Expect(sa.Annotations).To(HaveKeyWithValue("eks.amazonaws.com/role-arn", role))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Images = nil })
	g.Eventually(func(g Gomega) {
		sa := get(g, ns, "acme-shop", &corev1.ServiceAccount{})
		g.Expect(sa.Annotations).NotTo(HaveKey("eks.amazonaws.com/role-arn"))
		for _, e := range deployment(g, ns).Spec.Template.Spec.Containers[0].Env {
			g.Expect(e.Name).NotTo(BeElementOf("IMAGE_STORE", "IMAGE_BASE_URL"))
		}
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Images).To(BeNil())
		g.Expect(meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionImagesReady)).To(BeNil())
		err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-images"}, newACKObject(gvkBucket))
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Bucket object is deleted: %v", err)
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	_, s3 := standIns.S3()
	g.Expect(s3.BucketExists(bucket)).To(BeTrue(), "Retain: the bucket stays in AWS")
}
