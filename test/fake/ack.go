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

package fake

// The ACK half of the stand-ins: pure functions that compute what ACK's rds-controller
// (1.11.1) and elasticache-controller (1.8.0), both on runtime v0.62, write on their
// objects: the status (conditions, the resource's own status, endpoints) and the spec
// fields they write back from AWS. The stand-in controllers in ack_controllers.go apply
// them to envtest objects; the one-machine runtime applies them with the endpoints of
// the servers it starts. Every function documents its fields against the real
// controller. ACK objects are unstructured: the ACK Go modules are not a dependency.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The ACK kinds the stand-in plays.
var (
	DBSubnetGroupGVK   = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBSubnetGroup"}
	DBClusterGVK       = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBCluster"}
	DBInstanceGVK      = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBInstance"}
	ServerlessCacheGVK = schema.GroupVersionKind{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "ServerlessCache"}
)

// Condition types, messages and reasons of the ACK runtime (apis/core/v1alpha1,
// pkg/condition, pkg/errors).
const (
	ConditionSynced      = "ACK.ResourceSynced"
	ConditionTerminal    = "ACK.Terminal"
	ConditionRecoverable = "ACK.Recoverable"

	// SyncedMessage and NotSyncedMessage are what the runtime's ensureConditions writes
	// when a controller hook did not set Synced itself.
	SyncedMessage    = "Resource synced successfully"
	NotSyncedMessage = "Resource not synced"
	// TerminalReason is the Synced reason of a resource in a terminal condition
	// (ackerr.Terminal): the runtime then reports it synced, "its state will not change".
	TerminalReason = "resource is in terminal condition"
	// SecretNotFoundMessage is ackerr.SecretNotFound: a referenced Secret or key is
	// missing, a terminal error.
	SecretNotFoundMessage = "kubernetes secret not found"
)

// Annotations the controllers read (runtime apis/core/v1alpha1/annotations.go,
// rds-controller apis/v1alpha1/annotations.go) and write (last-applied-secret-reference).
const (
	AnnotationRegion            = "services.k8s.aws/region"
	AnnotationDeletionPolicy    = "services.k8s.aws/deletion-policy"
	AnnotationSkipFinalSnapshot = "rds.services.k8s.aws/skip-final-snapshot"
	AnnotationFinalSnapshotID   = "rds.services.k8s.aws/final-db-snapshot-identifier"
	AnnotationLastAppliedSecret = "rds.services.k8s.aws/last-applied-secret-reference"
)

// Own statuses of RDS and ElastiCache resources (rds-controller
// pkg/resource/db_cluster/hooks.go; ElastiCache's ServerlessCache.Status).
const (
	RDSStatusCreating                   = "creating"
	RDSStatusAvailable                  = "available"
	RDSStatusModifying                  = "modifying"
	RDSStatusResettingMasterCredentials = "resetting-master-credentials"
	RDSStatusDeleting                   = "deleting"
	RDSStatusFailed                     = "failed"
	SubnetGroupStatusComplete           = "Complete"
	CacheStatusCreating                 = "creating"
	CacheStatusAvailable                = "available"
	CacheStatusModifying                = "modifying"
	CacheStatusDeleting                 = "deleting"
	CacheStatusCreateFailed             = "create-failed"
)

// AWSAccount is the account and region the stand-in pretends to hold the resources in.
type AWSAccount struct {
	// ID is a 12-digit AWS account ID.
	ID string
	// Region is used when an object has no services.k8s.aws/region annotation, as the
	// controller's --aws-region flag is.
	Region string
}

// DefaultAWSAccount is the account of the stand-ins when Options leave it empty.
var DefaultAWSAccount = AWSAccount{ID: "111122223333", Region: "eu-west-1"}

// Endpoint is where a data store listens.
type Endpoint struct {
	Address string
	Port    int64
}

// Finalizer is the finalizer ACK puts on the objects of a kind it manages (the
// generated resource descriptor's finalizerString), e.g.
// "finalizers.rds.services.k8s.aws/DBCluster".
func Finalizer(gvk schema.GroupVersionKind) string {
	return "finalizers." + gvk.Group + "/" + gvk.Kind
}

// Region is the region of the object: its services.k8s.aws/region annotation, else the
// account's default (the runtime's getRegion).
func Region(obj *unstructured.Unstructured, acct AWSAccount) string {
	if r := obj.GetAnnotations()[AnnotationRegion]; r != "" {
		return r
	}
	return acct.Region
}

