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
	"net/url"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// loginOf is the user and password of the connection Secret's DATABASE_URL.
func loginOf(g Gomega, ns string) (user, password string) {
	u, err := url.Parse(string(get(g, ns, "acme-connection", &corev1.Secret{}).Data[keyDatabaseURL]))
	g.Expect(err).NotTo(HaveOccurred())
	pw, _ := u.User.Password()
	return u.User.Username(), pw
}

// appPasswordOf reads version v of role's password.
func appPasswordOf(g Gomega, ns, role string, v int) string {
	return string(get(g, ns, appPasswordSecretName(newStorefront(ns), role, v), &corev1.Secret{}).Data[keyDBPassword])
}

// loginJobs lists the namespace's login Jobs.
func loginJobs(g Gomega, ns string) []batchv1.Job {
	list := &batchv1.JobList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns),
		client.MatchingLabels{labelComponent: componentDBLogin})).To(Succeed())
	return list.Items
}

// credentialsRecorder records every distinct status.credentials the Storefront acme
// of ns is written with, from a watch: nothing written is missed between polls.
type credentialsRecorder struct {
	mu     sync.Mutex
	states []*shopv1alpha1.CredentialsStatus
}

func recordCredentials(t *testing.T, ns string) *credentialsRecorder {
	t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &shopv1alpha1.StorefrontList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	rec := &credentialsRecorder{}
	go func() {
		for ev := range w.ResultChan() {
			sf, ok := ev.Object.(*shopv1alpha1.Storefront)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			rec.mu.Lock()
			if n := len(rec.states); n == 0 || !equality.Semantic.DeepEqual(rec.states[n-1], sf.Status.Credentials) {
				rec.states = append(rec.states, sf.Status.Credentials.DeepCopy())
			}
			rec.mu.Unlock()
		}
	}()
	return rec
}

// since returns the states recorded from the first one equal to from on.
func (r *credentialsRecorder) since(from *shopv1alpha1.CredentialsStatus) []*shopv1alpha1.CredentialsStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.states {
		if equality.Semantic.DeepEqual(s, from) {
			return append([]*shopv1alpha1.CredentialsStatus(nil), r.states[i:]...)
		}
	}
	return nil
}

