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

package localcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/shoptest"
	"github.com/storefront-operator/storefront/test/testenv"
)

// deploymentCondition is the Deployment's condition of type t.
func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

// rolledOut holds once the real Deployment controller reports the current generation
// rolled out: every replica updated and available, the new ReplicaSet "successfully
// progressed" (pkg/controller/deployment/progress.go, sync.go).
func rolledOut(ns, name string) func() error {
	return func() error {
		d := &appsv1.Deployment{}
		if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			return err
		}
		want := *d.Spec.Replicas
		st := d.Status
		progressing := deploymentCondition(d, appsv1.DeploymentProgressing)
		if st.ObservedGeneration != d.Generation || st.UpdatedReplicas != want || st.AvailableReplicas != want || st.Replicas != want ||
			progressing.Reason != "NewReplicaSetAvailable" {
			return fmt.Errorf("not rolled out: generation %d, status %+v", d.Generation, st)
		}
		return nil
	}
}

// ownedReplicaSets are the Deployment's ReplicaSets, by name.
func ownedReplicaSets(g *WithT, ns string, d *appsv1.Deployment) map[string]appsv1.ReplicaSet {
	list := &appsv1.ReplicaSetList{}
	g.Expect(cluster.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	out := map[string]appsv1.ReplicaSet{}
	for _, rs := range list.Items {
		if metav1.IsControlledBy(&rs, d) {
			out[rs.Name] = rs
		}
	}
	return out
}

// A rollout as the real Deployment controller does it, observed through its status:
// a second ReplicaSet of the new template takes over (maxSurge 1, maxUnavailable 0)
// while the old one is scaled to 0 and kept, and no request through the load balancer
// fails meanwhile - the old pods keep serving through SHUTDOWN_DELAY until their
// deregistration has reached the load balancer.
func TestADeploymentRolloutIsObservedThroughTheRealControllersStatus(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	dbURL := shoptest.MigratedDatabase(t, true)
	d, svc, ing, secret := shopObjects(ns, dbURL, 2)
	create(t, secret, d, svc, ing)
	g.Eventually(rolledOut(ns, "shop"), 2*time.Minute, 100*time.Millisecond).Should(Succeed())
	serving(g, "http://"+shopHost(ns)+"/api/v1/categories")

	g.Expect(cluster.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	available := deploymentCondition(d, appsv1.DeploymentAvailable)
	g.Expect(available.Status).To(Equal(corev1.ConditionTrue))
	g.Expect(available.Reason).To(Equal("MinimumReplicasAvailable"))
	g.Expect(available.Message).To(Equal("Deployment has minimum availability."))
	first := ownedReplicaSets(g, ns, d)
	g.Expect(first).To(HaveLen(1))
	var firstRS string
	for name := range first {
		firstRS = name
	}
	g.Expect(deploymentCondition(d, appsv1.DeploymentProgressing).Message).To(Equal(fmt.Sprintf("ReplicaSet %q has successfully progressed.", firstRS)))

	// Each pod has an address of the pod network and ports of its own here.
	pods := podsOf(t, ns, map[string]string{"app": "shop"})
	g.Expect(pods).To(HaveLen(2))
	for _, p := range pods {
		g.Expect(p.Status.PodIP).To(HavePrefix("10.244."))
		g.Expect(p.Status.Conditions).To(ContainElement(And(
			HaveField("Type", corev1.PodScheduled), HaveField("Status", corev1.ConditionTrue))), "bound by the real scheduler")
	}
	g.Expect(pods[0].Status.PodIP).NotTo(Equal(pods[1].Status.PodIP))
	g.Expect(pods[0].Annotations[localcluster.AnnotationHostPorts]).NotTo(Equal(pods[1].Annotations[localcluster.AnnotationHostPorts]))

	var failures, requests atomic.Int64
	var lastFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := get("http://"+shopHost(ns)+"/api/v1/products?per_page=2", "")
				requests.Add(1)
				if err != nil || code != http.StatusOK {
					failures.Add(1)
					lastFailure.Store(fmt.Sprintf("%d %v %s", code, err, body))
				}
			}
		}()
	}
	g.Expect(cluster.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	d.Spec.Template.Annotations = map[string]string{"rollout": "2"}
	g.Expect(cluster.Client.Update(ctx, d)).To(Succeed())
	g.Eventually(rolledOut(ns, "shop"), 2*time.Minute, 100*time.Millisecond).Should(Succeed())
	oldPods := map[string]bool{pods[0].Name: true, pods[1].Name: true}
	g.Eventually(func() []string {
		var names []string
		for _, p := range podsOf(t, ns, map[string]string{"app": "shop"}) {
			names = append(names, p.Name)
		}
		return names
	}, time.Minute, 100*time.Millisecond).Should(And(HaveLen(2), Not(ContainElement(BeKeyOf(oldPods)))), "the old pods are gone")
	close(stop)
	wg.Wait()
	g.Expect(requests.Load()).To(BeNumerically(">", 20))
	g.Expect(failures.Load()).To(BeZero(), "last failure: %v", lastFailure.Load())

	g.Expect(cluster.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	g.Expect(d.Status.ObservedGeneration).To(Equal(int64(2)))
	g.Expect(d.Annotations["deployment.kubernetes.io/revision"]).To(Equal("2"))
	rss := ownedReplicaSets(g, ns, d)
	g.Expect(rss).To(HaveLen(2), "the old ReplicaSet stays, scaled to 0 (revisionHistoryLimit)")
	g.Expect(*rss[firstRS].Spec.Replicas).To(BeZero())
	for name, rs := range rss {
		if name != firstRS {
			g.Expect(*rs.Spec.Replicas).To(Equal(int32(2)))
			g.Expect(deploymentCondition(d, appsv1.DeploymentProgressing).Message).To(Equal(fmt.Sprintf("ReplicaSet %q has successfully progressed.", name)))
		}
	}
}

// Deleting a Storefront: the operator deletes the objects it made, and the real
// garbage collector follows the owner references from its Deployment to the
// ReplicaSets and from them to the pods, which the operator never touches.
func TestDeletingAStorefrontCascadesThroughTheGarbageCollector(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	sample, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "shop_v1alpha1_storefront.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	manifest := strings.Replace(string(sample), "namespace: shops", "namespace: "+ns, 1)
	manifest = strings.Replace(manifest, "deletionPolicy: Snapshot", "deletionPolicy: Delete", 1)
	path := filepath.Join(t.TempDir(), "storefront.yaml")
	g.Expect(os.WriteFile(path, []byte(manifest), 0o644)).To(Succeed())
	objs, err := cluster.Apply(ctx, path)
	g.Expect(err).NotTo(HaveOccurred())
	key := types.NamespacedName{Namespace: ns, Name: objs[0].GetName()}
	g.Eventually(func() bool {
		sf := &shopv1alpha1.Storefront{}
		g.Expect(cluster.Client.Get(ctx, key, sf)).To(Succeed())
		return localcluster.ReadyNow(sf)
	}, 3*time.Minute, 200*time.Millisecond).Should(BeTrue())

	rss := &appsv1.ReplicaSetList{}
	g.Expect(cluster.Client.List(ctx, rss, client.InNamespace(ns))).To(Succeed())
	g.Expect(rss.Items).NotTo(BeEmpty())
	for _, rs := range rss.Items {
		g.Expect(metav1.GetControllerOf(&rs).Kind).To(Equal("Deployment"))
	}
	owners := map[string]int{}
	for _, p := range podsOf(t, ns, nil) {
		if o := metav1.GetControllerOf(&p); o != nil {
			owners[o.Kind]++
		}
	}
	g.Expect(owners).To(HaveKeyWithValue("ReplicaSet", BeNumerically(">=", 2)))
	// The first-login Job (the application role) and the migration Job.
	g.Expect(owners).To(HaveKeyWithValue("Job", 2))

	g.Expect(cluster.Client.Delete(ctx, &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name}})).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(cluster.Client.Get(ctx, key, &shopv1alpha1.Storefront{}))
	}, 2*time.Minute, 200*time.Millisecond).Should(BeTrue(), "the Storefront goes")
	g.Eventually(func() ([]string, error) {
		list := &appsv1.ReplicaSetList{}
		err := cluster.Client.List(ctx, list, client.InNamespace(ns))
		var names []string
		for _, rs := range list.Items {
			names = append(names, rs.Name)
		}
		return names, err
	}, time.Minute, 200*time.Millisecond).Should(BeEmpty(), "the garbage collector deletes the ReplicaSets")
	g.Eventually(func() []string {
		var names []string
		for _, p := range podsOf(t, ns, nil) {
			names = append(names, p.Name)
		}
		return names
	}, time.Minute, 200*time.Millisecond).Should(BeEmpty(), "and their pods, and the migration Job's")
}
