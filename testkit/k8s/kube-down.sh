#!/usr/bin/env bash
# Stops what testkit/k8s/kube-up.sh DIR started and removes its state (etcd data, keys,
# kubeconfigs, pid files). The *.log files stay for post-mortems unless --purge is given, which
# removes DIR entirely. Safe to run twice, or on a half-started DIR.
#
#   testkit/k8s/kube-down.sh [--purge] DIR
set -uo pipefail

purge=0
if [ "${1:-}" = --purge ]; then purge=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--purge] DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd)

# Only signal a pid that still runs the program we started (pids get reused).
owned() { # owned PID NAME
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  case "$cmd" in *"$2"*) return 0 ;; *) return 1 ;; esac
}

# All at once: the state is thrown away, so nothing needs an orderly shutdown (in turn it takes ~7 s).
pids=()
signal() { # signal NAME MATCH
  local f="$DIR/$1.pid" pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  rm -f "$f"
  if [ "$pid" != "$$" ] && owned "$pid" "$2"; then
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  fi
}
signal watchdog edgefleet-kube-watchdog
signal kube-controller-manager kube-controller-manager
signal kube-apiserver kube-apiserver
signal etcd etcd
for _ in $(seq 1 50); do
  left=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
  [ "${#left[@]}" -eq 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then
    echo "[kube-down] pid $pid ignored SIGTERM for 5s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
done

if [ "$purge" = 1 ]; then
  rm -rf "$DIR"
else
  rm -rf "$DIR/etcd" "$DIR/pki" "$DIR/kubeconfig" "$DIR/controller-manager.kubeconfig" "$DIR/cluster.env"
fi
