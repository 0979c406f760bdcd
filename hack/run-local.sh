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

log "building the operator"
(cd "$ROOT" && mvn -B -q package -DskipTests -Dspotless.check.skip=true)
log "starting the operator (Ctrl-C to stop); in another shell: eval \"\$(hack/cluster.sh env)\""
exec java -jar "$ROOT/target/quarkus-app/quarkus-run.jar"
