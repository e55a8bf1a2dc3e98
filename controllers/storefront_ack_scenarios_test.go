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
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

// ackOptions are the operator's AWS flags in the ACK scenarios.
var ackOptions = Options{
	AWSRegion:             "eu-central-1",
	DBSubnetIDs:           []string{"subnet-0aaa", "subnet-0bbb"},
	DBSecurityGroupIDs:    []string{"sg-0db1", "sg-0db2"},
	CacheSubnetIDs:        []string{"subnet-0ccc", "subnet-0ddd"},
	CacheSecurityGroupIDs: []string{"sg-0cache"},
}

// withAurora puts the Storefront on Aurora (policy Snapshot, the default), changed by
// change.
func withAurora(change ...func(*shopv1alpha1.AuroraDatabase)) storefrontOption {
	return func(sf *shopv1alpha1.Storefront) {
		a := &shopv1alpha1.AuroraDatabase{EngineVersion: "16.6", MinCapacity: "0.5", MaxCapacity: "4",
			DeletionPolicy: shopv1alpha1.DeletionPolicySnapshot}
		for _, c := range change {
			c(a)
		}
		sf.Spec.Database = shopv1alpha1.DatabaseSpec{Aurora: a}
	}
}

func withServerlessCache() storefrontOption {
	return func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Cache = &shopv1alpha1.CacheSpec{Serverless: &shopv1alpha1.ServerlessCache{MaxDataStorageGB: 10, MaxECPUPerSecond: 10000}}
	}
}

// ackObject reads an ACK object of ns fresh from the API server.
func ackObject(g Gomega, ns string, gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	u := newACKObject(gvk)
	g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	return u
}

// ackAbsent reports whether the ACK object is gone.
func ackAbsent(ns string, gvk schema.GroupVersionKind, name string) bool {
	return apierrors.IsNotFound(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, newACKObject(gvk)))
}

// appliedSpecFields are the top-level spec fields the operator's field manager owns.
func appliedSpecFields(g Gomega, u *unstructured.Unstructured) []string {
	var fields []string
	for _, mf := range u.GetManagedFields() {
		if mf.Manager != fieldOwner || mf.Operation != metav1.ManagedFieldsOperationApply || mf.FieldsV1 == nil {
			continue
		}
		var tree map[string]map[string]any
		g.Expect(json.Unmarshal(mf.FieldsV1.GetRawBytes(), &tree)).To(Succeed())
		for k := range tree["f:spec"] {
			fields = append(fields, k[len("f:"):])
		}
	}
	sort.Strings(fields)
	return fields
}

// specSubset is the object's spec restricted to keys.
func specSubset(u *unstructured.Unstructured, keys []string) map[string]any {
	spec, _ := u.Object["spec"].(map[string]any)
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := spec[k]; ok {
			out[k] = v
		}
	}
	return out
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// asJSON makes numbers and lists comparable whichever way they were decoded.
func asJSON(g Gomega, v any) string {
	b, err := json.Marshal(v)
	g.Expect(err).NotTo(HaveOccurred())
	var back any
	g.Expect(json.Unmarshal(b, &back)).To(Succeed())
	b, _ = json.Marshal(back)
	return string(b)
}

// passwordOf reads version v of the Storefront's master password.
func passwordOf(g Gomega, ns string, v int) string {
	s := get(g, ns, passwordSecretName(newStorefront(ns), v), &corev1.Secret{})
	return string(s.Data[keyDBPassword])
}

