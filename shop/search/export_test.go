package search

import "github.com/storefront-operator/storefront/shop/catalog"

// StatementOf is the statement a search of sort s and filter shape sh runs.
func StatementOf(s catalog.Sort, sh catalog.Shape) string { return queries[queryKey{s, sh}] }
