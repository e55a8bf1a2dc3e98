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

package fake

// The ElastiCache User and UserGroup of elasticache-controller 1.8.0 (at a99ef75):
// generator.yaml (their exceptions, the compare.is_ignored passwords, the ignored
// ModifyUserInput fields), pkg/resource/user (sdk.go, hooks.go: setSyncedCondition,
// CustomModifyUser, populateUpdatePayload, filterDelta; manager.go IsSynced true) and
// pkg/resource/user_group (sdk.go, hooks.go: patchUserGroupPendingChanges,
// updateModifyUserGroupPayload, requeueWaitUntilCanModify; IsSynced on status active),
// and the AWS behind them (API reference: CreateUser, CreateUserGroup, ModifyUserGroup,
// DeleteUser, DeleteUserGroup).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Own statuses of ElastiCache users and user groups: "active", "modifying",
// "deleting" (and "creating" for a group).
const (
	CacheUserStatusActive   = "active"
	CacheUserStatusCreating = "creating"
)

// Terminal codes of generator.yaml. Those of UserGroup name "...Fault" codes that
// ElastiCache does not answer (it answers UserGroupAlreadyExists and DuplicateUserName):
// such errors are Recoverable in elasticache-controller, and so here.
var (
	userTerminalCodes      = []string{"UserAlreadyExists", "UserQuotaExceeded", "DuplicateUserName", "InvalidParameterValue", "InvalidParameterCombination", "InvalidUserState"}
	userGroupTerminalCodes = []string{"DuplicateUserNameFault", "UserGroupAlreadyExistsFault", "InvalidParameterCombination", "InvalidParameterValueException", "DefaultUserRequired", "UserGroupQuotaExceededFault", "TagQuotaPerResourceExceeded"}
)

// elastiCacheFault is a modeled ElastiCache error (the SDK's types.<Code>Fault, whose
// ErrorCode is the code without "Fault").
func elastiCacheFault(code, message string) *APIError {
	e := NewAPIError(code, message)
	e.Modeled = true
	return e
}

// CacheUser is an ElastiCache user as a serverless cache's server applies it.
type CacheUser struct {
	// Name is the user name clients log in with; AccessString its ACL rules.
	Name, AccessString string
	// Passwords are the user's passwords (ElastiCache keeps up to two).
	Passwords []string
}

// CacheUserApplier is implemented by a Provisioner whose cache servers enforce
// ElastiCache users: AWS calls it with every user of the cache's user group whenever
// what the cache enforces changes (a group change completed, the cache's userGroupID
// changed, a user deleted); nil users means the cache has no user group (the default
// user open, as ElastiCache Serverless serves without one).
type CacheUserApplier interface {
	ApplyCacheUsers(ctx context.Context, cache AWSKey, users []CacheUser) error
}

// userManager: Synced from the user's status in the hooks (IsSynced is true), passwords
// sent at creation only.
type userManager struct{}

func (userManager) service() string                          { return "elasticache" }
func (userManager) idField() string                          { return "userID" }
func (userManager) terminalCodes() []string                  { return userTerminalCodes }
func (userManager) lateInitFields() []string                 { return nil }
func (userManager) isSynced(*unstructured.Unstructured) bool { return true }

// compare is delta.go's newResourceDelta, which leaves out passwords and
// authenticationMode.passwords (compare.is_ignored), with filterDelta: an access string
// that differs from what ElastiCache answers is no difference while it is the one last
// requested.
func (userManager) compare(desired, latest *unstructured.Unstructured) []string {
	a, b := desired.DeepCopy(), latest.DeepCopy()
	for _, u := range []*unstructured.Unstructured{a, b} {
		unstructured.RemoveNestedField(u.Object, "spec", "passwords")
		unstructured.RemoveNestedField(u.Object, "spec", "authenticationMode", "passwords")
	}
	delta := compareSpecs(a, b)
	if slices.Contains(delta, "accessString") {
		requested, _, _ := unstructured.NestedString(desired.Object, "status", "lastRequestedAccessString")
		if requested != "" && requested == specString(desired, "accessString") {
			delta = slices.DeleteFunc(delta, func(f string) bool { return f == "accessString" })
		}
	}
	return delta
}

