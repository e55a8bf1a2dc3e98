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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// jobOf returns the migration Job of image, or nil.
func jobOf(g Gomega, ns, image string) *batchv1.Job {
	for _, j := range migrationJobs(g, ns) {
		if j.Annotations[annotationImage] == image {
			return &j
		}
	}
	return nil
}

func setImage(t *testing.T, ns, image string) {
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = image })
}

func servedImage(g Gomega, ns string) string {
	return containerImage(deployment(g, ns).Spec.Template.Spec.Containers, shopContainerName)
}

// Scenario 3: a new image gets its Job; the Deployment keeps the old image until the Job
// completes, then rolls.
func TestImageUpgradeWaitsForMigration(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns, withExternalCache())
	oldGeneration := deployment(g, ns).Generation
	// The first rollout's Events have all arrived once the Storefront is at rest.
	waitAtRest(t, op)
	notServing := storefrontEventCount(g, ns, "Available=False: ")

	standIns.SetJobOutcome(imageV2, fake.JobRuns)
	setImage(t, ns, imageV2)
	g.Eventually(func(g Gomega) {
		job := jobOf(g, ns, imageV2)
		g.Expect(job).NotTo(BeNil())
		g.Expect(job.Name).To(Equal(migrationJobName(newStorefront(ns), imageV2)))
		g.Expect(job.Status.Active).To(Equal(int32(1)))
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseMigrating))
		g.Expect(condition(sf, shopv1alpha1.ConditionSchemaMigrated).Reason).To(Equal(shopv1alpha1.ReasonMigrationRunning))
		g.Expect(condition(sf, shopv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		d := deployment(g, ns)
		g.Expect(d.Generation).To(Equal(oldGeneration), "the Deployment was touched while the migration ran")
		g.Expect(getStorefront(g, ns).Status.ServedImage).To(Equal(imageV1))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	standIns.SetJobOutcome(imageV2, fake.JobSucceeds)
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(servedImage(g, ns)).To(Equal(imageV2))
	g.Expect(sf.Status.ServedImage).To(Equal(imageV2))
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV2))
	g.Expect(migrationJobs(g, ns)).To(HaveLen(2), "one Job per image")
	// The old pods served until the new ones did: Available never went False, and
	// nothing on the way needed a human.
	g.Expect(storefrontEventCount(g, ns, "Available=False: ")).To(Equal(notServing))
	g.Expect(eventReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonRollingOut))
	for _, reason := range eventReasons(g, ns) {
		g.Expect(failureReasons[reason]).To(BeFalse(), "Event %s during the upgrade", reason)
	}
}

