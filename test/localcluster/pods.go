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
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/storefront-operator/storefront/test/testenv"
)

const (
	// podIP is every pod's address: they all share this machine's loopback, each on
	// ports of its own.
	podIP = "127.0.0.1"
	// NodeName is the one node of the cluster, set on every pod the stand-ins create.
	NodeName = "localcluster"
	// AnnotationHostPorts records where a pod's ports listen on this machine:
	// "http=127.0.0.1:41234,metrics=127.0.0.1:41235" (by name, or by number when unnamed).
	AnnotationHostPorts = "localcluster.storefront.dev/host-ports"
	// kubeletManager is the field manager of the kubelet stand-in's writes.
	kubeletManager = "kubelet"
	// terminationMessageTail bounds the termination message taken from the log, as the
	// kubelet's FallbackToLogsOnError does (80 lines, 2048 bytes).
	terminationMessageLines = 80
	terminationMessageBytes = 2048
)

// kubelet plays the kubelet of one node: it runs pods as local processes, probes their
// readiness, restarts containers that exit under restartPolicy Always, and reports all
// of it in the Pod objects' status. The Job and Deployment stand-ins create the pods.
type kubelet struct {
	client   client.Client
	reader   client.Reader
	images   Images
	caFile   string
	dir      string
	recorder recorder.EventRecorder
	log      logr.Logger
	// probeInterval is the readiness probe period until a container is first ready;
	// afterwards probes run every second.
	probeInterval time.Duration
	// restartBackoff is the first delay before a crashed container restarts; it doubles
	// up to 10 times the first.
	restartBackoff time.Duration

	mu   sync.Mutex
	pods map[types.UID]*pod
	// onChange is called (outside mu) when a pod's readiness or phase changes.
	onChange func(*pod)
	wg       sync.WaitGroup
	// stopping is set when the whole cluster stops: pods then write no status.
	stopping atomic.Bool
}

// pod is a running pod: its object as created, where its ports listen, its process.
type pod struct {
	k   *kubelet
	obj *corev1.Pod
	// hostPorts maps a container port (by name, and by number as a string) to the
	// port it listens on here.
	hostPorts map[string]int32
	logPath   string
	// terminate is closed to stop the pod; deleteObject says whether the Pod object
	// goes too (false when the whole cluster stops).
	terminate    chan struct{}
	stopOnce     sync.Once
	removeOnce   sync.Once
	deleteObject atomic.Bool
	grace        atomic.Int64 // nanoseconds
	done         chan struct{}

	ready       atomic.Bool
	terminating atomic.Bool

	mu         sync.Mutex
	phase      corev1.PodPhase
	exitCode   int32
	restarts   int32
	startedAt  time.Time // of the current container
	readyAt    time.Time // first time ready, for this container
	finishedAt time.Time
	finalized  bool // the final status is written
	status     corev1.PodStatus
}

// Namespace, Name and UID identify the pod.
func (p *pod) Namespace() string { return p.obj.Namespace }
func (p *pod) Name() string      { return p.obj.Name }
func (p *pod) UID() types.UID    { return p.obj.UID }

// Owner is the pod's controller reference.
func (p *pod) Owner() *metav1.OwnerReference { return metav1.GetControllerOf(p.obj) }

// Ready reports the last readiness probe result (false once terminating).
func (p *pod) Ready() bool { return p.ready.Load() && !p.terminating.Load() }

// Terminating reports whether the pod is being stopped.
func (p *pod) Terminating() bool { return p.terminating.Load() }

// Finished reports whether the pod's container exited for good, and how.
func (p *pod) Finished() (done bool, exitCode int32, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finalized, p.exitCode, p.finishedAt
}

// ReadyAt is when the current container was first ready (zero if never).
func (p *pod) ReadyAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readyAt
}

// TemplateHash is the pod-template-hash label.
func (p *pod) TemplateHash() string { return p.obj.Labels["pod-template-hash"] }

// HostPort is where the container port target (a name or a number) listens here.
func (p *pod) HostPort(target intstr.IntOrString) (int32, bool) {
	port, ok := p.hostPorts[target.String()]
	return port, ok
}

// Image is the pod's (first container's) image.
func (p *pod) Image() string { return p.obj.Spec.Containers[0].Image }

// LogPath is the container's log file.
func (p *pod) LogPath() string { return p.logPath }

