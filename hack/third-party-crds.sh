#!/usr/bin/env bash
# Prints the paths of the cert-manager and Prometheus Operator CRDs that the chart's optional
# objects need (Certificate, Issuer, ServiceMonitor, PodMonitor), downloading the projects' Go
# modules into the module cache if needed. ChartIT installs them to dry-run those objects.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
mkdir -p "$NIMBUS_CACHE/src"
dir() {
  (cd "$NIMBUS_CACHE/src" && GOFLAGS=-mod=mod go mod download -json "$1@$2" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}
cm=$(dir github.com/cert-manager/cert-manager "$CERT_MANAGER_VERSION")
po=$(dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
echo "$cm/deploy/crds/cert-manager.io_certificates.yaml"
echo "$cm/deploy/crds/cert-manager.io_issuers.yaml"
echo "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
echo "$po/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"
