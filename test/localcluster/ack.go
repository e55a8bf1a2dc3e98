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

package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/storefront-operator/storefront/test/localcluster/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

// ackPlayer plays ACK's rds-controller and elasticache-controller with real servers:
// each DBCluster gets a throwaway PostgreSQL server with TLS, holding the database and
// the master user (its password read from the referenced Secret, as ACK reads it);
// each ServerlessCache a redis-server that accepts TLS only, as ElastiCache Serverless
// does. What it writes on the objects - finalizers, spec write-backs, status, endpoints
// and conditions - comes from the status-only stand-in's functions (fake.DBCluster*,
// fake.ServerlessCache*, ...), with the endpoints of these servers. Deletion follows the
// objects' deletion-policy annotations: retain lets the object go and keeps the server
// (its data stays reachable, see Cluster.RetainedDatabases); delete takes the final
// snapshot the rds annotations ask for (a pg_dump file, see Cluster.Snapshots) and
// stops the server.
type ackPlayer struct {
	client client.Client
	reader client.Reader
	acct   fake.AWSAccount
	delay  time.Duration
	ca     *throwawayCA
	dir    string
	guard  *guard
	log    logr.Logger

	mu        sync.Mutex
	state     map[types.UID]*ackObjectState
	databases map[types.UID]*dbServer // by DBCluster
	caches    map[types.UID]*cacheServer
	retained  []RetainedDatabase
	snapshots map[string]string // final snapshot identifier → dump file
}

// ackObjectState is what AWS would remember of one resource.
type ackObjectState struct {
	created   bool
	syncedGen int64
	busyUntil time.Time
	busyWhat  string
}

// dbServer is the PostgreSQL server of one DBCluster.
type dbServer struct {
	pg       *testenv.Postgres
	endpoint fake.Endpoint
	database string
	user     string
	logPath  string
}

// cacheServer is the redis-server of one ServerlessCache.
type cacheServer struct {
	redis    *testenv.Redis
	endpoint fake.Endpoint
	logPath  string
}

// RetainedDatabase is a database whose DBCluster was deleted with the retain policy: its
// server keeps running until the cluster stops.
type RetainedDatabase struct {
	// Namespace and Name are the DBCluster's; Identifier its dbClusterIdentifier.
	Namespace, Name, Identifier string
	// Endpoint is where the server listens (TLS required); Database and User the
	// cluster's databaseName and masterUsername.
	Endpoint       fake.Endpoint
	Database, User string
}

// ackKinds are the kinds played, with their controllers' field managers.
var ackKinds = []struct {
	gvk     schema.GroupVersionKind
	manager string
}{
	{fake.DBSubnetGroupGVK, "ack-rds-controller"},
	{fake.DBClusterGVK, "ack-rds-controller"},
	{fake.DBInstanceGVK, "ack-rds-controller"},
	{fake.ServerlessCacheGVK, "ack-elasticache-controller"},
}

// ackRetry is how soon a refused request is tried again.
const ackRetry = 200 * time.Millisecond

func (c *Cluster) setupACK(ctx context.Context, mgr manager.Manager, log logr.Logger) error {
	c.ack = &ackPlayer{
		client: mgr.GetClient(), reader: mgr.GetAPIReader(), acct: fake.DefaultAWSAccount,
		delay: c.opts.ACKDelay, ca: c.ca, dir: filepath.Join(c.dir, "ack"), guard: c.guard, log: log,
		state: map[types.UID]*ackObjectState{}, databases: map[types.UID]*dbServer{},
		caches: map[types.UID]*cacheServer{}, snapshots: map[string]string{},
	}
	if region := c.opts.Operator.AWSRegion; region != "" {
		c.ack.acct.Region = region
	}
	if err := os.MkdirAll(filepath.Join(c.ack.dir, "snapshots"), 0o755); err != nil {
		return err
	}
	for _, k := range ackKinds {
		if _, err := mgr.GetRESTMapper().RESTMapping(k.gvk.GroupKind(), k.gvk.Version); err != nil {
			return fmt.Errorf("the ACK CRD of %s is not installed: %w", k.gvk.Kind, err)
		}
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(k.gvk)
		if err := ctrl.NewControllerManagedBy(mgr).Named("ack-" + k.gvk.Kind).For(obj).
			Complete(&ackController{a: c.ack, gvk: k.gvk, manager: k.manager}); err != nil {
			return fmt.Errorf("setting up the %s stand-in: %w", k.gvk.Kind, err)
		}
	}
	return nil
}

