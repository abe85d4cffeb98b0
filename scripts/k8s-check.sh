#!/usr/bin/env bash
# Validates the Kubernetes manifests offline: renders every overlay under
# deploy/k8s/overlays/ with `kubectl kustomize`, then runs
# scripts/k8s_crd_check.py on the output (and on deploy/k8s/secret.example.yaml):
# built-in kinds against kubernetes-validate's bundled schemas (strict) for
# Kubernetes $K8S_VERSIONS, the KEDA and Prometheus Operator kinds against
# the CRDs kept in deploy/k8s/schemas/, any other kind is an error, and the
# project's rules for how the objects fit together (see the .py's docstring).
# Needs kubectl (any recent one; it renders offline) and python3 with venv;
# installs the pinned validators once into a virtualenv it reuses. Ends with
# `k8s-check: ...` and exits non-zero on any error. See deploy/k8s/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# Oldest and newest Kubernetes the manifests must fit.
K8S_VERSIONS=${K8S_VERSIONS:-"1.30.0 1.37.0"}
PYTHON=${PYTHON:-python3}
VENV=${DIRSYNC_K8S_VENV:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/dirsync-venv-k8s}

say() { printf 'k8s-check: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
started=$SECONDS

# --- 1. Validators in a virtualenv, every package pinned (reused while the
# pins are unchanged).
requirements() {
  cat <<'PINS'
attrs==26.1.0
importlib_resources==7.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
kubernetes-validate==1.37.0
packaging==26.4
PyYAML==6.0.4
referencing==0.37.0
rpds-py==2026.9.1
typing_extensions==4.16.0
PINS
}
want=$(requirements)
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.pins" 2>/dev/null)" != "$want" ]]; then
  say "installing kubernetes-validate and jsonschema into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a virtualenv with $PYTHON (python3-venv missing?)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    -r <(requirements) >/dev/null || die "pip install failed"
  printf '%s' "$want" >"$VENV/.pins"
fi

# --- 2. Render every overlay.
command -v kubectl >/dev/null || die "kubectl not found (it renders the overlays offline)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
overlays=()
for dir in deploy/k8s/overlays/*/; do
  name=$(basename "$dir")
  if ! kubectl kustomize "$dir" >"$out/$name.yaml" 2>"$out/$name.err"; then
    say "kubectl kustomize $dir failed:"
    head -n 5 "$out/$name.err" >&2
    exit 1
  fi
  overlays+=("$out/$name.yaml")
done
((${#overlays[@]})) || die "no overlay under deploy/k8s/overlays/"

# --- 3. Validate.
versions=()
for v in $K8S_VERSIONS; do versions+=(--k8s-version "$v"); done
status=0
"$VENV/bin/python" scripts/k8s_crd_check.py --schemas deploy/k8s/schemas "${versions[@]}" \
  --schema-only deploy/k8s/secret.example.yaml "${overlays[@]}" || status=$?
say "$((SECONDS - started)) s"
exit "$status"
