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
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete

// Keys of the Secrets the operator generates; the env var names the shop reads are in
// storefront_workload.go.
const (
	keyJWTSecret     = "jwt-secret"
	keyAdminEmail    = "admin-email"
	keyAdminPassword = "admin-password"
	// keyTOTPKey seals the admins' TOTP secrets at rest (the shop's TOTP_KEY); to rotate
	// it, move its value to keyTOTPKeyPrevious and delete it: the operator generates a
	// new one, and the shop reseals every secret at start.
	keyTOTPKey         = "totp-key"
	keyTOTPKeyPrevious = "totp-key-previous"
	keyDatabaseURL     = "DATABASE_URL"
	keyRedisURL        = "REDIS_URL"
)

// alphanumerics are the characters of generated passwords: safe in URLs, shells and
// every password policy we know of (RDS refuses /, " and @).
const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// reconcileSecrets makes sure <name>-app exists with its four keys. Its values are
// generated once and never rewritten: a missing key is added, an existing one is kept.
// Like the password Secrets, it is owned by the Storefront only while the deletion
// policy deletes the database (keepsAppSecret): a kept one is found again by its name
// when the Storefront is created again.
func (r *StorefrontReconciler) reconcileSecrets(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	current := &corev1.Secret{}
	key := client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleApp)}
	err := r.Get(ctx, key, current)
	switch {
	case apierrors.IsNotFound(err):
		secret, err := desiredAppSecret(sf, r.Scheme, nil)
		if err != nil {
			return ctrl.Result{}, err
		}
		log.FromContext(ctx).Info("Creating application secret", "secret", klog.KObj(secret))
		return ctrl.Result{}, r.createOwned(ctx, "Secret", secret, &corev1.Secret{})
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading secret %s: %w", key.Name, err)
	}
	if err := r.ownUnlessKept(ctx, sf, current, keepsAppSecret(sf)); err != nil {
		return ctrl.Result{}, err
	}
	if missingAppKeys(current.Data) {
		secret, err := desiredAppSecret(sf, r.Scheme, current.Data)
		if err != nil {
			return ctrl.Result{}, err
		}
		log.FromContext(ctx).Info("Adding missing keys to application secret", "secret", klog.KObj(secret))
		patch := client.MergeFromWithOptions(current.DeepCopy(), client.MergeFromWithOptimisticLock{})
		current.Data = secret.Data
		if err := r.Patch(ctx, current, patch, client.FieldOwner(fieldOwner)); err != nil {
			return ctrl.Result{}, fmt.Errorf("patching secret %s: %w", key.Name, err)
		}
	}
	return ctrl.Result{}, nil
}

func missingAppKeys(data map[string][]byte) bool {
	for _, k := range []string{keyJWTSecret, keyAdminEmail, keyAdminPassword, keyTOTPKey} {
		if len(data[k]) == 0 {
			return true
		}
	}
	return false
}

// desiredAppSecret is <name>-app with the values of existing kept and the missing ones
// generated: a JWT signing key, the TOTP sealing key, the first admin's email and
// password.
func desiredAppSecret(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, existing map[string][]byte) (*corev1.Secret, error) {
	data := map[string][]byte{}
	for k, v := range existing {
		data[k] = v
	}
	generate := map[string]func() (string, error){
		keyJWTSecret:     func() (string, error) { return randomString(64) },
		keyTOTPKey:       func() (string, error) { return randomString(64) },
		keyAdminPassword: func() (string, error) { return randomString(32) },
		keyAdminEmail:    func() (string, error) { return adminEmail(sf) },
	}
	for k, gen := range generate {
		if len(data[k]) > 0 {
			continue
		}
		v, err := gen()
		if err != nil {
			return nil, fmt.Errorf("generating %s: %w", k, err)
		}
		data[k] = []byte(v)
	}
	secret := &corev1.Secret{
		ObjectMeta: objectMeta(sf, objectName(sf, roleApp), roleApp),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if !keepsAppSecret(sf) {
		own(sf, secret)
	}
	return secret, nil
}

// keepsAppSecret reports whether a deletion keeps <name>-app: whenever it keeps the
// Aurora database or its final snapshot. That database holds the admins' TOTP secrets
// sealed with totp-key, and the shop refuses to start when one opens with neither of
// its keys (shop/auth/totpseal.go ResealTOTP): a new key would lock every pod out of
// the adopted or restored database.
func keepsAppSecret(sf *shopv1alpha1.Storefront) bool {
	return sf.Spec.Database.Aurora != nil && keepsDatabase(sf)
}

// adminEmail is the first admin's login, admin-<8 random hex>@ the shop's host when it
// has one: a login nobody can guess, so nobody can aim failed logins at it (issue 21).
func adminEmail(sf *shopv1alpha1.Storefront) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	local := "admin-" + hex.EncodeToString(b[:])
	if sf.Spec.Ingress != nil && sf.Spec.Ingress.Host != "" && sf.Spec.Ingress.Host[0] != '*' {
		return local + "@" + sf.Spec.Ingress.Host, nil
	}
	return local + "@" + sf.Name + "." + sf.Namespace + ".storefront.local", nil
}

// randomString returns n characters of alphanumerics from crypto/rand.
func randomString(n int) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphanumerics)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = alphanumerics[k.Int64()]
	}
	return string(out), nil
}

// reconcileConnection composes <name>-connection from the endpoints the database and
// cache phases found, whatever provided them. While a store is not ready the Secret is
// left as it is, so running pods keep working.
func (r *StorefrontReconciler) reconcileConnection(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.storesReady() {
		return ctrl.Result{}, nil
	}
	db, err := r.connectionDatabase(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	desired, err := desiredConnectionSecret(s.sf, r.Scheme, db, s.cache)
	if err != nil {
		return ctrl.Result{}, err
	}
	if _, err := r.applyObject(ctx, desired); err != nil {
		return ctrl.Result{}, err
	}
	app := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: s.sf.Namespace, Name: objectName(s.sf, roleApp)}, app); err != nil {
		// Just created by the secrets phase and not in the cache yet: its Create
		// event reconciles again.
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading secret %s: %w", objectName(s.sf, roleApp), err)
	}
	s.configChecksum = configChecksum(desired.Data, app.Data)
	return ctrl.Result{}, nil
}

// desiredConnectionSecret is <name>-connection: DATABASE_URL, and REDIS_URL when there
// is a shared cache.
func desiredConnectionSecret(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, db, cache *storeEndpoint) (*corev1.Secret, error) {
	data := map[string][]byte{keyDatabaseURL: []byte(db.URL)}
	if cache != nil {
		data[keyRedisURL] = []byte(cache.URL)
	}
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(sf, objectName(sf, roleConnection), roleConnection),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	own(sf, secret)
	return secret, nil
}

// configChecksum hashes the data of the given Secrets in a stable order.
func configChecksum(secrets ...map[string][]byte) string {
	h := sha256.New()
	for i, data := range secrets {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(h, "secret %d\n", i)
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%x\n", k, data[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
