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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The shop's identity on its serverless cache: an ElastiCache User per password version
// (<name>-cache-user-v<N>, user ID and user name <aws identifier>-v<N>, the access string
// of cache_access.go), a default user with no access (ElastiCache user groups must hold
// a user named "default"), and a UserGroup with both, set as the cache's userGroupID.
//
// elasticache-controller 1.8.0 never changes a User's password: generator.yaml marks
// Passwords compare.is_ignored and ignores ModifyUserInput.Passwords, and
// pkg/resource/user/hooks.go populateUpdatePayload sends only AccessString and
// NoPasswordRequired. So a rotation is a new User: the rotate-cache-password annotation
// makes password v<N+1>, its User joins the group, REDIS_URL moves to it once ElastiCache
// reports it in the active group (the pods roll on the checksum), and once they run, the
// old user is retired: out of the group, then its User and Secret are deleted.
//
// Users and group go with the cache under every deletion policy: they open nothing but
// the cache, which holds only cached data and always goes.

// Roles of the cache's users and their Secrets.
const (
	roleCacheUser     = "cache-user"     // the ACK Users <name>-cache-user-v<N>
	roleCachePassword = "cache-password" // their password Secrets <name>-cache-password-v<N>
	roleCacheDefault  = "cache-default"  // the default user's ACK User and password Secret, <name>-cache-default
)

// Settings of the ElastiCache users and user group.
const (
	// cacheUserEngine: CreateUser and CreateUserGroup take "valkey" or "redis" (API
	// reference, CreateUserGroup: "The options are valkey or redis"), and no AWS source
	// we know of requires valkey for a valkey cache, so redis, as ElastiCache's own
	// examples use.
	cacheUserEngine = "redis"
	// cacheDefaultUserName is the user name ElastiCache requires in every user group
	// (DefaultUserRequired).
	cacheDefaultUserName = "default"
	// cacheDefaultAccessString leaves the default user no right: a connection without
	// credentials is refused.
	cacheDefaultAccessString = "off -@all"
	// cachePasswordLength: ElastiCache passwords are 16 to 128 printable characters.
	cachePasswordLength = 32
	// annotationCacheUserRetired on a cache password Secret says the pods moved to a
	// newer user: its user leaves the group, then its User and the Secret are deleted.
	annotationCacheUserRetired = "shop.storefront.dev/retired"
)

// Event reasons of a cache user rotation, one per step.
const (
	eventReasonCacheUserCreating = "CacheUserCreating"
	eventReasonCacheUserInUse    = "CacheUserInUse"
	eventReasonCacheUserRetiring = "CacheUserRetiring"
	eventReasonCacheUserDeleting = "CacheUserDeleting"
)

// Own statuses of ElastiCache users and user groups (API reference, User and UserGroup).
const (
	cacheUserStatusActive    = "active"
	cacheUserStatusModifying = "modifying"
)

// cachePassword is one version of the shop's cache password, and so of its user.
type cachePassword struct {
	version  int
	rotation string
	retired  bool
	secret   *corev1.Secret
}

// cacheUserID is the user ID, and user name, of version v: unique in the account and
// region, and distinct per version since a user group refuses two users of one name.
func cacheUserID(sf *shopv1alpha1.Storefront, v int) string {
	return fmt.Sprintf("%s-v%d", awsIdentifier(sf.Namespace, sf.Name), v)
}

// cacheDefaultUserID is the default user's ID (its user name is "default").
func cacheDefaultUserID(sf *shopv1alpha1.Storefront) string {
	return awsIdentifier(sf.Namespace, sf.Name) + "-default"
}

// cacheUserGroupID is the user group's ID.
func cacheUserGroupID(sf *shopv1alpha1.Storefront) string {
	return awsIdentifier(sf.Namespace, sf.Name)
}

// cacheUserObjectName is <name>-cache-user-v<v>.
func cacheUserObjectName(sf *shopv1alpha1.Storefront, v int) string {
	return shortName(fmt.Sprintf("%s-%s-v%d", sf.Name, roleCacheUser, v))
}

// cachePasswordSecretName is <name>-cache-password-v<v>.
func cachePasswordSecretName(sf *shopv1alpha1.Storefront, v int) string {
	return shortName(fmt.Sprintf("%s-%s-v%d", sf.Name, roleCachePassword, v))
}

