#!/usr/bin/env bash
# Cross-checks the Okta simulator against Okta's official Python SDK (`okta`
# on PyPI): installs the SDK in a virtualenv under the cargo target dir,
# builds dirsync, serves `dirsync okta-sim` on a free loopback port, and runs
# scripts/okta_sdk_check.py against it. Ends with `okta-sdk: N passed, M
# failed` and exits non-zero if a check failed or a step could not run.
# See the README section "Okta SDK cross-check".
set -euo pipefail
cd "$(dirname "$0")/.."

OKTA_SDK_VERSION=3.4.6
SIM_USERS=1234
SIM_GROUPS=40
SIM_SEED=7
SIM_TOKEN=okta-sdk-check-token
PYTHON=${PYTHON:-python3}

TARGET_DIR=${CARGO_TARGET_DIR:-target}
VENV=$TARGET_DIR/okta-sdk-venv
SIM_LOG=$TARGET_DIR/okta-sdk-check-sim.log

say() { printf 'okta-sdk: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  echo "okta-sdk: 0 passed, 1 failed"
  exit 1
}

started=$SECONDS

# --- 1. The SDK in a virtualenv (reused when it already holds this version).
# The SDK's dependencies are pinned too (constraints below), so a new release
# of one of them cannot change what this check runs.
constraints() {
  cat <<'EOF'
aenum==3.1.17
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-types==0.8.0
attrs==26.1.0
blinker==1.9.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
cryptography==50.0.2
frozenlist==1.8.0
idna==3.20
jwcrypto==1.6.1
multidict==7.2.1
propcache==0.5.4
pycparser==3.12
pycryptodomex==3.24.2
pydantic==2.14.4
pydantic_core==2.50.5
pydash==8.1.0
PyJWT==2.15.1
python-dateutil==4.0.0
PyYAML==6.0.4
requests==2.34.2
typing-inspection==0.4.5
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
xmltodict==1.0.4
yarl==1.25.1
EOF
}

MARKER=$VENV/.okta-sdk-check
venv_ready() {
  [[ -x $VENV/bin/python && -f $MARKER && $(cat "$MARKER") == "okta==$OKTA_SDK_VERSION" ]] &&
    "$VENV/bin/python" -c "import okta.client, okta.pagination" >/dev/null 2>&1
}

if venv_ready; then
  say "reusing $VENV (okta $OKTA_SDK_VERSION)"
else
  say "installing okta $OKTA_SDK_VERSION into $VENV"
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: the check needs CPython 3.10 or later with venv and pip"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$("$PYTHON" --version 2>&1) is too old: okta $OKTA_SDK_VERSION needs Python 3.10 or later"
  rm -rf "$VENV"
  mkdir -p "$TARGET_DIR"
  venv_log=$(mktemp)
  if ! "$PYTHON" -m venv "$VENV" >"$venv_log" 2>&1; then
    cat "$venv_log" >&2
    rm -f "$venv_log"
    die "'$PYTHON -m venv $VENV' failed (on Debian's own python3: apt-get install python3-venv)"
  fi
  constraints >"$VENV/constraints.txt"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -c "$VENV/constraints.txt" "okta==$OKTA_SDK_VERSION" >"$venv_log" 2>&1; then
    tail -n 30 "$venv_log" >&2
    rm -f "$venv_log"
    rm -rf "$VENV"
    die "pip could not install okta==$OKTA_SDK_VERSION (is PyPI reachable? the pip output is above)"
  fi
  rm -f "$venv_log"
  "$VENV/bin/python" -c "import okta.client, okta.pagination" ||
    die "okta $OKTA_SDK_VERSION installed but does not import"
  echo "okta==$OKTA_SDK_VERSION" >"$MARKER"
  say "installed okta $OKTA_SDK_VERSION in $((SECONDS - started)) s"
fi

# --- 2. The simulator.
cargo build -q -p dirsync || die "cargo build -p dirsync failed"
DIRSYNC=$TARGET_DIR/debug/dirsync
[[ -x $DIRSYNC ]] || die "$DIRSYNC not found after cargo build"

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SIM_PID=
stop_sim() {
  if [[ -n $SIM_PID ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill "$SIM_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do # it shuts down gracefully; 10 s at most
      kill -0 "$SIM_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  SIM_PID=
}
trap stop_sim EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Asks /.well-known/okta-organization (no token) until it answers 200.
sim_answers() {
  "$VENV/bin/python" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/.well-known/okta-organization", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

PORT=
for attempt in 1 2 3; do
  port=$(free_port)
  OKTA_SIM_TOKEN=$SIM_TOKEN "$DIRSYNC" okta-sim --port "$port" --users "$SIM_USERS" \
    --groups "$SIM_GROUPS" --seed "$SIM_SEED" >"$SIM_LOG" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 1 150); do # up to 30 s
    if ! kill -0 "$SIM_PID" 2>/dev/null; then break; fi
    if sim_answers "$port"; then
      PORT=$port
      break
    fi
    sleep 0.2
  done
  [[ -n $PORT ]] && break
  # The port may have been taken between picking and binding: try another.
  stop_sim
  say "okta-sim did not answer on port $port (attempt $attempt)"
done
if [[ -z $PORT ]]; then
  tail -n 20 "$SIM_LOG" >&2 || true
  die "okta-sim did not start (log: $SIM_LOG)"
fi
say "okta-sim on http://127.0.0.1:$PORT ($SIM_USERS users, $SIM_GROUPS groups, seed $SIM_SEED)"

# --- 3. The checks, through the SDK.
out=$(mktemp)
status=0
OKTA_SDK_CHECK_TOKEN=$SIM_TOKEN OKTA_TESTING_TESTINGDISABLEHTTPSCHECK=true \
  timeout 300 "$VENV/bin/python" scripts/okta_sdk_check.py \
  --url "http://127.0.0.1:$PORT" --users "$SIM_USERS" --groups "$SIM_GROUPS" | tee "$out" ||
  status=${PIPESTATUS[0]}
if ! grep -Eq '^okta-sdk: [0-9]+ passed, [0-9]+ failed$' "$out"; then
  # A crash (or the timeout's 124) before the summary: still end with one.
  say "error: scripts/okta_sdk_check.py exited with $status before its summary"
  echo "okta-sdk: 0 passed, 1 failed"
  [[ $status -ne 0 ]] || status=1
fi
rm -f "$out"
say "done in $((SECONDS - started)) s"
exit "$status"
