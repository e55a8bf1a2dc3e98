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
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// ackWith is an ACK object of kind DBCluster named acme-database with the given status.
func ackWith(status map[string]any) *unstructured.Unstructured {
	u := newACKObject(gvkDBCluster)
	u.SetName("acme-database")
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func cond(t, status string, kv ...string) map[string]any {
	c := map[string]any{"type": t, "status": status}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i]] = kv[i+1]
	}
	return c
}

func TestReadACKState(t *testing.T) {
	synced := cond(ackConditionSynced, "True")
	cases := map[string]struct {
		status     map[string]any
		statusPath []string
		endpoint   string
		ready      bool
		reason     string
		message    string
	}{
		"no status yet": {nil, pathStatus, "", false, shopv1alpha1.ReasonProvisioning, "waiting for ACK to create it"},
		"creating, not synced": {map[string]any{"status": "creating", "conditions": []any{cond(ackConditionSynced, "False")}},
			pathStatus, "db.example", false, shopv1alpha1.ReasonProvisioning, "status creating, not synced yet"},
		"not synced, with ACK's message": {map[string]any{"conditions": []any{cond(ackConditionSynced, "False", "message", "Resource not synced")}},
			pathStatus, "", false, shopv1alpha1.ReasonProvisioning, "(ACK: Resource not synced)"},
		"synced but failed, an RDS status that needs a human": {map[string]any{"status": "failed", "conditions": []any{synced}},
			pathStatus, "db.example", false, shopv1alpha1.ReasonDatabaseFailed, "DBCluster acme-database: AWS reports status failed; "},
		"synced and available in upper case": {map[string]any{"status": "Available", "conditions": []any{synced}},
			pathStatus, "db.example", true, "", "is available"},
		"synced, available, no endpoint": {map[string]any{"status": "available", "conditions": []any{synced}},
			pathStatus, "", false, shopv1alpha1.ReasonProvisioning, "waiting for its endpoint"},
		"synced, modifying, with an endpoint: it serves": {map[string]any{"status": "modifying", "conditions": []any{synced}},
			pathStatus, "db.example", true, "", "DBCluster acme-database is modifying and serves meanwhile"},
		"modifying without an endpoint": {map[string]any{"status": "modifying", "conditions": []any{cond(ackConditionSynced, "False")}},
			pathStatus, "", false, shopv1alpha1.ReasonProvisioning, "status modifying, not synced yet"},
		"terminal, message verbatim": {map[string]any{"status": "available", "conditions": []any{
			cond(ackConditionTerminal, "True", "message", "api error InvalidParameterValue: bad"), synced}},
			pathStatus, "db.example", false, shopv1alpha1.ReasonProvisioningFailed, "DBCluster acme-database: ACK: api error InvalidParameterValue: bad"},
		"terminal with its text in the reason": {map[string]any{"conditions": []any{cond(ackConditionTerminal, "True", "reason", "kubernetes secret not found")}},
			pathStatus, "", false, shopv1alpha1.ReasonProvisioningFailed, "ACK: kubernetes secret not found"},
		"recoverable": {map[string]any{"conditions": []any{cond(ackConditionRecoverable, "True", "message", "ThrottlingException"),
			cond(ackConditionSynced, "False")}}, pathStatus, "", false, shopv1alpha1.ReasonProvisioningRetrying, "ACK is retrying: ThrottlingException"},
		"synced unknown: ACK retries an error (runtime ensureConditions)": {map[string]any{"status": "available", "conditions": []any{
			cond(ackConditionSynced, "Unknown", "reason", "adopted resource, requeuing to check for updates",
				"message", "Unable to determine if desired resource state matches latest observed state")}},
			pathStatus, "x", false, shopv1alpha1.ReasonProvisioningRetrying, "ACK is retrying: adopted resource, requeuing to check for updates"},
		"terminal beside the read's Synced=True of an available cluster": {map[string]any{"status": "available", "endpoint": "x", "conditions": []any{
			synced, cond(ackConditionTerminal, "True", "message", "api error InvalidParameterCombination: no")}},
			pathStatus, "x", false, shopv1alpha1.ReasonProvisioningFailed, "ACK: api error InvalidParameterCombination: no"},
		"terminal wins over recoverable": {map[string]any{"conditions": []any{cond(ackConditionRecoverable, "True", "message", "later"),
			cond(ackConditionTerminal, "True", "message", "never")}}, pathStatus, "", false, shopv1alpha1.ReasonProvisioningFailed, "ACK: never"},
		"a cleared terminal condition": {map[string]any{"status": "available", "conditions": []any{cond(ackConditionTerminal, "False"), synced}},
			pathStatus, "db.example", true, "", ""},
		"a kind without status or endpoint, synced": {map[string]any{"conditions": []any{synced}}, nil, noEndpoint, true, "", ""},
		"an ElastiCache user or group, active": {map[string]any{"status": "active", "conditions": []any{synced}},
			pathStatus, noEndpoint, true, "", ""},
		"an ElastiCache user group, modifying": {map[string]any{"status": "modifying", "conditions": []any{cond(ackConditionSynced, "False")}},
			pathStatus, noEndpoint, false, shopv1alpha1.ReasonProvisioning, "status modifying, not synced yet"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := ackWith(tc.status)
			if strings.HasPrefix(name, "an ElastiCache") {
				obj.SetGroupVersionKind(gvkCacheUserGroup)
			}
			st := readACKState(obj, tc.statusPath, tc.endpoint)
			if st.Ready != tc.ready || st.Reason != tc.reason || !strings.Contains(st.Message, tc.message) {
				t.Errorf("got %+v, want ready=%v reason=%q message containing %q", st, tc.ready, tc.reason, tc.message)
			}
		})
	}
}

