package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/admin"
	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/images"
	"github.com/storefront-operator/storefront/shop/orders"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
)

// AdminPerPage is the number of rows on an admin list page.
const AdminPerPage = 25

// adminLayout is the frame of an admin page: never stored, never shared.
func (p *Pages) adminLayout(c *gin.Context, title string) (*layout, error) {
	l, err := p.layout(c, title)
	if err != nil {
		return nil, err
	}
	l.NoStore = true
	l.AdminArea = true
	return l, nil
}

type adminHomePage struct{ *layout }

func (p *Pages) adminHome(c *gin.Context) {
	l, err := p.adminLayout(c, "Admin")
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "admin_home", &adminHomePage{layout: l})
}

type adminProductsPage struct {
	*layout
	Products catalog.ProductPage
	Pages    pagination
	// Notice reports what the last action did; Error what it could not do.
	Notice, Error string
	// StockErrors are the messages next to a row's stock field, by product id.
	StockErrors map[int64]string
	StockValues map[int64]string
}

func (p *Pages) adminProducts(c *gin.Context) {
	p.adminProductList(c, http.StatusOK, &adminProductsPage{Notice: adminNotices[c.Query("done")]})
}

// adminNotices are the messages after an admin action's redirect (?done=...).
var adminNotices = map[string]string{
	"created":          "The product was created.",
	"updated":          "The product was saved.",
	"stock":            "The stock was updated.",
	"deleted":          "The product was deleted.",
	"category-created": "The category was created.",
	"category-updated": "The category was saved.",
	"category-deleted": "The category was deleted.",
	"status":           "The order status was changed.",
}

func (p *Pages) adminProductList(c *gin.Context, status int, page *adminProductsPage) {
	l, err := p.adminLayout(c, "Products")
	if err != nil {
		p.fail(c, err)
		return
	}
	page.layout = l
	n := pageNumber(c)
	if c.Request.Method == http.MethodPost {
		// Shown again after a refused action: the page the form was on.
		if v, err := strconv.Atoi(c.PostForm("page")); err == nil && v >= 1 && v <= catalog.MaxPage {
			n = v
		}
	}
	// Read from the catalog service directly: the admin sees stock as it is now.
	list, err := p.catalog.ListProducts(c.Request.Context(), catalog.ListQuery{Sort: catalog.SortName, Page: n, PerPage: AdminPerPage})
	if err != nil {
		p.fail(c, err)
		return
	}
	page.Products = list
	page.Pages = paginateBy(c.Request.URL, n, list.Total, AdminPerPage)
	p.render(c, status, "admin_products", page)
}

// productFields are the fields of the product form; expected_stock is the edit form's
// hidden copy of the stock it showed.
var productFields = []string{"slug", "name", "description", "price", "category", "stock", "expected_stock", "image_url", "attributes"}

// productNames maps the admin service's fields to the form's.
var productNames = map[string]string{"price.amount": "price", "price.currency": "price"}

type productFormPage struct {
	*layout
	Form *form
	// Images are the product's pictures in their order; ImageForm is the upload form
	// (its alt text and errors); UploadsOn: the shop has an image store.
	Images    []catalog.Image
	ImageForm *form
	UploadsOn bool
	// Notice reports what the last image action did.
	Notice string
	// ID is the product being edited; 0 for a new one.
	ID int64
	// Action is where the form posts.
	Action string
}

func (p *Pages) adminNewProduct(c *gin.Context) {
	f := newForm()
	f.Values["stock"], f.Values["attributes"] = "0", "{}"
	p.productForm(c, http.StatusOK, 0, f)
}

