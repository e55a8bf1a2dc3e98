// Package orders places and manages orders. Placing one is one PostgreSQL transaction:
// claim the Idempotency-Key, take the stock with guarded decrements in product-id order,
// charge the card, write the order with its lines at the prices of that moment, clear
// the ordered lines from the cart. Stock can never go below zero and a declined card
// leaves nothing behind. Status changes follow a state machine guarded in SQL, so two
// admins racing (ship against cancel) cannot both win and a cancellation restocks once.
package orders

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/logging"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// Status is an order's state.
type Status string

// Order states: pending → paid → shipped → delivered, or cancelled from pending or paid.
const (
	StatusPending   Status = "pending"
	StatusPaid      Status = "paid"
	StatusShipped   Status = "shipped"
	StatusDelivered Status = "delivered"
	StatusCancelled Status = "cancelled"
)

// Statuses are every state, in lifecycle order.
var Statuses = []Status{StatusPending, StatusPaid, StatusShipped, StatusDelivered, StatusCancelled}

// next lists the legal transitions. Orders are placed paid (the mock payment captures
// at checkout); pending is for orders whose payment is not captured yet.
var next = map[Status][]Status{
	StatusPending: {StatusPaid, StatusCancelled},
	StatusPaid:    {StatusShipped, StatusCancelled},
	StatusShipped: {StatusDelivered},
}

// CanTransition reports whether an order may move from one state to another.
func CanTransition(from, to Status) bool { return slices.Contains(next[from], to) }

// ParseStatus validates a status name.
func ParseStatus(s string) (Status, bool) {
	st := Status(s)
	return st, slices.Contains(Statuses, st)
}

// Line is one line of an order, priced at purchase.
type Line struct {
	ProductID int64       `json:"product_id"`
	Slug      string      `json:"slug"`
	Name      string      `json:"name"`
	Quantity  int         `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
}

// Order is an order with its lines.
type Order struct {
	ID              int64       `json:"id"`
	UserID          int64       `json:"user_id"`
	Email           string      `json:"email"`
	Status          Status      `json:"status"`
	Items           []Line      `json:"items"`
	Total           money.Money `json:"total"`
	ShippingAddress Address     `json:"shipping_address"`
	Payment         Charge      `json:"payment"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
}

// Page is one page of orders in the list envelope.
type Page struct {
	Items   []Order `json:"items"`
	Page    int     `json:"page"`
	PerPage int     `json:"per_page"`
	Total   int64   `json:"total"`
}

// Observer is told about checkouts and cancellations; *metrics.Metrics implements it.
type Observer interface {
	OrderPlaced(currency string, total int64)
	OrderDeclined()
	OrderCancelled()
}

// Invalidator drops cached catalog responses (the response cache): a cancellation
// restocks, which changes the products' stock.
type Invalidator interface {
	Invalidate(ctx context.Context) error
}

// Options configure a Service.
type Options struct {
	// Currency is the shop's currency; every order is in it.
	Currency string
	// Payments charges the cards (MockPayments when nil).
	Payments    Payments
	Observer    Observer
	Invalidator Invalidator
	// Now is the clock for card expiry (time.Now when nil).
	Now func() time.Time
}

// Service places and manages orders.
type Service struct {
	pool *pgxpool.Pool
	o    Options
}

