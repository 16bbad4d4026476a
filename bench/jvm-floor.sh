#!/usr/bin/env bash
# The floor under the agent's memory on this machine: the RSS of a JVM started with the agent's
# footprint flags (taken from the packaged start script) on the agent's packaged runtime, doing
# nothing ("idle") and after one TLS 1.3 connection it keeps open ("tls"), each with and without
# class data sharing. Whatever the agent does, it pays at least the "tls" figure.
#
#   bench/jvm-floor.sh [--agent-dir DIR]     (an unpacked bundle; default: the one ./mvnw package built)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
AGENT_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent-dir) AGENT_DIR="$2"; shift 2 ;;
    *) echo "usage: bench/jvm-floor.sh [--agent-dir DIR]" >&2; exit 2 ;;
  esac
done
WORK="$(mktemp -d /tmp/edgefleet-floor-XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
if [ -z "$AGENT_DIR" ]; then
  BUNDLE="$(ls "$ROOT"/agent-dist/target/edgefleet-agent-*-bundle.tar.gz 2>/dev/null | head -1 || true)"
  [ -n "$BUNDLE" ] || { echo "build the agent bundle first: ./mvnw package -pl agent-dist -am -DskipTests" >&2; exit 1; }
  tar -xzf "$BUNDLE" -C "$WORK"
  AGENT_DIR="$(dirname "$(find "$WORK" -path '*/usr/lib/edgefleet-agent/bin/edgefleet-agent' | head -1)")/.."
fi
JAVA="$AGENT_DIR/runtime/bin/java"
BUILD_JDK="$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /usr/lib/jvm/temurin-25-jdk-amd64/bin/javac)")")")"
for j in /usr/lib/jvm/temurin-25-jdk-amd64 "$BUILD_JDK"; do [ -x "$j/bin/javac" ] && { BUILD_JDK=$j; break; }; done
read -r -a FLAGS <<<"$(sed -n 's/^FOOTPRINT_OPTS="\(.*\)"$/\1/p' "$AGENT_DIR/bin/edgefleet-agent")"
FLAGS+=(-XX:+UseCompactObjectHeaders)
export MALLOC_ARENA_MAX=2
"$BUILD_JDK/bin/javac" -d "$WORK/classes" "$ROOT/bench/floor/Floor.java"
"$BUILD_JDK/bin/jar" cf "$WORK/floor.jar" -C "$WORK/classes" .   # a class cache wants jars
"$BUILD_JDK/bin/keytool" -genkeypair -keystore "$WORK/server.p12" -storepass floor1 -alias s \
  -keyalg EC -dname CN=floor -validity 1 >/dev/null 2>&1
PORT=$((20000 + RANDOM % 20000))
"$BUILD_JDK/bin/java" -cp "$WORK/classes" Floor server "$WORK/server.p12" "$PORT" >"$WORK/server.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do grep -q ready "$WORK/server.out" && break; sleep 0.1; done

measure() { # label, java options...
  local label=$1; shift
  "$JAVA" "${FLAGS[@]}" "$@" -cp "$WORK/floor.jar" Floor "${MODE[@]}" >"$WORK/out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do grep -q ready "$WORK/out" && break; sleep 0.1; done
  sleep 3   # settle: the JIT and the native heap trim
  printf '%-34s %8.1f MiB\n' "$label" "$(awk '/^VmRSS/{print $2/1024}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
cache() { # records the class cache of MODE in $1 (JDK 25: written as the recording JVM ends)
  "$JAVA" "${FLAGS[@]}" -XX:AOTCacheOutput="$1" -Xlog:aot=off -Xlog:cds=off -cp "$WORK/floor.jar" Floor "${MODE[@]}" --exit >/dev/null 2>&1
}
echo "runtime: $JAVA"
MODE=(idle); measure "idle"
cache "$WORK/idle.aot"; measure "idle, class cache" -XX:AOTCache="$WORK/idle.aot"
MODE=(tls "$PORT"); measure "one TLS connection"
cache "$WORK/tls.aot"; measure "one TLS connection, class cache" -XX:AOTCache="$WORK/tls.aot"
