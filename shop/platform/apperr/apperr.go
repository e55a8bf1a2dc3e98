// Package apperr holds the errors that the shop's business packages return and that
// exactly one place, the HTTP error middleware (see package problem), maps to status
// codes. Business packages wrap these sentinels with context (fmt.Errorf("...: %w",
// apperr.ErrNotFound)) and never know about HTTP.
package apperr

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Each maps to one HTTP status in package problem.
var (
	// ErrNotFound: the thing asked for does not exist (or is not the caller's to see).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request collides with the current state (a duplicate email, slug...).
	ErrConflict = errors.New("conflict")
	// ErrOutOfStock: an order asks for more than the stock holds.
	ErrOutOfStock = errors.New("out of stock")
	// ErrForbidden: the caller is known but not allowed to do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: the caller is not authenticated (no, bad or revoked credentials).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrMethodNotAllowed: the path exists, the method does not (405).
	ErrMethodNotAllowed = errors.New("the method is not allowed on this resource")
	// ErrTooLarge: the request body exceeds the server's limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrTimedOut: the database gave up on a statement at its statement_timeout (503,
	// Retry-After 1): the request asked for more work than the shop spends on one.
	ErrTimedOut = errors.New("the request took too long")
	// ErrNoPaymentProvider: the shop has no payment provider (PAYMENT_PROVIDER unset), so
	// it takes no orders; nothing was charged or reserved (503).
	ErrNoPaymentProvider = errors.New("this shop takes no payments: no payment provider is configured (PAYMENT_PROVIDER)")
	// ErrUnavailable: a part the request needs is not configured in this shop (503); the
	// wrapping error names it (images.ErrNoStore: no IMAGE_STORE).
	ErrUnavailable = errors.New("unavailable")
	// ErrPaymentDeclined: the card was refused; nothing was charged or reserved.
	ErrPaymentDeclined = errors.New("payment declined")
	// ErrTOTPRequired: the password was right but the account has a TOTP second factor
	// and the request carried no code (401, problem type totp-required): ask for it.
	ErrTOTPRequired = errors.New("this account has a second factor: send the 6-digit code of its authenticator app (totp_code)")
)

// PasswordChangeRequiredError says that the password was right but must be replaced
// before the account gets a session (the bootstrap admin's generated password): 403
// with problem type password-change-required and the change token, which
// POST /auth/password-change takes with the new password.
type PasswordChangeRequiredError struct {
	// Token authorises one password change of this account, until ExpiresAt.
	Token     string
	ExpiresAt time.Time
}

func (e *PasswordChangeRequiredError) Error() string {
	return "this password must be changed before signing in: choose a new one"
}

// ThrottledError says that the caller made too many attempts and may retry after
// RetryAfter (429 with a Retry-After header).
type ThrottledError struct {
	// What names what is throttled, for the message ("login attempts for this email").
	What       string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many %s; retry in %d s", e.What, e.RetryAfterSeconds())
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1.
func (e *ThrottledError) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// FieldError names one invalid input field and says what is wrong with it. Field uses the
// name the client sent: a query parameter (`per_page`) or a JSON path (`items[0].quantity`).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is returned when input is malformed or out of range. Status says which
// HTTP status it maps to: 400 for malformed requests and bad query parameters (the
// default), 422 for well-formed bodies that break a business rule.
type ValidationError struct {
	// Detail is a one-line summary for humans; empty means a generic one.
	Detail string
	Errors []FieldError
	// Unprocessable selects 422 instead of 400.
	Unprocessable bool
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input")
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for i, f := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Fields collects field errors while validating several inputs; Err returns nil when
// nothing was added, so validation code reads as a list of checks.
type Fields struct {
	errs []FieldError
}

// Add records that field is invalid.
func (f *Fields) Add(field, message string) {
	f.errs = append(f.errs, FieldError{Field: field, Message: message})
}

// Has reports whether field already has an error (to skip dependent checks).
func (f *Fields) Has(field string) bool {
	for _, e := range f.errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

// Err returns a 400 *ValidationError with the collected errors, or nil.
func (f *Fields) Err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: f.errs}
}

// Unprocessable returns a 422 *ValidationError with the collected errors, or nil.
func (f *Fields) Unprocessable() error {
	if len(f.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: f.errs, Unprocessable: true}
}

// Invalid is a shorthand for a 400 ValidationError about one field.
func Invalid(field, message string) error {
	return &ValidationError{Errors: []FieldError{{Field: field, Message: message}}}
}

// Unprocessable is a shorthand for a 422 ValidationError about one field.
func Unprocessable(field, message string) error {
	return &ValidationError{Errors: []FieldError{{Field: field, Message: message}}, Unprocessable: true}
}

// CheckText returns what is wrong with a free-text field that must hold lo..hi
// characters of valid UTF-8 without control characters (PostgreSQL refuses NUL, and the
// others have no place in names and addresses), or "" when it is fine.
func CheckText(s string, lo, hi int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < lo && lo == 1:
		return "is required"
	case n < lo:
		return fmt.Sprintf("must be at least %d characters", lo)
	case n > hi:
		return fmt.Sprintf("must be at most %d characters", hi)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}

// Text checks a free-text field with CheckText and records what is wrong with it.
func (f *Fields) Text(field, value string, lo, hi int) {
	if msg := CheckText(value, lo, hi); msg != "" {
		f.Add(field, msg)
	}
}
