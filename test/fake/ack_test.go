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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
)

var acct = fake.AWSAccount{ID: "123456789012", Region: "eu-west-1"}

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

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// conditionOf returns type → "status|reason|message" of the status's conditions.
func conditionsOf(st map[string]any) map[string]string {
	out := map[string]string{}
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		m := c.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		out[s("type")] = s("status") + "|" + s("reason") + "|" + s("message")
	}
	return out
}

func TestACKStatuses(t *testing.T) {
	cluster := ackObj(fake.DBClusterGVK, "acme-database", map[string]any{"dbClusterIdentifier": "sf-shops-acme-1a2b3c4d",
		"dbSubnetGroupName": "sf-shops-acme-1a2b3c4d", "vpcSecurityGroupIDs": []any{"sg-1"}}, map[string]string{fake.AnnotationRegion: "eu-central-1"})
	instance := ackObj(fake.DBInstanceGVK, "acme-database", map[string]any{"dbInstanceIdentifier": "sf-shops-acme-1a2b3c4d"}, nil)
	cache := ackObj(fake.ServerlessCacheGVK, "acme-cache", map[string]any{"serverlessCacheName": "sf-shops-acme-1a2b3c4d", "majorEngineVersion": "8"}, nil)
	group := ackObj(fake.DBSubnetGroupGVK, "acme-database", map[string]any{"name": "sf-shops-acme-1a2b3c4d", "subnetIDs": []any{"subnet-1", "subnet-2"}}, nil)
	clusterEP := fake.DBClusterEndpoint(cluster, acct)
	cases := map[string]struct {
		status     map[string]any
		ownField   string
		own        string
		conditions map[string]string
		arn        string
	}{
		"a complete DB subnet group": {fake.DBSubnetGroupCompleteStatus(group, acct, t0), "subnetGroupStatus", "Complete",
			map[string]string{fake.ConditionSynced: "True||" + fake.SyncedMessage}, "arn:aws:rds:eu-west-1:123456789012:subgrp:sf-shops-acme-1a2b3c4d"},
		"a creating DB cluster": {fake.DBClusterCreatingStatus(cluster, acct, t0), "status", "creating",
			map[string]string{fake.ConditionSynced: "False||"}, "arn:aws:rds:eu-central-1:123456789012:cluster:sf-shops-acme-1a2b3c4d"},
		"an available DB cluster": {fake.DBClusterAvailableStatus(cluster, acct, clusterEP, t0), "status", "available",
			map[string]string{fake.ConditionSynced: "True||"}, "arn:aws:rds:eu-central-1:123456789012:cluster:sf-shops-acme-1a2b3c4d"},
		"a DB cluster resetting its password": {fake.DBClusterModifyingStatus(cluster, acct, fake.RDSStatusResettingMasterCredentials, clusterEP, t0),
			"status", "resetting-master-credentials", map[string]string{fake.ConditionSynced: "False||"}, ""},
		"a deleting DB cluster": {fake.DBClusterDeletingStatus(cluster, acct, t0), "status", "deleting", map[string]string{fake.ConditionSynced: "False||"}, ""},
		"a creating DB instance": {fake.DBInstanceCreatingStatus(instance, acct, t0), "dbInstanceStatus", "creating",
			map[string]string{fake.ConditionSynced: "False||"}, "arn:aws:rds:eu-west-1:123456789012:db:sf-shops-acme-1a2b3c4d"},
		"an available DB instance": {fake.DBInstanceAvailableStatus(instance, acct, fake.DBInstanceEndpoint(instance, acct), t0), "dbInstanceStatus", "available",
			map[string]string{fake.ConditionSynced: "True||" + fake.SyncedMessage}, ""},
		"a creating serverless cache": {fake.ServerlessCacheCreatingStatus(cache, acct, t0), "status", "creating",
			map[string]string{fake.ConditionSynced: "False||" + fake.NotSyncedMessage}, "arn:aws:elasticache:eu-west-1:123456789012:serverlesscache:sf-shops-acme-1a2b3c4d"},
		"an available serverless cache": {fake.ServerlessCacheAvailableStatus(cache, acct, fake.ServerlessCacheEndpoint(cache, acct), t0), "status", "available",
			map[string]string{fake.ConditionSynced: "True||" + fake.SyncedMessage}, ""},
		"a terminal DB cluster is reported synced": {fake.WithTerminal(cluster, fake.DBClusterCreatingStatus(cluster, acct, t0), "api error InvalidParameterValue: no", t0),
			"status", "creating", map[string]string{fake.ConditionTerminal: "True||api error InvalidParameterValue: no",
				fake.ConditionSynced: "True|" + fake.TerminalReason + "|" + fake.SyncedMessage}, ""},
		"a recoverable serverless cache is not synced": {fake.WithRecoverable(cache, fake.ServerlessCacheCreatingStatus(cache, acct, t0), "ThrottlingException", t0),
			"status", "creating", map[string]string{fake.ConditionRecoverable: "True||ThrottlingException",
				fake.ConditionSynced: "False|ThrottlingException|" + fake.NotSyncedMessage}, ""},
		"a failed DB instance that ACK calls synced": {fake.WithOwnStatus(instance, fake.DBInstanceCreatingStatus(instance, acct, t0), "failed", t0),
			"dbInstanceStatus", "failed", map[string]string{fake.ConditionSynced: "True||"}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.status[tc.ownField]; got != tc.own {
				t.Errorf("%s = %v, want %q", tc.ownField, got, tc.own)
			}
			got := conditionsOf(tc.status)
			if len(got) != len(tc.conditions) {
				t.Errorf("conditions %v, want %v", got, tc.conditions)
			}
			for k, v := range tc.conditions {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			md, _ := tc.status["ackResourceMetadata"].(map[string]any)
			if md["ownerAccountID"] != acct.ID || md["region"] == "" {
				t.Errorf("ackResourceMetadata %v", md)
			}
			if tc.arn != "" && md["arn"] != tc.arn {
				t.Errorf("arn %v, want %s", md["arn"], tc.arn)
			}
		})
	}
}

