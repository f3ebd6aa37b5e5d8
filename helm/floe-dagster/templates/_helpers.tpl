{{/* Name of a product's Deployment and Service: <release>-<product, dashed>. */}}
{{- define "floe-dagster.productName" -}}
{{- printf "%s-%s" .root.Release.Name (.product.name | replace "_" "-" | lower) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe-dagster.labels" -}}
app.kubernetes.io/name: floe-dagster
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: code-server
floe/product: {{ .product.name | quote }}
{{- end -}}

{{- define "floe-dagster.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
floe/product: {{ .product.name | quote }}
{{- end -}}

{{/* The code server's own health check, used by every probe. */}}
{{- define "floe-dagster.healthCheck" -}}
exec:
  command: ["dagster", "api", "grpc-health-check", "-p", "{{ .product.port | default 3030 }}"]
{{- end -}}