// cacheAccess is how the shop logs in to the cache: the group the cache must use, and
// the user and password REDIS_URL carries.
type cacheAccess struct {
	groupID, user, password string
}

// reconcileCacheUsers makes the password Secrets, the Users and the UserGroup, and
// retires the users a rotation replaced. It returns the access the shop uses, or nil
// with the state to report while none is usable yet.
func (r *StorefrontReconciler) reconcileCacheUsers(ctx context.Context, s *scope) (*cacheAccess, ackState, error) {
	sf := s.sf
	region := effective(sf).Region
	defaultSecret, err := r.ensureCacheDefaultPassword(ctx, sf)
	if err != nil {
		return nil, ackState{}, err
	}
	passwords, err := r.reconcileCachePasswords(ctx, sf)
	if err != nil {
		return nil, ackState{}, err
	}
	s.cachePasswords = passwords
	if defaultSecret == nil || len(passwords) == 0 {
		// Made by an earlier reconcile that the cache does not show yet: their Create
		// events bring us back.
		return nil, ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: "Creating the cache password Secrets"}, nil
	}

	group, err := r.currentACKObject(ctx, sf, gvkCacheUserGroup, objectName(sf, roleCache))
	if err != nil {
		return nil, ackState{}, err
	}
	members := groupMembers(group)
	// A user joins the group once ElastiCache has it active (a group refuses an unknown
	// user), and stays in it while it is being modified.
	joinable := func(u *unstructured.Unstructured, st ackState) bool {
		return st.Ready || slices.Contains(members, specField(u, "userID"))
	}
	// Every ACK object that can go Terminal carries the re-drive tag (storefront_redrive.go).
	defaultUser, err := r.applyACK(ctx, withProvisioningTag(sf, r.Options.ClusterName, desiredCacheUser(sf, r.Scheme, region, objectName(sf, roleCacheDefault), roleCacheDefault,
		cacheDefaultUserID(sf), cacheDefaultUserName, cacheDefaultAccessString, defaultSecret.Name)))
	if err != nil {
		return nil, ackState{}, err
	}
	defaultState := readACKState(defaultUser, pathStatus, noEndpoint)
	if defaultState.Reason == shopv1alpha1.ReasonProvisioningFailed {
		return nil, defaultState, nil
	}
	var want []string
	if joinable(defaultUser, defaultState) {
		want = append(want, cacheDefaultUserID(sf))
	}
	users := map[int]ackState{}
	for _, p := range passwords {
		if p.retired {
			continue
		}
		u, err := r.applyACK(ctx, withProvisioningTag(sf, r.Options.ClusterName, desiredCacheUser(sf, r.Scheme, region, cacheUserObjectName(sf, p.version), roleCacheUser,
			cacheUserID(sf, p.version), cacheUserID(sf, p.version), CacheUserAccessString, p.secret.Name)))
		if err != nil {
			return nil, ackState{}, err
		}
		st := readACKState(u, pathStatus, noEndpoint)
		if st.Reason == shopv1alpha1.ReasonProvisioningFailed {
			return nil, st, nil
		}
		users[p.version] = st
		if joinable(u, st) {
			want = append(want, cacheUserID(sf, p.version))
		}
	}
	if len(want) < 2 && group == nil {
		// A group is created with the default user and the shop's, both active.
		return nil, firstNotReady(defaultState, users, passwords), nil
	}
	group, err = r.applyACK(ctx, withProvisioningTag(sf, r.Options.ClusterName, desiredCacheUserGroup(sf, r.Scheme, region, want)))
	if err != nil {
		return nil, ackState{}, err
	}
	groupState := readACKState(group, pathStatus, noEndpoint)
	if groupState.Reason == shopv1alpha1.ReasonProvisioningFailed {
		return nil, groupState, nil
	}

	// The shop uses the newest user that ElastiCache reports in the group: the one it
	// uses already, or one that joined in a change ACK has synced since.
	previous := ""
	if sf.Status.CacheUser != nil {
		previous = sf.Status.CacheUser.Active
	}
	settled := groupSettled(group)
	var inUse *cachePassword
	for i := len(passwords) - 1; i >= 0; i-- {
		p := &passwords[i]
		id := cacheUserID(sf, p.version)
		if !p.retired && users[p.version].Ready && inGroup(group, id) && (settled || id == previous) {
			inUse = p
			break
		}
	}
	if err := r.retireCacheUsers(ctx, sf, group, passwords); err != nil {
		return nil, ackState{}, err
	}
	if inUse == nil {
		if !groupState.Ready {
			return nil, groupState, nil
		}
		return nil, firstNotReady(defaultState, users, passwords), nil
	}
	s.cacheUserInUse = inUse
	active := cacheUserID(sf, inUse.version)
	if sf.Status.CacheUser != nil && sf.Status.CacheUser.Active != "" && sf.Status.CacheUser.Active != active {
		r.event(sf, corev1.EventTypeNormal, eventReasonCacheUserInUse,
			"ElastiCache user %s is in user group %s: the shop's pods move to it from %s", active, cacheUserGroupID(sf), sf.Status.CacheUser.Active)
	}
	status := &shopv1alpha1.CacheUserStatus{Active: active, Rotation: inUse.rotation}
	for _, p := range passwords {
		if p.version != inUse.version {
			status.Retiring = append(status.Retiring, cacheUserID(sf, p.version))
		}
	}
	sf.Status.CacheUser = status
	return &cacheAccess{groupID: cacheUserGroupID(sf), user: active, password: string(inUse.secret.Data[keyDBPassword])}, ackState{Ready: true}, nil
}