func TestACKEndpoints(t *testing.T) {
	cluster := ackObj(fake.DBClusterGVK, "c", map[string]any{"dbClusterIdentifier": "sf-shops-acme-1a2b3c4d"}, nil)
	withPort := ackObj(fake.DBClusterGVK, "c", map[string]any{"dbClusterIdentifier": "x", "port": int64(6543)}, nil)
	instance := ackObj(fake.DBInstanceGVK, "i", map[string]any{"dbInstanceIdentifier": "sf-shops-acme-1a2b3c4d"}, nil)
	cache := ackObj(fake.ServerlessCacheGVK, "s", map[string]any{"serverlessCacheName": "sf-shops-acme-1a2b3c4d"},
		map[string]string{fake.AnnotationRegion: "ap-southeast-2"})
	cases := map[string]struct {
		ep      fake.Endpoint
		pattern string
		port    int64
	}{
		"a cluster writer endpoint":   {fake.DBClusterEndpoint(cluster, acct), `^sf-shops-acme-1a2b3c4d\.cluster-[a-z0-9]{12}\.eu-west-1\.rds\.amazonaws\.com$`, 5432},
		"a cluster on spec.port":      {fake.DBClusterEndpoint(withPort, acct), `^x\.cluster-`, 6543},
		"an instance endpoint":        {fake.DBInstanceEndpoint(instance, acct), `^sf-shops-acme-1a2b3c4d\.[a-z0-9]{12}\.eu-west-1\.rds\.amazonaws\.com$`, 5432},
		"a serverless cache in apse2": {fake.ServerlessCacheEndpoint(cache, acct), `^sf-shops-acme-1a2b3c4d-[a-z0-9]{6}\.serverless\.apse2\.cache\.amazonaws\.com$`, 6379},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if !regexp.MustCompile(tc.pattern).MatchString(tc.ep.Address) || tc.ep.Port != tc.port {
				t.Errorf("endpoint %+v, want %s:%d", tc.ep, tc.pattern, tc.port)
			}
		})
	}
}

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
}

