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
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/storefront-operator/storefront/test/fake"
)

var deploymentGVK = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

// deploymentRunner plays the Deployment controller with real pods: spec.replicas pods
// of the current template (the HPA stand-in sets spec.replicas to its minReplicas); a
// template change rolls: new pods start (at most maxSurge over the count), and an old
// pod is stopped (SIGTERM) only while the ready pods stay at or above replicas -
// maxUnavailable, so new ones are ready first. The status is the status-only stand-in's:
// fake.DeploymentRolledOut once every pod runs the current template and is ready,
// fake.DeploymentStuck when a rollout passes progressDeadlineSeconds; during a rollout
// it stays as it was (the operator sees a controller that has not observed the new
// generation yet).
type deploymentRunner struct {
	client   client.Client
	k        *kubelet
	recorder recorder.EventRecorder

	mu sync.Mutex
	// rolloutStart is when the current template's rollout began, by Deployment.
	rolloutStart map[types.UID]rollout
}

type rollout struct {
	hash  string
	since time.Time
}

func (r *deploymentRunner) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	d := &appsv1.Deployment{}
	if err := r.client.Get(ctx, req.NamespacedName, d); err != nil {
		if apierrors.IsNotFound(err) {
			for _, p := range ownedByName(r.k, "Deployment", req.Namespace, req.Name) {
				p.Terminate(podGrace(p), true)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !d.DeletionTimestamp.IsZero() {
		for _, p := range r.k.OwnedBy(d.UID) {
			p.Terminate(podGrace(p), true)
		}
		return ctrl.Result{}, nil
	}
	rsName := fake.ReplicaSetName(d)
	hash := strings.TrimPrefix(rsName, d.Name+"-")
	n := fake.DeploymentReplicas(d)
	var cur, old []*pod
	for _, p := range r.k.OwnedBy(d.UID) {
		if p.Terminating() {
			continue // terminating pods count for nothing, as in the real controller
		}
		if p.TemplateHash() == hash {
			cur = append(cur, p)
		} else {
			old = append(old, p)
		}
	}
	if d.Spec.Paused {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	r.mu.Lock()
	ro, ok := r.rolloutStart[d.UID]
	if !ok || ro.hash != hash {
		ro = rollout{hash: hash, since: now}
		r.rolloutStart[d.UID] = ro
	}
	r.mu.Unlock()

	surge, unavailable := rollingParams(d, n)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		r.stop(d, old, rsName, "old")
		if len(ownedTerminatingOld(r.k, d.UID, hash)) > 0 {
			return ctrl.Result{}, nil // the new pods start once the old are gone
		}
		old, surge = nil, 0
	}

	// Scale up the new template, at most surge pods over the count.
	if want := min(n-int32(len(cur)), n+surge-int32(len(cur)+len(old))); want > 0 {
		for range want {
			p, err := r.k.RunPod(ctx, podRequest{
				Owner: d, OwnerGVK: deploymentGVK, Name: rsName + "-" + randomSuffix(), Template: d.Spec.Template,
				ExtraLabels: map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash},
			})
			if err != nil {
				r.recorder.Eventf(d, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
				return ctrl.Result{}, err
			}
			cur = append(cur, p)
		}
		r.recorder.Eventf(d, nil, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale",
			"Scaled up replica set %s to %d", rsName, len(cur))
	}

	// Scale down: unready old pods first (they serve nothing), then ready old pods
	// while enough pods stay ready, then surplus new pods.
	ready := 0
	for _, p := range append(append([]*pod(nil), cur...), old...) {
		if p.Ready() {
			ready++
		}
	}
	spare := ready - int(n-unavailable)
	sortUnreadyFirst(old)
	var stop []*pod
	for _, p := range old {
		switch {
		case !p.Ready():
			stop = append(stop, p)
		case spare > 0:
			stop = append(stop, p)
			spare--
		}
	}
	if len(stop) > 0 {
		r.stop(d, stop, "", "old")
	}
	if extra := len(cur) - int(n); extra > 0 {
		sortUnreadyFirst(cur)
		r.stop(d, cur[:extra], rsName, "new")
		cur = cur[extra:]
	}

	// Status: rolled out once only ready pods of the current template remain.
	allReady := len(old) == len(stop) && len(cur) == int(n)
	for _, p := range cur {
		allReady = allReady && p.Ready()
	}
	switch deadline := time.Duration(ptr.Deref(d.Spec.ProgressDeadlineSeconds, 600)) * time.Second; {
	case allReady:
		return ctrl.Result{}, updateStatus(ctx, r.client, d, &d.Status, fake.DeploymentRolledOut(d, now), deploymentManager)
	case now.Sub(ro.since) >= deadline:
		return ctrl.Result{}, updateStatus(ctx, r.client, d, &d.Status, fake.DeploymentStuck(d, now), deploymentManager)
	default:
		return ctrl.Result{RequeueAfter: ro.since.Add(deadline).Sub(now)}, nil
	}
}

// stop terminates pods (the Pod objects go once their processes have exited).
func (r *deploymentRunner) stop(d *appsv1.Deployment, pods []*pod, rsName, which string) {
	if len(pods) == 0 {
		return
	}
	for _, p := range pods {
		p.Terminate(podGrace(p), true)
	}
	if rsName == "" {
		rsName = d.Name + "-" + pods[0].TemplateHash()
	}
	r.recorder.Eventf(d, nil, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale",
		"Scaled down %s replica set %s by %d", which, rsName, len(pods))
}

// ownedTerminatingOld are the pods of uid of another template that are still stopping.
func ownedTerminatingOld(k *kubelet, uid types.UID, hash string) []*pod {
	var out []*pod
	for _, p := range k.OwnedBy(uid) {
		if p.Terminating() && p.TemplateHash() != hash {
			out = append(out, p)
		}
	}
	return out
}

// rollingParams are maxSurge (rounded up) and maxUnavailable (rounded down) for n
// replicas, 25% each by default; both zero would stall, so unavailable is then 1.
func rollingParams(d *appsv1.Deployment, n int32) (surge, unavailable int32) {
	s, u := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			s = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			u = *ru.MaxUnavailable
		}
	}
	sv, _ := intstr.GetScaledValueFromIntOrPercent(&s, int(n), true)
	uv, _ := intstr.GetScaledValueFromIntOrPercent(&u, int(n), false)
	if sv == 0 && uv == 0 {
		uv = 1
	}
	return int32(sv), int32(uv)
}

func sortUnreadyFirst(pods []*pod) {
	sort.SliceStable(pods, func(i, j int) bool { return !pods[i].Ready() && pods[j].Ready() })
}
