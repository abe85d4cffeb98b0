#!/usr/bin/env bash
# Makes (or reuses) the virtualenv of Airbyte's Okta connector for
# `dirsync bench peer`: `airbyte-source-okta` from PyPI, its code unchanged,
# its dependencies pinned below so a new release of one of them cannot
# change what the benchmark runs. The bench runs this script itself (it is
# compiled into the binary); by hand: `scripts/airbyte-peer.sh VENV_DIR`.
# Prints the path of the connector's `source-okta` entry point on stdout;
# progress and errors go to stderr, and it exits non-zero with the reason
# when a step fails.
set -euo pipefail

AIRBYTE_SOURCE_OKTA_VERSION=0.3.26
PYTHON=${PYTHON:-python3}
VENV=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/dirsync}/airbyte-source-okta-venv}

say() { printf 'airbyte-peer: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# Resolved by pip on 2026-11-29 for airbyte-source-okta 0.3.26 on CPython 3.11.
constraints() {
  cat <<'PINS'
airbyte-cdk==7.39.1
airbyte_protocol_models_dataclasses==0.17.1
annotated-types==0.8.0
anyascii==0.3.3
attributes-doc==0.5.0
attrs==26.1.0
backoff==2.2.1
boltons==25.0.0
bracex==3.2.3
cachetools==8.0.2
cattrs==26.2.1
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cloudpickle==3.1.3
cryptography==50.0.2
dateparser==1.5.0
dpath==2.2.0
dunamai==1.26.5
genson==1.3.0
google-api-core==2.44.0
google-auth==2.63.0
google-cloud-secret-manager==2.32.0
googleapis-common-protos==1.76.0
grpc-google-iam-v1==0.14.6
grpcio==1.85.3
grpcio-status==1.85.3
idna==3.20
ijson==3.6.0
isodate==0.6.1
Jinja2==3.1.6
joblib==1.6.0
jsonref==1.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
nltk==3.9.4
numpy==2.4.6
opentelemetry-api==1.45.2
orjson==3.13.0
packaging==26.4
pandas==2.3.3
platformdirs==4.14.8
proto-plus==1.29.0
protobuf==7.36.2
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.4
pydantic_core==2.50.5
Pygments==2.21.0
PyJWT==2.15.1
pyrate-limiter==3.1.1
python-dateutil==2.9.0.post0
python-ulid==3.2.1
pytz==2026.6
PyYAML==6.0.4
RapidFuzz==3.14.6
referencing==0.37.0
regex==2026.11.19
requests==2.34.2
requests-cache==1.3.3
rich==15.0.0
rich-click==1.9.9
rpds-py==2026.9.1
serpyco-rs==1.23.0
six==1.17.0
tqdm==4.70.1
typing-inspection==0.4.5
typing_extensions==4.16.0
tzdata==2026.6
tzlocal==5.4.5
Unidecode==1.4.0
url-normalize==3.1.0
urllib3==2.8.0
wcmatch==10.0
whenever==0.8.10
xmltodict==0.14.2
PINS
}

WANT="airbyte-source-okta==$AIRBYTE_SOURCE_OKTA_VERSION"
MARKER=$VENV/.airbyte-peer
venv_ready() {
  [[ -x $VENV/bin/source-okta && -f $MARKER && $(cat "$MARKER") == "$WANT" ]] &&
    "$VENV/bin/python" -c "import source_okta.run" >/dev/null 2>&1
}

if venv_ready; then
  say "reusing $VENV ($WANT)"
else
  started=$SECONDS
  say "installing $WANT into $VENV"
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: the connector needs CPython 3.10 or later with venv and pip"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$("$PYTHON" --version 2>&1) is too old: $WANT needs Python 3.10 or later"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  log=$(mktemp)
  if ! "$PYTHON" -m venv "$VENV" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "'$PYTHON -m venv $VENV' failed (on Debian's own python3: apt-get install python3-venv)"
  fi
  constraints >"$VENV/constraints.txt"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -c "$VENV/constraints.txt" "$WANT" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    rm -rf "$VENV"
    die "pip could not install $WANT (is PyPI reachable? the pip output is above)"
  fi
  rm -f "$log"
  "$VENV/bin/python" -c "import source_okta.run" || die "$WANT installed but does not import"
  echo "$WANT" >"$MARKER"
  say "installed $WANT in $((SECONDS - started)) s"
fi
echo "$VENV/bin/source-okta"
