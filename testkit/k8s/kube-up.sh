#!/usr/bin/env bash
# Starts a throw-away Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (TLS, token auth,
# RBAC) and kube-controller-manager, all on free ports, everything kept in DIR.
#
#   testkit/k8s/kube-up.sh DIR      (stop with testkit/k8s/kube-down.sh DIR)
#
# Writes DIR/kubeconfig (bearer token, CA embedded), DIR/cluster.env (ports, URL, token),
# DIR/*.pid and DIR/*.log. Returns once /readyz is ok, the `default` namespace exists and the
# controller-manager is working (it has created the `default` service account).
#
# Environment:
#   EDGEFLEET_KUBE_HOME       where kube-build.sh put bin/ (default ~/.cache/edgefleet/kubernetes-1.20.2)
#   EDGEFLEET_KUBE_OWNER_PID  if set, a watchdog runs kube-down.sh DIR once that process is gone
#   EDGEFLEET_KUBE_TIMEOUT    seconds to wait for readiness (default 120)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KUBE_HOME="${EDGEFLEET_KUBE_HOME:-${HOME:-/root}/.cache/edgefleet/kubernetes-1.20.2}"
BIN="$KUBE_HOME/bin"
TIMEOUT="${EDGEFLEET_KUBE_TIMEOUT:-120}"

say() { printf '[kube-up %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '[kube-up] ERROR: %s\n' "$*" >&2
  if [ -n "${DIR:-}" ]; then
    local f
    for f in "$DIR"/etcd.log "$DIR"/kube-apiserver.log "$DIR"/kube-controller-manager.log; do
      [ -s "$f" ] && { printf -- '--- last lines of %s ---\n' "$f" >&2; tail -n 15 "$f" >&2; }
    done
    "$HERE/kube-down.sh" "$DIR" >/dev/null 2>&1 || true
  fi
  exit 1
}

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
for p in etcd kube-apiserver kube-controller-manager; do
  if [ -s "$DIR/$p.pid" ] && kill -0 "$(cat "$DIR/$p.pid")" 2>/dev/null; then
    echo "[kube-up] ERROR: $p already running from $DIR (pid $(cat "$DIR/$p.pid")); run kube-down.sh $DIR first" >&2
    exit 1
  fi
done
for b in kube-apiserver kube-controller-manager; do
  [ -x "$BIN/$b" ] || { echo "[kube-up] ERROR: $BIN/$b missing: run $HERE/kube-build.sh first" >&2; exit 1; }
done
ETCD=$(command -v etcd || true)
[ -n "$ETCD" ] || { echo "[kube-up] ERROR: etcd not on PATH: run $HERE/kube-build.sh (installs etcd-server)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "[kube-up] ERROR: openssl missing" >&2; exit 1; }
command -v curl >/dev/null || { echo "[kube-up] ERROR: curl missing" >&2; exit 1; }

# ---- free loopback ports: random, not bound by anyone (checked in /proc/net/tcp*) ----
taken=" "
port_busy() {
  local hex
  hex=$(printf ':%04X ' "$1")
  case "$taken" in *" $1 "*) return 0 ;; esac
  grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
    if ! port_busy "$p"; then taken+="$p "; echo "$p"; return 0; fi
  done
  die "no free port found"
}
ETCD_PORT=$(free_port); taken+="$ETCD_PORT "
ETCD_PEER_PORT=$(free_port); taken+="$ETCD_PEER_PORT "
API_PORT=$(free_port); taken+="$API_PORT "
API_URL="https://127.0.0.1:$API_PORT"

