// Package seed fills the catalog: the demo catalog that `shop migrate --seed=demo` loads
// once (8 categories, 64 products), and the synthetic products of `shop seed --products
// N` for benchmarks, written with COPY.
//
// Images: demo and synthetic products point at their category's picture,
// /static/img/categories/<category-slug>.svg, which the pages serve from their embedded
// assets (see package catalog).
package seed

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/platform/money"
)

// DemoSeedName is the catalog_seeds row recording that the demo catalog was loaded.
const DemoSeedName = "demo"

// ImageURL is the picture of a product of category categorySlug.
func ImageURL(categorySlug string) string {
	return "/static/img/categories/" + categorySlug + ".svg"
}

// scalePrice converts a demo price given in hundredths of a major unit into minor units
// of currency: EUR 1999 stays 1999 (19.99), KWD becomes 19990 (19.990); currencies
// without a minor unit keep the number (JPY 1999), which reads as a plausible yen price.
func scalePrice(hundredths int64, currency string) int64 {
	d, _ := money.MinorDigits(currency)
	for ; d > 2; d-- {
		hundredths *= 10
	}
	return hundredths
}

const (
	seedLoadedSQL  = `SELECT EXISTS (SELECT 1 FROM catalog_seeds WHERE name = $1)`
	recordSeedSQL  = `INSERT INTO catalog_seeds (name) VALUES ($1)`
	upsertCategory = `INSERT INTO categories (slug, name, description) VALUES ($1, $2, $3)
ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`
	insertDemoProduct = `INSERT INTO products (category_id, slug, name, description, price_minor, currency, stock, image_url, attributes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
ON CONFLICT (slug) DO NOTHING`
)

