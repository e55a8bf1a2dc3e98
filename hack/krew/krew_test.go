/*
Copyright 2026 The Storefront Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package krew holds the krew manifest template of `kubectl storefront` and its test.
package krew

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
)

// platforms are the archives the template names, keyed as in .SHA256.
var platforms = []string{"linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"}

// fill renders storefront.yaml as the release does, with made-up checksums.
func fill(t *testing.T, version string) []byte {
	t.Helper()
	tmpl, err := template.New("storefront.yaml").Option("missingkey=error").ParseFiles("storefront.yaml")
	if err != nil {
		t.Fatalf("parsing the template: %v", err)
	}
	sums := map[string]string{}
	for _, p := range platforms {
		sum := sha256.Sum256([]byte(p))
		sums[p] = hex.EncodeToString(sum[:])
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]any{"Version": version, "SHA256": sums}); err != nil {
		t.Fatalf("filling the template: %v", err)
	}
	return out.Bytes()
}

// validator is krew's validate-krew-manifest at the Makefile's KREW_VERSION, as
// `make tools` builds it.
func validator(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KREW_VERSION \?= (\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("KREW_VERSION not found in the Makefile")
	}
	bin := filepath.Join(root, "bin", "tools", "validate-krew-manifest", string(m[1]), "validate-krew-manifest")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not found: run `make tools` (GOBIN=%s go install sigs.k8s.io/krew/cmd/validate-krew-manifest@%s)",
			bin, filepath.Dir(bin), m[1])
	}
	return bin
}

// validate writes manifest as <dir>/<file> and runs the validator on it without
// installing (the archives exist only after a release).
func validate(t *testing.T, bin, file string, manifest []byte) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(path, manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-manifest", path, "-skip-install").CombinedOutput()
	return string(out), err
}

// The template, filled as a release fills it, passes krew's own validation
// (sigs.k8s.io/krew cmd/validate-krew-manifest: the index's structural checks, every
// platform selector matching a supported platform and no two overlapping).
func TestKrewManifestValidates(t *testing.T) {
	bin := validator(t)
	if out, err := validate(t, bin, "storefront.yaml", fill(t, "v0.3.0")); err != nil {
		t.Fatalf("validate-krew-manifest refused the filled template: %v\n%s", err, out)
	}
}

// The validator is not a rubber stamp: what krew refuses, it refuses here too.
func TestKrewManifestValidatorRefuses(t *testing.T) {
	bin := validator(t)
	good := string(fill(t, "v0.3.0"))
	cases := map[string]struct {
		file, manifest, want string
	}{
		"a file named after another plugin": {"store.yaml", good, `plugin should be named "store"`},
		"a version that is not semver":      {"storefront.yaml", string(fill(t, "0.3")), "failed to parse plugin version"},
		"a checksum that is not sha256": {"storefront.yaml",
			regexp.MustCompile(`sha256: [0-9a-f]{64}`).ReplaceAllString(good, "sha256: TODO"), "`sha256` value TODO is not valid"},
		"two platforms selecting linux/amd64": {"storefront.yaml",
			strings.Replace(good, "arch: arm64", "arch: amd64", 1), "overlapping selectors"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := validate(t, bin, tc.file, []byte(tc.manifest))
			if err == nil {
				t.Fatalf("validate-krew-manifest accepted it:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}