// RetainedDatabases lists the databases kept after their DBCluster was deleted with
// the retain policy.
func (c *Cluster) RetainedDatabases() []RetainedDatabase {
	c.ack.mu.Lock()
	defer c.ack.mu.Unlock()
	return append([]RetainedDatabase(nil), c.ack.retained...)
}

// Snapshots maps the final snapshots taken of deleted DBClusters to their dump files.
func (c *Cluster) Snapshots() map[string]string {
	c.ack.mu.Lock()
	defer c.ack.mu.Unlock()
	out := map[string]string{}
	for k, v := range c.ack.snapshots {
		out[k] = v
	}
	return out
}

// Stop stops every data store server.
func (a *ackPlayer) Stop() {
	a.mu.Lock()
	dbs, caches := a.databases, a.caches
	a.databases, a.caches = map[types.UID]*dbServer{}, map[types.UID]*cacheServer{}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(db.pg.Stop)
	}
	for _, c := range caches {
		wg.Go(c.redis.Stop)
	}
	wg.Wait()
}

// Logs lists the data store servers' logs.
func (a *ackPlayer) Logs() []LogFile {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []LogFile
	for _, db := range a.databases {
		out = append(out, LogFile{Name: fmt.Sprintf("postgres %s:%d", db.endpoint.Address, db.endpoint.Port), Path: db.logPath})
	}
	for _, c := range a.caches {
		out = append(out, LogFile{Name: fmt.Sprintf("redis %s:%d", c.endpoint.Address, c.endpoint.Port), Path: c.logPath})
	}
	return out
}

// ackController plays one ACK kind, as test/localcluster/fake's ACK stand-in does
// (without its fault injection), with real servers behind the resources.
type ackController struct {
	a       *ackPlayer
	gvk     schema.GroupVersionKind
	manager string
}

