package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/money"
	"github.com/storefront-operator/storefront/shop/search"
)

// FeaturedCount is the number of products on the home page.
const FeaturedCount = 8

type homePage struct {
	*layout
	Featured []catalog.Product
}

func (p *Pages) home(c *gin.Context) {
	l, err := p.layout(c, "Home")
	if err != nil {
		p.fail(c, err)
		return
	}
	l.Description = "Headphones, cameras, cookware, coffee, outdoor kit, books, fitness and office gear."
	featured, err := p.cached.ListProducts(c.Request.Context(), catalog.ListQuery{Sort: catalog.SortNewest, Page: 1, PerPage: FeaturedCount})
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "home", &homePage{layout: l, Featured: featured.Value.Items})
}

// listingPage is the page of a product list: all products, a category, or a search.
type listingPage struct {
	*layout
	Heading  string
	Intro    string
	Action   string // where the filter form submits
	Search   bool
	Category *catalog.Category
	Form     filterForm
	Errors   map[string]string
	Sorts    []sortOption
	Products []catalog.Product
	Total    int64
	Pages    pagination
	Facets   []facet
	Similar  bool
	// FirstItem and LastItem number the products shown ("13–24 of 64").
	FirstItem, LastItem int64
}

// filterForm is the filter and sort form as the shopper typed it (prices in major units
// of the shop's currency: "19.99").
type filterForm struct {
	Q, Category, MinPrice, MaxPrice, Sort string
}

type sortOption struct {
	Value, Label string
	Selected     bool
}

var sortLabels = map[catalog.Sort]string{
	catalog.SortRelevance: "Best match",
	catalog.SortNewest:    "Newest",
	catalog.SortPriceAsc:  "Price: low to high",
	catalog.SortPriceDesc: "Price: high to low",
	catalog.SortName:      "Name: A to Z",
}

type facet struct {
	Slug, Name, URL string
	Count           int64
	Current         bool
}

func (p *Pages) allProducts(c *gin.Context) {
	p.listing(c, nil)
}

func (p *Pages) category(c *gin.Context) {
	slug := c.Param("slug")
	cats, err := p.categories(c.Request.Context())
	if err != nil {
		p.fail(c, err)
		return
	}
	for i := range cats {
		if cats[i].Slug == slug {
			p.listing(c, &cats[i])
			return
		}
	}
	p.fail(c, fmt.Errorf("category %q: %w", truncate(slug, 64), apperr.ErrNotFound))
}

// listing renders all products, or one category's: the filters of the query string
// are checked and an invalid one is reported next to its field (status 400) and left out.
func (p *Pages) listing(c *gin.Context, cat *catalog.Category) {
	l, err := p.layout(c, "All products")
	if err != nil {
		p.fail(c, err)
		return
	}
	page := &listingPage{layout: l, Heading: "All products", Action: "/products", Category: cat}
	fixed := url.Values{}
	l.CurrentCategory = "*"
	if cat != nil {
		l.Title, l.CurrentCategory = cat.Name, cat.Slug
		page.Heading, page.Intro, page.Action = cat.Name, cat.Description, "/categories/"+cat.Slug
		fixed.Set("category", cat.Slug)
	}
	vals, form, errs := p.readFilters(c, fixed, false)
	page.Form, page.Errors = form, errs
	q, err := catalog.ParseListQuery(vals, catalog.ListSorts)
	if err != nil {
		p.fail(c, err) // readFilters already removed what ParseListQuery refuses
		return
	}
	cached, err := p.cached.ListProducts(c.Request.Context(), q)
	if err != nil {
		p.fail(c, err)
		return
	}
	res := cached.Value
	page.Products, page.Total = res.Items, res.Total
	page.Sorts = sortOptions(catalog.ListSorts, q.Sort)
	page.number(q)
	page.Pages = paginate(c.Request.URL, q.Page, res.Total)
	p.render(c, statusFor(errs), "listing", page)
}

