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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// StorefrontReconciler reconciles Storefront objects.
type StorefrontReconciler struct {
	client.Client
	Scheme  *runtime.Scheme
	Options Options
}

// +kubebuilder:rbac:groups=shop.storefront.dev,resources=storefronts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=shop.storefront.dev,resources=storefronts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=shop.storefront.dev,resources=storefronts/finalizers,verbs=update

// Reconcile brings one Storefront's objects to its spec.
func (r *StorefrontReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sf := &shopv1alpha1.Storefront{}
	if err := r.Get(ctx, req.NamespacedName, sf); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler and its watches with mgr.
func (r *StorefrontReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&shopv1alpha1.Storefront{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles}).
		Named("storefront").
		Complete(r)
}
