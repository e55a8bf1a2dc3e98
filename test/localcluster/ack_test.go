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

package localcluster_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

// ackObject builds an ACK object as the operator writes one.
func ackObject(gvk schema.GroupVersionKind, ns, name string, annotations map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetAnnotations(annotations)
	return u
}

func createStrict(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := cluster.Client.Create(context.Background(), o, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

// available waits until the ACK object reports the available own status and
// ACK.ResourceSynced=True, and returns it.
func available(g *WithT, gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	field := "status"
	if gvk == fake.DBInstanceGVK {
		field = "dbInstanceStatus"
	}
	g.Eventually(func() string {
		if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return err.Error()
		}
		st, _, _ := unstructured.NestedString(u.Object, "status", field)
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		synced := ""
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == fake.ConditionSynced {
				synced, _ = m["status"].(string)
			}
		}
		return st + "/" + synced
	}, time.Minute, 50*time.Millisecond).Should(Equal("available/True"))
	return u
}

func gone(g *WithT, gvk schema.GroupVersionKind, ns, name string) {
	g.Eventually(func() bool {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		return apierrors.IsNotFound(cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u))
	}, time.Minute, 50*time.Millisecond).Should(BeTrue(), "%s %s/%s is gone", gvk.Kind, ns, name)
}

// databaseURL is a URL of the cluster's database at host:port.
func databaseURL(host string, port int64, user, password, database, sslmode string) string {
	q := url.Values{"sslmode": {sslmode}, "connect_timeout": {"5"}}
	if sslmode == "verify-full" {
		q.Set("sslrootcert", cluster.CAFile())
	}
	return (&url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: fmt.Sprintf("%s:%d", host, port),
		Path: "/" + database, RawQuery: q.Encode()}).String()
}

