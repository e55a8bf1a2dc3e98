// Command shopbench is the shop's load benchmark (make bench-shop; docs/architecture.md#performance-targets). In one run
// it starts throwaway PostgreSQL and Redis servers (Redis as ElastiCache Serverless
// presents it: cluster mode, TLS, the shop's ACL user, the default user off), builds the
// shop, migrates and seeds 10,000 synthetic products, starts `shop serve` with Redis
// exactly as production runs it, and a bare Gin handler returning constant JSON in a
// process with the same settings (the baseline). It then measures each scenario for a fixed duration at a fixed
// concurrency over keep-alive loopback connections and prints requests per second,
// p50/p95/p99 latency, each scenario's throughput as a ratio to the baseline, and what
// the shop's metrics say of each measured window (Redis hits and errors, SQL statements
// and token checks answered by PostgreSQL per request), and writes the table into
// docs/benchmarks.md (the Shop section).
//
// Every request of the uncached search scenario has a unique query string (a max_price
// above every price, different each time), so it misses both cache levels and runs the
// full-text search in PostgreSQL; nothing in the shop knows it is being benchmarked.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/shop/platform/httpserver"
	"github.com/storefront-operator/storefront/shop/search"
	"github.com/storefront-operator/storefront/test/bench/benchdoc"
	"github.com/storefront-operator/storefront/test/otlptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

type options struct {
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	products    int
	write       string
	// run selects the scenarios to measure (with the baseline) while developing; such a
	// run prints its figures and writes nothing.
	run *regexp.Regexp
}

func main() {
	// Re-executed as the baseline server: `shopbench -baseline-serve ADDR`.
	if len(os.Args) == 3 && os.Args[1] == "-baseline-serve" {
		if err := serveBaseline(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measuring time per scenario and round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds over all scenarios; figures are medians over the rounds")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each scenario")
	flag.IntVar(&o.concurrency, "concurrency", 4, "concurrent keep-alive clients")
	flag.IntVar(&o.products, "products", 20000, "synthetic products to seed")
	flag.StringVar(&o.write, "write", "", "markdown file whose Shop section receives the results (e.g. docs/benchmarks.md)")
	only := flag.String("run", "", "regular expression: measure only the scenarios whose names match it, and the baseline, and print them (no -write; e.g. -run search)")
	flag.Parse()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil || o.write != "" {
			fmt.Fprintln(os.Stderr, "shopbench: -run takes a regular expression, and a partial run writes no document (no -write)")
			os.Exit(2)
		}
		o.run = re
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "shopbench:", err)
		testenv.Stop()
		os.Exit(1)
	}
	testenv.Stop()
}

// serveBaseline serves constant JSON with a bare Gin engine (release mode, no
// middleware) behind the same http.Server settings as the shop.
func serveBaseline(addr string) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/baseline", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok", "service": "baseline"})
	})
	srv := httpserver.NewHTTPServer(r)
	srv.Addr = addr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type scenario struct {
	name string
	// url returns the i-th request's URL (a GET).
	url func(i int64) string
	// request, when set, builds the i-th request instead of url.
	request func(i int64) (*http.Request, error)
	// want is the status of a successful request (200 when 0).
	want int
	// succeeded counts every successful request, warm-up included (the checkout
	// scenario compares it with the orders in the database).
	succeeded *atomic.Int64
	// clients overrides the concurrency when set.
	clients int
	// mix: any status is an answer, counted by status (result.statuses); latencies are
	// of the answers with status want only, and other statuses are not errors.
	mix bool
}

const adversarialName = "GET /api/v1/search, adversarial (unique random 200-character texts)"

// randomText is the i-th random text of n characters: lower-case letters and digits in
// words of 1 to 12, as a script would send.
func randomText(i int64, n int) string {
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	word := 0
	for k := range b {
		if word > 0 && (word >= 12 || r.IntN(7) == 0) && k < n-1 {
			b[k], word = ' ', 0
			continue
		}
		b[k] = alphabet[r.IntN(len(alphabet))]
		word++
	}
	return string(b)
}

