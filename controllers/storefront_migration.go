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
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// Settings of migration Jobs.
const (
	// migrationBackoffLimit is spec.migration.backoffLimit's default (the API's, for
	// objects built without the API server): a migration that fails three times needs a
	// human.
	migrationBackoffLimit int32 = 2
	// migrationDeadlineSeconds is spec.migration.activeDeadlineSeconds's default.
	migrationDeadlineSeconds int64 = 600
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

// migrationJob is what planMigration needs of one of the Storefront's migration Jobs.
type migrationJob struct {
	name string
	// image is the Job's image annotation: a Job is spec.image's only when both its
	// name and this say so.
	image    string
	state    jobState
	deleting bool
	// retry is the retry annotation the Job was created with.
	retry string
	// failure is the Failed condition's reason and message.
	failure string
	// waiting is why the Job's pod cannot start ("ErrImagePull: ..."), when it cannot.
	waiting string
}

// migrationInput is what decides the next migration step: the spec, the status so far
// and the live Jobs.
type migrationInput struct {
	image, jobName, retry                   string
	migratedImage, failedImage, failedRetry string
	jobs                                    []migrationJob
}

// migrationPlan is the next step: at most one Job to create (spec.image's), finished
// Jobs to delete, the new status fields and SchemaMigrated.
type migrationPlan struct {
	create                                  bool
	delete                                  []string
	migratedImage, failedImage, failedRetry string
	status                                  bool
	reason, message                         string
	// failed names the Job that has just failed, whose pod's termination message the
	// reconciler adds to the message.
	failed string
	// running says spec.image's Job runs: the reconciler looks at it again shortly, since
	// a pod that cannot start changes nothing in the Job's status.
	running bool
}

// planMigration is the migration state machine, a pure function of in (the table in
// TestPlanMigration walks it):
//   - a Job that runs is never deleted: NO TRANSACTION steps could leave invalid
//     indexes, and a killed pod could keep the advisory lock; spec.image's Job waits
//     until every other image's Job has ended;
//   - status.failedImage clears when spec.image moves away, and the failed Job of an
//     image the spec no longer names is deleted, so that coming back retries it;
//   - a failed image is retried only when the retry annotation changes;
//   - a Job holding spec.image's name for another image (its image annotation differs)
//     is waited for, then deleted, never taken for spec.image's.
func planMigration(in migrationInput) migrationPlan {
	p := migrationPlan{migratedImage: in.migratedImage, failedImage: in.failedImage, failedRetry: in.failedRetry}
	if p.failedImage != "" && p.failedImage != in.image {
		p.failedImage, p.failedRetry = "", ""
	}
	var own, blocking *migrationJob
	for i := range in.jobs {
		j := &in.jobs[i]
		switch {
		case j.name == in.jobName && j.image == in.image:
			own = j
		case j.deleting:
			if j.name == in.jobName {
				blocking = j
			}
		case j.state == jobRunning:
			blocking = j
		case j.name == in.jobName || (j.state == jobFailed && j.image != in.image):
			// Finished: another image's Job under our name, or the failure of an image
			// the spec moved away from.
			p.delete = append(p.delete, j.name)
			if j.name == in.jobName {
				blocking = j
			}
		}
	}
	if in.migratedImage == in.image {
		p.status, p.reason, p.message = true, shopv1alpha1.ReasonMigrationSucceeded, fmt.Sprintf("The migrations of %s succeeded", in.image)
		return p
	}
	waiting := func(msg string) migrationPlan {
		p.reason, p.message = shopv1alpha1.ReasonMigrationRunning, msg
		return p
	}
	if blocking != nil {
		if blocking.state == jobRunning && !blocking.deleting {
			return waiting(fmt.Sprintf("Migration Job %s of %s is still running; the migrations of %s start when it ends (a running migration is never cut short)",
				blocking.name, blocking.image, in.image))
		}
		return waiting(fmt.Sprintf("Waiting for migration Job %s of %s to be deleted before migrating %s", blocking.name, blocking.image, in.image))
	}
	if p.failedImage == in.image {
		if in.retry == p.failedRetry {
			p.reason = shopv1alpha1.ReasonMigrationFailed
			return p // the reconciler keeps the message recorded at the failure
		}
		if own != nil && own.retry != in.retry {
			// The failed Job holds the name; its Delete event brings us back.
			if !own.deleting {
				p.delete = append(p.delete, own.name)
			}
			return waiting(fmt.Sprintf("Retrying the migrations of %s", in.image))
		}
		p.failedImage, p.failedRetry = "", ""
	}
	if own == nil {
		p.create, p.running = true, true
		return waiting(fmt.Sprintf("Migration Job %s of %s started", in.jobName, in.image))
	}
	if own.deleting {
		return waiting(fmt.Sprintf("Waiting for the previous migration Job %s to be deleted", own.name))
	}
	switch own.state {
	case jobComplete:
		p.migratedImage, p.failedImage, p.failedRetry = in.image, "", ""
		p.status, p.reason, p.message = true, shopv1alpha1.ReasonMigrationSucceeded, fmt.Sprintf("The migrations of %s succeeded", in.image)
	case jobFailed:
		p.failedImage, p.failedRetry, p.failed = in.image, own.retry, own.name
		p.reason, p.message = shopv1alpha1.ReasonMigrationFailed, fmt.Sprintf("Job %s failed: %s", own.name, own.failure)
	default:
		p.running = true
		if own.waiting != "" {
			p.reason, p.message = shopv1alpha1.ReasonMigrationPodNotStarting,
				fmt.Sprintf("The pod of migration Job %s cannot start: %s", own.name, own.waiting)
			return p
		}
		return waiting(fmt.Sprintf("Migration Job %s of %s is running", own.name, in.image))
	}
	return p
}

// hasJob reports whether jobs hold image's Job of that name.
func hasJob(jobs []migrationJob, name, image string) bool {
	for _, j := range jobs {
		if j.name == name && j.image == image {
			return true
		}
	}
	return false
}

// migrationRecheck is how soon a running migration is looked at again: a pod that cannot
// pull its image or find its Secret changes nothing in the Job's status, so no watch
// event would tell.
const migrationRecheck = 5 * time.Second

// reconcileMigration runs the migration Job of spec.image (planMigration decides) and
// sets SchemaMigrated. The Deployment moves to an image only once status.migratedImage
// says its migration succeeded.
func (r *StorefrontReconciler) reconcileMigration(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	image := sf.Spec.Image
	name := migrationJobName(sf, image)

	list := &batchv1.JobList{}
	if err := r.List(ctx, list, client.InNamespace(sf.Namespace), client.MatchingLabels(selectorLabels(sf, componentMigration))); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing migration jobs: %w", err)
	}
	// On a database the served image never migrated (storefront_dbidentity.go), nothing
	// counts as migrated.
	migrated := sf.Status.MigratedImage
	if s.dbSwitch.pending {
		migrated = ""
	}
	in := migrationInput{image: image, jobName: name, retry: sf.Annotations[shopv1alpha1.AnnotationRetryMigration],
		migratedImage: migrated, failedImage: sf.Status.FailedImage, failedRetry: sf.Status.FailedRetry}
	jobs := map[string]*batchv1.Job{}
	for i := range list.Items {
		job := &list.Items[i]
		if !metav1.IsControlledBy(job, sf) {
			continue
		}
		jobs[job.Name] = job
		state, cond := migrationJobState(job)
		j := migrationJob{name: job.Name, image: job.Annotations[annotationImage], state: state,
			deleting: !job.DeletionTimestamp.IsZero(), retry: job.Annotations[shopv1alpha1.AnnotationRetryMigration]}
		if cond != nil && state == jobFailed {
			j.failure = cond.Reason + ": " + cond.Message
		}
		if s.dbSwitch.pending && job.Annotations[annotationDatabase] != s.databaseID {
			// It ran on the previous database: not this database's Job of the image.
			j.image += " on the previous database"
		}
		if state == jobRunning && job.Name == name && j.image == image {
			j.waiting = r.podWaiting(ctx, job)
		}
		in.jobs = append(in.jobs, j)
	}

	if migrated != image && (!s.storesReady() || s.configChecksum == "" || !s.migrationMayStart() || !s.network.jobsIsolated) {
		reason, msg := shopv1alpha1.ReasonWaitingForDatabase, "Waiting for the database before migrating"
		switch {
		case !s.migrationMayStart():
			msg = "Waiting for ACK to apply the new master password before migrating"
		case s.database != nil && !s.storesReady():
			reason, msg = shopv1alpha1.ReasonWaitingForCache, "Waiting for the cache before migrating"
		case s.database != nil && !s.network.jobsIsolated:
			msg = "Waiting for NetworkPolicy " + objectName(sf, roleMigrate) + " before migrating"
		case s.database != nil:
			// The Secrets were just created and are not in the cache yet; their
			// events bring us back.
			msg = "Waiting for the connection Secret before migrating"
		}
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, reason, msg)
		return ctrl.Result{}, nil
	}

	if s.databaseMaintenance != "" && migrated != image && !hasJob(in.jobs, name, image) {
		// A migration takes locks and rewrites tables: not while RDS modifies or
		// upgrades the database. The shop keeps serving the image it has.
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonWaitingForDatabase,
			fmt.Sprintf("The migrations of %s wait for the database's maintenance to end: %s", image, s.databaseMaintenance))
		return ctrl.Result{}, nil
	}

	if hibernating(sf) && migrated != image && !hasJob(in.jobs, name, image) {
		// A Job would resume the paused database and nothing would serve the new image
		// before the shop wakes: the migration waits for the wake.
		s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, shopv1alpha1.ReasonHibernated,
			fmt.Sprintf("The migrations of %s wait until the shop wakes (spec.hibernate: false)", image))
		return ctrl.Result{}, nil
	}

	p := planMigration(in)
	if s.dbSwitch.pending {
		if p.migratedImage != image {
			// The pods keep serving what they serve, on the previous database.
			p.migratedImage = sf.Status.MigratedImage
		}
		p.message = switchMessage(s, p.message)
	}
	for _, n := range p.delete {
		if err := r.deleteJob(ctx, jobs[n], "Deleting finished migration Job"); err != nil {
			return ctrl.Result{}, err
		}
	}
	if p.create {
		// A restored cluster's data is the snapshot's: nothing to snapshot before its
		// migration (storefront_restore.go).
		step := snapshotStep{proceed: true}
		if !restoreSwitching(sf) {
			var err error
			if step, err = r.snapshotBeforeMigration(ctx, s, image, in.retry); err != nil {
				return ctrl.Result{}, err
			}
		}
		if !step.proceed {
			// The Job waits for the snapshot (storefront_snapshot.go).
			sf.Status.FailedImage, sf.Status.FailedRetry = p.failedImage, p.failedRetry
			s.setCondition(shopv1alpha1.ConditionSchemaMigrated, false, step.reason, step.message)
			if step.requeue {
				return ctrl.Result{RequeueAfter: snapshotRecheck}, nil
			}
			return ctrl.Result{}, nil
		}
		if step.note != "" {
			p.message += "; " + step.note
		}
		if err := r.createMigrationJob(ctx, s, image, in.retry); err != nil {
			return ctrl.Result{}, err
		}
		log.FromContext(ctx).V(1).Info("Migration Job created", "job", name)
	}
	if p.create || hasJob(in.jobs, name, image) {
		snapshotUsed(sf, image)
	}
	if note := noSnapshotNote(sf); note != "" && p.running && sf.Status.MigratedImage != "" {
		p.message += "; " + note
	}
	switch {
	case p.failed != "":
		log.FromContext(ctx).Info("Migration failed", "job", klog.KRef(sf.Namespace, p.failed), "image", image)
		if cause := r.podFailure(ctx, jobs[p.failed]); cause != "" {
			p.message += "; the migration said: " + cause
		}
	case p.migratedImage != sf.Status.MigratedImage || (s.dbSwitch.pending && p.status):
		log.FromContext(ctx).Info("Migration succeeded", "job", klog.KRef(sf.Namespace, name), "image", image)
	case p.reason == shopv1alpha1.ReasonMigrationFailed && p.message == "":
		p.message = failedMessage(sf, name)
	}
	sf.Status.MigratedImage, sf.Status.FailedImage, sf.Status.FailedRetry = p.migratedImage, p.failedImage, p.failedRetry
	if p.migratedImage == image && p.status {
		recordMigration(s, image)
	}
	s.setCondition(shopv1alpha1.ConditionSchemaMigrated, p.status, p.reason, p.message)
	if p.running {
		return ctrl.Result{RequeueAfter: migrationRecheck}, nil
	}
	return ctrl.Result{}, nil
}

