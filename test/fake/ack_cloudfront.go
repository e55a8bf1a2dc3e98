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

// The OriginAccessControl, CachePolicy and Distribution of cloudfront-controller 1.7.1
// (pkg/resource/{origin_access_control,cache_policy,distribution} at 37fbad2, and
// generator.yaml): each gets a generated ID in status.id; a Distribution is InProgress
// when created or updated and Deployed at the next look, Synced=False until Deployed
// (templates/hooks/distribution/sdk_read_one_post_set_output.go.tpl), which makes ACK
// look again after its default 30 seconds. Deleting an enabled
// distribution first disables it and waits
// (templates/hooks/distribution/sdk_delete_pre_build_request.go.tpl); the stand-in
// deletes at once. The distribution itself is a caching reverse proxy (distProxy) on
// 127.0.0.1, whose address is status.domainName.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CloudFront distribution statuses.
const (
	DistributionInProgress = "InProgress"
	DistributionDeployed   = "Deployed"
)

// newCloudFrontID is a CloudFront-style ID: E and 13 upper-case characters.
func (w *cdnWorld) newCloudFrontID(kind string) string {
	w.seq++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", kind, w.seq)))
	return "E" + strings.ToUpper(hex.EncodeToString(h[:7]))[:13]
}

func statusID(r *unstructured.Unstructured) string {
	id, _, _ := unstructured.NestedString(r.Object, "status", "id")
	return id
}

// cloudFrontManager is what the three kinds share: status.id identifies the resource,
// and the configuration is one spec field.
type cloudFrontManager struct {
	kind, configField string
	store             func(w *cdnWorld) map[string]map[string]any
}

func (cloudFrontManager) service() string                          { return "cloudfront" }
func (cloudFrontManager) idField() string                          { return "" }
func (cloudFrontManager) lateInitFields() []string                 { return nil }
func (cloudFrontManager) isSynced(*unstructured.Unstructured) bool { return true }
func (cloudFrontManager) terminalCodes() []string {
	return []string{"InvalidArgument", "InconsistentQuantities", "OriginAccessControlAlreadyExists", "CachePolicyAlreadyExists"}
}
func (cloudFrontManager) compare(desired, latest *unstructured.Unstructured) []string {
	return compareSpecs(desired, latest)
}

func (m cloudFrontManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := m.store(w)[statusID(r)]; !ok {
		return nil, errNotFound
	}
	return r.DeepCopy(), nil
}

func (m cloudFrontManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	cfg, _, _ := unstructured.NestedMap(desired.Object, "spec", m.configField)
	name, _ := cfg["name"].(string)
	for _, other := range m.store(w) {
		if other["name"] == name {
			return nil, NewAPIError(m.kind+"AlreadyExists", fmt.Sprintf("A %s with the name %s already exists", m.kind, name))
		}
	}
	id := w.newCloudFrontID(m.kind)
	m.store(w)[id] = cfg
	ko := desired.DeepCopy()
	st := statusMap(ko)
	st["id"] = id
	st["eTag"] = "E" + id[1:]
	st["ackResourceMetadata"] = map[string]any{"arn": fmt.Sprintf("arn:%s:cloudfront::%s:%s/%s", Partition, c.account, kebab(m.kind), id)}
	setStatusDefaults(ko, c) // ackResourceMetadata.ownerAccountID and region are required
	return ko, nil
}

func (m cloudFrontManager) sdkUpdate(_ context.Context, c *ackCall, desired, latest *unstructured.Unstructured, _ []string) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	cfg, _, _ := unstructured.NestedMap(desired.Object, "spec", m.configField)
	m.store(w)[statusID(latest)] = cfg
	w.mu.Unlock()
	ko := desired.DeepCopy()
	ko.Object["status"] = deepCopyValue(latest.Object["status"])
	return ko, nil
}

// sdkDelete refuses an origin access control or cache policy a distribution uses
// (OriginAccessControlInUse, CachePolicyInUse), which ACK retries.
func (m cloudFrontManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	id := statusID(r)
	for _, d := range w.dists {
		if d.uses(id) {
			return nil, NewAPIError(m.kind+"InUse", fmt.Sprintf("The %s is in use by distribution %s", m.kind, d.id))
		}
	}
	delete(m.store(w), id)
	return nil, nil
}

