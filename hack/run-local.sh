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

log "building the operator"
(cd "$ROOT" && mvn -B -q package -DskipTests -Dspotless.check.skip=true)
kubectl create namespace nimbus-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# Locally there is no Service in front of the webhook: the operator serves it on loopback and
# writes its two webhook configurations itself (admission's validating one, the finalizers' mutating
# one), and removes them when it stops.
log "starting the operator; its webhook listens on https://127.0.0.1:9443"
java -Dnimbus.webhook.host=127.0.0.1 -Dnimbus.webhook.url=https://127.0.0.1:9443 \
  -Dnimbus.webhook.extra-hosts=127.0.0.1 \
  -Dnimbus.webhook.client-ca-file="$NIMBUS_CLUSTER_DIR/pki/webhook-client-ca.crt" -jar "$ROOT/target/quarkus-app/quarkus-run.jar" &
operator=$!
trap 'kill $operator 2>/dev/null || true; wait $operator 2>/dev/null || true' EXIT INT TERM
until kubectl get validatingwebhookconfiguration nimbus >/dev/null 2>&1; do
  kill -0 $operator 2>/dev/null || { log "the operator exited; see its output above"; exit 1; }
  sleep 1
done

# Pools, types, keys and groups first: admission checks that what a workload names exists.
log "applying the samples from deploy/samples/"
# --force-conflicts: the samples are Nimbus's own; a chart installed before may manage the same objects.
kubectl apply --server-side --force-conflicts -f "$ROOT/deploy/samples/00-instancetypes.yaml" \
  -f "$ROOT/deploy/samples/01-capacitypools.yaml" -f "$ROOT/deploy/samples/02-keypair.yaml" \
  -f "$ROOT/deploy/samples/03-securitygroup.yaml" -f "$ROOT/deploy/samples/04-machineimage.yaml"
sleep 2
kubectl apply --server-side --force-conflicts -f "$ROOT/deploy/samples/10-virtualserver.yaml" \
  -f "$ROOT/deploy/samples/11-containertask.yaml"
kubectl get nimbus -A
log "Nimbus is running (Ctrl-C stops it); in another shell: eval \"\$(hack/cluster.sh env)\""
wait $operator
