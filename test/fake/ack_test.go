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
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/storefront-operator/storefront/test/fake"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ackObj is an ACK object with the given spec and annotations.
func ackObj(gvk schema.GroupVersionKind, name string, spec map[string]any, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(gvk)
	u.SetName(name)
	u.SetNamespace("shops")
	u.SetAnnotations(annotations)
	u.SetCreationTimestamp(metav1.NewTime(t0))
	return u
}

// awsAt is an AWS whose clock is *now.
func awsAt(now *time.Time, delay time.Duration) *fake.AWS {
	return fake.NewAWS(func() time.Time { return *now }, delay, nil)
}

func key(kind, id string) fake.AWSKey {
	return fake.AWSKey{Account: "123456789012", Region: "eu-central-1", Kind: kind, ID: id}
}

// What the controllers write in the status from what AWS returns, field by field
// (sdk.go sdkFind of each kind; setStatusDefaults for ackResourceMetadata).
func TestDescribedStatus(t *testing.T) {
	now := t0
	aws := awsAt(&now, time.Minute)
	mustCreate := func(k fake.AWSKey, spec map[string]any, password string) {
		t.Helper()
		if _, err := aws.Create(k, spec, password, nil); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(key("DBSubnetGroup", "sf-shops-acme"), map[string]any{"name": "sf-shops-acme", "subnetIDs": []any{"subnet-1", "subnet-2"}}, "")
	mustCreate(key("DBCluster", "sf-shops-acme"), map[string]any{"dbClusterIdentifier": "sf-shops-acme", "engine": "aurora-postgresql",
		"engineVersion": "16.6", "dbSubnetGroupName": "sf-shops-acme", "vpcSecurityGroupIDs": []any{"sg-1"}}, "pw")
	mustCreate(key("ServerlessCache", "sf-shops-acme"), map[string]any{"serverlessCacheName": "sf-shops-acme", "majorEngineVersion": "8"}, "")
	creating := map[string]map[string]any{}
	for _, r := range aws.Resources() {
		creating[r.Key.Kind] = fake.DescribedStatus(r)
	}
	now = now.Add(time.Minute)
	mustCreate(key("DBInstance", "sf-shops-acme"), map[string]any{"dbInstanceIdentifier": "sf-shops-acme", "dbClusterIdentifier": "sf-shops-acme"}, "")
	now = now.Add(time.Minute)
	available := map[string]map[string]any{}
	for _, r := range aws.Resources() {
		available[r.Key.Kind] = fake.DescribedStatus(r)
	}
	md := func(arn string) map[string]any {
		return map[string]any{"arn": arn, "ownerAccountID": "123456789012", "region": "eu-central-1", "partition": "aws"}
	}
	clusterHost := "sf-shops-acme.cluster-" // + 12 characters of the account and region
	cases := map[string]struct {
		got  map[string]any
		want map[string]any
	}{
		"a DB subnet group, at once complete": {available["DBSubnetGroup"], map[string]any{
			"ackResourceMetadata": md("arn:aws:rds:eu-central-1:123456789012:subgrp:sf-shops-acme"),
			"subnetGroupStatus":   "Complete", "vpcID": available["DBSubnetGroup"]["vpcID"],
			"subnets": []any{
				map[string]any{"subnetIdentifier": "subnet-2", "subnetStatus": "Active", "subnetAvailabilityZone": map[string]any{"name": "eu-central-1a"}},
				map[string]any{"subnetIdentifier": "subnet-1", "subnetStatus": "Active", "subnetAvailabilityZone": map[string]any{"name": "eu-central-1b"}},
			},
		}},
		"a creating DB cluster": {creating["DBCluster"], map[string]any{
			"ackResourceMetadata": md("arn:aws:rds:eu-central-1:123456789012:cluster:sf-shops-acme"),
			"status":              "creating", "endpoint": creating["DBCluster"]["endpoint"], "readerEndpoint": creating["DBCluster"]["readerEndpoint"],
			"hostedZoneID": creating["DBCluster"]["hostedZoneID"], "dbClusterResourceID": creating["DBCluster"]["dbClusterResourceID"],
			"dbSubnetGroup": "sf-shops-acme", "clusterCreateTime": "2026-01-02T03:04:05Z", "multiAZ": false, "iamDatabaseAuthenticationEnabled": false,
			"vpcSecurityGroups": []any{map[string]any{"vpcSecurityGroupID": "sg-1", "status": "active"}},
		}},
		"a creating serverless cache has no endpoint": {creating["ServerlessCache"], map[string]any{
			"ackResourceMetadata": md("arn:aws:elasticache:eu-central-1:123456789012:serverlesscache:sf-shops-acme"),
			"status":              "creating", "createTime": "2026-01-02T03:04:05Z",
		}},
		"an available DB instance": {available["DBInstance"], map[string]any{
			"ackResourceMetadata": md("arn:aws:rds:eu-central-1:123456789012:db:sf-shops-acme"),
			"dbInstanceStatus":    "available", "dbiResourceID": available["DBInstance"]["dbiResourceID"], "instanceCreateTime": "2026-01-02T03:05:05Z",
			"endpoint": available["DBInstance"]["endpoint"],
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if !equality.Semantic.DeepEqual(tc.got, tc.want) {
				t.Errorf("status\n got %s\nwant %s", asJSON(tc.got), asJSON(tc.want))
			}
		})
	}
	if ep, _ := creating["DBCluster"]["endpoint"].(string); !strings.HasPrefix(ep, clusterHost) || !strings.HasSuffix(ep, ".eu-central-1.rds.amazonaws.com") {
		t.Errorf("cluster endpoint %q", ep)
	}
	if ep := available["ServerlessCache"]["endpoint"].(map[string]any); !regexp.MustCompile(`^sf-shops-acme-[a-z0-9]{6}\.serverless\.euc1\.cache\.amazonaws\.com$`).MatchString(ep["address"].(string)) || ep["port"] != int64(6379) {
		t.Errorf("cache endpoint %v", ep)
	}
	if v := available["ServerlessCache"]["fullEngineVersion"]; v != "8.0" {
		t.Errorf("fullEngineVersion %v", v)
	}
}

// The texts AWS SDK for Go v2 errors have: smithy.GenericAPIError "api error <code>:
// <message>" for codes without a type, "<code>: <message>" for modeled faults, wrapped
// in the operation error.
func TestAPIErrorTexts(t *testing.T) {
	now := t0
	aws := awsAt(&now, 0)
	_, err := aws.Create(key("DBInstance", "i"), map[string]any{"dbClusterIdentifier": "missing"}, "", nil)
	var e *fake.APIError
	if !errorsAs(err, &e) {
		t.Fatalf("%v", err)
	}
	if got := e.APIMessage(); got != "DBClusterNotFoundFault: DBCluster missing not found." {
		t.Errorf("APIMessage %q", got)
	}
	if got := err.Error(); got != "operation error RDS: CreateDBInstance, https response error StatusCode: 404, "+
		"RequestID: 00000000-0000-4000-8000-000000000000, DBClusterNotFoundFault: DBCluster missing not found." {
		t.Errorf("Error %q", got)
	}
	if got := fake.NewAPIError("InvalidParameterValue", "x").APIMessage(); got != "api error InvalidParameterValue: x" {
		t.Errorf("generic APIMessage %q", got)
	}
}

func errorsAs(err error, target **fake.APIError) bool {
	e, ok := err.(*fake.APIError)
	if ok {
		*target = e
	}
	return ok
}

// What AWS refuses, and what it does with time.
func TestAWSLifecycle(t *testing.T) {
	now := t0
	aws := awsAt(&now, time.Minute)
	ctx := context.Background()
	code := func(err error) string {
		if e, ok := err.(*fake.APIError); ok {
			return e.Code
		}
		if err != nil {
			return err.Error()
		}
		return ""
	}
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"a cluster without its subnet group", func() error {
			_, err := aws.Create(key("DBCluster", "c"), map[string]any{"engine": "aurora-postgresql", "engineVersion": "16.6", "dbSubnetGroupName": "g"}, "pw", nil)
			return err
		}, "DBSubnetGroupNotFoundFault"},
		{"the subnet group", func() error {
			_, err := aws.Create(key("DBSubnetGroup", "G"), map[string]any{"subnetIDs": []any{"s-1"}}, "", nil)
			return err
		}, ""},
		{"a cluster of an unknown version", func() error {
			_, err := aws.Create(key("DBCluster", "c"), map[string]any{"engine": "aurora-postgresql", "engineVersion": "10.4", "dbSubnetGroupName": "g"}, "pw", nil)
			return err
		}, "InvalidParameterCombination"},
		{"a cluster without a password", func() error {
			_, err := aws.Create(key("DBCluster", "c"), map[string]any{"engine": "aurora-postgresql", "dbSubnetGroupName": "g"}, "", nil)
			return err
		}, "InvalidParameterValue"},
		{"the cluster", func() error {
			_, err := aws.Create(key("DBCluster", "C"), map[string]any{"engine": "aurora-postgresql", "engineVersion": "16.6", "dbSubnetGroupName": "G"}, "pw", nil)
			return err
		}, ""},
		{"the same identifier in another case", func() error {
			_, err := aws.Create(key("DBCluster", "c"), map[string]any{"engine": "aurora-postgresql", "dbSubnetGroupName": "g"}, "pw", nil)
			return err
		}, "DBClusterAlreadyExistsFault"},
		{"a modify while creating", func() error {
			_, err := aws.Modify(ctx, key("DBCluster", "c"), map[string]any{"backupRetentionPeriod": int64(2)}, nil)
			return err
		}, "InvalidDBClusterStateFault"},
		{"an instance", func() error {
			_, err := aws.Create(key("DBInstance", "i"), map[string]any{"dbClusterIdentifier": "c"}, "", nil)
			return err
		}, ""},
		{"a downgrade", func() error {
			now = now.Add(time.Minute)
			_, err := aws.Modify(ctx, key("DBCluster", "c"), map[string]any{"engineVersion": "15.4"}, nil)
			return err
		}, "InvalidParameterCombination"},
		{"deleting the subnet group a cluster uses", func() error { return aws.Delete(key("DBSubnetGroup", "g"), fake.DeleteParams{}) }, "InvalidDBSubnetGroupStateFault"},
		{"deleting a cluster with an instance", func() error { return aws.Delete(key("DBCluster", "c"), fake.DeleteParams{SkipFinalSnapshot: true}) }, "InvalidDBClusterStateFault"},
		{"deleting the instance", func() error { return aws.Delete(key("DBInstance", "i"), fake.DeleteParams{SkipFinalSnapshot: true}) }, ""},
		{"deleting the cluster without a snapshot identifier", func() error { return aws.Delete(key("DBCluster", "c"), fake.DeleteParams{}) }, "InvalidParameterCombination"},
		{"deleting the cluster while its instance deletes", func() error {
			id := "c-final"
			return aws.Delete(key("DBCluster", "c"), fake.DeleteParams{FinalSnapshotID: &id})
		}, ""},
		{"deleting it again", func() error { return aws.Delete(key("DBCluster", "c"), fake.DeleteParams{SkipFinalSnapshot: true}) }, "InvalidDBClusterStateFault"},
		{"deleting the subnet group while the cluster deletes", func() error { return aws.Delete(key("DBSubnetGroup", "g"), fake.DeleteParams{}) }, "InvalidDBSubnetGroupStateFault"},
	}
	for _, s := range steps {
		if got := code(s.do()); got != s.want {
			t.Fatalf("%s: %q, want %q", s.name, got, s.want)
		}
	}
	if r, ok := aws.Get(key("DBCluster", "C")); !ok || r.Status != "deleting" {
		t.Errorf("the deleting cluster: %v %+v", ok, r)
	}
	if _, ok := aws.Get(key("DBSubnetGroup", "g")); !ok {
		t.Error("the subnet group is gone")
	}
	r, err := aws.Create(key("DBCluster", "v"), map[string]any{"engine": "aurora-postgresql", "dbSubnetGroupName": "g"}, "pw", nil)
	if err != nil || r.Spec["engineVersion"] != "16.6" {
		t.Errorf("a cluster created without a version: %v, engineVersion %v, want Aurora's default 16.6", err, r.Spec["engineVersion"])
	}
}

