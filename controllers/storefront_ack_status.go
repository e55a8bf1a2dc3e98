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

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The own statuses of DB clusters and DB instances, as the Aurora User Guide lists them:
// "DB cluster status" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Status.html)
// and "DB instance status" in "Viewing cluster status"
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Overview.DBInstance.Status.html).
// rds-controller says Synced=False whenever a cluster is not available (db_cluster/sdk.go
// sdkFind), so the operator reads the status itself.

// rdsMaintenanceStatuses are statuses in which the guide says the resource is being
// changed while it is billed as running: the database keeps serving on its endpoint
// (the shop's pods may see a brief reconnect), so DatabaseReady stays True with
// ReasonDatabaseMaintenance. Checked against the guide: modifying, upgrading,
// backing-up, resetting-master-credentials, maintenance, renaming (instances), the
// configuring-* family (configuring-enhanced-monitoring, configuring-iam-database-auth,
// configuring-log-exports; instances) and storage-optimization (instances: "fully
// operational"), which the issue's list lacked. Left out on purpose: creating,
// starting, stopping, rebooting, failing-over, deleting (no database to use, or one
// going away), and the failures of rdsStatusFailures.
var rdsMaintenanceStatuses = map[string]bool{
	"modifying":                    true,
	"upgrading":                    true,
	"backing-up":                   true,
	"resetting-master-credentials": true,
	"maintenance":                  true,
	"renaming":                     true,
	"storage-optimization":         true,
}

// rdsMaintenance reports whether status is one of rdsMaintenanceStatuses or configuring-*.
func rdsMaintenance(status string) bool {
	s := strings.ToLower(status)
	return rdsMaintenanceStatuses[s] || strings.HasPrefix(s, "configuring-")
}

// rdsFailure is a status that needs a human, with its reason and what to do.
type rdsFailure struct {
	reason, advice string
}

// rdsStatusFailures are the statuses of the guide that nothing the operator or ACK does
// will change. ACK never reports them as Terminal (customUpdate returns on "not
// available" first), so the operator reports them with reasons of their own.
var rdsStatusFailures = map[string]rdsFailure{
	"failed": {shopv1alpha1.ReasonDatabaseFailed,
		"; AWS could not recover it: restore it from a snapshot (see the Aurora User Guide)"},
	"storage-failure":  {shopv1alpha1.ReasonDatabaseFailed, ""},
	"storage-full":     {shopv1alpha1.ReasonDatabaseFailed, ""},
	"restore-error":    {shopv1alpha1.ReasonDatabaseFailed, ""},
	"cloning-failed":   {shopv1alpha1.ReasonDatabaseFailed, ""},
	"migration-failed": {shopv1alpha1.ReasonDatabaseFailed, ""},
	"inaccessible-encryption-credentials": {shopv1alpha1.ReasonEncryptionKeyInaccessible,
		"; the KMS key that encrypts it cannot be used: enable the key or restore its grants"},
	"inaccessible-encryption-credentials-recoverable": {shopv1alpha1.ReasonEncryptionKeyInaccessible,
		"; the KMS key that encrypts it cannot be used: enable the key within 7 days, or RDS will not recover it"},
	"stopped": {shopv1alpha1.ReasonDatabaseStopped,
		"; start it (aws rds start-db-cluster); RDS starts a stopped cluster by itself after 7 days"},
}

// rdsStatusFailure returns the reason and advice of a status that needs a human:
// rdsStatusFailures and the incompatible-* family (incompatible-network,
// incompatible-option-group, incompatible-parameters, incompatible-restore).
func rdsStatusFailure(status string) (reason, advice string, failed bool) {
	s := strings.ToLower(status)
	if f, ok := rdsStatusFailures[s]; ok {
		return f.reason, f.advice, true
	}
	if strings.HasPrefix(s, "incompatible-") {
		return shopv1alpha1.ReasonDatabaseIncompatible, "; RDS cannot start it with its current settings: see the Aurora User Guide for " + s, true
	}
	return "", "", false
}

// isRDSKind reports whether obj is a DB cluster or a DB instance.
func isRDSKind(obj *unstructured.Unstructured) bool {
	k := obj.GetKind()
	return obj.GroupVersionKind().Group == gvkDBCluster.Group && (k == gvkDBCluster.Kind || k == gvkDBInstance.Kind)
}
