package search

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

func TestParseQuery(t *testing.T) {
	tests := map[string]struct {
		query    string
		text     string
		sort     catalog.Sort
		badField string
	}{
		"text is trimmed, collapsed and lower-cased": {query: "q=" + url.QueryEscape("  Cast   IRON "), text: "cast iron", sort: catalog.SortRelevance},
		"a list sort is accepted":                    {query: "q=tea&sort=price_desc", text: "tea", sort: catalog.SortPriceDesc},
		"200 characters are accepted":                {query: "q=" + strings.Repeat("é", 200), text: strings.Repeat("é", 200), sort: catalog.SortRelevance},
		"q is required":                              {query: "sort=name", badField: "q"},
		"201 characters are refused":                 {query: "q=" + strings.Repeat("a", 201), badField: "q"},
		"control characters are refused":             {query: "q=a%07b", badField: "q"},
		"list errors are reported with q's":          {query: "q=&per_page=0", badField: "per_page"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			q, err := ParseQuery(v)
			if tt.badField != "" {
				var ve *apperr.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v", err)
				}
				for _, f := range ve.Errors {
					if f.Field == tt.badField {
						return
					}
				}
				t.Fatalf("%v does not name %s", err, tt.badField)
			}
			if err != nil || q.Text != tt.text || q.Sort != tt.sort {
				t.Fatalf("ParseQuery = %+v, %v", q, err)
			}
		})
	}
}

// fakeStore answers as the statement does: full-text facets when there are any, the
// similar ones when there are none and the fallback may run.
type fakeStore struct {
	fullText, similar []Facet
	allowed           []bool
}

func (f *fakeStore) Search(_ context.Context, _ Query, similar bool) ([]catalog.Product, []Facet, Match, error) {
	f.allowed = append(f.allowed, similar)
	if len(f.fullText) > 0 || !similar {
		return nil, f.fullText, MatchFullText, nil
	}
	return nil, f.similar, MatchSimilar, nil
}

func TestSearchFallsBackOnlyForShortTextsThatMatchNothing(t *testing.T) {
	tests := map[string]struct {
		store    fakeStore
		text     string
		category string
		match    Match
		total    int64
	}{
		"full-text matches are used":                          {store: fakeStore{fullText: []Facet{{"a", 3}, {"b", 2}}}, match: MatchFullText, total: 5},
		"the total follows the category filter":               {store: fakeStore{fullText: []Facet{{"a", 3}, {"b", 2}}}, category: "b", match: MatchFullText, total: 2},
		"matches elsewhere keep full-text":                    {store: fakeStore{fullText: []Facet{{"a", 3}}}, category: "b", match: MatchFullText, total: 0},
		"no match at all falls back to similarity":            {store: fakeStore{similar: []Facet{{"a", 1}}}, match: MatchSimilar, total: 1},
		"a text of MaxSimilarLength characters may fall back": {store: fakeStore{similar: []Facet{{"a", 1}}}, text: strings.Repeat("é", MaxSimilarLength), match: MatchSimilar, total: 1},
		"a longer text never falls back":                      {store: fakeStore{similar: []Facet{{"a", 1}}}, text: strings.Repeat("é", MaxSimilarLength+1), match: MatchFullText, total: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			text := tt.text
			if text == "" {
				text = "x"
			}
			q := Query{Text: text, ListQuery: catalog.ListQuery{Page: 1, PerPage: 20, Filter: catalog.Filter{Category: tt.category}}}
			r, err := NewService(&tt.store).Search(context.Background(), q)
			if err != nil || r.Match != tt.match || r.Total != tt.total || r.Items == nil || r.Facets.Categories == nil {
				t.Errorf("result = %+v, %v (fallback allowed: %v)", r, err, tt.store.allowed)
			}
			if len(tt.store.allowed) != 1 {
				t.Errorf("%d store calls, want one statement", len(tt.store.allowed))
			}
		})
	}
}
