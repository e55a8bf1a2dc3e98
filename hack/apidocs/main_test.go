package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../.."

func TestReferenceIsCurrent(t *testing.T) {
	want, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, Output))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run `make api-docs` (make manifests runs it) and commit", Output)
	}
}

func TestReferenceListsEveryField(t *testing.T) {
	out, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	crds, err := LoadCRDs(root)
	if err != nil {
		t.Fatal(err)
	}
	fields := 0
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			for _, r := range Rows(v.Schema.OpenAPIV3Schema) {
				fields++
				if !bytes.Contains(out, []byte("| `"+r.Path+"` |")) {
					t.Errorf("field %s is missing from the reference", r.Path)
				}
			}
		}
	}
	// The API has a few dozen fields; far fewer means the walk lost a branch.
	if fields < 40 {
		t.Errorf("only %d fields found in the CRD schema", fields)
	}
	for _, path := range []string{"spec.image", "spec.database.aurora.deletionPolicy", "spec.cache.serverless.maxECPUPerSecond",
		"spec.resources.claims[].name", "status.conditions[].reason", "status.failedImage"} {
		if !bytes.Contains(out, []byte("| `"+path+"` |")) {
			t.Errorf("expected field %s in the reference", path)
		}
	}
}

func TestReferenceListsEveryConditionReasonAndAnnotation(t *testing.T) {
	consts, err := loadConstants(filepath.Join(root, "api", "v1alpha1", "conditions.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(consts) < 20 {
		t.Fatalf("only %d constants found in conditions.go", len(consts))
	}
	out, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consts {
		if c.Doc == "" {
			t.Errorf("%s has no doc comment to show", c.Name)
		}
		if !strings.Contains(string(out), "| `"+c.Value+"` | `"+c.Name+"` |") {
			t.Errorf("%s (%s) is missing from the reference", c.Name, c.Value)
		}
	}
}

func TestCode(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain text is fenced once":               {"a.b", "`a.b`"},
		"a backtick inside gets a longer fence":   {"a`b", "``a`b``"},
		"a leading backtick is padded with space": {"`a", "`` `a ``"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := code(tc.in); got != tc.want {
				t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
