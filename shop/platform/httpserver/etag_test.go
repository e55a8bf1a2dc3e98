package httpserver_test

import (
	"testing"

	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

func TestETagMatches(t *testing.T) {
	tests := map[string]struct {
		header string
		want   bool
	}{
		"no header":                   {"", false},
		"the same tag":                {`"abc"`, true},
		"a weak form of the same tag": {`W/"abc"`, true},
		"one of a list":               {`"x", "abc"`, true},
		"a different tag":             {`"abd"`, false},
		"any tag":                     {`*`, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := httpserver.ETagMatches(tt.header, `"abc"`); got != tt.want {
				t.Errorf("ETagMatches(%q) = %v", tt.header, got)
			}
		})
	}
}
