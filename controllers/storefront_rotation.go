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
	"maps"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Rotation of the database credentials (docs/architecture.md#database-roles).
//
// The shop logs in as one of two application roles, app_a and app_b, that the migration
// Job keeps (`shop migrate`, run as the master user). The connection Secret names the
// active one. shop.storefront.dev/rotate-db-password rotates that login without a moment
// where a running pod holds a refused password:
//
//  1. a new password Secret for the inactive role,
//  2. a migration Job sets it on the inactive role (the active one keeps working),
//  3. the connection Secret switches to the inactive role, and the pods roll,
//  4. once no pod of the old template is left, a Job withdraws the old role's login,
//  5. the request is recorded as handled in status.
//
// The master password is used by migrations only. It rotates by a new Secret version and
// a new ACK reference to it, the Secret first: ACK treats a referenced Secret that is
// missing on an update as Terminal, and that is sticky. The shop's pods never see it.
//
// Annotations act on a new value only: a value equal to the last handled one (in status)
// does nothing, and removing the annotation does nothing. A rotation that has started
// (its Secret exists) finishes even if the annotation changes or goes; a value that
// arrived meanwhile gets a rotation of its own afterwards.
//
// The first half of this file decides and does nothing else; the second half carries
// the steps out (reconcileLogin, finishLoginRotation). The reconciler reads the state,
// asks for the next step, carries it out, and records it (after) once it is done; the
// next reconcile asks again. Each step is safe to repeat until it is recorded.
//
// The state maps to these status fields (api/v1alpha1 CredentialsStatus):
//
//	status:
//	  credentials:
//	    activeRole: app_b              appLogin.Active
//	    retiringRole: app_a            appLogin.Retiring
//	    handledRotation: "2026-05-01"  appLogin.Handled
//	    roles:                         appLogin.Roles[name].Set, .Withdrawn
//	    - {name: app_a, passwordVersion: 1, loginWithdrawn: true}
//	    - {name: app_b, passwordVersion: 1, loginWithdrawn: false}
//	    masterPassword:
//	      handledRotation: ""          masterPassword.Handled
//
// The Secrets' versions are read from the Secrets themselves, as the master password's
// are today (storefront_password.go): <name>-db-app-a-v<N> and <name>-db-app-b-v<N>,
// labelled, with the version and the rotate value they were made for in annotations.

// The application roles, as the shop names them (shop/platform/database).
const (
	appRoleA = "app_a"
	appRoleB = "app_b"
)

// otherAppRole is the application role that is not role.
func otherAppRole(role string) string {
	if role == appRoleA {
		return appRoleB
	}
	return appRoleA
}

// rolePassword is what is known of one application role's password.
type rolePassword struct {
	// Newest is the newest version of the role's password Secret that exists (created,
	// not merely asked for), 0 when there is none.
	Newest int
	// NewestRotation is the rotate-db-password value the Newest Secret was made for.
	NewestRotation string
	// Set is the version a migration Job last set on the role (status
	// credentials.roles[].passwordVersion), 0 when none ever was.
	Set int
	// Withdrawn says the role's login was withdrawn after Set was set (status
	// credentials.roles[].loginWithdrawn). Setting a password clears it.
	Withdrawn bool
}

// appLogin is the state the rotation of the application login decides on.
type appLogin struct {
	// Annotation is rotate-db-password's value now, "" when absent.
	Annotation string
	// Handled is the last value acted on (status credentials.handledRotation).
	Handled string
	// Active is the role the connection Secret names (status credentials.activeRole),
	// "" before the first login.
	Active string
	// Retiring is the role whose login is withdrawn once no pod uses it (status
	// credentials.retiringRole), "" when none.
	Retiring string
	// Roles holds app_a's and app_b's passwords.
	Roles map[string]rolePassword
	// RolledOut says every pod reads the connection Secret that names Active: the
	// Deployment's template has its checksum, it is available, and no pod of an older
	// ReplicaSet is left, terminating ones included (they still open connections while
	// they drain).
	RolledOut bool
}

// appLoginAction is what to do next about the application login.
type appLoginAction string

const (
	// appLoginNothing: the login is as asked.
	appLoginNothing appLoginAction = "Nothing"
	// appLoginWait: a rollout must finish first; Message says which.
	appLoginWait appLoginAction = "Wait"
	// appLoginCreateSecret: create Role's password Secret Version, made for Rotation.
	appLoginCreateSecret appLoginAction = "CreateSecret"
	// appLoginSetPassword: run the migration Job with `--app-role=Role` and
	// APP_PASSWORD from Role's Secret Version; record Set when it succeeded.
	appLoginSetPassword appLoginAction = "SetPassword"
	// appLoginSwitch: write the connection Secret with Role and the password of its
	// Secret Version (the pods roll on its checksum); record Active and Retiring.
	appLoginSwitch appLoginAction = "SwitchConnection"
	// appLoginRetire: run the migration Job with `--retire-role=Role` (whose password
	// Version was set); record Withdrawn.
	appLoginRetire appLoginAction = "RetireLogin"
	// appLoginRecordHandled: record Rotation as handled.
	appLoginRecordHandled appLoginAction = "RecordHandled"
)

// appLoginStep is the next step of the application login.
type appLoginStep struct {
	Action  appLoginAction
	Role    string
	Version int
	// Rotation is the rotate-db-password value a new Secret is made for, or the value
	// recorded as handled.
	Rotation string
	// Retire is, for a switch, the role whose login is withdrawn after the rollout
	// ("" for the first login: the pods used the master user before, if anything).
	Retire string
	// Message says why, for the condition.
	Message string
}

// nextAppLoginStep decides the next step of the application login.
func nextAppLoginStep(s appLogin) appLoginStep {
	// The first login is app_a's, before any pod uses it.
	if s.Active == "" {
		a := s.Roles[appRoleA]
		switch {
		case a.Newest == 0:
			return appLoginStep{Action: appLoginCreateSecret, Role: appRoleA, Version: 1, Rotation: s.Annotation,
				Message: "Creating the first password of app_a"}
		case a.Set < a.Newest:
			return appLoginStep{Action: appLoginSetPassword, Role: appRoleA, Version: a.Newest,
				Message: fmt.Sprintf("Setting password v%d on app_a", a.Newest)}
		default:
			return appLoginStep{Action: appLoginSwitch, Role: appRoleA, Version: a.Set,
				Message: "The shop logs in as app_a"}
		}
	}
	active, inactive := s.Active, otherAppRole(s.Active)
	next := s.Roles[inactive]

	// After a switch, the old role's login is withdrawn once no pod can still use it.
	if s.Retiring != "" {
		if !s.RolledOut {
			return appLoginStep{Action: appLoginWait, Role: s.Retiring,
				Message: fmt.Sprintf("Waiting for the pods to log in as %s before withdrawing %s's login", active, s.Retiring)}
		}
		// The version names the Job: the same role retired after a later rotation
		// gets a Job of its own.
		return appLoginStep{Action: appLoginRetire, Role: s.Retiring, Version: s.Roles[s.Retiring].Set,
			Message: fmt.Sprintf("Withdrawing %s's login: no pod uses it any more", s.Retiring)}
	}

	// A finished rotation records the request it answered: the one the active role's
	// Secret was made for.
	if r := s.Roles[active].NewestRotation; r != s.Handled {
		return appLoginStep{Action: appLoginRecordHandled, Rotation: r,
			Message: fmt.Sprintf("Rotation %q done: the shop logs in as %s", r, active)}
	}

	// A rotation under way goes on: the inactive role has a Secret newer than any
	// password set on it, or has its newest password and is waiting for the switch.
	if next.Newest > next.Set {
		return appLoginStep{Action: appLoginSetPassword, Role: inactive, Version: next.Newest,
			Message: fmt.Sprintf("Setting password v%d on %s", next.Newest, inactive)}
	}
	if next.Set > 0 && next.Set == next.Newest && !next.Withdrawn {
		return appLoginStep{Action: appLoginSwitch, Role: inactive, Version: next.Set, Retire: active,
			Message: fmt.Sprintf("The shop logs in as %s from now on; %s's login is withdrawn after the rollout", inactive, active)}
	}

	// A new value asks for a rotation: a password no one has seen, for the inactive role
	// (never one it had before: that one may be the reason for the rotation).
	if s.Annotation != "" && s.Annotation != s.Handled {
		v := max(next.Newest, next.Set) + 1
		return appLoginStep{Action: appLoginCreateSecret, Role: inactive, Version: v, Rotation: s.Annotation,
			Message: fmt.Sprintf("Rotating the shop's login (%q): creating password v%d of %s", s.Annotation, v, inactive)}
	}
	return appLoginStep{Action: appLoginNothing, Message: "The shop logs in as " + active}
}

// after is the state once step was carried out: what the reconciler records in status
// (and what a new Secret makes visible).
func (s appLogin) after(step appLoginStep) appLogin {
	s.Roles = maps.Clone(s.Roles)
	if s.Roles == nil {
		s.Roles = map[string]rolePassword{}
	}
	r := s.Roles[step.Role]
	switch step.Action {
	case appLoginCreateSecret:
		r.Newest, r.NewestRotation = step.Version, step.Rotation
	case appLoginSetPassword:
		r.Set, r.Withdrawn = step.Version, false
	case appLoginSwitch:
		s.Active, s.Retiring = step.Role, step.Retire
	case appLoginRetire:
		r.Withdrawn, s.Retiring = true, ""
	case appLoginRecordHandled:
		s.Handled = step.Rotation
	}
	if step.Role != "" {
		s.Roles[step.Role] = r
	}
	return s
}

// migrateArgs are the arguments of `shop migrate` that carry a step to the shop (its
// process contract, shop/cmd/shop): a SetPassword Job also gets APP_PASSWORD from the
// role's Secret Version (or mounts it and passes --app-password-file).
func (step appLoginStep) migrateArgs() []string {
	switch step.Action {
	case appLoginSetPassword:
		return []string{"--app-role=" + step.Role}
	case appLoginRetire:
		return []string{"--retire-role=" + step.Role}
	}
	return nil
}

// imageMigrateArgs are the role arguments of an image's migration Job, and the version
// of the active role's Secret its APP_PASSWORD comes from: the active role with the
// password it has, which changes nothing (and keeps the privileges of new tables). On a
// new database (a restored snapshot brings back the roles as they were when it was
// taken) it also withdraws the inactive role's login, unless that role is on its way in.
// Before the first login there are none: the first login's steps set them.
func imageMigrateArgs(s appLogin, newDatabase bool) (args []string, version int) {
	if s.Active == "" {
		return nil, 0
	}
	args = []string{"--app-role=" + s.Active}
	inactive := s.Roles[otherAppRole(s.Active)]
	if newDatabase && s.Retiring == "" && (inactive.Set == 0 || inactive.Withdrawn) {
		args = append(args, "--retire-role="+otherAppRole(s.Active))
	}
	return args, s.Roles[s.Active].Set
}

// onNewDatabase is the state to decide on once the database changed (status.migration
// .database): a password set on the inactive role for a rotation under way is not in a
// restored snapshot, so it is set again before the switch.
func (s appLogin) onNewDatabase() appLogin {
	if s.Active == "" || s.Retiring != "" {
		return s
	}
	inactive := otherAppRole(s.Active)
	r := s.Roles[inactive]
	if r.Set > 0 && r.Set == r.Newest && !r.Withdrawn {
		s.Roles = maps.Clone(s.Roles)
		r.Set = 0
		s.Roles[inactive] = r
	}
	return s
}

// masterPassword is the state the master password's rotation decides on. Its trigger is
// an annotation of its own, shop.storefront.dev/rotate-master-password, since
// rotate-db-password rotates the shop's login.
type masterPassword struct {
	// Annotation is the trigger's value now, "" when absent.
	Annotation string
	// Handled is the last value acted on (status credentials.masterPassword.handledRotation).
	Handled string
	// Newest is the newest <name>-db-password-v<N> that exists, 0 when none, and
	// NewestRotation the value it was made for (its shop.storefront.dev/rotation).
	Newest         int
	NewestRotation string
	// Referenced is the version the DBCluster's spec.masterUserPassword names, 0 before
	// the DBCluster exists.
	Referenced int
	// Applied is the version ACK applied: its last-applied-secret-reference names it and
	// it reported Synced after the Secret was made (storefront_database.go).
	Applied int
}

// masterPasswordAction is what to do next about the master password.
type masterPasswordAction string

const (
	// masterPasswordNothing: the password is as asked.
	masterPasswordNothing masterPasswordAction = "Nothing"
	// masterPasswordCreateSecret: create Secret Version, made for Rotation.
	masterPasswordCreateSecret masterPasswordAction = "CreateSecret"
	// masterPasswordReference: point the DBCluster's masterUserPassword at Version.
	masterPasswordReference masterPasswordAction = "ReferenceSecret"
	// masterPasswordWait: ACK is applying the referenced version.
	masterPasswordWait masterPasswordAction = "Wait"
	// masterPasswordRecordHandled: record Rotation as handled.
	masterPasswordRecordHandled masterPasswordAction = "RecordHandled"
)

// masterPasswordStep is the next step of the master password.
type masterPasswordStep struct {
	Action   masterPasswordAction
	Version  int
	Rotation string
	// MigrateWith is the version a migration Job logs in with, 0 while none may start
	// (no cluster yet, or RDS is changing the password).
	MigrateWith int
	Message     string
}

// nextMasterPasswordStep decides the next step of the master password.
func nextMasterPasswordStep(s masterPassword) masterPasswordStep {
	step := masterPasswordStep{Action: masterPasswordNothing, Message: fmt.Sprintf("Migrations log in with master password v%d", s.Applied)}
	if s.Applied > 0 && s.Applied == s.Referenced {
		step.MigrateWith = s.Applied
	}
	requested := s.Annotation != "" && s.Annotation != s.Handled
	switch {
	case s.Newest == 0:
		step.Action, step.Version, step.Rotation = masterPasswordCreateSecret, 1, s.Annotation
		step.Message = "Creating the master password"
	case requested && s.NewestRotation != s.Annotation:
		step.Action, step.Version, step.Rotation = masterPasswordCreateSecret, s.Newest+1, s.Annotation
		step.Message = fmt.Sprintf("Rotating the master password (%q): creating v%d", s.Annotation, s.Newest+1)
	case s.Referenced < s.Newest:
		// Only a Secret that exists is referenced: ACK holds a missing one against an
		// update as Terminal.
		step.Action, step.Version = masterPasswordReference, s.Newest
		step.Message = fmt.Sprintf("Pointing the DBCluster at master password v%d", s.Newest)
	case s.Applied < s.Referenced:
		step.Action, step.Version = masterPasswordWait, s.Referenced
		step.Message = fmt.Sprintf("Waiting for ACK to apply master password v%d; no migration starts meanwhile", s.Referenced)
	case requested:
		step.Action, step.Rotation = masterPasswordRecordHandled, s.Annotation
		step.Message = fmt.Sprintf("Master password rotation %q done", s.Annotation)
	}
	return step
}

// --- Carrying the steps out -------------------------------------------------------------
//
// Two phases act on the decisions above. reconcileLogin runs after the database phase
// and before the connection Secret is composed: it keeps the migration Jobs' master URL,
// creates password Secrets, runs the Jobs that set passwords, switches the active role,
// and gives the connection phase the active role's URL. finishLoginRotation runs after
// the workload: once no pod of the shop can use the previous role, a Job withdraws its
// login. External databases take no part: their URL is used as given.

// Objects of the rotation.
const (
	// roleDBAppPassword labels the application roles' password Secrets,
	// <name>-db-app-a-v<N> and <name>-db-app-b-v<N>.
	roleDBAppPassword = "db-app-password"
	// roleMigrateConnection is <name>-migrate-connection: DATABASE_URL as the master
	// user, which only the migration Jobs read.
	roleMigrateConnection = "migrate-connection"
	// componentDBLogin labels the Jobs that set or withdraw an application role's login.
	// Their pods are labelled as migration pods, whose NetworkPolicy they need: none is
	// created before it is in place (storefront_network.go).
	componentDBLogin = "db-login"
	// annotationAppRole names the role of an application password Secret.
	annotationAppRole = "shop.storefront.dev/app-role"
	// envAppPassword is the application role's password for `shop migrate --app-role`.
	envAppPassword = "APP_PASSWORD"
)

// appPasswordSecretName is <name>-db-app-a-v<version> or <name>-db-app-b-v<version>.
func appPasswordSecretName(sf *shopv1alpha1.Storefront, role string, version int) string {
	return shortName(fmt.Sprintf("%s-db-%s-v%d", sf.Name, strings.ReplaceAll(role, "_", "-"), version))
}

// loginJobName names the Job of a SetPassword or RetireLogin step, by the step and the
// image it runs: the same step finds its Job again, and a new image runs it anew.
func loginJobName(sf *shopv1alpha1.Storefront, step appLoginStep, image string) string {
	verb := "login"
	if step.Action == appLoginRetire {
		verb = "retire"
	}
	return shortName(fmt.Sprintf("%s-db-%s-%s-v%d-%s", sf.Name, verb, strings.ReplaceAll(step.Role, "_", "-"), step.Version, shortHash(image)))
}

// appPassword is one version of an application role's password.
type appPassword struct {
	role     string
	version  int
	rotation string
	secret   *corev1.Secret
}

// listAppPasswords returns the Storefront's application password Secrets.
func (r *StorefrontReconciler) listAppPasswords(ctx context.Context, sf *shopv1alpha1.Storefront) ([]appPassword, error) {
	list := &corev1.SecretList{}
	if err := r.List(ctx, list, client.InNamespace(sf.Namespace), client.MatchingLabels(labels(sf, roleDBAppPassword))); err != nil {
		return nil, fmt.Errorf("listing application password secrets: %w", err)
	}
	var out []appPassword
	for i := range list.Items {
		s := &list.Items[i]
		v, err := strconv.Atoi(s.Annotations[annotationPasswordVersion])
		role := s.Annotations[annotationAppRole]
		if err != nil || v < 1 || (role != appRoleA && role != appRoleB) || len(s.Data[keyDBPassword]) == 0 {
			continue // not one of ours, or damaged: never used
		}
		out = append(out, appPassword{role: role, version: v, rotation: s.Annotations[annotationPasswordRotation], secret: s})
	}
	return out, nil
}

// findAppPassword is role's password version v, nil when its Secret is not there.
func findAppPassword(all []appPassword, role string, v int) *appPassword {
	for i := range all {
		if all[i].role == role && all[i].version == v {
			return &all[i]
		}
	}
	return nil
}

// readAppLogin is the state of the application login: the annotation, status, and the
// password Secrets that exist.
func readAppLogin(sf *shopv1alpha1.Storefront, secrets []appPassword) appLogin {
	s := appLogin{Annotation: sf.Annotations[shopv1alpha1.AnnotationRotateDBPassword], Roles: map[string]rolePassword{}}
	if c := sf.Status.Credentials; c != nil {
		s.Handled, s.Active, s.Retiring = c.HandledRotation, c.ActiveRole, c.RetiringRole
		for _, r := range c.Roles {
			s.Roles[r.Name] = rolePassword{Set: int(r.PasswordVersion), Withdrawn: r.LoginWithdrawn}
		}
	}
	for _, p := range secrets {
		if r := s.Roles[p.role]; p.version > r.Newest {
			r.Newest, r.NewestRotation = p.version, p.rotation
			s.Roles[p.role] = r
		}
	}
	return s
}

// recordAppLogin writes what status keeps of s: the roles, the active and retiring
// ones, the handled value. Secrets' versions are not status: the Secrets say them.
func recordAppLogin(sf *shopv1alpha1.Storefront, s appLogin) {
	c := sf.Status.Credentials
	if c == nil {
		c = &shopv1alpha1.CredentialsStatus{}
	}
	c.ActiveRole, c.RetiringRole, c.HandledRotation = s.Active, s.Retiring, s.Handled
	c.Roles = nil
	for _, name := range []string{appRoleA, appRoleB} {
		if r := s.Roles[name]; r.Set > 0 || r.Withdrawn {
			c.Roles = append(c.Roles, shopv1alpha1.AppRoleStatus{Name: name, PasswordVersion: int32(r.Set), LoginWithdrawn: r.Withdrawn})
		}
	}
	if c.ActiveRole == "" && c.RetiringRole == "" && c.HandledRotation == "" && len(c.Roles) == 0 && c.MasterPassword == nil {
		c = nil
	}
	sf.Status.Credentials = c
}

// loginProgress is how far the application login got in this reconcile, for the
// DatabaseReady condition.
type loginProgress struct {
	// message says what the rotation does or waits for; "" at rest.
	message string
	// failure is a login Job's failure, "" when none failed.
	failure string
}

// readMasterPassword is the state of the master password: the annotation, status, the
// versions that exist, and, once the DBCluster is known, the version it references and
// the one ACK applied (inUse, which the database phase checked ACK reported synced).
func readMasterPassword(sf *shopv1alpha1.Storefront, all []dbPassword, cluster *unstructured.Unstructured, inUse ...*dbPassword) masterPassword {
	s := masterPassword{Annotation: sf.Annotations[shopv1alpha1.AnnotationRotateMasterPassword]}
	if c := sf.Status.Credentials; c != nil && c.MasterPassword != nil {
		s.Handled = c.MasterPassword.HandledRotation
	}
	if n := len(all); n > 0 {
		s.Newest, s.NewestRotation = all[n-1].version, all[n-1].rotation
	}
	if cluster != nil {
		ref, _, _ := unstructured.NestedString(cluster.Object, "spec", "masterUserPassword", "name")
		for _, p := range all {
			if p.secret.Name == ref {
				s.Referenced = p.version
			}
		}
	}
	for _, p := range inUse {
		if p != nil {
			s.Applied = p.version
		}
	}
	return s
}

// observeMasterPassword records a finished master password rotation as handled, and
// says whether migrations may log in: not while ACK applies a new password, since a Job
// would start with the Secret of either.
func observeMasterPassword(s *scope, cluster *unstructured.Unstructured, all []dbPassword) {
	step := nextMasterPasswordStep(readMasterPassword(s.sf, all, cluster, s.dbPasswordInUse))
	s.masterPasswordSettled = step.MigrateWith > 0
	if step.Action != masterPasswordRecordHandled {
		return
	}
	c := s.sf.Status.Credentials
	if c == nil {
		c = &shopv1alpha1.CredentialsStatus{}
	}
	c.MasterPassword = &shopv1alpha1.MasterPasswordStatus{HandledRotation: step.Rotation}
	s.sf.Status.Credentials = c
}

// reconcileLogin is the phase that gives the shop an application role's login on an
// Aurora database (see the top of this file), before the connection Secret is composed.
// Until the first login is set up, the shop has no database it may use: nothing is
// migrated or rolled out, and pods that run (from before the roles) keep their URL.
func (r *StorefrontReconciler) reconcileLogin(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if sf.Spec.Database.Aurora == nil || s.database == nil {
		return ctrl.Result{}, nil
	}
	master := *s.database
	if s.masterPasswordSettled {
		// Jobs read the Secret when they start, so it changes only when ACK applied a
		// new master password, and no Job starts in between.
		s.migrateDatabase = &master
		if _, err := r.applyObject(ctx, desiredMigrateConnectionSecret(sf, r.Scheme, master.URL)); err != nil {
			return ctrl.Result{}, err
		}
	}
	secrets, err := r.listAppPasswords(ctx, sf)
	if err != nil {
		return ctrl.Result{}, err
	}
	state := readAppLogin(sf, secrets)
	if s.dbSwitch.pending {
		// A restored snapshot has the roles as they were when it was taken.
		state = state.onNewDatabase()
	}
	if err := r.advanceAppLogin(ctx, s, &state, &secrets, false); err != nil {
		return ctrl.Result{}, err
	}
	s.appLogin = &state

	if state.Active == "" {
		s.database = nil
		reason, msg := shopv1alpha1.ReasonProvisioning, s.login.message
		if s.login.failure != "" {
			reason, msg = shopv1alpha1.ReasonLoginFailed, s.login.failure
		}
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, reason, msg)
		return ctrl.Result{}, nil
	}
	pw := findAppPassword(secrets, state.Active, state.Roles[state.Active].Set)
	if pw == nil {
		// Deleted by hand: the shop keeps the URL it has until a rotation makes another.
		s.database = nil
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, shopv1alpha1.ReasonLoginFailed, fmt.Sprintf(
			"Secret %s, the password the shop logs in with as %s, is missing; annotate %s with a new value to rotate the login",
			appPasswordSecretName(sf, state.Active, state.Roles[state.Active].Set), state.Active, shopv1alpha1.AnnotationRotateDBPassword))
		return ctrl.Result{}, nil
	}
	app := master
	app.URL = auroraURL(state.Active, master.Host, master.Port, string(pw.secret.Data[keyDBPassword]), master.CABundle)
	s.database = &app
	r.reportLogin(s)
	return ctrl.Result{}, nil
}

