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

// The stand-in's AWS: the RDS and ElastiCache resources the ACK stand-in creates, kept
// per account, region and identifier, as AWS keeps them - not per Kubernetes object. A
// resource outlives its object: it goes on deleting for Options.ACKDelay after ACK let
// go of the object, and a retained one stays until something deletes it; an object
// created later with the same identifier finds it there ("Resource already exists", or
// adoption). The AWS answers the calls the controllers make (Create*, Describe*,
// Modify*, Delete*) with what AWS answers, including its errors, and changes state
// with time (creating, modifying, deleting) without telling anyone: ACK sees a change
// when it next reads, as it does against AWS.

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// AWSKey names a resource in the stand-in's AWS.
type AWSKey struct {
	Account, Region string
	// Kind is the ACK kind of the resource: DBSubnetGroup, DBCluster, DBInstance or
	// ServerlessCache.
	Kind string
	// ID is its identifier: the subnet group's name, the cluster's or the instance's
	// identifier (RDS keeps those in lower case), the serverless cache's name.
	ID string
}

func (k AWSKey) String() string { return k.Account + "/" + k.Region + "/" + k.Kind + "/" + k.ID }

// AWSResource is what AWS holds of a resource, as a Describe call returns it.
type AWSResource struct {
	Key AWSKey
	// Status is the resource's own status: status of a DBCluster or ServerlessCache,
	// dbInstanceStatus of a DBInstance, subnetGroupStatus of a DBSubnetGroup.
	Status string
	// Spec holds what AWS returns of the resource's settings, under the names of the
	// ACK CRD's spec fields.
	Spec map[string]any
	// Endpoint is where the resource is reached; nil until it has one.
	Endpoint *Endpoint
	// Created is when AWS accepted its creation.
	Created time.Time
	// Tags are the resource's tags, ACK's own included.
	Tags map[string]string
	// PendingAdd and PendingRemove are a user group's pending changes (the users it is
	// adding and removing while modifying).
	PendingAdd, PendingRemove []string
	// PasswordCount is how many passwords a user has (they are never returned).
	PasswordCount int
	// ResourceID is a DB cluster's DbClusterResourceId or a DB instance's
	// DbiResourceId: drawn at random when AWS creates the resource, so that a resource
	// deleted and created again under the same identifier has a new one, as in AWS
	// (RDS API reference, DBCluster.DbClusterResourceId: "The Amazon Web Services
	// Region-unique, immutable identifier for the DB cluster").
	ResourceID string
	// Source is a DB cluster snapshot's: the settings of the cluster it was taken of.
	Source map[string]any
}

// AWSOp is a kind of API call, for AWS.Refuse.
type AWSOp string

// The API calls the controllers make, by kind: CreateDBCluster, DescribeDBClusters,
// ModifyDBCluster, DeleteDBCluster and so on.
const (
	OpCreate   AWSOp = "Create"
	OpDescribe AWSOp = "Describe"
	OpModify   AWSOp = "Modify"
	OpDelete   AWSOp = "Delete"
)

// APIError is an error AWS answers a call with. Error is the text of the error the AWS
// SDK for Go v2 returns (an operation error wrapping the HTTP response and the API
// error); APIMessage the API error's own text, which the controllers put in their
// conditions (ackerr.AWSError).
type APIError struct {
	// Code is the AWS error code, e.g. InvalidParameterValue or DBClusterNotFoundFault.
	Code, Message string
	// StatusCode is the HTTP status: 404 for the not-found faults, 400 else.
	StatusCode int
	// Modeled errors have a type in the SDK ("Fault"s of RDS and ElastiCache): their
	// text is "<code>: <message>"; the others are smithy.GenericAPIError, "api error
	// <code>: <message>".
	Modeled bool
	// Service and Operation name the call: "RDS", "CreateDBCluster".
	Service, Operation string
}

// fakeRequestID stands for AWS's request ID in error texts; AWS's differ every time.
const fakeRequestID = "00000000-0000-4000-8000-000000000000"

func (e *APIError) Error() string {
	return fmt.Sprintf("operation error %s: %s, https response error StatusCode: %d, RequestID: %s, %s",
		e.Service, e.Operation, e.StatusCode, fakeRequestID, e.APIMessage())
}

// APIMessage is the API error's text.
func (e *APIError) APIMessage() string {
	if e.Modeled {
		return e.Code + ": " + e.Message
	}
	return "api error " + e.Code + ": " + e.Message
}

// NewAPIError is an error AWS may answer with: modeled when code is a service fault
// (ends in Fault, or DBInstanceNotFound), 404 for the not-found ones.
func NewAPIError(code, message string) *APIError {
	e := &APIError{Code: code, Message: message, StatusCode: 400,
		Modeled: strings.HasSuffix(code, "Fault") || code == "DBInstanceNotFound"}
	if strings.Contains(code, "NotFound") {
		e.StatusCode = 404
	}
	if code == "InternalFailure" {
		e.StatusCode = 500
	}
	return e
}