func TestAdoptACKWriteBacks(t *testing.T) {
	spec := func(kv ...any) *unstructured.Unstructured {
		u := newACKObject(gvkDBCluster)
		s := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			s[kv[i].(string)] = kv[i+1]
		}
		u.Object["spec"] = s
		return u
	}
	ids := func(s ...string) []any { return stringsToAny(s) }
	cases := map[string]struct {
		want, live *unstructured.Unstructured
		field      string
		adopted    any
	}{
		"the same IDs in AWS's order are adopted": {spec("vpcSecurityGroupIDs", ids("sg-a", "sg-b")), spec("vpcSecurityGroupIDs", ids("sg-b", "sg-a")),
			"vpcSecurityGroupIDs", ids("sg-b", "sg-a")},
		"other IDs are not": {spec("subnetIDs", ids("subnet-a", "subnet-b")), spec("subnetIDs", ids("subnet-a", "subnet-c")),
			"subnetIDs", ids("subnet-a", "subnet-b")},
		"a removed ID is not": {spec("securityGroupIDs", ids("sg-a")), spec("securityGroupIDs", ids("sg-a", "sg-b")),
			"securityGroupIDs", ids("sg-a")},
		"a later minor engine version is adopted": {spec("engineVersion", "16.6"), spec("engineVersion", "16.8"), "engineVersion", "16.8"},
		"a new major version is asked for":        {spec("engineVersion", "16.6"), spec("engineVersion", "15.9"), "engineVersion", "16.6"},
		"an upgrade to a new major is applied":    {spec("engineVersion", "17.2"), spec("engineVersion", "16.8"), "engineVersion", "17.2"},
		"an older minor version is corrected":     {spec("engineVersion", "16.6"), spec("engineVersion", "16.4"), "engineVersion", "16.6"},
		"a field the live object lacks":           {spec("engineVersion", "16.6"), spec(), "engineVersion", "16.6"},
		"a user group's members in AWS's order":   {spec("userIDs", ids("u-default", "u-v1")), spec("userIDs", ids("u-v1", "u-default")), "userIDs", ids("u-v1", "u-default")},
		"the access string ElastiCache expanded, as asked": {spec("accessString", "on ~shop:* -@all +get"),
			withStatus(spec("accessString", "on ~shop:* resetchannels -@all +get"), "lastRequestedAccessString", "on ~shop:* -@all +get"),
			"accessString", "on ~shop:* resetchannels -@all +get"},
		"a new access string is applied": {spec("accessString", "on ~shop:* -@all +get +set"),
			withStatus(spec("accessString", "on ~shop:* resetchannels -@all +get"), "lastRequestedAccessString", "on ~shop:* -@all +get"),
			"accessString", "on ~shop:* -@all +get +set"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			adoptACKWriteBacks(tc.want, tc.live)
			got, _, _ := unstructured.NestedFieldCopy(tc.want.Object, "spec", tc.field)
			if asJSONString(got) != asJSONString(tc.adopted) {
				t.Errorf("%s = %v, want %v", tc.field, got, tc.adopted)
			}
		})
	}
}

