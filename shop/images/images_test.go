package images_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/images/imagestest"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// gradient is a w×h picture with varying colours (so encoders cannot collapse it).
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	return img
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestProcessPNGMakesEachWidthNeverEnlarged(t *testing.T) {
	p := images.NewProcessor(1)
	out, err := p.Process(context.Background(), pngBytes(t, gradient(1600, 1200)))
	if err != nil {
		t.Fatal(err)
	}
	if out.Width != 1600 || out.Height != 1200 || out.SourceType != images.TypePNG {
		t.Fatalf("got %dx%d %s, want 1600x1200 image/png", out.Width, out.Height, out.SourceType)
	}
	want := [][2]int{{320, 240}, {640, 480}, {1280, 960}}
	if len(out.Variants) != len(want) {
		t.Fatalf("got %d variants, want %d", len(out.Variants), len(want))
	}
	for i, v := range out.Variants {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(v.Body))
		if err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		if cfg.Width != want[i][0] || cfg.Height != want[i][1] || v.Width != want[i][0] || v.Height != want[i][1] {
			t.Errorf("variant %d is %dx%d (says %dx%d), want %dx%d", i, cfg.Width, cfg.Height, v.Width, v.Height, want[i][0], want[i][1])
		}
		if format != "png" || v.ContentType != images.TypePNG || !strings.HasSuffix(v.Key, ".png") {
			t.Errorf("variant %d: format %s, type %s, key %s; want a PNG", i, format, v.ContentType, v.Key)
		}
		if v.Key != images.KeyOf(v.Body, v.ContentType) || !images.ValidKey(v.Key) {
			t.Errorf("variant %d key %s is not the sha256 of its bytes", i, v.Key)
		}
	}

	// A picture narrower than the largest width is kept at its own width, not enlarged.
	small, err := p.Process(context.Background(), pngBytes(t, gradient(500, 250)))
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Variants) != 2 || small.Variants[0].Width != 320 || small.Variants[0].Height != 160 ||
		small.Variants[1].Width != 500 || small.Variants[1].Height != 250 {
		t.Fatalf("500px picture: got variants %+v, want 320x160 and 500x250", small.Variants)
	}
}

func TestProcessJPEGStaysJPEGAndDropsMetadata(t *testing.T) {
	src := jpegBytes(t, gradient(800, 600))
	// An APP1 (EXIF) segment right after SOI, with a marker text that must not survive.
	secret := []byte("Exif\x00\x00GPS 51.5007N 0.1246W owner=alice")
	app1 := append([]byte{0xFF, 0xE1, 0, 0}, secret...)
	binary.BigEndian.PutUint16(app1[2:], uint16(len(secret)+2))
	withExif := append(append(append([]byte{}, src[:2]...), app1...), src[2:]...)
	// And a trailing payload after EOI (a polyglot's usual hiding place).
	withExif = append(withExif, []byte("<script>alert(1)</script>")...)

	out, err := images.NewProcessor(1).Process(context.Background(), withExif)
	if err != nil {
		t.Fatal(err)
	}
	if out.SourceType != images.TypeJPEG {
		t.Fatalf("sniffed %s, want image/jpeg", out.SourceType)
	}
	widths := []int{}
	for _, v := range out.Variants {
		widths = append(widths, v.Width)
		if v.ContentType != images.TypeJPEG || !strings.HasSuffix(v.Key, ".jpg") {
			t.Errorf("variant %d is %s %s, want a JPEG", v.Width, v.ContentType, v.Key)
		}
		if bytes.Contains(v.Body, []byte("GPS 51.5007N")) || bytes.Contains(v.Body, []byte("<script>")) {
			t.Errorf("variant %d carries bytes of the upload's metadata or trailer", v.Width)
		}
		if _, err := jpeg.Decode(bytes.NewReader(v.Body)); err != nil {
			t.Errorf("variant %d does not decode: %v", v.Width, err)
		}
	}
	if len(widths) != 3 || widths[0] != 320 || widths[1] != 640 || widths[2] != 800 {
		t.Fatalf("widths %v, want [320 640 800]", widths)
	}
}

func TestProcessRefusesHTMLNamedPNG(t *testing.T) {
	// What the name or a declared Content-Type says never matters: only the bytes.
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	_, err := images.NewProcessor(1).Process(context.Background(), html)
	if !errors.Is(err, images.ErrNotAnImage) {
		t.Fatalf("got %v, want ErrNotAnImage", err)
	}
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Field != "image" || !ve.Unprocessable ||
		!strings.Contains(ve.Errors[0].Message, "text/html") {
		t.Fatalf("got %#v, want a 422 on field image naming text/html", err)
	}
}

