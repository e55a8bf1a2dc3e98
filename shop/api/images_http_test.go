package api_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of the served variants
	_ "image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/images/imagestest"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/apiclient"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// upload posts a multipart upload (file name, declared part type, content, alt text) to
// product id's images as the admin token.
func upload(t *testing.T, shop *shoptest.Shop, token string, id int64, name, partType string, data []byte, alt *string) (*http.Response, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if alt != nil {
		if err := mw.WriteField("alt", *alt); err != nil {
			t.Fatal(err)
		}
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="image"; filename=%q`, name)}
	h["Content-Type"] = []string{partType}
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/admin/products/%d/images", shop.URL, id), &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return shop.Do(t, req)
}

func ptr(s string) *string { return &s }

// imageShop is a demo shop whose image store is a temporary directory it serves under
// /images.
func imageShop(t *testing.T) (*shoptest.Shop, string) {
	dir := t.TempDir()
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) {
		c.ImageStore, c.ImageBaseURL = dir, "/images"
	}})
	return shop, dir
}

func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestUploadImages(t *testing.T) {
	shop, dir := imageShop(t)
	_, admin := newAdmin(t, shop)
	id := createProduct(t, shop, admin, "enamel-kettle")

	// A PNG, 1600×1200: three variants, each served immutable at its sha256 name.
	resp, body := upload(t, shop, admin, id, "kettle.png", "image/png", imagestest.PNG(1600, 1200), ptr("Red enamel kettle on a stove"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PNG upload: %d %s", resp.StatusCode, body)
	}
	pngImg := decode[catalog.Image](t, body)
	want := [][2]int{{320, 240}, {640, 480}, {1280, 960}}
	if pngImg.Alt != "Red enamel kettle on a stove" || pngImg.Width != 1600 || pngImg.Height != 1200 || len(pngImg.Variants) != 3 {
		t.Fatalf("PNG image = %+v", pngImg)
	}
	for i, v := range pngImg.Variants {
		if v.Width != want[i][0] || v.Height != want[i][1] || !strings.HasSuffix(v.Key, ".png") || v.URL != "/images/"+v.Key {
			t.Errorf("variant %d = %+v, want %dx%d PNG under /images/", i, v, want[i][0], want[i][1])
		}
		r, b := shop.Get(t, v.URL)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("GET %s: %d %q %q", v.URL, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || format != "png" || cfg.Width != want[i][0] || cfg.Height != want[i][1] {
			t.Errorf("served %s is %s %dx%d (%v), want png %dx%d", v.URL, format, cfg.Width, cfg.Height, err, want[i][0], want[i][1])
		}
		if images.KeyOf(b, images.TypePNG) != v.Key {
			t.Errorf("%s is not named by the sha256 of its bytes", v.URL)
		}
		stored, err := os.ReadFile(filepath.Join(dir, v.Key))
		if err != nil || !bytes.Equal(stored, b) {
			t.Errorf("the store does not hold %s as served: %v", v.Key, err)
		}
	}

	// A JPEG sent as application/octet-stream under a .bin name: the content decides.
	resp, body = upload(t, shop, admin, id, "photo.bin", "application/octet-stream", imagestest.JPEG(800, 600), ptr("The kettle's lid, open"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("JPEG upload: %d %s", resp.StatusCode, body)
	}
	jpegImg := decode[catalog.Image](t, body)
	if len(jpegImg.Variants) != 3 || jpegImg.Variants[2].Width != 800 || jpegImg.Variants[2].Height != 600 ||
		!strings.HasSuffix(jpegImg.Variants[0].Key, ".jpg") {
		t.Fatalf("JPEG image = %+v, want 320, 640 and 800 wide JPEGs", jpegImg)
	}
	if r, _ := shop.Get(t, jpegImg.Variants[0].URL); r.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("JPEG variant served as %q", r.Header.Get("Content-Type"))
	}
	files := len(storedFiles(t, dir))
	if files != 6 {
		t.Fatalf("the store holds %d files, want 6", files)
	}

	// The product lists both, in upload order, through the cached catalog too.
	resp, body = call(t, shop, "GET", fmt.Sprintf("/api/v1/products/%d", id), "", nil)
	prod := decode[catalog.Product](t, body)
	if resp.StatusCode != 200 || len(prod.Images) != 2 || prod.Images[0].ID != pngImg.ID || prod.Images[1].ID != jpegImg.ID ||
		prod.Images[0].Variants[0].URL != pngImg.Variants[0].URL {
		t.Fatalf("product images = %+v", prod.Images)
	}

	// Search results carry the images' URLs too (through the cached catalog).
	resp, body = call(t, shop, "GET", "/api/v1/search?q=enamel", "", nil)
	found := decode[struct {
		Items []catalog.Product `json:"items"`
	}](t, body)
	var hit *catalog.Product
	for i := range found.Items {
		if found.Items[i].ID == id {
			hit = &found.Items[i]
		}
	}
	if resp.StatusCode != 200 || hit == nil || len(hit.Images) != 2 || hit.Images[1].Variants[0].URL != jpegImg.Variants[0].URL {
		t.Fatalf("search: %d %s", resp.StatusCode, body)
	}
	// A conditional GET of a variant is a 304, a HEAD has the length and no body.
	if r, _ := shop.Get(t, pngImg.Variants[0].URL, "If-None-Match", `"`+strings.TrimSuffix(pngImg.Variants[0].Key, ".png")+`"`); r.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET of a variant: %d", r.StatusCode)
	}
	headReq, _ := http.NewRequest(http.MethodHead, shop.URL+pngImg.Variants[0].URL, nil)
	if r, b := shop.Do(t, headReq); r.StatusCode != 200 || r.ContentLength <= 0 || len(b) != 0 {
		t.Errorf("HEAD of a variant: %d, length %d, body %d", r.StatusCode, r.ContentLength, len(b))
	}
	if r, _ := shop.Get(t, "/images/..%2f..%2fetc%2fpasswd"); r.StatusCode != 404 {
		t.Errorf("a path that is no key: %d", r.StatusCode)
	}

	t.Run("refused uploads store nothing", func(t *testing.T) {
		for name, tc := range map[string]struct {
			file   string
			data   []byte
			alt    *string
			status int
			field  string
		}{
			"HTML named .png":      {"evil.png", imagestest.HTML, ptr("A picture"), 422, "image"},
			"no alt text":          {"kettle.png", imagestest.PNG(400, 300), nil, 422, "alt"},
			"blank alt text":       {"kettle.png", imagestest.PNG(400, 300), ptr("   "), 422, "alt"},
			"decompression bomb":   {"bomb.png", imagestest.Bomb(9000, 9000), ptr("Nothing"), 422, "image"},
			"over 10 MiB":          {"big.png", append(imagestest.PNG(10, 10), make([]byte, images.MaxUploadBytes)...), ptr("Big"), 413, ""},
			"over the route limit": {"huge.png", make([]byte, images.UploadBodyLimit+1), ptr("Huge"), 413, ""},
		} {
			t.Run(name, func(t *testing.T) {
				resp, body := upload(t, shop, admin, id, tc.file, "image/png", tc.data, tc.alt)
				expectProblem(t, resp, body, tc.status, tc.field)
			})
		}
		if n := len(storedFiles(t, dir)); n != files {
			t.Errorf("refused uploads left %d files in the store, want %d", n, files)
		}
		_, body := call(t, shop, "GET", fmt.Sprintf("/api/v1/products/%d", id), "", nil)
		if n := len(decode[catalog.Product](t, body).Images); n != 2 {
			t.Errorf("the product has %d images after refused uploads, want 2", n)
		}
	})

	t.Run("an unknown product is 404", func(t *testing.T) {
		resp, body := upload(t, shop, admin, 999999, "kettle.png", "image/png", imagestest.PNG(400, 300), ptr("A kettle"))
		expectProblem(t, resp, body, 404, "")
	})

	t.Run("move and delete keep the order", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/admin/products/%d/images/%d", id, jpegImg.ID)
		if resp, body := call(t, shop, "PATCH", path, admin, map[string]any{"position": 0}); resp.StatusCode != 204 {
			t.Fatalf("move: %d %s", resp.StatusCode, body)
		}
		_, body := call(t, shop, "GET", fmt.Sprintf("/api/v1/products/%d", id), "", nil)
		if ims := decode[catalog.Product](t, body).Images; len(ims) != 2 || ims[0].ID != jpegImg.ID || ims[1].ID != pngImg.ID {
			t.Fatalf("after the move: %+v", ims)
		}
		resp, body := call(t, shop, "PATCH", path, admin, map[string]any{"position": 5})
		expectProblem(t, resp, body, 422, "position")
		if resp, body := call(t, shop, "DELETE", path, admin, nil); resp.StatusCode != 204 {
			t.Fatalf("delete: %d %s", resp.StatusCode, body)
		}
		_, body = call(t, shop, "GET", fmt.Sprintf("/api/v1/products/%d", id), "", nil)
		if ims := decode[catalog.Product](t, body).Images; len(ims) != 1 || ims[0].ID != pngImg.ID {
			t.Fatalf("after the delete: %+v", ims)
		}
		resp, body = call(t, shop, "DELETE", path, admin, nil)
		expectProblem(t, resp, body, 404, "")
	})
}

func TestUploadWithoutStoreIs503(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{Demo: true})
	_, admin := newAdmin(t, shop)
	id := productID(t, shop, "cast-iron-skillet-26-cm")
	resp, body := upload(t, shop, admin, id, "kettle.png", "image/png", imagestest.PNG(400, 300), ptr("A skillet"))
	expectProblem(t, resp, body, 503, "")
	if !strings.Contains(string(body), "IMAGE_STORE") {
		t.Errorf("the problem does not name IMAGE_STORE: %s", body)
	}
	// The product keeps its catalog SVG.
	_, body = call(t, shop, "GET", fmt.Sprintf("/api/v1/products/%d", id), "", nil)
	if p := decode[catalog.Product](t, body); len(p.Images) != 0 || !strings.HasPrefix(p.ImageURL, "/static/img/") {
		t.Errorf("product = images %v, image_url %q", p.Images, p.ImageURL)
	}
}

// TestGeneratedClientUploadsAnImage uploads through the client oapi-codegen generates
// from the served document: the multipart operation and the Image schema decode.
func TestGeneratedClientUploadsAnImage(t *testing.T) {
	shop, _ := imageShop(t)
	_, admin := newAdmin(t, shop)
	id := createProduct(t, shop, admin, "client-upload")
	c, err := apiclient.NewClientWithResponses(shop.URL, apiclient.WithHTTPClient(shop.Client),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+admin)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("alt", "A test picture")
	w, _ := mw.CreateFormFile("image", "picture.jpg")
	_, _ = w.Write(imagestest.JPEG(700, 500))
	_ = mw.Close()
	resp, err := c.AdminAddProductImageWithBodyWithResponse(context.Background(), id, mw.FormDataContentType(), &body)
	if err != nil || resp.StatusCode() != http.StatusCreated || resp.JSON201 == nil {
		t.Fatalf("upload: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if img := resp.JSON201; img.Alt != "A test picture" || img.Width != 700 || len(img.Variants) != 3 || img.Variants[2].Width != 700 ||
		img.Variants[0].Url == nil || !strings.HasPrefix(*img.Variants[0].Url, "/images/") {
		t.Fatalf("image = %+v", img)
	}
}