// Terminate stops the pod as a deletion does: readiness goes at once (so no Service
// sends it more traffic), then SIGTERM, and SIGKILL after grace. With deleteObject the
// Pod object is deleted once the process has exited. It does not wait.
func (p *pod) Terminate(grace time.Duration, deleteObject bool) {
	p.stopOnce.Do(func() {
		p.terminating.Store(true)
		p.grace.Store(int64(grace))
		p.deleteObject.Store(deleteObject)
		close(p.terminate)
	})
	select {
	case <-p.done:
		// Already stopped (a finished Job's pod): only the object is left to go.
		if deleteObject {
			p.remove(context.Background())
		}
	default:
	}
}

// Done is closed when the pod has stopped for good.
func (p *pod) Done() <-chan struct{} { return p.done }

// podRequest is what a controller asks the kubelet to run.
type podRequest struct {
	Owner    client.Object
	OwnerGVK metav1.GroupVersionKind
	Name     string
	Template corev1.PodTemplateSpec
	// ExtraLabels are added to the template's (pod-template-hash, ...).
	ExtraLabels map[string]string
}

// RunPod creates the Pod object and starts running it.
func (k *kubelet) RunPod(ctx context.Context, req podRequest) (*pod, error) {
	spec := *req.Template.Spec.DeepCopy()
	if len(spec.Containers) != 1 {
		return nil, fmt.Errorf("pod %s: the local kubelet runs pods of one container, this one has %d", req.Name, len(spec.Containers))
	}
	spec.NodeName = NodeName
	lbls := map[string]string{}
	for k, v := range req.Template.Labels {
		lbls[k] = v
	}
	for k, v := range req.ExtraLabels {
		lbls[k] = v
	}
	annotations := map[string]string{}
	for k, v := range req.Template.Annotations {
		annotations[k] = v
	}
	hostPorts := map[string]int32{}
	var described []string
	for _, cp := range spec.Containers[0].Ports {
		port, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		hostPorts[strconv.Itoa(int(cp.ContainerPort))] = int32(port)
		key := strconv.Itoa(int(cp.ContainerPort))
		if cp.Name != "" {
			hostPorts[cp.Name] = int32(port)
			key = cp.Name
		}
		described = append(described, fmt.Sprintf("%s=%s:%d", key, podIP, port))
	}
	if len(described) > 0 {
		annotations[AnnotationHostPorts] = strings.Join(described, ",")
	}
	owner := req.Owner
	obj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: req.Name, Namespace: owner.GetNamespace(), Labels: lbls, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: req.OwnerGVK.Group + "/" + req.OwnerGVK.Version, Kind: req.OwnerGVK.Kind,
				Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: spec,
	}
	if req.OwnerGVK.Group == "" {
		obj.OwnerReferences[0].APIVersion = req.OwnerGVK.Version
	}
	if err := k.client.Create(ctx, obj, client.FieldOwner(kubeletManager)); err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", req.Name, err)
	}
	dir := filepath.Join(k.dir, "pods", obj.Namespace, obj.Name)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	p := &pod{
		k: k, obj: obj, hostPorts: hostPorts, logPath: filepath.Join(dir, spec.Containers[0].Name+".log"),
		terminate: make(chan struct{}), done: make(chan struct{}), phase: corev1.PodPending,
	}
	k.mu.Lock()
	k.pods[obj.UID] = p
	k.mu.Unlock()
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		p.run(dir)
	}()
	return p, nil
}

// Pods returns the pods the kubelet runs (or ran and has not forgotten) that match.
func (k *kubelet) Pods(match func(*pod) bool) []*pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*pod
	for _, p := range k.pods {
		if match == nil || match(p) {
			out = append(out, p)
		}
	}
	return out
}

// OwnedBy returns the pods whose controller is the object with uid.
func (k *kubelet) OwnedBy(uid types.UID) []*pod {
	return k.Pods(func(p *pod) bool {
		o := p.Owner()
		return o != nil && o.UID == uid
	})
}

// ReadyPods returns the ready pods of ns whose labels match selector (a Service's).
func (k *kubelet) ReadyPods(ns string, selector map[string]string) []*pod {
	if len(selector) == 0 {
		return nil // a Service without a selector has no endpoints the kubelet knows of
	}
	sel := labels.SelectorFromSet(selector)
	return k.Pods(func(p *pod) bool {
		return p.obj.Namespace == ns && sel.Matches(labels.Set(p.obj.Labels)) && p.Ready()
	})
}

// forget drops a stopped pod from the registry.
func (k *kubelet) forget(p *pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.pods, p.obj.UID)
}

