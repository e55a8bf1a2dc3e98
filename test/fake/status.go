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

// Package fake holds stand-ins for what envtest does not run: status-only Job,
// Deployment and HPA controllers (controllers.go, status.go), and ACK's rds and
// elasticache controllers, reproduced from the runtime's and the controllers' source
// (ack_runtime.go, ack_managers.go) over a fake AWS (aws.go). The Kubernetes stand-ins
// create no pods; they write the status fields and conditions the real controllers
// write, field by field as documented on each function. It is the lower layer of the
// test stand-ins: the envtest suites and the benchmark run it alone (Start), the
// one-machine runtime (test/localcluster) runs its ACK stand-in (SetupACK) with real
// servers behind the AWS (Options.Provisioner). Nothing here imports test/localcluster.
package fake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Reasons and messages the real controllers write (k8s.io/kubernetes pkg/controller/job
// and pkg/controller/deployment/util), copied so that code matching them behaves alike.
const (
	JobReasonCompletionsReached   = "CompletionsReached"
	JobMessageCompletionsReached  = "Reached expected number of succeeded pods"
	JobReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	JobMessageBackoffLimit        = "Job has reached the specified backoff limit"
	JobReasonDeadlineExceeded     = "DeadlineExceeded"
	JobMessageDeadlineExceeded    = "Job was active longer than specified deadline"

	DeploymentReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	DeploymentReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
	DeploymentReasonNewRSAvailable             = "NewReplicaSetAvailable"
	DeploymentReasonReplicaSetUpdated          = "ReplicaSetUpdated"
	DeploymentReasonProgressDeadlineExceeded   = "ProgressDeadlineExceeded"
)

// JobRunning is the status of a Job whose one pod runs and is ready:
//   - startTime: when the Job controller first saw the Job unsuspended (kept once set);
//   - active: 1 pod, ready: 1, terminating: 0;
//   - uncountedTerminatedPods: empty (the controller tracks pods with finalizers);
//   - no conditions.
func JobRunning(job *batchv1.Job, now time.Time) batchv1.JobStatus {
	st := batchv1.JobStatus{
		StartTime:               startTime(job, now),
		Active:                  1,
		Ready:                   ptr.To[int32](1),
		Terminating:             ptr.To[int32](0),
		Succeeded:               job.Status.Succeeded,
		Failed:                  job.Status.Failed,
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
	}
	return st
}

// JobComplete is the status of a Job whose pod succeeded:
//   - startTime kept; completionTime: now (only successful Jobs have one);
//   - active: 0, ready: 0, terminating: 0, succeeded: completions (default 1);
//   - conditions: SuccessCriteriaMet=True, then Complete=True, both with reason
//     CompletionsReached (since Kubernetes 1.31 the controller adds the first before the
//     second, and the API server refuses Complete without it).
func JobComplete(job *batchv1.Job, now time.Time) batchv1.JobStatus {
	t := metav1.NewTime(now)
	return batchv1.JobStatus{
		StartTime:               startTime(job, now),
		CompletionTime:          &t,
		Active:                  0,
		Ready:                   ptr.To[int32](0),
		Terminating:             ptr.To[int32](0),
		Succeeded:               ptr.Deref(job.Spec.Completions, 1),
		Failed:                  job.Status.Failed,
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
		Conditions: []batchv1.JobCondition{
			jobCondition(batchv1.JobSuccessCriteriaMet, JobReasonCompletionsReached, JobMessageCompletionsReached, now),
			jobCondition(batchv1.JobComplete, JobReasonCompletionsReached, JobMessageCompletionsReached, now),
		},
	}
}

// JobFailed is the status of a Job that gave up, for reason and message
// (JobReasonBackoffLimitExceeded after backoffLimit+1 failed pods, or
// JobReasonDeadlineExceeded):
//   - startTime kept; no completionTime;
//   - active: 0, ready: 0, terminating: 0, failed: backoffLimit+1 for a backoff failure;
//   - conditions: FailureTarget=True, then Failed=True, both with reason and message.
func JobFailed(job *batchv1.Job, now time.Time, reason, message string) batchv1.JobStatus {
	failed := job.Status.Failed
	if reason == JobReasonBackoffLimitExceeded {
		failed = ptr.Deref(job.Spec.BackoffLimit, 6) + 1
	}
	return batchv1.JobStatus{
		StartTime:               startTime(job, now),
		Active:                  0,
		Ready:                   ptr.To[int32](0),
		Terminating:             ptr.To[int32](0),
		Succeeded:               job.Status.Succeeded,
		Failed:                  failed,
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
		Conditions: []batchv1.JobCondition{
			jobCondition(batchv1.JobFailureTarget, reason, message, now),
			jobCondition(batchv1.JobFailed, reason, message, now),
		},
	}
}

// JobFinished reports whether the Job has a Complete or Failed condition: the real
// controller never changes a finished Job's status again.
func JobFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func startTime(job *batchv1.Job, now time.Time) *metav1.Time {
	if job.Status.StartTime != nil {
		return job.Status.StartTime.DeepCopy()
	}
	t := metav1.NewTime(now)
	return &t
}

func jobCondition(t batchv1.JobConditionType, reason, message string, now time.Time) batchv1.JobCondition {
	return batchv1.JobCondition{
		Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

// DeploymentReplicas is spec.replicas, which the API server defaults to 1.
func DeploymentReplicas(d *appsv1.Deployment) int32 {
	return ptr.Deref(d.Spec.Replicas, 1)
}

// Progressing reasons and messages of a rollout (pkg/controller/deployment/util
// NewReplicaSetReason, ReplicaSetUpdatedReason; progress.go syncRolloutStatus).
const (
	DeploymentReasonNewReplicaSetCreated = "NewReplicaSetCreated"
)

// DeploymentSteps are the statuses the Deployment controller writes, in order, after
// the change of d's spec that made its generation, d.Status being the status before
// the change (kubernetes@v1.37.2 pkg/controller/deployment). Every step has
// observedGeneration = generation.
//
// A scale (rollout false: the template is the one already rolled out) goes through
// sync and calculateStatus only: first the ReplicaSet is scaled while its status still
// counts the old pods (replicas, updated, ready, available as before; unavailable the
// difference to the new spec), then, scaling up, the new pods exist (replicas = updated
// = spec.replicas) before they are ready, then all are. Available is True when
// availableReplicas >= spec.replicas - maxUnavailable (MinimumReplicasAvailable), else
// False (MinimumReplicasUnavailable); Progressing is left as it was, reason, message
// and times.
//
// A rollout (a new template) creates the new ReplicaSet (Progressing True
// NewReplicaSetCreated, `Created new replica set "<name>"`, with
// min(spec.replicas, spec.replicas + maxSurge - old pods) replicas, none created yet),
// then its pods exist (Progressing ReplicaSetUpdated, `ReplicaSet "<name>" is
// progressing.`), then it is done (DeploymentRolledOut) or, stuck, times out
// (DeploymentStuck). A Progressing condition that stays True keeps its
// lastTransitionTime.
//
// Step k (from 1) is written at start + k*delay, and its new conditions carry that
// time: the steps are a function of their arguments, the same on every call.
func DeploymentSteps(d *appsv1.Deployment, rollout, stuck bool, start time.Time, delay time.Duration) []appsv1.DeploymentStatus {
	n := DeploymentReplicas(d)
	cur := d.DeepCopy()
	var steps []appsv1.DeploymentStatus
	now := start.Add(delay)
	step := func(replicas, updated, ready, available, unavailable int32, progressing *appsv1.DeploymentCondition) {
		st := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: updated,
			ReadyReplicas: ready, AvailableReplicas: available, UnavailableReplicas: max(unavailable, 0),
			CollisionCount: cur.Status.CollisionCount, Conditions: slices.Clone(cur.Status.Conditions)}
		setDeploymentCondition(&st, availableCondition(cur, available, now))
		if progressing != nil {
			setProgressing(&st, *progressing)
		}
		if len(steps) > 0 && equality.Semantic.DeepEqual(steps[len(steps)-1], st) {
			return
		}
		steps = append(steps, st)
		cur.Status = st
		now = now.Add(delay)
	}
	prev := d.Status
	if !rollout {
		step(prev.Replicas, prev.UpdatedReplicas, prev.ReadyReplicas, prev.AvailableReplicas, n-prev.AvailableReplicas, nil)
		if n > prev.Replicas {
			step(n, n, prev.ReadyReplicas, prev.AvailableReplicas, n-prev.AvailableReplicas, nil)
		}
		// A scale that interrupted a rollout (Progressing still names the new
		// ReplicaSet): once every pod is updated and available, the next rolling sync's
		// syncRolloutStatus finds the Deployment complete (util.DeploymentComplete) and
		// sets Progressing NewReplicaSetAvailable (progress.go); after a finished
		// rollout it skips a complete Deployment and Progressing stays as it was.
		var done *appsv1.DeploymentCondition
		if c := progressingOf(cur.Status); c != nil && c.Status == corev1.ConditionTrue && c.Reason != DeploymentReasonNewRSAvailable {
			done = &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: DeploymentReasonNewRSAvailable,
				Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", ReplicaSetName(d)), LastUpdateTime: conditionTime(now), LastTransitionTime: conditionTime(now)}
		}
		step(n, n, n, n, 0, done)
		return steps
	}
	surge, _ := rollingFenceposts(d)
	newRS := max(min(n, n+surge-prev.Replicas), 0)
	rs := ReplicaSetName(d)
	unavailable := prev.Replicas + newRS - prev.AvailableReplicas
	progressing := func(reason, message string) *appsv1.DeploymentCondition {
		return &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: reason,
			Message: message, LastUpdateTime: conditionTime(now), LastTransitionTime: conditionTime(now)}
	}
	step(prev.Replicas, 0, prev.ReadyReplicas, prev.AvailableReplicas, unavailable,
		progressing(DeploymentReasonNewReplicaSetCreated, fmt.Sprintf("Created new replica set %q", rs)))
	step(prev.Replicas+newRS, newRS, prev.ReadyReplicas, prev.AvailableReplicas, unavailable,
		progressing(DeploymentReasonReplicaSetUpdated, fmt.Sprintf("ReplicaSet %q is progressing.", rs)))
	if stuck {
		steps = append(steps, DeploymentStuck(cur, now))
	} else {
		steps = append(steps, DeploymentRolledOut(cur, now))
	}
	return steps
}

// progressingOf is st's Progressing condition, or nil.
func progressingOf(st appsv1.DeploymentStatus) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &st.Conditions[i]
		}
	}
	return nil
}

