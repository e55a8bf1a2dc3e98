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

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ACKFault forces what the ACK stand-in reports for one object, as the real controllers
// would on an AWS failure. At most one field is set; the zero value clears the fault.
type ACKFault struct {
	// Terminal is the message of an ACK.Terminal condition (for example
	// "InvalidParameterValue: The engine version 16.1 is not supported"); ACK then
	// reports the resource synced.
	Terminal string
	// Recoverable is the message of an ACK.Recoverable condition; Synced is False.
	Recoverable string
	// Status forces the resource's own status (failed, say) while ACK says synced.
	Status string
}

// Provisioner puts real resources behind the ACK stand-in's objects
// (Options.Provisioner; test/localcluster runs servers). The stand-in keeps its state
// machine and writes everything on the objects; it calls the Provisioner at the
// moments AWS would act, never concurrently for one object. Kinds a Provisioner has no
// resource for (DBSubnetGroup, DBInstance: an instance is served by its cluster) it
// just accepts.
type Provisioner interface {
	// Provision creates obj's resource once AWS would accept it; masterPassword is a
	// DBCluster's, read from its Secret ("" for other kinds). The status says creating
	// meanwhile; an error is reported as ACK.Recoverable and provisioning retried.
	Provision(ctx context.Context, gvk schema.GroupVersionKind, obj *unstructured.Unstructured, masterPassword string) error
	// Endpoint is where the DBCluster's or ServerlessCache's resource listens (false:
	// it has none); the status reports it, a DBCluster's port is written back, and a
	// DBInstance is available on its cluster's once there is one.
	Endpoint(gvk schema.GroupVersionKind, obj *unstructured.Unstructured) (Endpoint, bool)
	// ResetMasterPassword gives a DBCluster's master user the password of the Secret it
	// refers to now; an error is reported as ACK.Recoverable and the reset retried.
	ResetMasterPassword(ctx context.Context, obj *unstructured.Unstructured, password string) error
	// Deprovision is called before ACK lets go of a deleted obj: policy retain keeps
	// the resource, delete removes it after taking the final snapshot snapshotID ("":
	// none). An error keeps the finalizer, and the call is retried.
	Deprovision(ctx context.Context, gvk schema.GroupVersionKind, obj *unstructured.Unstructured, policy, snapshotID string) error
}

// ACKDeletion records one ACK object the stand-in let go of, in the order it did.
type ACKDeletion struct {
	Kind, Namespace, Name string
	// Policy is the deletion policy it followed: delete or retain.
	Policy string
	// FinalSnapshot is the final snapshot RDS took of a DB cluster, "" when none.
	FinalSnapshot string
	// Requested is when the stand-in first saw the object deleted; Released when it
	// removed its finalizer.
	Requested, Released time.Time
}

// ackKinds are the kinds the ACK stand-in plays, with their controllers' field managers.
var ackKinds = []struct {
	gvk     schema.GroupVersionKind
	manager string
}{
	{DBSubnetGroupGVK, "ack-rds-controller"},
	{DBClusterGVK, "ack-rds-controller"},
	{DBInstanceGVK, "ack-rds-controller"},
	{ServerlessCacheGVK, "ack-elasticache-controller"},
}

// ackMemory is what the stand-in remembers of AWS between reconciles, as AWS would.
type ackMemory struct {
	faults    map[string]ACKFault     // by kind/namespace/name
	created   map[types.UID]bool      // the AWS resource exists
	syncedGen map[types.UID]int64     // the generation last sent to AWS
	busyUntil map[types.UID]time.Time // creating, modifying or deleting until then
	busyWhat  map[types.UID]string    // the own status while busy
	requested map[types.UID]time.Time // first seen deleted
	snapshots map[string]bool         // final snapshot identifiers taken
	deletions []ACKDeletion           // released, in order
	events    map[string]chan event.GenericEvent
	hold      bool // deletions held
}

func newACKMemory() ackMemory {
	return ackMemory{
		faults: map[string]ACKFault{}, created: map[types.UID]bool{}, syncedGen: map[types.UID]int64{},
		busyUntil: map[types.UID]time.Time{}, busyWhat: map[types.UID]string{}, requested: map[types.UID]time.Time{},
		snapshots: map[string]bool{}, events: map[string]chan event.GenericEvent{},
	}
}