// ACK scenario 1: an Aurora + ElastiCache Serverless Storefront gets its four ACK
// objects with exactly the fields the operator owns, ACK's write-backs left alone, and
// becomes Ready with TLS URLs built from ACK's status.
func TestAuroraAndServerlessCacheBecomeReady(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")
	g.Expect(id).To(MatchRegexp(`^sf-[a-z0-9-]+-[0-9a-f]{8}$`))

	password := get(g, ns, "acme-db-password-v1", &corev1.Secret{})
	g.Expect(string(password.Data[keyDBPassword])).To(MatchRegexp(`^[A-Za-z0-9]{32}$`))
	g.Expect(password.Type).To(Equal(corev1.SecretTypeOpaque))
	g.Expect(password.OwnerReferences).To(BeEmpty(), "under Snapshot the password outlives the Storefront")
	g.Expect(password.Labels).To(HaveKeyWithValue(labelInstance, "acme"))

	// Every AWS resource carries the cost allocation tags (issue 23).
	tags := []any{map[string]any{"key": "storefront.dev/namespace", "value": ns}, map[string]any{"key": "storefront.dev/name", "value": "acme"}}
	cases := map[string]struct {
		gvk         schema.GroupVersionKind
		name        string
		spec        map[string]any
		annotations map[string]string
	}{
		"the DB subnet group": {gvkDBSubnetGroup, "acme-database", map[string]any{
			"name": id, "description": "Storefront " + ns + "/acme", "subnetIDs": []string{"subnet-0aaa", "subnet-0bbb"}, "tags": tags,
		}, map[string]string{ackAnnotationRegion: "eu-central-1", ackAnnotationDeletionPolicy: "delete"}},
		"the DB cluster": {gvkDBCluster, "acme-database", map[string]any{
			"dbClusterIdentifier": id, "engine": "aurora-postgresql", "engineVersion": "16.6", "engineMode": "provisioned", "tags": tags,
			"serverlessV2ScalingConfiguration": map[string]any{"minCapacity": 0.5, "maxCapacity": 4},
			"databaseName":                     "shop", "masterUsername": "storefront",
			"masterUserPassword": map[string]any{"namespace": ns, "name": "acme-db-password-v1", "key": "password"},
			"dbSubnetGroupName":  id, "vpcSecurityGroupIDs": []string{"sg-0db1", "sg-0db2"}, "storageEncrypted": true,
			"deletionProtection": true, "autoMinorVersionUpgrade": true,
		}, map[string]string{ackAnnotationRegion: "eu-central-1", ackAnnotationDeletionPolicy: "delete",
			rdsAnnotationSkipFinalSnapshot: "false", rdsAnnotationFinalSnapshotID: id + "-final-" + shortHash(string(sf.UID))}},
		"the DB instance": {gvkDBInstance, "acme-database", map[string]any{
			"dbInstanceIdentifier": id, "dbInstanceClass": "db.serverless", "engine": "aurora-postgresql", "dbClusterIdentifier": id, "tags": tags,
		}, map[string]string{ackAnnotationRegion: "eu-central-1", ackAnnotationDeletionPolicy: "delete", rdsAnnotationSkipFinalSnapshot: "true"}},
		"the serverless cache": {gvkServerlessCache, "acme-cache", map[string]any{
			"serverlessCacheName": id, "description": "Storefront " + ns + "/acme", "engine": "valkey", "majorEngineVersion": "8",
			"cacheUsageLimits": map[string]any{"dataStorage": map[string]any{"maximum": 10, "unit": "GB"}, "eCPUPerSecond": map[string]any{"maximum": 10000}},
			"subnetIDs":        []string{"subnet-0ccc", "subnet-0ddd"}, "securityGroupIDs": []string{"sg-0cache"}, "userGroupID": id, "tags": tags,
		}, map[string]string{ackAnnotationRegion: "eu-central-1", ackAnnotationDeletionPolicy: "delete"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			u := ackObject(g, ns, tc.gvk, tc.name)
			// The operator owns exactly its fields, but for ID lists ACK wrote back in
			// AWS's order: an update takes their ownership, and the operator leaves them.
			owned := appliedSpecFields(g, u)
			g.Expect(tc.spec).To(HaveEach(Not(BeNil())))
			for _, f := range owned {
				g.Expect(tc.spec).To(HaveKey(f), "the operator owns %s", f)
			}
			for _, f := range keysOf(tc.spec) {
				if !slices.Contains(owned, f) {
					g.Expect(f).To(BeElementOf("subnetIDs", "vpcSecurityGroupIDs", "securityGroupIDs"), "the operator lost %s", f)
				}
			}
			got := specSubset(u, keysOf(tc.spec))
			for _, ids := range []string{"subnetIDs", "vpcSecurityGroupIDs", "securityGroupIDs"} {
				// ACK writes these back in AWS's order; the set is what counts.
				if l, ok := got[ids].([]any); ok {
					sorted := append([]any(nil), l...)
					sort.Slice(sorted, func(i, j int) bool { return sorted[i].(string) < sorted[j].(string) })
					got[ids] = sorted
				}
			}
			g.Expect(asJSON(g, got)).To(MatchJSON(asJSON(g, tc.spec)))
			for k, v := range tc.annotations {
				g.Expect(u.GetAnnotations()).To(HaveKeyWithValue(k, v))
			}
			g.Expect(metav1.IsControlledBy(u, sf)).To(BeTrue())
			g.Expect(u.GetLabels()).To(HaveKeyWithValue(labelManagedBy, fieldOwner))
			g.Expect(u.GetFinalizers()).To(ContainElement(ackFinalizer(tc.gvk)), "ACK manages it")
		})
	}

	cluster := ackObject(g, ns, gvkDBCluster, "acme-database")
	g.Expect(cluster.GetAnnotations()).To(HaveKeyWithValue(rdsAnnotationLastAppliedSecret, ns+"/acme-db-password-v1.password"))
	g.Expect(cluster.Object["spec"]).To(HaveKey("port"), "ACK's write-backs are kept, not fought")
	host, _, _ := unstructured.NestedString(cluster.Object, "status", "endpoint")
	cache := ackObject(g, ns, gvkServerlessCache, "acme-cache")
	cacheHost, _, _ := unstructured.NestedString(cache.Object, "status", "endpoint", "address")

	// The shop logs in as the application role app_a; only the migrations as the
	// master user.
	appPassword := get(g, ns, "acme-db-app-a-v1", &corev1.Secret{})
	g.Expect(string(appPassword.Data[keyDBPassword])).To(MatchRegexp(`^[A-Za-z0-9]{32}$`))
	conn := get(g, ns, "acme-connection", &corev1.Secret{})
	master := get(g, ns, "acme-migrate-connection", &corev1.Secret{})
	for _, c := range []struct {
		secret         *corev1.Secret
		user, password string
	}{{conn, "app_a", string(appPassword.Data[keyDBPassword])}, {master, "storefront", string(password.Data[keyDBPassword])}} {
		u, err := url.Parse(string(c.secret.Data[keyDatabaseURL]))
		g.Expect(err).NotTo(HaveOccurred())
		pw, _ := u.User.Password()
		g.Expect(u.Scheme).To(Equal("postgres"))
		g.Expect(u.User.Username()).To(Equal(c.user), c.secret.Name)
		g.Expect(pw).To(Equal(c.password), c.secret.Name)
		g.Expect(u.Host).To(Equal(host + ":5432"))
		g.Expect(u.Path).To(Equal("/shop"))
		g.Expect(u.Query().Get("sslmode")).To(Equal("require"))
	}
	cachePassword := get(g, ns, "acme-cache-password-v1", &corev1.Secret{})
	g.Expect(string(conn.Data[keyRedisURL])).To(Equal("rediss://" + id + "-v1:" + string(cachePassword.Data[keyDBPassword]) + "@" + cacheHost + ":6379"))
	g.Expect(master.Data).To(HaveLen(1), "the master URL only")

	g.Expect(sf.Status.Database).To(Equal(&shopv1alpha1.EndpointStatus{Endpoint: host, Port: 5432, ClusterIdentifier: awsIdentifier(ns, "acme")}))
	g.Expect(sf.Status.Cache).To(Equal(&shopv1alpha1.EndpointStatus{Endpoint: cacheHost, Port: 6379}))
	g.Expect(condition(sf, shopv1alpha1.ConditionDatabaseReady).Reason).To(Equal(shopv1alpha1.ReasonDatabaseAvailable))
	g.Expect(condition(sf, shopv1alpha1.ConditionCacheReady).Reason).To(Equal(shopv1alpha1.ReasonCacheAvailable))
	g.Expect(egressTCPPorts(get(g, ns, "acme-shop", &networkingv1.NetworkPolicy{}))).To(ConsistOf(int32(5432), int32(6379), int32(53)))
	g.Expect(deployment(g, ns).Spec.Template.Spec.Volumes).To(HaveLen(1), "no CA bundle, no CA volume")

	// The database and the cache were Provisioning together: each has its own Event
	// with its own note. client-go merges Events of the same type, reason and action into
	// a series that keeps the first note (tools/events, getKey and recordToSink), so
	// with one action for every condition the cache's was folded into the database's.
	g.Eventually(func(g Gomega) {
		g.Expect(storefrontEvents(g, ns)).To(ContainElements(
			HavePrefix("Normal "+shopv1alpha1.ReasonProvisioning+": DatabaseReady=False: "),
			HavePrefix("Normal "+shopv1alpha1.ReasonProvisioning+": CacheReady=False: ")))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// ACK scenario 1b: with caBundleSecretRef the URL verifies the server against the
// mounted bundle; a missing bundle Secret is reported and nothing starts.
func TestAuroraWithCABundleVerifiesTheServer(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) {
		a.CABundleSecretRef = &shopv1alpha1.SecretKeyRef{Name: "rds-ca", Key: "ca.pem"}
	})))
	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonConnectionSecretNotFound))
		g.Expect(c.Message).To(ContainSubstring("rds-ca"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(migrationJobs(g, ns)).To(BeEmpty())

	ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rds-ca", Namespace: ns, Labels: map[string]string{WatchLabel: "true"}}, StringData: map[string]string{"ca.pem": "-----BEGIN CERTIFICATE-----\n"}}
	g.Expect(k8sClient.Create(context.Background(), ca)).To(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	u, err := url.Parse(string(get(g, ns, "acme-connection", &corev1.Secret{}).Data[keyDatabaseURL]))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.Query().Get("sslmode")).To(Equal("verify-full"))
	g.Expect(u.Query().Get("sslrootcert")).To(Equal("/etc/storefront/database-ca/ca.pem"))
	pod := deployment(g, ns).Spec.Template.Spec
	g.Expect(pod.Containers[0].VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: "database-ca", MountPath: "/etc/storefront/database-ca", ReadOnly: true}))
	g.Expect(pod.Volumes).To(ContainElement(HaveField("Secret.SecretName", "rds-ca")))
}

