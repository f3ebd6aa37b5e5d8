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

{{/* The product's service account and image pull secrets: its own, else the chart's. */}}
{{- define "floe-dagster.serviceAccountName" -}}
{{- .product.serviceAccountName | default .root.Values.serviceAccountName -}}
{{- end -}}

{{- define "floe-dagster.imagePullSecrets" -}}
{{- toJson (.product.imagePullSecrets | default .root.Values.imagePullSecrets | default list) -}}
{{- end -}}

{{/* The product's plain env and secretEnv as Kubernetes EnvVars, in that order. */}}
{{- define "floe-dagster.productEnv" -}}
{{- $env := list -}}
{{- range $name, $value := .product.env -}}
{{- $env = append $env (dict "name" $name "value" ($value | toString)) -}}
{{- end -}}
{{- range .product.secretEnv -}}
{{- $env = append $env (dict "name" .name "valueFrom" (dict "secretKeyRef" (dict "name" .secretName "key" .key))) -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
DAGSTER_CONTAINER_CONTEXT: what K8sRunLauncher and k8s_job_executor add to the pods of runs
launched from this code location (dagster-k8s's container context, key `k8s`): the product's
env, secrets, ConfigMaps, volumes, service account and pull secrets. Resources stay out: run
workers take theirs from the launcher, steps from their workload size.
*/}}
{{- define "floe-dagster.containerContext" -}}
{{- $product := .product -}}
{{- $k8s := dict "image_pull_policy" ($product.imagePullPolicy | default .root.Values.imagePullPolicy) -}}
{{- with include "floe-dagster.imagePullSecrets" . | fromJsonArray }}{{ $_ := set $k8s "image_pull_secrets" . }}{{ end -}}
{{- with include "floe-dagster.serviceAccountName" . }}{{ $_ := set $k8s "service_account_name" . }}{{ end -}}
{{- with include "floe-dagster.productEnv" . | fromJsonArray }}{{ $_ := set $k8s "env" . }}{{ end -}}
{{- with $product.envFromSecrets }}{{ $_ := set $k8s "env_secrets" . }}{{ end -}}
{{- with $product.envFromConfigMaps }}{{ $_ := set $k8s "env_config_maps" . }}{{ end -}}
{{- with $product.volumes }}{{ $_ := set $k8s "volumes" . }}{{ end -}}
{{- with $product.volumeMounts }}{{ $_ := set $k8s "volume_mounts" . }}{{ end -}}
{{- toJson (dict "k8s" $k8s) -}}
{{- end -}}
