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
	"fmt"
	"maps"
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
// Everything here decides; nothing acts. The reconciler reads the state, asks for the
// next step, carries it out, and records it (after) once it is done; the next reconcile
// asks again. Each step is safe to repeat until it is recorded.
//
// The state maps to these status fields (to be added to api/v1alpha1 with the wiring):
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
	// appLoginRetire: run the migration Job with `--retire-role=Role`; record Withdrawn.
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
		return appLoginStep{Action: appLoginRetire, Role: s.Retiring,
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
// an annotation of its own (proposed: shop.storefront.dev/rotate-master-password), since
// rotate-db-password now rotates the shop's login.
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
