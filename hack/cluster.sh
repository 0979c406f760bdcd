#!/usr/bin/env bash
# The local control plane: etcd, kube-apiserver (TLS, RBAC, service accounts, aggregation),
# kube-scheduler, kube-controller-manager and KWOK, as processes on loopback, with nodes from
# cluster/nodes.tsv; and KubeVirt's own control plane: its CRDs, RBAC and webhooks as
# virt-operator installs them, virt-api and virt-controller.
#
# Usage: hack/cluster.sh up [--nodes N] [--without-kubevirt]
#                                           start (building binaries first if needed); idempotent
#        hack/cluster.sh up --oldest-api-server
#                                           only etcd and the kube-apiserver of the oldest
#                                           supported Kubernetes, to judge CRDs and manifests; run
#                                           it with NIMBUS_CLUSTER_DIR, NIMBUS_API_PORT and
#                                           NIMBUS_ETCD_PORT of its own beside the main cluster
#        hack/cluster.sh attach KUBECONFIG  make another cluster (such as a Testcontainers k3s) look
#                                           like the local one: KWOK with the same nodes, and
#                                           KubeVirt (its API server must reach virt-api on this
#                                           host's localhost); `down` stops those processes too
#        hack/cluster.sh down               stop every process and delete the cluster's state
#        hack/cluster.sh status             say what runs; exit 0 only when the API is ready
#        hack/cluster.sh env                print `export KUBECONFIG=...` for eval
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HACK/versions.sh"

API_PORT="${NIMBUS_API_PORT:-16443}"
ETCD_PORT="${NIMBUS_ETCD_PORT:-12379}"
DIR="$NIMBUS_CLUSTER_DIR"
PKI="$DIR/pki"
LOGS="$DIR/logs"
# virt-api listens here; kube-apiserver calls its webhooks by URL and reaches its subresources
# (virtctl start, stop, ...) through the APIService and an ExternalName Service of this host.
VIRT_API_PORT="${NIMBUS_VIRT_API_PORT:-$((API_PORT + 2000))}"
VIRT_CONTROLLER_PORT="${NIMBUS_VIRT_CONTROLLER_PORT:-$((API_PORT + 2001))}"
KUBEVIRT_NAMESPACE=kubevirt
# Start order; `down` stops in reverse. The KubeVirt ones run unless --without-kubevirt.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok virt-api virt-controller
  kubevirt-handler-stand-in)

# The kube-apiserver binary `up` runs: this Kubernetes' or, with --oldest-api-server, the oldest's.
APISERVER_BINARY=kube-apiserver

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

kc() { "$NIMBUS_BIN/kubectl" --kubeconfig "$NIMBUS_KUBECONFIG" "$@"; }

running() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

api_ready() { [[ -f "$NIMBUS_KUBECONFIG" ]] && kc get --raw /readyz >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# Certificates: one CA signs the API server's serving certificate and one client certificate
# per component, so RBAC sees each component as the user Kubernetes' bootstrap roles expect.
# ---------------------------------------------------------------------------------------------
make_pki() {
  [[ -f "$PKI/ca.crt" ]] && return
  log "creating certificates in $PKI"
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=nimbus-local-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    cat >apiserver.ext <<EXT
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1
extendedKeyUsage=serverAuth
EXT
    sign apiserver "/CN=kube-apiserver" apiserver.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    sign admin "/O=system:masters/CN=nimbus-admin" client.ext
    sign kube-controller-manager "/CN=system:kube-controller-manager" client.ext
    sign kube-scheduler "/CN=system:kube-scheduler" client.ext
    sign kwok "/O=system:masters/CN=kwok-controller" client.ext
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

# The client certificate the API server presents when it calls admission webhooks, from a CA of
# its own that the Nimbus webhook trusts (nimbus.webhook.client-ca-file): no other client can
# reserve capacity by posting a review. The API server reads it through its admission
# configuration (--admission-control-config-file), for every webhook ("*").
make_webhook_client() {
  [[ -f "$PKI/webhook-client.crt" ]] && return
  log "creating the API server's webhook client certificate"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=nimbus-local-webhook-client-ca" \
      -keyout webhook-client-ca.key -out webhook-client-ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver-webhook-client" \
      -keyout webhook-client.key -out webhook-client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >webhook-client.ext
    openssl x509 -req -in webhook-client.csr -CA webhook-client-ca.crt -CAkey webhook-client-ca.key \
      -CAcreateserial -days 3650 -extfile webhook-client.ext -out webhook-client.crt 2>/dev/null
  )
}

# Aggregation: kube-apiserver proxies to virt-api (an aggregated API server) with a client
# certificate of a CA of its own; virt-api learns that CA from kube-system's
# extension-apiserver-authentication ConfigMap. KubeVirt's components get a serving certificate
# (virt-api) and client certificates in their ServiceAccounts' names, so that the roles
# virt-operator would bind them are all they have, and virt-api's admission recognises them.
make_kubevirt_pki() {
  [[ -f "$PKI/kubevirt-handler.crt" ]] && return
  log "creating the aggregation and KubeVirt certificates"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=nimbus-local-front-proxy-ca" \
      -keyout front-proxy-ca.key -out front-proxy-ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" \
      -keyout front-proxy-client.key -out front-proxy-client.csr 2>/dev/null
    openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key \
      -CAcreateserial -days 3650 -extfile client.ext -out front-proxy-client.crt 2>/dev/null
    cat >virt-api.ext <<EXT
subjectAltName=DNS:localhost,DNS:virt-api.$KUBEVIRT_NAMESPACE.svc,DNS:virt-api.$KUBEVIRT_NAMESPACE.svc.cluster.local,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth
EXT
    sign virt-api "/CN=virt-api.$KUBEVIRT_NAMESPACE.svc" virt-api.ext
    local account
    for account in kubevirt-apiserver kubevirt-controller kubevirt-handler; do
      sign "$account" "/O=system:serviceaccounts/O=system:serviceaccounts:$KUBEVIRT_NAMESPACE/CN=system:serviceaccount:$KUBEVIRT_NAMESPACE:$account" client.ext
    done
  )
}

