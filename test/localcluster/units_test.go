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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestImageMapping(t *testing.T) {
	dir := t.TempDir()
	imgs := Images{Shop: filepath.Join(dir, "shop"), ShopBadMigration: filepath.Join(dir, "shop-badmigration")}
	for _, p := range []string{imgs.Shop, imgs.ShopBadMigration} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		image         string
		command, args []string
		want          []string
		wantErr       bool
	}{
		"a shop image with the image's entrypoint runs bin/shop": {
			image: "registry.example.com/storefront/shop:1.4.0", command: []string{"/shop"}, args: []string{"serve"},
			want: []string{imgs.Shop, "serve"},
		},
		"any tag of a shop image runs bin/shop": {
			image: "ghcr.io/acme/shop:latest", command: []string{"/shop"}, args: []string{"migrate", "--seed=demo"},
			want: []string{imgs.Shop, "migrate", "--seed=demo"},
		},
		"a shop image by digest runs bin/shop": {
			image: "localhost:5000/shop@sha256:0123", args: []string{"serve"},
			want: []string{imgs.Shop, "serve"},
		},
		"a -badmigration tag runs the badmigration build": {
			image: "registry.example.com/storefront/shop:1.5.1-badmigration", command: []string{"/shop"}, args: []string{"migrate"},
			want: []string{imgs.ShopBadMigration, "migrate"},
		},
		"an image named otherwise runs its command from $PATH": {
			image: "docker.io/library/busybox:1.37", command: []string{"sh", "-c", "true"},
			want: []string{mustLookPath(t, "sh"), "-c", "true"},
		},
		"a repository that only ends in shop is not the shop": {
			image: "registry.example.com/workshop:1", command: []string{"sh"},
			want: []string{mustLookPath(t, "sh")},
		},
		"an unmapped image without a command cannot run": {
			image: "docker.io/library/nginx:1", wantErr: true,
		},
		"a command missing from $PATH cannot run": {
			image: "busybox", command: []string{"no-such-program-here"}, wantErr: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := imgs.Command(tc.image, tc.command, tc.args)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	imgs := Images{}
	argv, err := imgs.Command("busybox", []string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return argv[0]
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"HOST": "db", "PORT": "5432"}
	for name, tc := range map[string]struct{ in, want string }{
		"a defined variable is replaced":             {"postgres://$(HOST):$(PORT)/shop", "postgres://db:5432/shop"},
		"an undefined variable is left as written":   {"$(NOPE)-$(HOST)", "$(NOPE)-db"},
		"$$ escapes a reference":                     {"$$(HOST)", "$(HOST)"},
		"a lone dollar stays":                        {"cost: 5$ and $", "cost: 5$ and $"},
		"an unterminated reference is left as it is": {"$(HOST", "$(HOST"},
		"no reference is untouched":                  {"plain", "plain"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := expand(tc.in, vars); got != tc.want {
				t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLogTailIsTheAttemptsOwnEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	if err := os.WriteFile(path, []byte("first attempt\nfailed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	offset := int64(len("first attempt\nfailed\n"))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_, _ = f.WriteString("line " + string(rune('a'+i%26)) + "\n")
	}
	_, _ = f.WriteString("the cause\n")
	_ = f.Close()
	got := logTail(path, offset)
	lines := len(splitLines(got))
	if lines != terminationMessageLines {
		t.Errorf("tail has %d lines, want %d", lines, terminationMessageLines)
	}
	if want := "the cause"; got[len(got)-len(want):] != want {
		t.Errorf("tail ends %q, want %q", got[max(0, len(got)-20):], want)
	}
	if tail := logTail(path, 0); len(tail) > terminationMessageBytes {
		t.Errorf("tail is %d bytes, want at most %d", len(tail), terminationMessageBytes)
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// The kubelet's restart back-off (flowcontrol.Backoff as doBackOff uses it,
// pkg/kubelet/kuberuntime/kuberuntime_manager.go; initialCrashLoopBackOff 10s and
// MaxContainerBackOff 300s, pkg/kubelet/kubelet.go): the first restart at once, then
// 10 s doubling to 300 s; a container that ran for more than 600 s since the last
// restart starts over.
func TestCrashLoopBackOff(t *testing.T) {
	b := crashLoopBackOff{initial: 10 * time.Second, max: 300 * time.Second}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var got []time.Duration
	for range 8 {
		now = now.Add(time.Second)
		got = append(got, b.Next(now, now))
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	if d := b.Next(now.Add(601*time.Second), now.Add(601*time.Second)); d != 0 {
		t.Errorf("after 601 s of running the delay is %s, want 0 (the back-off starts over)", d)
	}
}

// The pod phase from the container states (getPhase in pkg/kubelet/kubelet_pods.go).
func TestPodPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	exited := func(code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
	}
	backingOff := corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}
	for name, tc := range map[string]struct {
		policy   corev1.RestartPolicy
		statuses []corev1.ContainerStatus
		terminal bool
		want     corev1.PodPhase
	}{
		"a container not started yet is Pending":                {corev1.RestartPolicyAlways, []corev1.ContainerStatus{waiting}, false, corev1.PodPending},
		"a running container is Running":                        {corev1.RestartPolicyAlways, []corev1.ContainerStatus{running}, false, corev1.PodRunning},
		"restartPolicy Always keeps a crashed pod Running":      {corev1.RestartPolicyAlways, []corev1.ContainerStatus{backingOff}, false, corev1.PodRunning},
		"restartPolicy Never and exit 1 is Failed":              {corev1.RestartPolicyNever, []corev1.ContainerStatus{exited(1)}, false, corev1.PodFailed},
		"restartPolicy Never and exit 0 is Succeeded":           {corev1.RestartPolicyNever, []corev1.ContainerStatus{exited(0)}, false, corev1.PodSucceeded},
		"restartPolicy OnFailure restarts after exit 1":         {corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{exited(1)}, false, corev1.PodRunning},
		"restartPolicy OnFailure is done after exit 0":          {corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{exited(0)}, false, corev1.PodSucceeded},
		"a deleted pod whose containers exited 0 is Succeeded":  {corev1.RestartPolicyAlways, []corev1.ContainerStatus{exited(0)}, true, corev1.PodSucceeded},
		"a deleted pod killed by SIGKILL is Failed":             {corev1.RestartPolicyAlways, []corev1.ContainerStatus{exited(137)}, true, corev1.PodFailed},
		"one running and one restarting container is Running":   {corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, backingOff}, false, corev1.PodRunning},
		"one running and one not yet started container Pending": {corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, waiting}, false, corev1.PodPending},
	} {
		t.Run(name, func(t *testing.T) {
			spec := &corev1.PodSpec{RestartPolicy: tc.policy}
			for range tc.statuses {
				spec.Containers = append(spec.Containers, corev1.Container{})
			}
			if got := podPhase(spec, tc.statuses, tc.terminal); got != tc.want {
				t.Errorf("phase %s, want %s", got, tc.want)
			}
		})
	}
}

// A kill's grace period (setTerminationGracePeriod in
// pkg/kubelet/kuberuntime/kuberuntime_container.go).
func TestTerminationGracePeriod(t *testing.T) {
	c := &corev1.Container{LivenessProbe: &corev1.Probe{TerminationGracePeriodSeconds: ptr.To[int64](3)}}
	for name, tc := range map[string]struct {
		pod    corev1.Pod
		reason killReason
		want   time.Duration
	}{
		"a deletion's grace period wins": {corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionGracePeriodSeconds: ptr.To[int64](7)},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](30)}}, killForLiveness, 7 * time.Second},
		"a failed liveness probe's own": {corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](30)}}, killForLiveness, 3 * time.Second},
		"else the pod's":                {corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](30)}}, killForStartup, 30 * time.Second},
		"else the 2 s minimum":          {corev1.Pod{}, killForDeletion, 2 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if got := terminationGracePeriod(&tc.pod, c, tc.reason); got != tc.want {
				t.Errorf("grace %s, want %s", got, tc.want)
			}
		})
	}
}

