package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// visitor is one browser: a cookie jar, no automatic redirects (tests check the 303s).
type visitor struct {
	t    *testing.T
	shop *shoptest.Shop
	c    *http.Client
	// header is sent with every request.
	header http.Header
}

func newVisitor(t *testing.T, shop *shoptest.Shop) *visitor {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, shop: shop, header: http.Header{}, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response with its body.
type page struct {
	*http.Response
	Body string
}

func (v *visitor) do(req *http.Request) page {
	v.t.Helper()
	for k, vs := range v.header {
		req.Header[k] = vs
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	return page{Response: resp, Body: string(b)}
}

func (v *visitor) get(path string, headers ...string) page {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.shop.URL+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return v.do(req)
}

// post submits a form; a "csrf_token" of "" sends none, absent takes the one on from.
func (v *visitor) post(path string, form url.Values, headers ...string) page {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.shop.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return v.do(req)
}

func (v *visitor) cookie(name string) *http.Cookie {
	u, _ := url.Parse(v.shop.URL)
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of the page's forms.
func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%.2000s", p.Body)
	}
	return m[1]
}

func expectStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d:\n%.3000s", p.Request.Method, p.Request.URL.Path, p.StatusCode, status, p.Body)
	}
}

func expectContains(t *testing.T, p page, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(p.Body, w) {
			t.Errorf("%s: page lacks %q", p.Request.URL, w)
		}
	}
}

// checkAccessibility checks what can be checked from the HTML alone (the browser tests
// check the rendered DOM): a language, one h1, the landmarks, alt text on every image,
// a label for every form control, and error messages linked to their fields.
func checkAccessibility(t *testing.T, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	var (
		lang                  string
		h1, mains, banners    int
		labels                = map[string]bool{}
		ids                   = map[string]bool{}
		controls, describedBy []*html.Node
	)
	var walk func(n *html.Node, inLabel bool)
	walk = func(n *html.Node, inLabel bool) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "html":
				lang = attr(n, "lang")
			case "h1":
				h1++
			case "main":
				mains++
			case "header":
				banners++
			case "img":
				if _, ok := attrOK(n, "alt"); !ok {
					t.Errorf("image %s has no alt attribute", attr(n, "src"))
				}
			case "label":
				labels[attr(n, "for")] = true
				inLabel = true
			case "input", "select", "textarea":
				switch attr(n, "type") {
				case "hidden", "submit", "button":
				default:
					if !inLabel && attr(n, "aria-label") == "" && attr(n, "aria-labelledby") == "" {
						controls = append(controls, n)
					}
				}
			}
			if id := attr(n, "id"); id != "" {
				if ids[id] {
					t.Errorf("duplicate id %q", id)
				}
				ids[id] = true
			}
			if attr(n, "aria-invalid") == "true" {
				describedBy = append(describedBy, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLabel)
		}
	}
	walk(doc, false)
	if lang == "" {
		t.Error("<html> has no lang")
	}
	if h1 != 1 {
		t.Errorf("%d h1 elements, want 1", h1)
	}
	if mains != 1 || banners < 1 {
		t.Errorf("%d main and %d header landmarks", mains, banners)
	}
	for _, c := range controls {
		if id := attr(c, "id"); id == "" || !labels[id] {
			t.Errorf("form control %s name=%q has no label", c.Data, attr(c, "name"))
		}
	}
	for _, c := range describedBy {
		ref := attr(c, "aria-describedby")
		if ref == "" {
			t.Errorf("invalid field %q has no aria-describedby", attr(c, "name"))
			continue
		}
		for _, id := range strings.Fields(ref) {
			if !ids[id] {
				t.Errorf("invalid field %q is described by missing element %q", attr(c, "name"), id)
			}
		}
	}
}

// syncBuffer collects a shop's logs, written from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func attr(n *html.Node, name string) string {
	v, _ := attrOK(n, name)
	return v
}

func attrOK(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// formToken returns the CSRF token of the forms on path for v. A visitor without the
// shop's cookies gets the shared product page, whose add-to-cart form has no token; it
// takes one from the login form, which sets its CSRF cookie, as a browser would once it
// opens any page with a form.
func formToken(t *testing.T, v *visitor, path string) string {
	t.Helper()
	p := v.get(path)
	if m := csrfRE.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return csrf(t, v.get("/login"))
}
