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
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The CDN in front of the shop (docs/architecture.md#images-and-the-cdn): an ACM
// Certificate (acm-controller 1.3.4), and a CloudFront OriginAccessControl, CachePolicy
// and Distribution (cloudfront-controller 1.7.1), as their real CRDs spell them.

// +kubebuilder:rbac:groups=acm.services.k8s.aws,resources=certificates,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=cloudfront.services.k8s.aws,resources=distributions;originaccesscontrols;cachepolicies,verbs=get;list;watch;create;patch;delete

var (
	gvkCertificate         = schema.GroupVersionKind{Group: "acm.services.k8s.aws", Version: "v1alpha1", Kind: "Certificate"}
	gvkOriginAccessControl = schema.GroupVersionKind{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "OriginAccessControl"}
	gvkCachePolicy         = schema.GroupVersionKind{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "CachePolicy"}
	gvkDistribution        = schema.GroupVersionKind{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "Distribution"}

	cdnKinds = []schema.GroupVersionKind{gvkCertificate, gvkOriginAccessControl, gvkCachePolicy, gvkDistribution}
)

// Roles of the CDN's objects: <name>-cdn (Certificate, OriginAccessControl,
// Distribution), <name>-pages (the pages' CachePolicy) and <name>-cdn-origin (the
// Secret with the origin header's value).
const (
	roleCDN       = "cdn"
	rolePages     = "pages"
	roleCDNOrigin = "cdn-origin"
)

// cdnCertificateRegion: CloudFront takes certificates from ACM in us-east-1 only
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html).
const cdnCertificateRegion = "us-east-1"

// The origin header: CloudFront adds it to every request to the shop's ALB, and the
// ALB forwards only requests that carry it once the CDN serves, so that nobody
// bypasses the CDN (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/restrict-access-to-load-balancer.html).
const (
	originVerifyHeader = "X-Origin-Verify"
	keyOriginVerify    = "originVerify"
)

// albConditionsAnnotationPrefix + <service name> holds the listener rule conditions of
// the Ingress rules whose backend is that Service (AWS Load Balancer Controller,
// https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#conditions):
// a request that matches no rule gets the listener's default action, a 404.
const albConditionsAnnotationPrefix = "alb.ingress.kubernetes.io/conditions."

// Origins of the distribution.
const (
	originShop   = "shop"
	originImages = "images"
)