func faultKey(gvk schema.GroupVersionKind, key client.ObjectKey) string {
	return gvk.Kind + "/" + key.String()
}

// SetACKFault makes the ACK stand-in report f for the object of kind gvk at key, at once.
func (s *StandIns) SetACKFault(gvk schema.GroupVersionKind, key client.ObjectKey, f ACKFault) {
	s.mu.Lock()
	if f == (ACKFault{}) {
		delete(s.ack.faults, faultKey(gvk, key))
	} else {
		s.ack.faults[faultKey(gvk, key)] = f
	}
	ch := s.ack.events[gvk.Kind]
	s.mu.Unlock()
	if ch != nil {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		obj.SetNamespace(key.Namespace)
		obj.SetName(key.Name)
		ch <- event.GenericEvent{Object: obj}
	}
}

// HoldACKDeletions stops (true) or resumes (false) the ACK stand-in's deletions: while
// held, deleted ACK objects keep their finalizer, as while AWS deletes a cluster.
func (s *StandIns) HoldACKDeletions(hold bool) {
	s.mu.Lock()
	s.ack.hold = hold
	s.mu.Unlock()
	for _, k := range ackKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		s.mu.Lock()
		ch := s.ack.events[k.gvk.Kind]
		s.mu.Unlock()
		if ch != nil {
			s.requeueAll(context.Background(), list, ch)
		}
	}
}

// ACKDeletions lists the ACK objects the stand-in let go of, in order.
func (s *StandIns) ACKDeletions() []ACKDeletion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ACKDeletion(nil), s.ack.deletions...)
}

// setupACK registers the ACK stand-in's controllers for the kinds the API server serves.
func (s *StandIns) setupACK(mgr manager.Manager) error {
	for _, k := range ackKinds {
		if _, err := mgr.GetRESTMapper().RESTMapping(k.gvk.GroupKind(), k.gvk.Version); err != nil {
			continue // no CRD, nothing to play
		}
		ch := make(chan event.GenericEvent, 1024)
		s.mu.Lock()
		s.ack.events[k.gvk.Kind] = ch
		s.mu.Unlock()
		c := &ackController{s: s, gvk: k.gvk, manager: k.manager}
		b := ctrl.NewControllerManagedBy(mgr).Named("fake-ack-" + k.gvk.Kind).
			For(newUnstructured(k.gvk)).
			WatchesRawSource(source.Channel(ch, &handler.EnqueueRequestForObject{})).
			// A fleet of objects waits on each other; AWS works on them in parallel.
			WithOptions(controller.Options{MaxConcurrentReconciles: 4})
		// What AWS waits for, the stand-in watches, rather than polling: a cluster waits
		// for its subnet group (created) and its instances (deleted), an instance for its
		// cluster (available), a subnet group for its clusters (deleted).
		for _, dep := range ackDependencies[k.gvk] {
			b = b.Watches(newUnstructured(dep.source), handler.EnqueueRequestsFromMapFunc(s.dependents(k.gvk, dep)))
		}
		if err := b.Complete(c); err != nil {
			return fmt.Errorf("setting up the %s stand-in: %w", k.gvk.Kind, err)
		}
	}
	return nil
}

// ackDependency says that objects of a kind depend on objects of source: the target's
// spec field targetField names the source by its spec field sourceField.
type ackDependency struct {
	source                   schema.GroupVersionKind
	targetField, sourceField string
}

var ackDependencies = map[schema.GroupVersionKind][]ackDependency{
	DBClusterGVK: {
		{DBSubnetGroupGVK, "dbSubnetGroupName", "name"},
		{DBInstanceGVK, "dbClusterIdentifier", "dbClusterIdentifier"},
	},
	DBInstanceGVK:    {{DBClusterGVK, "dbClusterIdentifier", "dbClusterIdentifier"}},
	DBSubnetGroupGVK: {{DBClusterGVK, "name", "dbSubnetGroupName"}},
}

