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

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorefrontSpec is the desired state of one online shop.
// +kubebuilder:validation:XValidation:rule="!has(self.cdn) || !self.cdn.enabled || (has(self.images) && has(self.images.bucket))",message="cdn.enabled requires images.bucket: the distribution serves the images from the shop's bucket",fieldPath=".cdn.enabled"
// +kubebuilder:validation:XValidation:rule="!has(self.cdn) || !self.cdn.enabled || (has(self.ingress) && has(self.ingress.host) && size(self.ingress.host) > 0 && has(self.ingress.className) && self.ingress.className == 'alb')",message="cdn.enabled requires ingress with className alb and a host: the distribution reaches the shop's ALB by that host over HTTPS",fieldPath=".cdn.enabled"
// +kubebuilder:validation:XValidation:rule="!has(self.cdn) || !has(self.cdn.aliases) || !has(self.ingress) || !has(self.ingress.host) || !(self.ingress.host in self.cdn.aliases)",message="cdn.aliases must not contain ingress.host: the alias points at CloudFront and the host at the ALB behind it",fieldPath=".cdn.aliases"
type StorefrontSpec struct {
	// Image is the shop's container image. The same image runs the schema migrations
	// (`/shop migrate`) before the Deployment is moved to it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// An image reference is printable ASCII (the OCI distribution grammar), so this
	// refuses whitespace of every kind (tabs, newlines, no-break and other Unicode
	// spaces) and any other character a registry would refuse after the Job exists.
	// +kubebuilder:validation:XValidation:rule="self.matches('^[!-~]+$')",message="image must be printable ASCII with no whitespace of any kind (spaces, tabs, newlines, Unicode spaces)"
	Image string `json:"image"`

	// Replicas bounds the HorizontalPodAutoscaler of the shop.
	// +kubebuilder:default={min:2,max:10,targetCPUUtilizationPercentage:70}
	// +optional
	Replicas ReplicasSpec `json:"replicas,omitempty"`

	// Resources of the shop container. When empty the operator sets requests of
	// 100m CPU / 128Mi memory and a 512Mi memory limit; CPU requests are what the
	// HPA's utilisation target is measured against.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Currency is the ISO 4217 code every price of the shop is in. One currency per shop.
	// +kubebuilder:default=EUR
	// +optional
	Currency Currency `json:"currency,omitempty"`

	// Ingress exposes the shop to shoppers. Absent: no Ingress is created.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// Database is where the shop keeps its data: exactly one of aurora or external.
	Database DatabaseSpec `json:"database"`

	// Cache is the shop's shared Redis-compatible cache. Absent: the shop uses only its
	// in-process cache.
	// +optional
	Cache *CacheSpec `json:"cache,omitempty"`

	// Catalog controls the shop's initial catalog.
	// +kubebuilder:default={}
	// +optional
	Catalog CatalogSpec `json:"catalog,omitempty"`

	// NetworkPolicy controls the NetworkPolicies the operator creates for the shop.
	// +kubebuilder:default={}
	// +optional
	NetworkPolicy NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// Payments says who takes the shop's payments.
	// +kubebuilder:default={}
	// +optional
	Payments PaymentsSpec `json:"payments,omitempty"`

	// Admin hardens the shop's admin accounts.
	// +optional
	Admin AdminSpec `json:"admin,omitempty"`

	// Observability configures the shop's telemetry: where its traces go.
	// +optional
	Observability ObservabilitySpec `json:"observability,omitempty"`

	// Migration bounds the migration Job of each image.
	// +kubebuilder:default={}
	// +optional
	Migration MigrationSpec `json:"migration,omitempty"`

	// Images stores the shop's product images in an S3 bucket the operator provisions
	// through ACK. Absent: the shop keeps its catalog's built-in pictures only.
	// +optional
	Images *ImagesSpec `json:"images,omitempty"`

	// CDN puts a CloudFront distribution, with an ACM certificate for its aliases, in
	// front of the shop and its images (docs/architecture.md#images-and-the-cdn).
	// +optional
	CDN *CDNSpec `json:"cdn,omitempty"`

	// Paused stops the operator from changing any of the shop's objects. Status is still
	// reported, with phase Paused.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// Hibernate puts the shop to sleep: no shop pod runs (the HPA is removed and its
	// bounds kept in status.hibernation), an Aurora database may pause (minimum capacity
	// 0 where the engine version supports it), the cache is kept, and the Ingress answers
	// every path with a 503 "this shop is sleeping" page. false wakes it.
	// +optional
	Hibernate bool `json:"hibernate,omitempty"`
}

// ImagesSpec says where the shop keeps its product images.
type ImagesSpec struct {
	// Bucket provisions an ACK Bucket for the Storefront: named
	// sf-<namespace>-<name>-<hash>-<8 hex of the Storefront's UID> (globally unique),
	// encrypted (SSE-S3), all public access blocked, versioning on and ownership
	// BucketOwnerEnforced. The shop gets IMAGE_STORE=s3://<bucket>/images and reaches
	// S3 with its pod's identity (the operator's --images-role-arn on its
	// ServiceAccount), never a key in a Secret.
	// +optional
	Bucket *ImagesBucket `json:"bucket,omitempty"`
}

