{{/* The name every object of a release starts with. */}}
{{- define "nimbus.fullname" -}}
{{- if contains "nimbus" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-nimbus" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nimbus.labels" -}}
app.kubernetes.io/name: nimbus
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "nimbus.selectorLabels" -}}
app.kubernetes.io/name: nimbus
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "nimbus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nimbus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The webhook's Service, ValidatingWebhookConfiguration and TLS Secret. */}}
{{- define "nimbus.webhookService" -}}{{ include "nimbus.fullname" . }}-webhook{{- end -}}
{{- define "nimbus.webhookConfiguration" -}}{{ include "nimbus.fullname" . }}{{- end -}}
{{- define "nimbus.webhookSecret" -}}{{ include "nimbus.fullname" . }}-webhook-tls{{- end -}}
{{- define "nimbus.certificate" -}}{{ include "nimbus.fullname" . }}-webhook{{- end -}}

{{/*
The topology spread rule of the replicas: DoNotSchedule when replicaSpread is "hard", or "auto"
and the cluster has at least as many nodes as replicas; ScheduleAnyway otherwise.
*/}}
{{- define "nimbus.replicaSpread" -}}
{{- if eq .Values.replicaSpread "hard" -}}
DoNotSchedule
{{- else if eq .Values.replicaSpread "soft" -}}
ScheduleAnyway
{{- else -}}
{{- $nodes := lookup "v1" "Node" "" "" -}}
{{- if and $nodes (ge (len $nodes.items) (int .Values.replicas)) -}}
DoNotSchedule
{{- else -}}
ScheduleAnyway
{{- end -}}
{{- end -}}
{{- end -}}