// dependents maps an object of dep.source to the objects of kind target that name it.
func (s *StandIns) dependents(target schema.GroupVersionKind, dep ackDependency) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return nil
		}
		value := specString(u, dep.sourceField)
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(target.GroupVersion().WithKind(target.Kind + "List"))
		if value == "" || s.client.List(ctx, list, client.InNamespace(u.GetNamespace())) != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			if specString(&list.Items[i], dep.targetField) == value {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return reqs
	}
}

func newUnstructured(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// ackController plays one ACK kind. A new object gets ACK's finalizer; its AWS resource
// is "created" when its dependencies exist (else ACK.Recoverable, as AWS refuses), ACK
// writes back the spec fields AWS reports, and the resource is creating for
// Options.ACKDelay, then available. A spec change makes it modifying for ACKDelay (a new
// master password: resetting-master-credentials, with last-applied-secret-reference
// updated). A deleted object follows its deletion policy: retain lets go at once;
// delete waits for what AWS waits for (a cluster's instances, a subnet group's
// clusters), takes the final snapshot the annotations ask for, is deleting for
// ACKDelay, then lets go. With a Provisioner, the resource is provisioned (status
// creating) before it counts as created, and reports the Provisioner's endpoints.
type ackController struct {
	s       *StandIns
	gvk     schema.GroupVersionKind
	manager string
}

// retryAfter is how soon ACK retries a recoverable error, in the stand-in (the watches
// of what it waits for usually bring it back sooner).
const retryAfter = time.Second

func (c *ackController) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(c.gvk)
	if err := c.s.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return c.reconcileDelete(ctx, obj)
	}
	now := c.s.now()
	if !controllerutil.ContainsFinalizer(obj, Finalizer(c.gvk)) {
		patch := client.MergeFrom(obj.DeepCopy())
		controllerutil.AddFinalizer(obj, Finalizer(c.gvk))
		if err := c.s.client.Patch(ctx, obj, patch, client.FieldOwner(c.manager)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	uid := obj.GetUID()
	c.s.mu.Lock()
	created, syncedGen, fault := c.s.ack.created[uid], c.s.ack.syncedGen[uid], c.s.ack.faults[faultKey(c.gvk, req.NamespacedName)]
	c.s.mu.Unlock()

	if !created {
		terminal, recoverable, err := c.createRefusal(ctx, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		if terminal != "" || recoverable != "" {
			st := map[string]any{"ackResourceMetadata": map[string]any{"ownerAccountID": c.s.acct.ID, "region": Region(obj, c.s.acct)}}
			if terminal != "" {
				// A terminal error is not retried until the spec changes; the stand-in
				// checks again on its next event.
				return ctrl.Result{}, c.writeStatus(ctx, obj, WithTerminal(obj, st, terminal, now))
			}
			return ctrl.Result{RequeueAfter: c.s.ackRetry}, c.writeStatus(ctx, obj, WithRecoverable(obj, st, recoverable, now))
		}
		if c.s.prov != nil {
			// A server takes seconds to start: the status says creating meanwhile.
			creating, _ := c.status(ctx, obj, true, RDSStatusCreating, now)
			if err := c.writeStatus(ctx, obj, creating); err != nil {
				return ctrl.Result{}, err
			}
			if err := c.provision(ctx, obj); err != nil {
				log.FromContext(ctx).Error(err, "Provisioning")
				return ctrl.Result{RequeueAfter: retryAfter}, c.writeStatus(ctx, obj, WithRecoverable(obj, creating, err.Error(), now))
			}
		}
		if err := c.writeBack(ctx, obj, true); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		c.s.mu.Lock()
		c.s.ack.created[uid] = true
		c.s.ack.syncedGen[uid] = obj.GetGeneration()
		c.s.ack.busyUntil[uid] = now.Add(c.s.ackDelay)
		c.s.ack.busyWhat[uid] = RDSStatusCreating
		c.s.mu.Unlock()
	} else if obj.GetGeneration() != syncedGen {
		what := RDSStatusModifying
		if c.gvk == DBClusterGVK && obj.GetAnnotations()[AnnotationLastAppliedSecret] != LastAppliedSecretReference(obj) {
			what = RDSStatusResettingMasterCredentials
			if err := c.resetMasterPassword(ctx, obj); err != nil {
				st, _ := c.status(ctx, obj, true, what, now)
				return ctrl.Result{RequeueAfter: retryAfter}, c.writeStatus(ctx, obj, WithRecoverable(obj, st, err.Error(), now))
			}
		}
		if err := c.writeBack(ctx, obj, false); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		c.s.mu.Lock()
		c.s.ack.syncedGen[uid] = obj.GetGeneration()
		if c.gvk != DBSubnetGroupGVK { // a subnet group changes at once
			// A change keeps the resource busy into the next second at least, so that
			// the Synced condition that ends it has a later lastTransitionTime (a
			// second's resolution) than anything before the change, as on AWS, where a
			// change takes minutes.
			c.s.ack.busyUntil[uid] = later(now.Add(c.s.ackDelay), now.Truncate(time.Second).Add(time.Second))
			c.s.ack.busyWhat[uid] = what
		}
		c.s.mu.Unlock()
	}

	c.s.mu.Lock()
	busyUntil, busyWhat := c.s.ack.busyUntil[uid], c.s.ack.busyWhat[uid]
	c.s.mu.Unlock()
	busy := now.Before(busyUntil)
	st, err := c.status(ctx, obj, busy, busyWhat, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case fault.Terminal != "":
		st = WithTerminal(obj, st, fault.Terminal, now)
	case fault.Recoverable != "":
		st = WithRecoverable(obj, st, fault.Recoverable, now)
	case fault.Status != "":
		st = WithOwnStatus(obj, st, fault.Status, now)
	}
	if err := c.writeStatus(ctx, obj, st); err != nil {
		return ctrl.Result{}, err
	}
	if busy {
		return ctrl.Result{RequeueAfter: busyUntil.Sub(now)}, nil
	}
	if c.gvk == DBInstanceGVK && c.s.prov != nil {
		if _, ok := c.instanceEndpoint(ctx, obj); !ok {
			// No event says when the cluster's server is there; the instance polls.
			return ctrl.Result{RequeueAfter: c.s.ackRetry}, nil
		}
	}
	return ctrl.Result{}, nil
}

// provision has the Provisioner create the resource, a DBCluster with its master
// password.
func (c *ackController) provision(ctx context.Context, obj *unstructured.Unstructured) error {
	password := ""
	if c.gvk == DBClusterGVK {
		var err error
		if password, err = c.masterPassword(ctx, obj); err != nil {
			return err
		}
	}
	return c.s.prov.Provision(ctx, c.gvk, obj, password)
}

// resetMasterPassword has the Provisioner apply the DBCluster's new master password.
func (c *ackController) resetMasterPassword(ctx context.Context, obj *unstructured.Unstructured) error {
	if c.s.prov == nil {
		return nil
	}
	password, err := c.masterPassword(ctx, obj)
	if err != nil {
		return err
	}
	return c.s.prov.ResetMasterPassword(ctx, obj, password)
}

// endpoint is where a DBCluster or ServerlessCache is served: the Provisioner's
// resource, else a made-up AWS hostname.
func (c *ackController) endpoint(obj *unstructured.Unstructured) Endpoint {
	if c.s.prov != nil {
		ep, _ := c.s.prov.Endpoint(c.gvk, obj)
		return ep
	}
	if c.gvk == DBClusterGVK {
		return DBClusterEndpoint(obj, c.s.acct)
	}
	return ServerlessCacheEndpoint(obj, c.s.acct)
}

// status is the object's status: busy (creating or modifying) or available.
func (c *ackController) status(ctx context.Context, obj *unstructured.Unstructured, busy bool, what string, now time.Time) (map[string]any, error) {
	acct := c.s.acct
	switch c.gvk {
	case DBSubnetGroupGVK:
		return DBSubnetGroupCompleteStatus(obj, acct, now), nil
	case DBClusterGVK:
		ep := c.endpoint(obj)
		if !busy {
			return DBClusterAvailableStatus(obj, acct, ep, now), nil
		}
		if what == RDSStatusCreating {
			return DBClusterCreatingStatus(obj, acct, now), nil
		}
		return DBClusterModifyingStatus(obj, acct, what, ep, now), nil
	case DBInstanceGVK:
		// The instance is available once it is created and its cluster is.
		if busy {
			return DBInstanceCreatingStatus(obj, acct, now), nil
		}
		ep, ok := c.instanceEndpoint(ctx, obj)
		if !ok {
			return DBInstanceCreatingStatus(obj, acct, now), nil
		}
		return DBInstanceAvailableStatus(obj, acct, ep, now), nil
	default:
		ep := c.endpoint(obj)
		switch {
		case !busy:
			return ServerlessCacheAvailableStatus(obj, acct, ep, now), nil
		case what == RDSStatusCreating:
			return ServerlessCacheCreatingStatus(obj, acct, now), nil
		}
		return ServerlessCacheModifyingStatus(obj, acct, ep, now), nil
	}
}

// createRefusal is why AWS would refuse to create the resource now: a terminal error
// (the master password Secret or key is missing: ACK reads it past its cache, and fails
// for good), or a recoverable one (the DB subnet group or the cluster does not exist
// yet).
func (c *ackController) createRefusal(ctx context.Context, obj *unstructured.Unstructured) (terminal, recoverable string, err error) {
	ns := obj.GetNamespace()
	switch c.gvk {
	case DBClusterGVK:
		if _, err := c.masterPassword(ctx, obj); err != nil {
			if errors.Is(err, errSecretNotFound) {
				return SecretNotFoundMessage, "", nil
			}
			return "", "", err
		}
		group := specString(obj, "dbSubnetGroupName")
		found, err := c.exists(ctx, ns, DBSubnetGroupGVK, func(u *unstructured.Unstructured) bool {
			return specString(u, "name") == group && c.isCreated(u)
		})
		if err != nil || found {
			return "", "", err
		}
		return "", fmt.Sprintf("DBSubnetGroupNotFoundFault: DBSubnetGroup '%s' not found.", group), nil
	case DBInstanceGVK:
		cluster := specString(obj, "dbClusterIdentifier")
		found, err := c.exists(ctx, ns, DBClusterGVK, func(u *unstructured.Unstructured) bool {
			return specString(u, "dbClusterIdentifier") == cluster && c.isCreated(u)
		})
		if err != nil || found {
			return "", "", err
		}
		return "", fmt.Sprintf("DBClusterNotFoundFault: DBCluster %s not found.", cluster), nil
	}
	return "", "", nil
}

var errSecretNotFound = errors.New(SecretNotFoundMessage)

// masterPassword reads the password spec.masterUserPassword refers to, past the cache,
// as ACK does.
func (c *ackController) masterPassword(ctx context.Context, obj *unstructured.Unstructured) (string, error) {
	ref, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "masterUserPassword")
	ns := ref["namespace"]
	if ns == "" {
		ns = "default" // as the runtime's SecretValueFromReference
	}
	secret := &corev1.Secret{}
	if err := c.s.apiReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref["name"]}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", errSecretNotFound
		}
		return "", err
	}
	if len(secret.Data[ref["key"]]) == 0 || secret.Type != corev1.SecretTypeOpaque {
		return "", errSecretNotFound
	}
	return string(secret.Data[ref["key"]]), nil
}

