// Package imagestest builds the pictures the tests of product images upload: real PNG
// and JPEG files, and a real decompression bomb (a valid PNG whose pixels would take
// far more memory than its bytes).
package imagestest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Gradient is a w×h opaque picture whose colours vary (so encoders cannot collapse it).
func Gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	return img
}

// PNG encodes a w×h Gradient as PNG.
func PNG(w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, Gradient(w, h)); err != nil {
		panic(err) // in-memory encoding of a valid image
	}
	return buf.Bytes()
}

// JPEG encodes a w×h Gradient as JPEG.
func JPEG(w, h int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Gradient(w, h), nil); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Bomb returns a complete, valid PNG of w×h grey pixels, all zero: deflate shrinks
// them about a thousandfold, so 9000×9000 (81 MB of pixels) is under 100 KiB.
func Bomb(w, h int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 0 // 8-bit greyscale
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+w) // filter byte 0, then w zero pixels
	for y := 0; y < h; y++ {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// HTML is an HTML document, to upload under a .png name.
var HTML = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
