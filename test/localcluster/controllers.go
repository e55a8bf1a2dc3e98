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
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/storefront-operator/storefront/test/fake"
)

// hpaController plays the HPA controller without metrics: it keeps its target
// Deployment at minReplicas through the scale subresource and reports it with the
// status-only stand-in's fake.HPAScaled.
type hpaController struct {
	client client.Client
}

func (c *hpaController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := c.client.Get(ctx, req.NamespacedName, hpa); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || !hpa.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	d := &appsv1.Deployment{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: hpa.Namespace, Name: ref.Name}, d); err != nil {
		// The real HPA reports FailedGetScale; the stand-in waits for the Deployment.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	desired := fake.HPADesiredReplicas(hpa, 0)
	if fake.DeploymentReplicas(d) != desired {
		scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: desired}}
		if err := c.client.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(scale), client.FieldOwner(hpaManager)); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
			}
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, updateStatus(ctx, c.client, hpa, &hpa.Status, fake.HPAScaled(hpa, d.Status.Replicas, desired, time.Now()), hpaManager)
}

// hpasTargeting maps a Deployment to the HPAs that scale it.
func hpasTargeting(c client.Client) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, d client.Object) []reconcile.Request {
		list := &autoscalingv2.HorizontalPodAutoscalerList{}
		if err := c.List(ctx, list, client.InNamespace(d.GetNamespace())); err != nil {
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
}

// podWatcher is the kubelet's side of a pod deletion: a Pod object deleted with a grace
// period (kubectl delete pod) gets its process stopped within it, then the object is
// deleted for good; a pod deleted outright has its process stopped at once.
type podWatcher struct {
	client client.Client
	k      *kubelet
}

func (w *podWatcher) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	obj := &corev1.Pod{}
	err := w.client.Get(ctx, req.NamespacedName, obj)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	for _, p := range w.k.Pods(func(p *pod) bool { return p.Namespace() == req.Namespace && p.Name() == req.Name }) {
		switch {
		case apierrors.IsNotFound(err) || obj.UID != p.UID():
			p.Terminate(0, false)
			w.k.forget(p)
		case !obj.DeletionTimestamp.IsZero():
			grace := time.Duration(0)
			if s := obj.DeletionGracePeriodSeconds; s != nil {
				grace = time.Duration(*s) * time.Second
			}
			p.Terminate(grace, true)
		}
	}
	return ctrl.Result{}, nil
}