admission_configuration() { # FILE
  cat >"$DIR/webhook-client.kubeconfig" <<KC
apiVersion: v1
kind: Config
users:
- name: "*"
  user:
    client-certificate: $PKI/webhook-client.crt
    client-key: $PKI/webhook-client.key
# virt-api takes a client certificate only from the aggregation CA: none is presented to it.
- name: "localhost:$VIRT_API_PORT"
  user: {}
KC
  cat >"$1" <<AC
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ValidatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: $DIR/webhook-client.kubeconfig
- name: MutatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: $DIR/webhook-client.kubeconfig
AC
}

sign() { # NAME SUBJECT EXTFILE (run inside $PKI)
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$3" -out "$1.crt" 2>/dev/null
}

kubeconfig() { # NAME FILE
  cat >"$2" <<KC
apiVersion: v1
kind: Config
clusters:
- name: nimbus-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $1
  user:
    client-certificate: $PKI/$1.crt
    client-key: $PKI/$1.key
contexts:
- name: nimbus-local
  context: {cluster: nimbus-local, user: $1, namespace: default}
current-context: nimbus-local
KC
}

start() { # NAME ARGS...
  local name=$1
  shift
  running "$name" && return
  local binary=$name
  [[ $name == kube-apiserver ]] && binary=$APISERVER_BINARY
  "$NIMBUS_BIN/$binary" "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
  log "started $name (pid $!, log $LOGS/$name.log)"
}

wait_for() { # WHAT SECONDS COMMAND...
  local what=$1 limit=$2 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      local c
      for c in "${COMPONENTS[@]}"; do
        [[ -f "$DIR/$c.pid" ]] && ! running "$c" && log "$c has exited; the end of $LOGS/$c.log:" &&
          tail -n 5 "$LOGS/$c.log" >&2
      done
      die "$what not ready after $limit s; logs in $LOGS"
    fi
    sleep 0.5
  done
}

