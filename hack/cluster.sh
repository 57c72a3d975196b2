#!/usr/bin/env bash
# A local Kubernetes control plane made of plain processes on loopback: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and KWOK with one fake Node (see hack/build-tools.sh
# for the binaries). No container runtime is needed; Pods are scheduled onto the fake Node and
# KWOK marks them Running/Ready.
#
#   hack/cluster.sh up [--no-workloads]    start (etcd + kube-apiserver only with --no-workloads)
#   hack/cluster.sh down                   stop every process and remove the cluster's data
#   hack/cluster.sh status                 what runs, where
#   hack/cluster.sh stop COMPONENT [--kill]     stop one component (SIGTERM, or SIGKILL at once)
#   hack/cluster.sh start COMPONENT             start it again, same flags and ports, and wait
#                                               until it serves (etcd /health, kube-apiserver /readyz)
#   hack/cluster.sh restart COMPONENT [--kill]  both (fault tests: a crashed API server or etcd)
#
# APISERVER_PROFILING=true serves kube-apiserver's /debug/pprof (for profiling the API server under
# load, e.g. during `make bench`).
#
# State lives in ${CLUSTER_DIR:-<repo>/.cluster}; ports are picked at random, so several
# CLUSTER_DIRs can run side by side. Every process runs in its own process group and carries
# TRUSTBUNDLE_CLUSTER_DIR=<dir> in its environment, so `down` finds it even when a crashed run
# left no pid file behind.
. "$(dirname "$0")/lib.sh"

mkdir -p "${CLUSTER_DIR:-$REPO_ROOT/.cluster}"
CLUSTER_DIR="$(cd "${CLUSTER_DIR:-$REPO_ROOT/.cluster}" && pwd)"
PKI="$CLUSTER_DIR/pki"
RUN="$CLUSTER_DIR/run"
LOGS="$CLUSTER_DIR/logs"
ETCD_DATA="$CLUSTER_DIR/etcd"
KUBECONFIG_FILE="$CLUSTER_DIR/kubeconfig"
ENV_FILE="$CLUSTER_DIR/env"
MARKER="TRUSTBUNDLE_CLUSTER_DIR=$CLUSTER_DIR"
KUBECTL="$K8S_BIN/kubectl"
NODE_NAME=kwok-node-0
# Start order, also the order `status` lists them in.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# --- processes ---------------------------------------------------------------------------------