// Two failures in a row, of the same condition and reason but with different causes,
// are two Events, each with its cause. client-go merges Events whose type, reason,
// action and regarding reference match into a series that keeps the first note
// (tools/events, getKey); the reference carries the Storefront's resourceVersion, which
// the status write between the two failures changes, so they stay apart.
func TestEachFailureEventKeepsItsCause(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	for _, image := range []string{imageV2, imageV3} {
		standIns.SetJobOutcome(image, fake.JobFails)
		setImage(t, ns, image)
		g.Eventually(func(g Gomega) {
			sf := getStorefront(g, ns)
			g.Expect(sf.Status.FailedImage).To(Equal(image))
			g.Expect(condition(sf, shopv1alpha1.ConditionSchemaMigrated).Reason).To(Equal(shopv1alpha1.ReasonMigrationFailed))
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	}
	g.Eventually(func(g Gomega) {
		g.Expect(storefrontEvents(g, ns)).To(ContainElements(
			And(HavePrefix("Warning MigrationFailed: SchemaMigrated=False: "), ContainSubstring(migrationJobName(newStorefront(ns), imageV2))),
			And(HavePrefix("Warning MigrationFailed: SchemaMigrated=False: "), ContainSubstring(migrationJobName(newStorefront(ns), imageV3)))))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// Scenario 4: a failed migration keeps the old image serving and says why; the Job's
// TTL does not cause a re-run; the retry annotation does, whether or not the failed Job
// still exists.
func TestFailedMigration(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	ctx := context.Background()
	readyShop(t, ns)

	// v2's migration runs; its pod says why it fails; then the Job fails.
	standIns.SetJobOutcome(imageV2, fake.JobRuns)
	setImage(t, ns, imageV2)
	var job *batchv1.Job
	g.Eventually(func(g Gomega) { job = jobOf(g, ns, imageV2); g.Expect(job).NotTo(BeNil()) }).
		WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	createFailedPod(t, job, "migration 0007_add_reviews failed: column \"rating\" already exists")
	standIns.SetJobOutcome(imageV2, fake.JobFails)

	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonMigrationFailed))
	g.Expect(c.Message).To(ContainSubstring("Job " + job.Name + " failed: BackoffLimitExceeded"))
	g.Expect(c.Message).To(ContainSubstring(`column "rating" already exists`))
	g.Expect(sf.Status.FailedImage).To(Equal(imageV2))
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV1))
	g.Expect(sf.Status.ServedImage).To(Equal(imageV1))
	g.Expect(servedImage(g, ns)).To(Equal(imageV1), "the old version keeps serving")
	// The shop serves: Available stays True; Ready is False and the phase Degraded.
	g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Reason).To(Equal(shopv1alpha1.ReasonDeploymentAvailable))
	g.Expect(condition(sf, shopv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Eventually(func(g Gomega) {
		g.Expect(warningReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonMigrationFailed))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	// The TTL controller deletes the finished Job: no re-run.
	op.counter.Reset()
	g.Expect(k8sClient.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
	g.Eventually(func(g Gomega) { g.Expect(jobOf(g, ns, imageV2)).To(BeNil()) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(jobOf(g, ns, imageV2)).To(BeNil(), "the failed migration was re-run")
		sf := getStorefront(g, ns)
		g.Expect(condition(sf, shopv1alpha1.ConditionSchemaMigrated).Message).To(ContainSubstring(`column "rating" already exists`))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	g.Expect(op.counter.Count("create", "Job")).To(BeZero())

	// The retry annotation re-runs it.
	standIns.SetJobOutcome(imageV2, fake.JobSucceeds)
	retry(t, ns, "1")
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.ServedImage).To(Equal(imageV2))
	g.Expect(sf.Status.FailedImage).To(BeEmpty())
	g.Expect(jobOf(g, ns, imageV2).Annotations).To(HaveKeyWithValue(shopv1alpha1.AnnotationRetryMigration, "1"))

	// A retry while the failed Job still exists replaces it.
	standIns.SetJobOutcome(imageV3, fake.JobFails)
	setImage(t, ns, imageV3)
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	g.Expect(sf.Status.FailedImage).To(Equal(imageV3))
	failed := jobOf(g, ns, imageV3)
	g.Expect(failed).NotTo(BeNil())
	standIns.SetJobOutcome(imageV3, fake.JobSucceeds)
	retry(t, ns, "2")
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.ServedImage).To(Equal(imageV3))
	g.Expect(jobOf(g, ns, imageV3).UID).NotTo(Equal(failed.UID), "the failed Job was replaced")
}

func retry(t *testing.T, ns, value string) {
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		if sf.Annotations == nil {
			sf.Annotations = map[string]string{}
		}
		sf.Annotations[shopv1alpha1.AnnotationRetryMigration] = value
	})
}

// createFailedPod creates a pod of job whose container terminated with message, as the
// kubelet reports a failed migration (FallbackToLogsOnError).
func createFailedPod(t *testing.T, job *batchv1.Job, message string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name + "-x1", Namespace: job.Namespace,
			Labels: map[string]string{batchv1.JobNameLabel: job.Name},
		},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	if err := k8sClient.Create(ctx, pod); err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: migrateContainerName, Image: job.Spec.Template.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", Message: "starting migration\n" + message + "\n",
			StartedAt: metav1.NewTime(time.Now().Add(-time.Second)), FinishedAt: metav1.Now(),
		}},
	}}}
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatalf("updating pod status: %v", err)
	}
}

// warningReasons lists the reasons of Warning Events about Storefronts in ns.
func warningReasons(g Gomega, ns string) []string {
	var out []string
	for _, e := range storefrontEventItems(g, ns) {
		if e.Type == corev1.EventTypeWarning {
			out = append(out, e.Reason)
		}
	}
	return out
}