// The adoption fields and the deletion annotations, as the runtime and rds-controller
// read them (pkg/runtime/util.go, rds pkg/util/annotations.go ParseDeletionAnnotations).
func TestACKDeletionAnnotations(t *testing.T) {
	cases := map[string]struct {
		annotations map[string]string
		policy      string
		skip        bool
		id          string
		err         bool
	}{
		"none: delete, skip the snapshot": {nil, "delete", true, "", false},
		"retain":                          {map[string]string{fake.AnnotationDeletionPolicy: "retain"}, "retain", true, "", false},
		"a value ACK does not know":       {map[string]string{fake.AnnotationDeletionPolicy: "Delete"}, "Delete", true, "", false},
		"a final snapshot": {map[string]string{fake.AnnotationSkipFinalSnapshot: "false", fake.AnnotationFinalSnapshotID: "snap-1"},
			"delete", false, "snap-1", false},
		"not a boolean": {map[string]string{fake.AnnotationSkipFinalSnapshot: "maybe"}, "delete", false, "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := ackObj(fake.DBClusterGVK, "c", map[string]any{}, tc.annotations)
			if got := fake.DeletionPolicy(obj); got != tc.policy {
				t.Errorf("policy %q, want %q", got, tc.policy)
			}
			skip, id, err := fake.FinalSnapshot(obj)
			if (err != nil) != tc.err || (!tc.err && (skip != tc.skip || id != tc.id)) {
				t.Errorf("FinalSnapshot = %v, %q, %v", skip, id, err)
			}
		})
	}
	if got := fake.LastAppliedSecretReference(ackObj(fake.DBClusterGVK, "c", map[string]any{
		"masterUserPassword": map[string]any{"namespace": "shops", "name": "acme-db-password-v1", "key": "password"}}, nil)); got != "shops/acme-db-password-v1.password" {
		t.Errorf("last applied %q", got)
	}
	if fake.Finalizer(fake.DBInstanceGVK) != "finalizers.rds.services.k8s.aws/DBInstance" {
		t.Error(fake.Finalizer(fake.DBInstanceGVK))
	}
}