func kebab(kind string) string {
	var b strings.Builder
	for i, r := range kind {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The managers of the two kinds whose configuration is all they hold.
var (
	originAccessControlManager = cloudFrontManager{kind: "OriginAccessControl", configField: "originAccessControlConfig",
		store: func(w *cdnWorld) map[string]map[string]any { return w.oacs }}
	cachePolicyManager = cloudFrontManager{kind: "CachePolicy", configField: "cachePolicyConfig",
		store: func(w *cdnWorld) map[string]map[string]any { return w.policies }}
)

// distributionState is one distribution: its configuration, status and proxy.
type distributionState struct {
	id     string
	config map[string]any
	status string
	proxy  *distProxy
}

func (d *distributionState) certificateARN() string {
	arn, _, _ := unstructured.NestedString(d.config, "viewerCertificate", "acmCertificateARN")
	return arn
}

// uses reports whether the distribution refers to the ID (an origin access control or
// a cache policy).
func (d *distributionState) uses(id string) bool {
	b, _ := jsonString(d.config)
	return id != "" && strings.Contains(b, `"`+id+`"`)
}

func (d *distributionState) close() {
	if d.proxy != nil {
		d.proxy.Close()
	}
}

type distributionManager struct{}

func (distributionManager) service() string          { return "cloudfront" }
func (distributionManager) idField() string          { return "" }
func (distributionManager) lateInitFields() []string { return nil }
func (distributionManager) isSynced(r *unstructured.Unstructured) bool {
	st, _, _ := unstructured.NestedString(r.Object, "status", "status")
	return st == DistributionDeployed
}
func (distributionManager) terminalCodes() []string {
	return []string{"InvalidArgument", "InconsistentQuantities", "InvalidOrigin", "InvalidViewerCertificate", "InvalidOriginAccessControl", "CNAMEAlreadyExists"}
}
func (distributionManager) compare(desired, latest *unstructured.Unstructured) []string {
	return compareSpecs(desired, latest)
}

// sdkFind is GetDistribution: InProgress turns Deployed at the next look.
func (m distributionManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.dists[statusID(r)]
	if !ok {
		return nil, errNotFound
	}
	ko := r.DeepCopy()
	st := statusMap(ko)
	st["status"] = d.status
	st["domainName"] = d.proxy.Addr()
	if d.status == DistributionInProgress {
		d.status = DistributionDeployed
	}
	return ko, nil
}

// sdkCreate is CreateDistribution: the certificate must be issued and the aliases
// unused (CNAMEAlreadyExists), as CloudFront checks.
func (m distributionManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	cfg, _, _ := unstructured.NestedMap(desired.Object, "spec", "distributionConfig")
	d := &distributionState{config: cfg, status: DistributionInProgress}
	if arn := d.certificateARN(); arn != "" {
		if cs, ok := w.certs[arn]; !ok || cs.status != CertificateIssued {
			return nil, NewAPIError("InvalidViewerCertificate", "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain.")
		}
	}
	aliases, _, _ := unstructured.NestedStringSlice(cfg, "aliases", "items")
	for _, other := range w.dists {
		theirs, _, _ := unstructured.NestedStringSlice(other.config, "aliases", "items")
		for _, a := range aliases {
			for _, b := range theirs {
				if a == b {
					return nil, NewAPIError("CNAMEAlreadyExists", "One or more of the CNAMEs you provided are already associated with a different resource.")
				}
			}
		}
	}
	d.id = w.newCloudFrontID("Distribution")
	proxy, err := newDistProxy(w, d)
	if err != nil {
		return nil, err
	}
	d.proxy = proxy
	w.dists[d.id] = d
	ko := desired.DeepCopy()
	st := statusMap(ko)
	st["id"] = d.id
	st["eTag"] = "E" + d.id[1:]
	st["status"] = d.status
	st["domainName"] = proxy.Addr()
	st["callerReference"] = desired.GetNamespace() + "/" + desired.GetName()
	st["ackResourceMetadata"] = map[string]any{"arn": fmt.Sprintf("arn:%s:cloudfront::%s:distribution/%s", Partition, c.account, d.id)}
	setStatusDefaults(ko, c) // ackResourceMetadata.ownerAccountID and region are required
	return ko, nil
}

// sdkUpdate is UpdateDistribution: InProgress again until the next look; the proxy
// takes the new configuration at once (CloudFront rolls it out to its edges meanwhile).
func (m distributionManager) sdkUpdate(_ context.Context, c *ackCall, desired, latest *unstructured.Unstructured, _ []string) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.dists[statusID(latest)]
	if !ok {
		return nil, errNotFound
	}
	d.config, _, _ = unstructured.NestedMap(desired.Object, "spec", "distributionConfig")
	d.status = DistributionInProgress
	d.proxy.configure(d.config)
	ko := desired.DeepCopy()
	ko.Object["status"] = deepCopyValue(latest.Object["status"])
	statusMap(ko)["status"] = d.status
	return ko, nil
}

func (m distributionManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	if d, ok := w.dists[statusID(r)]; ok {
		d.close()
		delete(w.dists, d.id)
	}
	return nil, nil
}

// SetCDNOriginResolver sets where the distributions' custom origins are: resolve maps
// an origin's domain name (the shop's Ingress host) to a base URL (the local ALB).
func (s *StandIns) SetCDNOriginResolver(resolve func(domain string) (string, bool)) {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resolveOrigin = resolve
}

// DistributionAddress is where the distribution that lists alias among its aliases
// listens (host:port, its status.domainName), as DNS resolves an alias's CNAME to the
// distribution's domain name; "" when none lists it.
func (s *StandIns) DistributionAddress(alias string) string {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.dists {
		aliases, _, _ := unstructured.NestedStringSlice(d.config, "aliases", "items")
		if d.proxy != nil && contains(aliases, alias) {
			return d.proxy.Addr()
		}
	}
	return ""
}