// firstNotReady is the state of the first user that is not ready, the default user's
// first: what a new group waits for.
func firstNotReady(defaultState ackState, users map[int]ackState, passwords []cachePassword) ackState {
	if !defaultState.Ready {
		return defaultState
	}
	for _, p := range passwords {
		if st, ok := users[p.version]; ok && !st.Ready {
			return st
		}
	}
	return ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: "Waiting for the cache's users to join their user group"}
}

// groupMembers are the user IDs of the live group's spec (nil when there is none).
func groupMembers(group *unstructured.Unstructured) []string {
	if group == nil {
		return nil
	}
	ids, _, _ := unstructured.NestedStringSlice(group.Object, "spec", "userIDs")
	return ids
}

// inGroup reports whether ElastiCache reports id in the group: listed, and not one of
// the pending additions (ACK merges status.pendingChanges into spec.userIDs, see
// elasticache-controller pkg/resource/user_group/hooks.go patchUserGroupPendingChanges),
// with the group active or being modified for another change.
func inGroup(group *unstructured.Unstructured, id string) bool {
	own, _, _ := unstructured.NestedString(group.Object, pathStatus...)
	if own != cacheUserStatusActive && own != cacheUserStatusModifying {
		return false
	}
	adding, _, _ := unstructured.NestedStringSlice(group.Object, "status", "pendingChanges", "userIDsToAdd")
	return slices.Contains(groupMembers(group), id) && !slices.Contains(adding, id)
}

// groupSettled reports whether ACK has synced the group, active, since the operator last
// changed it: until then its spec shows the operator's members, not ElastiCache's. ACK
// stamps the Synced condition at every sync; times have a second's resolution, so a sync
// in the second of the change counts (ACK syncs a group at rest only every 10 hours).
func groupSettled(group *unstructured.Unstructured) bool {
	own, _, _ := unstructured.NestedString(group.Object, pathStatus...)
	if own != cacheUserStatusActive {
		return false
	}
	var changed time.Time
	for _, mf := range group.GetManagedFields() {
		if mf.Manager == fieldOwner && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Time != nil && mf.Time.After(changed) {
			changed = mf.Time.Time
		}
	}
	return changed.IsZero() || syncedAfter(group, metav1.NewTime(changed.Add(-time.Second)))
}

// userModifying reports whether ElastiCache is modifying the user (not yet deleted).
// DeleteUser refuses such a user with InvalidUserState (API reference, DeleteUser:
// InvalidUserStateFault, "The user is not in active state."), which elasticache-controller
// takes as terminal (generator.yaml, User terminal_codes): ACK would not try the
// deletion again until the object's spec changed, and the User would stay for good.
// ACK requeues a user that is not active (pkg/resource/user/hooks.go setSyncedCondition:
// Synced=False), so the status it reports moves on by itself.
func userModifying(user *unstructured.Unstructured) bool {
	own, _, _ := unstructured.NestedString(user.Object, pathStatus...)
	return own == cacheUserStatusModifying && user.GetDeletionTimestamp().IsZero()
}

