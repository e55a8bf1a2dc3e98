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
	"strings"
	"testing"
)

func TestParseRedisURL(t *testing.T) {
	cases := map[string]struct {
		url      string
		host     string
		port     int32
		errorHas string
	}{
		"redis with a database":         {"redis://cache.example:6380/2", "cache.example", 6380, ""},
		"rediss with a password":        {"rediss://:pw@cache.example", "cache.example", 6379, ""},
		"rediss with user and password": {"rediss://shop:pw@cache.example:6379/0", "cache.example", 6379, ""},
		"a postgres URL":                {"postgres://db/shop", "", 0, "redis://"},
		"a database that is no number":  {"redis://:pw@cache.example/x", "", 0, "not a valid"},
		"no host":                       {"redis:///0", "", 0, "no host"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			host, port, err := parseRedisURL(tc.url)
			if tc.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errorHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errorHas)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("the error leaks the password: %v", err)
				}
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Errorf("got %q, %d, %v; want %q, %d", host, port, err, tc.host, tc.port)
			}
		})
	}
}
