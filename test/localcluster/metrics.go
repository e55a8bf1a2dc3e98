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
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The resource metrics API (metrics.k8s.io/v1beta1), as metrics-server serves it to
// the HPA controller and `kubectl top`, backed by the process table: a pod's
// container uses the CPU time and resident memory of its process group
// (/proc/<pid>/stat). It is an aggregated API: the API server proxies
// /apis/metrics.k8s.io/v1beta1 to it through the APIService v1beta1.metrics.k8s.io and
// the ExternalName Service kube-system/metrics-server, authenticating with its
// front-proxy client certificate, which this server requires.
//
// Like metrics-server (--metric-resolution 15s, pkg/scraper and pkg/storage), it
// samples every 15 s and reports the rate between a container's last two samples, with
// that interval as the window; a pod appears once each of its running containers has
// two samples. Not reproduced: cgroup accounting (a process that leaves its process
// group is not counted), the working set (resident memory stands in for it).

const (
	// metricResolution is how often usage is sampled (metrics-server's default).
	metricResolution = 15 * time.Second
	metricsService   = "metrics-server"
	metricsNamespace = "kube-system"
	metricsAPIPath   = "/apis/metrics.k8s.io/v1beta1"
	// frontProxyClientName is the API server's client certificate's name for
	// aggregated APIs (--requestheader-allowed-names).
	frontProxyClientName = "front-proxy-client"
	// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times on Linux.
	clockTicks = 100
)

// aggregationCerts are the certificates of API aggregation: the front-proxy CA and the
// API server's client certificate for it, and the metrics server's CA and serving
// certificate.
type aggregationCerts struct {
	frontProxyCA, proxyClientCert, proxyClientKey string
	servingCA                                     []byte
	serving                                       tls.Certificate
	clientCAs                                     *x509.CertPool
}

// configureAggregation makes the certificates and gives envtest's API server the
// flags of API aggregation (the front-proxy request header authentication).
func configureAggregation(env *envtest.Environment, dir string) (*aggregationCerts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fpKey, fpCert, fpPEM, err := selfSignedCA("localcluster front-proxy CA")
	if err != nil {
		return nil, err
	}
	clientPEM, clientKeyPEM, err := signLeaf(fpCert, fpKey, frontProxyClientName, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	svcKey, svcCert, svcPEM, err := selfSignedCA("localcluster metrics-server CA")
	if err != nil {
		return nil, err
	}
	servingPEM, servingKeyPEM, err := signLeaf(svcCert, svcKey, metricsService,
		[]string{metricsService + "." + metricsNamespace + ".svc"}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	serving, err := tls.X509KeyPair(servingPEM, servingKeyPEM)
	if err != nil {
		return nil, err
	}
	certs := &aggregationCerts{
		frontProxyCA:    filepath.Join(dir, "front-proxy-ca.crt"),
		proxyClientCert: filepath.Join(dir, "front-proxy-client.crt"),
		proxyClientKey:  filepath.Join(dir, "front-proxy-client.key"),
		servingCA:       svcPEM, serving: serving, clientCAs: x509.NewCertPool(),
	}
	certs.clientCAs.AddCert(fpCert)
	for path, b := range map[string][]byte{certs.frontProxyCA: fpPEM, certs.proxyClientCert: clientPEM, certs.proxyClientKey: clientKeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("requestheader-client-ca-file", certs.frontProxyCA)
	args.Set("requestheader-allowed-names", frontProxyClientName)
	args.Set("requestheader-username-headers", "X-Remote-User")
	args.Set("requestheader-group-headers", "X-Remote-Group")
	args.Set("requestheader-extra-headers-prefix", "X-Remote-Extra-")
	args.Set("proxy-client-cert-file", certs.proxyClientCert)
	args.Set("proxy-client-key-file", certs.proxyClientKey)
	return certs, nil
}

func selfSignedCA(name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func signLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, dns []string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// metricsServer serves metrics.k8s.io from the kubelet's pods' processes.
type metricsServer struct {
	k      *kubelet
	server *http.Server
	port   int
	stop   chan struct{}

	mu sync.Mutex
	// samples are the last two cumulative samples by container ID.
	samples map[string][2]cpuSample
	node    [2]cpuSample
}

// cpuSample is cumulative CPU time, and resident memory, at a time.
type cpuSample struct {
	at     time.Time
	cpu    time.Duration
	memory int64
}

// startMetricsServer listens on 127.0.0.1 for the API server's proxied requests.
func startMetricsServer(k *kubelet, certs *aggregationCerts) (*metricsServer, error) {
	ln, err := net.Listen("tcp", podIP+":0")
	if err != nil {
		return nil, err
	}
	m := &metricsServer{k: k, port: ln.Addr().(*net.TCPAddr).Port, stop: make(chan struct{}), samples: map[string][2]cpuSample{}}
	m.server = &http.Server{
		Handler:           m,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{certs.serving},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    certs.clientCAs,
			MinVersion:   tls.VersionTLS12,
		},
	}
	go func() { _ = m.server.ServeTLS(ln, "", "") }()
	go m.sampleLoop()
	return m, nil
}

// register creates the Service and the APIService through which the API server
// reaches this server.
func (m *metricsServer) register(ctx context.Context, c client.Client, caBundle []byte) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: metricsNamespace, Name: metricsService},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: podIP},
	}
	if err := c.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the metrics-server Service: %w", err)
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": "v1beta1.metrics.k8s.io"},
		"spec": map[string]any{
			"group": "metrics.k8s.io", "version": "v1beta1",
			"service":              map[string]any{"namespace": metricsNamespace, "name": metricsService, "port": int64(m.port)},
			"caBundle":             caBundle,
			"groupPriorityMinimum": int64(100),
			"versionPriority":      int64(100),
		},
	}}
	if err := c.Create(ctx, apiService); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the APIService v1beta1.metrics.k8s.io: %w", err)
	}
	return nil
}

