{{/* The name every object of the release carries. */}}
{{- define "terway-node.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "terway-node.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "terway-node.labels" -}}
{{ include "terway-node.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "terway-node.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The socket path the plugin dials and terwayd serves. */}}
{{- define "terway-node.socket" -}}
{{ .Values.daemon.socketDir }}/eni.socket
{{- end -}}

{{/* A probe that runs `terway-cli status` against terwayd's socket (values: probes). */}}
{{- define "terway-node.statusProbe" -}}
exec:
  command:
    - /usr/local/bin/terway-cli
    - status
    - --socket={{ include "terway-node.socket" .root }}
    {{- if .servicesSynced }}
    - --services-synced
    {{- end }}
timeoutSeconds: {{ .root.Values.probes.timeoutSeconds }}
periodSeconds: {{ .probe.periodSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}

{{/* terwayd's --metrics-address (values: metrics): host:port, an IPv6 host in brackets. */}}
{{- define "terway-node.metricsAddress" -}}
{{- $host := .Values.metrics.host | default "" -}}
{{- if contains ":" $host -}}
[{{ $host }}]:{{ .Values.metrics.port }}
{{- else -}}
{{ $host }}:{{ .Values.metrics.port }}
{{- end -}}
{{- end -}}

{{/*
terwayd's resources (values: resources). An empty memory limit is computed: the heap ceiling
(daemon.heapLimitMiB), 64Mi for the rest of the daemon, and the kernel memory of the Service LB's
maps at daemon.lbFlowTableSize (41,388,632 bytes, and 232 a flow: src/lb/flow-table-size.ts),
which the kernel charges to terwayd's memory cgroup.
*/}}
{{- define "terway-node.resources" -}}
{{- $resources := deepCopy .Values.resources -}}
{{- $limits := $resources.limits | default dict -}}
{{- if not $limits.memory -}}
{{- $mapsBytes := add 41388632 (mul (int .Values.daemon.lbFlowTableSize) 232) -}}
{{- $mapsMiB := add1 (div $mapsBytes 1048576) -}}
{{- $memory := printf "%dMi" (add (int .Values.daemon.heapLimitMiB) 64 $mapsMiB) -}}
{{- $limitsSet := set $limits "memory" $memory -}}
{{- $resourcesSet := set $resources "limits" $limitsSet -}}
{{- end -}}
{{- toYaml $resources -}}
{{- end -}}