// CloudFront's managed policies, by the IDs AWS documents
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html,
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html).
const (
	// CachingOptimized: TTL 1s to 1 year, 1 day by default; no cookie, header or query
	// string in the key. The images' Cache-Control max-age=31536000 keeps them a year.
	cachePolicyCachingOptimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	// CachingDisabled: TTL 0.
	cachePolicyCachingDisabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	// AllViewerExceptHostHeader: every viewer header, cookie and query string goes to
	// the origin, but Host is the origin's (the ALB's listener rule matches the
	// Ingress host).
	originRequestAllViewerExceptHost = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

// pagesMaxTTL bounds how long CloudFront keeps an anonymous page: the shop's s-maxage
// says how long, within 0 and this.
const pagesMaxTTL = 300

// Statuses the operator reads: ACM's certificate status (acm-controller's IsSynced is
// always true: Synced=True while PENDING_VALIDATION) and CloudFront's distribution
// status (cloudfront-controller's read hook sets Synced=False until Deployed:
// templates/hooks/distribution/sdk_read_one_post_set_output.go.tpl; so the status, not
// Synced, says whether a distribution that served still does while an update rolls
// out).
const (
	certificateIssued      = "ISSUED"
	distributionDeployed   = "Deployed"
	distributionInProgress = "InProgress"
)

// cdnWanted reports whether spec.cdn.enabled is set.
func cdnWanted(sf *shopv1alpha1.Storefront) bool {
	return sf.Spec.CDN != nil && sf.Spec.CDN.Enabled
}

// reconcileCDN applies the certificate, the origin access control and the pages' cache
// policy, then, once the certificate is issued and the other two have IDs, the
// distribution. It sets CDNReady and status.cdn; a disabled CDN's objects are deleted.
func (r *StorefrontReconciler) reconcileCDN(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !cdnWanted(sf) {
		sf.Status.CDN = nil
		meta.RemoveStatusCondition(&sf.Status.Conditions, shopv1alpha1.ConditionCDNReady)
		// The distribution first: CloudFront refuses to delete an origin access control,
		// cache policy or certificate a distribution uses (ACK retries until it is gone).
		for _, gvk := range []schema.GroupVersionKind{gvkDistribution, gvkOriginAccessControl, gvkCachePolicy, gvkCertificate} {
			if err := r.removeACKObject(ctx, sf, gvk, cdnObjectName(sf, gvk)); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}
	notReady := func(reason, msg string) (ctrl.Result, error) {
		s.setCondition(shopv1alpha1.ConditionCDNReady, false, reason, msg)
		return ctrl.Result{}, nil
	}
	for _, gvk := range cdnKinds {
		if !r.ackKindInstalled(gvk) {
			return notReady(shopv1alpha1.ReasonProvisioningFailed, ackNotInstalledMessage(gvk))
		}
	}
	if s.media == nil || s.media.bucket == "" {
		// The API refuses cdn.enabled without images.bucket; the images phase ran first.
		return notReady(shopv1alpha1.ReasonProvisioning, "Waiting for the images bucket")
	}
	secret, err := r.originVerifySecret(ctx, sf)
	if err != nil || secret == "" {
		return ctrl.Result{}, err
	}
	s.media.originVerify = secret
	status := &shopv1alpha1.CDNStatus{}
	sf.Status.CDN = status

	region := r.imagesRegion(sf)
	cert, err := r.applyACK(ctx, withCostTags(sf, r.Options.ClusterName, desiredCertificate(sf, r.Scheme)))
	if err != nil {
		return ctrl.Result{}, err
	}
	oac, err := r.applyACK(ctx, desiredOriginAccessControl(sf, r.Scheme, region))
	if err != nil {
		return ctrl.Result{}, err
	}
	pages, err := r.applyACK(ctx, desiredPagesCachePolicy(sf, r.Scheme, region))
	if err != nil {
		return ctrl.Result{}, err
	}
	status.CertificateStatus, _, _ = unstructured.NestedString(cert.Object, "status", "status")
	// A distribution that served keeps serving its deployed configuration whatever ACK
	// says of the objects it was built from (a throttled read, a refused update): the
	// shop stays on it rather than rolling every pod to the private bucket's URL and
	// opening the ALB to all, and rolling back once ACK recovers.
	prev := meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionCDNReady)
	wasServing := prev != nil && prev.Status == metav1ConditionTrue
	for _, obj := range []*unstructured.Unstructured{cert, oac, pages} {
		if st := readACKState(obj, nil, noEndpoint); !st.Ready {
			if wasServing {
				if dist, err := r.servingDistribution(ctx, sf); err != nil || dist != nil {
					if dist != nil {
						servedDespite(s, dist, st)
					}
					return ctrl.Result{}, err
				}
			}
			return notReady(st.Reason, st.Message)
		}
	}
	certARN, _, _ := unstructured.NestedString(cert.Object, "status", "ackResourceMetadata", "arn")
	if status.CertificateStatus != certificateIssued || certARN == "" {
		return notReady(shopv1alpha1.ReasonCertificatePendingValidation, certificateWaitMessage(cert, status.CertificateStatus))
	}
	oacID, _, _ := unstructured.NestedString(oac.Object, "status", "id")
	pagesID, _, _ := unstructured.NestedString(pages.Object, "status", "id")
	if oacID == "" || pagesID == "" {
		return notReady(shopv1alpha1.ReasonProvisioning, "Waiting for the IDs of OriginAccessControl and CachePolicy "+objectName(sf, rolePages))
	}
	dist, err := r.applyACK(ctx, withCostTags(sf, r.Options.ClusterName, desiredDistribution(sf, r.Scheme, region, distributionInputs{
		certificateARN: certARN, originAccessControlID: oacID, pagesCachePolicyID: pagesID,
		bucket: s.media.bucket, bucketRegion: region, originVerify: secret,
	})))
	if err != nil {
		return ctrl.Result{}, err
	}
	status.DomainName, _, _ = unstructured.NestedString(dist.Object, "status", "domainName")
	status.DistributionStatus, _, _ = unstructured.NestedString(dist.Object, "status", "status")
	if st := readACKState(dist, nil, noEndpoint); st.Reason == shopv1alpha1.ReasonProvisioningFailed || st.Reason == shopv1alpha1.ReasonProvisioningRetrying {
		if wasServing && distributionServes(dist) {
			servedDespite(s, dist, st)
			return ctrl.Result{}, nil
		}
		return notReady(st.Reason, st.Message)
	}
	switch {
	case status.DomainName == "":
		return notReady(shopv1alpha1.ReasonDistributionDeploying, "Distribution "+dist.GetName()+": waiting for its domain name")
	case status.DistributionStatus == distributionDeployed,
		// An update of a distribution that served rolls out while the old configuration
		// keeps serving: status.url stays.
		status.DistributionStatus == distributionInProgress && wasServing:
	default:
		return notReady(shopv1alpha1.ReasonDistributionDeploying, fmt.Sprintf(
			"Distribution %s (%s) is %s: CloudFront deploys it to its edge locations; point %s at %s meanwhile",
			dist.GetName(), status.DomainName, orDefault(status.DistributionStatus, "being created"), strings.Join(sf.Spec.CDN.Aliases, ", "), status.DomainName))
	}
	serveThrough(s, dist, shopv1alpha1.ReasonCDNAvailable, "")
	return ctrl.Result{}, nil
}

// serveThrough points the shop at the distribution (IMAGE_BASE_URL, status.url, the
// ALB's origin-header condition) and sets CDNReady True with reason; note says what
// else is going on.
func serveThrough(s *scope, dist *unstructured.Unstructured, reason, note string) {
	sf := s.sf
	alias := sf.Spec.CDN.Aliases[0]
	s.media.cdnServing = true
	s.media.baseURL = "https://" + alias + "/" + imagesPrefix
	if sf.Status.Images != nil {
		sf.Status.Images.BaseURL = s.media.baseURL
	}
	domain, _, _ := unstructured.NestedString(dist.Object, "status", "domainName")
	s.setCondition(shopv1alpha1.ConditionCDNReady, true, reason, fmt.Sprintf(
		"Distribution %s serves the shop at https://%s (CNAME %s to %s); the ALB refuses requests without the origin header%s",
		dist.GetName(), alias, strings.Join(sf.Spec.CDN.Aliases, ", "), domain, note))
}

// servedDespite keeps the shop on a distribution that served while an object of the
// CDN is not ready (st): a failure or ACK's retries are reported as CDNDegraded (an
// Event; changes to the CDN wait for it), an update in progress only in the message.
func servedDespite(s *scope, dist *unstructured.Unstructured, st ackState) {
	if sf := s.sf; sf.Status.CDN != nil {
		sf.Status.CDN.DomainName, _, _ = unstructured.NestedString(dist.Object, "status", "domainName")
		sf.Status.CDN.DistributionStatus, _, _ = unstructured.NestedString(dist.Object, "status", "status")
	}
	if st.Reason == shopv1alpha1.ReasonProvisioningFailed || st.Reason == shopv1alpha1.ReasonProvisioningRetrying {
		serveThrough(s, dist, shopv1alpha1.ReasonCDNDegraded, ", with the configuration it has; changes to the CDN wait: "+st.Message)
		return
	}
	serveThrough(s, dist, shopv1alpha1.ReasonCDNAvailable, "; meanwhile "+st.Message)
}

// distributionServes reports whether CloudFront serves the distribution: deployed, or
// rolling out an update while its deployed configuration serves.
func distributionServes(dist *unstructured.Unstructured) bool {
	domain, _, _ := unstructured.NestedString(dist.Object, "status", "domainName")
	status, _, _ := unstructured.NestedString(dist.Object, "status", "status")
	return dist.GetDeletionTimestamp() == nil && domain != "" && (status == distributionDeployed || status == distributionInProgress)
}

// servingDistribution is the live distribution when it serves, else nil.
func (r *StorefrontReconciler) servingDistribution(ctx context.Context, sf *shopv1alpha1.Storefront) (*unstructured.Unstructured, error) {
	dist := newACKObject(gvkDistribution)
	dist.SetNamespace(sf.Namespace)
	dist.SetName(cdnObjectName(sf, gvkDistribution))
	ok, err := r.ackObjectExistsInto(ctx, dist)
	if err != nil || !ok || !distributionServes(dist) {
		return nil, err
	}
	return dist, nil
}

// cdnObjectName is the name of the CDN's object of kind gvk.
func cdnObjectName(sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind) string {
	if gvk == gvkCachePolicy {
		return objectName(sf, rolePages)
	}
	return objectName(sf, roleCDN)
}

// certificateWaitMessage says what the certificate waits for: with DNS validation,
// the records to create, as ACM reports them in status.domainValidations (the operator
// creates no DNS records).
func certificateWaitMessage(cert *unstructured.Unstructured, status string) string {
	what := "Certificate " + cert.GetName()
	if status != "" && status != "PENDING_VALIDATION" {
		reason, _, _ := unstructured.NestedString(cert.Object, "status", "failureReason")
		if reason != "" {
			return fmt.Sprintf("%s is %s (%s): request another by changing spec.cdn.aliases", what, status, reason)
		}
		return fmt.Sprintf("%s is %s, waiting for ISSUED", what, status)
	}
	records := certificateValidationRecords(cert)
	if len(records) == 0 {
		return what + ": waiting for ACM to publish the DNS validation records"
	}
	return fmt.Sprintf("%s waits for DNS validation: create %s", what, strings.Join(records, "; "))
}

// certificateValidationRecords are the DNS records of status.domainValidations, one
// per record ("CNAME <name> -> <value> (for <domain>)"), sorted and without repeats (a
// wildcard and its base domain share one).
func certificateValidationRecords(cert *unstructured.Unstructured) []string {
	dvs, _, _ := unstructured.NestedSlice(cert.Object, "status", "domainValidations")
	seen := map[string]bool{}
	var out []string
	for _, dv := range dvs {
		m, ok := dv.(map[string]any)
		if !ok {
			continue
		}
		rr, _ := m["resourceRecord"].(map[string]any)
		name, _ := rr["name"].(string)
		typ, _ := rr["type_"].(string)
		value, _ := rr["value"].(string)
		domain, _ := m["domainName"].(string)
		if name == "" || value == "" {
			continue
		}
		rec := fmt.Sprintf("%s %s -> %s (for %s)", orDefault(typ, "CNAME"), name, value, domain)
		if !seen[name] {
			seen[name] = true
			out = append(out, rec)
		}
	}
	sort.Strings(out)
	return out
}

// originVerifySecret returns the origin header's value from <name>-cdn-origin, and
// creates the Secret with a new random value when it does not exist ("" then: the
// Secret's event brings the next reconcile). The value is generated once and kept.
func (r *StorefrontReconciler) originVerifySecret(ctx context.Context, sf *shopv1alpha1.Storefront) (string, error) {
	current := &corev1.Secret{}
	key := client.ObjectKey{Namespace: sf.Namespace, Name: objectName(sf, roleCDNOrigin)}
	err := r.Get(ctx, key, current)
	switch {
	case err == nil:
		if v := string(current.Data[keyOriginVerify]); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("secret %s has no key %s: delete it and the operator creates it again", key.Name, keyOriginVerify)
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("reading secret %s: %w", key.Name, err)
	}
	value, err := randomString(48)
	if err != nil {
		return "", fmt.Errorf("generating the origin header's value: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: objectMeta(sf, key.Name, roleCDNOrigin),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{keyOriginVerify: []byte(value)},
	}
	own(sf, secret)
	log.FromContext(ctx).Info("Creating the CDN origin header secret", "secret", klog.KObj(secret))
	if err := r.createOwned(ctx, "Secret", secret, &corev1.Secret{}); err != nil {
		return "", err
	}
	return value, nil
}

// desiredCertificate is the ACM certificate of the aliases: the first is its domain
// name, the others its subject alternative names. acm-controller requests every public
// certificate with DNS validation (pkg/resource/certificate/sdk.go, sdkCreate:
// input.ValidationMethod = "DNS"); the region annotation puts it in us-east-1.
func desiredCertificate(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkCertificate, roleCDN, ackAnnotations(sf, gvkCertificate, cdnCertificateRegion))
	aliases := sf.Spec.CDN.Aliases
	spec := map[string]any{
		"domainName": aliases[0],
		// CloudFront accepts RSA 2048 and ECDSA P-256 certificates from ACM.
		"keyAlgorithm": "RSA_2048",
		"options":      map[string]any{"certificateTransparencyLoggingPreference": "ENABLED"},
	}
	if len(aliases) > 1 {
		spec["subjectAlternativeNames"] = stringsToAny(aliases[1:])
	}
	u.Object["spec"] = spec
	return u
}

// desiredOriginAccessControl lets CloudFront sign every request to the bucket (sigv4,
// always), so that the bucket stays private.
func desiredOriginAccessControl(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkOriginAccessControl, roleCDN, ackAnnotations(sf, gvkOriginAccessControl, region))
	u.Object["spec"] = map[string]any{"originAccessControlConfig": map[string]any{
		"name":                          awsIdentifier(sf.Namespace, sf.Name),
		"description":                   fmt.Sprintf("Storefront %s/%s images", sf.Namespace, sf.Name),
		"originAccessControlOriginType": "s3",
		"signingBehavior":               "always",
		"signingProtocol":               "sigv4",
	}}
	return u
}

