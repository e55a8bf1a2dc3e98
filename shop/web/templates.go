package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

//go:embed templates
var templateFiles embed.FS

// placeholderImage stands in for a product without a picture of the shop's own.
const placeholderImage = StaticPrefix + "img/placeholder.svg"

// parseTemplates parses each page template (templates/*.html other than the layout and
// the partials) together with the layout and the partials.
func (p *Pages) parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(p.funcs()).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parsing the layout: %w", err)
	}
	pages, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, f := range pages {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, f)
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", f, err)
		}
		out[name] = t
	}
	return out, nil
}

func (p *Pages) funcs() template.FuncMap {
	return template.FuncMap{
		"money":      formatMoney,
		"asset":      p.assets.URL,
		"image":      p.imageURL,
		"srcset":     srcset,
		"sub":        func(a, b int) int { return a - b },
		"stock":      stockOf,
		"attrs":      attributes,
		"fieldAttrs": fieldAttrs,
		"hasPrefix":  strings.HasPrefix,
		"date":       func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
		"title":      func(s string) string { return sentence(s)[:max(0, len(sentence(s))-1)] },
		// dict builds the argument of a partial template: dict "Key" value ...
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict needs key, value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
}

// imageURL returns the URL to show for a product image: the shop's own images as
// stored, the placeholder for none, a missing file, or another host (which the CSP
// would block anyway).
func (p *Pages) imageURL(u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		return placeholderImage
	}
	if strings.HasPrefix(u, StaticPrefix) && !p.assets.Has(u) {
		return placeholderImage
	}
	return u
}

// srcset is the srcset attribute of an uploaded image: each variant's URL and width
// ("https://cdn.example/ab…cd.jpg 320w, …"), so the browser picks the smallest that
// fills the slot at the screen's density.
func srcset(im catalog.Image) string {
	parts := make([]string, 0, len(im.Variants))
	for _, v := range im.Variants {
		parts = append(parts, v.URL+" "+strconv.Itoa(v.Width)+"w")
	}
	return strings.Join(parts, ", ")
}

// formatMoney formats a price for English-speaking shoppers: the currency's symbol or
// code (money.Money.String) with thousands grouped: €1,299.00, ¥24,900, CHF 12.50.
func formatMoney(m money.Money) string {
	s := m.String()
	// Group the digits before the decimal point of the number part.
	start := strings.IndexAny(s, "0123456789")
	if start < 0 {
		return s
	}
	end := start
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	whole := s[start:end]
	if len(whole) <= 3 {
		return s
	}
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return s[:start] + b.String() + s[end:]
}

// LowStock is the stock at or below which a product shows "Only N left".
const LowStock = 5

// stockState is how a product's stock is shown.
type stockState struct {
	Class, Label string
	Available    bool
}

func stockOf(n int) stockState {
	switch {
	case n <= 0:
		return stockState{Class: "out", Label: "Out of stock"}
	case n <= LowStock:
		return stockState{Class: "low", Label: fmt.Sprintf("Only %d left", n), Available: true}
	default:
		return stockState{Class: "in", Label: "In stock", Available: true}
	}
}

// attribute is one row of a product's details.
type attribute struct {
	Name, Value string
}

// attributes lists a product's attributes by name, for people: "battery_hours" becomes
// "battery hours", lists are joined with commas, booleans read yes or no.
func attributes(m map[string]any) []attribute {
	out := make([]attribute, 0, len(m))
	for k, v := range m {
		out = append(out, attribute{Name: attributeName(k), Value: formatValue(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// unitSuffixes turn the unit at the end of an attribute key into a readable one.
var unitSuffixes = []struct{ suffix, unit string }{
	{"_mb_s", "MB/s"}, {"_khz", "kHz"}, {"_gsm", "g/m²"}, {"_rpm", "rpm"}, {"_kg", "kg"}, {"_cm", "cm"},
	{"_mm", "mm"}, {"_ml", "ml"}, {"_gb", "GB"}, {"_in", "in"}, {"_db", "dB"}, {"_g", "g"}, {"_l", "l"},
	{"_w", "W"}, {"_m", "m"}, {"_c", "°C"}, {"_k", "K"},
}

// attributeName turns a key such as weight_g into "Weight (g)".
func attributeName(key string) string {
	unit := ""
	for _, u := range unitSuffixes {
		if strings.HasSuffix(key, u.suffix) && len(key) > len(u.suffix) {
			key, unit = strings.TrimSuffix(key, u.suffix), " ("+u.unit+")"
			break
		}
	}
	name := strings.ReplaceAll(key, "_", " ")
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return name + unit
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return strings.Join(parts, ", ")
	default:
		return fmt.Sprint(x)
	}
}
