#!/usr/bin/env bash
# Builds the operator's container image without Docker or any container runtime.
#
#  1. The base image, once per machine: a minimal Debian root filesystem with a Java 17 runtime
#     (debootstrap from Debian's packages), with a user for the operator, made an image tarball by
#     crane. Cached in $NIMBUS_CACHE/image/, keyed by suite, runtime and this recipe's revision.
#  2. The operator's image: Quarkus' Jib extension puts the fast-jar's layers (libraries, the
#     Quarkus runtime, the application) on that tarball (quarkus.jib.base-jvm-image=tar://...)
#     and pushes the result to a registry. The build runs on a copy of the project, so the
#     checkout's target/ is never touched (the integration tests run from it).
#
# Usage:
#   hack/build-image.sh --output FILE      # push to a throwaway local registry (crane), then save
#                                          # the image as a tarball (what ChartIT and
#                                          # OperatorMemoryIT run)
#   hack/build-image.sh --push REGISTRY    # a release: push REGISTRY/nimbus-dev/nimbus-operator:<tag>,
#                                          # credentials from QUARKUS_CONTAINER_IMAGE_USERNAME and
#                                          # QUARKUS_CONTAINER_IMAGE_PASSWORD or ~/.docker/config.json
#   --rebuild-base                         # build the base again (a release does, for Debian's fixes)
#
# The tag is the chart's appVersion (helm/nimbus/Chart.yaml), which the project's version without
# -SNAPSHOT must equal: the chart's default image is then exactly what this builds.
# Building the base needs root and debootstrap (`apt-get install debootstrap`); later builds reuse it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/hack/versions.sh"

log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

output="" push="" rebuild_base=false
while (($#)); do
  case "$1" in
    --output) output=$(realpath -m "$2"); shift 2 ;;
    --push) push="$2"; shift 2 ;;
    --rebuild-base) rebuild_base=true; shift ;;
    *) die "unknown argument $1 (see the usage at the top of $0)" ;;
  esac
done
[[ -n "$output" || -n "$push" ]] || die "say where the image goes: --output FILE or --push REGISTRY"

crane="$NIMBUS_BIN/crane"
[[ -x "$crane" ]] || "$root/hack/build-control-plane.sh" >/dev/null

tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/helm/nimbus/Chart.yaml")
version=$(sed -n '0,/<version>/s/.*<version>\(.*\)<\/version>.*/\1/p' "$root/pom.xml")
[[ "${version%-SNAPSHOT}" == "$tag" ]] ||
  die "the chart's appVersion ($tag) is not the project's version ($version) without -SNAPSHOT"

# Bump the revision when the recipe below changes, so every machine builds the base again.
base_revision=1
base="$NIMBUS_CACHE/image/base-$IMAGE_BASE_SUITE-$IMAGE_BASE_JRE-r$base_revision.tar"
work=$(mktemp -d)
registry_pid=""
cleanup() {
  [[ -n "$registry_pid" ]] && kill "$registry_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# serve_registry: a registry in memory on a free loopback port, for crane and Jib to push to.
serve_registry() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$crane" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && { registry="127.0.0.1:$port"; return; }
    sleep 0.1
  done
  die "the local registry did not start: $(cat "$work/registry.log")"
}

build_base() {
  [[ $(id -u) == 0 ]] || die "building the base image needs root (debootstrap); run once as root"
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
  log "base: debootstrap $IMAGE_BASE_SUITE with $IMAGE_BASE_JRE"
  local rootfs="$work/rootfs" start=$SECONDS
  debootstrap --variant=minbase --include="$IMAGE_BASE_JRE" "$IMAGE_BASE_SUITE" "$rootfs" \
    http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed; its log: $(tail -5 "$work/debootstrap.log")"
  # What a running operator never reads: package caches and lists, documentation, locales.
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/{doc,man,info,locale}/* \
    "$rootfs"/var/log/* "$rootfs"/tmp/*
  # The operator's user and group, so that its files and processes have a name.
  echo "nimbus:x:$IMAGE_USER:$IMAGE_USER:Nimbus operator:/tmp:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
  echo "nimbus:x:$IMAGE_USER:" >>"$rootfs/etc/group"
  tar --numeric-owner --sort=name --mtime=@0 -C "$rootfs" -cf "$work/rootfs.tar" .
  local java_home
  java_home=$(cd "$rootfs" && dirname "$(dirname "$(readlink -f "usr/bin/java" | sed "s|^$rootfs||")")")
  [[ -x "$rootfs$java_home/bin/java" ]] || java_home=/usr/lib/jvm/java-17-openjdk-amd64

  serve_registry
  "$crane" append --insecure -f "$work/rootfs.tar" -t "$registry/base:build" >/dev/null
  "$crane" mutate --insecure "$registry/base:build" --set-platform linux/amd64 \
    -e "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" -e "JAVA_HOME=$java_home" \
    -l "org.opencontainers.image.base.name=debian:$IMAGE_BASE_SUITE" -t "$registry/base:$IMAGE_BASE_SUITE" >/dev/null
  mkdir -p "$(dirname "$base")"
  "$crane" pull --insecure "$registry/base:$IMAGE_BASE_SUITE" "$base.partial"
  mv "$base.partial" "$base"
  log "base: $base ($(du -h "$base" | cut -f1)) in $((SECONDS - start))s"
}

if $rebuild_base || [[ ! -f "$base" ]]; then build_base; fi
[[ -n "$registry_pid" ]] || [[ -n "$push" ]] || serve_registry
target_registry="${push:-$registry}"

log "image: Jib on $(basename "$base"), pushing to $target_registry"
start=$SECONDS
mkdir -p "$work/project"
cp -r "$root/pom.xml" "$root/src" "$work/project/"
rm -rf "$work/project/src/test"
insecure=false
[[ -z "$push" ]] && insecure=true
(cd "$work/project" && mvn -B -q package -Dmaven.test.skip=true -Dspotless.check.skip=true \
  -Dquarkus.container-image.build=true -Dquarkus.container-image.push=true \
  -Dquarkus.container-image.registry="$target_registry" -Dquarkus.container-image.tag="$tag" -Dquarkus.jib.user="$IMAGE_USER" \
  -Dquarkus.container-image.insecure="$insecure" -Dquarkus.jib.base-jvm-image="tar://$base") \
  >"$work/maven.log" 2>&1 || die "the image build failed; Maven's output: $(tail -30 "$work/maven.log")"
image="$target_registry/nimbus-dev/nimbus-operator:$tag"
log "image: $image built in $((SECONDS - start))s"

if [[ -n "$output" ]]; then
  mkdir -p "$(dirname "$output")"
  "$crane" pull --insecure "$image" "$output"
  log "image: saved to $output ($(du -h "$output" | cut -f1))"
fi
echo "$image"
