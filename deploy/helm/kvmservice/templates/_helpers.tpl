{{/* Chart name, shortened to the 63 characters a label value may have. */}}
{{- define "kvmservice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name. Names of derived objects append up to 13 characters ("-etcd-headless"),
so this stays within 50 to keep every name a valid DNS label.
*/}}
{{- define "kvmservice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kvmservice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels; call with (dict "root" $ "component" "server"). */}}
{{- define "kvmservice.labels" -}}
helm.sh/chart: {{ include "kvmservice.chart" .root }}
{{ include "kvmservice.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: kvmservice
{{- end -}}

{{- define "kvmservice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kvmservice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kvmservice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kvmservice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kvmservice.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kvmservice.agentsServiceName" -}}
{{- printf "%s-agents" (include "kvmservice.fullname" .) -}}
{{- end -}}

{{- define "kvmservice.metricsServiceName" -}}
{{- printf "%s-metrics" (include "kvmservice.fullname" .) -}}
{{- end -}}

{{/* The Secret holding kvmservice's CA (or its server certificate). */}}
{{- define "kvmservice.tlsSecretName" -}}
{{- if .Values.tls.certificateSecret -}}
{{- .Values.tls.certificateSecret -}}
{{- else if .Values.tls.caSecret -}}
{{- .Values.tls.caSecret -}}
{{- else -}}
{{- printf "%s-ca" (include "kvmservice.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "kvmservice.etcd.fullname" -}}
{{- printf "%s-etcd" (include "kvmservice.fullname" .) -}}
{{- end -}}

{{- define "kvmservice.etcd.headless" -}}
{{- printf "%s-etcd-headless" (include "kvmservice.fullname" .) -}}
{{- end -}}

{{- define "kvmservice.etcd.tlsSecretName" -}}
{{- default (printf "%s-etcd-tls" (include "kvmservice.fullname" .)) .Values.etcd.bundled.tls.secret -}}
{{- end -}}

{{/* DNS name of bundled etcd member $i: call with (dict "root" $ "i" 0). */}}
{{- define "kvmservice.etcd.memberHost" -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "kvmservice.etcd.fullname" .root) (int .i) (include "kvmservice.etcd.headless" .root) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* The etcd endpoints kvmservice dials, host:port, comma-separated. */}}
{{- define "kvmservice.etcd.endpoints" -}}
{{- if eq .Values.etcd.mode "external" -}}
{{- $endpoints := required "etcd.external.endpoints is required when etcd.mode is external (host:port of every member)" (.Values.etcd.external.endpoints | default nil) -}}
{{- join "," $endpoints -}}
{{- else -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.etcd.bundled.replicas) -}}
{{- $hosts = append $hosts (printf "%s:2379" (include "kvmservice.etcd.memberHost" (dict "root" $ "i" $i))) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}
{{- end -}}

{{/* Whether kvmservice talks TLS to etcd ("true" or ""). */}}
{{- define "kvmservice.etcd.tls" -}}
{{- if or (eq .Values.etcd.mode "bundled") .Values.etcd.external.tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* Names the server certificate must carry beyond localhost and the pod name. */}}
{{- define "kvmservice.tlsSans" -}}
{{- $agents := include "kvmservice.agentsServiceName" . -}}
{{- $sans := list $agents (printf "%s.%s" $agents .Release.Namespace) (printf "%s.%s.svc" $agents .Release.Namespace) (printf "%s.%s.svc.%s" $agents .Release.Namespace .Values.clusterDomain) -}}
{{- with .Values.advertiseAddress -}}
{{- $sans = append $sans (include "kvmservice.hostOf" .) -}}
{{- end -}}
{{- with .Values.service.agents.loadBalancerIP -}}
{{- $sans = append $sans . -}}
{{- end -}}
{{- $sans = concat $sans .Values.tls.extraSans -}}
{{- toJson (uniq $sans) -}}
{{- end -}}

{{/* The host part of host:port ([v6]:port too). */}}
{{- define "kvmservice.hostOf" -}}
{{- if hasPrefix "[" . -}}
{{- regexReplaceAll "^\\[([^]]*)\\].*$" . "${1}" -}}
{{- else if eq (len (splitList ":" .)) 2 -}}
{{- first (splitList ":" .) -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* Preferred or required anti-affinity over nodes; call with (dict "root" $ "component" "server" "mode" "soft"). */}}
{{- define "kvmservice.antiAffinity" -}}
{{- if eq .mode "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "kvmservice.selectorLabels" . | nindent 10 }}
{{- else if eq .mode "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "kvmservice.selectorLabels" . | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* Refuses combinations the schema cannot express. */}}
{{- define "kvmservice.validate" -}}
{{- if eq .Values.etcd.mode "external" -}}
{{- $_ := required "etcd.external.endpoints is required when etcd.mode is external (host:port of every member)" (.Values.etcd.external.endpoints | default nil) -}}
{{- end -}}
{{- if and (eq .Values.etcd.mode "external") .Values.etcd.external.tls.enabled -}}
{{- $_ := required "etcd.external.tls.secret is required when etcd.external.tls.enabled (a Secret with the etcd CA and a client certificate)" .Values.etcd.external.tls.secret -}}
{{- end -}}
{{- if and .Values.service.agents.nodePorts.grpc (eq .Values.service.agents.type "ClusterIP") -}}
{{- fail "service.agents.nodePorts.grpc is set but service.agents.type is ClusterIP (use NodePort or LoadBalancer)" -}}
{{- end -}}
{{- end -}}

{{/* host:port agents dial, or "" (kvmservice then uses the installer's download host). */}}
{{- define "kvmservice.advertiseAddress" -}}
{{- with .Values.advertiseAddress -}}
{{- if or (regexMatch "^\\[.*\\]:[0-9]+$" .) (regexMatch "^[^:]+:[0-9]+$" .) -}}
{{- . -}}
{{- else -}}
{{- $port := $.Values.service.agents.grpcPort -}}
{{- if and (ne $.Values.service.agents.type "ClusterIP") $.Values.service.agents.nodePorts.grpc (eq $.Values.service.agents.type "NodePort") -}}
{{- $port = $.Values.service.agents.nodePorts.grpc -}}
{{- end -}}
{{- if contains ":" . -}}
{{- printf "[%s]:%v" . $port -}}
{{- else -}}
{{- printf "%s:%v" . $port -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the admin token (key `token`). */}}
{{- define "kvmservice.adminTokenSecretName" -}}
{{- .Values.adminToken.existingSecret | default (printf "%s-admin-token" (include "kvmservice.fullname" .)) -}}
{{- end -}}