// ImagesBucket is the S3 bucket of the shop's images.
type ImagesBucket struct {
	// DeletionPolicy says what happens to the bucket when the Storefront is deleted:
	// Retain (keep it and its images) or Delete (S3 refuses to delete a bucket that
	// still holds objects, and ACK reports it).
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy BucketDeletionPolicy `json:"deletionPolicy,omitempty"`
}

// BucketDeletionPolicy says what happens to the images bucket when its Storefront is
// deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type BucketDeletionPolicy string

const (
	// BucketDeletionPolicyDelete deletes the bucket with the Storefront.
	BucketDeletionPolicyDelete BucketDeletionPolicy = "Delete"
	// BucketDeletionPolicyRetain keeps the bucket and its images in AWS.
	BucketDeletionPolicyRetain BucketDeletionPolicy = "Retain"
)

// CDNSpec is the CloudFront distribution in front of the shop.
// +kubebuilder:validation:XValidation:rule="!self.enabled || (has(self.aliases) && size(self.aliases) > 0)",message="enabled requires at least one alias: the distribution's certificate is issued for its aliases",fieldPath=".aliases"
type CDNSpec struct {
	// Enabled creates the distribution, its certificate (ACM, DNS validation, in
	// us-east-1 as CloudFront requires) and its origin access control. false removes
	// them; status.url goes back to the Ingress.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Aliases are the host names shoppers use; the first one becomes status.url once
	// the distribution is deployed and the certificate issued. Point each at the
	// distribution's domain name (status.cdn.domainName) and create the validation
	// records the CDNReady condition lists: the operator creates no DNS records.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`
	// +optional
	Aliases []string `json:"aliases,omitempty"`
}

// MigrationSpec bounds the migration Job of each image. A running migration is never
// cut short by the operator: a new spec.image waits until it ends, so these bounds are
// the only limit on how long it runs.
type MigrationSpec struct {
	// ActiveDeadlineSeconds is the Job's activeDeadlineSeconds: how long a migration may
	// run, its retries included, before the Job controller stops it and it counts as
	// failed.
	// +kubebuilder:validation:Minimum=60
	// +kubebuilder:validation:Maximum=86400
	// +kubebuilder:default=600
	// +optional
	ActiveDeadlineSeconds int64 `json:"activeDeadlineSeconds,omitempty"`

	// BackoffLimit is the Job's backoffLimit: how many failed pods are retried before the
	// migration counts as failed. 0: no retry.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:default=2
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// Snapshot says whether an Aurora database is snapshotted (an ACK DBClusterSnapshot,
	// available before the Job starts) before each migration of a new image: Always (the
	// default) or Never. External databases are never snapshotted.
	// +kubebuilder:validation:Enum=Always;Never
	// +optional
	Snapshot MigrationSnapshotPolicy `json:"snapshot,omitempty"`
}

// MigrationSnapshotPolicy says whether a snapshot precedes each migration.
type MigrationSnapshotPolicy string

const (
	// MigrationSnapshotAlways takes a DB cluster snapshot before each migration.
	MigrationSnapshotAlways MigrationSnapshotPolicy = "Always"
	// MigrationSnapshotNever migrates without a snapshot.
	MigrationSnapshotNever MigrationSnapshotPolicy = "Never"
)

