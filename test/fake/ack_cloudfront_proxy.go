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

package fake

// distProxy plays a CloudFront distribution's edge: a caching reverse proxy
// (net/http/httputil) that follows the distribution's configuration as the
// CloudFront Developer Guide describes it:
//
//   - The cache behaviour is the first whose path pattern (* and ?, case-sensitive)
//     matches the path, else the default ("Cache behavior settings: Path pattern").
//   - A method outside allowedMethods is a 403; only cachedMethods (GET, HEAD) are
//     cached.
//   - The cache key is the path, plus the query string and the Cookie header when the
//     behaviour's cache policy puts them in the key (queryStringBehavior,
//     cookieBehavior "all"). What reaches the origin is the key's values, or every
//     viewer header but Host with the origin request policy AllViewerExceptHostHeader
//     ("Control origin requests with a policy").
//   - How long: s-maxage, else max-age, bounded by the policy's minimum and maximum
//     TTL; the default TTL without either; private, no-store or no-cache with a
//     minimum TTL of 0: not cached ("Manage how long content stays in the cache").
//     Only 200 responses are cached here.
//   - Every request to a custom origin carries the origin's custom headers (the
//     operator's X-Origin-Verify); Host is the origin's domain name. An S3 origin is
//     the stand-in's gofakes3 server, path-style.
//   - The answer says X-Cache: "Hit from cloudfront" or "Miss from cloudfront", and Age
//     on a hit.
//
// Not reproduced: TLS (the proxy listens on plain HTTP; viewerProtocolPolicy is not
// applied), edge locations (one cache), compression, origin failover, invalidations,
// signed URLs, request collapsing, and OAC request signing (gofakes3 checks none).

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The managed policies the operator uses, with their documented settings
// (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html).
var managedCachePolicies = map[string]map[string]any{
	// CachingOptimized: TTL 1 s / 1 day / 1 year; nothing but the path in the key.
	"658327ea-f89d-4fab-a63d-7e88639e58f6": {"minTTL": int64(1), "defaultTTL": int64(86400), "maxTTL": int64(31536000),
		"parametersInCacheKeyAndForwardedToOrigin": map[string]any{
			"cookiesConfig": map[string]any{"cookieBehavior": "none"}, "queryStringsConfig": map[string]any{"queryStringBehavior": "none"}}},
	// CachingDisabled: TTL 0.
	"4135ea2d-6df8-44a3-9df3-4b5a84be39ad": {"minTTL": int64(0), "defaultTTL": int64(0), "maxTTL": int64(0),
		"parametersInCacheKeyAndForwardedToOrigin": map[string]any{
			"cookiesConfig": map[string]any{"cookieBehavior": "none"}, "queryStringsConfig": map[string]any{"queryStringBehavior": "none"}}},
}

// originRequestAllViewerExceptHostHeader is the managed origin request policy
// (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html).
const originRequestAllViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

type cacheEntry struct {
	status  int
	header  http.Header
	body    []byte
	stored  time.Time
	expires time.Time
}

type distProxy struct {
	w        *cdnWorld
	listener net.Listener
	server   *http.Server
	now      func() time.Time

	mu     sync.Mutex
	config map[string]any
	cache  map[string]*cacheEntry
}

func newDistProxy(w *cdnWorld, d *distributionState) (*distProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("distribution stand-in: %w", err)
	}
	p := &distProxy{w: w, listener: l, now: time.Now, config: d.config, cache: map[string]*cacheEntry{}}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// Addr is the proxy's host:port, the distribution's domain name.
func (p *distProxy) Addr() string { return p.listener.Addr().String() }

func (p *distProxy) Close() { _ = p.server.Close() }

func (p *distProxy) configure(cfg map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.config = cfg
}

// behaviour is the cache behaviour of the path.
func behaviourFor(cfg map[string]any, path string) map[string]any {
	items, _, _ := unstructured.NestedSlice(cfg, "cacheBehaviors", "items")
	for _, it := range items {
		b, _ := it.(map[string]any)
		if pattern, _ := b["pathPattern"].(string); pattern != "" && pathPatternMatch(pattern, path) {
			return b
		}
	}
	b, _, _ := unstructured.NestedMap(cfg, "defaultCacheBehavior")
	return b
}

// pathPatternMatch is CloudFront's path pattern: * any characters, ? one.
func pathPatternMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if pathPatternMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && pathPatternMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && pathPatternMatch(pattern[1:], s[1:])
}

func (p *distProxy) policy(id string) map[string]any {
	if m, ok := managedCachePolicies[id]; ok {
		return m
	}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	return p.w.policies[id]
}

func stringsOf(m map[string]any, path ...string) []string {
	out, _, _ := unstructured.NestedStringSlice(m, path...)
	return out
}

func int64Of(m map[string]any, key string) int64 {
	switch v := m[key].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case int:
		return int64(v)
	}
	return 0
}

