package seed

import (
	"strings"
	"testing"

	"github.com/storefront-operator/storefront/shop/catalog"
)

func TestDemoCatalog(t *testing.T) {
	if DemoCategoryCount() < 8 || DemoProductCount() < 60 {
		t.Fatalf("%d categories and %d products; want at least 8 and 60", DemoCategoryCount(), DemoProductCount())
	}
	slugs := map[string]bool{}
	for _, c := range demoCatalog {
		if !catalog.ValidSlug(c.slug) || c.name == "" || c.description == "" {
			t.Errorf("category %+v", c.slug)
		}
		for _, p := range c.products {
			s := Slugify(p.name)
			if !catalog.ValidSlug(s) || slugs[s] {
				t.Errorf("product %q: slug %q invalid or duplicate", p.name, s)
			}
			slugs[s] = true
			if p.price <= 0 || p.stock <= 0 || len(p.description) < 30 || len(p.attributes) == 0 {
				t.Errorf("product %q is incomplete", p.name)
			}
		}
	}
}

func TestSlugify(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"spaces become dashes":              {"Cast Iron Skillet 26 cm", "cast-iron-skillet-26-cm"},
		"punctuation collapses to one dash": {"Chef's Knife -- 20 cm!", "chef-s-knife-20-cm"},
		"accents and symbols are dropped":   {"Down Sleeping Bag -5 °C", "down-sleeping-bag-5-c"},
		"no leading or trailing dash":       {"  (Pair) ", "pair"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Slugify(tt.in); got != tt.want {
				t.Errorf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScalePrice(t *testing.T) {
	tests := map[string]struct {
		currency string
		want     int64
	}{
		"cents stay cents":       {"EUR", 1999},
		"yen keep the number":    {"JPY", 1999},
		"fils get a third digit": {"KWD", 19990},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := scalePrice(1999, tt.currency); got != tt.want {
				t.Errorf("scalePrice(1999, %s) = %d, want %d", tt.currency, got, tt.want)
			}
		})
	}
	if !strings.HasPrefix(ImageURL("audio"), "/static/img/") {
		t.Error("image URLs are not under /static/img/")
	}
}
