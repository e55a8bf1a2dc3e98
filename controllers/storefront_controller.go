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
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// StorefrontReconciler reconciles Storefront objects.
type StorefrontReconciler struct {
	client.Client
	// APIReader reads past the cache, for the rare reads of kinds we do not watch.
	APIReader client.Reader
	// ObjectCache reads unstructured objects (the ACK kinds) from the manager's cache,
	// which the client would read live.
	ObjectCache client.Reader
	// WatchedSecrets caches the Secrets labelled WatchLabel; nil: every referenced
	// Secret is read through APIReader.
	WatchedSecrets cache.Cache
	// ACKInstalled says which ACK kinds the API server served at start-up; nil: all.
	ACKInstalled map[schema.GroupVersionKind]bool
	Scheme       *runtime.Scheme
	Options      Options
	Recorder     recorder.EventRecorder
	// serviceMonitors says whether ServiceMonitors are served (storefront_monitoring.go).
	serviceMonitors *serviceMonitorWatch
	// namespaceGates remembers, per namespace, whether it has the ALB's pod readiness
	// gate label (checkReadinessGateLabel); nil: read every time.
	namespaceGates *utilcache.LRUExpireCache
}

// +kubebuilder:rbac:groups=shop.storefront.dev,resources=storefronts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=shop.storefront.dev,resources=storefronts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=shop.storefront.dev,resources=storefronts/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// phase is one step of a reconcile. It sets the conditions it owns on s.sf and records
// what later phases need in s. A phase that must wait returns a requeue or relies on a
// watch; it never sleeps.
type phase struct {
	name string
	run  func(ctx context.Context, s *scope) (ctrl.Result, error)
}

// phases are run in this order on every reconcile of a live Storefront.
func (r *StorefrontReconciler) phases() []phase {
	return []phase{
		{"provisioning", r.reconcileProvisioning},
		{"secrets", r.reconcileSecrets},
		{"restore", r.reconcileRestore},
		{"database", r.reconcileDatabase},
		{"cache", r.reconcileCache},
		// The policies come before the phases that create Jobs or pods, and need only the
		// stores' endpoints (docs/architecture.md#network-isolation).
		{"migration network", r.reconcileMigrationNetwork},
		{"login", r.reconcileLogin},
		{"connection", r.reconcileConnection},
		{"shop network", r.reconcileShopNetwork},
		{"migration", r.reconcileMigration},
		{"snapshots", r.reconcileSnapshots},
		{"images", r.reconcileImages},
		{"cdn", r.reconcileCDN},
		{"workload", r.reconcileWorkload},
		{"cache removal", r.removeUnwantedCache},
		{"network notes", r.noteOpenNetwork},
		{"restore end", r.finishRestore},
		{"login-rotation", r.finishLoginRotation},
		{"passwords", r.finishPasswordRotation},
		{"cache users", r.finishCacheUserRotation},
		{"monitoring", r.reconcileMonitoring},
	}
}

// scope is what the phases of one reconcile share. Each data store phase describes the
// store as an endpoint, whatever provided it (an external URL here; ACK's status for
// Aurora and ElastiCache), and later phases consume only that description.
type scope struct {
	sf *shopv1alpha1.Storefront
	// database is the database the shop connects to; nil while it is not ready.
	database *storeEndpoint
	// cache is the shared cache; nil when none is configured or while it is not ready.
	cache *storeEndpoint
	// dbPasswords are the Aurora master password versions, oldest first, and
	// dbPasswordInUse the one in the database URL (the one ACK last applied).
	dbPasswords     []dbPassword
	dbPasswordInUse *dbPassword
	// migrateDatabase is the database as the master user, whom the migration Jobs log in
	// as; nil for an external database (its URL serves both). appLogin is the state of
	// the shop's application login and login its progress in this reconcile
	// (storefront_rotation.go).
	migrateDatabase *storeEndpoint
	appLogin        *appLogin
	login           loginProgress
	// masterPasswordSettled says ACK applied the master password the DBCluster
	// references: migrations may log in.
	masterPasswordSettled bool
	// cachePasswords are the cache user versions, oldest first, and cacheUserInUse the
	// one in REDIS_URL (storefront_cacheuser.go).
	cachePasswords []cachePassword
	cacheUserInUse *cachePassword
	// configChecksum is the hash of the connection and application Secrets, put on the
	// pod template so that a change rolls the pods. Empty while the Secrets are not ready.
	configChecksum string
	// deployment and ingress are the live objects, once the workload phase has them.
	deployment *appsv1.Deployment
	ingress    *networkingv1.Ingress
	// err is what stopped the phases, reported by the Ready condition.
	err error
	// hostConflict says which Storefront owns the host this one names, when another
	// does (storefront_hosts.go).
	hostConflict string
	// waitingOn says what a deletion step waits for, when it can tell.
	waitingOn string
	// hibernationNotes say what keeps costing while the shop sleeps (storefront_hibernate.go).
	hibernationNotes []string
	// databaseMaintenance says which RDS maintenance the database serves through
	// (DatabaseReady=True/DatabaseMaintenance); new migrations wait for its end.
	databaseMaintenance string
	// redriveAt is when the operator next re-drives ACK inside a deletion window
	// (storefront_redrive.go); zero when it does not.
	redriveAt time.Time
	// redriven says this reconcile handled a new retry-provisioning value.
	redriven bool
	// databaseID identifies the database of this reconcile (storefront_dbidentity.go);
	// "" while it is not ready.
	databaseID string
	// dbSwitch is a move to a database the served image never migrated (storefront_dbidentity.go).
	dbSwitch databaseSwitch
	// media is the images bucket and CDN, for the workload (storefront_images.go);
	// nil without spec.images.bucket.
	media *mediaState
	// network says which NetworkPolicies are in place (storefront_network.go).
	network networkState
}