// Demo loads the demo catalog into tx unless it was ever loaded before, and records that
// it was. It reports whether it loaded. Run it under the migration lock.
func Demo(ctx context.Context, tx pgx.Tx, currency string) (bool, error) {
	var loaded bool
	if err := tx.QueryRow(ctx, seedLoadedSQL, DemoSeedName).Scan(&loaded); err != nil {
		return false, fmt.Errorf("checking for the demo seed: %w", err)
	}
	if loaded {
		return false, nil
	}
	// Spread creation times over the past weeks so "newest" has a visible order.
	t := time.Now().UTC().Add(-30 * 24 * time.Hour)
	for _, c := range demoCatalog {
		var catID int64
		if err := tx.QueryRow(ctx, upsertCategory, c.slug, c.name, c.description).Scan(&catID); err != nil {
			return false, fmt.Errorf("creating demo category %s: %w", c.slug, err)
		}
		for _, p := range c.products {
			t = t.Add(7 * time.Hour)
			if _, err := tx.Exec(ctx, insertDemoProduct, catID, Slugify(p.name), p.name, p.description,
				scalePrice(p.price, currency), currency, p.stock, ImageURL(c.slug), p.attributes, t); err != nil {
				return false, fmt.Errorf("creating demo product %q: %w", p.name, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, recordSeedSQL, DemoSeedName); err != nil {
		return false, fmt.Errorf("recording the demo seed: %w", err)
	}
	return true, nil
}

// DemoProductCount is the number of products in the demo catalog.
func DemoProductCount() int {
	n := 0
	for _, c := range demoCatalog {
		n += len(c.products)
	}
	return n
}

// DemoCategoryCount is the number of categories in the demo catalog.
func DemoCategoryCount() int { return len(demoCatalog) }

// Slugify turns a name into a slug: lower-case ASCII letters and digits joined by single
// dashes ("Chef's Knife 20 cm" → "chef-s-knife-20-cm").
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return b.String()
}

// Synthetic creates n generated products, spread over the demo categories (created if
// missing), with one COPY. Slugs carry a random batch id, so running it again adds n
// more. It returns the slugs of the first few products (for benchmarks to request).
func Synthetic(ctx context.Context, conn *pgx.Conn, n int, currency string) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("the number of products must be positive, got %d", n)
	}
	var catIDs []int64
	var catSlugs []string
	for _, c := range demoCatalog {
		var id int64
		if err := conn.QueryRow(ctx, upsertCategory, c.slug, c.name, c.description).Scan(&id); err != nil {
			return nil, fmt.Errorf("creating category %s: %w", c.slug, err)
		}
		catIDs = append(catIDs, id)
		catSlugs = append(catSlugs, c.slug)
	}
	var seedBytes [8]byte
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed))
	for i := range seedBytes {
		seedBytes[i] = byte(rng.Uint32())
	}
	batch := hex.EncodeToString(seedBytes[:3])
	now := time.Now().UTC()
	var sample []string
	rows := make([][]any, 0, n)
	for i := 0; i < n; i++ {
		ci := rng.IntN(len(catIDs))
		adj, mat, noun := adjectives[rng.IntN(len(adjectives))], materials[rng.IntN(len(materials))], nouns[ci][rng.IntN(len(nouns[ci]))]
		name := adj + " " + mat + " " + noun
		slug := fmt.Sprintf("%s-%s-%d", Slugify(name), batch, i+1)
		if len(sample) < 100 {
			sample = append(sample, slug)
		}
		desc := fmt.Sprintf("A %s %s %s, %s. %s", strings.ToLower(adj), strings.ToLower(mat), strings.ToLower(noun),
			phrases[rng.IntN(len(phrases))], closings[rng.IntN(len(closings))])
		attrs := map[string]any{"color": colors[rng.IntN(len(colors))], "material": strings.ToLower(mat), "weight_g": 50 + rng.IntN(5000)}
		price := scalePrice(int64(199+rng.IntN(99800)), currency)
		created := now.Add(-time.Duration(rng.IntN(365*24*3600)) * time.Second)
		rows = append(rows, []any{catIDs[ci], slug, name, desc, price, currency, rng.IntN(500), ImageURL(catSlugs[ci]),
			attrs, created, created})
	}
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"products"},
		[]string{"category_id", "slug", "name", "description", "price_minor", "currency", "stock", "image_url", "attributes", "created_at", "updated_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return nil, fmt.Errorf("copying %d products: %w", n, err)
	}
	// After a bulk load: fresh statistics for the planner, and the GIN indexes' pending
	// lists merged (until then every search scans the whole pending list).
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE products, product_search`); err != nil {
		return nil, fmt.Errorf("vacuuming after the load: %w", err)
	}
	return sample, nil
}

var (
	adjectives = []string{"Classic", "Compact", "Deluxe", "Everyday", "Heritage", "Modern", "Nordic", "Portable", "Premium", "Rustic", "Smart", "Urban", "Vintage", "Essential", "Pro", "Eco"}
	materials  = []string{"Oak", "Walnut", "Bamboo", "Steel", "Aluminium", "Ceramic", "Linen", "Cotton", "Leather", "Glass", "Copper", "Wool", "Carbon", "Cork", "Stoneware", "Canvas"}
	nouns      = [][]string{
		{"Headphones", "Speaker", "Earbuds", "Turntable", "Soundbar", "Microphone", "Amplifier", "Radio"},
		{"Camera", "Lens", "Tripod", "Camera Bag", "Flash", "Light Meter", "Lens Hood", "Film Holder"},
		{"Skillet", "Saucepan", "Knife", "Cutting Board", "Mixing Bowl", "Colander", "Apron", "Spatula"},
		{"Coffee Grinder", "Kettle", "Teapot", "French Press", "Mug", "Tea Caddy", "Coffee Scoop", "Dripper"},
		{"Tent", "Sleeping Bag", "Backpack", "Water Bottle", "Headlamp", "Camping Stove", "Hammock", "Rain Jacket"},
		{"Notebook", "Journal", "Cookbook", "Field Guide", "Novel", "Atlas", "Sketchbook", "Planner"},
		{"Yoga Mat", "Kettlebell", "Dumbbell", "Foam Roller", "Jump Rope", "Resistance Band", "Yoga Block", "Gym Bag"},
		{"Desk Lamp", "Office Chair", "Keyboard", "Mouse", "Monitor Stand", "Fountain Pen", "Desk Organiser", "Bookend"},
	}
	phrases  = []string{"built to last for years", "designed in a small studio", "made for everyday use", "finished by hand", "tested by our team for months", "light enough to take anywhere", "easy to clean and care for", "a customer favourite"}
	closings = []string{"Backed by a two-year warranty.", "Ships in recyclable packaging.", "Pairs well with the rest of the range.", "Available while stocks last.", "A thoughtful gift."}
	colors   = []string{"black", "white", "sage", "navy", "terracotta", "sand", "graphite", "mustard", "forest", "coral"}
)
