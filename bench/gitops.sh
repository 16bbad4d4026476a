#!/usr/bin/env bash
# GitOps figures: commit -> applied latency on N devices (webhook and 5 s polling) and the bytes a
# device exchanges for an unchanged poll, a heartbeat and a one-line change. One controller and N
# agents in one JVM (io.edgefleet.bench.GitOpsBench), the local kube-apiserver + etcd of the tests
# (or the cluster named by EDGEFLEET_IT_KUBECONFIG), a local Git repository.
#
#   bench/gitops.sh [--devices N=50] [--rounds R=5] [--poll-rounds P=R] [--heartbeat S=30]
#                   [--shared-scheduler] [--shared-namespace] [--out FILE]
#
# Writes bench/results/gitops-<date>.json and prints a table. `--devices 5 --rounds 2` takes about
# a minute once the Kubernetes binaries are built (testkit/k8s/kube-build.sh, once per machine).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Formatting checks belong to `verify`, not to running a benchmark.
./mvnw -q -B -pl bench -am install -DskipTests -Dspotless.check.skip=true
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
./mvnw -q -B -pl bench dependency:build-classpath -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
exec "$JAVA_HOME/bin/java" -XX:+UseG1GC -XX:MaxRAMPercentage=50 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.GitOpsBench "$@"