// DeletionPolicy is "retain" or "delete" (the default) from the object's
// services.k8s.aws/deletion-policy annotation; the runtime then deletes the AWS
// resource, or only lets the Kubernetes object go.
func DeletionPolicy(obj *unstructured.Unstructured) string {
	if obj.GetAnnotations()[AnnotationDeletionPolicy] == "retain" {
		return "retain"
	}
	return "delete"
}

// FinalSnapshot is what rds-controller sends with DeleteDBCluster and DeleteDBInstance
// (util.ParseDeletionAnnotations): SkipFinalSnapshot from
// rds.services.k8s.aws/skip-final-snapshot, true when absent or empty; the identifier
// from rds.services.k8s.aws/final-db-snapshot-identifier. A value that is not a boolean
// is an error, as it is for the controller.
func FinalSnapshot(obj *unstructured.Unstructured) (skip bool, identifier string, err error) {
	a := obj.GetAnnotations()
	skip = true
	if v := a[AnnotationSkipFinalSnapshot]; v != "" {
		if skip, err = strconv.ParseBool(v); err != nil {
			return false, "", err
		}
	}
	return skip, a[AnnotationFinalSnapshotID], nil
}

// LastAppliedSecretReference is the value rds-controller writes in
// rds.services.k8s.aws/last-applied-secret-reference once it has sent the password of
// spec.masterUserPassword to RDS (on create and on every modify): "<namespace>/<name>.<key>".
func LastAppliedSecretReference(obj *unstructured.Unstructured) string {
	ref, found, _ := unstructured.NestedStringMap(obj.Object, "spec", "masterUserPassword")
	if !found {
		return ""
	}
	return ref["namespace"] + "/" + ref["name"] + "." + ref["key"]
}

// DBClusterEndpoint is the writer endpoint RDS gives the cluster:
// <identifier>.cluster-<12 characters of the account and region>.<region>.rds.amazonaws.com,
// on spec.port (5432 for aurora-postgresql when unset).
func DBClusterEndpoint(obj *unstructured.Unstructured, acct AWSAccount) Endpoint {
	region := Region(obj, acct)
	return Endpoint{
		Address: fmt.Sprintf("%s.cluster-%s.%s.rds.amazonaws.com", specString(obj, "dbClusterIdentifier"), rdsSuffix(acct, region), region),
		Port:    specPort(obj, 5432),
	}
}

// DBInstanceEndpoint is the instance endpoint RDS gives a cluster's instance:
// <identifier>.<12 characters of the account and region>.<region>.rds.amazonaws.com:5432.
func DBInstanceEndpoint(obj *unstructured.Unstructured, acct AWSAccount) Endpoint {
	region := Region(obj, acct)
	return Endpoint{
		Address: fmt.Sprintf("%s.%s.%s.rds.amazonaws.com", specString(obj, "dbInstanceIdentifier"), rdsSuffix(acct, region), region),
		Port:    5432,
	}
}

// ServerlessCacheEndpoint is the endpoint ElastiCache gives a serverless cache:
// <name>-<6 characters>.serverless.<region code, e.g. euw1>.cache.amazonaws.com:6379
// (the reader endpoint is the same host on 6380).
func ServerlessCacheEndpoint(obj *unstructured.Unstructured, acct AWSAccount) Endpoint {
	name := specString(obj, "serverlessCacheName")
	region := Region(obj, acct)
	return Endpoint{
		Address: fmt.Sprintf("%s-%s.serverless.%s.cache.amazonaws.com", name, pseudo(acct.ID+region+name, 6), regionCode(region)),
		Port:    6379,
	}
}

