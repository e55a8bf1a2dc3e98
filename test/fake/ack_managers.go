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

// The resource managers of the four kinds: rds-controller 1.11.1
// (pkg/resource/{db_subnet_group,db_cluster,db_instance}, at 8b3f5f2) and
// elasticache-controller 1.8.0 (pkg/resource/serverless_cache, at a99ef75): their
// sdk.go (sdkFind, sdkCreate, sdkUpdate or customUpdate, sdkDelete, terminalAWSError),
// hooks.go and manager.go (IsSynced, lateInitializeFieldNames), on unstructured objects
// and the stand-in's AWS.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ackManagers are the resource managers by kind, with their controllers' field managers.
var ackManagers = []struct {
	rm      resourceManager
	gvk     schema.GroupVersionKind
	manager string
}{
	{dbSubnetGroupManager{}, DBSubnetGroupGVK, FieldManagerACKRDS},
	{dbClusterManager{}, DBClusterGVK, FieldManagerACKRDS},
	{dbInstanceManager{}, DBInstanceGVK, FieldManagerACKRDS},
	{serverlessCacheManager{}, ServerlessCacheGVK, FieldManagerACKElastiCache},
	{userManager{}, UserGVK, FieldManagerACKElastiCache},
	{userGroupManager{}, UserGroupGVK, FieldManagerACKElastiCache},
}

// Terminal AWS error codes of each kind's terminalAWSError (generator.yaml's
// terminal_codes).
var (
	dbSubnetGroupTerminalCodes   = []string{"DBSubnetGroupDoesNotCoverEnoughAZs", "InvalidSubnet", "InvalidParameter", "SubnetAlreadyInUse"}
	dbClusterTerminalCodes       = []string{"DBClusterQuotaExceededFault", "DBSubnetGroupDoesNotCoverEnoughAZs", "InsufficientStorageClusterCapacity", "InvalidParameter", "InvalidParameterValue", "InvalidParameterCombination", "InvalidSubnet", "StorageQuotaExceeded", "StorageTypeNotAvailableFault"}
	dbInstanceTerminalCodes      = []string{"InvalidParameter", "InvalidParameterValue", "InvalidParameterCombination"}
	serverlessCacheTerminalCodes = []string{"ServerlessCacheAlreadyExistsFault", "ServerlessCacheQuotaForCustomerExceededFault", "InvalidParameterValue", "InvalidParameterCombination", "InvalidVPCNetworkStateFault", "TagQuotaPerResourceExceeded", "InvalidKMSKeyFault"}
)

// find is the common part of sdkFind: Describe, NotFound for the kind's not-found
// code, and a copy of r with AWS's status and the spec fields AWS returns.
func find(c *ackCall, kind, idField string, r *unstructured.Unstructured) (*unstructured.Unstructured, AWSResource, error) {
	res, err := c.s.aws.Describe(c.key(kind, r, idField))
	if err != nil {
		var awsErr *APIError
		if errors.As(err, &awsErr) && awsErr.Code == notFound(AWSKey{Kind: kind}).Code {
			return nil, res, errNotFound
		}
		return nil, res, err
	}
	ko := r.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	return ko, res, nil
}

// setFromAWS sets u's status (conditions kept) and the spec fields AWS returns.
func setFromAWS(u *unstructured.Unstructured, res AWSResource) {
	setStatusFromAWS(u, res)
	spec := specOf(u)
	for k, v := range res.Spec {
		spec[k] = deepCopyValue(v)
	}
}

// setStatusFromAWS sets u's status from AWS (conditions kept) and nothing of its spec.
func setStatusFromAWS(u *unstructured.Unstructured, res AWSResource) {
	conds := statusMap(u)["conditions"]
	st := DescribedStatus(res)
	if conds != nil {
		st["conditions"] = conds
	}
	u.Object["status"] = st
}

// specOf is u's spec, created empty when missing.
func specOf(u *unstructured.Unstructured) map[string]any {
	spec, _ := u.Object["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		u.Object["spec"] = spec
	}
	return spec
}

