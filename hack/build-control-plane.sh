#!/usr/bin/env bash
# Builds, once, the binaries of Nimbus' local control plane from Go modules:
# etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kubectl, kwok, helm, the
# kube-apiserver of the oldest supported Kubernetes (kube-apiserver-<version>), and
# KubeVirt's virt-api, virt-controller and virtctl with kubevirt-manifests, which prints the
# KubeVirt CRDs, RBAC, webhook configurations and APIServices that virt-operator would install,
# kubevirt-admit, which runs virt-api's own admission checks on VirtualMachines, and
# kubevirt-handler-stand-in, which plays the part of virt-handler that needs no KVM; and crane,
# which assembles the operator's image (hack/build-image.sh).
# They land in a cache outside the work tree, keyed by version, so later runs (and CI on the
# same machine) reuse them. Nothing is rebuilt when a binary of the right version is there.
#
# Usage: hack/build-control-plane.sh            # build what is missing, print the bin dir
#        NIMBUS_CACHE=/somewhere hack/...       # another cache root (default ~/.cache/nimbus)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

log() { printf '[build-control-plane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mkdir -p "$NIMBUS_BIN" "$NIMBUS_CACHE/src"
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
export CGO_ENABLED=0

# have NAME MARKER: the binary exists and was built for the version recorded in MARKER.
have() { [[ -x "$NIMBUS_BIN/$1" && -f "$NIMBUS_BIN/.$1.version" && "$(cat "$NIMBUS_BIN/.$1.version")" == "$2" ]]; }
mark() { echo "$2" >"$NIMBUS_BIN/.$1.version"; }

# build_kubernetes VERSION SUFFIX COMPONENT...: each component as $NIMBUS_BIN/<component><SUFFIX>.
build_kubernetes() {
  local version=$1 suffix=$2
  shift 2
  local wanted=() c
  for c in "$@"; do
    have "$c$suffix" "$version" || wanted+=("$c")
  done
  ((${#wanted[@]})) || { log "kubernetes $version: up to date"; return; }

  local dir="$NIMBUS_CACHE/src/kubernetes-$version"
  mkdir -p "$dir"
  log "kubernetes $version: downloading k8s.io/kubernetes"
  local gomod
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  # k8s.io/kubernetes points every staging module at ./staging; a consumer must replace them
  # with the published module of the matching v0 version. Generate those lines from its go.mod.
  local staging="v0.${version#v1.}"
  {
    echo "module nimbus.dev/hack/kubernetes"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" |
      awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  log "kubernetes $version: $(grep -c '^replace' "$dir/go.mod") staging modules replaced by $staging"

  local pkgs=() c
  for c in "${wanted[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  log "kubernetes $version: resolving dependencies"
  (cd "$dir" && go get "${pkgs[@]/%/@$version}" >/dev/null 2>&1 || go get "${pkgs[@]}")

  local v="k8s.io/component-base/version" cv="k8s.io/client-go/pkg/version"
  local major=1 minor
  minor=$(echo "$version" | cut -d. -f2)
  local ldflags="-s -w"
  for p in "$v" "$cv"; do
    ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${wanted[@]}"; do
    log "kubernetes $version: compiling $c (the first one takes longest)"
    local start=$SECONDS
    (cd "$dir" && go build -ldflags "$ldflags" -o "$NIMBUS_BIN/$c$suffix" "k8s.io/kubernetes/cmd/$c")
    mark "$c$suffix" "$version"
    log "kubernetes $version: $c built in $((SECONDS - start))s"
  done
}

build_etcd() {
  have etcd "$ETCD_VERSION" && { log "etcd $ETCD_VERSION: up to date"; return; }
  # `go install go.etcd.io/etcd/server/v3` is refused because etcd's go.mod has replace
  # directives, so a one-file wrapper module calls etcdmain instead.
  local dir="$NIMBUS_CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module nimbus.dev/hack/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "etcd $ETCD_VERSION: resolving and compiling"
  local start=$SECONDS
  (cd "$dir" && go mod tidy >/dev/null 2>&1 && go build -ldflags "-s -w" -o "$NIMBUS_BIN/etcd" .)
  mark etcd "$ETCD_VERSION"
  log "etcd $ETCD_VERSION: built in $((SECONDS - start))s"
}

# kubevirt_marker NAME: what a KubeVirt binary is built for; Nimbus' own commands also by the
# checksum of their source, so that a change to it rebuilds them.
kubevirt_marker() {
  local source="$(dirname "${BASH_SOURCE[0]}")/kubevirt/${1#kubevirt-}/main.go"
  if [[ $1 == kubevirt-* ]]; then
    echo "$KUBEVIRT_VERSION-$(sha256sum "$source" | cut -c1-12)"
  else
    echo "$KUBEVIRT_VERSION"
  fi
}

build_kubevirt() {
  local wanted=() c
  for c in virt-api virt-controller virtctl kubevirt-manifests kubevirt-admit kubevirt-handler-stand-in; do
    have "$c" "$(kubevirt_marker "$c")" || wanted+=("$c")
  done
  ((${#wanted[@]})) || { log "kubevirt $KUBEVIRT_VERSION: up to date"; return; }

  local dir="$NIMBUS_CACHE/src/kubevirt-$KUBEVIRT_VERSION"
  mkdir -p "$dir/cmd/kubevirt-manifests" "$dir/cmd/kubevirt-admit" "$dir/cmd/kubevirt-handler-stand-in"
  log "kubevirt $KUBEVIRT_VERSION: downloading kubevirt.io/kubevirt"
  local gomod
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "kubevirt.io/kubevirt@$KUBEVIRT_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  # kubevirt.io/kubevirt takes kubevirt.io/api and client-go from ./staging, which its module zip
  # lacks: keep its replace block, with those two pointed at their published modules.
  {
    echo "module nimbus.dev/hack/kubevirt"
    echo
    echo "go 1.24.0"
    echo
    echo "require kubevirt.io/kubevirt $KUBEVIRT_VERSION"
    echo
    sed -n '/^replace (/,/^)/p' "$gomod" |
      sed -E "s#(kubevirt\.io/(api|client-go)) => \./staging/src/kubevirt\.io/(api|client-go)#\1 => \1 $KUBEVIRT_VERSION#"
  } >"$dir/go.mod"
  cp "$(dirname "${BASH_SOURCE[0]}")/kubevirt/manifests/main.go" "$dir/cmd/kubevirt-manifests/"
  cp "$(dirname "${BASH_SOURCE[0]}")/kubevirt/admit/main.go" "$dir/cmd/kubevirt-admit/"
  cp "$(dirname "${BASH_SOURCE[0]}")/kubevirt/handler-stand-in/main.go" "$dir/cmd/kubevirt-handler-stand-in/"
  log "kubevirt $KUBEVIRT_VERSION: resolving dependencies"
  local pkgs=()
  for c in virt-api virt-controller virtctl; do pkgs+=("kubevirt.io/kubevirt/cmd/$c@$KUBEVIRT_VERSION"); done
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go get "${pkgs[@]}" >/dev/null 2>&1)
  local start=$SECONDS
  log "kubevirt $KUBEVIRT_VERSION: compiling ${wanted[*]}"
  local ldflags="-s -w -X kubevirt.io/client-go/version.gitVersion=$KUBEVIRT_VERSION"
  ldflags+=" -X kubevirt.io/client-go/version.gitTreeState=clean"
  ldflags+=" -X kubevirt.io/client-go/version.buildDate=1970-01-01T00:00:00Z"
  for c in "${wanted[@]}"; do
    local pkg="kubevirt.io/kubevirt/cmd/$c"
    [[ $c == kubevirt-* ]] && pkg="./cmd/$c"
    (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build -ldflags "$ldflags" -o "$NIMBUS_BIN/$c" "$pkg")
    mark "$c" "$(kubevirt_marker "$c")"
  done
  log "kubevirt $KUBEVIRT_VERSION: built in $((SECONDS - start))s"
}

build_go_install() { # NAME MODULE/PKG VERSION LDFLAGS [STAMP: what the build is marked with]
  local stamp="${5:-$3}"
  have "$1" "$stamp" && { log "$1 $3: up to date"; return; }
  log "$1 $3: compiling $2"
  local start=$SECONDS
  GOBIN="$NIMBUS_BIN" go install -ldflags "-s -w $4" "$2@$3"
  mark "$1" "$stamp"
  log "$1 $3: built in $((SECONDS - start))s"
}

total=$SECONDS
build_etcd
build_kubernetes "$KUBERNETES_VERSION" "" kube-apiserver kube-scheduler kube-controller-manager kubectl
# The oldest Kubernetes Nimbus supports: its API server judges the CRDs and the chart in CI.
build_kubernetes "$OLDEST_KUBERNETES_VERSION" "-$OLDEST_KUBERNETES_VERSION" kube-apiserver
build_go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
# The Kubernetes version a render without a cluster assumes (`helm template`), as Helm's own build
# sets it: Kubernetes' version here, not Helm's default of v1.20.
kube_minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
build_go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kube_minor" \
  "$HELM_VERSION+k8s1.$kube_minor"
build_kubevirt
# Builds the operator's image without a container runtime (hack/build-image.sh, ChartIT, OperatorMemoryIT).
build_go_install crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION" ""
log "all binaries ready in $NIMBUS_BIN ($((SECONDS - total))s)"
echo "$NIMBUS_BIN"
