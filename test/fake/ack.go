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

// The ACK half of the stand-ins: the names ACK uses (kinds, annotations, conditions,
// messages) and the pure functions that turn what the stand-in's AWS returns into what
// rds-controller 1.11.1 and elasticache-controller 1.8.0 (runtime v0.62.0) write on
// their objects. ack_runtime.go reproduces the runtime's reconciler, ack_rds.go and
// ack_elasticache.go the controllers' resource managers and hooks, aws.go the AWS they
// call. ACK objects are unstructured: the ACK Go modules are not a dependency.

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
	UserGVK            = schema.GroupVersionKind{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: CacheUserKind}
	UserGroupGVK       = schema.GroupVersionKind{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: CacheUserGroupKind}
)

// The kinds of ElastiCache users and user groups.
const (
	CacheUserKind      = "User"
	CacheUserGroupKind = "UserGroup"
)

// Condition types of the runtime (apis/core/v1alpha1/conditions.go).
const (
	ConditionSynced          = "ACK.ResourceSynced"
	ConditionTerminal        = "ACK.Terminal"
	ConditionRecoverable     = "ACK.Recoverable"
	ConditionReady           = "Ready"
	ConditionLateInitialized = "ACK.LateInitialized"
)

// Messages and reasons of the runtime (pkg/condition/condition.go, pkg/errors/error.go)
// and of the late initialisation the controllers generate (manager.go LateInitialize).
const (
	SyncedMessage        = "Resource synced successfully"
	NotSyncedMessage     = "Resource not synced"
	UnknownSyncedMessage = "Unable to determine if desired resource state matches latest observed state"
	// TerminalReason is ackerr.Terminal's text, the Synced reason after a terminal error.
	TerminalReason = "resource is in terminal condition"
	// NotManagedMessage and NotManagedReason: ACK.Terminal of an object whose resource
	// exists in AWS but is not ACK's (no finalizer, no adoption).
	NotManagedMessage = "Resource already exists"
	NotManagedReason  = "This resource already exists but is not managed by ACK. " +
		"To bring the resource under ACK management, you should explicitly adopt " +
		"the resource by enabling the ResourceAdoption feature gate and populating " +
		"the `services.k8s.aws/adoption-policy` and `services.k8s.aws/adoption-fields` " +
		"annotations."
	// SecretNotFoundMessage is ackerr.SecretNotFound: a referenced Secret or key is missing.
	SecretNotFoundMessage = "kubernetes secret not found"
	// SecretTypeNotSupportedMessage is ackerr.SecretTypeNotSupported.
	SecretTypeNotSupportedMessage = "only opaque secrets can be used"
	LateInitializedMessage        = "Late initialization successful"
)

// Annotations the runtime reads (apis/core/v1alpha1/annotations.go) and rds-controller
// reads (skip-final-snapshot, final-db-snapshot-identifier) and writes
// (last-applied-secret-reference).
const (
	AnnotationRegion            = "services.k8s.aws/region"
	AnnotationDeletionPolicy    = "services.k8s.aws/deletion-policy"
	AnnotationAdoptionPolicy    = "services.k8s.aws/adoption-policy"
	AnnotationAdoptionFields    = "services.k8s.aws/adoption-fields"
	AnnotationAdopted           = "services.k8s.aws/adopted"
	AnnotationSkipFinalSnapshot = "rds.services.k8s.aws/skip-final-snapshot"
	AnnotationFinalSnapshotID   = "rds.services.k8s.aws/final-db-snapshot-identifier"
	AnnotationLastAppliedSecret = "rds.services.k8s.aws/last-applied-secret-reference"
)

// Adoption policies (pkg/runtime/util.go).
const (
	AdoptionPolicyAdopt         = "adopt"
	AdoptionPolicyAdoptOrCreate = "adopt-or-create"
)

// Own statuses of RDS and ElastiCache resources (rds-controller
// pkg/resource/db_cluster/hooks.go, elasticache-controller
// pkg/resource/serverless_cache/hooks.go).
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
)

// AWSAccount is the account and region the ACK controllers run with.
type AWSAccount struct {
	// ID is a 12-digit AWS account ID.
	ID string
	// Region is the controllers' --aws-region: the region of objects without a
	// services.k8s.aws/region annotation.
	Region string
}

// DefaultAWSAccount is the account of the stand-ins when Options leave it empty.
var DefaultAWSAccount = AWSAccount{ID: "111122223333", Region: "eu-west-1"}

// Partition is the controllers' --aws-partition, written in
// status.ackResourceMetadata.partition (setStatusDefaults).
const Partition = "aws"

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

// DeletionPolicy is the object's services.k8s.aws/deletion-policy annotation, "delete"
// when absent (the controllers' --deletion-policy default). The runtime deletes the AWS
// resource only for "delete"; any other value retains it.
func DeletionPolicy(obj *unstructured.Unstructured) string {
	if p, ok := obj.GetAnnotations()[AnnotationDeletionPolicy]; ok {
		return p
	}
	return "delete"
}

