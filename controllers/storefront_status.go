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
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

const (
	metav1ConditionTrue  = metav1.ConditionTrue
	metav1ConditionFalse = metav1.ConditionFalse
)

// newCondition builds a condition for generation.
func newCondition(condType string, status metav1.ConditionStatus, reason, message string, generation int64) metav1.Condition {
	return metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: generation}
}

// conditionTypes are the conditions every reconcile sets, in the order they gate each
// other.
var conditionTypes = []string{
	shopv1alpha1.ConditionDatabaseReady,
	shopv1alpha1.ConditionCacheReady,
	shopv1alpha1.ConditionSchemaMigrated,
	shopv1alpha1.ConditionAvailable,
}

// failureReasons mark a condition that needs a human: phase Degraded, Warning Events.
var failureReasons = map[string]bool{
	shopv1alpha1.ReasonInvalidConnectionSecret: true,
	shopv1alpha1.ReasonProvisioningFailed:      true,
	shopv1alpha1.ReasonMigrationFailed:         true,
	shopv1alpha1.ReasonMigrationPodNotStarting: true,
	shopv1alpha1.ReasonSnapshotFailed:          true,
	shopv1alpha1.ReasonRestoreFailed:           true,
	shopv1alpha1.ReasonRolloutStuck:            true,
	shopv1alpha1.ReasonPodsUnavailable:         true,
	shopv1alpha1.ReasonReconcileError:          true,
	shopv1alpha1.ReasonHostConflict:            true,
	shopv1alpha1.ReasonLoginFailed:             true,
	shopv1alpha1.ReasonOwnershipConflict:       true,
	shopv1alpha1.ReasonCDNDegraded:             true,
	// RDS statuses that need a human (storefront_ack_status.go).
	shopv1alpha1.ReasonDatabaseFailed:            true,
	shopv1alpha1.ReasonEncryptionKeyInaccessible: true,
	shopv1alpha1.ReasonDatabaseIncompatible:      true,
	shopv1alpha1.ReasonDatabaseStopped:           true,
	shopv1alpha1.ReasonDatabaseLost:              true,
}

// reconcileStatus is the last phase: it summarises the other conditions into Ready and
// the phase, and fills the observed fields (url, served image). It writes nothing;
// Reconcile's deferred writeStatus does, when something changed.
func (r *StorefrontReconciler) reconcileStatus(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if s.deployment == nil {
		d := &appsv1.Deployment{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleShop)}, d); err == nil {
			s.deployment = d
		} else if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("reading deployment: %w", err)
		}
	}
	if s.ingress == nil && sf.Spec.Ingress != nil {
		ing := &networkingv1.Ingress{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleShop)}, ing); err == nil {
			s.ingress = ing
		} else if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("reading ingress: %w", err)
		}
	}
	observeWorkload(&sf.Status, s.deployment)
	sf.Status.URL = shopURL(sf.Spec.Ingress, s.ingress)
	if u := cdnURL(sf); u != "" {
		sf.Status.URL = u
	}
	summarise(s)
	return ctrl.Result{RequeueAfter: resyncPeriod}, nil
}

// summarise sets Ready, the phase and observedGeneration from the other conditions and
// what stopped the phases (s.err), as the table in
// docs/architecture.md#conditions-and-phases says.
func summarise(s *scope) {
	sf := s.sf
	switch {
	case sf.Spec.Paused:
		s.setCondition(shopv1alpha1.ConditionReady, false, shopv1alpha1.ReasonPaused,
			"spec.paused is set: the operator changes none of the shop's objects")
	case s.err != nil && isTransient(s.err):
		// A conflict, a lagging cache or an overloaded API server: retried with
		// backoff, and no reason to tell anyone the shop is not ready. The phases after
		// the failed one did not run, so this generation is not observed yet.
		return
	case s.err != nil:
		// The phases after the failed one did not run: their conditions are not current.
		reason := shopv1alpha1.ReasonReconcileError
		if errors.As(s.err, new(*notControlledError)) {
			reason = shopv1alpha1.ReasonOwnershipConflict
		}
		s.setCondition(shopv1alpha1.ConditionReady, false, reason, s.err.Error())
	case hibernating(sf):
		hibernationSummary(s)
	default:
		setReady(sf)
	}
	sf.Status.ObservedGeneration = sf.Generation
	sf.Status.Phase = summarisePhase(sf)
	reportHostConflict(s)
}

// isTransient reports whether err is worth retrying without reporting it: the object
// changed meanwhile (Conflict), the cache has not seen an object we created
// (AlreadyExists), or the API server is busy or unreachable for a moment. Everything
// else (refused, forbidden, invalid, not controlled by us) persists until someone acts,
// and makes the phase Degraded.
func isTransient(err error) bool {
	if errors.As(err, new(*notControlledError)) {
		return false
	}
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err)
}