// seq numbers the requests of the whole run, so the "unique queries" of the uncached
// scenario never repeat, not even across scenarios.
var seq atomic.Int64

type result struct {
	scenario         string
	requests, errors int64
	// shop is what the shop's metrics moved by over the measured windows.
	shop               windowStats
	rps                float64
	p50, p95, p99, max time.Duration
	ratio              float64
	// p99Min and p99Max are the extremes of p99 over the rounds.
	p99Min, p99Max time.Duration
	// statuses counts the answers by status (mix scenarios).
	statuses map[int]int64
	mix      bool
}

// median combines the rounds of one scenario: the median of each figure, the sum of
// requests and errors, the largest maximum and the p99 spread.
func median(rs []result) result {
	out := rs[0]
	mid := func(get func(r result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	out.rps = mid(func(r result) float64 { return r.rps })
	out.p50 = time.Duration(mid(func(r result) float64 { return float64(r.p50) }))
	out.p95 = time.Duration(mid(func(r result) float64 { return float64(r.p95) }))
	out.p99 = time.Duration(mid(func(r result) float64 { return float64(r.p99) }))
	out.requests, out.errors, out.max, out.p99Min, out.p99Max = 0, 0, 0, rs[0].p99, rs[0].p99
	out.shop = windowStats{}
	out.statuses = map[int]int64{}
	for _, r := range rs {
		for code, n := range r.statuses {
			out.statuses[code] += n
		}
		out.shop.add(r.shop)
		out.requests += r.requests
		out.errors += r.errors
		out.max = max(out.max, r.max)
		out.p99Min, out.p99Max = min(out.p99Min, r.p99), max(out.p99Max, r.p99)
	}
	return out
}

func run(o options) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	root := testenv.RepoRoot()
	work, err := os.MkdirTemp("", "shopbench-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()

	step("building the shop")
	shopBin := filepath.Join(work, "shop")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", shopBin, "./shop/cmd/shop")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the shop: %w\n%s", err, out)
	}

	loadBefore := loadAverage()
	step("starting PostgreSQL and Redis")
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.Stop()
	rd, err := testenv.StartRedis(ctx, testenv.RedisOptions{})
	if err != nil {
		return err
	}
	defer rd.Stop()
	redisVersion := "unknown"
	if info, err := rd.Admin().Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				redisVersion = v
			}
		}
	}
	_, dbURL, err := pg.CreateDatabase(ctx)
	if err != nil {
		return err
	}
	env := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + rd.URL, "SSL_CERT_FILE=" + rd.CA.CAFile, "JWT_SECRET=" + benchSecret, "SHUTDOWN_DELAY=0s",
		"ADMIN_EMAIL=" + benchAdminEmail, "ADMIN_PASSWORD=" + benchAdminPassword}

	step("migrating and seeding %d products", o.products)
	if out, err := shopCmd(ctx, shopBin, env, "migrate").CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %w\n%s", err, out)
	}
	seedStart := time.Now()
	if out, err := shopCmd(ctx, shopBin, env, "seed", "--products", fmt.Sprint(o.products)).CombinedOutput(); err != nil {
		return fmt.Errorf("seed: %w\n%s", err, out)
	}
	seedTime := time.Since(seedStart)
	slugs, pgVersion, err := catalogFacts(ctx, dbURL)
	if err != nil {
		return err
	}

	shopAddr, err := freeAddr()
	if err != nil {
		return err
	}
	shopLog, err := os.Create(filepath.Join(work, "shop.log"))
	if err != nil {
		return err
	}
	defer func() { _ = shopLog.Close() }()
	step("starting shop serve on %s (logs at info level, as in production)", shopAddr)
	// TRUSTED_PROXIES: the checkout's customers register as clients of their own behind
	// a load balancer on 127.0.0.1. SEARCH_RATE_LIMIT: far above what 4 clients can
	// offer (about 1,000 searches/s here), so that the adversarial search measures the
	// statement, not the limiter (the limiter has its own tests).
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	serve := shopCmd(ctx, shopBin, append(env, "HTTP_ADDR="+shopAddr, "METRICS_ADDR="+metricsAddr, "TRUSTED_PROXIES=127.0.0.1", "SEARCH_RATE_LIMIT=1000000", "PAYMENT_PROVIDER=mock"), "serve")
	serve.Stdout, serve.Stderr = shopLog, shopLog
	if err := serve.Start(); err != nil {
		return err
	}
	defer stopProcess(serve)

	// The same shop, traced: OTLP/HTTP to an in-process collector, with the sampler the
	// operator sets by default. Its spans are counted, not kept.
	collector, err := otlptest.Start()
	if err != nil {
		return err
	}
	defer collector.Close()
	collector.Keep = func(otlptest.Span) bool { return false }
	tracedAddr, err := freeAddr()
	if err != nil {
		return err
	}
	tracedLog, err := os.Create(filepath.Join(work, "shop-traced.log"))
	if err != nil {
		return err
	}
	defer func() { _ = tracedLog.Close() }()
	step("starting a traced shop serve on %s (OTLP/HTTP to an in-process collector at %s, parentbased_traceidratio %s)", tracedAddr, collector.Endpoint, benchSamplingRatio)
	tracedMetricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	traced := shopCmd(ctx, shopBin, append(env, "HTTP_ADDR="+tracedAddr, "METRICS_ADDR="+tracedMetricsAddr, "TRUSTED_PROXIES=127.0.0.1", "SEARCH_RATE_LIMIT=1000000", "PAYMENT_PROVIDER=mock",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+collector.Endpoint,
		"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG="+benchSamplingRatio), "serve")
	traced.Stdout, traced.Stderr = tracedLog, tracedLog
	if err := traced.Start(); err != nil {
		return err
	}
	defer stopProcess(traced)

	baseAddr, err := freeAddr()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	baseline := exec.CommandContext(ctx, self, "-baseline-serve", baseAddr)
	baseline.Stderr = os.Stderr
	if err := baseline.Start(); err != nil {
		return err
	}
	defer stopProcess(baseline)

	for _, u := range []string{"http://" + shopAddr + "/readyz", "http://" + tracedAddr + "/readyz", "http://" + baseAddr + "/baseline"} {
		if err := waitReady(ctx, u); err != nil {
			return err
		}
	}

	shop := "http://" + shopAddr
	shopMetrics = "http://" + metricsAddr + "/metrics"
	terms := []string{"lamp", "oak", "kettle", "tent", "walnut", "headphones", "notebook", "ceramic", "linen", "backpack", "copper", "mat"}
	scenarios := []scenario{
		{name: "baseline: bare Gin, constant JSON", url: func(int64) string { return "http://" + baseAddr + "/baseline" }},
		{name: "GET /api/v1/products?page=1 (cached)", url: func(int64) string { return shop + "/api/v1/products?page=1" }},
		{name: "GET /api/v1/products/{slug} (cached, 100 slugs)", url: func(i int64) string { return shop + "/api/v1/products/" + slugs[i%int64(len(slugs))] }},
		{name: "GET /api/v1/search, uncached (unique queries)", url: func(i int64) string {
			// max_price is above every price (so it filters nothing) and unique per request.
			return fmt.Sprintf("%s/api/v1/search?q=%s&max_price=%d", shop, terms[i%int64(len(terms))], 100_000_000+i)
		}},
		{name: "GET /api/v1/search?q=lamp (cached)", url: func(int64) string { return shop + "/api/v1/search?q=lamp" }},
	}

	// Not a target, an explanation: the uncached search once more with one client shows
	// its latency without queueing behind the other clients' searches.
	uncached := scenarios[3]
	uncached.name += ", 1 client"
	uncached.clients = 1
	scenarios = append(scenarios, uncached)

	// The adversarial search: a new random text of the longest length allowed with each
	// request, which matches nothing in full text (so it is never cached) and is too long
	// for the similarity fallback.
	scenarios = append(scenarios, scenario{name: adversarialName, mix: true, url: func(i int64) string {
		return shop + "/api/v1/search?q=" + url.QueryEscape(randomText(i, search.MaxQueryLength))
	}})

	step("preparing the checkout: %d customers registered through the API, %d products restocked by the admin API", checkoutCustomers, checkoutProducts)
	co, err := prepareCheckout(ctx, shop, dbURL)
	if err != nil {
		return err
	}
	scenarios = append(scenarios, scenario{name: "GET /api/v1/auth/me (authenticated: token check, account lookup)",
		request: func(i int64) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, shop+"/api/v1/auth/me", nil)
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+co.customers[i%int64(len(co.customers))])
			}
			return req, err
		}})
	scenarios = append(scenarios, co.scenario(shop))

	// The cached reads again on the traced shop, measured in the same rounds.
	tshop := "http://" + tracedAddr
	tracedScenarios := []scenario{
		{name: "traced: GET /api/v1/products?page=1 (cached)", url: func(int64) string { return tshop + "/api/v1/products?page=1" }},
		{name: "traced: GET /api/v1/products/{slug} (cached, 100 slugs)", url: func(i int64) string { return tshop + "/api/v1/products/" + slugs[i%int64(len(slugs))] }},
		{name: "traced: GET /api/v1/search?q=lamp (cached)", url: func(int64) string { return tshop + "/api/v1/search?q=lamp" }},
	}
	untracedOf := []int{1, 2, 4} // the same reads on the untraced shop
	mainScenarios := len(scenarios)
	scenarios = append(scenarios, tracedScenarios...)

	if o.run != nil {
		selected := scenarios[:1]
		for _, sc := range scenarios[1:] {
			if o.run.MatchString(sc.name) {
				selected = append(selected, sc)
			}
		}
		scenarios = selected
	}

	// Rounds run every scenario in turn; each figure reported is the median over the
	// rounds, so a burst of load from elsewhere on the machine during one round does not
	// decide the result. The p99 column shows the spread.
	rounds := make([][]result, len(scenarios))
	for round := 1; round <= o.rounds; round++ {
		for i, sc := range scenarios {
			oo := o
			if sc.clients > 0 {
				oo.concurrency = sc.clients
			}
			step("round %d/%d, %s: %s warm-up, %s measured, %d clients", round, o.rounds, sc.name, o.warmup, o.duration, oo.concurrency)
			r, err := measure(ctx, sc, oo)
			if err != nil {
				return err
			}
			rounds[i] = append(rounds[i], r)
		}
	}
	results := make([]result, len(scenarios))
	for i := range rounds {
		results[i] = median(rounds[i])
	}
	for i := range results {
		results[i].ratio = results[i].rps / results[0].rps
	}
	if o.run != nil {
		fmt.Println()
		fmt.Printf("Partial run (-run %s), load average %s before, %s after:\n\n", o.run, loadBefore, loadAverage())
		fmt.Println("| scenario | req/s | × baseline | p50 ms | p95 ms | p99 ms | p99 range ms | requests | errors | statuses | statement timeouts | SQL / request |")
		for _, r := range results {
			fmt.Printf("| %s | %.0f | %.2f | %s | %s | %s | %s–%s | %d | %d | %v | %.0f | %.3f |\n", r.scenario, r.rps, r.ratio, ms(r.p50), ms(r.p95), ms(r.p99),
				ms(r.p99Min), ms(r.p99Max), r.requests, r.errors, r.statuses, r.shop.timeouts, r.shop.perRequest(r.shop.sql, r.requests))
		}
		return nil
	}
	// Stopping the traced shop flushes its last spans.
	stopProcess(traced)
	tracing := tracingResult{results: results[mainScenarios:], spans: collector.Received(), exports: collector.Exports()}
	for i := range tracing.results {
		tracing.untraced = append(tracing.untraced, results[untracedOf[i]])
	}
	results = results[:mainScenarios]
	cacheStats, err := scrapeCache(shopMetrics)
	if err != nil {
		return err
	}
	step("verifying the stock after the checkout scenario, then 200 concurrent buyers for the last %d units", contestUnits)
	stockCheck, err := co.verify(ctx, dbURL)
	if err != nil {
		return err
	}
	contest, err := lastUnitsContest(ctx, shop, dbURL, co)
	if err != nil {
		return err
	}

	report := render(o, results, facts{
		cores: runtime.NumCPU(), gomaxprocs: runtime.GOMAXPROCS(0), cpu: cpuModel(), goVersion: runtime.Version(),
		pgVersion: pgVersion, redisVersion: redisVersion, seedTime: seedTime, cache: cacheStats, date: time.Now().UTC().Format("2006-01-02"),
		stock: stockCheck, contest: contest, tracing: tracing, load: loadBefore + " before, " + loadAverage() + " after",
	})
	fmt.Println()
	fmt.Println(report)
	if o.write != "" {
		path := o.write
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := benchdoc.WriteSection(path, "Shop", "shop-bench", report); err != nil {
			return err
		}
		step("wrote the Shop section of %s", path)
	}
	var failed []string
	for _, r := range append(results, tracing.results...) {
		if r.errors > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d errors", r.scenario, r.errors))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("requests failed: %s", strings.Join(failed, "; "))
	}
	if !stockCheck.exact() || !contest.exact() {
		return fmt.Errorf("checkout left the stock inexact: %s; %s", stockCheck, contest)
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "shopbench: "+format+"\n", args...)
}

