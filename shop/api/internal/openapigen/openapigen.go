// Package openapigen builds the shop's served OpenAPI document (shop/api/openapi.json)
// from two sources: openapi.yaml, written by hand, and the Go types the handlers encode
// and decode (api.OpenAPIGo), from which kin-openapi's openapi3gen derives the component
// schemas. `go generate ./shop/api` runs it (cmd/); a test in this package fails when the
// committed document is not what it generates.
//
// What stays hand-written, and why: the paths, parameters, responses and security (they
// are Gin routes and handler behaviour, which no type describes), descriptions and
// examples, formats and patterns (a Go string says nothing about being a date or a slug),
// and which request fields are required (a rule of the service, not of the type). The
// hand-written part of a generated schema may only add such keywords: naming a field the
// Go type lacks, or contradicting a keyword the type produced, is an error.
package openapigen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"sigs.k8s.io/yaml"

	"github.com/storefront-operator/storefront/shop/api"
)

// Generate returns the OpenAPI document (indented JSON) of the hand-written source with
// the schemas, enums and constants of from. The result is validated as OpenAPI 3.0.
func Generate(source []byte, from api.OpenAPIFromGo) ([]byte, error) {
	raw, err := yaml.YAMLToJSON(source)
	if err != nil {
		return nil, fmt.Errorf("reading the source: %w", err)
	}
	var doc map[string]any
	if err := decodeJSON(raw, &doc); err != nil {
		return nil, fmt.Errorf("reading the source: %w", err)
	}
	if err := substitute(doc, from.Constants); err != nil {
		return nil, err
	}
	if err := addEveryOperationResponses(doc); err != nil {
		return nil, err
	}
	schemas, err := generateSchemas(from)
	if err != nil {
		return nil, err
	}
	components, _ := doc["components"].(map[string]any)
	if components == nil {
		return nil, errors.New("the source has no components")
	}
	written, _ := components["schemas"].(map[string]any)
	if written == nil {
		written = map[string]any{}
	}
	for name, s := range schemas {
		if overlay, ok := written[name]; ok {
			ov, ok := overlay.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("components.schemas.%s: not an object", name)
			}
			if err := merge(s.schema, ov, name, s.request); err != nil {
				return nil, err
			}
		}
		written[name] = s.schema
	}
	components["schemas"] = written

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := Validate(out.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Validate loads an OpenAPI document with kin-openapi, resolving every reference, and
// validates it against the OpenAPI 3.0 rules, examples and defaults included.
func Validate(document []byte) error {
	_, err := Load(document)
	return err
}

// Load returns the document loaded and validated.
func Load(document []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("loading the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	return doc, nil
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// toJSONValue turns a Go value into its generic JSON form (numbers as json.Number).
func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, decodeJSON(b, &out)
}

var placeholder = regexp.MustCompile(`^\$\{([A-Za-z0-9]+)\}$`)

// substitute replaces every "${Name}" string in doc with constants[Name]; an unknown
// name, or a constant nothing uses, is an error.
func substitute(doc map[string]any, constants map[string]any) error {
	used := map[string]bool{}
	var walk func(v any, path string) (any, error)
	walk = func(v any, path string) (any, error) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				r, err := walk(e, path+"."+k)
				if err != nil {
					return nil, err
				}
				v[k] = r
			}
		case []any:
			for i, e := range v {
				r, err := walk(e, fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				v[i] = r
			}
		case string:
			m := placeholder.FindStringSubmatch(v)
			if m == nil {
				return v, nil
			}
			c, ok := constants[m[1]]
			if !ok {
				return nil, fmt.Errorf("%s: no constant %s in api.OpenAPIGo.Constants", strings.TrimPrefix(path, "."), m[1])
			}
			used[m[1]] = true
			return toJSONValue(c)
		}
		return v, nil
	}
	if _, err := walk(doc, ""); err != nil {
		return err
	}
	var unused []string
	for name := range constants {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return fmt.Errorf("constants of api.OpenAPIGo that openapi.yaml never uses: %s", strings.Join(unused, ", "))
	}
	return nil
}