func (c *ackController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(c.gvk)
	if err := c.a.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return c.reconcileDelete(ctx, obj)
	}
	if !controllerutil.ContainsFinalizer(obj, fake.Finalizer(c.gvk)) {
		patch := client.MergeFrom(obj.DeepCopy())
		controllerutil.AddFinalizer(obj, fake.Finalizer(c.gvk))
		if err := c.a.client.Patch(ctx, obj, patch, client.FieldOwner(c.manager)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	now := time.Now()
	st := c.a.stateOf(obj.GetUID())
	if !st.created {
		terminal, recoverable, err := c.createRefusal(ctx, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		if terminal != "" || recoverable != "" {
			base := map[string]any{"ackResourceMetadata": map[string]any{"ownerAccountID": c.a.acct.ID, "region": fake.Region(obj, c.a.acct)}}
			if terminal != "" {
				return ctrl.Result{}, c.writeStatus(ctx, obj, fake.WithTerminal(obj, base, terminal, now))
			}
			return ctrl.Result{RequeueAfter: ackRetry}, c.writeStatus(ctx, obj, fake.WithRecoverable(obj, base, recoverable, now))
		}
		// AWS starts creating: the status says creating at once, the server starts.
		if err := c.writeStatus(ctx, obj, c.creatingStatus(obj, now)); err != nil {
			return ctrl.Result{}, err
		}
		port, err := c.provision(ctx, obj)
		if err != nil {
			msg := err.Error()
			c.a.log.Error(err, "Provisioning", "kind", c.gvk.Kind, "object", req.NamespacedName.String())
			return ctrl.Result{RequeueAfter: time.Second}, c.writeStatus(ctx, obj,
				fake.WithRecoverable(obj, c.creatingStatus(obj, now), msg, now))
		}
		if err := c.writeBack(ctx, obj, true, port); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		c.a.mu.Lock()
		st.created, st.syncedGen = true, obj.GetGeneration()
		st.busyUntil, st.busyWhat = now.Add(c.a.delay), fake.RDSStatusCreating
		c.a.mu.Unlock()
	} else if obj.GetGeneration() != st.syncedGen {
		what := fake.RDSStatusModifying
		if c.gvk == fake.DBClusterGVK && obj.GetAnnotations()[fake.AnnotationLastAppliedSecret] != fake.LastAppliedSecretReference(obj) {
			what = fake.RDSStatusResettingMasterCredentials
			if err := c.resetMasterPassword(ctx, obj); err != nil {
				return ctrl.Result{RequeueAfter: time.Second}, c.writeStatus(ctx, obj,
					fake.WithRecoverable(obj, c.statusOf(ctx, obj, true, what, now), err.Error(), now))
			}
		}
		if err := c.writeBack(ctx, obj, false, 0); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		c.a.mu.Lock()
		st.syncedGen = obj.GetGeneration()
		if c.gvk != fake.DBSubnetGroupGVK {
			// Into the next second at least, so that the Synced condition ending the
			// change is later (a second's resolution) than anything before it.
			st.busyUntil = later(now.Add(c.a.delay), now.Truncate(time.Second).Add(time.Second))
			st.busyWhat = what
		}
		c.a.mu.Unlock()
	}
	c.a.mu.Lock()
	busyUntil, busyWhat := st.busyUntil, st.busyWhat
	c.a.mu.Unlock()
	busy := now.Before(busyUntil)
	if err := c.writeStatus(ctx, obj, c.statusOf(ctx, obj, busy, busyWhat, now)); err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case busy:
		return ctrl.Result{RequeueAfter: busyUntil.Sub(now)}, nil
	case c.gvk == fake.DBInstanceGVK && c.clusterServer(ctx, obj) == nil:
		return ctrl.Result{RequeueAfter: ackRetry}, nil // the instance waits for its cluster
	}
	return ctrl.Result{}, nil
}

func (a *ackPlayer) stateOf(uid types.UID) *ackObjectState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.state[uid]
	if !ok {
		st = &ackObjectState{}
		a.state[uid] = st
	}
	return st
}

// creatingStatus is the status while AWS creates the resource.
func (c *ackController) creatingStatus(obj *unstructured.Unstructured, now time.Time) map[string]any {
	switch c.gvk {
	case fake.DBSubnetGroupGVK:
		return fake.DBSubnetGroupCompleteStatus(obj, c.a.acct, now)
	case fake.DBClusterGVK:
		return fake.DBClusterCreatingStatus(obj, c.a.acct, now)
	case fake.DBInstanceGVK:
		return fake.DBInstanceCreatingStatus(obj, c.a.acct, now)
	}
	return fake.ServerlessCacheCreatingStatus(obj, c.a.acct, now)
}

// statusOf is the status of a created resource: busy (creating or modifying), or
// available at its server's endpoint.
func (c *ackController) statusOf(ctx context.Context, obj *unstructured.Unstructured, busy bool, what string, now time.Time) map[string]any {
	acct := c.a.acct
	switch c.gvk {
	case fake.DBSubnetGroupGVK:
		return fake.DBSubnetGroupCompleteStatus(obj, acct, now)
	case fake.DBClusterGVK:
		ep := c.a.databaseEndpoint(obj.GetUID())
		switch {
		case !busy:
			return fake.DBClusterAvailableStatus(obj, acct, ep, now)
		case what == fake.RDSStatusCreating:
			return fake.DBClusterCreatingStatus(obj, acct, now)
		}
		return fake.DBClusterModifyingStatus(obj, acct, what, ep, now)
	case fake.DBInstanceGVK:
		// Available once created and its cluster is, on the cluster's server.
		db := c.clusterServer(ctx, obj)
		if busy || db == nil {
			return fake.DBInstanceCreatingStatus(obj, acct, now)
		}
		return fake.DBInstanceAvailableStatus(obj, acct, db.endpoint, now)
	}
	ep := c.a.cacheEndpoint(obj.GetUID())
	switch {
	case !busy:
		return fake.ServerlessCacheAvailableStatus(obj, acct, ep, now)
	case what == fake.RDSStatusCreating:
		return fake.ServerlessCacheCreatingStatus(obj, acct, now)
	}
	return fake.ServerlessCacheModifyingStatus(obj, acct, ep, now)
}

