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

package fake_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/storefront-operator/storefront/test/fake"
)

// userRecorder is a Provisioner whose cache servers record the users they are told to
// enforce.
type userRecorder struct {
	mu    sync.Mutex
	users map[string][]fake.CacheUser // cache ID → users
}

func (p *userRecorder) Provision(context.Context, fake.ProvisionRequest) (fake.Endpoint, error) {
	return fake.Endpoint{Address: "127.0.0.1", Port: 6379}, nil
}
func (p *userRecorder) ResetMasterPassword(context.Context, fake.AWSKey, string, string) error {
	return nil
}
func (p *userRecorder) Deprovision(context.Context, fake.AWSKey, string) error { return nil }
func (p *userRecorder) ApplyCacheUsers(_ context.Context, cache fake.AWSKey, users []fake.CacheUser) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[cache.ID] = users
	return nil
}

// enforced is user name → "access string|passwords" of what cache id enforces.
func (p *userRecorder) enforced(id string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for _, u := range p.users[id] {
		out[u.Name] = u.AccessString + "|" + asJSON(u.Passwords)
	}
	return out
}

var availableUserWant = map[string]string{"ACK.ResourceSynced": syncedTrueNoMessage, "Ready": syncedTrueNoMessage}

func userSpec(id, name, access, secret string) map[string]any {
	return map[string]any{"userID": id, "userName": name, "engine": "redis", "accessString": access,
		"passwords": []any{map[string]any{"name": secret, "key": "password"}}}
}

// Row "User password edits". elasticache-controller@a99ef75 generator.yaml (User:
// Passwords and AuthenticationMode.Passwords compare.is_ignored; ignore.field_paths
// ModifyUserInput.AccessString, .NoPasswordRequired, .Passwords), pkg/resource/user/delta.go
// newResourceDelta (no Spec.Passwords), hooks.go populateUpdatePayload (ModifyUser gets
// AccessString and NoPasswordRequired only) and setSyncedCondition (Synced from the
// status alone, no message): a changed password reference changes nothing in AWS; a
// changed access string is sent, and the password stays the one of creation.
func TestGoldenUserPasswordEditsAreIgnored(t *testing.T) {
	rec := &userRecorder{users: map[string][]fake.CacheUser{}}
	opts := goldenOptions()
	opts.Provisioner = rec
	g := newGolden(t, opts)
	g.secret("default-pw", "default-password-0123456789")
	g.secret("first", "first-password-0123456789")
	g.secret("second", "second-password-0123456789")
	g.create(fake.UserGVK, "golden-default", nil, userSpec("golden-default", "default", "off -@all", "default-pw"))
	g.create(fake.UserGVK, "golden-user", nil, userSpec("golden-user", "golden-user", "on ~shop:* -@all +get", "first"))
	g.waitConditions(fake.UserGVK, "golden-default", availableUserWant)
	user := g.waitConditions(fake.UserGVK, "golden-user", availableUserWant)
	if got := str(user, "status", "lastRequestedAccessString"); got != "on ~shop:* -@all +get" {
		t.Errorf("lastRequestedAccessString %q", got)
	}
	g.create(fake.UserGroupGVK, "golden-group", nil, map[string]any{"userGroupID": "golden-group", "engine": "redis",
		"userIDs": []any{"golden-default", "golden-user"}})
	g.waitConditions(fake.UserGroupGVK, "golden-group", availableGroupWant)
	g.create(fake.ServerlessCacheGVK, "golden-cache", nil, map[string]any{"serverlessCacheName": "golden-cache", "engine": "valkey",
		"majorEngineVersion": "8", "userGroupID": "golden-group"})
	g.waitConditions(fake.ServerlessCacheGVK, "golden-cache", availableCacheWant)
	want := map[string]string{
		"default":     `off -@all|["default-password-0123456789"]`,
		"golden-user": `on ~shop:* -@all +get|["first-password-0123456789"]`,
	}
	waitFor(t, "the cache enforcing the group's users", func() bool { return asJSON(rec.enforced("golden-cache")) == asJSON(want) })

	// A new password reference: a spec change ACK compares as none.
	g.change(fake.UserGVK, "golden-user", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "second", "key": "password"}}, "spec", "passwords")
	})
	g.stays(fake.UserGVK, "golden-user", availableUserWant, time.Second)
	if st := awsStatus(g.s, fake.UserGVK, testRegion, "golden-user"); st != "active" {
		t.Errorf("AWS status after a password edit %q, want active (no ModifyUser)", st)
	}
	// A new access string: ModifyUser, without the password.
	g.change(fake.UserGVK, "golden-user", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "on ~shop:* -@all +get +set", "spec", "accessString")
	})
	want["golden-user"] = `on ~shop:* -@all +get +set|["first-password-0123456789"]`
	waitFor(t, "the new access string enforced, with the first password", func() bool {
		return asJSON(rec.enforced("golden-cache")) == asJSON(want)
	})
	g.waitConditions(fake.UserGVK, "golden-user", availableUserWant)
	if got := str(g.get(fake.UserGVK, "golden-user"), "status", "lastRequestedAccessString"); got != "on ~shop:* -@all +get +set" {
		t.Errorf("lastRequestedAccessString after the change %q", got)
	}
}

