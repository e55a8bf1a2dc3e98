package web

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/platform/money"
)

func testKeys(t *testing.T, secret string) keys {
	t.Helper()
	k, err := deriveKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDeriveKeys(t *testing.T) {
	a, b := testKeys(t, "one-secret"), testKeys(t, "another-secret")
	if reflect.DeepEqual(a.csrf, a.cart) {
		t.Error("the CSRF and cart keys are equal: one purpose's signature would be valid for the other")
	}
	if reflect.DeepEqual(a.csrf, b.csrf) || reflect.DeepEqual(a.cart, b.cart) {
		t.Error("different secrets derived the same keys")
	}
	if again := testKeys(t, "one-secret"); !reflect.DeepEqual(a, again) {
		t.Error("derivation is not deterministic: replicas would not accept each other's cookies")
	}
	if _, err := deriveKeys(""); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Errorf("an empty secret gave %v, want an error naming JWT_SECRET", err)
	}
}

func TestGuestCartCookie(t *testing.T) {
	k := testKeys(t, "cart-secret").cart
	valid := encodeGuestID(k, 42)
	tests := map[string]struct {
		value string
		want  int64
	}{
		"a signed id reads back":                {value: valid, want: 42},
		"an empty cookie is no cart":            {value: ""},
		"another key's signature is no cart":    {value: encodeGuestID(testKeys(t, "other").cart, 42)},
		"a changed id is no cart":               {value: strings.Replace(valid, ".42.", ".43.", 1)},
		"the earlier release's cookie cart":     {value: "v1.W3sicCI6MSwicSI6Mn1d.c2ln"},
		"an unsigned id is no cart":             {value: "g2.42"},
		"a signed non-positive id is no cart":   {value: encodeGuestID(k, 0)},
		"an overlong value is no cart":          {value: valid + strings.Repeat("A", 100)},
		"a signature without a body is no cart": {value: "g2." + strings.Split(valid, ".")[2]},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := decodeGuestID(k, tt.value); got != tt.want {
				t.Errorf("decodeGuestID(%q) = %d, want %d", tt.value, got, tt.want)
			}
		})
	}
}

func TestCSRFTokenIsBoundToSeedAndSession(t *testing.T) {
	p := &Pages{keys: testKeys(t, "csrf-secret")}
	base := p.csrfMAC("seed-a", "")
	for name, other := range map[string]string{
		"another seed":                p.csrfMAC("seed-b", ""),
		"a session":                   p.csrfMAC("seed-a", "token-1"),
		"another session":             p.csrfMAC("seed-a", "token-2"),
		"the seed moved into session": p.csrfMAC("seed-", "a"),
	} {
		if other == base {
			t.Errorf("%s gives the same token", name)
		}
	}
	if p.csrfMAC("seed-a", "") != base {
		t.Error("the token is not deterministic")
	}
	q := &Pages{keys: testKeys(t, "another-secret")}
	if q.csrfMAC("seed-a", "") == base {
		t.Error("another key gives the same token")
	}
}