// Container restart rules (ContainerShouldRestart in pkg/api/v1/pod/util.go).
func TestShouldRestart(t *testing.T) {
	never := ptr.To(corev1.ContainerRestartPolicyNever)
	rules := []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestart,
		ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{42}}}}
	for name, tc := range map[string]struct {
		c    corev1.Container
		pod  corev1.RestartPolicy
		code int32
		want bool
	}{
		"Always restarts after exit 0":                  {corev1.Container{}, corev1.RestartPolicyAlways, 0, true},
		"OnFailure restarts after exit 1":               {corev1.Container{}, corev1.RestartPolicyOnFailure, 1, true},
		"OnFailure does not after exit 0":               {corev1.Container{}, corev1.RestartPolicyOnFailure, 0, false},
		"Never does not":                                {corev1.Container{}, corev1.RestartPolicyNever, 1, false},
		"the container's Never beats the pod's Always":  {corev1.Container{RestartPolicy: never}, corev1.RestartPolicyAlways, 1, false},
		"a matching rule restarts despite Never":        {corev1.Container{RestartPolicy: never, RestartPolicyRules: rules}, corev1.RestartPolicyNever, 42, true},
		"a rule that does not match leaves it to Never": {corev1.Container{RestartPolicy: never, RestartPolicyRules: rules}, corev1.RestartPolicyNever, 1, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := shouldRestart(&tc.c, &corev1.PodSpec{RestartPolicy: tc.pod}, tc.code); got != tc.want {
				t.Errorf("shouldRestart = %v, want %v", got, tc.want)
			}
		})
	}
}