# alive PID — the process exists and is not a zombie (a dead child of this script stays a zombie
# until reaped, and `kill -0` would call it alive).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# ours PID — the process carries this cluster's marker (guards against a recycled pid).
# (grep without -q: an early exit would make tr fail with SIGPIPE, and pipefail report that.)
ours() { { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -xF "$MARKER" >/dev/null; }

# Every live process of this cluster: pid files first, then a scan for the marker.
cluster_pids() {
  local f p
  {
    for f in "$RUN"/*.pid; do
      [ -f "$f" ] || continue
      p=$(cat "$f")
      if alive "$p" && ours "$p"; then echo "$p"; fi
    done
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      if [ "$p" != $$ ] && alive "$p" && ours "$p"; then echo "$p"; fi
    done
  } | sort -un
}

# start NAME BINARY ARGS... — runs in a new session (so its own process group), logs to
# $LOGS/NAME.log, pid in $RUN/NAME.pid, command line in $RUN/NAME.cmd (for `start COMPONENT`).
start() {
  local name="$1"; shift
  [ -x "$1" ] || die "$name: $1 is not built (run hack/build-tools.sh plane)"
  printf '%q ' "$@" >"$RUN/$name.cmd"
  env "$MARKER" setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

# relaunch NAME — starts NAME again with the command line it was first started with; the log
# is appended to, so it tells the whole story of a fault test.
relaunch() {
  local name="$1" cmd
  local -a argv
  cmd=$(cat "$RUN/$name.cmd" 2>/dev/null) || die "$name was never started in $CLUSTER_DIR"
  eval "argv=($cmd)"
  printf -- '--- %s restarted by hack/cluster.sh ---\n' "$(date +%H:%M:%S)" >>"$LOGS/$name.log"
  env "$MARKER" setsid "${argv[@]}" </dev/null >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null; }

log_tail() {
  printf -- '--- last lines of %s ---\n' "$LOGS/$1.log" >&2
  tail -n "${2:-30}" "$LOGS/$1.log" >&2 || true
  printf -- '---\n' >&2
}

# wait_until NAME TIMEOUT_S DESCRIPTION CHECK... — polls CHECK while NAME's process is alive.
wait_until() {
  local name="$1" timeout="$2" what="$3"; shift 3
  local pid deadline=$(($(date +%s) + timeout))
  pid=$(pid_of "$name")
  until "$@" >/dev/null 2>&1; do
    if ! alive "$pid"; then
      log_tail "$name"
      die "$name exited while waiting for $what (log: $LOGS/$name.log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log_tail "$name"
      die "$name: $what not reached within ${timeout}s (log: $LOGS/$name.log)"
    fi
    sleep 0.2
  done
}

still_alive() {
  local p
  for p; do if alive "$p"; then echo "$p"; fi; done
}

# signal_and_wait SIGNAL TENTHS PIDS... — signals each process group, waits up to TENTHS/10 s
# and prints the pids still alive.
signal_and_wait() {
  local sig="$1" tenths="$2" p i; shift 2
  local pids="$*"
  for p in $pids; do kill "-$sig" -- "-$p" 2>/dev/null || kill "-$sig" "$p" 2>/dev/null || true; done
  for i in $(seq 1 "$tenths"); do
    pids=$(still_alive $pids)
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  echo $pids
}

# terminate PIDS... — SIGTERM, then SIGKILL to what still runs after 5 s.
terminate() {
  local left
  left=$(signal_and_wait TERM 50 "$@")
  [ -n "$left" ] || return 0
  log "still running after 5s, killing: $left"
  left=$(signal_and_wait KILL 20 $left)
  [ -z "$left" ] || die "could not stop: $left"
}

# etcd goes last: an API server that loses etcd first hangs in its shutdown.
stop_all() {
  local pids p clients="" stores=""
  pids=$(cluster_pids)
  [ -n "$pids" ] || return 0
  log "stopping $(echo "$pids" | wc -l) process(es) of $CLUSTER_DIR"
  for p in $pids; do
    if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$ETCD_BIN/etcd" ]; then
      stores="$stores $p"
    else
      clients="$clients $p"
    fi
  done
  terminate $clients
  terminate $stores
}

# Only this cluster's own entries: CLUSTER_DIR may contain another cluster's directory.
remove_state() { rm -rf "$ETCD_DATA" "$PKI" "$RUN" "$KUBECONFIG_FILE" "$ENV_FILE"; }

# --- ports and credentials ---------------------------------------------------------------------

PICKED=" "
# A random loopback port not in use (any TCP state) and not picked before by this run.
free_port() {
  local p hex i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    hex=$(printf ':%04X ' "$p")
    case "$PICKED" in *" $p "*) continue ;; esac
    grep -qF "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
    PICKED="$PICKED$p "
    echo "$p"
    return
  done
  die "no free loopback port found"
}

# A throwaway CA and a serving certificate for 127.0.0.1/localhost, the service-account signing
# key pair and the admin token. Nothing here is printed.
make_credentials() {
  need openssl "install it with: apt-get install openssl"
  mkdir -p "$PKI"; chmod 700 "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj "/CN=trustbundle-local-ca" -keyout ca.key -out ca.crt \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kube-apiserver" \
      -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1" \
      "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    printf '%s,admin,admin,system:masters\n' "$(openssl rand -hex 32)" >tokens.csv
    chmod 600 ./*.key tokens.csv
  ) || die "generating the cluster's certificates and keys failed"
}

admin_token() { cut -d, -f1 "$PKI/tokens.csv"; }

write_kubeconfig() {
  local server="$1" ca
  ca=$(base64 -w0 <"$PKI/ca.crt")
  umask 077
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: trustbundle-local
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $(admin_token)
contexts:
- name: trustbundle-local
  context:
    cluster: trustbundle-local
    user: admin
    namespace: default
current-context: trustbundle-local
EOF
  cat >"$ENV_FILE" <<EOF
# Source this file: the local control plane in $CLUSTER_DIR.
export KUBECONFIG='$KUBECONFIG_FILE'
export CLUSTER_SERVER='$server'
export CLUSTER_TOKEN='$(admin_token)'
export CLUSTER_CA_FILE='$PKI/ca.crt'
export CLUSTER_ETCD='$ETCD_URL'
export KUBECTL='$KUBECTL'
EOF
  umask 022
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# --- commands ----------------------------------------------------------------------------------

cmd_up() {
  local workloads=1
  case "${1:-}" in
    "") ;;
    --no-workloads) workloads=0 ;;
    *) die "unknown option '$1' (up [--no-workloads])" ;;
  esac
  need curl "install it with: apt-get install curl"
  need setsid "it is part of util-linux"
  for f in "$ETCD_BIN" "$KWOK_BIN" "$K8S_BIN"; do
    [ -f "$f/.complete" ] || { "$HACK_DIR/build-tools.sh" plane; break; }
  done

  stop_all
  remove_state
  # A failed start leaves nothing running (the logs stay for the diagnosis).
  trap 'rc=$?; [ $rc -eq 0 ] || { log "start failed; stopping what was started"; stop_all; }' EXIT
  mkdir -p "$RUN" "$LOGS"
  rm -f "$LOGS"/*.log
  make_credentials

  local etcd_port peer_port api_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  ETCD_URL="http://127.0.0.1:$etcd_port"
  local server="https://127.0.0.1:$api_port"
  echo "$workloads" >"$RUN/workloads"

  log "etcd on $ETCD_URL"
  start etcd "$ETCD_BIN/etcd" --name=default --data-dir="$ETCD_DATA" \
    --listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="default=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level=warn
  wait_until etcd 30 "health" curl -sf "$ETCD_URL/health"

  log "kube-apiserver on $server"
  start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers="$ETCD_URL" --cert-dir="$PKI" \
    --secure-port="$api_port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true --authorization-mode=RBAC \
    --token-auth-file="$PKI/tokens.csv" --service-account-issuer="$server" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none --profiling="${APISERVER_PROFILING:-false}"
  wait_until kube-apiserver 90 "/readyz" curl -sf --cacert "$PKI/ca.crt" "$server/readyz"
  write_kubeconfig "$server"

  if [ "$workloads" = 1 ]; then
    start kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG_FILE" \
      --secure-port=0 --leader-elect=false --service-account-private-key-file="$PKI/sa.key" \
      --use-service-account-credentials=false --root-ca-file="$PKI/ca.crt" --profiling=false
    start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$KUBECONFIG_FILE" \
      --secure-port=0 --leader-elect=false --profiling=false
    start kwok "$KWOK_BIN/kwok" --kubeconfig="$KUBECONFIG_FILE" --config="$KWOK_BIN/stages.yaml" \
      --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
      --cidr=10.244.0.0/16
    log "fake node $NODE_NAME (KWOK)"
    kc apply -f - >/dev/null <<EOF || die "creating node $NODE_NAME failed"
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: { cpu: "32", memory: 256Gi, pods: "110" }
  capacity: { cpu: "32", memory: 256Gi, pods: "110" }
EOF
    wait_until kwok 60 "node $NODE_NAME Ready" \
      kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
    local c
    for c in kube-controller-manager kube-scheduler; do
      alive "$(pid_of "$c")" || { log_tail "$c"; die "$c exited (log: $LOGS/$c.log)"; }
    done
  fi
  log "control plane up; kubeconfig: $KUBECONFIG_FILE"
  echo "$KUBECONFIG_FILE"
}

cmd_down() {
  stop_all
  remove_state
  log "control plane in $CLUSTER_DIR is down (logs kept in $LOGS)"
}

cmd_status() {
  local c pid any=0
  for c in "${COMPONENTS[@]}"; do
    pid=$(pid_of "$c") || continue
    if alive "$pid" && ours "$pid"; then
      printf '%-24s running  pid %s\n' "$c" "$pid"; any=1
    else
      printf '%-24s stopped  (log: %s)\n' "$c" "$LOGS/$c.log"
    fi
  done
  local strays
  strays=$(cluster_pids | grep -vxF -f <(cat "$RUN"/*.pid 2>/dev/null) || true)
  [ -z "$strays" ] || printf 'untracked processes of this cluster: %s\n' "$(echo $strays)"
  if [ "$any" = 0 ]; then
    echo "no control plane running in $CLUSTER_DIR"
    [ -z "$strays" ]
    return
  fi
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  echo "server:     $CLUSTER_SERVER"
  echo "etcd:       $CLUSTER_ETCD"
  echo "kubeconfig: $KUBECONFIG_FILE"
  echo "env:        $ENV_FILE"
  kc get nodes 2>/dev/null || true
}

component() {
  local c
  for c in "${COMPONENTS[@]}"; do [ "$c" != "${1:-}" ] || return 0; done
  die "unknown component '${1:-}' (one of: ${COMPONENTS[*]})"
}

cmd_stop() {
  local name="${1:-}" how="${2:-}" pid left
  component "$name"
  case "$how" in "" | --kill) ;; *) die "unknown option '$how' (stop COMPONENT [--kill])" ;; esac
  pid=$(pid_of "$name") || die "$name was never started in $CLUSTER_DIR"
  if ! alive "$pid" || ! ours "$pid"; then
    log "$name is not running"
    return 0
  fi
  if [ "$how" = --kill ]; then
    left=$(signal_and_wait KILL 50 "$pid")
    [ -z "$left" ] || die "could not kill $name (pid $pid)"
  else
    terminate "$pid"
  fi
  # A killed thread group leader turns zombie before its other threads have let go of its
  # sockets: wait until it is reaped, or its port is still taken when it starts again.
  for _ in $(seq 1 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  log "$name stopped (pid $pid${how:+, SIGKILL})"
}

cmd_start() {
  local name="${1:-}" pid
  component "$name"
  pid=$(pid_of "$name") || die "$name was never started in $CLUSTER_DIR"
  if alive "$pid" && ours "$pid"; then die "$name is already running (pid $pid)"; fi
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  relaunch "$name"
  case "$name" in
    etcd) wait_until etcd 30 "health" curl -sf "$CLUSTER_ETCD/health" ;;
    kube-apiserver)
      wait_until kube-apiserver 90 "/readyz" curl -sf --cacert "$PKI/ca.crt" "$CLUSTER_SERVER/readyz" ;;
    *)
      sleep 1
      alive "$(pid_of "$name")" || { log_tail "$name"; die "$name exited (log: $LOGS/$name.log)"; } ;;
  esac
  log "$name running again (pid $(pid_of "$name"))"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop) shift; cmd_stop "$@" ;;
  start) shift; cmd_start "$@" ;;
  restart) shift; cmd_stop "$@"; cmd_start "${1:-}" ;;
  *) die "usage: $0 up [--no-workloads] | down | status | stop COMPONENT [--kill] | start COMPONENT | restart COMPONENT [--kill]" ;;
esac