// cacheConfigured reports whether spec.cache asks for a shared cache.
func (s *scope) cacheConfigured() bool {
	c := s.sf.Spec.Cache
	return c != nil && (c.External != nil || c.Serverless != nil)
}

// storesReady reports whether every data store the shop needs is ready.
func (s *scope) storesReady() bool {
	return s.database != nil && (s.cache != nil || !s.cacheConfigured())
}

// setCondition sets one condition for the Storefront's current generation.
func (s *scope) setCondition(condType string, status bool, reason, message string) {
	st := metav1ConditionFalse
	if status {
		st = metav1ConditionTrue
	}
	meta.SetStatusCondition(&s.sf.Status.Conditions, newCondition(condType, st, reason, message, s.sf.Generation))
}

// Reconcile brings one Storefront's objects to its spec.
func (r *StorefrontReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	sf := &shopv1alpha1.Storefront{}
	if err := r.Get(ctx, req.NamespacedName, sf); err != nil {
		if apierrors.IsNotFound(err) {
			phaseMetrics.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading storefront: %w", err)
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("storefront", klog.KObj(sf)))
	ctx, span := r.startReconcileSpan(ctx, sf)
	defer func() { endSpan(span, result, retErr, sf) }()

	if !sf.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, sf)
	}

	if !controllerutil.ContainsFinalizer(sf, shopv1alpha1.Finalizer) {
		log.FromContext(ctx).Info("Adding finalizer")
		patch := client.MergeFromWithOptions(sf.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(sf, shopv1alpha1.Finalizer)
		if err := r.Patch(ctx, sf, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}

	s := &scope{sf: sf}
	before := sf.DeepCopy()
	defer func() {
		if err := r.writeStatus(ctx, before, sf); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	if sf.Spec.Paused {
		return r.reconcileStatus(ctx, s)
	}
	return r.runPhases(ctx, s)
}

// runPhases runs the phases in order, stopping at the first error, then the status
// phase, which always runs so that the status reports what is known.
func (r *StorefrontReconciler) runPhases(ctx context.Context, s *scope) (ctrl.Result, error) {
	var result ctrl.Result
	for _, p := range r.phases() {
		pctx, span := r.startPhaseSpan(ctx, p.name)
		res, err := p.run(pctx, s)
		endSpan(span, res, err, nil)
		if err != nil {
			reconcileErrors.WithLabelValues(p.name).Inc()
			// Later phases build on this one.
			s.err = fmt.Errorf("%s: %w", p.name, err)
			break
		}
		result = earliest(result, res)
	}
	res, err := r.reconcileStatus(ctx, s)
	if err = errors.Join(s.err, err); err != nil {
		// controller-runtime requeues with backoff on error; a Result alongside is ignored.
		return ctrl.Result{}, err
	}
	return earliest(result, res), nil
}

// earliest combines two results: the sooner requeue wins.
func earliest(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter > 0 && b.RequeueAfter < a.RequeueAfter) {
		a.RequeueAfter = b.RequeueAfter
	}
	return a
}

// writeStatus patches the status when it changed, and emits an Event for every
// condition that changed.
func (r *StorefrontReconciler) writeStatus(ctx context.Context, before, sf *shopv1alpha1.Storefront) error {
	phaseMetrics.set(client.ObjectKeyFromObject(sf), sf.Status.Phase)
	if statusEqual(before.Status, sf.Status) {
		return nil
	}
	// The optimistic lock refuses a status computed from a stale read (the cache can lag
	// behind the operator's own last write): without it the stale status would overwrite
	// the newer one and emit its transitions' Events a second time.
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, sf, patch); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err):
			// The newer version's watch event reconciles it again; not a failure.
			log.FromContext(ctx).V(1).Info("Status changed meanwhile; reconciling the newer version")
			return nil
		}
		return fmt.Errorf("patching status: %w", err)
	}
	r.emitTransitionEvents(before, sf)
	r.emitSnapshotEvents(before, sf)
	return nil
}