// deleteRefusal is why AWS would refuse to delete the resource now.
func (c *ackController) deleteRefusal(ctx context.Context, obj *unstructured.Unstructured) (string, error) {
	ns := obj.GetNamespace()
	switch c.gvk {
	case DBClusterGVK:
		id := specString(obj, "dbClusterIdentifier")
		found, err := c.exists(ctx, ns, DBInstanceGVK, func(u *unstructured.Unstructured) bool {
			return specString(u, "dbClusterIdentifier") == id
		})
		if err != nil {
			return "", err
		}
		if found {
			return "InvalidDBClusterStateFault: Cluster cannot be deleted, it still contains DB instances in non-deleting state.", nil
		}
		skip, snapshot, err := FinalSnapshot(obj)
		switch {
		case err != nil:
			return "InvalidParameterValue: " + err.Error(), nil
		case !skip && snapshot == "":
			return "InvalidParameterCombination: FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.", nil
		case !skip && c.snapshotTaken(snapshot):
			return fmt.Sprintf("DBClusterSnapshotAlreadyExistsFault: Cannot create the cluster snapshot because one with the identifier %s already exists.", snapshot), nil
		}
	case DBSubnetGroupGVK:
		name := specString(obj, "name")
		found, err := c.exists(ctx, ns, DBClusterGVK, func(u *unstructured.Unstructured) bool {
			return specString(u, "dbSubnetGroupName") == name
		})
		if err != nil {
			return "", err
		}
		if found {
			return fmt.Sprintf("InvalidDBSubnetGroupStateFault: Cannot delete the subnet group '%s' because at least one database cluster is still using it.", name), nil
		}
	}
	return "", nil
}

