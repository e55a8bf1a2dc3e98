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

// The Bucket of s3-controller 1.10.0 (pkg/resource/bucket/sdk.go at 1051f76: sdkFind,
// sdkCreate, sdkDelete), backed by a real S3-compatible server: gofakes3
// (github.com/johannesboyne/gofakes3, in-memory backend s3mem), an in-process Go module
// that speaks the S3 REST API the shop's AWS SDK uses (path-style), so that what the
// shop uploads is really stored and served. gofakes3 v1.2.0 keeps of a PUT's headers
// only Content-Type, Content-Disposition, Content-Encoding and x-amz-* (gofakes3.go:
// metadataHeaders); S3 also keeps Cache-Control, Content-Language and Expires as the
// object's system-defined metadata and answers GET and HEAD with them
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html, "System-defined
// object metadata"), so the stand-in's server keeps them too (keepSystemMetadata).
// Not reproduced: the bucket configuration
// calls (encryption, public access block, ownership controls, lifecycle, policy) are
// recorded as given and not enforced by gofakes3; regions (one server for all).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The field managers and kinds of images-cdn.
const (
	FieldManagerACKS3         = "ack-s3-controller"
	FieldManagerACKCloudFront = "ack-cloudfront-controller"
	FieldManagerACKACM        = "ack-acm-controller"
)

var (
	BucketGVK              = schema.GroupVersionKind{Group: "s3.services.k8s.aws", Version: "v1alpha1", Kind: "Bucket"}
	CertificateGVK         = schema.GroupVersionKind{Group: "acm.services.k8s.aws", Version: "v1alpha1", Kind: "Certificate"}
	OriginAccessControlGVK = schema.GroupVersionKind{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "OriginAccessControl"}
	CachePolicyGVK         = schema.GroupVersionKind{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "CachePolicy"}
	DistributionGVK        = schema.GroupVersionKind{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "Distribution"}
)

func init() {
	// Registered with the runtime beside the RDS and ElastiCache managers
	// (ack_managers.go); setupACK skips a kind whose CRD is not installed.
	ackManagers = append(ackManagers, []struct {
		rm      resourceManager
		gvk     schema.GroupVersionKind
		manager string
	}{
		{bucketManager{}, BucketGVK, FieldManagerACKS3},
		{certificateManager{}, CertificateGVK, FieldManagerACKACM},
		{originAccessControlManager, OriginAccessControlGVK, FieldManagerACKCloudFront},
		{cachePolicyManager, CachePolicyGVK, FieldManagerACKCloudFront},
		{distributionManager{}, DistributionGVK, FieldManagerACKCloudFront},
	}...)
}

// cdnWorld is the AWS of images-cdn for one StandIns: S3 (gofakes3), ACM, CloudFront
// and the DNS records the stand-in "sees".
type cdnWorld struct {
	mu       sync.Mutex
	s3       *s3mem.Backend
	s3Server *httptest.Server
	buckets  map[string]map[string]any // bucket name: the configuration applied
	certs    map[string]*certificateState
	dns      map[string]string // published record name: value
	oacs     map[string]map[string]any
	policies map[string]map[string]any
	dists    map[string]*distributionState
	seq      int
	// s3Keys, when set, says whether an access key ID is one AWS issued: a write to
	// the S3 server signed with another (or unsigned) is refused (SetS3AccessKeys).
	s3Keys func(accessKeyID string) bool
	// resolveOrigin maps a custom origin's domain name to the base URL the
	// distribution stand-in connects to; nil: https://<domain>.
	resolveOrigin func(domain string) (string, bool)
}

var worlds sync.Map // *StandIns: *cdnWorld

func worldOf(s *StandIns) *cdnWorld {
	if w, ok := worlds.Load(s); ok {
		return w.(*cdnWorld)
	}
	w, _ := worlds.LoadOrStore(s, &cdnWorld{
		buckets: map[string]map[string]any{}, certs: map[string]*certificateState{}, dns: map[string]string{},
		oacs: map[string]map[string]any{}, policies: map[string]map[string]any{}, dists: map[string]*distributionState{},
	})
	return w.(*cdnWorld)
}