// desiredPagesCachePolicy is the cache policy of the shop's pages. CloudFront caches a
// page only as long as the shop's Cache-Control says (default TTL 0, at most
// pagesMaxTTL): the shop marks only anonymous, cookie-less GETs public with s-maxage,
// everything personal private. Cookies are in the key (all): a request without cookies
// is keyed without them and shares the anonymous copy, while a request with cookies
// never matches it; the cookies and query strings of the key reach the shop too.
func desiredPagesCachePolicy(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkCachePolicy, rolePages, ackAnnotations(sf, gvkCachePolicy, region))
	u.Object["spec"] = map[string]any{"cachePolicyConfig": map[string]any{
		"name":       awsIdentifier(sf.Namespace, sf.Name) + "-pages",
		"comment":    fmt.Sprintf("Storefront %s/%s pages", sf.Namespace, sf.Name),
		"minTTL":     int64(0),
		"defaultTTL": int64(0),
		"maxTTL":     int64(pagesMaxTTL),
		"parametersInCacheKeyAndForwardedToOrigin": map[string]any{
			"cookiesConfig":              map[string]any{"cookieBehavior": "all"},
			"headersConfig":              map[string]any{"headerBehavior": "none"},
			"queryStringsConfig":         map[string]any{"queryStringBehavior": "all"},
			"enableAcceptEncodingGzip":   true,
			"enableAcceptEncodingBrotli": true,
		},
	}}
	return u
}

