package openapigen_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/storefront-operator/storefront/shop/api"
	"github.com/storefront-operator/storefront/shop/api/internal/openapigen"
)

func source(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestServedDocumentIsGenerated fails when openapi.json (embedded and served) is not what
// openapi.yaml and the Go types generate: someone changed a type or the source and did
// not run the generator, or edited the output by hand.
func TestServedDocumentIsGenerated(t *testing.T) {
	got, err := openapigen.Generate(source(t), api.OpenAPIGo)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, api.OpenAPI()) {
		t.Fatal("shop/api/openapi.json is stale: run `go generate ./shop/api` (or `make generate`) and commit it")
	}
}

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapigen.Load(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// publicOperations are the operations anyone may call (docs/architecture.md#the-shops-http-api and the README's
// "who" column); every other one needs a bearer token.
var publicOperations = []string{"healthz", "readyz", "openapi", "listCategories", "listProducts", "getProduct", "search", "register", "login", "changePassword"}

// TestDocumentRules checks, operation by operation, what a client generator and a
// client team rely on beyond schema validity.
func TestDocumentRules(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if doc.Info.License == nil || doc.Info.License.Name == "" || doc.Info.License.URL == "" {
		t.Error("the document has no licence")
	}
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		if tag.Description == "" {
			t.Errorf("tag %s has no description", tag.Name)
		}
		tags[tag.Name] = true
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("the global security is %v, want the bearer scheme", doc.Security)
	}
	conflict := doc.Components.Responses["Conflict"]
	if conflict == nil || conflict.Value.Description == nil || !strings.HasPrefix(*conflict.Value.Description, "The request conflicts") || len(conflict.Value.Extensions) > 0 {
		t.Errorf("the Conflict response is not one Response Object: %+v", conflict)
	}

	var public []string
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			name := method + " " + path
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("%s: tags %v, want one declared tag", name, op.Tags)
			}
			secured := true
			if op.Security != nil && len(*op.Security) == 0 {
				secured = false
				public = append(public, op.OperationID)
			} else if op.Security != nil {
				t.Errorf("%s: its own security %v; the global bearer scheme or [] only", name, *op.Security)
			}
			status := func(code int) *openapi3.Response {
				if r := op.Responses.Status(code); r != nil {
					return r.Value
				}
				return nil
			}
			has4xx := false
			for code, r := range op.Responses.Map() {
				if code[0] != '4' && code != "500" {
					continue // readyz's 503 is its Status, as its 200 is
				}
				has4xx = has4xx || code[0] == '4'
				mt := r.Value.Content.Get("application/problem+json")
				if len(r.Value.Content) != 1 || mt == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
					t.Errorf("%s %s: not an application/problem+json Problem", name, code)
				}
			}
			if !has4xx {
				t.Errorf("%s lists no 4XX response", name)
			}
			need := map[int]string{413: "every route has the body limit", 500: "every route has the error middleware"}
			if secured {
				need[401] = "it needs a bearer token"
			}
			if op.Tags[0] == "admin" {
				need[403] = "customers may not call it"
			}
			if op.RequestBody != nil {
				need[400] = "its body is decoded strictly"
			}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if p.Value.In == "path" {
					need[404] = "its path names a resource"
				}
			}
			for code, why := range need {
				if status(code) == nil {
					t.Errorf("%s lists no %d, yet %s", name, code, why)
				}
			}
			if r := status(401); r != nil && r.Headers["WWW-Authenticate"] == nil {
				t.Errorf("%s: its 401 declares no WWW-Authenticate", name)
			}
			for code, r := range op.Responses.Map() {
				if code[0] == '2' {
					if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema.Ref != "" {
						closed(t, name+" "+code, mt.Schema, map[string]bool{})
					}
				}
			}
		}
	}
	sort.Strings(public)
	want := slices.Sorted(slices.Values(publicOperations))
	if !slices.Equal(public, want) {
		t.Errorf("operations with security: [] are %v, want %v", public, want)
	}
	// /metrics is not on the API's listener (METRICS_ADDR), so not in its document.
	if ops != 33 {
		t.Errorf("%d operations, want 33", ops)
	}
}