func (a *ackPlayer) databaseEndpoint(uid types.UID) fake.Endpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	if db, ok := a.databases[uid]; ok {
		return db.endpoint
	}
	return fake.Endpoint{}
}

func (a *ackPlayer) cacheEndpoint(uid types.UID) fake.Endpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.caches[uid]; ok {
		return c.endpoint
	}
	return fake.Endpoint{}
}

// clusterServer is the server of a DB instance's cluster once that cluster is
// available, or nil.
func (c *ackController) clusterServer(ctx context.Context, instance *unstructured.Unstructured) *dbServer {
	cl := c.cluster(ctx, instance)
	if cl == nil {
		return nil
	}
	if st, _, _ := unstructured.NestedString(cl.Object, "status", "status"); st != fake.RDSStatusAvailable {
		return nil
	}
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	return c.a.databases[cl.GetUID()]
}

// cluster is the DBCluster a DBInstance names, or nil.
func (c *ackController) cluster(ctx context.Context, instance *unstructured.Unstructured) *unstructured.Unstructured {
	id := specString(instance, "dbClusterIdentifier")
	var found *unstructured.Unstructured
	_ = c.each(ctx, instance.GetNamespace(), fake.DBClusterGVK, func(u *unstructured.Unstructured) bool {
		if specString(u, "dbClusterIdentifier") == id {
			found = u
			return true
		}
		return false
	})
	return found
}

// each calls match on the objects of kind gvk in ns until it returns true.
func (c *ackController) each(ctx context.Context, ns string, gvk schema.GroupVersionKind, match func(*unstructured.Unstructured) bool) bool {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.a.client.List(ctx, list, client.InNamespace(ns)); err != nil {
		return false
	}
	for i := range list.Items {
		if match(&list.Items[i]) {
			return true
		}
	}
	return false
}

func (c *ackController) created(u *unstructured.Unstructured) bool {
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	st, ok := c.a.state[u.GetUID()]
	return ok && st.created
}

// createRefusal is why AWS would refuse to create the resource now: terminal when the
// master password Secret or key is missing, recoverable while what it needs does not
// exist yet (the subnet group, the cluster).
func (c *ackController) createRefusal(ctx context.Context, obj *unstructured.Unstructured) (terminal, recoverable string, err error) {
	ns := obj.GetNamespace()
	switch c.gvk {
	case fake.DBClusterGVK:
		if _, err := c.masterPassword(ctx, obj); err != nil {
			if errors.Is(err, errSecretNotFound) {
				return fake.SecretNotFoundMessage, "", nil
			}
			return "", "", err
		}
		group := specString(obj, "dbSubnetGroupName")
		if !c.each(ctx, ns, fake.DBSubnetGroupGVK, func(u *unstructured.Unstructured) bool {
			return specString(u, "name") == group && c.created(u)
		}) {
			return "", fmt.Sprintf("DBSubnetGroupNotFoundFault: DBSubnetGroup '%s' not found.", group), nil
		}
	case fake.DBInstanceGVK:
		if cl := c.cluster(ctx, obj); cl == nil || !c.created(cl) {
			return "", fmt.Sprintf("DBClusterNotFoundFault: DBCluster %s not found.", specString(obj, "dbClusterIdentifier")), nil
		}
	}
	return "", "", nil
}

var errSecretNotFound = errors.New(fake.SecretNotFoundMessage)

// masterPassword reads the password spec.masterUserPassword refers to, past the cache,
// as ACK does.
func (c *ackController) masterPassword(ctx context.Context, obj *unstructured.Unstructured) (string, error) {
	ref, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "masterUserPassword")
	ns := ref["namespace"]
	if ns == "" {
		ns = "default" // as the runtime's SecretValueFromReference
	}
	secret := &corev1.Secret{}
	if err := c.a.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref["name"]}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", errSecretNotFound
		}
		return "", err
	}
	if len(secret.Data[ref["key"]]) == 0 {
		return "", errSecretNotFound
	}
	return string(secret.Data[ref["key"]]), nil
}