func withStatus(u *unstructured.Unstructured, field, value string) *unstructured.Unstructured {
	_ = unstructured.SetNestedField(u.Object, value, "status", field)
	return u
}

func asJSONString(v any) string {
	var b strings.Builder
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			b.WriteString(e.(string) + ",")
		}
	case []string:
		for _, e := range x {
			b.WriteString(e + ",")
		}
	case string:
		b.WriteString(x)
	}
	return b.String()
}

func TestMinorUpgradeOf(t *testing.T) {
	cases := map[string]struct {
		have, want string
		ok         bool
	}{
		"the same version":           {"16.6", "16.6", true},
		"a later minor version":      {"16.8", "16.6", true},
		"a later patch version":      {"16.6.1", "16.6", true},
		"a minor version above nine": {"16.10", "16.9", true},
		"an earlier minor version":   {"16.4", "16.6", false},
		"another major version":      {"17.1", "16.6", false},
		"not a version":              {"latest", "16.6", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := minorUpgradeOf(tc.have, tc.want); got != tc.ok {
				t.Errorf("minorUpgradeOf(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
			}
		})
	}
}

func TestSyncedAfter(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	at := func(status string, ts time.Time) *unstructured.Unstructured {
		return ackWith(map[string]any{"conditions": []any{cond(ackConditionSynced, status, "lastTransitionTime", ts.Format(time.RFC3339))}})
	}
	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want bool
	}{
		"synced a second later":           {at("True", t0.Add(time.Second)), true},
		"synced in the same second":       {at("True", t0.Add(300*time.Millisecond)), false},
		"synced before":                   {at("True", t0.Add(-time.Minute)), false},
		"not synced, later":               {at("False", t0.Add(time.Minute)), false},
		"no condition":                    {ackWith(nil), false},
		"a synced condition with no time": {ackWith(map[string]any{"conditions": []any{cond(ackConditionSynced, "True")}}), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := syncedAfter(tc.obj, t0); got != tc.want {
				t.Errorf("syncedAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestACKFinalizerAndMessages(t *testing.T) {
	if got := ackFinalizer(gvkDBCluster); got != "finalizers.rds.services.k8s.aws/DBCluster" {
		t.Errorf("finalizer %q", got)
	}
	if got := ackFinalizer(gvkServerlessCache); got != "finalizers.elasticache.services.k8s.aws/ServerlessCache" {
		t.Errorf("finalizer %q", got)
	}
	msg := ackNotInstalledMessage(gvkServerlessCache)
	for _, want := range []string{"ServerlessCache", "elasticache.services.k8s.aws/v1alpha1", "elasticache-controller"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not name %s", msg, want)
		}
	}
}

func TestServedACKKinds(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range []schema.GroupVersionKind{gvkDBSubnetGroup, gvkDBCluster, gvkDBInstance} {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	served := servedACKKinds(mapper)
	for gvk, want := range map[schema.GroupVersionKind]bool{gvkDBCluster: true, gvkDBInstance: true, gvkDBSubnetGroup: true, gvkServerlessCache: false} {
		if served[gvk] != want {
			t.Errorf("%s served = %v, want %v", gvk.Kind, served[gvk], want)
		}
	}
	r := &StorefrontReconciler{ACKInstalled: served}
	if r.ackKindInstalled(gvkServerlessCache) || !r.ackKindInstalled(gvkDBCluster) {
		t.Error("ackKindInstalled does not follow what was served at start-up")
	}
}
