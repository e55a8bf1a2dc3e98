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

package v1alpha1

// Condition types of a Storefront. Every reconcile sets each of them, with the
// generation it observed.
const (
	// ConditionDatabaseReady is True when the database has an endpoint and credentials
	// the shop can use.
	ConditionDatabaseReady = "DatabaseReady"
	// ConditionCacheReady is True when the shared cache is ready, or when none is
	// configured (reason CacheNotConfigured).
	ConditionCacheReady = "CacheReady"
	// ConditionSchemaMigrated is True when the migrations of spec.image succeeded.
	ConditionSchemaMigrated = "SchemaMigrated"
	// ConditionAvailable is True when the shop serves: the Deployment has at least
	// spec.replicas.min available pods of the image it runs (status.servedImage, which
	// may be an older image than spec.image while that one migrates or after its
	// migration failed). A scale never changes it; its reason says whether a rollout of
	// a new pod template is in progress (RollingOut) or stuck (RolloutStuck).
	ConditionAvailable = "Available"
	// ConditionReady is True when every other condition is True for the current
	// generation and the Deployment is settled on spec.image (Available's reason is
	// DeploymentAvailable).
	ConditionReady = "Ready"
	// ConditionDatabaseRestored tracks a restore from a DB cluster snapshot
	// (spec.database.aurora.restoreFrom); absent until the first. Its reasons are the
	// steps: Restoring, RestoreSettingPassword, RestoreMigrating, then Restored (True),
	// or RestoreFailed.
	ConditionDatabaseRestored = "DatabaseRestored"
)

