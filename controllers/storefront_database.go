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
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Default ports of the data stores, used when a URL names none.
const (
	defaultPostgresPort = 5432
	defaultRedisPort    = 6379
)

// storeEndpoint describes a data store the shop connects to, however it was provided.
// The database and cache phases produce it; the connection Secret, the NetworkPolicies
// and the status consume it.
type storeEndpoint struct {
	// Host and Port are where the store listens: the status reports them and the
	// NetworkPolicies open Port.
	Host string
	Port int32
	// URL is what the shop is given (DATABASE_URL or REDIS_URL). It holds credentials:
	// never log it or put it in a condition.
	URL string
	// CABundle, when set, is a Secret key holding the CA to verify the store against; it
	// is mounted read-only at caBundleMountPath and URL refers to it there.
	CABundle *shopv1alpha1.SecretKeyRef
}

// caBundleMountPath is where a database CA bundle is mounted in the shop's containers.
const caBundleMountPath = "/etc/storefront/database-ca"

// reconcileDatabase finds the database the shop uses and sets DatabaseReady.
func (r *StorefrontReconciler) reconcileDatabase(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	switch {
	case sf.Spec.Database.External != nil:
		ep, reason, msg, err := r.externalEndpoint(ctx, sf.Namespace, sf.Spec.Database.External.URLSecretRef, parsePostgresURL)
		if err != nil {
			return ctrl.Result{}, err
		}
		if ep == nil {
			s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, reason, msg)
			return ctrl.Result{}, nil
		}
		s.database = ep
		noteExternalDatabase(s, ep)
		sf.Status.Database = &shopv1alpha1.EndpointStatus{Endpoint: ep.Host, Port: ep.Port}
		msg = fmt.Sprintf("External database at %s", hostPort(ep))
		if s.dbSwitch.pending {
			msg += "; the migrations of the served image run on it before the pods move to it"
		}
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, true, shopv1alpha1.ReasonDatabaseAvailable, msg)
	case sf.Spec.Database.Aurora != nil:
		return r.reconcileAurora(ctx, s)
	}
	return ctrl.Result{}, nil
}

// urlParser validates a store URL and returns its host and port.
type urlParser func(raw string) (host string, port int32, err error)

// externalEndpoint reads an external store's URL from ref and validates it. A missing or
// invalid URL is not an error of the reconcile: it returns a nil endpoint with the
// condition reason and message to report (the message names the Secret and key, never
// the URL, which holds a password).
func (r *StorefrontReconciler) externalEndpoint(ctx context.Context, namespace string, ref shopv1alpha1.SecretKeyRef, parse urlParser) (ep *storeEndpoint, reason, message string, err error) {
	secret := &corev1.Secret{}
	if err := r.getReferencedSecret(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, shopv1alpha1.ReasonConnectionSecretNotFound, fmt.Sprintf("Secret %s not found", ref.Name), nil
		}
		return nil, "", "", fmt.Errorf("reading secret %s: %w", ref.Name, err)
	}
	return endpointFromSecret(secret, ref, parse)
}

// endpointFromSecret validates the URL in secret's key ref.Key.
func endpointFromSecret(secret *corev1.Secret, ref shopv1alpha1.SecretKeyRef, parse urlParser) (ep *storeEndpoint, reason, message string, err error) {
	raw, ok := secret.Data[ref.Key]
	if !ok {
		return nil, shopv1alpha1.ReasonConnectionSecretNotFound, fmt.Sprintf("Secret %s has no key %s", ref.Name, ref.Key), nil
	}
	value := strings.TrimSpace(string(raw))
	host, port, perr := parse(value)
	if perr != nil {
		return nil, shopv1alpha1.ReasonInvalidConnectionSecret,
			fmt.Sprintf("Secret %s key %s: %v", ref.Name, ref.Key, perr), nil
	}
	return &storeEndpoint{Host: host, Port: port, URL: value}, "", "", nil
}

