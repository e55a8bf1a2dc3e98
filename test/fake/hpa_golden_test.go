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

package fake_test

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
)

// An HPA never scales up a target at 0 replicas. kubernetes@v1.37.2
// pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler: AbleToScale is set
// True/SucceededGetScale once the scale is read; with currentReplicas == 0,
// shouldComputeMetricsForZeroReplicas disables scaling unless the HPA itself scaled to
// zero (a ScaledToZero=True condition, HPAScaleToZero): desiredReplicas 0, no rescale,
// ScalingActive False/ScalingDisabled "scaling is disabled since the replica count of
// the target is zero"; setStatus writes currentReplicas 0, desiredReplicas 0, keeps
// lastScaleTime (none: it never scaled) and observedGeneration (HPAGeneration, beta and
// on in 1.37). Once something else scales the target above 0, the HPA takes it back
// to its bounds ("Current number of replicas below Spec.MinReplicas").
func TestGoldenHPALeavesATargetAtZeroAlone(t *testing.T) {
	ns := namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fake.Start(ctx, cfg, fake.Options{Namespaces: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: podTemplate("web:1")}}
	d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	if err := k8sClient.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 5,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}}
	if err := k8sClient.Create(ctx, hpa); err != nil {
		t.Fatal(err)
	}
	got := &autoscalingv2.HorizontalPodAutoscaler{}
	waitFor(t, "the HPA's first status", func() bool {
		return k8sClient.Get(ctx, client.ObjectKeyFromObject(hpa), got) == nil && got.Status.ObservedGeneration != nil
	})
	live := &appsv1.Deployment{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
		t.Fatal(err)
	}
	if r := ptr.Deref(live.Spec.Replicas, -1); r != 0 {
		t.Errorf("the HPA scaled a Deployment at 0 replicas to %d; it must leave it at 0", r)
	}
	st := got.Status
	if *st.ObservedGeneration != 1 || st.CurrentReplicas != 0 || st.DesiredReplicas != 0 || st.LastScaleTime != nil {
		t.Errorf("status observedGeneration %d, currentReplicas %d, desiredReplicas %d, lastScaleTime %v; want 1, 0, 0, none",
			*st.ObservedGeneration, st.CurrentReplicas, st.DesiredReplicas, st.LastScaleTime)
	}
	type cond struct {
		Type            autoscalingv2.HorizontalPodAutoscalerConditionType
		Status          corev1.ConditionStatus
		Reason, Message string
	}
	var conds []cond
	for _, c := range st.Conditions {
		conds = append(conds, cond{c.Type, c.Status, c.Reason, c.Message})
	}
	want := []cond{
		{"AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale"},
		{"ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"},
	}
	if len(conds) != len(want) {
		t.Fatalf("conditions %+v, want %+v", conds, want)
	}
	for i := range want {
		if conds[i] != want[i] {
			t.Errorf("condition %d: %+v, want %+v", i, conds[i], want[i])
		}
	}

	// Scaled to 1 from outside (a wake): below minReplicas, the HPA takes it to 2.
	if err := k8sClient.SubResource("scale").Update(ctx, live, client.WithSubResourceBody(&autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 1}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the HPA to scale the woken Deployment to its minimum", func() bool {
		return k8sClient.Get(ctx, client.ObjectKeyFromObject(d), live) == nil && ptr.Deref(live.Spec.Replicas, 0) == 2
	})
	waitFor(t, "ScalingActive True again", func() bool {
		if k8sClient.Get(ctx, client.ObjectKeyFromObject(hpa), got) != nil {
			return false
		}
		for _, c := range got.Status.Conditions {
			if c.Type == autoscalingv2.ScalingActive {
				return c.Status == corev1.ConditionTrue && got.Status.DesiredReplicas == 2
			}
		}
		return false
	})
}