// reconcileDelete follows the object's deletion policy, then removes ACK's finalizer.
func (c *ackController) reconcileDelete(ctx context.Context, obj *unstructured.Unstructured) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, Finalizer(c.gvk)) {
		return ctrl.Result{}, nil
	}
	now := c.s.now()
	uid := obj.GetUID()
	c.s.mu.Lock()
	if _, seen := c.s.ack.requested[uid]; !seen {
		c.s.ack.requested[uid] = now
	}
	hold, created := c.s.ack.hold, c.s.ack.created[uid]
	c.s.mu.Unlock()
	if hold {
		return ctrl.Result{}, nil // HoldACKDeletions(false) requeues it
	}
	policy := DeletionPolicy(obj)
	snapshot := ""
	if policy == "delete" && created {
		if msg, err := c.deleteRefusal(ctx, obj); err != nil || msg != "" {
			if err != nil {
				return ctrl.Result{}, err
			}
			st, _ := obj.Object["status"].(map[string]any)
			return ctrl.Result{RequeueAfter: c.s.ackRetry}, c.writeStatus(ctx, obj, WithRecoverable(obj, st, msg, now))
		}
		c.s.mu.Lock()
		until, deleting := c.s.ack.busyUntil[uid], c.s.ack.busyWhat[uid] == RDSStatusDeleting
		if !deleting {
			until = now.Add(c.s.ackDelay)
			c.s.ack.busyUntil[uid], c.s.ack.busyWhat[uid] = until, RDSStatusDeleting
		}
		c.s.mu.Unlock()
		if !deleting && c.gvk != DBSubnetGroupGVK {
			if err := c.writeStatus(ctx, obj, c.deletingStatus(obj, now)); err != nil {
				return ctrl.Result{}, err
			}
		}
		if now.Before(until) {
			return ctrl.Result{RequeueAfter: until.Sub(now)}, nil
		}
		if c.gvk == DBClusterGVK {
			if skip, id, _ := FinalSnapshot(obj); !skip {
				snapshot = id
			}
		}
	}
	if c.s.prov != nil {
		if err := c.s.prov.Deprovision(ctx, c.gvk, obj, policy, snapshot); err != nil {
			return ctrl.Result{}, err
		}
	}
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.RemoveFinalizer(obj, Finalizer(c.gvk))
	if err := c.s.client.Patch(ctx, obj, patch, client.FieldOwner(c.manager)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if snapshot != "" {
		c.s.ack.snapshots[snapshot] = true
	}
	c.s.ack.deletions = append(c.s.ack.deletions, ACKDeletion{
		Kind: c.gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Policy: policy,
		FinalSnapshot: snapshot, Requested: c.s.ack.requested[uid], Released: now,
	})
	for _, m := range []map[types.UID]time.Time{c.s.ack.busyUntil, c.s.ack.requested} {
		delete(m, uid)
	}
	delete(c.s.ack.created, uid)
	delete(c.s.ack.syncedGen, uid)
	delete(c.s.ack.busyWhat, uid)
	return ctrl.Result{}, nil
}

