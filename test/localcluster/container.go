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
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/storefront-operator/storefront/test/testenv"
)

// Exit reasons and codes as containerd's CRI plugin reports them to the kubelet
// (internal/cri/server/helpers.go: completeExitReason, errorExitReason,
// errorStartReason, errorStartExitCode; container_status.go: toCRIContainerStatus).
const (
	reasonCompleted    = "Completed"
	reasonError        = "Error"
	reasonStartError   = "StartError"
	startErrorExitCode = 128
	// minimumGracePeriod is the least time a container gets between SIGTERM and
	// SIGKILL (minimumGracePeriodInSeconds in pkg/kubelet/kuberuntime).
	minimumGracePeriod = 2 * time.Second
	// terminationMessageLines and terminationMessageBytes bound the termination
	// message FallbackToLogsOnError takes from the log (pkg/kubelet/kuberuntime:
	// kubeContainerStatusFromContainerStatus; MaxContainerTerminationMessageLogLines and
	// ...LogLength).
	terminationMessageLines = 80
	terminationMessageBytes = 2048
)

// killReason says why the kubelet kills a container, which decides its grace period
// and the Killing event's message.
type killReason int

const (
	killForDeletion killReason = iota
	killForLiveness
	killForStartup
)

// container runs one container of a pod: each instance a process, restarted under the
// restart policy with the CrashLoopBackOff delays, probed while it runs.
type container struct {
	w    *podWorker
	spec corev1.Container

	mu        sync.Mutex
	state     corev1.ContainerState
	lastState corev1.ContainerState
	restarts  int32
	ready     bool
	started   bool
	id        string
	imageID   string
	// instances counts the processes started (or that failed to start).
	instances int
	// finished is set once the container will not run again.
	finished bool

	kill chan killReason
}

func newContainer(w *podWorker, spec corev1.Container) *container {
	return &container{
		w: w, spec: spec, kill: make(chan killReason, 1),
		state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
	}
}

// status is the container's status as the kubelet reports it
// (pkg/kubelet/kubelet_pods.go: convertToAPIContainerStatuses).
func (c *container) status() corev1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return corev1.ContainerStatus{
		Name: c.spec.Name, Image: c.spec.Image, ImageID: c.imageID, ContainerID: c.id,
		State: *c.state.DeepCopy(), LastTerminationState: *c.lastState.DeepCopy(),
		Ready: c.ready, Started: ptr.To(c.started), RestartCount: c.restarts,
	}
}

func (c *container) setWaiting(reason, message string) {
	c.mu.Lock()
	if c.state.Terminated != nil {
		c.lastState = c.state
	}
	c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
	c.ready, c.started = false, false
	c.mu.Unlock()
	c.w.statusChanged()
}

func (c *container) setReady(ready bool) {
	c.mu.Lock()
	changed := c.ready != ready && c.state.Running != nil
	if changed {
		c.ready = ready
	}
	c.mu.Unlock()
	if changed {
		c.w.statusChanged()
	}
}

func (c *container) setStarted() {
	c.mu.Lock()
	changed := !c.started && c.state.Running != nil
	c.started = true
	c.mu.Unlock()
	if changed {
		c.w.statusChanged()
	}
}

func (c *container) isStarted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started
}

// runningID is the running instance's container ID ("" when none runs).
func (c *container) runningID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Running == nil {
		return ""
	}
	return c.id
}

// runningPID is the running instance's process (group) ID.
func (c *container) runningPID() (int, bool) {
	pid, err := strconv.Atoi(strings.TrimPrefix(c.runningID(), "localcluster://"))
	return pid, err == nil
}

// lastExit is the last instance's exit code, and whether there was one.
func (c *container) lastExit() (code int32, finishedAt time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.state.Terminated
	if t == nil {
		t = c.lastState.Terminated
	}
	if t == nil {
		return 0, time.Time{}, false
	}
	return t.ExitCode, t.FinishedAt.Time, true
}

