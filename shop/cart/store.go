package cart

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGStore is the PostgreSQL implementation of Store: a user's lines are in cart_items
// (user_id), a guest's in guest_cart_items (cart_id), with the same statements.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

// cartStatements are one cart table's statements; {items} and {owner} stand for the
// table and its owner column.
type cartStatements struct {
	lines, set, remove string
	// lock takes the owner's row lock, so that two requests adding lines to one cart
	// cannot both pass the line cap; for a guest it also refreshes its expiry and finds
	// no row when the cart expired.
	lock string
}

func statements(items, owner, lock string) cartStatements {
	r := strings.NewReplacer("{items}", items, "{owner}", owner)
	return cartStatements{
		lines: r.Replace(`SELECT p.id, p.slug, p.name, p.image_url, ci.quantity, p.price_minor, p.currency, p.stock
FROM {items} ci JOIN products p ON p.id = ci.product_id
WHERE ci.{owner} = $1
ORDER BY ci.added_at, p.id`),
		// A new line only while the cart has fewer than $4; an existing one is replaced.
		// One statement answers everything Set needs: no row when the product is unknown,
		// a NULL quantity when the cart is full, otherwise the line as it now is.
		set: r.Replace(`WITH p AS (SELECT id, slug, name, image_url, price_minor, currency, stock FROM products WHERE id = $2),
up AS (
    INSERT INTO {items} ({owner}, product_id, quantity)
    SELECT $1, p.id, $3 FROM p
    WHERE EXISTS (SELECT 1 FROM {items} WHERE {owner} = $1 AND product_id = $2)
       OR (SELECT count(*) FROM {items} WHERE {owner} = $1) < $4
    ON CONFLICT ({owner}, product_id) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()
    RETURNING quantity)
SELECT p.id, p.slug, p.name, p.image_url, (SELECT quantity FROM up), p.price_minor, p.currency, p.stock FROM p`),
		remove: r.Replace(`DELETE FROM {items} WHERE {owner} = $1 AND product_id = $2`),
		lock:   lock,
	}
}

var (
	userCart  = statements("cart_items", "user_id", `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`)
	guestCart = statements("guest_cart_items", "cart_id",
		`UPDATE guest_carts SET touched_at = now() WHERE id = $1 AND touched_at > now() - $2::bigint * interval '1 second' RETURNING id`)
)

const (
	// guestAliveSQL finds an unexpired guest cart and says whether its last use is over
	// an hour old; only then does guestTouchSQL write (a page view must not write every
	// time, and an UPDATE writes a row version even when nothing changes).
	guestAliveSQL = `SELECT touched_at < now() - interval '1 hour' FROM guest_carts
WHERE id = $1 AND touched_at > now() - $2::bigint * interval '1 second'`
	guestTouchSQL = `UPDATE guest_carts SET touched_at = now() WHERE id = $1`
	newGuestSQL   = `INSERT INTO guest_carts DEFAULT VALUES RETURNING id`
	// purgeGuestsSQL deletes a bounded batch of expired guest carts.
	purgeGuestsSQL = `DELETE FROM guest_carts WHERE id IN (
    SELECT id FROM guest_carts WHERE touched_at < now() - $1::bigint * interval '1 second' ORDER BY touched_at LIMIT 100)`
	// mergeGuestSQL adds the guest's lines to the user's: existing products summed and
	// capped at $3, new ones (oldest first) only up to $4 lines in all.
	mergeGuestSQL = `INSERT INTO cart_items (user_id, product_id, quantity)
SELECT $1, g.product_id, LEAST(g.quantity, $3) FROM guest_cart_items g
WHERE g.cart_id = $2 AND (
    EXISTS (SELECT 1 FROM cart_items c WHERE c.user_id = $1 AND c.product_id = g.product_id)
    OR g.product_id IN (
        SELECT n.product_id FROM guest_cart_items n
        WHERE n.cart_id = $2 AND NOT EXISTS (SELECT 1 FROM cart_items c WHERE c.user_id = $1 AND c.product_id = n.product_id)
        ORDER BY n.added_at, n.product_id
        LIMIT GREATEST($4 - (SELECT count(*) FROM cart_items WHERE user_id = $1), 0)))
ON CONFLICT (user_id, product_id) DO UPDATE
SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, $3), updated_at = now()`
	deleteGuestSQL = `DELETE FROM guest_carts WHERE id = $1`
)