// DBSubnetGroupCompleteStatus is the status rds-controller writes once the subnet group
// exists (CreateDBSubnetGroup/DescribeDBSubnetGroups output, no hook on Synced):
//   - ackResourceMetadata: arn (arn:aws:rds:<region>:<account>:subgrp:<name>),
//     ownerAccountID, region;
//   - conditions: ACK.ResourceSynced=True with the runtime's SyncedMessage;
//   - subnetGroupStatus: Complete;
//   - subnets: one per spec.subnetIDs, {subnetIdentifier, subnetStatus: Active,
//     subnetAvailabilityZone: {name: <region>a|b|c}};
//   - vpcID: vpc-<17 hex>.
func DBSubnetGroupCompleteStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	region := Region(obj, acct)
	var subnets []any
	for i, id := range specStrings(obj, "subnetIDs") {
		subnets = append(subnets, map[string]any{
			"subnetIdentifier":       id,
			"subnetStatus":           "Active",
			"subnetAvailabilityZone": map[string]any{"name": region + string(rune('a'+i%3))},
		})
	}
	st := map[string]any{
		"ackResourceMetadata": resourceMetadata(acct, region, "subgrp:"+specString(obj, "name")),
		"conditions":          []any{condition(obj, ConditionSynced, "True", "", SyncedMessage, now)},
		"subnetGroupStatus":   SubnetGroupStatusComplete,
		"vpcID":               "vpc-" + pseudoHex(acct.ID+region, 17),
	}
	if subnets != nil {
		st["subnets"] = subnets
	}
	return st
}

// DBClusterCreatingStatus is the status while RDS creates the cluster: what
// DescribeDBClusters returns then, and ACK.ResourceSynced=False without a message (the
// rds-controller read hook sets it whenever the cluster is not available):
//   - ackResourceMetadata (arn arn:aws:rds:<region>:<account>:cluster:<identifier>);
//   - status: creating;
//   - endpoint, readerEndpoint: already assigned (see DBClusterEndpoint);
//   - the fields of dbClusterFields.
func DBClusterCreatingStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	return dbClusterStatus(obj, acct, RDSStatusCreating, DBClusterEndpoint(obj, acct), now)
}

// DBClusterAvailableStatus is the status of a cluster that is available, reached at ep
// (DBClusterEndpoint for an AWS-like name; the one-machine runtime gives its server's):
// as DBClusterCreatingStatus with status available and ACK.ResourceSynced=True without
// a message. The status has the host only: RDS reports the port in spec.port, which
// rds-controller writes back (DBClusterWriteBacks); a runtime whose server listens
// elsewhere than 5432 writes its port there.
func DBClusterAvailableStatus(obj *unstructured.Unstructured, acct AWSAccount, ep Endpoint, now time.Time) map[string]any {
	return dbClusterStatus(obj, acct, RDSStatusAvailable, ep, now)
}

// DBClusterModifyingStatus is the status while RDS applies a change: rdsStatus is
// modifying, or resetting-master-credentials after a new master password; Synced=False
// without a message (the cluster is not available). Endpoints are kept.
func DBClusterModifyingStatus(obj *unstructured.Unstructured, acct AWSAccount, rdsStatus string, ep Endpoint, now time.Time) map[string]any {
	return dbClusterStatus(obj, acct, rdsStatus, ep, now)
}

// DBClusterDeletingStatus is the status after DeleteDBCluster: status deleting and
// Synced=False with the message of rds-controller's delete hook ("DB cluster is
// currently being deleted" is what an update attempt reports; the read hook leaves it
// empty).
func DBClusterDeletingStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	return dbClusterStatus(obj, acct, RDSStatusDeleting, DBClusterEndpoint(obj, acct), now)
}

