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
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The Aurora master password lives in versioned Secrets <name>-db-password-v<N>. ACK
// reacts to a changed reference in spec.masterUserPassword, not to a changed value, so a
// password is never rewritten: a rotation makes the next version and points the
// DBCluster at it. The versions are found by label, and their numbers and the rotation
// that made them are recorded on them, so nothing depends on the Storefront's status.
const (
	// keyDBPassword is the key of the password in a password Secret.
	keyDBPassword = "password"
	// dbPasswordLength: RDS accepts 8 to 41 printable characters but /, " and @; 32
	// alphanumerics are safe everywhere, URLs included.
	dbPasswordLength = 32
	// dbMasterUsername is the Aurora cluster's master user, the one migrations log in as.
	dbMasterUsername = "storefront"
	// annotationPasswordVersion holds N on <name>-db-password-v<N>; the name alone may
	// have been shortened.
	annotationPasswordVersion = "shop.storefront.dev/password-version"
	// annotationPasswordRotation holds the value of the rotate annotation (for the master
	// password rotate-master-password, for an application role's rotate-db-password) the
	// version was made for.
	annotationPasswordRotation = "shop.storefront.dev/rotation"
)

// dbPassword is one version of the master password.
type dbPassword struct {
	version  int
	rotation string
	secret   *corev1.Secret
}

// ref is how ACK's spec.masterUserPassword and its last-applied annotation name it.
func (p dbPassword) ref() string {
	return p.secret.Namespace + "/" + p.secret.Name + "." + keyDBPassword
}

// passwordSecretName is <name>-db-password-v<version>.
func passwordSecretName(sf *shopv1alpha1.Storefront, version int) string {
	return shortName(fmt.Sprintf("%s-%s-v%d", sf.Name, roleDBPassword, version))
}

// passwordSelector selects the Storefront's password Secrets, which may have no owner
// reference to find them by.
func passwordSelector(sf *shopv1alpha1.Storefront) client.MatchingLabels {
	l := labels(sf, roleDBPassword)
	return client.MatchingLabels(l)
}