// ReplicasSpec bounds the shop's autoscaling.
// +kubebuilder:validation:XValidation:rule="!has(self.min) || !has(self.max) || self.max >= self.min",message="max must be greater than or equal to min",fieldPath=".max"
type ReplicasSpec struct {
	// Min is the HPA's minReplicas. With 2 or more, a PodDisruptionBudget keeps one pod.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=2
	// +optional
	Min int32 `json:"min,omitempty"`

	// Max is the HPA's maxReplicas.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=10
	// +optional
	Max int32 `json:"max,omitempty"`

	// TargetCPUUtilizationPercentage is the HPA's average CPU utilisation target.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=70
	// +optional
	TargetCPUUtilizationPercentage int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// IngressSpec describes the Ingress in front of the shop.
// +kubebuilder:validation:XValidation:rule="!has(self.tlsSecretName) || size(self.tlsSecretName) == 0 || (has(self.host) && size(self.host) > 0)",message="tlsSecretName requires host",fieldPath=".tlsSecretName"
// +kubebuilder:validation:XValidation:rule="!has(self.tlsSecretName) || size(self.tlsSecretName) == 0 || !has(self.className) || self.className != 'alb'",message="tlsSecretName cannot be used with className alb: the AWS Load Balancer Controller ignores Ingress TLS Secrets and terminates TLS with ACM certificates; set certificateARN to the ARN of an ACM certificate for host instead",fieldPath=".tlsSecretName"
// +kubebuilder:validation:XValidation:rule="!has(self.certificateARN) || size(self.certificateARN) == 0 || (has(self.className) && self.className == 'alb')",message="certificateARN is for className alb (an ACM certificate on the ALB); with another ingress class use tlsSecretName",fieldPath=".certificateARN"
// +kubebuilder:validation:XValidation:rule="!has(self.certificateARN) || size(self.certificateARN) == 0 || (has(self.host) && size(self.host) > 0)",message="certificateARN requires host",fieldPath=".certificateARN"
// +kubebuilder:validation:XValidation:rule="!has(self.certificateARN) || size(self.certificateARN) == 0 || !has(self.annotations) || !('alb.ingress.kubernetes.io/certificate-arn' in self.annotations)",message="set certificateARN or the alb.ingress.kubernetes.io/certificate-arn annotation, not both",fieldPath=".certificateARN"
type IngressSpec struct {
	// Host is the shop's public host name. Absent: the Ingress matches any host and
	// status.url comes from the load balancer's address.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Host string `json:"host,omitempty"`

	// ClassName is the IngressClass. With `alb` (the AWS Load Balancer Controller) the
	// operator adds, unless the annotation is already given: `target-type: ip`,
	// `scheme: internet-facing`, `healthcheck-path: /readyz`, a target group
	// deregistration delay matching the shop's shutdown, and with certificateARN
	// `certificate-arn`, `listen-ports` HTTP 80 and HTTPS 443 and `ssl-redirect: '443'`
	// (all `alb.ingress.kubernetes.io/`).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClassName string `json:"className,omitempty"`

	// Annotations are copied onto the Ingress as given, and win over the ones the
	// operator would add.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// TLSSecretName is the Secret holding the certificate for Host. Set: TLS is
	// terminated at the Ingress and status.url is https. Not with className alb, whose
	// controller ignores TLS Secrets: use certificateARN there.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// CertificateARN is the ARN of an AWS Certificate Manager certificate for Host, for
	// className alb: the ALB listens on HTTPS 443 with it, redirects HTTP 80 to HTTPS,
	// and status.url is https. The certificate must be issued in the cluster's region.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$`
	// +optional
	CertificateARN string `json:"certificateARN,omitempty"`
}

// DatabaseSpec selects the shop's PostgreSQL database. Exactly one field is set, and the
// kind cannot change after creation: moving a shop's data is not something a field edit
// should trigger.
// +kubebuilder:validation:XValidation:rule="has(self.aurora) != has(self.external)",message="exactly one of aurora or external must be set"
// +kubebuilder:validation:XValidation:rule="has(self.aurora) == has(oldSelf.aurora)",message="the database kind (aurora or external) cannot be changed after creation"
type DatabaseSpec struct {
	// Aurora provisions Aurora Serverless v2 PostgreSQL through ACK.
	// +optional
	Aurora *AuroraDatabase `json:"aurora,omitempty"`

	// External uses an existing PostgreSQL server given by a postgres:// URL.
	// +optional
	External *ExternalStore `json:"external,omitempty"`
}

// AuroraDatabase is an Aurora Serverless v2 PostgreSQL cluster managed through ACK.
// +kubebuilder:validation:XValidation:rule="!has(self.minCapacity) || !has(self.maxCapacity) || double(self.maxCapacity) >= double(self.minCapacity)",message="maxCapacity must be greater than or equal to minCapacity",fieldPath=".maxCapacity"
type AuroraDatabase struct {
	// EngineVersion is the aurora-postgresql engine version, such as 16.6 (`aws rds
	// describe-db-engine-versions --engine aurora-postgresql`). Empty: left out of the
	// DBCluster, and Aurora creates the cluster with its default version for the region.
	// A value is passed to RDS as given; RDS documents a major-only value (such as 16)
	// for Aurora MySQL only, so give Aurora PostgreSQL a full version. Once the cluster
	// exists, the version AWS reports (later minors after automatic upgrades) is kept.
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	EngineVersion string `json:"engineVersion,omitempty"`

	// MinCapacity in Aurora capacity units (ACU), in half steps from 0 to 256.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,3}(\.[05])?$`
	// +kubebuilder:validation:XValidation:rule="double(self) <= 256.0",message="minCapacity must be at most 256 ACU"
	// +kubebuilder:default="0.5"
	// +optional
	MinCapacity string `json:"minCapacity,omitempty"`

	// MaxCapacity in Aurora capacity units (ACU), in half steps from 1 to 256.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,3}(\.[05])?$`
	// +kubebuilder:validation:XValidation:rule="double(self) >= 1.0 && double(self) <= 256.0",message="maxCapacity must be between 1 and 256 ACU"
	// +kubebuilder:default="4"
	// +optional
	MaxCapacity string `json:"maxCapacity,omitempty"`

	// SubnetIDs of the DB subnet group. Empty: the operator's --db-subnet-ids.
	// +listType=set
	// +optional
	SubnetIDs []string `json:"subnetIDs,omitempty"`

	// SecurityGroupIDs of the cluster. Empty: the operator's --db-security-group-ids.
	// +listType=set
	// +optional
	SecurityGroupIDs []string `json:"securityGroupIDs,omitempty"`

	// CABundleSecretRef names a CA bundle to verify the database's certificate against
	// (sslmode=verify-full). Absent: sslmode=require.
	// +optional
	CABundleSecretRef *SecretKeyRef `json:"caBundleSecretRef,omitempty"`

	// DeletionPolicy says what happens to the database when the Storefront is deleted:
	// Snapshot (a final snapshot, then delete), Retain (keep it) or Delete.
	// +kubebuilder:default=Snapshot
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// RestoreFrom restores the database from a DB cluster snapshot: a new value creates a
	// new DB cluster <aws-id>-r<N> from it (same subnet group, security groups, engine and
	// capacity), sets a master password, runs the migrations of spec.image on it and moves
	// the shop to it (condition DatabaseRestored). The replaced cluster follows
	// deletionPolicy. A failed restore leaves the shop on its database; another value
	// retries.
	// +optional
	RestoreFrom *RestoreSource `json:"restoreFrom,omitempty"`
}

// RestoreSource names the DB cluster snapshot a database is restored from.
type RestoreSource struct {
	// SnapshotIdentifier is the DB cluster snapshot's identifier in RDS (status.snapshots
	// lists those the operator took): a letter first, then letters, digits and single
	// hyphens, no trailing hyphen, at most 255 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z](-?[a-zA-Z0-9])*$')",message="snapshotIdentifier must start with a letter and contain only letters, digits and single hyphens, without a trailing hyphen"
	SnapshotIdentifier string `json:"snapshotIdentifier"`
}

// ExternalStore is a data store the operator does not manage, reached through a URL kept
// in a Secret.
type ExternalStore struct {
	// URLSecretRef names the Secret key holding the URL.
	URLSecretRef SecretKeyRef `json:"urlSecretRef"`
}

// SecretKeyRef names one key of a Secret in the Storefront's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key within the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// DeletionPolicy says what happens to AWS data stores when their Storefront is deleted.
// +kubebuilder:validation:Enum=Delete;Retain;Snapshot
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the database without a final snapshot.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain keeps the database in AWS; only the Kubernetes objects go.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicySnapshot takes a final snapshot, then deletes the database.
	DeletionPolicySnapshot DeletionPolicy = "Snapshot"
)

