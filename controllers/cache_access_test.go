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
	"slices"
	"strings"
	"testing"
)

// TestCacheUserAccessString pins the shop's ElastiCache access string. The shop's tests
// run against a Redis whose shop user has exactly this string (test/testenv), so a
// command the shop needs and the string lacks fails them with NOPERM; a change here is a
// change of what every shop's cache user may do.
func TestCacheUserAccessString(t *testing.T) {
	const want = "on ~shop:* &shop:* -@all +get +getrange +set +incr +publish +subscribe +ping +hello +command +cluster|slots"
	if CacheUserAccessString != want {
		t.Errorf("CacheUserAccessString = %q\nwant                    %q", CacheUserAccessString, want)
	}
	// GET stays for shops of older images (and for a shop refused GETRANGE by an operator
	// older than it), which the shop's own tests do not grant (test/testenv).
	if CacheUserLegacyGrants != "+get" {
		t.Errorf("CacheUserLegacyGrants = %q, want %q", CacheUserLegacyGrants, "+get")
	}
	for _, g := range strings.Fields(CacheUserLegacyGrants) {
		if !slices.Contains(strings.Fields(CacheUserAccessString), g) {
			t.Errorf("the legacy grant %q is not in the access string", g)
		}
	}
	for name, tc := range map[string]struct{ token string }{
		// ElastiCache refuses these in an access string (Clusters.RBAC.html: no
		// passwords, no "reset"); "allkeys", "~*", "&*", "+@all" would grant every shop's keys.
		"no password":      {">"},
		"no reset":         {"reset"},
		"no key wildcard":  {"~* "},
		"no all channels":  {"&* "},
		"no all commands":  {"+@all"},
		"no admin command": {"+@admin"},
		"no dangerous":     {"+@dangerous"},
		"no flush":         {"+flush"},
		"no keys listing":  {"+keys"},
		"no config":        {"+config"},
	} {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(CacheUserAccessString+" ", tc.token) {
				t.Errorf("the access string holds %q", tc.token)
			}
		})
	}
}
