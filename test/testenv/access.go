package testenv

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

var (
	accessOnce sync.Once
	operator   string
	legacy     string
	accessErr  error
)

// OperatorAccessString is controllers.CacheUserAccessString, the access string the
// operator gives the shop's ElastiCache user, read from controllers/cache_access.go: the
// controllers' own tests use testenv, so testenv cannot import the package without an
// import cycle, and a copy here could drift. The constant must stay one string literal,
// as must controllers.CacheUserLegacyGrants.
func OperatorAccessString() (string, error) {
	readAccess()
	return operator, accessErr
}

// ShopAccessString is what this shop image needs of its user: OperatorAccessString
// without the grants the operator keeps only for shops of older images
// (controllers.CacheUserLegacyGrants: GET, which this image no longer sends). testenv's
// servers give the shop's user exactly this, so a test of this image is refused any
// command it sends outside it, and can check that it uses every grant.
func ShopAccessString() (string, error) {
	readAccess()
	if accessErr != nil {
		return "", accessErr
	}
	drop := strings.Fields(legacy)
	rules := slices.DeleteFunc(strings.Fields(operator), func(r string) bool { return slices.Contains(drop, r) })
	return strings.Join(rules, " "), nil
}

func readAccess() {
	accessOnce.Do(func() {
		path := filepath.Join(RepoRoot(), "controllers", "cache_access.go")
		consts, err := readStringConsts(path, "CacheUserAccessString", "CacheUserLegacyGrants")
		if err != nil {
			accessErr = err
			return
		}
		operator, legacy = consts[0], consts[1]
		for _, g := range strings.Fields(legacy) {
			if !slices.Contains(strings.Fields(operator), g) {
				accessErr = fmt.Errorf("testenv: controllers.CacheUserLegacyGrants holds %q, which CacheUserAccessString does not grant", g)
			}
		}
	})
}

// readStringConsts returns the values of the string constants names of the Go file path.
func readStringConsts(path string, names ...string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("testenv: reading the shop's cache access string: %w", err)
	}
	out := make([]string, len(names))
	found := make([]bool, len(names))
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				j := slices.Index(names, name.Name)
				if j < 0 || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return nil, fmt.Errorf("testenv: controllers.%s must be one string literal", name.Name)
				}
				if out[j], err = strconv.Unquote(lit.Value); err != nil {
					return nil, err
				}
				found[j] = true
			}
		}
	}
	for j, ok := range found {
		if !ok {
			return nil, fmt.Errorf("testenv: no constant %s in %s", names[j], path)
		}
	}
	return out, nil
}