// CacheSpec selects the shop's shared cache: at most one field is set.
// +kubebuilder:validation:XValidation:rule="!(has(self.serverless) && has(self.external))",message="at most one of serverless or external may be set"
type CacheSpec struct {
	// Serverless provisions ElastiCache Serverless (valkey) through ACK.
	// +optional
	Serverless *ServerlessCache `json:"serverless,omitempty"`

	// External uses an existing Redis-compatible server given by a redis:// or rediss:// URL.
	// +optional
	External *ExternalStore `json:"external,omitempty"`
}

// ServerlessCache is an ElastiCache Serverless cache (engine valkey) managed through ACK.
type ServerlessCache struct {
	// MaxDataStorageGB caps the cache's data storage, in GB.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5000
	// +kubebuilder:default=5
	// +optional
	MaxDataStorageGB int32 `json:"maxDataStorageGB,omitempty"`

	// MaxECPUPerSecond caps the cache's ElastiCache Processing Units per second.
	// +kubebuilder:validation:Minimum=1000
	// +kubebuilder:validation:Maximum=15000000
	// +kubebuilder:default=5000
	// +optional
	MaxECPUPerSecond int32 `json:"maxECPUPerSecond,omitempty"`

	// SubnetIDs of the cache. Empty: the operator's --cache-subnet-ids.
	// +listType=set
	// +optional
	SubnetIDs []string `json:"subnetIDs,omitempty"`

	// SecurityGroupIDs of the cache. Empty: the operator's --cache-security-group-ids.
	// +listType=set
	// +optional
	SecurityGroupIDs []string `json:"securityGroupIDs,omitempty"`
}

// CatalogSeed names the catalog the first migration loads.
// +kubebuilder:validation:Enum=none;demo
type CatalogSeed string

const (
	// CatalogSeedNone starts the shop with an empty catalog.
	CatalogSeedNone CatalogSeed = "none"
	// CatalogSeedDemo loads the demo catalog once, with the first migration.
	CatalogSeedDemo CatalogSeed = "demo"
)

// CatalogSpec controls the shop's initial catalog.
type CatalogSpec struct {
	// Seed is passed to `shop migrate --seed`: none or demo.
	// +kubebuilder:default=none
	// +optional
	Seed CatalogSeed `json:"seed,omitempty"`
}