// Rotation scenario 1: an Aurora shop logs in as app_a, set by a migration Job whose
// arguments name the role and whose password comes from a Secret; rotate-db-password
// moves it to app_b in the order (app_b's password set by a Job, the connection
// Secret switched, the pods rolled, only then app_a's login withdrawn), recorded in
// status step by step; the master password is untouched; removing the annotation, or
// setting the handled value again, does nothing.
func TestLoginRotation(t *testing.T) {
	ns := newNamespace(t)
	// Slow rollouts, so that "the pods have not rolled yet" lasts long enough to see.
	startStandIns(t, ns, fake.Options{DeploymentDelay: 700 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	rec := recordCredentials(t, ns)
	createStorefront(t, newStorefront(ns, withAurora()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	// The first login: app_a with v1, set by a Job before any pod used it.
	onA := &shopv1alpha1.CredentialsStatus{ActiveRole: appRoleA, Roles: []shopv1alpha1.AppRoleStatus{{Name: appRoleA, PasswordVersion: 1}}}
	g.Expect(sf.Status.Credentials).To(Equal(onA))
	user, pw := loginOf(g, ns)
	g.Expect(user).To(Equal(appRoleA))
	g.Expect(pw).To(Equal(appPasswordOf(g, ns, appRoleA, 1)))
	first := get(g, ns, loginJobName(sf, appLoginStep{Action: appLoginSetPassword, Role: appRoleA, Version: 1}, imageV1), &batchv1.Job{})
	c := first.Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(Equal([]string{"migrate", "--app-role=app_a"}))
	g.Expect(secretRefOf(c.Env, envAppPassword)).To(Equal("acme-db-app-a-v1/password"), "the password comes from its Secret")
	g.Expect(secretRefOf(c.Env, envDatabaseURL)).To(Equal("acme-migrate-connection/DATABASE_URL"), "the Job logs in as the master user")
	// The image's migration keeps app_a with the password it has.
	jobs := migrationJobs(g, ns)
	g.Expect(jobs).To(HaveLen(1))
	c = jobs[0].Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(Equal([]string{"migrate", "--seed=none", "--app-role=app_a"}))
	g.Expect(secretRefOf(c.Env, envAppPassword)).To(Equal("acme-db-app-a-v1/password"))
	g.Expect(secretRefOf(c.Env, envDatabaseURL)).To(Equal("acme-migrate-connection/DATABASE_URL"))
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]
	masterV1 := passwordOf(g, ns, 1)

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateDBPassword: "r1"}
	})
	// The switch: app_b's password was set by its Job, the connection Secret names
	// app_b, and while the pods roll app_a keeps its login: no retiring Job yet.
	retireA := loginJobName(sf, appLoginStep{Action: appLoginRetire, Role: appRoleA, Version: 1}, imageV1)
	g.Eventually(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Credentials.RetiringRole).To(Equal(appRoleA))
	}).WithTimeout(eventually).WithPolling(20 * time.Millisecond).Should(Succeed())
	setB := get(g, ns, loginJobName(sf, appLoginStep{Action: appLoginSetPassword, Role: appRoleB, Version: 1}, imageV1), &batchv1.Job{})
	g.Expect(setB.Spec.Template.Spec.Containers[0].Args).To(Equal([]string{"migrate", "--app-role=app_b"}))
	g.Expect(secretRefOf(setB.Spec.Template.Spec.Containers[0].Env, envAppPassword)).To(Equal("acme-db-app-b-v1/password"))
	g.Expect(setB.Status.CompletionTime).NotTo(BeNil(), "the switch came before app_b's password was set")
	user, pw = loginOf(g, ns)
	g.Expect(user).To(Equal(appRoleB))
	g.Expect(pw).To(Equal(appPasswordOf(g, ns, appRoleB, 1)))
	d := deployment(g, ns)
	g.Expect(d.Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(checksum), "the pods roll on the switch")
	g.Expect(d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < ptr.Deref(d.Spec.Replicas, 1)).
		To(BeTrue(), "the rollout is slow enough to see it under way")
	g.Expect(absent(ns, retireA, &batchv1.Job{})).To(BeTrue(), "app_a's login is withdrawn before the pods rolled")

	// After the rollout, a Job withdraws app_a's login, and the rotation is handled.
	g.Eventually(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Credentials.HandledRotation).To(Equal("r1"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	retire := get(g, ns, retireA, &batchv1.Job{})
	g.Expect(retire.Spec.Template.Spec.Containers[0].Args).To(Equal([]string{"migrate", "--retire-role=app_a"}))
	g.Expect(secretRefOf(retire.Spec.Template.Spec.Containers[0].Env, envAppPassword)).To(BeEmpty())
	d = deployment(g, ns)
	g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
	g.Expect(d.Status.UpdatedReplicas).To(Equal(d.Status.Replicas), "no pod of the old template was left when app_a was withdrawn")
	g.Expect(retire.CreationTimestamp.Time).NotTo(BeTemporally("<", setB.Status.CompletionTime.Time))

	onB := &shopv1alpha1.CredentialsStatus{ActiveRole: appRoleB, HandledRotation: "r1", Roles: []shopv1alpha1.AppRoleStatus{
		{Name: appRoleA, PasswordVersion: 1, LoginWithdrawn: true}, {Name: appRoleB, PasswordVersion: 1}}}
	g.Eventually(rec.since, eventually, poll).WithArguments(onA).Should(Equal([]*shopv1alpha1.CredentialsStatus{
		onA,
		{ActiveRole: appRoleB, RetiringRole: appRoleA, Roles: []shopv1alpha1.AppRoleStatus{
			{Name: appRoleA, PasswordVersion: 1}, {Name: appRoleB, PasswordVersion: 1}}},
		onB,
	}), "the status sequence of a rotation")
	g.Expect(passwordOf(g, ns, 1)).To(Equal(masterV1), "the master password is not the shop's login")
	g.Expect(absent(ns, "acme-db-password-v2", &corev1.Secret{})).To(BeTrue())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	// Removing the annotation (a GitOps cleanup) does nothing; nor does the handled value.
	jobsBefore := len(loginJobs(g, ns))
	for _, annotations := range []map[string]string{nil, {shopv1alpha1.AnnotationRotateDBPassword: "r1"}} {
		updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Annotations = annotations })
		g.Consistently(func(g Gomega) {
			g.Expect(getStorefront(g, ns).Status.Credentials).To(Equal(onB))
			g.Expect(absent(ns, "acme-db-app-a-v2", &corev1.Secret{})).To(BeTrue())
			g.Expect(absent(ns, "acme-db-app-b-v2", &corev1.Secret{})).To(BeTrue())
			g.Expect(loginJobs(g, ns)).To(HaveLen(jobsBefore))
			user, _ := loginOf(g, ns)
			g.Expect(user).To(Equal(appRoleB))
		}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
	}

	// A new value rotates back to app_a, with a password it never had.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateDBPassword: "r2"}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(getStorefront(g, ns).Status.Credentials).To(Equal(&shopv1alpha1.CredentialsStatus{
			ActiveRole: appRoleA, HandledRotation: "r2", Roles: []shopv1alpha1.AppRoleStatus{
				{Name: appRoleA, PasswordVersion: 2}, {Name: appRoleB, PasswordVersion: 1, LoginWithdrawn: true}}}))
		user, pw := loginOf(g, ns)
		g.Expect(user).To(Equal(appRoleA))
		g.Expect(pw).To(Equal(appPasswordOf(g, ns, appRoleA, 2)))
		g.Expect(absent(ns, "acme-db-app-a-v1", &corev1.Secret{})).To(BeTrue(), "the superseded password is deleted")
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// Rotation scenario 2: an external database's URL is used as given: the migration Job
// gets no role arguments and no password, the status no credentials, and
// rotate-db-password does nothing.
func TestExternalDatabaseHasNoRoleManagement(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, Options{})
	g := NewWithT(t)
	sf := readyShop(t, ns)
	g.Expect(sf.Status.Credentials).To(BeNil())
	jobs := migrationJobs(g, ns)
	g.Expect(jobs).To(HaveLen(1))
	c := jobs[0].Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(Equal([]string{"migrate", "--seed=none"}))
	g.Expect(secretRefOf(c.Env, envDatabaseURL)).To(Equal("acme-connection/DATABASE_URL"))
	g.Expect(secretRefOf(c.Env, envAppPassword)).To(BeEmpty())
	conn := get(g, ns, "acme-connection", &corev1.Secret{}).Data

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateDBPassword: "r1"}
	})
	g.Consistently(func(g Gomega) {
		g.Expect(get(g, ns, "acme-connection", &corev1.Secret{}).Data).To(Equal(conn))
		g.Expect(getStorefront(g, ns).Status.Credentials).To(BeNil())
		g.Expect(loginJobs(g, ns)).To(BeEmpty())
		secrets := &corev1.SecretList{}
		g.Expect(k8sClient.List(context.Background(), secrets, client.InNamespace(ns),
			client.MatchingLabels{labelComponent: roleDBAppPassword})).To(Succeed())
		g.Expect(secrets.Items).To(BeEmpty())
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
}

// Rotation scenario 3: a login Job that fails is reported on DatabaseReady
// (LoginFailed, with the Job's failure) and in a Warning Event; nothing is migrated or
// rolled out before the shop has a login; a new image runs the step again and the shop
// becomes Ready.
func TestLoginJobFailureIsReported(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	standIns.SetJobOutcome(imageV1, fake.JobFails)
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora()))
	job := loginJobName(newStorefront(ns), appLoginStep{Action: appLoginSetPassword, Role: appRoleA, Version: 1}, imageV1)
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonLoginFailed))
		g.Expect(c.Message).To(HavePrefix("Job " + job + " failed: BackoffLimitExceeded"))
		g.Expect(c.Message).To(HaveSuffix("delete the Job to run it again"))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
		g.Expect(eventReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonLoginFailed))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(migrationJobs(g, ns)).To(BeEmpty(), "nothing is migrated before the shop has a login")
	g.Expect(absent(ns, "acme-shop", &appsv1.Deployment{})).To(BeTrue())
	g.Expect(absent(ns, "acme-connection", &corev1.Secret{})).To(BeTrue(), "no connection Secret without a login")

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Image = imageV2 })
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(sf.Status.Credentials.ActiveRole).To(Equal(appRoleA))
	user, _ := loginOf(g, ns)
	g.Expect(user).To(Equal(appRoleA))
}