// FinalSnapshot is what rds-controller sends with DeleteDBCluster and DeleteDBInstance
// (pkg/util/annotations.go ParseDeletionAnnotations): SkipFinalSnapshot from
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
// spec.masterUserPassword to RDS (hooks.go getLastAppliedSecretReferenceString):
// "<namespace>/<name>.<key>" as the reference spells them ("/<name>.<key>" without a
// namespace), "" without a reference.
func LastAppliedSecretReference(obj *unstructured.Unstructured) string {
	ref, found, _ := unstructured.NestedStringMap(obj.Object, "spec", "masterUserPassword")
	if !found {
		return ""
	}
	return ref["namespace"] + "/" + ref["name"] + "." + ref["key"]
}

// ARN is the ARN of the resource at key.
func ARN(key AWSKey) string {
	switch key.Kind {
	case DBSubnetGroupGVK.Kind:
		return fmt.Sprintf("arn:%s:rds:%s:%s:subgrp:%s", Partition, key.Region, key.Account, key.ID)
	case DBClusterGVK.Kind:
		return fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", Partition, key.Region, key.Account, key.ID)
	case DBInstanceGVK.Kind:
		return fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", Partition, key.Region, key.Account, key.ID)
	case DBClusterSnapshotGVK.Kind:
		return fmt.Sprintf("arn:%s:rds:%s:%s:cluster-snapshot:%s", Partition, key.Region, key.Account, key.ID)
	case CacheUserKind:
		return fmt.Sprintf("arn:%s:elasticache:%s:%s:user:%s", Partition, key.Region, key.Account, key.ID)
	case CacheUserGroupKind:
		return fmt.Sprintf("arn:%s:elasticache:%s:%s:usergroup:%s", Partition, key.Region, key.Account, key.ID)
	}
	return fmt.Sprintf("arn:%s:elasticache:%s:%s:serverlesscache:%s", Partition, key.Region, key.Account, key.ID)
}

// dbClusterHost is the writer endpoint RDS gives a cluster:
// <identifier>.cluster-<12 characters of the account and region>.<region>.rds.amazonaws.com.
func dbClusterHost(key AWSKey, acct AWSAccount) string {
	return fmt.Sprintf("%s.cluster-%s.%s.rds.amazonaws.com", key.ID, rdsSuffix(acct, key.Region), key.Region)
}

// dbInstanceHost is the endpoint RDS gives an instance:
// <identifier>.<12 characters of the account and region>.<region>.rds.amazonaws.com.
func dbInstanceHost(key AWSKey, acct AWSAccount) string {
	return fmt.Sprintf("%s.%s.%s.rds.amazonaws.com", key.ID, rdsSuffix(acct, key.Region), key.Region)
}

// serverlessCacheEndpoint is the endpoint ElastiCache gives a serverless cache:
// <name>-<6 characters>.serverless.<region code, e.g. euw1>.cache.amazonaws.com:6379
// (the reader endpoint is the same host on 6380).
func serverlessCacheEndpoint(key AWSKey, acct AWSAccount) Endpoint {
	return Endpoint{
		Address: fmt.Sprintf("%s-%s.serverless.%s.cache.amazonaws.com", key.ID, pseudo(acct.ID+key.Region+key.ID, 6), regionCode(key.Region)),
		Port:    6379,
	}
}