// dbClusterStatus holds what DescribeDBClusters returns in every state:
//   - ackResourceMetadata: arn, ownerAccountID, region;
//   - conditions: ACK.ResourceSynced, True only when status is available, without a
//     message or reason (the read hook sets it with nil pointers);
//   - status, endpoint, readerEndpoint (<identifier>.cluster-ro-...), hostedZoneID;
//   - dbClusterResourceID: cluster-<26 upper-case characters>;
//   - dbSubnetGroup: spec.dbSubnetGroupName;
//   - clusterCreateTime: the object's creation time;
//   - multiAZ: false (one instance); iamDatabaseAuthenticationEnabled: false;
//   - vpcSecurityGroups: {vpcSecurityGroupID, status: active} per spec.vpcSecurityGroupIDs.
func dbClusterStatus(obj *unstructured.Unstructured, acct AWSAccount, rdsStatus string, ep Endpoint, now time.Time) map[string]any {
	region := Region(obj, acct)
	id := specString(obj, "dbClusterIdentifier")
	synced := "False"
	if rdsStatus == RDSStatusAvailable {
		synced = "True"
	}
	var sgs []any
	for _, sg := range specStrings(obj, "vpcSecurityGroupIDs") {
		sgs = append(sgs, map[string]any{"vpcSecurityGroupID": sg, "status": "active"})
	}
	st := map[string]any{
		"ackResourceMetadata":              resourceMetadata(acct, region, "cluster:"+id),
		"conditions":                       []any{condition(obj, ConditionSynced, synced, "", "", now)},
		"status":                           rdsStatus,
		"endpoint":                         ep.Address,
		"readerEndpoint":                   strings.Replace(ep.Address, ".cluster-", ".cluster-ro-", 1),
		"hostedZoneID":                     "Z" + strings.ToUpper(pseudo(region, 13)),
		"dbClusterResourceID":              "cluster-" + strings.ToUpper(pseudo(acct.ID+region+id, 26)),
		"dbSubnetGroup":                    specString(obj, "dbSubnetGroupName"),
		"clusterCreateTime":                obj.GetCreationTimestamp().UTC().Format(time.RFC3339),
		"multiAZ":                          false,
		"iamDatabaseAuthenticationEnabled": false,
	}
	if sgs != nil {
		st["vpcSecurityGroups"] = sgs
	}
	return st
}

// DBInstanceCreatingStatus is the status while RDS creates the instance: as
// DBInstanceAvailableStatus with dbInstanceStatus creating, no endpoint yet, and
// ACK.ResourceSynced=False without a message.
func DBInstanceCreatingStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	return dbInstanceStatus(obj, acct, RDSStatusCreating, nil, now)
}

// DBInstanceAvailableStatus is the status of an available instance reached at ep:
//   - ackResourceMetadata (arn arn:aws:rds:<region>:<account>:db:<identifier>);
//   - conditions: ACK.ResourceSynced=True without a message (the instance read hook
//     sets only the False case; the runtime's ensureConditions then adds True with
//     SyncedMessage);
//   - dbInstanceStatus: available;
//   - endpoint: {address, port, hostedZoneID};
//   - dbiResourceID: db-<26 upper-case characters>; instanceCreateTime: the object's
//     creation time.
func DBInstanceAvailableStatus(obj *unstructured.Unstructured, acct AWSAccount, ep Endpoint, now time.Time) map[string]any {
	return dbInstanceStatus(obj, acct, RDSStatusAvailable, &ep, now)
}

// DBInstanceDeletingStatus is the status after DeleteDBInstance: dbInstanceStatus
// deleting, Synced=False, the endpoint kept.
func DBInstanceDeletingStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	ep := DBInstanceEndpoint(obj, acct)
	return dbInstanceStatus(obj, acct, RDSStatusDeleting, &ep, now)
}

func dbInstanceStatus(obj *unstructured.Unstructured, acct AWSAccount, rdsStatus string, ep *Endpoint, now time.Time) map[string]any {
	region := Region(obj, acct)
	id := specString(obj, "dbInstanceIdentifier")
	synced := condition(obj, ConditionSynced, "False", "", "", now)
	if rdsStatus == RDSStatusAvailable {
		synced = condition(obj, ConditionSynced, "True", "", SyncedMessage, now)
	}
	st := map[string]any{
		"ackResourceMetadata": resourceMetadata(acct, region, "db:"+id),
		"conditions":          []any{synced},
		"dbInstanceStatus":    rdsStatus,
		"dbiResourceID":       "db-" + strings.ToUpper(pseudo(acct.ID+region+id, 26)),
		"instanceCreateTime":  obj.GetCreationTimestamp().UTC().Format(time.RFC3339),
	}
	if ep != nil {
		st["endpoint"] = map[string]any{"address": ep.Address, "port": ep.Port, "hostedZoneID": "Z" + strings.ToUpper(pseudo(region, 13))}
	}
	return st
}

// ServerlessCacheCreatingStatus is the status while ElastiCache creates the cache:
// status creating, no endpoint yet, ACK.ResourceSynced=False with NotSyncedMessage (the
// elasticache-controller judges Synced from status.status), ackResourceMetadata (arn
// arn:aws:elasticache:<region>:<account>:serverlesscache:<name>), createTime.
func ServerlessCacheCreatingStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	return serverlessCacheStatus(obj, acct, CacheStatusCreating, nil, now)
}

