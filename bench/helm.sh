#!/usr/bin/env bash
# Helm rendering with real processes: one controller (launcher flags), one small chart pushed to
# the catalog, then N previews with different values (each one a Helm render). Reports the
# controller's RSS (and that of its children: the render worker) fresh, after the push and after
# the renders, the preview latency, and how long the controller takes to exit after SIGTERM and
# whether its children went with it.
#
#   bench/helm.sh [N=200]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-200}"
EF="$ROOT/edgefleet"
WORK="$(mktemp -d /tmp/edgefleet-bench-helm-XXXXXX)"
PORT=$((20000 + RANDOM % 20000))
CTL=""
cleanup() {
  [ -n "$CTL" ] && kill -9 "$CTL" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
children() { pgrep -P "$1" || true; }
children_kb() {
  local t=0
  for c in $(children "$1"); do t=$((t + $(rss_kb "$c"))); done
  echo "$t"
}

"$EF" --version >/dev/null   # builds on first use
"$EF" controller --data "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/controller.log" 2>&1 &
CTL=$!
for _ in $(seq 1 120); do grep -q " serving https://" "$WORK/controller.log" && break; sleep 0.5; done
TOKEN="$(cat "$WORK/data/admin-token")"
api() { curl -sk -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
URL="https://127.0.0.1:$PORT/api/v1/catalog/apps/web/versions"

mkdir -p "$WORK/chart/templates"
printf 'apiVersion: v2\nname: web\nversion: 1.0.0\n' >"$WORK/chart/Chart.yaml"
printf 'replicaCount: 1\nimage: nginx:1.27\n' >"$WORK/chart/values.yaml"
cat >"$WORK/chart/templates/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
EOF
tar -czf "$WORK/web.tgz" -C "$WORK/chart" .
printf '{"version":"1.0.0","kind":"chart","archive":"%s"}' "$(base64 -w0 "$WORK/web.tgz")" >"$WORK/push.json"

echo "fresh controller: RSS $(($(rss_kb "$CTL") / 1024)) MiB"
push_s=$(api -o /dev/null -w '%{http_code} %{time_total}' -X POST "$URL" -d @"$WORK/push.json")
echo "push (loads Helm): HTTP ${push_s% *} in ${push_s#* } s"
echo "after the push: controller RSS $(($(rss_kb "$CTL") / 1024)) MiB, children $(($(children_kb "$CTL") / 1024)) MiB"
: >"$WORK/latency"
for i in $(seq 1 "$N"); do
  api -o /dev/null -w '%{time_total}\n' -X POST "$URL/1.0.0/preview" \
    -d "{\"values\":{\"replicaCount\":$i}}" >>"$WORK/latency"
done
sort -n "$WORK/latency" | awk '{a[NR]=$1} END {printf "preview latency over %d renders: p50 %.1f ms, p90 %.1f ms, max %.1f ms\n", NR, a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000, a[NR]*1000}'
echo "after $N renders: controller RSS $(($(rss_kb "$CTL") / 1024)) MiB, children $(($(children_kb "$CTL") / 1024)) MiB"

KIDS="$(children "$CTL")"
start=$(date +%s%N)
kill -TERM "$CTL"
for _ in $(seq 1 600); do kill -0 "$CTL" 2>/dev/null || break; sleep 0.05; done
took=$((($(date +%s%N) - start) / 1000000))
if kill -0 "$CTL" 2>/dev/null; then
  echo "SIGTERM: still running after $took ms (killed)"
else
  echo "SIGTERM: exited after $took ms"
  CTL=""
fi
for c in $KIDS; do
  if kill -0 "$c" 2>/dev/null; then echo "child $c: still running"; else echo "child $c: gone"; fi
done
