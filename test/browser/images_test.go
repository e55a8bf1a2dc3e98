package browser_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/storefront-operator/storefront/shop/images/imagestest"
	"github.com/storefront-operator/storefront/shop/platform/config"
	"github.com/storefront-operator/storefront/test/shoptest"
)

// loadedImage is what the browser made of an <img>.
type loadedImage struct {
	Alt          string `json:"alt"`
	CurrentSrc   string `json:"currentSrc"`
	NaturalWidth int    `json:"naturalWidth"`
	Complete     bool   `json:"complete"`
	Loading      string `json:"loading"`
}

// TestProductImagesUploadedAndShown: an admin uploads a picture through the product
// form without JavaScript; shoppers see it on the product page and in the listing,
// loaded from its srcset under the CSP, and axe finds no WCAG 2.1 A/AA violation on
// any of the pages.
func TestProductImagesUploadedAndShown(t *testing.T) {
	dir := t.TempDir()
	shop := shoptest.Start(t, shoptest.Options{Demo: true, Config: func(c *config.Config) {
		c.PasswordCost = 4
		c.ImageStore, c.ImageBaseURL = dir, "/images"
	}})
	createAdmin(t, shop)
	apron := productIDOf(t, shop, "linen-apron")
	file := filepath.Join(t.TempDir(), "apron.png")
	if err := os.WriteFile(file, imagestest.PNG(1600, 1200), 0o600); err != nil {
		t.Fatal(err)
	}

	admin := newTab(t, shop)
	admin.disableJavaScript()
	admin.open("/", 200)
	admin.login("admin@example.com")
	admin.open("/admin/products/"+apron, 200)
	admin.axeScriptsOff("the product form without images")
	admin.do("choose the picture", chromedp.SetUploadFiles(chromedp.CSS("#f-image"), []string{file}))
	admin.fill("#f-alt", "Natural linen apron hanging on a kitchen hook")
	admin.click("upload", `form[enctype="multipart/form-data"] button[type=submit]`, 200)
	admin.expectText("#images .notice.success", "The image was added")
	admin.expectText("#images .image-list", "Natural linen apron hanging on a kitchen hook")
	admin.axeScriptsOff("the product form with an image")

	// A refused upload comes back on the form with its message, accessibly.
	bad := filepath.Join(t.TempDir(), "page.png")
	if err := os.WriteFile(bad, imagestest.HTML, 0o600); err != nil {
		t.Fatal(err)
	}
	admin.do("choose the HTML file", chromedp.SetUploadFiles(chromedp.CSS("#f-image"), []string{bad}))
	admin.fill("#f-alt", "Not a picture")
	admin.click("upload the HTML", `form[enctype="multipart/form-data"] button[type=submit]`, 422)
	admin.expectText("#f-image-error", "must be a PNG, JPEG or WebP picture")
	admin.axeScriptsOff("the refused upload")

	shopper := newTab(t, shop)
	shopper.open("/products/linen-apron", 200)
	img := value(shopper, "the product image", chromedp.Evaluate[loadedImage](`(async () => {
		const img = document.querySelector(".product-image img");
		if (!img.complete) await new Promise(r => img.addEventListener("load", r, {once: true}));
		return {alt: img.alt, currentSrc: img.currentSrc, naturalWidth: img.naturalWidth, complete: img.complete, loading: img.loading};
	})()`, chromedp.EvalAwaitPromise))
	if img.Alt != "Natural linen apron hanging on a kitchen hook" || !img.Complete || img.NaturalWidth == 0 {
		t.Fatalf("product image = %+v", img)
	}
	// The browser picked a variant from srcset, served by the shop's image route.
	if want := shop.URL + "/images/"; len(img.CurrentSrc) < len(want) || img.CurrentSrc[:len(want)] != want {
		t.Errorf("currentSrc %q is not a variant under /images/", img.CurrentSrc)
	}
	if n := shopper.axe("the product page with images"); n == 0 {
		t.Error("axe passed no rule on the product page")
	}

	shopper.open("/categories/kitchen", 200)
	card := evaluate[loadedImage](shopper, "the card image", `(() => {
		const img = [...document.querySelectorAll(".card img")].find(i => i.srcset);
		return img ? {alt: img.alt, currentSrc: img.currentSrc, loading: img.loading} : {};
	})()`)
	if card.Alt != "Natural linen apron hanging on a kitchen hook" || card.Loading != "lazy" {
		t.Errorf("listing card image = %+v", card)
	}
	shopper.axe("the listing with images")

}
