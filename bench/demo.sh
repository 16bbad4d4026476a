#!/usr/bin/env bash
# Wall-clock time of `./edgefleet demo` from the command to its final summary line, as a newcomer
# runs it (the distribution already built): JVM start, controller, N agents enrolling over TLS, the
# Git delivery, the phased rollout with the rig offline and back.
#
#   bench/demo.sh [--runs N=3] [--devices N=10]
#
# Prints per run the wall time to the line "demo done in …" (measured outside the JVM), the time
# the demo itself reports, and the load average; writes bench/results/demo-<commit>-<date>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=3
DEVICES=10
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --devices) DEVICES="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
"$ROOT/edgefleet" --version >/dev/null # builds the distribution on first use
LABEL="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo local)"
OUT="$ROOT/bench/results/demo-$LABEL-$(date -u +%Y%m%dT%H%M%SZ).json"
LOG="$(mktemp /tmp/edgefleet-bench-demo-XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT
runs=()
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s%N)
  final=""
  # The demo keeps running after its summary line only with --for; 0s ends it right away.
  while IFS= read -r line; do
    echo "$line" >>"$LOG"
    case "$line" in
      "demo done in "*) final=$(( ($(date +%s%N) - start) / 1000000 )); reported="${line#demo done in }"; reported="${reported%%s:*}" ;;
      "demo failed"*) echo "run $i: $line" >&2; exit 1 ;;
    esac
  done < <("$ROOT/edgefleet" demo --devices "$DEVICES" --for 0s 2>&1)
  [ -n "$final" ] || { echo "run $i: no final line; log: $LOG" >&2; tail -20 "$LOG" >&2; trap - EXIT; exit 1; }
  load="$(cut -d' ' -f1 /proc/loadavg)"
  echo "run $i: ${final} ms to the final line (demo reports ${reported}s), load ${load}"
  runs+=("{\"wallMs\": $final, \"reportedSeconds\": $reported, \"load1\": $load}")
done
mkdir -p "$(dirname "$OUT")"
{
  echo "{\"commit\": \"$LABEL\", \"devices\": $DEVICES, \"cores\": $(nproc), \"runs\": ["
  (IFS=,; echo "${runs[*]}")
  echo "]}"
} >"$OUT"
echo "wrote $OUT"
