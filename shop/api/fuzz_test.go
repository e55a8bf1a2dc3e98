package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/storefront-operator/storefront/test/shoptest"
)

// FuzzSearchAndList sends arbitrary search text and list parameters through the real
// router to a real database: the answer is always 200 with a well-formed page or a 400
// problem naming a field, never a 500 (a NUL byte or broken UTF-8 reaching PostgreSQL,
// an overflowing offset, a tsquery syntax error would be), and always one the OpenAPI
// document declares (a request it refuses is never a 200).
func FuzzSearchAndList(f *testing.F) {
	shop := shoptest.Start(f, shoptest.Options{Demo: true})
	f.Add("espresso", "", "", "", "", "", "")
	f.Add("espreso machne", "coffee-tea", "100", "90000", "price_asc", "1", "5")
	f.Add(`"cast iron" -skillet OR tea`, "kitchen", "0", "", "relevance", "2", "100")
	f.Add("a\x00b", "Books", "-1", "x", "best", "0", "101")
	f.Add("\xff\xfe", "", "99999999999999999999", "", "", "10000", "100")
	f.Add("!!! & | <-> :* ()", "", "", "", "name", "9999", "1")
	f.Fuzz(func(t *testing.T, q, category, minPrice, maxPrice, sort, page, perPage string) {
		params := url.Values{}
		for k, v := range map[string]string{"category": category, "min_price": minPrice, "max_price": maxPrice, "sort": sort, "page": page, "per_page": perPage} {
			if v != "" {
				params.Set(k, v)
			}
		}
		products := "/api/v1/products?" + params.Encode()
		params.Set("q", q)
		for _, path := range []string{products, "/api/v1/search?" + params.Encode()} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			shop.App.Router.ServeHTTP(rec, req)
			if err := shop.Contract.Check(req, nil, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
				t.Fatal(err)
			}
			switch rec.Code {
			case http.StatusOK:
				var page struct {
					Items   []json.RawMessage `json:"items"`
					Page    int               `json:"page"`
					PerPage int               `json:"per_page"`
					Total   *int64            `json:"total"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Items == nil || page.Total == nil ||
					page.Page < 1 || page.PerPage < 1 || page.PerPage > 100 || len(page.Items) > page.PerPage {
					t.Fatalf("GET %s: malformed page (%v): %.300s", path, err, rec.Body)
				}
			case http.StatusBadRequest:
				var p struct {
					Errors []struct{ Field string } `json:"errors"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Errors) == 0 || p.Errors[0].Field == "" {
					t.Fatalf("GET %s: 400 without a field: %s", path, rec.Body)
				}
			default:
				t.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
			}
		}
	})
}
