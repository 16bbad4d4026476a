#!/usr/bin/env bash
# The tunnel benchmark (io.edgefleet.bench.TunnelBench): kubectl `get pods` round trip through the
# agent's tunnel, and the agent's heartbeat round trip while a large byte stream flows from the
# device, for a device on loopback and for one behind a 250 kbit/s link.
#
#   bench/tunnel.sh [--rounds N] [--mb N] [--shaped-mb N] [--no-shaping] [--out FILE]
#
# The shaped device's connection goes through a network namespace with a veth pair to the host:
# tc tbf 250 kbit/s on both veth ends, and a small TCP forwarder in the namespace
# (DEV_IP:PORT -> the controller on HOST_IP), so each direction of the agent's connection crosses
# the shaped veth. The controller, both agents, kubectl and the Kubernetes control plane of
# testkit/k8s run on the host; kubectl reaches the controller on loopback, the controller reaches
# the device over the shaped link, the device reaches its API server on loopback.
#
# Needs root for the shaping (namespace, veth, tc; without root or with --no-shaping only the
# loopback numbers are taken), iproute2, python3 and the Kubernetes binaries of
# testkit/k8s/kube-build.sh. Everything it creates is removed on every exit path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

say() { printf '[tunnel %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[tunnel] cannot run: %s\n' "$*" >&2; exit 1; }

ARGS=()
SHAPE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-shaping) SHAPE=0; shift ;;
    --rounds|--mb|--shaped-mb|--out) ARGS+=("$1" "$2"); shift 2 ;;
    *) echo "usage: bench/tunnel.sh [--rounds N] [--mb N] [--shaped-mb N] [--no-shaping] [--out FILE]" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/kubectl ] || die "/usr/bin/kubectl is missing (apt-get install kubernetes-client)"
if [ "$SHAPE" = 1 ] && { [ "$(id -u)" != 0 ] || ! command -v tc >/dev/null || ! command -v python3 >/dev/null; }; then
  say "no root, tc or python3: loopback only"
  SHAPE=0
fi

ID=$$
NS="eftn-$ID"
HV="efth$ID"
DV="eftd$ID"
WORK="/tmp/tunnel-bench/run-$ID"
mkdir -p "$WORK"
FWD_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [ -n "$FWD_PID" ] && kill "$FWD_PID" 2>/dev/null
  if ip netns list 2>/dev/null | grep -qw "$NS"; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
  fi
  ip link del "$HV" 2>/dev/null
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

CP="$WORK/classpath"
say "building (bench and what it needs)"
./mvnw -q -B -o -pl bench -am package dependency:build-classpath -DskipTests -Dconsole.skip=true \
  -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime >/dev/null

if [ "$SHAPE" = 1 ]; then
  SUBNET=""
  for i in $(seq 0 250); do
    n=$(( (ID + i) % 250 + 1 ))
    if ! ip -4 addr show | grep -q "inet 10\.232\.$n\." && ! ip -4 route show | grep -q "^10\.232\.$n\."; then
      SUBNET="10.232.$n"; break
    fi
  done
  [ -n "$SUBNET" ] || die "no free 10.232.x.0/30 subnet for the veth"
  HOST_IP="$SUBNET.1"; DEV_IP="$SUBNET.2"
  ip netns add "$NS"
  ip link add "$HV" type veth peer name "$DV"
  ip link set "$DV" netns "$NS"
  ip addr add "$HOST_IP/30" dev "$HV"; ip link set "$HV" up
  ip netns exec "$NS" ip addr add "$DEV_IP/30" dev "$DV"
  ip netns exec "$NS" ip link set "$DV" up
  ip netns exec "$NS" ip link set lo up
  command -v ethtool >/dev/null && { ethtool -K "$HV" tso off gso off gro off >/dev/null 2>&1 || true; ip netns exec "$NS" ethtool -K "$DV" tso off gso off gro off >/dev/null 2>&1 || true; }
  tc qdisc add dev "$HV" root tbf rate 250kbit burst 4kb limit 32kb
  ip netns exec "$NS" tc qdisc add dev "$DV" root tbf rate 250kbit burst 4kb limit 32kb
  say "shaped link: $HOST_IP <-> $DEV_IP, tc tbf 250 kbit/s each way"
fi

# The controller's port is known only once the bench started it: the bench prints it, the
# forwarder starts then (a tiny asyncio TCP forwarder in the namespace).
FWD_PORT=17443
JAVA_ARGS=("${ARGS[@]}")
if [ "$SHAPE" = 1 ]; then
  JAVA_ARGS+=(--shaped-url "https://$DEV_IP:$FWD_PORT" --tls-name "$DEV_IP" --forward-file "$WORK/controller-port")
  cat > "$WORK/forward.py" <<'PY'
import asyncio, sys
listen_host, listen_port, target_host, port_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(r, w):
    port = int(open(port_file).read().strip())
    tr, tw = await asyncio.open_connection(target_host, port)
    await asyncio.gather(pipe(r, tw), pipe(tr, w))
async def main():
    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
  ip netns exec "$NS" python3 "$WORK/forward.py" "$DEV_IP" "$FWD_PORT" "$HOST_IP" "$WORK/controller-port" &
  FWD_PID=$!
fi
say "running TunnelBench ${JAVA_ARGS[*]}"
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
"$JAVA_HOME/bin/java" -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.TunnelBench "${JAVA_ARGS[@]}"