func TestACKDBClusterIsARealDatabaseThatFollowsItsDeletionPolicy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	const password = "Aa1-not-a-real-password-0123456"
	createStrict(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "master"}, StringData: map[string]string{"password": password}},
		ackObject(fake.DBSubnetGroupGVK, ns, "group", nil, map[string]any{
			"name": "group", "description": "test", "subnetIDs": []any{"subnet-1", "subnet-2"}}),
	)
	clusterSpec := func(id string) map[string]any {
		return map[string]any{
			"dbClusterIdentifier": id, "engine": "aurora-postgresql", "engineVersion": "16.6", "engineMode": "provisioned",
			"databaseName": "shop", "masterUsername": "storefront", "dbSubnetGroupName": "group", "storageEncrypted": true,
			"masterUserPassword": map[string]any{"namespace": ns, "name": "master", "key": "password"},
		}
	}
	createStrict(t,
		ackObject(fake.DBClusterGVK, ns, "kept", map[string]string{fake.AnnotationDeletionPolicy: "retain"}, clusterSpec("kept-"+ns)),
		ackObject(fake.DBClusterGVK, ns, "dropped", map[string]string{
			fake.AnnotationDeletionPolicy: "delete", fake.AnnotationSkipFinalSnapshot: "false", fake.AnnotationFinalSnapshotID: "final-" + ns,
		}, clusterSpec("dropped-"+ns)),
	)

	kept := available(g, fake.DBClusterGVK, ns, "kept")
	g.Expect(kept.GetFinalizers()).To(ContainElement(fake.Finalizer(fake.DBClusterGVK)))
	host, _, _ := unstructured.NestedString(kept.Object, "status", "endpoint")
	port, _, _ := unstructured.NestedInt64(kept.Object, "spec", "port")
	g.Expect(host).To(Equal("127.0.0.1"))
	g.Expect(port).NotTo(BeZero(), "ACK writes the port back")
	g.Expect(kept.GetAnnotations()[fake.AnnotationLastAppliedSecret]).To(Equal(ns + "/master.password"))

	// The master user gets in with TLS verified against the CA, and only so.
	conn, err := pgx.Connect(ctx, databaseURL(host, port, "storefront", password, "shop", "verify-full"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(ctx, `CREATE TABLE kept_data (v text); INSERT INTO kept_data VALUES ('still here')`)
	g.Expect(err).NotTo(HaveOccurred())
	// The master user's attributes are RDS's: it may create roles and databases and is
	// no superuser (Amazon Aurora User Guide, "Master user account privileges",
	// UsingWithRDS.MasterAccounts.html: PostgreSQL — CREATE ROLE, CREATE DB, LOGIN,
	// rds_superuser; rds_superuser is not a PostgreSQL superuser).
	var createRole, createDB, super bool
	g.Expect(conn.QueryRow(ctx, `SELECT rolcreaterole, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = current_user`).
		Scan(&createRole, &createDB, &super)).To(Succeed())
	g.Expect([]bool{createRole, createDB, super}).To(Equal([]bool{true, true, false}))
	_ = conn.Close(ctx)
	for name, u := range map[string]string{
		"a wrong password": databaseURL(host, port, "storefront", "wrong", "shop", "require"),
		"no TLS":           databaseURL(host, port, "storefront", password, "shop", "disable"),
	} {
		if c, err := pgx.Connect(ctx, u); err == nil {
			_ = c.Close(ctx)
			t.Errorf("connecting with %s succeeded", name)
		}
	}

	dropped := available(g, fake.DBClusterGVK, ns, "dropped")
	dhost, _, _ := unstructured.NestedString(dropped.Object, "status", "endpoint")
	dport, _, _ := unstructured.NestedInt64(dropped.Object, "spec", "port")
	g.Expect(dport).NotTo(Equal(port), "each cluster has a server of its own")
	conn, err = pgx.Connect(ctx, databaseURL(dhost, dport, "storefront", password, "shop", "require"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(ctx, `CREATE TABLE snapshotted (v text); INSERT INTO snapshotted VALUES ('in the final snapshot')`)
	g.Expect(err).NotTo(HaveOccurred())
	_ = conn.Close(ctx)

	// Retain lets the object go and keeps the server with its data.
	g.Expect(cluster.Client.Delete(ctx, kept)).To(Succeed())
	gone(g, fake.DBClusterGVK, ns, "kept")
	g.Expect(cluster.RetainedDatabases()).To(ContainElement(localcluster.RetainedDatabase{
		Namespace: ns, Name: "kept", Identifier: "kept-" + ns,
		Endpoint: fake.Endpoint{Address: host, Port: port}, Database: "shop", User: "storefront",
	}))
	conn, err = pgx.Connect(ctx, databaseURL(host, port, "storefront", password, "shop", "verify-full"))
	g.Expect(err).NotTo(HaveOccurred())
	var v string
	g.Expect(conn.QueryRow(ctx, `SELECT v FROM kept_data`).Scan(&v)).To(Succeed())
	g.Expect(v).To(Equal("still here"))
	_ = conn.Close(ctx)

	// Delete: ACK lets go once AWS accepted the call; AWS then takes the final snapshot
	// the annotations ask for and stops the server.
	g.Expect(cluster.Client.Delete(ctx, dropped)).To(Succeed())
	gone(g, fake.DBClusterGVK, ns, "dropped")
	var dump string
	g.Eventually(func() string { dump = cluster.Snapshots()["final-"+ns]; return dump }, time.Minute, 50*time.Millisecond).ShouldNot(BeEmpty())
	b, err := os.ReadFile(dump)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(ContainSubstring("in the final snapshot"))
	g.Eventually(func() error {
		c, err := pgx.Connect(ctx, databaseURL(dhost, dport, "storefront", password, "shop", "require"))
		if err == nil {
			_ = c.Close(ctx)
		}
		return err
	}, time.Minute, 50*time.Millisecond).Should(HaveOccurred(), "the deleted cluster's server is stopped")
}

// A retained cluster adopted by a new object (services.k8s.aws/adoption-policy adopt)
// is the same database, rows included; ACK then applies the new object's master
// password, which it has never applied (no last-applied-secret-reference).
func TestACKAdoptedClusterIsTheSameDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	const before, after = "Aa1-not-a-real-password-before", "Aa1-not-a-real-password-after0"
	id := "adopted-" + ns
	spec := func(secret string) map[string]any {
		return map[string]any{
			"dbClusterIdentifier": id, "engine": "aurora-postgresql", "engineVersion": "16.6", "engineMode": "provisioned",
			"databaseName": "shop", "masterUsername": "storefront", "dbSubnetGroupName": "group", "storageEncrypted": true,
			"masterUserPassword": map[string]any{"namespace": ns, "name": secret, "key": "password"},
		}
	}
	createStrict(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "master-v1"}, StringData: map[string]string{"password": before}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "master-v2"}, StringData: map[string]string{"password": after}},
		ackObject(fake.DBSubnetGroupGVK, ns, "group", nil, map[string]any{"name": "group", "description": "test", "subnetIDs": []any{"subnet-1", "subnet-2"}}),
		ackObject(fake.DBClusterGVK, ns, "first", map[string]string{fake.AnnotationDeletionPolicy: "retain"}, spec("master-v1")),
	)
	first := available(g, fake.DBClusterGVK, ns, "first")
	host, _, _ := unstructured.NestedString(first.Object, "status", "endpoint")
	port, _, _ := unstructured.NestedInt64(first.Object, "spec", "port")
	conn, err := pgx.Connect(ctx, databaseURL(host, port, "storefront", before, "shop", "verify-full"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(ctx, `CREATE TABLE orders (id int); INSERT INTO orders VALUES (42)`)
	g.Expect(err).NotTo(HaveOccurred())
	_ = conn.Close(ctx)
	g.Expect(cluster.Client.Delete(ctx, first)).To(Succeed())
	gone(g, fake.DBClusterGVK, ns, "first")

	createStrict(t, ackObject(fake.DBClusterGVK, ns, "second", map[string]string{
		fake.AnnotationAdoptionPolicy: "adopt", fake.AnnotationAdoptionFields: `{"dbClusterIdentifier": "` + id + `"}`,
	}, spec("master-v2")))
	g.Eventually(func() string {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(fake.DBClusterGVK)
		if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "second"}, u); err != nil {
			return err.Error()
		}
		return u.GetAnnotations()[fake.AnnotationAdopted] + " " + u.GetAnnotations()[fake.AnnotationLastAppliedSecret]
	}, time.Minute, 50*time.Millisecond).Should(Equal("true " + ns + "/master-v2.password"))
	second := available(g, fake.DBClusterGVK, ns, "second")
	shost, _, _ := unstructured.NestedString(second.Object, "status", "endpoint")
	sport, _, _ := unstructured.NestedInt64(second.Object, "spec", "port")
	g.Expect(fmt.Sprintf("%s:%d", shost, sport)).To(Equal(fmt.Sprintf("%s:%d", host, port)), "the same server")

	conn, err = pgx.Connect(ctx, databaseURL(shost, sport, "storefront", after, "shop", "verify-full"))
	g.Expect(err).NotTo(HaveOccurred(), "the adopting object's password is applied")
	defer func() { _ = conn.Close(ctx) }()
	var v int
	g.Expect(conn.QueryRow(ctx, `SELECT id FROM orders`).Scan(&v)).To(Succeed())
	g.Expect(v).To(Equal(42))
}

