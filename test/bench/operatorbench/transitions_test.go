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

package main

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

func storefrontWith(conds ...metav1.Condition) *shopv1alpha1.Storefront {
	sf := &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	sf.Status.Conditions = conds
	return sf
}

func cond(t, status, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionStatus(status), Reason: reason}
}

// The harness counts each condition's entry into a state once, in the order the
// versions came, and an Event must report that very state: as many Events as state
// changes is not enough when one of them is another condition's, folded into a series.
func TestStateChangesAgainstEvents(t *testing.T) {
	tr := &transitions{seen: map[types.NamespacedName]map[string]string{}, steps: map[types.NamespacedName][][]string{}}
	tr.observe(storefrontWith(cond("DatabaseReady", "False", "Provisioning"), cond("CacheReady", "False", "Provisioning")))
	tr.observe(storefrontWith(cond("DatabaseReady", "False", "Provisioning"), cond("CacheReady", "False", "Provisioning"))) // no change
	tr.observe(storefrontWith(cond("DatabaseReady", "True", "DatabaseAvailable"), cond("CacheReady", "False", "Provisioning")))
	key := types.NamespacedName{Namespace: "ns", Name: "a"}

	paths := tr.commonPaths(5)
	want := "CacheReady=False/Provisioning, DatabaseReady=False/Provisioning → DatabaseReady=True/DatabaseAvailable"
	if len(paths) != 1 || paths[0].path != want || paths[0].storefronts != 1 {
		t.Fatalf("paths = %+v, want one Storefront on %q", paths, want)
	}

	own := map[types.NamespacedName]map[string]int{key: {
		"DatabaseReady=False/Provisioning": 1, "CacheReady=False/Provisioning": 1, "DatabaseReady=True/DatabaseAvailable": 1,
	}}
	if n, e, mismatch := eventCheck(tr.count(), own); n != 3 || e != 3 || mismatch != "" {
		t.Errorf("one Event each: %d changes, %d Events, mismatch %q", n, e, mismatch)
	}
	// client-go's series: CacheReady's Event counted into DatabaseReady's (count 2).
	folded := map[types.NamespacedName]map[string]int{key: {
		"DatabaseReady=False/Provisioning": 2, "DatabaseReady=True/DatabaseAvailable": 1,
	}}
	n, e, mismatch := eventCheck(tr.count(), folded)
	if n != 3 || e != 3 {
		t.Errorf("totals %d and %d, want 3 and 3", n, e)
	}
	if want := "ns/a CacheReady=False/Provisioning: 1 state changes, 0 Events; ns/a DatabaseReady=False/Provisioning: 1 state changes, 2 Events"; mismatch != want {
		t.Errorf("mismatch = %q, want %q", mismatch, want)
	}
}

func TestTransitionNote(t *testing.T) {
	for note, want := range map[string]string{
		"DatabaseReady=False: Aurora cluster sf-x is creating": "DatabaseReady=False",
		"Ready=True: The shop serves img":                      "Ready=True",
		"Creating ElastiCache user sf-x-v2":                    "",
	} {
		got := ""
		if m := transitionNote.FindStringSubmatch(note); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: %q, want %q", note, got, want)
		}
	}
}
