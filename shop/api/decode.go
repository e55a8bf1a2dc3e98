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
		if !plainName(field) {
			// The name cannot be echoed usefully (empty, spaces, binary, huge): name the body.
			return apperr.Invalid("body", "has an unknown field")
		}
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

// plainName reports whether an unknown field's name is short and made of letters,
// digits, '_', '-' and '.', so it can be echoed in a problem's errors.
func plainName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-' || ch == '.') {
			return false
		}
	}
	return true
}
