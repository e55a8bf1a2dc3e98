package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/images/imagestest"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/shop/web"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// postMultipart submits a multipart form, as a browser does for a form with
// enctype="multipart/form-data": fields, then the file under field "image".
func (v *visitor) postMultipart(path string, fields map[string]string, fileName string, file []byte) page {
	v.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, val := range fields {
		if err := mw.WriteField(k, val); err != nil {
			v.t.Fatal(err)
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="image"; filename=%q`, fileName))
		h.Set("Content-Type", "image/png") // what a browser guesses from the name
		w, err := mw.CreatePart(h)
		if err != nil {
			v.t.Fatal(err)
		}
		_, _ = w.Write(file)
	}
	if err := mw.Close(); err != nil {
		v.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, v.shop.URL+path, &body)
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return v.do(req)
}

func TestAdminUploadsImagesWithoutJavaScript(t *testing.T) {
	dir := t.TempDir()
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) {
		c.PasswordCost = 4
		c.ImageStore, c.ImageBaseURL = dir, "/images"
	}})
	prod, err := shop.App.Catalog.Product(context.Background(), "cast-iron-skillet-26-cm")
	if err != nil {
		t.Fatal(err)
	}
	edit := fmt.Sprintf("/admin/products/%d", prod.ID)
	makeAdmin(t, shop, "admin@example.com")
	admin := newVisitor(t, shop)
	expectStatus(t, signIn(t, admin, "admin@example.com", password), http.StatusSeeOther)

	form := admin.get(edit)
	expectStatus(t, form, 200)
	expectContains(t, form, `enctype="multipart/form-data"`, `name="image" type="file"`, `name="alt"`, "No images yet")
	checkAccessibility(t, form.Body)
	tok := csrf(t, form)

	t.Run("refused uploads come back on the form", func(t *testing.T) {
		p := admin.postMultipart(edit+"/images", map[string]string{"alt": "A page", "csrf_token": tok}, "evil.png", imagestest.HTML)
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, "The image was not added.", "must be a PNG, JPEG or WebP picture", `id="f-image-error"`, `aria-invalid="true"`, `value="A page"`)
		checkAccessibility(t, p.Body)

		p = admin.postMultipart(edit+"/images", map[string]string{"csrf_token": tok}, "skillet.png", imagestest.PNG(400, 300))
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, "The alt text is required", `id="f-alt-error"`)
		checkAccessibility(t, p.Body)

		p = admin.postMultipart(edit+"/images", map[string]string{"alt": "Bomb", "csrf_token": tok}, "bomb.png", imagestest.Bomb(9000, 9000))
		expectStatus(t, p, http.StatusUnprocessableEntity)
		expectContains(t, p, "9000×9000 pixels")

		// Without the CSRF token, nothing is read.
		p = admin.postMultipart(edit+"/images", map[string]string{"alt": "A skillet"}, "skillet.png", imagestest.PNG(400, 300))
		expectStatus(t, p, http.StatusForbidden)
	})

	p := admin.postMultipart(edit+"/images", map[string]string{"alt": "Skillet seen from above", "csrf_token": tok}, "skillet.png", imagestest.PNG(1600, 1200))
	expectStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != edit+"?done=image-added#images" {
		t.Fatalf("redirected to %q", loc)
	}
	p = admin.postMultipart(edit+"/images", map[string]string{"alt": "Skillet on a camp stove", "csrf_token": tok}, "camp.jpg", imagestest.JPEG(800, 600))
	expectStatus(t, p, http.StatusSeeOther)
	after := admin.get(edit + "?done=image-added")
	expectContains(t, after, "The image was added.", `alt="Skillet seen from above"`, `alt="Skillet on a camp stove"`, "Move down", "Move up", "Remove")
	checkAccessibility(t, after.Body)

	prod, err = shop.App.Catalog.Product(context.Background(), prod.Slug)
	if err != nil || len(prod.Images) != 2 {
		t.Fatalf("product images %+v, %v", prod.Images, err)
	}
	first := prod.Images[0]

	t.Run("the product page uses srcset, sizes and the largest variant's size", func(t *testing.T) {
		shopper := newVisitor(t, shop)
		pp := shopper.get("/products/" + prod.Slug)
		expectStatus(t, pp, 200)
		want := fmt.Sprintf(`src="%s" srcset="%s 320w, %s 640w, %s 1280w" sizes="(min-width: 48rem) 50vw, 100vw" alt="Skillet seen from above" width="1280" height="960">`,
			first.Variants[2].URL, first.Variants[0].URL, first.Variants[1].URL, first.Variants[2].URL)
		expectContains(t, pp, want)
		// The second picture loads lazily; the catalog SVG is gone from the page.
		if !regexp.MustCompile(`alt="Skillet on a camp stove" width="800" height="600" loading="lazy">`).MatchString(pp.Body) {
			t.Errorf("the second image is not lazy with its size:\n%.3000s", pp.Body)
		}
		if strings.Contains(pp.Body, prod.ImageURL) {
			t.Errorf("the product page still shows the fallback %s", prod.ImageURL)
		}
		checkAccessibility(t, pp.Body)
		// Listings show the first picture, lazily, with its srcset.
		lp := shopper.get("/categories/" + prod.Category.Slug)
		expectContains(t, lp, fmt.Sprintf(`srcset="%s 320w, %s 640w, %s 1280w" sizes="(min-width: 48rem) 25vw, 100vw" alt="Skillet seen from above" width="1280" height="960" loading="lazy">`,
			first.Variants[0].URL, first.Variants[1].URL, first.Variants[2].URL))
		// Products without uploads keep their catalog SVG.
		expectContains(t, lp, `src="/static/img/categories/`)
		// The variant is served by the shop from the directory, immutable.
		img := shopper.get(first.Variants[0].URL)
		expectStatus(t, img, 200)
		if img.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || img.Header.Get("Content-Type") != "image/png" {
			t.Errorf("variant served with %q %q", img.Header.Get("Cache-Control"), img.Header.Get("Content-Type"))
		}
	})

	t.Run("move and remove", func(t *testing.T) {
		second := prod.Images[1]
		p := admin.post(fmt.Sprintf("%s/images/%d/move", edit, second.ID), map[string][]string{"position": {"0"}, "csrf_token": {tok}})
		expectStatus(t, p, http.StatusSeeOther)
		got, _ := shop.App.Catalog.Product(context.Background(), prod.Slug)
		if len(got.Images) != 2 || got.Images[0].ID != second.ID {
			t.Fatalf("after moving up: %+v", got.Images)
		}
		p = admin.post(fmt.Sprintf("%s/images/%d/delete", edit, second.ID), map[string][]string{"csrf_token": {tok}})
		expectStatus(t, p, http.StatusSeeOther)
		expectContains(t, admin.get(p.Header.Get("Location")), "The image was removed.")
		got, _ = shop.App.Catalog.Product(context.Background(), prod.Slug)
		if len(got.Images) != 1 || got.Images[0].ID != first.ID {
			t.Fatalf("after removing: %+v", got.Images)
		}
	})
}