// ServerlessCacheAvailableStatus is the status of an available cache reached at ep:
// status available, ACK.ResourceSynced=True with SyncedMessage, endpoint {address,
// port}, readerEndpoint {address, port+1}, fullEngineVersion (<majorEngineVersion>.0),
// createTime, ackResourceMetadata.
func ServerlessCacheAvailableStatus(obj *unstructured.Unstructured, acct AWSAccount, ep Endpoint, now time.Time) map[string]any {
	return serverlessCacheStatus(obj, acct, CacheStatusAvailable, &ep, now)
}

// ServerlessCacheModifyingStatus is the status while ElastiCache applies a change of
// the usage limits or security groups: status modifying, Synced=False, endpoints kept.
func ServerlessCacheModifyingStatus(obj *unstructured.Unstructured, acct AWSAccount, ep Endpoint, now time.Time) map[string]any {
	return serverlessCacheStatus(obj, acct, CacheStatusModifying, &ep, now)
}

// ServerlessCacheDeletingStatus is the status after DeleteServerlessCache: status
// deleting, Synced=False.
func ServerlessCacheDeletingStatus(obj *unstructured.Unstructured, acct AWSAccount, now time.Time) map[string]any {
	ep := ServerlessCacheEndpoint(obj, acct)
	return serverlessCacheStatus(obj, acct, CacheStatusDeleting, &ep, now)
}

func serverlessCacheStatus(obj *unstructured.Unstructured, acct AWSAccount, cacheStatus string, ep *Endpoint, now time.Time) map[string]any {
	region := Region(obj, acct)
	synced := condition(obj, ConditionSynced, "False", "", NotSyncedMessage, now)
	if cacheStatus == CacheStatusAvailable {
		synced = condition(obj, ConditionSynced, "True", "", SyncedMessage, now)
	}
	st := map[string]any{
		"ackResourceMetadata": resourceMetadata(acct, region, "serverlesscache:"+specString(obj, "serverlessCacheName")),
		"conditions":          []any{synced},
		"status":              cacheStatus,
		"createTime":          obj.GetCreationTimestamp().UTC().Format(time.RFC3339),
	}
	if ep != nil {
		st["endpoint"] = map[string]any{"address": ep.Address, "port": ep.Port}
		st["readerEndpoint"] = map[string]any{"address": ep.Address, "port": ep.Port + 1}
		st["fullEngineVersion"] = orDefault(specString(obj, "majorEngineVersion"), "8") + ".0"
	}
	return st
}

// WithTerminal is status with ACK.Terminal=True: a create or modify that AWS refused
// for good (InvalidParameterValue, a quota, a missing Secret). The generated
// updateConditions sets ACK.Terminal with the AWS error as its message (no reason, no
// time); the runtime then reports the resource synced: ACK.ResourceSynced=True with
// SyncedMessage and TerminalReason. The own status, if any, is kept.
func WithTerminal(obj *unstructured.Unstructured, status map[string]any, message string, now time.Time) map[string]any {
	out := copyStatus(status)
	out["conditions"] = []any{
		map[string]any{"type": ConditionTerminal, "status": "True", "message": message},
		condition(obj, ConditionSynced, "True", TerminalReason, SyncedMessage, now),
	}
	return out
}

// WithRecoverable is status with ACK.Recoverable=True: an error ACK retries (a
// throttled call, a missing dependency). The message is the error; Synced=False with
// NotSyncedMessage and the error as reason.
func WithRecoverable(obj *unstructured.Unstructured, status map[string]any, message string, now time.Time) map[string]any {
	out := copyStatus(status)
	out["conditions"] = []any{
		map[string]any{"type": ConditionRecoverable, "status": "True", "message": message},
		condition(obj, ConditionSynced, "False", message, NotSyncedMessage, now),
	}
	return out
}

// WithOwnStatus is status with the resource's own status forced to value (status.status,
// dbInstanceStatus for a DBInstance, subnetGroupStatus for a DBSubnetGroup) while ACK still says ACK.ResourceSynced=True:
// what ACK reports for an RDS resource in a terminal AWS state such as failed, where
// nothing it does changes the state.
func WithOwnStatus(obj *unstructured.Unstructured, status map[string]any, value string, now time.Time) map[string]any {
	out := copyStatus(status)
	field := "status"
	switch obj.GroupVersionKind().Kind {
	case DBInstanceGVK.Kind:
		field = "dbInstanceStatus"
	case DBSubnetGroupGVK.Kind:
		field = "subnetGroupStatus"
	}
	out[field] = value
	out["conditions"] = []any{condition(obj, ConditionSynced, "True", "", "", now)}
	return out
}