// StopAll stops every pod (SIGTERM, then SIGKILL after grace) and waits for them.
func (k *kubelet) StopAll(grace time.Duration) {
	k.stopping.Store(true)
	for _, p := range k.Pods(nil) {
		p.Terminate(grace, false)
	}
	k.wg.Wait()
}

func (k *kubelet) changed(p *pod) {
	if k.onChange != nil {
		k.onChange(p)
	}
}

// run is the pod's whole life: start the container (again, for restartPolicy Always,
// after a crash), probe it, stop it when asked.
func (p *pod) run(dir string) {
	defer close(p.done)
	ctx := context.Background()
	c := &p.obj.Spec.Containers[0]
	policy := p.obj.Spec.RestartPolicy
	backoff := p.k.restartBackoff
	for {
		proc, offset, err := p.start(ctx, dir, c)
		if err != nil {
			// The kubelet keeps trying: a Secret may appear later.
			p.setWaiting(ctx, "CreateContainerConfigError", err.Error())
			p.k.recorder.Eventf(p.obj, nil, corev1.EventTypeWarning, "Failed", "Start", "Error: %s", err)
			if p.wait(time.Second) {
				p.finish(ctx, nil, 0)
				return
			}
			continue
		}
		p.k.recorder.Eventf(p.obj, nil, corev1.EventTypeNormal, "Started", "Start", "Started container %s", c.Name)
		stopped := p.supervise(ctx, proc, c)
		restart := policy == corev1.RestartPolicyAlways || policy == corev1.RestartPolicyOnFailure && proc.ExitCode() != 0
		if stopped || !restart {
			p.finish(ctx, proc, offset)
			return
		}
		p.mu.Lock()
		p.restarts++
		p.mu.Unlock()
		p.setWaiting(ctx, "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.Name, p.obj.Name))
		p.k.recorder.Eventf(p.obj, nil, corev1.EventTypeWarning, "BackOff", "Start", "Back-off restarting failed container %s", c.Name)
		if p.wait(backoff) {
			p.finish(ctx, nil, 0)
			return
		}
		backoff = min(2*backoff, 10*p.k.restartBackoff)
	}
}

// wait waits d, or until the pod is asked to stop (true).
func (p *pod) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.terminate:
		return true
	case <-t.C:
		return false
	}
}

// hostAddr matches an address a program is told to listen on: [host]:port.
var hostAddr = regexp.MustCompile(`^(|0\.0\.0\.0|\[::\]|127\.0\.0\.1|localhost):(\d+)$`)

// start resolves the container's command and environment and starts it. offset is where
// its output begins in the log file.
func (p *pod) start(ctx context.Context, dir string, c *corev1.Container) (*process, int64, error) {
	env, err := resolveEnv(ctx, p.k.reader, p.obj, c)
	if err != nil {
		return nil, 0, err
	}
	vars := map[string]string{}
	for i, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		// Each pod would have its own network namespace and listen on its container
		// ports; here they share one, so an address on a declared port becomes this
		// pod's port for it, and another *_ADDR gets a free port.
		if m := hostAddr.FindStringSubmatch(value); m != nil {
			if port, ok := p.hostPorts[m[2]]; ok {
				value = fmt.Sprintf("%s:%d", podIP, port)
			} else if strings.HasSuffix(name, "_ADDR") {
				free, err := testenv.FreePort()
				if err != nil {
					return nil, 0, err
				}
				value = fmt.Sprintf("%s:%d", podIP, free)
			}
			env[i] = name + "=" + value
		}
		vars[name] = value
	}
	if p.k.images.Binary(c.Image) != "" && vars["HTTP_ADDR"] == "" {
		// The shop listens on :8080 by default, which every replica would share.
		port, ok := p.hostPorts["http"]
		if !ok {
			free, err := testenv.FreePort()
			if err != nil {
				return nil, 0, err
			}
			port = int32(free)
		}
		env = append(env, fmt.Sprintf("HTTP_ADDR=%s:%d", podIP, port))
	}
	command, args := make([]string, len(c.Command)), make([]string, len(c.Args))
	for i, s := range c.Command {
		command[i] = expand(s, vars)
	}
	for i, s := range c.Args {
		args[i] = expand(s, vars)
	}
	argv, err := p.k.images.Command(c.Image, command, args)
	if err != nil {
		return nil, 0, err
	}
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TMPDIR=" + filepath.Join(dir, "tmp"),
		"HOSTNAME=" + p.obj.Name,
		"SSL_CERT_FILE=" + p.k.caFile,
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = dir
	cmd.Env = append(base, env...)
	if c.WorkingDir != "" {
		if st, err := os.Stat(c.WorkingDir); err == nil && st.IsDir() {
			cmd.Dir = c.WorkingDir
		}
	}
	var offset int64
	if st, err := os.Stat(p.logPath); err == nil {
		offset = st.Size()
	}
	proc, err := startProcess(cmd, p.logPath)
	if err != nil {
		return nil, 0, err
	}
	p.mu.Lock()
	p.phase, p.startedAt, p.readyAt = corev1.PodRunning, proc.Started, time.Time{}
	p.mu.Unlock()
	p.ready.Store(false)
	p.writeStatus(ctx, proc, 0)
	p.k.changed(p)
	return proc, offset, nil
}

