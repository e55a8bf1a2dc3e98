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
	"net/url"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestParsePostgresURL(t *testing.T) {
	cases := map[string]urlCase{
		"a full URL":                          {"postgres://shop:pw@db.example:6432/shop?sslmode=require", "db.example", 6432, ""},
		"the postgresql scheme, default port": {"postgresql://shop:pw@db.example/shop", "db.example", 5432, ""},
		"an upper-case scheme":                {"POSTGRES://db.example/shop", "db.example", 5432, ""},
		"an IPv6 host":                        {"postgres://shop:pw@[fd00::1]:5433/shop", "fd00::1", 5433, ""},
		"an empty value":                      {"", "", 0, "empty"},
		"another scheme":                      {"mysql://shop:pw@db.example/shop", "", 0, `scheme "mysql"`},
		"no host":                             {"postgres:///shop", "", 0, "no host"},
		"a port out of range":                 {"postgres://shop:pw@db.example:70000/shop", "", 0, "invalid port"},
		"not a URL":                           {"host=db.example user=shop", "", 0, "not a postgres"},
		"an unparseable URL":                  {"postgres://shop:pw@db.example:port/shop", "", 0, "not a valid"},
	}
	checkURLParser(t, parsePostgresURL, cases)
}

// urlCase is a connection URL and what its parser must make of it: the host and port,
// or an error containing errorHas.
type urlCase struct {
	url      string
	host     string
	port     int32
	errorHas string
}

// checkURLParser runs parse on every case; an error must never show the password ("pw").
func checkURLParser(t *testing.T, parse func(string) (string, int32, error), cases map[string]urlCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			host, port, err := parse(tc.url)
			if tc.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errorHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errorHas)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("the error leaks the password: %v", err)
				}
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Errorf("got %q, %d, %v; want %q, %d", host, port, err, tc.host, tc.port)
			}
		})
	}
}

func TestEndpointFromSecret(t *testing.T) {
	ref := shopv1alpha1.SecretKeyRef{Name: "acme-db", Key: "url"}
	cases := map[string]struct {
		data       map[string][]byte
		wantReason string
		wantHost   string
	}{
		"a valid URL, whitespace trimmed": {map[string][]byte{"url": []byte(" postgres://u:p@db/shop\n")}, "", "db"},
		"the key is missing":              {map[string][]byte{"other": []byte("x")}, shopv1alpha1.ReasonConnectionSecretNotFound, ""},
		"the URL is invalid":              {map[string][]byte{"url": []byte("redis://db")}, shopv1alpha1.ReasonInvalidConnectionSecret, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ep, reason, msg, err := endpointFromSecret(&corev1.Secret{Data: tc.data}, ref, parsePostgresURL)
			if err != nil {
				t.Fatal(err)
			}
			if reason != tc.wantReason {
				t.Fatalf("reason %q, want %q (%s)", reason, tc.wantReason, msg)
			}
			if tc.wantReason != "" {
				if ep != nil || !strings.Contains(msg, "acme-db") || !strings.Contains(msg, "url") {
					t.Errorf("want no endpoint and a message naming the Secret and key, got %v, %q", ep, msg)
				}
				return
			}
			if ep.Host != tc.wantHost || ep.URL != "postgres://u:p@db/shop" {
				t.Errorf("endpoint %+v", ep)
			}
		})
	}
}

func auroraStorefront(change ...func(*shopv1alpha1.AuroraDatabase)) *shopv1alpha1.Storefront {
	sf := storefrontNamed("acme")
	sf.UID = "7a1c3e4f-0000-4000-8000-000000000001"
	a := &shopv1alpha1.AuroraDatabase{EngineVersion: "16.6", MinCapacity: "0.5", MaxCapacity: "8", DeletionPolicy: shopv1alpha1.DeletionPolicySnapshot}
	for _, c := range change {
		c(a)
	}
	sf.Spec.Database.Aurora = a
	return sf
}

