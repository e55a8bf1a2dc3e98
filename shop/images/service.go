package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// MaxImagesPerProduct bounds a product's list (the product page shows them all).
const MaxImagesPerProduct = 20

// ErrNoStore is the refusal of an upload when the shop has no IMAGE_STORE.
var ErrNoStore = fmt.Errorf("this shop has no image store: set IMAGE_STORE to s3://bucket/prefix or a directory: %w", apperr.ErrUnavailable)

// Service adds and removes product images: the pictures go to the Store, their list to
// PostgreSQL, and every change is raised as catalog.Edited so that cached pages follow.
type Service struct {
	pool      *pgxpool.Pool
	store     Store // nil: uploads are refused with ErrNoStore
	proc      *Processor
	listener  catalog.ChangeListener
	imageBase string
}

// NewService returns the images service; store may be nil (no IMAGE_STORE), listener
// may be nil, base is IMAGE_BASE_URL.
func NewService(pool *pgxpool.Pool, store Store, proc *Processor, listener catalog.ChangeListener, base string) *Service {
	if proc == nil {
		proc = NewProcessor(DefaultConcurrency)
	}
	if base == "" {
		base = catalog.DefaultImageBase
	}
	return &Service{pool: pool, store: store, proc: proc, listener: listener, imageBase: base}
}

// Enabled reports whether uploads are possible (an image store is configured).
func (s *Service) Enabled() bool { return s != nil && s.store != nil }

// CheckAlt validates an image's alt text: required (WCAG 1.1.1), one line, at most
// MaxAltLength characters. The error names the field "alt".
func CheckAlt(alt string) (string, error) {
	alt = strings.TrimSpace(alt)
	var msg string
	switch {
	case alt == "":
		msg = "is required: describe the picture for people who cannot see it"
	case !utf8.ValidString(alt):
		msg = "must be UTF-8 text"
	case utf8.RuneCountInString(alt) > MaxAltLength:
		msg = fmt.Sprintf("must be at most %d characters", MaxAltLength)
	case strings.ContainsFunc(alt, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		msg = "must be one line without control characters"
	}
	if msg != "" {
		return "", &apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: "alt", Message: msg}}}
	}
	return alt, nil
}

// Add processes data, stores its variants and appends the image to product id's list.
// The alt text is checked first: nothing is decoded or stored for a refused request.
func (s *Service) Add(ctx context.Context, productID int64, alt string, data []byte) (catalog.Image, error) {
	alt, err := CheckAlt(alt)
	if err != nil {
		return catalog.Image{}, err
	}
	if !s.Enabled() {
		return catalog.Image{}, ErrNoStore
	}
	if err := s.productExists(ctx, productID); err != nil {
		return catalog.Image{}, err
	}
	pr, err := s.proc.Process(ctx, data)
	if err != nil {
		return catalog.Image{}, err
	}
	img := catalog.Image{Alt: alt, Width: pr.Width, Height: pr.Height}
	for _, v := range pr.Variants {
		if err := s.store.Put(ctx, v.Key, v.ContentType, v.Body); err != nil {
			return catalog.Image{}, err
		}
		img.Variants = append(img.Variants, catalog.ImageVariant{Width: v.Width, Height: v.Height, Key: v.Key})
	}
	variants, err := json.Marshal(img.Variants)
	if err != nil {
		return catalog.Image{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock the product so concurrent uploads take consecutive positions.
		var n int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM product_images WHERE product_id = p.id)
			FROM products p WHERE p.id = $1 FOR UPDATE`, productID).Scan(&n); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("product %d: %w", productID, apperr.ErrNotFound)
			}
			return err
		}
		if n >= MaxImagesPerProduct {
			return &apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: "image",
				Message: fmt.Sprintf("the product has %d images already, the most it can hold: remove one first", n)}}}
		}
		return tx.QueryRow(ctx, `INSERT INTO product_images (product_id, position, alt, width, height, variants)
			VALUES ($1, COALESCE((SELECT max(position) + 1 FROM product_images WHERE product_id = $1), 0), $2, $3, $4, $5)
			RETURNING id`, productID, alt, img.Width, img.Height, variants).Scan(&img.ID)
	})
	if err != nil {
		return catalog.Image{}, err
	}
	s.changed(ctx)
	for i := range img.Variants {
		img.Variants[i].URL = catalog.VariantURL(s.imageBase, img.Variants[i].Key)
	}
	return img, nil
}

func (s *Service) productExists(ctx context.Context, id int64) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM products WHERE id = $1)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("product %d: %w", id, apperr.ErrNotFound)
	}
	return nil
}

// Delete removes image imageID from product productID's list. The stored variants stay:
// they are content-addressed, so another image may share them, and a cached page may
// still name them (a bucket lifecycle rule can expire unreferenced ones).
func (s *Service) Delete(ctx context.Context, productID, imageID int64) error {
	if s == nil {
		return ErrNoStore
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM product_images WHERE id = $1 AND product_id = $2`, imageID, productID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("image %d of product %d: %w", imageID, productID, apperr.ErrNotFound)
	}
	s.changed(ctx)
	return nil
}

// Move puts image imageID of product productID at position to (0 first) and shifts the
// others, keeping the list's order otherwise.
func (s *Service) Move(ctx context.Context, productID, imageID int64, to int) error {
	if s == nil {
		return ErrNoStore
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM product_images WHERE product_id = $1 ORDER BY position, id FOR UPDATE`, productID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		from := -1
		for i, id := range ids {
			if id == imageID {
				from = i
			}
		}
		if from < 0 {
			return fmt.Errorf("image %d of product %d: %w", imageID, productID, apperr.ErrNotFound)
		}
		if to < 0 || to >= len(ids) {
			return &apperr.ValidationError{Unprocessable: true, Errors: []apperr.FieldError{{Field: "position",
				Message: fmt.Sprintf("must be between 0 and %d", len(ids)-1)}}}
		}
		ids = append(ids[:from], ids[from+1:]...)
		ids = append(ids[:to], append([]int64{imageID}, ids[to:]...)...)
		if _, err := tx.Exec(ctx, `SET CONSTRAINTS product_images_product_id_position_key DEFERRED`); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE product_images i SET position = o.n - 1
			FROM unnest($1::bigint[]) WITH ORDINALITY AS o(id, n) WHERE i.id = o.id`, ids)
		return err
	})
	if err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

func (s *Service) changed(ctx context.Context) {
	if s.listener != nil {
		s.listener.CatalogChanged(ctx, catalog.Edited)
	}
}
