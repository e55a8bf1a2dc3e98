package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docs", "benchmarks.md")
	if err := writeSection(path, "first run\n"); err != nil {
		t.Fatal(err)
	}
	// Someone adds the operator's section below.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("\n## Operator\n\nkept\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "second run\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	if strings.Contains(s, "first run") || !strings.Contains(s, "second run") || !strings.Contains(s, "## Operator\n\nkept") ||
		strings.Count(s, "## Shop") != 1 || !strings.HasPrefix(s, "# Benchmarks") {
		t.Errorf("file after two runs:\n%s", s)
	}
}
