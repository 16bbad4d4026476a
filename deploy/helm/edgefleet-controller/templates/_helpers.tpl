{{/* The name of every object: the release's, with the chart's name unless it already holds it. */}}
{{- define "edgefleet-controller.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "edgefleet-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "edgefleet-controller.labels" -}}
{{ include "edgefleet-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "edgefleet-controller.databaseSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "edgefleet-controller.fullname" .)) -}}
{{- end -}}

{{- define "edgefleet-controller.s3Secret" -}}
{{- .Values.s3.existingSecret | default (printf "%s-s3" (include "edgefleet-controller.fullname" .)) -}}
{{- end -}}

{{- define "edgefleet-controller.claim" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "edgefleet-controller.fullname" .)) -}}
{{- end -}}

{{/* Refuses values that would start a controller that cannot work, saying what to set. */}}
{{- define "edgefleet-controller.validate" -}}
{{- $replicas := int .Values.replicas -}}
{{- if lt $replicas 1 -}}
{{- fail "replicas must be at least 1" -}}
{{- end -}}
{{- if and .Values.database.url (not (hasPrefix "jdbc:postgresql:" .Values.database.url)) -}}
{{- fail (printf "database.url must be a PostgreSQL JDBC URL (jdbc:postgresql://HOST:PORT/DB), got %s" .Values.database.url) -}}
{{- end -}}
{{- if and .Values.database.url (not .Values.database.existingSecret) (not .Values.database.password) -}}
{{- fail "database.url needs credentials: set database.existingSecret (a Secret with username and password) or database.user and database.password" -}}
{{- end -}}
{{- if .Values.s3.endpoint -}}
{{- if not .Values.s3.bucket -}}
{{- fail "s3.endpoint needs s3.bucket (an existing bucket)" -}}
{{- end -}}
{{- if and (not .Values.s3.existingSecret) (not .Values.s3.secretAccessKey) -}}
{{- fail "s3.endpoint needs an access key: set s3.existingSecret or s3.accessKeyId and s3.secretAccessKey" -}}
{{- end -}}
{{- end -}}
{{- if gt $replicas 1 -}}
{{- if not .Values.database.url -}}
{{- fail "several replicas share one database: set database.url to PostgreSQL (SQLite serves one replica)" -}}
{{- end -}}
{{- if not .Values.s3.endpoint -}}
{{- fail "several replicas share one artifact store: set s3.endpoint and s3.bucket" -}}
{{- end -}}
{{- if not .Values.persistence.enabled -}}
{{- fail "several replicas share one data volume (CA, signing keys, master key): set persistence.enabled with persistence.accessMode=ReadWriteMany or a shared persistence.existingClaim" -}}
{{- end -}}
{{- if and (not .Values.persistence.existingClaim) (ne .Values.persistence.accessMode "ReadWriteMany") -}}
{{- fail "several replicas share one data volume: set persistence.accessMode=ReadWriteMany (or a shared persistence.existingClaim)" -}}
{{- end -}}
{{- end -}}
{{- range .Values.extraArgs -}}
{{- if hasPrefix "--data" . -}}
{{- fail "extraArgs must not set --data: the data volume is mounted at /var/lib/edgefleet" -}}
{{- end -}}
{{- end -}}
{{- end -}}