// closed checks that every object schema under s with properties allows no other one:
// the answer's shape is exact, so an undeclared field fails the contract tests.
func closed(t *testing.T, where string, s *openapi3.SchemaRef, seen map[string]bool) {
	t.Helper()
	if s.Ref != "" {
		if seen[s.Ref] {
			return
		}
		seen[s.Ref] = true
		where = s.Ref
	}
	v := s.Value
	if len(v.Properties) > 0 && (v.AdditionalProperties.Has == nil || *v.AdditionalProperties.Has) {
		t.Errorf("%s allows properties it does not declare", where)
	}
	for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
		closed(t, where+"."+name, v.Properties[name], seen)
	}
	if v.Items != nil {
		closed(t, where+"[]", v.Items, seen)
	}
}

// user is auth.User with one more field, as a developer would add it.
type user struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Nickname string `json:"nickname"`
	Avatar   string `json:"avatar,omitempty"`
}

func TestAFieldAddedToAResponseTypeIsInTheDocument(t *testing.T) {
	from := api.OpenAPIGo
	from.Responses = maps.Clone(from.Responses)
	from.Responses["User"] = user{}
	out, err := openapigen.Generate(source(t), from)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapigen.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	u := doc.Components.Schemas["User"].Value
	if u.Properties["nickname"] == nil || !u.Properties["nickname"].Value.Type.Is("string") || u.Properties["avatar"] == nil {
		t.Fatalf("the new fields are not in the schema: %v", slices.Sorted(maps.Keys(u.Properties)))
	}
	if !slices.Contains(u.Required, "nickname") || slices.Contains(u.Required, "avatar") {
		t.Errorf("required = %v, want nickname (always written) and not avatar (omitempty)", u.Required)
	}
	if u.Properties["role"].Value.Enum == nil {
		t.Error("the hand-written keywords of the other fields were lost")
	}
}

// TestTheHandWrittenPartCannotContradictTheTypes feeds the generator sources that
// disagree with the Go types.
func TestTheHandWrittenPartCannotContradictTheTypes(t *testing.T) {
	base := string(source(t))
	tests := map[string]struct {
		edit func(string) string
		want string
	}{
		"a field the type does not have": {
			edit: func(s string) string {
				return strings.Replace(s, "        quantity: {minimum: 1}\n", "        quantity: {minimum: 1}\n        gift_wrap: {type: boolean}\n", 1)
			},
			want: "describes CartItem.gift_wrap, a field the Go type does not have",
		},
		"required fields of an answer": {
			edit: func(s string) string {
				return strings.Replace(s, "    OrderLine:\n", "    OrderLine:\n      required: [name]\n", 1)
			},
			want: "OrderLine: an answer's required fields come from its Go type",
		},
		"a format other than the Go type's": {
			edit: func(s string) string {
				return strings.Replace(s, "product_count: {minimum: 0}", "product_count: {minimum: 0, format: int32}", 1)
			},
			want: "says Category.product_count has format int32, the Go type gives int64",
		},
		"a type of its own": {
			edit: func(s string) string {
				return strings.Replace(s, "product_count: {minimum: 0}", "product_count: {type: string}", 1)
			},
			want: "Category.product_count: type comes from the Go type",
		},
		"an unknown constant": {
			edit: func(s string) string { return strings.Replace(s, `"${MaxStock}"`, `"${MaxStockk}"`, 1) },
			want: "no constant MaxStockk",
		},
		"a request requiring a field it does not have": {
			edit: func(s string) string { return strings.Replace(s, "required: [stock]", "required: [stock, reason]", 1) },
			want: "StockUpdate requires reason",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			src := tt.edit(base)
			if src == base {
				t.Fatal("the edit changed nothing: update the test to the source")
			}
			_, err := openapigen.Generate([]byte(src), api.OpenAPIGo)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestEveryGeneratedSchemaIsUsed keeps api.OpenAPIGo and the paths in step: a type listed
// but never referenced would be a schema no operation answers with.
func TestEveryGeneratedSchemaIsUsed(t *testing.T) {
	doc := string(api.OpenAPI())
	names := slices.Collect(maps.Keys(api.OpenAPIGo.Responses))
	names = append(names, slices.Collect(maps.Keys(api.OpenAPIGo.Requests))...)
	names = append(names, slices.Collect(maps.Keys(api.OpenAPIGo.Enums))...)
	for _, n := range names {
		b, _ := json.Marshal("#/components/schemas/" + n)
		if !strings.Contains(doc, string(b)) {
			t.Errorf("schema %s is never referenced", n)
		}
	}
}
