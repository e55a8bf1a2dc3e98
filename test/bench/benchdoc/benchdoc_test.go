package benchdoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteSectionKeepsWhatIsAroundIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docs", "benchmarks.md")
	if err := WriteSection(path, "Shop", "shop-bench", "first run\n"); err != nil {
		t.Fatal(err)
	}
	// Someone writes an analysis below the block, and another harness adds its section.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("\nanalysis kept\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "Operator", "operator-bench", "operator run\n"); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "Shop", "shop-bench", "second run\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	for _, want := range []string{"second run", "analysis kept", "## Operator", "operator run"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	if strings.Contains(s, "first run") || strings.Count(s, "## Shop") != 1 || !strings.HasPrefix(s, "# Benchmarks") {
		t.Errorf("file after three writes:\n%s", s)
	}
	if strings.Index(s, "## Shop") > strings.Index(s, "## Operator") {
		t.Errorf("the Shop section moved below the Operator section:\n%s", s)
	}
}
