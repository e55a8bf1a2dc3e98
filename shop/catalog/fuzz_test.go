package catalog_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// FuzzParseListQuery: whatever the query string, parsing either refuses it with field
// errors or yields a query inside every limit, whose cache key is stable.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{"", "page=2&per_page=50", "category=books&min_price=100&max_price=50", "sort=price_desc",
		"per_page=101", "page=-1", "min_price=9223372036854775808", "category=%00", "sort=relevance&page=1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := catalog.ParseListQuery(v, catalog.ListSorts)
		if err != nil {
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %v is not a validation error with fields", err)
			}
			for _, fe := range ve.Errors {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("empty field error in %v", err)
				}
			}
			return
		}
		if q.Page < 1 || q.Page > catalog.MaxPage || q.PerPage < 1 || q.PerPage > catalog.MaxPerPage {
			t.Fatalf("page %d per_page %d out of range", q.Page, q.PerPage)
		}
		if _, ok := catalog.OrderBy[q.Sort]; !ok {
			t.Fatalf("sort %q has no ORDER BY", q.Sort)
		}
		if q.Category != "" && !catalog.ValidSlug(q.Category) {
			t.Fatalf("category %q accepted", q.Category)
		}
		for _, p := range []*int64{q.MinPrice, q.MaxPrice} {
			if p != nil && (*p < 0 || *p > catalog.MaxPrice) {
				t.Fatalf("price %d accepted", *p)
			}
		}
		again, _ := catalog.ParseListQuery(v, catalog.ListSorts)
		if again.Key() != q.Key() {
			t.Fatalf("unstable key: %q vs %q", again.Key(), q.Key())
		}
	})
}
