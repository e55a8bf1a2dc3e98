{{/* The chart's name, shortened to fit a label value. */}}
{{- define "storefront-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: the release name when it already contains the
chart name, else <release>-<chart>; 63 characters at most (a DNS label).
*/}}
{{- define "storefront-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "storefront-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "storefront-operator.labels" -}}
helm.sh/chart: {{ include "storefront-operator.chart" . }}
{{ include "storefront-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator's pods; never change them (selectors are immutable). */}}
{{- define "storefront-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "storefront-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "storefront-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "storefront-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image. None is published, so there is no default to fall back on: a
default naming a missing image would end in ImagePullBackOff and a timed-out install.
*/}}
{{- define "storefront-operator.image" -}}
{{- $build := "build and push the operator image with `make docker-build docker-push IMG=<registry>/storefront-operator:<tag> SHOP_IMG=<registry>/shop:<tag>` at the repository root (docs/install-eks.md), then install with --set image.repository=<registry>/storefront-operator --set image.tag=<tag>" }}
{{- $repository := required (printf "image.repository is required: %s" $build) .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (required (printf "image.tag (or image.digest) is required: %s" $build) .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The port of a bind address such as ":8080" or "0.0.0.0:8080". */}}
{{- define "storefront-operator.port" -}}
{{- regexFind "[0-9]+$" . }}
{{- end }}

{{/* Whether the metrics endpoint is on ("0" switches it off, as the flag does). */}}
{{- define "storefront-operator.metricsEnabled" -}}
{{- if ne (toString .Values.metricsBindAddress) "0" }}true{{ end }}
{{- end }}

{{/* Whether leader election is on: asked for, or needed because several replicas run. */}}
{{- define "storefront-operator.leaderElect" -}}
{{- if or .Values.leaderElect (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}