// provision starts the resource's server: a DBCluster's PostgreSQL (with its database
// and master user), a ServerlessCache's Redis. It returns the port to write back (0:
// none).
func (c *ackController) provision(ctx context.Context, obj *unstructured.Unstructured) (int64, error) {
	switch c.gvk {
	case fake.DBClusterGVK:
		password, err := c.masterPassword(ctx, obj)
		if err != nil {
			return 0, err
		}
		db, err := c.a.startDatabase(ctx, specString(obj, "databaseName"), specString(obj, "masterUsername"), password)
		if err != nil {
			return 0, err
		}
		c.a.mu.Lock()
		c.a.databases[obj.GetUID()] = db
		c.a.mu.Unlock()
		return db.endpoint.Port, nil
	case fake.ServerlessCacheGVK:
		cache, err := c.a.startCache(ctx)
		if err != nil {
			return 0, err
		}
		c.a.mu.Lock()
		c.a.caches[obj.GetUID()] = cache
		c.a.mu.Unlock()
	}
	return 0, nil
}

// resetMasterPassword gives the master user the password of the Secret the cluster
// refers to now.
func (c *ackController) resetMasterPassword(ctx context.Context, obj *unstructured.Unstructured) error {
	password, err := c.masterPassword(ctx, obj)
	if err != nil {
		return err
	}
	c.a.mu.Lock()
	db := c.a.databases[obj.GetUID()]
	c.a.mu.Unlock()
	if db == nil {
		return errors.New("no database server for the cluster")
	}
	return db.exec(ctx, "ALTER ROLE "+pgx.Identifier{db.user}.Sanitize()+" PASSWORD "+quoteLiteral(password))
}

