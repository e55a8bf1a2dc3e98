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
			[]string{envDatabaseURL, envCurrency, envAdminEmail, envAdminPassword}, false},
		"a retry records the annotation's value": {shopv1alpha1.CatalogSeedNone, nil, "2", []string{"migrate", "--seed=none"},
			[]string{envDatabaseURL, envCurrency, envAdminEmail, envAdminPassword}, true},
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