// run is the container's whole life.
func (c *container) run() {
	ctx := context.Background()
	w := c.w
	bo := crashLoopBackOff{initial: w.k.restartBackoff, max: w.k.maxBackoff}
	// backedOff is the exit whose back-off has been served: a start that fails on its
	// configuration does not make the same exit count twice.
	var backedOff time.Time
	for {
		if w.terminating() {
			return
		}
		if code, finishedAt, ok := c.lastExit(); ok && !finishedAt.Equal(backedOff) {
			if !shouldRestart(&c.spec, &w.spec().Spec, code) {
				c.mu.Lock()
				c.finished = true
				c.mu.Unlock()
				w.statusChanged()
				return
			}
			backedOff = finishedAt
			if delay := bo.Next(finishedAt, time.Now()); delay > 0 {
				msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.spec.Name, formatPod(w.spec()))
				c.setWaiting("CrashLoopBackOff", msg)
				w.event(c.ref(), corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.spec.Name, formatPod(w.spec()))
				if w.sleep(time.Until(finishedAt.Add(delay))) {
					return
				}
			}
		}
		cmd, err := c.prepare(ctx)
		if err != nil {
			// The kubelet retries the pod's sync after a while; a Secret may appear.
			c.setWaiting("CreateContainerConfigError", err.Error())
			w.event(c.ref(), corev1.EventTypeWarning, "Failed", "Error: %s", err)
			if w.sleep(syncRetryPeriod) {
				return
			}
			continue
		}
		w.event(c.ref(), corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.spec.Image)
		if c.runInstance(ctx, cmd) {
			return
		}
	}
}

// runInstance starts one process and supervises it until it exits; true when the pod
// terminates.
func (c *container) runInstance(ctx context.Context, cmd *exec.Cmd) bool {
	w := c.w
	var offset int64
	if st, err := os.Stat(c.logPath()); err == nil {
		offset = st.Size()
	}
	proc, err := startProcess(cmd, c.logPath())
	c.mu.Lock()
	if c.instances > 0 {
		c.restarts++
	}
	c.instances++
	if c.state.Terminated != nil {
		c.lastState = c.state
	}
	now := metav1.Now()
	if err != nil {
		c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: startErrorExitCode, Reason: reasonStartError, Message: err.Error(), StartedAt: now, FinishedAt: now,
		}}
		c.id, c.ready, c.started = "", false, false
		c.mu.Unlock()
		w.event(c.ref(), corev1.EventTypeWarning, "Failed", "Error: %s", err)
		w.statusChanged()
		return w.terminating()
	}
	c.id = fmt.Sprintf("localcluster://%d", proc.Pid())
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(proc.Started)}}
	c.ready = false
	c.started = c.spec.StartupProbe == nil
	c.mu.Unlock()
	w.event(c.ref(), corev1.EventTypeNormal, "Created", "Created container: %s", c.spec.Name)
	w.event(c.ref(), corev1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)

	// The kubelet learns of the start at its next relist; the status says so then, and
	// the readiness probe gets its first run.
	select {
	case <-w.k.relist.Next():
	case <-proc.Exited():
	}
	w.statusChanged()
	probeCtx, stopProbes := context.WithCancel(ctx)
	probes := startProbes(probeCtx, c, proc)

	terminating := false
	select {
	case <-proc.Exited():
		// An exit the kubelet did not cause is noticed at the next relist.
		select {
		case <-w.k.relist.Next():
		case <-w.terminate:
		}
	case reason := <-c.kill:
		c.killProcess(proc, reason)
	case <-w.terminate:
		terminating = true
		c.killProcess(proc, killForDeletion)
	}
	<-proc.Exited()
	if !terminating {
		// Readiness keeps being probed while a pod terminates; liveness does not.
		stopProbes()
	}
	code := int32(proc.ExitCode())
	term := &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reasonCompleted,
		StartedAt: metav1.NewTime(proc.Started), FinishedAt: metav1.NewTime(proc.Finished), ContainerID: c.id,
	}
	if code != 0 {
		term.Reason = reasonError
		if c.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
			term.Message = logTail(c.logPath(), offset)
		}
	}
	stopProbes()
	probes.Wait()
	c.mu.Lock()
	c.state = corev1.ContainerState{Terminated: term}
	c.ready = false
	c.mu.Unlock()
	// Drop a kill asked for by a probe of this instance.
	select {
	case <-c.kill:
	default:
	}
	w.statusChanged()
	return terminating || w.terminating()
}

