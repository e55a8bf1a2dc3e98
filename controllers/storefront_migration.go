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
	"fmt"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// Settings of migration Jobs.
const (
	// migrationBackoffLimit: a migration that fails three times needs a human.
	migrationBackoffLimit = 2
	// migrationDeadlineSeconds bounds a migration run, retries included.
	migrationDeadlineSeconds = 600
	// migrationTTLSeconds keeps a finished Job (and its pod's logs) for a day; after
	// that status.failedImage alone prevents a re-run of a failed image.
	migrationTTLSeconds = 24 * 60 * 60
	// migrateContainerName is the migration Job's container.
	migrateContainerName = "migrate"
	// componentMigration labels migration Jobs and their pods.
	componentMigration = "migration"
)

// jobState is what a migration Job's conditions say.
type jobState int

const (
	jobRunning jobState = iota
	jobComplete
	jobFailed
)

// migrationJobState reads the Job's Complete and Failed conditions, as the Job API
// documents them; SuccessCriteriaMet and FailureTarget precede them while pods terminate.
func migrationJobState(job *batchv1.Job) (jobState, *batchv1.JobCondition) {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return jobComplete, c
		case batchv1.JobFailed:
			return jobFailed, c
		}
	}
	return jobRunning, nil
}

// reconcileMigration runs the migration Job of spec.image and sets SchemaMigrated. The
// Deployment moves to an image only once status.migratedImage says its migration
// succeeded; a failed image is recorded in status.failedImage and not retried until the
// image or the retry annotation changes.
func (r *StorefrontReconciler) reconcileMigration(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	image := sf.Spec.Image
	name := migrationJobName(sf, image)

	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(sf.Namespace), client.MatchingLabels(selectorLabels(sf, componentMigration))); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing migration jobs: %w", err)
	}
	var current *batchv1.Job
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if !metav1.IsControlledBy(job, sf) {
			continue
		}
		if job.Name == name {
			current = job
			continue
		}
		// A Job of another image that still runs was superseded by a new spec.image.
		if state, _ := migrationJobState(job); state == jobRunning && job.DeletionTimestamp.IsZero() {
			if err := r.deleteJob(ctx, job, "Deleting superseded migration Job"); err != nil {
				return ctrl.Result{}, err
			}
		}
	}

	if sf.Status.MigratedImage == image {
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, true, shopv1alpha1.ReasonMigrationSucceeded,
			fmt.Sprintf("The migrations of %s succeeded", image))
		return ctrl.Result{}, nil
	}
	if !s.storesReady() || s.configChecksum == "" {
		reason, msg := shopv1alpha1.ReasonWaitingForDatabase, "Waiting for the database before migrating"
		switch {
		case s.database != nil && !s.storesReady():
			reason, msg = shopv1alpha1.ReasonWaitingForCache, "Waiting for the cache before migrating"
		case s.database != nil:
			// The Secrets were just created and are not in the cache yet; their
			// events bring us back.
			msg = "Waiting for the connection Secret before migrating"
		}
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, reason, msg)
		return ctrl.Result{}, nil
	}

	retry := sf.Annotations[shopv1alpha1.AnnotationRetryMigration]
	if sf.Status.FailedImage == image {
		if retry == sf.Status.FailedRetry {
			s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationFailed, failedMessage(sf, name))
			return ctrl.Result{}, nil
		}
		if current != nil {
			// The failed Job holds the name; its Delete event brings us back.
			if current.DeletionTimestamp.IsZero() {
				if err := r.deleteJob(ctx, current, "Deleting failed migration Job to retry it"); err != nil {
					return ctrl.Result{}, err
				}
			}
			s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationRunning,
				fmt.Sprintf("Retrying the migrations of %s", image))
			return ctrl.Result{}, nil
		}
		sf.Status.FailedImage, sf.Status.FailedRetry = "", ""
	}

	if current == nil {
		if _, err := r.applyObject(ctx, desiredServiceAccount(sf, r.Scheme)); err != nil {
			return ctrl.Result{}, err
		}
		job, err := desiredMigrationJob(sf, r.Scheme, image, retry, s.database, s.cache)
		if err != nil {
			return ctrl.Result{}, err
		}
		withOTLPEnv(&job.Spec.Template.Spec, sf, r.Options.OTLP)
		withTraceContext(ctx, &job.Spec.Template.Spec)
		log.FromContext(ctx).Info("Creating migration Job", "job", klog.KObj(job), "image", image)
		if err := r.Create(ctx, job, client.FieldOwner(fieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, fmt.Errorf("creating job %s: %w", job.Name, err)
		}
		// AlreadyExists: the cache has not seen our Job yet; its events bring us back.
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationRunning,
			fmt.Sprintf("Migration Job %s of %s started", name, image))
		return ctrl.Result{}, nil
	}
	if !current.DeletionTimestamp.IsZero() {
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationRunning,
			fmt.Sprintf("Waiting for the previous migration Job %s to be deleted", name))
		return ctrl.Result{}, nil
	}

	switch state, cond := migrationJobState(current); state {
	case jobComplete:
		log.FromContext(ctx).Info("Migration succeeded", "job", klog.KObj(current), "image", image)
		sf.Status.MigratedImage = image
		sf.Status.FailedImage, sf.Status.FailedRetry = "", ""
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, true, shopv1alpha1.ReasonMigrationSucceeded,
			fmt.Sprintf("The migrations of %s succeeded", image))
	case jobFailed:
		msg := fmt.Sprintf("Job %s failed: %s: %s", current.Name, cond.Reason, cond.Message)
		if cause := r.podFailure(ctx, current); cause != "" {
			msg += "; the migration said: " + cause
		}
		log.FromContext(ctx).Info("Migration failed", "job", klog.KObj(current), "image", image, "reason", cond.Reason)
		sf.Status.FailedImage = image
		sf.Status.FailedRetry = current.Annotations[shopv1alpha1.AnnotationRetryMigration]
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationFailed, msg)
	default:
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonMigrationRunning,
			fmt.Sprintf("Migration Job %s of %s is running", name, image))
	}
	return ctrl.Result{}, nil
}

