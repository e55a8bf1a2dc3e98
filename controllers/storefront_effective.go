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
	"slices"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The operator's AWS flags are defaults, and a default a running Storefront already
// uses must not move under it: a new --aws-region would make ACK refuse every existing
// object (runtime reconciler.go regionDrifted), new subnets or security groups would
// modify every cluster and cache at once. So each Storefront resolves them once, into
// status.effective, and its ACK objects are built from there. Its own spec fields
// (subnetIDs, securityGroupIDs) still win, and an edit of them applies to it.

// usesACK reports whether the Storefront has a store ACK provisions.
func usesACK(sf *shopv1alpha1.Storefront) bool {
	return sf.Spec.Database.Aurora != nil || (sf.Spec.Cache != nil && sf.Spec.Cache.Serverless != nil)
}

// resolveEffective is the operator's defaults as they are now.
func resolveEffective(o Options) *shopv1alpha1.EffectiveStatus {
	return &shopv1alpha1.EffectiveStatus{
		Region:                o.AWSRegion,
		DBSubnetIDs:           slices.Clone(o.DBSubnetIDs),
		DBSecurityGroupIDs:    slices.Clone(o.DBSecurityGroupIDs),
		CacheSubnetIDs:        slices.Clone(o.CacheSubnetIDs),
		CacheSecurityGroupIDs: slices.Clone(o.CacheSecurityGroupIDs),
	}
}

// settleEffective resolves status.effective the first time a Storefront needs ACK.
// Afterwards only the DB subnets are taken from the flags again while none were
// resolved: nothing was created without them (reconcileAurora refuses), so filling
// them in edits nothing that exists.
func settleEffective(sf *shopv1alpha1.Storefront, o Options) {
	if !usesACK(sf) {
		return
	}
	if sf.Status.Effective == nil {
		sf.Status.Effective = resolveEffective(o)
		return
	}
	if len(sf.Status.Effective.DBSubnetIDs) == 0 && len(o.DBSubnetIDs) > 0 {
		sf.Status.Effective.DBSubnetIDs = slices.Clone(o.DBSubnetIDs)
	}
}

// effective is the Storefront's resolved defaults; empty when none were resolved (the
// Storefront uses no ACK store, or is built by a unit test without a reconcile).
func effective(sf *shopv1alpha1.Storefront) shopv1alpha1.EffectiveStatus {
	if sf.Status.Effective == nil {
		return shopv1alpha1.EffectiveStatus{}
	}
	return *sf.Status.Effective
}