// killProcess stops an instance as the kubelet's killContainer does: the Killing
// event, the preStop hook within the grace period, then SIGTERM and, after what is
// left of the grace period (at least 2 s), SIGKILL.
func (c *container) killProcess(proc *process, reason killReason) {
	w := c.w
	if g := w.stopGrace(); g != nil {
		proc.Terminate(*g)
		return
	}
	pod := w.spec()
	grace := terminationGracePeriod(pod, &c.spec, reason)
	restart := shouldRestart(&c.spec, &pod.Spec, 1)
	var msg string
	switch reason {
	case killForLiveness:
		msg = fmt.Sprintf("Container %s failed liveness probe", c.spec.Name)
	case killForStartup:
		msg = fmt.Sprintf("Container %s failed startup probe", c.spec.Name)
	default:
		msg = fmt.Sprintf("Stopping container %s", c.spec.Name)
		restart = false
	}
	if restart {
		msg += ", will be restarted"
	}
	w.event(c.ref(), corev1.EventTypeNormal, "Killing", "%s", msg)
	if hook := c.spec.Lifecycle; hook != nil && hook.PreStop != nil && grace > 0 {
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.runHandler(hook.PreStop, grace) }()
		select {
		case err := <-done:
			if err != nil {
				// The kubelet keeps the hook's output out of the event, lest it hold secrets.
				w.event(c.ref(), corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
			}
		case <-time.After(grace):
		case <-proc.Exited():
		}
		grace -= time.Duration(int64(time.Since(start).Seconds())) * time.Second
	}
	grace = max(grace, minimumGracePeriod)
	proc.Terminate(grace)
}

// terminationGracePeriod is the grace period of a kill (setTerminationGracePeriod in
// pkg/kubelet/kuberuntime/kuberuntime_container.go): the deletion's, else a failed
// probe's own, else the pod's.
func terminationGracePeriod(pod *corev1.Pod, c *corev1.Container, reason killReason) time.Duration {
	sec := func(s int64) time.Duration { return time.Duration(s) * time.Second }
	if pod.DeletionGracePeriodSeconds != nil {
		return sec(*pod.DeletionGracePeriodSeconds)
	}
	if pod.Spec.TerminationGracePeriodSeconds == nil {
		return minimumGracePeriod
	}
	switch {
	case reason == killForStartup && c.StartupProbe != nil && c.StartupProbe.TerminationGracePeriodSeconds != nil:
		return sec(*c.StartupProbe.TerminationGracePeriodSeconds)
	case reason == killForLiveness && c.LivenessProbe != nil && c.LivenessProbe.TerminationGracePeriodSeconds != nil:
		return sec(*c.LivenessProbe.TerminationGracePeriodSeconds)
	}
	return sec(*pod.Spec.TerminationGracePeriodSeconds)
}

// shouldRestart says whether an instance that exited with code is restarted
// (ContainerShouldRestart in pkg/api/v1/pod/util.go): the container's own restart
// policy and rules first, then the pod's.
func shouldRestart(c *corev1.Container, spec *corev1.PodSpec, code int32) bool {
	if c.RestartPolicy != nil {
		for _, rule := range c.RestartPolicyRules {
			if rule.ExitCodes != nil && rule.Action == corev1.ContainerRestartRuleActionRestart {
				in := slices.Contains(rule.ExitCodes.Values, code)
				if (rule.ExitCodes.Operator == corev1.ContainerRestartRuleOnExitCodesOpIn) == in {
					return true
				}
			}
		}
		switch *c.RestartPolicy {
		case corev1.ContainerRestartPolicyAlways:
			return true
		case corev1.ContainerRestartPolicyOnFailure:
			return code != 0
		case corev1.ContainerRestartPolicyNever:
			return false
		}
	}
	switch spec.RestartPolicy {
	case corev1.RestartPolicyOnFailure:
		return code != 0
	case corev1.RestartPolicyNever:
		return false
	}
	return true
}