func TestAuroraURL(t *testing.T) {
	cases := map[string]struct {
		password string
		ca       *shopv1alpha1.SecretKeyRef
		query    map[string]string
	}{
		"TLS required without a CA bundle": {"Abc123", nil, map[string]string{"sslmode": "require"}},
		"verify-full against the mounted bundle": {"Abc123", &shopv1alpha1.SecretKeyRef{Name: "rds-ca", Key: "ca.pem"},
			map[string]string{"sslmode": "verify-full", "sslrootcert": "/etc/storefront/database-ca/ca.pem"}},
		"a password that needs escaping": {`p@ss/w:rd?#%`, nil, map[string]string{"sslmode": "require"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			raw := auroraURL(dbMasterUsername, "db.cluster-x.eu-west-1.rds.amazonaws.com", 5432, tc.password, tc.ca)
			host, port, err := parsePostgresURL(raw)
			if err != nil || host != "db.cluster-x.eu-west-1.rds.amazonaws.com" || port != 5432 {
				t.Fatalf("the URL does not parse back: %q, %d, %v", host, port, err)
			}
			u, _ := url.Parse(raw)
			if pw, _ := u.User.Password(); pw != tc.password || u.User.Username() != "storefront" || u.Path != "/shop" {
				t.Errorf("user %q, password %q, path %q", u.User.Username(), pw, u.Path)
			}
			for k, v := range tc.query {
				if got := u.Query().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestDesiredAuroraObjects(t *testing.T) {
	sf := auroraStorefront()
	id := awsIdentifier("shops", "acme")
	pw := dbPassword{version: 2, secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-db-password-v2", Namespace: "shops"}}}
	cluster := desiredDBCluster(sf, testScheme, "eu-west-1", []string{"sg-1"}, pw)
	spec := cluster.Object["spec"].(map[string]any)
	want := map[string]any{
		"dbClusterIdentifier": id, "engine": "aurora-postgresql", "engineVersion": "16.6", "engineMode": "provisioned",
		"databaseName": "shop", "masterUsername": "storefront", "dbSubnetGroupName": id, "storageEncrypted": true,
		// RDS's default, said: DescribeDBClusters returns it, and a restored cluster
		// stores nothing of RDS's answer (test/fake TestGoldenRestoreStoresNoSpecFromAWS).
		"autoMinorVersionUpgrade": true,
	}
	for k, v := range want {
		if spec[k] != v {
			t.Errorf("spec.%s = %v, want %v", k, spec[k], v)
		}
	}
	scaling := spec["serverlessV2ScalingConfiguration"].(map[string]any)
	if scaling["minCapacity"] != 0.5 || scaling["maxCapacity"] != 8.0 {
		t.Errorf("scaling %v", scaling)
	}
	if ref := spec["masterUserPassword"].(map[string]any); ref["namespace"] != "shops" || ref["name"] != "acme-db-password-v2" || ref["key"] != "password" {
		t.Errorf("masterUserPassword %v", ref)
	}
	if cluster.GetName() != "acme-database" || cluster.GetAnnotations()[ackAnnotationRegion] != "eu-west-1" || !metav1.IsControlledBy(cluster, sf) {
		t.Errorf("metadata %s %v %v", cluster.GetName(), cluster.GetAnnotations(), cluster.GetOwnerReferences())
	}
	if _, set := desiredDBCluster(sf, testScheme, "", nil, pw).Object["spec"].(map[string]any)["vpcSecurityGroupIDs"]; set {
		t.Error("no security groups: AWS's default, not an empty list")
	}
	if _, set := desiredDBCluster(sf, testScheme, "", nil, pw).GetAnnotations()[ackAnnotationRegion]; set {
		t.Error("no region: ACK's default, not an empty annotation")
	}
	instance := desiredDBInstance(sf, testScheme, "")
	if s := instance.Object["spec"].(map[string]any); s["dbInstanceClass"] != "db.serverless" || s["dbClusterIdentifier"] != id || s["dbInstanceIdentifier"] != id {
		t.Errorf("instance spec %v", s)
	}
	group := desiredDBSubnetGroup(sf, testScheme, "", []string{"subnet-1", "subnet-2"})
	if s := group.Object["spec"].(map[string]any); s["name"] != id || len(s["subnetIDs"].([]any)) != 2 {
		t.Errorf("subnet group spec %v", s)
	}
}

func TestDeletionAnnotations(t *testing.T) {
	cases := map[string]struct {
		policy              shopv1alpha1.DeletionPolicy
		ackPolicy, skip     string
		snapshot, keepsPass bool
	}{
		"Snapshot by default":               {"", "delete", "false", true, true},
		"Snapshot":                          {shopv1alpha1.DeletionPolicySnapshot, "delete", "false", true, true},
		"Retain asks for a snapshot anyway": {shopv1alpha1.DeletionPolicyRetain, "retain", "false", true, true},
		"Delete skips it":                   {shopv1alpha1.DeletionPolicyDelete, "delete", "true", false, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sf := auroraStorefront(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = tc.policy })
			for _, gvk := range []schema.GroupVersionKind{gvkDBSubnetGroup, gvkDBCluster, gvkDBInstance} {
				if got := ackAnnotations(sf, gvk, "")[ackAnnotationDeletionPolicy]; got != tc.ackPolicy {
					t.Errorf("%s deletion policy %q, want %q", gvk.Kind, got, tc.ackPolicy)
				}
			}
			if got := ackAnnotations(sf, gvkServerlessCache, "")[ackAnnotationDeletionPolicy]; got != "delete" {
				t.Errorf("the cache holds only cached data and always goes, got %q", got)
			}
			a := dbClusterSnapshotAnnotations(sf)
			if a[rdsAnnotationSkipFinalSnapshot] != tc.skip {
				t.Errorf("skip-final-snapshot %q, want %q", a[rdsAnnotationSkipFinalSnapshot], tc.skip)
			}
			if id, set := a[rdsAnnotationFinalSnapshotID]; set != tc.snapshot || (set && id != finalSnapshotIdentifier(sf)) {
				t.Errorf("final snapshot identifier %q (set %v)", id, set)
			}
			if keepsDatabase(sf) != tc.keepsPass {
				t.Errorf("keepsDatabase %v", keepsDatabase(sf))
			}
		})
	}
	a, b := auroraStorefront(), auroraStorefront()
	b.UID = "7a1c3e4f-0000-4000-8000-000000000002"
	if finalSnapshotIdentifier(a) == finalSnapshotIdentifier(b) {
		t.Error("a Storefront made again under the same name reuses the final snapshot identifier")
	}
	if id := finalSnapshotIdentifier(a); !regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`).MatchString(id) || len(id) > 255 {
		t.Errorf("%q is not a valid snapshot identifier", id)
	}
}

func TestDBClusterEngineVersion(t *testing.T) {
	pw := dbPassword{version: 1, secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-db-password-v1", Namespace: "shops"}}}
	tests := map[string]struct {
		version string
		// live is the spec.engineVersion ACK writes back (AWS's version).
		live string
		// wantApplied is what the operator applies ("" = the field is left out).
		wantApplied string
	}{
		"empty is left out and ACK's late-initialised version is kept": {version: "", live: "16.6"},
		"a full version is passed as given":                            {version: "16.6", live: "16.6", wantApplied: "16.6"},
		"a major-only version is passed as given":                      {version: "16", live: "16.8", wantApplied: "16"},
		"an automatic minor upgrade by AWS is kept":                    {version: "16.6", live: "16.9", wantApplied: "16.6"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sf := auroraStorefront(func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = tc.version })
			want, err := applyContent(desiredDBCluster(sf, testScheme, "eu-west-1", nil, pw), testScheme)
			if err != nil {
				t.Fatal(err)
			}
			got, found, _ := unstructured.NestedString(want.Object, "spec", "engineVersion")
			if got != tc.wantApplied || found != (tc.wantApplied != "") {
				t.Fatalf("applied spec.engineVersion = %q (present %v), want %q", got, found, tc.wantApplied)
			}
			// The live object as ACK leaves it: our content plus AWS's version, written
			// by ACK's field manager. Comparing it as applyObjectAdopting does must find
			// nothing to write.
			live := want.DeepCopy()
			if err := unstructured.SetNestedField(live.Object, tc.live, "spec", "engineVersion"); err != nil {
				t.Fatal(err)
			}
			adoptACKWriteBacks(want, live)
			if field := isSubset(want.Object, live.Object, ""); field != "" {
				t.Errorf("the operator would rewrite %s of a DBCluster at engine version %s", field, tc.live)
			}
		})
	}
	t.Run("an older version than asked for is corrected", func(t *testing.T) {
		// The comparison must be able to find a difference, or the cases above prove nothing.
		sf := auroraStorefront(func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = "16.6" })
		want, _ := applyContent(desiredDBCluster(sf, testScheme, "eu-west-1", nil, pw), testScheme)
		live := want.DeepCopy()
		_ = unstructured.SetNestedField(live.Object, "16.4", "spec", "engineVersion")
		adoptACKWriteBacks(want, live)
		if isSubset(want.Object, live.Object, "") == "" {
			t.Error("a live 16.4 satisfies a wanted 16.6")
		}
	})
}

// A Storefront without engineVersion: the DBCluster is created without one, ACK writes
// back the version Aurora chose, and the operator keeps it - nothing is written at rest.
func TestDefaultEngineVersionIsAuroras(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.EngineVersion = "" })))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	cluster := ackObject(g, ns, gvkDBCluster, "acme-database")
	version, _, _ := unstructured.NestedString(cluster.Object, "spec", "engineVersion")
	g.Expect(version).To(Equal(fake.DefaultAuroraPostgresVersion), "ACK's late-initialised version")
	g.Expect(appliedSpecFields(g, cluster)).NotTo(ContainElement("engineVersion"), "the operator must not own the version it never set")
	reconcileAtRest(g, op, ns)
}
