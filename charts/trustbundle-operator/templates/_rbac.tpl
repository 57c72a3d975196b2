{{/*
The permissions of each use the operator makes of a namespace, as the code makes it
(operator/src/kube, operator/src/controller, operator/src/rollout); the chart README lists them.
*/}}

{{/* spec.sources[]: per-namespace watches of Secrets and ConfigMaps, and one GET of an object
first referenced after its watch started. */}}
{{- define "trustbundle-operator.rules.source" -}}
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.sourceResources }}
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* Writes to targets: server-side apply, and deletion for deletionPolicy: Delete. */}}
{{- define "trustbundle-operator.targetWriteVerbs" -}}
{{- if .Values.rbac.deleteTargets }}["create", "patch", "delete"]{{ else }}["create", "patch"]{{ end }}
{{- end }}

{{/* Target Secrets and ConfigMaps: a label-selected watch, then server-side apply (PATCH; a
missing target is created by the same PATCH, which the API server authorizes as create). */}}
{{- define "trustbundle-operator.rules.target" -}}
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: {{ include "trustbundle-operator.targetWriteVerbs" . }}
  {{- with .Values.rbac.targetNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
{{- end }}

{{/* spec.targets.rollouts[]: per-namespace watches of the workloads (their rollout progress),
server-side apply of the pod template's bundle-hash annotation. */}}
{{- define "trustbundle-operator.rules.rollout" -}}
- apiGroups: ["apps"]
  resources: ["deployments", "daemonsets", "statefulsets"]
  verbs: ["list", "watch", "patch"]
{{- end }}

{{/* spec.targets.authorizationServers[]: credentialsSecret and caSecret, read through the
Secret source cache (a per-namespace watch). */}}
{{- define "trustbundle-operator.rules.credentials" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* rbac.clusterWide: the same, in every namespace, without name restrictions. */}}
{{- define "trustbundle-operator.rules.clusterWide" -}}
- apiGroups: [""]
  resources: {{ concat .Values.rbac.sourceResources (list "secrets") | uniq | toJson }}
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: {{ include "trustbundle-operator.targetWriteVerbs" . }}
{{ include "trustbundle-operator.rules.rollout" . }}
{{- end }}