// crashLoopBackOff is the kubelet's restart back-off (flowcontrol.Backoff as
// doBackOff in pkg/kubelet/kuberuntime/kuberuntime_manager.go uses it): the first
// restart is at once, then 10 s, doubling up to 5 minutes; a container that ran for
// twice the maximum since the last restart starts over.
type crashLoopBackOff struct {
	initial, max time.Duration
	current      time.Duration
	lastUpdate   time.Time
}

// Next is how long after finishedAt the next instance may start.
func (b *crashLoopBackOff) Next(finishedAt, now time.Time) time.Duration {
	if b.current == 0 || finishedAt.Sub(b.lastUpdate) > 2*b.max {
		b.current, b.lastUpdate = b.initial, now
		return 0
	}
	delay := b.current
	b.current = min(2*b.current, b.max)
	b.lastUpdate = now
	return delay
}

// ref is the container as the object of an event.
func (c *container) ref() *corev1.ObjectReference {
	pod := c.w.spec()
	return &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: fmt.Sprintf("spec.containers{%s}", c.spec.Name),
	}
}

func (c *container) logPath() string {
	return filepath.Join(c.w.dir, c.spec.Name+".log")
}

// hostAddr matches an address a program is told to listen on: [host]:port.
var hostAddr = regexp.MustCompile(`^(|0\.0\.0\.0|\[::\]|127\.0\.0\.1|localhost):(\d+)$`)

