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
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Default ports of the data stores, used when a URL names none.
const (
	defaultPostgresPort = 5432
	defaultRedisPort    = 6379
)

// storeEndpoint describes a data store the shop connects to, however it was provided.
// The database and cache phases produce it; the connection Secret, the NetworkPolicies
// and the status consume it.
type storeEndpoint struct {
	// Host and Port are where the store listens: the status reports them and the
	// NetworkPolicies open Port.
	Host string
	Port int32
	// URL is what the shop is given (DATABASE_URL or REDIS_URL). It holds credentials:
	// never log it or put it in a condition.
	URL string
	// CABundle, when set, is a Secret key holding the CA to verify the store against; it
	// is mounted read-only at caBundleMountPath and URL refers to it there.
	CABundle *shopv1alpha1.SecretKeyRef
}

// caBundleMountPath is where a database CA bundle is mounted in the shop's containers.
const caBundleMountPath = "/etc/storefront/database-ca"

// reconcileDatabase finds the database the shop uses and sets DatabaseReady.
func (r *StorefrontReconciler) reconcileDatabase(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	switch {
	case sf.Spec.Database.External != nil:
		ep, reason, msg, err := r.externalEndpoint(ctx, sf.Namespace, sf.Spec.Database.External.URLSecretRef, parsePostgresURL)
		if err != nil {
			return ctrl.Result{}, err
		}
		if ep == nil {
			s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, reason, msg)
			return ctrl.Result{}, nil
		}
		s.database = ep
		sf.Status.Database = &shopv1alpha1.EndpointStatus{Endpoint: ep.Host, Port: ep.Port}
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, true, shopv1alpha1.ReasonDatabaseAvailable,
			fmt.Sprintf("External database at %s", hostPort(ep)))
	default:
		// Aurora through ACK is provisioned by the second part of the operator.
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, shopv1alpha1.ReasonProvisioning,
			"Aurora databases are not supported by this version of the operator")
	}
	return ctrl.Result{}, nil
}

// urlParser validates a store URL and returns its host and port.
type urlParser func(raw string) (host string, port int32, err error)

// externalEndpoint reads an external store's URL from ref and validates it. A missing or
// invalid URL is not an error of the reconcile: it returns a nil endpoint with the
// condition reason and message to report (the message names the Secret and key, never
// the URL, which holds a password).
func (r *StorefrontReconciler) externalEndpoint(ctx context.Context, namespace string, ref shopv1alpha1.SecretKeyRef, parse urlParser) (ep *storeEndpoint, reason, message string, err error) {
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, shopv1alpha1.ReasonConnectionSecretNotFound, fmt.Sprintf("Secret %s not found", ref.Name), nil
		}
		return nil, "", "", fmt.Errorf("reading secret %s: %w", ref.Name, err)
	}
	return endpointFromSecret(secret, ref, parse)
}

// endpointFromSecret validates the URL in secret's key ref.Key.
func endpointFromSecret(secret *corev1.Secret, ref shopv1alpha1.SecretKeyRef, parse urlParser) (ep *storeEndpoint, reason, message string, err error) {
	raw, ok := secret.Data[ref.Key]
	if !ok {
		return nil, shopv1alpha1.ReasonConnectionSecretNotFound, fmt.Sprintf("Secret %s has no key %s", ref.Name, ref.Key), nil
	}
	value := strings.TrimSpace(string(raw))
	host, port, perr := parse(value)
	if perr != nil {
		return nil, shopv1alpha1.ReasonInvalidConnectionSecret,
			fmt.Sprintf("Secret %s key %s: %v", ref.Name, ref.Key, perr), nil
	}
	return &storeEndpoint{Host: host, Port: port, URL: value}, "", "", nil
}

// parsePostgresURL accepts postgres:// and postgresql:// URLs with a host.
func parsePostgresURL(raw string) (string, int32, error) {
	return parseStoreURL(raw, []string{"postgres", "postgresql"}, defaultPostgresPort)
}

// parseStoreURL checks that raw is a URL of one of schemes with a host, and returns the
// host and port (defaultPort when none is given). Its errors never contain the URL.
func parseStoreURL(raw string, schemes []string, defaultPort int32) (string, int32, error) {
	want := strings.Join(schemes, ":// or ") + "://"
	if raw == "" {
		return "", 0, fmt.Errorf("empty, want a %s URL", want)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// url.Error repeats the whole URL, password included: keep only the cause.
			err = uerr.Err
		}
		return "", 0, fmt.Errorf("not a valid %s URL: %s", want, redactCause(err.Error(), raw))
	}
	if !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return "", 0, fmt.Errorf("not a %s URL (scheme %q)", want, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return "", 0, fmt.Errorf("the %s URL has no host", want)
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("the %s URL has an invalid port %q", want, p)
		}
		port = int32(n)
	}
	return host, port, nil
}

// redactCause removes the userinfo of raw from msg, should a parser have quoted it.
func redactCause(msg, raw string) string {
	if at := strings.LastIndex(raw, "@"); at > 0 {
		if i := strings.Index(raw, "://"); i >= 0 && i+3 < at {
			if userinfo := raw[i+3 : at]; userinfo != "" {
				msg = strings.ReplaceAll(msg, userinfo, "xxxxx")
			}
		}
	}
	return msg
}

func hostPort(ep *storeEndpoint) string {
	return fmt.Sprintf("%s:%d", ep.Host, ep.Port)
}
