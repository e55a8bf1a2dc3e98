// Package images turns an admin's uploaded picture into the product images the shop
// serves (docs/architecture.md#product-images): the type is decided by sniffing the
// bytes, never by the file name; the dimensions are read from the header before any
// pixel is decoded, so a decompression bomb is refused at the cost of a few bytes; the
// picture is decoded and encoded again in a few widths, so no byte the uploader chose
// (metadata, trailing payloads, polyglot tricks) is ever served; and each variant is
// named by the SHA-256 of its encoded bytes, so a name never changes content and can
// be cached for a year.
package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// Limits of an upload.
const (
	// MaxUploadBytes is the largest picture accepted (10 MiB); a larger one is
	// apperr.ErrTooLarge (413).
	MaxUploadBytes = 10 << 20
	// MaxDimension is the largest width or height accepted.
	MaxDimension = 10_000
	// MaxPixels bounds width×height (16 megapixels): a decoded picture takes up to 4
	// bytes a pixel, so one decode stays under 64 MiB whatever the file's size.
	MaxPixels = 16_000_000
	// MaxAltLength bounds the alt text (screen readers read it whole).
	MaxAltLength = 250
	// DefaultConcurrency is how many pictures one process decodes at once: with
	// MaxPixels it bounds the memory uploads can take (about 2 × 64 MiB plus variants).
	DefaultConcurrency = 2
	// jpegQuality is the quality of the JPEG variants: visually lossless for photos.
	jpegQuality = 82
)

// Widths are the widths of the variants generated for srcset; a picture narrower than
// one of them gets a variant at its own width instead of being enlarged.
var Widths = []int{320, 640, 1280}

// Accepted content types, as http.DetectContentType names them (WHATWG MIME sniffing).
const (
	TypePNG  = "image/png"
	TypeJPEG = "image/jpeg"
	TypeWebP = "image/webp"
)

// Variant is one encoded size of a picture.
type Variant struct {
	Width, Height int
	// Key is the object name: the hex SHA-256 of Body and the format's extension.
	Key         string
	ContentType string
	Body        []byte
}

// Processed is an uploaded picture ready to store.
type Processed struct {
	// Width and Height are the uploaded picture's.
	Width, Height int
	// SourceType is the sniffed type of the upload.
	SourceType string
	// Variants are by increasing width; the last is the largest.
	Variants []Variant
}

// Processor decodes and re-encodes uploads, a bounded number at a time.
type Processor struct {
	sem chan struct{}
}

// NewProcessor returns a processor decoding at most concurrency pictures at once (at
// least one).
func NewProcessor(concurrency int) *Processor {
	return &Processor{sem: make(chan struct{}, max(1, concurrency))}
}

// invalid is the refusal of a picture: a 422 naming the form field "image".
func invalid(msg string) *apperr.ValidationError {
	return &apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: "image", Message: msg}}}
}

// ErrNotAnImage is wrapped by the refusal of a file that is not a PNG, JPEG or WebP
// picture (sniffed, whatever its name or declared type says).
var ErrNotAnImage = errors.New("not a PNG, JPEG or WebP picture")

// ErrTooManyPixels is wrapped by the refusal of a picture whose header declares more
// than MaxPixels or a side over MaxDimension: nothing of it was decoded.
var ErrTooManyPixels = errors.New("too many pixels")

// refusal is a ValidationError that also matches a sentinel with errors.Is.
type refusal struct {
	*apperr.ValidationError
	sentinel error
}

func (r refusal) Unwrap() []error { return []error{r.ValidationError, r.sentinel} }

// Sniff returns the content type of data as a browser would decide it (the first 512
// bytes, http.DetectContentType), which is what decides whether it is accepted.
func Sniff(data []byte) string {
	ct := http.DetectContentType(data)
	ct, _, _ = strings.Cut(ct, ";")
	return ct
}

// CheckConfig reads only the header of data (of the sniffed type ct) and refuses a
// picture whose declared size is over the limits. It allocates nothing in proportion
// to the declared size, which is what keeps a decompression bomb harmless.
func CheckConfig(data []byte, ct string) (image.Config, error) {
	var (
		cfg image.Config
		err error
	)
	r := bytes.NewReader(data)
	switch ct {
	case TypePNG:
		cfg, err = png.DecodeConfig(r)
	case TypeJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case TypeWebP:
		cfg, err = webp.DecodeConfig(r)
	default:
		return image.Config{}, refusal{invalid(fmt.Sprintf("must be a PNG, JPEG or WebP picture; the file's content is %s", ct)), ErrNotAnImage}
	}
	if err != nil {
		return image.Config{}, invalid(fmt.Sprintf("could not be read as %s: %v", ct, err))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxDimension || cfg.Height > MaxDimension ||
		int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		msg := fmt.Sprintf("is %d×%d pixels; at most %d pixels a side and %d megapixels are accepted",
			cfg.Width, cfg.Height, MaxDimension, MaxPixels/1_000_000)
		return image.Config{}, refusal{invalid(msg), ErrTooManyPixels}
	}
	return cfg, nil
}

