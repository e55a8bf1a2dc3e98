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
	"testing"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func TestParseRedisURL(t *testing.T) {
	cases := map[string]urlCase{
		"redis with a database":         {"redis://cache.example:6380/2", "cache.example", 6380, ""},
		"rediss with a password":        {"rediss://:pw@cache.example", "cache.example", 6379, ""},
		"rediss with user and password": {"rediss://shop:pw@cache.example:6379/0", "cache.example", 6379, ""},
		"a postgres URL":                {"postgres://db/shop", "", 0, "redis://"},
		"a database that is no number":  {"redis://:pw@cache.example/x", "", 0, "not a valid"},
		"no host":                       {"redis:///0", "", 0, "no host"},
	}
	checkURLParser(t, parseRedisURL, cases)
}

func TestDesiredServerlessCache(t *testing.T) {
	id := awsIdentifier("shops", "acme")
	cases := map[string]struct {
		limits             shopv1alpha1.ServerlessCache
		subnets, sgs       []string
		storage, ecpu      int64
		hasSubnets, hasSGs bool
	}{
		"the spec's limits and the given networks": {shopv1alpha1.ServerlessCache{MaxDataStorageGB: 20, MaxECPUPerSecond: 20000},
			[]string{"subnet-1"}, []string{"sg-1"}, 20, 20000, true, true},
		"the API's defaults, AWS's networks": {shopv1alpha1.ServerlessCache{}, nil, nil, 5, 5000, false, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := storefrontNamed("acme")
			sf.Spec.Cache = &shopv1alpha1.CacheSpec{Serverless: &tc.limits}
			u := desiredServerlessCache(sf, testScheme, "eu-west-1", tc.subnets, tc.sgs, "sf-group")
			spec := u.Object["spec"].(map[string]any)
			if spec["serverlessCacheName"] != id || spec["engine"] != "valkey" || spec["majorEngineVersion"] != "8" || spec["userGroupID"] != "sf-group" {
				t.Errorf("spec %v", spec)
			}
			limits := spec["cacheUsageLimits"].(map[string]any)
			storage := limits["dataStorage"].(map[string]any)
			if storage["maximum"] != tc.storage || storage["unit"] != "GB" || limits["eCPUPerSecond"].(map[string]any)["maximum"] != tc.ecpu {
				t.Errorf("limits %v", limits)
			}
			if _, ok := spec["subnetIDs"]; ok != tc.hasSubnets {
				t.Errorf("subnetIDs set: %v", ok)
			}
			if _, ok := spec["securityGroupIDs"]; ok != tc.hasSGs {
				t.Errorf("securityGroupIDs set: %v", ok)
			}
			if u.GetName() != "acme-cache" || u.GetAnnotations()[ackAnnotationDeletionPolicy] != "delete" {
				t.Errorf("metadata %s %v", u.GetName(), u.GetAnnotations())
			}
		})
	}
}