func TestACKWriteBacks(t *testing.T) {
	cluster := ackObj(fake.DBClusterGVK, "c", map[string]any{"dbClusterIdentifier": "x", "engine": "aurora-postgresql", "engineVersion": "16.6",
		"dbSubnetGroupName": "x", "vpcSecurityGroupIDs": []any{"sg-a", "sg-b"},
		"masterUserPassword": map[string]any{"namespace": "shops", "name": "acme-db-password-v1", "key": "password"}}, nil)
	w := fake.DBClusterWriteBacks(cluster, acct)
	if w["port"] != int64(5432) || w["vpcSecurityGroupIDs"].([]any)[0] != "sg-b" {
		t.Errorf("cluster write-backs %v", w)
	}
	if got := fake.LastAppliedSecretReference(cluster); got != "shops/acme-db-password-v1.password" {
		t.Errorf("last applied %q", got)
	}
	iw := fake.DBInstanceWriteBacks(ackObj(fake.DBInstanceGVK, "i", map[string]any{}, nil), acct, cluster)
	if iw["engineVersion"] != "16.6" || iw["dbParameterGroupName"] != "default.aurora-postgresql16" || iw["dbSubnetGroupName"] != "x" {
		t.Errorf("instance write-backs %v", iw)
	}
	gw := fake.DBSubnetGroupWriteBacks(ackObj(fake.DBSubnetGroupGVK, "g", map[string]any{"subnetIDs": []any{"subnet-a", "subnet-b"}}, nil))
	if ids := gw["subnetIDs"].([]any); ids[0] != "subnet-b" || ids[1] != "subnet-a" {
		t.Errorf("subnet IDs in AWS's order %v", ids)
	}
	sw := fake.ServerlessCacheWriteBacks(ackObj(fake.ServerlessCacheGVK, "s", map[string]any{}, nil), acct)
	if sgs := sw["securityGroupIDs"].([]any); len(sgs) != 1 || !strings.HasPrefix(sgs[0].(string), "sg-") {
		t.Errorf("AWS's default security group %v", sgs)
	}
	if fake.Finalizer(fake.DBInstanceGVK) != "finalizers.rds.services.k8s.aws/DBInstance" {
		t.Error(fake.Finalizer(fake.DBInstanceGVK))
	}
}

