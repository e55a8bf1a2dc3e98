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
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// steadyOnA is a Storefront serving as app_a with password v1, never rotated.
func steadyOnA() appLogin {
	return appLogin{Active: appRoleA, Roles: map[string]rolePassword{appRoleA: {Newest: 1, Set: 1}}, RolledOut: true}
}

// with returns s changed by f, for building cases from a base state.
func with(s appLogin, f func(*appLogin)) appLogin {
	s.Roles = maps.Clone(s.Roles)
	f(&s)
	return s
}

// onB is the state after the rotation "r1" moved the shop to app_b and withdrew app_a.
func onB() appLogin {
	return appLogin{Annotation: "r1", Handled: "r1", Active: appRoleB, RolledOut: true, Roles: map[string]rolePassword{
		appRoleA: {Newest: 1, Set: 1, Withdrawn: true},
		appRoleB: {Newest: 1, NewestRotation: "r1", Set: 1},
	}}
}

func TestRotationAppLoginStep(t *testing.T) {
	tests := map[string]struct {
		state appLogin
		want  appLoginStep
	}{
		"a new Storefront creates app_a's first password": {
			appLogin{}, appLoginStep{Action: appLoginCreateSecret, Role: appRoleA, Version: 1}},
		"an annotation already there is what the first password answers, so it does not rotate again": {
			appLogin{Annotation: "r0"}, appLoginStep{Action: appLoginCreateSecret, Role: appRoleA, Version: 1, Rotation: "r0"}},
		"the first password is set by the migration Job before any pod uses it": {
			appLogin{Roles: map[string]rolePassword{appRoleA: {Newest: 1}}}, appLoginStep{Action: appLoginSetPassword, Role: appRoleA, Version: 1}},
		"once set, the connection Secret names app_a, and there is no login to withdraw": {
			appLogin{Roles: map[string]rolePassword{appRoleA: {Newest: 1, Set: 1}}}, appLoginStep{Action: appLoginSwitch, Role: appRoleA, Version: 1}},
		"serving as app_a, never rotated: nothing": {
			steadyOnA(), appLoginStep{Action: appLoginNothing}},
		"the handled value again: nothing": {
			with(onB(), func(s *appLogin) {}), appLoginStep{Action: appLoginNothing}},
		"the annotation removed: nothing": {
			with(onB(), func(s *appLogin) { s.Annotation = "" }), appLoginStep{Action: appLoginNothing}},
		"a new value creates a password for the inactive role": {
			with(steadyOnA(), func(s *appLogin) { s.Annotation = "r1" }),
			appLoginStep{Action: appLoginCreateSecret, Role: appRoleB, Version: 1, Rotation: "r1"}},
		"the inactive role's new password is set by a Job while the pods keep app_a": {
			with(steadyOnA(), func(s *appLogin) {
				s.Annotation = "r1"
				s.Roles[appRoleB] = rolePassword{Newest: 1, NewestRotation: "r1"}
			}),
			appLoginStep{Action: appLoginSetPassword, Role: appRoleB, Version: 1}},
		"once set, the connection Secret switches to app_b, whose login app_a's will follow out": {
			with(steadyOnA(), func(s *appLogin) {
				s.Annotation = "r1"
				s.Roles[appRoleB] = rolePassword{Newest: 1, NewestRotation: "r1", Set: 1}
			}),
			appLoginStep{Action: appLoginSwitch, Role: appRoleB, Version: 1, Retire: appRoleA}},
		"app_a keeps its login while pods of the old template are left": {
			with(onB(), func(s *appLogin) {
				s.Handled, s.Retiring, s.RolledOut = "", appRoleA, false
				s.Roles[appRoleA] = rolePassword{Newest: 1, Set: 1}
			}),
			appLoginStep{Action: appLoginWait, Role: appRoleA}},
		"after the rollout, app_a's login is withdrawn (by a Job named for the version it had)": {
			with(onB(), func(s *appLogin) {
				s.Handled, s.Retiring = "", appRoleA
				s.Roles[appRoleA] = rolePassword{Newest: 1, Set: 1}
			}),
			appLoginStep{Action: appLoginRetire, Role: appRoleA, Version: 1}},
		"then the value the new password was made for is recorded": {
			with(onB(), func(s *appLogin) { s.Handled = "" }),
			appLoginStep{Action: appLoginRecordHandled, Rotation: "r1"}},
		"a rotation does not start while the previous one waits for its rollout": {
			with(onB(), func(s *appLogin) {
				s.Annotation, s.Handled, s.Retiring, s.RolledOut = "r2", "", appRoleA, false
				s.Roles[appRoleA] = rolePassword{Newest: 1, Set: 1}
			}),
			appLoginStep{Action: appLoginWait, Role: appRoleA}},
		"the next rotation gives app_a a password it never had": {
			with(onB(), func(s *appLogin) { s.Annotation = "r2" }),
			appLoginStep{Action: appLoginCreateSecret, Role: appRoleA, Version: 2, Rotation: "r2"}},
		"a value used before, set again later, rotates to a fresh password, never the withdrawn one": {
			with(onB(), func(s *appLogin) {
				s.Annotation = "r0"
				s.Roles[appRoleA] = rolePassword{Newest: 1, NewestRotation: "r0", Set: 1, Withdrawn: true}
			}),
			appLoginStep{Action: appLoginCreateSecret, Role: appRoleA, Version: 2, Rotation: "r0"}},
		"a started rotation finishes when the annotation is removed": {
			with(steadyOnA(), func(s *appLogin) { s.Roles[appRoleB] = rolePassword{Newest: 1, NewestRotation: "r1"} }),
			appLoginStep{Action: appLoginSetPassword, Role: appRoleB, Version: 1}},
		"a started rotation finishes with its own Secret when the value changes again": {
			with(steadyOnA(), func(s *appLogin) {
				s.Annotation = "r2"
				s.Roles[appRoleB] = rolePassword{Newest: 1, NewestRotation: "r1"}
			}),
			appLoginStep{Action: appLoginSetPassword, Role: appRoleB, Version: 1}},
		"a password Secret that vanished is replaced by a newer version, never reused": {
			with(onB(), func(s *appLogin) { s.Annotation = "r2"; s.Roles[appRoleA] = rolePassword{Set: 2, Withdrawn: true} }),
			appLoginStep{Action: appLoginCreateSecret, Role: appRoleA, Version: 3, Rotation: "r2"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := nextAppLoginStep(tt.state)
			if got.Message == "" {
				t.Error("no message for the condition")
			}
			got.Message = ""
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// podLogin is a role and password version a pod holds.
type podLogin struct {
	role    string
	version int
}

// rotate plays the reconciler and the world until the login settles: each step is
// carried out and recorded; a rollout finishes when the decision waits for it. hook
// may change the annotation before step i. It fails the test if a pod ever holds a
// password the database would refuse, or a step repeats forever.
func rotate(t *testing.T, s appLogin, hook func(i int, s *appLogin)) (appLogin, []string) {
	t.Helper()
	pods := map[podLogin]bool{}
	if s.Active != "" {
		pods[podLogin{s.Active, s.Roles[s.Active].Set}] = true
	}
	var trace []string
	for i := 0; i < 30; i++ {
		if hook != nil {
			hook(i, &s)
		}
		step := nextAppLoginStep(s)
		trace = append(trace, describeStep(step))
		switch step.Action {
		case appLoginNothing:
			return s, trace
		case appLoginWait:
			// The pods roll to the connection Secret: the old ones are gone.
			pods = map[podLogin]bool{{s.Active, s.Roles[s.Active].Set}: true}
			s.RolledOut = true
			continue
		case appLoginSwitch:
			pods[podLogin{step.Role, step.Version}] = true
			s.RolledOut = false
		}
		s = s.after(step)
		for p := range pods {
			if r := s.Roles[p.role]; r.Set != p.version || r.Withdrawn {
				t.Fatalf("after %s a pod holds %s's password v%d, which the database refuses (%+v); trace %v", describeStep(step), p.role, p.version, r, trace)
			}
		}
		if step.Action == appLoginSwitch && s.Retiring == "" {
			pods = map[podLogin]bool{{step.Role, step.Version}: true}
		}
	}
	t.Fatalf("the login did not settle: %v", trace)
	return s, trace
}

func describeStep(s appLoginStep) string {
	switch s.Action {
	case appLoginCreateSecret:
		return fmt.Sprintf("CreateSecret %s v%d for %q", s.Role, s.Version, s.Rotation)
	case appLoginSetPassword, appLoginSwitch:
		return fmt.Sprintf("%s %s v%d", s.Action, s.Role, s.Version)
	case appLoginRetire, appLoginWait:
		return fmt.Sprintf("%s %s", s.Action, s.Role)
	case appLoginRecordHandled:
		return fmt.Sprintf("RecordHandled %q", s.Rotation)
	}
	return string(s.Action)
}

func TestRotationAppLoginSequences(t *testing.T) {
	tests := map[string]struct {
		start appLogin
		hook  func(i int, s *appLogin)
		want  []string
		end   func(t *testing.T, s appLogin)
	}{
		"a new Storefront logs in as app_a": {
			start: appLogin{},
			want:  []string{`CreateSecret app_a v1 for ""`, "SetPassword app_a v1", "SwitchConnection app_a v1", "Nothing"},
		},
		"a new Storefront with the annotation already set does not rotate": {
			start: appLogin{Annotation: "r0"},
			want:  []string{`CreateSecret app_a v1 for "r0"`, "SetPassword app_a v1", "SwitchConnection app_a v1", `RecordHandled "r0"`, "Nothing"},
		},
		"a rotation: new password on app_b, switch, rollout, app_a withdrawn, recorded": {
			start: with(steadyOnA(), func(s *appLogin) { s.Annotation = "r1" }),
			want: []string{`CreateSecret app_b v1 for "r1"`, "SetPassword app_b v1", "SwitchConnection app_b v1", "Wait app_a",
				"RetireLogin app_a", `RecordHandled "r1"`, "Nothing"},
			end: func(t *testing.T, s appLogin) {
				if s.Active != appRoleB || s.Handled != "r1" || !s.Roles[appRoleA].Withdrawn || s.Roles[appRoleB].Withdrawn {
					t.Errorf("end state %+v", s)
				}
			},
		},
		"the rotation after that comes back to app_a with a new password": {
			start: with(onB(), func(s *appLogin) { s.Annotation = "r2" }),
			want: []string{`CreateSecret app_a v2 for "r2"`, "SetPassword app_a v2", "SwitchConnection app_a v2", "Wait app_b",
				"RetireLogin app_b", `RecordHandled "r2"`, "Nothing"},
		},
		"a value that arrives during a rotation gets a rotation of its own afterwards": {
			start: with(steadyOnA(), func(s *appLogin) { s.Annotation = "r1" }),
			hook: func(i int, s *appLogin) {
				if i == 2 {
					s.Annotation = "r2"
				}
			},
			want: []string{`CreateSecret app_b v1 for "r1"`, "SetPassword app_b v1", "SwitchConnection app_b v1", "Wait app_a",
				"RetireLogin app_a", `RecordHandled "r1"`,
				`CreateSecret app_a v2 for "r2"`, "SetPassword app_a v2", "SwitchConnection app_a v2", "Wait app_b",
				"RetireLogin app_b", `RecordHandled "r2"`, "Nothing"},
		},
		"removing the annotation during a rotation lets it finish, and then nothing": {
			start: with(steadyOnA(), func(s *appLogin) { s.Annotation = "r1" }),
			hook: func(i int, s *appLogin) {
				if i == 1 {
					s.Annotation = ""
				}
			},
			want: []string{`CreateSecret app_b v1 for "r1"`, "SetPassword app_b v1", "SwitchConnection app_b v1", "Wait app_a",
				"RetireLogin app_a", `RecordHandled "r1"`, "Nothing"},
		},
		"removing the annotation afterwards does nothing": {
			start: with(onB(), func(s *appLogin) { s.Annotation = "" }),
			want:  []string{"Nothing"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			end, trace := rotate(t, tt.start, tt.hook)
			if !slices.Equal(trace, tt.want) {
				t.Errorf("steps\n  %s\nwant\n  %s", strings.Join(trace, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if tt.end != nil {
				tt.end(t, end)
			}
		})
	}
}

func TestRotationMigrateArgs(t *testing.T) {
	tests := map[string]struct {
		step appLoginStep
		want []string
	}{
		"setting a password names the role; the password comes from its Secret": {appLoginStep{Action: appLoginSetPassword, Role: appRoleB, Version: 3}, []string{"--app-role=app_b"}},
		"withdrawing a login names the role":                                    {appLoginStep{Action: appLoginRetire, Role: appRoleA}, []string{"--retire-role=app_a"}},
		"a switch needs no Job":                                                 {appLoginStep{Action: appLoginSwitch, Role: appRoleB, Version: 3}, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.step.migrateArgs(); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRotationImageMigrateArgs(t *testing.T) {
	midRotation := with(steadyOnA(), func(s *appLogin) { s.Roles[appRoleB] = rolePassword{Newest: 1, NewestRotation: "r1", Set: 1} })
	tests := map[string]struct {
		state       appLogin
		newDatabase bool
		want        []string
		version     int
	}{
		"before the first login, the first login's steps say it all":   {appLogin{}, false, nil, 0},
		"a new image sets the active role's password it already has":   {steadyOnA(), false, []string{"--app-role=app_a"}, 1},
		"on a new database the inactive role's login is withdrawn too": {onB(), true, []string{"--app-role=app_b", "--retire-role=app_a"}, 1},
		"a role never set is kept without login on a new database":     {steadyOnA(), true, []string{"--app-role=app_a", "--retire-role=app_b"}, 1},
		"a role on its way in keeps its login":                         {midRotation, true, []string{"--app-role=app_a"}, 1},
		"a role pods still use during the rollout keeps its login": {
			with(onB(), func(s *appLogin) { s.Retiring = appRoleA; s.Roles[appRoleA] = rolePassword{Newest: 1, Set: 1} }), true, []string{"--app-role=app_b"}, 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			args, v := imageMigrateArgs(tt.state, tt.newDatabase)
			if !slices.Equal(args, tt.want) || v != tt.version {
				t.Errorf("got %q v%d, want %q v%d", args, v, tt.want, tt.version)
			}
		})
	}

	// On a new database, the password of a role on its way in is set again before the switch.
	if got := nextAppLoginStep(midRotation.onNewDatabase()); got.Action != appLoginSetPassword || got.Role != appRoleB || got.Version != 1 {
		t.Errorf("mid-rotation on a new database: %+v", got)
	}
	if got := nextAppLoginStep(midRotation); got.Action != appLoginSwitch {
		t.Errorf("mid-rotation on the same database: %+v", got)
	}
	for name, s := range map[string]appLogin{"steady": steadyOnA(), "withdrawn": onB(), "first": {}} {
		if got := s.onNewDatabase(); !reflect.DeepEqual(got, s) {
			t.Errorf("%s: a new database changed %+v into %+v", name, s, got)
		}
	}
}

func TestRotationMasterPasswordStep(t *testing.T) {
	tests := map[string]struct {
		state masterPassword
		want  masterPasswordStep
	}{
		"a new Storefront creates v1 before any DBCluster": {
			masterPassword{}, masterPasswordStep{Action: masterPasswordCreateSecret, Version: 1}},
		"the DBCluster is made to reference v1 once it exists": {
			masterPassword{Newest: 1}, masterPasswordStep{Action: masterPasswordReference, Version: 1}},
		"no migration starts before ACK applied it": {
			masterPassword{Newest: 1, Referenced: 1}, masterPasswordStep{Action: masterPasswordWait, Version: 1}},
		"applied: migrations log in with v1": {
			masterPassword{Newest: 1, Referenced: 1, Applied: 1}, masterPasswordStep{Action: masterPasswordNothing, MigrateWith: 1}},
		"an annotation there at creation is recorded once v1 is applied, and rotates nothing": {
			masterPassword{Annotation: "m0", Newest: 1, NewestRotation: "m0", Referenced: 1, Applied: 1},
			masterPasswordStep{Action: masterPasswordRecordHandled, Rotation: "m0", MigrateWith: 1}},
		"a new value creates v2 first; ACK and migrations stay on v1": {
			masterPassword{Annotation: "m1", Handled: "m0", Newest: 1, NewestRotation: "m0", Referenced: 1, Applied: 1},
			masterPasswordStep{Action: masterPasswordCreateSecret, Version: 2, Rotation: "m1", MigrateWith: 1}},
		"v2 exists: the DBCluster is pointed at it": {
			masterPassword{Annotation: "m1", Handled: "m0", Newest: 2, NewestRotation: "m1", Referenced: 1, Applied: 1},
			masterPasswordStep{Action: masterPasswordReference, Version: 2, MigrateWith: 1}},
		"while RDS changes the password no migration starts": {
			masterPassword{Annotation: "m1", Handled: "m0", Newest: 2, NewestRotation: "m1", Referenced: 2, Applied: 1},
			masterPasswordStep{Action: masterPasswordWait, Version: 2}},
		"applied: the value is recorded, migrations use v2": {
			masterPassword{Annotation: "m1", Handled: "m0", Newest: 2, NewestRotation: "m1", Referenced: 2, Applied: 2},
			masterPasswordStep{Action: masterPasswordRecordHandled, Rotation: "m1", MigrateWith: 2}},
		"the handled value again does nothing": {
			masterPassword{Annotation: "m1", Handled: "m1", Newest: 2, NewestRotation: "m1", Referenced: 2, Applied: 2},
			masterPasswordStep{Action: masterPasswordNothing, MigrateWith: 2}},
		"removing the annotation does nothing": {
			masterPassword{Handled: "m1", Newest: 2, NewestRotation: "m1", Referenced: 2, Applied: 2},
			masterPasswordStep{Action: masterPasswordNothing, MigrateWith: 2}},
		"a value used before, set again later, makes a new version": {
			masterPassword{Annotation: "m0", Handled: "m1", Newest: 2, NewestRotation: "m1", Referenced: 2, Applied: 2},
			masterPasswordStep{Action: masterPasswordCreateSecret, Version: 3, Rotation: "m0", MigrateWith: 2}},
		"a started rotation finishes when the annotation is removed": {
			masterPassword{Handled: "m0", Newest: 2, NewestRotation: "m1", Referenced: 1, Applied: 1},
			masterPasswordStep{Action: masterPasswordReference, Version: 2, MigrateWith: 1}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := nextMasterPasswordStep(tt.state)
			if got.Message == "" {
				t.Error("no message for the condition")
			}
			got.Message = ""
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// ACK holds a Secret that is missing on an update against the DBCluster as Terminal:
// whatever the state, only a version that exists is ever referenced.
func TestRotationMasterPasswordReferencesOnlyExistingSecrets(t *testing.T) {
	for newest := 0; newest <= 3; newest++ {
		for ref := 0; ref <= 3; ref++ {
			for applied := 0; applied <= ref; applied++ {
				for _, ann := range []string{"", "m1", "m2"} {
					s := masterPassword{Annotation: ann, Handled: "m1", Newest: newest, NewestRotation: "m1", Referenced: ref, Applied: applied}
					step := nextMasterPasswordStep(s)
					if step.Action == masterPasswordReference && (step.Version != newest || newest == 0) {
						t.Errorf("%+v: references v%d", s, step.Version)
					}
					if step.MigrateWith != 0 && (step.MigrateWith != applied || applied != ref) {
						t.Errorf("%+v: migrates with v%d while ACK applies v%d", s, step.MigrateWith, ref)
					}
				}
			}
		}
	}
}

// secretRefOf is where env var name of a container comes from: "<secret>/<key>", or
// "value" when it is given literally (a password must never be).
func secretRefOf(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			return "value"
		}
		return e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
	}
	return ""
}

func TestRotationImageMigrationJobLogin(t *testing.T) {
	aurora := func() *shopv1alpha1.Storefront {
		sf := storefrontNamed("acme")
		sf.Spec.Database.Aurora = &shopv1alpha1.AuroraDatabase{}
		return sf
	}
	external := storefrontNamed("acme")
	external.Spec.Database.External = &shopv1alpha1.ExternalStore{URLSecretRef: shopv1alpha1.SecretKeyRef{Name: "acme-db", Key: "url"}}
	onBv2 := with(onB(), func(s *appLogin) { s.Roles[appRoleB] = rolePassword{Newest: 2, Set: 2} })
	tests := map[string]struct {
		sf           *shopv1alpha1.Storefront
		state        *appLogin
		wantArgs     []string
		wantURL      string
		wantPassword string
	}{
		"an external database: its URL as given, no role": {
			external, nil, []string{"migrate", "--seed=none"}, "acme-connection/DATABASE_URL", ""},
		"Aurora before the first login: the master user, no role": {
			aurora(), &appLogin{}, []string{"migrate", "--seed=none"}, "acme-migrate-connection/DATABASE_URL", ""},
		"Aurora serving as app_b: the master user keeps app_b with the password it has": {
			aurora(), &onBv2, []string{"migrate", "--seed=none", "--app-role=app_b"}, "acme-migrate-connection/DATABASE_URL", "acme-db-app-b-v2/password"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &scope{sf: tc.sf, appLogin: tc.state}
			job, err := desiredMigrationJob(tc.sf, testScheme, imageV2, "", &storeEndpoint{}, nil, s.migrateLogin())
			if err != nil {
				t.Fatal(err)
			}
			c := job.Spec.Template.Spec.Containers[0]
			if !slices.Equal(c.Args, tc.wantArgs) {
				t.Errorf("args %q, want %q", c.Args, tc.wantArgs)
			}
			if got := secretRefOf(c.Env, envDatabaseURL); got != tc.wantURL {
				t.Errorf("DATABASE_URL from %q, want %q", got, tc.wantURL)
			}
			if got := secretRefOf(c.Env, envAppPassword); got != tc.wantPassword {
				t.Errorf("APP_PASSWORD from %q, want %q", got, tc.wantPassword)
			}
		})
	}
}

func TestRotationLoginJob(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.Spec.Database.Aurora = &shopv1alpha1.AuroraDatabase{}
	tests := map[string]struct {
		step         appLoginStep
		wantName     string
		wantArgs     []string
		wantPassword string
	}{
		"setting app_b's password v3": {
			appLoginStep{Action: appLoginSetPassword, Role: appRoleB, Version: 3},
			"acme-db-login-app-b-v3-" + shortHash(imageV2), []string{"migrate", "--app-role=app_b"}, "acme-db-app-b-v3/password"},
		"withdrawing app_a's login": {
			appLoginStep{Action: appLoginRetire, Role: appRoleA, Version: 1},
			"acme-db-retire-app-a-v1-" + shortHash(imageV2), []string{"migrate", "--retire-role=app_a"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			job, err := desiredLoginJob(sf, testScheme, imageV2, tc.step, &storeEndpoint{})
			if err != nil {
				t.Fatal(err)
			}
			if job.Name != tc.wantName {
				t.Errorf("name %q, want %q", job.Name, tc.wantName)
			}
			c := job.Spec.Template.Spec.Containers[0]
			if !slices.Equal(c.Args, tc.wantArgs) {
				t.Errorf("args %q, want %q", c.Args, tc.wantArgs)
			}
			if got := secretRefOf(c.Env, envDatabaseURL); got != "acme-migrate-connection/DATABASE_URL" {
				t.Errorf("DATABASE_URL from %q, want the master user's", got)
			}
			if got := secretRefOf(c.Env, envAppPassword); got != tc.wantPassword {
				t.Errorf("APP_PASSWORD from %q, want %q", got, tc.wantPassword)
			}
			// The migration phase lists its Jobs by their label and deletes the
			// superseded ones: a login Job must not be one of them, but its pod needs the
			// migration pods' NetworkPolicy.
			if got := job.Labels[labelComponent]; got != componentDBLogin {
				t.Errorf("the Job's component is %q, want %q", got, componentDBLogin)
			}
			if got := job.Spec.Template.Labels[labelComponent]; got != componentMigration {
				t.Errorf("the pod's component is %q, want %q", got, componentMigration)
			}
		})
	}
}

func TestRotationStatusRoundTrip(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateDBPassword: "r2"}
	s := with(onB(), func(s *appLogin) { s.Retiring = appRoleA; s.Roles[appRoleA] = rolePassword{Newest: 1, Set: 1} })
	recordAppLogin(sf, s)
	want := &shopv1alpha1.CredentialsStatus{ActiveRole: appRoleB, RetiringRole: appRoleA, HandledRotation: "r1", Roles: []shopv1alpha1.AppRoleStatus{
		{Name: appRoleA, PasswordVersion: 1}, {Name: appRoleB, PasswordVersion: 1}}}
	if !reflect.DeepEqual(sf.Status.Credentials, want) {
		t.Fatalf("status %+v, want %+v", sf.Status.Credentials, want)
	}
	secrets := []appPassword{{role: appRoleA, version: 1}, {role: appRoleB, version: 1, rotation: "r1"}, {role: appRoleB, version: 2, rotation: "r2"}}
	got := readAppLogin(sf, secrets)
	wantState := appLogin{Annotation: "r2", Handled: "r1", Active: appRoleB, Retiring: appRoleA, Roles: map[string]rolePassword{
		appRoleA: {Newest: 1, Set: 1}, appRoleB: {Newest: 2, NewestRotation: "r2", Set: 1}}}
	if !reflect.DeepEqual(got, wantState) {
		t.Fatalf("state %+v, want %+v", got, wantState)
	}
	recordAppLogin(sf, appLogin{})
	if sf.Status.Credentials != nil {
		t.Errorf("nothing to record, status %+v", sf.Status.Credentials)
	}
}

func TestRotationReadMasterPassword(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateMasterPassword: "m2"}
	sf.Status.Credentials = &shopv1alpha1.CredentialsStatus{MasterPassword: &shopv1alpha1.MasterPasswordStatus{HandledRotation: "m1"}}
	version := func(v int, rotation string) dbPassword {
		s := &corev1.Secret{}
		s.Namespace, s.Name = "shops", passwordSecretName(sf, v)
		return dbPassword{version: v, rotation: rotation, secret: s}
	}
	all := []dbPassword{version(1, "m1"), version(2, "m2")}
	cluster := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"masterUserPassword": map[string]any{"namespace": "shops", "name": "acme-db-password-v2", "key": "password"}}}}
	got := readMasterPassword(sf, all, cluster, &all[0])
	want := masterPassword{Annotation: "m2", Handled: "m1", Newest: 2, NewestRotation: "m2", Referenced: 2, Applied: 1}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if step := nextMasterPasswordStep(got); step.Action != masterPasswordWait || step.MigrateWith != 0 {
		t.Errorf("while ACK applies v2: %+v, want a wait with no migration", step)
	}
	if got := readMasterPassword(sf, all, nil); got.Referenced != 0 || got.Applied != 0 {
		t.Errorf("before the DBCluster exists: %+v", got)
	}
}