// retireCacheUsers deletes the User of each retired password once ElastiCache reports
// the group without it, and the Secret once ACK let go of the User.
func (r *StorefrontReconciler) retireCacheUsers(ctx context.Context, sf *shopv1alpha1.Storefront, group *unstructured.Unstructured, passwords []cachePassword) error {
	removing, _, _ := unstructured.NestedStringSlice(group.Object, "status", "pendingChanges", "userIDsToRemove")
	if !groupSettled(group) {
		return nil // the group's spec is the operator's until ACK synced it
	}
	for _, p := range passwords {
		id := cacheUserID(sf, p.version)
		if !p.retired || slices.Contains(groupMembers(group), id) || slices.Contains(removing, id) {
			continue
		}
		name := cacheUserObjectName(sf, p.version)
		user, err := r.currentACKObject(ctx, sf, gvkCacheUser, name)
		if err != nil {
			return err
		}
		if user != nil {
			if userModifying(user) {
				log.FromContext(ctx).Info("Waiting for the retired cache user to be active before deleting it", "user", id)
				continue
			}
			if user.GetDeletionTimestamp().IsZero() {
				r.event(sf, corev1.EventTypeNormal, eventReasonCacheUserDeleting, "Deleting ElastiCache user %s: it left user group %s", id, cacheUserGroupID(sf))
				if err := r.removeACKObject(ctx, sf, gvkCacheUser, name); err != nil {
					return err
				}
			}
			continue // the Secret goes once ACK let go of the User
		}
		if !p.secret.DeletionTimestamp.IsZero() {
			continue
		}
		log.FromContext(ctx).Info("Deleting retired cache password secret", "secret", klog.KObj(p.secret))
		if err := r.Delete(ctx, p.secret); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting secret %s: %w", p.secret.Name, err)
		}
	}
	return nil
}

// currentACKObject reads an ACK object from the cache; nil when there is none.
func (r *StorefrontReconciler) currentACKObject(ctx context.Context, sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind, name string) (*unstructured.Unstructured, error) {
	u := newACKObject(gvk)
	if err := r.objectReader().Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, name, err)
	}
	return u, nil
}

// finishCacheUserRotation is the phase after the workload: once the pods run with the
// user in use, the older users are marked retired, which takes them out of the group
// on the next pass (the Secret's update event brings it).
func (r *StorefrontReconciler) finishCacheUserRotation(ctx context.Context, s *scope) (ctrl.Result, error) {
	inUse := s.cacheUserInUse
	if inUse == nil || !s.rolledOut() {
		return ctrl.Result{}, nil
	}
	for _, p := range s.cachePasswords {
		if p.version >= inUse.version || p.retired || !p.secret.DeletionTimestamp.IsZero() {
			continue
		}
		r.event(s.sf, corev1.EventTypeNormal, eventReasonCacheUserRetiring, "Retiring ElastiCache user %s: the pods run as %s; it leaves user group %s",
			cacheUserID(s.sf, p.version), cacheUserID(s.sf, inUse.version), cacheUserGroupID(s.sf))
		patch := client.MergeFromWithOptions(p.secret.DeepCopy(), client.MergeFromWithOptimisticLock{})
		metav1.SetMetaDataAnnotation(&p.secret.ObjectMeta, annotationCacheUserRetired, "true")
		if err := r.Patch(ctx, p.secret, patch, client.FieldOwner(fieldOwner)); err != nil {
			return ctrl.Result{}, fmt.Errorf("marking secret %s retired: %w", p.secret.Name, err)
		}
	}
	return ctrl.Result{}, nil
}

