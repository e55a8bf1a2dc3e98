// Package browser_test drives the storefront in Debian's Chromium with chromedp: one
// browser per test binary, a fresh browser context (its own cookies) and tab per test.
// Every page a test lands on is checked for accessibility from the rendered DOM, and a
// failing step saves a screenshot and the page's HTML under test/artifacts/.
package browser_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

// chromiumInstall is what a machine without the browser needs.
const chromiumInstall = "apt-get install -y chromium"

// stepTimeout bounds one step (a navigation, a click and the page it loads).
const stepTimeout = 30 * time.Second

var browser struct {
	once    sync.Once
	ctx     context.Context
	cancel  func()
	dataDir string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
		_ = os.RemoveAll(browser.dataDir)
	}
	testenv.Stop()
	os.Exit(code)
}

// chromiumPath finds Debian's Chromium (CHROMIUM_PATH overrides it).
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return "", fmt.Errorf("chromium is not installed; install it with: %s", chromiumInstall)
}

// startBrowser starts the one Chromium of this test binary, headless, with a fresh
// profile and nothing running in the background that could reach the network.
func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		browser.err = err
		return
	}
	browser.dataDir, err = os.MkdirTemp("", "storefront-chromium-")
	if err != nil {
		browser.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(browser.dataDir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first Do starts the browser; its lifetime is ctx's (a timeout here would
	// close the browser when it ends).
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		browser.err = fmt.Errorf("starting %s: %w (is it installed? %s)", path, err, chromiumInstall)
		return
	}
	browser.ctx = ctx
	browser.cancel = func() { cancelCtx(); cancelAlloc() }
}

// tab is one test's browser tab on a shop.
type tab struct {
	t    *testing.T
	ctx  context.Context
	shop *shoptest.Shop
	step int

	mu      sync.Mutex
	console []string
	// checkA11y is on by default: every page landed on is checked.
	checkA11y bool
}

// newTab opens a tab in a new browser context (its own cookies and cache).
func newTab(t *testing.T, shop *shoptest.Shop) *tab {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		t.Fatalf("browser tests need Chromium: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, shop: shop, checkA11y: true}
	// The first Do opens the tab, outside any step timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()
	return b
}

// disableJavaScript turns off script execution in the tab, as a shopper without
// JavaScript has it.
func (b *tab) disableJavaScript() {
	b.t.Helper()
	b.do("disable JavaScript", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
}

// do runs a step's actions; a failure saves the artifacts and ends the test.
func (b *tab) do(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.step++
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(name, err)
	}
}

// value runs one action that returns a value.
func value[T any](b *tab, name string, a chromedp.Action[T]) T {
	b.t.Helper()
	b.step++
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(name, err)
	}
	return v
}

// load runs actions that cause a navigation (a link, a form), waits for the page, and
// checks its status and accessibility.
func (b *tab) load(name string, status int64, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.step++
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.fail(name, err)
	}
	if resp == nil {
		b.fail(name, errors.New("no page loaded"))
	}
	if resp.Status != status {
		b.fail(name, fmt.Errorf("%s answered %d, want %d", resp.URL, resp.Status, status))
	}
	b.checkPage(name)
}

// open navigates to a path of the shop.
func (b *tab) open(path string, status int64) {
	b.t.Helper()
	b.load("open "+path, status, chromedp.Navigate(b.shop.URL+path))
}

// click clicks the element sel selects and waits for the page it loads.
func (b *tab) click(name, sel string, status int64) {
	b.t.Helper()
	b.load(name, status, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// fill replaces the value of the field sel selects by typing v.
func (b *tab) fill(sel, v string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), v))
}

// text returns the visible text of the element sel selects.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return value(b, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
}

// expectText checks that the element sel selects contains want.
func (b *tab) expectText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.fail("expect "+sel, fmt.Errorf("%s reads %q, want it to contain %q", sel, got, want))
	}
}

// location is the current path and query.
func (b *tab) location() string {
	b.t.Helper()
	loc := value(b, "location", chromedp.Location())
	return strings.TrimPrefix(loc, b.shop.URL)
}

// evaluate runs JavaScript in the page (through DevTools: it works with the page's
// scripts disabled too).
func evaluate[T any](b *tab, name, js string) T {
	b.t.Helper()
	return value(b, name, chromedp.Evaluate[T](js))
}