// reportLogin puts a rotation's progress or failure on DatabaseReady, which the
// database phase set True. A failed Job makes it False: the shop keeps working with the
// login it has, but someone must look.
func (r *StorefrontReconciler) reportLogin(s *scope) {
	c := meta.FindStatusCondition(s.sf.Status.Conditions, shopv1alpha1.ConditionDatabaseReady)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != shopv1alpha1.ReasonDatabaseAvailable {
		return
	}
	const sep = "; the shop's login: "
	base, _, _ := strings.Cut(c.Message, sep)
	switch {
	case s.login.failure != "":
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, shopv1alpha1.ReasonLoginFailed, s.login.failure)
	case s.login.message != "":
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, true, shopv1alpha1.ReasonDatabaseAvailable, base+sep+s.login.message)
	case base != c.Message:
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, true, shopv1alpha1.ReasonDatabaseAvailable, base)
	}
}

// finishLoginRotation is the phase after the workload: once every pod of the shop reads
// the connection Secret that names the active role, the previous role's login is
// withdrawn, and the rotation is recorded as handled.
func (r *StorefrontReconciler) finishLoginRotation(ctx context.Context, s *scope) (ctrl.Result, error) {
	state := s.appLogin
	if state == nil || state.Active == "" {
		return ctrl.Result{}, nil
	}
	if state.Retiring != "" {
		rolledOut, err := r.loginRolledOut(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		state.RolledOut = rolledOut
	}
	secrets, err := r.listAppPasswords(ctx, s.sf)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.login = loginProgress{}
	if err := r.advanceAppLogin(ctx, s, state, &secrets, true); err != nil {
		return ctrl.Result{}, err
	}
	r.reportLogin(s)
	if s.login.message == "" && s.login.failure == "" {
		return ctrl.Result{}, r.deleteSupersededAppPasswords(ctx, *state, secrets)
	}
	return ctrl.Result{}, nil
}

// advanceAppLogin carries out the next steps until one must wait. late says the
// workload phase ran: the connection Secret is not composed again in this reconcile, so
// a switch waits for the next one.
func (r *StorefrontReconciler) advanceAppLogin(ctx context.Context, s *scope, state *appLogin, secrets *[]appPassword, late bool) error {
	sf := s.sf
	// Each step changes the state, and a rotation has at most seven: the bound only
	// guards against a decision that would repeat itself.
	for range 16 {
		step := nextAppLoginStep(*state)
		switch step.Action {
		case appLoginNothing:
			s.login.message = ""
			return nil
		case appLoginWait:
			s.login.message = step.Message
			return nil
		case appLoginCreateSecret:
			p, err := r.createAppPassword(ctx, sf, step)
			if err != nil {
				return err
			}
			if p == nil {
				s.login.message = step.Message // its Create event brings us back
				return nil
			}
			*secrets = append(*secrets, *p)
		case appLoginSetPassword, appLoginRetire:
			if late && step.Action == appLoginSetPassword {
				// The phase before the workload takes a set password and switches in
				// one go; taking it here would write "set, not active" to status
				// for a reconcile, a step of no use to anyone watching.
				s.login.message = step.Message
				return nil
			}
			done, failure, err := r.runLoginJob(ctx, s, step, *secrets)
			if err != nil {
				return err
			}
			if !done {
				s.login.message, s.login.failure = step.Message, failure
				if !s.network.jobsIsolated {
					s.login.message += "; " + jobsWaitForPolicyNote
				}
				return nil
			}
		case appLoginSwitch:
			if late {
				s.login.message = step.Message
				return nil
			}
			log.FromContext(ctx).Info("Switching the shop's database login", "role", step.Role, "retiring", step.Retire)
		case appLoginRecordHandled:
			log.FromContext(ctx).Info("Database login rotation done", "rotation", step.Rotation, "role", state.Active)
		}
		*state = state.after(step)
		recordAppLogin(sf, *state)
	}
	return fmt.Errorf("the database login's rotation did not settle (last state: active %q, retiring %q)", state.Active, state.Retiring)
}

// createAppPassword creates the Secret of a CreateSecret step. It returns nil when the
// Secret exists but cannot be read yet.
func (r *StorefrontReconciler) createAppPassword(ctx context.Context, sf *shopv1alpha1.Storefront, step appLoginStep) (*appPassword, error) {
	secret, err := desiredAppPasswordSecret(sf, r.Scheme, step.Role, step.Version, step.Rotation)
	if err != nil {
		return nil, err
	}
	log.FromContext(ctx).Info("Creating application password secret", "secret", klog.KObj(secret), "role", step.Role, "version", step.Version)
	err = r.Create(ctx, secret, client.FieldOwner(fieldOwner))
	if apierrors.IsAlreadyExists(err) && r.APIReader != nil {
		// Made by an earlier reconcile the cache has not caught up with: use it, never
		// another password.
		err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(secret), secret)
	}
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("creating secret %s: %w", secret.Name, err)
	}
	return &appPassword{role: step.Role, version: step.Version, rotation: secret.Annotations[annotationPasswordRotation], secret: secret}, nil
}

