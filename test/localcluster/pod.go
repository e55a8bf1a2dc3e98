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
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podWorker runs one pod from admission to its end: it sets up the pod's network
// address and volumes, runs its containers, writes the pod's status whenever something
// changes, terminates it when it is deleted (each container's preStop, SIGTERM, then
// SIGKILL after the grace period), and then deletes the Pod object, as the kubelet's
// pod worker and status manager do.
type podWorker struct {
	k   *kubelet
	uid types.UID
	key types.NamespacedName
	dir string

	mu  sync.Mutex
	pod *corev1.Pod

	// Set up before the containers start, read-only afterwards.
	ip         netip.Addr
	hostPorts  map[int32]int32
	volumes    *podVolumes
	startTime  metav1.Time
	containers []*container

	// terminate is closed when the pod is to stop; forgotten says its object is gone
	// (nothing to report), and shutdownGrace, when set, replaces the kubelet's grace
	// periods (the whole cluster stops).
	terminate     chan struct{}
	termOnce      sync.Once
	forgotten     bool
	shutdownGrace *time.Duration

	// mutate, when set, is the change the kubelet made to the pod when it admitted it
	// (EKS Pod Identity's), applied to every version of the Pod object seen.
	mutate func(*corev1.Pod) *corev1.Pod

	sandboxReady bool
	terminal     bool
	statusDirty  chan struct{}
	lastStatus   *corev1.PodStatus
	statusMu     sync.Mutex
	done         chan struct{}
}

func newPodWorker(k *kubelet, pod *corev1.Pod) *podWorker {
	w := &podWorker{
		k: k, uid: pod.UID, key: client.ObjectKeyFromObject(pod), pod: pod.DeepCopy(),
		dir:       filepath.Join(k.dir, "pods", pod.Namespace, pod.Name),
		terminate: make(chan struct{}), statusDirty: make(chan struct{}, 1), done: make(chan struct{}),
	}
	for _, c := range pod.Spec.Containers {
		w.containers = append(w.containers, newContainer(w, c))
	}
	return w
}

// spec is the latest Pod object seen.
func (w *podWorker) spec() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

// observe takes a newer Pod object: a deletion starts the termination.
func (w *podWorker) observe(pod *corev1.Pod) {
	if w.mutate != nil {
		pod = w.mutate(pod)
	}
	w.mu.Lock()
	w.pod = pod.DeepCopy()
	w.mu.Unlock()
	if !pod.DeletionTimestamp.IsZero() {
		w.stop()
	}
}

// forget stops a pod whose object is gone.
func (w *podWorker) forget() {
	w.mu.Lock()
	w.forgotten = true
	w.mu.Unlock()
	w.stop()
}

// shutdown stops the pod with grace, writing nothing, and waits for it.
func (w *podWorker) shutdown(grace time.Duration) {
	w.mu.Lock()
	w.shutdownGrace = &grace
	w.mu.Unlock()
	w.stop()
	<-w.done
}

func (w *podWorker) stop() { w.termOnce.Do(func() { close(w.terminate) }) }

func (w *podWorker) terminating() bool {
	select {
	case <-w.terminate:
		return true
	default:
		return false
	}
}

// sleep waits d, or until the pod terminates (true).
func (w *podWorker) sleep(d time.Duration) bool {
	if d <= 0 {
		return w.terminating()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.terminate:
		return true
	case <-t.C:
		return false
	}
}

// stopGrace is the grace period that replaces the kubelet's when the whole cluster
// stops.
func (w *podWorker) stopGrace() *time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.shutdownGrace
}

// reporting says whether the pod's status is still to be written.
func (w *podWorker) reporting() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.forgotten && w.shutdownGrace == nil && !w.k.stopping.Load()
}

func (w *podWorker) event(regarding runtime.Object, eventType, reason, note string, args ...any) {
	if w.reporting() {
		w.k.recorder.Eventf(regarding, nil, eventType, reason, reason, note, args...)
	}
}

// run is the pod's life.
func (w *podWorker) run() {
	defer close(w.done)
	ctx := context.Background()
	log := w.k.log.WithValues("pod", w.key.String())
	w.startTime = metav1.Now().Rfc3339Copy()
	if err := os.MkdirAll(filepath.Join(w.dir, "tmp"), 0o755); err != nil {
		log.Error(err, "Creating the pod directory")
		return
	}
	if err := os.Chmod(filepath.Join(w.dir, "tmp"), 0o1777); err != nil {
		log.Error(err, "Creating the pod directory")
		return
	}
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		w.writeStatusLoop(ctx)
	}()

	if w.admit(ctx) {
		var wg sync.WaitGroup
		for _, c := range w.containers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.run()
			}()
		}
		wg.Wait()
	}
	if w.ip.IsValid() {
		w.k.net.Release(w.ip)
	}
	w.volumes.TearDown()

	w.mu.Lock()
	w.terminal = true
	w.mu.Unlock()
	close(w.statusDirty)
	<-statusDone
	if !w.reporting() {
		return
	}
	// The final status, then the object goes if it was deleted (finalizers, such as the
	// Job controller's, may keep it a while longer).
	w.writeStatus(ctx)
	if pod := w.spec(); !pod.DeletionTimestamp.IsZero() {
		if err := w.k.deletePodObject(ctx, pod); err != nil {
			log.Error(err, "Deleting the pod")
		}
	}
}

