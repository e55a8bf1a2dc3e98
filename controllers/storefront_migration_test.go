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
	"testing"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestDesiredMigrationJob(t *testing.T) {
	db := &storeEndpoint{Host: "db", Port: 5432, URL: "postgres://db/shop"}
	cache := &storeEndpoint{Host: "c", Port: 6379, URL: "redis://c"}
	cases := map[string]struct {
		seed      shopv1alpha1.CatalogSeed
		cache     *storeEndpoint
		retry     string
		wantArgs  []string
		wantEnv   []string
		wantRetry bool
	}{
		"the demo catalog, with a cache": {shopv1alpha1.CatalogSeedDemo, cache, "", []string{"migrate", "--seed=demo"},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envAdminEmail, envAdminPassword}, false},
		"no seed set means none, no cache": {"", nil, "", []string{"migrate", "--seed=none"},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envAdminEmail, envAdminPassword}, false},
		"a retry records the annotation's value": {shopv1alpha1.CatalogSeedNone, nil, "2", []string{"migrate", "--seed=none"},
			[]string{envDatabaseURL, envRedisURL, envCurrency, envAdminEmail, envAdminPassword}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			sf := storefrontNamed("acme")
			sf.Spec.Catalog.Seed = tc.seed
			job, err := desiredMigrationJob(sf, testScheme, imageV2, tc.retry, db, tc.cache, migrateLogin{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(job.Name).To(Equal(migrationJobName(sf, imageV2)))
			g.Expect(job.Annotations).To(HaveKeyWithValue(annotationImage, imageV2))
			if tc.wantRetry {
				g.Expect(job.Annotations).To(HaveKeyWithValue(shopv1alpha1.AnnotationRetryMigration, tc.retry))
			} else {
				g.Expect(job.Annotations).NotTo(HaveKey(shopv1alpha1.AnnotationRetryMigration))
			}
			g.Expect(*job.Spec.BackoffLimit).To(Equal(int32(2)))
			g.Expect(*job.Spec.ActiveDeadlineSeconds).To(Equal(int64(600)))
			g.Expect(*job.Spec.TTLSecondsAfterFinished).To(BeNumerically(">", 0))
			pod := job.Spec.Template.Spec
			g.Expect(pod.RestartPolicy).To(Equal(corev1.RestartPolicyNever))
			g.Expect(job.Spec.Template.Labels).To(HaveKeyWithValue(labelComponent, componentMigration))
			c := pod.Containers[0]
			g.Expect(c.Image).To(Equal(imageV2))
			g.Expect(c.Command).To(Equal([]string{"/shop"}))
			g.Expect(c.Args).To(Equal(tc.wantArgs))
			g.Expect(envNames(c.Env)).To(Equal(tc.wantEnv))
			g.Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()))
			g.Expect(c.TerminationMessagePolicy).To(Equal(corev1.TerminationMessageFallbackToLogsOnError))
		})
	}
}

