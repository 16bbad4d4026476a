#!/usr/bin/env bash
# The bad-link benchmark: one device behind a slow, lossy, distant link (io.edgefleet.bench.BadLinkBench).
#
#   bench/badlink.sh [--quick] [--rounds N] [--idle S] [--cut S] [--stall S] [--delay-ms MS]
#                    [--large-kb KB] [--out FILE]
#
# The device lives in its own network namespace with a veth pair to the host:
#   - 250 kbit/s each way: tc tbf on both veth ends;
#   - 5 % loss each way: iptables statistic random DROP where packets arrive (host INPUT from the
#     veth, the namespace's INPUT from its veth), in chains of their own;
#   - +300 ms each way: a user-space TCP delay proxy (testkit DelayProxy) on the host end of the
#     veth, in front of the controller (this kernel has no netem).
# In the namespace: the device's Kubernetes (etcd, kube-apiserver, kube-controller-manager from
# testkit/k8s/kube-up.sh), the kubelet stand-in, and the agent process (./edgefleet agent). On the
# host: a controller process from the distribution, and the benchmark's JVM.
#
# Measures enrollment, a small app's and a ~200 KB app's commit -> READY, idle bytes per day on
# the veth, READY after a long cut with a commit made during it, and READY after a cut in the
# middle of a large transfer. Full run about 35 minutes (rounds 5, idle 600 s, cut 600 s, stall
# 200 s); --quick about 10 minutes (rounds 3, idle 120 s, cut 60 s, stall 60 s).
# Writes bench/results/badlink-<date>[-quick].json and prints a table.
#
# Needs root (network namespaces, veth, tc, iptables), iproute2 (ip, tc), iptables, ethtool, and
# the Kubernetes binaries of testkit/k8s/kube-build.sh (built once per machine). Everything it
# creates (namespace, veth pair, iptables chains, processes) is removed on every exit path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

say() { printf '[badlink %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[badlink] cannot run: %s\n' "$*" >&2; exit 1; }

ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ARGS+=("$1"); shift ;;
    --rounds|--idle|--cut|--stall|--delay-ms|--large-kb|--out) ARGS+=("$1" "$2"); shift 2 ;;
    *) echo "usage: bench/badlink.sh [--quick] [--rounds N] [--idle S] [--cut S] [--stall S] [--delay-ms MS] [--large-kb KB] [--out FILE]" >&2; exit 2 ;;
  esac
done

# ---- what it needs, checked before anything is created ----
[ "$(id -u)" = 0 ] || die "it needs root: it creates a network namespace, a veth pair, tc qdiscs and iptables rules"
for c in ip tc iptables ethtool git flock; do
  command -v "$c" >/dev/null || die "$c is missing (apt-get install iproute2 iptables ethtool git util-linux)"
done
iptables -w -L INPUT -n >/dev/null 2>&1 || die "iptables does not work here: $(iptables -w -L INPUT -n 2>&1 | tail -1)"

# ---- names of our own, unused by anybody else ----
ID=$$
NS="efbl-$ID"
HV="efbh$ID"          # host end of the veth
DV="efbd$ID"          # device end
CHAIN="EFBL$ID"       # loss (and, during cuts, drop-all) rules, host and namespace each
WORK="/tmp/badlink/run-$ID"
KDIR="$WORK/kube"
! ip netns list | grep -qw "$NS" || die "namespace $NS exists already"
! ip link show "$HV" >/dev/null 2>&1 || die "interface $HV exists already"
SUBNET=""
for i in $(seq 0 250); do
  n=$(( (ID + i) % 250 + 1 ))
  if ! ip -4 addr show | grep -q "inet 10\.231\.$n\." && ! ip -4 route show | grep -q "^10\.231\.$n\."; then
    SUBNET="10.231.$n"; break
  fi
done
[ -n "$SUBNET" ] || die "no free 10.231.x.0/30 subnet for the veth"
HOST_IP="$SUBNET.1"
DEV_IP="$SUBNET.2"