// ACK scenario 2: a cluster RDS reports failed is not ready: the condition says why,
// the phase is Degraded, nothing starts; when RDS recovers, so does the Storefront. (ACK
// reports it Synced=False, from rds-controller's read hook: a cluster that is not
// available is never synced; it never gets ACK.Terminal, since customUpdate does not
// modify a cluster that is not available.)
func TestFailedClusterIsNotReady(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	standIns.AWS().SetStatus(fake.DBClusterGVK.Kind, awsIdentifier(ns, "acme"), "failed")
	createStorefront(t, newStorefront(ns, withAurora()))

	g.Eventually(func(g Gomega) {
		cl := ackObject(g, ns, gvkDBCluster, "acme-database")
		synced, _ := ackConditionOf(cl, ackConditionSynced)
		g.Expect(synced.Status).To(Equal("False"))
		sf := getStorefront(g, ns)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonDatabaseFailed))
		g.Expect(c.Message).To(ContainSubstring("DBCluster acme-database"))
		g.Expect(c.Message).To(ContainSubstring("failed"))
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Expect(migrationJobs(g, ns)).To(BeEmpty())
	g.Expect(absent(ns, "acme-connection", &corev1.Secret{})).To(BeTrue())
	g.Expect(ackAbsent(ns, gvkDBInstance, "acme-database")).To(BeTrue(), "no instance joins a cluster that is not available")

	standIns.AWS().SetStatus(fake.DBClusterGVK.Kind, awsIdentifier(ns, "acme"), "")
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// ACK scenario 3: ACK.Terminal gives ProvisioningFailed with ACK's message verbatim, and
// ACK.Recoverable ProvisioningRetrying; both clear when ACK clears them. As with the
// real ACK, each comes from a call AWS answers: a terminal error from a change AWS
// refuses (a downgrade), seen at once and cleared only by the next spec change; a
// recoverable one from a throttled read, seen when ACK next reads (its resync, short
// here) and cleared when it retries; a failed instance from its own status.
func TestACKTerminalAndRecoverableConditions(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKResync: time.Second})
	startOperator(t, ns, ackOptions)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")
	engineVersion := func(v string) func() {
		return func() {
			updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Database.Aurora.EngineVersion = v })
		}
	}

	cases := []struct {
		name        string
		fault, heal func()
		condition   string
		reason      string
		phase       shopv1alpha1.StorefrontPhase
		message     string
	}{
		{"a terminal DB cluster", engineVersion("12.1"), engineVersion("16.6"),
			shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ReasonProvisioningFailed, shopv1alpha1.PhaseDegraded,
			"DBCluster acme-database: ACK: api error InvalidParameterCombination: Cannot upgrade aurora-postgresql from 16.6 to 12.1"},
		{"a recoverable serverless cache",
			func() {
				standIns.AWS().Refuse(fake.ServerlessCacheGVK.Kind, fake.OpDescribe, id, fake.NewAPIError("ThrottlingException", "Rate exceeded"))
			},
			func() { standIns.AWS().Allow(fake.ServerlessCacheGVK.Kind, fake.OpDescribe, id) },
			shopv1alpha1.ConditionCacheReady, shopv1alpha1.ReasonProvisioningRetrying, shopv1alpha1.PhaseProvisioning,
			"ServerlessCache acme-cache: ACK is retrying: api error ThrottlingException: Rate exceeded"},
		{"a failed DB instance",
			func() { standIns.AWS().SetStatus(fake.DBInstanceGVK.Kind, id, "failed") },
			func() { standIns.AWS().SetStatus(fake.DBInstanceGVK.Kind, id, "") },
			shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ReasonDatabaseFailed, shopv1alpha1.PhaseDegraded,
			"DBInstance acme-database: AWS reports status failed; AWS could not recover it: restore it from a snapshot (see the Aurora User Guide)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			tc.fault()
			g.Eventually(func(g Gomega) {
				sf := getStorefront(g, ns)
				c := condition(sf, tc.condition)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(tc.reason))
				g.Expect(c.Message).To(Equal(tc.message))
				g.Expect(sf.Status.Phase).To(Equal(tc.phase))
				g.Expect(condition(sf, shopv1alpha1.ConditionReady).Message).To(ContainSubstring(tc.message))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			// The running shop is left alone.
			g.Expect(deployment(g, ns).Status.ReadyReplicas).To(BeNumerically(">", 0))

			tc.heal()
			waitForPhase(t, ns, shopv1alpha1.PhaseReady)
		})
	}
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, ns)).To(ContainElements(shopv1alpha1.ReasonProvisioningFailed, shopv1alpha1.ReasonProvisioningRetrying))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// ACK scenario 4: nothing downstream starts before the database is ready: no connection
// Secret, no migration Job, no Deployment, no instance in a cluster still unavailable.
func TestNothingStartsBeforeTheDatabaseIsReady(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	id := awsIdentifier(ns, "acme")
	standIns.AWS().Refuse(fake.DBClusterGVK.Kind, fake.OpCreate, id, fake.NewAPIError("InsufficientDBClusterCapacityFault", "try again"))
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))

	g.Eventually(func(g Gomega) {
		c := condition(getStorefront(g, ns), shopv1alpha1.ConditionDatabaseReady)
		g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningRetrying))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseProvisioning))
		g.Expect(condition(sf, shopv1alpha1.ConditionSchemaMigrated).Reason).To(Equal(shopv1alpha1.ReasonWaitingForDatabase))
		g.Expect(migrationJobs(g, ns)).To(BeEmpty())
		g.Expect(absent(ns, "acme-shop", &appsv1.Deployment{})).To(BeTrue())
		g.Expect(absent(ns, "acme-connection", &corev1.Secret{})).To(BeTrue())
		g.Expect(ackAbsent(ns, gvkDBInstance, "acme-database")).To(BeTrue())
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())

	standIns.AWS().Allow(fake.DBClusterGVK.Kind, fake.OpCreate, id)
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(migrationJobs(g, ns)).To(HaveLen(1))
}