// desiredAppPasswordSecret is version v of role's password, generated now. The
// Storefront owns it whatever the deletion policy: a kept database is opened with the
// master password, and migrate sets the roles' passwords anew.
func desiredAppPasswordSecret(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, role string, v int, rotation string) (*corev1.Secret, error) {
	password, err := randomString(dbPasswordLength)
	if err != nil {
		return nil, fmt.Errorf("generating the password of %s: %w", role, err)
	}
	meta := objectMeta(sf, appPasswordSecretName(sf, role, v), roleDBAppPassword)
	meta.Annotations = map[string]string{
		annotationAppRole:          role,
		annotationPasswordVersion:  strconv.Itoa(v),
		annotationPasswordRotation: rotation,
	}
	secret := &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{keyDBPassword: []byte(password)}}
	if err := controllerutil.SetControllerReference(sf, secret, scheme); err != nil {
		return nil, err
	}
	return secret, nil
}

// desiredMigrateConnectionSecret is <name>-migrate-connection: the master user's URL,
// read by the migration Jobs only (the pods' checksum does not include it, so a new
// master password rolls no pod).
func desiredMigrateConnectionSecret(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, url string) *corev1.Secret {
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleMigrateConnection), roleMigrateConnection),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{keyDatabaseURL: []byte(url)},
	}
	own(sf, secret)
	return secret
}

