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
	"testing"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// TestRDSStatusesFromTheGuide pins how each status of the Aurora User Guide's "DB cluster
// status" and "DB instance status" tables
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Status.html,
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Overview.DBInstance.Status.html)
// is read, for a cluster ACK reports Synced=False (not available) with an endpoint.
func TestRDSStatusesFromTheGuide(t *testing.T) {
	notSynced := cond(ackConditionSynced, "False")
	cases := map[string]struct {
		status      string
		ready       bool
		maintenance string
		reason      string
	}{
		"modifying serves":                                           {"modifying", true, "modifying", ""},
		"upgrading serves":                                           {"upgrading", true, "upgrading", ""},
		"backing-up serves":                                          {"backing-up", true, "backing-up", ""},
		"resetting-master-credentials serves":                        {"resetting-master-credentials", true, "resetting-master-credentials", ""},
		"maintenance serves":                                         {"maintenance", true, "maintenance", ""},
		"renaming serves":                                            {"renaming", true, "renaming", ""},
		"configuring-enhanced-monitoring serves":                     {"configuring-enhanced-monitoring", true, "configuring-enhanced-monitoring", ""},
		"configuring-iam-database-auth serves":                       {"configuring-iam-database-auth", true, "configuring-iam-database-auth", ""},
		"configuring-log-exports serves":                             {"configuring-log-exports", true, "configuring-log-exports", ""},
		"storage-optimization serves (the guide: fully operational)": {"storage-optimization", true, "storage-optimization", ""},
		"a status in upper case is the same":                         {"Modifying", true, "modifying", ""},
		"failed needs a human":                                       {"failed", false, "", shopv1alpha1.ReasonDatabaseFailed},
		"storage-full needs a human":                                 {"storage-full", false, "", shopv1alpha1.ReasonDatabaseFailed},
		"inaccessible-encryption-credentials":                        {"inaccessible-encryption-credentials", false, "", shopv1alpha1.ReasonEncryptionKeyInaccessible},
		"inaccessible-encryption-credentials-recoverable":            {"inaccessible-encryption-credentials-recoverable", false, "", shopv1alpha1.ReasonEncryptionKeyInaccessible},
		"incompatible-network":                                       {"incompatible-network", false, "", shopv1alpha1.ReasonDatabaseIncompatible},
		"incompatible-parameters":                                    {"incompatible-parameters", false, "", shopv1alpha1.ReasonDatabaseIncompatible},
		"incompatible-option-group":                                  {"incompatible-option-group", false, "", shopv1alpha1.ReasonDatabaseIncompatible},
		"incompatible-restore":                                       {"incompatible-restore", false, "", shopv1alpha1.ReasonDatabaseIncompatible},
		"stopped":                                                    {"stopped", false, "", shopv1alpha1.ReasonDatabaseStopped},
		"creating is provisioning":                                   {"creating", false, "", shopv1alpha1.ReasonProvisioning},
		"starting is provisioning, not maintenance":                  {"starting", false, "", shopv1alpha1.ReasonProvisioning},
		"rebooting is not serving":                                   {"rebooting", false, "", shopv1alpha1.ReasonProvisioning},
		"failing-over is not serving":                                {"failing-over", false, "", shopv1alpha1.ReasonProvisioning},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, kind := range []string{"DBCluster", "DBInstance"} {
				obj := ackWith(map[string]any{"status": tc.status, "conditions": []any{notSynced}})
				if kind == "DBInstance" {
					obj.SetGroupVersionKind(gvkDBInstance)
				}
				st := readACKState(obj, pathStatus, "db.example")
				if st.Ready != tc.ready || st.Maintenance != tc.maintenance || st.Reason != tc.reason {
					t.Errorf("%s: got %+v, want ready=%v maintenance=%q reason=%q", kind, st, tc.ready, tc.maintenance, tc.reason)
				}
			}
		})
	}

	// Terminal comes first, even in maintenance; a Recoverable retry in maintenance is
	// named but the database still serves.
	obj := ackWith(map[string]any{"status": "modifying", "conditions": []any{notSynced,
		cond(ackConditionTerminal, "True", "message", "api error InvalidParameterCombination: no")}})
	if st := readACKState(obj, pathStatus, "db.example"); st.Ready || st.Reason != shopv1alpha1.ReasonProvisioningFailed {
		t.Errorf("terminal in maintenance: got %+v", st)
	}
	obj = ackWith(map[string]any{"status": "modifying", "conditions": []any{notSynced,
		cond(ackConditionRecoverable, "True", "message", "DB cluster is not available for modification in 'modifying' status")}})
	if st := readACKState(obj, pathStatus, "db.example"); !st.Ready || st.Message != "DBCluster acme-database is modifying and serves meanwhile (ACK is retrying: DB cluster is not available for modification in 'modifying' status)" {
		t.Errorf("recoverable in maintenance: got %+v", st)
	}
	// Only RDS kinds: a user group modifying its members is not ready.
	obj = ackWith(map[string]any{"status": "modifying", "conditions": []any{notSynced}})
	obj.SetGroupVersionKind(gvkCacheUserGroup)
	if st := readACKState(obj, pathStatus, "x"); st.Ready {
		t.Errorf("a user group: got %+v", st)
	}
}