// Stop stops the server.
func (m *metricsServer) Stop() {
	if m == nil {
		return
	}
	close(m.stop)
	_ = m.server.Close()
}

func (m *metricsServer) sampleLoop() {
	t := time.NewTicker(metricResolution)
	defer t.Stop()
	m.sample()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sample()
		}
	}
}

// sample records the cumulative CPU time and memory of every running container's
// process group, and of the node.
func (m *metricsServer) sample() {
	procs := readProcs()
	now := time.Now()
	containers := map[string]cpuSample{}
	for _, w := range m.k.allWorkers() {
		for _, c := range w.containers {
			pid, ok := c.runningPID()
			if !ok {
				continue
			}
			s := cpuSample{at: now}
			for _, p := range procs {
				if p.pgrp == pid {
					s.cpu += p.cpu
					s.memory += p.rss
				}
			}
			containers[c.runningID()] = s
		}
	}
	node, _ := nodeCPU()
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[string][2]cpuSample{}
	for id, s := range containers {
		next[id] = [2]cpuSample{m.samples[id][1], s}
	}
	m.samples = next
	m.node = [2]cpuSample{m.node[1], {at: now, cpu: node, memory: memTotal() - memAvailable()}}
}

// usage is a container's CPU rate and memory over its last window.
func (m *metricsServer) usage(id string) (cpu, memory *resource.Quantity, window time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, found := m.samples[id]
	return rate(s, found)
}

func rate(s [2]cpuSample, found bool) (cpu, memory *resource.Quantity, window time.Duration, ok bool) {
	if !found || s[0].at.IsZero() || !s[1].at.After(s[0].at) {
		return nil, nil, 0, false
	}
	window = s[1].at.Sub(s[0].at)
	nanocores := max(int64(float64(s[1].cpu-s[0].cpu)/window.Seconds()), 0)
	return resource.NewScaledQuantity(nanocores, resource.Nano), resource.NewQuantity(s[1].memory, resource.BinarySI), window, true
}

// ServeHTTP answers the resource metrics API's discovery and its pods and nodes.
func (m *metricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	rest, ok := strings.CutPrefix(path, metricsAPIPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	selector, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "":
		writeMetricsJSON(w, map[string]any{
			"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
			"resources": []map[string]any{
				{"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": []string{"get", "list"}},
				{"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": []string{"get", "list"}},
			},
		})
	case len(parts) == 1 && parts[0] == "pods":
		m.writePods(w, "", "", selector)
	case len(parts) == 3 && parts[0] == "namespaces" && parts[2] == "pods":
		m.writePods(w, parts[1], "", selector)
	case len(parts) == 4 && parts[0] == "namespaces" && parts[2] == "pods":
		m.writePods(w, parts[1], parts[3], selector)
	case len(parts) == 1 && parts[0] == "nodes":
		m.writeNodes(w, "")
	case len(parts) == 2 && parts[0] == "nodes":
		m.writeNodes(w, parts[1])
	default:
		http.NotFound(w, r)
	}
}

