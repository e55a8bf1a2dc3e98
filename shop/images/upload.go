package images

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// UploadBodyLimit is the request body limit of the upload routes: a picture of
// MaxUploadBytes and the form around it (alt text, CSRF token, multipart boundaries).
const UploadBodyLimit = MaxUploadBytes + 1<<20

// Form fields of an upload.
const (
	FieldImage = "image"
	FieldAlt   = "alt"
)

// ReadUpload reads the multipart/form-data upload of r: the picture (field "image",
// whatever its file name and declared type, which are ignored) and its alt text.
// The request body is expected to be capped at UploadBodyLimit by the router; a picture
// over MaxUploadBytes is apperr.ErrTooLarge.
func ReadUpload(r *http.Request) (alt string, data []byte, err error) {
	// Parts beyond 1 MiB spill to temporary files, which RemoveAll deletes below.
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", nil, fmt.Errorf("the upload is larger than %d MiB: %w", MaxUploadBytes>>20, apperr.ErrTooLarge)
		}
		return "", nil, &apperr.ValidationError{Detail: "the body must be multipart/form-data with the fields image and alt",
			Errors: []apperr.FieldError{{Field: "body", Message: "must be multipart/form-data: " + err.Error()}}}
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	alt = r.FormValue(FieldAlt)
	files := r.MultipartForm.File[FieldImage]
	if len(files) != 1 {
		return "", nil, &apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: FieldImage,
			Message: "is required: attach one PNG, JPEG or WebP picture"}}}
	}
	if files[0].Size > MaxUploadBytes {
		return "", nil, fmt.Errorf("the picture is larger than %d MiB: %w", MaxUploadBytes>>20, apperr.ErrTooLarge)
	}
	f, err := files[0].Open()
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, MaxUploadBytes+1))
	if err != nil {
		return "", nil, err
	}
	if len(data) > MaxUploadBytes {
		return "", nil, fmt.Errorf("the picture is larger than %d MiB: %w", MaxUploadBytes>>20, apperr.ErrTooLarge)
	}
	return alt, data, nil
}
