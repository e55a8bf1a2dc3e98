package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// PGStore is the PostgreSQL implementation of Store.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const (
	// claimSQL inserts the order row under the unique (user_id, idempotency_key): a
	// concurrent insert of the same key waits on the index until this transaction ends.
	claimSQL = `INSERT INTO orders (user_id, status, total_minor, currency, ship_name, ship_line1, ship_city, ship_postal_code, ship_country, idempotency_key, request_hash)
VALUES ($1, 'pending', 0, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id`
	byKeySQL = `SELECT id, request_hash FROM orders WHERE user_id = $1 AND idempotency_key = $2`
	// cartItemsSQL locks the cart's lines, so two checkouts of one cart serialise.
	cartItemsSQL = `SELECT product_id, quantity FROM cart_items WHERE user_id = $1 ORDER BY product_id LIMIT 101 FOR UPDATE` // MaxLines + 1: enough to refuse an oversized cart
	// takeStockSQL is the guarded decrement: it changes nothing unless the stock covers
	// the quantity, and returns the price of this moment.
	takeStockSQL     = `UPDATE products SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING slug, name, price_minor, currency`
	stockSQL         = `SELECT stock FROM products WHERE id = $1`
	insertLinesSQL   = `INSERT INTO order_lines (order_id, product_id, slug, name, quantity, unit_price_minor) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::integer[], $6::bigint[])`
	markPaidSQL      = `UPDATE orders SET status = 'paid', total_minor = $2, payment_brand = $3, payment_last4 = $4, updated_at = now() WHERE id = $1`
	clearCartSQL     = `DELETE FROM cart_items WHERE user_id = $1 AND product_id = ANY($2)`
	orderColumns     = `o.id, o.user_id, u.email, o.status, o.total_minor, o.currency, o.ship_name, o.ship_line1, o.ship_city, o.ship_postal_code, o.ship_country, o.payment_brand, o.payment_last4, o.created_at, o.updated_at`
	orderSQL         = `SELECT ` + orderColumns + ` FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1`
	userOrderSQL     = orderSQL + ` AND o.user_id = $2`
	linesSQL         = `SELECT order_id, product_id, slug, name, quantity, unit_price_minor FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, product_id`
	statusSQL        = `SELECT status FROM orders WHERE id = $1`
	setStatusSQL     = `UPDATE orders SET status = $3, updated_at = now(), restocked_at = CASE WHEN $3 = 'cancelled' THEN now() END WHERE id = $1 AND status = $2`
	orderLinesQtySQL = `SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id`
	restockSQL       = `UPDATE products SET stock = stock + $2 WHERE id = $1`
)

// InTx implements Store.
func (s *PGStore) InTx(ctx context.Context, fn func(Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(pgTx{tx}) })
}

// Order implements Store.
func (s *PGStore) Order(ctx context.Context, id, userID int64) (Order, error) {
	query, args := orderSQL, []any{id}
	if userID != 0 {
		query, args = userOrderSQL, []any{id, userID}
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return Order{}, err
	}
	os, err := pgx.CollectRows(rows, scanOrder)
	if err != nil {
		return Order{}, err
	}
	if len(os) == 0 {
		return Order{}, apperr.ErrNotFound
	}
	if err := s.addLines(ctx, os); err != nil {
		return Order{}, err
	}
	return os[0], nil
}

