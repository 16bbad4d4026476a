#!/usr/bin/env bash
# Idle cost of one real agent process on the wire, at every layer, through a veth pair: the agent
# runs in a network namespace of its own and reaches a controller process over a veth link, so the
# kernel's counters of that link hold exactly this one device's traffic (headers, retransmissions
# and its other connections included). Needs root (ip netns, ip link).
#
#   bench/idle-wire.sh [--minutes M=30] [--root DIR] [--label NAME]
#                      [--heartbeat 120s] [--telemetry-interval 5m] [--delay 0ms]
#
# Measured over M minutes after the agent connected and settled (30 s), four layers:
#   messages    WebSocket messages by type and direction from the controller's /metrics
#               (edgefleet_websocket_messages_total), and their payload bytes where the controller
#               counts them (edgefleet_websocket_message_bytes_total)
#   tcpPayload  TCP payload of the agent's WebSocket socket, i.e. TLS records, from `ss -ti` in the
#               namespace: bytes_sent (retransmissions included), bytes_received, bytes_retrans,
#               segments out and in
#   ip          that socket's IPv4 packets: TCP payload + 52 B per segment (IPv4 20 B + TCP 20 B +
#               12 B of timestamp option; net.ipv4.tcp_timestamps is 1)
#   link        everything on the veth: Ethernet frames (14 B header each) of that socket, of the
#               agent's other connections, and ARP (neighbour probes between sparse exchanges)
# --root measures another checkout's distribution (built with its ./edgefleet first), for a
# before/after comparison with the same harness. --delay adds a netem delay each way (a long link; needs the
# kernel's sch_netem, otherwise the script stops and says so).
# Writes bench/results/idle-wire-<label>-<date>.json and prints a summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="$ROOT"
MINUTES=30
LABEL=""
HEARTBEAT=120s
INTERVAL=5m
DELAY=0ms
while [ $# -gt 0 ]; do
  case "$1" in
    --root) TARGET="$(cd "$2" && pwd)"; shift 2 ;;
    --minutes) MINUTES="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    --heartbeat) HEARTBEAT="$2"; shift 2 ;;
    --telemetry-interval) INTERVAL="$2"; shift 2 ;;
    --delay) DELAY="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$LABEL" ] || LABEL="$(git -C "$TARGET" rev-parse --short HEAD 2>/dev/null || basename "$TARGET")"
EF="$TARGET/edgefleet"
"$EF" --version >/dev/null   # builds that distribution on first use

N=$((RANDOM % 200 + 20))
NS="ef-idle-$N-$$"
HOST_IF="efh$N"
DEV_IF="efd$N"
HOST_IP="10.231.$N.1"
DEV_IP="10.231.$N.2"
PORT=$((20000 + RANDOM % 20000))
WORK="$(mktemp -d /tmp/edgefleet-idle-wire-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$DEV_IF"
ip link set "$DEV_IF" netns "$NS"
ip addr add "$HOST_IP/30" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add "$DEV_IP/30" dev "$DEV_IF"
ip netns exec "$NS" ip link set "$DEV_IF" up
ip netns exec "$NS" ip link set lo up
if [ "$DELAY" != "0ms" ]; then
  if ! tc qdisc add dev "$HOST_IF" root netem delay "$DELAY" 2>"$WORK/tc.err"; then
    echo "idle-wire: --delay needs the kernel's netem qdisc, which this kernel lacks ($(cat "$WORK/tc.err"))." >&2
    echo "idle-wire: measure a long link with bench/badlink.sh (its delay is a user-space proxy) or drop --delay." >&2
    exit 2
  fi
  ip netns exec "$NS" tc qdisc add dev "$DEV_IF" root netem delay "$DELAY"
fi

"$EF" controller --data "$WORK/controller" --listen "$HOST_IP:$PORT" --tls-san "$HOST_IP" \
  --advertise-url "https://$HOST_IP:$PORT" --heartbeat "$HEARTBEAT" \
  --telemetry-interval "$INTERVAL" >"$WORK/controller.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 240); do grep -q " serving https://" "$WORK/controller.log" && break; sleep 0.5; done
