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

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The plugin refuses a new restore exactly while the operator would make it wait
// (RestoreStatus.InProgress), and says what it waits on.
func TestRestoreRunning(t *testing.T) {
	done := metav1.Now()
	for _, tc := range []struct {
		name string
		rs   *shopv1alpha1.RestoreStatus
		want string
	}{
		{"no restore yet", nil, ""},
		{"restoring", &shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestoring},
			"storefront acme is restoring snapshot s1 (Restoring); wait until it ends"},
		{"restored, the replaced cluster not yet disposed of",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a"},
			"storefront acme restored snapshot s1, and the DB cluster sf-a it replaced is not yet released or deleted (pending); wait until it is"},
		{"restored, the replaced cluster deleting",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a", ReplacedClusterState: shopv1alpha1.ReplacedClusterDeleting},
			"storefront acme restored snapshot s1, and the DB cluster sf-a it replaced is not yet released or deleted (Deleting); wait until it is"},
		{"restored, the replaced cluster deleted",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a", ReplacedClusterState: shopv1alpha1.ReplacedClusterDeleted}, ""},
		{"restored, the replaced cluster retained",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a", ReplacedClusterState: shopv1alpha1.ReplacedClusterRetained}, ""},
		{"failed, its cluster being deleted",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", ClusterIdentifier: "sf-a-r1", State: shopv1alpha1.ReasonRestoreFailed},
			"storefront acme failed to restore snapshot s1, and the DB cluster sf-a-r1 of that restore is still being deleted; wait until it is"},
		{"failed, its cluster gone",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", ClusterIdentifier: "sf-a-r1", State: shopv1alpha1.ReasonRestoreFailed, CompletionTime: &done}, ""},
	} {
		sf := &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}
		sf.Status.Restore = tc.rs
		got := ""
		if err := restoreRunning(sf); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