// supervise probes the running container until it exits (false) or the pod is asked
// to stop (true, once the container is gone).
func (p *pod) supervise(ctx context.Context, proc *process, c *corev1.Container) bool {
	probe := newProber(c.ReadinessProbe, p)
	interval := p.k.probeInterval
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-proc.Exited():
			p.ready.Store(false)
			return false
		case <-p.terminate:
			p.ready.Store(false)
			p.k.changed(p)
			p.k.recorder.Eventf(p.obj, nil, corev1.EventTypeNormal, "Killing", "Kill", "Stopping container %s", c.Name)
			proc.Terminate(time.Duration(p.grace.Load()))
			return true
		case <-t.C:
			ok := probe.check(ctx)
			if ok != p.ready.Load() {
				p.ready.Store(ok)
				if ok {
					p.mu.Lock()
					if p.readyAt.IsZero() {
						p.readyAt = time.Now()
					}
					p.mu.Unlock()
					interval = max(p.k.probeInterval, time.Second)
				}
				p.writeStatus(ctx, proc, 0)
				p.k.changed(p)
			}
			t.Reset(interval)
		}
	}
}

// finish records the container's end (proc nil: it never started) and, when asked,
// deletes the Pod object and forgets the pod.
func (p *pod) finish(ctx context.Context, proc *process, offset int64) {
	p.ready.Store(false)
	p.mu.Lock()
	p.finishedAt = time.Now()
	p.phase = corev1.PodFailed
	if proc != nil {
		p.exitCode = int32(proc.ExitCode())
		p.finishedAt = proc.Finished
		if p.exitCode == 0 {
			p.phase = corev1.PodSucceeded
		}
	}
	p.mu.Unlock()
	if p.deleteObject.Load() {
		p.remove(ctx)
	} else if !p.k.stopping.Load() {
		p.writeStatus(ctx, proc, offset)
	}
	// Only now does the pod count as finished: a Job's status must never run ahead of
	// its pods'.
	p.mu.Lock()
	p.finalized = true
	p.mu.Unlock()
	p.k.changed(p)
}

// remove deletes the Pod object of a stopped pod and forgets the pod, once.
func (p *pod) remove(ctx context.Context) {
	p.removeOnce.Do(func() {
		if !p.k.stopping.Load() {
			err := p.k.client.Delete(ctx, p.obj, client.GracePeriodSeconds(0), client.Preconditions{UID: &p.obj.UID})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				p.k.log.Error(err, "Deleting pod", "pod", client.ObjectKeyFromObject(p.obj))
			}
		}
		p.k.forget(p)
	})
}

// setWaiting reports the container waiting for reason.
func (p *pod) setWaiting(ctx context.Context, reason, message string) {
	p.ready.Store(false)
	waiting := &corev1.ContainerStateWaiting{Reason: reason, Message: message}
	p.writeStatusWith(ctx, func(st *corev1.PodStatus) {
		st.ContainerStatuses[0].State = corev1.ContainerState{Waiting: waiting}
		st.ContainerStatuses[0].Ready = false
		st.ContainerStatuses[0].Started = ptr.To(false)
	})
	p.k.changed(p)
}

func (p *pod) writeStatus(ctx context.Context, proc *process, offset int64) {
	p.writeStatusWith(ctx, func(st *corev1.PodStatus) {
		cs := &st.ContainerStatuses[0]
		switch {
		case proc == nil:
		case st.Phase == corev1.PodRunning:
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(proc.Started)}}
			cs.ContainerID = fmt.Sprintf("localcluster://%d", proc.Pid())
		default:
			code := int32(proc.ExitCode())
			term := &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: "Completed",
				StartedAt: metav1.NewTime(proc.Started), FinishedAt: metav1.NewTime(proc.Finished),
				ContainerID: fmt.Sprintf("localcluster://%d", proc.Pid()),
			}
			if code != 0 {
				term.Reason = "Error"
				if p.obj.Spec.Containers[0].TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
					term.Message = logTail(p.logPath, offset)
				}
			}
			cs.State = corev1.ContainerState{Terminated: term}
			cs.ContainerID = term.ContainerID
		}
	})
}