// checkPage checks the page just loaded: accessibility from the DOM, and no resource
// refused by the Content-Security-Policy.
func (b *tab) checkPage(name string) {
	b.t.Helper()
	if b.checkA11y {
		if problems := evaluate[[]string](b, "accessibility of "+name, a11yScript); len(problems) > 0 {
			b.fail("accessibility of "+name, fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  ")))
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if strings.Contains(m, "Content Security Policy") {
			b.t.Errorf("%s: the CSP refused something: %s", name, m)
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fail saves a screenshot and the HTML of the page under test/artifacts/ and ends the
// test.
func (b *tab) fail(name string, err error) {
	b.t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "test", "artifacts")
	base := filepath.Join(dir, unsafeName.ReplaceAllString(fmt.Sprintf("%s-%02d-%s", b.t.Name(), b.step, name), "_"))
	var saved []string
	if mkErr := os.MkdirAll(dir, 0o755); mkErr == nil {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		// Quality 100 makes chromedp capture a PNG.
		if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			if os.WriteFile(base+".png", png, 0o644) == nil {
				saved = append(saved, base+".png")
			}
		}
		if html, herr := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); herr == nil {
			if os.WriteFile(base+".html", []byte(html), 0o644) == nil {
				saved = append(saved, base+".html")
			}
		}
	}
	b.t.Fatalf("step %d %q: %v\nartifacts: %v", b.step, name, err, saved)
}

// a11yScript checks the rendered page and returns its problems: the document language,
// one h1, the landmarks, the skip link, alt text on every image, a label with text on
// every form control, accessible names on links and buttons, unique ids, invalid fields
// described by a visible message (aria-describedby), and text contrast (WCAG 2 AA:
// 4.5:1, 3:1 for large text).
const a11yScript = `(() => {
  const problems = [];
  const lang = document.documentElement.getAttribute("lang");
  if (!lang) problems.push("<html> has no lang");
  const h1s = document.querySelectorAll("h1");
  if (h1s.length !== 1) problems.push(h1s.length + " h1 elements, want 1");
  if (document.querySelectorAll("main").length !== 1) problems.push("not exactly one <main>");
  if (!document.querySelector("header")) problems.push("no <header> (banner)");
  if (!document.querySelector("footer")) problems.push("no <footer> (contentinfo)");
  if (!document.querySelector("nav[aria-label]")) problems.push("no labelled <nav>");
  const skip = document.querySelector("a.skip-link");
  if (!skip || skip.getAttribute("href") !== "#main" || !document.getElementById("main")) problems.push("no skip link to #main");
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("image " + img.getAttribute("src") + " has no alt");
    if (img.complete && img.naturalWidth === 0) problems.push("image " + img.getAttribute("src") + " did not load");
  }
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (["hidden", "submit", "button", "reset", "image"].includes(el.type)) continue;
    const labels = el.labels ? Array.from(el.labels) : [];
    const named = labels.some(l => l.textContent.trim() !== "") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push(el.tagName.toLowerCase() + " name=" + el.name + " has no label");
  }
  for (const el of document.querySelectorAll("[aria-invalid=true]")) {
    const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (ids.length === 0) problems.push("invalid field " + el.name + " has no aria-describedby");
    for (const id of ids) {
      const d = document.getElementById(id);
      if (!d || d.textContent.trim() === "") problems.push("invalid field " + el.name + " is described by a missing or empty #" + id);
    }
  }
  for (const el of document.querySelectorAll("a[href], button")) {
    const name = el.textContent.trim() || el.getAttribute("aria-label") || Array.from(el.querySelectorAll("img")).map(i => i.alt).join("");
    if (!name) problems.push(el.tagName.toLowerCase() + " " + (el.getAttribute("href") || "") + " has no accessible name");
  }
  const ids = new Set();
  for (const el of document.querySelectorAll("[id]")) {
    if (ids.has(el.id)) problems.push("duplicate id " + el.id);
    ids.add(el.id);
  }
  const rgb = s => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(",").map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const checked = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || checked.has(el) || n.textContent.trim() === "") continue;
    checked.add(el);
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue; // visually hidden
    const st = getComputedStyle(el);
    if (st.visibility === "hidden" || st.display === "none") continue;
    const fg = rgb(st.color);
    if (!fg) continue;
    const bg = background(el);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) problems.push("contrast " + ratio.toFixed(2) + " < " + need + " for " + JSON.stringify(n.textContent.trim().slice(0, 30)));
  }
  return problems;
})()`