// ProvisionRequest asks a Provisioner for the server of a DB cluster or serverless
// cache AWS is creating.
type ProvisionRequest struct {
	Key AWSKey
	// Database, MasterUsername and MasterPassword are a DBCluster's databaseName,
	// masterUsername and the master password ACK read from its Secret.
	Database, MasterUsername, MasterPassword string
}

// Provisioner puts real servers behind the stand-in's AWS (test/localcluster). AWS
// calls it as AWS would act, keyed by AWSKey, never twice at once for one key: a
// resource adopted by a new object is the same server, data included.
type Provisioner interface {
	// Provision starts the server while AWS creates the resource; the resource is
	// creating until it returns, and an error is retried.
	Provision(ctx context.Context, r ProvisionRequest) (Endpoint, error)
	// ResetMasterPassword gives a DB cluster's master user a new password
	// (ModifyDBCluster with MasterUserPassword).
	ResetMasterPassword(ctx context.Context, key AWSKey, user, password string) error
	// Deprovision takes the final snapshot finalSnapshot ("": none) and stops the
	// server, once AWS is done deleting the resource; an error is retried.
	Deprovision(ctx context.Context, key AWSKey, finalSnapshot string) error
}

// AWSDeletion records a resource AWS finished deleting.
type AWSDeletion struct {
	Key AWSKey
	// FinalSnapshot is the final snapshot taken of a DB cluster, "" when none.
	FinalSnapshot string
	// Accepted is when AWS accepted the delete call, Gone when the resource was gone.
	Accepted, Gone time.Time
}

type awsResource struct {
	AWSResource
	// busyUntil and busyStatus: the resource is creating, modifying,
	// resetting-master-credentials or deleting until then.
	busyUntil  time.Time
	busyStatus string
	// provisioned: the Provisioner's server runs (or there is no Provisioner).
	provisioned bool
	// deleteAccepted is when AWS accepted the delete call.
	deleteAccepted time.Time
	finalSnapshot  string
	// passwords are an ElastiCache user's.
	passwords []string
	// joined: a DB instance whose cluster has been available since it was created.
	joined bool
}

// AWS is the stand-in's AWS. Its zero value is not usable: see NewAWS.
type AWS struct {
	now   func() time.Time
	delay time.Duration
	prov  Provisioner

	mu        sync.Mutex
	ctx       context.Context
	resources map[AWSKey]*awsResource
	snapshots map[AWSKey]time.Time // final DB cluster snapshots (Kind DBClusterSnapshot)
	// snapshotSources are the settings of the cluster each snapshot (manual or final) was
	// taken of, for RestoreDBClusterFromSnapshot.
	snapshotSources map[AWSKey]map[string]any
	refusals        map[string]*APIError // kind/op/id
	forced          map[string]string    // kind/id → own status
	holdAll         bool
	deletions       []AWSDeletion
}

// NewAWS is an empty AWS whose resources take delay to create, modify and delete,
// with prov (nil: none) behind its DB clusters and serverless caches.
func NewAWS(now func() time.Time, delay time.Duration, prov Provisioner) *AWS {
	if now == nil {
		now = time.Now
	}
	return &AWS{now: now, delay: delay, prov: prov, ctx: context.Background(),
		resources: map[AWSKey]*awsResource{}, snapshots: map[AWSKey]time.Time{}, snapshotSources: map[AWSKey]map[string]any{},
		refusals: map[string]*APIError{}, forced: map[string]string{}}
}

// run sets the context of AWS's background work (provisioning, deleting).
func (a *AWS) run(ctx context.Context) {
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
}

// Refuse makes AWS answer the calls op on the resource of kind with identifier id
// with err, until Allow; id "" refuses them for every resource of the kind.
func (a *AWS) Refuse(kind string, op AWSOp, id string, err *APIError) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refusals[kind+"/"+string(op)+"/"+strings.ToLower(id)] = err
}

// Allow undoes Refuse.
func (a *AWS) Allow(kind string, op AWSOp, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.refusals, kind+"/"+string(op)+"/"+strings.ToLower(id))
}

// SetStatus forces the own status of the resource of kind with identifier id, in
// every account and region, whenever it is not busy (failed, storage-failure,
// maintenance...); "" gives it its own status back.
func (a *AWS) SetStatus(kind, id, status string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if status == "" {
		delete(a.forced, kind+"/"+strings.ToLower(id))
		return
	}
	a.forced[kind+"/"+strings.ToLower(id)] = status
}

