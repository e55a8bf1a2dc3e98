package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// checkoutFields are the checkout form's fields; the card number and the CVC are never
// shown again (a failed checkout keeps everything else the shopper typed).
var checkoutFields = []string{"name", "line1", "city", "postal_code", "country", "card_number", "exp_month", "exp_year", "cvc", "idempotency_key"}

// checkoutNames maps the order service's fields (JSON paths) to the form's.
var checkoutNames = map[string]string{
	"shipping_address.name":        "name",
	"shipping_address.line1":       "line1",
	"shipping_address.city":        "city",
	"shipping_address.postal_code": "postal_code",
	"shipping_address.country":     "country",
	"payment.card_number":          "card_number",
	"payment.exp_month":            "exp_month",
	"payment.exp_year":             "exp_year",
	"payment.cvc":                  "cvc",
}

type checkoutPage struct {
	*layout
	Cart *cartPage
	Form *form
	// OutOfStock links the cart when a line cannot be ordered any more.
	OutOfStock bool
	Years      []int
}

func (p *Pages) checkoutPage(c *gin.Context) {
	f := newForm()
	f.Values["idempotency_key"] = newIdempotencyKey()
	p.checkoutForm(c, http.StatusOK, f)
}

// checkoutForm shows the checkout with f; an empty cart goes back to the cart page.
func (p *Pages) checkoutForm(c *gin.Context, status int, f *form) {
	crt, err := p.cartView(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	if len(crt.Lines) == 0 {
		c.Redirect(http.StatusSeeOther, "/cart")
		return
	}
	crt.Title = "Checkout"
	f.Values["card_number"], f.Values["cvc"] = "", ""
	page := &checkoutPage{layout: crt.layout, Cart: crt, Form: f}
	for y := time.Now().Year(); y <= time.Now().Year()+12; y++ {
		page.Years = append(page.Years, y)
	}
	page.OutOfStock = !crt.CanCheckout
	p.render(c, status, "checkout", page)
}

// newIdempotencyKey names one checkout form: submitting it twice (a double click, a
// retried request) places one order.
func newIdempotencyKey() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return "web-" + b64.EncodeToString(b[:])
}

// checkout places the order of the cart through the order service, with the form's
// idempotency key.
func (p *Pages) checkout(c *gin.Context) {
	f := newForm().read(c, checkoutFields)
	key := f.Values["idempotency_key"]
	if key == "" {
		key = newIdempotencyKey()
		f.Values["idempotency_key"] = key
	}
	month, _ := strconv.Atoi(f.Values["exp_month"])
	year, _ := strconv.Atoi(f.Values["exp_year"])
	req := orders.Request{
		ShippingAddress: orders.Address{Name: f.Values["name"], Line1: f.Values["line1"], City: f.Values["city"],
			PostalCode: f.Values["postal_code"], Country: f.Values["country"]},
		Payment: orders.Card{Number: f.Values["card_number"], ExpMonth: month, ExpYear: year, CVC: f.Values["cvc"]},
	}
	o, _, err := p.orders.Place(c.Request.Context(), principal(c).UserID, key, req)
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/account/orders/%d?placed=1", o.ID))
	case errors.Is(err, apperr.ErrPaymentDeclined):
		f.Error = "Your card was declined. Nothing was charged; try another card."
		f.Errors["card_number"] = "This card was declined."
		p.checkoutForm(c, http.StatusPaymentRequired, f)
	case errors.Is(err, apperr.ErrOutOfStock):
		f.Error = "Some products in your cart are no longer in stock in that quantity. Nothing was charged."
		p.checkoutForm(c, http.StatusConflict, f)
	case f.fieldErrors(err, checkoutNames):
		p.checkoutForm(c, http.StatusUnprocessableEntity, f)
	default:
		p.fail(c, err)
	}
}