kwok_stage_configs() {
  # The stages come from the KWOK module itself (its kustomize/stage tree), in the order their
  # kustomization files list them: nodes become Ready and keep a lease; pods run.
  local mod
  mod=$(cd "$NIMBUS_CACHE/src" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local stage file
  for stage in node/fast node/heartbeat-with-lease pod/general; do
    for file in $(sed -n 's/^- //p' "$mod/kustomize/stage/$stage/kustomization.yaml"); do
      printf -- '--config=%s\n' "$mod/kustomize/stage/$stage/$file"
    done
  done
  # Nimbus' own: task containers that finish (see the file).
  for file in "$HACK"/cluster/stages/*.yaml; do
    printf -- '--config=%s\n' "$file"
  done
}

nodes_yaml() { # TOTAL (empty: the counts of the file)
  local total=${1:-} sum=0 zones=() i=0
  mapfile -t zones < <(grep -v '^\s*#' "$HACK/cluster/zones" | grep .)
  local rows
  rows=$(grep -v '^\s*#' "$HACK/cluster/nodes.tsv" | grep .)
  while read -r _ count _; do sum=$((sum + count)); done <<<"$rows"
  while read -r group count cpu memory storage pods kvm; do
    [[ -n "$total" ]] && count=$(((count * total + sum / 2) / sum))
    local n
    for ((n = 0; n < count; n++)); do
      local name="$group-$n" zone=${zones[$((i % ${#zones[@]}))]}
      i=$((i + 1))
      local kvm_label="" kvm_resource=""
      if [[ "$kvm" == true ]]; then
        # What virt-handler's node labeller would put on a KVM node that launcher pods select.
        kvm_label=$'    kubevirt.io/schedulable: "true"\n    machine-type.node.kubevirt.io/q35: "true"'
        # What virt-controller's launcher pods request besides CPU and memory.
        kvm_resource=$'    devices.kubevirt.io/kvm: "1k"\n    devices.kubevirt.io/tun: "1k"\n    devices.kubevirt.io/vhost-net: "1k"'
      fi
      cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    nimbus.dev/node-group: $group
    topology.kubernetes.io/zone: $zone
$kvm_label
status:
  capacity: &capacity
    cpu: "$cpu"
    memory: $memory
    ephemeral-storage: $storage
    pods: "$pods"
$kvm_resource
  allocatable: *capacity
NODE
    done
  done <<<"$rows"
}

up() {
  local nodes="" kubevirt=true api_only=false
  while (($#)); do
    case $1 in
      --nodes) nodes=$2; shift 2 ;;
      --without-kubevirt) kubevirt=false; shift ;;
      --oldest-api-server) api_only=true APISERVER_BINARY="kube-apiserver-$OLDEST_KUBERNETES_VERSION"; shift ;;
      *) die "unknown option $1 (allowed: --nodes N, --without-kubevirt, --oldest-api-server)" ;;
    esac
  done
  "$HACK/build-control-plane.sh" >/dev/null
  mkdir -p "$DIR" "$LOGS"
  make_pki
  make_webhook_client
  make_kubevirt_pki
  admission_configuration "$DIR/admission.yaml"
  local c
  for c in admin kube-controller-manager kube-scheduler kwok kubevirt-apiserver kubevirt-controller kubevirt-handler; do
    kubeconfig "$c" "$DIR/$c.kubeconfig"
  done
  cp "$DIR/admin.kubeconfig" "$NIMBUS_KUBECONFIG"

  start etcd --name nimbus --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "nimbus=http://127.0.0.1:$((ETCD_PORT + 1))" \
    --unsafe-no-fsync --quota-backend-bytes=8589934592 --log-level=warn
  wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --max-requests-inflight 1000 --max-mutating-requests-inflight 500 \
    --admission-control-config-file "$DIR/admission.yaml" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key"
  log "waiting for the API server"
  wait_for kube-apiserver 120 kc get --raw /readyz
  $api_only && { log "API server $APISERVER_BINARY ready at https://127.0.0.1:$API_PORT"; return; }

  start kube-controller-manager --kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$PKI/ca.crt" --cluster-signing-cert-file "$PKI/ca.crt" \
    --cluster-signing-key-file "$PKI/ca.key" --controllers '*,-nodeipam,-cloud-node-lifecycle' \
    --kube-api-qps 200 --kube-api-burst 400
  start kube-scheduler --kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
  populate "$DIR/kwok.kubeconfig" "$nodes" "$kubevirt"
}

# KubeVirt as virt-operator would install it, with virt-api and virt-controller as processes.
# virt-handler cannot run without KVM: kubevirt-handler-stand-in takes its one step that matters
# here, a VMI whose launcher pod runs becomes Running (see hack/kubevirt/handler-stand-in).
start_kubevirt() { # VIRT_API_KUBECONFIG VIRT_CONTROLLER_KUBECONFIG VIRT_HANDLER_KUBECONFIG
  log "installing KubeVirt $KUBEVIRT_VERSION: CRDs, RBAC, webhooks and APIServices"
  "$NIMBUS_BIN/kubevirt-manifests" -namespace "$KUBEVIRT_NAMESPACE" \
    -virt-api "localhost:$VIRT_API_PORT" -ca-bundle "$PKI/ca.crt" |
    kc apply --server-side --force-conflicts -f - >/dev/null
  start virt-api --kubeconfig "$1" \
    --listen 127.0.0.1 --port "$VIRT_API_PORT" \
    --tls-cert-file "$PKI/virt-api.crt" --tls-key-file "$PKI/virt-api.key" \
    --handler-cert-file "$PKI/virt-api.crt" --handler-key-file "$PKI/virt-api.key"
  start virt-controller --kubeconfig "$2" \
    --listen 127.0.0.1 --port "$VIRT_CONTROLLER_PORT" \
    --prom-cert-file "$PKI/virt-api.crt" --prom-key-file "$PKI/virt-api.key" \
    --launcher-image "quay.io/kubevirt/virt-launcher:$KUBEVIRT_VERSION"
  # virt-handler learns of its launcher pods from its node; the stand-in reads them from the API.
  kc apply --server-side -f - >/dev/null <<RBAC
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "nimbus-local:kubevirt-handler-stand-in"}
rules:
- {apiGroups: [""], resources: [pods], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "nimbus-local:kubevirt-handler-stand-in"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "nimbus-local:kubevirt-handler-stand-in"}
subjects:
- {kind: ServiceAccount, name: kubevirt-handler, namespace: $KUBEVIRT_NAMESPACE}
RBAC
  start kubevirt-handler-stand-in -kubeconfig "$3"
  log "waiting for virt-api"
  wait_for "virt-api's APIService" 120 kc get --raw "/apis/subresources.kubevirt.io/v1/healthz"
}

# populate KWOK_KUBECONFIG NODES KUBEVIRT [KUBEVIRT_KUBECONFIG]: KWOK, the nodes and (if true)
# KubeVirt, whose components use their own identities, or all the one given.
populate() {
  local kwok_kubeconfig=$1 nodes=$2 kubevirt=$3 kubevirt_kubeconfig=${4:-}
  mapfile -t stages < <(kwok_stage_configs)
  start kwok --kubeconfig "$kwok_kubeconfig" --config="$HACK/cluster/kwok.yaml" "${stages[@]}" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.0/16 --node-ip 10.1.0.1 --node-lease-duration-seconds 40

  log "creating nodes"
  nodes_yaml "$nodes" | kc apply --server-side -f - >/dev/null
  local want
  want=$(nodes_yaml "$nodes" | grep -c '^kind: Node')
  wait_for "$want Ready nodes" 180 all_nodes_ready "$want"
  wait_for "the default service account" 60 kc get serviceaccount default -n default
  if $kubevirt; then
    start_kubevirt "${kubevirt_kubeconfig:-$DIR/kubevirt-apiserver.kubeconfig}" \
      "${kubevirt_kubeconfig:-$DIR/kubevirt-controller.kubeconfig}" \
      "${kubevirt_kubeconfig:-$DIR/kubevirt-handler.kubeconfig}"
  fi
  log "cluster ready: $want simulated nodes; export KUBECONFIG=$NIMBUS_KUBECONFIG"
}

attach() {
  [[ -f "${1:-}" ]] || die "usage: hack/cluster.sh attach KUBECONFIG (a readable file)"
  "$HACK/build-control-plane.sh" >/dev/null
  mkdir -p "$DIR" "$LOGS"
  cp "$1" "$NIMBUS_KUBECONFIG"
  wait_for "the attached API server" 120 kc get --raw /readyz
  make_pki
  make_kubevirt_pki
  populate "$NIMBUS_KUBECONFIG" "" true "$NIMBUS_KUBECONFIG"
}

all_nodes_ready() {
  local ready
  ready=$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  ((ready >= $1))
}

stop() { # NAME: TERM, wait up to 20 s for the process to exit, then KILL
  running "$1" || { rm -f "$DIR/$1.pid"; return; }
  local pid
  pid=$(cat "$DIR/$1.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$DIR/$1.pid"
  log "stopped $1"
}

down() {
  local i
  # Reverse start order: clients go before the API server, the API server before etcd.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[$i]}"; done
  rm -rf "$DIR/etcd"
  log "cluster state deleted (certificates kept in $PKI)"
}

status() {
  local c ok=0
  for c in "${COMPONENTS[@]}"; do
    # Beyond etcd and the API server, components count only where they were started (not
    # --without-kubevirt, not --oldest-api-server).
    [[ $c != etcd && $c != kube-apiserver && ! -f "$DIR/$c.pid" ]] && continue
    if running "$c"; then echo "$c: running (pid $(cat "$DIR/$c.pid"))"; else echo "$c: stopped"; ok=1; fi
  done
  if api_ready; then
    echo "api: ready at https://127.0.0.1:$API_PORT ($(kc get nodes --no-headers 2>/dev/null | wc -l) nodes)"
    echo "kubeconfig: $NIMBUS_KUBECONFIG"
  else
    echo "api: not ready"
    ok=1
  fi
  return $ok
}

case "${1:-}" in
  up) shift; up "$@" ;;
  attach) shift; attach "$@" ;;
  down) down ;;
  status) status ;;
  env) echo "export KUBECONFIG=$NIMBUS_KUBECONFIG" ;;
  *) die "usage: hack/cluster.sh up [--nodes N] [--without-kubevirt | --oldest-api-server] | attach KUBECONFIG | down | status | env" ;;
esac
