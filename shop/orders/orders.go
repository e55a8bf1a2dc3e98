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
	"time"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
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

// Options configure a Service.
type Options struct {
	// Currency is the shop's currency; every order is in it.
	Currency string
	// Payments charges the cards; nil: the shop has no payment provider, and every
	// checkout is apperr.ErrNoPaymentProvider, before anything is written.
	Payments Payments
	Observer Observer
	// Catalog is told when orders move stock (catalog.StockMoved), so that copies of
	// the catalog (the cache) follow; nil: nobody is.
	Catalog catalog.ChangeListener
	// Now is the clock for card expiry (time.Now when nil).
	Now func() time.Time
}

// Store is the orders' persistence, implemented by *PGStore.
type Store interface {
	// InTx runs fn in one transaction, committed when fn returns nil.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Order returns order id with its lines, if userID placed it (any order when userID
	// is 0); otherwise apperr.ErrNotFound.
	Order(ctx context.Context, id, userID int64) (Order, error)
	// Orders returns a page of the orders matching q, newest first, with their lines,
	// and how many match.
	Orders(ctx context.Context, q ListQuery) ([]Order, int64, error)
}

// Tx is what the order transactions do inside one database transaction.
type Tx interface {
	// Claim writes a pending order for userID under key, unless the key is taken:
	// claimed is false then. A concurrent claim of the same key waits until this
	// transaction ends.
	Claim(ctx context.Context, userID int64, key string, hash []byte, currency string, a Address) (id int64, claimed bool, err error)
	// ByKey returns the order userID placed under key and its request hash.
	ByKey(ctx context.Context, userID int64, key string) (id int64, hash []byte, err error)
	// CartItems returns userID's cart lines, locked until the transaction ends.
	CartItems(ctx context.Context, userID int64) ([]cart.Item, error)
	// TakeStock decrements a product's stock by quantity only if the stock covers it,
	// and returns the product as priced now; taken is false when it changed nothing.
	TakeStock(ctx context.Context, productID int64, quantity int) (line Line, taken bool, err error)
	// Stock returns a product's stock; exists is false for an unknown product.
	Stock(ctx context.Context, productID int64) (stock int, exists bool, err error)
	// MarkPaid writes the lines, the total and the charge of order id and makes it paid.
	MarkPaid(ctx context.Context, id int64, lines []Line, total money.Money, c Charge) error
	// ClearCart removes productIDs from userID's cart.
	ClearCart(ctx context.Context, userID int64, productIDs []int64) error
	// Status returns order id's status; exists is false for an unknown order.
	Status(ctx context.Context, id int64) (st Status, exists bool, err error)
	// SetStatus moves order id from one status to another, only if it still has the
	// first: moved is false when another change came first.
	SetStatus(ctx context.Context, id int64, from, to Status) (moved bool, err error)
	// Restock puts order id's quantities back into stock, in product-id order.
	Restock(ctx context.Context, id int64) error
}

// Service places and manages orders.
type Service struct {
	store Store
	o     Options
}

// NewService returns the order service on store.
func NewService(store Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{store: store, o: o}
}