// ensureCacheDefaultPassword makes <name>-cache-default, the default user's password,
// once. It returns nil when an earlier reconcile made it and the cache does not show it
// yet.
func (r *StorefrontReconciler) ensureCacheDefaultPassword(ctx context.Context, sf *shopv1alpha1.Storefront) (*corev1.Secret, error) {
	current := &corev1.Secret{}
	key := client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleCacheDefault)}
	err := r.Get(ctx, key, current)
	switch {
	case err == nil:
		return current, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading secret %s: %w", key.Name, err)
	}
	secret, err := desiredCachePasswordSecret(sf, r.Scheme, key.Name, roleCacheDefault, nil)
	if err != nil {
		return nil, err
	}
	log.FromContext(ctx).Info("Creating the cache default user's password secret", "secret", klog.KObj(secret))
	err = r.Create(ctx, secret, client.FieldOwner(fieldOwner))
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil, nil // made by an earlier reconcile; its Create event brings us back
	case err != nil:
		return nil, fmt.Errorf("creating secret %s: %w", secret.Name, err)
	}
	return secret, nil
}

// reconcileCachePasswords lists the cache password versions, oldest first, and makes
// the one the rotate-cache-password annotation asks for when it is missing.
func (r *StorefrontReconciler) reconcileCachePasswords(ctx context.Context, sf *shopv1alpha1.Storefront) ([]cachePassword, error) {
	list := &corev1.SecretList{}
	if err := r.List(ctx, list, client.InNamespace(sf.Namespace), client.MatchingLabels(labels(sf, roleCachePassword))); err != nil {
		return nil, fmt.Errorf("listing cache password secrets: %w", err)
	}
	var all []cachePassword
	for i := range list.Items {
		s := &list.Items[i]
		v, err := strconv.Atoi(s.Annotations[annotationPasswordVersion])
		if err != nil || v < 1 || len(s.Data[keyDBPassword]) == 0 || !metav1.IsControlledBy(s, sf) {
			continue // not one of ours, or damaged: never used, never deleted
		}
		all = append(all, cachePassword{version: v, rotation: s.Annotations[annotationPasswordRotation],
			retired: s.Annotations[annotationCacheUserRetired] == "true", secret: s})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })
	rotation := sf.Annotations[shopv1alpha1.AnnotationRotateCachePassword]
	if n := len(all); n > 0 && all[n-1].rotation == rotation {
		return all, nil
	}
	next := 1
	if n := len(all); n > 0 {
		next = all[n-1].version + 1
	}
	secret, err := desiredCachePasswordSecret(sf, r.Scheme, cachePasswordSecretName(sf, next), roleCachePassword,
		map[string]string{annotationPasswordVersion: strconv.Itoa(next), annotationPasswordRotation: rotation})
	if err != nil {
		return nil, err
	}
	log.FromContext(ctx).Info("Creating cache password secret", "secret", klog.KObj(secret), "version", next)
	err = r.Create(ctx, secret, client.FieldOwner(fieldOwner))
	switch {
	case apierrors.IsAlreadyExists(err):
		// Made by an earlier reconcile the cache has not caught up with.
	case err != nil:
		return nil, fmt.Errorf("creating secret %s: %w", secret.Name, err)
	default:
		if next > 1 {
			r.event(sf, corev1.EventTypeNormal, eventReasonCacheUserCreating, "Creating ElastiCache user %s with password Secret %s for rotation %q",
				cacheUserID(sf, next), secret.Name, rotation)
		}
		all = append(all, cachePassword{version: next, rotation: rotation, secret: secret})
	}
	return all, nil
}

// desiredCachePasswordSecret is a generated password in an Opaque Secret (ACK reads
// no other type) that the Storefront controls.
func desiredCachePasswordSecret(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, name, role string, annotations map[string]string) (*corev1.Secret, error) {
	password, err := randomString(cachePasswordLength)
	if err != nil {
		return nil, fmt.Errorf("generating a cache password: %w", err)
	}
	meta := objectMeta(sf, name, role)
	meta.Annotations = annotations
	secret := &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{keyDBPassword: []byte(password)}}
	if err := controllerutil.SetControllerReference(sf, secret, scheme); err != nil {
		return nil, err
	}
	return secret, nil
}

