{{/* Names, labels and derived settings shared by the templates. */}}

{{- define "trustbundle-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "trustbundle-operator.fullname" -}}
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

{{- define "trustbundle-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "trustbundle-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trustbundle-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "trustbundle-operator.labels" -}}
helm.sh/chart: {{ include "trustbundle-operator.chart" . }}
{{ include "trustbundle-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: trustbundle-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "trustbundle-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "trustbundle-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "trustbundle-operator.leaseName" -}}
{{- default (include "trustbundle-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* The API server accepts core/v1 Events about a cluster-scoped object (a TrustBundle) only in
namespace default: elsewhere it answers 422 "involvedObject.namespace ... does not match". */}}
{{- define "trustbundle-operator.eventsNamespace" -}}
default
{{- end }}

{{- define "trustbundle-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The subject every binding grants to. */}}
{{- define "trustbundle-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "trustbundle-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/* Where credentials, CA Secrets and truststore passwords are read: trustNamespace, or the release's. */}}
{{- define "trustbundle-operator.trustNamespace" -}}
{{- default .Release.Namespace .Values.trustNamespace }}
{{- end }}

{{/* Namespaces sources may come from: the trust namespace and rbac.sourceNamespaces, as JSON. */}}
{{- define "trustbundle-operator.sourceNamespaces" -}}
{{- prepend .Values.rbac.sourceNamespaces (include "trustbundle-operator.trustNamespace" .) | uniq | toJson }}
{{- end }}

{{/* Namespaces targets and workloads may be in, as the operator's --target-namespaces: the target and
rollout lists, or * (any) with rbac.clusterWide and both lists empty. Without clusterWide, empty
lists grant no namespace at all. */}}
{{- define "trustbundle-operator.targetNamespaces" -}}
{{- $all := concat .Values.rbac.targetNamespaces .Values.rbac.rolloutNamespaces | uniq }}
{{- if and .Values.rbac.clusterWide (not $all) }}*{{ else }}{{ join "," $all }}{{ end }}
{{- end }}