// Scenario 5: a new image while a Job runs waits for it: the running Job is never
// deleted (a migration cut short can leave invalid indexes or a held advisory lock);
// when it ends, the newest spec.image gets its Job. The image whose Job ended is not
// served, since the spec no longer names it.
func TestNewImageWaitsForRunningMigration(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	standIns.SetJobOutcome(imageV2, fake.JobRuns)
	standIns.SetJobOutcome(imageV3, fake.JobRuns)
	setImage(t, ns, imageV2)
	var v2 *batchv1.Job
	g.Eventually(func(g Gomega) { v2 = jobOf(g, ns, imageV2); g.Expect(v2).NotTo(BeNil()) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	setImage(t, ns, imageV3)
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Message).To(ContainSubstring("Migration Job " + v2.Name + " of " + imageV2 + " is still running"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		j := jobOf(g, ns, imageV2)
		g.Expect(j).NotTo(BeNil(), "the running Job was deleted")
		g.Expect(j.UID).To(Equal(v2.UID))
		g.Expect(j.DeletionTimestamp).To(BeNil(), "the running Job is being deleted")
		g.Expect(jobOf(g, ns, imageV3)).To(BeNil(), "a second migration started beside the running one")
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	g.Expect(op.counter.Count("delete", "Job")).To(BeZero())
	g.Expect(servedImage(g, ns)).To(Equal(imageV1))

	// v2's Job ends; v3's starts, and v3 is served once it succeeds.
	standIns.SetJobOutcome(imageV2, fake.JobSucceeds)
	g.Eventually(func(g Gomega) { g.Expect(jobOf(g, ns, imageV3)).NotTo(BeNil()) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(servedImage(g, ns)).To(Equal(imageV1), "v2 is served although the spec names v3")
	standIns.SetJobOutcome(imageV3, fake.JobSucceeds)
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.ServedImage).To(Equal(imageV3))
	g.Expect(sf.Status.MigratedImage).To(Equal(imageV3))
}

// A → B fails → A → B: moving away from a failed image clears status.failedImage, so
// coming back to it runs its migration again.
func TestFailedImageClearsWhenSpecMovesAway(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	standIns.SetJobOutcome(imageV2, fake.JobFails)
	setImage(t, ns, imageV2)
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseDegraded)
	g.Expect(sf.Status.FailedImage).To(Equal(imageV2))
	failed := jobOf(g, ns, imageV2)
	g.Expect(failed).NotTo(BeNil())

	setImage(t, ns, imageV1)
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.FailedImage).To(BeEmpty())

	standIns.SetJobOutcome(imageV2, fake.JobSucceeds)
	setImage(t, ns, imageV2)
	sf = waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.ServedImage).To(Equal(imageV2))
	g.Expect(jobOf(g, ns, imageV2).UID).NotTo(Equal(failed.UID), "B's migration was not run again")
}

// A migration pod that cannot start (its image cannot be pulled) reaches SchemaMigrated
// within seconds with the kubelet's message, not after the Job's deadline.
func TestMigrationPodNotStarting(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	readyShop(t, ns)

	standIns.SetJobOutcome(imageV2, fake.JobRuns)
	setImage(t, ns, imageV2)
	var job *batchv1.Job
	g.Eventually(func(g Gomega) { job = jobOf(g, ns, imageV2); g.Expect(job).NotTo(BeNil()) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	// As the kubelet reports it (pkg/kubelet/images/image_manager.go: ImagePullBackOff,
	// "Back-off pulling image %q").
	createWaitingPod(t, job, "ImagePullBackOff", `Back-off pulling image "`+imageV2+`"`)
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionSchemaMigrated)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonMigrationPodNotStarting))
		g.Expect(c.Message).To(ContainSubstring(`ImagePullBackOff: Back-off pulling image "` + imageV2 + `"`))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
		g.Expect(condition(sf, shopv1alpha1.ConditionAvailable).Status).To(Equal(metav1.ConditionTrue), "v1 serves")
	}).WithTimeout(2 * migrationRecheck).WithPolling(poll).Should(Succeed())
}