// admit gives the pod its network address and volumes; false when the pod ended (was
// deleted) before its containers could start.
func (w *podWorker) admit(ctx context.Context) bool {
	pod := w.spec()
	var ports []int32
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			ports = append(ports, p.ContainerPort)
		}
	}
	if len(pod.Spec.InitContainers) > 0 {
		msg := "the local kubelet does not run init containers"
		for _, c := range w.containers {
			c.setWaiting("CreateContainerConfigError", msg)
		}
		w.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "%s", msg)
		<-w.terminate
		return false
	}
	for {
		ip, hostPorts, err := w.k.net.Allocate(w.uid, ports)
		if err == nil {
			w.ip, w.hostPorts = ip, hostPorts
			break
		}
		w.event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %s", err)
		if w.sleep(syncRetryPeriod) {
			return false
		}
	}
	if err := w.annotateHostPorts(ctx, pod); err != nil && w.reporting() {
		w.k.log.Error(err, "Recording the host ports", "pod", w.key.String())
	}
	w.mu.Lock()
	w.sandboxReady = true
	w.mu.Unlock()
	w.statusChanged()

	var lastErr string
	for {
		if w.terminating() {
			return false
		}
		vols, err := w.k.setUpVolumes(ctx, w.spec(), filepath.Join(w.dir, "volumes"))
		if err == nil {
			w.volumes = vols
			return true
		}
		if err.Error() != lastErr {
			w.event(w.spec(), corev1.EventTypeWarning, "FailedMount", "%s", err)
			lastErr = err.Error()
		}
		if w.sleep(2 * time.Second) {
			return false
		}
	}
}

// annotateHostPorts records where the pod's ports listen here (AnnotationHostPorts).
func (w *podWorker) annotateHostPorts(ctx context.Context, pod *corev1.Pod) error {
	if len(w.hostPorts) == 0 {
		return nil
	}
	var described []string
	seen := map[int32]bool{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if seen[p.ContainerPort] {
				continue
			}
			seen[p.ContainerPort] = true
			key := strconv.Itoa(int(p.ContainerPort))
			if p.Name != "" {
				key = p.Name
			}
			described = append(described, fmt.Sprintf("%s=%s:%d", key, podIP, w.hostPorts[p.ContainerPort]))
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationHostPorts: strings.Join(described, ",")}}})
	if err != nil {
		return err
	}
	err = w.k.client.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, patch), client.FieldOwner(kubeletManager))
	return client.IgnoreNotFound(err)
}

// statusChanged asks for the status to be written.
func (w *podWorker) statusChanged() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.terminal {
		return
	}
	select {
	case w.statusDirty <- struct{}{}:
	default:
	}
}

func (w *podWorker) writeStatusLoop(ctx context.Context) {
	for range w.statusDirty {
		if w.reporting() {
			w.writeStatus(ctx)
		}
	}
}

// writeStatus writes the pod's status unless it is what was written last.
func (w *podWorker) writeStatus(ctx context.Context) {
	w.statusMu.Lock()
	defer w.statusMu.Unlock()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		// From the API server: the first write follows the pod's binding at once.
		cur := &corev1.Pod{}
		if err := w.k.reader.Get(ctx, w.key, cur); err != nil {
			return err
		}
		if cur.UID != w.uid {
			return nil
		}
		st := w.generateStatus(cur)
		if w.lastStatus != nil && equality.Semantic.DeepEqual(*w.lastStatus, st) {
			return nil
		}
		cur.Status = st
		if err := w.k.client.Status().Update(ctx, cur, client.FieldOwner(kubeletManager)); err != nil {
			return err
		}
		w.lastStatus = &st
		return nil
	})
	if err != nil && !apierrors.IsNotFound(err) && w.reporting() {
		w.k.log.Error(err, "Writing pod status", "pod", w.key.String())
	}
}