// S3 returns the stand-in's S3 server (started on first use): its endpoint URL, for
// path-style clients (the shop's IMAGE_STORE with an endpoint override), and its
// backend.
func (s *StandIns) S3() (endpoint string, backend gofakes3.Backend) {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startS3()
	return w.s3Server.URL, w.s3
}

func (w *cdnWorld) startS3() {
	if w.s3Server != nil {
		return
	}
	w.s3 = s3mem.New()
	w.s3Server = httptest.NewServer(w.checkAccessKey(keepSystemMetadata(gofakes3.New(systemMetadataBackend{w.s3}).Server())))
}

// SetS3AccessKeys makes the S3 server refuse a write (PUT, POST, DELETE) unless it is
// signed with an access key ID for which known is true (one AWS issued), as S3 answers 403
// InvalidAccessKeyId for a key it does not know
// (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html) and
// AccessDenied to an anonymous write into a bucket that blocks public access. The key is
// read from the SigV4 Authorization header's Credential; the signature itself is not
// verified (gofakes3 checks none), nor are reads (the distribution's OAC signing is
// not reproduced).
func (s *StandIns) SetS3AccessKeys(known func(accessKeyID string) bool) {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s3Keys = known
}

// SigV4AccessKeyID is the access key ID of a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, ..."),
// or "" when it is not one.
func SigV4AccessKeyID(authorization string) string {
	_, cred, ok := strings.Cut(authorization, "Credential=")
	if !ok || !strings.HasPrefix(authorization, "AWS4-HMAC-SHA256 ") {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

func (w *cdnWorld) checkAccessKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		known := w.s3Keys
		w.mu.Unlock()
		if known != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			key := SigV4AccessKeyID(r.Header.Get("Authorization"))
			code, msg := "", ""
			switch {
			case key == "":
				code, msg = "AccessDenied", "Access Denied"
			case !known(key):
				code, msg = "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
			}
			if code != "" {
				rw.Header().Set("Content-Type", "application/xml")
				rw.WriteHeader(http.StatusForbidden)
				_, _ = fmt.Fprintf(rw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
				return
			}
		}
		next.ServeHTTP(rw, r)
	})
}

// userSystemMetadata are the system-defined metadata a PUT sets that gofakes3 drops:
// S3 stores each as given and answers GET and HEAD with it (UsingMetadata.html).
var userSystemMetadata = []string{"Cache-Control", "Content-Language", "Expires"}

// carriedPrefix carries a header of userSystemMetadata past gofakes3's filter, which
// keeps every x-amz-* header as metadata; systemMetadataBackend renames it back.
const carriedPrefix = "X-Amz-Standin-System-"

