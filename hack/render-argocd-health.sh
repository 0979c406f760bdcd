#!/usr/bin/env bash
# Renders deploy/argocd/argocd-cm-health.yaml, the argocd-cm entries that install the Nimbus
# health checks, from the scripts in deploy/argocd/health/. LuaHealthChecksTest fails when the
# two disagree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=deploy/argocd/argocd-cm-health.yaml
{
  echo "# Merge into Argo CD's argocd-cm ConfigMap (namespace argocd) to teach it the health of"
  echo "# Nimbus objects. Rendered by hack/render-argocd-health.sh from deploy/argocd/health/."
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: argocd-cm"
  echo "  namespace: argocd"
  echo "  labels:"
  echo "    app.kubernetes.io/part-of: argocd"
  echo "data:"
  for kind in CapacityPool ContainerTask VirtualServer; do
    file="deploy/argocd/health/$(echo "$kind" | tr '[:upper:]' '[:lower:]').lua"
    echo "  resource.customizations.health.compute.nimbus.dev_$kind: |"
    sed 's/^/    /; s/^    $//' "$file"
  done
} >"$out"
echo "wrote $out"