# ---- keys and certificates ----
PKI="$DIR/pki"
rm -rf "$PKI" "$DIR/etcd"
mkdir -p "$PKI"
chmod 700 "$PKI"
ossl() { openssl "$@" >>"$DIR/openssl.log" 2>&1 || die "openssl $1 failed (see $DIR/openssl.log)"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=edgefleet-test-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" -subj "/CN=kube-apiserver"
cat >"$PKI/apiserver.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
ossl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
  -days 3650 -extfile "$PKI/apiserver.ext" -out "$PKI/apiserver.crt"
# Service-account token signing key pair (apiserver verifies, controller-manager signs legacy tokens).
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key"
ossl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
# token,user,uid,"groups"
printf '%s,edgefleet-admin,edgefleet-admin,"system:masters"\n' "$TOKEN" >"$PKI/tokens.csv"
chmod 600 "$PKI"/*

write_kubeconfig() {
  local file=$1 ca
  ca=$(base64 -w0 "$PKI/ca.crt")
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: edgefleet-test
  cluster:
    server: $API_URL
    certificate-authority-data: $ca
users:
- name: edgefleet-admin
  user:
    token: $TOKEN
contexts:
- name: edgefleet-test
  context:
    cluster: edgefleet-test
    user: edgefleet-admin
    namespace: default
current-context: edgefleet-test
EOF
  chmod 600 "$file"
}
write_kubeconfig "$DIR/kubeconfig"

cat >"$DIR/cluster.env" <<EOF
API_URL=$API_URL
API_PORT=$API_PORT
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
TOKEN=$TOKEN
KUBECONFIG=$DIR/kubeconfig
EOF
chmod 600 "$DIR/cluster.env"

# Starts a daemon in its own session (so it outlives this script and a Ctrl-C of the caller's
# terminal does not hit it half-way), logs to DIR/NAME.log, pid in DIR/NAME.pid.
start() {
  local name=$1; shift
  setsid "$@" </dev/null >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}
alive() { kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

started=$(date +%s)
deadline=$(( started + TIMEOUT ))
wait_for() { # wait_for DESCRIPTION PROCESS... -- COMMAND...
  local what=$1; shift
  local procs=()
  while [ "$1" != -- ]; do procs+=("$1"); shift; done
  shift
  until "$@" >/dev/null 2>&1; do
    local p
    for p in "${procs[@]}"; do alive "$p" || die "$p exited while waiting for $what"; done
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.2
  done
}

# ---- etcd ----
say "etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$ETCD" --name edgefleet --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "edgefleet=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --logger zap --log-outputs stderr --snapshot-count 10000
wait_for "etcd health" etcd -- curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

# ---- kube-apiserver ----
say "kube-apiserver on $API_URL"
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" --insecure-port 0 \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" --cert-dir "$PKI" \
  --token-auth-file "$PKI/tokens.csv" \
  --authorization-mode RBAC \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.96.0.0/16 \
  --endpoint-reconciler-type none \
  --allow-privileged=true \
  --profiling=false \
  --v=1
wait_for "kube-apiserver /readyz" kube-apiserver etcd -- \
  curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" "$API_URL/readyz"
# /readyz can answer before the bootstrap controller has created the default namespace.
wait_for "namespace default" kube-apiserver etcd -- \
  curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" "$API_URL/api/v1/namespaces/default"

# ---- kube-controller-manager ----
say "kube-controller-manager"
write_kubeconfig "$DIR/controller-manager.kubeconfig"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$DIR/controller-manager.kubeconfig" \
  --controllers '*,-nodelifecycle' \
  --use-service-account-credentials=false \
  --service-account-private-key-file "$PKI/sa.key" \
  --root-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range 10.96.0.0/16 \
  --leader-elect=false \
  --port 0 --secure-port 0 \
  --profiling=false \
  --v=1
# The service-account controller creating `default` in `default` proves the controllers run.
wait_for "controller-manager (service account default/default)" kube-controller-manager kube-apiserver etcd -- \
  curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" "$API_URL/api/v1/namespaces/default/serviceaccounts/default"

if [ -n "${EDGEFLEET_KUBE_OWNER_PID:-}" ]; then
  # Watchdog: if the owner (a test JVM) dies without calling kube-down.sh, clean up after it.
  owner=$EDGEFLEET_KUBE_OWNER_PID
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; exec "$2" "$3"' \
    edgefleet-kube-watchdog "$owner" "$HERE/kube-down.sh" "$DIR" </dev/null >>"$DIR/watchdog.log" 2>&1 &
  echo $! >"$DIR/watchdog.pid"
fi

say "ready after $(( $(date +%s) - started ))s: KUBECONFIG=$DIR/kubeconfig ($API_URL)"
