// Package search is the shop's product search: PostgreSQL full-text search over a
// weighted tsvector (name A, category B, description C), with a pg_trgm similarity
// fallback when nothing matches a short text (typos), the catalog's filters and sorts plus relevance,
// and category facets.
package search

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// MaxQueryLength bounds the search text (in characters).
const MaxQueryLength = 200

// MaxSimilarLength bounds the text (in characters) for which the similarity fallback
// runs. Typos worth forgiving are in short queries ("espreso machne"); a trigram search
// costs with the length of the text (every trigram's posting list is read), and a long
// random text, matching nothing in full text, would otherwise buy a scan of the catalog's
// names with each request.
const MaxSimilarLength = 32

// Sorts are the sorts of a search, relevance (the default) first.
var Sorts = append([]catalog.Sort{catalog.SortRelevance}, catalog.ListSorts...)

// Match says how the results matched the text.
type Match string

const (
	// MatchFullText: the full-text query matched.
	MatchFullText Match = "fulltext"
	// MatchSimilar: nothing matched the full-text query; these names are similar to the
	// text (trigram word similarity), which forgives typos.
	MatchSimilar Match = "similar"
)

// Query is a search: the text plus the catalog's list query.
type Query struct {
	catalog.ListQuery
	// Text is normalised: trimmed, inner spaces collapsed, lower-case.
	Text string
}

// Key is a canonical form of q for cache keys.
func (q Query) Key() string { return "q=" + url.QueryEscape(q.Text) + "&" + q.ListQuery.Key() }

// Facet counts the matches in one category.
type Facet struct {
	Slug  string `json:"slug"`
	Count int64  `json:"count"`
}

// Facets are the counts by category of everything matching the text and the price
// filters (not the category filter, so a shopper sees where else the text matches).
type Facets struct {
	Categories []Facet `json:"categories"`
}

// Result is one page of search results in the list envelope, with facets.
type Result struct {
	Items   []catalog.Product `json:"items"`
	Page    int               `json:"page"`
	PerPage int               `json:"per_page"`
	Total   int64             `json:"total"`
	Facets  Facets            `json:"facets"`
	Match   Match             `json:"match"`
}

// ParseQuery reads a search from URL parameters: q (required, at most MaxQueryLength
// characters) and the catalog's list parameters with sort relevance by default.
func ParseQuery(v url.Values) (Query, error) {
	lq, err := catalog.ParseListQuery(v, Sorts)
	var fields []apperr.FieldError
	if ve, ok := err.(*apperr.ValidationError); ok {
		fields = ve.Errors
	} else if err != nil {
		return Query{}, err
	}
	text, msg := normalize(v.Get("q"))
	if msg != "" {
		fields = append([]apperr.FieldError{{Field: "q", Message: msg}}, fields...)
	}
	if len(fields) > 0 {
		return Query{}, &apperr.ValidationError{Errors: fields}
	}
	return Query{ListQuery: lq, Text: text}, nil
}

func normalize(raw string) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "must be valid UTF-8"
	}
	if utf8.RuneCountInString(raw) > MaxQueryLength*4 {
		return "", fmt.Sprintf("must be at most %d characters", MaxQueryLength)
	}
	for _, r := range raw {
		if unicode.IsControl(r) {
			return "", "must not contain control characters"
		}
	}
	text := strings.ToLower(strings.Join(strings.Fields(raw), " "))
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return "", "is required"
	case n > MaxQueryLength:
		return "", fmt.Sprintf("must be at most %d characters", MaxQueryLength)
	}
	return text, ""
}

// Store runs searches, implemented by *PGStore.
type Store interface {
	// Search returns the page of products matching the full-text query, and the facets;
	// when nothing at all matches it (under the price filters) and similar is set, the
	// same for the names similar to the text (trigram word similarity), with
	// MatchSimilar. It is one statement.
	Search(ctx context.Context, q Query, similar bool) ([]catalog.Product, []Facet, Match, error)
}

// Service answers searches.
type Service struct {
	store Store
}

// NewService returns a search service over store.
func NewService(store Store) *Service { return &Service{store: store} }

// Search runs q (as ParseQuery returns it): full-text first; when nothing at all matches
// the text (under the price filters) and it has at most MaxSimilarLength characters, by
// similarity.
func (s *Service) Search(ctx context.Context, q Query) (Result, error) {
	items, facets, match, err := s.store.Search(ctx, q, utf8.RuneCountInString(q.Text) <= MaxSimilarLength)
	if err != nil {
		return Result{}, fmt.Errorf("searching for %q: %w", q.Text, err)
	}
	if items == nil {
		items = []catalog.Product{}
	}
	if facets == nil {
		facets = []Facet{}
	}
	return Result{Items: items, Page: q.Page, PerPage: q.PerPage, Total: total(facets, q.Category),
		Facets: Facets{Categories: facets}, Match: match}, nil
}

// total derives the number of matches from the facets, which count every match under the
// price filters by category: all of them, or the filtered category's.
func total(facets []Facet, category string) int64 {
	var n int64
	for _, f := range facets {
		if category == "" {
			n += f.Count
		} else if f.Slug == category {
			return f.Count
		}
	}
	return n
}
