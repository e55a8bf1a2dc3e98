package shoptest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Contract checks exchanges with a shop against the shop's OpenAPI document: every
// answer must be one the document declares for the operation (status, content type,
// headers marked required, and a body matching the schema, which allows no undeclared
// field where the document says additionalProperties: false), and a request the
// document refuses must not succeed. Paths outside /api/ that the document does not
// describe (the HTML pages) are not checked.
type Contract struct {
	doc    *openapi3.T
	router routers.Router
}

var contracts sync.Map // sha256 of the document -> *Contract

// NewContract loads and validates document (kin-openapi) and routes with gorilla/mux.
// Contracts are cached by content: every shop of a test binary serves the same one.
func NewContract(document []byte) (*Contract, error) {
	key := sha256.Sum256(document)
	if c, ok := contracts.Load(key); ok {
		return c.(*Contract), nil
	}
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("loading the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	// The router matches the servers' URLs; the test shop listens on a loopback port.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing the OpenAPI document: %w", err)
	}
	c, _ := contracts.LoadOrStore(key, &Contract{doc: doc, router: router})
	return c.(*Contract), nil
}

// Document returns the loaded document.
func (c *Contract) Document() *openapi3.T { return c.doc }

// bearerPresent is the AuthenticationFunc of the request check: the document's only
// scheme is a bearer token, and whether the token is valid is the shop's to say (401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("security scheme %s is not a bearer token", in.SecuritySchemeName)
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no Authorization: Bearer token")
	}
	return nil
}

// Check validates one exchange: req with its body reqBody (nil: none), and the answer's
// status, header and body. The error names every disagreement.
func (c *Contract) Check(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	// The validators read (and may consume) the request: give them their own copy.
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.ContentLength = int64(len(reqBody))
	where := fmt.Sprintf("%s %s answered %d", req.Method, req.URL.RequestURI(), status)

	route, params, err := c.router.FindRoute(r)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return c.checkUnrouted(where, []int{http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge}, status, header, body)
	case errors.Is(err, routers.ErrPathNotFound):
		if !strings.HasPrefix(req.URL.Path, "/api/") {
			return nil // a page, not part of the API
		}
		return c.checkUnrouted(where, []int{http.StatusNotFound, http.StatusRequestEntityTooLarge}, status, header, body)
	case err != nil:
		return fmt.Errorf("%s: routing with the OpenAPI document: %w", where, err)
	}
	op := fmt.Sprintf("%s (operation %s)", where, route.Operation.OperationID)

	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true, // never rewrite the request being checked
			AuthenticationFunc:  bearerPresent,
		},
	}
	var problems []string
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && status < 400 {
		problems = append(problems, fmt.Sprintf("the document refuses the request, yet the shop accepted it: %v", reqErr))
	}

	declared := route.Operation.Responses.Status(status)
	switch {
	case declared == nil:
		problems = append(problems, fmt.Sprintf("status %d is not declared for the operation", status))
	case status == http.StatusNotModified:
		// openapi3filter skips 304s: check what it would not.
		if len(body) > 0 {
			problems = append(problems, "a 304 has a body")
		}
	default:
		if declared.Value != nil && len(declared.Value.Content) == 0 && len(body) > 0 {
			problems = append(problems, fmt.Sprintf("the document declares no body for %d, yet there is one (%s)", status, header.Get("Content-Type")))
		}
		respErr := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 status,
			Header:                 header,
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
		})
		if respErr != nil {
			problems = append(problems, respErr.Error())
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s, which breaks the OpenAPI document:\n- %s\nbody: %.600s", op, strings.Join(problems, "\n- "), body)
}

// checkUnrouted checks the answer to a request the document has no operation for: the
// router's problem (404, 405) or the body limit's (413), before any handler.
func (c *Contract) checkUnrouted(where string, allowed []int, status int, header http.Header, body []byte) error {
	ok := false
	for _, s := range allowed {
		ok = ok || s == status
	}
	if !ok {
		return fmt.Errorf("%s: no operation of the OpenAPI document has this path and method, so only %v may answer", where, allowed)
	}
	if ct := header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("%s with Content-Type %q, want application/problem+json", where, ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: the problem is not JSON: %w", where, err)
	}
	if err := c.doc.Components.Schemas["Problem"].Value.VisitJSON(v); err != nil {
		return fmt.Errorf("%s: the answer is not a Problem: %w", where, err)
	}
	return nil
}

// Transport returns a RoundTripper that sends requests through base (nil: the default)
// and turns an exchange that breaks the contract into an error from RoundTrip, so the
// test that made the request fails with the reason.
func (c *Contract) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return contractTransport{c: c, base: base}
}

type contractTransport struct {
	c    *Contract
	base http.RoundTripper
}

func (t contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if err := t.c.Check(req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