// Reasons of the conditions. They are stable identifiers for machines; the condition's
// message carries the cause for humans.
const (
	// ReasonProvisioning: the data store is being created or is not available yet.
	ReasonProvisioning = "Provisioning"
	// ReasonProvisioningFailed: ACK reported ACK.Terminal; the message is ACK's. A spec
	// change is needed.
	ReasonProvisioningFailed = "ProvisioningFailed"
	// ReasonProvisioningRetrying: ACK reported ACK.Recoverable and is retrying.
	ReasonProvisioningRetrying = "ProvisioningRetrying"
	// ReasonConnectionSecretNotFound: the Secret named by urlSecretRef or
	// caBundleSecretRef does not exist or lacks the key.
	ReasonConnectionSecretNotFound = "ConnectionSecretNotFound"
	// ReasonInvalidConnectionSecret: the URL in the referenced Secret key does not parse
	// as a URL of the expected scheme.
	ReasonInvalidConnectionSecret = "InvalidConnectionSecret"
	// ReasonDatabaseAvailable: the database is ready.
	ReasonDatabaseAvailable = "DatabaseAvailable"
	// ReasonCacheAvailable: the shared cache is ready.
	ReasonCacheAvailable = "CacheAvailable"
	// ReasonCacheNotConfigured: spec.cache is absent; the shop caches in-process only.
	ReasonCacheNotConfigured = "CacheNotConfigured"
	// ReasonWaitingForDatabase: nothing downstream starts before the database is ready.
	ReasonWaitingForDatabase = "WaitingForDatabase"
	// ReasonWaitingForCache: the workload waits for the configured cache.
	ReasonWaitingForCache = "WaitingForCache"
	// ReasonMigrationRunning: the migration Job of spec.image is running, or waits for
	// the Job of another image to end (a running migration is never cut short).
	ReasonMigrationRunning = "MigrationRunning"
	// ReasonMigrationSucceeded: the migrations of spec.image completed.
	ReasonMigrationSucceeded = "MigrationSucceeded"
	// ReasonMigrationFailed: the migration Job of spec.image failed; the previous image
	// keeps serving. The message carries the Job's failure.
	ReasonMigrationFailed = "MigrationFailed"
	// ReasonMigrationPodNotStarting: the pod of spec.image's migration Job cannot start
	// (ErrImagePull, ImagePullBackOff, InvalidImageName, CreateContainerConfigError);
	// the message carries the kubelet's. The Job keeps trying until its deadline.
	ReasonMigrationPodNotStarting = "MigrationPodNotStarting"
	// ReasonWaitingForMigration: the Deployment waits for the migration of spec.image.
	ReasonWaitingForMigration = "WaitingForMigration"
	// ReasonRollingOut: a new pod template is rolling out (the Deployment controller's
	// Progressing reason names a new ReplicaSet, or it has not observed the template the
	// operator just wrote). Never set for a scale.
	ReasonRollingOut = "RollingOut"
	// ReasonDeploymentAvailable: the Deployment is settled on its template and at least
	// spec.replicas.min of its pods are available.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonRolloutStuck: the rollout of a new template exceeded its progress deadline;
	// Available stays True while enough old pods serve.
	ReasonRolloutStuck = "RolloutStuck"
	// ReasonPodsUnavailable: no rollout is in progress, yet fewer than
	// spec.replicas.min pods are available (pods crash or cannot be scheduled).
	ReasonPodsUnavailable = "PodsUnavailable"
	// ReasonReconciled: everything is as the spec asks.
	ReasonReconciled = "Reconciled"
	// ReasonNotReady: at least one other condition is not True; the message names it.
	ReasonNotReady = "NotReady"
	// ReasonPaused: spec.paused is set; the operator changes nothing.
	ReasonPaused = "Paused"
	// ReasonHibernated: spec.hibernate is set; the shop is asleep (Ready and Available are
	// False with this reason). The message says what still costs.
	ReasonHibernated = "Hibernated"
	// ReasonDeleting: the Storefront is being deleted.
	ReasonDeleting = "Deleting"
	// ReasonReconcileError: the operator could not apply an object, and retrying does
	// not help (refused, forbidden, invalid); the message says which and why. Conflicts
	// and a busy API server are retried without being reported.
	ReasonReconcileError = "ReconcileError"
	// ReasonLoginFailed: a migration Job that sets or withdraws an application role's
	// login failed (on DatabaseReady); the shop keeps the login it has. The message
	// carries the Job's failure; deleting the Job runs it again.
	ReasonLoginFailed = "LoginFailed"
	// ReasonOwnershipConflict: an object of the name the Storefront needs exists and is
	// not controlled by it; the operator leaves it alone. The message names it.
	ReasonOwnershipConflict = "OwnershipConflict"
	// ReasonDatabaseMaintenance: DatabaseReady is True while RDS modifies, upgrades,
	// backs up or maintains the cluster or its instance and the endpoint serves; the
	// message names the status. New migrations wait for it to end.
	ReasonDatabaseMaintenance = "DatabaseMaintenance"
	// ReasonDatabaseLost: the DBCluster the shop's migrations ran on (status.migration)
	// is gone: its ACK object was deleted outside the operator. It is not created again
	// empty; a new shop.storefront.dev/retry-provisioning value allows that.
	ReasonDatabaseLost = "DatabaseLost"
	// ReasonDatabaseFailed: RDS reports the cluster or instance failed (failed,
	// storage-failure, storage-full, restore-error...); nothing ACK does recovers it.
	ReasonDatabaseFailed = "DatabaseFailed"
	// ReasonEncryptionKeyInaccessible: RDS cannot use the KMS key of the cluster
	// (inaccessible-encryption-credentials); the key must be enabled again.
	ReasonEncryptionKeyInaccessible = "EncryptionKeyInaccessible"
	// ReasonDatabaseIncompatible: RDS reports an incompatible-* status (network,
	// parameters, option group, restore): the database cannot start as configured.
	ReasonDatabaseIncompatible = "DatabaseIncompatible"
	// ReasonDatabaseStopped: the cluster was stopped outside the operator; start it.
	ReasonDatabaseStopped = "DatabaseStopped"
	// ReasonTakingSnapshot: SchemaMigrated is False while the DB cluster snapshot taken
	// before the migration of spec.image is created; the Job starts once it is available.
	ReasonTakingSnapshot = "TakingSnapshot"
	// ReasonSnapshotFailed: the DB cluster snapshot before the migration of spec.image
	// failed; the migration does not start. A new shop.storefront.dev/retry-migration
	// value takes another snapshot.
	ReasonSnapshotFailed = "SnapshotFailed"
	// ReasonRestoring: DatabaseRestored is False while RDS creates the new DB cluster
	// from the snapshot and its instance; the shop serves from its database meanwhile.
	ReasonRestoring = "Restoring"
	// ReasonRestoreSettingPassword: DatabaseRestored is False while ACK sets the master
	// password on the restored cluster (RestoreDBClusterFromSnapshot carries none).
	ReasonRestoreSettingPassword = "RestoreSettingPassword"
	// ReasonRestoreMigrating: DatabaseRestored is False while the migrations of
	// spec.image run on the restored cluster (they also reset the application roles'
	// passwords) and the pods move to it.
	ReasonRestoreMigrating = "RestoreMigrating"
	// ReasonRestored: DatabaseRestored is True: the shop serves from the restored cluster.
	ReasonRestored = "Restored"
	// ReasonRestoreFailed: the restore failed (the snapshot is unknown, RDS or ACK
	// failed the new cluster, or the migrations failed on it); the shop stays on its
	// database and the new cluster is deleted. A new restoreFrom value retries.
	ReasonRestoreFailed = "RestoreFailed"
	// ReasonHostConflict: another Storefront owns spec.ingress.host (its Ingress serves
	// it, or it claimed the host first); this one gets no Ingress until that one is
	// deleted or names another host. The message names the owner.
	ReasonHostConflict = "HostConflict"
)