// keepSystemMetadata renames the userSystemMetadata headers of an upload (PutObject,
// CreateMultipartUpload) to carriedPrefix+name on their way into gofakes3.
func keepSystemMetadata(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			for _, h := range userSystemMetadata {
				if v := r.Header.Values(h); len(v) > 0 {
					r.Header.Del(h)
					r.Header[carriedPrefix+h] = v
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// systemMetadataBackend stores a carried header under its own name, which gofakes3
// then answers GET and HEAD with (it sets every stored metadata entry as a header).
type systemMetadataBackend struct{ gofakes3.Backend }

func (b systemMetadataBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	kept := make(map[string]string, len(meta))
	for k, v := range meta {
		if name, ok := strings.CutPrefix(k, carriedPrefix); ok {
			k = name
		}
		kept[k] = v
	}
	return b.Backend.PutObject(bucket, key, kept, input, size, conditions)
}

// CloseCDN stops the images-cdn stand-ins' servers (the S3 server and the
// distributions' proxies); Wait calls it, and whoever set the stand-ins up with
// SetupACK calls it when they stop.
func (s *StandIns) CloseCDN() { s.closeCDN() }

func (s *StandIns) closeCDN() {
	w, ok := worlds.LoadAndDelete(s)
	if !ok {
		return
	}
	cw := w.(*cdnWorld)
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.s3Server != nil {
		cw.s3Server.Close()
	}
	for _, d := range cw.dists {
		d.close()
	}
}

type bucketManager struct{}

func (bucketManager) service() string { return "s3" }
func (bucketManager) idField() string { return "name" }
func (bucketManager) terminalCodes() []string {
	return []string{"BucketAlreadyExists", "InvalidBucketName"}
}
func (bucketManager) lateInitFields() []string                 { return nil }
func (bucketManager) isSynced(*unstructured.Unstructured) bool { return true }
func (bucketManager) compare(desired, latest *unstructured.Unstructured) []string {
	return compareSpecs(desired, latest)
}

// sdkFind: the bucket exists in gofakes3 (s3-controller lists the buckets and matches
// the name); the configuration is what was applied.
func (m bucketManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	name := specString(r, "name")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startS3()
	ok, err := w.s3.BucketExists(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound
	}
	ko := r.DeepCopy()
	st := statusMap(ko)
	md, _ := st["ackResourceMetadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		st["ackResourceMetadata"] = md
	}
	md["arn"] = "arn:" + Partition + ":s3:::" + name
	st["location"] = "/" + name
	return ko, nil
}

// sdkCreate: CreateBucket, then Synced=False "bucket created, requeue for updates" as
// sdkCreate sets it; the next reconcile finds it and applies the configuration.
func (m bucketManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	name := specString(desired, "name")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startS3()
	if err := w.s3.CreateBucket(name); err != nil {
		if gofakes3.HasErrorCode(err, gofakes3.ErrBucketAlreadyExists) {
			return nil, NewAPIError("BucketAlreadyExists", "The requested bucket name is not available.")
		}
		return nil, err
	}
	w.buckets[name] = deepCopyMap(desired.Object["spec"].(map[string]any))
	ko := desired.DeepCopy()
	st := statusMap(ko)
	st["ackResourceMetadata"] = map[string]any{"arn": "arn:" + Partition + ":s3:::" + name}
	setStatusDefaults(ko, c) // ackResourceMetadata.ownerAccountID and region are required
	st["location"] = "/" + name
	setCondition(ko, ConditionSynced, "False", strPtr("bucket created, requeue for updates"), nil, c.s.now())
	return ko, nil
}

// sdkUpdate records the configuration (s3-controller's customUpdate puts each changed
// part with its own call).
func (m bucketManager) sdkUpdate(_ context.Context, c *ackCall, desired, latest *unstructured.Unstructured, _ []string) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	w.buckets[specString(desired, "name")] = deepCopyMap(desired.Object["spec"].(map[string]any))
	w.mu.Unlock()
	ko := desired.DeepCopy()
	ko.Object["status"] = deepCopyValue(latest.Object["status"])
	return ko, nil
}

// sdkDelete: DeleteBucket, which S3 (and gofakes3) refuses while objects remain:
// BucketNotEmpty, a recoverable error ACK retries.
func (m bucketManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	name := specString(r, "name")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startS3()
	if err := w.s3.DeleteBucket(name); err != nil {
		if gofakes3.HasErrorCode(err, gofakes3.ErrBucketNotEmpty) {
			return nil, NewAPIError("BucketNotEmpty", "The bucket you tried to delete is not empty")
		}
		if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchBucket) {
			return nil, nil
		}
		return nil, err
	}
	delete(w.buckets, name)
	return nil, nil
}

// BucketConfiguration is the configuration last applied to the named bucket.
func (s *StandIns) BucketConfiguration(name string) (map[string]any, bool) {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.buckets[name]
	return deepCopyMap(b), ok
}
