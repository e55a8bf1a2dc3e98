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

// ObservabilitySpec configures the shop's telemetry.
type ObservabilitySpec struct {
	// OTLP is where the shop's pods and its migration Job send their traces. Absent: the
	// operator's defaults (its --otlp-* flags), and without those no traces.
	// +optional
	OTLP *OTLPSpec `json:"otlp,omitempty"`

	// ServiceMonitor says whether the operator creates a Prometheus Operator
	// ServiceMonitor that scrapes the shop's metrics port: Auto (or empty) when the API
	// server serves monitoring.coreos.com/v1 ServiceMonitors, noticed within a minute of
	// their CRD's installation; Enabled always (the Storefront's Ready condition reports
	// an error while the kind is not served); Disabled never (and one it created is
	// deleted).
	// +kubebuilder:validation:Enum=Auto;Enabled;Disabled
	// +optional
	ServiceMonitor ServiceMonitorMode `json:"serviceMonitor,omitempty"`
}

// ServiceMonitorMode is whether a Storefront gets a ServiceMonitor.
type ServiceMonitorMode string

const (
	// ServiceMonitorAuto creates a ServiceMonitor when the Prometheus Operator's CRDs
	// are installed, and none otherwise.
	ServiceMonitorAuto ServiceMonitorMode = "Auto"
	// ServiceMonitorEnabled requires one: without the CRDs the Storefront says so.
	ServiceMonitorEnabled ServiceMonitorMode = "Enabled"
	// ServiceMonitorDisabled creates none.
	ServiceMonitorDisabled ServiceMonitorMode = "Disabled"
)

// OTLPSpec is an OpenTelemetry collector and how much to send it. The operator passes it
// to the shop as the standard OTEL_* environment variables.
type OTLPSpec struct {
	// Endpoint is the collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT), such as
	// http://otel-collector.observability:4318. Empty: the operator's default endpoint.
	// The NetworkPolicies let the shop's pods reach its port.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$')",message="endpoint must be an http:// or https:// URL: host, optional port and path"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Protocol is the OTLP transport (OTEL_EXPORTER_OTLP_PROTOCOL). Empty: the
	// operator's default, http/protobuf unless it says otherwise.
	// +kubebuilder:validation:Enum=grpc;http/protobuf
	// +optional
	Protocol string `json:"protocol,omitempty"`

	// SamplingRatio is the share of new traces kept, a decimal from 0 to 1 such as
	// "0.1" (OTEL_TRACES_SAMPLER=parentbased_traceidratio): a request that arrives with
	// a sampled trace context is traced whatever the ratio. Empty: the operator's
	// default, 0.1 unless it says otherwise.
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$`
	// +optional
	SamplingRatio string `json:"samplingRatio,omitempty"`

	// ResourceAttributes are added to the resource of every span (OTEL_RESOURCE_ATTRIBUTES),
	// after the operator's own (service.namespace, k8s.namespace.name, storefront.name),
	// which they may override.
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[A-Za-z][A-Za-z0-9._-]{0,62}$'))",message="resource attribute names are letters, digits, '.', '_' and '-', starting with a letter, at most 63 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 255)",message="resource attribute values are at most 255 characters"
	// +optional
	ResourceAttributes map[string]string `json:"resourceAttributes,omitempty"`
}