// Orders implements Store: the page and the count in one round trip, then the lines of
// the page's orders in one query.
func (s *PGStore) Orders(ctx context.Context, q ListQuery) ([]Order, int64, error) {
	// Fixed fragments and numbered parameters: the filters change the statement's shape,
	// never its text from input.
	var (
		conds []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if q.UserID != 0 {
		add("o.user_id = $%d", q.UserID)
	}
	if q.Email != "" {
		add("u.email = $%d", q.Email)
	}
	if q.Status != "" {
		add("o.status = $%d", string(q.Status))
	}
	where := "TRUE"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	from := ` FROM orders o JOIN users u ON u.id = o.user_id WHERE ` + where
	var (
		items []Order
		total int64
		b     pgx.Batch
	)
	b.Queue(`SELECT `+orderColumns+from+fmt.Sprintf(` ORDER BY o.created_at DESC, o.id DESC LIMIT $%d OFFSET $%d`, len(args)+1, len(args)+2),
		append(args, q.PerPage, (q.Page-1)*q.PerPage)...).Query(func(rows pgx.Rows) error {
		var err error
		items, err = pgx.CollectRows(rows, scanOrder)
		return err
	})
	b.Queue(`SELECT count(*)`+from, args...).QueryRow(func(r pgx.Row) error { return r.Scan(&total) })
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return nil, 0, err
	}
	if err := s.addLines(ctx, items); err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

func scanOrder(r pgx.CollectableRow) (Order, error) {
	var o Order
	a := &o.ShippingAddress
	err := r.Scan(&o.ID, &o.UserID, &o.Email, &o.Status, &o.Total.Amount, &o.Total.Currency, &a.Name, &a.Line1, &a.City, &a.PostalCode, &a.Country,
		&o.Payment.Brand, &o.Payment.Last4, &o.CreatedAt, &o.UpdatedAt)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	o.Items = []Line{}
	return o, err
}

// addLines reads the lines of every order in os in one query.
func (s *PGStore) addLines(ctx context.Context, os []Order) error {
	if len(os) == 0 {
		return nil
	}
	ids := make([]int64, len(os))
	at := make(map[int64]*Order, len(os))
	for i := range os {
		ids[i] = os[i].ID
		at[os[i].ID] = &os[i]
	}
	rows, err := s.pool.Query(ctx, linesSQL, ids)
	if err != nil {
		return fmt.Errorf("reading order lines: %w", err)
	}
	var (
		orderID int64
		l       Line
	)
	_, err = pgx.ForEachRow(rows, []any{&orderID, &l.ProductID, &l.Slug, &l.Name, &l.Quantity, &l.UnitPrice.Amount}, func() error {
		o := at[orderID]
		l.UnitPrice.Currency = o.Total.Currency
		var err error
		if l.LineTotal, err = l.UnitPrice.Mul(int64(l.Quantity)); err != nil {
			return err
		}
		o.Items = append(o.Items, l)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading order lines: %w", err)
	}
	return nil
}

// pgTx implements Tx on a pgx transaction.
type pgTx struct{ tx pgx.Tx }

func (t pgTx) Claim(ctx context.Context, userID int64, key string, hash []byte, currency string, a Address) (int64, bool, error) {
	var id int64
	err := t.tx.QueryRow(ctx, claimSQL, userID, currency, a.Name, a.Line1, a.City, a.PostalCode, a.Country, key, hash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

func (t pgTx) ByKey(ctx context.Context, userID int64, key string) (int64, []byte, error) {
	var (
		id   int64
		hash []byte
	)
	err := t.tx.QueryRow(ctx, byKeySQL, userID, key).Scan(&id, &hash)
	return id, hash, err
}

func (t pgTx) CartItems(ctx context.Context, userID int64) ([]cart.Item, error) {
	rows, err := t.tx.Query(ctx, cartItemsSQL, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (cart.Item, error) {
		var it cart.Item
		return it, r.Scan(&it.ProductID, &it.Quantity)
	})
}

func (t pgTx) TakeStock(ctx context.Context, productID int64, quantity int) (Line, bool, error) {
	l := Line{ProductID: productID, Quantity: quantity}
	err := t.tx.QueryRow(ctx, takeStockSQL, productID, quantity).Scan(&l.Slug, &l.Name, &l.UnitPrice.Amount, &l.UnitPrice.Currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return Line{}, false, nil
	}
	return l, err == nil, err
}

func (t pgTx) Stock(ctx context.Context, productID int64) (int, bool, error) {
	var stock int
	err := t.tx.QueryRow(ctx, stockSQL, productID).Scan(&stock)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return stock, err == nil, err
}

func (t pgTx) MarkPaid(ctx context.Context, id int64, lines []Line, total money.Money, c Charge) error {
	n := len(lines)
	ids, slugs, names, qtys, prices := make([]int64, n), make([]string, n), make([]string, n), make([]int32, n), make([]int64, n)
	for i, l := range lines {
		ids[i], slugs[i], names[i], qtys[i], prices[i] = l.ProductID, l.Slug, l.Name, int32(l.Quantity), l.UnitPrice.Amount
	}
	var b pgx.Batch
	b.Queue(insertLinesSQL, id, ids, slugs, names, qtys, prices)
	b.Queue(markPaidSQL, id, total.Amount, c.Brand, c.Last4)
	return t.tx.SendBatch(ctx, &b).Close()
}

func (t pgTx) ClearCart(ctx context.Context, userID int64, productIDs []int64) error {
	_, err := t.tx.Exec(ctx, clearCartSQL, userID, productIDs)
	return err
}

func (t pgTx) Status(ctx context.Context, id int64) (Status, bool, error) {
	var st Status
	err := t.tx.QueryRow(ctx, statusSQL, id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return st, err == nil, err
}

func (t pgTx) SetStatus(ctx context.Context, id int64, from, to Status) (bool, error) {
	tag, err := t.tx.Exec(ctx, setStatusSQL, id, string(from), string(to))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (t pgTx) Restock(ctx context.Context, id int64) error {
	rows, err := t.tx.Query(ctx, orderLinesQtySQL, id)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cart.Item, error) {
		var it cart.Item
		return it, r.Scan(&it.ProductID, &it.Quantity)
	})
	if err != nil {
		return err
	}
	// One statement per line, in product-id order like checkouts, so a restock never
	// deadlocks with one. A deleted product has nothing to restock.
	for _, it := range items {
		if _, err := t.tx.Exec(ctx, restockSQL, it.ProductID, it.Quantity); err != nil {
			return fmt.Errorf("restocking product %d: %w", it.ProductID, err)
		}
	}
	return nil
}