func TestUploadFormSaysWhenThereIsNoStore(t *testing.T) {
	shop := startShop(t)
	makeAdmin(t, shop, "admin@example.com")
	admin := newVisitor(t, shop)
	expectStatus(t, signIn(t, admin, "admin@example.com", password), http.StatusSeeOther)
	prod, err := shop.App.Catalog.Product(context.Background(), "cast-iron-skillet-26-cm")
	if err != nil {
		t.Fatal(err)
	}
	p := admin.get(fmt.Sprintf("/admin/products/%d", prod.ID))
	expectContains(t, p, "Uploads are off: this shop has no image store (IMAGE_STORE).")
	if strings.Contains(p.Body, `type="file"`) {
		t.Error("the upload form is shown without a store")
	}
}

func TestCSPAllowsTheImageOrigin(t *testing.T) {
	for base, want := range map[string]string{
		"":        "img-src 'self';",
		"/images": "img-src 'self';",
		"https://d111111abcdef8.cloudfront.net/img": "img-src 'self' https://d111111abcdef8.cloudfront.net;",
		"http://127.0.0.1:9000/shop-images":         "img-src 'self' http://127.0.0.1:9000;",
	} {
		csp := web.CSPFor(base)
		if !strings.Contains(csp, want) || strings.Count(csp, "img-src") != 1 {
			t.Errorf("CSPFor(%q) = %q, want %q", base, csp, want)
		}
	}

}