// createWaitingPod creates a pod of job whose container waits with reason and message.
func createWaitingPod(t *testing.T, job *batchv1.Job, reason, message string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name + "-w1", Namespace: job.Namespace,
			Labels: map[string]string{batchv1.JobNameLabel: job.Name},
		},
		Spec: *job.Spec.Template.Spec.DeepCopy(),
	}
	if err := k8sClient.Create(ctx, pod); err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: migrateContainerName, Image: job.Spec.Template.Spec.Containers[0].Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
	}}}
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatalf("updating pod status: %v", err)
	}
}

// Scenario 6: an operator restarted while a migration runs finds the Job it created
// (the name comes from the image) and creates no other.
func TestRestartedOperatorCreatesNoDuplicateJob(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{JobOutcome: fake.JobRuns})
	first := startOperator(t, ns, Options{})
	g := NewWithT(t)
	createURLSecret(t, ns, "acme-db", dbURL)
	createStorefront(t, newStorefront(ns))

	var job *batchv1.Job
	g.Eventually(func(g Gomega) {
		job = jobOf(g, ns, imageV1)
		g.Expect(job).NotTo(BeNil())
		g.Expect(job.Status.Active).To(Equal(int32(1)))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	first.stop()

	second := startOperator(t, ns, Options{})
	// The second operator has looked at the Storefront mid-migration.
	g.Eventually(func() int { return second.counter.Count("list", "Job") }).WithTimeout(eventually).WithPolling(poll).Should(BeNumerically(">", 0))
	standIns.SetJobOutcome(imageV1, fake.JobSucceeds)
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	jobs := migrationJobs(g, ns)
	g.Expect(jobs).To(HaveLen(1))
	g.Expect(jobs[0].UID).To(Equal(job.UID))
	g.Expect(second.counter.Count("create", "Job")).To(BeZero())
	g.Expect(second.counter.Count("delete", "Job")).To(BeZero())
}

// The Jobs run as the shop's ServiceAccount, which carries --images-role-arn while the
// shop has an images bucket: creating a Job applies it as the workload does, so the
// role stays (a pod admitted meanwhile gets its IRSA credentials) and nothing is
// written. On Aurora the first login's Job applies it first: once on the way to Ready.
func TestJobsKeepTheImagesRole(t *testing.T) {
	requireImagesCDNCRDs(t)
	const role = "arn:aws:iam::123456789012:role/storefront-shop-images"
	images := func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Images = &shopv1alpha1.ImagesSpec{Bucket: &shopv1alpha1.ImagesBucket{}}
	}
	opts := ackOptions
	opts.ImagesRoleARN = role

	t.Run("a migration Job", func(t *testing.T) {
		ns := newNamespace(t)
		standIns := startStandIns(t, ns, fake.Options{})
		op := startOperator(t, ns, opts)
		g := NewWithT(t)
		readyShop(t, ns, images)
		g.Expect(get(g, ns, "acme-shop", &corev1.ServiceAccount{}).Annotations).To(HaveKeyWithValue(annotationIRSARoleARN, role))
		waitAtRest(t, op)

		standIns.SetJobOutcome(imageV2, fake.JobRuns)
		setImage(t, ns, imageV2)
		g.Eventually(func(g Gomega) {
			g.Expect(jobOf(g, ns, imageV2)).NotTo(BeNil())
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		g.Consistently(func(g Gomega) {
			g.Expect(get(g, ns, "acme-shop", &corev1.ServiceAccount{}).Annotations).To(HaveKeyWithValue(annotationIRSARoleARN, role))
			g.Expect(op.counter.Count("apply", "ServiceAccount")).To(BeZero(), "%s", op.counter.MutationSummary())
		}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	})

	t.Run("the first login's Job on Aurora", func(t *testing.T) {
		ns := newNamespace(t)
		startStandIns(t, ns, fake.Options{})
		op := startOperator(t, ns, opts)
		g := NewWithT(t)
		createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache(), images))
		waitForPhase(t, ns, shopv1alpha1.PhaseReady)
		g.Expect(get(g, ns, "acme-shop", &corev1.ServiceAccount{}).Annotations).To(HaveKeyWithValue(annotationIRSARoleARN, role))
		g.Expect(op.counter.Count("apply", "ServiceAccount")).To(Equal(1), "%s", op.counter.MutationSummary())
	})
}
