package delivery

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// parseDockerfile parses a Dockerfile with BuildKit's own parser into its stages.
func parseDockerfile(t *testing.T, path string) []instructions.Stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: BuildKit warns: %s", path, w.Short)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return stages
}

func commandsOf[T instructions.Command](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func TestDockerfiles(t *testing.T) {
	tests := map[string]struct {
		dockerfile string
		binary     string // path of the binary in the image
		pkg        string // the main package go build compiles
	}{
		"the operator image runs /manager": {dockerfile: "Dockerfile", binary: "/manager", pkg: "."},
		"the shop image runs /shop":        {dockerfile: "shop/Dockerfile", binary: "/shop", pkg: "./shop/cmd/shop"},
	}
	ignore := dockerignore(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stages := parseDockerfile(t, repoPath(tc.dockerfile))
			if len(stages) < 2 {
				t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
			}
			builder, final := stages[0], stages[len(stages)-1]
			if builder.Name != "builder" || !strings.HasPrefix(builder.BaseName, "golang:") {
				t.Errorf("first stage %q FROM %s, want builder FROM golang", builder.Name, builder.BaseName)
			}
			if final.BaseName != "gcr.io/distroless/static:nonroot" {
				t.Errorf("final stage FROM %s, want gcr.io/distroless/static:nonroot", final.BaseName)
			}

			// Multi-platform: the builder runs on the build machine and cross-compiles
			// for the platform BuildKit was asked for. BuildKit fills TARGETOS and
			// TARGETARCH only for an ARG without a default; a default would win and put
			// amd64 binaries into the arm64 image.
			if builder.Platform != "$BUILDPLATFORM" {
				t.Errorf("builder FROM --platform=%q, want $BUILDPLATFORM (cross-compiling, no emulation)", builder.Platform)
			}
			declared := map[string]bool{}
			for _, a := range commandsOf[*instructions.ArgCommand](builder) {
				for _, kv := range a.Args {
					if kv.Key == "TARGETOS" || kv.Key == "TARGETARCH" {
						declared[kv.Key] = true
						if kv.Value != nil {
							t.Errorf("ARG %s=%s: a default overrides the platform BuildKit sets", kv.Key, *kv.Value)
						}
					}
				}
			}
			if !declared["TARGETOS"] || !declared["TARGETARCH"] {
				t.Errorf("the builder declares %v; it must declare ARG TARGETOS and ARG TARGETARCH to see them", declared)
			}

			// The build: static, reproducible paths, version stamped.
			var build string
			for _, r := range commandsOf[*instructions.RunCommand](builder) {
				if line := strings.Join(r.CmdLine, " "); strings.Contains(line, "go build") {
					build = line
				}
			}
			for _, want := range []string{"CGO_ENABLED=0", "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}", "-trimpath", "-ldflags", "-X main.version=${VERSION}",
				"-o /out/" + filepath.Base(tc.binary) + " " + tc.pkg} {
				if !strings.Contains(build, want) {
					t.Errorf("go build line lacks %q: %s", want, build)
				}
			}

			// The image: the binary at its path, run as a numeric non-root user.
			copies := commandsOf[*instructions.CopyCommand](final)
			if len(copies) != 1 || copies[0].From != "builder" || copies[0].DestPath != tc.binary ||
				!slices.Equal(copies[0].SourcePaths, []string{"/out/" + filepath.Base(tc.binary)}) {
				t.Errorf("final stage copies %+v, want only /out/%s from builder to %s", copies, filepath.Base(tc.binary), tc.binary)
			}
			users := commandsOf[*instructions.UserCommand](final)
			if len(users) == 0 || users[len(users)-1].User != "65532:65532" {
				t.Errorf("final stage USER %v, want 65532:65532 (distroless nonroot, numeric for runAsNonRoot)", users)
			}
			eps := commandsOf[*instructions.EntrypointCommand](final)
			if len(eps) != 1 || eps[0].PrependShell || !slices.Equal(eps[0].CmdLine, []string{tc.binary}) {
				t.Errorf("ENTRYPOINT %+v, want exec form [%q]", eps, tc.binary)
			}

			// Every Go package the binary is built from reaches the build: copied by the
			// builder and not excluded by .dockerignore.
			var copied []string
			for _, c := range commandsOf[*instructions.CopyCommand](builder) {
				copied = append(copied, c.SourcePaths...)
			}
			for _, dir := range localPackageDirs(t, tc.pkg) {
				if !coveredBy(dir, copied) {
					t.Errorf("package directory %s is not copied into the builder (COPY %v)", dir, copied)
				}
				if excluded, err := ignore.MatchesOrParentMatches(filepath.Join(dir, "x.go")); err != nil || excluded {
					t.Errorf("package directory %s is excluded by .dockerignore (%v)", dir, err)
				}
			}
		})
	}
}

func dockerignore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// localPackageDirs lists, relative to the repository root, the directories of this
// module's packages that pkg is built from.
func localPackageDirs(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", pkg)
	cmd.Dir = repoPath()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var dirs []string
	for _, d := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(repoPath(), d)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, rel)
	}
	if len(dirs) == 0 {
		t.Fatalf("go list found no package for %s", pkg)
	}
	return dirs
}

// coveredBy reports whether a package directory is inside one of the COPY sources
// (main.go stands for the root directory's package).
func coveredBy(dir string, sources []string) bool {
	for _, s := range sources {
		s = strings.TrimSuffix(s, "/")
		if s == dir || strings.HasPrefix(dir, s+"/") || (dir == "." && strings.HasSuffix(s, ".go") && !strings.Contains(s, "/")) {
			return true
		}
	}
	return false
}

func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	ignore := dockerignore(t)
	tests := map[string]struct {
		path     string
		excluded bool
	}{
		"go.mod reaches the build":                {"go.mod", false},
		"go.sum reaches the build":                {"go.sum", false},
		"the operator's main.go reaches it":       {"main.go", false},
		"the shop's sources reach it":             {"shop/cmd/shop/main.go", false},
		"tests stay out":                          {"controllers/suite_test.go", true},
		"build output stays out":                  {"bin/manager", true},
		"the envtest binaries stay out":           {"bin/k8s/1.37.2/kube-apiserver", true},
		"Terraform state stays out":               {"hack/eks/terraform.tfstate", true},
		"git metadata stays out":                  {".git/config", true},
		"the docs stay out":                       {"docs/runbook.md", true},
		"the test suites and their data stay out": {"test/delivery/helpers_test.go", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ignore.MatchesOrParentMatches(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.excluded {
				t.Errorf("%s excluded = %v, want %v", tc.path, got, tc.excluded)
			}
		})
	}
}