// reconcileDelete follows the object's deletion policy, then removes ACK's finalizer.
func (c *ackController) reconcileDelete(ctx context.Context, obj *unstructured.Unstructured) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, fake.Finalizer(c.gvk)) {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	uid := obj.GetUID()
	st := c.a.stateOf(uid)
	policy := fake.DeletionPolicy(obj)
	if policy == "delete" && st.created {
		if msg := c.deleteRefusal(ctx, obj); msg != "" {
			cur, _ := obj.Object["status"].(map[string]any)
			return ctrl.Result{RequeueAfter: ackRetry}, c.writeStatus(ctx, obj, fake.WithRecoverable(obj, cur, msg, now))
		}
		c.a.mu.Lock()
		until, deleting := st.busyUntil, st.busyWhat == fake.RDSStatusDeleting
		if !deleting {
			until = now.Add(c.a.delay)
			st.busyUntil, st.busyWhat = until, fake.RDSStatusDeleting
		}
		c.a.mu.Unlock()
		if !deleting && c.gvk != fake.DBSubnetGroupGVK {
			if err := c.writeStatus(ctx, obj, c.deletingStatus(obj, now)); err != nil {
				return ctrl.Result{}, err
			}
		}
		if now.Before(until) {
			return ctrl.Result{RequeueAfter: until.Sub(now)}, nil
		}
		if err := c.deprovision(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	} else if policy == "retain" {
		c.a.retain(obj)
	}
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.RemoveFinalizer(obj, fake.Finalizer(c.gvk))
	if err := c.a.client.Patch(ctx, obj, patch, client.FieldOwner(c.manager)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	c.a.mu.Lock()
	delete(c.a.state, uid)
	c.a.mu.Unlock()
	return ctrl.Result{}, nil
}

// deleteRefusal is why AWS would refuse to delete the resource now.
func (c *ackController) deleteRefusal(ctx context.Context, obj *unstructured.Unstructured) string {
	ns := obj.GetNamespace()
	switch c.gvk {
	case fake.DBClusterGVK:
		id := specString(obj, "dbClusterIdentifier")
		if c.each(ctx, ns, fake.DBInstanceGVK, func(u *unstructured.Unstructured) bool { return specString(u, "dbClusterIdentifier") == id }) {
			return "InvalidDBClusterStateFault: Cluster cannot be deleted, it still contains DB instances in non-deleting state."
		}
		skip, snapshot, err := fake.FinalSnapshot(obj)
		switch {
		case err != nil:
			return "InvalidParameterValue: " + err.Error()
		case !skip && snapshot == "":
			return "InvalidParameterCombination: FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
		case !skip && c.a.snapshotTaken(snapshot):
			return fmt.Sprintf("DBClusterSnapshotAlreadyExistsFault: Cannot create the cluster snapshot because one with the identifier %s already exists.", snapshot)
		}
	case fake.DBSubnetGroupGVK:
		name := specString(obj, "name")
		if c.each(ctx, ns, fake.DBClusterGVK, func(u *unstructured.Unstructured) bool { return specString(u, "dbSubnetGroupName") == name }) {
			return fmt.Sprintf("InvalidDBSubnetGroupStateFault: Cannot delete the subnet group '%s' because at least one database cluster is still using it.", name)
		}
	}
	return ""
}

func (c *ackController) deletingStatus(obj *unstructured.Unstructured, now time.Time) map[string]any {
	switch c.gvk {
	case fake.DBClusterGVK:
		return fake.DBClusterDeletingStatus(obj, c.a.acct, now)
	case fake.DBInstanceGVK:
		return fake.DBInstanceDeletingStatus(obj, c.a.acct, now)
	}
	return fake.ServerlessCacheDeletingStatus(obj, c.a.acct, now)
}

// deprovision takes a DBCluster's final snapshot when asked, and stops its server (or
// a ServerlessCache's).
func (c *ackController) deprovision(ctx context.Context, obj *unstructured.Unstructured) error {
	uid := obj.GetUID()
	switch c.gvk {
	case fake.DBClusterGVK:
		c.a.mu.Lock()
		db := c.a.databases[uid]
		c.a.mu.Unlock()
		if db == nil {
			return nil
		}
		if skip, id, _ := fake.FinalSnapshot(obj); !skip {
			if err := c.a.snapshot(ctx, db, id); err != nil {
				return fmt.Errorf("taking the final snapshot %s: %w", id, err)
			}
		}
		db.pg.Stop()
		c.a.mu.Lock()
		delete(c.a.databases, uid)
		c.a.mu.Unlock()
	case fake.ServerlessCacheGVK:
		c.a.mu.Lock()
		cache := c.a.caches[uid]
		delete(c.a.caches, uid)
		c.a.mu.Unlock()
		if cache != nil {
			cache.redis.Stop()
		}
	}
	return nil
}

// retain records a retained DBCluster's database, whose server keeps running.
func (a *ackPlayer) retain(obj *unstructured.Unstructured) {
	if obj.GroupVersionKind() != fake.DBClusterGVK {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	db, ok := a.databases[obj.GetUID()]
	if !ok {
		return
	}
	a.retained = append(a.retained, RetainedDatabase{
		Namespace: obj.GetNamespace(), Name: obj.GetName(), Identifier: specString(obj, "dbClusterIdentifier"),
		Endpoint: db.endpoint, Database: db.database, User: db.user,
	})
}

func (a *ackPlayer) snapshotTaken(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.snapshots[id]
	return ok
}

// snapshot dumps the cluster's database into snapshots/<id>.sql.
func (a *ackPlayer) snapshot(ctx context.Context, db *dbServer, id string) error {
	pgDump, err := PgDumpPath()
	if err != nil {
		return err
	}
	u, err := url.Parse(db.pg.URL)
	if err != nil {
		return err
	}
	u.Path = "/" + db.database
	path := filepath.Join(a.dir, "snapshots", id+".sql")
	cmd := exec.CommandContext(ctx, pgDump, "--no-owner", "--file", path, u.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, out)
	}
	a.mu.Lock()
	a.snapshots[id] = path
	a.mu.Unlock()
	return nil
}

// writeBack patches the spec fields AWS reports back (fake's write-backs; port is the
// server's, when not 0) and, for a DB cluster, the last-applied secret reference.
func (c *ackController) writeBack(ctx context.Context, obj *unstructured.Unstructured, creating bool, port int64) error {
	var fields map[string]any
	switch c.gvk {
	case fake.DBSubnetGroupGVK:
		fields = fake.DBSubnetGroupWriteBacks(obj)
	case fake.DBClusterGVK:
		fields = fake.DBClusterWriteBacks(obj, c.a.acct)
		if port != 0 {
			fields["port"] = port
		}
	case fake.DBInstanceGVK:
		fields = fake.DBInstanceWriteBacks(obj, c.a.acct, c.cluster(ctx, obj))
	default:
		fields = fake.ServerlessCacheWriteBacks(obj, c.a.acct)
	}
	before := obj.DeepCopy()
	changed := false
	for k, v := range fields {
		cur, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", k)
		if found && !creating && k != "vpcSecurityGroupIDs" && k != "subnetIDs" && k != "securityGroupIDs" {
			continue // after creation, only the lists AWS reorders are rewritten
		}
		if !found || !equality.Semantic.DeepEqual(cur, v) {
			_ = unstructured.SetNestedField(obj.Object, v, "spec", k)
			changed = true
		}
	}
	if c.gvk == fake.DBClusterGVK {
		if ref := fake.LastAppliedSecretReference(obj); obj.GetAnnotations()[fake.AnnotationLastAppliedSecret] != ref {
			a := obj.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[fake.AnnotationLastAppliedSecret] = ref
			obj.SetAnnotations(a)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return c.a.client.Patch(ctx, obj, client.MergeFrom(before), client.FieldOwner(c.manager))
}

// writeStatus updates the status subresource when st differs from the object's.
func (c *ackController) writeStatus(ctx context.Context, obj *unstructured.Unstructured, st map[string]any) error {
	if cur, _ := obj.Object["status"].(map[string]any); equality.Semantic.DeepEqual(cur, normalize(st)) {
		return nil
	}
	obj.Object["status"] = st
	err := c.a.client.Status().Update(ctx, obj, client.FieldOwner(c.manager))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // the next event brings the stand-in back
	}
	return err
}

// normalize makes st compare equal to the same content decoded from JSON.
func normalize(st map[string]any) map[string]any {
	b, err := json.Marshal(st)
	if err != nil {
		return st
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(append(append([]byte(`{"apiVersion":"v1","kind":"X","status":`), b...), '}')); err != nil {
		return st
	}
	m, _ := u.Object["status"].(map[string]any)
	return m
}

// startDatabase starts a PostgreSQL server that requires TLS (with the throwaway CA's
// certificate) and a password for everyone but its superuser, and creates the master
// user and the database it owns.
func (a *ackPlayer) startDatabase(ctx context.Context, database, user, password string) (*dbServer, error) {
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		return nil, err
	}
	db := &dbServer{pg: pg, endpoint: fake.Endpoint{Address: podIP, Port: int64(pg.Port)}, database: database, user: user}
	ok := false
	defer func() {
		if !ok {
			pg.Stop()
		}
	}()
	var dataDir string
	if err := db.query(ctx, "SHOW data_directory", &dataDir); err != nil {
		return nil, err
	}
	db.logPath = filepath.Join(filepath.Dir(dataDir), "postgres.log")
	if bin, err := testenv.FindPostgresBin(); err == nil {
		_ = a.guard.Kill(childrenIn(bin)...)
	}
	_ = a.guard.Remove(filepath.Dir(dataDir))
	if err := a.enableTLS(ctx, db, dataDir); err != nil {
		return nil, err
	}
	for _, stmt := range []string{
		"CREATE ROLE " + pgx.Identifier{user}.Sanitize() + " LOGIN CREATEDB PASSWORD " + quoteLiteral(password),
		"CREATE DATABASE " + pgx.Identifier{database}.Sanitize() + " OWNER " + pgx.Identifier{user}.Sanitize(),
	} {
		if err := db.exec(ctx, stmt); err != nil {
			return nil, err
		}
	}
	// What the shop will do: TLS verified against the CA, the master user's password.
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: fmt.Sprintf("%s:%d", podIP, pg.Port),
		Path: "/" + database, RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {a.ca.CAFile}}.Encode()}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("connecting as the master user with TLS: %w", err)
	}
	_ = conn.Close(ctx)
	ok = true
	return db, nil
}

