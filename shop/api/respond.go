package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/catalog"
	"github.com/storefront-operator/storefront/shop/platform/apperr"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

// writeJSON sends v as JSON without HTML escaping: names and addresses are data, and
// come back exactly as they were sent.
func writeJSON(c *gin.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		httpserver.Fail(c, err)
		return
	}
	c.Data(status, "application/json; charset=utf-8", buf.Bytes())
}

// pathID reads a positive integer path parameter; anything else names no resource (404).
func pathID(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		httpserver.Fail(c, fmt.Errorf("%s %q: %w", name, c.Param(name), apperr.ErrNotFound))
		return 0, false
	}
	return id, true
}

// updateByID is the handler of a PUT or PATCH of /…/:id: the path's id and the JSON body
// given to call, whose result is the 200 answer.
func updateByID[In, Out any](call func(context.Context, int64, In) (Out, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		var in In
		if err := DecodeJSON(c.Request, &in); err != nil {
			httpserver.Fail(c, err)
			return
		}
		out, err := call(c.Request.Context(), id, in)
		if err != nil {
			httpserver.Fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, out)
	}
}

// deleteByID is the handler of a DELETE of /…/:id: 204 once call deleted it.
func deleteByID(call func(context.Context, int64) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		if err := call(c.Request.Context(), id); err != nil {
			httpserver.Fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// pageParams reads page and per_page with the list limits of docs/architecture.md#the-shops-http-api.
func pageParams(c *gin.Context, f *apperr.Fields) (page, perPage int) {
	parse := func(name string, def, hi int) int {
		s := c.Query(name)
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > hi {
			f.Add(name, fmt.Sprintf("must be an integer between 1 and %d", hi))
			return def
		}
		return n
	}
	return parse("page", 1, catalog.MaxPage), parse("per_page", catalog.DefaultPerPage, catalog.MaxPerPage)
}
