#!/usr/bin/env bash
# Console benchmark: how long the web console's devices page takes to show its first row with N
# devices (default 10,000) on a warm controller.
#   bench/console.sh [--devices N] [--runs R] [--keep]
# A controller (`edgefleet controller`, SQLite) and a simulator (`edgefleet sim`, N virtual
# devices speaking the real protocol) from the distribution the launcher builds; once every device
# is online, Chromium (/usr/bin/chromium or EDGEFLEET_CHROMIUM, driven by playwright-core from
# console/e2e) loads /devices once to warm up and then R times (default 5), each time measuring in
# the page from navigation start to the first frame after the first device row was added
# (console/e2e/bench/devices-render.mjs). The same for /devices?sort=name and
# /devices?status=ONLINE&sort=-lastSeen. Prints the times and their medians, and writes
# bench/results/console-<date>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DEVICES=10000
RUNS=5
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) DEVICES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: bench/console.sh [--devices N] [--runs R] [--keep]" >&2; exit 2 ;;
  esac
done
CHROMIUM="${EDGEFLEET_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "bench/console.sh needs Chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench/console.sh needs Node.js 20+ (node, npm)" >&2; exit 1; }

"$ROOT/edgefleet" --version >/dev/null   # builds the distribution (controller, simulator, console)
[ -d console/e2e/node_modules/playwright-core ] || (cd console/e2e && npm ci --no-audit --no-fund)
# Each device holds one socket in the simulator and one in the controller.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK="$(mktemp -d /tmp/edgefleet-console-bench-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -z "$KEEP" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
DATA="$WORK/controller"
"$ROOT/edgefleet" controller --data "$DATA" --listen "127.0.0.1:$PORT" \
  --enrollments-per-address 1000000 >"$WORK/controller.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 240); do
  grep -q ' serving https://' "$WORK/controller.log" 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$WORK/controller.log" >&2; exit 1; }
  sleep 0.5
done
grep -q ' serving https://' "$WORK/controller.log" || { echo "the controller did not start; see $WORK/controller.log" >&2; exit 1; }
export EDGEFLEET_CONFIG="$DATA/cli-config.json"
URL="https://127.0.0.1:$PORT"
TOKEN="$(cat "$DATA/admin-token")"
CA="$DATA/pki/ca.crt"

"$ROOT/edgefleet" onboarding create --name console-bench --tag fleet=bench --tag site=bench-1 \
  --uses "$DEVICES" --per-minute 1000000 --bootstrap-out "$WORK/bootstrap.json" >/dev/null
SIM_ARGS=(--bootstrap "$WORK/bootstrap.json" --devices "$DEVICES" --state "$WORK/sim-state")
# One source address has ~28k ephemeral ports: spread larger fleets.
[ "$DEVICES" -le 5000 ] || SIM_ARGS+=(--source-addresses 127.0.0.2-127.0.0.11)
"$ROOT/edgefleet" sim "${SIM_ARGS[@]}" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)

online() {
  curl -fsS --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/fleet/summary" |
    node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).online))"
}
START=$(date +%s)
n=0
while [ "$n" -lt "$DEVICES" ]; do
  sleep 2
  n="$(online || echo 0)"
  echo "online: $n/$DEVICES after $(( $(date +%s) - START )) s"
  [ $(( $(date +%s) - START )) -lt 900 ] || { echo "not every device came online in 15 min" >&2; exit 1; }
  kill -0 "${PIDS[1]}" 2>/dev/null || { tail -20 "$WORK/sim.log" >&2; exit 1; }
done

mkdir -p bench/results
OUT="bench/results/console-$(date -u +%Y%m%d).json"
(cd console/e2e && EDGEFLEET_URL="$URL" EDGEFLEET_TOKEN="$TOKEN" EDGEFLEET_CHROMIUM="$CHROMIUM" RUNS="$RUNS" \
  PATHS="/devices,/devices?sort=name,/devices?status=ONLINE&sort=-lastSeen" \
  node bench/devices-render.mjs) >"$OUT.tmp"
node -e "
const r = JSON.parse(require('fs').readFileSync('$OUT.tmp', 'utf8'));
r.devices = $DEVICES; r.date = new Date().toISOString(); r.cpus = require('os').cpus().length;
require('fs').writeFileSync('$OUT', JSON.stringify(r, null, 2) + '\n');
for (const [p, v] of Object.entries(r.pages)) console.log(p.padEnd(40), 'first row, median of', v.firstRowMs.length + ':', v.medianMs, 'ms', JSON.stringify(v.firstRowMs), '; its list request answered in (median)', v.listAnswerMedianMs, 'ms');
"
rm -f "$OUT.tmp"
echo "wrote $OUT"