// enableTLS turns TLS on and requires it (and a password) from everyone but the
// superuser, as RDS does with rds.force_ssl; PostgreSQL applies both on reload.
func (a *ackPlayer) enableTLS(ctx context.Context, db *dbServer, dataDir string) error {
	st, err := os.Stat(dataDir)
	if err != nil {
		return err
	}
	owner := st.Sys().(*syscall.Stat_t)
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{{a.ca.CertFile, "server.crt", 0o644}, {a.ca.KeyFile, "server.key", 0o600}} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			return err
		}
		to := filepath.Join(dataDir, f.to)
		if err := os.WriteFile(to, b, f.mode); err != nil {
			return err
		}
		// PostgreSQL refuses a key it does not own.
		if err := os.Chown(to, int(owner.Uid), int(owner.Gid)); err != nil {
			return err
		}
	}
	hba := `# Written by localcluster: TLS and a password for all but the superuser.
local all all trust
host all postgres 127.0.0.1/32 trust
host all postgres ::1/128 trust
hostssl all all 127.0.0.1/32 scram-sha-256
hostssl all all ::1/128 scram-sha-256
`
	hbaPath := filepath.Join(dataDir, "pg_hba.conf")
	if err := os.WriteFile(hbaPath, []byte(hba), 0o600); err != nil {
		return err
	}
	if err := os.Chown(hbaPath, int(owner.Uid), int(owner.Gid)); err != nil {
		return err
	}
	for _, stmt := range []string{
		"ALTER SYSTEM SET ssl = on",
		"ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
		"ALTER SYSTEM SET ssl_key_file = 'server.key'",
		"ALTER SYSTEM SET password_encryption = 'scram-sha-256'",
		"SELECT pg_reload_conf()",
	} {
		if err := db.exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one statement as the superuser on the server's postgres database.
func (db *dbServer) exec(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, db.pg.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", firstWords(stmt), err)
	}
	return nil
}