// A DBCluster whose master password Secret is missing: ACK retries (rds-controller
// sdk.go newCreateRequestPayload wraps ackerr.SecretNotFound in ackrequeue.Needed, so
// updateConditions makes it ACK.Recoverable).
func TestACKRetriesWithoutTheSecret(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	createStrict(t, ackObject(fake.DBClusterGVK, ns, "no-secret", nil, map[string]any{
		"dbClusterIdentifier": "no-secret-" + ns, "engine": "aurora-postgresql", "databaseName": "shop", "masterUsername": "storefront",
		"dbSubnetGroupName": "missing", "masterUserPassword": map[string]any{"namespace": ns, "name": "absent", "key": "password"},
	}))
	g.Eventually(func() string {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(fake.DBClusterGVK)
		if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "no-secret"}, u); err != nil {
			return err.Error()
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		var parts []string
		for _, c := range conds {
			m := c.(map[string]any)
			parts = append(parts, fmt.Sprintf("%s=%s %v", m["type"], m["status"], m["message"]))
		}
		return strings.Join(parts, "; ")
	}, time.Minute, 50*time.Millisecond).Should(ContainSubstring(fake.ConditionRecoverable + "=True " + fake.SecretNotFoundMessage))
}

func TestACKServerlessCacheIsARedisThatTakesTLSOnly(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	createStrict(t, ackObject(fake.ServerlessCacheGVK, ns, "cache", nil, map[string]any{
		"serverlessCacheName": "cache-" + ns, "engine": "valkey", "majorEngineVersion": "8",
	}))
	u := available(g, fake.ServerlessCacheGVK, ns, "cache")
	host, _, _ := unstructured.NestedString(u.Object, "status", "endpoint", "address")
	port, _, _ := unstructured.NestedInt64(u.Object, "status", "endpoint", "port")
	g.Expect(host).To(Equal("127.0.0.1"))

	// rediss:// verified against the system trust store, which SSL_CERT_FILE replaces
	// in the shop's pods; here the test hands the CA to the client itself.
	opts, err := redis.ParseURL(fmt.Sprintf("rediss://%s:%d/0", host, port))
	g.Expect(err).NotTo(HaveOccurred())
	pool, err := localcluster.CAPool(cluster.CAFile())
	g.Expect(err).NotTo(HaveOccurred())
	opts.TLSConfig.RootCAs = pool
	rc := redis.NewClient(opts)
	defer func() { _ = rc.Close() }()
	g.Expect(rc.Set(ctx, "k", "v", 0).Err()).To(Succeed())
	g.Expect(rc.Get(ctx, "k").Val()).To(Equal("v"))

	plain := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", host, port), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer func() { _ = plain.Close() }()
	g.Expect(plain.Ping(ctx).Err()).To(HaveOccurred(), "ElastiCache Serverless takes TLS only")

	g.Expect(cluster.Client.Delete(ctx, u)).To(Succeed())
	gone(g, fake.ServerlessCacheGVK, ns, "cache")
	g.Eventually(func() error { return rc.Ping(ctx).Err() }, time.Minute, 50*time.Millisecond).Should(HaveOccurred(),
		"the deleted cache's server is stopped once AWS is done deleting")
}

