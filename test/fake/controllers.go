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

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Field managers of the stand-ins' writes, named after the real controllers'.
const (
	jobManager        = "job-controller"
	deploymentManager = "deployment-controller"
	hpaManager        = "horizontal-pod-autoscaler"
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
	return ctrl.Result{}, updateStatus(ctx, c.s.client, job, &job.Status, want, jobManager)
}

// deploymentController plays the Deployment controller: every generation rolls out at
// once (DeploymentRolledOut), or, with stuck rollouts, exceeds its progress deadline
// (DeploymentStuck) while the old pods keep serving; with held rollouts it writes nothing.
type deploymentController struct{ s *StandIns }

func (c *deploymentController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	d := &appsv1.Deployment{}
	if err := c.s.client.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !d.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	stuck, held := c.s.rollouts()
	if held {
		return ctrl.Result{}, nil
	}
	now := c.s.now()
	want := DeploymentRolledOut(d, now)
	if stuck {
		want = DeploymentStuck(d, now)
	}
	return ctrl.Result{}, updateStatus(ctx, c.s.client, d, &d.Status, want, deploymentManager)
}

// hpaController plays the HPA controller: it scales the target Deployment through its
// scale subresource to the recommended count (HPADesiredReplicas) and reports it
// (HPAScaled). It has no metrics; the recommendation is the knob.
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
	desired := HPADesiredReplicas(hpa, c.s.recommendedReplicas())
	if DeploymentReplicas(d) != desired {
		scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: desired}}
		if err := c.s.client.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(scale)); err != nil {
			return ctrl.Result{}, err
		}
	}
	want := HPAScaled(hpa, d.Status.Replicas, desired, c.s.now())
	return ctrl.Result{}, updateStatus(ctx, c.s.client, hpa, &hpa.Status, want, hpaManager)
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

// updateStatus writes want into *current and updates obj's status subresource, unless
// nothing changed; a conflict retries through the next event.
func updateStatus[T any](ctx context.Context, c client.Client, obj client.Object, current *T, want T, manager string) error {
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
