#!/usr/bin/env bash
# Unit tests of the chart's alerts: renders the PrometheusRule, checks its rules with promtool and
# runs alerts.test.yaml (synthetic series in, expected alerts out). promtool is built from the Go
# module proxy once and cached like the other tools (a few minutes the first time).
. "$(dirname "$0")/../../../hack/lib.sh"

# Prometheus 3.x as a Go module version.
PROMETHEUS_MODULE_VERSION=v0.316.0
PROMTOOL_BIN="$CACHE_ROOT/promtool-$PROMETHEUS_MODULE_VERSION"
TESTS="$(cd "$(dirname "$0")" && pwd)"

if [ ! -f "$PROMTOOL_BIN/.complete" ]; then
  rm -rf "$PROMTOOL_BIN"; mkdir -p "$PROMTOOL_BIN"
  step "promtool $PROMETHEUS_MODULE_VERSION: build" env GOBIN="$PROMTOOL_BIN" CGO_ENABLED=0 GOFLAGS=-mod=mod \
    GOTOOLCHAIN=local go install -trimpath -ldflags "-s -w" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
  touch "$PROMTOOL_BIN/.complete"
fi
[ -x "$HELM_BIN/helm" ] || "$HACK_DIR/build-tools.sh" helm

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$TESTS/alerts.test.yaml" "$work/"
# The PrometheusRule's spec is a Prometheus rule file.
"$HELM_BIN/helm" template alerts "$REPO_ROOT/charts/trustbundle-operator" \
  --set metrics.prometheusRule.enabled=true --show-only templates/prometheusrule.yaml |
  (cd "$REPO_ROOT" && node --input-type=module -e '
    import yaml from "js-yaml";
    import { readFileSync } from "node:fs";
    process.stdout.write(yaml.dump(yaml.load(readFileSync(0, "utf8")).spec));
  ') >"$work/rules.yaml"
"$PROMTOOL_BIN/promtool" check rules "$work/rules.yaml"
"$PROMTOOL_BIN/promtool" test rules "$work/alerts.test.yaml"
