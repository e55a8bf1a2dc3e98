package httpserver

import "strings"

// ETagMatches reports whether an If-None-Match header matches etag, with the weak
// comparison RFC 9110 §13.1.2 prescribes for it; the JSON API and the pages share it.
func ETagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == want {
			return true
		}
	}
	return false
}
