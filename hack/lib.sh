# Shared helpers for hack/ scripts. Source it; do not run it.
set -euo pipefail
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
# shellcheck source=versions.env
. "$HACK_DIR/versions.env"
CACHE_ROOT="${TRUSTBUNDLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustbundle-operator}"
K8S_BIN="$CACHE_ROOT/k8s-$K8S_VERSION"
ETCD_BIN="$CACHE_ROOT/etcd-$ETCD_VERSION"
KWOK_BIN="$CACHE_ROOT/kwok-$KWOK_VERSION"
HELM_BIN="$CACHE_ROOT/helm-$HELM_VERSION"
TM_BIN="$CACHE_ROOT/trust-manager-$TRUST_MANAGER_VERSION"
TRAEFIK_BIN="$CACHE_ROOT/traefik-$TRAEFIK_VERSION"
START_TS=$(date +%s)

log() { printf '[%s +%ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - START_TS))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# step NAME CMD... — runs CMD, printing a heartbeat every 30 s and naming the step on failure.
step() {
  local name="$1"; shift
  log "step: $name"
  local t0; t0=$(date +%s)
  ( while sleep 30; do log "  … $name still running ($(($(date +%s) - t0))s)"; done ) &
  local hb=$!
  local rc=0
  "$@" || rc=$?
  kill "$hb" 2>/dev/null; wait "$hb" 2>/dev/null || true
  [ "$rc" -eq 0 ] || die "step '$name' failed (exit $rc)"
  log "done: $name ($(($(date +%s) - t0))s)"
}

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not found${2:+: $2}"; }