// holdDeletes refuses (true) or accepts again (false) every delete call, as AWS does
// while resources are in states that cannot be deleted.
func (a *AWS) holdDeletes(hold bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.holdAll = hold
}

// Get is the resource at key as Describe returns it; false when AWS has none.
func (a *AWS) Get(key AWSKey) (AWSResource, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	r := a.settle(key)
	if r == nil {
		return a.finalSnapshot(key)
	}
	return r.copy(), true
}

// Resources lists every resource AWS holds, in key order.
func (a *AWS) Resources() []AWSResource {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []AWSResource
	for key := range a.resources {
		if r := a.settle(key); r != nil {
			out = append(out, r.copy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out
}

// Deletions lists the resources AWS finished deleting, in order.
func (a *AWS) Deletions() []AWSDeletion {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.deletions)
}

// Snapshots lists the DB cluster snapshots AWS holds (final snapshots).
func (a *AWS) Snapshots() []AWSKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := slices.Collect(maps.Keys(a.snapshots))
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (r *awsResource) copy() AWSResource {
	c := r.AWSResource
	c.Spec = deepCopyMap(r.Spec)
	c.Tags = maps.Clone(r.Tags)
	if r.Source != nil {
		c.Source = deepCopyMap(r.Source)
	}
	c.PendingAdd, c.PendingRemove = slices.Clone(r.PendingAdd), slices.Clone(r.PendingRemove)
	if r.Endpoint != nil {
		ep := *r.Endpoint
		c.Endpoint = &ep
	}
	return c
}

// normalizeID is the identifier as AWS keeps it: RDS stores identifiers in lower case.
func normalizeID(kind, id string) string {
	if kind == ServerlessCacheGVK.Kind {
		return id
	}
	return strings.ToLower(id)
}

// settle brings the resource at key up to date with the time and returns it (nil when
// there is none): busy states end, a forced status shows.
func (a *AWS) settle(key AWSKey) *awsResource {
	r := a.resources[key]
	if r == nil {
		return nil
	}
	now := a.now()
	switch {
	case r.busyStatus == statusDeleting:
		r.Status = statusDeleting
	case r.busyStatus != "" && (now.Before(r.busyUntil) || !r.provisioned):
		r.Status = r.busyStatus
	default:
		wasBusy := r.busyStatus != ""
		r.busyStatus = ""
		r.Status = steadyStatus(key.Kind)
		if wasBusy {
			a.settled(r)
		}
		if key.Kind == DBInstanceGVK.Kind {
			// An instance is available once its cluster is; afterwards it keeps its own
			// status while the cluster modifies or is maintained (the Aurora User Guide
			// lists cluster and instance statuses separately, "Viewing cluster status").
			c := a.cluster(key, specString2(r.Spec, "dbClusterIdentifier"))
			if c != nil && c.Status == RDSStatusAvailable {
				r.joined = true
			}
			if c == nil || (!r.joined && c.Status != RDSStatusAvailable) {
				r.Status = RDSStatusCreating
			} else if c.Endpoint != nil && a.prov != nil {
				ep := *c.Endpoint
				r.Endpoint = &ep
			}
		}
		if f, ok := a.forced[key.Kind+"/"+key.ID]; ok {
			r.Status = f
		}
	}
	return r
}

func steadyStatus(kind string) string {
	switch kind {
	case DBSubnetGroupGVK.Kind:
		return SubnetGroupStatusComplete
	case CacheUserKind, CacheUserGroupKind:
		return CacheUserStatusActive
	}
	return RDSStatusAvailable
}

// cluster is the settled DB cluster id in key's account and region.
func (a *AWS) cluster(key AWSKey, id string) *awsResource {
	return a.settle(AWSKey{Account: key.Account, Region: key.Region, Kind: DBClusterGVK.Kind, ID: normalizeID(DBClusterGVK.Kind, id)})
}

// refusal is the error AWS answers call op on key with, if any.
func (a *AWS) refusal(op AWSOp, key AWSKey) *APIError {
	for _, id := range []string{key.ID, ""} {
		if e := a.refusals[key.Kind+"/"+string(op)+"/"+strings.ToLower(id)]; e != nil {
			c := *e
			return &c
		}
	}
	if op == OpDelete && a.holdAll {
		return NewAPIError(invalidStateFault(key.Kind), fmt.Sprintf("%s %s is not in a state that allows its deletion.", key.Kind, key.ID))
	}
	return nil
}

func invalidStateFault(kind string) string {
	return "Invalid" + kind + "StateFault"
}

// notFound is the error Describe answers for a resource AWS does not have.
func notFound(key AWSKey) *APIError {
	switch key.Kind {
	case DBSubnetGroupGVK.Kind:
		return NewAPIError("DBSubnetGroupNotFoundFault", fmt.Sprintf("DBSubnetGroup %s not found.", key.ID))
	case DBClusterGVK.Kind:
		return NewAPIError("DBClusterNotFoundFault", fmt.Sprintf("DBCluster %s not found.", key.ID))
	case DBClusterSnapshotGVK.Kind:
		return NewAPIError("DBClusterSnapshotNotFoundFault", fmt.Sprintf("DBClusterSnapshot %s not found.", key.ID))
	case DBInstanceGVK.Kind:
		return NewAPIError("DBInstanceNotFound", fmt.Sprintf("DBInstance %s not found.", key.ID))
	case CacheUserKind:
		return elastiCacheFault("UserNotFound", fmt.Sprintf("User %s not found.", key.ID))
	case CacheUserGroupKind:
		return elastiCacheFault("UserGroupNotFound", fmt.Sprintf("User group %s not found.", key.ID))
	}
	return NewAPIError("ServerlessCacheNotFoundFault", fmt.Sprintf("Serverless cache %s not found.", key.ID))
}

// call stamps err with the service and operation of the call.
func call(err *APIError, op AWSOp, kind string) error {
	if err == nil {
		return nil
	}
	err.Service, err.Operation = "RDS", string(op)+kind
	if kind == ServerlessCacheGVK.Kind || kind == CacheUserKind || kind == CacheUserGroupKind {
		err.Service = "ElastiCache"
	}
	if op == OpDescribe {
		err.Operation += "s" // DescribeDBClusters, DescribeServerlessCaches...
		if strings.HasSuffix(kind, "Cache") {
			err.Operation = "DescribeServerlessCaches"
		}
	}
	return err
}

// Describe is DescribeDBSubnetGroups, DescribeDBClusters, DescribeDBInstances or
// DescribeServerlessCaches for one identifier.
func (a *AWS) Describe(key AWSKey) (AWSResource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	if e := a.refusal(OpDescribe, key); e != nil {
		return AWSResource{}, call(e, OpDescribe, key.Kind)
	}
	r := a.settle(key)
	if r == nil {
		if fs, ok := a.finalSnapshot(key); ok {
			return fs, nil
		}
		return AWSResource{}, call(notFound(key), OpDescribe, key.Kind)
	}
	return r.copy(), nil
}

// Create is CreateDBSubnetGroup, CreateDBCluster, CreateDBInstance or
// CreateServerlessCache with the fields of spec (a DBCluster's master password
// apart) and tags. With a Provisioner, a DB cluster's or serverless cache's server is
// started within the call (it answers with the server's port, as RDS answers with the
// cluster's); the resource is creating meanwhile, and a failure is an InternalFailure.
func (a *AWS) Create(key AWSKey, spec map[string]any, masterPassword string, tags map[string]string) (AWSResource, error) {
	a.mu.Lock()
	key.ID = normalizeID(key.Kind, key.ID)
	if e := a.refusal(OpCreate, key); e != nil {
		a.mu.Unlock()
		return AWSResource{}, call(e, OpCreate, key.Kind)
	}
	if e := a.createRefusal(key, spec, masterPassword); e != nil {
		a.mu.Unlock()
		return AWSResource{}, call(e, OpCreate, key.Kind)
	}
	// RestoreDBClusterFromSnapshot (ack_snapshot.go): the snapshot's engine, master
	// user and database, with their data.
	restoreFrom := ""
	if key.Kind == DBClusterGVK.Kind {
		if restoreFrom = specString2(spec, "snapshotIdentifier"); restoreFrom != "" {
			source, _ := a.restoreRefusal(key, restoreFrom)
			spec = restoredSpec(spec, source)
			delete(spec, "snapshotIdentifier")
		}
	}
	now := a.now()
	r := &awsResource{AWSResource: AWSResource{Key: key, Spec: awsSpec(key, spec), Created: now.UTC().Truncate(time.Second), Tags: maps.Clone(tags)},
		provisioned: true}
	switch key.Kind {
	case DBClusterGVK.Kind:
		r.ResourceID = newResourceID("cluster-")
	case DBInstanceGVK.Kind:
		r.ResourceID = newResourceID("db-")
	}
	switch key.Kind {
	case DBSubnetGroupGVK.Kind:
		r.Status = SubnetGroupStatusComplete
	default:
		r.busyStatus, r.busyUntil, r.Status = RDSStatusCreating, now.Add(a.delay), RDSStatusCreating
	}
	serves := key.Kind == DBClusterGVK.Kind || key.Kind == ServerlessCacheGVK.Kind
	switch {
	case a.prov != nil && serves:
		r.provisioned = false // the key is taken meanwhile
	case key.Kind == DBClusterGVK.Kind:
		r.Endpoint = &Endpoint{Address: dbClusterHost(key, a.account(key)), Port: specPort(r.Spec, 5432)}
	case key.Kind == DBInstanceGVK.Kind:
		r.Endpoint = &Endpoint{Address: dbInstanceHost(key, a.account(key)), Port: 5432}
	case key.Kind == ServerlessCacheGVK.Kind:
		ep := serverlessCacheEndpoint(key, a.account(key))
		r.Endpoint = &ep
	}
	a.resources[key] = r
	ctx := a.ctx
	a.mu.Unlock()
	if a.prov == nil || !serves {
		a.mu.Lock()
		defer a.mu.Unlock()
		return r.copy(), nil
	}
	req := ProvisionRequest{Key: key, MasterPassword: masterPassword,
		Database: specString2(spec, "databaseName"), MasterUsername: specString2(spec, "masterUsername")}
	var ep Endpoint
	var err error
	if restoreFrom != "" {
		snap, ok := a.prov.(Snapshotter)
		if !ok {
			err = fmt.Errorf("the Provisioner %T cannot restore snapshots", a.prov)
		} else {
			ep, err = snap.Restore(ctx, AWSKey{Account: key.Account, Region: key.Region, Kind: DBClusterSnapshotGVK.Kind, ID: normalizeID(DBClusterSnapshotGVK.Kind, restoreFrom)}, req)
		}
	} else {
		ep, err = a.prov.Provision(ctx, req)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		delete(a.resources, key)
		log.FromContext(ctx).Error(err, "Provisioning the server of an AWS resource", "resource", key.String())
		return AWSResource{}, call(NewAPIError("InternalFailure", "The request processing has failed because of an unknown error."), OpCreate, key.Kind)
	}
	r.Endpoint, r.provisioned = &ep, true
	if r.busyStatus == RDSStatusCreating {
		// AWS answers a create with the resource creating, and it is still creating when
		// the call has returned (RDS takes minutes); a server started here may take
		// longer than the delay, which would make it available at ACK's first read.
		r.busyUntil = a.now().Add(a.delay)
	}
	if key.Kind == DBClusterGVK.Kind {
		r.Spec["port"] = ep.Port
	}
	return r.copy(), nil
}

// newResourceID is an RDS resource id: prefix ("cluster-", "db-") and 26 random
// upper-case letters and digits, the form DescribeDBClusters and DescribeDBInstances
// return.
func newResourceID(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return prefix + string(b)
}

func (a *AWS) account(key AWSKey) AWSAccount { return AWSAccount{ID: key.Account, Region: key.Region} }

// createRefusal is why AWS refuses a create call.
func (a *AWS) createRefusal(key AWSKey, spec map[string]any, masterPassword string) *APIError {
	if _, exists := a.resources[key]; exists {
		switch key.Kind {
		case DBSubnetGroupGVK.Kind:
			return NewAPIError("DBSubnetGroupAlreadyExistsFault", fmt.Sprintf("The DB subnet group '%s' already exists.", key.ID))
		case DBClusterGVK.Kind:
			return NewAPIError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
		case DBInstanceGVK.Kind:
			return NewAPIError("DBInstanceAlreadyExistsFault", "DB instance already exists")
		}
		if key.Kind == CacheUserGroupKind {
			return elastiCacheFault("UserGroupAlreadyExists", fmt.Sprintf("User group %s already exists.", key.ID))
		}
		return NewAPIError("ServerlessCacheAlreadyExistsFault", fmt.Sprintf("Serverless cache %s already exists.", key.ID))
	}
	switch key.Kind {
	case CacheUserGroupKind:
		if e := a.membershipRefusal(key, anyStrings(sliceOf(spec["userIDs"]))); e != nil {
			return e
		}
	case ServerlessCacheGVK.Kind:
		if gid := specString2(spec, "userGroupID"); gid != "" {
			if e := a.userGroupRefusal(key, gid); e != nil {
				return e
			}
		}
	case DBClusterGVK.Kind:
		engine, version := specString2(spec, "engine"), specString2(spec, "engineVersion")
		if version != "" && engine == "aurora-postgresql" && !slices.Contains(auroraPostgresMajors, strings.SplitN(version, ".", 2)[0]) {
			return NewAPIError("InvalidParameterCombination", fmt.Sprintf("Cannot find version %s for %s", version, engine))
		}
		if snapshot := specString2(spec, "snapshotIdentifier"); snapshot != "" {
			if _, e := a.restoreRefusal(key, snapshot); e != nil {
				return e
			}
		} else if masterPassword == "" {
			return NewAPIError("InvalidParameterValue", "The parameter MasterUserPassword must be provided and must not be blank.")
		}
		group := specString2(spec, "dbSubnetGroupName")
		if g := a.settle(AWSKey{Account: key.Account, Region: key.Region, Kind: DBSubnetGroupGVK.Kind, ID: normalizeID(DBSubnetGroupGVK.Kind, group)}); group != "" && g == nil {
			return NewAPIError("DBSubnetGroupNotFoundFault", fmt.Sprintf("DBSubnetGroup '%s' not found.", group))
		}
	case DBInstanceGVK.Kind:
		id := specString2(spec, "dbClusterIdentifier")
		if c := a.cluster(key, id); c == nil || c.busyStatus == statusDeleting {
			return NewAPIError("DBClusterNotFoundFault", fmt.Sprintf("DBCluster %s not found.", id))
		}
	}
	return nil
}

// auroraPostgresMajors are the major versions of aurora-postgresql RDS creates.
var auroraPostgresMajors = []string{"11", "12", "13", "14", "15", "16", "17"}

// Modify is ModifyDBSubnetGroup, ModifyDBCluster, ModifyDBInstance or
// ModifyServerlessCache with the changed fields (masterPassword non-nil: a new master
// password). The resource is modifying (resetting-master-credentials for a password)
// for AWS's delay; a DB subnet group changes at once.
func (a *AWS) Modify(ctx context.Context, key AWSKey, changes map[string]any, masterPassword *string) (AWSResource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	if e := a.refusal(OpModify, key); e != nil {
		return AWSResource{}, call(e, OpModify, key.Kind)
	}
	r := a.settle(key)
	if r == nil {
		return AWSResource{}, call(notFound(key), OpModify, key.Kind)
	}
	if r.busyStatus != "" && key.Kind != DBSubnetGroupGVK.Kind {
		return AWSResource{}, call(NewAPIError(invalidStateFault(key.Kind),
			fmt.Sprintf("%s %s is not in available state.", key.Kind, key.ID)), OpModify, key.Kind)
	}
	if gid, ok := changes["userGroupID"].(string); ok && key.Kind == ServerlessCacheGVK.Kind && gid != "" {
		if e := a.userGroupRefusal(key, gid); e != nil {
			return AWSResource{}, call(e, OpModify, key.Kind)
		}
	}
	if key.Kind == DBClusterGVK.Kind {
		if v, ok := changes["engineVersion"].(string); ok {
			have := specString2(r.Spec, "engineVersion")
			if versionLess(v, have) {
				return AWSResource{}, call(NewAPIError("InvalidParameterCombination",
					fmt.Sprintf("Cannot upgrade %s from %s to %s", specString2(r.Spec, "engine"), have, v)), OpModify, key.Kind)
			}
		}
		if masterPassword != nil && a.prov != nil {
			// RDS sets the new password while the cluster is resetting-master-credentials.
			if err := a.prov.ResetMasterPassword(ctx, key, specString2(r.Spec, "masterUsername"), *masterPassword); err != nil {
				return AWSResource{}, call(NewAPIError("InternalFailure", err.Error()), OpModify, key.Kind)
			}
		}
	}
	for k, v := range changes {
		r.Spec[k] = deepCopyValue(v)
	}
	if key.Kind != DBSubnetGroupGVK.Kind {
		r.busyStatus, r.busyUntil = RDSStatusModifying, a.now().Add(a.delay)
		if masterPassword != nil {
			r.busyStatus = RDSStatusResettingMasterCredentials
		}
		r.Status = r.busyStatus
	}
	return r.copy(), nil
}

// DeleteParams are the parameters of DeleteDBCluster (and DeleteDBInstance).
type DeleteParams struct {
	SkipFinalSnapshot     bool
	FinalSnapshotID       *string
	DeleteAutomatedBackup *bool
}

// Delete is DeleteDBSubnetGroup, DeleteDBCluster, DeleteDBInstance or
// DeleteServerlessCache. AWS refuses what it refuses (a cluster with instances, a
// subnet group a cluster uses, a missing or taken final snapshot identifier); a DB
// subnet group goes at once, the others are deleting for AWS's delay, then gone (with
// the Provisioner's Deprovision).
func (a *AWS) Delete(key AWSKey, p DeleteParams) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	key.ID = normalizeID(key.Kind, key.ID)
	if e := a.refusal(OpDelete, key); e != nil {
		return call(e, OpDelete, key.Kind)
	}
	r := a.settle(key)
	if r == nil {
		if a.deleteFinalSnapshot(key) {
			return nil
		}
		return call(notFound(key), OpDelete, key.Kind)
	}
	if e := a.deleteRefusal(r, p); e != nil {
		return call(e, OpDelete, key.Kind)
	}
	now := a.now()
	if key.Kind == DBSubnetGroupGVK.Kind {
		delete(a.resources, key)
		a.deletions = append(a.deletions, AWSDeletion{Key: key, Accepted: now, Gone: now})
		return nil
	}
	if key.Kind == DBClusterGVK.Kind && !p.SkipFinalSnapshot && p.FinalSnapshotID != nil {
		r.finalSnapshot = *p.FinalSnapshotID
		a.snapshotSources[AWSKey{Account: key.Account, Region: key.Region, Kind: "DBClusterSnapshot", ID: strings.ToLower(r.finalSnapshot)}] = deepCopyMap(r.Spec)
	}
	r.busyStatus, r.busyUntil, r.Status, r.deleteAccepted = statusDeleting, now.Add(a.delay), statusDeleting, now
	if key.Kind == CacheUserKind {
		a.userDeleted(key)
	}
	go a.finishDeleting(r)
	return nil
}

const statusDeleting = "deleting"

func (a *AWS) deleteRefusal(r *awsResource, p DeleteParams) *APIError {
	key := r.Key
	if r.busyStatus == statusDeleting {
		return NewAPIError(invalidStateFault(key.Kind), fmt.Sprintf("%s %s is already being deleted.", key.Kind, key.ID))
	}
	switch key.Kind {
	case CacheUserKind, CacheUserGroupKind:
		return a.cacheUserDeleteRefusal(r)
	case DBSubnetGroupGVK.Kind:
		for k, other := range a.resources {
			if k.Kind == DBClusterGVK.Kind && k.Account == key.Account && k.Region == key.Region &&
				normalizeID(key.Kind, specString2(other.Spec, "dbSubnetGroupName")) == key.ID {
				return NewAPIError("InvalidDBSubnetGroupStateFault", fmt.Sprintf(
					"Cannot delete the subnet group '%s' because at least one database cluster: %s is still using it.", key.ID, k.ID))
			}
		}
	case DBClusterGVK.Kind:
		for k, other := range a.resources {
			if k.Kind == DBInstanceGVK.Kind && k.Account == key.Account && k.Region == key.Region &&
				normalizeID(key.Kind, specString2(other.Spec, "dbClusterIdentifier")) == key.ID && other.busyStatus != statusDeleting {
				return NewAPIError("InvalidDBClusterStateFault", "Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
			}
		}
		if b, _ := r.Spec["deletionProtection"].(bool); b {
			return NewAPIError("InvalidParameterCombination", "Cannot delete protected Cluster, please disable deletion protection and try again.")
		}
		if !p.SkipFinalSnapshot {
			if p.FinalSnapshotID == nil || *p.FinalSnapshotID == "" {
				return NewAPIError("InvalidParameterCombination", "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
			}
			snap := AWSKey{Account: key.Account, Region: key.Region, Kind: "DBClusterSnapshot", ID: strings.ToLower(*p.FinalSnapshotID)}
			_, manual := a.resources[snap]
			if _, taken := a.snapshots[snap]; taken || manual {
				return NewAPIError("DBClusterSnapshotAlreadyExistsFault", fmt.Sprintf(
					"Cannot create the cluster snapshot because one with the identifier %s already exists.", *p.FinalSnapshotID))
			}
		}
	}
	return nil
}

// finishDeleting ends r's deletion after AWS's delay: the final snapshot and the
// server's end (Deprovision, retried until it succeeds or AWS stops), then r is gone.
func (a *AWS) finishDeleting(r *awsResource) {
	a.mu.Lock()
	ctx, wait := a.ctx, r.busyUntil.Sub(a.now())
	a.mu.Unlock()
	select {
	case <-ctx.Done():
		return
	case <-time.After(wait):
	}
	for a.prov != nil && (r.Key.Kind == DBClusterGVK.Kind || r.Key.Kind == ServerlessCacheGVK.Kind) {
		err := a.prov.Deprovision(ctx, r.Key, r.finalSnapshot)
		if err == nil {
			break
		}
		log.FromContext(ctx).Error(err, "Deprovisioning the server of an AWS resource", "resource", r.Key.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.finalSnapshot != "" {
		a.snapshots[AWSKey{Account: r.Key.Account, Region: r.Key.Region, Kind: "DBClusterSnapshot", ID: strings.ToLower(r.finalSnapshot)}] = a.now()
	}
	delete(a.resources, r.Key)
	a.deletions = append(a.deletions, AWSDeletion{Key: r.Key, FinalSnapshot: r.finalSnapshot, Accepted: r.deleteAccepted, Gone: a.now()})
}

// awsSpec is what AWS keeps and returns of a create call's fields, under the CRD's
// names, with the defaults AWS fills in.
func awsSpec(key AWSKey, spec map[string]any) map[string]any {
	out := deepCopyMap(spec)
	delete(out, "masterUserPassword")
	delete(out, "passwords")
	delete(out, "tags")
	acct := AWSAccount{ID: key.Account, Region: key.Region}
	var defaults map[string]any
	switch key.Kind {
	case DBSubnetGroupGVK.Kind:
		defaults = map[string]any{}
	case DBClusterGVK.Kind:
		defaults = dbClusterDefaults(key, acct)
	case DBInstanceGVK.Kind:
		defaults = dbInstanceDefaults(key)
	case CacheUserKind, CacheUserGroupKind:
		defaults = map[string]any{}
	default:
		defaults = serverlessCacheDefaults(key, acct, spec)
	}
	for k, v := range defaults {
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	for _, f := range idListFields {
		if ids, ok := out[f].([]any); ok {
			out[f] = awsOrder(anyStrings(ids))
		}
	}
	return out
}

// DefaultAuroraPostgresVersion stands for the version Aurora picks when CreateDBCluster
// names none (`aws rds describe-db-engine-versions --engine aurora-postgresql
// --default-only`); AWS moves it over time.
const DefaultAuroraPostgresVersion = "16.6"

// dbClusterDefaults are the settings RDS gives an Aurora cluster that were not
// asked for: the default engine version, automatic minor version upgrades (RDS API
// reference, CreateDBCluster AutoMinorVersionUpgrade: "By default, minor engine upgrades
// are applied automatically. Valid for Cluster Type: Aurora DB clusters and Multi-AZ DB
// cluster"; DBCluster.AutoMinorVersionUpgrade, which DescribeDBClusters returns, "is for
// Aurora DB clusters and Multi-AZ DB clusters"), three availability zones of the region,
// backups kept a day, copyTagsToSnapshot and deletionProtection false, the aws/rds KMS
// key (the operator asks for storageEncrypted), networkType IPV4, port 5432, the backup
// and maintenance windows. (storageType aurora, the default, DescribeDBClusters does not
// return: rds-controller's delta.go says so.)
func dbClusterDefaults(key AWSKey, acct AWSAccount) map[string]any {
	return map[string]any{
		"engineVersion":              DefaultAuroraPostgresVersion,
		"autoMinorVersionUpgrade":    true,
		"availabilityZones":          []any{key.Region + "a", key.Region + "b", key.Region + "c"},
		"backupRetentionPeriod":      int64(1),
		"copyTagsToSnapshot":         false,
		"deletionProtection":         false,
		"kmsKeyID":                   fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", key.Region, acct.ID, pseudoUUID(acct.ID+key.Region)),
		"networkType":                "IPV4",
		"port":                       int64(5432),
		"preferredBackupWindow":      "02:30-03:00",
		"preferredMaintenanceWindow": "sun:04:00-sun:04:30",
	}
}

// dbInstanceDefaults are the settings RDS gives an instance of an Aurora cluster.
func dbInstanceDefaults(key AWSKey) map[string]any {
	return map[string]any{
		"availabilityZone":           key.Region + "a",
		"autoMinorVersionUpgrade":    true,
		"caCertificateIdentifier":    "rds-ca-rsa2048-g1",
		"networkType":                "IPV4",
		"preferredMaintenanceWindow": "sun:04:00-sun:04:30",
		"promotionTier":              int64(1),
		"publiclyAccessible":         false,
		"storageEncrypted":           true,
	}
}

// serverlessCacheDefaults are the settings ElastiCache gives a serverless cache: a
// daily snapshot time, no snapshot retention, the VPC's default security group when
// none was given.
func serverlessCacheDefaults(key AWSKey, acct AWSAccount, spec map[string]any) map[string]any {
	d := map[string]any{"dailySnapshotTime": "03:00", "snapshotRetentionLimit": int64(0)}
	if _, ok := spec["securityGroupIDs"]; !ok {
		d["securityGroupIDs"] = []any{"sg-" + pseudoHex(acct.ID+key.Region, 17)}
	}
	return d
}

// idListFields are lists of IDs AWS keeps as sets and returns in an order of its own.
var idListFields = []string{"subnetIDs", "vpcSecurityGroupIDs", "securityGroupIDs", "userIDs"}

// versionLess reports whether version a is older than b ("12.1" < "16.6").
func versionLess(a, b string) bool {
	ap, bp := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(ap), len(bp)); i++ {
		x, y := versionPart(ap, i), versionPart(bp, i)
		if x != y {
			return x < y
		}
	}
	return false
}

func versionPart(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n, _ := strconv.Atoi(parts[i])
	return n
}

func anyStrings(in []any) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func specString2(spec map[string]any, field string) string {
	s, _ := spec[field].(string)
	return s
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopyMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopyValue(e)
		}
		return out
	case []string:
		return slices.Clone(t)
	}
	return v
}
