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

package fake_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/test/fake"
)

// Row "DBCluster status": dbClusterResourceID is AWS's identity of one cluster, not of
// its identifier. A cluster deleted and created again under the same identifier has a
// new one. RDS API reference, DBCluster.DbClusterResourceId ("The Amazon Web Services
// Region-unique, immutable identifier for the DB cluster"), "cluster-" and 26 upper-case
// letters and digits; rds-controller@8b3f5f2 pkg/resource/db_cluster/sdk.go sdkFind
// copies it into status.dbClusterResourceID, and DBInstance's DbiResourceId ("db-")
// into status.dbiResourceID.
func TestGoldenResourceIDIsNewForARecreatedCluster(t *testing.T) {
	g := newGolden(t, deletingOptions(300*time.Millisecond))
	first := str(g.availableCluster(nil), "status", "dbClusterResourceID")
	form := regexp.MustCompile(`^cluster-[A-Z0-9]{26}$`)
	if !form.MatchString(first) {
		t.Fatalf("dbClusterResourceID %q, want cluster- and 26 upper-case letters and digits", first)
	}
	if again := str(g.waitSynced(fake.DBClusterGVK, "golden-db"), "status", "dbClusterResourceID"); again != first {
		t.Fatalf("dbClusterResourceID changed without a new cluster: %q, then %q", first, again)
	}

	g.delete(fake.DBClusterGVK, "golden-db")
	waitFor(t, "AWS done deleting the cluster", func() bool { return awsStatus(g.s, fake.DBClusterGVK, testRegion, "golden-db") == "" })
	g.create(fake.DBClusterGVK, "golden-db", nil, clusterSpec("golden-db", "golden-group", g.ns, "master", "16.6"))
	second := str(g.waitSynced(fake.DBClusterGVK, "golden-db"), "status", "dbClusterResourceID")
	if !form.MatchString(second) {
		t.Fatalf("dbClusterResourceID %q of the new cluster", second)
	}
	if second == first {
		t.Fatalf("the cluster created again under golden-db has the deleted one's dbClusterResourceID %q", first)
	}
}
