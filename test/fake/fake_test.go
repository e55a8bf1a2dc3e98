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
	"fmt"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

// The stand-ins run against a real kube-apiserver here: it validates every status they
// write as it would the real controllers' (Job status transitions are checked since
// Kubernetes 1.31).
var (
	cfg       *rest.Config
	k8sClient client.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	env, err := testenv.NewEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cfg, err = testenv.StartEnvironment(env); err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fake-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// waitFor polls cond until it holds or a minute has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}

func podTemplate(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func TestStandInsAgainstTheAPIServer(t *testing.T) {
	ns := namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fake.Start(ctx, cfg, fake.Options{Namespaces: []string{ns}, HPAReplicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()
	s.SetJobOutcome("bad:1", fake.JobFails)
	s.SetJobOutcome("slow:1", fake.JobRuns)

	jobs := map[string]string{"good": "good:1", "bad": "bad:1", "slow": "slow:1"}
	for name, image := range jobs {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](2), Template: podTemplate(image)}}
		if err := k8sClient.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	jobCondition := func(name string, ct batchv1.JobConditionType) bool {
		job := &batchv1.Job{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
			return false
		}
		for _, c := range job.Status.Conditions {
			if c.Type == ct && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return ct == "" && job.Status.Active == 1
	}
	waitFor(t, "the good Job to complete", func() bool { return jobCondition("good", batchv1.JobComplete) })
	waitFor(t, "the bad Job to fail", func() bool { return jobCondition("bad", batchv1.JobFailed) })
	waitFor(t, "the slow Job to run", func() bool { return jobCondition("slow", "") })
	s.SetJobOutcome("slow:1", fake.JobSucceeds)
	waitFor(t, "the slow Job to complete once released", func() bool { return jobCondition("slow", batchv1.JobComplete) })

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: podTemplate("web:1")}}
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
	live := &appsv1.Deployment{}
	waitFor(t, "the HPA to scale the Deployment to 3 and the rollout to report it", func() bool {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
			return false
		}
		return ptr.Deref(live.Spec.Replicas, 0) == 3 && live.Status.ObservedGeneration == live.Generation && live.Status.AvailableReplicas == 3
	})
	waitFor(t, "the HPA status", func() bool {
		got := &autoscalingv2.HorizontalPodAutoscaler{}
		return k8sClient.Get(ctx, client.ObjectKeyFromObject(hpa), got) == nil && got.Status.CurrentReplicas == 3 && got.Status.DesiredReplicas == 3
	})

	s.SetRolloutsStuck(true)
	waitFor(t, "the new template to be written", func() bool {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
			return false
		}
		live.Spec.Template.Spec.Containers[0].Image = "web:2"
		return k8sClient.Update(ctx, live) == nil
	})
	waitFor(t, "the rollout to exceed its deadline", func() bool {
		got := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(d), got); err != nil || got.Status.ObservedGeneration != got.Generation {
			return false
		}
		for _, c := range got.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Reason == fake.DeploymentReasonProgressDeadlineExceeded {
				return got.Status.AvailableReplicas == 3
			}
		}
		return false
	})
}

func TestMutationCounter(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	counter := fake.NewMutationCounter()
	c, err := counter.NewClient(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: ns}, Data: map[string]string{"a": "1"}}
	steps := []func() error{
		func() error { return c.Create(ctx, cm) },
		func() error { return c.Get(ctx, client.ObjectKeyFromObject(cm), cm) },
		func() error { cm.Data["a"] = "2"; return c.Update(ctx, cm) },
		func() error {
			return c.Patch(ctx, cm, client.RawPatch("application/merge-patch+json", []byte(`{"data":{"b":"3"}}`)))
		},
		func() error { return c.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns)) },
		func() error {
			u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "c", "namespace": ns}, "data": map[string]any{"c": "4"}}}
			return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("test"))
		},
		func() error { return c.Delete(ctx, cm) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := map[string]int{"create ConfigMap": 1, "get ConfigMap": 1, "update ConfigMap": 1, "patch ConfigMap": 1, "list ConfigMap": 1, "apply ConfigMap": 1, "delete ConfigMap": 1}
	for k, v := range want {
		if got := counter.Counts()[k]; got != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, got, v, counter.Counts())
		}
	}
	if got := counter.Mutations(); got != 5 {
		t.Errorf("mutations %d, want 5 (%s)", got, counter.MutationSummary())
	}
	counter.Reset()
	if counter.Mutations() != 0 {
		t.Error("Reset left counts")
	}
}
