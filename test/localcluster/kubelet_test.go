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

package localcluster_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/localcluster"
)

// The Node as the kubelet registers it (pkg/kubelet/nodestatus/setters.go:
// ReadyCondition) with its heartbeat Lease (pkg/kubelet/nodelease), and the not-ready
// taint the API server put on it lifted by the real node lifecycle controller.
func TestTheKubeletRegistersItsNodeWithAHeartbeat(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	node := &corev1.Node{}
	g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Name: localcluster.NodeName}, node)).To(Succeed())
	var ready *corev1.NodeCondition
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			ready = &node.Status.Conditions[i]
		}
	}
	g.Expect(ready).NotTo(BeNil())
	g.Expect(ready.Status).To(Equal(corev1.ConditionTrue))
	g.Expect(ready.Reason).To(Equal("KubeletReady"))
	g.Expect(ready.Message).To(Equal("kubelet is posting ready status"))
	g.Expect(node.Spec.Taints).To(BeEmpty())
	g.Expect(node.Spec.PodCIDR).To(Equal("10.244.0.0/16"))
	g.Expect(node.Status.Allocatable.Cpu().IsZero()).To(BeFalse())
	g.Expect(node.Status.Allocatable.Pods().Value()).To(Equal(int64(110)))

	lease := &coordinationv1.Lease{}
	g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: "kube-node-lease", Name: localcluster.NodeName}, lease)).To(Succeed())
	g.Expect(*lease.Spec.HolderIdentity).To(Equal(localcluster.NodeName))
	g.Expect(*lease.Spec.LeaseDurationSeconds).To(Equal(int32(40)))
	first := lease.Spec.RenewTime.Time
	g.Eventually(func() (time.Time, error) {
		l := &coordinationv1.Lease{}
		err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(lease), l)
		return l.Spec.RenewTime.Time, err
	}, 30*time.Second, 500*time.Millisecond).Should(BeTemporally(">", first), "the lease is renewed every 10 s")
}

// A Job whose pod exits 1 three times, backoffLimit 2: the real Job controller fails
// it with BackoffLimitExceeded (pkg/controller/job/job_controller.go), counting the
// pods the kubelet reports Failed, each with its container terminated as containerd
// reports it (exit code 1, reason "Error": internal/cri/server/helpers.go) and the
// log's end as the message (FallbackToLogsOnError).
func TestAJobWhosePodExitsOneThreeTimesFailsWithBackoffLimitExceeded(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fails"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo working; echo 'migration 7 failed' >&2; exit 1"},
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}},
			}},
		},
	})
	// Back-offs of 10 s and 20 s between the three pods.
	g.Eventually(jobCondition(ns, "fails", batchv1.JobFailed), 2*time.Minute, 100*time.Millisecond).Should(Equal("BackoffLimitExceeded"))

	job := &batchv1.Job{}
	g.Expect(cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "fails"}, job)).To(Succeed())
	g.Expect(job.Status.Failed).To(Equal(int32(3)))
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed {
			g.Expect(c.Message).To(Equal("Job has reached the specified backoff limit"))
		}
	}
	pods := jobPods(t, ns, "fails")
	g.Expect(pods).To(HaveLen(3))
	for _, p := range pods {
		g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
		cs := p.Status.ContainerStatuses[0]
		g.Expect(cs.State.Terminated).NotTo(BeNil())
		g.Expect(cs.State.Terminated.ExitCode).To(Equal(int32(1)))
		g.Expect(cs.State.Terminated.Reason).To(Equal("Error"))
		g.Expect(cs.State.Terminated.Message).To(Equal("working\nmigration 7 failed"), "the message is this pod's output only")
		g.Expect(cs.RestartCount).To(BeZero(), "restartPolicy Never: one container per pod")
		g.Expect(p.Finalizers).NotTo(ContainElement("batch.kubernetes.io/job-tracking"), "the Job controller has counted it")
	}
}

// A container whose liveness probe fails is killed and restarted: the probe counts
// failureThreshold failures (pkg/kubelet/prober/worker.go), the kubelet kills the
// container with the message "Container main failed liveness probe, will be restarted"
// (pkg/kubelet/kuberuntime/kuberuntime_manager.go: computePodActions) and starts it
// again at once (the first restart has no back-off), reporting the killed instance as
// the last state: SIGTERM, exit code 143, reason "Error".
func TestAContainerWhoseLivenessProbeFailsIsRestarted(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	// Healthy for two seconds: /tmp/healthy exists (/tmp is an emptyDir, rewritten into
	// the pod's directory in the script and in the probe's command alike).
	script := "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 1000"
	create(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "flaky"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox", Command: []string{"sh", "-c", script},
				VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
					PeriodSeconds: 1, FailureThreshold: 2,
				},
			}},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	})
	var cs corev1.ContainerStatus
	g.Eventually(func() int32 {
		p := &corev1.Pod{}
		g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "flaky"}, p)).To(Succeed())
		if len(p.Status.ContainerStatuses) == 0 {
			return 0
		}
		cs = p.Status.ContainerStatuses[0]
		return cs.RestartCount
	}, time.Minute, 100*time.Millisecond).Should(Equal(int32(1)))
	g.Expect(cs.LastTerminationState.Terminated).NotTo(BeNil())
	g.Expect(cs.LastTerminationState.Terminated.ExitCode).To(Equal(int32(143)), "sh ends on SIGTERM")
	g.Expect(cs.LastTerminationState.Terminated.Reason).To(Equal("Error"))

	evs := &eventsv1.EventList{}
	g.Expect(cluster.Client.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
	var notes []string
	for _, e := range evs.Items {
		notes = append(notes, e.Reason+": "+e.Note)
	}
	g.Expect(notes).To(ContainElement(HavePrefix("Unhealthy: Liveness probe failed: ")))
	g.Expect(notes).To(ContainElement("Killing: Container main failed liveness probe, will be restarted"))
}

