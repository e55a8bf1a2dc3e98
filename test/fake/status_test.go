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

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func conditionTypes[T any](conds []T, typeOf func(T) string) []string {
	var out []string
	for _, c := range conds {
		out = append(out, typeOf(c))
	}
	return out
}

func TestJobStatuses(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](2)}}
	jobType := func(c batchv1.JobCondition) string { return string(c.Type) }
	cases := map[string]struct {
		status        batchv1.JobStatus
		active        int32
		succeeded     int32
		failed        int32
		conditions    []string
		completion    bool
		finished      bool
		wantCondition string
	}{
		"running":  {JobRunning(job, t0), 1, 0, 0, nil, false, false, ""},
		"complete": {JobComplete(job, t0), 0, 1, 0, []string{"SuccessCriteriaMet", "Complete"}, true, true, JobReasonCompletionsReached},
		"failed after the backoff limit": {JobFailed(job, t0, JobReasonBackoffLimitExceeded, JobMessageBackoffLimit), 0, 0, 3,
			[]string{"FailureTarget", "Failed"}, false, true, JobReasonBackoffLimitExceeded},
		"failed after the deadline": {JobFailed(job, t0, JobReasonDeadlineExceeded, JobMessageDeadlineExceeded), 0, 0, 0,
			[]string{"FailureTarget", "Failed"}, false, true, JobReasonDeadlineExceeded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := tc.status
			if st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
				t.Errorf("startTime %v, want %v", st.StartTime, t0)
			}
			if st.Active != tc.active || st.Succeeded != tc.succeeded || st.Failed != tc.failed {
				t.Errorf("active/succeeded/failed = %d/%d/%d, want %d/%d/%d", st.Active, st.Succeeded, st.Failed, tc.active, tc.succeeded, tc.failed)
			}
			if got := conditionTypes(st.Conditions, jobType); len(got) != len(tc.conditions) || (len(got) > 0 && (got[0] != tc.conditions[0] || got[1] != tc.conditions[1])) {
				t.Errorf("conditions %v, want %v", got, tc.conditions)
			}
			if (st.CompletionTime != nil) != tc.completion {
				t.Errorf("completionTime %v, want set=%v", st.CompletionTime, tc.completion)
			}
			if got := JobFinished(&batchv1.Job{Status: st}); got != tc.finished {
				t.Errorf("finished %v, want %v", got, tc.finished)
			}
			for _, c := range st.Conditions {
				if c.Reason != tc.wantCondition || c.Status != corev1.ConditionTrue {
					t.Errorf("condition %+v, want True with reason %s", c, tc.wantCondition)
				}
			}
		})
	}
	// A Job keeps the start time it was given.
	started := job.DeepCopy()
	started.Status.StartTime = ptr.To(metav1.NewTime(t0.Add(-time.Minute)))
	if got := JobComplete(started, t0).StartTime.Time; !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("startTime moved to %v", got)
	}
}

func TestDeploymentStatuses(t *testing.T) {
	deploy := func(replicas int32, surge string, available int32) *appsv1.Deployment {
		s := intstr.FromString(surge)
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Generation: 4},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Strategy: appsv1.DeploymentStrategy{
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: ptr.To(intstr.FromInt32(0))}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, AvailableReplicas: available},
		}
	}
	cases := map[string]struct {
		status                                appsv1.DeploymentStatus
		replicas, updated, ready, available   int32
		availableCondition, progressingReason string
		progressing                           corev1.ConditionStatus
	}{
		"rolled out": {DeploymentRolledOut(deploy(3, "25%", 3), t0), 3, 3, 3, 3, "True", DeploymentReasonNewRSAvailable, corev1.ConditionTrue},
		"stuck: 25% of 4 surges one pod, the old four serve": {DeploymentStuck(deploy(4, "25%", 4), t0), 5, 1, 4, 4, "True",
			DeploymentReasonProgressDeadlineExceeded, corev1.ConditionFalse},
		"stuck from nothing: not available": {DeploymentStuck(deploy(2, "50%", 0), t0), 1, 1, 0, 0, "False",
			DeploymentReasonProgressDeadlineExceeded, corev1.ConditionFalse},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := tc.status
			if st.ObservedGeneration != 4 {
				t.Errorf("observedGeneration %d, want 4", st.ObservedGeneration)
			}
			if st.Replicas != tc.replicas || st.UpdatedReplicas != tc.updated || st.ReadyReplicas != tc.ready || st.AvailableReplicas != tc.available {
				t.Errorf("replicas/updated/ready/available = %d/%d/%d/%d, want %d/%d/%d/%d",
					st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, tc.replicas, tc.updated, tc.ready, tc.available)
			}
			if st.Conditions[0].Type != appsv1.DeploymentAvailable || string(st.Conditions[0].Status) != tc.availableCondition {
				t.Errorf("Available %+v, want %s", st.Conditions[0], tc.availableCondition)
			}
			p := st.Conditions[1]
			if p.Type != appsv1.DeploymentProgressing || p.Status != tc.progressing || p.Reason != tc.progressingReason {
				t.Errorf("Progressing %+v, want %s/%s", p, tc.progressing, tc.progressingReason)
			}
		})
	}

	d := deploy(2, "25%", 2)
	d.Status = DeploymentRolledOut(d, t0)
	if again := DeploymentRolledOut(d, t0.Add(time.Hour)); !again.Conditions[1].LastUpdateTime.Time.Equal(t0) {
		t.Error("an unchanged condition must keep its times, or the stand-in writes on every pass")
	}
}

