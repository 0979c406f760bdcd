#!/usr/bin/env bash
# Measures what one list of a pool's ledger shards costs the API server: the list a controller
# makes where its replica's watch may not show a reservation yet (docs/admission.md, "What a
# controller reads"). Creates NODES ConfigMaps shaped as shards (the pool's and a node's label, a
# document of SHARD_BYTES) in a scratch namespace of the local control plane (started if it is not
# up), lists them LISTS times by the pool's label as the operator does, and prints the bytes of one
# answer, the time of one list and the API server's CPU per list. Deletes the namespace after.
#
# Usage: bench/shard-list.sh [NODES] [LISTS] [SHARD_BYTES]   (default 1000 20 2800: ten
#        one-instance reservations per node, as a pool of 10,000 servers on 1,000 nodes holds)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source hack/versions.sh
nodes=${1:-1000} lists=${2:-20} bytes=${3:-2800}
namespace=bench-shard-list
kc() { "$NIMBUS_BIN/kubectl" --kubeconfig "$NIMBUS_KUBECONFIG" "$@"; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
kc get --raw /readyz >/dev/null 2>&1 || hack/cluster.sh up --without-kubevirt >/dev/null
kc create namespace "$namespace" >/dev/null
trap 'kc delete namespace "$namespace" --wait=false >/dev/null 2>&1 || true; kill "${proxy:-}" 2>/dev/null || true' EXIT

python3 - "$nodes" "$bytes" "$namespace" <<'EOF' | kc create -f - >/dev/null
import json, sys
nodes, size, namespace = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
items = []
for i in range(nodes):
    items.append({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"nimbus-ledger.bench.{i:08x}", "namespace": namespace,
                     "labels": {"compute.nimbus.dev/pool": "bench",
                                "compute.nimbus.dev/ledger-node": f"{i:08x}"}},
        "data": {"node": f"node-{i}", "ledger": "x" * size},
    })
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
EOF

port=18099
kc proxy --port "$port" >/dev/null 2>&1 &
proxy=$!
sleep 1
python3 - "$port" "$namespace" "$lists" "$nodes" <<'EOF'
import re, sys, time, urllib.request
port, namespace, lists, nodes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
def cpu():
    metrics = urllib.request.urlopen(base + "/metrics").read().decode()
    return float(re.search(r"^process_cpu_seconds_total (\S+)$", metrics, re.M).group(1))
url = (f"{base}/api/v1/namespaces/{namespace}/configmaps?labelSelector="
       "compute.nimbus.dev/pool%3Dbench,compute.nimbus.dev/ledger-node")
urllib.request.urlopen(url).read()  # warm
before, started, size = cpu(), time.monotonic(), 0
for _ in range(lists):
    size = len(urllib.request.urlopen(url).read())
elapsed, spent = time.monotonic() - started, cpu() - before
print(f"| shards | answer bytes | ms per list | API server CPU ms per list |")
print(f"|---|---|---|---|")
print(f"| {nodes:,} | {size:,} | {elapsed / lists * 1000:.1f} | {spent / lists * 1000:.1f} |")
EOF