// ACK scenario 5: deletion under each policy puts the right annotations on each ACK
// object, deletes them in order (cache, instance, cluster, subnet group), each only
// once ACK let go of the one before, releases the Storefront, and keeps or deletes the
// password Secrets as the policy says.
func TestDeletionPolicies(t *testing.T) {
	cases := map[string]struct {
		policy        shopv1alpha1.DeletionPolicy
		ackPolicy     string
		skipSnapshot  string
		snapshot      bool
		keepsPassword bool
	}{
		"Snapshot takes a final snapshot and keeps the password": {shopv1alpha1.DeletionPolicySnapshot, "delete", "false", true, true},
		"Retain keeps the database in AWS and the password":      {shopv1alpha1.DeletionPolicyRetain, "retain", "false", false, true},
		"Delete deletes the database and the password":           {shopv1alpha1.DeletionPolicyDelete, "delete", "true", false, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			standIns := startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
			startOperator(t, ns, ackOptions)
			g := NewWithT(t)
			ctx := context.Background()
			createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = tc.policy }), withServerlessCache()))
			sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
			id := awsIdentifier(ns, "acme")
			snapshotID := id + "-final-" + shortHash(string(sf.UID))
			g.Expect(snapshotID).To(MatchRegexp(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`))
			g.Expect(len(snapshotID)).To(BeNumerically("<=", 255))

			password := get(g, ns, "acme-db-password-v1", &corev1.Secret{})
			g.Expect(metav1.IsControlledBy(password, sf)).To(Equal(!tc.keepsPassword))
			for _, k := range []schema.GroupVersionKind{gvkDBInstance, gvkDBCluster, gvkDBSubnetGroup} {
				g.Expect(ackObject(g, ns, k, "acme-database").GetAnnotations()).To(HaveKeyWithValue(ackAnnotationDeletionPolicy, tc.ackPolicy), k.Kind)
			}
			g.Expect(ackObject(g, ns, gvkServerlessCache, "acme-cache").GetAnnotations()).To(
				HaveKeyWithValue(ackAnnotationDeletionPolicy, "delete"), "the cache holds only cached data")
			protected, _, _ := unstructured.NestedBool(ackObject(g, ns, gvkDBCluster, "acme-database").Object, "spec", "deletionProtection")
			g.Expect(protected).To(Equal(tc.keepsPassword), "deletionProtection under Snapshot and Retain")
			cl := ackObject(g, ns, gvkDBCluster, "acme-database").GetAnnotations()
			g.Expect(cl).To(HaveKeyWithValue(rdsAnnotationSkipFinalSnapshot, tc.skipSnapshot))
			if tc.skipSnapshot == "false" {
				g.Expect(cl).To(HaveKeyWithValue(rdsAnnotationFinalSnapshotID, snapshotID))
			}

			// While ACK holds the cache, nothing after it is deleted.
			standIns.HoldACKDeletions(true)
			g.Expect(k8sClient.Delete(ctx, newStorefront(ns))).To(Succeed())
			g.Eventually(func(g Gomega) {
				g.Expect(ackObject(g, ns, gvkServerlessCache, "acme-cache").GetDeletionTimestamp()).NotTo(BeNil())
				ready := condition(getStorefront(g, ns), shopv1alpha1.ConditionReady)
				g.Expect(ready.Reason).To(Equal(shopv1alpha1.ReasonDeleting))
				g.Expect(ready.Message).To(ContainSubstring("cache"))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			g.Consistently(func(g Gomega) {
				g.Expect(ackObject(g, ns, gvkDBInstance, "acme-database").GetDeletionTimestamp()).To(BeNil())
				g.Expect(ackObject(g, ns, gvkDBCluster, "acme-database").GetDeletionTimestamp()).To(BeNil())
			}).WithTimeout(time.Second).WithPolling(poll).Should(Succeed())
			g.Expect(absent(ns, "acme-shop", &appsv1.Deployment{})).To(BeTrue(), "the workload goes first")

			standIns.HoldACKDeletions(false)
			g.Eventually(func() bool { return absent(ns, "acme", &shopv1alpha1.Storefront{}) }).WithTimeout(eventually).WithPolling(poll).Should(BeTrue())

			deletions := standIns.ACKDeletions()
			g.Expect(deletions).To(HaveLen(7))
			var kinds []string
			for i, d := range deletions {
				kinds = append(kinds, d.Kind)
				if slices.Contains([]string{"ServerlessCache", "UserGroup", "User"}, d.Kind) {
					g.Expect(d.Policy).To(Equal("delete"), "the cache and its users go under every policy")
				} else {
					g.Expect(d.Policy).To(Equal(tc.ackPolicy), d.Kind)
				}
				if i > 0 && !(d.Kind == "User" && deletions[i-1].Kind == "User") { // the users go together
					g.Expect(d.Requested).NotTo(BeTemporally("<", deletions[i-1].Released), "%s deleted before ACK let go of %s", d.Kind, deletions[i-1].Kind)
				}
				wantSnapshot := ""
				if d.Kind == "DBCluster" && tc.snapshot {
					wantSnapshot = snapshotID
				}
				g.Expect(d.FinalSnapshot).To(Equal(wantSnapshot), d.Kind)
			}
			g.Expect(kinds).To(Equal([]string{"ServerlessCache", "UserGroup", "User", "User", "DBInstance", "DBCluster", "DBSubnetGroup"}))

			for _, res := range standIns.AWS().Resources() {
				if res.Key.Kind == fake.DBClusterGVK.Kind && res.Key.ID == id {
					g.Expect(tc.policy).To(Equal(shopv1alpha1.DeletionPolicyRetain), "only Retain keeps the cluster")
					g.Expect(res.Spec["deletionProtection"]).To(Equal(true), "a retained cluster stays protected")
				}
			}
			if tc.keepsPassword {
				kept := get(g, ns, "acme-db-password-v1", &corev1.Secret{})
				g.Expect(kept.OwnerReferences).To(BeEmpty())
				g.Expect(kept.Data[keyDBPassword]).To(Equal(password.Data[keyDBPassword]))
			} else {
				g.Expect(absent(ns, "acme-db-password-v1", &corev1.Secret{})).To(BeTrue())
			}
			g.Expect(absent(ns, "acme-connection", &corev1.Secret{})).To(BeTrue())
		})
	}
}

// ACK scenario 5b: a policy changed from Delete to Snapshot takes the owner reference
// off the password Secrets, so the garbage collector cannot delete them.
func TestDeletionPolicyChangeReleasesPasswords(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(func(a *shopv1alpha1.AuroraDatabase) { a.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete })))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(metav1.IsControlledBy(get(g, ns, "acme-db-password-v1", &corev1.Secret{}), sf)).To(BeTrue())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicySnapshot
	})
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "acme-db-password-v1", &corev1.Secret{}).OwnerReferences).To(BeEmpty())
		cl := ackObject(g, ns, gvkDBCluster, "acme-database").GetAnnotations()
		g.Expect(cl).To(HaveKeyWithValue(rdsAnnotationSkipFinalSnapshot, "false"))
		g.Expect(cl).To(HaveKey(rdsAnnotationFinalSnapshotID))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
}

// ACK scenario 6: master password rotation end to end. rotate-master-password makes
// v2 and then points the DBCluster at it; the migrations' Secret keeps v1 until ACK
// applied v2 and the cluster is available again, then v1 is deleted. The shop's pods
// never see the master password: they do not roll. Removing the annotation does nothing.
func TestMasterPasswordRotation(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{ACKDelay: 2 * time.Second})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	v1 := passwordOf(g, ns, 1)
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]
	conn := get(g, ns, "acme-connection", &corev1.Secret{}).Data
	masterURLHas := func(g Gomega, password string) bool {
		u, err := url.Parse(string(get(g, ns, "acme-migrate-connection", &corev1.Secret{}).Data[keyDatabaseURL]))
		g.Expect(err).NotTo(HaveOccurred())
		pw, _ := u.User.Password()
		return pw == password
	}
	g.Expect(masterURLHas(g, v1)).To(BeTrue())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		sf.Annotations = map[string]string{shopv1alpha1.AnnotationRotateMasterPassword: "2026-01"}
	})
	// ACK has the new reference and is resetting the password: migrations keep v1.
	g.Eventually(func(g Gomega) {
		cl := ackObject(g, ns, gvkDBCluster, "acme-database")
		ref, _, _ := unstructured.NestedString(cl.Object, "spec", "masterUserPassword", "name")
		g.Expect(ref).To(Equal("acme-db-password-v2"))
		st, _, _ := unstructured.NestedString(cl.Object, "status", "status")
		g.Expect(st).To(Equal(fake.RDSStatusResettingMasterCredentials))
		g.Expect(masterURLHas(g, v1)).To(BeTrue(), "the migrations' Secret moved before ACK applied the password")
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	v2 := passwordOf(g, ns, 2)
	g.Expect(v2).NotTo(Equal(v1))
	g.Expect(passwordOf(g, ns, 1)).To(Equal(v1), "a password is never rewritten")

	g.Eventually(func(g Gomega) {
		g.Expect(masterURLHas(g, v2)).To(BeTrue())
		g.Expect(absent(ns, "acme-db-password-v1", &corev1.Secret{})).To(BeTrue(), "v1 is deleted once ACK applied v2")
		g.Expect(getStorefront(g, ns).Status.Credentials.MasterPassword).To(Equal(&shopv1alpha1.MasterPasswordStatus{HandledRotation: "2026-01"}))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(condition(sf, shopv1alpha1.ConditionDatabaseReady).Message).NotTo(ContainSubstring("waiting"))
	g.Expect(ackObject(g, ns, gvkDBCluster, "acme-database").GetAnnotations()).To(HaveKeyWithValue(rdsAnnotationLastAppliedSecret, ns+"/acme-db-password-v2.password"))
	g.Expect(get(g, ns, "acme-connection", &corev1.Secret{}).Data).To(Equal(conn), "the shop's login is not the master's")
	g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).To(Equal(checksum), "the pods do not roll")
	g.Expect(sf.Status.Credentials.HandledRotation).To(BeEmpty(), "the shop's login was not rotated")

	// Removing the annotation (a GitOps cleanup) does nothing, nor does another change.
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		delete(sf.Annotations, shopv1alpha1.AnnotationRotateMasterPassword)
		sf.Labels = map[string]string{"team": "shop"}
	})
	g.Consistently(func(g Gomega) {
		g.Expect(absent(ns, "acme-db-password-v3", &corev1.Secret{})).To(BeTrue())
		g.Expect(getStorefront(g, ns).Status.Credentials.MasterPassword.HandledRotation).To(Equal("2026-01"))
	}).WithTimeout(quiet).WithPolling(poll).Should(Succeed())
}

// ACK scenario 6b: two Storefronts named acme in two namespaces, one operator: their
// AWS identifiers differ, and both become Ready.
func TestSameNameInTwoNamespaces(t *testing.T) {
	nsA, nsB := newNamespace(t), newNamespace(t)
	startStandIns(t, nsA, fake.Options{Namespaces: []string{nsB}})
	startOperatorFor(t, cfg, []string{nsA, nsB}, ackOptions)
	g := NewWithT(t)
	for _, ns := range []string{nsA, nsB} {
		createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	}
	ids := map[string]bool{}
	hosts := map[string]bool{}
	for _, ns := range []string{nsA, nsB} {
		sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
		cl := ackObject(g, ns, gvkDBCluster, "acme-database")
		id, _, _ := unstructured.NestedString(cl.Object, "spec", "dbClusterIdentifier")
		ids[id] = true
		cache := ackObject(g, ns, gvkServerlessCache, "acme-cache")
		name, _, _ := unstructured.NestedString(cache.Object, "spec", "serverlessCacheName")
		ids[name+"/cache"] = true
		hosts[sf.Status.Database.Endpoint] = true
	}
	g.Expect(ids).To(HaveLen(4), "AWS identifiers collide: %v", ids)
	g.Expect(hosts).To(HaveLen(2))
}

// ACK scenario 7: a Ready Storefront on Aurora and ElastiCache Serverless at rest costs
// no write, through forced reconciles and through watch events; ACK's write-backs
// (IDs in another order, late-initialised fields) are not fought.
func TestAuroraAtRestWritesNothing(t *testing.T) {
	ns := newNamespace(t)
	startStandIns(t, ns, fake.Options{})
	op := startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)

	events := reconcileAtRest(g, op, ns)
	g.Expect(op.counter.Count("list", "Secret")).To(BeNumerically(">=", 20), "the reconciles did run")

	for i := range 3 {
		updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
			sf.Labels = map[string]string{"example.com/poke": string(rune('a' + i))}
		})
	}
	g.Consistently(op.counter.Mutations).WithTimeout(quiet).WithPolling(poll).Should(BeZero(),
		"mutating requests at rest: %s", op.counter.MutationSummary())
	g.Expect(eventReasons(g, ns)).To(HaveLen(events), "no Event at rest")
}

// ACK scenario 1c: a serverless cache taken out of the spec is deleted once the pods
// rolled off it (they go on without REDIS_URL), never while they may still use it.
func TestRemovedServerlessCacheIsDeleted(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	checksum := deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]

	// The Deployment controller lags: the pods without the cache are not rolled out.
	standIns.SetRolloutsHeld(true)
	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) { sf.Spec.Cache = nil })
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "acme-connection", &corev1.Secret{}).Data).NotTo(HaveKey(keyRedisURL))
		g.Expect(deployment(g, ns).Spec.Template.Annotations[annotationConfigChecksum]).NotTo(Equal(checksum))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Consistently(func() bool { return ackAbsent(ns, gvkServerlessCache, "acme-cache") }).
		WithTimeout(quiet).WithPolling(poll).Should(BeFalse(), "the cache was deleted while the old pods may use it")

	standIns.SetRolloutsHeld(false)
	g.Eventually(func(g Gomega) {
		g.Expect(ackAbsent(ns, gvkServerlessCache, "acme-cache")).To(BeTrue())
		// Its user group, users and their passwords go too.
		g.Expect(ackAbsent(ns, gvkCacheUserGroup, "acme-cache")).To(BeTrue())
		g.Expect(ackAbsent(ns, gvkCacheUser, "acme-cache-user-v1")).To(BeTrue())
		g.Expect(ackAbsent(ns, gvkCacheUser, "acme-cache-default")).To(BeTrue())
		g.Expect(absent(ns, "acme-cache-password-v1", &corev1.Secret{})).To(BeTrue())
		g.Expect(absent(ns, "acme-cache-default", &corev1.Secret{})).To(BeTrue())
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	g.Expect(condition(sf, shopv1alpha1.ConditionCacheReady).Reason).To(Equal(shopv1alpha1.ReasonCacheNotConfigured))
	g.Expect(sf.Status.Cache).To(BeNil())
	g.Expect(sf.Status.CacheUser).To(BeNil())
}

// ACK scenario 1d: an operator started where ACK is not installed says so on the
// Storefronts that need it (and writes no ACK object), instead of failing to start.
func TestAuroraWithoutACKSaysSo(t *testing.T) {
	ns := newNamespace(t)
	g := NewWithT(t)
	r := &StorefrontReconciler{Client: k8sClient, APIReader: k8sClient, Scheme: testScheme, Options: ackOptions,
		ACKInstalled: map[schema.GroupVersionKind]bool{}}
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	for range 2 { // the first adds the finalizer
		_, err := r.Reconcile(context.Background(), reconcileRequest(ns))
		g.Expect(err).NotTo(HaveOccurred())
	}
	sf := getStorefront(g, ns)
	for _, c := range []string{shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ConditionCacheReady} {
		cond := condition(sf, c)
		g.Expect(cond.Reason).To(Equal(shopv1alpha1.ReasonProvisioningFailed), c)
		g.Expect(cond.Message).To(ContainSubstring("install ACK"), c)
	}
	g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
	g.Expect(ackAbsent(ns, gvkDBSubnetGroup, "acme-database")).To(BeTrue())
	g.Expect(ackAbsent(ns, gvkServerlessCache, "acme-cache")).To(BeTrue())
}