// Mount paths are rewritten where they start a path, raw or URL-escaped, once.
func TestPathRewriter(t *testing.T) {
	r := pathRewriter{mounts: []volumeMount{
		{MountPath: "/etc/storefront/database-ca", HostPath: "/tmp/lc/pods/ns/p/volumes/database-ca"},
		{MountPath: "/tmp", HostPath: "/tmp/lc/pods/ns/p/volumes/tmp"},
	}}
	for name, tc := range map[string]struct{ in, want string }{
		"an escaped path in a query is rewritten escaped": {
			"postgres://u:p@db:5432/shop?sslmode=verify-full&sslrootcert=%2Fetc%2Fstorefront%2Fdatabase-ca%2Fca.crt",
			"postgres://u:p@db:5432/shop?sslmode=verify-full&sslrootcert=%2Ftmp%2Flc%2Fpods%2Fns%2Fp%2Fvolumes%2Fdatabase-ca%2Fca.crt"},
		"a path in a script is rewritten":           {"touch /tmp/healthy; cat /tmp/x", "touch /tmp/lc/pods/ns/p/volumes/tmp/healthy; cat /tmp/lc/pods/ns/p/volumes/tmp/x"},
		"the mount path itself is rewritten":        {"/tmp", "/tmp/lc/pods/ns/p/volumes/tmp"},
		"a longer name is not the mount":            {"/tmpfs/x", "/tmpfs/x"},
		"a path inside another is not the mount":    {"/var/tmp/x", "/var/tmp/x"},
		"a variable's value is rewritten after = ":  {"CA=/etc/storefront/database-ca/ca.crt", "CA=/tmp/lc/pods/ns/p/volumes/database-ca/ca.crt"},
		"text without mounts is left as it is":      {"serve --port 8080", "serve --port 8080"},
		"a replacement under /tmp is not rewritten": {"/etc/storefront/database-ca", "/tmp/lc/pods/ns/p/volumes/database-ca"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := r.Rewrite(tc.in); got != tc.want {
				t.Errorf("Rewrite(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// A volume's files as the atomic writer lays them out, with the modes the kubelet
// sets (pkg/volume/util/atomic_writer.go; pkg/volume/volume_linux.go for fsGroup).
func TestWriteAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	payload := map[string]fileProjection{
		"ca.crt":       {Data: []byte("PEM"), Mode: 0o644},
		"certs/key.pk": {Data: []byte("KEY"), Mode: 0o400},
	}
	if err := writeAtomically(dir, payload, nil, false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"ca.crt": 0o644, "certs/key.pk": 0o400} {
		st, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", p, st.Mode().Perm(), want)
		}
		lst, err := os.Lstat(filepath.Join(dir, strings.Split(p, "/")[0]))
		if err != nil {
			t.Fatal(err)
		}
		if lst.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is not a symlink into ..data", p)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "..data")); err != nil || !strings.HasPrefix(target, "..20") {
		t.Errorf("..data links to %q (%v), want a timestamped directory", target, err)
	}
	if err := writeAtomically(filepath.Join(t.TempDir(), "bad"), map[string]fileProjection{"../escape": {Mode: 0o644}}, nil, false); err == nil {
		t.Error("a path leaving the volume was written")
	}
	if os.Getuid() == 0 {
		dir := filepath.Join(t.TempDir(), "grouped")
		if err := writeAtomically(dir, map[string]fileProjection{"k": {Data: []byte("v"), Mode: 0o400}}, ptr.To[int64](65532), true); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(dir, "k"))
		if st.Mode().Perm() != 0o440 {
			t.Errorf("with an fsGroup the mode is %o, want 0440", st.Mode().Perm())
		}
	}
}

// The downward API's maps are key="value" lines in key order (pkg/fieldpath: FormatMap).
func TestFormatMap(t *testing.T) {
	got := formatMap(map[string]string{"b": "2", "a": `say "hi"`})
	if want := "a=\"say \\\"hi\\\"\"\nb=\"2\""; got != want {
		t.Errorf("formatMap = %q, want %q", got, want)
	}
}

// Pod addresses come from the pod CIDR; the network refuses a port no container
// declares and has no route to an address nobody holds.
func TestPodNetwork(t *testing.T) {
	n := newPodNetwork()
	ip, ports, err := n.Allocate("uid-1", []int32{8080})
	if err != nil {
		t.Fatal(err)
	}
	if ip.String() != "10.244.0.1" {
		t.Errorf("first address %s, want 10.244.0.1", ip)
	}
	target, ok, err := n.Resolve("10.244.0.1:8080")
	if err != nil || !ok || target != fmt.Sprintf("127.0.0.1:%d", ports[8080]) {
		t.Errorf("Resolve = %q, %v, %v; want the loopback port %d", target, ok, err, ports[8080])
	}
	if _, _, err := n.Resolve("10.244.0.1:9090"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("an undeclared port: %v, want connection refused", err)
	}
	n.Release(ip)
	if _, _, err := n.Resolve("10.244.0.1:8080"); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("a released address: %v, want no route to host", err)
	}
	if target, ok, err := n.Resolve("127.0.0.1:5432"); err != nil || ok || target != "127.0.0.1:5432" {
		t.Errorf("an address outside the pod network is dialled as it is: %q, %v, %v", target, ok, err)
	}
	ip2, _, _ := n.Allocate("uid-2", nil)
	if ip2.String() != "10.244.0.2" {
		t.Errorf("the next address is %s, want 10.244.0.2 (not reused at once)", ip2)
	}
}

// The listener rules in the LBC's order (pkg/ingress/model_build_listener_rules.go:
// sortIngressPaths, buildPathPatterns): per Ingress rule, exact paths, then prefix
// paths longest first, then the others in order; a prefix /api matches /api and
// /api/..., not /apis; the host must match (case-insensitive); no match is the
// default action, a fixed 404 (model_build_actions.go: build404Action).
func TestALBRuleMatching(t *testing.T) {
	path := func(p string, typ networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(typ),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc}}}
	}
	m := &albModel{defaultAction: albAction{Type: "fixed-response", FixedResponseConfig: &fixedResponseConfig{StatusCode: "404", ContentType: "text/plain"}}}
	for _, r := range []struct {
		host  string
		paths []networkingv1.HTTPIngressPath
	}{
		{"shop.example", []networkingv1.HTTPIngressPath{
			path("/", networkingv1.PathTypePrefix, "shop"),
			path("/api", networkingv1.PathTypePrefix, "api"),
			path("/healthz", networkingv1.PathTypeExact, "health"),
			path("/static/*.css", networkingv1.PathTypeImplementationSpecific, "css"),
		}},
		{"*.example.org", []networkingv1.HTTPIngressPath{path("/", networkingv1.PathTypePrefix, "wild")}},
		{"static.example", []networkingv1.HTTPIngressPath{path("/static/*.css", networkingv1.PathTypeImplementationSpecific, "css")}},
		{"", []networkingv1.HTTPIngressPath{path("/any", networkingv1.PathTypePrefix, "anyhost")}},
	} {
		var hosts []string
		if r.host != "" {
			hosts = []string{r.host}
		}
		for _, p := range sortIngressPaths(r.paths) {
			m.rules = append(m.rules, albRule{hosts: hosts, paths: pathPatterns(p), action: albAction{Type: "forward", targetGroup: p.Backend.Service.Name}})
		}
	}
	for name, tc := range map[string]struct{ host, path, want string }{
		"the longer prefix comes first":                                          {"shop.example", "/api/v1/products", "api"},
		"a prefix matches itself":                                                {"shop.example", "/api", "api"},
		"a prefix matches whole segments only":                                   {"shop.example", "/apis", "shop"},
		"an exact path comes before any prefix":                                  {"shop.example", "/healthz", "health"},
		"an exact path does not match below it":                                  {"shop.example", "/healthz/x", "shop"},
		"the host matches with a port and in any case":                           {"SHOP.example:8080", "/", "shop"},
		"implementation-specific paths come after every prefix, so / takes them": {"shop.example", "/static/site.css", "shop"},
		"a wildcard host matches a subdomain":                                    {"a.example.org", "/x", "wild"},
		"an implementation-specific path is a pattern":                           {"static.example", "/static/site.css", "css"},
		"which must match the whole path":                                        {"static.example", "/static/site.css.map", "404"},
		"a wildcard host does not match its apex":                                {"example.org", "/x", "404"},
		"a rule without a host matches any host":                                 {"other.example", "/any/thing", "anyhost"},
		"a host without a rule gets the default action":                          {"unknown.example", "/", "404"},
		"the load balancer's own address has no rule":                            {"127.0.0.1:41234", "/", "404"},
	} {
		t.Run(name, func(t *testing.T) {
			act := m.match(tc.host, tc.path)
			got := act.targetGroup
			if act.Type == "fixed-response" {
				got = act.FixedResponseConfig.StatusCode
			}
			if got != tc.want {
				t.Errorf("match(%q, %q) = %s, want %s", tc.host, tc.path, got, tc.want)
			}
		})
	}
}