// rollingFenceposts are maxSurge (rounded up) and maxUnavailable (rounded down) of
// spec.replicas, defaults 25%, maxUnavailable 1 when both are 0
// (deploymentutil.ResolveFenceposts).
func rollingFenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	n := int(DeploymentReplicas(d))
	quarter := intstr.FromString("25%")
	ms, mu := &quarter, &quarter
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			ms = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = ru.MaxUnavailable
		}
	}
	s, _ := intstr.GetScaledValueFromIntOrPercent(ms, n, true)
	u, _ := intstr.GetScaledValueFromIntOrPercent(mu, n, false)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(min(u, n))
}

// availableCondition is calculateStatus's Available condition for d with available
// pods.
func availableCondition(d *appsv1.Deployment, available int32, now time.Time) appsv1.DeploymentCondition {
	_, unavailable := rollingFenceposts(d)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType || DeploymentReplicas(d) == 0 {
		unavailable = 0
	}
	c := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
		Reason: DeploymentReasonMinimumReplicasAvailable, Message: "Deployment has minimum availability.",
		LastUpdateTime: conditionTime(now), LastTransitionTime: conditionTime(now)}
	if available < DeploymentReplicas(d)-unavailable {
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, DeploymentReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability."
	}
	return c
}

// setDeploymentCondition is deploymentutil.SetDeploymentCondition: a condition of the
// same status and reason is kept as it is; one of the same status keeps its
// lastTransitionTime.
func setDeploymentCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	i := slices.IndexFunc(st.Conditions, func(o appsv1.DeploymentCondition) bool { return o.Type == c.Type })
	if i >= 0 {
		old := st.Conditions[i]
		if old.Status == c.Status && old.Reason == c.Reason {
			return
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		st.Conditions = slices.Delete(st.Conditions, i, i+1)
	}
	st.Conditions = append(st.Conditions, c)
}

