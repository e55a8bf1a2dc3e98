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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cpuDeployment runs one pod of script with a CPU request of 100m, and an HPA that
// keeps it between 1 and 2 replicas at 50% of the request.
func cpuDeployment(t *testing.T, ns, name, script string) {
	t.Helper()
	labels := map[string]string{"app": name}
	create(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](2),
					Containers: []corev1.Container{{
						Name: "main", Image: "busybox", Command: []string{"sh", "-c", script},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
					}},
				},
			},
		},
	}, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 2,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)},
			}}},
		},
	})
}

func hpaCondition(g *WithT, ns, name string, t autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	g.Expect(cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, hpa)).To(Succeed())
	for _, c := range hpa.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}

// The real HPA controller scales on the pods' real CPU use, read from the resource
// metrics API the local cluster serves from the process table: a pod that keeps a good
// part of a core busy (well over its 50m target) gets a second replica, with the
// controller's own reason (pkg/controller/podautoscaler/horizontal.go); an idle one
// stays at its minimum, with its metrics found.
func TestTheHPAScalesOnThePodsRealCPUUse(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	// Busy for a few hundred milliseconds in every second, in the shell itself (a
	// program such as timeout would take its child out of the pod's process group).
	cpuDeployment(t, ns, "busy", `while :; do i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 0.5; done`)
	cpuDeployment(t, ns, "idle", "exec sleep 1000")

	g.Eventually(func() string {
		return hpaCondition(g, ns, "idle", autoscalingv2.ScalingActive).Reason
	}, 2*time.Minute, time.Second).Should(Equal("ValidMetricFound"))
	g.Expect(hpaCondition(g, ns, "idle", autoscalingv2.ScalingActive).Message).To(Equal(
		"the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"))

	g.Eventually(func() int32 {
		d := &appsv1.Deployment{}
		g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "busy"}, d)).To(Succeed())
		return *d.Spec.Replicas
	}, 2*time.Minute, time.Second).Should(Equal(int32(2)), "the busy pod is scaled out")
	evs := &eventsv1.EventList{}
	g.Expect(cluster.Client.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
	var notes []string
	for _, e := range evs.Items {
		if e.Regarding.Kind == "HorizontalPodAutoscaler" && e.Regarding.Name == "busy" {
			notes = append(notes, e.Reason+": "+e.Note)
		}
	}
	g.Expect(notes).To(ContainElement("SuccessfulRescale: New size: 2; reason: cpu resource utilization (percentage of request) above target"))

	// The same numbers through the API server, as `kubectl top pods` reads them.
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("metrics.k8s.io/v1beta1")
	list.SetKind("PodMetricsList")
	g.Expect(cluster.Client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{"app": "busy"})).To(Succeed())
	g.Expect(list.Items).NotTo(BeEmpty())
	containers, _, _ := unstructured.NestedSlice(list.Items[0].Object, "containers")
	g.Expect(containers).To(HaveLen(1))
	usage, _, _ := unstructured.NestedStringMap(containers[0].(map[string]any), "usage")
	cpu := resource.MustParse(usage["cpu"])
	g.Expect(cpu.MilliValue()).To(BeNumerically(">", 50), fmt.Sprintf("cpu %s, over the 50m target", usage["cpu"]))

	d := &appsv1.Deployment{}
	g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "idle"}, d)).To(Succeed())
	g.Expect(*d.Spec.Replicas).To(Equal(int32(1)), "the idle pod stays at its minimum")
}
