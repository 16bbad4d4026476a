#!/usr/bin/env bash
# Wall-clock time of CLI calls through ./edgefleet, as an operator types them: the launcher
# script, the JVM start and the command, against a controller this script starts on loopback.
#
#   bench/cli.sh [--runs N=15] [--root DIR] [--label NAME]
#
# cold  the first call after the launcher's class cache is removed (it starts rebuilding it)
# warm  the median, minimum and maximum of N calls each of `--version`, `--help` and
#       `devices list` (one real API call over TLS) once the cache exists, served by the warm CLI
#       server the first call started; warmOwnJvm the same with EDGEFLEET_CLI_SERVER=off (a JVM
#       per call)
# Wall-clock and CPU (user + system) milliseconds; the load average goes with them, as other
# processes on the machine stretch the wall clock.
# --root measures another checkout's distribution (built with its ./edgefleet first), for a
# before/after comparison with the same harness.
# Writes bench/results/cli-<label>-<date>.json and prints a summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="$ROOT"
RUNS=15
LABEL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) TARGET="$(cd "$2" && pwd)"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$LABEL" ] || LABEL="$(git -C "$TARGET" rev-parse --short HEAD 2>/dev/null || basename "$TARGET")"
EF="$TARGET/edgefleet"
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
"$EF" --version >/dev/null # builds that distribution on first use

WORK="$(mktemp -d /tmp/edgefleet-bench-cli-XXXXXX)"
CONTROLLER=""
cleanup() {
  [ -z "$CONTROLLER" ] || kill "$CONTROLLER" 2>/dev/null || true
  # The CLI server the calls started: its pid is in its file.
  local f
  for f in "$TARGET"/launcher/target/dist/cache/server-*/server; do
    [ -f "$f" ] && kill "$(cut -d' ' -f3 "$f")" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$((20000 + RANDOM % 20000))
"$EF" controller --data "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/controller.log" 2>&1 &
CONTROLLER=$!
export EDGEFLEET_CONFIG="$WORK/data/cli-config.json"
for _ in $(seq 1 120); do
  if [ -f "$EDGEFLEET_CONFIG" ] && "$EF" devices list >/dev/null 2>&1; then break; fi
  kill -0 "$CONTROLLER" 2>/dev/null || { cat "$WORK/controller.log" >&2; exit 1; }
  sleep 0.5
done
"$EF" devices list >/dev/null

# "<wall ms> <cpu ms>" of one call (CPU: user + system of the launcher script and the JVM); its
# output is discarded, a failure stops the benchmark.
call() {
  local TIMEFORMAT='%R %U %S'
  { time "$EF" "$@" >/dev/null 2>"$WORK/call.err"; } 2>"$WORK/time" ||
    { cat "$WORK/call.err" >&2; exit 1; }
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$WORK/time"
}

# The median of the numbers on stdin.
median() {
  sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)) }'
}

# {"median": …, "min": …, "max": …, "cpuMedian": …, "runs": [...]} of N calls, in ms.
series() {
  for _ in $(seq 1 "$RUNS"); do call "$@"; done >"$WORK/series"
  local wall
  wall=$(cut -d' ' -f1 "$WORK/series" | sort -n | tr '\n' ' ')
  printf '{"median": %d, "min": %d, "max": %d, "cpuMedian": %d, "runs": [%s]}' \
    "$(cut -d' ' -f1 "$WORK/series" | median)" "$(echo "$wall" | cut -d' ' -f1)" \
    "$(echo "$wall" | awk '{ print $NF }')" "$(cut -d' ' -f2 "$WORK/series" | median)" \
    "$(echo "$wall" | sed 's/ *$//; s/ /, /g')"
}

CACHE="$TARGET/launcher/target/dist/cache"
rm -rf "$CACHE"
COLD=$(call devices list)
# A launcher that keeps a class cache makes it in the background after the cold call: wait for it.
if [ -d "$CACHE" ]; then
  for _ in $(seq 1 240); do
    [ -f "$CACHE/cli.aot" ] || [ -f "$CACHE/cli.jsa" ] && break
    sleep 0.5
  done
fi
# And for the CLI server the cold call started, when the launcher has one.
for _ in $(seq 1 120); do
  ls "$CACHE"/server-*/server >/dev/null 2>&1 && break
  grep -q served_call "$EF" || break
  sleep 0.5
done
call devices list >/dev/null
VERSION=$(series --version)
HELP=$(series --help)
LIST=$(series devices list)
export EDGEFLEET_CLI_SERVER=off
OWN_VERSION=$(series --version)
OWN_LIST=$(series devices list)
unset EDGEFLEET_CLI_SERVER

DATE="$(date -u +%Y%m%d)"
OUT="$ROOT/bench/results/cli-$LABEL-$DATE.json"
mkdir -p "$ROOT/bench/results"
cat >"$OUT" <<EOF
{
  "label": "$LABEL",
  "commit": "$(git -C "$TARGET" rev-parse HEAD 2>/dev/null || echo unknown)",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "java": "$("$JAVA_HOME/bin/java" -version 2>&1 | head -1 | tr -d '"')",
  "cpus": $(nproc),
  "unit": "ms",
  "coldDevicesList": {"wall": ${COLD% *}, "cpu": ${COLD#* }},
  "load": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "warm": {
    "version": $VERSION,
    "help": $HELP,
    "devicesList": $LIST
  },
  "warmOwnJvm": {
    "version": $OWN_VERSION,
    "devicesList": $OWN_LIST
  }
}
EOF
echo "cli $LABEL: cold devices list ${COLD% *} ms; warm medians: --version $(echo "$VERSION" | sed 's/.*"median": \([0-9]*\).*/\1/') ms," \
  "--help $(echo "$HELP" | sed 's/.*"median": \([0-9]*\).*/\1/') ms," \
  "devices list $(echo "$LIST" | sed 's/.*"median": \([0-9]*\).*/\1/') ms;" \
  "a JVM per call: --version $(echo "$OWN_VERSION" | sed 's/.*"median": \([0-9]*\).*/\1/') ms," \
  "devices list $(echo "$OWN_LIST" | sed 's/.*"median": \([0-9]*\).*/\1/') ms -> $OUT"