// Annotations and the finalizer on Storefronts.
const (
	// AnnotationRetryMigration re-runs a failed migration for the same image whenever its
	// value changes.
	AnnotationRetryMigration = "shop.storefront.dev/retry-migration"
	// AnnotationRetryProvisioning makes ACK sync the Storefront's ACK objects again
	// whenever its value changes (a Terminal condition clears only at ACK's next
	// reconcile, which only a spec change brings): the operator moves a tag on them and
	// resolves status.effective from the current flags again. The value handled is
	// recorded in status.provisioning.handledRetry.
	AnnotationRetryProvisioning = "shop.storefront.dev/retry-provisioning"
	// AnnotationRetainedDBCluster is written by the operator on the kept master password
	// Secrets when a Storefront on Aurora is deleted under the Retain policy: its value is
	// the AWS identifier of the DB cluster that survives: the Storefront's own, or after a
	// restore the restored one (<aws-id>-r<N>). A Storefront created again under the same
	// namespace and name finds it and adopts that cluster (and its instance and subnet
	// group) instead of failing on "Resource already exists"; a restored one becomes its
	// finished restore (status.restore). Set it by hand, on a Secret holding the cluster's
	// master password, to adopt a cluster on purpose.
	AnnotationRetainedDBCluster = "shop.storefront.dev/retained-db-cluster"
	// AnnotationRetainedDBClusterSnapshot is written beside AnnotationRetainedDBCluster
	// when the retained cluster is a restored one (<aws-id>-r<N>): the snapshot it was
	// restored from. The Storefront created again adopts that cluster as its restore of
	// this snapshot, so that a manifest still naming it in restoreFrom restores nothing.
	AnnotationRetainedDBClusterSnapshot = "shop.storefront.dev/retained-db-cluster-snapshot"
	// AnnotationRotateDBPassword rotates the shop's database login (Aurora) when it takes
	// a value not handled before: a new password on the application role no pod uses, the
	// pods move to it, then the other role's login is withdrawn. Removing it does nothing.
	AnnotationRotateDBPassword = "shop.storefront.dev/rotate-db-password"
	// AnnotationRotateMasterPassword rotates the Aurora master password, which only the
	// migration Jobs use, when it takes a value not handled before: a new versioned
	// Secret, then the DBCluster's reference to it. Removing it does nothing.
	AnnotationRotateMasterPassword = "shop.storefront.dev/rotate-master-password"
	// AnnotationRotateCachePassword creates the next ElastiCache user of the shop, with a
	// new password Secret, whenever its value changes: ACK does not change a User's
	// password, so a rotation is a new User that replaces the old one.
	AnnotationRotateCachePassword = "shop.storefront.dev/rotate-cache-password"
	// AnnotationSnapshot takes an on-demand DB cluster snapshot (Aurora) whenever its
	// value changes; it is recorded in status.snapshots like the pre-migration ones
	// (kubectl storefront snapshot sets it).
	AnnotationSnapshot = "shop.storefront.dev/snapshot"
	// Finalizer holds a Storefront until its objects are removed in order.
	Finalizer = "shop.storefront.dev/finalizer"
)