func shopCmd(ctx context.Context, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freeAddr() (string, error) {
	p, err := testenv.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", p), nil
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready within 30s", url)
		}
		time.Sleep(50 * time.Millisecond) // polling a starting process
	}
}

func catalogFacts(ctx context.Context, dbURL string) ([]string, string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `SELECT slug FROM products ORDER BY id LIMIT 100`)
	if err != nil {
		return nil, "", err
	}
	slugs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, "", err
	}
	if len(slugs) == 0 {
		return nil, "", errors.New("no products seeded")
	}
	var version string
	if err := conn.QueryRow(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return nil, "", err
	}
	return slugs, version, nil
}

// measure runs sc with o.concurrency keep-alive clients: o.warmup unmeasured, then
// o.duration measured.
func measure(ctx context.Context, sc scenario, o options) (result, error) {
	transport := &http.Transport{
		MaxIdleConns:        o.concurrency * 2,
		MaxIdleConnsPerHost: o.concurrency * 2,
		IdleConnTimeout:     time.Minute,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	var measuring atomic.Bool
	stop := make(chan struct{})
	lat := make([][]time.Duration, o.concurrency)
	errs := make([]int64, o.concurrency)
	statuses := make([]map[int]int64, o.concurrency)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		lat[w] = make([]time.Duration, 0, 1<<16)
		statuses[w] = map[int]int64{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := seq.Add(1)
				var (
					req *http.Request
					err error
				)
				if sc.request != nil {
					req, err = sc.request(i)
				} else {
					req, err = http.NewRequest(http.MethodGet, sc.url(i), nil)
				}
				want := sc.want
				if want == 0 {
					want = http.StatusOK
				}
				start := time.Now()
				ok := false
				status := 0
				var resp *http.Response
				if err == nil {
					resp, err = client.Do(req)
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					status = resp.StatusCode
					ok = err == nil && resp.StatusCode == want
					if sc.mix && err == nil && !ok {
						if measuring.Load() {
							statuses[w][status]++
						}
						continue
					}
					if !ok && err == nil {
						err = fmt.Errorf("%s %s: status %d", req.Method, req.URL, resp.StatusCode)
					}
				}
				d := time.Since(start)
				if ok && sc.succeeded != nil {
					sc.succeeded.Add(1)
				}
				if !measuring.Load() {
					continue
				}
				if !ok {
					errs[w]++
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat[w] = append(lat[w], d)
				if sc.mix {
					statuses[w][status]++
				}
			}
		}()
	}
	wait := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(o.warmup); err != nil {
		close(stop)
		wg.Wait()
		return result{}, err
	}
	before, serr := scrapeMetrics()
	measuring.Store(true)
	start := time.Now()
	err := wait(o.duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	after, aerr := scrapeMetrics()
	close(stop)
	wg.Wait()
	if err = errors.Join(err, serr, aerr); err != nil {
		return result{}, err
	}

	var all []time.Duration
	r := result{scenario: sc.name, shop: delta(before, after), mix: sc.mix, statuses: map[int]int64{}}
	var others int64
	for w := range lat {
		all = append(all, lat[w]...)
		r.errors += errs[w]
		for code, n := range statuses[w] {
			r.statuses[code] += n
			if code != http.StatusOK {
				others += n
			}
		}
	}
	if e, ok := firstErr.Load().(error); ok && e != nil {
		step("  first error: %v", e)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r.requests = int64(len(all)) + r.errors + others
	r.rps = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		pct := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
		r.p50, r.p95, r.p99, r.max = pct(0.50), pct(0.95), pct(0.99), all[len(all)-1]
	}
	step("  %.0f req/s, p50 %s, p99 %s, %d errors; Redis %.0f hits %.0f errors; %.3f SQL statements and %.4f PostgreSQL token checks per request",
		r.rps, r.p50, r.p99, r.errors, r.shop.redisHits, r.shop.redisErrors, r.shop.perRequest(r.shop.sql, r.requests), r.shop.perRequest(r.shop.pgChecks, r.requests))
	return r, nil
}

// shopMetrics is the shop's /metrics URL.
var shopMetrics string

// windowStats is what the shop's counters moved by while a scenario was measured.
type windowStats struct {
	redisHits, redisErrors, redisRejected float64
	sql, pgChecks, memChecks              float64
	timeouts                              float64
}

func (w *windowStats) add(o windowStats) {
	w.redisHits += o.redisHits
	w.redisErrors += o.redisErrors
	w.redisRejected += o.redisRejected
	w.sql += o.sql
	w.pgChecks += o.pgChecks
	w.memChecks += o.memChecks
	w.timeouts += o.timeouts
}

func (windowStats) perRequest(v float64, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return v / float64(requests)
}

// The series windowStats reads.
const (
	seriesRedisHits     = `shop_cache_requests_total{level="redis",result="hit"}`
	seriesRedisErrors   = `shop_cache_requests_total{level="redis",result="error"}`
	seriesRedisRejected = `shop_cache_requests_total{level="redis",result="rejected"}`
	seriesSQL           = `shop_db_queries_total`
	seriesPGChecks      = `shop_auth_revocation_checks_total{source="postgres"}`
	seriesMemChecks     = `shop_auth_revocation_checks_total{source="memory"}`
	seriesTimeouts      = `shop_db_statement_timeouts_total`
)

func delta(before, after map[string]float64) windowStats {
	d := func(k string) float64 { return after[k] - before[k] }
	return windowStats{redisHits: d(seriesRedisHits), redisErrors: d(seriesRedisErrors), redisRejected: d(seriesRedisRejected),
		sql: d(seriesSQL), pgChecks: d(seriesPGChecks), memChecks: d(seriesMemChecks), timeouts: d(seriesTimeouts)}
}

var sampleLine = regexp.MustCompile(`(?m)^(shop_[a-z_]+(?:\{[^}]*\})?) (\S+)$`)

// scrapeMetrics reads every shop_ sample of the shop's /metrics.
func scrapeMetrics() (map[string]float64, error) {
	resp, err := http.Get(shopMetrics)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, sm := range sampleLine.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(sm[2], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", sm[0], err)
		}
		m[sm[1]] = v
	}
	return m, nil
}