// resyncPeriod is how often a Storefront is reconciled without any event: a safety net,
// since every object it depends on is watched.
const resyncPeriod = 10 * time.Minute

// indexSecretRefs indexes Storefronts by the names of the Secrets they reference, so a
// change to such a Secret reconciles them at once.
const indexSecretRefs = "spec.secretRefs"

// referencedSecrets are the Secrets a Storefront reads but does not own.
func referencedSecrets(sf *shopv1alpha1.Storefront) []string {
	var names []string
	if e := sf.Spec.Database.External; e != nil {
		names = append(names, e.URLSecretRef.Name)
	}
	if a := sf.Spec.Database.Aurora; a != nil && a.CABundleSecretRef != nil {
		names = append(names, a.CABundleSecretRef.Name)
	}
	if c := sf.Spec.Cache; c != nil && c.External != nil {
		names = append(names, c.External.URLSecretRef.Name)
	}
	return names
}

// SetupWithManager registers the reconciler and its watches with mgr.
func (r *StorefrontReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &shopv1alpha1.Storefront{}, indexSecretRefs,
		func(o client.Object) []string { return referencedSecrets(o.(*shopv1alpha1.Storefront)) }); err != nil {
		return fmt.Errorf("indexing storefronts by secret: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		// No predicate: our own status writes come back as events on purpose. A reconcile
		// may have started from a cached Storefront older than our last status write;
		// the event of that write reconciles again from the fresh object, so a status
		// computed against a stale base is corrected. At rest nothing is written, so
		// nothing comes back.
		For(&shopv1alpha1.Storefront{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&batchv1.Job{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		// Our own Secrets (the password Secrets may have no owner reference).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.storefrontsReferencing))
	if r.WatchedSecrets != nil {
		// The Secrets users reference and labelled WatchLabel.
		b = b.WatchesRawSource(source.Kind(r.WatchedSecrets, client.Object(&corev1.Secret{}),
			handler.EnqueueRequestsFromMapFunc(r.storefrontsReferencing)))
	}
	for _, gvk := range ackKinds {
		// Without ACK installed, Storefronts on external stores still work; those that
		// need ACK say it is missing.
		if !r.ackKindInstalled(gvk) {
			mgr.GetLogger().Info("Not watching an ACK kind the API server does not serve", "kind", gvk.String())
			continue
		}
		b = b.Owns(newACKObject(gvk))
	}
	if err := r.watchHostClaims(mgr, b); err != nil {
		return err
	}
	if err := r.watchServiceMonitors(mgr, b); err != nil {
		return err
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		Named("storefront").
		Complete(r)
}

// getReferencedSecret reads a Secret a Storefront references but does not own: from the
// cache of Secrets labelled WatchLabel, else from the API server (the manager's cache
// holds only the operator's own Secrets). A Secret without the label costs one GET per
// reconcile; a change to it is seen at the next reconcile, at the latest after
// resyncPeriod.
func (r *StorefrontReconciler) getReferencedSecret(ctx context.Context, key client.ObjectKey, secret *corev1.Secret) error {
	if r.WatchedSecrets != nil {
		err := r.WatchedSecrets.Get(ctx, key, secret)
		if !apierrors.IsNotFound(err) {
			return err
		}
	}
	if r.APIReader != nil {
		return r.APIReader.Get(ctx, key, secret)
	}
	return r.Get(ctx, key, secret)
}

// storefrontsReferencing maps a Secret to the Storefronts that read it, and a master
// password Secret or <name>-app (which may have no owner reference) to its Storefront.
func (r *StorefrontReconciler) storefrontsReferencing(ctx context.Context, secret client.Object) []reconcile.Request {
	if l := secret.GetLabels(); l[labelManagedBy] == fieldOwner && (l[labelComponent] == roleDBPassword || l[labelComponent] == roleApp) && l[labelInstance] != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: secret.GetNamespace(), Name: l[labelInstance]}}}
	}
	var list shopv1alpha1.StorefrontList
	if err := r.List(ctx, &list, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{indexSecretRefs: secret.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "Listing Storefronts that reference a Secret", "secret", klog.KObj(secret))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
