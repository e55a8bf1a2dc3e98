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
	"testing"

	. "github.com/onsi/gomega"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestSettleEffective(t *testing.T) {
	flags := Options{AWSRegion: "eu-west-1", DBSubnetIDs: []string{"subnet-new"}, DBSecurityGroupIDs: []string{"sg-new"}}
	cases := map[string]struct {
		sf   *shopv1alpha1.Storefront
		want *shopv1alpha1.EffectiveStatus
	}{
		"an external store resolves nothing": {newStorefront("ns"), nil},
		"first use resolves the flags": {newStorefront("ns", withAurora()),
			&shopv1alpha1.EffectiveStatus{Region: "eu-west-1", DBSubnetIDs: []string{"subnet-new"}, DBSecurityGroupIDs: []string{"sg-new"}}},
		"resolved values stay": {withEffective(newStorefront("ns", withAurora()), &shopv1alpha1.EffectiveStatus{Region: "eu-central-1", DBSubnetIDs: []string{"subnet-old"}}),
			&shopv1alpha1.EffectiveStatus{Region: "eu-central-1", DBSubnetIDs: []string{"subnet-old"}}},
		"DB subnets resolved empty are taken up (nothing was created without them)": {
			withEffective(newStorefront("ns", withAurora()), &shopv1alpha1.EffectiveStatus{Region: "eu-central-1"}),
			&shopv1alpha1.EffectiveStatus{Region: "eu-central-1", DBSubnetIDs: []string{"subnet-new"}}},
		"an empty region stays empty (ACK's default region is in use)": {
			withEffective(newStorefront("ns", withServerlessCache()), &shopv1alpha1.EffectiveStatus{DBSubnetIDs: []string{"s"}}),
			&shopv1alpha1.EffectiveStatus{DBSubnetIDs: []string{"s"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			settleEffective(tc.sf, flags)
			g.Expect(tc.sf.Status.Effective).To(Equal(tc.want))
		})
	}
}

func withEffective(sf *shopv1alpha1.Storefront, e *shopv1alpha1.EffectiveStatus) *shopv1alpha1.Storefront {
	sf.Status.Effective = e
	return sf
}

// Issue 16, item 5: the operator's AWS flags are resolved once per Storefront. An
// operator restarted with another region, other subnets and security groups writes
// nothing to the existing Storefront's ACK objects (a new region would make ACK refuse
// them: runtime reconciler.go regionDrifted); a new Storefront gets the new flags; an
// edit of the Storefront's own subnetIDs still applies to it.
func TestFlagsAreNotAFleetWideEdit(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	first := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Effective).To(Equal(&shopv1alpha1.EffectiveStatus{Region: "eu-central-1",
		DBSubnetIDs: []string{"subnet-0aaa", "subnet-0bbb"}, DBSecurityGroupIDs: []string{"sg-0db1", "sg-0db2"},
		CacheSubnetIDs: []string{"subnet-0ccc", "subnet-0ddd"}, CacheSecurityGroupIDs: []string{"sg-0cache"}}))
	first.stop()

	moved := ackOptions
	moved.AWSRegion = "us-east-1"
	moved.DBSubnetIDs = []string{"subnet-0eee", "subnet-0fff"}
	moved.DBSecurityGroupIDs = []string{"sg-0new"}
	moved.CacheSubnetIDs = []string{"subnet-0ggg"}
	moved.CacheSecurityGroupIDs = []string{"sg-0newcache"}
	op := startOperator(t, ns, moved)
	reconcileAtRest(g, op, ns)
	for _, o := range []struct {
		name string
		u    func() map[string]string
	}{{"DBCluster", func() map[string]string { return ackObject(g, ns, gvkDBCluster, "acme-database").GetAnnotations() }},
		{"ServerlessCache", func() map[string]string { return ackObject(g, ns, gvkServerlessCache, "acme-cache").GetAnnotations() }}} {
		g.Expect(o.u()).To(HaveKeyWithValue(ackAnnotationRegion, "eu-central-1"), o.name)
	}
	g.Expect(specSubset(ackObject(g, ns, gvkDBSubnetGroup, "acme-database"), []string{"subnetIDs"})["subnetIDs"]).To(ConsistOf("subnet-0aaa", "subnet-0bbb"))
	g.Expect(getStorefront(g, ns).Status.Phase).To(Equal(shopv1alpha1.PhaseReady))

	// The Storefront's own field still applies.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database.Aurora.SubnetIDs = []string{"subnet-0own1", "subnet-0own2"}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(specSubset(ackObject(g, ns, gvkDBSubnetGroup, "acme-database"), []string{"subnetIDs"})["subnetIDs"]).To(ConsistOf("subnet-0own1", "subnet-0own2"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	// A new Storefront takes the new flags.
	beta := newStorefront(ns, withAurora())
	beta.Name = "beta"
	createStorefront(t, beta)
	g.Eventually(func(g Gomega) {
		u := ackObject(g, ns, gvkDBSubnetGroup, "beta-database")
		g.Expect(u.GetAnnotations()).To(HaveKeyWithValue(ackAnnotationRegion, "us-east-1"))
		g.Expect(specSubset(u, []string{"subnetIDs"})["subnetIDs"]).To(ConsistOf("subnet-0eee", "subnet-0fff"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}
