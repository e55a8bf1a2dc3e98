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

// The Certificate of acm-controller 1.3.4 (pkg/resource/certificate at 6a2cf8b):
// sdkCreate requests every public certificate with DNS validation (sdk.go:
// input.ValidationMethod = "DNS"); IsSynced is always true (manager.go), and the
// controller looks again every 60 seconds (manager_factory.go RequeueOnSuccessSeconds),
// which is how status.status moves from PENDING_VALIDATION to ISSUED. ACM issues once
// it resolves every validation record; the stand-in "sees" a record once a test or the
// demo publishes it with PublishDNSRecord (no DNS server is involved). Not reproduced:
// validation timing out (FAILED after 72 hours), renewals, imports, private CAs.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ACM certificate statuses.
const (
	CertificatePendingValidation = "PENDING_VALIDATION"
	CertificateIssued            = "ISSUED"
)

// acmRequeueOnSuccess is acm-controller's RequeueOnSuccessSeconds.
const acmRequeueOnSuccess = 60

type certificateState struct {
	arn     string
	domains []string
	status  string
}

// validationRecord is ACM's CNAME for domain: a name under the domain and a value
// under acm-validations.aws., both derived from the certificate and the domain.
func validationRecord(arn, domain string) (name, value string) {
	h := sha256.Sum256([]byte(arn + "/" + domain))
	x := hex.EncodeToString(h[:])
	return "_" + x[:32] + "." + domain + ".", "_" + x[32:] + ".acm-validations.aws."
}

type certificateManager struct{}

func (certificateManager) service() string { return "acm" }
func (certificateManager) idField() string { return "domainName" }
func (certificateManager) terminalCodes() []string {
	return []string{"InvalidDomainValidationOptionsException", "InvalidParameterException"}
}
func (certificateManager) lateInitFields() []string                 { return nil }
func (certificateManager) isSynced(*unstructured.Unstructured) bool { return true }
func (certificateManager) requeueOnSuccessSeconds() int             { return acmRequeueOnSuccess }
func (certificateManager) compare(desired, latest *unstructured.Unstructured) []string {
	return compareSpecs(desired, latest)
}

func certificateARNOf(r *unstructured.Unstructured) string {
	arn, _, _ := unstructured.NestedString(r.Object, "status", "ackResourceMetadata", "arn")
	return arn
}

// sdkFind is DescribeCertificate: the status, issued once every validation record is
// published.
func (m certificateManager) sdkFind(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	cs, ok := w.certs[certificateARNOf(r)]
	if !ok {
		return nil, errNotFound
	}
	if cs.status == CertificatePendingValidation {
		seen := true
		for _, d := range cs.domains {
			name, value := validationRecord(cs.arn, d)
			seen = seen && w.dns[name] == value
		}
		if seen {
			cs.status = CertificateIssued
		}
	}
	ko := r.DeepCopy()
	st := statusMap(ko)
	st["status"] = cs.status
	var dvs []any
	for _, d := range cs.domains {
		name, value := validationRecord(cs.arn, d)
		vs := cs.status
		if vs == CertificateIssued {
			vs = "SUCCESS"
		}
		dvs = append(dvs, map[string]any{"domainName": d, "validationDomain": d, "validationMethod": "DNS", "validationStatus": vs,
			"resourceRecord": map[string]any{"name": name, "type_": "CNAME", "value": value}})
	}
	st["domainValidations"] = dvs
	st["type_"] = "AMAZON_ISSUED"
	return ko, nil
}

// sdkCreate is RequestCertificate with DNS validation.
func (m certificateManager) sdkCreate(_ context.Context, c *ackCall, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	domain := specString(desired, "domainName")
	if domain == "" {
		return nil, NewAPIError("InvalidParameterException", "DomainName is required")
	}
	domains := []string{domain}
	sans, _, _ := unstructured.NestedStringSlice(desired.Object, "spec", "subjectAlternativeNames")
	domains = append(domains, sans...)
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", domain, w.seq)))
	x := hex.EncodeToString(h[:16])
	arn := fmt.Sprintf("arn:%s:acm:%s:%s:certificate/%s-%s-%s-%s-%s", Partition, c.region, c.account, x[:8], x[8:12], x[12:16], x[16:20], x[20:32])
	w.certs[arn] = &certificateState{arn: arn, domains: domains, status: CertificatePendingValidation}
	ko := desired.DeepCopy()
	st := statusMap(ko)
	st["ackResourceMetadata"] = map[string]any{"arn": arn}
	setStatusDefaults(ko, c) // ackResourceMetadata.ownerAccountID and region are required
	return ko, nil
}

func (m certificateManager) sdkUpdate(_ context.Context, _ *ackCall, desired, latest *unstructured.Unstructured, _ []string) (*unstructured.Unstructured, error) {
	ko := desired.DeepCopy()
	ko.Object["status"] = deepCopyValue(latest.Object["status"])
	return ko, nil
}

// sdkDelete is DeleteCertificate; ACM refuses a certificate in use (a distribution's),
// ResourceInUseException, which ACK retries.
func (m certificateManager) sdkDelete(_ context.Context, c *ackCall, r *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	w := worldOf(c.s)
	w.mu.Lock()
	defer w.mu.Unlock()
	arn := certificateARNOf(r)
	for _, d := range w.dists {
		if d.certificateARN() == arn {
			return nil, NewAPIError("ResourceInUseException", "Certificate "+arn+" is in use by distribution "+d.id)
		}
	}
	delete(w.certs, arn)
	return nil, nil
}

// PublishDNSRecord makes the stand-in "see" a DNS record, as ACM resolves the
// validation records: a certificate whose records are all published is ISSUED at its
// next look.
func (s *StandIns) PublishDNSRecord(name, value string) {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dns[name] = value
}

// CertificateValidationRecords lists the validation records (name: value) of every
// certificate still pending, for a test or the demo to publish.
func (s *StandIns) CertificateValidationRecords() map[string]string {
	w := worldOf(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	arns := make([]string, 0, len(w.certs))
	for arn := range w.certs {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	for _, arn := range arns {
		cs := w.certs[arn]
		if cs.status != CertificatePendingValidation {
			continue
		}
		for _, d := range cs.domains {
			name, value := validationRecord(arn, d)
			out[name] = value
		}
	}
	return out
}
