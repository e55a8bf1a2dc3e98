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

package fake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func cdnCall(t *testing.T, region string) *ackCall {
	t.Helper()
	s := &StandIns{now: time.Now}
	t.Cleanup(s.closeCDN)
	return &ackCall{s: s, account: "123456789012", region: region, namespace: "shops"}
}

// object is an ACK object of the test with spec; the managers read nothing else.
func object(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"spec": spec, "metadata": map[string]any{"name": "acme-cdn", "namespace": "shops"}}}
}

// s3-controller's sdkCreate (pkg/resource/bucket/sdk.go at 1051f76): CreateBucket, the
// ARN in status, Synced=False "bucket created, requeue for updates"; the bucket is a
// real one in gofakes3, which refuses to delete it while it holds an object, as S3
// does (BucketNotEmpty).
func TestBucketGolden(t *testing.T) {
	c := cdnCall(t, "eu-central-1")
	m := bucketManager{}
	b := object(map[string]any{"name": "sf-shops-acme-1a2b3c4d-5e6f7a8b", "versioning": map[string]any{"status": "Enabled"}})
	if _, err := m.sdkFind(context.Background(), c, b); err != errNotFound {
		t.Fatalf("sdkFind before the create: %v, want not found", err)
	}
	created, err := m.sdkCreate(context.Background(), c, b)
	if err != nil {
		t.Fatal(err)
	}
	if arn, _, _ := unstructured.NestedString(created.Object, "status", "ackResourceMetadata", "arn"); arn != "arn:aws:s3:::sf-shops-acme-1a2b3c4d-5e6f7a8b" {
		t.Errorf("arn %q", arn)
	}
	if s := conditionOf(created, ConditionSynced); s == nil || s["status"] != "False" || s["message"] != "bucket created, requeue for updates" {
		t.Errorf("Synced after create: %v", s)
	}
	if _, err := m.sdkFind(context.Background(), c, b); err != nil {
		t.Fatalf("sdkFind after the create: %v", err)
	}
	cfg, ok := c.s.BucketConfiguration("sf-shops-acme-1a2b3c4d-5e6f7a8b")
	if !ok || cfg["versioning"].(map[string]any)["status"] != "Enabled" {
		t.Errorf("configuration %v", cfg)
	}
	// An image in the bucket, through the S3 API.
	endpoint, backend := c.s.S3()
	if _, err := backend.PutObject("sf-shops-acme-1a2b3c4d-5e6f7a8b", "images/a.webp", map[string]string{"Content-Type": "image/webp"},
		bytes.NewReader([]byte("RIFF....WEBP")), 12, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(endpoint + "/sf-shops-acme-1a2b3c4d-5e6f7a8b/images/a.webp")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "RIFF....WEBP" {
		t.Errorf("GET through the S3 API: %d %q", resp.StatusCode, body)
	}
	_, err = m.sdkDelete(context.Background(), c, b)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "BucketNotEmpty" {
		t.Errorf("deleting a bucket with an object: %v, want BucketNotEmpty", err)
	}
}

// acm-controller (pkg/resource/certificate at 6a2cf8b): a requested certificate is
// PENDING_VALIDATION with one DNS record per domain in status.domainValidations
// (sdk.go sets ValidationMethod DNS), ISSUED once the stand-in sees every record; the
// controller looks again every 60 s (manager_factory.go RequeueOnSuccessSeconds).
func TestCertificateGolden(t *testing.T) {
	c := cdnCall(t, "us-east-1")
	m := certificateManager{}
	if m.requeueOnSuccessSeconds() != 60 {
		t.Errorf("RequeueOnSuccessSeconds %d, want 60", m.requeueOnSuccessSeconds())
	}
	cert := object(map[string]any{"domainName": "shop.acme.example", "subjectAlternativeNames": []any{"www.acme.example"}})
	created, err := m.sdkCreate(context.Background(), c, cert)
	if err != nil {
		t.Fatal(err)
	}
	arn := certificateARNOf(created)
	if !strings.HasPrefix(arn, "arn:aws:acm:us-east-1:123456789012:certificate/") {
		t.Errorf("arn %q", arn)
	}
	found, err := m.sdkFind(context.Background(), c, created)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _ := unstructured.NestedString(found.Object, "status", "status"); st != "PENDING_VALIDATION" {
		t.Errorf("status %q", st)
	}
	dvs, _, _ := unstructured.NestedSlice(found.Object, "status", "domainValidations")
	if len(dvs) != 2 {
		t.Fatalf("domainValidations %v", dvs)
	}
	records := c.s.CertificateValidationRecords()
	if len(records) != 2 {
		t.Fatalf("records %v", records)
	}
	for name, value := range records {
		if !strings.HasSuffix(value, ".acm-validations.aws.") || !strings.HasPrefix(name, "_") {
			t.Errorf("record %s -> %s", name, value)
		}
		c.s.PublishDNSRecord(name, value)
		found, _ = m.sdkFind(context.Background(), c, created)
		st, _, _ := unstructured.NestedString(found.Object, "status", "status")
		if len(c.s.CertificateValidationRecords()) > 0 && st != "PENDING_VALIDATION" {
			t.Errorf("issued with a record missing: %s", st)
		}
	}
	if st, _, _ := unstructured.NestedString(found.Object, "status", "status"); st != "ISSUED" {
		t.Errorf("status after both records: %q", st)
	}
}

// cloudfront-controller (at 37fbad2): IDs in status.id; a distribution needs an
// issued certificate (InvalidViewerCertificate), is InProgress then Deployed; and the
// distribution stand-in caches as the behaviours say, adding the origin header.
func TestDistributionGolden(t *testing.T) {
	c := cdnCall(t, "eu-central-1")
	ctx := context.Background()

	// The shop: anonymous pages public for 60 s, signed-in ones private; it records
	// what CloudFront sends.
	var mu sync.Mutex
	var seen []http.Header
	shop := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if r.Header.Get("Cookie") != "" {
			rw.Header().Set("Cache-Control", "private, no-store")
		} else {
			rw.Header().Set("Cache-Control", "public, s-maxage=60")
		}
		_, _ = io.WriteString(rw, "page "+r.URL.Path)
	}))
	defer shop.Close()
	c.s.SetCDNOriginResolver(func(domain string) (string, bool) { return shop.URL, domain == "origin.acme.example" })

	policy, err := cachePolicyManager.sdkCreate(ctx, c, object(map[string]any{"cachePolicyConfig": map[string]any{
		"name": "sf-shops-acme-pages", "minTTL": int64(0), "defaultTTL": int64(0), "maxTTL": int64(300),
		"parametersInCacheKeyAndForwardedToOrigin": map[string]any{
			"cookiesConfig": map[string]any{"cookieBehavior": "all"}, "queryStringsConfig": map[string]any{"queryStringBehavior": "all"}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	pagesID := statusID(policy)
	if len(pagesID) != 14 || pagesID[0] != 'E' {
		t.Errorf("cache policy id %q", pagesID)
	}
	cert, _ := certificateManager{}.sdkCreate(ctx, &ackCall{s: c.s, account: c.account, region: "us-east-1"},
		object(map[string]any{"domainName": "shop.acme.example"}))
	_, backend := c.s.S3()
	if err := backend.CreateBucket("sf-shops-acme-1a2b3c4d-5e6f7a8b"); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.PutObject("sf-shops-acme-1a2b3c4d-5e6f7a8b", "images/ab12.webp",
		map[string]string{"Content-Type": "image/webp", "Cache-Control": "public, max-age=31536000, immutable"},
		bytes.NewReader([]byte("WEBP")), 4, nil); err != nil {
		t.Fatal(err)
	}
	methods := map[string]any{"items": []any{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}, "cachedMethods": map[string]any{"items": []any{"GET", "HEAD"}}}
	readOnly := map[string]any{"items": []any{"GET", "HEAD"}, "cachedMethods": map[string]any{"items": []any{"GET", "HEAD"}}}
	dist := object(map[string]any{"distributionConfig": map[string]any{
		"enabled": true, "aliases": map[string]any{"items": []any{"shop.acme.example"}},
		"viewerCertificate": map[string]any{"acmCertificateARN": certificateARNOf(cert)},
		"origins": map[string]any{"items": []any{
			map[string]any{"id": "shop", "domainName": "origin.acme.example",
				"customOriginConfig": map[string]any{"originProtocolPolicy": "https-only"},
				"customHeaders":      map[string]any{"items": []any{map[string]any{"headerName": "X-Origin-Verify", "headerValue": "s3cret"}}},
			},
			map[string]any{"id": "images", "domainName": "sf-shops-acme-1a2b3c4d-5e6f7a8b.s3.eu-central-1.amazonaws.com",
				"s3OriginConfig": map[string]any{"originAccessIdentity": ""}},
		}},
		"defaultCacheBehavior": map[string]any{"targetOriginID": "shop", "cachePolicyID": pagesID, "allowedMethods": methods},
		"cacheBehaviors": map[string]any{"items": []any{
			map[string]any{"pathPattern": "/images/*", "targetOriginID": "images", "cachePolicyID": "658327ea-f89d-4fab-a63d-7e88639e58f6", "allowedMethods": readOnly},
			map[string]any{"pathPattern": "/api/*", "targetOriginID": "shop", "cachePolicyID": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
				"originRequestPolicyID": "b689b0a8-53d0-40ab-baf2-68738e2966ac", "allowedMethods": methods},
		}},
	}})
	var apiErr *APIError
	if _, err := (distributionManager{}).sdkCreate(ctx, c, dist); !errors.As(err, &apiErr) || apiErr.Code != "InvalidViewerCertificate" {
		t.Fatalf("a distribution with a pending certificate: %v, want InvalidViewerCertificate", err)
	}
	for name, value := range c.s.CertificateValidationRecords() {
		c.s.PublishDNSRecord(name, value)
	}
	if _, err := (certificateManager{}).sdkFind(ctx, c, cert); err != nil {
		t.Fatal(err)
	}
	created, err := distributionManager{}.sdkCreate(ctx, c, dist)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"InProgress", "Deployed"} {
		found, err := distributionManager{}.sdkFind(ctx, c, created)
		if err != nil {
			t.Fatal(err)
		}
		if st, _, _ := unstructured.NestedString(found.Object, "status", "status"); st != want {
			t.Errorf("look %d: status %q, want %s", i, st, want)
		}
	}
	// The policy is in use: CloudFront refuses to delete it.
	if _, err := cachePolicyManager.sdkDelete(ctx, c, policy); !errors.As(err, &apiErr) || apiErr.Code != "CachePolicyInUse" {
		t.Errorf("deleting a cache policy in use: %v", err)
	}

	domain, _, _ := unstructured.NestedString(created.Object, "status", "domainName")
	get := func(path, cookie string) (int, string, string, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+domain+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Cache"), resp.Header.Get("Cache-Control"), string(b)
	}
	for i, tc := range []struct{ path, cookie, xcache, body string }{
		{"/products/1", "", "Miss from cloudfront", "page /products/1"},
		{"/products/1", "", "Hit from cloudfront", "page /products/1"},
		{"/products/1?page=2", "", "Miss from cloudfront", "page /products/1"},
		{"/products/1", "session=abc", "Miss from cloudfront", "page /products/1"},
		{"/products/1", "session=abc", "Miss from cloudfront", "page /products/1"},
		{"/api/products", "", "Miss from cloudfront", "page /api/products"},
		{"/api/products", "", "Miss from cloudfront", "page /api/products"},
		{"/images/ab12.webp", "", "Miss from cloudfront", "WEBP"},
		{"/images/ab12.webp", "", "Hit from cloudfront", "WEBP"},
	} {
		code, xcache, _, body := get(tc.path, tc.cookie)
		if code != http.StatusOK || xcache != tc.xcache || body != tc.body {
			t.Errorf("%d: GET %s (cookie %q) = %d %q %q, want 200 %q %q", i, tc.path, tc.cookie, code, xcache, body, tc.xcache, tc.body)
		}
	}
	if _, _, cc, _ := get("/images/ab12.webp", ""); cc != "public, max-age=31536000, immutable" {
		t.Errorf("the image's Cache-Control through the CDN: %q", cc)
	}
	mu.Lock()
	for i, h := range seen {
		if h.Get("X-Origin-Verify") != "s3cret" {
			t.Errorf("request %d reached the shop without the origin header: %v", i, h)
		}
	}
	if n := len(seen); n != 6 {
		t.Errorf("the shop saw %d requests, want 6 (two cache hits)", n)
	}
	mu.Unlock()
	// A POST to the read-only images behaviour is refused at the edge.
	resp, err := http.Post("http://"+domain+"/images/ab12.webp", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /images/: %d, want 403", resp.StatusCode)
	}
}