// setSyncedCondition is hooks.go's: True when active, False otherwise, Unknown without
// a status; only the status is set.
func setUserSyncedCondition(ko *unstructured.Unstructured, c *ackCall) {
	status := "Unknown"
	switch s := statusOf(ko, "status"); {
	case s == CacheUserStatusActive:
		status = "True"
	case s != "":
		status = "False"
	}
	if cond := conditionOf(ko, ConditionSynced); cond != nil {
		cond["status"] = status
		return
	}
	setCondition(ko, ConditionSynced, status, nil, nil, c.s.now())
}

// keepRequestedAccessString carries the status fields only create and modify set
// (CustomSetOutput) over a read.
func keepRequestedAccessString(ko, from *unstructured.Unstructured) {
	for _, f := range []string{"lastRequestedAccessString", "expandedAccessString"} {
		if v, ok, _ := unstructured.NestedString(from.Object, "status", f); ok {
			_ = unstructured.SetNestedField(ko.Object, v, "status", f)
		}
	}
}

// setUserOutput is CustomSetOutput: the access string asked for and the one answered.
func setUserOutput(ko, desired *unstructured.Unstructured, res AWSResource) {
	_ = unstructured.SetNestedField(ko.Object, specString(desired, "accessString"), "status", "lastRequestedAccessString")
	_ = unstructured.SetNestedField(ko.Object, specString2(res.Spec, "accessString"), "status", "expandedAccessString")
}

func (m userManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, _, err := find(c, CacheUserKind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	keepRequestedAccessString(ko, r)
	setUserSyncedCondition(ko, c)
	return ko, nil
}

// sdkCreate reads every password from its Secret (a missing one requeues) and creates
// the user with them.
func (m userManager) sdkCreate(ctx context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var passwords []string
	for _, ref := range sliceOf(desired.Object["spec"].(map[string]any)["passwords"]) {
		refMap, _ := ref.(map[string]any)
		p, err := c.secretValueFromReference(ctx, refMap)
		if err != nil {
			return nil, &requeueNeeded{err}
		}
		passwords = append(passwords, p)
	}
	res, err := c.s.aws.CreateUser(c.key(CacheUserKind, desired, m.idField()), desired.Object["spec"].(map[string]any), passwords, withSpecTags(c.defaultTags(m.service()), desired.Object["spec"].(map[string]any)))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	setUserOutput(ko, desired, res)
	setUserSyncedCondition(ko, c)
	return ko, nil
}

// sdkUpdate is CustomModifyUser (requeue unless active), then ModifyUser with what
// populateUpdatePayload sends: AccessString and NoPasswordRequired when they differ,
// never the passwords (generator.yaml ignores ModifyUserInput.Passwords).
func (m userManager) sdkUpdate(ctx context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	if statusOf(latest, "status") != CacheUserStatusActive {
		return nil, &requeueNeededAfter{requeueNeeded: requeueNeeded{errors.New("User cannot be modified as its status is not 'active'.")}, after: defaultRequeueAfter} //lint:ignore ST1005 elasticache-controller's text
	}
	sent := slices.DeleteFunc(slices.Clone(delta), func(f string) bool { return f != "accessString" && f != "noPasswordRequired" })
	res, err := c.s.aws.Modify(ctx, c.key(CacheUserKind, desired, m.idField()), changes(desired, sent), nil)
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	setUserOutput(ko, desired, res)
	setUserSyncedCondition(ko, c)
	return ko, nil
}

func (m userManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return nil, c.s.aws.Delete(c.key(CacheUserKind, r, m.idField()), DeleteParams{})
}

// userGroupManager: Synced when active (IsSynced), ModifyUserGroup with the users to
// add and remove, pending changes merged into the spec.
type userGroupManager struct{}

func (userGroupManager) service() string          { return "elasticache" }
func (userGroupManager) idField() string          { return "userGroupID" }
func (userGroupManager) terminalCodes() []string  { return userGroupTerminalCodes }
func (userGroupManager) lateInitFields() []string { return nil }
func (userGroupManager) isSynced(r *unstructured.Unstructured) bool {
	return statusOf(r, "status") == CacheUserStatusActive
}
func (userGroupManager) compare(desired, latest *unstructured.Unstructured) []string {
	return compareSpecs(desired, latest)
}

// patchUserGroupPendingChanges: the users being added join spec.userIDs, those being
// removed leave it.
func patchUserGroupPendingChanges(ko *unstructured.Unstructured) {
	add, _, _ := unstructured.NestedStringSlice(ko.Object, "status", "pendingChanges", "userIDsToAdd")
	remove, _, _ := unstructured.NestedStringSlice(ko.Object, "status", "pendingChanges", "userIDsToRemove")
	if add == nil && remove == nil {
		return
	}
	ids := anyStrings(sliceOf(ko.Object["spec"].(map[string]any)["userIDs"]))
	ids = append(ids, add...)
	ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(remove, id) })
	ko.Object["spec"].(map[string]any)["userIDs"] = stringsAny(ids)
}