// everyOperation names the source's responses that every operation can answer.
const everyOperation = "x-every-operation-responses"

// httpMethods are the keys of a path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// addEveryOperationResponses adds the responses under everyOperation to each operation
// that does not list that status itself, and drops the key.
func addEveryOperationResponses(doc map[string]any) error {
	every, _ := doc[everyOperation].(map[string]any)
	delete(doc, everyOperation)
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			responses, ok := op["responses"].(map[string]any)
			if !ok {
				return fmt.Errorf("%s %s has no responses", strings.ToUpper(m), path)
			}
			for status, r := range every {
				if _, ok := responses[status]; !ok {
					responses[status] = r
				}
			}
		}
	}
	return nil
}

// generated is one component schema made from Go.
type generated struct {
	schema map[string]any
	// request: the schema describes a request body, whose required fields the source names.
	request bool
}

var timeType = reflect.TypeFor[time.Time]()

// generateSchemas derives a component schema from every type and enum of from. Named
// types met inside another become references to their own schema; other structs inline.
func generateSchemas(from api.OpenAPIFromGo) (map[string]*generated, error) {
	names := map[reflect.Type]string{}
	types := map[string]reflect.Type{}
	requests := map[reflect.Type]bool{}
	add := func(name string, v any, request bool) error {
		t := reflect.TypeOf(v)
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("%s: %s is not a struct", name, t)
		}
		if other, dup := names[t]; dup {
			return fmt.Errorf("%s and %s are both %s", other, name, t)
		}
		if _, dup := types[name]; dup {
			return fmt.Errorf("two types are named %s", name)
		}
		names[t], types[name] = name, t
		requests[t] = request
		return nil
	}
	for name, v := range from.Responses {
		if err := add(name, v, false); err != nil {
			return nil, err
		}
	}
	for name, v := range from.Requests {
		if err := add(name, v, true); err != nil {
			return nil, err
		}
	}
	enums := map[reflect.Type][]any{}
	enumNames := map[reflect.Type]string{}
	out := map[string]*generated{}
	for name, values := range from.Enums {
		rv := reflect.ValueOf(values)
		if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() != reflect.String {
			return nil, fmt.Errorf("enum %s: want a slice of a string type, got %T", name, values)
		}
		var vs []any
		for i := 0; i < rv.Len(); i++ {
			vs = append(vs, rv.Index(i).String())
		}
		enums[rv.Type().Elem()] = vs
		enumNames[rv.Type().Elem()] = name
		if _, dup := types[name]; dup {
			return nil, fmt.Errorf("enum %s: a type has that name", name)
		}
		out[name] = &generated{schema: map[string]any{"type": "string", "enum": vs}}
	}

	roots := make([]reflect.Type, 0, len(names))
	for t := range names {
		roots = append(roots, t)
	}
	slices.SortFunc(roots, func(a, b reflect.Type) int { return strings.Compare(names[a], names[b]) })
	for _, root := range roots {
		request := requests[root]
		gen := openapi3gen.NewGenerator(
			openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true}),
			// Only the listed types become components; other structs are inlined.
			openapi3gen.CreateTypeNameGenerator(func(t reflect.Type) string { return names[t] }),
			openapi3gen.SchemaCustomizer(func(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
				// Pointers mark optional request fields (absent, not null); no answer holds null.
				s.Nullable = false
				if vs, ok := enums[t]; ok {
					s.Enum = vs
				}
				if t.Kind() != reflect.Struct || t == timeType {
					return nil
				}
				no := false
				s.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
				isRequest := request
				if _, named := names[t]; named {
					isRequest = requests[t]
				}
				fields, err := jsonFields(t)
				if err != nil {
					return err
				}
				for _, f := range fields {
					// An enum field refers to the enum's schema: one type for clients.
					if name, ok := enumNames[f.typ]; ok {
						s.Properties[f.name] = openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
					}
				}
				if !isRequest {
					for _, f := range fields {
						if !f.omitempty {
							s.Required = append(s.Required, f.name)
						}
					}
				}
				return nil
			}),
		)
		nested := openapi3.Schemas{}
		ref, err := gen.NewSchemaRefForValue(reflect.Zero(root).Interface(), nested)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", names[root], root, err)
		}
		schemas := map[string]*openapi3.SchemaRef{names[root]: ref}
		for name, s := range nested {
			schemas[name] = s
		}
		for name, s := range schemas {
			v, err := toJSONValue(s)
			if err != nil {
				return nil, err
			}
			t := types[name]
			g := &generated{schema: v.(map[string]any), request: requests[t]}
			if prev, ok := out[name]; ok {
				// Met again inside another type: it must come out the same.
				if !reflect.DeepEqual(prev.schema, g.schema) {
					return nil, fmt.Errorf("%s: %s generates different schemas inside different types", name, t)
				}
				continue
			}
			out[name] = g
		}
	}
	return out, nil
}

