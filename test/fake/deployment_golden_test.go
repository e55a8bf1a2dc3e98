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
	"regexp"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
)

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

// counts is replicas/updated/ready/available/unavailable.
func counts(d *appsv1.Deployment) [5]int32 {
	s := d.Status
	return [5]int32{s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, s.UnavailableReplicas}
}

// firstStatusOf polls until the Deployment's status is of its current generation and
// returns that first status, with the time it took since since.
func firstStatusOf(t *testing.T, key client.ObjectKey, since time.Time) (*appsv1.Deployment, time.Duration) {
	t.Helper()
	d := &appsv1.Deployment{}
	waitFor(t, "a status of the new generation", func() bool {
		return k8sClient.Get(context.Background(), key, d) == nil && d.Status.ObservedGeneration == d.Generation
	})
	return d, time.Since(since)
}

// A scale is not a rollout, and the Deployment controller reports either only after it
// ran. kubernetes@v1.37.2 pkg/controller/deployment/deployment_controller.go
// syncDeployment (isScalingEvent: dc.sync), sync.go sync and calculateStatus (a scale
// writes observedGeneration, the counts of the ReplicaSets and Available from
// availableReplicas >= replicas - maxUnavailable; it leaves Progressing alone),
// getNewReplicaSet (a new template: Progressing NewReplicaSetCreated "Created new
// replica set", the new ReplicaSet at min(replicas, replicas + maxSurge - old pods)),
// progress.go syncRolloutStatus (then ReplicaSetUpdated "is progressing", then
// NewReplicaSetAvailable "has successfully progressed"), util/deployment_util.go
// SetDeploymentCondition (same status and reason: the condition is kept as it was),
// ResolveFenceposts (maxSurge rounded up, maxUnavailable down).
func TestGoldenDeploymentScaleIsNotARollout(t *testing.T) {
	const delay = time.Second
	ns := namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fake.Start(ctx, cfg, deploymentOptions(ns, delay))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: podTemplate("web:1")}}
	d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	if err := k8sClient.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(d)
	live := &appsv1.Deployment{}
	waitFor(t, "the first rollout", func() bool {
		return k8sClient.Get(ctx, key, live) == nil && live.Status.ObservedGeneration == 1 &&
			deploymentCondition(live, appsv1.DeploymentProgressing).Reason == "NewReplicaSetAvailable"
	})
	progressing := deploymentCondition(live, appsv1.DeploymentProgressing)
	if !regexp.MustCompile(`^ReplicaSet "web-[0-9a-z]+" has successfully progressed\.$`).MatchString(progressing.Message) {
		t.Errorf("Progressing message %q", progressing.Message)
	}

	// The HPA's way: the scale subresource.
	start := time.Now()
	if err := k8sClient.SubResource("scale").Update(ctx, live, client.WithSubResourceBody(&autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 6}})); err != nil {
		t.Fatal(err)
	}
	first, took := firstStatusOf(t, key, start)
	if took < delay {
		t.Errorf("the scale was reported after %v, before the controller's delay of %v", took, delay)
	}
	if first.Generation != 2 {
		t.Fatalf("generation %d, want 2: a scale is a spec change", first.Generation)
	}
	if got := deploymentCondition(first, appsv1.DeploymentProgressing); !equality.Semantic.DeepEqual(got, progressing) {
		t.Errorf("Progressing after a scale %+v, want it untouched: %+v", got, progressing)
	}
	// The ReplicaSet is scaled, its status not yet: the counts are the old pods', the
	// unavailable ones the difference to the ReplicaSets' spec.
	if got, want := counts(first), [5]int32{2, 2, 2, 2, 4}; got != want {
		t.Errorf("counts replicas/updated/ready/available/unavailable after the scale %v, want %v", got, want)
	}
	if got := deploymentCondition(first, appsv1.DeploymentAvailable); got.Status != corev1.ConditionFalse ||
		got.Reason != "MinimumReplicasUnavailable" || got.Message != "Deployment does not have minimum availability." {
		t.Errorf("Available %+v, want False MinimumReplicasUnavailable: 2 available < 6 - maxUnavailable 1", got)
	}
	seen := statesUntil(t, key, [5]int32{6, 6, 6, 6, 0})
	if want := [][5]int32{{2, 2, 2, 2, 4}, {6, 6, 2, 2, 4}, {6, 6, 6, 6, 0}}; !equality.Semantic.DeepEqual(seen, want) {
		t.Errorf("counts seen during the scale %v, want %v (pods created, then ready)", seen, want)
	}
	if err := k8sClient.Get(ctx, key, live); err != nil {
		t.Fatal(err)
	}
	if got := deploymentCondition(live, appsv1.DeploymentProgressing); !equality.Semantic.DeepEqual(got, progressing) {
		t.Errorf("Progressing once scaled %+v, want it untouched: %+v", got, progressing)
	}
	if got := deploymentCondition(live, appsv1.DeploymentAvailable); got.Status != corev1.ConditionTrue || got.Reason != "MinimumReplicasAvailable" {
		t.Errorf("Available once scaled %+v", got)
	}

	// A new template is a rollout.
	start = time.Now()
	waitFor(t, "the new template written", func() bool {
		if err := k8sClient.Get(ctx, key, live); err != nil {
			return false
		}
		live.Spec.Template.Spec.Containers[0].Image = "web:2"
		return k8sClient.Update(ctx, live) == nil
	})
	first, took = firstStatusOf(t, key, start)
	if took < delay {
		t.Errorf("the rollout was reported after %v, before the controller's delay of %v", took, delay)
	}
	created := deploymentCondition(first, appsv1.DeploymentProgressing)
	if created.Status != corev1.ConditionTrue || created.Reason != "NewReplicaSetCreated" ||
		!regexp.MustCompile(`^Created new replica set "web-[0-9a-z]+"$`).MatchString(created.Message) {
		t.Errorf("Progressing at the start of a rollout %+v, want True NewReplicaSetCreated", created)
	}
	if !created.LastTransitionTime.Equal(&progressing.LastTransitionTime) {
		t.Errorf("Progressing stayed True: lastTransitionTime %v, want %v", created.LastTransitionTime, progressing.LastTransitionTime)
	}
	// maxSurge is 25% of 6, rounded up: 2 new pods; maxUnavailable 1 keeps the 6 old ones.
	seen = statesUntil(t, key, [5]int32{6, 6, 6, 6, 0})
	if want := [][5]int32{{6, 0, 6, 6, 2}, {8, 2, 6, 6, 2}, {6, 6, 6, 6, 0}}; !equality.Semantic.DeepEqual(seen, want) {
		t.Errorf("counts seen during the rollout %v, want %v", seen, want)
	}
	if err := k8sClient.Get(ctx, key, live); err != nil {
		t.Fatal(err)
	}
	done := deploymentCondition(live, appsv1.DeploymentProgressing)
	if done.Reason != "NewReplicaSetAvailable" || done.Message == progressing.Message ||
		done.Message != `ReplicaSet "`+created.Message[len(`Created new replica set "`):len(created.Message)-1]+`" has successfully progressed.` {
		t.Errorf("Progressing after the rollout %+v, want NewReplicaSetAvailable for the new ReplicaSet", done)
	}
}

// statesUntil records the distinct counts of the Deployment's current generation until
// they are final.
func statesUntil(t *testing.T, key client.ObjectKey, final [5]int32) [][5]int32 {
	t.Helper()
	var seen [][5]int32
	d := &appsv1.Deployment{}
	waitFor(t, "the counts reach their final values", func() bool {
		if k8sClient.Get(context.Background(), key, d) != nil || d.Status.ObservedGeneration != d.Generation {
			return false
		}
		if c := counts(d); len(seen) == 0 || seen[len(seen)-1] != c {
			seen = append(seen, c)
		}
		return counts(d) == final
	})
	return seen
}