// setReady sets Ready from the other conditions: True only when each of them is True
// for the current generation and the Deployment is settled on its template (Available's
// reason DeploymentAvailable: not rolling out, not stuck).
func setReady(sf *shopv1alpha1.Storefront) {
	for _, t := range conditionTypes {
		c := meta.FindStatusCondition(sf.Status.Conditions, t)
		settled := c != nil && (t != shopv1alpha1.ConditionAvailable || c.Reason == shopv1alpha1.ReasonDeploymentAvailable)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != sf.Generation || !settled {
			msg := t + " is not True"
			if c != nil && c.Message != "" {
				msg = t + ": " + c.Message
			}
			meta.SetStatusCondition(&sf.Status.Conditions, newCondition(shopv1alpha1.ConditionReady,
				metav1.ConditionFalse, shopv1alpha1.ReasonNotReady, msg, sf.Generation))
			return
		}
	}
	meta.SetStatusCondition(&sf.Status.Conditions, newCondition(shopv1alpha1.ConditionReady,
		metav1.ConditionTrue, shopv1alpha1.ReasonReconciled, "The shop serves "+sf.Spec.Image, sf.Generation))
}

// summarisePhase is the one-word summary of the conditions (the table in
// docs/architecture.md#conditions-and-phases).
func summarisePhase(sf *shopv1alpha1.Storefront) shopv1alpha1.StorefrontPhase {
	if !sf.DeletionTimestamp.IsZero() {
		return shopv1alpha1.PhaseDeleting
	}
	if sf.Spec.Paused {
		return shopv1alpha1.PhasePaused
	}
	cond := func(t string) *metav1.Condition {
		if c := meta.FindStatusCondition(sf.Status.Conditions, t); c != nil {
			return c
		}
		return &metav1.Condition{Type: t, Status: metav1.ConditionUnknown}
	}
	// A failure reason needs a human whatever the status: a stuck rollout leaves
	// Available True while the old pods serve, and it is still stuck.
	for _, t := range append(conditionTypes, shopv1alpha1.ConditionReady) {
		if failureReasons[cond(t).Reason] {
			return shopv1alpha1.PhaseDegraded
		}
	}
	if hibernating(sf) {
		return shopv1alpha1.PhaseHibernated
	}
	if cond(shopv1alpha1.ConditionReady).Status == metav1.ConditionTrue {
		return shopv1alpha1.PhaseReady
	}
	if cond(shopv1alpha1.ConditionDatabaseReady).Status != metav1.ConditionTrue ||
		cond(shopv1alpha1.ConditionCacheReady).Status != metav1.ConditionTrue {
		return shopv1alpha1.PhaseProvisioning
	}
	if cond(shopv1alpha1.ConditionSchemaMigrated).Status != metav1.ConditionTrue {
		return shopv1alpha1.PhaseMigrating
	}
	return shopv1alpha1.PhaseRollingOut
}

// observeWorkload copies the Deployment's image into the status. Pod counts are not
// copied: they change with every scale, and a status that followed them would be
// written (and watched, by every client of Storefronts) each time the HPA acts; the
// Deployment and the HPA report them.
func observeWorkload(st *shopv1alpha1.StorefrontStatus, d *appsv1.Deployment) {
	if d == nil {
		st.ServedImage = ""
		return
	}
	st.ServedImage = containerImage(d.Spec.Template.Spec.Containers, shopContainerName)
}

func containerImage(containers []corev1.Container, name string) string {
	for _, c := range containers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

// shopURL is where shoppers reach the shop: https when the Ingress really serves TLS
// (ingressServesTLS), else http, and the Ingress host when one is set; otherwise the
// load balancer's address from the Ingress status, with its port when one is given. No
// Ingress: no URL.
func shopURL(spec *shopv1alpha1.IngressSpec, ing *networkingv1.Ingress) string {
	if spec == nil {
		return ""
	}
	scheme := "http://"
	if ingressServesTLS(spec) {
		scheme = "https://"
	}
	if spec.Host != "" {
		return scheme + spec.Host
	}
	if ing == nil || len(ing.Status.LoadBalancer.Ingress) == 0 {
		return ""
	}
	lb := ing.Status.LoadBalancer.Ingress[0]
	host := lb.Hostname
	if host == "" {
		host = lb.IP
	}
	if host == "" {
		return ""
	}
	if len(lb.Ports) > 0 && lb.Ports[0].Port > 0 {
		return scheme + net.JoinHostPort(host, strconv.Itoa(int(lb.Ports[0].Port)))
	}
	if strings.Contains(host, ":") { // a bare IPv6 address
		return scheme + "[" + host + "]"
	}
	return scheme + host
}

// statusEqual reports whether two statuses are the same, so that an unchanged status is
// never written.
func statusEqual(a, b shopv1alpha1.StorefrontStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

// emitTransitionEvents emits one Event per condition whose status or reason changed:
// Normal when it became True or is on its way, Warning when it needs a human. The
// Event's action is the condition's type: client-go merges Events of the same type,
// reason and action into a series that keeps the first note (tools/events, getKey), so
// with one action for all, CacheReady=False/Provisioning was counted into
// DatabaseReady's Event and its message was lost.
func (r *StorefrontReconciler) emitTransitionEvents(before, after *shopv1alpha1.Storefront) {
	if r.Recorder == nil {
		return
	}
	for _, c := range after.Status.Conditions {
		old := meta.FindStatusCondition(before.Status.Conditions, c.Type)
		if old != nil && old.Status == c.Status && old.Reason == c.Reason {
			continue
		}
		eventType := corev1.EventTypeNormal
		if failureReasons[c.Reason] {
			eventType = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(after, nil, eventType, c.Reason, c.Type, "%s=%s: %s", c.Type, c.Status, c.Message)
	}
}