// runLoginJob runs the Job of a SetPassword or RetireLogin step with the image the shop
// runs (spec.image before anything was migrated), and reports whether it completed, or
// why it failed. A failed Job is not run again until it is deleted (by hand, or by its
// TTL a day later) or the image changes.
func (r *StorefrontReconciler) runLoginJob(ctx context.Context, s *scope, step appLoginStep, secrets []appPassword) (done bool, failure string, err error) {
	sf := s.sf
	image := sf.Status.MigratedImage
	if image == "" {
		image = sf.Spec.Image
	}
	name := loginJobName(sf, step, image)
	job := &batchv1.Job{}
	err = r.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, job)
	if apierrors.IsNotFound(err) {
		if s.migrateDatabase == nil {
			return false, "", nil // ACK is applying a new master password
		}
		if !s.network.jobsIsolated {
			// Its pods would run as the master user with no NetworkPolicy: it waits for
			// <name>-migrate, which waits for the cache's endpoint (storefront_network.go).
			return false, "", nil
		}
		if step.Action == appLoginSetPassword && findAppPassword(secrets, step.Role, step.Version) == nil {
			return false, "", nil // created in this reconcile, not in the cache yet: its event brings us back
		}
		if _, err := r.applyObject(ctx, r.shopServiceAccount(sf)); err != nil {
			return false, "", err
		}
		job, err := desiredLoginJob(sf, r.Scheme, image, step, s.migrateDatabase)
		if err != nil {
			return false, "", err
		}
		log.FromContext(ctx).Info("Creating database login Job", "job", klog.KObj(job), "step", string(step.Action), "role", step.Role)
		if err := r.Create(ctx, job, client.FieldOwner(fieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, "", fmt.Errorf("creating job %s: %w", job.Name, err)
		}
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("reading job %s: %w", name, err)
	}
	switch state, cond := migrationJobState(job); state {
	case jobComplete:
		return true, "", nil
	case jobFailed:
		msg := fmt.Sprintf("Job %s failed: %s: %s", job.Name, cond.Reason, cond.Message)
		if cause := r.podFailure(ctx, job); cause != "" {
			msg += "; the migration said: " + cause
		}
		return false, msg + "; delete the Job to run it again", nil
	}
	return false, "", nil
}