// parsePostgresURL accepts postgres:// and postgresql:// URLs with a host.
func parsePostgresURL(raw string) (string, int32, error) {
	return parseStoreURL(raw, []string{"postgres", "postgresql"}, defaultPostgresPort)
}

// parseStoreURL checks that raw is a URL of one of schemes with a host, and returns the
// host and port (defaultPort when none is given). Its errors never contain the URL.
func parseStoreURL(raw string, schemes []string, defaultPort int32) (string, int32, error) {
	want := strings.Join(schemes, ":// or ") + "://"
	if raw == "" {
		return "", 0, fmt.Errorf("empty, want a %s URL", want)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// url.Error repeats the whole URL, password included: keep only the cause.
			err = uerr.Err
		}
		return "", 0, fmt.Errorf("not a valid %s URL: %s", want, redactCause(err.Error(), raw))
	}
	if !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return "", 0, fmt.Errorf("not a %s URL (scheme %q)", want, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return "", 0, fmt.Errorf("the %s URL has no host", want)
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("the %s URL has an invalid port %q", want, p)
		}
		port = int32(n)
	}
	return host, port, nil
}

// redactCause removes the userinfo of raw from msg, should a parser have quoted it.
func redactCause(msg, raw string) string {
	if at := strings.LastIndex(raw, "@"); at > 0 {
		if i := strings.Index(raw, "://"); i >= 0 && i+3 < at {
			if userinfo := raw[i+3 : at]; userinfo != "" {
				msg = strings.ReplaceAll(msg, userinfo, "xxxxx")
			}
		}
	}
	return msg
}

func hostPort(ep *storeEndpoint) string {
	return fmt.Sprintf("%s:%d", ep.Host, ep.Port)
}

// Settings of the Aurora Serverless v2 database.
const (
	auroraEngine        = "aurora-postgresql"
	auroraEngineMode    = "provisioned" // Serverless v2 runs in provisioned mode
	auroraInstanceClass = "db.serverless"
	auroraDatabaseName  = "shop"
)

