#!/usr/bin/env bash
# Checks the Prometheus side of deploy/: the alerting rules
# (deploy/prometheus/alerts.yaml) with `promtool check rules`, their unit
# tests (deploy/prometheus/alerts.test.yaml) with `promtool test rules`, the
# Prometheus configuration (deploy/prometheus/prometheus.yml) with
# `promtool check config` when that file exists (with the rule files it
# names checked too), and that every expression
# of the Grafana dashboard (deploy/grafana/dirsync.json) parses as PromQL.
#
# promtool comes from Debian's `prometheus` package; when it is missing the
# package is installed (non-interactive, no recommends) without starting the
# Prometheus server it ships, and a server the installation started anyway
# is stopped, so nothing is left running (the unit tests start none).
# Exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

RULES=deploy/prometheus/alerts.yaml
TESTS=deploy/prometheus/alerts.test.yaml
CONFIG=deploy/prometheus/prometheus.yml
DASHBOARD=deploy/grafana/dirsync.json

say() { printf 'prometheus-rules: %s\n' "$*"; }
die() {
  say "error: $*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "promtool is missing and installing it needs root: apt-get install prometheus"
  fi
}

install_promtool() {
  say "promtool not found; installing Debian's prometheus package"
  local before after pid created_policy=false
  before=$(pgrep -x prometheus || true)
  # policy-rc.d exiting 101 tells invoke-rc.d not to start the service the
  # package installs; should it start anyway (systemd), it is stopped below.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    created_policy=true
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus)
  local ok=true
  if ! as_root "${apt[@]}" >/dev/null; then
    say "install failed; refreshing the package lists and trying again"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || true
    as_root "${apt[@]}" >/dev/null || ok=false
  fi
  if $created_policy; then as_root rm -f /usr/sbin/policy-rc.d; fi
  # Stop only a server this installation started, by its pid.
  if [ -z "$before" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl stop prometheus.service >/dev/null 2>&1 || true
  fi
  after=$(pgrep -x prometheus || true)
  for pid in $after; do
    if ! grep -qx "$pid" <<<"$before"; then
      say "stopping the prometheus server the package started (pid $pid)"
      as_root kill "$pid" || true
    fi
  done
  $ok || die "could not install the prometheus package"
  command -v promtool >/dev/null 2>&1 || die "the prometheus package is installed but promtool is not on PATH"
}

command -v promtool >/dev/null 2>&1 || install_promtool
say "$(promtool --version 2>&1 | head -1)"

say "promtool check rules $RULES"
promtool check rules "$RULES"

say "promtool test rules $TESTS"
promtool test rules "$TESTS"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if [ -f "$CONFIG" ]; then
  # The configuration names its rule files where deploy/compose.yaml mounts
  # them (/etc/prometheus/X is ./prometheus/X here): check the syntax as
  # written, then the whole configuration with those paths mapped back into
  # the repository, so that the rule files it loads are checked too.
  say "promtool check config --syntax-only $CONFIG"
  promtool check config --syntax-only "$CONFIG"
  mapped=true
  for path in $(grep -o '/etc/prometheus/[^"'"'"' ,]*' "$CONFIG" | sort -u); do
    [ -e "deploy/prometheus/${path#/etc/prometheus/}" ] || mapped=false
  done
  if $mapped; then
    sed "s#/etc/prometheus/#$PWD/deploy/prometheus/#g" "$CONFIG" >"$scratch/prometheus.yml"
    say "promtool check config $CONFIG (with /etc/prometheus/ read as deploy/prometheus/)"
    promtool check config "$scratch/prometheus.yml"
  else
    say "note: $CONFIG names files under /etc/prometheus/ that are not in deploy/prometheus/; checked its syntax only"
  fi
else
  say "skipped: $CONFIG does not exist (nothing to check)"
fi

# The dashboard's expressions, with Grafana's variables given plausible
# values, written as recording rules so that promtool parses each one.
if [ -f "$DASHBOARD" ]; then
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$DASHBOARD" "$scratch/dashboard-rules.yaml" <<'EOF'
import json, sys

dashboard = json.load(open(sys.argv[1]))
exprs = []

def walk(panels):
    for panel in panels:
        walk(panel.get("panels", []))
        for target in panel.get("targets", []):
            if target.get("expr"):
                exprs.append((panel.get("title", "?"), target["expr"]))

walk(dashboard.get("panels", []))
values = {"${datasource}": "prometheus", "$__rate_interval": "1m", "$__range": "1h", "$tenant": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, expr) in enumerate(exprs):
        for var, value in values.items():
            expr = expr.replace(var, value)
        if "$" in expr:
            sys.exit(f"panel {title!r}: an unexpected template variable in {expr!r}")
        out.write(f"      - record: dashboard:expr_{i}\n        expr: {json.dumps(expr)}\n")
print(f"prometheus-rules: {len(exprs)} dashboard expressions")
EOF
    say "promtool check rules (the dashboard's expressions)"
    promtool check rules "$scratch/dashboard-rules.yaml"
  else
    say "skipped: python3 is missing, the dashboard's expressions were not parsed"
  fi
else
  say "skipped: $DASHBOARD does not exist"
fi

say "ok"