// desiredLoginJob is the Job that runs `shop migrate --app-role=R` (with R's password
// from its Secret) or `shop migrate --retire-role=R` as the master user.
func desiredLoginJob(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, image string, step appLoginStep, db *storeEndpoint) (*batchv1.Job, error) {
	login := migrateLogin{masterSecret: objectName(sf, roleMigrateConnection), args: step.migrateArgs()}
	if step.Action == appLoginSetPassword {
		login.passwordSecret = appPasswordSecretName(sf, step.Role, step.Version)
	}
	container := corev1.Container{
		Name:                     migrateContainerName,
		Image:                    image,
		Command:                  []string{shopBinary},
		Args:                     []string{"migrate"},
		Env:                      withoutEnv(shopEnv(sf), envRedisURL), // role changes need no cache
		Resources:                shopResources(sf),
		SecurityContext:          containerSecurityContext(),
		VolumeMounts:             shopVolumeMounts(db),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	login.apply(&container)
	meta := objectMeta(sf, loginJobName(sf, step, image), componentDBLogin)
	meta.Annotations = map[string]string{annotationImage: image, annotationAppRole: step.Role}
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

// migrateLogin is how a migration Job logs in and what it does with the application
// roles: DATABASE_URL from masterSecret ("" keeps the connection Secret's: an external
// database, used as given), the role arguments, and APP_PASSWORD from passwordSecret.
// Passwords come from Secrets through the environment, never in arguments.
type migrateLogin struct {
	masterSecret   string
	args           []string
	passwordSecret string
}

// migrationMayStart says whether a migration Job may start as far as the master
// password goes: not on Aurora while ACK applies a new one. (A database that is not
// ready stops it anyway, and says so.)
func (s *scope) migrationMayStart() bool {
	return s.sf.Spec.Database.Aurora == nil || s.database == nil || s.migrateDatabase != nil
}

// migrateLogin is the login of the image's migration Job: as the master user, keeping
// the active role with the password it has (see imageMigrateArgs).
func (s *scope) migrateLogin() migrateLogin {
	if s.sf.Spec.Database.Aurora == nil || s.appLogin == nil {
		return migrateLogin{}
	}
	login := migrateLogin{masterSecret: objectName(s.sf, roleMigrateConnection)}
	args, version := imageMigrateArgs(*s.appLogin, s.dbSwitch.pending)
	login.args = args
	if version > 0 {
		login.passwordSecret = appPasswordSecretName(s.sf, s.appLogin.Active, version)
	}
	return login
}

// withoutEnv is env without the variable name.
func withoutEnv(env []corev1.EnvVar, name string) []corev1.EnvVar {
	out := env[:0:0]
	for _, e := range env {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

// apply sets the login on a migration container.
func (m migrateLogin) apply(c *corev1.Container) {
	if m.masterSecret != "" {
		for i := range c.Env {
			if c.Env[i].Name == envDatabaseURL {
				c.Env[i] = secretEnv(envDatabaseURL, m.masterSecret, keyDatabaseURL, false)
			}
		}
	}
	c.Args = append(c.Args, m.args...)
	if m.passwordSecret != "" {
		c.Env = append(c.Env, secretEnv(envAppPassword, m.passwordSecret, keyDBPassword, false))
	}
}

// loginRolledOut reports whether no pod of the shop can still log in with the retiring
// role: the Deployment's template has the current checksum, its controller has seen it,
// every pod belongs to it, and no pod of an older template is left, terminating ones
// included (they open connections while they drain).
func (r *StorefrontReconciler) loginRolledOut(ctx context.Context, s *scope) (bool, error) {
	d := &appsv1.Deployment{}
	err := r.Get(ctx, client.ObjectKey{Namespace: s.sf.Namespace, Name: objectName(s.sf, roleShop)}, d)
	if apierrors.IsNotFound(err) {
		return s.configChecksum != "", nil // no Deployment, no pod of it
	}
	if err != nil {
		return false, fmt.Errorf("reading deployment: %w", err)
	}
	st := d.Status
	if s.configChecksum == "" || d.Spec.Template.Annotations[annotationConfigChecksum] != s.configChecksum ||
		st.ObservedGeneration < d.Generation || st.UpdatedReplicas != st.Replicas || ptr.Deref(st.TerminatingReplicas, 0) > 0 {
		return false, nil
	}
	if r.APIReader == nil || d.Spec.Selector == nil {
		return true, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return false, fmt.Errorf("reading the deployment's selector: %w", err)
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(s.sf.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return false, fmt.Errorf("listing the shop's pods: %w", err)
	}
	for _, p := range pods.Items {
		if p.Annotations[annotationConfigChecksum] != s.configChecksum {
			return false, nil
		}
	}
	return true, nil
}

// deleteSupersededAppPasswords deletes, at rest, each role's password versions older
// than its newest: no Job or pod refers to them any more.
func (r *StorefrontReconciler) deleteSupersededAppPasswords(ctx context.Context, state appLogin, secrets []appPassword) error {
	for _, p := range secrets {
		if p.version >= state.Roles[p.role].Newest || !p.secret.DeletionTimestamp.IsZero() {
			continue
		}
		log.FromContext(ctx).Info("Deleting superseded application password secret", "secret", klog.KObj(p.secret))
		if err := r.Delete(ctx, p.secret); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting secret %s: %w", p.secret.Name, err)
		}
	}
	return nil
}
