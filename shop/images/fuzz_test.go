package images_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/images/imagestest"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// FuzzProcess feeds arbitrary bytes to the upload pipeline: it never panics, and every
// refusal is one the API maps to a 4xx (a validation problem or too large).
func FuzzProcess(f *testing.F) {
	f.Add(imagestest.PNG(40, 30))
	f.Add(imagestest.JPEG(40, 30))
	f.Add(imagestest.Bomb(200, 200))
	f.Add(imagestest.HTML)
	if b, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp"); err == nil {
		f.Add(b)
	}
	p := images.NewProcessor(1)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := p.Process(context.Background(), data)
		if err != nil {
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) && !errors.Is(err, apperr.ErrTooLarge) {
				t.Fatalf("refusal %v is not a client error", err)
			}
			return
		}
		if len(out.Variants) == 0 {
			t.Fatal("an accepted picture has no variants")
		}
		for _, v := range out.Variants {
			if !images.ValidKey(v.Key) || v.Width > images.Widths[len(images.Widths)-1] || v.Width > out.Width {
				t.Fatalf("variant %dx%d %s of a %dx%d picture", v.Width, v.Height, v.Key, out.Width, out.Height)
			}
		}
	})
}