// NewService returns the order service on pool.
func NewService(pool *pgxpool.Pool, o Options) *Service {
	if o.Payments == nil {
		o.Payments = MockPayments{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{pool: pool, o: o}
}

const (
	// claimSQL writes the order row first: a concurrent request with the same key waits
	// on the unique index until this transaction ends, then finds the order (or, if
	// this one rolled back, claims the key itself).
	claimSQL = `INSERT INTO orders (user_id, status, total_minor, currency, ship_name, ship_line1, ship_city, ship_postal_code, ship_country, idempotency_key, request_hash)
VALUES ($1, 'pending', 0, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id`
	byKeySQL = `SELECT id, request_hash FROM orders WHERE user_id = $1 AND idempotency_key = $2`
	// cartItemsSQL locks the cart's lines, so two checkouts of one cart serialise.
	cartItemsSQL = `SELECT product_id, quantity FROM cart_items WHERE user_id = $1 ORDER BY product_id FOR UPDATE`
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
	transitionSQL    = `UPDATE orders SET status = $3, updated_at = now(), restocked_at = CASE WHEN $3 = 'cancelled' THEN now() END WHERE id = $1 AND status = $2`
	orderLinesQtySQL = `SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id`
	restockSQL       = `UPDATE products SET stock = stock + $2 WHERE id = $1`
)

// Place places userID's order for req under the Idempotency-Key key. created is false
// when the key was used before with the same request: the order then is the one placed
// then. The same key with another request is a 422; a product without enough stock is
// apperr.ErrOutOfStock; a declined card is apperr.ErrPaymentDeclined — and in both cases
// nothing was written.
func (s *Service) Place(ctx context.Context, userID int64, key string, req Request) (o Order, created bool, err error) {
	if err := CheckIdempotencyKey(key); err != nil {
		return Order{}, false, err
	}
	req, err = req.Validate(s.o.Now())
	if err != nil {
		return Order{}, false, err
	}
	hash := req.Hash()
	var (
		orderID  int64
		existing bool
		total    money.Money
	)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a := req.ShippingAddress
		err := tx.QueryRow(ctx, claimSQL, userID, s.o.Currency, a.Name, a.Line1, a.City, a.PostalCode, a.Country, key, hash).Scan(&orderID)
		if errors.Is(err, pgx.ErrNoRows) {
			existing = true
			var prev []byte
			if err := tx.QueryRow(ctx, byKeySQL, userID, key).Scan(&orderID, &prev); err != nil {
				return fmt.Errorf("reading the order of this Idempotency-Key: %w", err)
			}
			if string(prev) != string(hash) {
				return apperr.Unprocessable("Idempotency-Key", "was already used for a different order request; use a new key for a new order")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("creating the order: %w", err)
		}
		total, err = s.fill(ctx, tx, userID, orderID, req)
		return err
	})
	if err != nil {
		if errors.Is(err, apperr.ErrPaymentDeclined) && s.o.Observer != nil {
			s.o.Observer.OrderDeclined()
		}
		return Order{}, false, err
	}
	if !existing && s.o.Observer != nil {
		s.o.Observer.OrderPlaced(total.Currency, total.Amount)
	}
	o, err = s.get(ctx, orderSQL, orderID)
	return o, !existing, err
}

// fill takes the stock, charges the card and writes the lines of the claimed order.
func (s *Service) fill(ctx context.Context, tx pgx.Tx, userID, orderID int64, req Request) (money.Money, error) {
	items, fromCart := req.Items, req.Items == nil
	if fromCart {
		rows, err := tx.Query(ctx, cartItemsSQL, userID)
		if err != nil {
			return money.Money{}, fmt.Errorf("reading the cart: %w", err)
		}
		items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (cart.Item, error) {
			var it cart.Item
			return it, r.Scan(&it.ProductID, &it.Quantity)
		})
		if err != nil {
			return money.Money{}, fmt.Errorf("reading the cart: %w", err)
		}
		if len(items) == 0 {
			return money.Money{}, apperr.Unprocessable("items", "the cart is empty: add products to it or send items")
		}
	}
	// Decrement in product-id order: two orders locking the same products lock them in
	// the same order, so they queue instead of deadlocking.
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(items[a].ProductID, items[b].ProductID) })

	total := money.New(0, s.o.Currency)
	n := len(items)
	ids, slugs, names, qtys, prices := make([]int64, n), make([]string, n), make([]string, n), make([]int32, n), make([]int64, n)
	for k, i := range idx {
		it := items[i]
		var price money.Money
		err := tx.QueryRow(ctx, takeStockSQL, it.ProductID, it.Quantity).Scan(&slugs[k], &names[k], &price.Amount, &price.Currency)
		if errors.Is(err, pgx.ErrNoRows) {
			return money.Money{}, s.noStock(ctx, tx, it, i, fromCart)
		}
		if err != nil {
			return money.Money{}, fmt.Errorf("taking stock of product %d: %w", it.ProductID, err)
		}
		line, err := price.Mul(int64(it.Quantity))
		if err == nil {
			total, err = total.Add(line)
		}
		if err != nil {
			return money.Money{}, fmt.Errorf("pricing product %d: %w", it.ProductID, err)
		}
		ids[k], qtys[k], prices[k] = it.ProductID, int32(it.Quantity), price.Amount
	}

	charge, err := s.o.Payments.Charge(ctx, total, req.Payment)
	if err != nil {
		return money.Money{}, err
	}
	if _, err := tx.Exec(ctx, insertLinesSQL, orderID, ids, slugs, names, qtys, prices); err != nil {
		return money.Money{}, fmt.Errorf("writing the order lines: %w", err)
	}
	if _, err := tx.Exec(ctx, markPaidSQL, orderID, total.Amount, charge.Brand, charge.Last4); err != nil {
		return money.Money{}, fmt.Errorf("writing the order: %w", err)
	}
	if _, err := tx.Exec(ctx, clearCartSQL, userID, ids); err != nil {
		return money.Money{}, fmt.Errorf("clearing the cart: %w", err)
	}
	return total, nil
}

// noStock explains a guarded decrement that changed nothing: an unknown product (422) or
// too little stock (409).
func (s *Service) noStock(ctx context.Context, tx pgx.Tx, it cart.Item, i int, fromCart bool) error {
	field := fmt.Sprintf("items[%d].product_id", i)
	if fromCart {
		field = "items"
	}
	var stock int
	err := tx.QueryRow(ctx, stockSQL, it.ProductID).Scan(&stock)
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Unprocessable(field, fmt.Sprintf("product %d does not exist", it.ProductID))
	}
	if err != nil {
		return fmt.Errorf("reading the stock of product %d: %w", it.ProductID, err)
	}
	return fmt.Errorf("product %d has %d in stock, %d asked: %w", it.ProductID, stock, it.Quantity, apperr.ErrOutOfStock)
}