// setProgressing is syncRolloutStatus's update of Progressing: a True condition keeps
// its lastTransitionTime, and ReplicaSetUpdated replaces even a condition of the same
// reason (to move lastUpdateTime).
func setProgressing(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	i := slices.IndexFunc(st.Conditions, func(o appsv1.DeploymentCondition) bool { return o.Type == c.Type })
	if i >= 0 {
		if st.Conditions[i].Status == corev1.ConditionTrue {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions = slices.Delete(st.Conditions, i, i+1)
	}
	st.Conditions = append(st.Conditions, c)
}

// DeploymentRolledOut is the status of a Deployment whose every pod runs the current
// template and is ready:
//   - observedGeneration: metadata.generation (the controller saw this spec);
//   - replicas = updatedReplicas = readyReplicas = availableReplicas = spec.replicas,
//     unavailableReplicas: 0;
//   - Available=True (MinimumReplicasAvailable, "Deployment has minimum availability.");
//   - Progressing=True (NewReplicaSetAvailable, `ReplicaSet "<name>-<hash>" has
//     successfully progressed.`).
//
// Conditions keep their times as deploymentutil.SetDeploymentCondition does.
func DeploymentRolledOut(d *appsv1.Deployment, now time.Time) appsv1.DeploymentStatus {
	n := DeploymentReplicas(d)
	st := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           n,
		UpdatedReplicas:    n,
		ReadyReplicas:      n,
		AvailableReplicas:  n,
		CollisionCount:     d.Status.CollisionCount,
		Conditions:         slices.Clone(d.Status.Conditions),
	}
	setDeploymentCondition(&st, availableCondition(d, n, now))
	setDeploymentCondition(&st, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
		Reason: DeploymentReasonNewRSAvailable, Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", ReplicaSetName(d)),
		LastUpdateTime: conditionTime(now), LastTransitionTime: conditionTime(now)})
	return st
}

