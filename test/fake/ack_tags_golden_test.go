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

// Golden tests of a tag-only spec change, row "tag change" of the README's table. The
// operator's re-drive moves a tag (controllers/storefront_redrive.go); these pin what
// that does to each kind it tags.

import (
	"maps"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/storefront-operator/storefront/test/fake"
)

// tagged is spec with the tag team=value.
func tagged(spec map[string]any, value string) map[string]any {
	spec["tags"] = []any{map[string]any{"key": "team", "value": value}}
	return spec
}

// retag sets the object's tag team to value.
func (g *golden) retag(gvk schema.GroupVersionKind, name, value string) {
	g.t.Helper()
	g.change(gvk, name, func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"key": "team", "value": value}}, "spec", "tags")
	})
}

// awsTags are the tags AWS holds on the resource.
func (g *golden) awsTags(gvk schema.GroupVersionKind, id string) map[string]string {
	g.t.Helper()
	r, ok := g.s.AWS().Get(fake.AWSKey{Account: testAccount, Region: testRegion, Kind: gvk.Kind, ID: id})
	if !ok {
		g.t.Fatalf("%s %s: not in AWS", gvk.Kind, id)
	}
	return r.Tags
}

// waitAWSTags waits until AWS holds want on the resource.
func (g *golden) waitAWSTags(gvk schema.GroupVersionKind, id string, want map[string]string) {
	g.t.Helper()
	waitFor(g.t, gvk.Kind+" "+id+" tags in AWS", func() bool { return maps.Equal(g.awsTags(gvk, id), want) })
}

// ackTags are the tags a resource of service gets from ACK (--resource-tags: controller
// version and namespace) and the team tag.
func (g *golden) ackTags(service, team string) map[string]string {
	version := map[string]string{"rds": "rds-1.11.1", "elasticache": "elasticache-1.8.0"}[service]
	return map[string]string{"services.k8s.aws/controller-version": version, "services.k8s.aws/namespace": g.ns, "team": team}
}

// Row "tag change", RDS kinds. rds-controller@8b3f5f2: each kind's sdkFind reads the tags
// (hooks.go getTags, ListTagsForResource) and compares them (hooks.go compareTags, from
// db_subnet_group/delta.go and db_cluster/delta.go newResourceDelta and
// db_instance/hooks.go customPreCompare). DBSubnetGroup: sdk.go sdkUpdate calls
// ModifyDBSubnetGroup, then syncTags, and no hook sets Synced. DBCluster:
// custom_update.go customUpdate syncs the tags and still calls ModifyDBCluster (its
// tags-only shortcut is the else branch of the tags one), then SetSynced False; the
// next reads see the cluster modifying (sdkFind: Synced False) until AWS is done.
// DBInstance: sdk.go sdkUpdate syncs the tags, calls ModifyDBInstance, SetSynced False.
// runtime@95428e7 pkg/runtime/reconciler.go updateResource (delta.DifferentAt("Spec")).
func TestGoldenTagChangeOnRDSKinds(t *testing.T) {
	g := newGolden(t, deletingOptions(2*time.Second))
	g.create(fake.DBSubnetGroupGVK, "golden-group", nil, tagged(map[string]any{"name": "golden-group", "description": "golden",
		"subnetIDs": []any{"subnet-1", "subnet-2"}}, "a"))
	g.waitConditions(fake.DBSubnetGroupGVK, "golden-group", availableGroupWant)
	g.secret("master", "Aa1-golden-password-0123456789")
	g.create(fake.DBClusterGVK, "golden-db", nil, tagged(clusterSpec("golden-db", "golden-group", g.ns, "master", "16.6"), "a"))
	g.waitConditions(fake.DBClusterGVK, "golden-db", availableClusterWant)
	g.create(fake.DBInstanceGVK, "golden-db", nil, tagged(map[string]any{"dbInstanceIdentifier": "golden-db",
		"dbInstanceClass": "db.serverless", "engine": "aurora-postgresql", "dbClusterIdentifier": "golden-db"}, "a"))
	g.waitConditions(fake.DBInstanceGVK, "golden-db", availableInstWant)
	g.waitAWSTags(fake.DBClusterGVK, "golden-db", g.ackTags("rds", "a"))

	g.retag(fake.DBSubnetGroupGVK, "golden-group", "b")
	g.waitAWSTags(fake.DBSubnetGroupGVK, "golden-group", g.ackTags("rds", "b"))
	g.stays(fake.DBSubnetGroupGVK, "golden-group", availableGroupWant, time.Second)

	notSynced := map[string]string{"ACK.ResourceSynced": "False||", "ACK.LateInitialized": lateInitializedTrue, "Ready": "False||"}
	g.retag(fake.DBClusterGVK, "golden-db", "b")
	g.waitConditions(fake.DBClusterGVK, "golden-db", notSynced)
	g.waitAWSTags(fake.DBClusterGVK, "golden-db", g.ackTags("rds", "b"))
	if st := awsStatus(g.s, fake.DBClusterGVK, testRegion, "golden-db"); st != "modifying" {
		t.Errorf("DBCluster in AWS: status %q, want modifying (ModifyDBCluster after the tags)", st)
	}
	g.waitConditions(fake.DBClusterGVK, "golden-db", availableClusterWant)

	g.retag(fake.DBInstanceGVK, "golden-db", "b")
	g.waitConditions(fake.DBInstanceGVK, "golden-db", notSynced)
	g.waitAWSTags(fake.DBInstanceGVK, "golden-db", g.ackTags("rds", "b"))
	g.waitConditions(fake.DBInstanceGVK, "golden-db", availableInstWant)
}