// The actions annotation as the LBC documents it (docs/guide/ingress/annotations.md,
// "actions"; enhanced_backend_builder.go: buildActionViaAnnotation).
func TestALBAnnotationActions(t *testing.T) {
	a := &albController{}
	ing := func(ann string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "shop",
			Annotations: map[string]string{"alb.ingress.kubernetes.io/actions.response-503": ann}}}
	}
	act, err := a.annotationAction(context.Background(), ing(`{"type":"fixed-response","fixedResponseConfig":{"contentType":"text/plain","statusCode":"503","messageBody":"503 error text"}}`), "response-503", &albModel{})
	if err != nil {
		t.Fatal(err)
	}
	if act.Type != "fixed-response" || act.FixedResponseConfig.StatusCode != "503" || act.FixedResponseConfig.MessageBody != "503 error text" || act.FixedResponseConfig.ContentType != "text/plain" {
		t.Errorf("action %+v %+v", act, act.FixedResponseConfig)
	}
	if _, err := a.annotationAction(context.Background(), ing(`{}`), "missing", &albModel{}); err == nil || err.Error() != "missing actions.missing configuration" {
		t.Errorf("a backend without its annotation: %v, want the LBC's \"missing actions.missing configuration\"", err)
	}
	if _, err := a.annotationAction(context.Background(), ing(`{"type":"fixed-response"`), "response-503", &albModel{}); err == nil {
		t.Error("malformed JSON was accepted")
	}
	if _, err := a.annotationAction(context.Background(), ing(`{"type":"authenticate-cognito"}`), "response-503", &albModel{}); err == nil {
		t.Error("an unknown action type was accepted")
	}
}

