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

// Conditions of product images and the CDN. They are set only while spec.images.bucket
// or spec.cdn.enabled asks for them, and removed otherwise; they do not gate Ready: the
// shop serves through its Ingress, with its built-in pictures, while they are not True.
const (
	// ConditionImagesReady is True when the images bucket exists and the shop has its
	// IMAGE_STORE and IMAGE_BASE_URL.
	ConditionImagesReady = "ImagesReady"
	// ConditionCDNReady is True when the distribution is deployed and its certificate
	// issued: status.url is then the first alias. While the certificate waits for its
	// DNS validation, the message lists the records to create.
	ConditionCDNReady = "CDNReady"
)

// Reasons of ImagesReady and CDNReady (ProvisioningFailed, ProvisioningRetrying and
// Provisioning are shared with the data stores).
const (
	// ReasonBucketAvailable: the bucket exists and is configured.
	ReasonBucketAvailable = "BucketAvailable"
	// ReasonCertificatePendingValidation: ACM waits for the DNS validation records the
	// message lists.
	ReasonCertificatePendingValidation = "CertificatePendingValidation"
	// ReasonDistributionDeploying: CloudFront is deploying the distribution's
	// configuration to its edge locations.
	ReasonDistributionDeploying = "DistributionDeploying"
	// ReasonCDNAvailable: the distribution serves the shop under its aliases.
	ReasonCDNAvailable = "CDNAvailable"
	// ReasonCDNDegraded: CDNReady stays True: the distribution, which served, still
	// serves the shop with the configuration it has, but ACK reports a failure or
	// retries on one of the CDN's objects (the message says which, in ACK's words), so
	// changes to the CDN wait. The shop stays on the CDN meanwhile.
	ReasonCDNDegraded = "CDNDegraded"
)