// PaymentsSpec says who takes the shop's payments.
type PaymentsSpec struct {
	// Provider takes the payments. Mock, the one provider, charges nothing: the shop
	// runs with PAYMENT_PROVIDER=mock and every page says "test mode — no card is
	// charged".
	// +kubebuilder:default=Mock
	// +optional
	Provider PaymentProvider `json:"provider,omitempty"`
}

// AdminSpec hardens the shop's admin accounts.
type AdminSpec struct {
	// RequireTOTP makes a TOTP second factor (RFC 6238) mandatory for admins: the shop
	// runs with ADMIN_REQUIRE_TOTP=true and opens its admin pages and API only to
	// sessions signed in with a code; an admin without one can only enrol one.
	// +optional
	RequireTOTP bool `json:"requireTOTP,omitempty"`
}

// PaymentProvider names a payment provider.
// +kubebuilder:validation:Enum=Mock
type PaymentProvider string

// PaymentProviderMock charges nothing (the shop's PAYMENT_PROVIDER=mock).
const PaymentProviderMock PaymentProvider = "Mock"

// NetworkPolicySpec controls the shop's NetworkPolicies.
type NetworkPolicySpec struct {
	// Enabled creates a default-deny policy for the shop's pods with only the traffic
	// the shop needs allowed.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// StorefrontPhase is a one-word summary of the Storefront's state; conditions say more.
// +kubebuilder:validation:Enum=Provisioning;Migrating;RollingOut;Ready;Degraded;Deleting;Paused;Hibernated
type StorefrontPhase string

const (
	// PhaseProvisioning: the database or cache is being created or is not ready.
	PhaseProvisioning StorefrontPhase = "Provisioning"
	// PhaseMigrating: the migration Job of the desired image runs.
	PhaseMigrating StorefrontPhase = "Migrating"
	// PhaseRollingOut: the Deployment is moving to a new pod template (never for a
	// scale).
	PhaseRollingOut StorefrontPhase = "RollingOut"
	// PhaseReady: every condition is True for the current generation.
	PhaseReady StorefrontPhase = "Ready"
	// PhaseDegraded: something failed and needs attention; conditions name it.
	PhaseDegraded StorefrontPhase = "Degraded"
	// PhaseDeleting: the finalizer is removing the shop's objects in order.
	PhaseDeleting StorefrontPhase = "Deleting"
	// PhasePaused: spec.paused is set; nothing is changed.
	PhasePaused StorefrontPhase = "Paused"
	// PhaseHibernated: spec.hibernate is set and the shop is asleep (no pod runs).
	PhaseHibernated StorefrontPhase = "Hibernated"
)

// StorefrontStatus is the observed state of a Storefront.
type StorefrontStatus struct {
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase summarises the conditions.
	// +optional
	Phase StorefrontPhase `json:"phase,omitempty"`

	// Conditions: DatabaseReady, CacheReady, SchemaMigrated, Available and Ready.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// URL is where shoppers reach the shop.
	// +optional
	URL string `json:"url,omitempty"`

	// Database is the endpoint the shop connects to.
	// +optional
	Database *EndpointStatus `json:"database,omitempty"`

	// Cache is the endpoint of the shared cache, when there is one.
	// +optional
	Cache *EndpointStatus `json:"cache,omitempty"`

	// CacheUser is the ElastiCache user the shop connects to a serverless cache as, and
	// the state of its rotation.
	// +optional
	CacheUser *CacheUserStatus `json:"cacheUser,omitempty"`

	// ServedImage is the image the Deployment runs now.
	// +optional
	ServedImage string `json:"servedImage,omitempty"`

	// MigratedImage is the image whose migrations last succeeded.
	// +optional
	MigratedImage string `json:"migratedImage,omitempty"`

	// FailedImage is the image whose migration failed. It is not retried until the image
	// or the shop.storefront.dev/retry-migration annotation changes.
	// +optional
	FailedImage string `json:"failedImage,omitempty"`

	// FailedRetry is the value the shop.storefront.dev/retry-migration annotation had
	// when FailedImage's migration ran; another value re-runs it.
	// +optional
	FailedRetry string `json:"failedRetry,omitempty"`

	// Credentials says which database logins the operator set up for an Aurora database,
	// and which rotation requests it handled. Absent for an external database, whose URL
	// is used as given.
	// +optional
	Credentials *CredentialsStatus `json:"credentials,omitempty"`

	// Hibernation is the state of spec.hibernate: the autoscaling bounds to restore on
	// waking, and what still costs while the shop sleeps. Absent when the shop never
	// hibernated or has woken.
	// +optional
	Hibernation *HibernationStatus `json:"hibernation,omitempty"`

	// Effective holds the operator's defaults (--aws-region, --db-subnet-ids,
	// --db-security-group-ids, --cache-subnet-ids, --cache-security-group-ids) as they
	// were when this Storefront first needed them: its ACK objects use these, so a
	// changed flag affects new Storefronts only. The Storefront's own spec fields still
	// win over them. A new shop.storefront.dev/retry-provisioning value resolves them
	// again. Absent while the Storefront uses no ACK store.
	// +optional
	Effective *EffectiveStatus `json:"effective,omitempty"`

	// Provisioning records how the operator re-drove ACK: the retry-provisioning value it
	// handled and the re-drives so far (each moves a tag on the ACK objects, a spec change
	// ACK reconciles).
	// +optional
	Provisioning *ProvisioningStatus `json:"provisioning,omitempty"`

	// Images is the shop's image store, when spec.images.bucket is set.
	// +optional
	Images *ImagesStatus `json:"images,omitempty"`

	// CDN is the state of the CloudFront distribution, when spec.cdn is enabled.
	// +optional
	CDN *CDNStatus `json:"cdn,omitempty"`

	// Migration says which image's migrations ran on which database: a migration belongs
	// to a database, and a database the operator knew that vanished is reported
	// (DatabaseLost), never silently created again empty.
	// +optional
	Migration *MigrationStatus `json:"migration,omitempty"`

	// Snapshots are the last pre-migration and on-demand DB cluster snapshots, oldest
	// first, at most 5; older ones are deleted.
	// +optional
	Snapshots []SnapshotStatus `json:"snapshots,omitempty"`

	// SnapshotSequence is the sequence number of the last snapshot taken, the last part
	// of its identifier, so that A → B → A → B never reuses one.
	// +optional
	SnapshotSequence int64 `json:"snapshotSequence,omitempty"`

	// SnapshotRequest is the shop.storefront.dev/snapshot value whose on-demand snapshot
	// the operator took.
	// +optional
	SnapshotRequest string `json:"snapshotRequest,omitempty"`

	// Restore is the last restore from a DB cluster snapshot
	// (spec.database.aurora.restoreFrom) and its progress.
	// +optional
	Restore *RestoreStatus `json:"restore,omitempty"`
}

// RestoreStatus is one restore of the database from a DB cluster snapshot.
type RestoreStatus struct {
	// SnapshotIdentifier is the snapshot restored (spec.database.aurora.restoreFrom's
	// value this restore handles).
	SnapshotIdentifier string `json:"snapshotIdentifier"`
	// SnapshotImage is the image the database was migrated for when the snapshot was
	// taken (status.snapshots), when the operator took it.
	// +optional
	SnapshotImage string `json:"snapshotImage,omitempty"`
	// ClusterIdentifier is the new DB cluster's identifier (and its ACK objects' name),
	// <aws-id>-r<Sequence>.
	ClusterIdentifier string `json:"clusterIdentifier"`
	// Sequence is N in ClusterIdentifier; every restore takes the next.
	Sequence int64 `json:"sequence"`
	// State is the step: Restoring, RestoreSettingPassword, RestoreMigrating, Restored or
	// RestoreFailed (DatabaseRestored's reasons).
	State string `json:"state"`
	// ReplacedCluster is the DB cluster the shop used before, which it keeps after a
	// failure.
	// +optional
	ReplacedCluster string `json:"replacedCluster,omitempty"`
	// ReplacedClusterState is what became of the replaced cluster after the restore, as
	// the deletion policy says: Retained, Deleting (with a final snapshot) or Deleted.
	// +optional
	ReplacedClusterState string `json:"replacedClusterState,omitempty"`
	// StartTime is when the restore started.
	StartTime metav1.Time `json:"startTime"`
	// CompletionTime is when it was restored, or when the new cluster of a failed
	// restore was deleted.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// States of RestoreStatus.ReplacedClusterState.
const (
	ReplacedClusterRetained = "Retained"
	ReplacedClusterDeleting = "Deleting"
	ReplacedClusterDeleted  = "Deleted"
)

// InProgress reports whether the restore has not ended, its clean-up included: the
// replaced cluster of a finished one not yet released or deleted, or the new cluster
// of a failed one not yet deleted. A new restoreFrom waits for it (the operator, and
// kubectl storefront restore, which says so): taking it at once would overwrite
// status.restore and leave that cluster in AWS, unreported.
func (rs *RestoreStatus) InProgress() bool {
	if rs == nil {
		return false
	}
	switch rs.State {
	case ReasonRestored:
		return rs.ReplacedCluster != "" && rs.ReplacedClusterState != ReplacedClusterRetained && rs.ReplacedClusterState != ReplacedClusterDeleted
	case ReasonRestoreFailed:
		return rs.CompletionTime == nil
	}
	return true
}

// SnapshotStatus is one DB cluster snapshot the operator took.
type SnapshotStatus struct {
	// Identifier is the DBClusterSnapshot's identifier in RDS (also the name of its ACK
	// object).
	Identifier string `json:"identifier"`
	// Image is the image the database was migrated for when the snapshot was taken (the
	// served image): a restore runs that image's migration gate.
	// +optional
	Image string `json:"image,omitempty"`
	// ForImage is the image whose migration the snapshot precedes; empty for an
	// on-demand snapshot.
	// +optional
	ForImage string `json:"forImage,omitempty"`
	// Time is when the operator asked for it.
	Time metav1.Time `json:"time"`
	// State is RDS's status of the snapshot: creating, available, failed; deleted when
	// its DBClusterSnapshot object was deleted (not by the operator) before it became
	// available.
	// +optional
	State string `json:"state,omitempty"`
	// Retry is the shop.storefront.dev/retry-migration value it was taken under: a
	// failed snapshot is taken again only when that value changes.
	// +optional
	Retry string `json:"retry,omitempty"`
	// MigrationStarted says the migration Job of ForImage started after it.
	// +optional
	MigrationStarted bool `json:"migrationStarted,omitempty"`
}

// ImagesStatus is the shop's image store.
type ImagesStatus struct {
	// Bucket is the S3 bucket's name.
	// +optional
	Bucket string `json:"bucket,omitempty"`
	// BaseURL is the shop's IMAGE_BASE_URL: the CDN's first alias when the
	// distribution serves, else the bucket's regional URL.
	// +optional
	BaseURL string `json:"baseURL,omitempty"`
}

// CDNStatus is the state of the shop's CloudFront distribution.
type CDNStatus struct {
	// DomainName is the distribution's domain name (dxxxx.cloudfront.net), the target
	// of the aliases' DNS records.
	// +optional
	DomainName string `json:"domainName,omitempty"`
	// CertificateStatus is the ACM certificate's status (PENDING_VALIDATION, ISSUED...).
	// +optional
	CertificateStatus string `json:"certificateStatus,omitempty"`
	// DistributionStatus is CloudFront's status of the distribution (InProgress,
	// Deployed).
	// +optional
	DistributionStatus string `json:"distributionStatus,omitempty"`
}

// MigrationStatus is the last successful migration and the database it ran on.
type MigrationStatus struct {
	// Image is the image whose migrations succeeded (status.migratedImage).
	// +optional
	Image string `json:"image,omitempty"`
	// Database identifies the database they ran on: the DBCluster's dbClusterResourceID
	// on Aurora (it starts with "cluster-"), or for an external URL "sha256:" and 16 hex
	// of its host, port and database name (a changed password is not a new database).
	// +optional
	Database string `json:"database,omitempty"`
}

// HibernationStatus is what the operator remembers while a shop sleeps.
type HibernationStatus struct {
	// MinReplicas is the HPA's minReplicas when the shop went to sleep, for humans: the
	// shop wakes with the HPA's minReplicas of the spec it wakes with.
	// +optional
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the HPA's maxReplicas when the shop went to sleep.
	// +optional
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// DatabasePaused says the Aurora cluster may pause: its minimum capacity is 0 ACU
	// with secondsUntilAutoPause set. False for an external database or an engine
	// version without auto-pause; StillCosting says why.
	// +optional
	DatabasePaused bool `json:"databasePaused,omitempty"`

	// StillCosting names what keeps costing while the shop sleeps (a cache that cannot
	// pause, a database that cannot), for humans.
	// +optional
	StillCosting string `json:"stillCosting,omitempty"`
}

// EffectiveStatus is the operator's AWS defaults as resolved for one Storefront.
type EffectiveStatus struct {
	// Region is the services.k8s.aws/region annotation of the ACK objects; empty: ACK's
	// own default region.
	// +optional
	Region string `json:"region,omitempty"`
	// DBSubnetIDs and DBSecurityGroupIDs are the defaults of spec.database.aurora.
	// +optional
	DBSubnetIDs []string `json:"dbSubnetIDs,omitempty"`
	// +optional
	DBSecurityGroupIDs []string `json:"dbSecurityGroupIDs,omitempty"`
	// CacheSubnetIDs and CacheSecurityGroupIDs are the defaults of spec.cache.serverless.
	// +optional
	CacheSubnetIDs []string `json:"cacheSubnetIDs,omitempty"`
	// +optional
	CacheSecurityGroupIDs []string `json:"cacheSecurityGroupIDs,omitempty"`
}

// ProvisioningStatus is the state of the operator's re-drives of ACK.
type ProvisioningStatus struct {
	// HandledRetry is the last value of the shop.storefront.dev/retry-provisioning
	// annotation the operator acted on.
	// +optional
	HandledRetry string `json:"handledRetry,omitempty"`
	// Redrives counts the re-drives; the ACK objects carry it in the tag
	// shop.storefront.dev/provisioning-retry.
	// +optional
	Redrives int32 `json:"redrives,omitempty"`
	// WindowRedrives counts the automatic re-drives in a row while AWS was still deleting
	// a resource of the same identifier (its deletion window); they back off up to 30
	// minutes apart. Reset once the stores are ready.
	// +optional
	WindowRedrives int32 `json:"windowRedrives,omitempty"`
	// LastRedrive is when the operator last re-drove ACK.
	// +optional
	LastRedrive *metav1.Time `json:"lastRedrive,omitempty"`
}

// CredentialsStatus is the state of the database logins. It holds no password: those
// are in the Secrets <name>-db-app-a-v<N>, <name>-db-app-b-v<N> and <name>-db-password-v<N>.
type CredentialsStatus struct {
	// ActiveRole is the application role the shop logs in as; empty before its first
	// login is set up.
	// +kubebuilder:validation:Enum=app_a;app_b
	// +optional
	ActiveRole string `json:"activeRole,omitempty"`

	// RetiringRole is the role the shop logged in as before the last rotation. Its login
	// is withdrawn once no pod of the shop uses it any more.
	// +kubebuilder:validation:Enum=app_a;app_b
	// +optional
	RetiringRole string `json:"retiringRole,omitempty"`

	// HandledRotation is the last value of the shop.storefront.dev/rotate-db-password
	// annotation the operator acted on. Only another value rotates again; removing the
	// annotation does nothing.
	// +optional
	HandledRotation string `json:"handledRotation,omitempty"`

	// Roles are the application roles' passwords as the migration Jobs set them.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=2
	// +optional
	Roles []AppRoleStatus `json:"roles,omitempty"`

	// MasterPassword is the state of the master password's rotation.
	// +optional
	MasterPassword *MasterPasswordStatus `json:"masterPassword,omitempty"`
}

// AppRoleStatus is what a migration Job last did with one application role.
type AppRoleStatus struct {
	// Name is app_a or app_b.
	// +kubebuilder:validation:Enum=app_a;app_b
	Name string `json:"name"`

	// PasswordVersion is the version of the role's password Secret a migration Job last
	// set on the role; 0 when none was.
	// +kubebuilder:validation:Minimum=0
	// +optional
	PasswordVersion int32 `json:"passwordVersion,omitempty"`

	// LoginWithdrawn says the role may not log in: a migration Job withdrew its login
	// after the shop moved to the other role.
	// +optional
	LoginWithdrawn bool `json:"loginWithdrawn,omitempty"`
}

// MasterPasswordStatus is the state of the master password's rotation.
type MasterPasswordStatus struct {
	// HandledRotation is the last value of the
	// shop.storefront.dev/rotate-master-password annotation the operator acted on.
	// +optional
	HandledRotation string `json:"handledRotation,omitempty"`
}

// EndpointStatus is a host and port the shop connects to.
type EndpointStatus struct {
	// Endpoint is the host name or address.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Port is the TCP port.
	// +optional
	Port int32 `json:"port,omitempty"`

	// ClusterIdentifier is the Aurora DB cluster the shop uses now: <aws-id>, or
	// <aws-id>-r<N> after a restore.
	// +optional
	ClusterIdentifier string `json:"clusterIdentifier,omitempty"`
}

// MaxNameLength bounds a Storefront's name so that every name derived from it fits in
// a DNS label (63 characters) without being shortened: the longest suffix the operator
// appends is "-cache-password-v<N>" (17 characters and a version of up to 4 digits,
// 9,999 rotations: 21), ahead of "-db-password-v<N>" (18) and "-migrate-<8 hex>" (17);
// 63 - 21 = 42. Longer names would be cut and hashed (shortName), which keeps them
// valid but hides which Storefront an object belongs to. The name
// is also the app.kubernetes.io/instance label's value (63 at most) and the start of
// the Service's name, a DNS-1035 label: a lower-case letter first, then lower-case
// letters, digits and hyphens, not ending with a hyphen.
const MaxNameLength = 42

// CacheUserStatus is the shop's ElastiCache user and the rotation that replaces it.
type CacheUserStatus struct {
	// Active is the user ID (also its user name) that REDIS_URL carries.
	// +optional
	Active string `json:"active,omitempty"`

	// Retiring are the user IDs a rotation replaced: they leave the user group once the
	// pods run with Active, then are deleted.
	// +optional
	Retiring []string `json:"retiring,omitempty"`

	// Rotation is the value of the shop.storefront.dev/rotate-cache-password annotation
	// that Active's password was made for.
	// +optional
	Rotation string `json:"rotation,omitempty"`
}

// Storefront is an online shop: its database, cache, schema migrations and web workload.
// The name is checked when the Storefront is created, before anything exists in the
// cluster or in AWS (MaxNameLength says why 42).
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1035 label: a lower-case letter first, then lower-case letters, digits or '-', not ending with '-' (it names the shop's Service)"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 42",message="metadata.name must be at most 42 characters, so that every name derived from it (<name>-cache-password-v<N>, <name>-migrate-<hash>) fits in 63"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sf;sfs,categories=storefront
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.status.servedImage`,priority=0
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Payments",type=string,JSONPath=`.spec.payments.provider`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Storefront struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   StorefrontSpec   `json:"spec"`
	Status StorefrontStatus `json:"status,omitempty"`
}

// StorefrontList is a list of Storefronts.
// +kubebuilder:object:root=true
type StorefrontList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Storefront `json:"items"`
}