// DescribedStatus is the status the controller's read (sdkFind) builds from what AWS
// returns, before conditions; the fields, by kind:
//   - all: ackResourceMetadata {arn, ownerAccountID, region, partition};
//   - DBSubnetGroup: subnetGroupStatus, subnets ({subnetIdentifier, subnetStatus
//     Active, subnetAvailabilityZone {name}}), vpcID;
//   - DBCluster: status, endpoint (a host name) and readerEndpoint, hostedZoneID,
//     dbClusterResourceID, dbSubnetGroup, clusterCreateTime, multiAZ false,
//     iamDatabaseAuthenticationEnabled false, vpcSecurityGroups ({vpcSecurityGroupID,
//     status active});
//   - DBInstance: dbInstanceStatus, endpoint {address, port, hostedZoneID} once it has
//     one, dbiResourceID, instanceCreateTime;
//   - ServerlessCache: status, createTime, and once available endpoint {address, port},
//     readerEndpoint {address, port+1}, fullEngineVersion.
func DescribedStatus(r AWSResource) map[string]any {
	key := r.Key
	st := map[string]any{"ackResourceMetadata": map[string]any{
		"arn": ARN(key), "ownerAccountID": key.Account, "region": key.Region, "partition": Partition,
	}}
	acct := AWSAccount{ID: key.Account, Region: key.Region}
	switch key.Kind {
	case DBSubnetGroupGVK.Kind:
		var subnets []any
		for i, id := range anyStrings(sliceOf(r.Spec["subnetIDs"])) {
			subnets = append(subnets, map[string]any{"subnetIdentifier": id, "subnetStatus": "Active",
				"subnetAvailabilityZone": map[string]any{"name": key.Region + string(rune('a'+i%3))}})
		}
		st["subnetGroupStatus"] = r.Status
		st["vpcID"] = "vpc-" + pseudoHex(acct.ID+key.Region, 17)
		if subnets != nil {
			st["subnets"] = subnets
		}
	case DBClusterGVK.Kind:
		host := dbClusterHost(key, acct)
		if r.Endpoint != nil {
			host = r.Endpoint.Address
		}
		st["status"] = r.Status
		st["endpoint"] = host
		st["readerEndpoint"] = strings.Replace(host, ".cluster-", ".cluster-ro-", 1)
		st["hostedZoneID"] = "Z" + strings.ToUpper(pseudo(key.Region, 13))
		st["dbClusterResourceID"] = resourceID(r, "cluster-")
		st["dbSubnetGroup"] = specString2(r.Spec, "dbSubnetGroupName")
		st["clusterCreateTime"] = r.Created.UTC().Format(time.RFC3339)
		st["multiAZ"] = false
		st["iamDatabaseAuthenticationEnabled"] = false
		var sgs []any
		for _, sg := range anyStrings(sliceOf(r.Spec["vpcSecurityGroupIDs"])) {
			sgs = append(sgs, map[string]any{"vpcSecurityGroupID": sg, "status": "active"})
		}
		if sgs != nil {
			st["vpcSecurityGroups"] = sgs
		}
	case DBInstanceGVK.Kind:
		st["dbInstanceStatus"] = r.Status
		st["dbiResourceID"] = resourceID(r, "db-")
		st["instanceCreateTime"] = r.Created.UTC().Format(time.RFC3339)
		if r.Endpoint != nil && r.Status != RDSStatusCreating {
			st["endpoint"] = map[string]any{"address": r.Endpoint.Address, "port": r.Endpoint.Port,
				"hostedZoneID": "Z" + strings.ToUpper(pseudo(key.Region, 13))}
		}
	case DBClusterSnapshotGVK.Kind:
		snapshotStatus(st, r)
	case CacheUserKind:
		st["status"] = r.Status
		st["minimumEngineVersion"] = "6.0"
		st["authentication"] = map[string]any{"type_": "password", "passwordCount": int64(r.PasswordCount)}
	case CacheUserGroupKind:
		st["status"] = r.Status
		st["minimumEngineVersion"] = "6.0"
		if r.PendingAdd != nil || r.PendingRemove != nil {
			pending := map[string]any{}
			if r.PendingAdd != nil {
				pending["userIDsToAdd"] = stringsAny(r.PendingAdd)
			}
			if r.PendingRemove != nil {
				pending["userIDsToRemove"] = stringsAny(r.PendingRemove)
			}
			st["pendingChanges"] = pending
		}
	default:
		st["status"] = r.Status
		st["createTime"] = r.Created.UTC().Format(time.RFC3339)
		if r.Endpoint != nil && r.Status != CacheStatusCreating {
			st["endpoint"] = map[string]any{"address": r.Endpoint.Address, "port": r.Endpoint.Port}
			st["readerEndpoint"] = map[string]any{"address": r.Endpoint.Address, "port": r.Endpoint.Port + 1}
			st["fullEngineVersion"] = orDefault(specString2(r.Spec, "majorEngineVersion"), "8") + ".0"
		}
	}
	return st
}

func sliceOf(v any) []any {
	s, _ := v.([]any)
	return s
}

// awsOrder is the order the stand-in's AWS lists IDs in: reverse sorted, so that a
// reader that compares lists in order rather than as sets notices (AWS keeps them as
// sets and documents no order).
func awsOrder(ids []string) []any {
	sorted := slices.Clone(ids)
	sort.Sort(sort.Reverse(sort.StringSlice(sorted)))
	out := make([]any, len(sorted))
	for i, s := range sorted {
		out[i] = s
	}
	return out
}

func specString(obj *unstructured.Unstructured, field string) string {
	s, _, _ := unstructured.NestedString(obj.Object, "spec", field)
	return s
}

func specPort(spec map[string]any, def int64) int64 {
	switch n := spec["port"].(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return def
}

// pseudo is n lower-case alphanumerics derived from seed: stable names for IDs AWS
// would generate.
// resourceID is r's resource id; one derived from its key for a resource AWS did not
// create (a test's literal AWSResource).
func resourceID(r AWSResource, prefix string) string {
	if r.ResourceID != "" {
		return r.ResourceID
	}
	acct := AWSAccount{ID: r.Key.Account, Region: r.Key.Region}
	return prefix + strings.ToUpper(pseudo(acct.ID+r.Key.Region+r.Key.ID, 26))
}

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
