#!/usr/bin/env bash
# Creates 1,000 one-instance VirtualServers across 100 KWOK nodes with one operator replica (or more) and
# real virt-controller (virt-handler stood in for), on the local control plane (started if it is not up), and measures in
# the same run: time until all are Ready, the operator's API writes per server, its peak resident
# memory, the time to delete them all, and as the yardstick the raw ConfigMap create rate of the
# same client on the same API server.
#
# Usage: bench/servers.sh [SERVERS] [NODES] [REPLICAS]   (default 1000 100 1; with more than one
# replica the webhook is reached through a proxy in front of them all, as a Service spreads it).
# BENCH_JAVA_OPTS="-Dbench.operator.NAME=VALUE" gives every replica the property NAME=VALUE;
# BENCH_JAVA_OPTS="-Dbench.operator-jvm=-Xmx160m,-XX:+UseSerialGC" its JVM options, separated by
# commas (default -Xmx256m). The replicas inherit the environment (MALLOC_ARENA_MAX, say).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), $(java -version 2>&1 | head -1)"
mvn -B -q package -DskipTests -Dspotless.check.skip=true
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
java ${BENCH_JAVA_OPTS:-} -Dnimbus.project.dir="$PWD" -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" \
  dev.nimbus.bench.ServerBenchmark "${1:-1000}" "${2:-100}" "${3:-1}" 2>&1 | grep -vE "^[0-9]{4}-[0-9]{2}-[0-9]{2} "
