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

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Hibernation (spec.hibernate): the shop sleeps at almost no cost and wakes as it was.
// The builders of the other phases call the hooks below; everything hibernation decides
// is here.
//
//   - The Deployment is scaled to 0 and the HPA removed (an HPA does not scale a
//     Deployment at 0 replicas up, and would scale one above 0 back to its minimum);
//     the bounds are kept in status.hibernation, for humans: waking scales to the
//     bounds of the moment (wakeReplicas). The operator's apply never carries
//     spec.replicas (the HPA owns it), so scaling is a patch of its own field manager.
//   - The Aurora cluster may pause: minimum capacity 0 with secondsUntilAutoPause, on
//     an engine version that supports it.
//   - The Ingress answers every path with a 503 page through the AWS Load Balancer
//     Controller's actions annotation.
//   - ElastiCache Serverless cannot pause: it is kept, and the status says it costs.

// hibernationFieldOwner is the field manager of the replica counts hibernation sets:
// not fieldOwner, whose applies leave spec.replicas to the HPA.
const hibernationFieldOwner = "storefront-operator-hibernation"

// sleepingAction names the Ingress's annotation action while the shop sleeps: the
// backend is Service "sleeping", port "use-annotation", and its action is in
// alb.ingress.kubernetes.io/actions.sleeping (kubernetes-sigs/aws-load-balancer-controller
// docs/guide/ingress/annotations.md#actions).
const (
	sleepingAction       = "sleeping"
	albActionsPrefix     = "alb.ingress.kubernetes.io/actions."
	albUseAnnotationPort = "use-annotation"
)

