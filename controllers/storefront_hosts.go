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
	"cmp"
	"context"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Host ownership (docs/architecture.md#many-teams-on-one-cluster). An Ingress host is
// unique in a cluster in practice (ingress controllers and ALBs route a host to one
// backend), but the API server does not enforce it, so two Storefronts may name the same
// spec.ingress.host, in the same namespace or in two. One of them owns the host and has
// its Ingress; the others have none and say who owns it (Ready=False, HostConflict)
// until the owner lets go of it: it is deleted, or names another host.
//
// The owner is decided by what every reconcile of every claimant reads alike, and what
// does not change behind a running shop:
//  1. a Storefront whose Ingress (one it controls) serves the host now: whoever serves
//     keeps serving, so an older Storefront that changes its host to one another shop
//     serves never takes it over;
//  2. then the earliest creationTimestamp, set by the API server and immutable: the
//     shop that asked first;
//  3. then namespace/name, unique, for claims created in the same second.
//
// A claim counts while the Storefront may serve the host: it is neither being deleted
// nor paused, or it still has its Ingress (a paused shop keeps serving; a deleted one
// lets go once the finalizer has deleted its Ingress). Claimants are the Storefronts of
// the operator's cache, so with --watch-namespaces only those of the watched namespaces.

// indexIngressHost indexes Storefronts by spec.ingress.host, so that a claim, or the end
// of one, reconciles the other claimants at once.
const indexIngressHost = "spec.ingress.host"

// ingressHost is the host a Storefront claims; "" for none.
func ingressHost(sf *shopv1alpha1.Storefront) string {
	if sf.Spec.Ingress == nil {
		return ""
	}
	return sf.Spec.Ingress.Host
}

// hostClaim is one Storefront naming a host, as the choice of its owner sees it.
type hostClaim struct {
	key     client.ObjectKey
	created metav1.Time
	// serving: it controls an Ingress that has the host now.
	serving bool
	// leaving: it is being deleted or is paused, and so takes the host only if it
	// serves it already.
	leaving bool
}

// hostOwner returns the claim that owns the host, in the order the package comment
// gives, and false when no claim counts.
func hostOwner(claims []hostClaim) (hostClaim, bool) {
	counted := slices.DeleteFunc(slices.Clone(claims), func(c hostClaim) bool { return c.leaving && !c.serving })
	if len(counted) == 0 {
		return hostClaim{}, false
	}
	return slices.MinFunc(counted, func(a, b hostClaim) int {
		if a.serving != b.serving {
			if a.serving {
				return -1
			}
			return 1
		}
		if !a.created.Equal(&b.created) {
			if a.created.Before(&b.created) {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.key.Namespace, b.key.Namespace), cmp.Compare(a.key.Name, b.key.Name))
	}), true
}

// hostConflictMessage says who owns the host and why, for the Ready condition of a
// Storefront that does not.
func hostConflictMessage(host string, owner, self hostClaim) string {
	why := "it was created first"
	switch {
	case owner.serving:
		why = "its Ingress serves it"
	case owner.created.Equal(&self.created):
		why = "it was created in the same second and its namespace/name sorts first"
	}
	return fmt.Sprintf("Host %s is claimed by Storefront %s (%s): this Storefront gets no Ingress until that one is deleted or names another host",
		host, owner.key, why)
}

// claimHost reports whether s.sf may have its Ingress: it names no host, or owns the
// one it names. When another Storefront owns the host, s.hostConflict says which, for
// the Ready condition (reportHostConflict).
func (r *StorefrontReconciler) claimHost(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	host := ingressHost(sf)
	if host == "" {
		return true, nil
	}
	var list shopv1alpha1.StorefrontList
	if err := r.List(ctx, &list, client.MatchingFields{indexIngressHost: host}); err != nil {
		return false, fmt.Errorf("listing the Storefronts that claim host %s: %w", host, err)
	}
	self := client.ObjectKeyFromObject(sf)
	claims := make([]hostClaim, 0, len(list.Items)+1)
	var mine hostClaim
	found := false
	for i := range list.Items {
		other := &list.Items[i]
		if client.ObjectKeyFromObject(other) == self {
			other = sf // the one this reconcile read
		}
		c, err := r.hostClaimOf(ctx, other, host)
		if err != nil {
			return false, err
		}
		claims = append(claims, c)
		if c.key == self {
			mine, found = c, true
		}
	}
	if !found {
		// The index has not caught up with the Storefront's latest host yet.
		c, err := r.hostClaimOf(ctx, sf, host)
		if err != nil {
			return false, err
		}
		claims, mine = append(claims, c), c
	}
	owner, _ := hostOwner(claims)
	if owner.key == self {
		return true, nil
	}
	s.hostConflict = hostConflictMessage(host, owner, mine)
	log.FromContext(ctx).V(1).Info("Host claimed by another Storefront", "host", host, "owner", owner.key.String())
	return false, nil
}

// hostClaimOf is sf's claim on host, with whether its Ingress serves it now.
func (r *StorefrontReconciler) hostClaimOf(ctx context.Context, sf *shopv1alpha1.Storefront, host string) (hostClaim, error) {
	c := hostClaim{
		key:     client.ObjectKeyFromObject(sf),
		created: sf.CreationTimestamp,
		leaving: !sf.DeletionTimestamp.IsZero() || sf.Spec.Paused,
	}
	ing := &networkingv1.Ingress{}
	err := r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleShop)}, ing)
	switch {
	case apierrors.IsNotFound(err):
		return c, nil
	case err != nil:
		return c, fmt.Errorf("reading the Ingress of Storefront %s: %w", klog.KObj(sf), err)
	}
	c.serving = metav1.IsControlledBy(ing, sf) && slices.Contains(ingressHosts(ing), host)
	return c, nil
}

