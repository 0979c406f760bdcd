#!/usr/bin/env bash
# The AWS API's latency through the AWS SDK for Java v2: RunInstances of one instance each from 8
# threads (each through the webhook, answered once the controller reports the instance), then
# DescribeInstances of every instance, one call at a time, once all of them run. One operator
# replica with the real virt-controller on KWOK nodes, on the local control plane (started if it
# is not up).
#
# Usage: bench/aws.sh [INSTANCES] [NODES] [DESCRIBES]   (default 1000 100 100)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), $(java -version 2>&1 | head -1)"
mvn -B -q package -DskipTests -Dspotless.check.skip=true
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
java -Dnimbus.project.dir="$PWD" -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" \
  dev.nimbus.bench.AwsBenchmark "${1:-1000}" "${2:-100}" "${3:-100}" 2>&1 | grep -vE "^[0-9]{4}-[0-9]{2}-[0-9]{2} "