// A serverless cache with a user group enforces exactly the group's users, as
// ElastiCache does: no connection without credentials (the default user is off), the
// shop's user with its access string and nothing more, a user that left the group
// refused.
func TestACKServerlessCacheEnforcesItsUserGroup(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	access, err := testenv.ShopAccessString()
	g.Expect(err).NotTo(HaveOccurred())
	for name, pw := range map[string]string{"default-pw": "default-password-0123456789", "shop-pw": "shop-password-0123456789"} {
		createStrict(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeOpaque,
			StringData: map[string]string{"password": pw}})
	}
	user := func(id, name, access, secret string) *unstructured.Unstructured {
		return ackObject(fake.UserGVK, ns, id, nil, map[string]any{"userID": id + "-" + ns, "userName": name, "engine": "redis",
			"accessString": access, "passwords": []any{map[string]any{"name": secret, "key": "password"}}})
	}
	createStrict(t, user("default", "default", "off -@all", "default-pw"), user("shop", "shop-"+ns, access, "shop-pw"))
	createStrict(t, ackObject(fake.UserGroupGVK, ns, "group", nil, map[string]any{"userGroupID": "group-" + ns, "engine": "redis",
		"userIDs": []any{"default-" + ns, "shop-" + ns}}))
	g.Eventually(func() string {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(fake.UserGroupGVK)
		_ = cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "group"}, u)
		st, _, _ := unstructured.NestedString(u.Object, "status", "status")
		return st
	}, time.Minute, 50*time.Millisecond).Should(Equal("active"))
	createStrict(t, ackObject(fake.ServerlessCacheGVK, ns, "cache", nil, map[string]any{
		"serverlessCacheName": "cache-" + ns, "engine": "valkey", "majorEngineVersion": "8", "userGroupID": "group-" + ns,
	}))
	u := available(g, fake.ServerlessCacheGVK, ns, "cache")
	host, _, _ := unstructured.NestedString(u.Object, "status", "endpoint", "address")
	port, _, _ := unstructured.NestedInt64(u.Object, "status", "endpoint", "port")
	pool, err := localcluster.CAPool(cluster.CAFile())
	g.Expect(err).NotTo(HaveOccurred())
	dial := func(user, password string) *redis.Client {
		opts, err := redis.ParseURL(fmt.Sprintf("rediss://%s:%d", host, port))
		g.Expect(err).NotTo(HaveOccurred())
		opts.TLSConfig.RootCAs, opts.Username, opts.Password, opts.MaxRetries = pool, user, password, -1
		c := redis.NewClient(opts)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	g.Expect(dial("", "").Ping(ctx).Err()).To(MatchError(ContainSubstring("NOAUTH")), "no credentials, no access")
	shop := dial("shop-"+ns, "shop-password-0123456789")
	g.Expect(shop.Set(ctx, "shop:0123456789ab:k", "v", 0).Err()).To(Succeed())
	g.Expect(shop.GetRange(ctx, "shop:0123456789ab:k", 0, 1023).Val()).To(Equal("v"), "the shop reads with GETRANGE")
	for _, cmd := range [][]any{{"FLUSHALL"}, {"CONFIG", "GET", "maxmemory"}, {"KEYS", "*"}, {"GET", "other:k"}} {
		g.Expect(shop.Do(ctx, cmd...).Err()).To(MatchError(ContainSubstring("NOPERM")), "%v", cmd)
	}
	g.Expect(dial("default", "default-password-0123456789").Ping(ctx).Err()).To(HaveOccurred(), "the default user is off")

	// A user that leaves the group is refused.
	grp := &unstructured.Unstructured{}
	grp.SetGroupVersionKind(fake.UserGroupGVK)
	g.Expect(cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "group"}, grp)).To(Succeed())
	g.Expect(unstructured.SetNestedStringSlice(grp.Object, []string{"default-" + ns}, "spec", "userIDs")).To(Succeed())
	g.Expect(cluster.Client.Update(ctx, grp)).To(Succeed())
	g.Eventually(func() error { return dial("shop-"+ns, "shop-password-0123456789").Ping(ctx).Err() },
		time.Minute, 50*time.Millisecond).Should(MatchError(ContainSubstring("WRONGPASS")))
}

