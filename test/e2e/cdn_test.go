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

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
)

// TestProductImagesThroughTheCDN runs a Storefront with an images bucket and the CDN
// (docs/architecture.md#images-and-the-cdn) on the local cluster: its ServiceAccount has
// a Pod Identity association, so the shop's AWS SDK gets the role's credentials from
// the agent stand-in and no key is in any Secret; once the certificate's validation
// records exist, status.url is the alias and every request goes through the
// distribution stand-in. An admin uploads a PNG through the API; its variants are
// served from the bucket through the CDN with the immutable Cache-Control, a miss and
// then a hit; an anonymous product page is a miss then a hit; a signed-in shopper's
// page is never a hit, and shows the picture from the CDN.
func TestProductImagesThroughTheCDN(t *testing.T) {
	ctx := context.Background()
	const (
		ns, name = "gallery", "gallery"
		alias    = "shop.gallery.example"
		role     = "arn:aws:iam::123456789012:role/storefront-shop-images"
	)
	createNamespace(t, ns)
	// The association comes first: EKS changes only the pods created after it.
	cluster.AssociatePodIdentity(ns, name+"-shop", role)
	sf := storefrontTrusting(t, ns, name, "")
	sf.Spec.Database.Aurora.CABundleSecretRef = nil
	sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{DeletionPolicy: shopv1alpha1.BucketDeletionPolicyDelete}}
	sf.Spec.CDN = &shopv1alpha1.CDNSpec{Enabled: true, Aliases: []string{alias}}
	if err := cluster.Client.Create(ctx, sf); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Client.Delete(ctx, sf) }()
	key := client.ObjectKeyFromObject(sf)
	defer dumpOnFailure(t, key)

	// ACM waits for its DNS validation records, which the operator only lists: create
	// them, as whoever runs the DNS zone does.
	acm := cluster.ACK()
	waitFor(t, "the certificate's validation records", 2*time.Minute, func() (bool, string) {
		records := acm.CertificateValidationRecords()
		for n, v := range records {
			acm.PublishDNSRecord(n, v)
		}
		return len(records) > 0, "none yet"
	})
	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	w.waitReady(t, sf.Spec.Image, readyTimeout)
	waitFor(t, "status.url the CDN's alias", 2*time.Minute, func() (bool, string) {
		cur := storefront(t, key)
		w.observe(cur)
		return cur.Status.URL == "https://"+alias, "status.url " + cur.Status.URL
	})
	// The distribution stand-in speaks plain HTTP; the client reaches the alias at it.
	base := "http://" + alias
	httpc := cluster.HTTPClient(30 * time.Second)
	api := &shopAPI{base: base, http: httpc}
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")

	// An admin uploads a picture of a product through the API.
	api.token = adminToken(t, api, ns, name)
	var found struct {
		Items []struct {
			ID   int64  `json:"id"`
			Slug string `json:"slug"`
		} `json:"items"`
	}
	if code, body := api.call(t, http.MethodGet, "/api/v1/search?q=espresso&per_page=1", nil, &found); code != http.StatusOK || len(found.Items) == 0 {
		t.Fatalf("search: %d %s", code, body)
	}
	product := found.Items[0]
	if product.Slug == "" {
		t.Fatalf("search result without a slug: %+v", found.Items)
	}
	var uploaded struct {
		Variants []struct {
			Key string `json:"key"`
			URL string `json:"url"`
		} `json:"variants"`
	}
	code, body := uploadImage(t, api, product.ID, "A cup of espresso on a saucer", testPNG(t, 700, 350))
	if code != http.StatusCreated {
		t.Fatalf("uploading a PNG: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &uploaded); err != nil || len(uploaded.Variants) == 0 {
		t.Fatalf("the upload's answer %s: %v", body, err)
	}
	// The shop wrote to S3 with the credentials the agent issued for its ServiceAccount's
	// role (the S3 stand-in refuses writes signed with any other key).
	issued := false
	for _, c := range cluster.IssuedCredentials() {
		if c.Namespace == ns && c.ServiceAccount == name+"-shop" && c.RoleARN == role {
			issued = true
			t.Logf("Pod Identity: %s issued to pod %s for %s", c.AccessKeyID, c.Pod, c.RoleARN)
		}
	}
	t.Logf("uploaded %d variants of product %d (%s)", len(uploaded.Variants), product.ID, product.Slug)
	if !issued {
		t.Errorf("no credentials issued to %s/%s-shop for %s: %+v", ns, name, role, cluster.IssuedCredentials())
	}
	for _, v := range uploaded.Variants {
		u, err := url.Parse(v.URL)
		if err != nil || u.Host != alias || u.Path != "/images/"+v.Key {
			t.Fatalf("variant URL %q, want https://%s/images/%s", v.URL, alias, v.Key)
		}
		var first []byte
		for i, want := range []string{"Miss from cloudfront", "Hit from cloudfront"} {
			resp, err := httpc.Get(base + u.Path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got := []string{fmt.Sprint(resp.StatusCode), resp.Header.Get("X-Cache"), resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type")}
			wantHeaders := []string{"200", want, "public, max-age=31536000, immutable", "image/png"}
			if strings.Join(got, "|") != strings.Join(wantHeaders, "|") {
				t.Errorf("GET %s, request %d: %q, want %q", u.Path, i, got, wantHeaders)
			}
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("GET %s: not a PNG: %v", u.Path, err)
			}
			if i == 0 {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Errorf("GET %s: the hit's %d bytes differ from the miss's %d", u.Path, len(b), len(first))
			}
		}
	}

	// A signed-in shopper's page is the shopper's alone: never a hit, and (once the
	// rollout with the CDN's IMAGE_BASE_URL is done) it shows the picture from the CDN.
	cookie := signUp(t, httpc, base)
	page := "/products/" + product.Slug
	picture := "https://" + alias + "/images/" + uploaded.Variants[0].Key
	waitFor(t, "the signed-in product page showing "+picture, 2*time.Minute, func() (bool, string) {
		code, xcache, cc, html := getPage(t, httpc, base+page, cookie)
		if xcache == "Hit from cloudfront" {
			t.Fatalf("signed-in %s: a CDN hit (Cache-Control %q)", page, cc)
		}
		ok := code == http.StatusOK && strings.HasPrefix(cc, "private") && strings.Contains(html, picture)
		return ok, fmt.Sprintf("%d, X-Cache %q, Cache-Control %q, %d bytes", code, xcache, cc, len(html))
	})
	for i := range 2 {
		if _, xcache, _, _ := getPage(t, httpc, base+page, cookie); xcache != "Miss from cloudfront" {
			t.Errorf("signed-in request %d: X-Cache %q", i, xcache)
		}
	}
	// An anonymous one is shared: the first request a miss, the second a hit.
	for i, want := range []string{"Miss from cloudfront", "Hit from cloudfront"} {
		code, xcache, cc, html := getPage(t, httpc, base+page, "")
		if code != http.StatusOK || xcache != want || !strings.Contains(cc, "s-maxage=") {
			t.Errorf("anonymous request %d: %d, X-Cache %q (want %q), Cache-Control %q", i, code, xcache, want, cc)
		}
		if !strings.Contains(html, picture) {
			t.Errorf("anonymous request %d: the page does not show %s", i, picture)
		}
	}
}

// adminToken signs the shop's admin in through the API (replacing the generated
// password on the first sign-in, as credentials_test.go's newBuyer does).
func adminToken(t *testing.T, api *shopAPI, ns, name string) string {
	t.Helper()
	var login struct {
		Token string `json:"token"`
	}
	admin := map[string]string{
		"email":    secretValue(t, ns, name+"-app", "admin-email"),
		"password": secretValue(t, ns, name+"-app", "admin-password"),
	}
	code, body := api.call(t, http.MethodPost, "/api/v1/auth/login", admin, &login)
	if code == http.StatusForbidden {
		var change struct {
			ChangeToken string `json:"change_token"`
		}
		if err := json.Unmarshal([]byte(body), &change); err != nil {
			t.Fatalf("the admin's first login: %d %s", code, body)
		}
		code, body = api.call(t, http.MethodPost, "/api/v1/auth/password-change",
			map[string]string{"change_token": change.ChangeToken, "new_password": "e2e-" + admin["password"]}, &login)
	}
	if code != http.StatusOK || login.Token == "" {
		t.Fatalf("the admin's login: %d %s", code, body)
	}
	return login.Token
}

// uploadImage posts a picture with its alt text to the admin API (multipart).
func uploadImage(t *testing.T, api *shopAPI, productID int64, alt string, pic []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("alt", alt); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("image", "espresso.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(pic)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/admin/products/%d/images", api.base, productID), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+api.token)
	resp, err := api.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// testPNG is a w×h gradient.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 0x80, A: 0xff})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signUp registers a shopper through the register form, as a browser does (the CSRF
// cookie and token from the form page), and returns the Cookie header the browser then
// sends: the session's.
func signUp(t *testing.T, httpc *http.Client, base string) string {
	t.Helper()
	noRedirect := *httpc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Get(base + "/register")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	m := csrfInput.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET /register: %d, no CSRF token in %.200s", resp.StatusCode, b)
	}
	jar := cookies(nil, resp)
	form := url.Values{"name": {"Grace Gallery"}, "email": {fmt.Sprintf("gallery-%d@example.com", time.Now().UnixNano())},
		"password": {"correct horse battery"}, "csrf_token": {string(m[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/register", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", header(jar))
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /register: %d %.300s", resp.StatusCode, b)
	}
	return header(cookies(jar, resp))
}

// cookies adds the cookies resp sets to jar (by name).
func cookies(jar map[string]string, resp *http.Response) map[string]string {
	if jar == nil {
		jar = map[string]string{}
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(jar, c.Name)
		} else {
			jar[c.Name] = c.Value
		}
	}
	return jar
}

func header(jar map[string]string) string {
	var parts []string
	for k, v := range jar {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

// getPage GETs a page with the Cookie header cookie ("" for none).
func getPage(t *testing.T, httpc *http.Client, u, cookie string) (code int, xcache, cacheControl, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Cache"), resp.Header.Get("Cache-Control"), string(b)
}