// listPasswords returns the Storefront's password versions from the cache, oldest first.
func (r *StorefrontReconciler) listPasswords(ctx context.Context, sf *shopv1alpha1.Storefront) ([]dbPassword, error) {
	list := &corev1.SecretList{}
	if err := r.List(ctx, list, client.InNamespace(sf.Namespace), passwordSelector(sf)); err != nil {
		return nil, fmt.Errorf("listing password secrets: %w", err)
	}
	var out []dbPassword
	for i := range list.Items {
		s := &list.Items[i]
		v, err := strconv.Atoi(s.Annotations[annotationPasswordVersion])
		if err != nil || v < 1 || len(s.Data[keyDBPassword]) == 0 {
			continue // not one of ours, or damaged: never used, never deleted
		}
		out = append(out, dbPassword{version: v, rotation: s.Annotations[annotationPasswordRotation], secret: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// reconcilePasswords makes sure the master password version that
// shop.storefront.dev/rotate-master-password asks for exists (a new value only: see
// nextMasterPasswordStep), and that every version's owner reference follows the deletion
// policy (none under Retain and Snapshot, so that the kept database can still be opened
// after the Storefront is gone). It returns all versions, oldest first, and the newest,
// which the DBCluster must use; nil while that one is being created.
func (r *StorefrontReconciler) reconcilePasswords(ctx context.Context, sf *shopv1alpha1.Storefront) (all []dbPassword, newest *dbPassword, err error) {
	all, err = r.listPasswords(ctx, sf)
	if err != nil {
		return nil, nil, err
	}
	step := nextMasterPasswordStep(readMasterPassword(sf, all, nil))
	if step.Action == masterPasswordCreateSecret {
		secret, err := desiredPasswordSecret(sf, r.Scheme, step.Version, step.Rotation)
		if err != nil {
			return nil, nil, err
		}
		if step.Version == 1 {
			log.FromContext(ctx).Info("Creating master password secret", "secret", klog.KObj(secret))
		} else {
			log.FromContext(ctx).Info("Creating rotated master password secret", "secret", klog.KObj(secret), "version", step.Version)
		}
		err = r.Create(ctx, secret, client.FieldOwner(fieldOwner))
		if apierrors.IsAlreadyExists(err) && r.APIReader != nil {
			// Made by an earlier reconcile the cache has not caught up with: read it
			// rather than wait for the cache, and never make another password.
			err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(secret), secret)
		}
		switch {
		case apierrors.IsAlreadyExists(err):
			// No API reader: its Create event brings us back once the cache has it.
			return all, nil, nil
		case err != nil:
			return nil, nil, fmt.Errorf("creating secret %s: %w", secret.Name, err)
		}
		all = append(all, dbPassword{version: step.Version, rotation: step.Rotation, secret: secret})
	}
	if n := len(all); n > 0 {
		newest = &all[n-1]
	}
	others, err := r.keptPasswords(ctx, sf)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range all {
		if err := r.ownPasswordPerPolicy(ctx, sf, p.secret, others); err != nil {
			return nil, nil, err
		}
	}
	return all, newest, nil
}

// keepsDatabase reports whether the deletion policy keeps the database or a snapshot of
// it, and so the password Secrets that open it.
func keepsDatabase(sf *shopv1alpha1.Storefront) bool {
	return auroraDeletionPolicy(sf) != shopv1alpha1.DeletionPolicyDelete
}

// auroraDeletionPolicy is spec.database.aurora.deletionPolicy, Snapshot when unset.
func auroraDeletionPolicy(sf *shopv1alpha1.Storefront) shopv1alpha1.DeletionPolicy {
	if a := sf.Spec.Database.Aurora; a != nil && a.DeletionPolicy != "" {
		return a.DeletionPolicy
	}
	return shopv1alpha1.DeletionPolicySnapshot
}

// ownPasswordPerPolicy gives the password Secret the Storefront as controller under the
// Delete policy, and takes that owner reference away under the others and from the
// passwords of other clusters (keptPasswords).
func (r *StorefrontReconciler) ownPasswordPerPolicy(ctx context.Context, sf *shopv1alpha1.Storefront, secret *corev1.Secret, others map[string]bool) error {
	return r.ownUnlessKept(ctx, sf, secret, keepsDatabase(sf) || others[secret.Name])
}

// keptPasswords are the password Secrets that even the Delete policy keeps: those of
// the Storefront's other DBCluster objects (passwordsOfOtherClusters), such as the
// cluster a restore replaced and Retain kept, which stays in AWS and opens only with the
// password of its time. Nil when the policy keeps them all anyway.
func (r *StorefrontReconciler) keptPasswords(ctx context.Context, sf *shopv1alpha1.Storefront) (map[string]bool, error) {
	if keepsDatabase(sf) {
		return nil, nil
	}
	return r.passwordsOfOtherClusters(ctx, sf)
}

// ownUnlessKept gives a Secret that a deletion may keep (the password versions,
// <name>-app) the Storefront as controller unless keep, and takes that owner reference
// away when keep, so that neither the finalizer nor the garbage collector deletes it.
// It patches only when the reference is not as keep says.
func (r *StorefrontReconciler) ownUnlessKept(ctx context.Context, sf *shopv1alpha1.Storefront, secret *corev1.Secret, keep bool) error {
	owned := metav1.IsControlledBy(secret, sf)
	if owned == !keep {
		return nil
	}
	patch := client.MergeFromWithOptions(secret.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if !keep {
		if err := controllerutil.SetControllerReference(sf, secret, r.Scheme); err != nil {
			return err
		}
		log.FromContext(ctx).Info("Owning secret: the deletion policy deletes the database", "secret", klog.KObj(secret))
	} else {
		if err := controllerutil.RemoveControllerReference(sf, secret, r.Scheme); err != nil {
			return err
		}
		log.FromContext(ctx).Info("Releasing secret: the deletion policy keeps the database", "secret", klog.KObj(secret))
	}
	if err := r.Patch(ctx, secret, patch, client.FieldOwner(fieldOwner)); err != nil {
		return fmt.Errorf("patching the owner of secret %s: %w", secret.Name, err)
	}
	return nil
}

// desiredPasswordSecret is version v of the master password, generated now, with the
// Storefront as controller only under the Delete policy.
func desiredPasswordSecret(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, version int, rotation string) (*corev1.Secret, error) {
	password, err := randomString(dbPasswordLength)
	if err != nil {
		return nil, fmt.Errorf("generating the master password: %w", err)
	}
	meta := objectMeta(sf, passwordSecretName(sf, version), roleDBPassword)
	meta.Annotations = map[string]string{
		annotationPasswordVersion:  strconv.Itoa(version),
		annotationPasswordRotation: rotation,
	}
	secret := &corev1.Secret{
		ObjectMeta: meta,
		// ACK reads only Opaque Secrets.
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{keyDBPassword: []byte(password)},
	}
	if !keepsDatabase(sf) {
		if err := controllerutil.SetControllerReference(sf, secret, scheme); err != nil {
			return nil, err
		}
	}
	return secret, nil
}

// finishPasswordRotation is the phase after the workload: once the migrations' Secret
// uses the newest master password ACK applied (and pods from before the application
// roles have moved off it), the older versions are deleted; they open nothing any more.
func (r *StorefrontReconciler) finishPasswordRotation(ctx context.Context, s *scope) (ctrl.Result, error) {
	inUse := s.dbPasswordInUse
	if inUse == nil {
		return ctrl.Result{}, nil
	}
	// Pods from before the application roles still log in as the master user until the
	// first login's rollout; after it, only migration Jobs do, and they read the
	// password at start from <name>-migrate-connection, which names inUse.
	if (s.appLogin == nil || s.appLogin.Active == "") && !s.rolledOut() {
		return ctrl.Result{}, nil
	}
	var referenced map[string]bool
	for _, p := range s.dbPasswords {
		if p.version >= inUse.version || !p.secret.DeletionTimestamp.IsZero() {
			continue
		}
		if referenced == nil {
			// Read only when a version is superseded, not on every reconcile.
			var err error
			if referenced, err = r.passwordsOfOtherClusters(ctx, s.sf); err != nil {
				return ctrl.Result{}, err
			}
		}
		if referenced[p.secret.Name] {
			continue
		}
		log.FromContext(ctx).Info("Deleting superseded master password secret", "secret", klog.KObj(p.secret), "inUse", inUse.version)
		if err := r.Delete(ctx, p.secret); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("deleting secret %s: %w", p.secret.Name, err)
		}
	}
	return ctrl.Result{}, nil
}

// passwordsOfOtherClusters are the master password Secrets that the Storefront's other
// DBCluster objects reference: a cluster a restore replaced and Retain kept opens only
// with the password of its time, which a rotation of the current cluster must not delete.
func (r *StorefrontReconciler) passwordsOfOtherClusters(ctx context.Context, sf *shopv1alpha1.Storefront) (map[string]bool, error) {
	others, err := r.otherDBClusters(ctx, sf)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i := range others {
		if name, _, _ := unstructured.NestedString(others[i].Object, "spec", "masterUserPassword", "name"); name != "" {
			out[name] = true
		}
	}
	return out, nil
}

// rolledOut reports whether the pods read the current connection Secret: there are none
// yet (nothing was migrated), or the Deployment is available with the template of the
// current configuration checksum.
func (s *scope) rolledOut() bool {
	if s.configChecksum == "" {
		return false
	}
	if s.deployment == nil {
		return s.sf.Status.MigratedImage == ""
	}
	if s.deployment.Spec.Template.Annotations[annotationConfigChecksum] != s.configChecksum {
		return false
	}
	return podsRolledOut(s.sf, s.deployment)
}