grep -q " serving https://" "$WORK/controller.log" || { cat "$WORK/controller.log"; exit 1; }
export EDGEFLEET_CONFIG="$WORK/controller/cli-config.json"
TOKEN=$("$EF" onboarding create -o json | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
"$EF" onboarding bootstrap --token "$TOKEN" --out "$WORK/bootstrap.json" 2>/dev/null
ip netns exec "$NS" "$EF" agent --bootstrap "$WORK/bootstrap.json" --state "$WORK/agent" --no-qr \
  >"$WORK/agent.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 240); do grep -q "connected to" "$WORK/agent.log" && break; sleep 0.5; done
grep -q "connected to" "$WORK/agent.log" || { cat "$WORK/agent.log"; exit 1; }
sleep 30

ADMIN=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["token"])' "$EDGEFLEET_CONFIG")
link() { echo "$(cat /sys/class/net/$HOST_IF/statistics/rx_bytes) $(cat /sys/class/net/$HOST_IF/statistics/rx_packets) $(cat /sys/class/net/$HOST_IF/statistics/tx_bytes) $(cat /sys/class/net/$HOST_IF/statistics/tx_packets)"; }
sock() {
  ip netns exec "$NS" ss -tinH state established "( dport = :$PORT )" | tr ' ' '\n' |
    awk -F: '/^bytes_sent:/ {s+=$2} /^bytes_received:/ {r+=$2} /^bytes_retrans:/ {x+=$2}
             /^segs_out:/ {o+=$2} /^segs_in:/ {i+=$2} END {print s+0, r+0, x+0, o+0, i+0}'
}
scrape() {
  curl -sk -H "Authorization: Bearer $ADMIN" "https://$HOST_IP:$PORT/metrics" |
    grep -E '^edgefleet_websocket_message(s|_bytes)_total' || true
}
read -r up_b0 up_p0 down_b0 down_p0 < <(link)
read -r s0 r0 x0 o0 i0 < <(sock)
scrape >"$WORK/metrics0"
echo "measuring ${MINUTES} min of an idle agent (heartbeat $HEARTBEAT, summaries every $INTERVAL) ..."
sleep $((MINUTES * 60))
read -r up_b1 up_p1 down_b1 down_p1 < <(link)
read -r s1 r1 x1 o1 i1 < <(sock)
scrape >"$WORK/metrics1"

mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/idle-wire-$LABEL-$(date -u +%Y%m%d).json"
python3 - "$WORK/metrics0" "$WORK/metrics1" "$OUT" <<EOF
import json, re, sys
def parse(path):
    out = {}
    for line in open(path):
        m = re.match(r'(\w+)\{([^}]*)\}\s+(\S+)', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            key = ("bytes" if "bytes" in m.group(1) else "count", labels.get("direction"), labels.get("type"))
            out[key] = float(m.group(3))
    return out
a, b = parse(sys.argv[1]), parse(sys.argv[2])
messages = {}
for k in sorted(set(a) | set(b), key=str):
    d = b.get(k, 0) - a.get(k, 0)
    if d:
        messages.setdefault(f"{k[1]} {k[2]}", {})[k[0]] = int(d)
seconds = $MINUTES * 60
day = 86400 / seconds
up_b, up_p = $up_b1 - $up_b0, $up_p1 - $up_p0      # veth host side rx: from the device
down_b, down_p = $down_b1 - $down_b0, $down_p1 - $down_p0
sent, received = $s1 - $s0, $r1 - $r0
segs_out, segs_in = $o1 - $o0, $i1 - $i0
r = {
  "label": "$LABEL", "target": "$TARGET", "minutes": $MINUTES, "heartbeat": "$HEARTBEAT",
  "telemetryInterval": "$INTERVAL", "delayEachWay": "$DELAY",
  "messages": messages,
  "tcpPayload": {"sentBytes": sent, "receivedBytes": received, "retransmittedBytes": $x1 - $x0,
                 "segmentsOut": segs_out, "segmentsIn": segs_in},
  "ip": {"upBytes": sent + 52 * segs_out, "downBytes": received + 52 * segs_in},
  "link": {"upBytes": up_b, "upPackets": up_p, "downBytes": down_b, "downPackets": down_p,
           "packetsNotOfTheSocket": up_p + down_p - segs_out - segs_in},
}
payload = sum(v.get("bytes", 0) for v in messages.values())
r["perDay"] = {
  "messagePayloadBytes": round(payload * day) if payload else None,
  "tcpPayloadBytes": round((sent + received) * day),
  "ipBytes": round((sent + received + 52 * (segs_out + segs_in)) * day),
  "linkBytes": round((up_b + down_b) * day),
}
json.dump(r, open(sys.argv[3], "w"), indent=2)
print(json.dumps(r, indent=2))
EOF
echo "wrote $OUT"