func (p *distProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	cfg := p.config
	p.mu.Unlock()
	b := behaviourFor(cfg, r.URL.Path)
	if b == nil {
		http.Error(w, "no cache behaviour", http.StatusBadGateway)
		return
	}
	if !contains(stringsOf(b, "allowedMethods", "items"), r.Method) {
		w.Header().Set("X-Cache", "Error from cloudfront")
		http.Error(w, "This distribution is not configured to allow the HTTP request method that was used for this request.", http.StatusForbidden)
		return
	}
	policyID, _ := b["cachePolicyID"].(string)
	pol := p.policy(policyID)
	params, _ := pol["parametersInCacheKeyAndForwardedToOrigin"].(map[string]any)
	cookiesInKey, _, _ := unstructured.NestedString(params, "cookiesConfig", "cookieBehavior")
	queryInKey, _, _ := unstructured.NestedString(params, "queryStringsConfig", "queryStringBehavior")
	key := r.URL.Path
	if queryInKey == "all" {
		key += "?" + r.URL.RawQuery
	}
	if cookiesInKey == "all" {
		key += "\x00" + strings.Join(r.Header.Values("Cookie"), "; ")
	}
	cacheable := contains(stringsOf(b, "allowedMethods", "cachedMethods", "items"), r.Method)
	if cacheable {
		p.mu.Lock()
		e, ok := p.cache[key]
		if ok && p.now().Before(e.expires) {
			p.mu.Unlock()
			for k, v := range e.header {
				w.Header()[k] = v
			}
			w.Header().Set("X-Cache", "Hit from cloudfront")
			w.Header().Set("Age", strconv.Itoa(int(p.now().Sub(e.stored).Seconds())))
			w.WriteHeader(e.status)
			if r.Method != http.MethodHead {
				_, _ = w.Write(e.body)
			}
			return
		}
		p.mu.Unlock()
	}
	originID, _ := b["targetOriginID"].(string)
	origin := p.origin(cfg, originID)
	if origin == nil {
		http.Error(w, "no origin "+originID, http.StatusBadGateway)
		return
	}
	target, err := p.originURL(origin)
	if err != nil {
		w.Header().Set("X-Cache", "Error from cloudfront")
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	allViewer := b["originRequestPolicyID"] == originRequestAllViewerExceptHostHeader
	out := r.Clone(r.Context())
	out.RequestURI = ""
	if !allViewer {
		// Only the cache key's values reach the origin.
		out.Header = http.Header{}
		for _, h := range []string{"Accept", "Accept-Encoding", "Content-Type", "Content-Length", "If-None-Match", "If-Modified-Since", "Range"} {
			if v := r.Header.Values(h); len(v) > 0 {
				out.Header[h] = v
			}
		}
		if cookiesInKey == "all" {
			out.Header["Cookie"] = r.Header.Values("Cookie")
		}
		if queryInKey != "all" {
			out.URL.RawQuery = ""
		}
	}
	hdrs, _, _ := unstructured.NestedSlice(origin, "customHeaders", "items")
	for _, h := range hdrs {
		m, _ := h.(map[string]any)
		name, _ := m["headerName"].(string)
		value, _ := m["headerValue"].(string)
		out.Header.Set(name, value)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			if d, _ := origin["domainName"].(string); d != "" && origin["customOriginConfig"] != nil {
				pr.Out.Host = d
			}
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			w.Header().Set("X-Cache", "Error from cloudfront")
			http.Error(w, "CloudFront could not connect to the origin: "+err.Error(), http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(rec, out)
	ttl, store := p.ttl(pol, rec.header.Get("Cache-Control"))
	if cacheable && store && rec.status == http.StatusOK && ttl > 0 {
		now := p.now()
		p.mu.Lock()
		p.cache[key] = &cacheEntry{status: rec.status, header: rec.header.Clone(), body: rec.body, stored: now, expires: now.Add(ttl)}
		p.mu.Unlock()
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Cache", "Miss from cloudfront")
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body)
}

// ttl is how long a response with Cache-Control cc stays, and whether it is stored.
func (p *distProxy) ttl(pol map[string]any, cc string) (time.Duration, bool) {
	minTTL, defTTL, maxTTL := int64Of(pol, "minTTL"), int64Of(pol, "defaultTTL"), int64Of(pol, "maxTTL")
	directives := map[string]string{}
	for _, part := range strings.Split(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(strings.ToLower(part)), "=")
		if k != "" {
			directives[k] = strings.Trim(v, `"`)
		}
	}
	bound := func(n int64) time.Duration {
		return time.Duration(max(minTTL, min(n, maxTTL))) * time.Second
	}
	_, private := directives["private"]
	_, noStore := directives["no-store"]
	_, noCache := directives["no-cache"]
	if private || noStore || noCache {
		if minTTL == 0 {
			return 0, false
		}
		return time.Duration(minTTL) * time.Second, true
	}
	for _, d := range []string{"s-maxage", "max-age"} {
		if v, ok := directives[d]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return bound(n), true
			}
		}
	}
	return time.Duration(defTTL) * time.Second, true
}

func (p *distProxy) origin(cfg map[string]any, id string) map[string]any {
	items, _, _ := unstructured.NestedSlice(cfg, "origins", "items")
	for _, it := range items {
		o, _ := it.(map[string]any)
		if o["id"] == id {
			return o
		}
	}
	return nil
}

// originURL is where the origin is: an S3 origin (<bucket>.s3.<region>.amazonaws.com)
// the gofakes3 server path-style; a custom origin what the resolver says, else
// https://<domain>.
func (p *distProxy) originURL(origin map[string]any) (*url.URL, error) {
	domain, _ := origin["domainName"].(string)
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	if origin["s3OriginConfig"] != nil {
		bucket, _, ok := strings.Cut(domain, ".s3.")
		if !ok {
			bucket = strings.TrimSuffix(domain, ".s3.amazonaws.com")
		}
		p.w.startS3()
		return url.Parse(p.w.s3Server.URL + "/" + bucket)
	}
	if p.w.resolveOrigin != nil {
		if base, ok := p.w.resolveOrigin(domain); ok {
			return url.Parse(base)
		}
	}
	return url.Parse("https://" + domain)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// recorder buffers the origin's answer, to cache it.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header  { return r.header }
func (r *recorder) WriteHeader(code int) { r.status = code }
func (r *recorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return len(b), nil
}

var _ io.Writer = (*recorder)(nil)

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
