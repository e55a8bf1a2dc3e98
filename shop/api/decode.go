package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// DecodeJSON reads the request body into dst strictly: the media type must be JSON,
// unknown fields, wrong types, malformed or trailing JSON are 400 problems naming the
// field (or "body"), and a body over the limit is apperr.ErrTooLarge. Handlers of the
// endpoints with bodies (auth, cart, orders, admin) call it before anything is written.
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.Invalid("body", "must be sent as application/json")
		}
	}
	if r.Body == nil {
		return apperr.Invalid("body", "is required")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.ErrTooLarge
		}
		return apperr.Invalid("body", "must hold a single JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return apperr.ErrTooLarge
	case errors.Is(err, io.EOF):
		return apperr.Invalid("body", "is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("body", "is truncated JSON")
	case errors.As(err, &syntax):
		return apperr.Invalid("body", fmt.Sprintf("is malformed JSON at byte %d", syntax.Offset))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return apperr.Invalid(field, "must be "+article(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Invalid(field, "is not a known field")
	default:
		return apperr.Invalid("body", "is not valid JSON")
	}
}

// article names a Go kind as a JSON type for messages.
func article(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "a " + kind
}
