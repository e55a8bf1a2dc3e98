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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Product images in S3 (docs/architecture.md#images-and-the-cdn): one ACK Bucket per
// Storefront, as the real CRD of s3-controller 1.10.0 spells it.

// +kubebuilder:rbac:groups=s3.services.k8s.aws,resources=buckets,verbs=get;list;watch;create;patch;delete

var gvkBucket = schema.GroupVersionKind{Group: "s3.services.k8s.aws", Version: "v1alpha1", Kind: "Bucket"}

// roleImages names the Bucket (<name>-images).
const roleImages = "images"

// The shop's image store configuration (the shop's README: IMAGE_STORE, IMAGE_BASE_URL).
const (
	envImageStore   = "IMAGE_STORE"
	envImageBaseURL = "IMAGE_BASE_URL"
	// imagesPrefix is the key prefix of the images in the bucket, and the path the CDN
	// serves them under (/images/*), so that a key maps to the same path on both.
	imagesPrefix = "images"
)

// annotationIRSARoleARN is the annotation of EKS IAM roles for service accounts: the
// pod identity webhook gives the pods of an annotated ServiceAccount web identity
// credentials for the role (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
const annotationIRSARoleARN = "eks.amazonaws.com/role-arn"

// mediaState is what the images and CDN phases tell the workload phase.
type mediaState struct {
	// bucket is the images bucket's name; "" without spec.images.bucket.
	bucket string
	// baseURL is IMAGE_BASE_URL.
	baseURL string
	// originVerify is the value of the CDN's origin header; "" without a CDN.
	originVerify string
	// cdnServing says the distribution serves the shop under its first alias: the ALB
	// then refuses requests without the origin header.
	cdnServing bool
}

// imagesBucketName names the bucket: the AWS identifier of the Storefront (lower-case,
// sf-<namespace>-<name> cut, with 8 hex of sha256(<namespace>/<name>)) and 8 hex of the
// Storefront's UID. S3 bucket names are global across every AWS account, so the name
// must differ from the same namespace and name in another cluster; at most 58
// characters of [a-z0-9-], within S3's 63, starting with sf- as the IAM policy of
// hack/eks expects.
func imagesBucketName(sf *shopv1alpha1.Storefront) string {
	return awsIdentifier(sf.Namespace, sf.Name) + "-" + shortHash(string(sf.UID))
}

// imagesWanted reports whether spec.images.bucket is set.
func imagesWanted(sf *shopv1alpha1.Storefront) bool {
	return sf.Spec.Images != nil && sf.Spec.Images.Bucket != nil
}

// imagesCDNDeletionPolicy is ACK's deletion policy of the kinds of this file and the
// CDN's, and false for other kinds: the bucket follows spec.images.bucket.deletionPolicy
// (Retain unless Delete is asked for: the images are the shop's data); the CDN's
// objects hold no data and always go.
func imagesCDNDeletionPolicy(sf *shopv1alpha1.Storefront, gvk schema.GroupVersionKind) (string, bool) {
	switch gvk {
	case gvkBucket:
		if sf.Spec.Images != nil && sf.Spec.Images.Bucket != nil && sf.Spec.Images.Bucket.DeletionPolicy == shopv1alpha1.BucketDeletionPolicyDelete {
			return ackDeletionPolicyDelete, true
		}
		return ackDeletionPolicyRetain, true
	case gvkCertificate, gvkOriginAccessControl, gvkCachePolicy, gvkDistribution:
		return ackDeletionPolicyDelete, true
	}
	return "", false
}

// reconcileImages applies the Bucket when spec.images.bucket asks for one, sets
// ImagesReady and status.images, and tells the workload the shop's configuration.
// Removing spec.images deletes the Bucket under its deletion policy.
func (r *StorefrontReconciler) reconcileImages(ctx context.Context, s *scope) (ctrl.Result, error) {
	sf := s.sf
	if !imagesWanted(sf) {
		sf.Status.Images = nil
		meta.RemoveStatusCondition(&sf.Status.Conditions, shopv1alpha1.ConditionImagesReady)
		return ctrl.Result{}, r.removeACKObject(ctx, sf, gvkBucket, objectName(sf, roleImages))
	}
	if s.media == nil {
		s.media = &mediaState{}
	}
	if !r.ackKindInstalled(gvkBucket) {
		s.setCondition(shopv1alpha1.ConditionImagesReady, false, shopv1alpha1.ReasonProvisioningFailed, ackNotInstalledMessage(gvkBucket))
		return ctrl.Result{}, nil
	}
	region := r.imagesRegion(sf)
	policy, err := r.bucketPolicy(ctx, s, imagesBucketName(sf))
	if err != nil {
		return ctrl.Result{}, err
	}
	live, err := r.applyACK(ctx, withBucketCostTags(sf, r.Options.ClusterName, desiredBucket(sf, r.Scheme, region, policy)))
	if err != nil {
		return ctrl.Result{}, err
	}
	name := specField(live, "name")
	s.media.bucket = name
	s.media.baseURL = bucketBaseURL(name, region)
	sf.Status.Images = &shopv1alpha1.ImagesStatus{Bucket: name, BaseURL: s.media.baseURL}
	if st := readACKState(live, nil, noEndpoint); !st.Ready {
		s.setCondition(shopv1alpha1.ConditionImagesReady, false, st.Reason, st.Message)
		return ctrl.Result{}, nil
	}
	s.setCondition(shopv1alpha1.ConditionImagesReady, true, shopv1alpha1.ReasonBucketAvailable,
		fmt.Sprintf("Bucket %s holds the shop's images under %s/", name, imagesPrefix))
	return ctrl.Result{}, nil
}

// imagesRegion is the bucket's region: the operator's, as resolved for the Storefront
// (status.effective) or its flag when no ACK store has resolved it.
func (r *StorefrontReconciler) imagesRegion(sf *shopv1alpha1.Storefront) string {
	if eff := effective(sf); eff.Region != "" {
		return eff.Region
	}
	return r.Options.AWSRegion
}

// bucketBaseURL is the bucket's regional virtual-hosted URL of the images prefix
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html). All
// public access is blocked: without the CDN the pictures it names are not public, and
// the shop's pages fall back to the catalog's built-in pictures' URLs only for
// products without images.
func bucketBaseURL(bucket, region string) string {
	if region == "" {
		return fmt.Sprintf("https://%s.s3.amazonaws.com/%s", bucket, imagesPrefix)
	}
	return fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", bucket, region, imagesPrefix)
}

