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
	"strings"

	corev1 "k8s.io/api/core/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// How the shop tells shoppers apart and names itself (docs/architecture.md#the-shops-process-contract).
const (
	// envTrustedProxies lists the load balancers whose X-Forwarded-For names the client;
	// the shop throttles logins, registrations and searches per client.
	envTrustedProxies = "TRUSTED_PROXIES"
	// envPublicURL is the address shoppers use; https gives the cookies __Host- names.
	envPublicURL = "PUBLIC_URL"

	eventReasonProxyNotTrusted = "ClientAddressesNotForwarded"
)

// withClientEnv sets TRUSTED_PROXIES from --ingress-cidrs (an ALB in IP mode connects
// from addresses of its subnets, so those are the only peers whose X-Forwarded-For may be
// believed) and PUBLIC_URL from the Ingress host (status.url without the load balancer's
// address, so that the pod template does not change when the ALB is provisioned). Without
// CIDRs the shop believes no header: behind a proxy every shopper then counts as the
// proxy's address (warnProxyNotTrusted).
func withClientEnv(spec *corev1.PodSpec, sf *shopv1alpha1.Storefront, opts Options) {
	var env []corev1.EnvVar
	if len(opts.IngressCIDRs) > 0 {
		env = append(env, corev1.EnvVar{Name: envTrustedProxies, Value: strings.Join(opts.IngressCIDRs, ",")})
	}
	if sf.Spec.Ingress != nil && sf.Spec.Ingress.Host != "" {
		env = append(env, corev1.EnvVar{Name: envPublicURL, Value: shopURL(sf.Spec.Ingress, nil)})
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name == shopContainerName {
			spec.Containers[i].Env = append(spec.Containers[i].Env, env...)
		}
	}
}

// warnProxyNotTrusted says, with a Warning Event when the Deployment was written, that a
// shop reached through an ingress controller of --ingress-namespace cannot see its
// shoppers' addresses: the controller's pods have no addresses known in advance, so no
// TRUSTED_PROXIES is set and the per-client limits count every shopper as one client.
func (r *StorefrontReconciler) warnProxyNotTrusted(_ context.Context, sf *shopv1alpha1.Storefront) {
	if r.Recorder == nil || sf.Spec.Ingress == nil || len(r.Options.IngressCIDRs) > 0 || r.Options.IngressNamespace == "" {
		return
	}
	r.Recorder.Eventf(sf, nil, corev1.EventTypeWarning, eventReasonProxyNotTrusted, "Reconcile",
		"The operator has --ingress-namespace but no --ingress-cidrs: the shop trusts no X-Forwarded-For (TRUSTED_PROXIES is unset), so its per-client limits on logins, registrations and searches count every shopper as the ingress controller's address; set --ingress-cidrs to the proxies' address blocks")
}
