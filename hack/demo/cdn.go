package main

// -cdn-alias: the sample with an images bucket and the CDN (docs/architecture.md#images-and-the-cdn).
// The demo plays whoever runs the DNS zone (it creates the certificate's validation
// records) and the cluster's admin (a Pod Identity association for the shop's
// ServiceAccount), then, once the distribution serves, signs in as the shop's admin,
// uploads a picture and shows it served through the distribution stand-in.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
)

// demoImagesRole is the made-up IAM role of the shop's images (hack/eks creates one per
// shop, output shop_images_role_arns); the Pod Identity association names it.
const demoImagesRole = "arn:aws:iam::123456789012:role/storefront-shop-images"

// withCDN writes the sample to dir with spec.images.bucket (Delete: the demo leaves
// nothing behind) and spec.cdn for alias on its Storefront, and returns the new file and
// the Storefront's key.
func withCDN(sample, dir, alias string) (string, client.ObjectKey, error) {
	var key client.ObjectKey
	b, err := os.ReadFile(sample)
	if err != nil {
		return "", key, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out bytes.Buffer
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", key, fmt.Errorf("decoding %s: %w", sample, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "Storefront" {
			key = client.ObjectKeyFromObject(u)
			if err := unstructured.SetNestedField(u.Object, map[string]any{"bucket": map[string]any{"deletionPolicy": "Delete"}}, "spec", "images"); err != nil {
				return "", key, err
			}
			if err := unstructured.SetNestedField(u.Object, map[string]any{"enabled": true, "aliases": []any{alias}}, "spec", "cdn"); err != nil {
				return "", key, err
			}
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return "", key, err
		}
		out.WriteString("---\n")
		out.Write(y)
	}
	if key.Name == "" {
		return "", key, fmt.Errorf("%s holds no Storefront", sample)
	}
	path := filepath.Join(dir, "storefront-cdn.yaml")
	return path, key, os.WriteFile(path, out.Bytes(), 0o644)
}

// publishValidationRecords creates the DNS records ACM asks for.
func publishValidationRecords(c *localcluster.Cluster) {
	acm := c.ACK()
	for name, value := range acm.CertificateValidationRecords() {
		acm.PublishDNSRecord(name, value)
	}
}

// waitForCDN waits until the distribution serves the Storefront: status.url is the alias.
func waitForCDN(ctx context.Context, c *localcluster.Cluster, key client.ObjectKey, alias string) error {
	for deadline := time.Now().Add(3 * time.Minute); ; {
		sf := &shopv1alpha1.Storefront{}
		if err := c.Client.Get(ctx, key, sf); err == nil && sf.Status.URL == "https://"+alias {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the distribution does not serve %s: status.url is not https://%s", key, alias)
		}
		time.Sleep(200 * time.Millisecond) // polling the Storefront with a deadline
	}
}

// showImages signs in as the shop's admin (choosing newPassword, as the first sign-in
// asks), uploads a picture to a product through the API and fetches one of its variants
// twice through the distribution, printing what CloudFront would answer. It returns the
// product's page.
func showImages(ctx context.Context, out io.Writer, httpc *http.Client, base, email, password, newPassword string) (string, error) {
	call := func(method, path, token, contentType string, body io.Reader, into any) (int, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			return 0, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, err
		}
		if into != nil {
			if err := json.Unmarshal(b, into); err != nil {
				return resp.StatusCode, fmt.Errorf("%s %s: %d %.200s", method, path, resp.StatusCode, b)
			}
		}
		return resp.StatusCode, nil
	}
	jsonBody := func(v any) io.Reader {
		b, _ := json.Marshal(v)
		return bytes.NewReader(b)
	}
	var login struct {
		Token       string `json:"token"`
		ChangeToken string `json:"change_token"`
	}
	code, err := call(http.MethodPost, "/api/v1/auth/login", "", "application/json",
		jsonBody(map[string]string{"email": email, "password": password}), &login)
	if err != nil {
		return "", err
	}
	if code == http.StatusForbidden && login.ChangeToken != "" {
		if code, err = call(http.MethodPost, "/api/v1/auth/password-change", "", "application/json",
			jsonBody(map[string]string{"change_token": login.ChangeToken, "new_password": newPassword}), &login); err != nil {
			return "", err
		}
	}
	if code != http.StatusOK || login.Token == "" {
		return "", fmt.Errorf("signing in as the admin: status %d", code)
	}
	var found struct {
		Items []struct {
			ID   int64  `json:"id"`
			Slug string `json:"slug"`
			Name string `json:"name"`
		} `json:"items"`
	}
	if _, err := call(http.MethodGet, "/api/v1/search?q=espresso&per_page=1", "", "", nil, &found); err != nil {
		return "", err
	}
	if len(found.Items) == 0 {
		return "", errors.New("the catalog has no espresso product to picture")
	}
	product := found.Items[0]

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("alt", "A gradient standing in for a photo of "+product.Name)
	fw, _ := mw.CreateFormFile("image", "demo.png")
	img := image.NewNRGBA(image.Rect(0, 0, 800, 400))
	for y := range 400 {
		for x := range 800 {
			img.Set(x, y, color.NRGBA{R: uint8(x / 4), G: uint8(y / 2), B: 0x60, A: 0xff})
		}
	}
	if err := png.Encode(fw, img); err != nil {
		return "", err
	}
	_ = mw.Close()
	var uploaded struct {
		Variants []struct {
			URL string `json:"url"`
		} `json:"variants"`
	}
	code, err = call(http.MethodPost, fmt.Sprintf("/api/v1/admin/products/%d/images", product.ID), login.Token, mw.FormDataContentType(), &body, &uploaded)
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated || len(uploaded.Variants) == 0 {
		return "", fmt.Errorf("uploading a picture of product %d: status %d", product.ID, code)
	}
	u, err := url.Parse(uploaded.Variants[0].URL)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "\nThe admin uploaded a picture of %q; the shop stored it in the S3 stand-in with its pod's Pod Identity credentials.\n", product.Name)
	for range 2 {
		resp, err := httpc.Get(base + u.Path)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		fmt.Fprintf(out, "  GET %s: %d %s, Cache-Control: %s, X-Cache: %s\n", uploaded.Variants[0].URL, resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), resp.Header.Get("X-Cache"))
	}
	return "/products/" + product.Slug, nil
}

// cdnLines are the lines of the announcement about the CDN.
func cdnLines(alias, addr, page string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  CDN         http://%s%s   (the distribution stand-in listens on %s, plain HTTP; the pages name https://%s)\n", alias, page, addr, alias)
	fmt.Fprintf(&b, "  Try         curl -s -o /dev/null -D - --connect-to %s:80:%s http://%s%s   (twice: X-Cache Miss, then Hit; a signed-in shopper's pages never are)\n", alias, addr, alias, page)
	return b.String()
}