func (p *Pages) adminEditProduct(c *gin.Context) {
	id, err := pathID(c, "product")
	if err != nil {
		p.fail(c, err)
		return
	}
	f, err := p.productWithForm(c, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.productFormWith(c, http.StatusOK, &productFormPage{Form: f, ID: id, Notice: imageNotices[c.Query("done")]})
}

func (p *Pages) productForm(c *gin.Context, status int, id int64, f *form) {
	p.productFormWith(c, status, &productFormPage{Form: f, ID: id})
}

// productFormWith renders the product form page; for an existing product it lists its
// images with the upload form (page.ImageForm, when set, keeps a refused upload's alt
// text and errors).
func (p *Pages) productFormWith(c *gin.Context, status int, page *productFormPage) {
	title, action := "New product", "/admin/products"
	if page.ID != 0 {
		title, action = "Edit "+page.Form.Values["name"], fmt.Sprintf("/admin/products/%d", page.ID)
		prod, err := p.catalog.Product(c.Request.Context(), strconv.FormatInt(page.ID, 10))
		if err != nil {
			p.fail(c, err)
			return
		}
		page.Images = prod.Images
	}
	l, err := p.adminLayout(c, title)
	if err != nil {
		p.fail(c, err)
		return
	}
	page.layout, page.Action = l, action
	page.UploadsOn = p.images.Enabled()
	if page.ImageForm == nil {
		page.ImageForm = newForm()
	}
	p.render(c, status, "admin_product", page)
}

// UploadRoute is the admin pages' upload route (its body limit is
// images.UploadBodyLimit, see httpserver.RouterOptions.RouteBodyLimits).
const UploadRoute = "/admin/products/:id/images"

// imageNotices are the messages after an image action's redirect (?done=...).
var imageNotices = map[string]string{
	"image-added":   "The image was added.",
	"image-moved":   "The image was moved.",
	"image-deleted": "The image was removed.",
}

// productWithForm loads product id into the product form. The stock shown goes with the
// form as expected_stock: the save changes the stock only if it is still that, so that
// a form opened before an order cannot put the units sold back on sale.
func (p *Pages) productWithForm(c *gin.Context, id int64) (*form, error) {
	prod, err := p.catalog.Product(c.Request.Context(), strconv.FormatInt(id, 10))
	if err != nil {
		return nil, err
	}
	attrs, err := json.MarshalIndent(prod.Attributes, "", "  ")
	if err != nil {
		return nil, err
	}
	f := newForm()
	f.Values = map[string]string{"slug": prod.Slug, "name": prod.Name, "description": prod.Description,
		"price": prod.Price.Decimal(), "category": prod.Category.Slug, "stock": strconv.Itoa(prod.Stock),
		"expected_stock": strconv.Itoa(prod.Stock), "image_url": prod.ImageURL, "attributes": string(attrs)}
	return f, nil
}

// adminAddImage takes the upload form (multipart, works without JavaScript): the picture
// is appended to the product's images, or the form comes back with what was wrong.
func (p *Pages) adminAddImage(c *gin.Context) {
	id, err := pathID(c, "product")
	if err != nil {
		p.fail(c, err)
		return
	}
	alt, data, err := images.ReadUpload(c.Request)
	if err == nil {
		_, err = p.images.Add(c.Request.Context(), id, alt, data)
	}
	if err == nil {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/products/%d?done=image-added#images", id))
		return
	}
	imgForm := newForm()
	imgForm.Values[images.FieldAlt] = alt
	status := http.StatusUnprocessableEntity
	var ve *apperr.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Errors {
			field := fe.Field
			if field != images.FieldAlt {
				field = images.FieldImage
			}
			imgForm.Errors[field] = sentence("The picture " + fe.Message)
			if field == images.FieldAlt {
				imgForm.Errors[field] = sentence("The alt text " + fe.Message)
			}
		}
	case errors.Is(err, apperr.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
		imgForm.Errors[images.FieldImage] = fmt.Sprintf("The picture is larger than %d MiB: choose a smaller one.", images.MaxUploadBytes>>20)
	case errors.Is(err, apperr.ErrUnavailable):
		status = http.StatusServiceUnavailable
		imgForm.Errors[images.FieldImage] = "Uploads are off: this shop has no image store (IMAGE_STORE)."
	default:
		p.fail(c, err)
		return
	}
	imgForm.Error = "The image was not added."
	f, ferr := p.productWithForm(c, id)
	if ferr != nil {
		p.fail(c, ferr)
		return
	}
	p.productFormWith(c, status, &productFormPage{Form: f, ID: id, ImageForm: imgForm})
}

// imagePathIDs are the product and image ids of an image action's path.
func imagePathIDs(c *gin.Context) (int64, int64, error) {
	id, err := pathID(c, "product")
	if err != nil {
		return 0, 0, err
	}
	imageID, err := strconv.ParseInt(c.Param("imageId"), 10, 64)
	if err != nil || imageID <= 0 {
		return 0, 0, fmt.Errorf("image %q: %w", truncate(c.Param("imageId"), 32), apperr.ErrNotFound)
	}
	return id, imageID, nil
}

// adminMoveImage moves an image to the position posted (the Move up and Move down
// buttons post the neighbour's position).
func (p *Pages) adminMoveImage(c *gin.Context) {
	id, imageID, err := imagePathIDs(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	to, err := strconv.Atoi(c.PostForm("position"))
	if err != nil {
		p.fail(c, apperr.Unprocessable("position", "must be a whole number"))
		return
	}
	if err := p.images.Move(c.Request.Context(), id, imageID, to); err != nil {
		p.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/products/%d?done=image-moved#images", id))
}

func (p *Pages) adminDeleteImage(c *gin.Context) {
	id, imageID, err := imagePathIDs(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	if err := p.images.Delete(c.Request.Context(), id, imageID); err != nil {
		p.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/products/%d?done=image-deleted#images", id))
}

// productInput reads the product form into the admin service's input; what cannot even
// be read (a price that is not an amount, attributes that are not a JSON object) is
// reported on the form. An edit form's expected_stock goes with it; a form without one
// (opened before it existed) has its stock taken as the stock it showed.
func (p *Pages) productInput(c *gin.Context, f *form, edit bool) admin.ProductInput {
	f.read(c, productFields)
	in := admin.ProductInput{Slug: f.Values["slug"], Name: f.Values["name"], Description: f.Values["description"],
		Category: f.Values["category"], ImageURL: f.Values["image_url"]}
	if m, err := money.Parse(f.Values["price"], p.currency); err == nil {
		in.Price = m
	} else {
		f.Errors["price"] = "Enter a price such as " + money.New(1999, p.currency).Decimal() + "."
	}
	if n, err := strconv.Atoi(f.Values["stock"]); err == nil {
		in.Stock = &n
	} else {
		f.Errors["stock"] = "Enter a whole number."
	}
	if n, err := strconv.Atoi(f.Values["expected_stock"]); err == nil && edit {
		in.ExpectedStock = &n
	}
	if a := f.Values["attributes"]; a != "" {
		if err := json.Unmarshal([]byte(a), &in.Attributes); err != nil {
			f.Errors["attributes"] = `Enter a JSON object, such as {"color": "red"}.`
		}
	}
	return in
}

func (p *Pages) adminCreateProduct(c *gin.Context) {
	f := newForm()
	in := p.productInput(c, f, false)
	if f.Invalid() {
		f.Error = "Please correct the fields marked below."
		p.productForm(c, http.StatusUnprocessableEntity, 0, f)
		return
	}
	_, err := p.admin.CreateProduct(c.Request.Context(), in)
	if p.productFormError(c, err, 0, f) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/products?done=created")
}

func (p *Pages) adminUpdateProduct(c *gin.Context) {
	id, err := pathID(c, "product")
	if err != nil {
		p.fail(c, err)
		return
	}
	f := newForm()
	in := p.productInput(c, f, true)
	if f.Invalid() {
		f.Error = "Please correct the fields marked below."
		p.productForm(c, http.StatusUnprocessableEntity, id, f)
		return
	}
	_, err = p.admin.UpdateProduct(c.Request.Context(), id, in)
	if p.productFormError(c, err, id, f) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/products?done=updated")
}

// productFormError shows the product form again for a refused save; it reports whether
// it handled err (any error).
func (p *Pages) productFormError(c *gin.Context, err error, id int64, f *form) bool {
	var changed *admin.StockChangedError
	switch {
	case err == nil:
		return false
	case f.fieldErrors(err, productNames):
		p.productForm(c, http.StatusUnprocessableEntity, id, f)
	case errors.As(err, &changed):
		// The form comes back with the current stock as its expected stock: saving it
		// again keeps the stock, or sets the number the admin typed, knowingly.
		now := strconv.Itoa(changed.Current)
		f.Values["expected_stock"] = now
		f.Error = fmt.Sprintf("Nothing was saved: the stock changed from %d to %d while you were editing (orders, or another admin). Check the stock and save again.", changed.Expected, changed.Current)
		if f.Values["stock"] == strconv.Itoa(changed.Expected) {
			// The admin left the stock as shown: show the current one.
			f.Values["stock"] = now
			f.Errors["stock"] = fmt.Sprintf("It is %d now, as shown: saving keeps it.", changed.Current)
		} else {
			f.Errors["stock"] = fmt.Sprintf("It is %d now. Saving again sets it to %s.", changed.Current, f.Values["stock"])
		}
		p.productForm(c, http.StatusConflict, id, f)
	case errors.Is(err, apperr.ErrConflict):
		f.Error = "Please correct the fields marked below."
		f.Errors["slug"] = "Another product already has this slug."
		p.productForm(c, http.StatusConflict, id, f)
	case errors.Is(err, apperr.ErrNotFound) && id == 0, errors.Is(err, apperr.ErrNotFound) && strings.Contains(err.Error(), "categor"):
		f.Error = "Please correct the fields marked below."
		f.Errors["category"] = "Choose an existing category."
		p.productForm(c, http.StatusUnprocessableEntity, id, f)
	default:
		p.fail(c, err)
	}
	return true
}

func (p *Pages) adminSetStock(c *gin.Context) {
	id, err := pathID(c, "product")
	if err != nil {
		p.fail(c, err)
		return
	}
	typed := strings.TrimSpace(c.PostForm("stock"))
	n, perr := strconv.Atoi(typed)
	in := admin.StockInput{Stock: &n}
	// The stock the row showed: the set is refused if orders moved it since. A form
	// without it (a page opened before it existed) sets the stock as typed.
	if e, err := strconv.Atoi(c.PostForm("expected_stock")); err == nil {
		in.ExpectedStock = &e
	}
	if perr == nil {
		_, err = p.admin.SetStock(c.Request.Context(), id, in)
	} else {
		err = apperr.Unprocessable("stock", "must be a whole number")
	}
	var (
		ve      *apperr.ValidationError
		changed *admin.StockChangedError
	)
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, adminReturn(c, "/admin/products", "stock"))
	case errors.As(err, &ve):
		page := &adminProductsPage{Error: "The stock was not changed.",
			StockErrors: map[int64]string{id: sentence(ve.Errors[0].Message)}, StockValues: map[int64]string{id: typed}}
		p.adminProductList(c, http.StatusUnprocessableEntity, page)
	case errors.As(err, &changed):
		// The row shows the current stock as its expected stock again: saving once more
		// sets the number typed, knowingly.
		page := &adminProductsPage{
			Error:       fmt.Sprintf("The stock was not changed: it went from %d to %d since the page was loaded (orders, or another admin). Check it and save again.", changed.Expected, changed.Current),
			StockErrors: map[int64]string{id: fmt.Sprintf("It is %d now. Saving again sets it to %s.", changed.Current, typed)}, StockValues: map[int64]string{id: typed}}
		p.adminProductList(c, http.StatusConflict, page)
	default:
		p.fail(c, err)
	}
}

// adminReturn is where an admin action goes back to: the list page it came from
// (the form's "page"), with the notice of what was done.
func adminReturn(c *gin.Context, path, done string) string {
	v := url.Values{"done": {done}}
	if n, err := strconv.Atoi(c.PostForm("page")); err == nil && n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	return path + "?" + v.Encode()
}

func (p *Pages) adminDeleteProduct(c *gin.Context) {
	id, err := pathID(c, "product")
	if err != nil {
		p.fail(c, err)
		return
	}
	err = p.admin.DeleteProduct(c.Request.Context(), id)
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, adminReturn(c, "/admin/products", "deleted"))
	case errors.Is(err, apperr.ErrConflict):
		p.adminProductList(c, http.StatusConflict, &adminProductsPage{
			Error: "The product was not deleted: it is in open orders. Set its stock to 0 to stop selling it."})
	default:
		p.fail(c, err)
	}
}

type adminCategoriesPage struct {
	*layout
	// Forms are the edit forms by category id, and New the create form.
	Forms         map[int64]*form
	New           *form
	Notice, Error string
}

var categoryFields = []string{"slug", "name", "description"}

func (p *Pages) adminCategories(c *gin.Context) {
	p.adminCategoryList(c, http.StatusOK, &adminCategoriesPage{Notice: adminNotices[c.Query("done")]})
}

func (p *Pages) adminCategoryList(c *gin.Context, status int, page *adminCategoriesPage) {
	l, err := p.adminLayout(c, "Categories")
	if err != nil {
		p.fail(c, err)
		return
	}
	page.layout = l
	if page.Forms == nil {
		page.Forms = map[int64]*form{}
	}
	for _, cat := range l.Categories {
		if _, ok := page.Forms[cat.ID]; !ok {
			f := newForm()
			f.Values = map[string]string{"slug": cat.Slug, "name": cat.Name, "description": cat.Description}
			page.Forms[cat.ID] = f
		}
	}
	if page.New == nil {
		page.New = newForm()
	}
	p.render(c, status, "admin_categories", page)
}

// categories of the admin are read fresh, not from the cache: the admin just changed them.
func (p *Pages) adminCreateCategory(c *gin.Context) {
	f := newForm().read(c, categoryFields)
	_, err := p.admin.CreateCategory(c.Request.Context(), admin.CategoryInput{Slug: f.Values["slug"], Name: f.Values["name"], Description: f.Values["description"]})
	if p.categoryError(c, err, 0, f) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/categories?done=category-created")
}

func (p *Pages) adminUpdateCategory(c *gin.Context) {
	id, err := pathID(c, "category")
	if err != nil {
		p.fail(c, err)
		return
	}
	f := newForm().read(c, categoryFields)
	_, err = p.admin.UpdateCategory(c.Request.Context(), id, admin.CategoryInput{Slug: f.Values["slug"], Name: f.Values["name"], Description: f.Values["description"]})
	if p.categoryError(c, err, id, f) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/categories?done=category-updated")
}

// categoryError shows the categories again with the refused form's errors; it reports
// whether it handled err.
func (p *Pages) categoryError(c *gin.Context, err error, id int64, f *form) bool {
	page := &adminCategoriesPage{Forms: map[int64]*form{}}
	if id == 0 {
		page.New = f
	} else {
		page.Forms[id] = f
	}
	switch {
	case err == nil:
		return false
	case f.fieldErrors(err, nil):
		p.adminCategoryList(c, http.StatusUnprocessableEntity, page)
	case errors.Is(err, apperr.ErrConflict):
		f.Error = "Please correct the fields marked below."
		f.Errors["slug"] = "Another category already has this slug."
		p.adminCategoryList(c, http.StatusConflict, page)
	default:
		p.fail(c, err)
	}
	return true
}

func (p *Pages) adminDeleteCategory(c *gin.Context) {
	id, err := pathID(c, "category")
	if err != nil {
		p.fail(c, err)
		return
	}
	err = p.admin.DeleteCategory(c.Request.Context(), id)
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, "/admin/categories?done=category-deleted")
	case errors.Is(err, apperr.ErrConflict):
		p.adminCategoryList(c, http.StatusConflict, &adminCategoriesPage{
			Error: "The category was not deleted: it still has products. Move or delete them first."})
	default:
		p.fail(c, err)
	}
}