// createMigrationJob creates the migration Job of image. AlreadyExists is a cache that
// has not seen our Job yet (its events bring us back), unless the Job of that name is
// not ours: then the Storefront says so and leaves it alone.
func (r *StorefrontReconciler) createMigrationJob(ctx context.Context, s *scope, image, retry string) error {
	sf := s.sf
	if _, err := r.applyObject(ctx, r.shopServiceAccount(sf)); err != nil {
		return err
	}
	login := s.migrateLogin()
	if s.dbSwitch.pending && login.masterSecret == "" {
		// The connection Secret still names the previous database.
		login.masterSecret = objectName(sf, roleMigrateConnection)
	}
	job, err := desiredMigrationJob(sf, r.Scheme, image, retry, s.database, s.cache, login)
	if err != nil {
		return err
	}
	if s.databaseID != "" {
		job.Annotations[annotationDatabase] = s.databaseID
	}
	withOTLPEnv(&job.Spec.Template.Spec, sf, r.Options.OTLP)
	withTraceContext(ctx, &job.Spec.Template.Spec)
	log.FromContext(ctx).Info("Creating migration Job", "job", klog.KObj(job), "image", image)
	return r.createOwned(ctx, "Job", job, &batchv1.Job{})
}

// shopServiceAccount is the ServiceAccount the shop's pods and its Jobs run as, images
// role included: the Jobs and the workload apply the same object, so creating a Job
// neither strips the role (a pod admitted meanwhile would get no IRSA credentials) nor
// makes the workload phase write it back.
func (r *StorefrontReconciler) shopServiceAccount(sf *shopv1alpha1.Storefront) *corev1.ServiceAccount {
	return withImagesRole(desiredServiceAccount(sf, r.Scheme), sf, r.Options)
}

