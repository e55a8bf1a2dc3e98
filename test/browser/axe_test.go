package browser_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/storefront-operator/storefront/test/testenv"
)

// axeDigest is the SHA-256 of testdata/axe-core/axe.min.js (axe-core 4.14.1, see its
// README): the engine the tests trust is exactly the one vendored.
const axeDigest = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

var axeSource struct {
	once sync.Once
	js   string
	err  error
}

func loadAxe() (string, error) {
	axeSource.once.Do(func() {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "test", "browser", "testdata", "axe-core", "axe.min.js"))
		if err != nil {
			axeSource.err = err
			return
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != axeDigest {
			axeSource.err = fmt.Errorf("testdata/axe-core/axe.min.js has digest %s, want %s", got, axeDigest)
			return
		}
		axeSource.js = string(b)
	})
	return axeSource.js, axeSource.err
}

// axeResult is what axe.run reports, reduced to the violations.
type axeResult struct {
	Violations []struct {
		ID    string `json:"id"`
		Help  string `json:"help"`
		Nodes []struct {
			Target []any  `json:"target"`
			HTML   string `json:"html"`
		} `json:"nodes"`
	} `json:"violations"`
	Passes int `json:"passes"`
}

// axe runs axe-core on the page in the tab (injected through DevTools, so it works with
// the page's scripts disabled and under its CSP) with the WCAG 2.0/2.1 A and AA rules,
// and fails on any violation. It returns how many rules passed, so a caller can tell it
// ran.
func (b *tab) axe(name string) int {
	b.t.Helper()
	js, err := loadAxe()
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	if ok := evaluate[bool](b, "inject axe-core", js+"; typeof axe === 'object'"); !ok {
		b.fail("inject axe-core", errorf("axe is not defined after injecting it"))
	}
	res := value(b, "axe "+name, chromedp.Evaluate[axeResult](`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
		resultTypes: ["violations"]
	}).then(r => ({violations: r.violations.map(v => ({id: v.id, help: v.help,
		nodes: v.nodes.map(n => ({target: n.target, html: n.html}))})), passes: r.passes.length}))`, chromedp.EvalAwaitPromise))
	if len(res.Violations) > 0 {
		var lines []string
		for _, v := range res.Violations {
			for _, n := range v.Nodes {
				lines = append(lines, fmt.Sprintf("%s (%s): %v %s", v.ID, v.Help, n.Target, n.HTML))
			}
		}
		b.fail("axe "+name, fmt.Errorf("%d violations:\n  %s", len(lines), strings.Join(lines, "\n  ")))
	}
	return res.Passes
}

// axeScriptsOff runs axe in a tab whose page scripts are disabled (disableJavaScript):
// axe.run resolves through the page's event loop, which needs script execution, so it
// is enabled for the check and disabled again; the page itself is not reloaded.
func (b *tab) axeScriptsOff(name string) int {
	b.t.Helper()
	setScripts := func(disabled bool) {
		b.do("script execution", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: disabled})
			return err
		}))
	}
	setScripts(false)
	defer setScripts(true)
	return b.axe(name)
}

// TestAxeFindsViolations checks that the axe check can fail: a page with an image
// without alt text and an unlabelled field is reported.
func TestAxeFindsViolations(t *testing.T) {
	shop := startShop(t)
	b := newTab(t, shop)
	b.checkA11y = false
	b.open("/", 200)
	evaluate[bool](b, "break the page", `(() => {
		const img = document.createElement("img"); img.src = "/static/img/placeholder.svg";
		document.querySelector("main").append(img);
		const input = document.createElement("input"); document.querySelector("main").append(input);
		return true;
	})()`)
	js, err := loadAxe()
	if err != nil {
		t.Fatal(err)
	}
	evaluate[bool](b, "inject axe-core", js+"; true")
	ids := value(b, "axe", chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}})
		.then(r => r.violations.map(v => v.id))`, chromedp.EvalAwaitPromise))
	got := strings.Join(ids, " ")
	if !strings.Contains(got, "image-alt") || !strings.Contains(got, "label") {
		t.Fatalf("axe reported %q, want image-alt and label", got)
	}
}
