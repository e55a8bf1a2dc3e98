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
	"reflect"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestDeletionWindowBackoff(t *testing.T) {
	cases := map[string]struct {
		first time.Duration
		n     int32
		want  time.Duration
	}{
		"the first wait":                    {0, 0, 30 * time.Second},
		"doubles":                           {0, 2, 2 * time.Minute},
		"capped at 30 minutes":              {0, 6, 30 * time.Minute},
		"still capped far later":            {0, 40, 30 * time.Minute},
		"a shorter first wait, as in tests": {time.Second, 3, 8 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := deletionWindowBackoff(tc.first, tc.n); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestKeepProvisioningTag(t *testing.T) {
	obj := func(tag string, terminal string) *unstructured.Unstructured {
		u := newACKObject(gvkDBCluster)
		tags := []any{map[string]any{"key": tagKeyName, "value": "acme"}}
		if tag != "" {
			tags = append(tags, map[string]any{"key": provisioningTagKey, "value": tag})
		}
		u.Object["spec"] = map[string]any{"tags": tags}
		if terminal != "" {
			u.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": ackConditionTerminal, "status": terminal}}}
		}
		return u
	}
	cases := map[string]struct {
		desired, live *unstructured.Unstructured
		want          map[string]string
	}{
		"a Terminal object takes the new count":      {obj("2", ""), obj("1", "True"), map[string]string{tagKeyName: "acme", provisioningTagKey: "2"}},
		"a Terminal object without the tag gets it":  {obj("1", ""), obj("", "True"), map[string]string{tagKeyName: "acme", provisioningTagKey: "1"}},
		"a healthy object keeps its value":           {obj("2", ""), obj("1", ""), map[string]string{tagKeyName: "acme", provisioningTagKey: "1"}},
		"a healthy object without the tag gets none": {obj("2", ""), obj("", ""), map[string]string{tagKeyName: "acme"}},
		"Terminal False is healthy":                  {obj("2", ""), obj("1", "False"), map[string]string{tagKeyName: "acme", provisioningTagKey: "1"}},
		"no re-drive yet: nothing to keep":           {obj("", ""), obj("", ""), map[string]string{tagKeyName: "acme"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			keepProvisioningTag(tc.desired, tc.live)
			if got := tagsOf(tc.desired); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tags %v, want %v", got, tc.want)
			}
		})
	}
}

// tagsOf reads an ACK object's spec.tags as key → value.
func tagsOf(u *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	tags, _, _ := unstructured.NestedSlice(u.Object, "spec", "tags")
	for _, t := range tags {
		m, _ := t.(map[string]any)
		k, _ := m["key"].(string)
		v, _ := m["value"].(string)
		out[k] = v
	}
	return out
}

// Issue 16, item 3: a terminal error on create whose cause is fixed outside the object
// (AWS refused the subnets; the subnet is then fixed in the VPC) stays: ACK reconciles a
// Terminal object only after a spec change (runtime reconciler.go,
// GenerationChangedPredicate; TestGoldenTerminalClearsOnlyAfterASpecChange). The
// retry-provisioning annotation moves a tag on the ACK objects, ACK syncs again, and
// the Storefront becomes Ready; the value handled is recorded in the status.
func TestRetryProvisioningReDrivesATerminal(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	id := awsIdentifier(ns, "acme")
	standIns.AWS().Refuse(fake.DBSubnetGroupGVK.Kind, fake.OpCreate, id,
		fake.NewAPIError("InvalidSubnet", "Some input subnets in :[subnet-0aaa] are invalid."))
	createStorefront(t, newStorefront(ns, withAurora()))

	want := "DBSubnetGroup acme-database: ACK: api error InvalidSubnet: Some input subnets in :[subnet-0aaa] are invalid."
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningFailed))
		g.Expect(c.Message).To(Equal(want))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// Fixed in AWS: nothing changes by itself.
	standIns.AWS().Allow(fake.DBSubnetGroupGVK.Kind, fake.OpCreate, id)
	g.Consistently(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady).Message).To(Equal(want))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	g.Expect(tagsOf(ackObject(g, ns, gvkDBSubnetGroup, "acme-database"))).NotTo(HaveKey(provisioningTagKey), "no re-drive tag before a re-drive")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryProvisioning: "after-subnet-fix"}
	})
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Provisioning).NotTo(BeNil())
	g.Expect(sf.Status.Provisioning.HandledRetry).To(Equal("after-subnet-fix"))
	g.Expect(sf.Status.Provisioning.Redrives).To(Equal(int32(1)))
	g.Expect(tagsOf(ackObject(g, ns, gvkDBSubnetGroup, "acme-database"))).To(HaveKeyWithValue(provisioningTagKey, "1"))
	g.Expect(tagsOf(ackObject(g, ns, gvkDBCluster, "acme-database"))).To(HaveKeyWithValue(provisioningTagKey, "1"))

	// The same value again, or its removal, re-drives nothing.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Labels = map[string]string{"poke": "1"} })
	g.Consistently(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Provisioning.Redrives).To(Equal(int32(1)))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
}

