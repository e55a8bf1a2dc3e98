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
	"net"
	"net/url"
	"strconv"

	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// reconcileCache finds the shared cache, if one is configured, and sets CacheReady.
func (r *StorefrontReconciler) reconcileCache(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	switch {
	case !s.cacheConfigured():
		sf.Status.Cache = nil
		sf.Status.CacheUser = nil
		s.setCondition(shopv1alpha1.ConditionCacheReady, true, shopv1alpha1.ReasonCacheNotConfigured,
			"No shared cache configured: the shop caches in-process only")
	case sf.Spec.Cache.External != nil:
		sf.Status.CacheUser = nil
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
		return r.reconcileServerlessCache(ctx, s)
	}
	return ctrl.Result{}, nil
}

// removeUnwantedCache deletes a serverless cache the spec no longer asks for, once no pod
// uses it: after the pods rolled to the connection Secret without it (s.rolledOut).
// Deleting it first would leave the running pods on a cache that is going away; the
// Deployment's events bring us back when the rollout ends.
func (r *StorefrontReconciler) removeUnwantedCache(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if sf.Spec.Cache != nil && sf.Spec.Cache.Serverless != nil {
		return ctrl.Result{}, nil
	}
	if !s.rolledOut() {
		return ctrl.Result{}, nil
	}
	if err := r.removeACKObject(ctx, sf, gvkServerlessCache, objectName(sf, roleCache)); err != nil {
		return ctrl.Result{}, err
	}
	// Its user group, users and their passwords go with it.
	return ctrl.Result{}, r.removeCacheUsers(ctx, sf)
}

// Settings of the ElastiCache Serverless cache.
const (
	cacheEngine             = "valkey"
	cacheMajorEngineVersion = "8"
	cacheStorageUnit        = "GB"
)

// reconcileServerlessCache provisions the cache through ACK. It is ready when ACK has
// synced it, ElastiCache reports it available and it has an endpoint; the shop reaches
// it with TLS (rediss://), the only way ElastiCache Serverless accepts, with
// certificates that chain to public roots.
func (r *StorefrontReconciler) reconcileServerlessCache(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	notReady := func(reason, msg string) (ctrl.Result, error) {
		s.setCondition(shopv1alpha1.ConditionCacheReady, false, reason, msg)
		return ctrl.Result{}, nil
	}
	for _, gvk := range []schema.GroupVersionKind{gvkServerlessCache, gvkCacheUser, gvkCacheUserGroup} {
		if !r.ackKindInstalled(gvk) {
			return notReady(shopv1alpha1.ReasonProvisioningFailed, ackNotInstalledMessage(gvk))
		}
	}
	// The cache is created, or changed, once its user group holds the shop's user
	// (storefront_cacheuser.go); meanwhile an existing cache is left as it is.
	access, st, err := r.reconcileCacheUsers(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	if access == nil {
		return notReady(st.Reason, st.Message)
	}
	sc := sf.Spec.Cache.Serverless
	eff := effective(sf)
	desired := withProvisioningTag(sf, r.Options.ClusterName, desiredServerlessCache(sf, r.Scheme, eff.Region,
		firstNonEmpty(sc.SubnetIDs, eff.CacheSubnetIDs), firstNonEmpty(sc.SecurityGroupIDs, eff.CacheSecurityGroupIDs), access.groupID))
	live, err := r.applyACK(ctx, desired)
	if err != nil {
		return ctrl.Result{}, err
	}
	host, _, _ := unstructured.NestedString(live.Object, pathEndpointAddress...)
	if st := judgeACK(s, live, pathStatus, host); !st.Ready {
		return notReady(st.Reason, st.Message)
	}
	port := nestedPort(live, pathEndpointPort...)
	if port == 0 {
		port = defaultRedisPort
	}
	ep := &storeEndpoint{Host: host, Port: port, URL: (&url.URL{Scheme: "rediss", User: url.UserPassword(access.user, access.password),
		Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}).String()}
	s.cache = ep
	sf.Status.Cache = &shopv1alpha1.EndpointStatus{Endpoint: host, Port: port}
	s.setCondition(shopv1alpha1.ConditionCacheReady, true, shopv1alpha1.ReasonCacheAvailable,
		fmt.Sprintf("ElastiCache Serverless %s at %s, as user %s", specField(live, "serverlessCacheName"), hostPort(ep), access.user))
	return ctrl.Result{}, nil
}

// desiredServerlessCache is the ElastiCache Serverless (valkey) cache with the spec's
// usage limits and the user group userGroupID; subnets and security groups are left to
// AWS's defaults when none are given.
func desiredServerlessCache(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string, subnets, securityGroups []string, userGroupID string) *unstructured.Unstructured {
	sc := sf.Spec.Cache.Serverless
	u := newACKOwned(sf, scheme, gvkServerlessCache, roleCache, ackAnnotations(sf, gvkServerlessCache, region))
	storage, ecpu := int64(sc.MaxDataStorageGB), int64(sc.MaxECPUPerSecond)
	if storage == 0 {
		storage = 5 // the API's defaults, for objects built without the API server
	}
	if ecpu == 0 {
		ecpu = 5000
	}
	spec := map[string]any{
		"serverlessCacheName": awsIdentifier(sf.Namespace, sf.Name),
		"description":         fmt.Sprintf("Storefront %s/%s", sf.Namespace, sf.Name),
		"engine":              cacheEngine,
		"majorEngineVersion":  cacheMajorEngineVersion,
		"cacheUsageLimits": map[string]any{
			"dataStorage":   map[string]any{"maximum": storage, "unit": cacheStorageUnit},
			"eCPUPerSecond": map[string]any{"maximum": ecpu},
		},
	}
	if userGroupID != "" {
		spec["userGroupID"] = userGroupID
	}
	if len(subnets) > 0 {
		spec["subnetIDs"] = stringsToAny(subnets)
	}
	if len(securityGroups) > 0 {
		spec["securityGroupIDs"] = stringsToAny(securityGroups)
	}
	u.Object["spec"] = spec
	return u
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