// DBSubnetGroupWriteBacks are the spec fields rds-controller writes back from
// DescribeDBSubnetGroups (sdk_read_many_post_set_output): subnetIDs, rebuilt from the
// subnets AWS lists (in AWS's order: the stand-in sorts them in reverse, so that an
// operator comparing lists in order would notice), and tags, which AWS returns with
// ACK's default tags.
func DBSubnetGroupWriteBacks(obj *unstructured.Unstructured) map[string]any {
	return map[string]any{
		"subnetIDs": awsOrder(specStrings(obj, "subnetIDs")),
		"tags":      defaultTags(obj, "rds"),
	}
}

// DBClusterWriteBacks are the spec fields rds-controller writes back after
// CreateDBCluster (the runtime patches metadata and spec with what AWS returned):
// availabilityZones (three of the region), backupRetentionPeriod 1,
// copyTagsToSnapshot false, deletionProtection false, kmsKeyID (the aws/rds key, since
// storageEncrypted), networkType IPV4, port 5432, preferredBackupWindow,
// preferredMaintenanceWindow, storageType aurora, tags (ACK's default tags), and
// vpcSecurityGroupIDs rebuilt from status.vpcSecurityGroups in AWS's order when the
// spec has some (sdk_read_many_post_set_output).
func DBClusterWriteBacks(obj *unstructured.Unstructured, acct AWSAccount) map[string]any {
	region := Region(obj, acct)
	w := map[string]any{
		"availabilityZones":          []any{region + "a", region + "b", region + "c"},
		"backupRetentionPeriod":      int64(1),
		"copyTagsToSnapshot":         false,
		"deletionProtection":         false,
		"kmsKeyID":                   fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, acct.ID, pseudoUUID(acct.ID+region)),
		"networkType":                "IPV4",
		"port":                       specPort(obj, 5432),
		"preferredBackupWindow":      "02:30-03:00",
		"preferredMaintenanceWindow": "sun:04:00-sun:04:30",
		"storageType":                "aurora",
		"tags":                       defaultTags(obj, "rds"),
	}
	if sgs := specStrings(obj, "vpcSecurityGroupIDs"); len(sgs) > 0 {
		w["vpcSecurityGroupIDs"] = awsOrder(sgs)
	}
	return w
}

// DBInstanceWriteBacks are the spec fields rds-controller writes back after
// CreateDBInstance for an instance of cluster (which may be nil): availabilityZone
// (<region>a), autoMinorVersionUpgrade true, caCertificateIdentifier rds-ca-rsa2048-g1,
// dbParameterGroupName default.aurora-postgresql<major>, dbSubnetGroupName and
// engineVersion (the cluster's), networkType IPV4, preferredMaintenanceWindow,
// promotionTier 1, publiclyAccessible false, storageEncrypted true, tags.
func DBInstanceWriteBacks(obj *unstructured.Unstructured, acct AWSAccount, cluster *unstructured.Unstructured) map[string]any {
	region := Region(obj, acct)
	w := map[string]any{
		"availabilityZone":           region + "a",
		"autoMinorVersionUpgrade":    true,
		"caCertificateIdentifier":    "rds-ca-rsa2048-g1",
		"networkType":                "IPV4",
		"preferredMaintenanceWindow": "sun:04:00-sun:04:30",
		"promotionTier":              int64(1),
		"publiclyAccessible":         false,
		"storageEncrypted":           true,
		"tags":                       defaultTags(obj, "rds"),
	}
	if cluster != nil {
		version := specString(cluster, "engineVersion")
		w["engineVersion"] = version
		w["dbSubnetGroupName"] = specString(cluster, "dbSubnetGroupName")
		w["dbParameterGroupName"] = "default." + specString(cluster, "engine") + strings.SplitN(version, ".", 2)[0]
	}
	return w
}