// Place places userID's order for req under the Idempotency-Key key. created is false
// when the key was used before with the same request: the order then is the one placed
// then. The same key with another request is a 422; a product without enough stock is
// apperr.ErrOutOfStock; a declined card is apperr.ErrPaymentDeclined — and in both cases
// nothing was written. Without a payment provider it is apperr.ErrNoPaymentProvider,
// and nothing is read or written.
func (s *Service) Place(ctx context.Context, userID int64, key string, req Request) (o Order, created bool, err error) {
	if s.o.Payments == nil {
		return Order{}, false, apperr.ErrNoPaymentProvider
	}
	if err := CheckIdempotencyKey(key); err != nil {
		return Order{}, false, err
	}
	req, err = req.Validate(s.o.Now())
	if err != nil {
		return Order{}, false, err
	}
	hash := req.Hash()
	var (
		orderID int64
		claimed bool
		total   money.Money
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		// The key is claimed first: a concurrent request with the same key waits here
		// until this transaction ends, then finds the order (or, if this one rolled
		// back, claims the key itself).
		var err error
		orderID, claimed, err = tx.Claim(ctx, userID, key, hash, s.o.Currency, req.ShippingAddress)
		if err != nil {
			return fmt.Errorf("creating the order: %w", err)
		}
		if !claimed {
			id, prev, err := tx.ByKey(ctx, userID, key)
			if err != nil {
				return fmt.Errorf("reading the order of this Idempotency-Key: %w", err)
			}
			if string(prev) != string(hash) {
				return apperr.Unprocessable("Idempotency-Key", "was already used for a different order request; use a new key for a new order")
			}
			orderID = id
			return nil
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
	if claimed {
		if s.o.Observer != nil {
			s.o.Observer.OrderPlaced(total.Currency, total.Amount)
		}
		s.stockChanged(ctx)
	}
	o, err = s.store.Order(ctx, orderID, 0)
	if err != nil {
		return Order{}, false, fmt.Errorf("reading order %d: %w", orderID, err)
	}
	return o, claimed, nil
}

// fill takes the stock, charges the card and writes the lines of the claimed order.
func (s *Service) fill(ctx context.Context, tx Tx, userID, orderID int64, req Request) (money.Money, error) {
	items, fromCart := req.Items, req.Items == nil
	if fromCart {
		var err error
		if items, err = tx.CartItems(ctx, userID); err != nil {
			return money.Money{}, fmt.Errorf("reading the cart: %w", err)
		}
		if len(items) == 0 {
			return money.Money{}, apperr.Unprocessable("items", "the cart is empty: add products to it or send items")
		}
		// A cart holds at most cart.MaxLines lines; one written before the cap (or
		// around it) is refused here rather than locking every product it names.
		if len(items) > MaxLines {
			return money.Money{}, apperr.Unprocessable("items", fmt.Sprintf("the cart has %d lines; an order has at most %d: remove some", len(items), MaxLines))
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
	lines := make([]Line, 0, len(items))
	ids := make([]int64, 0, len(items))
	for _, i := range idx {
		it := items[i]
		l, taken, err := tx.TakeStock(ctx, it.ProductID, it.Quantity)
		if err != nil {
			return money.Money{}, fmt.Errorf("taking stock of product %d: %w", it.ProductID, err)
		}
		if !taken {
			return money.Money{}, s.noStock(ctx, tx, it, i, fromCart)
		}
		if l.LineTotal, err = l.UnitPrice.Mul(int64(it.Quantity)); err == nil {
			total, err = total.Add(l.LineTotal)
		}
		if err != nil {
			return money.Money{}, fmt.Errorf("pricing product %d: %w", it.ProductID, err)
		}
		lines, ids = append(lines, l), append(ids, it.ProductID)
	}

	charge, err := s.o.Payments.Charge(ctx, total, req.Payment)
	if err != nil {
		return money.Money{}, err
	}
	if err := tx.MarkPaid(ctx, orderID, lines, total, charge); err != nil {
		return money.Money{}, fmt.Errorf("writing the order: %w", err)
	}
	if err := tx.ClearCart(ctx, userID, ids); err != nil {
		return money.Money{}, fmt.Errorf("clearing the cart: %w", err)
	}
	return total, nil
}

// noStock explains a guarded decrement that changed nothing: an unknown product (422) or
// too little stock (409).
func (s *Service) noStock(ctx context.Context, tx Tx, it cart.Item, i int, fromCart bool) error {
	field := fmt.Sprintf("items[%d].product_id", i)
	if fromCart {
		field = "items"
	}
	stock, exists, err := tx.Stock(ctx, it.ProductID)
	if err != nil {
		return fmt.Errorf("reading the stock of product %d: %w", it.ProductID, err)
	}
	if !exists {
		return apperr.Unprocessable(field, fmt.Sprintf("product %d does not exist", it.ProductID))
	}
	return fmt.Errorf("product %d has %d in stock, %d asked: %w", it.ProductID, stock, it.Quantity, apperr.ErrOutOfStock)
}

// Get returns order id if it is userID's; another user's order is apperr.ErrNotFound,
// exactly like a missing one.
func (s *Service) Get(ctx context.Context, userID, id int64) (Order, error) {
	if userID == 0 {
		return Order{}, fmt.Errorf("order %d: %w", id, apperr.ErrNotFound)
	}
	o, err := s.store.Order(ctx, id, userID)
	if err != nil {
		return Order{}, fmt.Errorf("order %d: %w", id, err)
	}
	return o, nil
}

// AdminGet returns any order.
func (s *Service) AdminGet(ctx context.Context, id int64) (Order, error) {
	o, err := s.store.Order(ctx, id, 0)
	if err != nil {
		return Order{}, fmt.Errorf("order %d: %w", id, err)
	}
	return o, nil
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
	if userID == 0 {
		return Page{}, errors.New("listing orders: no user")
	}
	return s.list(ctx, ListQuery{UserID: userID, Page: page, PerPage: perPage})
}

// AdminList returns every order matching q, newest first.
func (s *Service) AdminList(ctx context.Context, q ListQuery) (Page, error) {
	return s.list(ctx, q)
}

func (s *Service) list(ctx context.Context, q ListQuery) (Page, error) {
	items, total, err := s.store.Orders(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("listing orders: %w", err)
	}
	if items == nil {
		items = []Order{}
	}
	return Page{Items: items, Page: q.Page, PerPage: q.PerPage, Total: total}, nil
}

// Transition moves order id to status to. An illegal move, or a move that lost a race
// with another change of the same order, is apperr.ErrConflict; a cancellation puts
// the lines back into stock, exactly once (only the transaction whose guarded status
// update matched restocks).
func (s *Service) Transition(ctx context.Context, id int64, to Status) (Order, error) {
	if _, ok := ParseStatus(string(to)); !ok {
		return Order{}, apperr.Unprocessable("status", "must be one of pending, paid, shipped, delivered, cancelled")
	}
	err := s.store.InTx(ctx, func(tx Tx) error {
		from, exists, err := tx.Status(ctx, id)
		if err != nil {
			return fmt.Errorf("reading order %d: %w", id, err)
		}
		if !exists {
			return fmt.Errorf("order %d: %w", id, apperr.ErrNotFound)
		}
		if !CanTransition(from, to) {
			return fmt.Errorf("order %d is %s and cannot become %s: %w", id, from, to, apperr.ErrConflict)
		}
		moved, err := tx.SetStatus(ctx, id, from, to)
		if err != nil {
			return fmt.Errorf("updating order %d: %w", id, err)
		}
		if !moved {
			return fmt.Errorf("order %d changed while it was being updated (it is no longer %s): %w", id, from, apperr.ErrConflict)
		}
		if to == StatusCancelled {
			if err := tx.Restock(ctx, id); err != nil {
				return fmt.Errorf("restocking order %d: %w", id, err)
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
		s.stockChanged(ctx)
	}
	return s.AdminGet(ctx, id)
}

// stockChanged tells the catalog's listener that orders moved stock.
func (s *Service) stockChanged(ctx context.Context) {
	if s.o.Catalog != nil {
		s.o.Catalog.CatalogChanged(ctx, catalog.StockMoved)
	}
}

// String returns the status name.
func (s Status) String() string { return string(s) }
