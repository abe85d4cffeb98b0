#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API: schemathesis (from PyPI, in its own
# venv) reads the served /v1/openapi.json and throws generated requests,
# valid and invalid, at every operation. It fails on any 5xx, and on any
# response whose status, content type, headers or body the document does
# not allow, or an invalid request that is accepted.
#
# What runs: its own database (dropped at the end) and queue prefix, okta-sim
# with a small org, a worker and a writer that sync one seeded tenant (so the
# directory listings have real rows), and `dirsync api` with the production
# URL rules (no insecure URLs, so nothing the fuzzer sends can make the API
# call an internal address). Seeded tenant, group and run ids are offered to
# the fuzzer for most path parameters (the rest are random ids: 404s).
#
# Needs PostgreSQL and RabbitMQ as the tests do; bounded by
# SCHEMATHESIS_MAX_EXAMPLES (per operation and phase, default 40) and
# SCHEMATHESIS_MAX_TIME (seconds of fuzzing, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-120}"
SEED="${SCHEMATHESIS_SEED:-$RANDOM}"
VERSION="4.32.5"
VENV="${SCHEMATHESIS_VENV:-${HOME:-/root}/.cache/dirsync-schemathesis}"
SERVER="${DIRSYNC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

log() { printf '\n== %s\n' "$*"; }
started=$(date +%s)

# CPython 3.11 (and early 3.12) can fail inside hypothesis with "AST
# constructor recursion depth mismatch"; a newer Python is used if there is one.
pick_python() {
  if [ -n "${SCHEMATHESIS_PYTHON:-}" ]; then echo "$SCHEMATHESIS_PYTHON"; return; fi
  local candidate
  for candidate in python3.13 python3.14 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[34]*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      echo "$candidate"; return
    fi
  done
  echo python3
}
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  PYTHON="$(pick_python)"
  log "installing schemathesis $VERSION into $VENV ($("$PYTHON" --version))"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

log "building dirsync"
cargo build --quiet --locked -p dirsync
BIN="$CARGO_TARGET_DIR/debug/dirsync"

WORK="$(mktemp -d)"
ID="st_$(date +%s)_$$"
DB="dirsync_test_${ID}"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -q "$SERVER" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  # The run's queues (only ours: they carry its prefix; its few empty
  # exchanges are left, rabbitmqctl cannot delete one).
  if command -v rabbitmqctl >/dev/null; then
    for q in $(timeout 30 rabbitmqctl -q list_queues name 2>/dev/null | grep "^${ID}\." || true); do
      timeout 30 rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
    done
  fi
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
  fi
  rm -rf "$WORK"
  echo "schemathesis.sh: $(( $(date +%s) - started )) s"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "no answer from $1" >&2; return 1
}

SIM_PORT=$(free_port)
API_PORT=$(free_port)
API_KEY="schemathesis-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SIM_TOKEN="sim-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="${SERVER%/*}/$DB"
export DIRSYNC_AMQP__PREFIX="$ID"
export DIRSYNC_SECRETS__KEY="$(head -c 32 /dev/urandom | base64)"
export DIRSYNC_LOG__FORMAT=text
# Several role processes on one machine: each serves its probes on a free port.
export DIRSYNC_TELEMETRY__LISTEN=127.0.0.1:0
export OKTA_SIM_TOKEN="$SIM_TOKEN"

log "database $DB, queue prefix $ID"
psql -q "$SERVER" -c "CREATE DATABASE \"$DB\"" >/dev/null
"$BIN" migrate >/dev/null

log "okta-sim on $SIM_PORT, a worker and a writer, one synced tenant"
"$BIN" okta-sim --port "$SIM_PORT" --users 150 --groups 8 --seed 3 >"$WORK/sim.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$SIM_PORT/.well-known/okta-organization"
for role in worker writer; do
  DIRSYNC_OKTA__ALLOW_INSECURE_URLS=true "$BIN" "$role" >"$WORK/$role.log" 2>&1 &
  pids+=($!)
done
printf '%s' "$SIM_TOKEN" >"$WORK/token"
TENANT=$(DIRSYNC_OKTA__ALLOW_INSECURE_URLS=true "$BIN" tenant add --name fuzzed \
  --okta-url "http://127.0.0.1:$SIM_PORT" --token-file "$WORK/token")
"$BIN" sync "$TENANT" --wait --timeout 120 >/dev/null
RUN=$(psql -qtA "$DATABASE_URL" -c "SELECT id FROM sync_runs WHERE tenant_id = '$TENANT' LIMIT 1")
GROUP=$(psql -qtA "$DATABASE_URL" -c "SELECT group_id FROM group_members WHERE tenant_id = '$TENANT' LIMIT 1")

log "dirsync api on $API_PORT (production URL rules)"
DIRSYNC_API__KEYS="$API_KEY" DIRSYNC_API__LISTEN="127.0.0.1:$API_PORT" "$BIN" api >"$WORK/api.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$API_PORT/readyz"

cat >"$WORK/schemathesis.toml" <<EOF
[generation]
max-examples = $MAX_EXAMPLES

[dictionaries.tenants]
values = ["$TENANT"]
[dictionaries.runs]
values = ["$RUN"]
[dictionaries.groups]
values = ["$GROUP"]

[parameters]
"path.id" = { dictionary = "tenants", probability = 0.8 }
"path.run_id" = { dictionary = "runs", probability = 0.8 }
"path.group_id" = { dictionary = "groups", probability = 0.8 }

# Deleting the seeded tenant early would leave little to test (the tests
# in tests/e2e/api.rs delete tenants); here DELETE gets an unknown id.
[[operations]]
include-method = "DELETE"
parameters = { "path.id" = "00000000-0000-7000-8000-000000000000" }
EOF

log "schemathesis $VERSION: at most $MAX_EXAMPLES examples per operation, $MAX_TIME s, seed $SEED"
# positive_data_acceptance is left out on purpose: valid-looking instance
# URLs, cursors and time zones are refused by design (no DNS here for
# public names, cursors are opaque, time zones must exist).
# From the scratch directory: schemathesis keeps a cache in its working directory.
cd "$WORK"
"$VENV/bin/st" --config-file "$WORK/schemathesis.toml" run \
  "http://127.0.0.1:$API_PORT/v1/openapi.json" \
  --header "Authorization: Bearer $API_KEY" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --max-time "$MAX_TIME" \
  --seed "$SEED" \
  --workers 2 \
  --request-timeout 30 \
  --report junit --report-dir "${SCHEMATHESIS_REPORT_DIR:-$WORK/report}" \
  --warnings off