// reconcileAurora provisions the database through ACK, in the order AWS needs it: the
// master password Secret, the DBSubnetGroup, the DBCluster once the group is synced,
// the DBInstance once the cluster is available. The database is ready when the cluster
// and its instance are, and it is reached with the password ACK last applied, so that
// during a rotation the connection Secret moves only once RDS has the new password.
func (r *StorefrontReconciler) reconcileAurora(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	aurora := sf.Spec.Database.Aurora
	notReady := func(reason, msg string) (ctrl.Result, error) {
		s.setCondition(shopv1alpha1.ConditionDatabaseReady, false, reason, msg)
		return ctrl.Result{}, nil
	}
	for _, gvk := range []schema.GroupVersionKind{gvkDBSubnetGroup, gvkDBCluster, gvkDBInstance} {
		if !r.ackKindInstalled(gvk) {
			return notReady(shopv1alpha1.ReasonProvisioningFailed, ackNotInstalledMessage(gvk))
		}
	}
	eff := effective(sf)
	subnets := firstNonEmpty(aurora.SubnetIDs, eff.DBSubnetIDs)
	if len(subnets) == 0 {
		return notReady(shopv1alpha1.ReasonProvisioningFailed,
			"No subnets for the DB subnet group: set spec.database.aurora.subnetIDs or the operator's --db-subnet-ids (taken up while none was resolved)")
	}
	if ref := aurora.CABundleSecretRef; ref != nil {
		reason, msg, err := r.checkSecretKey(ctx, sf.Namespace, *ref)
		if err != nil {
			return ctrl.Result{}, err
		}
		if reason != "" {
			return notReady(reason, msg)
		}
	}

	passwords, newest, err := r.reconcilePasswords(ctx, sf)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.dbPasswords = passwords
	if newest == nil {
		return notReady(shopv1alpha1.ReasonProvisioning, "Creating the master password Secret "+
			passwordSecretName(sf, nextVersion(passwords)))
	}

	if knewACluster(sf) {
		skeleton := newACKObject(gvkDBCluster)
		skeleton.SetNamespace(sf.Namespace)
		// The cluster the shop uses now: a restore's replaced cluster is not watched.
		skeleton.SetName(currentClusterObjectName(sf))
		// A cluster being deleted counts as lost already: applying it during ACK's delete
		// would create an empty one once the object is gone.
		exists, err := r.ackObjectExistsInto(ctx, skeleton)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !exists || skeleton.GetDeletionTimestamp() != nil {
			if !s.redriven {
				return notReady(shopv1alpha1.ReasonDatabaseLost, lostDatabaseMessage(sf))
			}
			if err := r.forgetLostDatabase(ctx, sf); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	// The subnet group is named after the Storefront, the cluster and its instance after
	// the cluster in use (a restored one is <aws-id>-r<N>, storefront_restore.go).
	id := awsIdentifier(sf.Namespace, sf.Name)
	current := currentClusterIdentifier(sf)
	retained := retainedCluster(passwords, current)
	adopt := func(u *unstructured.Unstructured, identifier string) *unstructured.Unstructured {
		if retained {
			return withAdoption(u, identifier)
		}
		return u
	}
	adoptCluster, err := r.adoptRetainedCluster(ctx, s, retained)
	if err != nil {
		return ctrl.Result{}, err
	}
	refused := func(obj *unstructured.Unstructured, st ackState) ackState {
		if notManaged(obj) {
			st.Message += adoptionAdvice(sf, ackIdentifier(obj), newest)
		}
		return st
	}
	group, err := r.applyACK(ctx, adopt(withProvisioningTag(sf, r.Options.ClusterName, desiredDBSubnetGroup(sf, r.Scheme, eff.Region, subnets)), id))
	if err != nil {
		return ctrl.Result{}, err
	}
	if st := refused(group, judgeACK(s, group, nil, noEndpoint)); !st.Ready {
		return notReady(st.Reason, st.Message)
	}
	sgs := firstNonEmpty(aurora.SecurityGroupIDs, eff.DBSecurityGroupIDs)
	desiredCluster := withProvisioningTag(sf, r.Options.ClusterName, r.hibernateDBCluster(ctx, s, desiredDBCluster(sf, r.Scheme, eff.Region, sgs, *newest)))
	if adoptCluster {
		desiredCluster = withAdoption(desiredCluster, current)
	}
	if desiredCluster, err = r.onCurrentCluster(ctx, sf, desiredCluster); err != nil {
		return ctrl.Result{}, err
	}
	cluster, err := r.applyACK(ctx, desiredCluster)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rid := clusterResourceID(cluster); knewACluster(sf) && rid != "" && rid != sf.Status.Migration.Database {
		// The identifier names another cluster than the one migrated: created again
		// behind the operator's back, empty; or restored from a snapshot, whose
		// migration runs before the pods move to it (storefront_restore.go). A switch
		// keeps the migration state of the cluster the pods use, as an external
		// database's does: that is what holds the connection Secret and lets a failed
		// migration fail the restore (finishRestore).
		switch {
		case restoreSwitching(sf):
			s.dbSwitch.pending = true
		case !s.redriven:
			return notReady(shopv1alpha1.ReasonDatabaseLost, recreatedDatabaseMessage(sf, rid))
		default:
			if err := r.forgetLostDatabase(ctx, sf); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	host, _, _ := unstructured.NestedString(cluster.Object, pathDBClusterEndpoint...)
	var clusterState ackState
	switch {
	case adoptCluster && notManaged(cluster):
		clusterState = ackState{Reason: shopv1alpha1.ReasonProvisioning, Message: adoptingMessage(cluster, current)}
	case retained && inDeletionWindow(cluster):
		clusterState = judgeACK(s, cluster, pathStatus, host)
		clusterState.Message += retainedDeletingAdvice(current)
	default:
		clusterState = refused(cluster, judgeACK(s, cluster, pathStatus, host))
	}

	// The instance joins a cluster that exists: created once the cluster is available
	// (not merely serving through maintenance), kept applied afterwards.
	instanceState := ackState{Reason: shopv1alpha1.ReasonProvisioning,
		Message: fmt.Sprintf("DBInstance %s: created once DBCluster %s is available", cluster.GetName(), cluster.GetName())}
	instance, err := r.onCurrentCluster(ctx, sf, adopt(withProvisioningTag(sf, r.Options.ClusterName, desiredDBInstance(sf, r.Scheme, eff.Region)), current))
	if err != nil {
		return ctrl.Result{}, err
	}
	exists, err := r.ackObjectExists(ctx, instance)
	if err != nil {
		return ctrl.Result{}, err
	}
	if exists || (clusterState.Ready && clusterState.Maintenance == "") {
		if instance, err = r.applyACK(ctx, instance); err != nil {
			return ctrl.Result{}, err
		}
		address, _, _ := unstructured.NestedString(instance.Object, pathEndpointAddress...)
		instanceState = refused(instance, judgeACK(s, instance, pathDBInstanceStatus, address))
	}
	for _, st := range []ackState{clusterState, instanceState} {
		if !st.Ready {
			return notReady(st.Reason, st.Message)
		}
	}

	applied := cluster.GetAnnotations()[rdsAnnotationLastAppliedSecret]
	var inUse *dbPassword
	for i := range passwords {
		if passwords[i].ref() == applied {
			inUse = &passwords[i]
		}
	}
	if inUse == nil {
		return notReady(shopv1alpha1.ReasonProvisioning, fmt.Sprintf(
			"DBCluster %s: waiting for ACK to apply the master password %s", cluster.GetName(), newest.secret.Name))
	}
	// ACK writes the last-applied annotation, then the status of that sync: in between,
	// the cluster shows the new password with the Synced condition of before the
	// rotation. A rotated password counts once ACK reported Synced after it was made
	// (ACK stamps the condition at every sync).
	// Once the older versions are gone the rotation is long done: maintenance later
	// (Synced False) does not make the password doubtful again.
	rotationDone := len(passwords) == 1 && clusterState.Maintenance != ""
	if inUse.version > 1 && !rotationDone && !syncedAfter(cluster, inUse.secret.CreationTimestamp) {
		return notReady(shopv1alpha1.ReasonProvisioning, fmt.Sprintf(
			"DBCluster %s: waiting for ACK to report the cluster synced with the master password %s", cluster.GetName(), inUse.secret.Name))
	}
	port := nestedPort(cluster, pathDBClusterPort...)
	if port == 0 {
		port = defaultPostgresPort
	}
	s.database = &storeEndpoint{
		Host:     host,
		Port:     port,
		URL:      auroraURL(dbMasterUsername, host, port, string(inUse.secret.Data[keyDBPassword]), aurora.CABundleSecretRef),
		CABundle: aurora.CABundleSecretRef,
	}
	s.dbPasswordInUse = inUse
	s.databaseID = clusterResourceID(cluster)
	observeMasterPassword(s, cluster, passwords)
	sf.Status.Database = &shopv1alpha1.EndpointStatus{Endpoint: host, Port: port, ClusterIdentifier: specField(cluster, "dbClusterIdentifier")}
	msg := fmt.Sprintf("Aurora cluster %s at %s", specField(cluster, "dbClusterIdentifier"), hostPort(s.database))
	if s.dbSwitch.pending {
		msg += fmt.Sprintf(", restored from snapshot %s; the pods keep the previous cluster until the migrations of %s ran on it", specField(cluster, "snapshotIdentifier"), sf.Spec.Image)
	}
	if inUse.version != newest.version {
		msg += fmt.Sprintf("; waiting for ACK to apply the rotated password %s", newest.secret.Name)
	}
	reason := shopv1alpha1.ReasonDatabaseAvailable
	for _, st := range []ackState{clusterState, instanceState} {
		if st.Maintenance != "" && s.databaseMaintenance == "" {
			reason, s.databaseMaintenance = shopv1alpha1.ReasonDatabaseMaintenance, st.Message
			msg += "; " + st.Message
		}
	}
	s.setCondition(shopv1alpha1.ConditionDatabaseReady, true, reason, msg)
	return ctrl.Result{}, nil
}

// auroraURL is a DATABASE_URL of the Aurora cluster for user: TLS always, verified
// against the mounted CA bundle when there is one. The password is escaped.
func auroraURL(user, host string, port int32, password string, ca *shopv1alpha1.SecretKeyRef) string {
	q := url.Values{}
	if ca != nil {
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", caBundleMountPath+"/"+ca.Key)
	} else {
		q.Set("sslmode", "require")
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(host, strconv.Itoa(int(port))),
		Path:     "/" + auroraDatabaseName,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// checkSecretKey reports whether the Secret and key ref names exist: "" when they do,
// else the reason and message to report.
func (r *StorefrontReconciler) checkSecretKey(ctx context.Context, namespace string, ref shopv1alpha1.SecretKeyRef) (reason, message string, err error) {
	secret := &corev1.Secret{}
	if err := r.getReferencedSecret(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return shopv1alpha1.ReasonConnectionSecretNotFound, fmt.Sprintf("Secret %s not found", ref.Name), nil
		}
		return "", "", fmt.Errorf("reading secret %s: %w", ref.Name, err)
	}
	if len(secret.Data[ref.Key]) == 0 {
		return shopv1alpha1.ReasonConnectionSecretNotFound, fmt.Sprintf("Secret %s has no key %s", ref.Name, ref.Key), nil
	}
	return "", "", nil
}

// desiredDBSubnetGroup is the DB subnet group of the cluster.
func desiredDBSubnetGroup(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string, subnets []string) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkDBSubnetGroup, roleDatabase, ackAnnotations(sf, gvkDBSubnetGroup, region))
	u.Object["spec"] = map[string]any{
		"name":        awsIdentifier(sf.Namespace, sf.Name),
		"description": fmt.Sprintf("Storefront %s/%s", sf.Namespace, sf.Name),
		"subnetIDs":   stringsToAny(subnets),
	}
	return u
}

// desiredDBCluster is the Aurora Serverless v2 PostgreSQL cluster, its master password
// read by ACK from the password version given.
func desiredDBCluster(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string, securityGroups []string, password dbPassword) *unstructured.Unstructured {
	a := sf.Spec.Database.Aurora
	id := awsIdentifier(sf.Namespace, sf.Name)
	annotations := ackAnnotations(sf, gvkDBCluster, region)
	for k, v := range dbClusterSnapshotAnnotations(sf) {
		annotations[k] = v
	}
	u := newACKOwned(sf, scheme, gvkDBCluster, roleDatabase, annotations)
	spec := map[string]any{
		"dbClusterIdentifier": id,
		"engine":              auroraEngine,
		"engineMode":          auroraEngineMode,
		"serverlessV2ScalingConfiguration": map[string]any{
			"minCapacity": acu(a.MinCapacity, 0.5),
			"maxCapacity": acu(a.MaxCapacity, 4),
		},
		"databaseName":   auroraDatabaseName,
		"masterUsername": dbMasterUsername,
		"masterUserPassword": map[string]any{
			"namespace": password.secret.Namespace,
			"name":      password.secret.Name,
			"key":       keyDBPassword,
		},
		"dbSubnetGroupName": id,
		"storageEncrypted":  true,
		// Under Snapshot and Retain nothing but the Storefront's finalizer may delete the
		// cluster: not a deleted namespace, not a hand-deleted ACK object, not a changed
		// deletion-policy annotation. The finalizer lifts it (storefront_delete.go).
		"deletionProtection": keepsDatabase(sf),
		// RDS's default, said: DescribeDBClusters returns it for Aurora clusters
		// (rds-controller 1.11.1 sdk.go sdkFind copies it into the spec) and delta.go
		// compares it with a nil difference, while a restore stores nothing of RDS's
		// answer and customUpdate does not copy it back. Left out, a restored cluster
		// would differ at every sync (ModifyDBCluster, ACK.ResourceSynced False for good).
		// A created cluster stores CreateDBCluster's answer, true, all the same. It also
		// lets customPreCompare take a later minor of the version as the desired one.
		"autoMinorVersionUpgrade": true,
	}
	if len(securityGroups) > 0 {
		spec["vpcSecurityGroupIDs"] = stringsToAny(securityGroups)
	}
	// No version of our own: a pinned minor is retired by AWS on its own schedule, and
	// then every new cluster would fail at create. Left out, Aurora picks its default
	// version for the region (RDS API reference, CreateDBCluster: EngineVersion is not
	// required), and ACK writes the version AWS reports back into spec.engineVersion
	// (rds-controller 1.11.1 sdk.go sdkCreate sets it from CreateDBCluster's output, and
	// the runtime's createResource stores it; generator.yaml late-initialises only the
	// DBCluster's NetworkType). A field we do not apply is neither compared nor owned by
	// us, so that value is never fought; a version the user gives is compared through
	// adoptACKWriteBacks, which accepts a later minor of the same major. A restore stores
	// no version (storefront_restore.go withSnapshotEngineVersion gives it one).
	if a.EngineVersion != "" {
		spec["engineVersion"] = a.EngineVersion
	}
	u.Object["spec"] = spec
	return u
}

// desiredDBInstance is the cluster's one serverless writer instance.
func desiredDBInstance(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string) *unstructured.Unstructured {
	annotations := ackAnnotations(sf, gvkDBInstance, region)
	// Aurora instances take no snapshot of their own (the cluster's final snapshot holds
	// the data); saying so spares RDS a snapshot request it would refuse.
	annotations[rdsAnnotationSkipFinalSnapshot] = "true"
	u := newACKOwned(sf, scheme, gvkDBInstance, roleDatabase, annotations)
	id := awsIdentifier(sf.Namespace, sf.Name)
	u.Object["spec"] = map[string]any{
		"dbInstanceIdentifier": id,
		"dbInstanceClass":      auroraInstanceClass,
		"engine":               auroraEngine,
		"dbClusterIdentifier":  id,
	}
	return u
}

// dbClusterSnapshotAnnotations map the deletion policy to rds-controller's final
// snapshot annotations. Snapshot and Retain ask for a final snapshot (under Retain ACK
// deletes nothing, and should the retain annotation be removed the data is still kept);
// Delete skips it.
func dbClusterSnapshotAnnotations(sf *shopv1alpha1.Storefront) map[string]string {
	if auroraDeletionPolicy(sf) == shopv1alpha1.DeletionPolicyDelete {
		return map[string]string{rdsAnnotationSkipFinalSnapshot: "true"}
	}
	return map[string]string{
		rdsAnnotationSkipFinalSnapshot: "false",
		rdsAnnotationFinalSnapshotID:   finalSnapshotIdentifier(sf),
	}
}

// finalSnapshotIdentifier names the cluster's final snapshot: the AWS identifier,
// "-final-" and 8 hex of the Storefront's UID. A Storefront is deleted once, and one
// created again under the same name has a new UID, so each deletion gets a snapshot name
// of its own (RDS refuses one that exists). It is a valid snapshot identifier: a letter
// first, no double or trailing hyphen, at most 64 characters.
func finalSnapshotIdentifier(sf *shopv1alpha1.Storefront) string {
	return awsIdentifier(sf.Namespace, sf.Name) + "-final-" + shortHash(string(sf.UID))
}

// acu parses a capacity in Aurora capacity units; the API validated it.
func acu(s string, def float64) float64 {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v
	}
	return def
}

// nextVersion is the version the next password Secret gets.
func nextVersion(passwords []dbPassword) int {
	if n := len(passwords); n > 0 {
		return passwords[n-1].version + 1
	}
	return 1
}

// specField reads a string field of an unstructured object's spec.
func specField(u *unstructured.Unstructured, field string) string {
	s, _, _ := unstructured.NestedString(u.Object, "spec", field)
	return s
}

func firstNonEmpty(lists ...[]string) []string {
	for _, l := range lists {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

func stringsToAny(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}