// desiredBucket is the images bucket: SSE-S3 encryption with an S3 Bucket Key, every
// public access block on, versioning Enabled (an overwritten or deleted image can be
// restored) with earlier versions expiring after 30 days, ownership BucketOwnerEnforced
// (ACLs disabled, the account owns every object), and policy (the CDN's read access)
// when there is one. The fields are those of s3-controller 1.10.0's Bucket CRD.
func desiredBucket(sf *shopv1alpha1.Storefront, scheme *runtime.Scheme, region, policy string) *unstructured.Unstructured {
	u := newACKOwned(sf, scheme, gvkBucket, roleImages, ackAnnotations(sf, gvkBucket, region))
	spec := map[string]any{
		"name": imagesBucketName(sf),
		"encryption": map[string]any{"rules": []any{map[string]any{
			"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "AES256"},
			"bucketKeyEnabled":                   true,
		}}},
		"publicAccessBlock": map[string]any{
			"blockPublicACLs":       true,
			"blockPublicPolicy":     true,
			"ignorePublicACLs":      true,
			"restrictPublicBuckets": true,
		},
		"versioning":        map[string]any{"status": "Enabled"},
		"ownershipControls": map[string]any{"rules": []any{map[string]any{"objectOwnership": "BucketOwnerEnforced"}}},
		"lifecycle": map[string]any{"rules": []any{map[string]any{
			"id":                             "expire-noncurrent-versions",
			"status":                         "Enabled",
			"filter":                         map[string]any{"prefix": ""},
			"noncurrentVersionExpiration":    map[string]any{"noncurrentDays": int64(30)},
			"abortIncompleteMultipartUpload": map[string]any{"daysAfterInitiation": int64(7)},
		}}},
	}
	// us-east-1 is S3's default and refuses a LocationConstraint naming it.
	if region != "" && region != "us-east-1" {
		spec["createBucketConfiguration"] = map[string]any{"locationConstraint": region}
	}
	if policy != "" {
		spec["policy"] = policy
	}
	u.Object["spec"] = spec
	return u
}