// Issue 16, item 3: a serverless cache re-created while AWS still deletes the one of the
// same identifier (here its ACK object was deleted by hand: it went as soon as AWS
// accepted the delete, and the operator applies it again) is refused with ACK.Terminal
// "Resource already exists" and the deleting resource's status; the operator says so
// (ProvisioningRetrying) and re-drives ACK with back-off until AWS is done, then the
// cache is created again and the Storefront is Ready.
func TestRecreateInsideTheDeletionWindow(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 3 * time.Second})
	opts := ackOptions
	opts.DeletionWindowRetry = 500 * time.Millisecond
	startOperator(t, ns, opts)
	g := NewWithT(t)
	readyShop(t, ns, withServerlessCache())
	g.Expect(k8sClient.Delete(context.Background(), ackObject(g, ns, gvkServerlessCache, "acme-cache"))).To(Succeed())

	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionCacheReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningRetrying))
		g.Expect(c.Message).To(ContainSubstring("ServerlessCache acme-cache: AWS is still deleting a resource of the same identifier (ACK: Resource already exists); " +
			"the operator asks ACK again with back-off, up to 30m0s apart (next at "))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Provisioning).NotTo(BeNil())
	g.Expect(sf.Status.Provisioning.Redrives).To(BeNumerically(">=", 1))
	g.Expect(sf.Status.Provisioning.WindowRedrives).To(BeZero(), "reset once out of the window")
	g.Expect(tagsOf(ackObject(g, ns, gvkServerlessCache, "acme-cache"))).To(HaveKey(provisioningTagKey))
}

// Issue 16, item 3: the re-drive reaches every ACK object that can go Terminal, the
// ElastiCache users and user group included: a user ElastiCache refused, the cause fixed
// in AWS, is created once retry-provisioning moves the tag on it. The default user,
// active before the re-drive, keeps its tags; the group and the cache, created after it,
// carry the count.
func TestRetryProvisioningReachesTheCacheUsers(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	refused := awsIdentifier(ns, "acme") + "-v1"
	standIns.AWS().Refuse("User", fake.OpCreate, refused, fake.NewAPIError("InvalidParameterValue", "Access string is not valid."))
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	want := "User acme-cache-user-v1: ACK: api error InvalidParameterValue: Access string is not valid."
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionCacheReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningFailed))
		g.Expect(c.Message).To(Equal(want))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	standIns.AWS().Allow("User", fake.OpCreate, refused)
	g.Consistently(func(g Gomega) {
		g.Expect(condition(getStorefront(g, ns), shopv1alpha1.ConditionCacheReady).Message).To(Equal(want))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed(), "a Terminal does not clear by itself")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryProvisioning: "after-the-access-string-fix"}
	})
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	for _, o := range []struct {
		gvk  schema.GroupVersionKind
		name string
	}{{gvkCacheUser, "acme-cache-user-v1"}, {gvkCacheUserGroup, "acme-cache"}, {gvkServerlessCache, "acme-cache"}} {
		g.Expect(tagsOf(ackObject(g, ns, o.gvk, o.name))).To(HaveKeyWithValue(provisioningTagKey, "1"), o.gvk.Kind+" "+o.name)
	}
	g.Expect(tagsOf(ackObject(g, ns, gvkCacheUser, "acme-cache-default"))).NotTo(HaveKey(provisioningTagKey), "a healthy User is not re-driven")
}

// A re-drive moves the tag only on the ACK objects ACK holds Terminal. A moved tag is a
// spec change that makes ACK update the resource (tags synced, a DBCluster Synced False
// until its next read: rds db_cluster/custom_update.go customUpdate): a healthy
// database must not be disturbed by a re-drive meant for a refused cache. Its spec.tags
// and generation stay; the cache's tag moves and ACK creates it.
func TestRetryProvisioningLeavesHealthyObjectsAlone(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	id := awsIdentifier(ns, "acme")
	standIns.AWS().Refuse(fake.ServerlessCacheGVK.Kind, fake.OpCreate, id,
		fake.NewAPIError("InvalidParameterValue", "The subnet does not belong to the VPC."))
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))

	want := "ServerlessCache acme-cache: ACK: api error InvalidParameterValue: The subnet does not belong to the VPC."
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		for _, gvk := range []schema.GroupVersionKind{gvkDBCluster, gvkDBInstance} {
			synced, _ := ackConditionOf(ackObject(g, ns, gvk, "acme-database"), ackConditionSynced)
			g.Expect(synced.Status).To(Equal("True"), gvk.Kind+" synced")
		}
		c := condition(sf, shopv1alpha1.ConditionCacheReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningFailed))
		g.Expect(c.Message).To(Equal(want))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	healthy := map[schema.GroupVersionKind]string{gvkDBSubnetGroup: "acme-database", gvkDBCluster: "acme-database", gvkDBInstance: "acme-database",
		gvkCacheUser: "acme-cache-default", gvkCacheUserGroup: "acme-cache"}
	before := map[schema.GroupVersionKind]*unstructured.Unstructured{}
	for gvk, name := range healthy {
		before[gvk] = ackObject(g, ns, gvk, name)
	}

	standIns.AWS().Allow(fake.ServerlessCacheGVK.Kind, fake.OpCreate, id)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRetryProvisioning: "after-the-subnet-fix"}
	})
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Provisioning.Redrives).To(Equal(int32(1)))
	g.Expect(tagsOf(ackObject(g, ns, gvkServerlessCache, "acme-cache"))).To(HaveKeyWithValue(provisioningTagKey, "1"))
	cache, ok := standIns.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: ackOptions.AWSRegion, Kind: fake.ServerlessCacheGVK.Kind, ID: id})
	g.Expect(ok).To(BeTrue(), "ACK created the cache on the re-drive")
	g.Expect(cache.Tags).To(HaveKeyWithValue(provisioningTagKey, "1"))
	g.Consistently(func(g Gomega) {
		for gvk, name := range healthy {
			now := ackObject(g, ns, gvk, name)
			g.Expect(tagsOf(now)).To(Equal(tagsOf(before[gvk])), gvk.Kind+" "+name+" spec.tags")
			g.Expect(now.GetGeneration()).To(Equal(before[gvk].GetGeneration()), gvk.Kind+" "+name+" generation")
		}
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
}