// podWaiting is why the pod of a running migration Job cannot start, as the kubelet says
// in its container's waiting state, for the reasons that do not pass by themselves
// (waitingReasons), or "". It reads past the cache: the operator keeps no pod informer.
func (r *StorefrontReconciler) podWaiting(ctx context.Context, job *batchv1.Job) string {
	if r.APIReader == nil {
		return ""
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		log.FromContext(ctx).Error(err, "Listing the pods of a migration Job", "job", klog.KObj(job))
		return ""
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; cs.Name == migrateContainerName && w != nil && waitingReasons[w.Reason] {
				return strings.TrimSpace(w.Reason + ": " + w.Message)
			}
		}
	}
	return ""
}

// waitingReasons are the kubelet's container waiting reasons that need a human: the image
// cannot be pulled or named, or the container's configuration (a Secret or key the env
// names) is missing (pkg/kubelet/images ErrImagePull, ImagePullBackOff,
// ErrInvalidImageName; pkg/kubelet/kuberuntime CreateContainerConfigError).
var waitingReasons = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
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

// desiredMigrationJob is the Job that runs `/shop migrate --seed=<seed>` with the image,
// logged in as login says (storefront_rotation.go).
func desiredMigrationJob(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, image, retry string, db, cache *storeEndpoint, login migrateLogin) (*batchv1.Job, error) {
	seed := sf.Spec.Catalog.Seed
	if seed == "" {
		seed = shopv1alpha1.CatalogSeedNone
	}
	container := corev1.Container{
		Name:    migrateContainerName,
		Image:   image,
		Command: []string{shopBinary},
		Args:    []string{"migrate", "--seed=" + string(seed)},
		Env: append(shopEnv(sf),
			secretEnv(envAdminEmail, objectName(sf, roleApp), keyAdminEmail, false),
			secretEnv(envAdminPassword, objectName(sf, roleApp), keyAdminPassword, false)),
		Resources:                shopResources(sf),
		SecurityContext:          containerSecurityContext(),
		VolumeMounts:             shopVolumeMounts(db),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	login.apply(&container)
	meta := objectMeta(sf, migrationJobName(sf, image), componentMigration)
	meta.Annotations = map[string]string{annotationImage: image}
	if retry != "" {
		meta.Annotations[shopv1alpha1.AnnotationRetryMigration] = retry
	}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(ptr.Deref(sf.Spec.Migration.BackoffLimit, migrationBackoffLimit)),
			ActiveDeadlineSeconds:   ptr.To(cmp.Or(sf.Spec.Migration.ActiveDeadlineSeconds, migrationDeadlineSeconds)),
			TTLSecondsAfterFinished: ptr.To[int32](migrationTTLSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(sf, componentMigration)},
				Spec:       shopPodSpec(sf, corev1.RestartPolicyNever, container, db),
			},
		},
	}
	own(sf, job)
	return job, nil
}
