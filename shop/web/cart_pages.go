package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/cart"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// MaxLineQuantity is the most of one product a cart line holds: the cart service's one
// cap, for guests and users alike.
const MaxLineQuantity = cart.MaxQuantity

// cartLine is one line of the cart page.
type cartLine struct {
	ProductID int64
	Slug      string
	Name      string
	ImageURL  string
	UnitPrice money.Money
	Quantity  int
	LineTotal money.Money
	StockN    int
	Stock     stockState
	// Error is the message next to the quantity field, Value what the shopper typed.
	Error, Value string
}

type cartPage struct {
	*layout
	Lines []cartLine
	Total money.Money
	// Added names the product just added (after the redirect from the product page).
	Added string
	// Notice says what changed in the cart since the shopper last saw it.
	Notice      string
	CanCheckout bool
}

// cartView builds the cart page from the cart service (the signed-in shopper's cart, or
// the guest's), at current catalog prices and stock.
func (p *Pages) cartView(c *gin.Context) (*cartPage, error) {
	l, err := p.layout(c, "Your cart")
	if err != nil {
		return nil, err
	}
	l.NoStore = true
	page := &cartPage{layout: l, Total: money.New(0, p.currency), CanCheckout: true}
	crt, err := p.shopperCart(c)
	if err != nil {
		return nil, err
	}
	page.Total = crt.Total
	for _, it := range crt.Items {
		page.Lines = append(page.Lines, cartLine{ProductID: it.ProductID, Slug: it.Slug, Name: it.Name, ImageURL: it.ImageURL,
			UnitPrice: it.UnitPrice, Quantity: it.Quantity, LineTotal: it.LineTotal, StockN: it.Stock})
	}
	for i := range page.Lines {
		cl := &page.Lines[i]
		cl.Stock, cl.Value = stockOf(cl.StockN), strconv.Itoa(cl.Quantity)
		if cl.Quantity > cl.StockN {
			cl.Error = stockMessage(cl.StockN)
			page.CanCheckout = false
		}
	}
	if len(page.Lines) == 0 {
		page.CanCheckout = false
	}
	return page, nil
}

// inCart returns how many of product id the shopper's cart holds.
func (p *Pages) inCart(c *gin.Context, id int64) (int, error) {
	crt, err := p.shopperCart(c)
	if err != nil {
		return 0, err
	}
	return crt.Quantity(id), nil
}

// setCartLine sets the quantity of product id in the shopper's cart (0 removes it),
// starting a guest cart when a guest adds the first product (or theirs expired). ok is
// false when the cart is full (cart.MaxLines different products).
func (p *Pages) setCartLine(c *gin.Context, id int64, qty int) (ok bool, err error) {
	ctx := c.Request.Context()
	o := p.cartOwner(c)
	if qty == 0 {
		if !o.None() {
			err = p.carts.Remove(ctx, o, id)
			if errors.Is(err, apperr.ErrNotFound) {
				err = nil
			}
		}
		return true, err
	}
	if o.None() {
		if o, err = p.newGuestCart(c); err != nil {
			return false, err
		}
	}
	_, err = p.carts.Set(ctx, o, id, qty)
	if errors.Is(err, cart.ErrGuestCartGone) {
		// Expired between the read and this write: start again.
		if o, err = p.newGuestCart(c); err != nil {
			return false, err
		}
		_, err = p.carts.Set(ctx, o, id, qty)
	}
	if errors.Is(err, cart.ErrFull) {
		return false, nil
	}
	if err == nil {
		p.keepGuestCookie(c, o)
	}
	return err == nil, err
}

func stockMessage(stock int) string {
	if stock <= 0 {
		return "This product is out of stock. Remove it to check out."
	}
	return fmt.Sprintf("Only %d left. Lower the quantity to check out.", stock)
}

func (p *Pages) cart(c *gin.Context) {
	page, err := p.cartView(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	if slug := c.Query("added"); slug != "" {
		for _, l := range page.Lines {
			if l.Slug == slug {
				page.Added = l.Name
			}
		}
	}
	p.render(c, http.StatusOK, "cart", page)
}

// parseQuantity reads a quantity field: an integer from lo to MaxLineQuantity.
func parseQuantity(s string, lo int) (int, string) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > MaxLineQuantity {
		return 0, fmt.Sprintf("Enter a whole number from %d to %d.", lo, MaxLineQuantity)
	}
	return n, ""
}