func TestACKDBClusterAppliesANewMasterPasswordSecret(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := namespace(t)
	const before, after = "Aa1-not-a-real-password-before", "Aa1-not-a-real-password-after0"
	createStrict(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "master-v1"}, StringData: map[string]string{"password": before}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "master-v2"}, StringData: map[string]string{"password": after}},
		ackObject(fake.DBSubnetGroupGVK, ns, "group", nil, map[string]any{
			"name": "group", "description": "test", "subnetIDs": []any{"subnet-1", "subnet-2"}}),
		ackObject(fake.DBClusterGVK, ns, "db", nil, map[string]any{
			"dbClusterIdentifier": "db-" + ns, "engine": "aurora-postgresql", "engineVersion": "16.6",
			"databaseName": "shop", "masterUsername": "storefront", "dbSubnetGroupName": "group",
			"masterUserPassword": map[string]any{"namespace": ns, "name": "master-v1", "key": "password"},
		}),
	)
	db := available(g, fake.DBClusterGVK, ns, "db")
	host, _, _ := unstructured.NestedString(db.Object, "status", "endpoint")
	port, _, _ := unstructured.NestedInt64(db.Object, "spec", "port")

	// As the operator rotates it: a new Secret, and the reference moved to it.
	patch := client.MergeFrom(db.DeepCopy())
	g.Expect(unstructured.SetNestedField(db.Object, "master-v2", "spec", "masterUserPassword", "name")).To(Succeed())
	g.Expect(cluster.Client.Patch(ctx, db, patch)).To(Succeed())
	// ACK resets the password before it records the reference it applied.
	g.Eventually(func() string {
		g.Expect(cluster.Client.Get(ctx, client.ObjectKeyFromObject(db), db)).To(Succeed())
		return db.GetAnnotations()[fake.AnnotationLastAppliedSecret]
	}, time.Minute, 50*time.Millisecond).Should(Equal(ns + "/master-v2.password"))
	available(g, fake.DBClusterGVK, ns, "db")

	conn, err := pgx.Connect(ctx, databaseURL(host, port, "storefront", after, "shop", "verify-full"))
	g.Expect(err).NotTo(HaveOccurred(), "the new password lets the master user in")
	_ = conn.Close(ctx)
	if c, err := pgx.Connect(ctx, databaseURL(host, port, "storefront", before, "shop", "verify-full")); err == nil {
		_ = c.Close(ctx)
		t.Error("the old password still lets the master user in")
	}
}
