package images_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/images/imagestest"
)

// putRecorder remembers the headers of the PUTs that reach the S3 server.
type putRecorder struct {
	mu   sync.Mutex
	puts map[string]http.Header // by path
	next http.Handler
}

func (p *putRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		p.mu.Lock()
		p.puts[r.URL.Path] = r.Header.Clone()
		p.mu.Unlock()
	}
	p.next.ServeHTTP(w, r)
}

// TestS3StoreAgainstAnS3Server runs the S3 store, as IMAGE_STORE=s3://… opens it (the
// SDK's default configuration), against gofakes3: an S3 REST API server in this
// process, which the SDK talks to over HTTP exactly as to S3 (signed requests, path-style
// addressing, its checksums).
func TestS3StoreAgainstAnS3Server(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("shop-images"); err != nil {
		t.Fatal(err)
	}
	rec := &putRecorder{puts: map[string]http.Header{}, next: gofakes3.New(backend).Server()}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	// The default chain as in a pod, pointed at the server: these variables are read by
	// the SDK itself (no key is ever configured in the shop; the pod's identity supplies
	// it in a cluster). IMDS stays off so the chain never waits on it.
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test-only")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-only")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")

	ctx := context.Background()
	store, err := images.Open(ctx, "s3://shop-images/shops/demo/")
	if err != nil {
		t.Fatal(err)
	}
	if store.String() != "s3://shop-images/shops/demo" {
		t.Errorf("store = %s", store)
	}
	out, err := images.NewProcessor(1).Process(ctx, imagestest.JPEG(700, 350))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out.Variants {
		if err := store.Put(ctx, v.Key, v.ContentType, v.Body); err != nil {
			t.Fatalf("Put %s: %v", v.Key, err)
		}
	}
	// Putting a key again is harmless (content-addressed).
	if err := store.Put(ctx, out.Variants[0].Key, out.Variants[0].ContentType, out.Variants[0].Body); err != nil {
		t.Fatal(err)
	}

	for _, v := range out.Variants {
		path := "/shop-images/shops/demo/" + v.Key
		// What the SDK sent: the object's type and the immutable caching S3 answers with.
		rec.mu.Lock()
		h := rec.puts[path]
		rec.mu.Unlock()
		if h == nil {
			t.Fatalf("no PUT reached %s (path-style under the prefix)", path)
		}
		if h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("Content-Type") != "image/jpeg" {
			t.Errorf("PUT %s sent Cache-Control %q, Content-Type %q", path, h.Get("Cache-Control"), h.Get("Content-Type"))
		}
		if !strings.HasPrefix(h.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=test-only/") {
			t.Errorf("PUT %s is not SigV4-signed with the chain's credentials: %q", path, h.Get("Authorization"))
		}
		// Read back as a browser would through the bucket's URL.
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, v.Body) || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("GET %s: %d, %d bytes (want %d), %q", path, resp.StatusCode, len(body), len(v.Body), resp.Header.Get("Content-Type"))
		}
	}

	// A bucket that does not exist is an error naming it, not a silent success.
	missing, err := images.Open(ctx, "s3://no-such-bucket/x")
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Put(ctx, out.Variants[0].Key, "image/jpeg", out.Variants[0].Body); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("Put to a missing bucket: %v", err)
	}
}

func TestParseS3(t *testing.T) {
	for spec, want := range map[string][2]string{
		"s3://b":             {"b", ""},
		"s3://b/":            {"b", ""},
		"s3://b/p/q/":        {"b", "p/q"},
		"s3://shop-a/images": {"shop-a", "images"},
	} {
		b, p, err := images.ParseS3(spec)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("ParseS3(%q) = %q %q %v, want %q %q", spec, b, p, err, want[0], want[1])
		}
	}
	for _, bad := range []string{"s3://", "s3://b/../x", "s3://u@b/p", "s3://b/p?x=1", "http://b/p"} {
		if _, _, err := images.ParseS3(bad); err == nil {
			t.Errorf("ParseS3(%q) accepted", bad)
		}
	}
	if _, err := images.Open(context.Background(), "relative/dir"); err == nil {
		t.Error("Open accepted a relative directory")
	}
}
