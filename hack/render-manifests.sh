#!/usr/bin/env bash
# Renders the plain manifests in deploy/manifests/ from the Helm chart with its default values,
# numbered in apply order, for users who install with kubectl (or another tool) instead of Helm.
# ChartIT fails when the files differ from what this script renders; run it after changing the
# chart or the CRDs.
#
# Usage: hack/render-manifests.sh [OUT_DIR]   (default deploy/manifests)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source hack/versions.sh
out="${1:-deploy/manifests}"
helm="$NIMBUS_BIN/helm"
[[ -x "$helm" ]] || { echo "no $helm: run hack/build-control-plane.sh" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/[0-9][0-9]-*.yaml
"$helm" template nimbus helm/nimbus --namespace nimbus-system --kube-version "${KUBERNETES_VERSION#v}" 2>/dev/null |
  python3 -c '
import re, sys
out = sys.argv[1]
files = [
    ("01-crds.yaml", {"CustomResourceDefinition"}),
    ("02-rbac.yaml", {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                      "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}),
    ("03-operator.yaml", {"Service", "Deployment", "PodDisruptionBudget"}),
    ("04-webhook.yaml", {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}),
    ("05-defaults.yaml", {"InstanceType", "CapacityPool"}),
]
docs = {name: [] for name, _ in files}
for doc in sys.stdin.read().split("\n---\n"):
    # Helm bookkeeping that means nothing to kubectl.
    lines = [l for l in doc.strip().splitlines()
             if not l.startswith("# Source:")
             and not re.match(r"\s*(helm\.sh/(chart|hook|hook-delete-policy)|app\.kubernetes\.io/managed-by):", l)]
    if not any(l.strip() for l in lines):
        continue
    kind = next(l.split(":", 1)[1].strip() for l in lines if l.startswith("kind:"))
    name = next((f for f, kinds in files if kind in kinds), None)
    if name is None:
        sys.exit("no manifest file for kind " + kind)
    docs[name].append("\n".join(l for l in lines if l.strip() != "---"))
header = "# Rendered from helm/nimbus by hack/render-manifests.sh; do not edit.\n"
with open(out + "/00-namespace.yaml", "w") as f:
    f.write(header + "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: nimbus-system\n")
for name, _ in files:
    with open(out + "/" + name, "w") as f:
        f.write(header + "---\n".join(d + "\n" for d in docs[name]))
' "$out"
echo "rendered $(ls "$out"/[0-9][0-9]-*.yaml | wc -l) files into $out"