// ingressHosts are the hosts of an Ingress's rules.
func ingressHosts(ing *networkingv1.Ingress) []string {
	var hosts []string
	for _, rule := range ing.Spec.Rules {
		if rule.Host != "" {
			hosts = append(hosts, rule.Host)
		}
	}
	return hosts
}

// reportHostConflict makes Ready say who owns the host when another Storefront does:
// False, HostConflict, phase Degraded (a human must choose another host or remove the
// other shop), and no URL, since the host serves the other shop. A paused Storefront or
// a failed reconcile keeps what the status phase said.
func reportHostConflict(s *scope) {
	sf := s.sf
	if s.hostConflict == "" || s.err != nil || sf.Spec.Paused {
		return
	}
	meta.SetStatusCondition(&sf.Status.Conditions, newCondition(shopv1alpha1.ConditionReady,
		metav1.ConditionFalse, shopv1alpha1.ReasonHostConflict, s.hostConflict, sf.Generation))
	sf.Status.Phase = shopv1alpha1.PhaseDegraded
	sf.Status.URL = ""
}

// watchHostClaims indexes Storefronts by host and adds the watches that resolve a
// conflict without waiting for a resync: a Storefront created, deleted, paused or
// resumed, or changing its host, and an Ingress created, deleted or changing its hosts,
// reconcile every Storefront that claims one of the hosts concerned.
func (r *StorefrontReconciler) watchHostClaims(mgr ctrl.Manager, b *builder.Builder) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &shopv1alpha1.Storefront{}, indexIngressHost,
		func(o client.Object) []string {
			if host := ingressHost(o.(*shopv1alpha1.Storefront)); host != "" {
				return []string{host}
			}
			return nil
		}); err != nil {
		return fmt.Errorf("indexing storefronts by host: %w", err)
	}
	b.Watches(&shopv1alpha1.Storefront{},
		handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.storefrontsClaiming(ctx, ingressHost(o.(*shopv1alpha1.Storefront)))
		}),
		builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			before, after := e.ObjectOld.(*shopv1alpha1.Storefront), e.ObjectNew.(*shopv1alpha1.Storefront)
			return ingressHost(before) != ingressHost(after) || before.Spec.Paused != after.Spec.Paused ||
				before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero()
		}}))
	b.Watches(&networkingv1.Ingress{},
		handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.storefrontsClaiming(ctx, ingressHosts(o.(*networkingv1.Ingress))...)
		}),
		builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			return !slices.Equal(ingressHosts(e.ObjectOld.(*networkingv1.Ingress)), ingressHosts(e.ObjectNew.(*networkingv1.Ingress)))
		}}))
	return nil
}

// storefrontsClaiming maps hosts to the Storefronts that name them.
func (r *StorefrontReconciler) storefrontsClaiming(ctx context.Context, hosts ...string) []reconcile.Request {
	var reqs []reconcile.Request
	for _, host := range hosts {
		if host == "" {
			continue
		}
		var list shopv1alpha1.StorefrontList
		if err := r.List(ctx, &list, client.MatchingFields{indexIngressHost: host}); err != nil {
			log.FromContext(ctx).Error(err, "Listing the Storefronts that claim a host", "host", host)
			continue
		}
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