// DeploymentStuck is the status of a Deployment whose new pods never become ready, after
// progressDeadlineSeconds:
//   - observedGeneration: metadata.generation;
//   - the old pods keep serving: readyReplicas = availableReplicas = the previous
//     availableReplicas (at most spec.replicas); the new ReplicaSet holds maxSurge pods
//     (default 25%, rounded up), none ready: updatedReplicas = unavailableReplicas =
//     surge, replicas = old + surge;
//   - Available=True while the old pods meet spec.replicas - maxUnavailable, else False
//     (MinimumReplicasUnavailable);
//   - Progressing=False (ProgressDeadlineExceeded, `ReplicaSet "<name>-<hash>" has timed
//     out progressing.`).
func DeploymentStuck(d *appsv1.Deployment, now time.Time) appsv1.DeploymentStatus {
	n := DeploymentReplicas(d)
	old := min(d.Status.AvailableReplicas, n)
	surge, _ := rollingFenceposts(d)
	surge = max(surge, 1)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            old + surge,
		UpdatedReplicas:     surge,
		ReadyReplicas:       old,
		AvailableReplicas:   old,
		UnavailableReplicas: surge,
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          slices.Clone(d.Status.Conditions),
	}
	setDeploymentCondition(&st, availableCondition(d, old, now))
	setDeploymentCondition(&st, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: DeploymentReasonProgressDeadlineExceeded, Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", ReplicaSetName(d)),
		LastUpdateTime: conditionTime(now), LastTransitionTime: conditionTime(now)})
	return st
}

// conditionTime is t as the API server keeps it: to the second.
func conditionTime(t time.Time) metav1.Time {
	return metav1.NewTime(t).Rfc3339Copy()
}

// ReplicaSetName is the name the Deployment controller gives the ReplicaSet of d's
// current template: the Deployment's name and a hash of the template (the stand-in's
// hash, not the controller's pod-template-hash).
func ReplicaSetName(d *appsv1.Deployment) string {
	b, _ := json.Marshal(d.Spec.Template)
	sum := sha256.Sum256(b)
	return d.Name + "-" + hex.EncodeToString(sum[:])[:10]
}

// HPADesiredReplicas clamps want (0: minReplicas) to the HPA's bounds, as the HPA
// controller does with its recommendation for a target above 0 replicas (at 0 it
// recommends nothing: HPAScalingDisabled).
func HPADesiredReplicas(hpa *autoscalingv2.HorizontalPodAutoscaler, want int32) int32 {
	lo := ptr.Deref(hpa.Spec.MinReplicas, 1)
	if want == 0 {
		want = lo
	}
	return min(max(want, lo), hpa.Spec.MaxReplicas)
}

// Reasons and messages of the HPA controller's conditions while its target is at 0
// replicas (kubernetes@v1.37.2 pkg/controller/podautoscaler/horizontal.go,
// reconcileAutoscaler).
const (
	HPAReasonSucceededGetScale  = "SucceededGetScale"
	HPAMessageSucceededGetScale = "the HPA controller was able to get the target's current scale"
	HPAReasonScalingDisabled    = "ScalingDisabled"
	HPAMessageScalingDisabled   = "scaling is disabled since the replica count of the target is zero"
)

