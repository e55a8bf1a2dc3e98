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

	"github.com/redis/go-redis/v9"
	ctrl "sigs.k8s.io/controller-runtime"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// reconcileCache finds the shared cache, if one is configured, and sets CacheReady.
func (r *StorefrontReconciler) reconcileCache(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	switch {
	case !s.cacheConfigured():
		sf.Status.Cache = nil
		s.setCondition(shopv1alpha1.ConditionCacheReady, true, shopv1alpha1.ReasonCacheNotConfigured,
			"No shared cache configured: the shop caches in-process only")
	case sf.Spec.Cache.External != nil:
		ep, reason, msg, err := r.externalEndpoint(ctx, sf.Namespace, sf.Spec.Cache.External.URLSecretRef, parseRedisURL)
		if err != nil {
			return ctrl.Result{}, err
		}
		if ep == nil {
			s.setCondition(shopv1alpha1.ConditionCacheReady, false, reason, msg)
			return ctrl.Result{}, nil
		}
		s.cache = ep
		sf.Status.Cache = &shopv1alpha1.EndpointStatus{Endpoint: ep.Host, Port: ep.Port}
		s.setCondition(shopv1alpha1.ConditionCacheReady, true, shopv1alpha1.ReasonCacheAvailable,
			fmt.Sprintf("External cache at %s", hostPort(ep)))
	default:
		// ElastiCache Serverless through ACK is provisioned by the second part of the operator.
		s.setCondition(shopv1alpha1.ConditionCacheReady, false, shopv1alpha1.ReasonProvisioning,
			"ElastiCache Serverless caches are not supported by this version of the operator")
	}
	return ctrl.Result{}, nil
}

// parseRedisURL accepts redis:// and rediss:// URLs with a host, and checks the rest
// (database number, options) with go-redis, the client the shop uses.
func parseRedisURL(raw string) (string, int32, error) {
	host, port, err := parseStoreURL(raw, []string{"redis", "rediss"}, defaultRedisPort)
	if err != nil {
		return "", 0, err
	}
	if _, err := redis.ParseURL(raw); err != nil {
		return "", 0, fmt.Errorf("not a valid redis:// or rediss:// URL: %s", redactCause(err.Error(), raw))
	}
	return host, port, nil
}