// Row "tag change", ServerlessCache. elasticache-controller@a99ef75
// pkg/resource/serverless_cache/sdk.go sdkFind (getTags), delta.go newResourceDelta
// (Spec.Tags as maps), hooks.go customUpdateServerlessCache (the tags case: syncTags,
// then requeueWaitWhileModifying, 10 s, as after every change) and the generated
// updateConditions (ACK.Recoverable with the requeue's text); runtime@95428e7
// ensureConditions (Synced Unknown). The next read finds no difference: synced.
func TestGoldenTagChangeOnAServerlessCache(t *testing.T) {
	opts := goldenOptions()
	opts.ACKRetry = 3 * time.Second // the 10-second requeue becomes 1 s
	g := newGolden(t, opts)
	g.create(fake.ServerlessCacheGVK, "golden-cache", nil, tagged(map[string]any{"serverlessCacheName": "golden-cache",
		"engine": "valkey", "majorEngineVersion": "8"}, "a"))
	g.waitConditions(fake.ServerlessCacheGVK, "golden-cache", availableCacheWant)
	g.waitAWSTags(fake.ServerlessCacheGVK, "golden-cache", g.ackTags("elasticache", "a"))

	g.retag(fake.ServerlessCacheGVK, "golden-cache", "b")
	modifying := "serverless cache in 'modifying' state, cannot be further modified"
	g.waitConditions(fake.ServerlessCacheGVK, "golden-cache", map[string]string{
		"ACK.Recoverable":    "True||" + modifying,
		"ACK.ResourceSynced": "Unknown|" + modifying + "|Unable to determine if desired resource state matches latest observed state",
		"Ready":              "False|ACK.Recoverable|" + modifying,
	})
	g.waitAWSTags(fake.ServerlessCacheGVK, "golden-cache", g.ackTags("elasticache", "b"))
	if st := awsStatus(g.s, fake.ServerlessCacheGVK, testRegion, "golden-cache"); st != "available" {
		t.Errorf("ServerlessCache in AWS: status %q, want available (tagging modifies nothing)", st)
	}
	g.waitConditions(fake.ServerlessCacheGVK, "golden-cache", availableCacheWant)
}

// Row "tag change", ElastiCache User and UserGroup. elasticache-controller@a99ef75
// pkg/resource/user/sdk.go and user_group/sdk.go newCreateRequestPayload (the spec's
// Tags are sent), sdkFind (reads no tags: the latest state keeps the desired ones), so
// user/delta.go and user_group/delta.go newResourceDelta find no tag difference: nothing
// is called and AWS keeps the tags of creation.
func TestGoldenTagChangeOnCacheUsersIsNoDifference(t *testing.T) {
	g := newGolden(t, goldenOptions())
	g.secret("default-pw", "default-password-0123456789")
	g.create(fake.UserGVK, "golden-default", nil, tagged(userSpec("golden-default", "default", "off -@all", "default-pw"), "a"))
	g.waitConditions(fake.UserGVK, "golden-default", availableUserWant)
	g.create(fake.UserGroupGVK, "golden-group", nil, tagged(map[string]any{"userGroupID": "golden-group", "engine": "redis",
		"userIDs": []any{"golden-default"}}, "a"))
	g.waitConditions(fake.UserGroupGVK, "golden-group", availableGroupWant)
	created := g.ackTags("elasticache", "a")
	if got := g.awsTags(fake.UserGVK, "golden-default"); !maps.Equal(got, created) {
		t.Fatalf("User in AWS: tags %v, want %v (the create sends the spec's)", got, created)
	}
	if got := g.awsTags(fake.UserGroupGVK, "golden-group"); !maps.Equal(got, created) {
		t.Fatalf("UserGroup in AWS: tags %v, want %v (the create sends the spec's)", got, created)
	}

	g.retag(fake.UserGVK, "golden-default", "b")
	g.retag(fake.UserGroupGVK, "golden-group", "b")
	g.stays(fake.UserGVK, "golden-default", availableUserWant, time.Second)
	g.stays(fake.UserGroupGVK, "golden-group", availableGroupWant, time.Second)
	for _, gvk := range []schema.GroupVersionKind{fake.UserGVK, fake.UserGroupGVK} {
		id := map[schema.GroupVersionKind]string{fake.UserGVK: "golden-default", fake.UserGroupGVK: "golden-group"}[gvk]
		if got := g.awsTags(gvk, id); !maps.Equal(got, created) {
			t.Errorf("%s in AWS: tags %v, want those of creation %v", gvk.Kind, got, created)
		}
	}
}