// Get returns order id if it is userID's; another user's order is apperr.ErrNotFound,
// exactly like a missing one.
func (s *Service) Get(ctx context.Context, userID, id int64) (Order, error) {
	return s.get(ctx, userOrderSQL, id, userID)
}

// AdminGet returns any order.
func (s *Service) AdminGet(ctx context.Context, id int64) (Order, error) {
	return s.get(ctx, orderSQL, id)
}

func (s *Service) get(ctx context.Context, query string, args ...any) (Order, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return Order{}, fmt.Errorf("reading order %v: %w", args[0], err)
	}
	os, err := pgx.CollectRows(rows, scanOrder)
	if err != nil {
		return Order{}, fmt.Errorf("reading order %v: %w", args[0], err)
	}
	if len(os) == 0 {
		return Order{}, fmt.Errorf("order %v: %w", args[0], apperr.ErrNotFound)
	}
	if err := s.addLines(ctx, os); err != nil {
		return Order{}, err
	}
	return os[0], nil
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
func (s *Service) addLines(ctx context.Context, os []Order) error {
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

// ListQuery selects a page of orders. The zero filters select everything.
type ListQuery struct {
	UserID  int64
	Email   string
	Status  Status
	Page    int
	PerPage int
}

// List returns userID's orders, newest first.
func (s *Service) List(ctx context.Context, userID int64, page, perPage int) (Page, error) {
	return s.list(ctx, ListQuery{UserID: userID, Page: page, PerPage: perPage})
}

// AdminList returns every order matching q, newest first.
func (s *Service) AdminList(ctx context.Context, q ListQuery) (Page, error) {
	return s.list(ctx, q)
}

func (s *Service) list(ctx context.Context, q ListQuery) (Page, error) {
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
	page := Page{Page: q.Page, PerPage: q.PerPage, Items: []Order{}}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+orderColumns+from+fmt.Sprintf(` ORDER BY o.created_at DESC, o.id DESC LIMIT $%d OFFSET $%d`, len(args)+1, len(args)+2),
		append(args, q.PerPage, (q.Page-1)*q.PerPage)...).Query(func(rows pgx.Rows) error {
		items, err := pgx.CollectRows(rows, scanOrder)
		if items != nil {
			page.Items = items
		}
		return err
	})
	b.Queue(`SELECT count(*)`+from, args...).QueryRow(func(r pgx.Row) error { return r.Scan(&page.Total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return Page{}, fmt.Errorf("listing orders: %w", err)
	}
	if err := s.addLines(ctx, page.Items); err != nil {
		return Page{}, err
	}
	return page, nil
}

// Transition moves order id to status to. An illegal move, or a move that lost a race
// with another change of the same order, is apperr.ErrConflict; a cancellation puts
// the lines back into stock, exactly once (only the transaction whose guarded status
// update matched restocks).
func (s *Service) Transition(ctx context.Context, id int64, to Status) (Order, error) {
	if _, ok := ParseStatus(string(to)); !ok {
		return Order{}, apperr.Unprocessable("status", "must be one of pending, paid, shipped, delivered, cancelled")
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var from Status
		err := tx.QueryRow(ctx, statusSQL, id).Scan(&from)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("order %d: %w", id, apperr.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("reading order %d: %w", id, err)
		}
		if !CanTransition(from, to) {
			return fmt.Errorf("order %d is %s and cannot become %s: %w", id, from, to, apperr.ErrConflict)
		}
		tag, err := tx.Exec(ctx, transitionSQL, id, string(from), string(to))
		if err != nil {
			return fmt.Errorf("updating order %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("order %d changed while it was being updated (it is no longer %s): %w", id, from, apperr.ErrConflict)
		}
		if to != StatusCancelled {
			return nil
		}
		rows, err := tx.Query(ctx, orderLinesQtySQL, id)
		if err != nil {
			return fmt.Errorf("reading order %d lines: %w", id, err)
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cart.Item, error) {
			var it cart.Item
			return it, r.Scan(&it.ProductID, &it.Quantity)
		})
		if err != nil {
			return fmt.Errorf("reading order %d lines: %w", id, err)
		}
		// In product-id order, like checkouts, so a restock never deadlocks with one.
		for _, it := range items {
			if _, err := tx.Exec(ctx, restockSQL, it.ProductID, it.Quantity); err != nil {
				return fmt.Errorf("restocking product %d: %w", it.ProductID, err)
			}
		}
		return nil
	})
	if err != nil {
		return Order{}, err
	}
	if to == StatusCancelled {
		if s.o.Observer != nil {
			s.o.Observer.OrderCancelled()
		}
		if s.o.Invalidator != nil {
			if err := s.o.Invalidator.Invalidate(ctx); err != nil {
				// The cache retries the invalidation itself (see cache.Invalidate).
				logging.FromContext(ctx).WarnContext(ctx, "Cache invalidation after a restock failed", "error", err)
			}
		}
	}
	return s.AdminGet(ctx, id)
}
