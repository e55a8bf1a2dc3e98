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

package localcluster

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/storefront-operator/storefront/test/fake"
)

// Field managers of the stand-ins' writes, named after the real controllers'.
const (
	jobManager        = "job-controller"
	deploymentManager = "deployment-controller"
	hpaManager        = "horizontal-pod-autoscaler"
	ingressManager    = "ingress-controller"
)

var jobGVK = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}

// jobRunner plays the Job controller with real pods: one pod at a time runs the Job's
// container; exit 0 completes the Job, a failure starts another pod after a backoff
// that doubles, until backoffLimit+1 pods failed; activeDeadlineSeconds stops it. The
// statuses are the status-only stand-in's (fake.JobRunning, JobComplete, JobFailed),
// so both report alike; the counts are the real pods'. Finished Jobs are deleted after
// ttlSecondsAfterFinished, with their pods.
type jobRunner struct {
	client   client.Client
	k        *kubelet
	recorder recorder.EventRecorder
	// backoff is the delay before the second pod; the real controller's is 10s.
	backoff time.Duration
}

func (r *jobRunner) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	job := &batchv1.Job{}
	if err := r.client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			// The garbage collector would delete the pods of a deleted Job.
			r.stopPods(ownedByName(r.k, "Job", req.Namespace, req.Name))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	pods := r.k.OwnedBy(job.UID)
	if !job.DeletionTimestamp.IsZero() {
		r.stopPods(pods)
		return ctrl.Result{}, nil
	}
	now := time.Now()
	if fake.JobFinished(job) {
		return r.expire(ctx, job, now)
	}
	var active *pod
	failed, succeeded := int32(0), false
	var lastFailure time.Time
	for _, p := range pods {
		done, code, at := p.Finished()
		switch {
		case !done && !p.Terminating():
			active = p
		case done && code == 0:
			succeeded = true
		case done:
			failed++
			if at.After(lastFailure) {
				lastFailure = at
			}
		}
	}
	if ptr.Deref(job.Spec.Suspend, false) {
		r.stopPods(pods)
		return ctrl.Result{}, nil
	}
	backoffLimit := ptr.Deref(job.Spec.BackoffLimit, 6)
	switch {
	case succeeded:
		st := fake.JobComplete(job, now)
		st.Failed = failed
		// The Event first: it must not come later than what the operator sees.
		r.recorder.Eventf(job, nil, corev1.EventTypeNormal, "Completed", "Complete", "Job completed")
		return ctrl.Result{}, r.writeStatus(ctx, job, st)
	case failed > backoffLimit:
		r.recorder.Eventf(job, nil, corev1.EventTypeWarning, fake.JobReasonBackoffLimitExceeded, "Fail", fake.JobMessageBackoffLimit)
		return ctrl.Result{}, r.writeStatus(ctx, job, fake.JobFailed(job, now, fake.JobReasonBackoffLimitExceeded, fake.JobMessageBackoffLimit))
	case job.Status.StartTime != nil && job.Spec.ActiveDeadlineSeconds != nil &&
		!now.Before(job.Status.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second)):
		r.stopPods(pods)
		r.recorder.Eventf(job, nil, corev1.EventTypeWarning, fake.JobReasonDeadlineExceeded, "Fail", fake.JobMessageDeadlineExceeded)
		return ctrl.Result{}, r.writeStatus(ctx, job, fake.JobFailed(job, now, fake.JobReasonDeadlineExceeded, fake.JobMessageDeadlineExceeded))
	}
	// (A write that conflicts is retried on the next event, which may record the
	// finishing Event once more; the Events API counts repeats as a series.)

	var result ctrl.Result
	if active == nil {
		if failed > 0 {
			delay := r.backoff << min(failed-1, 6)
			if wait := lastFailure.Add(delay).Sub(now); wait > 0 {
				st := fake.JobRunning(job, now)
				st.Active, st.Ready, st.Failed = 0, ptr.To[int32](0), failed
				return ctrl.Result{RequeueAfter: wait}, r.writeStatus(ctx, job, st)
			}
		}
		p, err := r.k.RunPod(ctx, podRequest{Owner: job, OwnerGVK: jobGVK, Name: job.Name + "-" + randomSuffix(), Template: job.Spec.Template})
		if err != nil {
			r.recorder.Eventf(job, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
			return ctrl.Result{}, err
		}
		r.recorder.Eventf(job, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %s", p.Name())
		active = p
	}
	st := fake.JobRunning(job, now)
	st.Failed = failed
	if !active.Ready() {
		st.Ready = ptr.To[int32](0)
	}
	if d := job.Spec.ActiveDeadlineSeconds; d != nil {
		result.RequeueAfter = st.StartTime.Add(time.Duration(*d)*time.Second).Sub(now) + time.Millisecond
	}
	return result, r.writeStatus(ctx, job, st)
}

// expire deletes a finished Job once its ttlSecondsAfterFinished has passed, as the TTL
// controller does (its pods go with it).
func (r *jobRunner) expire(ctx context.Context, job *batchv1.Job, now time.Time) (ctrl.Result, error) {
	ttl := job.Spec.TTLSecondsAfterFinished
	if ttl == nil {
		return ctrl.Result{}, nil
	}
	var finished time.Time
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			finished = c.LastTransitionTime.Time
		}
	}
	if wait := finished.Add(time.Duration(*ttl) * time.Second).Sub(now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	err := r.client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &job.UID})
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

func (r *jobRunner) stopPods(pods []*pod) {
	for _, p := range pods {
		p.Terminate(podGrace(p), true)
	}
}

func (r *jobRunner) writeStatus(ctx context.Context, job *batchv1.Job, want batchv1.JobStatus) error {
	return updateStatus(ctx, r.client, job, &job.Status, want, jobManager)
}

// podGrace is the pod's terminationGracePeriodSeconds (30 by default).
func podGrace(p *pod) time.Duration {
	return time.Duration(ptr.Deref(p.obj.Spec.TerminationGracePeriodSeconds, 30)) * time.Second
}

// ownedByName returns the pods whose controller is the object of kind, namespace and name.
func ownedByName(k *kubelet, kind, namespace, name string) []*pod {
	return k.Pods(func(p *pod) bool {
		o := p.Owner()
		return o != nil && o.Kind == kind && o.Name == name && p.Namespace() == namespace
	})
}

// updateStatus writes want into *current and updates obj's status subresource, unless
// nothing changed; a conflict or a vanished object retries through the next event.
func updateStatus[T any](ctx context.Context, c client.Client, obj client.Object, current *T, want T, manager string) error {
	if equality.Semantic.DeepEqual(*current, want) {
		return nil
	}
	*current = want
	err := c.Status().Update(ctx, obj, client.FieldOwner(manager))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating the status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}