// The ACK stand-in against a real API server: it manages the objects, refuses what AWS
// would refuse, and deletes in the order AWS allows.
func TestACKStandInAgainstTheAPIServer(t *testing.T) {
	ns := namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fake.Start(ctx, cfg, fake.Options{Namespaces: []string{ns}, AWSAccount: acct})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = s.Wait() }()
	create := func(gvk schema.GroupVersionKind, name string, spec map[string]any, annotations map[string]string) {
		t.Helper()
		u := ackObj(gvk, name, spec, annotations)
		u.SetNamespace(ns)
		u.SetCreationTimestamp(metav1.Time{})
		if err := k8sClient.Create(ctx, u, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("creating %s %s: %v", gvk.Kind, name, err)
		}
	}
	read := func(gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			t.Fatal(err)
		}
		return u
	}
	condition := func(gvk schema.GroupVersionKind, name, condType string) string {
		u := read(gvk, name)
		if u == nil {
			return "gone"
		}
		st, _ := u.Object["status"].(map[string]any)
		return conditionsOf(st)[condType]
	}

	// A cluster whose password Secret is missing is terminal, reported synced.
	create(fake.DBSubnetGroupGVK, "db", map[string]any{"name": "sf-db", "description": "d", "subnetIDs": []any{"subnet-a", "subnet-b"}}, nil)
	password := map[string]any{"namespace": ns, "name": "db-password", "key": "password"}
	create(fake.DBClusterGVK, "db", map[string]any{"dbClusterIdentifier": "sf-db", "engine": "aurora-postgresql", "engineVersion": "16.6",
		"dbSubnetGroupName": "sf-db", "masterUserPassword": password}, map[string]string{
		fake.AnnotationSkipFinalSnapshot: "false", fake.AnnotationFinalSnapshotID: "sf-db-final-1"})
	waitFor(t, "a terminal cluster", func() bool {
		return condition(fake.DBClusterGVK, "db", fake.ConditionTerminal) == "True||"+fake.SecretNotFoundMessage &&
			condition(fake.DBClusterGVK, "db", fake.ConditionSynced) == "True|"+fake.TerminalReason+"|"+fake.SyncedMessage
	})
	// An instance of a cluster AWS does not have is refused, and retried.
	create(fake.DBInstanceGVK, "db", map[string]any{"dbInstanceIdentifier": "sf-db", "dbInstanceClass": "db.serverless",
		"engine": "aurora-postgresql", "dbClusterIdentifier": "sf-db"}, nil)
	waitFor(t, "a recoverable instance", func() bool {
		return strings.HasPrefix(condition(fake.DBInstanceGVK, "db", fake.ConditionRecoverable), "True||DBClusterNotFoundFault")
	})

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: ns}, Type: corev1.SecretTypeOpaque,
		StringData: map[string]string{"password": "0123456789abcdef"}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	s.SetACKFault(fake.DBClusterGVK, client.ObjectKey{Namespace: ns, Name: "db"}, fake.ACKFault{}) // an event, as a spec change would be
	waitFor(t, "the cluster and its instance available", func() bool {
		cl, in := read(fake.DBClusterGVK, "db"), read(fake.DBInstanceGVK, "db")
		st, _, _ := unstructured.NestedString(cl.Object, "status", "status")
		ist, _, _ := unstructured.NestedString(in.Object, "status", "dbInstanceStatus")
		return st == "available" && ist == "available"
	})
	cl := read(fake.DBClusterGVK, "db")
	if cl.GetAnnotations()[fake.AnnotationLastAppliedSecret] != ns+"/db-password.password" {
		t.Errorf("last-applied-secret-reference %q", cl.GetAnnotations()[fake.AnnotationLastAppliedSecret])
	}
	if port, _, _ := unstructured.NestedInt64(cl.Object, "spec", "port"); port != 5432 {
		t.Errorf("spec.port written back: %d", port)
	}
	for _, k := range []schema.GroupVersionKind{fake.DBSubnetGroupGVK, fake.DBClusterGVK, fake.DBInstanceGVK} {
		if u := read(k, "db"); !slices.Contains(u.GetFinalizers(), fake.Finalizer(k)) {
			t.Errorf("%s has no ACK finalizer: %v", k.Kind, u.GetFinalizers())
		}
	}
	if ids, _, _ := unstructured.NestedStringSlice(read(fake.DBSubnetGroupGVK, "db").Object, "spec", "subnetIDs"); strings.Join(ids, ",") != "subnet-b,subnet-a" {
		t.Errorf("subnet IDs written back in AWS's order: %v", ids)
	}

	// Deleting the cluster first waits for its instance, as RDS does.
	if err := k8sClient.Delete(ctx, read(fake.DBClusterGVK, "db")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cluster refused while it has an instance", func() bool {
		return strings.HasPrefix(condition(fake.DBClusterGVK, "db", fake.ConditionRecoverable), "True||InvalidDBClusterStateFault")
	})
	for _, k := range []schema.GroupVersionKind{fake.DBInstanceGVK, fake.DBSubnetGroupGVK} {
		if err := k8sClient.Delete(ctx, read(k, "db")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "everything deleted", func() bool {
		return read(fake.DBInstanceGVK, "db") == nil && read(fake.DBClusterGVK, "db") == nil && read(fake.DBSubnetGroupGVK, "db") == nil
	})
	var kinds []string
	snapshot := ""
	for _, d := range s.ACKDeletions() {
		kinds = append(kinds, d.Kind)
		if d.Kind == "DBCluster" {
			snapshot = d.FinalSnapshot
		}
	}
	if strings.Join(kinds, ",") != "DBInstance,DBCluster,DBSubnetGroup" || snapshot != "sf-db-final-1" {
		t.Errorf("deletions %v, final snapshot %q", kinds, snapshot)
	}

	// Retain lets go at once, without touching AWS.
	create(fake.ServerlessCacheGVK, "cache", map[string]any{"serverlessCacheName": "sf-cache", "engine": "valkey"},
		map[string]string{fake.AnnotationDeletionPolicy: "retain"})
	waitFor(t, "the cache available", func() bool {
		return condition(fake.ServerlessCacheGVK, "cache", fake.ConditionSynced) == "True||"+fake.SyncedMessage
	})
	if err := k8sClient.Delete(ctx, read(fake.ServerlessCacheGVK, "cache")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cache let go", func() bool { return read(fake.ServerlessCacheGVK, "cache") == nil })
	last := s.ACKDeletions()[len(s.ACKDeletions())-1]
	if last.Kind != "ServerlessCache" || last.Policy != "retain" {
		t.Errorf("last deletion %+v", last)
	}
}
