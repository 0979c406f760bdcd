# Versions and paths of the local control plane, shared by every hack/ script. Source it.
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.34.4}"
# The oldest Kubernetes the chart's kubeVersion admits; only its kube-apiserver is built, for
# `hack/cluster.sh up --oldest-api-server` (CrdSchemaOnOldestKubernetesIT).
OLDEST_KUBERNETES_VERSION="${OLDEST_KUBERNETES_VERSION:-v1.31.14}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# KubeVirt's control plane (virt-api, virt-controller, virtctl) and its CRDs; the Go proxy serves
# exact versions of kubevirt.io/* but will not list them, so name one.
KUBEVIRT_VERSION="${KUBEVIRT_VERSION:-v1.7.0}"
# The operator's image (hack/build-image.sh): crane (go-containerregistry) assembles the base image
# and serves a throwaway registry; the base is a Debian root filesystem with a Java 17 runtime.
CRANE_VERSION="${CRANE_VERSION:-v0.22.1}"
IMAGE_BASE_SUITE="${IMAGE_BASE_SUITE:-bookworm}"
IMAGE_BASE_JRE="${IMAGE_BASE_JRE:-openjdk-17-jre-headless}"
# The user the operator runs as in its image: numeric, so that runAsNonRoot can check it; the
# base's /etc/passwd names it and Jib sets it (hack/build-image.sh).
IMAGE_USER=10001

NIMBUS_CACHE="${NIMBUS_CACHE:-$HOME/.cache/nimbus}"
# One bin dir per version set, so a version bump builds beside the old binaries.
NIMBUS_BIN="$NIMBUS_CACHE/bin-k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"
# Where `hack/cluster.sh up` keeps its state: certificates, etcd data, logs, kubeconfig.
NIMBUS_CLUSTER_DIR="${NIMBUS_CLUSTER_DIR:-$NIMBUS_CACHE/cluster}"
NIMBUS_KUBECONFIG="$NIMBUS_CLUSTER_DIR/kubeconfig"
# CRDs of tools the chart can use, for checking its objects against a real API server (ChartIT);
# taken from the projects' Go modules.
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.21.2}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