type jsonField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields lists the JSON fields of struct t as encoding/json writes them. An exported
// field without a json tag is an error: the document would name it differently from the
// encoder, or miss it.
func jsonFields(t reflect.Type) ([]jsonField, error) {
	var out []jsonField
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || (f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		tag, ok := f.Tag.Lookup("json")
		if !ok {
			return nil, fmt.Errorf("%s.%s has no json tag", t, f.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := false
		for _, o := range strings.Split(opts, ",") {
			if o == "omitempty" || o == "omitzero" {
				omit = true
			}
		}
		out = append(out, jsonField{name: name, omitempty: omit, typ: f.Type})
	}
	return out, nil
}

// fromGo are the keywords of a generated schema that only the Go type may set.
var fromGo = map[string]bool{
	"type": true, "$ref": true, "additionalProperties": true, "nullable": true,
	"allOf": true, "oneOf": true, "anyOf": true, "not": true,
}

// merge adds the hand-written keywords of overlay to the generated schema gen. path names
// the schema for messages; request allows the overlay to say which fields are required.
func merge(gen, overlay map[string]any, path string, request bool) error {
	keys := make([]string, 0, len(overlay))
	for k := range overlay {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := overlay[k]
		switch {
		case k == "properties":
			props, _ := v.(map[string]any)
			genProps, _ := gen["properties"].(map[string]any)
			names := make([]string, 0, len(props))
			for p := range props {
				names = append(names, p)
			}
			sort.Strings(names)
			for _, p := range names {
				gp, ok := genProps[p].(map[string]any)
				if !ok {
					return fmt.Errorf("openapi.yaml describes %s.%s, a field the Go type does not have", path, p)
				}
				op, ok := props[p].(map[string]any)
				if !ok {
					return fmt.Errorf("%s.%s: not an object", path, p)
				}
				if err := merge(gp, op, path+"."+p, request); err != nil {
					return err
				}
			}
		case k == "items":
			gi, ok := gen["items"].(map[string]any)
			oi, ok2 := v.(map[string]any)
			if !ok || !ok2 {
				return fmt.Errorf("openapi.yaml describes the items of %s, which is not an array in Go", path)
			}
			if err := merge(gi, oi, path+"[]", request); err != nil {
				return err
			}
		case k == "required":
			if !request {
				return fmt.Errorf("%s: an answer's required fields come from its Go type (every field without omitempty); remove required from openapi.yaml", path)
			}
			genProps, _ := gen["properties"].(map[string]any)
			list, _ := v.([]any)
			for _, r := range list {
				if _, ok := genProps[fmt.Sprint(r)]; !ok {
					return fmt.Errorf("%s requires %v, a field the Go type does not have", path, r)
				}
			}
			gen[k] = v
		case fromGo[k]:
			return fmt.Errorf("%s: %s comes from the Go type; remove it from openapi.yaml", path, k)
		default:
			if _, isRef := gen["$ref"]; isRef {
				return fmt.Errorf("%s is a reference to %s: describe that schema instead", path, gen["$ref"])
			}
			if prev, ok := gen[k]; ok && !reflect.DeepEqual(prev, v) {
				return fmt.Errorf("openapi.yaml says %s has %s %v, the Go type gives %v", path, k, v, prev)
			}
			gen[k] = v
		}
	}
	return nil
}
