{{- define "standin.pgSecret" -}}
{{- if .Values.postgresql.auth.existingSecret -}}{{ .Values.postgresql.auth.existingSecret }}{{- else -}}postgresql{{- end -}}
{{- end -}}
{{- define "standin.pgKey" -}}
{{- if .Values.postgresql.auth.existingSecret -}}postgres-password{{- else -}}{{ .Values.postgresql.auth.passwordKey }}{{- end -}}
{{- end -}}
{{- define "standin.pgHost" -}}
{{- if .Values.postgresql.internal -}}postgresql{{- else -}}{{ required "postgresql.postgresqlHost is required when postgresql.internal is false" .Values.postgresql.postgresqlHost }}{{- end -}}
{{- end -}}
{{- define "standin.mongoSecret" -}}
{{- if .Values.mongodb.auth.existingSecret -}}{{ .Values.mongodb.auth.existingSecret }}{{- else -}}mongodb{{- end -}}
{{- end -}}
{{- define "standin.mongoHosts" -}}
{{- if .Values.mongodb.internal -}}mongodb:27017{{- else -}}{{ required "mongodb.hosts is required when mongodb.internal is false" .Values.mongodb.hosts }}{{- end -}}
{{- end -}}
