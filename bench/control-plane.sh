#!/usr/bin/env bash
# Measures the local control plane: time from `hack/cluster.sh up` to a Ready cluster (binaries
# already built), and the resident memory of each component once the cluster has settled.
#
# Usage: bench/control-plane.sh [--runs N] [--nodes N] [--cold]
#   --cold  also times a full build of every binary from scratch, in throwaway build and cache
#           folders (downloads included; about 20 minutes on 2 cores); the cached binaries are left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source hack/versions.sh
runs=3 nodes="" cold=false
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --cold) cold=true; shift ;;
    *) echo "usage: bench/control-plane.sh [--runs N] [--nodes N] [--cold]" >&2; exit 2 ;;
  esac
done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
echo "versions: kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, kubevirt $KUBEVIRT_VERSION"

if $cold; then
  scratch=$(mktemp -d)
  start=$(date +%s)
  NIMBUS_CACHE="$scratch/cache" GOCACHE="$scratch/gocache" GOMODCACHE="$scratch/gomodcache" \
    hack/build-control-plane.sh 2>&1 | grep -E "built in" || true
  echo "cold build of all binaries: $(($(date +%s) - start)) s"
  chmod -R u+w "$scratch" && rm -rf "$scratch" # the module cache is read-only
fi

hack/build-control-plane.sh >/dev/null 2>&1
hack/cluster.sh down >/dev/null 2>&1 || true
args=()
[[ -n "$nodes" ]] && args=(--nodes "$nodes")
for ((run = 1; run <= runs; run++)); do
  start=$EPOCHREALTIME
  hack/cluster.sh up "${args[@]}" >/dev/null 2>&1
  up=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{print b - a}')
  sleep 15
  total=0 line=""
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kwok virt-api virt-controller \
    kubevirt-handler-stand-in; do
    rss=$(($(ps -o rss= -p "$(cat "$NIMBUS_CLUSTER_DIR/$c.pid")") / 1024))
    total=$((total + rss))
    line+="$c ${rss} MiB, "
  done
  count=$("$NIMBUS_BIN/kubectl" --kubeconfig "$NIMBUS_KUBECONFIG" get nodes --no-headers | wc -l)
  printf 'run %d: %s nodes Ready in %.1f s; RSS %stotal %d MiB\n' "$run" "$count" "$up" "$line" "$total"
  hack/cluster.sh down >/dev/null 2>&1
done