// A Secret volume as the kubelet lays it out (pkg/volume/secret/secret.go: MakePayload;
// pkg/volume/util/atomic_writer.go): the item's file under its path with its content,
// the item's mode, and with an fsGroup the group bits a read-only volume gets
// (pkg/volume/volume_linux.go: 0400 | 0440 = 0440); the container, running as
// runAsUser 65532 in that group, reads it through the rewritten mount path. The user
// and the group can only be granted by a kubelet that runs as root: otherwise the
// process runs as the test's user and the file keeps its 0400.
func TestASecretVolumeFileHasItsContentAndMode(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-ca"},
		StringData: map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "other": "not projected"}})
	wantMode, wantUID, wantGID := "400", strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	if os.Getuid() == 0 {
		wantMode, wantUID, wantGID = "440", "65532", "65532"
	}
	script := `set -e
test "$(head -n 1 /etc/db/certs/ca.crt)" = "-----BEGIN CERTIFICATE-----"
test "$(sed -n 2p /etc/db/certs/ca.crt)" = MIIB
test "$(stat -L -c %a /etc/db/certs/ca.crt)" = "$WANT_MODE"
test "$(stat -L -c %g /etc/db/certs/ca.crt)" = "$WANT_GID"
test "$(id -u)" = "$WANT_UID"
test -L /etc/db/..data
test ! -e /etc/db/other
echo ok`
	uid := ptr.To[int64](65532)
	create(t, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reads"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:   corev1.RestartPolicyNever,
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: uid, RunAsGroup: uid, FSGroup: uid, RunAsNonRoot: ptr.To(true)},
				Containers: []corev1.Container{{
					Name: "main", Image: "busybox", Command: []string{"sh", "-c", script},
					Env:          []corev1.EnvVar{{Name: "WANT_MODE", Value: wantMode}, {Name: "WANT_UID", Value: wantUID}, {Name: "WANT_GID", Value: wantGID}},
					VolumeMounts: []corev1.VolumeMount{{Name: "ca", MountPath: "/etc/db", ReadOnly: true}},
				}},
				Volumes: []corev1.Volume{{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: "db-ca", DefaultMode: ptr.To[int32](0o644),
					Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "certs/ca.crt", Mode: ptr.To[int32](0o400)}},
				}}}},
			}},
		},
	})
	g.Eventually(jobCondition(ns, "reads", batchv1.JobComplete), time.Minute, 100*time.Millisecond).Should(Equal("CompletionsReached"),
		func() string { return logsOfJob(t, ns, "reads") })
	pods := jobPods(t, ns, "reads")
	g.Expect(pods).To(HaveLen(1))
	g.Expect(logOf(t, "pod "+ns+"/"+pods[0].Name)).To(Equal("ok\n"))
}

// logsOfJob is the logs of the Job's pods, for a failure message.
func logsOfJob(t *testing.T, ns, job string) string {
	var b strings.Builder
	for _, p := range jobPods(t, ns, job) {
		for _, l := range cluster.Logs() {
			if l.Name == "pod "+ns+"/"+p.Name {
				out, _ := os.ReadFile(l.Path)
				b.WriteString(l.Name + ":\n" + string(out))
			}
		}
	}
	return b.String()
}

// runAsNonRoot with runAsUser 0 is refused as verifyRunAsNonRoot refuses it
// (pkg/kubelet/kuberuntime/security_context_others.go): the container waits with
// CreateContainerConfigError.
func TestRunAsNonRootRefusesRunAsUserZero(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	create(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rooted"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)},
			Containers:      []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "100"}}},
		},
	})
	g.Eventually(func() string {
		p := &corev1.Pod{}
		g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rooted"}, p)).To(Succeed())
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return ""
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w.Reason + ": " + strings.Replace(w.Message, string(p.UID), "UID", 1)
	}, time.Minute, 100*time.Millisecond).Should(Equal(
		`CreateContainerConfigError: container's runAsUser breaks non-root policy (pod: "rooted_` + ns + `(UID)", container: main)`))
}