func (c *ackController) deletingStatus(obj *unstructured.Unstructured, now time.Time) map[string]any {
	switch c.gvk {
	case DBClusterGVK:
		return DBClusterDeletingStatus(obj, c.s.acct, now)
	case DBInstanceGVK:
		return DBInstanceDeletingStatus(obj, c.s.acct, now)
	}
	return ServerlessCacheDeletingStatus(obj, c.s.acct, now)
}

// writeBack patches the spec fields AWS reports back (and, for a DB cluster, the
// last-applied secret reference), only where they differ, as the runtime's
// patchResourceMetadataAndSpec does with a merge patch.
func (c *ackController) writeBack(ctx context.Context, obj *unstructured.Unstructured, creating bool) error {
	var fields map[string]any
	switch c.gvk {
	case DBSubnetGroupGVK:
		fields = DBSubnetGroupWriteBacks(obj)
	case DBClusterGVK:
		fields = DBClusterWriteBacks(obj, c.s.acct)
		if c.s.prov != nil {
			if ep, ok := c.s.prov.Endpoint(c.gvk, obj); ok {
				fields["port"] = ep.Port // the server's
			}
		}
	case DBInstanceGVK:
		fields = DBInstanceWriteBacks(obj, c.s.acct, c.cluster(ctx, obj))
	default:
		fields = ServerlessCacheWriteBacks(obj, c.s.acct)
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
	if c.gvk == DBClusterGVK {
		if ref := LastAppliedSecretReference(obj); obj.GetAnnotations()[AnnotationLastAppliedSecret] != ref {
			a := obj.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[AnnotationLastAppliedSecret] = ref
			obj.SetAnnotations(a)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return c.s.client.Patch(ctx, obj, client.MergeFrom(before), client.FieldOwner(c.manager))
}

// writeStatus updates the status subresource when st differs from the object's.
func (c *ackController) writeStatus(ctx context.Context, obj *unstructured.Unstructured, st map[string]any) error {
	if cur, _ := obj.Object["status"].(map[string]any); equality.Semantic.DeepEqual(cur, normalize(st)) {
		return nil
	}
	obj.Object["status"] = st
	err := c.s.client.Status().Update(ctx, obj, client.FieldOwner(c.manager))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // the next event brings the stand-in back
	}
	return err
}

// normalize makes st compare equal to the same content decoded from JSON: integers are
// int64 there, and []any of maps.
func normalize(st map[string]any) map[string]any {
	u := &unstructured.Unstructured{Object: map[string]any{"status": st}}
	b, err := u.MarshalJSON()
	if err != nil {
		return st
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(append([]byte(`{"apiVersion":"v1","kind":"X",`), b[1:]...)); err != nil {
		return st
	}
	m, _ := out.Object["status"].(map[string]any)
	return m
}

func (c *ackController) isCreated(u *unstructured.Unstructured) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.ack.created[u.GetUID()]
}

func (c *ackController) snapshotTaken(id string) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.ack.snapshots[id]
}

// exists reports whether an object of kind gvk in ns matches.
func (c *ackController) exists(ctx context.Context, ns string, gvk schema.GroupVersionKind, match func(*unstructured.Unstructured) bool) (bool, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.s.client.List(ctx, list, client.InNamespace(ns)); err != nil {
		return false, err
	}
	for i := range list.Items {
		if match(&list.Items[i]) {
			return true, nil
		}
	}
	return false, nil
}

// cluster is the DB cluster of a DB instance, or nil.
func (c *ackController) cluster(ctx context.Context, instance *unstructured.Unstructured) *unstructured.Unstructured {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(DBClusterGVK.GroupVersion().WithKind("DBClusterList"))
	if err := c.s.client.List(ctx, list, client.InNamespace(instance.GetNamespace())); err != nil {
		return nil
	}
	id := specString(instance, "dbClusterIdentifier")
	for i := range list.Items {
		if specString(&list.Items[i], "dbClusterIdentifier") == id {
			return &list.Items[i]
		}
	}
	return nil
}

// instanceEndpoint is where a DB instance is served once its cluster is available:
// with a Provisioner on the cluster's resource (false until there is one).
func (c *ackController) instanceEndpoint(ctx context.Context, instance *unstructured.Unstructured) (Endpoint, bool) {
	cl := c.cluster(ctx, instance)
	if cl == nil {
		return Endpoint{}, false
	}
	if st, _, _ := unstructured.NestedString(cl.Object, "status", "status"); st != RDSStatusAvailable {
		return Endpoint{}, false
	}
	if c.s.prov != nil {
		return c.s.prov.Endpoint(DBClusterGVK, cl)
	}
	return DBInstanceEndpoint(instance, c.s.acct), true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