// desiredCacheUser is an ElastiCache User whose password ACK reads from the Secret
// named secretName (spec.passwords, read at creation only).
func desiredCacheUser(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region, name, role, userID, userName, access, secretName string) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkCacheUser, role, ackAnnotations(sf, gvkCacheUser, region))
	u.SetName(name)
	u.Object["spec"] = map[string]any{
		"userID":       userID,
		"userName":     userName,
		"engine":       cacheUserEngine,
		"accessString": access,
		"passwords":    []any{map[string]any{"namespace": sf.Namespace, "name": secretName, "key": keyDBPassword}},
	}
	return u
}

// desiredCacheUserGroup is the cache's UserGroup with the given members.
func desiredCacheUserGroup(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string, userIDs []string) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkCacheUserGroup, roleCache, ackAnnotations(sf, gvkCacheUserGroup, region))
	u.Object["spec"] = map[string]any{
		"userGroupID": cacheUserGroupID(sf),
		"engine":      cacheUserEngine,
		"userIDs":     stringsToAny(userIDs),
	}
	return u
}

// deleteCacheUsers deletes the user group, then the users (ElastiCache refuses to
// delete a group a cache uses, and a default user a group holds), and waits for ACK.
func (r *StorefrontReconciler) deleteCacheUsers(ctx context.Context, s *scope) (bool, error) {
	sf := s.sf
	done, err := r.deleteACKObject(ctx, s, gvkCacheUserGroup, objectName(sf, roleCache), nil)
	if err != nil || !done || !r.ackKindInstalled(gvkCacheUser) {
		return done, err
	}
	users, err := r.listACKObjects(ctx, sf, gvkCacheUser, client.MatchingLabels{labelInstance: sf.Name, labelManagedBy: fieldOwner})
	if err != nil {
		return false, err
	}
	var waiting []string
	for i := range users {
		u := &users[i]
		if !metav1.IsControlledBy(u, sf) {
			continue
		}
		if userModifying(u) {
			waiting = append(waiting, fmt.Sprintf("User %s is modifying: ElastiCache deletes only an active user", u.GetName()))
			continue
		}
		gone, err := r.deleteACKObject(ctx, s, gvkCacheUser, u.GetName(), nil)
		if err != nil {
			return false, err
		}
		if !gone {
			waiting = append(waiting, s.waitingOn)
		}
	}
	if len(waiting) > 0 {
		s.waitingOn = strings.Join(waiting, "; ")
		return false, nil
	}
	return true, nil
}

// removeCacheUsers deletes the user group, then the users once it is gone, then their
// password Secrets once they are gone, when the Storefront no longer asks for a
// serverless cache.
func (r *StorefrontReconciler) removeCacheUsers(ctx context.Context, sf *shopv1alpha1.Storefront) error {
	if !r.ackKindInstalled(gvkCacheUserGroup) || !r.ackKindInstalled(gvkCacheUser) {
		return nil
	}
	if err := r.removeACKObject(ctx, sf, gvkCacheUserGroup, objectName(sf, roleCache)); err != nil {
		return err
	}
	if group, err := r.currentACKObject(ctx, sf, gvkCacheUserGroup, objectName(sf, roleCache)); err != nil || group != nil {
		return err
	}
	users, err := r.listACKObjects(ctx, sf, gvkCacheUser, client.MatchingLabels{labelInstance: sf.Name, labelManagedBy: fieldOwner})
	if err != nil {
		return err
	}
	for i := range users {
		if err := r.removeACKObject(ctx, sf, gvkCacheUser, users[i].GetName()); err != nil {
			return err
		}
	}
	if len(users) > 0 {
		return nil
	}
	secrets := []namedObject{{&corev1.Secret{}, objectName(sf, roleCacheDefault)}}
	passwords := &corev1.SecretList{}
	if err := r.List(ctx, passwords, client.InNamespace(sf.Namespace), client.MatchingLabels(labels(sf, roleCachePassword))); err != nil {
		return fmt.Errorf("listing cache password secrets: %w", err)
	}
	for i := range passwords.Items {
		secrets = append(secrets, namedObject{&corev1.Secret{}, passwords.Items[i].Name})
	}
	_, err = r.deleteAll(ctx, sf, secrets)
	return err
}

// event records an Event on sf, when the reconciler has a recorder.
func (r *StorefrontReconciler) event(sf *shopv1alpha1.Storefront, eventType, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(sf, nil, eventType, reason, "Reconcile", format, args...)
	}
}
