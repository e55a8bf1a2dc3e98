package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/platform/cache"
	"github.com/storefront-operator/storefront/shop/platform/httpserver"
)

//go:embed static
var staticFiles embed.FS

// StaticPrefix is the URL path under which the embedded static files are served.
const StaticPrefix = "/static/"

// Cache lifetimes of static files. Fingerprinted files never change under their name;
// images keep the name the catalog stores (image_url), so they are revalidated daily.
const (
	immutableCacheControl = "public, max-age=31536000, immutable"
	imageCacheControl     = "public, max-age=86400"
)

// asset is one embedded static file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
	immutable   bool
}

// assets holds the static files: the stylesheet, the script and the favicon under
// fingerprinted names (app.<hash>.css), and the images under their own paths
// (img/categories/audio.svg), which the demo catalog's image_url values point at.
type assets struct {
	files map[string]asset // by path under /static/
	urls  map[string]string
}

// fingerprinted are the files whose URL carries a hash of their content, so they can be
// cached for a year: a new release with a changed file links a new URL.
var fingerprinted = []string{"app.css", "app.js", "favicon.svg"}

func loadAssets() (*assets, error) {
	a := &assets{files: map[string]asset{}, urls: map[string]string{}}
	for _, name := range fingerprinted {
		body, err := staticFiles.ReadFile("static/" + name)
		if err != nil {
			return nil, fmt.Errorf("reading static file %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		a.files[hashed] = asset{body: body, contentType: contentType(name), etag: cache.ETag(body), immutable: true}
		a.urls[name] = StaticPrefix + hashed
	}
	err := fs.WalkDir(staticFiles, "static/img", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		a.files[strings.TrimPrefix(p, "static/")] = asset{body: body, contentType: contentType(p), etag: cache.ETag(body)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading static images: %w", err)
	}
	return a, nil
}

// URL returns the fingerprinted URL of a static file named in fingerprinted.
func (a *assets) URL(name string) (string, error) {
	u, ok := a.urls[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return u, nil
}

// Has reports whether the URL path p (such as /static/img/categories/audio.svg) is an
// embedded file.
func (a *assets) Has(p string) bool {
	_, ok := a.files[strings.TrimPrefix(p, StaticPrefix)]
	return ok
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

// serve answers GET and HEAD /static/*path.
func (a *assets) serve(c *gin.Context) {
	f, ok := a.files[strings.TrimPrefix(c.Param("path"), "/")]
	if !ok {
		c.Status(http.StatusNotFound)
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.Header("Cache-Control", "no-store")
		_, _ = c.Writer.WriteString("not found\n")
		return
	}
	if f.immutable {
		c.Header("Cache-Control", immutableCacheControl)
	} else {
		c.Header("Cache-Control", imageCacheControl)
	}
	c.Header("ETag", f.etag)
	if httpserver.ETagMatches(c.GetHeader("If-None-Match"), f.etag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, f.contentType, f.body)
}