func TestBehindTLS(t *testing.T) {
	tests := map[string]struct {
		header string
		tls    bool
		want   bool
	}{
		"plain HTTP":                        {},
		"TLS terminated by the shop":        {tls: true, want: true},
		"HTTPS at the load balancer":        {header: "https", want: true},
		"upper-case HTTPS":                  {header: "HTTPS", want: true},
		"a chain whose first hop was HTTPS": {header: "https, http", want: true},
		"HTTP at the load balancer":         {header: "http"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://shop.example/", nil)
			if tt.header != "" {
				r.Header.Set("X-Forwarded-Proto", tt.header)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := behindTLS(r); got != tt.want {
				t.Errorf("behindTLS = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPaginate(t *testing.T) {
	u, _ := url.Parse("/categories/audio?sort=price_asc&page=5")
	tests := map[string]struct {
		page      int
		total     int64
		wantLinks string // page numbers, _ for a gap, * marks the current one
		prev      string
		next      string
	}{
		"one page has no links":                      {page: 1, total: PerPage},
		"two pages":                                  {page: 1, total: PerPage + 1, wantLinks: "1* 2", next: "/categories/audio?page=2&sort=price_asc"},
		"the middle of many pages":                   {page: 5, total: 20 * PerPage, wantLinks: "1 _ 3 4 5* 6 7 _ 20", prev: "/categories/audio?page=4&sort=price_asc", next: "/categories/audio?page=6&sort=price_asc"},
		"the last page":                              {page: 3, total: 3 * PerPage, wantLinks: "1 2 3*", prev: "/categories/audio?page=2&sort=price_asc"},
		"back to the first page drops the parameter": {page: 2, total: 2 * PerPage, wantLinks: "1 2*", prev: "/categories/audio?sort=price_asc"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pg := paginate(u, tt.page, tt.total)
			var parts []string
			for _, l := range pg.Links {
				switch {
				case l.Gap:
					parts = append(parts, "_")
				case l.Current:
					parts = append(parts, strconv.Itoa(l.Number)+"*")
				default:
					parts = append(parts, strconv.Itoa(l.Number))
				}
			}
			if got := strings.Join(parts, " "); got != tt.wantLinks {
				t.Errorf("links = %q, want %q", got, tt.wantLinks)
			}
			if pg.Prev != tt.prev || pg.Next != tt.next {
				t.Errorf("prev, next = %q, %q; want %q, %q", pg.Prev, pg.Next, tt.prev, tt.next)
			}
		})
	}
}

func TestFormatMoney(t *testing.T) {
	tests := map[string]struct {
		m    money.Money
		want string
	}{
		"euros":                      {money.New(1999, "EUR"), "€19.99"},
		"thousands are grouped":      {money.New(129900, "EUR"), "€1,299.00"},
		"millions":                   {money.New(123456789, "USD"), "$1,234,567.89"},
		"yen have no minor unit":     {money.New(24900, "JPY"), "¥24,900"},
		"dinars have three decimals": {money.New(24900, "KWD"), "KWD 24.900"},
		"a code without a symbol":    {money.New(125000, "CHF"), "CHF 1,250.00"},
		"negative amounts":           {money.New(-150000, "EUR"), "-€1,500.00"},
		"zero":                       {money.New(0, "EUR"), "€0.00"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := formatMoney(tt.m); got != tt.want {
				t.Errorf("formatMoney = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	got := attributes(map[string]any{
		"weight_g": float64(254), "bluetooth": "5.3", "speeds_rpm": []any{float64(33), float64(45)},
		"preamp": true, "oven_safe_c": float64(250), "read_mb_s": float64(300), "max_kg": 2.5,
	})
	want := []attribute{
		{"Bluetooth", "5.3"}, {"Max (kg)", "2.5"}, {"Oven safe (°C)", "250"}, {"Preamp", "yes"},
		{"Read (MB/s)", "300"}, {"Speeds (rpm)", "33, 45"}, {"Weight (g)", "254"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes = %v\nwant %v", got, want)
	}
}

func TestStockOf(t *testing.T) {
	for stock, want := range map[int]string{0: "Out of stock", 1: "Only 1 left", LowStock: "Only 5 left", LowStock + 1: "In stock"} {
		if got := stockOf(stock); got.Label != want || got.Available != (stock > 0) {
			t.Errorf("stockOf(%d) = %+v, want %q", stock, got, want)
		}
	}
}

func TestImageURL(t *testing.T) {
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	p := &Pages{assets: a}
	for in, want := range map[string]string{
		"/static/img/categories/audio.svg":   "/static/img/categories/audio.svg",
		"/static/img/categories/nothing.svg": placeholderImage,
		"":                                   placeholderImage,
		"https://cdn.example/x.png":          placeholderImage,
		"//cdn.example/x.png":                placeholderImage,
		"/uploads/x.png":                     "/uploads/x.png",
	} {
		if got := p.imageURL(in); got != want {
			t.Errorf("imageURL(%q) = %q, want %q", in, got, want)
		}
	}
}