// Row "User groups". elasticache-controller@a99ef75 pkg/resource/user_group/hooks.go
// (updateModifyUserGroupPayload: the users to add and to remove;
// patchUserGroupPendingChanges: spec.userIDs shows them while pending;
// requeueWaitUntilCanModify), manager.go IsSynced (active only); the ElastiCache API
// reference: CreateUserGroup answers DefaultUserRequired without a user named default
// (one of generator.yaml's terminal codes for UserGroup), DeleteUser answers
// DefaultUserAssociatedToUserGroup for a group's default user (no terminal code of
// User: Recoverable, and the finalizer stays).
func TestGoldenUserGroupMembership(t *testing.T) {
	rec := &userRecorder{users: map[string][]fake.CacheUser{}}
	opts := goldenOptions()
	opts.Provisioner = rec
	g := newGolden(t, opts)
	g.secret("pw", "golden-password-0123456789")
	for _, u := range []struct{ id, name string }{{"golden-default", "default"}, {"golden-v1", "golden-v1"}, {"golden-v2", "golden-v2"}} {
		g.create(fake.UserGVK, u.id, nil, userSpec(u.id, u.name, "on ~* +@all", "pw"))
		g.waitConditions(fake.UserGVK, u.id, availableUserWant)
	}
	g.create(fake.UserGroupGVK, "golden-nodefault", nil, map[string]any{"userGroupID": "golden-nodefault", "engine": "redis",
		"userIDs": []any{"golden-v1"}})
	g.waitConditions(fake.UserGroupGVK, "golden-nodefault", map[string]string{
		"ACK.ResourceSynced": "False|resource is in terminal condition|Resource not synced",
		"ACK.Terminal":       "True||DefaultUserRequired: User group needs to contain a user with the user name default.",
		"Ready":              "False|ACK.Terminal|DefaultUserRequired: User group needs to contain a user with the user name default.",
	})

	g.create(fake.UserGroupGVK, "golden-group", nil, map[string]any{"userGroupID": "golden-group", "engine": "redis",
		"userIDs": []any{"golden-default", "golden-v1"}})
	g.waitConditions(fake.UserGroupGVK, "golden-group", availableGroupWant)
	g.change(fake.UserGroupGVK, "golden-group", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedStringSlice(u.Object, []string{"golden-default", "golden-v1", "golden-v2"}, "spec", "userIDs")
	})
	// While AWS modifies the group, the addition is pending and spec.userIDs shows it.
	waitFor(t, "the addition pending", func() bool {
		u := g.get(fake.UserGroupGVK, "golden-group")
		pending, _, _ := unstructured.NestedStringSlice(u.Object, "status", "pendingChanges", "userIDsToAdd")
		ids, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "userIDs")
		return str(u, "status", "status") == "modifying" && slices.Equal(pending, []string{"golden-v2"}) && slices.Contains(ids, "golden-v2")
	})
	g.waitConditions(fake.UserGroupGVK, "golden-group", availableGroupWant)
	if u := g.get(fake.UserGroupGVK, "golden-group"); str(u, "status", "status") != "active" {
		t.Errorf("group status %q", str(u, "status", "status"))
	}

	// runtime@95428e7 pkg/runtime/reconciler.go reconcile: a deletion runs deleteResource,
	// not Sync, so ensureConditions leaves Ready as it was.
	g.delete(fake.UserGVK, "golden-default")
	g.waitConditions(fake.UserGVK, "golden-default", map[string]string{
		"ACK.ResourceSynced": "True||",
		"ACK.Recoverable":    "True||DefaultUserAssociatedToUserGroup: User golden-default is the default user of user group golden-group.",
		"Ready":              "True||",
	})
}

// Row "User deleted while modifying". ElastiCache API reference, DeleteUser, Errors:
// InvalidUserStateFault, "The user is not in active state."; elasticache-controller@a99ef75
// generator.yaml, User terminal_codes: InvalidUserState. runtime@95428e7
// pkg/runtime/reconciler.go deleteResource returns the error, HandleReconcileError sets
// ACK.Terminal and does not requeue: the User stays, its finalizer with it, until its
// spec changes (the generation predicate), even once AWS has it active again. Synced is
// the read's before the call (hooks.go setSyncedCondition: not active, False); Ready is
// left as it was (a deletion does not run ensureConditions).
func TestGoldenUserDeletedWhileModifying(t *testing.T) {
	g := newGolden(t, goldenOptions())
	g.secret("pw", "golden-password-0123456789")
	g.create(fake.UserGVK, "golden-busy", nil, userSpec("golden-busy", "golden-busy", "on ~* +@all", "pw"))
	g.waitConditions(fake.UserGVK, "golden-busy", availableUserWant)
	g.s.AWS().SetStatus("User", "golden-busy", "modifying")
	g.delete(fake.UserGVK, "golden-busy")
	g.waitConditions(fake.UserGVK, "golden-busy", map[string]string{
		"ACK.ResourceSynced": "False||",
		"ACK.Terminal":       "True||InvalidUserState: The user is not in active state.",
		"Ready":              "True||",
	})
	g.s.AWS().SetStatus("User", "golden-busy", "")
	g.stays(fake.UserGVK, "golden-busy", map[string]string{
		"ACK.ResourceSynced": "False||",
		"ACK.Terminal":       "True||InvalidUserState: The user is not in active state.",
		"Ready":              "True||",
	}, time.Second)
}