func (m *metricsServer) writePods(w http.ResponseWriter, ns, name string, selector labels.Selector) {
	var items []map[string]any
	for _, pw := range m.k.allWorkers() {
		pod := pw.spec()
		if (ns != "" && pod.Namespace != ns) || (name != "" && pod.Name != name) || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		var containers []map[string]any
		var at time.Time
		var window time.Duration
		complete := true
		for _, c := range pw.containers {
			cpu, memory, win, ok := m.usage(c.runningID())
			if !ok {
				complete = false
				break
			}
			window, at = win, time.Now()
			containers = append(containers, map[string]any{"name": c.spec.Name, "usage": map[string]any{"cpu": cpu.String(), "memory": memory.String()}})
		}
		if !complete || len(containers) == 0 {
			continue // metrics-server leaves out a pod without two samples of each container
		}
		items = append(items, map[string]any{
			"metadata":   map[string]any{"name": pod.Name, "namespace": pod.Namespace, "labels": pod.Labels, "creationTimestamp": pod.CreationTimestamp},
			"timestamp":  metav1.NewTime(at.Add(-window / 2)),
			"window":     metav1.Duration{Duration: window.Round(time.Second)},
			"containers": containers,
		})
	}
	if name != "" {
		if len(items) == 0 {
			writeMetricsStatus(w, http.StatusNotFound, fmt.Sprintf("podmetrics.metrics.k8s.io %q not found", name))
			return
		}
		item := items[0]
		item["kind"], item["apiVersion"] = "PodMetrics", "metrics.k8s.io/v1beta1"
		writeMetricsJSON(w, item)
		return
	}
	if items == nil {
		items = []map[string]any{}
	}
	writeMetricsJSON(w, map[string]any{"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": map[string]any{}, "items": items})
}

func (m *metricsServer) writeNodes(w http.ResponseWriter, name string) {
	m.mu.Lock()
	cpu, memory, window, ok := rate(m.node, true)
	m.mu.Unlock()
	var items []map[string]any
	if ok && (name == "" || name == NodeName) {
		items = append(items, map[string]any{
			"metadata":  map[string]any{"name": NodeName},
			"timestamp": metav1.Now(), "window": metav1.Duration{Duration: window.Round(time.Second)},
			"usage": map[string]any{"cpu": cpu.String(), "memory": memory.String()},
		})
	}
	if name != "" {
		if len(items) == 0 {
			writeMetricsStatus(w, http.StatusNotFound, fmt.Sprintf("nodemetrics.metrics.k8s.io %q not found", name))
			return
		}
		items[0]["kind"], items[0]["apiVersion"] = "NodeMetrics", "metrics.k8s.io/v1beta1"
		writeMetricsJSON(w, items[0])
		return
	}
	if items == nil {
		items = []map[string]any{}
	}
	writeMetricsJSON(w, map[string]any{"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": map[string]any{}, "items": items})
}

func writeMetricsJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeMetricsStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: msg, Reason: metav1.StatusReasonNotFound, Code: int32(code),
	})
}

// procStat is one process of the process table.
type procStat struct {
	pgrp int
	cpu  time.Duration // utime+stime, and cutime+cstime of reaped children
	rss  int64
}

// readProcs reads every process's group, CPU times and resident set from /proc.
func readProcs() []procStat {
	entries, _ := os.ReadDir("/proc")
	page := int64(os.Getpagesize())
	var out []procStat
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 22 {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
		rss, _ := strconv.ParseInt(f[21], 10, 64)
		out = append(out, procStat{pgrp: pgrp, cpu: time.Duration(ticks) * time.Second / clockTicks, rss: rss * page})
	}
	return out
}

// nodeCPU is the CPU time the machine spent busy (the first line of /proc/stat, less
// idle and iowait).
func nodeCPU() (time.Duration, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, errors.New("empty /proc/stat")
	}
	fields := strings.Fields(sc.Text())
	var busy int64
	for i, v := range fields[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// memAvailable is MemAvailable of /proc/meminfo in bytes.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