func (p *Pages) searchPage(c *gin.Context) {
	l, err := p.layout(c, "Search")
	if err != nil {
		p.fail(c, err)
		return
	}
	page := &listingPage{layout: l, Heading: "Search", Action: "/search", Search: true}
	vals, form, errs := p.readFilters(c, nil, true)
	page.Form, page.Errors = form, errs
	l.Query = form.Q
	page.Sorts = sortOptions(search.Sorts, catalog.SortRelevance)
	if !vals.Has("q") {
		// An empty search box is not an error: the page asks for something to look for.
		page.Intro = "Type what you are looking for in the search box above."
		p.render(c, statusFor(errs), "listing", page)
		return
	}
	q, err := search.ParseQuery(vals)
	if err != nil {
		p.fail(c, err)
		return
	}
	l.Title = "Search: " + q.Text
	page.Heading = fmt.Sprintf("Results for “%s”", form.Q)
	cached, err := p.cached.Search(c.Request.Context(), q)
	if err != nil {
		p.fail(c, err)
		return
	}
	res := cached.Value
	page.Products, page.Total, page.Similar = res.Items, res.Total, res.Match == search.MatchSimilar
	page.Sorts = sortOptions(search.Sorts, q.Sort)
	page.number(q.ListQuery)
	page.Pages = paginate(c.Request.URL, q.Page, res.Total)
	names := map[string]string{}
	for _, cat := range l.Categories {
		names[cat.Slug] = cat.Name
	}
	for _, f := range res.Facets.Categories {
		u := *c.Request.URL
		v := u.Query()
		v.Set("category", f.Slug)
		v.Del("page")
		u.RawQuery = v.Encode()
		page.Facets = append(page.Facets, facet{Slug: f.Slug, Name: names[f.Slug], Count: f.Count, URL: u.RequestURI(), Current: f.Slug == q.Category})
	}
	p.render(c, statusFor(errs), "listing", page)
}

func (lp *listingPage) number(q catalog.ListQuery) {
	if len(lp.Products) == 0 {
		return
	}
	lp.FirstItem = int64(q.Offset()) + 1
	lp.LastItem = int64(q.Offset() + len(lp.Products))
}