// The target group's health check: the LBC's defaults (pkg/ingress/model_builder.go:
// "/", 15 s, 5 s, 2 healthy, 2 unhealthy, "200") and its annotations.
func TestALBHealthCheckConfiguration(t *testing.T) {
	hc, err := healthCheckOf(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := healthCheck{path: "/", port: "traffic-port", interval: 15 * time.Second, timeout: 5 * time.Second, healthy: 2, unhealthy: 2, codes: "200"}
	if hc != want {
		t.Errorf("defaults %+v, want %+v", hc, want)
	}
	svc := map[string]string{"alb.ingress.kubernetes.io/healthcheck-path": "/readyz"}
	ing := map[string]string{"alb.ingress.kubernetes.io/healthcheck-path": "/healthz", "alb.ingress.kubernetes.io/healthcheck-interval-seconds": "5",
		"alb.ingress.kubernetes.io/success-codes": "200-299"}
	hc, err = healthCheckOf(mergeFirst(svc, ing))
	if err != nil {
		t.Fatal(err)
	}
	if hc.path != "/readyz" || hc.interval != 5*time.Second || hc.codes != "200-299" {
		t.Errorf("the Service's annotations win over the Ingress's: %+v", hc)
	}
	if _, err := healthCheckOf(map[string]string{"alb.ingress.kubernetes.io/healthy-threshold-count": "two"}); err == nil {
		t.Error("a threshold that is not a number was accepted")
	}
	for codes, cases := range map[string]map[int]bool{
		"200":         {200: true, 201: false},
		"200,202":     {202: true, 201: false},
		"200-299":     {204: true, 301: false},
		"200-399,404": {302: true, 404: true, 500: false},
	} {
		for code, want := range cases {
			if got := codeMatches(codes, code); got != want {
				t.Errorf("codeMatches(%q, %d) = %v, want %v", codes, code, got, want)
			}
		}
	}
}

// ALB path patterns: * any run of characters, ? one, case-sensitive.
func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"/*", "/", true}, {"/*", "/a/b", true}, {"/api", "/api", true}, {"/api", "/API", false},
		{"/api/*", "/api", false}, {"/a?c", "/abc", true}, {"/a?c", "/ac", false}, {"*.example.org", "a.example.org", true},
	} {
		if got := matchPattern(tc.pattern, tc.s); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