// Process checks, decodes and re-encodes data (the whole upload, at most
// MaxUploadBytes) into the variants of Widths.
func (p *Processor) Process(ctx context.Context, data []byte) (Processed, error) {
	if len(data) > MaxUploadBytes {
		return Processed{}, fmt.Errorf("the picture is larger than %d MiB: %w", MaxUploadBytes>>20, apperr.ErrTooLarge)
	}
	if len(data) == 0 {
		return Processed{}, invalid("is empty: choose a PNG, JPEG or WebP picture")
	}
	ct := Sniff(data)
	cfg, err := CheckConfig(data, ct)
	if err != nil {
		return Processed{}, err
	}
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return Processed{}, ctx.Err()
	}
	src, err := decode(data, ct)
	if err != nil {
		return Processed{}, invalid(fmt.Sprintf("could not be decoded as %s: %v", ct, err))
	}
	b := src.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return Processed{}, invalid("declares one size in its header and holds another")
	}
	out := Processed{Width: b.Dx(), Height: b.Dy(), SourceType: ct}
	// Lossy stays lossy: JPEG, and lossy WebP without alpha (decoded as YCbCr), become
	// JPEG; PNG and lossless or transparent WebP become PNG.
	_, ycbcr := src.(*image.YCbCr)
	asJPEG := ct == TypeJPEG || (ct == TypeWebP && ycbcr)
	for _, w := range variantWidths(b.Dx()) {
		if err := ctx.Err(); err != nil {
			return Processed{}, err
		}
		v, err := encodeVariant(src, w, asJPEG)
		if err != nil {
			return Processed{}, err
		}
		out.Variants = append(out.Variants, v)
	}
	return out, nil
}

func decode(data []byte, ct string) (image.Image, error) {
	r := bytes.NewReader(data)
	switch ct {
	case TypePNG:
		return png.Decode(r)
	case TypeJPEG:
		return jpeg.Decode(r)
	case TypeWebP:
		return webp.Decode(r)
	}
	return nil, fmt.Errorf("unsupported type %s", ct)
}

// variantWidths are the widths generated for a picture srcW wide: each of Widths below
// it, and its own width when it is no wider than the largest (never enlarged).
func variantWidths(srcW int) []int {
	var ws []int
	for _, w := range Widths {
		if w < srcW {
			ws = append(ws, w)
		}
	}
	if largest := Widths[len(Widths)-1]; srcW <= largest {
		ws = append(ws, srcW)
	}
	return ws
}

// encodeVariant scales src to width w (keeping its aspect ratio) and encodes it. The
// encoders write pixels only: EXIF, ICC profiles, comments and text chunks of the
// upload are gone.
func encodeVariant(src image.Image, w int, asJPEG bool) (Variant, error) {
	b := src.Bounds()
	h := max(1, int((int64(b.Dy())*int64(w)+int64(b.Dx())/2)/int64(b.Dx())))
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	if asJPEG {
		// JPEG has no alpha: flatten onto white, as a browser shows a transparent area.
		draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	} else {
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	}
	var buf bytes.Buffer
	v := Variant{Width: w, Height: h}
	if asJPEG {
		if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return Variant{}, fmt.Errorf("encoding a %dpx JPEG: %w", w, err)
		}
		v.ContentType = TypeJPEG
	} else {
		if err := png.Encode(&buf, dst); err != nil {
			return Variant{}, fmt.Errorf("encoding a %dpx PNG: %w", w, err)
		}
		v.ContentType = TypePNG
	}
	v.Body = buf.Bytes()
	v.Key = KeyOf(v.Body, v.ContentType)
	return v, nil
}

// KeyOf is the content-addressed object name of body: its hex SHA-256 and the
// extension of ct.
func KeyOf(body []byte, ct string) string {
	sum := sha256.Sum256(body)
	ext := ".png"
	if ct == TypeJPEG {
		ext = ".jpg"
	}
	return hex.EncodeToString(sum[:]) + ext
}

// ValidKey reports whether key is a name KeyOf gives (so a request path can never
// leave the store's directory or prefix).
func ValidKey(key string) bool {
	hexPart, ext, ok := strings.Cut(key, ".")
	if !ok || (ext != "png" && ext != "jpg") || len(hexPart) != 64 {
		return false
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ContentTypeOfKey is the content type of a stored variant, from its key.
func ContentTypeOfKey(key string) string {
	if strings.HasSuffix(key, ".jpg") {
		return TypeJPEG
	}
	return TypePNG
}