// generateStatus is the pod's status (pkg/kubelet/kubelet_pods.go:
// generateAPIPodStatus, getPhase; pkg/kubelet/status/generate.go for the conditions),
// keeping the conditions other components own (PodScheduled, readiness gates' ...).
func (w *podWorker) generateStatus(cur *corev1.Pod) corev1.PodStatus {
	w.mu.Lock()
	terminal, sandboxReady := w.terminal, w.sandboxReady
	w.mu.Unlock()
	statuses := make([]corev1.ContainerStatus, len(w.containers))
	for i, c := range w.containers {
		statuses[i] = c.status()
	}
	phase := podPhase(&cur.Spec, statuses, terminal)
	old := cur.Status
	st := corev1.PodStatus{
		Phase:              phase,
		ObservedGeneration: cur.Generation,
		HostIP:             podIP,
		HostIPs:            []corev1.HostIP{{IP: podIP}},
		StartTime:          &w.startTime,
		QOSClass:           old.QOSClass,
		ContainerStatuses:  statuses,
		NominatedNodeName:  old.NominatedNodeName,
	}
	if w.ip.IsValid() {
		st.PodIP, st.PodIPs = w.ip.String(), []corev1.PodIP{{IP: w.ip.String()}}
	}
	gen := cur.Generation
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: metav1.Now().Rfc3339Copy()}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == s {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	var unready []string
	for _, cs := range statuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	var containersReady corev1.PodCondition
	switch {
	case phase == corev1.PodSucceeded:
		containersReady = cond(corev1.ContainersReady, false, "PodCompleted", "")
	case phase == corev1.PodFailed:
		containersReady = cond(corev1.ContainersReady, false, "PodFailed", "")
	case len(unready) > 0:
		containersReady = cond(corev1.ContainersReady, false, "ContainersNotReady", fmt.Sprintf("containers with unready status: %s", brackets(unready)))
	default:
		containersReady = cond(corev1.ContainersReady, true, "", "")
	}
	ready := containersReady
	ready.Type = corev1.PodReady
	if ready.Status == corev1.ConditionTrue {
		var gates []string
		for _, g := range cur.Spec.ReadinessGates {
			found := false
			for _, c := range old.Conditions {
				if c.Type == g.ConditionType {
					found = true
					if c.Status != corev1.ConditionTrue {
						gates = append(gates, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), c.Status))
					}
				}
			}
			if !found {
				gates = append(gates, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
			}
		}
		if len(gates) > 0 {
			ready = cond(corev1.PodReady, false, "ReadinessGatesNotReady", strings.Join(gates, ", "))
		}
	}
	ready = cond(corev1.PodReady, ready.Status == corev1.ConditionTrue, ready.Reason, ready.Message)
	initialized := cond(corev1.PodInitialized, true, "", "")
	if phase == corev1.PodSucceeded {
		initialized.Reason = "PodCompleted"
	}
	sandbox := cond(corev1.PodReadyToStartContainers, sandboxReady && !terminal, "", "")
	owned := map[corev1.PodConditionType]bool{
		corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true, corev1.ContainersReady: true, corev1.PodReady: true,
	}
	for _, c := range old.Conditions {
		if !owned[c.Type] {
			st.Conditions = append(st.Conditions, c)
		}
	}
	st.Conditions = append(st.Conditions, sandbox, initialized, ready, containersReady)
	sort.SliceStable(st.Conditions, func(i, j int) bool {
		return podConditionOrder(st.Conditions[i].Type) < podConditionOrder(st.Conditions[j].Type)
	})
	return st
}

// podConditionOrder is the order kubectl shows the kubelet's conditions in.
func podConditionOrder(t corev1.PodConditionType) int {
	switch t {
	case corev1.PodReadyToStartContainers:
		return 0
	case corev1.PodInitialized:
		return 1
	case corev1.PodReady:
		return 2
	case corev1.ContainersReady:
		return 3
	case corev1.PodScheduled:
		return 4
	}
	return 5
}

func brackets(names []string) string { return "[" + strings.Join(names, " ") + "]" }

// podPhase is the pod's phase from its containers (getPhase in
// pkg/kubelet/kubelet_pods.go, for pods without init containers): Pending while one
// waits for its first start, Running while one runs, or restarts; once all have
// stopped for good, Succeeded when all exited 0, else Failed. A terminated pod
// (deleted, its containers killed) is Succeeded or Failed by the same rule.
func podPhase(spec *corev1.PodSpec, statuses []corev1.ContainerStatus, terminal bool) corev1.PodPhase {
	running, waiting, stopped, succeeded, notRestartable := 0, 0, 0, 0, 0
	for i, cs := range statuses {
		c := &spec.Containers[i]
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if !shouldRestart(c, spec, cs.State.Terminated.ExitCode) {
				notRestartable++
			}
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			stopped++
			if !shouldRestart(c, spec, cs.LastTerminationState.Terminated.ExitCode) {
				notRestartable++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0 && !terminal:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0 && waiting == 0:
		if !terminal && stopped != notRestartable {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		return corev1.PodFailed
	case terminal:
		// Deleted before anything ran.
		return corev1.PodFailed
	}
	return corev1.PodPending
}