// distributionInputs are what the distribution takes from the other objects.
type distributionInputs struct {
	certificateARN, originAccessControlID, pagesCachePolicyID string
	bucket, bucketRegion, originVerify                        string
}

// desiredDistribution is the distribution in front of the shop. Two origins: the
// shop's ALB, reached by the Ingress host over HTTPS only with the origin header, and
// the bucket through the origin access control. Behaviours: /static/* (the shop's
// assets) and /images/* (the bucket) cached long with CachingOptimized; /api/* and
// /admin* never cached; every other path (the pages) with the pages' cache policy.
func desiredDistribution(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region string, in distributionInputs) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkDistribution, roleCDN, ackAnnotations(sf, gvkDistribution, region))
	readOnly := map[string]any{"items": stringsToAny([]string{"GET", "HEAD"}), "cachedMethods": map[string]any{"items": stringsToAny([]string{"GET", "HEAD"})}}
	allMethods := map[string]any{
		"items":         stringsToAny([]string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}),
		"cachedMethods": map[string]any{"items": stringsToAny([]string{"GET", "HEAD"})},
	}
	behaviour := func(path, origin, cachePolicy, originRequest string, methods map[string]any) map[string]any {
		b := map[string]any{
			"targetOriginID":       origin,
			"viewerProtocolPolicy": "redirect-to-https",
			"cachePolicyID":        cachePolicy,
			"allowedMethods":       methods,
			"compress":             true,
		}
		if path != "" {
			b["pathPattern"] = path
		}
		if originRequest != "" {
			b["originRequestPolicyID"] = originRequest
		}
		return b
	}
	uncached := func(path string) map[string]any {
		return behaviour(path, originShop, cachePolicyCachingDisabled, originRequestAllViewerExceptHost, allMethods)
	}
	u.Object["spec"] = map[string]any{"distributionConfig": map[string]any{
		"enabled":       true,
		"comment":       fmt.Sprintf("Storefront %s/%s", sf.Namespace, sf.Name),
		"aliases":       map[string]any{"items": stringsToAny(sf.Spec.CDN.Aliases)},
		"httpVersion":   "http2and3",
		"isIPV6Enabled": true,
		"priceClass":    "PriceClass_All",
		"viewerCertificate": map[string]any{
			"acmCertificateARN":      in.certificateARN,
			"sslSupportMethod":       "sni-only",
			"minimumProtocolVersion": "TLSv1.2_2021",
		},
		"origins": map[string]any{"items": []any{
			map[string]any{
				"id":         originShop,
				"domainName": sf.Spec.Ingress.Host,
				"customOriginConfig": map[string]any{
					"httpPort":             int64(80),
					"httpSPort":            int64(443),
					"originProtocolPolicy": "https-only",
					"originSSLProtocols":   map[string]any{"items": stringsToAny([]string{"TLSv1.2"})},
				},
				"customHeaders": map[string]any{"items": []any{
					map[string]any{"headerName": originVerifyHeader, "headerValue": in.originVerify},
				}},
			},
			map[string]any{
				"id":                    originImages,
				"domainName":            bucketDomain(in.bucket, in.bucketRegion),
				"originAccessControlID": in.originAccessControlID,
				// An S3 origin with an origin access control has no identity.
				"s3OriginConfig": map[string]any{"originAccessIdentity": ""},
			},
		}},
		"defaultCacheBehavior": behaviour("", originShop, in.pagesCachePolicyID, originRequestAllViewerExceptHost, allMethods),
		"cacheBehaviors": map[string]any{"items": []any{
			behaviour("/static/*", originShop, cachePolicyCachingOptimized, "", readOnly),
			behaviour("/"+imagesPrefix+"/*", originImages, cachePolicyCachingOptimized, "", readOnly),
			uncached("/api/*"),
			uncached("/admin*"),
		}},
	}}
	return u
}

