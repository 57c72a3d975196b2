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

{{/* Writes to an existing target: server-side apply (patch), and deletion for deletionPolicy:
Delete; get reads an existing object the cache does not show (does its owner consent?). */}}
{{- define "trustbundle-operator.targetWriteVerbs" -}}
{{- if .Values.rbac.deleteTargets }}["get", "patch", "delete"]{{ else }}["get", "patch"]{{ end }}
{{- end }}

{{/* Target Secrets and ConfigMaps: a label-selected watch; a missing target is created (POST, whose
name RBAC cannot check), an existing one read and written only as targetWriteVerbs says. */}}
{{- define "trustbundle-operator.rules.target" -}}
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: ["list", "watch", "create"]
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

{{/* The trust namespace: AuthorizationServer credentials and CA Secrets, truststore passwords and
sources, read through the per-namespace source cache. */}}
{{- define "trustbundle-operator.rules.trust" -}}
- apiGroups: [""]
  resources: {{ concat (list "secrets") .Values.rbac.sourceResources | uniq | toJson }}
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* rbac.clusterWide: the same, in every namespace, without name restrictions. */}}
{{- define "trustbundle-operator.rules.clusterWide" -}}
- apiGroups: [""]
  resources: {{ concat .Values.rbac.sourceResources (list "secrets") | uniq | toJson }}
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: ["list", "watch", "create"]
- apiGroups: [""]
  resources: {{ toJson .Values.rbac.targetResources }}
  verbs: {{ include "trustbundle-operator.targetWriteVerbs" . }}
{{ include "trustbundle-operator.rules.rollout" . }}
{{- end }}