func TestMigrationJobState(t *testing.T) {
	cond := func(t batchv1.JobConditionType, s corev1.ConditionStatus) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: s, Reason: "R"}
	}
	cases := map[string]struct {
		conditions []batchv1.JobCondition
		want       jobState
	}{
		"no conditions: running":              {nil, jobRunning},
		"success criteria met, pods stopping": {[]batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue)}, jobRunning},
		"failure target, pods stopping":       {[]batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue)}, jobRunning},
		"complete":                            {[]batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), cond(batchv1.JobComplete, corev1.ConditionTrue)}, jobComplete},
		"failed":                              {[]batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue), cond(batchv1.JobFailed, corev1.ConditionTrue)}, jobFailed},
		"a False Complete condition":          {[]batchv1.JobCondition{cond(batchv1.JobComplete, corev1.ConditionFalse)}, jobRunning},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, _ := migrationJobState(&batchv1.Job{Status: batchv1.JobStatus{Conditions: tc.conditions}})
			if got != tc.want {
				t.Errorf("state %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlanMigration walks the migration state machine: one row per situation, the plan
// it makes. "A", "B" are images; jobs are named after them as the operator names them.
func TestPlanMigration(t *testing.T) {
	const imgA, imgB, imgC = "shop:A", "shop:B", "shop:C"
	sf := storefrontNamed("acme")
	jobName := func(image string) string { return migrationJobName(sf, image) }
	job := func(image string, state jobState, mutate ...func(*migrationJob)) migrationJob {
		j := migrationJob{name: jobName(image), image: image, state: state}
		if state == jobFailed {
			j.failure = "BackoffLimitExceeded: Job has reached the specified backoff limit"
		}
		for _, m := range mutate {
			m(&j)
		}
		return j
	}
	deleting := func(j *migrationJob) { j.deleting = true }
	retried := func(v string) func(*migrationJob) { return func(j *migrationJob) { j.retry = v } }
	type want struct {
		create                   bool
		delete                   []string
		migrated, failed, fretry string
		status                   bool
		reason, messageContains  string
	}
	cases := map[string]struct {
		in   migrationInput
		want want
	}{
		"nothing migrated, no Job: create it": {
			migrationInput{image: imgA},
			want{create: true, reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "started"}},
		"the Job runs": {
			migrationInput{image: imgA, jobs: []migrationJob{job(imgA, jobRunning)}},
			want{reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "is running"}},
		"the Job's pod cannot pull its image": {
			migrationInput{image: imgA, jobs: []migrationJob{job(imgA, jobRunning, func(j *migrationJob) {
				j.waiting = `ImagePullBackOff: Back-off pulling image "shop:A"`
			})}},
			want{reason: shopv1alpha1.ReasonMigrationPodNotStarting, messageContains: `ImagePullBackOff: Back-off pulling image "shop:A"`}},
		"the Job completed": {
			migrationInput{image: imgA, jobs: []migrationJob{job(imgA, jobComplete)}},
			want{migrated: imgA, status: true, reason: shopv1alpha1.ReasonMigrationSucceeded}},
		"the Job failed": {
			migrationInput{image: imgA, retry: "1", jobs: []migrationJob{job(imgA, jobFailed, retried("1"))}},
			want{failed: imgA, fretry: "1", reason: shopv1alpha1.ReasonMigrationFailed, messageContains: "BackoffLimitExceeded"}},
		"already migrated: nothing to do": {
			migrationInput{image: imgA, migratedImage: imgA, jobs: []migrationJob{job(imgA, jobComplete)}},
			want{migrated: imgA, status: true, reason: shopv1alpha1.ReasonMigrationSucceeded}},
		"a new image while the previous image's Job runs: it waits, nothing is deleted": {
			migrationInput{image: imgB, migratedImage: "shop:0", jobs: []migrationJob{job(imgA, jobRunning)}},
			want{migrated: "shop:0", reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "never cut short"}},
		"back to the served image while another image's Job runs: migrated, the Job runs on": {
			migrationInput{image: imgA, migratedImage: imgA, jobs: []migrationJob{job(imgB, jobRunning)}},
			want{migrated: imgA, status: true, reason: shopv1alpha1.ReasonMigrationSucceeded}},
		"the previous image's Job ended: the new image's Job starts": {
			migrationInput{image: imgB, migratedImage: "shop:0", jobs: []migrationJob{job(imgA, jobComplete)}},
			want{create: true, migrated: "shop:0", reason: shopv1alpha1.ReasonMigrationRunning}},
		"a failed image, no retry asked: stays failed": {
			migrationInput{image: imgB, migratedImage: imgA, failedImage: imgB, jobs: []migrationJob{job(imgB, jobFailed)}},
			want{migrated: imgA, failed: imgB, reason: shopv1alpha1.ReasonMigrationFailed}},
		"a failed image whose Job the TTL deleted: no re-run": {
			migrationInput{image: imgB, migratedImage: imgA, failedImage: imgB},
			want{migrated: imgA, failed: imgB, reason: shopv1alpha1.ReasonMigrationFailed}},
		"a retry while the failed Job exists: it is deleted first": {
			migrationInput{image: imgB, retry: "1", migratedImage: imgA, failedImage: imgB, jobs: []migrationJob{job(imgB, jobFailed)}},
			want{delete: []string{jobName(imgB)}, migrated: imgA, failed: imgB, reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "Retrying"}},
		"a retry once the failed Job is gone: a new Job with the retry value": {
			migrationInput{image: imgB, retry: "1", migratedImage: imgA, failedImage: imgB},
			want{create: true, migrated: imgA, reason: shopv1alpha1.ReasonMigrationRunning}},
		"the retry's Job runs": {
			migrationInput{image: imgB, retry: "1", migratedImage: imgA, failedImage: imgB, jobs: []migrationJob{job(imgB, jobRunning, retried("1"))}},
			want{migrated: imgA, reason: shopv1alpha1.ReasonMigrationRunning}},
		"the spec moves away from a failed image: failedImage clears, the failed Job goes": {
			migrationInput{image: imgA, migratedImage: imgA, failedImage: imgB, jobs: []migrationJob{job(imgB, jobFailed)}},
			want{delete: []string{jobName(imgB)}, migrated: imgA, status: true, reason: shopv1alpha1.ReasonMigrationSucceeded}},
		"A, B failed, A, B again: B is retried": {
			migrationInput{image: imgB, migratedImage: imgA},
			want{create: true, migrated: imgA, reason: shopv1alpha1.ReasonMigrationRunning}},
		"the spec moves on from a failed image to a new one": {
			migrationInput{image: imgC, migratedImage: imgA, failedImage: imgB, jobs: []migrationJob{job(imgB, jobFailed)}},
			want{create: true, delete: []string{jobName(imgB)}, migrated: imgA, reason: shopv1alpha1.ReasonMigrationRunning}},
		"a Job being deleted holds the name": {
			migrationInput{image: imgA, jobs: []migrationJob{job(imgA, jobFailed, deleting)}},
			want{reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "to be deleted"}},
		"a running Job of another image under our name is waited for, not taken": {
			migrationInput{image: imgA, jobs: []migrationJob{job(imgA, jobRunning, func(j *migrationJob) { j.image = imgC })}},
			want{reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "never cut short"}},
		"a finished Job of another image under our name is deleted, not taken": {
			migrationInput{image: imgA, jobs: []migrationJob{job(imgA, jobComplete, func(j *migrationJob) { j.image = "" })}},
			want{delete: []string{jobName(imgA)}, reason: shopv1alpha1.ReasonMigrationRunning, messageContains: "to be deleted"}},
		"old completed Jobs of other images are left to their TTL": {
			migrationInput{image: imgB, migratedImage: imgB, jobs: []migrationJob{job(imgA, jobComplete), job(imgB, jobComplete)}},
			want{migrated: imgB, status: true, reason: shopv1alpha1.ReasonMigrationSucceeded}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tc.in.jobName = jobName(tc.in.image)
			p := planMigration(tc.in)
			g.Expect(p.create).To(Equal(tc.want.create), "create")
			g.Expect(p.delete).To(ConsistOf(stringsOrEmpty(tc.want.delete)...), "delete")
			g.Expect(p.migratedImage).To(Equal(tc.want.migrated), "migratedImage")
			g.Expect(p.failedImage).To(Equal(tc.want.failed), "failedImage")
			g.Expect(p.failedRetry).To(Equal(tc.want.fretry), "failedRetry")
			g.Expect(p.status).To(Equal(tc.want.status), "SchemaMigrated status")
			g.Expect(p.reason).To(Equal(tc.want.reason), "SchemaMigrated reason")
			g.Expect(p.message).To(ContainSubstring(tc.want.messageContains))
			for _, j := range tc.in.jobs {
				if j.state == jobRunning && !j.deleting {
					g.Expect(p.delete).NotTo(ContainElement(j.name), "a running Job was deleted")
				}
			}
		})
	}
}

func stringsOrEmpty(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// spec.migration's bounds reach the Job; the defaults are the API's.
func TestMigrationJobBounds(t *testing.T) {
	g := NewWithT(t)
	db := &storeEndpoint{Host: "db", Port: 5432, URL: "postgres://db/shop"}
	sf := storefrontNamed("acme")
	job, err := desiredMigrationJob(sf, testScheme, imageV1, "", db, nil, migrateLogin{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(*job.Spec.ActiveDeadlineSeconds).To(Equal(int64(600)))
	g.Expect(*job.Spec.BackoffLimit).To(Equal(int32(2)))
	sf.Spec.Migration = shopv1alpha1.MigrationSpec{ActiveDeadlineSeconds: 3600, BackoffLimit: ptr.To[int32](0)}
	job, err = desiredMigrationJob(sf, testScheme, imageV1, "", db, nil, migrateLogin{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(*job.Spec.ActiveDeadlineSeconds).To(Equal(int64(3600)))
	g.Expect(*job.Spec.BackoffLimit).To(Equal(int32(0)))
}
