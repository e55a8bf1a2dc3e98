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
	"context"
	"regexp"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Field managers of the stand-ins' writes, the one set for every stand-in: the real
// controllers' names. kube-controller-manager's controllers write as
// "kube-controller-manager" (the API server takes the manager from the user agent's
// first part); the ACK controllers are named after their service accounts.
const (
	FieldManagerKubeControllerManager = "kube-controller-manager"
	FieldManagerACKRDS                = "ack-rds-controller"
	FieldManagerACKElastiCache        = "ack-elasticache-controller"
)

// jobController plays the Job controller: a new Job first runs (JobRunning); on the next
// pass it completes or fails according to its image's outcome, or keeps running.
// Finished Jobs are left alone, as the real controller leaves them.
type jobController struct{ s *StandIns }

func (c *jobController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	job := &batchv1.Job{}
	if err := c.s.client.Get(ctx, req.NamespacedName, job); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if JobFinished(job) || !job.DeletionTimestamp.IsZero() || ptr.Deref(job.Spec.Suspend, false) {
		return ctrl.Result{}, nil
	}
	now := c.s.now()
	want := JobRunning(job, now)
	if job.Status.StartTime != nil {
		image := ""
		if cs := job.Spec.Template.Spec.Containers; len(cs) > 0 {
			image = cs[0].Image
		}
		switch c.s.jobOutcome(image) {
		case JobSucceeds:
			want = JobComplete(job, now)
		case JobFails:
			want = JobFailed(job, now, JobReasonBackoffLimitExceeded, JobMessageBackoffLimit)
		}
	}
	return ctrl.Result{}, UpdateStatus(ctx, c.s.client, job, &job.Status, want, FieldManagerKubeControllerManager)
}

// deploymentController plays the Deployment controller, a step at a time with
// Options.DeploymentDelay between the change of a generation and each status it writes
// (DeploymentSteps): a scale (the template unchanged) touches only the counts, Available
// and observedGeneration; a new template is a rollout to DeploymentRolledOut, or, with
// stuck rollouts, to DeploymentStuck; with held rollouts it writes nothing.
type deploymentController struct {
	s *StandIns

	mu    sync.Mutex
	steps map[types.UID]*deploymentChange
}

// deploymentChange is a generation on its way through DeploymentSteps.
type deploymentChange struct {
	generation int64
	seen       time.Time
	prev       appsv1.DeploymentStatus
	rollout    bool
	// rolledOut: the last step was written, and was not stuck. A rollout that
	// finished stays finished when rollouts get stuck later; a stuck one rolls out
	// when they no longer are.
	rolledOut bool
}

func (c *deploymentController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	d := &appsv1.Deployment{}
	if err := c.s.client.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !d.DeletionTimestamp.IsZero() {
		c.mu.Lock()
		delete(c.steps, d.UID)
		c.mu.Unlock()
		return ctrl.Result{}, nil
	}
	stuck, held := c.s.rollouts()
	if held {
		return ctrl.Result{}, nil
	}
	now := c.s.now()
	c.mu.Lock()
	ch := c.steps[d.UID]
	if ch == nil || ch.generation != d.Generation {
		ch = &deploymentChange{generation: d.Generation, seen: now, prev: *d.Status.DeepCopy(),
			rollout: d.Status.ObservedGeneration == 0 || currentReplicaSet(d) != ReplicaSetName(d)}
		c.steps[d.UID] = ch
	}
	c.mu.Unlock()

	if ch.rolledOut {
		return ctrl.Result{}, nil
	}
	base := d.DeepCopy()
	base.Status = ch.prev
	steps := DeploymentSteps(base, ch.rollout, stuck, ch.seen, c.s.deploymentDelay)
	due := len(steps)
	if delay := c.s.deploymentDelay; delay > 0 {
		due = min(int(now.Sub(ch.seen)/delay), len(steps))
	}
	if due == len(steps) && !stuck && equality.Semantic.DeepEqual(d.Status, steps[due-1]) {
		c.mu.Lock()
		ch.rolledOut = true
		c.mu.Unlock()
		return ctrl.Result{}, nil
	}
	if due > 0 {
		if err := UpdateStatus(ctx, c.s.client, d, &d.Status, steps[due-1], FieldManagerKubeControllerManager); err != nil {
			return ctrl.Result{}, err
		}
	}
	if due < len(steps) {
		return ctrl.Result{RequeueAfter: ch.seen.Add(time.Duration(due+1) * c.s.deploymentDelay).Sub(now)}, nil
	}
	return ctrl.Result{}, nil
}

// replicaSetInMessage finds the ReplicaSet a Progressing message names.
var replicaSetInMessage = regexp.MustCompile(`(?:ReplicaSet|replica set) "([^"]+)"`)

// currentReplicaSet is the ReplicaSet d's Progressing condition is about, "" when none.
func currentReplicaSet(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			if m := replicaSetInMessage.FindStringSubmatch(c.Message); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

// hpaController plays the HPA controller: it scales the target Deployment through its
// scale subresource to the recommended count (HPADesiredReplicas) and reports it
// (HPAScaled), but leaves a target at 0 replicas alone (HPAScalingDisabled,
// HPADisabled). It has no metrics; the recommendation is the knob.
type hpaController struct{ s *StandIns }

func (c *hpaController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := c.s.client.Get(ctx, req.NamespacedName, hpa); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || !hpa.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	d := &appsv1.Deployment{}
	if err := c.s.client.Get(ctx, client.ObjectKey{Namespace: hpa.Namespace, Name: ref.Name}, d); err != nil {
		// The real HPA reports FailedGetScale; the stand-in waits for the Deployment.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if HPAScalingDisabled(hpa, DeploymentReplicas(d)) {
		// A target at 0 stays at 0 until something else scales it (HPADisabled).
		return ctrl.Result{}, UpdateStatus(ctx, c.s.client, hpa, &hpa.Status, HPADisabled(hpa, c.s.now()), FieldManagerKubeControllerManager)
	}
	desired := HPADesiredReplicas(hpa, c.s.recommendedReplicas())
	if DeploymentReplicas(d) != desired {
		scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: desired}}
		if err := c.s.client.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(scale),
			client.FieldOwner(FieldManagerKubeControllerManager)); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
			}
			return ctrl.Result{}, err
		}
	}
	want := HPAScaled(hpa, d.Status.Replicas, desired, c.s.now())
	return ctrl.Result{}, UpdateStatus(ctx, c.s.client, hpa, &hpa.Status, want, FieldManagerKubeControllerManager)
}

// hpasTargeting maps a Deployment to the HPAs that scale it.
func (s *StandIns) hpasTargeting(ctx context.Context, d client.Object) []reconcile.Request {
	list := &autoscalingv2.HorizontalPodAutoscalerList{}
	if err := s.client.List(ctx, list, client.InNamespace(d.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, hpa := range list.Items {
		if hpa.Spec.ScaleTargetRef.Kind == "Deployment" && hpa.Spec.ScaleTargetRef.Name == d.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&hpa)})
		}
	}
	return reqs
}

// UpdateStatus writes want into *current and updates obj's status subresource as
// manager, unless nothing changed, as the Kubernetes controllers do (UpdateStatus after
// a DeepEqual); a conflict or a deleted object is left to the next event.
func UpdateStatus[T any](ctx context.Context, c client.Client, obj client.Object, current *T, want T, manager string) error {
	if equality.Semantic.DeepEqual(*current, want) {
		return nil
	}
	*current = want
	err := c.Status().Update(ctx, obj, client.FieldOwner(manager))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