type adminOrdersPage struct {
	*layout
	Orders   orders.Page
	Pages    pagination
	Status   string
	Statuses []orders.Status
	Notice   string
}

func (p *Pages) adminOrders(c *gin.Context) {
	l, err := p.adminLayout(c, "Orders")
	if err != nil {
		p.fail(c, err)
		return
	}
	q := orders.ListQuery{Page: pageNumber(c), PerPage: AdminPerPage}
	status := c.Query("status")
	if st, ok := orders.ParseStatus(status); ok {
		q.Status = st
	} else {
		status = ""
	}
	list, err := p.orders.AdminList(c.Request.Context(), q)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "admin_orders", &adminOrdersPage{layout: l, Orders: list, Status: status, Statuses: orders.Statuses,
		Pages: paginateBy(c.Request.URL, q.Page, list.Total, AdminPerPage), Notice: adminNotices[c.Query("done")]})
}

func (p *Pages) adminOrder(c *gin.Context) {
	p.adminOrderPage(c, http.StatusOK, "")
}

func (p *Pages) adminOrderPage(c *gin.Context, status int, msg string) {
	id, err := pathID(c, "order")
	if err != nil {
		p.fail(c, err)
		return
	}
	o, err := p.orders.AdminGet(c.Request.Context(), id)
	if err != nil {
		p.fail(c, err)
		return
	}
	l, err := p.adminLayout(c, fmt.Sprintf("Order %d", o.ID))
	if err != nil {
		p.fail(c, err)
		return
	}
	page := &orderPage{layout: l, Order: o, AdminView: true, Error: msg, Notice: adminNotices[c.Query("done")]}
	for _, st := range orders.Statuses {
		if orders.CanTransition(o.Status, st) {
			page.Transitions = append(page.Transitions, st)
		}
	}
	p.render(c, status, "order", page)
}

func (p *Pages) adminSetOrderStatus(c *gin.Context) {
	id, err := pathID(c, "order")
	if err != nil {
		p.fail(c, err)
		return
	}
	_, err = p.orders.Transition(c.Request.Context(), id, orders.Status(c.PostForm("status")))
	var ve *apperr.ValidationError
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/orders/%d?done=status", id))
	case errors.Is(err, apperr.ErrConflict):
		p.adminOrderPage(c, http.StatusConflict, "The status was not changed: the order moved on in the meantime, or cannot go to that status.")
	case errors.As(err, &ve):
		p.adminOrderPage(c, http.StatusUnprocessableEntity, "Choose one of the statuses offered.")
	default:
		p.fail(c, err)
	}
}
