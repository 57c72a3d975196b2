#!/usr/bin/env bash
# `make demo` / `make demo-down`: the operator's whole job on a local control plane.
#
#   hack/demo.sh up     control plane (.cluster/demo; binaries built once, then reused), CRD, test
#                       PKI, stand-in ACP, operator, nginx, the runbook's scenarios and their table.
#                       Exits non-zero when a check differs; what it started keeps running.
#   hack/demo.sh down   stops everything `up` started (also what a crashed or interrupted run left).
#
# DEMO_TRAEFIK=1 also runs a real Traefik that reads the same Secret (docs/demo.md).
# Ctrl-C during `up` stops everything too. State and logs: .demo/ (the control plane's logs:
# .cluster/demo/logs/).
. "$(dirname "$0")/lib.sh"
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"
export CLUSTER_DIR="$REPO_ROOT/.cluster/demo"

stop_all() {
  node "$HACK_DIR/demo.ts" down || log "stopping the background services failed"
  "$HACK_DIR/cluster.sh" down
}

interrupted() {
  trap - INT TERM
  echo
  log "interrupted: stopping everything"
  stop_all
  exit 130
}

# run CMD... — runs a step; a step ended by Ctrl-C (exit 130, or 143 for SIGTERM) stops
# everything. (bash runs an INT trap late or not at all when the child itself exits on SIGINT.)
run() {
  local rc=0
  "$@" || rc=$?
  case "$rc" in 130 | 143) interrupted ;; esac
  return "$rc"
}

cmd_up() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
    die "nginx is required: apt-get install nginx-light (make deps does)"
  need curl "apt-get install curl"
  need openssl "apt-get install openssl"
  trap interrupted INT TERM
  # An earlier demo's services first; cluster.sh up replaces an earlier plane with a fresh one.
  run node "$HACK_DIR/demo.ts" down
  log "control plane in $CLUSTER_DIR (the first run builds the binaries: see the progress below)"
  run "$HACK_DIR/cluster.sh" up >/dev/null
  local rc=0
  run node "$HACK_DIR/demo.ts" up || rc=$?
  if [ "$rc" -ne 0 ]; then
    log "the demo failed (exit $rc); everything stays up for a look (logs in .demo/); make demo-down stops it"
  fi
  return "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) stop_all ;;
  *) die "usage: $0 up | down" ;;
esac
