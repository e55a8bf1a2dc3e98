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

package localcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Probes follow the kubelet's prober (pkg/kubelet/prober/worker.go and prober.go,
// pkg/probe/http, pkg/probe/tcp, pkg/probe/exec): one worker per probe and container
// instance, ticking every periodSeconds; nothing is probed before initialDelaySeconds
// have passed since the container started; readiness and liveness wait for the startup
// probe to succeed; a result counts once it repeats successThreshold (failureThreshold)
// times in a row; readiness starts out failed, liveness succeeded. A liveness or startup
// failure kills the container (and the worker holds until the next instance); a
// startup success marks it started. Once the pod is being deleted, liveness and startup
// stop and report success, while readiness goes on.

type probeKind int

const (
	readinessProbe probeKind = iota
	livenessProbe
	startupProbe
)

func (k probeKind) String() string {
	switch k {
	case readinessProbe:
		return "Readiness"
	case livenessProbe:
		return "Liveness"
	}
	return "Startup"
}

type probeResult int

const (
	probeSuccess probeResult = iota
	probeFailure
	probeUnknown
)

// maxProbeResponseBody is how much of an HTTP probe's answer the kubelet reads.
const maxProbeResponseBody = 10 << 10

// probeOutcome is one run of a probe.
type probeOutcome struct {
	result probeResult
	output string
}

// startProbes starts the workers of one instance; Wait waits for them to stop (ctx).
func startProbes(ctx context.Context, c *container, proc *process) *sync.WaitGroup {
	var wg sync.WaitGroup
	triggerReadiness := make(chan struct{}, 1)
	for kind, spec := range map[probeKind]*corev1.Probe{
		readinessProbe: c.spec.ReadinessProbe, livenessProbe: c.spec.LivenessProbe, startupProbe: c.spec.StartupProbe,
	} {
		if spec == nil {
			if kind == readinessProbe {
				// No readiness probe: ready as soon as started.
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !c.isStarted() {
						select {
						case <-ctx.Done():
							return
						case <-triggerReadiness:
						}
					}
					c.setReady(true)
				}()
			}
			continue
		}
		pw := &probeWorker{c: c, kind: kind, spec: spec, started: proc.Started, trigger: triggerReadiness}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw.run(ctx)
		}()
	}
	// The status update of the start runs the readiness probe at once (UpdatePodStatus
	// in pkg/kubelet/prober/prober_manager.go).
	select {
	case triggerReadiness <- struct{}{}:
	default:
	}
	return &wg
}

type probeWorker struct {
	c       *container
	kind    probeKind
	spec    *corev1.Probe
	started time.Time
	// trigger runs the readiness probe now (a status update while not ready).
	trigger chan struct{}

	lastResult probeResult
	resultRun  int
	onHold     bool
}

func (pw *probeWorker) run(ctx context.Context) {
	period := time.Duration(max(pw.spec.PeriodSeconds, 1)) * time.Second
	t := time.NewTicker(period)
	defer t.Stop()
	pw.lastResult = probeUnknown
	var manual <-chan struct{}
	if pw.kind == readinessProbe {
		manual = pw.trigger
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-manual:
			t.Reset(period)
		}
		if !pw.doProbe(ctx) {
			return
		}
	}
}

// doProbe is one tick of the worker; false stops it.
func (pw *probeWorker) doProbe(ctx context.Context) bool {
	if pw.onHold {
		return true
	}
	c := pw.c
	if !c.w.spec().DeletionTimestamp.IsZero() && pw.kind != readinessProbe {
		return false
	}
	if int32(time.Since(pw.started).Seconds()) < pw.spec.InitialDelaySeconds {
		return true
	}
	if started := c.isStarted(); started == (pw.kind == startupProbe) {
		return true
	}
	out := runProbe(ctx, c, pw.spec)
	if out.result != probeSuccess {
		c.w.event(c.ref(), corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", pw.kind, out.output)
	}
	result := out.result
	if result == probeUnknown {
		result = probeFailure
	}
	if pw.lastResult == result {
		pw.resultRun++
	} else {
		pw.lastResult, pw.resultRun = result, 1
	}
	if (result == probeFailure && pw.resultRun < int(max(pw.spec.FailureThreshold, 1))) ||
		(result == probeSuccess && pw.resultRun < int(max(pw.spec.SuccessThreshold, 1))) {
		return true
	}
	switch pw.kind {
	case readinessProbe:
		c.setReady(result == probeSuccess)
	case livenessProbe:
		if result == probeFailure {
			pw.onHold, pw.resultRun = true, 0
			pw.askKill(killForLiveness)
		}
	case startupProbe:
		pw.onHold, pw.resultRun = true, 0
		if result == probeSuccess {
			c.setStarted()
			select {
			case pw.trigger <- struct{}{}:
			default:
			}
		} else {
			pw.askKill(killForStartup)
		}
	}
	return true
}

func (pw *probeWorker) askKill(reason killReason) {
	select {
	case pw.c.kill <- reason:
	default:
	}
}

// runProbe runs a probe once, within its timeoutSeconds.
func runProbe(ctx context.Context, c *container, p *corev1.Probe) probeOutcome {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return probeHTTP(ctx, c, p.HTTPGet, timeout)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, &c.spec)
		if err != nil {
			return probeOutcome{probeUnknown, err.Error()}
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = c.w.ip.String()
		}
		conn, err := c.w.k.net.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return probeOutcome{probeFailure, err.Error()}
		}
		_ = conn.Close()
		return probeOutcome{probeSuccess, ""}
	case p.Exec != nil:
		out, err := c.execInContainer(ctx, p.Exec.Command)
		if err != nil {
			if strings.Contains(err.Error(), "timed out") {
				return probeOutcome{probeFailure, err.Error()}
			}
			return probeOutcome{probeFailure, strings.TrimSpace(out)}
		}
		return probeOutcome{probeSuccess, out}
	}
	return probeOutcome{probeUnknown, "the local kubelet does not run gRPC probes"}
}

// probeHTTP is an HTTP GET probe (pkg/probe/http: DoHTTPProbe, NewRequestForHTTPGetAction):
// 200-399 succeeds (a redirect to another host is not followed and counts as success),
// anything else or no answer fails.
func probeHTTP(ctx context.Context, c *container, h *corev1.HTTPGetAction, timeout time.Duration) probeOutcome {
	port, err := resolvePort(h.Port, &c.spec)
	if err != nil {
		return probeOutcome{probeUnknown, err.Error()}
	}
	host := h.Host
	if host == "" {
		host = c.w.ip.String()
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if parsed, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = parsed.Path, parsed.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return probeOutcome{probeFailure, err.Error()}
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, hdr := range h.HTTPHeaders {
		if strings.EqualFold(hdr.Name, "Host") {
			req.Host = hdr.Value
			continue
		}
		req.Header.Add(hdr.Name, hdr.Value)
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       c.w.k.net.DialContext,
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe targets either
		},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Hostname() != via[0].URL.Hostname() || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	res, err := client.Do(req)
	if err != nil {
		return probeOutcome{probeFailure, err.Error()}
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxProbeResponseBody))
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		return probeOutcome{probeSuccess, string(body)}
	}
	return probeOutcome{probeFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)}
}

// resolvePort is a probe's port: a number, or the number of the container's port of
// that name.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
}