// writeStatusWith computes the pod's status from its state, lets edit adjust the
// container's, and writes it.
func (p *pod) writeStatusWith(ctx context.Context, edit func(*corev1.PodStatus)) {
	if p.k.stopping.Load() {
		return
	}
	p.mu.Lock()
	now := metav1.Now()
	ready := p.ready.Load()
	prev := p.status
	st := corev1.PodStatus{
		Phase:     p.phase,
		HostIP:    podIP,
		HostIPs:   []corev1.HostIP{{IP: podIP}},
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: ptr.To(metav1.NewTime(p.obj.CreationTimestamp.Time)),
	}
	if st.StartTime.IsZero() {
		st.StartTime = &now
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
		for _, old := range prev.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodScheduled, true), cond(corev1.PodInitialized, true),
		cond(corev1.ContainersReady, ready), cond(corev1.PodReady, ready),
	}
	c := p.obj.Spec.Containers[0]
	cs := corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: "localcluster://" + p.k.images.Binary(c.Image),
		Ready: ready, Started: ptr.To(p.phase == corev1.PodRunning), RestartCount: p.restarts,
	}
	if len(prev.ContainerStatuses) > 0 {
		old := prev.ContainerStatuses[0]
		cs.State, cs.ContainerID, cs.LastTerminationState = old.State, old.ContainerID, old.LastTerminationState
		if old.State.Terminated != nil && p.phase == corev1.PodRunning {
			cs.LastTerminationState = old.State
		}
	}
	st.ContainerStatuses = []corev1.ContainerStatus{cs}
	p.mu.Unlock()

	edit(&st)

	p.mu.Lock()
	p.status = st
	p.mu.Unlock()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		// From the API server, not the cache: the first status write follows the Pod's
		// creation at once, when the cache may not have it yet, and a NotFound there
		// (taken for a deleted pod) would lose the Running status for good.
		cur := &corev1.Pod{}
		if err := p.k.reader.Get(ctx, client.ObjectKeyFromObject(p.obj), cur); err != nil {
			return err
		}
		if cur.UID != p.obj.UID {
			return nil
		}
		st.QOSClass = cur.Status.QOSClass // the API server's, immutable
		cur.Status = st
		return p.k.client.Status().Update(ctx, cur, client.FieldOwner(kubeletManager))
	})
	if err != nil && !apierrors.IsNotFound(err) {
		p.k.log.Error(err, "Writing pod status", "pod", client.ObjectKeyFromObject(p.obj))
	}
}

// logTail is the end of the log written after offset: at most 80 lines and 2048 bytes.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	start := max(offset, st.Size()-terminationMessageBytes)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > terminationMessageLines {
		lines = lines[len(lines)-terminationMessageLines:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// prober runs a readiness probe against the pod's ports here.
type prober struct {
	probe  *corev1.Probe
	p      *pod
	client *http.Client
}

func newProber(probe *corev1.Probe, p *pod) *prober {
	return &prober{probe: probe, p: p, client: &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
		// Probes do not follow redirects to other hosts; a redirect counts as success.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// check runs the probe once: HTTP 200-399, a TCP connect, or (no probe, or an exec
// probe, which the stand-in does not run) ready as soon as the container runs.
func (pr *prober) check(ctx context.Context) bool {
	if pr.probe == nil {
		return true
	}
	switch {
	case pr.probe.HTTPGet != nil:
		port, ok := pr.p.HostPort(pr.probe.HTTPGet.Port)
		if !ok {
			return false
		}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d%s", podIP, port, pr.probe.HTTPGet.Path), nil)
		if err != nil {
			return false
		}
		req.Header.Set("User-Agent", "kube-probe/1.37")
		resp, err := pr.client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	case pr.probe.TCPSocket != nil:
		port, ok := pr.p.HostPort(pr.probe.TCPSocket.Port)
		if !ok {
			return false
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", podIP, port), time.Second)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	}
	return true
}

// randomSuffix is the 5 characters the API server's generateName appends.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