// bucketDomain is the bucket's regional domain, CloudFront's S3 origin.
func bucketDomain(bucket, region string) string {
	if region == "" {
		return bucket + ".s3.amazonaws.com"
	}
	return fmt.Sprintf("%s.s3.%s.amazonaws.com", bucket, region)
}

// withOriginVerify adds to the Ingress, once the CDN serves, the listener rule
// condition that forwards only requests carrying the origin header with the
// Storefront's value; others get the ALB's default 404. Before, the ALB serves
// everyone: shoppers reach the shop by the Ingress host until the aliases do.
func withOriginVerify(ing *networkingv1.Ingress, m *mediaState) {
	if m == nil || !m.cdnServing || m.originVerify == "" {
		return
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			if ing.Annotations == nil {
				ing.Annotations = map[string]string{}
			}
			ing.Annotations[albConditionsAnnotationPrefix+p.Backend.Service.Name] = originVerifyCondition(m.originVerify)
		}
	}
}

// originVerifyCondition is the AWS Load Balancer Controller's http-header condition
// (field http-header, httpHeaderConfig) for the origin header.
func originVerifyCondition(value string) string {
	b, _ := json.Marshal([]any{map[string]any{
		"field":            "http-header",
		"httpHeaderConfig": map[string]any{"httpHeaderName": originVerifyHeader, "values": []string{value}},
	}})
	return string(b)
}