// prepare builds the instance's process: its program and arguments, its environment
// with the kubelet's variables, its mounts rewritten to their directories here, its
// working directory and its user. An error is what the kubelet reports as
// CreateContainerConfigError.
func (c *container) prepare(ctx context.Context) (*exec.Cmd, error) {
	w := c.w
	pod := w.spec()
	cred, err := c.credential(pod)
	if err != nil {
		return nil, err
	}
	env, err := resolveEnv(ctx, w.k.reader, pod, &c.spec, w.ip.String())
	if err != nil {
		return nil, err
	}
	mounts, err := w.volumes.Mounts(&c.spec)
	if err != nil {
		return nil, err
	}
	rw := pathRewriter{mounts: mounts}
	vars := map[string]string{}
	for i, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		// Containers would listen on their ports in the pod's own network namespace;
		// here they share this machine's, so an address on a declared port becomes its
		// loopback port, and another *_ADDR gets a free port.
		if m := hostAddr.FindStringSubmatch(value); m != nil {
			port, _ := strconv.Atoi(m[2])
			if hp, ok := w.hostPorts[int32(port)]; ok {
				value = fmt.Sprintf("%s:%d", podIP, hp)
			} else if strings.HasSuffix(name, "_ADDR") {
				free, err := testenv.FreePort()
				if err != nil {
					return nil, err
				}
				value = fmt.Sprintf("%s:%d", podIP, free)
			}
		}
		value = rw.Rewrite(value)
		env[i] = name + "=" + value
		vars[name] = value
	}
	if w.k.images.Binary(c.spec.Image) != "" && vars["HTTP_ADDR"] == "" {
		// The shop listens on :8080 by default, which every replica would share.
		port, ok := w.hostPorts[8080]
		if !ok {
			free, err := testenv.FreePort()
			if err != nil {
				return nil, err
			}
			port = int32(free)
		}
		env = append(env, fmt.Sprintf("HTTP_ADDR=%s:%d", podIP, port))
	}
	command, args := make([]string, len(c.spec.Command)), make([]string, len(c.spec.Args))
	for i, s := range c.spec.Command {
		command[i] = rw.Rewrite(expand(s, vars))
	}
	for i, s := range c.spec.Args {
		args[i] = rw.Rewrite(expand(s, vars))
	}
	argv, err := w.k.images.Command(c.spec.Image, command, args)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.imageID = "localcluster://" + argv[0]
	c.mu.Unlock()
	tmp := filepath.Join(w.dir, "tmp")
	for _, m := range mounts {
		if m.MountPath == "/tmp" {
			tmp = m.HostPath
		}
	}
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.dir,
		"TMPDIR=" + tmp,
		"HOSTNAME=" + pod.Name,
		// The image's trust store: the throwaway CA plays the public roots that the
		// cloud's managed servers chain to.
		"SSL_CERT_FILE=" + w.k.caFile,
		"LOCALCLUSTER_MOUNTS=" + rw.mountsEnv(),
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(base, env...)
	cmd.Dir = w.dir
	if wd := c.spec.WorkingDir; wd != "" {
		if r := rw.Rewrite(wd); r != wd {
			cmd.Dir = r
		} else if st, err := os.Stat(wd); err == nil && st.IsDir() {
			cmd.Dir = wd
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd, nil
}

// credential is the user the container runs as. runAsNonRoot is checked as
// verifyRunAsNonRoot (pkg/kubelet/kuberuntime/security_context_others.go) does, the
// image's user being whoever runs the kubelet here; runAsUser, runAsGroup, fsGroup and
// supplementalGroups can only be granted when the kubelet runs as root, and are
// otherwise not honoured (the process runs as the kubelet's user).
func (c *container) credential(pod *corev1.Pod) (*syscall.Credential, error) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.spec.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	runAsUser := sc.RunAsUser
	if runAsUser == nil {
		runAsUser = psc.RunAsUser
	}
	runAsGroup := sc.RunAsGroup
	if runAsGroup == nil {
		runAsGroup = psc.RunAsGroup
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if ptr.Deref(nonRoot, false) {
		switch {
		case runAsUser != nil && *runAsUser == 0:
			return nil, fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", formatPod(pod), c.spec.Name)
		case runAsUser == nil && c.w.k.uid == 0:
			return nil, fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", formatPod(pod), c.spec.Name)
		}
	}
	if runAsUser == nil || c.w.k.uid != 0 {
		return nil, nil
	}
	cred := &syscall.Credential{Uid: uint32(*runAsUser), Gid: uint32(c.w.k.gid)}
	if runAsGroup != nil {
		cred.Gid = uint32(*runAsGroup)
	}
	if psc.FSGroup != nil {
		cred.Groups = append(cred.Groups, uint32(*psc.FSGroup))
	}
	for _, g := range psc.SupplementalGroups {
		cred.Groups = append(cred.Groups, uint32(g))
	}
	return cred, nil
}

// runHandler runs a lifecycle handler (preStop) of the container: exec in the
// container's context, an HTTP GET to the pod, or a sleep.
func (c *container) runHandler(h *corev1.LifecycleHandler, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		_, err := c.execInContainer(ctx, h.Exec.Command)
		return err
	case h.HTTPGet != nil:
		res := probeHTTP(ctx, c, h.HTTPGet, timeout)
		if res.result != probeSuccess {
			return fmt.Errorf("%s", res.output)
		}
		return nil
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	return fmt.Errorf("unsupported handler")
}

// execInContainer runs command as the container's processes run: its environment,
// user, directory and rewritten mounts; it returns the combined output.
func (c *container) execInContainer(ctx context.Context, command []string) (string, error) {
	if len(command) == 0 {
		return "", fmt.Errorf("no command")
	}
	base, err := c.prepare(ctx)
	if err != nil {
		return "", err
	}
	mounts, _ := c.w.volumes.Mounts(&c.spec)
	rw := pathRewriter{mounts: mounts}
	argv := make([]string, len(command))
	for i, s := range command {
		argv[i] = rw.Rewrite(s)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Env, cmd.Dir = base.Env, base.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: base.SysProcAttr.Credential, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("command %q timed out", strings.Join(command, " "))
	}
	return out.String(), err
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

// formatPod is how the kubelet names a pod in messages (pkg/kubelet/util/format: Pod).
func formatPod(p *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", p.Name, p.Namespace, p.UID)
}