// compareSpecs is the generated delta over the spec: a field differs when one side
// has it and the other not, or when the values differ; lists of IDs compare as sets
// (ackcompare.SliceStringPEqual). Tags and the master password reference are left to
// the callers.
func compareSpecs(desired, latest *unstructured.Unstructured) []string {
	a, _ := desired.Object["spec"].(map[string]any)
	b, _ := latest.Object["spec"].(map[string]any)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if k == "tags" || k == "masterUserPassword" {
			continue
		}
		x, xok := a[k]
		y, yok := b[k]
		if xok != yok {
			out = append(out, k)
			continue
		}
		if slices.Contains(idListFields, k) {
			xs, ys := anyStrings(sliceOf(x)), anyStrings(sliceOf(y))
			sort.Strings(xs)
			sort.Strings(ys)
			if !slices.Equal(xs, ys) {
				out = append(out, k)
			}
			continue
		}
		if !jsonEqual(x, y) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// jsonEqual compares values as JSON does (4 and 4.0 are equal).
func jsonEqual(x, y any) bool {
	bx, err1 := json.Marshal(x)
	by, err2 := json.Marshal(y)
	if err1 != nil || err2 != nil {
		return equality.Semantic.DeepEqual(x, y)
	}
	var nx, ny any
	_ = json.Unmarshal(bx, &nx)
	_ = json.Unmarshal(by, &ny)
	return equality.Semantic.DeepEqual(nx, ny)
}

// changes are the desired values of the delta's fields, for a Modify call. Tags are no
// Modify field: syncTags sends them (AddTagsToResource, RemoveTagsFromResource).
func changes(desired *unstructured.Unstructured, delta []string) map[string]any {
	spec, _ := desired.Object["spec"].(map[string]any)
	out := map[string]any{}
	for _, f := range delta {
		if v, ok := spec[f]; ok && f != "masterUserPassword" && f != "tags" {
			out[f] = deepCopyValue(v)
		}
	}
	return out
}

// withTagDelta is the delta with "tags" when desired's and latest's tags differ as
// key → value maps: rds-controller's compareTags (db_subnet_group, db_cluster and
// db_instance hooks.go: the lengths, then util.EqualTags) and elasticache-controller's
// serverless_cache/delta.go newResourceDelta (convertToOrderedACKTags,
// ackcompare.MapStringStringEqual). The runtime compares desired after EnsureTags with
// the tags AWS lists, ACK's own on both sides; the stand-in leaves ACK's own out of both
// (sdkFind's tagsFromAWS), which compares the same.
func withTagDelta(delta []string, desired, latest *unstructured.Unstructured) []string {
	a, _ := desired.Object["spec"].(map[string]any)
	b, _ := latest.Object["spec"].(map[string]any)
	if maps.Equal(specTags(a), specTags(b)) {
		return delta
	}
	delta = append(delta, "tags")
	sort.Strings(delta)
	return delta
}

// setTagsFromAWS is sdkFind's getTags (ListTagsForResource into Spec.Tags), without
// ACK's own tags (services.k8s.aws/...: FilterSystemTags keeps them out of the spec).
func setTagsFromAWS(ko *unstructured.Unstructured, res AWSResource) {
	var tags []any
	for _, k := range sortedKeys(res.Tags) {
		if !strings.HasPrefix(k, "services.k8s.aws/") {
			tags = append(tags, map[string]any{"key": k, "value": res.Tags[k]})
		}
	}
	spec := specOf(ko)
	if tags != nil {
		spec["tags"] = tags
	} else {
		delete(spec, "tags")
	}
}

// syncTags is each kind's syncTags: AWS's tags become ACK's own and the desired ones.
func syncTags(c *ackCall, service string, key AWSKey, desired *unstructured.Unstructured) error {
	return c.s.aws.SetTags(key, withSpecTags(c.defaultTags(service), specOf(desired)))
}

// statusOf is the object's own status field.
func statusOf(u *unstructured.Unstructured, field string) string {
	s, _, _ := unstructured.NestedString(u.Object, "status", field)
	return s
}

// dbSubnetGroupManager: no hook sets Synced (IsSynced true), no late initialisation.
type dbSubnetGroupManager struct{}

func (dbSubnetGroupManager) service() string                          { return "rds" }
func (dbSubnetGroupManager) idField() string                          { return "name" }
func (dbSubnetGroupManager) terminalCodes() []string                  { return dbSubnetGroupTerminalCodes }
func (dbSubnetGroupManager) lateInitFields() []string                 { return nil }
func (dbSubnetGroupManager) isSynced(*unstructured.Unstructured) bool { return true }
func (dbSubnetGroupManager) compare(desired, latest *unstructured.Unstructured) []string {
	return withTagDelta(compareSpecs(desired, latest), desired, latest)
}

func (m dbSubnetGroupManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, res, err := find(c, DBSubnetGroupGVK.Kind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	setTagsFromAWS(ko, res)
	return ko, nil
}

func (m dbSubnetGroupManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	res, err := c.s.aws.Create(c.key(DBSubnetGroupGVK.Kind, desired, m.idField()), desired.Object["spec"].(map[string]any), "", withSpecTags(c.defaultTags(m.service()), desired.Object["spec"].(map[string]any)))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	return ko, nil
}

// sdkUpdate: ModifyDBSubnetGroup, then syncTags when the tags differ (sdk.go sdkUpdate,
// sdk_update_post_request hook); no hook sets Synced, so a tags change stays synced.
func (m dbSubnetGroupManager) sdkUpdate(ctx context.Context, c *ackCall, desired, _ *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	key := c.key(DBSubnetGroupGVK.Kind, desired, m.idField())
	res, err := c.s.aws.Modify(ctx, key, changes(desired, delta), nil)
	if err != nil {
		return nil, err
	}
	if slices.Contains(delta, "tags") {
		if err := syncTags(c, m.service(), key, desired); err != nil {
			return nil, err
		}
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	return ko, nil
}

func (m dbSubnetGroupManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return nil, c.s.aws.Delete(c.key(DBSubnetGroupGVK.Kind, r, m.idField()), DeleteParams{})
}

// dbClusterManager: the read hook sets Synced from the cluster's status (IsSynced is
// true), customUpdate modifies only an available cluster, the master password comes
// from its Secret, late initialisation of NetworkType.
type dbClusterManager struct{}

func (dbClusterManager) service() string                          { return "rds" }
func (dbClusterManager) idField() string                          { return "dbClusterIdentifier" }
func (dbClusterManager) terminalCodes() []string                  { return dbClusterTerminalCodes }
func (dbClusterManager) lateInitFields() []string                 { return []string{"networkType"} }
func (dbClusterManager) isSynced(*unstructured.Unstructured) bool { return true }

// majorVersion is custom_update.go's regexp ^[0-9]+.
var majorVersion = regexp.MustCompile(`^[0-9]+`)

// compare is newResourceDelta with customPreCompare: a desired engine version of the
// same major as the latest one is taken as the latest while autoMinorVersionUpgrade
// holds (default true), and a master password reference other than the last applied
// one is a difference (compareSecretReferenceChanges).
func (dbClusterManager) compare(desired, latest *unstructured.Unstructured) []string {
	a, b := specString(desired, "engineVersion"), specString(latest, "engineVersion")
	if a != "" && b != "" {
		auto, found, _ := unstructured.NestedBool(desired.Object, "spec", "autoMinorVersionUpgrade")
		if !found {
			auto = true
		}
		if auto && majorVersion.FindString(a) == majorVersion.FindString(b) {
			_ = unstructured.SetNestedField(desired.Object, b, "spec", "engineVersion")
		}
	}
	delta := withTagDelta(compareSpecs(desired, latest), desired, latest)
	if desired.GetAnnotations()[AnnotationLastAppliedSecret] != LastAppliedSecretReference(desired) {
		delta = append(delta, "masterUserPassword")
	}
	return delta
}

func (m dbClusterManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, res, err := find(c, DBClusterGVK.Kind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	setTagsFromAWS(ko, res)
	// sdk_read_many_post_set_output: Synced False unless the cluster is available
	// ("Setting resource synced condition to false will trigger a requeue").
	if statusOf(ko, "status") != RDSStatusAvailable {
		setCondition(ko, ConditionSynced, "False", nil, nil, c.s.now())
	} else {
		setCondition(ko, ConditionSynced, "True", nil, nil, c.s.now())
	}
	return ko, nil
}

func (m dbClusterManager) sdkCreate(ctx context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	spec := desired.Object["spec"].(map[string]any)
	if specString(desired, "snapshotIdentifier") != "" {
		// sdk_create_pre_build_request: restoreDbClusterFromSnapshot, without the master
		// password and before sdk_create_post_set_output (ack_snapshot.go). Unlike the
		// create below it works on desired itself, not on a copy:
		// setResourceFromRestoreDBClusterFromSnapshotOutput(r, resp) writes the output
		// into desired and hooks.go returns &resource{r.ko}. The created resource is
		// the desired one, so the runtime's createResource (patchResourceMetadataAndSpec
		// of desired against it) and lateInitializeResource find no difference: nothing
		// AWS returned reaches the stored spec.
		res, err := c.s.aws.Create(c.key(DBClusterGVK.Kind, desired, m.idField()), spec, "", withSpecTags(c.defaultTags(m.service()), spec))
		if err != nil {
			return nil, err
		}
		setFromAWS(desired, res)
		setStatusDefaults(desired, c)
		if statusOf(desired, "status") == RDSStatusCreating {
			setCondition(desired, ConditionSynced, "False", nil, nil, c.s.now())
		}
		return desired, nil
	}
	ref, _, _ := unstructured.NestedMap(desired.Object, "spec", "masterUserPassword")
	password, err := c.secretValueFromReference(ctx, ref)
	if err != nil {
		return nil, &requeueNeeded{err}
	}
	res, err := c.s.aws.Create(c.key(DBClusterGVK.Kind, desired, m.idField()), spec, password, withSpecTags(c.defaultTags(m.service()), spec))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	setAnnotation(ko, AnnotationLastAppliedSecret, LastAppliedSecretReference(ko))
	if statusOf(ko, "status") == RDSStatusCreating {
		setCondition(ko, ConditionSynced, "False", nil, nil, c.s.now())
	}
	return ko, nil
}

// requeueWaitUntilCanModify and requeueWaitWhileDeleting are hooks.go's.
func dbClusterWaitUntilCanModify(status string) error {
	return &requeueNeededAfter{requeueNeeded: requeueNeeded{fmt.Errorf("DB cluster in '%s' state, cannot be modified until '%s'.", status, RDSStatusAvailable)}, after: defaultRequeueAfter} //lint:ignore ST1005 rds-controller's text
}

var dbClusterWaitWhileDeleting = &requeueNeededAfter{requeueNeeded: requeueNeeded{errors.New("DB cluster in 'deleting' state, cannot be modified or deleted.")}, after: defaultRequeueAfter} //lint:ignore ST1005 rds-controller's text

// sdkUpdate is customUpdate. A tags change is synced and still followed by
// ModifyDBCluster, whatever else changed: the shortcut that skips the call for a tags-only
// delta is the else branch of the tags one, so it never runs for one.
func (m dbClusterManager) sdkUpdate(ctx context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	now := c.s.now()
	status := statusOf(latest, "status")
	switch {
	case status == RDSStatusDeleting:
		setCondition(desired, ConditionSynced, "False", strPtr("DB cluster is currently being deleted"), nil, now)
		return desired, dbClusterWaitWhileDeleting
	case status == RDSStatusCreating:
		setCondition(desired, ConditionSynced, "False", strPtr("DB cluster is currently being created"), nil, now)
		return desired, dbClusterWaitUntilCanModify(status)
	case status != RDSStatusAvailable:
		setCondition(desired, ConditionSynced, "False", strPtr("DB cluster is not available for modification in '"+status+"' status"), nil, now)
		return desired, dbClusterWaitUntilCanModify(status)
	}
	if slices.Contains(delta, "tags") {
		if err := syncTags(c, m.service(), c.key(DBClusterGVK.Kind, desired, m.idField()), desired); err != nil {
			return nil, err
		}
	}
	var password *string
	if slices.Contains(delta, "masterUserPassword") {
		ref, _, _ := unstructured.NestedMap(desired.Object, "spec", "masterUserPassword")
		p, err := c.secretValueFromReference(ctx, ref)
		if err != nil {
			return nil, err
		}
		if p != "" {
			password = &p
		}
	}
	res, err := c.s.aws.Modify(ctx, c.key(DBClusterGVK.Kind, desired, m.idField()), changes(desired, delta), password)
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setStatusFromAWS(ko, res)
	setModifyDBClusterOutput(ko, res)
	setStatusDefaults(ko, c)
	setAnnotation(ko, AnnotationLastAppliedSecret, LastAppliedSecretReference(ko))
	setCondition(ko, ConditionSynced, "False", nil, nil, now)
	return ko, nil
}

// modifyDBClusterOutputFields are the spec fields custom_update.go customUpdate sets
// from the ModifyDBCluster output (nil when the output has none); every other field
// of the returned resource is desired's. So a field desired leaves out that
// DescribeDBClusters returns and delta.go compares (engineVersion, networkType,
// autoMinorVersionUpgrade...) stays a difference after the update.
var modifyDBClusterOutputFields = []string{"availabilityZones", "backtrackWindow", "backupRetentionPeriod",
	"characterSetName", "copyTagsToSnapshot", "databaseInsightsMode", "dbClusterIdentifier", "databaseName",
	"deletionProtection", "engine", "engineMode", "kmsKeyID", "masterUsername", "port", "enablePerformanceInsights",
	"performanceInsightsKMSKeyID", "performanceInsightsRetentionPeriod", "preferredBackupWindow",
	"preferredMaintenanceWindow", "replicationSourceIdentifier", "storageEncrypted"}

// setModifyDBClusterOutput copies customUpdate's fields of the ModifyDBCluster output
// into u's spec; allocatedStorage only for an engine other than Aurora (and then
// never cleared).
func setModifyDBClusterOutput(u *unstructured.Unstructured, res AWSResource) {
	spec := specOf(u)
	for _, f := range modifyDBClusterOutputFields {
		if v, ok := res.Spec[f]; ok {
			spec[f] = deepCopyValue(v)
		} else {
			delete(spec, f)
		}
	}
	if v, ok := res.Spec["allocatedStorage"]; ok && !strings.HasPrefix(specString2(res.Spec, "engine"), "aurora") {
		spec["allocatedStorage"] = deepCopyValue(v)
	}
}

func (m dbClusterManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if statusOf(r, "status") == RDSStatusDeleting {
		return r, dbClusterWaitWhileDeleting
	}
	p, err := deleteParams(r)
	if err != nil {
		return nil, err
	}
	return nil, c.s.aws.Delete(c.key(DBClusterGVK.Kind, r, m.idField()), p)
}

// deleteParams is util.ParseDeletionAnnotations.
func deleteParams(r *unstructured.Unstructured) (DeleteParams, error) {
	skip, _, err := FinalSnapshot(r)
	if err != nil {
		return DeleteParams{}, err
	}
	p := DeleteParams{SkipFinalSnapshot: skip}
	if id, ok := r.GetAnnotations()[AnnotationFinalSnapshotID]; ok {
		p.FinalSnapshotID = &id
	}
	return p, nil
}

// dbInstanceManager: the read hook sets Synced False while the instance is not
// available and nothing when it is (IsSynced true: SyncedMessage), late
// initialisation of the fields RDS defaults.
type dbInstanceManager struct{}

func (dbInstanceManager) service() string                          { return "rds" }
func (dbInstanceManager) idField() string                          { return "dbInstanceIdentifier" }
func (dbInstanceManager) terminalCodes() []string                  { return dbInstanceTerminalCodes }
func (dbInstanceManager) isSynced(*unstructured.Unstructured) bool { return true }

// lateInitFields are lateInitializeFieldNames, those the stand-in's AWS returns.
func (dbInstanceManager) lateInitFields() []string {
	return []string{"autoMinorVersionUpgrade", "availabilityZone", "caCertificateIdentifier", "networkType",
		"preferredMaintenanceWindow", "promotionTier", "publiclyAccessible", "storageEncrypted"}
}

// compare: customPreCompare calls compareTags.
func (dbInstanceManager) compare(desired, latest *unstructured.Unstructured) []string {
	return withTagDelta(compareSpecs(desired, latest), desired, latest)
}

func (m dbInstanceManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, res, err := find(c, DBInstanceGVK.Kind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	setTagsFromAWS(ko, res)
	if statusOf(ko, "dbInstanceStatus") != RDSStatusAvailable {
		setCondition(ko, ConditionSynced, "False", nil, nil, c.s.now())
	}
	return ko, nil
}

func (m dbInstanceManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	res, err := c.s.aws.Create(c.key(DBInstanceGVK.Kind, desired, m.idField()), desired.Object["spec"].(map[string]any), "", withSpecTags(c.defaultTags(m.service()), desired.Object["spec"].(map[string]any)))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	// sdk_create_post_set_output sets the annotation for instances too: "" without a
	// masterUserPassword.
	setAnnotation(ko, AnnotationLastAppliedSecret, LastAppliedSecretReference(ko))
	if statusOf(ko, "dbInstanceStatus") == RDSStatusCreating {
		setCondition(ko, ConditionSynced, "False", nil, nil, c.s.now())
	}
	return ko, nil
}

// dbInstanceTerminalStatuses are hooks.go's TerminalStatuses, deleting apart (checked before).
var dbInstanceTerminalStatuses = []string{"deleted", "inaccessible-encryption-credentials-recoverable",
	"inaccessible-encryption-credentials", "incompatible-network", "incompatible-restore", "failed"}

var dbInstanceWaitWhileDeleting = &requeueNeededAfter{requeueNeeded: requeueNeeded{errors.New("DB instance in 'deleting' state, cannot be modified or deleted.")}, after: defaultRequeueAfter} //lint:ignore ST1005 rds-controller's text

func (m dbInstanceManager) sdkUpdate(ctx context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	now := c.s.now()
	res := desired.DeepCopy()
	res.Object["status"] = deepCopyValue(latest.Object["status"])
	status := statusOf(latest, "dbInstanceStatus")
	waitUntilCanModify := &requeueNeededAfter{requeueNeeded: requeueNeeded{fmt.Errorf("DB instance in '%s' state, cannot be modified until '%s'.", status, RDSStatusAvailable)}, after: defaultRequeueAfter} //lint:ignore ST1005 rds-controller's text
	switch {
	case status == RDSStatusDeleting:
		setCondition(res, ConditionSynced, "False", strPtr("DB instance is currently being deleted"), nil, now)
		return res, dbInstanceWaitWhileDeleting
	case status == RDSStatusCreating:
		setCondition(res, ConditionSynced, "False", strPtr("DB instance is currently being created"), nil, now)
		return res, waitUntilCanModify
	case slices.Contains(dbInstanceTerminalStatuses, status):
		setCondition(res, ConditionTerminal, "True", strPtr("DB instance is in '"+status+"' status"), nil, now)
		setCondition(res, ConditionSynced, "True", nil, nil, now)
		return res, nil
	case status != RDSStatusAvailable:
		setCondition(res, ConditionSynced, "False", strPtr("DB instance cannot be modifed while in '"+status+"' status"), nil, now)
		return res, waitUntilCanModify
	}
	// sdk_update_pre_build_request: syncTags, then ModifyDBInstance whatever the delta.
	if slices.Contains(delta, "tags") {
		if err := syncTags(c, m.service(), c.key(DBInstanceGVK.Kind, desired, m.idField()), desired); err != nil {
			return nil, err
		}
	}
	if _, err := c.s.aws.Modify(ctx, c.key(DBInstanceGVK.Kind, desired, m.idField()), changes(desired, delta), nil); err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	ko.Object["status"] = deepCopyValue(latest.Object["status"])
	setAnnotation(ko, AnnotationLastAppliedSecret, LastAppliedSecretReference(ko))
	setCondition(ko, ConditionSynced, "False", nil, nil, now)
	return ko, nil
}

func (m dbInstanceManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if statusOf(r, "dbInstanceStatus") == RDSStatusDeleting {
		return r, dbInstanceWaitWhileDeleting
	}
	p, err := deleteParams(r)
	if err != nil {
		return nil, err
	}
	return nil, c.s.aws.Delete(c.key(DBInstanceGVK.Kind, r, m.idField()), p)
}

// serverlessCacheManager: Synced from IsSynced (status available or create_failed),
// customUpdateServerlessCache modifies one group of fields per pass and always answers
// with a requeue, no late initialisation.
type serverlessCacheManager struct{}

func (serverlessCacheManager) service() string          { return "elasticache" }
func (serverlessCacheManager) idField() string          { return "serverlessCacheName" }
func (serverlessCacheManager) terminalCodes() []string  { return serverlessCacheTerminalCodes }
func (serverlessCacheManager) lateInitFields() []string { return nil }
func (serverlessCacheManager) isSynced(r *unstructured.Unstructured) bool {
	s := statusOf(r, "status")
	return s == CacheStatusAvailable || s == "create_failed"
}
func (serverlessCacheManager) compare(desired, latest *unstructured.Unstructured) []string {
	return withTagDelta(compareSpecs(desired, latest), desired, latest)
}

func (m serverlessCacheManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ko, res, err := find(c, ServerlessCacheGVK.Kind, m.idField(), r)
	if err != nil {
		return nil, err
	}
	setTagsFromAWS(ko, res)
	return ko, nil
}

func (m serverlessCacheManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	res, err := c.s.aws.Create(c.key(ServerlessCacheGVK.Kind, desired, m.idField()), desired.Object["spec"].(map[string]any), "", withSpecTags(c.defaultTags(m.service()), desired.Object["spec"].(map[string]any)))
	if err != nil {
		return nil, err
	}
	ko := desired.DeepCopy()
	setFromAWS(ko, res)
	setStatusDefaults(ko, c)
	return ko, nil
}

// The requeues of serverless_cache/hooks.go: 5s while deleting or creating, 10s while
// modifying.
func serverlessCacheWait(state string, after time.Duration) error {
	verb := "modified or deleted"
	if state == CacheStatusModifying {
		verb = "further modified"
	}
	return &requeueNeededAfter{requeueNeeded: requeueNeeded{fmt.Errorf("serverless cache in '%s' state, cannot be %s", state, verb)}, after: after}
}

// serverlessCacheFieldOrder is customUpdateServerlessCache's switch: one group per pass.
var serverlessCacheFieldOrder = [][]string{{"description"}, {"tags"}, {"dailySnapshotTime"}, {"snapshotRetentionLimit"},
	{"securityGroupIDs"}, {"userGroupID"}, {"cacheUsageLimits"}, {"engine", "majorEngineVersion"}}

// sdkUpdate is customUpdateServerlessCache.
func (m serverlessCacheManager) sdkUpdate(ctx context.Context, c *ackCall, desired, latest *unstructured.Unstructured, delta []string) (*unstructured.Unstructured, error) {
	now := c.s.now()
	switch statusOf(latest, "status") {
	case CacheStatusDeleting:
		setCondition(desired, ConditionSynced, "False", strPtr("serverless cache is currently being deleted"), nil, now)
		return desired, serverlessCacheWait(CacheStatusDeleting, 5*time.Second)
	case CacheStatusCreating:
		setCondition(desired, ConditionSynced, "False", strPtr("serverless cache is currently being created"), nil, now)
		return desired, serverlessCacheWait(CacheStatusCreating, 5*time.Second)
	case CacheStatusModifying:
		setCondition(desired, ConditionSynced, "False", strPtr("serverless cache is currently being modified"), nil, now)
		return desired, serverlessCacheWait(CacheStatusModifying, 10*time.Second)
	}
	ko := desired.DeepCopy()
	setStatusDefaults(ko, c)
	for _, group := range serverlessCacheFieldOrder {
		if !slices.ContainsFunc(group, func(f string) bool { return slices.Contains(delta, f) }) {
			continue
		}
		if group[0] == "tags" {
			// The tagging API leaves the cache available; the requeue below follows
			// all the same.
			if err := syncTags(c, m.service(), c.key(ServerlessCacheGVK.Kind, desired, m.idField()), desired); err != nil {
				return ko, err
			}
			break
		}
		if _, err := c.s.aws.Modify(ctx, c.key(ServerlessCacheGVK.Kind, desired, m.idField()), changes(desired, group), nil); err != nil {
			return nil, fmt.Errorf("cannot update serverless cache: %v", err)
		}
		break
	}
	return ko, serverlessCacheWait(CacheStatusModifying, 10*time.Second)
}

func (m serverlessCacheManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return nil, c.s.aws.Delete(c.key(ServerlessCacheGVK.Kind, r, m.idField()), DeleteParams{})
}
