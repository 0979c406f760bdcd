#!/usr/bin/env bash
# Runs Nimbus locally: starts the local control plane (building it on first use), installs the
# CRDs and the sample resources, then runs the operator in the foreground against that cluster.
# Ctrl-C stops the operator; `hack/cluster.sh down` stops the cluster.
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HACK")"
source "$HACK/versions.sh"
log() { printf '[run-local %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

"$HACK/cluster.sh" up
export KUBECONFIG="$NIMBUS_KUBECONFIG"
kubectl() { "$NIMBUS_BIN/kubectl" "$@"; }

log "installing the CRDs from crds/"
kubectl apply --server-side --force-conflicts -f "$ROOT/crds" >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f "$ROOT/crds" >/dev/null

log "applying the samples from deploy/samples/"
kubectl apply --server-side -f "$ROOT/deploy/samples"
kubectl get nimbus -A

log "building the operator and the KubeVirt stand-in"
(
  cd "$ROOT"
  mvn -B -q package -DskipTests -Dspotless.check.skip=true
  mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
)
# The stand-in does what virt-controller and virt-handler would; it stops with this script.
java -Djava.util.logging.manager=org.jboss.logmanager.LogManager -cp "$ROOT/target/test-classes:$ROOT/target/classes:$(cat "$ROOT/target/test-classpath.txt")" \
  dev.nimbus.kubevirt.simulator.KubeVirtSimulator "$KUBECONFIG" >"$NIMBUS_CLUSTER_DIR/logs/kubevirt-simulator.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null || true' EXIT
log "KubeVirt stand-in running (log $NIMBUS_CLUSTER_DIR/logs/kubevirt-simulator.log)"
log "starting the operator (Ctrl-C to stop); in another shell: eval \"\$(hack/cluster.sh env)\""
java -jar "$ROOT/target/quarkus-app/quarkus-run.jar"