# ---- clean up on every exit path ----
JPID=""
KUBE_UP=0
HOST_RULE=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$JPID" ] && kill -0 "$JPID" 2>/dev/null; then
    kill -TERM "$JPID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$JPID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$JPID" 2>/dev/null
  fi
  # Processes the benchmark started (controller, agent, site helper), by their recorded ids.
  if [ -d "$WORK/pids" ]; then
    for f in "$WORK"/pids/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    sleep 1
    for f in "$WORK"/pids/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
  fi
  if [ "$KUBE_UP" = 1 ]; then
    bash "$ROOT/testkit/k8s/kube-down.sh" "$KDIR" >/dev/null 2>&1
  fi
  # Anything still running inside our namespace was started by this script.
  if ip netns list | grep -qw "$NS"; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  fi
  if [ "$HOST_RULE" = 1 ]; then
    iptables -w -D INPUT -i "$HV" -j "$CHAIN" 2>/dev/null
  fi
  iptables -w -F "$CHAIN" 2>/dev/null
  iptables -w -X "$CHAIN" 2>/dev/null
  ip netns del "$NS" 2>/dev/null        # takes the device end of the veth, its rules and qdisc
  ip link del "$HV" 2>/dev/null         # gone with its peer already, normally
  if [ "$rc" = 0 ]; then
    rm -rf "$WORK"
  else
    say "failed (exit $rc); logs kept in $WORK"
  fi
  ip netns list | grep -qw "$NS" && say "WARNING: namespace $NS is still there"
  iptables -w -S "$CHAIN" >/dev/null 2>&1 && say "WARNING: iptables chain $CHAIN is still there"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK"
chmod 700 "$WORK"

# ---- builds: the distribution, the Kubernetes binaries, the bench classes ----
say "building (distribution, bench classes; Kubernetes binaries once per machine) ..."
"$ROOT/edgefleet" --version >/dev/null
bash "$ROOT/testkit/k8s/kube-build.sh" >/dev/null
CP="$WORK/classpath"
# One reactor run packages the modules and writes each one's classpath to the same file; the bench
# module comes last, so the file ends up holding its classpath (reactor jars, nothing installed).
./mvnw -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk

# ---- the link ----
say "namespace $NS, veth $HV ($HOST_IP) <-> $DV ($DEV_IP)"
ip netns add "$NS" || die "cannot create a network namespace"
ip link add "$HV" type veth peer name "$DV" || die "cannot create a veth pair"
ip link set "$DV" netns "$NS"
ip addr add "$HOST_IP/30" dev "$HV"
ip link set "$HV" up
ip netns exec "$NS" ip addr add "$DEV_IP/30" dev "$DV"
ip netns exec "$NS" ip link set "$DV" up
ip netns exec "$NS" ip link set lo up
# One packet is one packet: no segmentation offloads, so the shaper and the loss act per frame.
ethtool -K "$HV" tso off gso off gro off >/dev/null 2>&1 || die "ethtool cannot turn off offloads on $HV"
ip netns exec "$NS" ethtool -K "$DV" tso off gso off gro off >/dev/null 2>&1 || die "ethtool cannot turn off offloads on $DV"
# 250 kbit/s each way; a 4 KB bucket and about a second of queue (32 KB) like a modem's buffer.
tc qdisc add dev "$HV" root tbf rate 250kbit burst 4kb limit 32kb || die "tc tbf does not work on $HV"
ip netns exec "$NS" tc qdisc add dev "$DV" root tbf rate 250kbit burst 4kb limit 32kb || die "tc tbf does not work in the namespace"
# 5 % loss each way, where packets arrive: uplink at the host, downlink at the device.
iptables -w -N "$CHAIN" || die "cannot create iptables chain $CHAIN"
iptables -w -A "$CHAIN" -m statistic --mode random --probability 0.05 -j DROP || die "iptables statistic match unavailable"
iptables -w -I INPUT 1 -i "$HV" -j "$CHAIN" || die "cannot hook $CHAIN into INPUT"
HOST_RULE=1
ip netns exec "$NS" iptables -w -N "$CHAIN" || die "iptables does not work in the namespace"
ip netns exec "$NS" iptables -w -A "$CHAIN" -m statistic --mode random --probability 0.05 -j DROP
ip netns exec "$NS" iptables -w -I INPUT 1 -i "$DV" -j "$CHAIN"

# ---- the device's Kubernetes, inside the namespace ----
say "starting etcd, kube-apiserver and kube-controller-manager in $NS ..."
KUBE_UP=1
EDGEFLEET_KUBE_OWNER_PID=$$ ip netns exec "$NS" bash "$ROOT/testkit/k8s/kube-up.sh" "$KDIR" |
  sed -u 's/^/  /'

# ---- the benchmark ----
"$JAVA_HOME/bin/java" -XX:+UseSerialGC -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.BadLinkBench \
  --root "$ROOT" --work "$WORK" --ns "$NS" --host-veth "$HV" --host-ip "$HOST_IP" \
  --chain "$CHAIN" --kubeconfig "$KDIR/kubeconfig" \
  --classpath "$ROOT/bench/target/classes:$(cat "$CP")" "${ARGS[@]}" &
JPID=$!
wait "$JPID"
