package delivery

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/storefront-operator/storefront/test/testenv"
)

var (
	scheme = runtime.NewScheme()
	// strictDecoder refuses unknown and duplicate fields, as the API server's Strict
	// field validation does.
	strictDecoder runtime.Decoder
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	strictDecoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// repoPath joins elem to the repository root.
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot()}, elem...)...)
}

// manifest is one object of a rendered manifest stream: its unstructured form, and its
// typed form when the kind is one client-go or apiextensions knows.
type manifest struct {
	source string
	u      *unstructured.Unstructured
	typed  runtime.Object
}

func (m manifest) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", m.u.GetKind(), m.u.GetNamespace(), m.u.GetName(), m.source)
}

// decodeStream splits a multi-document YAML stream and decodes every document: strictly
// into its Go type when the scheme has it, else into unstructured with apiVersion, kind
// and metadata.name required.
func decodeStream(source string, data []byte) ([]manifest, error) {
	var out []manifest
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		m, err := decodeOne(source, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
}

func decodeOne(source string, doc []byte) (manifest, error) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(doc, &u.Object); err != nil {
		return manifest{}, fmt.Errorf("%s: %w", source, err)
	}
	if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
		return manifest{}, fmt.Errorf("%s: object without apiVersion, kind or metadata.name:\n%s", source, doc)
	}
	m := manifest{source: source, u: u}
	if scheme.Recognizes(u.GroupVersionKind()) {
		obj, _, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			return manifest{}, fmt.Errorf("%s: %s %s: %w", source, u.GetKind(), u.GetName(), err)
		}
		m.typed = obj
	}
	return m, nil
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] == '#' {
			continue
		}
		out = append(out, l)
	}
	return bytes.Join(out, []byte("\n"))
}

// find returns the objects of a kind.
func find(ms []manifest, kind string) []manifest {
	var out []manifest
	for _, m := range ms {
		if m.u.GetKind() == kind {
			out = append(out, m)
		}
	}
	return out
}

// only returns the single object of a kind, failing the test otherwise.
func only(t *testing.T, ms []manifest, kind string) manifest {
	t.Helper()
	found := find(ms, kind)
	if len(found) != 1 {
		t.Fatalf("want exactly one %s, got %d: %v", kind, len(found), found)
	}
	return found[0]
}

// readYAMLFile decodes a file of one or more documents.
func readYAMLFile(t *testing.T, path string) []manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := decodeStream(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// restrictedViolations evaluates a pod against the latest "restricted" Pod Security
// Standard with the same code the API server's PodSecurity admission runs, and returns
// what it forbids ("" when the pod is allowed).
func restrictedViolations(t *testing.T, meta metav1.ObjectMeta, spec corev1.PodSpec) string {
	t.Helper()
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := policy.AggregateCheckResults(ev.EvaluatePod(
		psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &meta, &spec))
	if res.Allowed {
		return ""
	}
	return res.ForbiddenDetail()
}

// operatorFlags returns the flag names main.go defines (flag.XxxVar(&v, "name", ...)),
// plus zap's, which zap.Options.BindFlags adds.
func operatorFlags(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, repoPath("main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{
		"zap-devel": true, "zap-encoder": true, "zap-log-level": true,
		"zap-stacktrace-level": true, "zap-time-encoding": true,
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "flag" {
			return true
		}
		if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if name, err := strconv.Unquote(lit.Value); err == nil {
				flags[name] = true
			}
		}
		return true
	})
	return flags
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
