#!/usr/bin/env bash
# Regenerates crds/ from the API types in src/main/java/dev/nimbus/api. Run it after changing
# a type; the build (CrdDriftTest) fails while crds/ and the types disagree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mvn -B -q -Dspotless.check.skip=true test-compile
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
java -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" dev.nimbus.api.CrdFiles crds