// bucketPolicy lets the CDN's distribution, and only it, read the images: CloudFront
// signs its requests through the origin access control, and the policy names the
// distribution's ARN as the source
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html).
// "" while there is no distribution or it has no ARN yet.
func (r *StorefrontReconciler) bucketPolicy(ctx context.Context, s *scope, bucket string) (string, error) {
	if !cdnWanted(s.sf) || !r.ackKindInstalled(gvkDistribution) {
		return "", nil
	}
	dist := newACKObject(gvkDistribution)
	dist.SetNamespace(s.sf.Namespace)
	dist.SetName(objectName(s.sf, roleCDN))
	exists, err := r.ackObjectExistsInto(ctx, dist)
	if err != nil || !exists {
		return "", err
	}
	arn, _, _ := unstructured.NestedString(dist.Object, "status", "ackResourceMetadata", "arn")
	if arn == "" {
		return "", nil
	}
	return cloudFrontReadPolicy(bucket, arn), nil
}

// cloudFrontReadPolicy is the bucket policy of bucketPolicy, as compact JSON (S3
// returns the policy as stored; a stable string keeps ACK from seeing a difference).
func cloudFrontReadPolicy(bucket, distributionARN string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "CloudFrontReadsImages",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "cloudfront.amazonaws.com"},
			"Action":    "s3:GetObject",
			"Resource":  fmt.Sprintf("arn:aws:s3:::%s/%s/*", bucket, imagesPrefix),
			"Condition": map[string]any{"StringEquals": map[string]any{"AWS:SourceArn": distributionARN}},
		}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// withImagesRole annotates the shop's ServiceAccount with --images-role-arn while the
// shop has an images bucket: IRSA then gives its pods credentials for that one role,
// shared by every shop. hack/eks uses EKS Pod Identity instead: the flag stays empty and
// an association gives each shop's ServiceAccount a role of its own that reaches only
// its bucket (docs/architecture.md#images-and-the-cdn).
func withImagesRole(sa *corev1.ServiceAccount, sf *shopv1alpha1.Storefront, opts Options) *corev1.ServiceAccount {
	if !imagesWanted(sf) || opts.ImagesRoleARN == "" {
		return sa
	}
	if sa.Annotations == nil {
		sa.Annotations = map[string]string{}
	}
	sa.Annotations[annotationIRSARoleARN] = opts.ImagesRoleARN
	return sa
}

// withImageEnv gives the shop its image store: IMAGE_STORE=s3://<bucket>/images and
// IMAGE_BASE_URL, the CDN's when it serves, else the bucket's.
func withImageEnv(spec *corev1.PodSpec, m *mediaState) {
	if m == nil || m.bucket == "" {
		return
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name != shopContainerName {
			continue
		}
		spec.Containers[i].Env = append(spec.Containers[i].Env,
			corev1.EnvVar{Name: envImageStore, Value: fmt.Sprintf("s3://%s/%s", m.bucket, imagesPrefix)},
			corev1.EnvVar{Name: envImageBaseURL, Value: m.baseURL},
		)
	}
}