// sleepingPage is the body of the 503 every path answers while the shop sleeps. An ALB
// fixed response carries at most 1024 characters (ELB API FixedResponseActionConfig).
const sleepingPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>This shop is sleeping</title></head>` +
	`<body style="font-family:sans-serif;text-align:center;margin-top:20vh"><h1>This shop is sleeping</h1>` +
	`<p>It will be back soon. Please come again later.</p></body></html>`

// Aurora's automatic pause (AWS, Aurora User Guide, "Scaling to Zero ACUs with
// automatic pause and resume for Aurora Serverless v2",
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html):
// a minimum capacity of 0 ACU pauses an instance after secondsUntilAutoPause (300 to
// 86,400) without user connections, on Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 and
// later minors, and every later major. AWS keeps secondsUntilAutoPause only while the
// minimum is 0, so the operator sets it only then: otherwise ACK would report a
// difference it can never sync.
const auroraSecondsUntilAutoPause = 300

// autoPauseMinimums are the first minor of each Aurora PostgreSQL major that pauses;
// majors above the last listed all do.
var autoPauseMinimums = map[int]int{13: 15, 14: 12, 15: 7, 16: 3}

const autoPauseVersions = "Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 or later"

// supportsAutoPause reports whether an aurora-postgresql engine version can pause.
func supportsAutoPause(version string) bool {
	majorS, minorS, _ := strings.Cut(version, ".")
	major, err := strconv.Atoi(majorS)
	if err != nil {
		return false
	}
	if major > 16 {
		return true
	}
	least, ok := autoPauseMinimums[major]
	if !ok || minorS == "" {
		// A major alone names no minor: which one AWS picks is unknown.
		return false
	}
	minor, err := strconv.Atoi(minorS)
	return err == nil && minor >= least
}

// hibernating reports whether the shop should sleep.
func hibernating(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Hibernate }

// hibernationStatus is status.hibernation, created with the autoscaling bounds of the
// moment the shop goes to sleep.
func hibernationStatus(sf *shopv1alpha1.Storefront) *shopv1alpha1.HibernationStatus {
	if sf.Status.Hibernation == nil {
		sf.Status.Hibernation = &shopv1alpha1.HibernationStatus{
			MinReplicas: max(sf.Spec.Replicas.Min, 1),
			MaxReplicas: max(sf.Spec.Replicas.Max, sf.Spec.Replicas.Min, 1),
		}
	}
	return sf.Status.Hibernation
}

// hibernateDBCluster is the DBCluster hook: while the shop sleeps, minimum capacity 0
// and secondsUntilAutoPause, when the engine version can pause. The version is the
// spec's, else the one ACK wrote back into the live cluster's spec (Aurora's default,
// late-initialised). Awake, u is left as built: the spec's capacity, no auto-pause.
func (r *StorefrontReconciler) hibernateDBCluster(ctx context.Context, s *scope, u *unstructured.Unstructured) *unstructured.Unstructured {
	if !hibernating(s.sf) {
		return u
	}
	h := hibernationStatus(s.sf)
	version := s.sf.Spec.Database.Aurora.EngineVersion
	if version == "" {
		live := newACKObject(gvkDBCluster)
		var reader client.Reader = r.Client
		if r.ObjectCache != nil {
			reader = r.ObjectCache
		}
		// The cluster in use: a restored one has a name of its own (u is built for the
		// first; the database phase points it at the current one after this hook).
		key := client.ObjectKey{Namespace: s.sf.Namespace, Name: currentClusterObjectName(s.sf)}
		if err := reader.Get(ctx, key, live); err == nil {
			version, _, _ = unstructured.NestedString(live.Object, "spec", "engineVersion")
		}
	}
	if !supportsAutoPause(version) {
		h.DatabasePaused = false
		s.hibernationNotes = append(s.hibernationNotes, fmt.Sprintf(
			"the Aurora cluster stays at its minimum capacity of %s ACU: engine version %s cannot pause (%s needed)",
			orDefault(s.sf.Spec.Database.Aurora.MinCapacity, "0.5"), orDefault(version, "unknown"), autoPauseVersions))
		return u
	}
	scaling, _, _ := unstructured.NestedMap(u.Object, "spec", "serverlessV2ScalingConfiguration")
	scaling["minCapacity"] = float64(0)
	scaling["secondsUntilAutoPause"] = int64(auroraSecondsUntilAutoPause)
	_ = unstructured.SetNestedMap(u.Object, scaling, "spec", "serverlessV2ScalingConfiguration")
	h.DatabasePaused = true
	return u
}

// hibernateIngress is the Ingress hook: while the shop sleeps every path of every rule
// goes to the fixed-response action, a 503 with the sleeping page. Other ingress
// controllers than the ALB's answer a backend Service that does not exist with an
// error of their own.
func hibernateIngress(sf *shopv1alpha1.Storefront, ing *networkingv1.Ingress) {
	if !hibernating(sf) {
		return
	}
	action, _ := json.Marshal(map[string]any{
		"type": "fixed-response",
		"fixedResponseConfig": map[string]string{
			"contentType": "text/html",
			"statusCode":  "503",
			"messageBody": sleepingPage,
		},
	})
	if ing.Annotations == nil {
		ing.Annotations = map[string]string{}
	}
	ing.Annotations[albActionsPrefix+sleepingAction] = string(action)
	for i := range ing.Spec.Rules {
		if ing.Spec.Rules[i].HTTP == nil {
			continue
		}
		for j := range ing.Spec.Rules[i].HTTP.Paths {
			ing.Spec.Rules[i].HTTP.Paths[j].Backend = networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: sleepingAction,
				Port: networkingv1.ServiceBackendPort{Name: albUseAnnotationPort},
			}}
		}
	}
}

// hibernateWorkload is the workload hook, run once the Deployment is applied. Asleep:
// the HPA goes, the Deployment is scaled to 0, Available is False/Hibernated, and done
// is true (the HPA and PDB are not applied). Awake: a Deployment at 0 is scaled to
// wakeReplicas (an HPA never scales up from 0), and status.hibernation is dropped once
// that many pods are available.
func (r *StorefrontReconciler) hibernateWorkload(ctx context.Context, s *scope) (done bool, err error) {
	sf, d := s.sf, s.deployment
	if !hibernating(sf) {
		want := wakeReplicas(sf)
		if ptr.Deref(d.Spec.Replicas, 1) == 0 {
			// Whether or not status.hibernation was stored: the status write of the
			// reconcile that scaled to 0 may have been dropped on a Conflict. Recording
			// it now makes the pods' start a wake (wakingAvailable), not PodsUnavailable.
			if err := r.scaleShop(ctx, sf, want); err != nil {
				return false, err
			}
			hibernationStatus(sf)
			return false, nil
		}
		if sf.Status.Hibernation != nil && d.Status.AvailableReplicas >= want {
			sf.Status.Hibernation = nil
		}
		return false, nil
	}
	hibernationStatus(sf)
	if err := r.deleteOwned(ctx, sf, &autoscalingv2.HorizontalPodAutoscaler{}, objectName(sf, roleShop)); err != nil {
		return true, err
	}
	if ptr.Deref(d.Spec.Replicas, 1) != 0 {
		if err := r.scaleShop(ctx, sf, 0); err != nil {
			return true, err
		}
	}
	asleepAvailable(s, d)
	return true, nil
}

// wakeReplicas is how many pods a woken shop starts with: the minimum of the HPA it is
// applied with now (desiredHPA), clamped to that HPA's maximum as the HPA controller
// clamps. Not the bounds recorded at sleep: spec.replicas may have been lowered since,
// and the HPA would scale the Deployment below them, so that many pods would never be
// available and the wake would never end.
func wakeReplicas(sf *shopv1alpha1.Storefront) int32 {
	hpa := desiredHPA(sf, nil)
	return min(ptr.Deref(hpa.Spec.MinReplicas, 1), hpa.Spec.MaxReplicas)
}

// asleepAvailable sets Available for a shop whose Deployment hibernation scaled to 0.
func asleepAvailable(s *scope, d *appsv1.Deployment) {
	msg := fmt.Sprintf("Deployment %s is scaled to 0", d.Name)
	if d.Status.Replicas > 0 {
		msg = fmt.Sprintf("Deployment %s is scaled to 0; %d pods are still stopping", d.Name, d.Status.Replicas)
	}
	s.setCondition(shopv1alpha1.ConditionAvailable, false, shopv1alpha1.ReasonHibernated, msg)
}

// scaleShop sets the shop Deployment's spec.replicas with a merge patch of
// hibernationFieldOwner: the HPA (or, asleep, nobody) owns the field afterwards.
func (r *StorefrontReconciler) scaleShop(ctx context.Context, sf *shopv1alpha1.Storefront, replicas int32) error {
	name := objectName(sf, roleShop)
	log.FromContext(ctx).Info("Scaling the shop for hibernation", "deployment", name, "replicas", replicas)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: sf.Namespace, Name: name}}
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas))
	if err := r.Patch(ctx, d, patch, client.FieldOwner(hibernationFieldOwner)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("scaling deployment %s to %d: %w", name, replicas, err)
	}
	return nil
}

// hibernationSummary is the hook of the status summary while the shop sleeps: Ready is
// False/Hibernated with what still costs, which status.hibernation records too.
func hibernationSummary(s *scope) {
	sf := s.sf
	h := hibernationStatus(sf)
	notes := s.hibernationNotes
	if sf.Spec.Database.External != nil {
		notes = append(notes, "the external database, which the operator does not manage")
	}
	if c := sf.Spec.Cache; c != nil && c.Serverless != nil {
		notes = append(notes, "the ElastiCache Serverless cache, which cannot pause: its stored data stays billed")
	}
	if h.DatabasePaused {
		notes = append(notes, "the Aurora cluster's storage (its compute pauses after "+
			strconv.Itoa(auroraSecondsUntilAutoPause)+" seconds without connections)")
	}
	h.StillCosting = strings.Join(notes, "; ")
	msg := "The shop sleeps (spec.hibernate): no shop pod runs and the Ingress answers 503"
	if h.StillCosting != "" {
		msg += "; still costing: " + h.StillCosting
	}
	s.setCondition(shopv1alpha1.ConditionReady, false, shopv1alpha1.ReasonHibernated, msg)
}

// wakingAvailable is the hook after Available is set: while a woken shop's pods start,
// too few available pods are a rollout under way, not PodsUnavailable (which pages). A
// failure is not masked (docs/architecture.md#conditions-and-phases): a rollout past
// its progress deadline stays RolloutStuck, and pods still unavailable
// progressDeadlineSeconds after the Deployment controller reported the scale are
// PodsUnavailable, the grace a rollout gets (the Deployment controller sets no deadline
// on a scale).
func wakingAvailable(s *scope) {
	h := s.sf.Status.Hibernation
	if h == nil || hibernating(s.sf) || s.deployment == nil {
		return
	}
	d := s.deployment
	if state, _ := deploymentRollout(d); state == rolloutStuck || wakeOverdue(d, time.Now()) {
		return
	}
	s.setCondition(shopv1alpha1.ConditionAvailable, false, shopv1alpha1.ReasonRollingOut,
		fmt.Sprintf("Waking: Deployment %s has %d of %d pods available", d.Name, d.Status.AvailableReplicas, wakeReplicas(s.sf)))
}

// wakeOverdue reports whether a woken Deployment's pods have had their time: the
// controller observed the scale up, and its Available condition last changed (to False
// when it saw the scale from 0; to True once enough pods for maxUnavailable were up)
// more than progressDeadlineSeconds ago. Nothing prompts a reconcile then: the verdict
// comes with the next one, at the latest the resync.
func wakeOverdue(d *appsv1.Deployment, now time.Time) bool {
	if ptr.Deref(d.Spec.Replicas, 1) == 0 || d.Status.ObservedGeneration < d.Generation {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			deadline := time.Duration(ptr.Deref(d.Spec.ProgressDeadlineSeconds, progressDeadlineSeconds)) * time.Second
			return now.Sub(c.LastTransitionTime.Time) > deadline
		}
	}
	return false
}