func TestProcessRefusesOversize(t *testing.T) {
	big := make([]byte, images.MaxUploadBytes+1)
	copy(big, pngBytes(t, gradient(10, 10)))
	_, err := images.NewProcessor(1).Process(context.Background(), big)
	if !errors.Is(err, apperr.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestProcessRefusesDecompressionBombFromHeader(t *testing.T) {
	bomb := imagestest.Bomb(9000, 9000) // 81 megapixels, over MaxPixels; each side under MaxDimension
	if len(bomb) > 200<<10 {
		t.Fatalf("the bomb is %d bytes; it should be small", len(bomb))
	}
	// It is a real picture: the standard decoder would decode it whole.
	if cfg, err := png.DecodeConfig(bytes.NewReader(bomb)); err != nil || cfg.Width != 9000 {
		t.Fatalf("the bomb is not a valid PNG: %v %+v", err, cfg)
	}
	p := images.NewProcessor(1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := p.Process(context.Background(), bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, images.ErrTooManyPixels) {
		t.Fatalf("got %v, want ErrTooManyPixels", err)
	}
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Errors[0].Message, "9000×9000") {
		t.Fatalf("got %v, want a 422 naming the declared 9000×9000", err)
	}
	// Refused from the header: what was allocated is a fraction of the upload, not the
	// 81 MB (grey) to 324 MB (RGBA) a decode would take.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing the bomb allocated %d bytes; it must not decode it", alloc)
	}

	// The same bounds hold for a side alone.
	if _, err := images.CheckConfig(imagestest.Bomb(images.MaxDimension+1, 1), images.TypePNG); !errors.Is(err, images.ErrTooManyPixels) {
		t.Fatalf("a %dx1 picture: got %v, want ErrTooManyPixels", images.MaxDimension+1, err)
	}
}

func TestProcessRefusesTruncatedPicture(t *testing.T) {
	full := pngBytes(t, gradient(400, 300))
	_, err := images.NewProcessor(1).Process(context.Background(), full[:len(full)/2])
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) || ve.Errors[0].Field != "image" {
		t.Fatalf("got %v, want a 422 on image", err)
	}
}

func TestValidKey(t *testing.T) {
	good := strings.Repeat("ab", 32) + ".jpg"
	for key, want := range map[string]bool{
		good: true, strings.Repeat("ab", 32) + ".png": true,
		"../" + good: false, strings.Repeat("AB", 32) + ".jpg": false, strings.Repeat("ab", 32) + ".html": false,
		"x.png": false, "": false,
	} {
		if images.ValidKey(key) != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, !want, want)
		}
	}
}

func TestCheckAlt(t *testing.T) {
	if got, err := images.CheckAlt("  A red kettle on a stove  "); err != nil || got != "A red kettle on a stove" {
		t.Fatalf("got %q %v", got, err)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("a", images.MaxAltLength+1), "two\nlines"} {
		_, err := images.CheckAlt(bad)
		var ve *apperr.ValidationError
		if !errors.As(err, &ve) || ve.Errors[0].Field != "alt" {
			t.Errorf("CheckAlt(%q) = %v, want a 422 on alt", bad, err)
		}
	}
}

func TestProcessWebP(t *testing.T) {
	for file, wantType := range map[string]string{
		// Lossy WebP has no alpha: JPEG variants. Lossless may carry alpha: PNG.
		"testdata/blue-purple-pink.lossy.webp":    images.TypeJPEG,
		"testdata/blue-purple-pink.lossless.webp": images.TypePNG,
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := images.NewProcessor(1).Process(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if out.SourceType != images.TypeWebP || len(out.Variants) == 0 {
			t.Fatalf("%s: %+v", file, out.SourceType)
		}
		last := out.Variants[len(out.Variants)-1]
		if last.Width != min(out.Width, 1280) || last.ContentType != wantType {
			t.Errorf("%s (%dx%d): largest variant %dx%d %s, want %d wide %s", file, out.Width, out.Height, last.Width, last.Height, last.ContentType, min(out.Width, 1280), wantType)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(last.Body))
		if err != nil || cfg.Width != last.Width || cfg.Height != last.Height {
			t.Errorf("%s: the variant decodes as %+v, %v", file, cfg, err)
		}
	}
}