var ttlSeconds = int64(GuestTTL.Seconds())

func (o Owner) statements() (cartStatements, int64) {
	if o.GuestID != 0 {
		return guestCart, o.GuestID
	}
	return userCart, o.UserID
}

// Lines implements Store.
func (s *PGStore) Lines(ctx context.Context, o Owner) ([]Line, error) {
	st, id := o.statements()
	if o.GuestID != 0 {
		var stale bool
		if err := s.pool.QueryRow(ctx, guestAliveSQL, id, ttlSeconds).Scan(&stale); errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrGuestCartGone
		} else if err != nil {
			return nil, err
		}
		if stale {
			if _, err := s.pool.Exec(ctx, guestTouchSQL, id); err != nil {
				return nil, err
			}
		}
	}
	rows, err := s.pool.Query(ctx, st.lines, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		var l Line
		err := r.Scan(&l.ProductID, &l.Slug, &l.Name, &l.ImageURL, &l.Quantity, &l.UnitPrice.Amount, &l.UnitPrice.Currency, &l.Stock)
		return l, err
	})
}

// Set implements Store: BEGIN, the owner's lock, one statement, COMMIT.
func (s *PGStore) Set(ctx context.Context, o Owner, productID int64, quantity, maxLines int) (Line, SetResult, error) {
	st, id := o.statements()
	res := SetDone
	var l Line
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		args := []any{id}
		if o.GuestID != 0 {
			args = append(args, ttlSeconds)
		}
		if err := tx.QueryRow(ctx, st.lock, args...).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
			if o.GuestID != 0 {
				return ErrGuestCartGone
			}
			res = SetNoProduct // a user deleted meanwhile: nothing to set
			return nil
		} else if err != nil {
			return err
		}
		var q *int
		err := tx.QueryRow(ctx, st.set, id, productID, quantity, maxLines).
			Scan(&l.ProductID, &l.Slug, &l.Name, &l.ImageURL, &q, &l.UnitPrice.Amount, &l.UnitPrice.Currency, &l.Stock)
		var pgErr *pgconn.PgError
		switch {
		case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pgErr) && pgErr.Code == "23503":
			// Unknown, or deleted between the statement's read and its insert.
			res = SetNoProduct
			return nil
		case err != nil:
			return err
		case q == nil:
			res = SetFull
			return nil
		}
		l.Quantity = *q
		return nil
	})
	return l, res, err
}

// Remove implements Store.
func (s *PGStore) Remove(ctx context.Context, o Owner, productID int64) (bool, error) {
	st, id := o.statements()
	tag, err := s.pool.Exec(ctx, st.remove, id, productID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// NewGuest implements Store.
func (s *PGStore) NewGuest(ctx context.Context) (int64, error) {
	if _, err := s.pool.Exec(ctx, purgeGuestsSQL, ttlSeconds); err != nil {
		return 0, err
	}
	var id int64
	err := s.pool.QueryRow(ctx, newGuestSQL).Scan(&id)
	return id, err
}

// MergeGuest implements Store.
func (s *PGStore) MergeGuest(ctx context.Context, guestID, userID int64, maxQuantity, maxLines int) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, userCart.lock, userID).Scan(&id); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, guestCart.lock, guestID, ttlSeconds).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // expired: nothing to merge
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, mergeGuestSQL, userID, guestID, maxQuantity, maxLines); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, deleteGuestSQL, guestID)
		return err
	})
}
