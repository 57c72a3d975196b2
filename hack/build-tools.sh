#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, kwok) and optional tools (helm, trust-manager, traefik) from the Go module proxy
# and caches them by version outside the repository. A cached version is never rebuilt.
#
#   hack/build-tools.sh [plane] [helm] [trust-manager] [traefik] [anchorcheck]     (default: plane)
#
# anchorcheck (Go's verdict on trust anchors, operator/test/support/anchorcheck) needs only the
# standard library; it is cached by the hash of its source and its path is printed on stdout.
. "$(dirname "$0")/lib.sh"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
need go "Go is expected on the machine (https://go.dev/doc/install)"

# quiet CMD... — CMD without the go tool's line per downloaded/added module; errors stay visible.
quiet() {
  "$@" 2>&1 | { grep -vE '^go: (downloading|added|upgraded|downgraded|finding|found|extracting) ' >&2 || true; }
}

# A stamp file marks a complete build; a directory without it is a crashed build and is redone.
built() { [ -f "$1/.complete" ]; }
finish() { touch "$1/.complete"; }

build_k8s() {
  local out="$K8S_BIN" k="$K8S_VERSION" s="v0.${K8S_VERSION#v1.}" minor
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  built "$out" && { log "kubernetes $k: cached in $out"; return; }
  local w="$CACHE_ROOT/build/k8s-$k"
  rm -rf "$w" "$out"; mkdir -p "$w" "$out"
  (
    cd "$w"
    go mod init local/kbin >/dev/null 2>&1
    local gm
    gm=$(go mod download -json "k8s.io/kubernetes@$k" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    [ -n "$gm" ] || die "could not download k8s.io/kubernetes@$k from the Go module proxy"
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gm"); do
      go mod edit "-replace=$m=$m@$s"
    done
    grep '^godebug' "$gm" >> go.mod || true
    step "kubernetes $k: resolve modules" quiet go get "k8s.io/kubernetes/cmd/kube-apiserver@$k" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$k" "k8s.io/kubernetes/cmd/kube-scheduler@$k" \
      "k8s.io/kubernetes/cmd/kubectl@$k"
    local l="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      l="$l -X $p.gitVersion=$k -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      step "kubernetes $k: build $c" go build -trimpath -ldflags "$l" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
    done
  )
  finish "$out"
}

build_etcd() {
  local out="$ETCD_BIN" v="$ETCD_VERSION"
  built "$out" && { log "etcd $v: cached in $out"; return; }
  local w="$CACHE_ROOT/build/etcd-$v"
  rm -rf "$w" "$out"; mkdir -p "$w" "$out"
  (
    cd "$w"
    go mod init local/etcdbin >/dev/null 2>&1
    local gm
    gm=$(go mod download -json "go.etcd.io/etcd/server/v3@$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    [ -n "$gm" ] || die "could not download go.etcd.io/etcd/server/v3@$v"
    for m in $(awk '/=> \.\.\// {for (i=1;i<=NF;i++) if ($i=="=>") print $(i-1)}' "$gm" | sort -u); do
      go mod edit "-replace=$m=$m@$v"
    done
    step "etcd $v: resolve modules" quiet go get "go.etcd.io/etcd/server/v3@$v"
    step "etcd $v: build" go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  )
  finish "$out"
}

build_kwok() {
  local out="$KWOK_BIN" v="$KWOK_VERSION"
  built "$out" && { log "kwok $v: cached in $out"; return; }
  rm -rf "$out"; mkdir -p "$out"
  step "kwok $v: build" quiet env GOBIN="$out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$v"
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$v" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  [ -d "$dir/kustomize/stage" ] || die "kwok $v: stage definitions not found in module"
  local f first=1
  : > "$out/stages.yaml"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$dir/kustomize/stage/$f" ] || die "kwok $v: missing stage $f"
    [ $first -eq 1 ] || echo '---' >> "$out/stages.yaml"
    cat "$dir/kustomize/stage/$f" >> "$out/stages.yaml"; first=0
  done
  finish "$out"
}

build_helm() {
  local out="$HELM_BIN" v="$HELM_VERSION"
  built "$out" && { log "helm $v: cached in $out"; return; }
  rm -rf "$out"; mkdir -p "$out"
  step "helm $v: build" quiet env GOBIN="$out" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$v" "helm.sh/helm/v3/cmd/helm@$v"
  finish "$out"
}

build_trust_manager() {
  local out="$TM_BIN" v="$TRUST_MANAGER_VERSION"
  built "$out" && { log "trust-manager $v: cached in $out"; return; }
  rm -rf "$out"; mkdir -p "$out"
  step "trust-manager $v: build" quiet env GOBIN="$out" go install -trimpath -ldflags "-s -w" \
    "github.com/cert-manager/trust-manager/cmd/trust-manager@$v"
  local dir
  dir=$(go mod download -json "github.com/cert-manager/trust-manager@$v" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  mkdir -p "$out/crds"; cp "$dir"/deploy/crds/*.yaml "$out/crds/" 2>/dev/null || die "trust-manager $v: CRDs not found"
  finish "$out"
}

# Traefik's main package cannot be `go install`ed: its go.mod has replace and exclude directives,
# which only apply in the main module. A wrapper module copies them and builds cmd/traefik.
build_traefik() {
  local out="$TRAEFIK_BIN" v="$TRAEFIK_VERSION" m=github.com/traefik/traefik/v3
  built "$out" && { log "traefik $v: cached in $out"; return; }
  local w="$CACHE_ROOT/build/traefik-$v"
  rm -rf "$w" "$out"; mkdir -p "$w" "$out"
  (
    cd "$w"
    go mod init local/traefikbin >/dev/null 2>&1
    local gm dir
    gm=$(go mod download -json "$m@$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    [ -n "$gm" ] || die "could not download $m@$v from the Go module proxy"
    # Single-line `replace a => b v` and `exclude a v`, and the same inside ( ) blocks.
    awk '/^replace \(/{r=1;next} /^exclude \(/{e=1;next} /^\)/{r=0;e=0;next} $1 ~ /^\/\//{next}
         r || /^replace / {sub(/^replace /,""); if ($2=="=>") print "-replace=" $1 "=" $3 "@" $4}
         e || /^exclude / {sub(/^exclude /,""); if (NF==2) print "-exclude=" $1 "@" $2}' "$gm" > directives
    [ -s directives ] && xargs go mod edit < directives
    go mod edit "-require=$m@$v"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/traefik"\n' "$m" > tools.go
    step "traefik $v: resolve modules" quiet go mod tidy
    step "traefik $v: build" go build -trimpath -ldflags "-s -w -X $m/pkg/version.Version=$v" \
      -o "$out/traefik" "$m/cmd/traefik"
    dir=$(go mod download -json "$m@$v" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
    cp "$dir/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml" "$out/crds.yaml" ||
      die "traefik $v: CRD definitions not found in the module"
  )
  finish "$out"
}

build_anchorcheck() {
  local src="$REPO_ROOT/operator/test/support/anchorcheck" hash
  hash=$(cat "$src/go.mod" "$src/main.go" | sha256sum | cut -c1-12)
  local out="$CACHE_ROOT/anchorcheck-$hash"
  if ! built "$out"; then
    rm -rf "$out"; mkdir -p "$out"
    step "anchorcheck $hash: build" bash -c "cd '$src' && go build -trimpath -o '$out/anchorcheck' ."
    finish "$out"
  fi
  echo "$out/anchorcheck"
}

mkdir -p "$CACHE_ROOT"
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(plane)
for t in "${targets[@]}"; do
  case "$t" in
    plane) build_etcd; build_kwok; build_k8s ;;
    helm) build_helm ;;
    trust-manager) build_trust_manager ;;
    traefik) build_traefik ;;
    anchorcheck) build_anchorcheck ;;
    *) die "unknown target '$t' (plane, helm, trust-manager, traefik, anchorcheck)" ;;
  esac
done
log "tools ready in $CACHE_ROOT"