// addToCart adds a product from its page. A quantity the stock cannot cover is refused
// on the product page, next to the field.
func (p *Pages) addToCart(c *gin.Context) {
	prod, err := p.catalog.Product(c.Request.Context(), c.PostForm("product_id"))
	if err != nil {
		p.fail(c, err)
		return
	}
	qty, msg := parseQuantity(c.DefaultPostForm("quantity", "1"), 1)
	inCart, err := p.inCart(c, prod.ID)
	if err != nil {
		p.fail(c, err)
		return
	}
	if msg == "" && inCart+qty > prod.Stock {
		msg = stockMessage(prod.Stock - inCart)
		if inCart > 0 {
			msg = fmt.Sprintf("Only %d left, and %d are already in your cart.", prod.Stock, inCart)
		}
		if prod.Stock <= 0 {
			msg = "This product is out of stock."
		}
	}
	if msg == "" && inCart+qty > MaxLineQuantity {
		msg = fmt.Sprintf("At most %d of one product fit in the cart.", MaxLineQuantity)
	}
	if msg == "" {
		ok, err := p.setCartLine(c, prod.ID, inCart+qty)
		if err != nil {
			p.fail(c, err)
			return
		}
		if !ok {
			msg = fmt.Sprintf("Your cart is full (%d different products). Check out or remove something first.", cart.MaxLines)
		}
	}
	if msg != "" {
		p.productWithError(c, prod, c.PostForm("quantity"), msg)
		return
	}
	c.Redirect(http.StatusSeeOther, "/cart?added="+url.QueryEscape(prod.Slug))
}

type productFormError struct {
	Message, Value string
}

// productWithError shows the product page again with the add-to-cart form's error.
func (p *Pages) productWithError(c *gin.Context, prod catalog.Product, typed, msg string) {
	l, err := p.layout(c, prod.Name)
	if err != nil {
		p.fail(c, err)
		return
	}
	l.NoStore = true
	inCart, err := p.inCart(c, prod.ID)
	if err != nil {
		p.fail(c, err)
		return
	}
	page := &productPage{layout: l, Product: prod, InCart: inCart,
		MaxOrder: min(prod.Stock, MaxLineQuantity), Error: &productFormError{Message: msg, Value: typed}}
	p.render(c, http.StatusUnprocessableEntity, "product", page)
}

// cartItemID reads the :id of a cart route.
func cartItemID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("cart item %q: %w", truncate(c.Param("id"), 32), apperr.ErrNotFound)
	}
	return id, nil
}

// updateCartItem sets a line's quantity (0 removes it).
func (p *Pages) updateCartItem(c *gin.Context) {
	id, err := cartItemID(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	inCart, err := p.inCart(c, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	if inCart == 0 {
		p.fail(c, fmt.Errorf("cart item %d: %w", id, apperr.ErrNotFound))
		return
	}
	typed := c.PostForm("quantity")
	qty, msg := parseQuantity(typed, 0)
	if msg == "" && qty > 0 {
		prod, err := p.catalog.Product(c.Request.Context(), strconv.FormatInt(id, 10))
		if err != nil {
			p.fail(c, err)
			return
		}
		if qty > prod.Stock {
			msg = stockMessage(prod.Stock)
		}
	}
	if msg != "" {
		p.cartWithError(c, id, typed, msg)
		return
	}
	if _, err := p.setCartLine(c, id, qty); err != nil {
		p.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/cart")
}

func (p *Pages) removeCartItem(c *gin.Context) {
	id, err := cartItemID(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	if _, err := p.setCartLine(c, id, 0); err != nil {
		p.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/cart")
}

// cartWithError shows the cart again with a message next to one line's quantity.
func (p *Pages) cartWithError(c *gin.Context, id int64, typed, msg string) {
	page, err := p.cartView(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	for i := range page.Lines {
		if page.Lines[i].ProductID == id {
			page.Lines[i].Error, page.Lines[i].Value = msg, typed
		}
	}
	page.CanCheckout = false
	p.render(c, http.StatusUnprocessableEntity, "cart", page)
}
