// Package problem turns errors into RFC 9457 problem details
// (application/problem+json). It is the one place where the sentinel errors of package
// apperr meet HTTP status codes: the JSON API's error middleware calls Write, and the
// pages can call From to pick a status and message for their HTML error page.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// ContentType is the media type of problem details.
const ContentType = "application/problem+json"

// StatusClientClosedRequest is the status recorded (in the access log and the metrics)
// for a request whose client went away before the answer: nginx's 499. Nothing is sent,
// since nobody is there to read it.
const StatusClientClosedRequest = 499

// typeBase prefixes the problem type URIs; they identify the kind of problem and are
// documented in the OpenAPI description.
const typeBase = "https://storefront.dev/problems/"

// Problem is an RFC 9457 problem details object, with the API's `errors` extension (docs/architecture.md#the-shops-http-api) for
// validation failures.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []apperr.FieldError `json:"errors,omitempty"`
	// ChangeToken is the password-change-required extension: the token that
	// POST /api/v1/auth/password-change takes with the new password.
	ChangeToken string `json:"change_token,omitempty"`
}

// New returns a problem with the given status, its standard title and type, and detail.
func New(status int, kind, detail string) Problem {
	return Problem{Type: typeBase + kind, Title: http.StatusText(status), Status: status, Detail: detail}
}

// From maps err to a problem. Internal reports whether err is none of the known kinds:
// such an error is shown as a plain 500 without its text (it may hold internals) and
// should be logged by the caller.
func From(err error) (p Problem, internal bool) {
	var (
		ve        *apperr.ValidationError
		throttled *apperr.ThrottledError
		change    *apperr.PasswordChangeRequiredError
	)
	switch {
	case errors.As(err, &ve):
		status, kind, detail := http.StatusBadRequest, "invalid-request", "The request has invalid parameters."
		if ve.Unprocessable {
			status, kind, detail = http.StatusUnprocessableEntity, "validation-failed", "The request is well-formed but some fields are invalid."
		}
		if ve.Detail != "" {
			detail = ve.Detail
		}
		p := New(status, kind, detail)
		p.Errors = ve.Errors
		return p, false
	case errors.Is(err, apperr.ErrNotFound):
		return New(http.StatusNotFound, "not-found", err.Error()), false
	case errors.Is(err, apperr.ErrConflict):
		return New(http.StatusConflict, "conflict", err.Error()), false
	case errors.Is(err, apperr.ErrOutOfStock):
		return New(http.StatusConflict, "out-of-stock", err.Error()), false
	case errors.As(err, &change):
		p := New(http.StatusForbidden, "password-change-required", err.Error())
		p.ChangeToken = change.Token
		return p, false
	case errors.Is(err, apperr.ErrTOTPRequired):
		return New(http.StatusUnauthorized, "totp-required", err.Error()), false
	case errors.Is(err, apperr.ErrUnauthorized):
		return New(http.StatusUnauthorized, "unauthorized", err.Error()), false
	case errors.Is(err, apperr.ErrForbidden):
		return New(http.StatusForbidden, "forbidden", err.Error()), false
	case errors.Is(err, apperr.ErrPaymentDeclined):
		return New(http.StatusPaymentRequired, "payment-declined", err.Error()), false
	case errors.As(err, &throttled):
		return New(http.StatusTooManyRequests, "too-many-requests", err.Error()), false
	case errors.Is(err, apperr.ErrNoPaymentProvider):
		return New(http.StatusServiceUnavailable, "payments-unavailable", err.Error()), false
	case errors.Is(err, apperr.ErrTimedOut):
		return New(http.StatusServiceUnavailable, "timed-out", err.Error()), false
	case errors.Is(err, apperr.ErrMethodNotAllowed):
		return New(http.StatusMethodNotAllowed, "method-not-allowed", "The method is not allowed on this resource."), false
	case errors.Is(err, apperr.ErrUnavailable):
		return New(http.StatusServiceUnavailable, "unavailable", err.Error()), false
	case errors.Is(err, apperr.ErrTooLarge):
		return New(http.StatusRequestEntityTooLarge, "too-large", err.Error()), false
	default:
		return New(http.StatusInternalServerError, "internal", "An internal error occurred; it has been logged with the request ID."), true
	}
}

// Write sends p as application/problem+json.
func Write(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Del("ETag")
	h.Del("Cache-Control")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
