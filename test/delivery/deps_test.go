package delivery

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/storefront-operator/storefront"

// goListDeps lists the import paths the packages matching pattern are built from.
func goListDeps(t *testing.T, pattern string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pattern)
	cmd.Dir = repoPath()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pattern, err)
	}
	return strings.Fields(string(out))
}

// businessForbidden are the handlers and the HTTP server the shop's business packages
// never import.
var businessForbidden = regexp.MustCompile(`^(` + modulePath + `/shop/(api|web|app|platform/httpserver)(/|$)|github\.com/gin-gonic/)`)

// The dependency rules of docs/architecture.md#dependency-rules.
func TestDependencyRules(t *testing.T) {
	// The check must be able to say no: the JSON handlers do import gin and the server.
	if !slices.ContainsFunc(goListDeps(t, "./shop/api"), businessForbidden.MatchString) {
		t.Fatal("the forbidden-import pattern matches nothing shop/api imports; the check below proves nothing")
	}
	tests := map[string]struct {
		packages  string
		forbidden *regexp.Regexp
	}{
		// What the shop binary links: the OpenAPI generator under shop/api/internal is a
		// build-time tool (go generate) and may read YAML with any library.
		"the shop imports nothing of the operator or of Kubernetes": {
			"./shop/cmd/shop", regexp.MustCompile(`^(` + modulePath + `/(api|controllers)(/|$)|k8s\.io/|sigs\.k8s\.io/)`)},
		"the API holds types only: no client, no controller code": {
			"./api/...", regexp.MustCompile(`^(k8s\.io/client-go|sigs\.k8s\.io/controller-runtime|` + modulePath + `/(controllers|shop|test|hack))(/|$)`)},
		"the operator imports nothing from the shop, test or hack": {
			".", regexp.MustCompile(`^` + modulePath + `/(shop|test|hack)(/|$)`)},
		"the controllers import nothing from the shop, test or hack": {
			"./controllers", regexp.MustCompile(`^` + modulePath + `/(shop|test|hack)(/|$)`)},
		// The plugin is a client of the Storefront API: it reads what the operator
		// publishes (labels, names, conditions), not the operator's code.
		"the kubectl plugin imports the API, not the operator, the shop, test or hack": {
			"./cmd/kubectl-storefront", regexp.MustCompile(`^` + modulePath + `/(controllers|shop|test|hack)(/|$)`)},
	}
	for _, business := range []string{"catalog", "search", "auth", "cart", "orders", "admin", "seed"} {
		tests["the shop's "+business+" package imports neither the handlers nor the HTTP server"] = struct {
			packages  string
			forbidden *regexp.Regexp
		}{"./shop/" + business, businessForbidden}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			deps := goListDeps(t, tc.packages)
			if len(deps) == 0 {
				t.Fatalf("go list found nothing for %s", tc.packages)
			}
			for _, d := range deps {
				if tc.forbidden.MatchString(d) {
					t.Errorf("%s depends on %s", tc.packages, d)
				}
			}
		})
	}
}
