#!/usr/bin/env bash
# Measures what one admission costs the operator's CPU as a pool fills, with no API server: the
# decision and the ledger commit production runs, over a pool of many nodes and a ledger kept in
# memory. Prints a Markdown table of decisions/s and CPU ms per decision by ledger size and clients.
#
# Usage: bench/decision.sh [NODES] [LEDGER_SIZES] [CREATES_PER_ROW] [CLIENTS]
#        (defaults: 1000 0,1000,3000,10000 300 1,32)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), $(java -version 2>&1 | head -1)"
mvn -B -q package -DskipTests -Dspotless.check.skip=true
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
java ${BENCH_JAVA_OPTS:--Xmx256m} -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" \
  dev.nimbus.webhook.DecisionBenchmark "${1:-1000}" "${2:-0,1000,3000,10000}" "${3:-300}" "${4:-1,32}"