var cacheLine = regexp.MustCompile(`(?m)^shop_cache_requests_total\{level="(\w+)",result="(\w+)"\} (\S+)$`)

func scrapeCache(metricsURL string) (map[string]string, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, sm := range cacheLine.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(sm[3], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", sm[0], err)
		}
		m[sm[1]+" "+sm[2]] = strconv.FormatFloat(v, 'f', 0, 64)
	}
	return m, nil
}

// loadAverage is the machine's 1-minute load average (/proc/loadavg), "unknown" elsewhere:
// the figures of a run on a machine busy with other work are not comparable to a quiet run's.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}

type facts struct {
	cores, gomaxprocs         int
	cpu, goVersion, pgVersion string
	redisVersion              string
	seedTime                  time.Duration
	cache                     map[string]string
	date                      string
	stock                     stockCheck
	contest                   contestResult
	tracing                   tracingResult
	// load is the 1-minute load average before and after the run.
	load string
}

// benchSamplingRatio is the traced shop's OTEL_TRACES_SAMPLER_ARG: the operator's
// default ratio.
const benchSamplingRatio = "0.1"

// tracingResult is the traced shop's cached reads beside the untraced shop's.
type tracingResult struct {
	results, untraced []result
	// spans is the number of spans the collector received, exports its export
	// requests (read after the shop's exit, which flushes).
	spans, exports int
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func render(o options, rs []result, f facts) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Run of %s: `make bench-shop` on %d cores (GOMAXPROCS %d, %s), %s, PostgreSQL %s, Redis %s in cluster mode over TLS with the shop's ACL user (as ElastiCache Serverless presents it); "+
		"%d synthetic products (seeded with COPY in %.1f s); %d keep-alive clients over loopback; %d rounds over all scenarios, "+
		"each scenario %s warm-up and %s measured per round; figures are medians over the rounds (p99 range: lowest–highest round). "+
		"The load generator, the shop, PostgreSQL and Redis share the same cores; the machine's 1-minute load average was %s the run.\n\n",
		f.date, f.cores, f.gomaxprocs, f.cpu, f.goVersion, f.pgVersion, f.redisVersion, o.products, f.seedTime.Seconds(), o.concurrency, o.rounds, o.warmup, o.duration, f.load)
	fmt.Fprintln(&b, "| scenario | req/s | × baseline | p50 ms | p95 ms | p99 ms | p99 range ms | max ms | requests | errors | Redis hits | Redis errors | SQL / request |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %s | %s | %s | %s–%s | %s | %d | %d | %.0f | %.0f | %.3f |\n", r.scenario, r.rps, r.ratio, ms(r.p50), ms(r.p95), ms(r.p99),
			ms(r.p99Min), ms(r.p99Max), ms(r.max), r.requests, r.errors, r.shop.redisHits, r.shop.redisErrors, r.shop.perRequest(r.shop.sql, r.requests))
	}
	fmt.Fprintln(&b, "\nRedis hits, Redis errors and SQL statements are the shop's counters over the measured windows (shop_cache_requests_total, shop_db_queries_total): a cached read is served from the in-process level first, so Redis hits are the reads whose local entry had expired (2 s) or was dropped by an invalidation.")
	var keys []string
	for k := range f.cache {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+f.cache[k])
	}
	fmt.Fprintf(&b, "\nCache lookups over the whole run (shop_cache_requests_total): %s.\n", strings.Join(parts, ", "))
	var authReqs int64
	var pgChecks float64
	for _, r := range rs {
		if r.shop.memChecks+r.shop.pgChecks > 0 {
			authReqs += r.requests
			pgChecks += r.shop.pgChecks
		}
	}
	authPG := windowStats{}.perRequest(pgChecks, authReqs)
	fmt.Fprintf(&b, "\nAuthenticated requests (the /auth/me and checkout scenarios, %d requests): %.4f PostgreSQL queries per request for the token check (shop_auth_revocation_checks_total{source=\"postgres\"}; the revocations are held in memory and followed by LISTEN/NOTIFY).\n", authReqs, authPG)
	adv := -1
	for i, r := range rs {
		if r.mix {
			adv = i
		}
	}
	var advTimeouts float64
	if adv >= 0 {
		a := rs[adv]
		var codes []int
		for code := range a.statuses {
			codes = append(codes, code)
		}
		sort.Ints(codes)
		var mix []string
		for _, code := range codes {
			mix = append(mix, fmt.Sprintf("%d × %d", a.statuses[code], code))
		}
		advTimeouts = a.shop.timeouts
		fmt.Fprintf(&b, "\nAdversarial search: answers by status over the measured windows: %s; statement timeouts (shop_db_statement_timeouts_total): %.0f; the latencies are of the answered (200) requests. SEARCH_RATE_LIMIT is set above the offered load, so the figure is the statement's.\n",
			strings.Join(mix, ", "), advTimeouts)
	}
	fmt.Fprintf(&b, "\nCheckout: %s. Last items: %s.\n", f.stock, f.contest)
	fmt.Fprintf(&b, "\nTracing on: the same binary serving the same database and Redis with OTEL_EXPORTER_OTLP_ENDPOINT set to an in-process OTLP/HTTP collector (test/otlptest, decoding every export), "+
		"OTEL_TRACES_SAMPLER=parentbased_traceidratio and OTEL_TRACES_SAMPLER_ARG=%s (the operator's default), measured in the same rounds; the table above is the shop with tracing off (no OTEL_* variable: no instrumentation installed). "+
		"The collector received %d spans in %d export requests over the run.\n\n", benchSamplingRatio, f.tracing.spans, f.tracing.exports)
	fmt.Fprintln(&b, "| scenario | req/s | × baseline | × tracing off | p50 ms | p99 ms | requests | errors |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for i, r := range f.tracing.results {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %s | %s | %d | %d |\n", r.scenario, r.rps, r.ratio, r.rps/f.tracing.untraced[i].rps, ms(r.p50), ms(r.p99), r.requests, r.errors)
	}
	cachedRedis := true
	var redisErrs float64
	for _, r := range rs {
		redisErrs += r.shop.redisErrors
	}
	for _, i := range []int{1, 2, 4} {
		cachedRedis = cachedRedis && rs[i].shop.redisHits > 0
	}
	fmt.Fprintf(&b, "\nTargets: cached reads ≥ 0.50× baseline — products list %s, product %s, cached search %s; "+
		"Redis hits in every cached scenario %s, Redis errors — %s; token checks ≤ 0.01 PostgreSQL queries per authenticated request — %s; "+
		"uncached search p99 < 10 ms — %s ms %s; adversarial search p99 < 50 ms with 0 statement timeouts — %s; checkout keeps stock exact — %s, under 200 concurrent buyers of the last items %s; errors — %s.\n",
		verdict(rs[1].ratio >= 0.5, fmt.Sprintf("%.2f×", rs[1].ratio)), verdict(rs[2].ratio >= 0.5, fmt.Sprintf("%.2f×", rs[2].ratio)),
		verdict(rs[4].ratio >= 0.5, fmt.Sprintf("%.2f×", rs[4].ratio)), verdict(cachedRedis, ""), verdict(redisErrs == 0, fmt.Sprint(redisErrs)),
		verdict(authReqs > 0 && authPG <= 0.01, fmt.Sprintf("%.4f", authPG)),
		ms(rs[3].p99), verdict(rs[3].p99 < 10*time.Millisecond, ""),
		adversarialVerdict(rs, adv, advTimeouts),
		verdict(f.stock.exact(), fmt.Sprintf("%.0f orders/s", rs[len(rs)-1].rps)), verdict(f.contest.exact(), ""),
		verdict(totalErrors(rs) == 0, fmt.Sprint(totalErrors(rs))))
	if t := f.tracing.results; len(t) == 3 {
		fmt.Fprintf(&b, "\nWith tracing on (ratio %s), reported: products list %.2f×, product %.2f×, cached search %.2f× baseline; %.2f×, %.2f×, %.2f× the shop with tracing off.\n",
			benchSamplingRatio, t[0].ratio, t[1].ratio, t[2].ratio,
			t[0].rps/f.tracing.untraced[0].rps, t[1].rps/f.tracing.untraced[1].rps, t[2].rps/f.tracing.untraced[2].rps)
	}
	return b.String()
}

func adversarialVerdict(rs []result, adv int, timeouts float64) string {
	if adv < 0 {
		return verdict(false, "not run")
	}
	a := rs[adv]
	return verdict(a.p99 < 50*time.Millisecond && timeouts == 0 && a.statuses[http.StatusOK] > 0,
		fmt.Sprintf("%s ms, %.0f timeouts", ms(a.p99), timeouts))
}

func totalErrors(rs []result) int64 {
	var n int64
	for _, r := range rs {
		n += r.errors
	}
	return n
}

func verdict(ok bool, v string) string {
	mark := "(met)"
	if !ok {
		mark = "(MISSED)"
	}
	if v == "" {
		return mark
	}
	return v + " " + mark
}