// The ACK stand-in against a real API server, a database's whole life: write-backs,
// the instance's cluster, the deletion order AWS imposes, the final snapshot.
func TestACKStandInAgainstTheAPIServer(t *testing.T) {
	g := newGolden(t, goldenOptions())
	g.subnetGroup("db", nil)
	g.secret("db-password", "0123456789abcdef")
	g.create(fake.DBClusterGVK, "db", map[string]string{fake.AnnotationSkipFinalSnapshot: "false", fake.AnnotationFinalSnapshotID: "sf-db-final-1"},
		map[string]any{"dbClusterIdentifier": "sf-db", "engine": "aurora-postgresql", "engineVersion": "16.6", "dbSubnetGroupName": "db",
			"vpcSecurityGroupIDs": []any{"sg-a", "sg-b"}, "masterUserPassword": map[string]any{"namespace": g.ns, "name": "db-password", "key": "password"}})
	cl := g.waitConditions(fake.DBClusterGVK, "db", availableClusterWant)
	g.create(fake.DBInstanceGVK, "db", nil, map[string]any{"dbInstanceIdentifier": "sf-db", "dbInstanceClass": "db.serverless",
		"engine": "aurora-postgresql", "dbClusterIdentifier": "sf-db"})
	in := g.waitConditions(fake.DBInstanceGVK, "db", availableInstWant)

	if got := cl.GetAnnotations()[fake.AnnotationLastAppliedSecret]; got != g.ns+"/db-password.password" {
		t.Errorf("last-applied-secret-reference %q", got)
	}
	if port, _, _ := unstructured.NestedInt64(cl.Object, "spec", "port"); port != 5432 {
		t.Errorf("spec.port written back: %d", port)
	}
	if sgs, _, _ := unstructured.NestedStringSlice(cl.Object, "spec", "vpcSecurityGroupIDs"); strings.Join(sgs, ",") != "sg-b,sg-a" {
		t.Errorf("security groups written back in AWS's order: %v", sgs)
	}
	if ids, _, _ := unstructured.NestedStringSlice(g.get(fake.DBSubnetGroupGVK, "db").Object, "spec", "subnetIDs"); strings.Join(ids, ",") != "subnet-1,subnet-2" {
		t.Errorf("subnet IDs: %v (a reordering alone is no change to write back)", ids)
	}
	if got := in.GetAnnotations()[fake.AnnotationLastAppliedSecret]; got != "" {
		t.Errorf("instance's last-applied-secret-reference %q, want empty", got)
	}
	for _, k := range []schema.GroupVersionKind{fake.DBSubnetGroupGVK, fake.DBClusterGVK, fake.DBInstanceGVK} {
		if u := g.get(k, "db"); !slices.Contains(u.GetFinalizers(), fake.Finalizer(k)) {
			t.Errorf("%s has no ACK finalizer: %v", k.Kind, u.GetFinalizers())
		}
	}

	// Deleting the cluster first: AWS refuses while the instance is there.
	g.delete(fake.DBClusterGVK, "db")
	waitFor(t, "the cluster refused while it has an instance", func() bool {
		return strings.HasPrefix(conditions(g.get(fake.DBClusterGVK, "db"))[fake.ConditionRecoverable], "True||InvalidDBClusterStateFault")
	})
	g.delete(fake.DBInstanceGVK, "db")
	g.delete(fake.DBSubnetGroupGVK, "db")
	waitFor(t, "everything deleted", func() bool {
		return g.get(fake.DBInstanceGVK, "db") == nil && g.get(fake.DBClusterGVK, "db") == nil && g.get(fake.DBSubnetGroupGVK, "db") == nil
	})
	var kinds []string
	for _, d := range g.s.ACKDeletions() {
		kinds = append(kinds, d.Kind)
		if d.Kind == "DBCluster" && d.FinalSnapshot != "sf-db-final-1" {
			t.Errorf("final snapshot %q", d.FinalSnapshot)
		}
	}
	if strings.Join(kinds, ",") != "DBInstance,DBCluster,DBSubnetGroup" {
		t.Errorf("deletions %v", kinds)
	}
	waitFor(t, "AWS done", func() bool { return len(g.s.AWS().Resources()) == 0 })
	if snaps := g.s.AWS().Snapshots(); len(snaps) != 1 || snaps[0].ID != "sf-db-final-1" {
		t.Errorf("snapshots %v", snaps)
	}
}