// ServerlessCacheWriteBacks are the spec fields elasticache-controller writes back from
// DescribeServerlessCaches: dailySnapshotTime, snapshotRetentionLimit 0, subnetIDs and
// securityGroupIDs in AWS's order (AWS's default security group when none was given),
// tags.
func ServerlessCacheWriteBacks(obj *unstructured.Unstructured, acct AWSAccount) map[string]any {
	w := map[string]any{
		"dailySnapshotTime":      "03:00",
		"snapshotRetentionLimit": int64(0),
		"tags":                   defaultTags(obj, "elasticache"),
	}
	if ids := specStrings(obj, "subnetIDs"); len(ids) > 0 {
		w["subnetIDs"] = awsOrder(ids)
	}
	sgs := specStrings(obj, "securityGroupIDs")
	if len(sgs) == 0 {
		sgs = []string{"sg-" + pseudoHex(acct.ID+Region(obj, acct), 17)}
	}
	w["securityGroupIDs"] = awsOrder(sgs)
	return w
}

// condition builds an ACK condition, keeping the previous lastTransitionTime when the
// condition's status did not change. (The runtime sets a new time on every sync; the
// stand-in keeps it so that it writes nothing at rest, and nothing should depend on it.)
func condition(obj *unstructured.Unstructured, condType, status, reason, message string, now time.Time) map[string]any {
	c := map[string]any{"type": condType, "status": status, "lastTransitionTime": now.UTC().Format(time.RFC3339)}
	if reason != "" {
		c["reason"] = reason
	}
	if message != "" {
		c["message"] = message
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, old := range conds {
		if m, ok := old.(map[string]any); ok && m["type"] == condType && m["status"] == status && m["lastTransitionTime"] != nil {
			c["lastTransitionTime"] = m["lastTransitionTime"]
		}
	}
	return c
}

func resourceMetadata(acct AWSAccount, region, resource string) map[string]any {
	service := "rds"
	if strings.HasPrefix(resource, "serverlesscache:") {
		service = "elasticache"
	}
	return map[string]any{
		"arn":            fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, acct.ID, resource),
		"ownerAccountID": acct.ID,
		"region":         region,
	}
}

// defaultTags are the tags the ACK runtime adds to every resource it creates.
func defaultTags(obj *unstructured.Unstructured, service string) []any {
	version := map[string]string{"rds": "1.11.1", "elasticache": "1.8.0"}[service]
	return []any{
		map[string]any{"key": "services.k8s.aws/controller-version", "value": service + "-" + version},
		map[string]any{"key": "services.k8s.aws/namespace", "value": obj.GetNamespace()},
	}
}

// awsOrder is the order the stand-in's AWS lists IDs in: reverse sorted.
func awsOrder(ids []string) []any {
	sorted := slices.Clone(ids)
	sort.Sort(sort.Reverse(sort.StringSlice(sorted)))
	out := make([]any, len(sorted))
	for i, s := range sorted {
		out[i] = s
	}
	return out
}

func copyStatus(st map[string]any) map[string]any {
	out := make(map[string]any, len(st))
	for k, v := range st {
		out[k] = v
	}
	return out
}

func specString(obj *unstructured.Unstructured, field string) string {
	s, _, _ := unstructured.NestedString(obj.Object, "spec", field)
	return s
}

func specStrings(obj *unstructured.Unstructured, field string) []string {
	s, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", field)
	return s
}

func specPort(obj *unstructured.Unstructured, def int64) int64 {
	v, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "port")
	if !found {
		return def
	}
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return def
}

// pseudo is n lower-case alphanumerics derived from seed: stable names for IDs AWS
// would generate.
func pseudo(seed string, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	sum := sha256.Sum256([]byte(seed))
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[int(sum[i%len(sum)]+byte(i/len(sum)))%len(alphabet)]
	}
	return string(out)
}

func pseudoHex(seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])[:n]
}

func pseudoUUID(seed string) string {
	h := pseudoHex(seed, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// rdsSuffix is the per-account-and-region part of RDS endpoint names.
func rdsSuffix(acct AWSAccount, region string) string {
	return pseudo(acct.ID+"/"+region, 12)
}

// regionCode shortens a region as ElastiCache Serverless endpoints do: eu-west-1 is
// euw1, ap-southeast-2 apse2.
func regionCode(region string) string {
	parts := strings.Split(region, "-")
	if len(parts) != 3 {
		return region
	}
	dir := map[string]string{"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
		"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}[parts[1]]
	return parts[0] + orDefault(dir, parts[1]) + parts[2]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
