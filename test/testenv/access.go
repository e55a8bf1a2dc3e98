package testenv

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"sync"
)

var (
	accessOnce sync.Once
	access     string
	accessErr  error
)

// ShopAccessString is controllers.CacheUserAccessString, the access string the operator
// gives the shop's ElastiCache user, read from controllers/cache_access.go: the
// controllers' own tests use testenv, so testenv cannot import the package without an
// import cycle, and a copy here could drift. The constant must stay one string literal.
func ShopAccessString() (string, error) {
	accessOnce.Do(func() {
		access, accessErr = readAccessString(filepath.Join(RepoRoot(), "controllers", "cache_access.go"))
	})
	return access, accessErr
}

func readAccessString(path string) (string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return "", fmt.Errorf("testenv: reading the shop's cache access string: %w", err)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name != "CacheUserAccessString" || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return "", errors.New("testenv: controllers.CacheUserAccessString must be one string literal")
				}
				return strconv.Unquote(lit.Value)
			}
		}
	}
	return "", fmt.Errorf("testenv: no constant CacheUserAccessString in %s", path)
}