func TestHPA(t *testing.T) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 6}}
	cases := map[string]struct {
		want, desired int32
		limited       corev1.ConditionStatus
		reason        string
	}{
		"no recommendation: min": {0, 2, corev1.ConditionTrue, "TooFewReplicas"},
		"within range":           {4, 4, corev1.ConditionFalse, "DesiredWithinRange"},
		"above max is clamped":   {9, 6, corev1.ConditionTrue, "TooManyReplicas"},
		"below min is clamped":   {1, 2, corev1.ConditionTrue, "TooFewReplicas"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := HPADesiredReplicas(hpa, tc.want)
			if d != tc.desired {
				t.Fatalf("desired %d, want %d", d, tc.desired)
			}
			st := HPAScaled(hpa, 2, d, t0)
			if st.CurrentReplicas != 2 || st.DesiredReplicas != d || st.LastScaleTime == nil {
				t.Errorf("status %+v", st)
			}
			l := st.Conditions[2]
			if l.Type != autoscalingv2.ScalingLimited || l.Status != tc.limited || l.Reason != tc.reason {
				t.Errorf("ScalingLimited %+v, want %s/%s", l, tc.limited, tc.reason)
			}
		})
	}
}

// At 0 replicas the HPA scales nothing unless it scaled to zero itself
// (kubernetes@v1.37.2 pkg/controller/podautoscaler/horizontal.go,
// shouldComputeMetricsForZeroReplicas); HPADisabled updates its two conditions in place
// and keeps the others, and a transition time only moves with the status.
func TestHPADisabled(t *testing.T) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Generation: 3},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 6}}
	if !HPAScalingDisabled(hpa, 0) || HPAScalingDisabled(hpa, 1) {
		t.Error("scaling is disabled at 0 replicas only")
	}
	scaledToZero := hpa.DeepCopy()
	scaledToZero.Status.Conditions = []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScaledToZero, Status: corev1.ConditionTrue}}
	if HPAScalingDisabled(scaledToZero, 0) {
		t.Error("an HPA that scaled to zero itself scales up again")
	}

	t1 := t0.Add(time.Minute)
	hpa.Status = HPAScaled(hpa, 2, 2, t0)
	st := HPADisabled(hpa, t1)
	if *st.ObservedGeneration != 3 || st.CurrentReplicas != 0 || st.DesiredReplicas != 0 || !st.LastScaleTime.Time.Equal(t0) {
		t.Errorf("status %+v, want generation 3, 0 current, 0 desired, lastScaleTime kept", st)
	}
	want := []struct {
		t      autoscalingv2.HorizontalPodAutoscalerConditionType
		status corev1.ConditionStatus
		reason string
		since  time.Time
	}{
		{autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", t0},
		{autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", t1},
		{autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooFewReplicas", t0},
	}
	if len(st.Conditions) != len(want) {
		t.Fatalf("conditions %+v", st.Conditions)
	}
	for i, w := range want {
		c := st.Conditions[i]
		if c.Type != w.t || c.Status != w.status || c.Reason != w.reason || !c.LastTransitionTime.Time.Equal(w.since) {
			t.Errorf("condition %d %+v, want %s %s/%s since %v", i, c, w.t, w.status, w.reason, w.since)
		}
	}
}

// A scale that interrupts a rollout ends with Progressing NewReplicaSetAvailable once
// every pod is updated and available, as the next rolling sync's syncRolloutStatus sets
// it (kubernetes@v1.37.2 pkg/controller/deployment/progress.go, syncRolloutStatus:
// util.DeploymentComplete → NewRSAvailableReason); a scale after a finished rollout
// leaves Progressing as it was.
func TestDeploymentScaleDuringRollout(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-shop", Generation: 2},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 0, AvailableReplicas: 0,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
				Reason: DeploymentReasonReplicaSetUpdated, Message: `ReplicaSet "acme-shop-1" is progressing.`}}},
	}
	steps := DeploymentSteps(d, false, false, t0, time.Second)
	last := steps[len(steps)-1]
	if p := progressingOf(last); p == nil || p.Reason != "NewReplicaSetAvailable" || p.Status != corev1.ConditionTrue {
		t.Errorf("Progressing after the scale completed the rollout: %+v, want True/NewReplicaSetAvailable", p)
	}
	if last.Replicas != 2 || last.UpdatedReplicas != 2 || last.AvailableReplicas != 2 {
		t.Errorf("counts %d/%d/%d, want 2/2/2", last.Replicas, last.UpdatedReplicas, last.AvailableReplicas)
	}
	for _, st := range steps[:len(steps)-1] {
		if p := progressingOf(st); p.Reason != DeploymentReasonReplicaSetUpdated {
			t.Errorf("Progressing %s before every pod is available, want ReplicaSetUpdated", p.Reason)
		}
	}

	// After a finished rollout a scale leaves Progressing untouched.
	d.Status = DeploymentRolledOut(d, t0)
	d.Generation = 3
	d.Spec.Replicas = ptr.To[int32](4)
	rolled := *progressingOf(d.Status)
	for _, st := range DeploymentSteps(d, false, false, t0.Add(time.Minute), time.Second) {
		if p := progressingOf(st); *p != rolled {
			t.Errorf("Progressing %+v after a scale, want it untouched: %+v", p, rolled)
		}
	}
}
