#!/usr/bin/env bash
# Measures creates per second and p50/p99 create latency of VirtualServers through the API
# server, with the Nimbus admission webhook off and on, at 1, 8 and 32 concurrent clients, in one
# run on the local control plane (started if it is not up), and the API server's CPU per create
# (for Nimbus, until every server of the row has its first status). Prints a Markdown table.
#
# Usage: bench/admission.sh [CREATES_PER_RUN] [nimbus]   (default 300; "nimbus": only its rows)
# BENCH_JAVA_OPTS="-Dbench.operator.NAME=VALUE" gives the operator the property NAME=VALUE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), $(java -version 2>&1 | head -1)"
mvn -B -q package -DskipTests -Dspotless.check.skip=true
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
java ${BENCH_JAVA_OPTS:-} -Dnimbus.project.dir="$PWD" -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" \
  dev.nimbus.bench.AdmissionBenchmark "${1:-300}" "${2:-all}" 2>&1 | grep -vE "^[0-9]{4}-[0-9]{2}-[0-9]{2} "