func (db *dbServer) query(ctx context.Context, q string, dest ...any) error {
	conn, err := pgx.Connect(ctx, db.pg.URL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	return conn.QueryRow(ctx, q).Scan(dest...)
}

// firstWords keeps a statement's first words for an error message (no password).
func firstWords(stmt string) string {
	n := 0
	for i, r := range stmt {
		if r == ' ' {
			if n++; n == 3 {
				return stmt[:i]
			}
		}
	}
	return stmt
}

// quoteLiteral quotes s as an SQL string literal: DDL takes no parameters.
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// startCache starts a redis-server that accepts TLS only, as ElastiCache Serverless does.
func (a *ackPlayer) startCache(ctx context.Context) (*cacheServer, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	r, err := testenv.StartRedis(ctx, "--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", a.ca.CertFile, "--tls-key-file", a.ca.KeyFile, "--tls-ca-cert-file", a.ca.CAFile,
		"--tls-auth-clients", "no")
	if err != nil {
		return nil, err
	}
	cache := &cacheServer{redis: r, endpoint: fake.Endpoint{Address: podIP, Port: int64(port)}}
	if bin, err := exec.LookPath("redis-server"); err == nil {
		_ = a.guard.Kill(childrenIn(filepath.Dir(bin))...)
	}
	// What the shop will do: rediss:// verified against the CA.
	opts, err := redis.ParseURL(fmt.Sprintf("rediss://%s:%d/0", podIP, port))
	if err != nil {
		r.Stop()
		return nil, err
	}
	opts.TLSConfig.RootCAs, err = a.ca.pool()
	if err != nil {
		r.Stop()
		return nil, err
	}
	rc := redis.NewClient(opts)
	defer func() { _ = rc.Close() }()
	cfg, err := rc.ConfigGet(ctx, "logfile").Result()
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("reaching redis-server with TLS: %w", err)
	}
	cache.logPath = cfg["logfile"]
	_ = a.guard.Remove(filepath.Dir(cache.logPath))
	return cache, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func specString(obj *unstructured.Unstructured, field string) string {
	s, _, _ := unstructured.NestedString(obj.Object, "spec", field)
	return s
}