// HPAScalingDisabled reports whether the HPA controller leaves a target of current
// replicas alone: at 0 it computes no recommendation and scales nothing
// (reconcileAutoscaler, shouldComputeMetricsForZeroReplicas), unless the HPA itself
// scaled the target to zero (ScaledToZero=True, HPAScaleToZero) and may scale it up
// again: with minReplicas above 0, or Object or External metrics. The stand-in never
// scales to zero, but reads the condition as the controller does.
func HPAScalingDisabled(hpa *autoscalingv2.HorizontalPodAutoscaler, current int32) bool {
	if current != 0 {
		return false
	}
	scaledToZero := slices.ContainsFunc(hpa.Status.Conditions, func(c autoscalingv2.HorizontalPodAutoscalerCondition) bool {
		return c.Type == autoscalingv2.ScaledToZero && c.Status == corev1.ConditionTrue
	})
	objectOrExternal := slices.ContainsFunc(hpa.Spec.Metrics, func(m autoscalingv2.MetricSpec) bool {
		return m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType
	})
	return !(scaledToZero && (ptr.Deref(hpa.Spec.MinReplicas, 1) != 0 || objectOrExternal))
}

// HPADisabled is the status of an HPA whose target is at 0 replicas
// (HPAScalingDisabled), as reconcileAutoscaler and setStatus write it:
//   - observedGeneration: metadata.generation;
//   - currentReplicas 0, desiredReplicas 0, lastScaleTime kept (no rescale);
//   - AbleToScale=True (SucceededGetScale), ScalingActive=False (ScalingDisabled), each
//     updated in place or appended (setConditionInList, lastTransitionTime now when the
//     status changes); the other conditions are kept as they were.
func HPADisabled(hpa *autoscalingv2.HorizontalPodAutoscaler, now time.Time) autoscalingv2.HorizontalPodAutoscalerStatus {
	st := autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: ptr.To(hpa.Generation),
		LastScaleTime:      hpa.Status.LastScaleTime.DeepCopy(),
		Conditions:         slices.Clone(hpa.Status.Conditions),
	}
	set := func(t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string) {
		i := slices.IndexFunc(st.Conditions, func(c autoscalingv2.HorizontalPodAutoscalerCondition) bool { return c.Type == t })
		if i < 0 {
			st.Conditions = append(st.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{Type: t})
			i = len(st.Conditions) - 1
		}
		c := &st.Conditions[i]
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message = status, reason, message
	}
	set(autoscalingv2.AbleToScale, corev1.ConditionTrue, HPAReasonSucceededGetScale, HPAMessageSucceededGetScale)
	set(autoscalingv2.ScalingActive, corev1.ConditionFalse, HPAReasonScalingDisabled, HPAMessageScalingDisabled)
	return st
}

// HPAScaled is the status of an HPA that scaled its target to desired pods, of which
// current exist now:
//   - observedGeneration: metadata.generation;
//   - currentReplicas: current, desiredReplicas: desired;
//   - lastScaleTime: now when desired differs from the previous desiredReplicas, else kept;
//   - AbleToScale=True (ReadyForNewScale), ScalingActive=True (ValidMetricFound),
//     ScalingLimited=False (DesiredWithinRange), or True (TooFewReplicas /
//     TooManyReplicas) when desired sits on a bound.
func HPAScaled(hpa *autoscalingv2.HorizontalPodAutoscaler, current, desired int32, now time.Time) autoscalingv2.HorizontalPodAutoscalerStatus {
	st := autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: ptr.To(hpa.Generation),
		CurrentReplicas:    current,
		DesiredReplicas:    desired,
		LastScaleTime:      hpa.Status.LastScaleTime.DeepCopy(),
	}
	if st.LastScaleTime == nil || hpa.Status.DesiredReplicas != desired {
		t := metav1.NewTime(now)
		st.LastScaleTime = &t
	}
	limited := hpaCondition(hpa, autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange",
		"the desired count is within the acceptable range", now)
	switch {
	case desired <= ptr.Deref(hpa.Spec.MinReplicas, 1):
		limited = hpaCondition(hpa, autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooFewReplicas",
			"the desired replica count is less than the minimum replica count", now)
	case desired >= hpa.Spec.MaxReplicas:
		limited = hpaCondition(hpa, autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooManyReplicas",
			"the desired replica count is more than the maximum replica count", now)
	}
	st.Conditions = []autoscalingv2.HorizontalPodAutoscalerCondition{
		hpaCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale",
			"recommended size matches current size", now),
		hpaCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound",
			"the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", now),
		limited,
	}
	return st
}

func hpaCondition(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) autoscalingv2.HorizontalPodAutoscalerCondition {
	c := autoscalingv2.HorizontalPodAutoscalerCondition{Type: t, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now)}
	for _, old := range hpa.Status.Conditions {
		if old.Type == t && old.Status == status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
	return c
}