func statusFor(errs map[string]string) int {
	if len(errs) > 0 {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func sortOptions(sorts []catalog.Sort, current catalog.Sort) []sortOption {
	out := make([]sortOption, len(sorts))
	for i, s := range sorts {
		out[i] = sortOption{Value: string(s), Label: sortLabels[s], Selected: s == current}
	}
	return out
}

// fieldMessages are what the filter form says about a value the catalog refuses.
var fieldMessages = map[string]string{
	"q":        "Search for at most 200 characters, without control characters.",
	"category": "Choose a category from the list.",
	"sort":     "Choose a sort order from the list.",
	"page":     "That page does not exist; showing the first page.",
}

// readFilters reads the filter form from the query string and returns the catalog's list
// parameters (prices converted to minor units, per_page set), the form as typed, and a
// message for each field the catalog would refuse, which it leaves out of the
// parameters. fixed parameters (a category page's category) override the query;
// searching reads the search text too.
func (p *Pages) readFilters(c *gin.Context, fixed url.Values, searching bool) (url.Values, filterForm, map[string]string) {
	in := c.Request.URL.Query()
	form := filterForm{
		Q:        strings.TrimSpace(in.Get("q")),
		Category: in.Get("category"),
		MinPrice: strings.TrimSpace(in.Get("min_price")),
		MaxPrice: strings.TrimSpace(in.Get("max_price")),
		Sort:     in.Get("sort"),
	}
	errs := map[string]string{}
	vals := url.Values{"per_page": {strconv.Itoa(PerPage)}}
	if !searching {
		form.Q = ""
	}
	for k, v := range map[string]string{"q": form.Q, "category": form.Category, "sort": form.Sort, "page": in.Get("page")} {
		if v != "" {
			vals.Set(k, v)
		}
	}
	for k, v := range fixed {
		vals[k] = v
	}
	for field, typed := range map[string]string{"min_price": form.MinPrice, "max_price": form.MaxPrice} {
		if typed == "" {
			continue
		}
		m, err := money.Parse(typed, p.currency)
		if err != nil || m.Amount < 0 || m.Amount > catalog.MaxPrice {
			errs[field] = "Enter a price such as " + money.New(1999, p.currency).Decimal() + "."
			continue
		}
		vals.Set(field, strconv.FormatInt(m.Amount, 10))
	}
	// Let the catalog judge the rest, then drop what it refuses: the shopper sees the
	// message and the listing without that filter.
	var err error
	switch {
	case searching && form.Q != "":
		_, err = search.ParseQuery(vals)
	case searching:
		_, err = catalog.ParseListQuery(vals, search.Sorts)
	default:
		_, err = catalog.ParseListQuery(vals, catalog.ListSorts)
	}
	var ve *apperr.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Errors {
			switch {
			case fe.Field == "max_price":
				errs["max_price"] = "The highest price must not be below the lowest."
			case fieldMessages[fe.Field] != "":
				errs[fe.Field] = fieldMessages[fe.Field]
			default:
				errs[fe.Field] = "This value is not valid."
			}
			vals.Del(fe.Field)
		}
	}
	delete(errs, "per_page") // set by the pages, never by the shopper
	delete(errs, "page")     // an out-of-range page just shows the first
	return vals, form, errs
}

// pagination is the list of page links under a listing.
type pagination struct {
	Prev, Next string
	Links      []pageLink
	Total      int
}

type pageLink struct {
	Number  int
	URL     string
	Current bool
	Gap     bool // an ellipsis between distant pages
}

// paginate links the pages of total products around page, keeping the query string.
func paginate(u *url.URL, page int, total int64) pagination {
	return paginateBy(u, page, total, PerPage)
}

// paginateBy links the pages of total results, perPage a page, around page.
func paginateBy(u *url.URL, page int, total int64, perPage int) pagination {
	pages := int((total + int64(perPage) - 1) / int64(perPage))
	pg := pagination{Total: pages}
	if pages <= 1 {
		return pg
	}
	link := func(n int) string {
		v := u.Query()
		if n == 1 {
			v.Del("page")
		} else {
			v.Set("page", strconv.Itoa(n))
		}
		out := url.URL{Path: u.Path, RawQuery: v.Encode()}
		return out.RequestURI()
	}
	if page > 1 {
		pg.Prev = link(min(page-1, pages))
	}
	if page < pages {
		pg.Next = link(page + 1)
	}
	last := 0
	for n := 1; n <= pages; n++ {
		if n != 1 && n != pages && (n < page-2 || n > page+2) {
			continue
		}
		if last != 0 && n > last+1 {
			pg.Links = append(pg.Links, pageLink{Gap: true})
		}
		pg.Links = append(pg.Links, pageLink{Number: n, URL: link(n), Current: n == page})
		last = n
	}
	return pg
}

type productPage struct {
	*layout
	Product  catalog.Product
	InCart   int
	MaxOrder int
	// Error is the add-to-cart form's error, shown next to the quantity.
	Error *productFormError
	// Shared: the request carries none of the shop's cookies, so the page is the same
	// for every such visitor and shared caches may keep it; its add-to-cart form carries
	// no CSRF token (see checkCartCSRF).
	Shared bool
}

// product shows one product. Its stock is read fresh from the database (not from the
// cache) because it decides whether the shopper can add the product to the cart.
func (p *Pages) product(c *gin.Context) {
	prod, err := p.catalog.Product(c.Request.Context(), c.Param("slug"))
	if err != nil {
		p.fail(c, err)
		return
	}
	l, err := p.layout(c, prod.Name)
	if err != nil {
		p.fail(c, err)
		return
	}
	l.Description = truncate(prod.Description, 160)
	l.CurrentCategory = prod.Category.Slug
	inCart, err := p.inCart(c, prod.ID)
	if err != nil {
		p.fail(c, err)
		return
	}
	page := &productPage{layout: l, Product: prod, InCart: inCart, Shared: !p.cookiesShaped(c)}
	page.MaxOrder = min(prod.Stock, MaxLineQuantity)
	p.render(c, http.StatusOK, "product", page)
}