// cdnURL is status.url while the CDN serves: its first alias, over HTTPS.
func cdnURL(sf *shopv1alpha1.Storefront) string {
	if !cdnWanted(sf) || len(sf.Spec.CDN.Aliases) == 0 {
		return ""
	}
	c := meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionCDNReady)
	if c == nil || c.Status != metav1ConditionTrue || c.ObservedGeneration != sf.Generation {
		return ""
	}
	return "https://" + sf.Spec.CDN.Aliases[0]
}

// ackObjectExistsInto reads the ACK object named by obj into it from the cache.
func (r *StorefrontReconciler) ackObjectExistsInto(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	err := r.objectReader().Get(ctx, client.ObjectKeyFromObject(obj), obj)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("reading %s %s: %w", obj.GetKind(), obj.GetName(), err)
}

// deleteCDN is the deletion step of the CDN's objects: the distribution first (ACK
// disables it, waits for CloudFront, then deletes it:
// cloudfront-controller templates/hooks/distribution/sdk_delete_pre_build_request.go.tpl),
// then the objects it used.
func (r *StorefrontReconciler) deleteCDN(ctx context.Context, s *scope) (bool, error) {
	for _, gvk := range []schema.GroupVersionKind{gvkDistribution, gvkOriginAccessControl, gvkCachePolicy, gvkCertificate} {
		done, err := r.deleteACKObject(ctx, s, gvk, cdnObjectName(s.sf, gvk), nil)
		if err != nil || !done {
			return done, err
		}
	}
	return true, nil
}

// deleteImagesBucket is the deletion step of the images bucket, under its policy.
func (r *StorefrontReconciler) deleteImagesBucket(ctx context.Context, s *scope) (bool, error) {
	return r.deleteACKObject(ctx, s, gvkBucket, objectName(s.sf, roleImages), nil)
}