func (m userGroupManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, _, err := find(c, CacheUserGroupKind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	patchUserGroupPendingChanges(ko)
	return ko, nil
}

func (m userGroupManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	res, err := c.s.aws.Create(c.key(CacheUserGroupKind, desired, m.idField()), desired.Object["spec"].(map[string]any), "", withSpecTags(c.defaultTags(m.service()), desired.Object["spec"].(map[string]any)))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	return ko, nil
}

// sdkUpdate: requeueWaitUntilCanModify unless active, then ModifyUserGroup with
// getUserIdsDifferences of the desired and latest userIDs.
func (m userGroupManager) sdkUpdate(ctx context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	if s := statusOf(latest, "status"); s != CacheUserStatusActive {
		return nil, &requeueNeededAfter{requeueNeeded: requeueNeeded{fmt.Errorf("User group in '%s' state, cannot be modified until '%s'.", s, CacheUserStatusActive)}, after: defaultRequeueAfter} //lint:ignore ST1005 elasticache-controller's text
	}
	var add, remove []string
	if slices.Contains(delta, "userIDs") {
		want := anyStrings(sliceOf(desired.Object["spec"].(map[string]any)["userIDs"]))
		have := anyStrings(sliceOf(latest.Object["spec"].(map[string]any)["userIDs"]))
		for _, id := range want {
			if !slices.Contains(have, id) {
				add = append(add, id)
			}
		}
		for _, id := range have {
			if !slices.Contains(want, id) {
				remove = append(remove, id)
			}
		}
	}
	res, err := c.s.aws.ModifyUserGroup(c.key(CacheUserGroupKind, desired, m.idField()), add, remove)
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	patchUserGroupPendingChanges(ko)
	return ko, nil
}

func (m userGroupManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return nil, c.s.aws.Delete(c.key(CacheUserGroupKind, r, m.idField()), DeleteParams{})
}

func stringsAny(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

// The AWS side.

// CreateUser is CreateUser: the user is active at once (ElastiCache users have no
// creating state); its passwords are kept and never returned.
func (a *AWS) CreateUser(key AWSKey, spec map[string]any, passwords []string, tags map[string]string) (AWSResource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	if e := a.refusal(OpCreate, key); e != nil {
		return AWSResource{}, call(e, OpCreate, key.Kind)
	}
	if _, exists := a.resources[key]; exists {
		return AWSResource{}, call(elastiCacheFault("UserAlreadyExists", fmt.Sprintf("User %s already exists.", key.ID)), OpCreate, key.Kind)
	}
	if len(passwords) == 0 && spec["noPasswordRequired"] != true {
		return AWSResource{}, call(NewAPIError("InvalidParameterValue", "Passwords are required unless NoPasswordRequired is set."), OpCreate, key.Kind)
	}
	now := a.now()
	r := &awsResource{AWSResource: AWSResource{Key: key, Spec: awsSpec(key, spec), Created: now.UTC().Truncate(time.Second),
		Tags: maps.Clone(tags), Status: CacheUserStatusActive, PasswordCount: len(passwords)}, provisioned: true, passwords: slices.Clone(passwords)}
	a.resources[key] = r
	return r.copy(), nil
}

// ModifyUserGroup is ModifyUserGroup: the group is modifying for AWS's delay, with the
// changes pending; the group's members change, and its caches enforce them, when it
// is done.
func (a *AWS) ModifyUserGroup(key AWSKey, add, remove []string) (AWSResource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	if e := a.refusal(OpModify, key); e != nil {
		return AWSResource{}, call(e, OpModify, key.Kind)
	}
	r := a.settle(key)
	if r == nil {
		return AWSResource{}, call(notFound(key), OpModify, key.Kind)
	}
	if r.busyStatus != "" {
		return AWSResource{}, call(elastiCacheFault("InvalidUserGroupState", fmt.Sprintf("User group %s is not in active state.", key.ID)), OpModify, key.Kind)
	}
	members := anyStrings(sliceOf(r.Spec["userIDs"]))
	final := append(slices.DeleteFunc(slices.Clone(members), func(id string) bool { return slices.Contains(remove, id) }), add...)
	if e := a.membershipRefusal(key, final); e != nil {
		return AWSResource{}, call(e, OpModify, key.Kind)
	}
	r.PendingAdd, r.PendingRemove = slices.Clone(add), slices.Clone(remove)
	r.busyStatus, r.busyUntil, r.Status = RDSStatusModifying, a.now().Add(a.delay), RDSStatusModifying
	return r.copy(), nil
}

// membershipRefusal is why ElastiCache refuses a group of these users: one unknown
// (UserNotFound), none named default (DefaultUserRequired), two of one name
// (DuplicateUserName).
func (a *AWS) membershipRefusal(group AWSKey, ids []string) *APIError {
	names := map[string]bool{}
	for _, id := range ids {
		u := a.settle(AWSKey{Account: group.Account, Region: group.Region, Kind: CacheUserKind, ID: normalizeID(CacheUserKind, id)})
		if u == nil || u.busyStatus == statusDeleting {
			return elastiCacheFault("UserNotFound", fmt.Sprintf("User %s not found.", id))
		}
		name := specString2(u.Spec, "userName")
		if names[name] {
			return elastiCacheFault("DuplicateUserName", fmt.Sprintf("Duplicate user name %s in the user group.", name))
		}
		names[name] = true
	}
	if !names["default"] {
		return elastiCacheFault("DefaultUserRequired", "User group needs to contain a user with the user name default.")
	}
	return nil
}

// userGroupRefusal is why ElastiCache refuses a serverless cache the user group gid.
func (a *AWS) userGroupRefusal(key AWSKey, gid string) *APIError {
	g := a.settle(AWSKey{Account: key.Account, Region: key.Region, Kind: CacheUserGroupKind, ID: normalizeID(CacheUserGroupKind, gid)})
	switch {
	case g == nil || g.busyStatus == statusDeleting:
		return elastiCacheFault("UserGroupNotFound", fmt.Sprintf("User group %s not found.", gid))
	case g.Status != CacheUserStatusActive:
		return elastiCacheFault("InvalidUserGroupState", fmt.Sprintf("User group %s is not in active state.", gid))
	}
	return nil
}

// cacheUserDeleteRefusal: a user group a serverless cache uses cannot be deleted, nor
// a default user a group holds (DefaultUserAssociatedToUserGroup).
func (a *AWS) cacheUserDeleteRefusal(r *awsResource) *APIError {
	key := r.Key
	if key.Kind == CacheUserKind && r.Status == RDSStatusModifying {
		// API reference, DeleteUser, Errors: InvalidUserStateFault, "The user is not in
		// active state." (terminal for elasticache-controller: userTerminalCodes).
		return elastiCacheFault("InvalidUserState", "The user is not in active state.")
	}
	for k, other := range a.resources {
		if k.Account != key.Account || k.Region != key.Region {
			continue
		}
		switch {
		case key.Kind == CacheUserGroupKind && k.Kind == ServerlessCacheGVK.Kind && normalizeID(CacheUserGroupKind, specString2(other.Spec, "userGroupID")) == key.ID:
			return elastiCacheFault("InvalidUserGroupState", fmt.Sprintf("User group %s is associated with serverless cache %s.", key.ID, k.ID))
		case key.Kind == CacheUserKind && k.Kind == CacheUserGroupKind && specString2(r.Spec, "userName") == "default" &&
			slices.Contains(anyStrings(sliceOf(other.Spec["userIDs"])), key.ID) && other.busyStatus != statusDeleting:
			return elastiCacheFault("DefaultUserAssociatedToUserGroup", fmt.Sprintf("User %s is the default user of user group %s.", key.ID, k.ID))
		}
	}
	return nil
}

// userDeleted takes a deleted user out of every group (DeleteUser: "The user will be
// removed from all user groups"), whose caches stop accepting it at once.
func (a *AWS) userDeleted(key AWSKey) {
	for k, g := range a.resources {
		if k.Kind != CacheUserGroupKind || k.Account != key.Account || k.Region != key.Region {
			continue
		}
		ids := anyStrings(sliceOf(g.Spec["userIDs"]))
		if slices.Contains(ids, key.ID) {
			g.Spec["userIDs"] = awsOrder(slices.DeleteFunc(ids, func(id string) bool { return id == key.ID }))
			a.applyGroupUsers(k)
		}
	}
}

// settled is called when r's busy state ends: a group's pending changes take effect,
// and the caches concerned enforce their users.
func (a *AWS) settled(r *awsResource) {
	switch r.Key.Kind {
	case CacheUserGroupKind:
		if r.PendingAdd != nil || r.PendingRemove != nil {
			ids := slices.DeleteFunc(anyStrings(sliceOf(r.Spec["userIDs"])), func(id string) bool { return slices.Contains(r.PendingRemove, id) })
			r.Spec["userIDs"] = awsOrder(append(ids, r.PendingAdd...))
			r.PendingAdd, r.PendingRemove = nil, nil
		}
		a.applyGroupUsers(r.Key)
	case CacheUserKind:
		for k, g := range a.resources {
			if k.Kind == CacheUserGroupKind && k.Account == r.Key.Account && k.Region == r.Key.Region &&
				slices.Contains(anyStrings(sliceOf(g.Spec["userIDs"])), r.Key.ID) {
				a.applyGroupUsers(k)
			}
		}
	case ServerlessCacheGVK.Kind:
		a.applyCacheUsers(r)
	}
}

// applyGroupUsers has every cache of the group enforce its users.
func (a *AWS) applyGroupUsers(group AWSKey) {
	for k, c := range a.resources {
		if k.Kind == ServerlessCacheGVK.Kind && k.Account == group.Account && k.Region == group.Region &&
			normalizeID(CacheUserGroupKind, specString2(c.Spec, "userGroupID")) == group.ID && c.provisioned && c.busyStatus != statusDeleting {
			a.applyCacheUsers(c)
		}
	}
}

// applyCacheUsers has the Provisioner's server of cache c enforce the users of its
// group (none without a group).
func (a *AWS) applyCacheUsers(c *awsResource) {
	applier, ok := a.prov.(CacheUserApplier)
	if !ok || !c.provisioned {
		return
	}
	var users []CacheUser
	if gid := specString2(c.Spec, "userGroupID"); gid != "" {
		users = []CacheUser{}
		if g := a.resources[AWSKey{Account: c.Key.Account, Region: c.Key.Region, Kind: CacheUserGroupKind, ID: normalizeID(CacheUserGroupKind, gid)}]; g != nil {
			for _, id := range anyStrings(sliceOf(g.Spec["userIDs"])) {
				u := a.resources[AWSKey{Account: c.Key.Account, Region: c.Key.Region, Kind: CacheUserKind, ID: id}]
				if u == nil || u.busyStatus == statusDeleting {
					continue
				}
				users = append(users, CacheUser{Name: specString2(u.Spec, "userName"), AccessString: specString2(u.Spec, "accessString"), Passwords: slices.Clone(u.passwords)})
			}
		}
	}
	if err := applier.ApplyCacheUsers(a.ctx, c.Key, users); err != nil {
		log.FromContext(a.ctx).Error(err, "Applying the users of a serverless cache's user group", "resource", c.Key.String())
	}
}