// failedMessage keeps the message recorded when the migration failed: the Job may be
// gone (TTL) and cannot be asked again.
func failedMessage(sf *shopv1alpha1.Storefront, jobName string) string {
	for _, c := range sf.Status.Conditions {
		if c.Type == shopv1alpha1.ConditionSchemaMigrated && c.Reason == shopv1alpha1.ReasonMigrationFailed && c.Message != "" {
			return c.Message
		}
	}
	return fmt.Sprintf("Job %s failed", jobName)
}

// deleteJob deletes a migration Job and, in the background, its pods.
func (r *StorefrontReconciler) deleteJob(ctx context.Context, job *batchv1.Job, why string) error {
	log.FromContext(ctx).Info(why, "job", klog.KObj(job))
	if err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", job.Name, err)
	}
	return nil
}

// podFailure is the termination message of the Job's last failed pod (the shop prints one
// line on stderr; FallbackToLogsOnError makes it the message), or "". It reads past the
// cache, once per failure, so the operator needs no pod informer.
func (r *StorefrontReconciler) podFailure(ctx context.Context, job *batchv1.Job) string {
	if r.APIReader == nil {
		return ""
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		log.FromContext(ctx).Error(err, "Listing the pods of a failed migration Job", "job", klog.KObj(job))
		return ""
	}
	type termination struct {
		at  metav1.Time
		msg string
	}
	var terms []termination
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; cs.Name == migrateContainerName && t != nil && t.ExitCode != 0 {
				terms = append(terms, termination{t.FinishedAt, strings.TrimSpace(t.Message)})
			}
		}
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].at.Before(&terms[j].at) })
	for i := len(terms) - 1; i >= 0; i-- {
		if terms[i].msg != "" {
			return lastLine(terms[i].msg)
		}
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// desiredMigrationJob is the Job that runs `/shop migrate --seed=<seed>` with the image.
func desiredMigrationJob(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, image, retry string, db, cache *storeEndpoint) (*batchv1.Job, error) {
	seed := sf.Spec.Catalog.Seed
	if seed == "" {
		seed = shopv1alpha1.CatalogSeedNone
	}
	container := corev1.Container{
		Name:    migrateContainerName,
		Image:   image,
		Command: []string{shopBinary},
		Args:    []string{"migrate", "--seed=" + string(seed)},
		Env: append(shopEnv(sf, cache != nil),
			secretEnv(envAdminEmail, objectName(sf, roleApp), keyAdminEmail, false),
			secretEnv(envAdminPassword, objectName(sf, roleApp), keyAdminPassword, false)),
		Resources:                shopResources(sf),
		SecurityContext:          containerSecurityContext(),
		VolumeMounts:             shopVolumeMounts(db),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	meta := objectMeta(sf, migrationJobName(sf, image), componentMigration)
	meta.Annotations = map[string]string{annotationImage: image}
	if retry != "" {
		meta.Annotations[shopv1alpha1.AnnotationRetryMigration] = retry
	}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](migrationBackoffLimit),
			ActiveDeadlineSeconds:   ptr.To[int64](migrationDeadlineSeconds),
			TTLSecondsAfterFinished: ptr.To[int32](migrationTTLSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(sf, componentMigration)},
				Spec:       shopPodSpec(sf, corev1.RestartPolicyNever, container, db),
			},
		},
	}
	if err := controllerutil.SetControllerReference(sf, job, scheme); err != nil {
		return nil, err
	}
	return job, nil
}
