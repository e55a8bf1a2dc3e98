// Package benchdoc writes benchmark results into docs/benchmarks.md. Each harness owns
// one section, delimited by HTML comment markers, and rewrites only the text between its
// markers, so the analysis written by hand around it and the other harnesses' sections
// are kept.
package benchdoc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

const header = "# Benchmarks\n\nResults of `make bench` against the [targets](architecture.md#performance-targets), written by the harnesses.\n"

// WriteSection replaces the generated block of section (e.g. "Shop") in the file at path
// with report. The block is marked `<!-- <marker>:begin -->` … `<!-- <marker>:end -->`;
// a missing file or section is created, with the section heading, at the end.
func WriteSection(path, section, marker, report string) error {
	begin, end := "<!-- "+marker+":begin -->", "<!-- "+marker+":end -->"
	block := begin + "\n" + report + end
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		old = []byte(header)
	} else if err != nil {
		return err
	}
	s := string(old)
	if i, j := strings.Index(s, begin), strings.Index(s, end); i >= 0 && j > i {
		s = s[:i] + block + s[j+len(end):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n## " + section + "\n\n" + block + "\n"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
