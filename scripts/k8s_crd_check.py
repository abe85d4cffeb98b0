#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests offline; run by scripts/k8s-check.sh.

For every document of every file given:

- a built-in kind is validated with kubernetes-validate (the Kubernetes JSON
  schemas it bundles, strict: an unknown field is an error) for each
  `--k8s-version`;
- a custom resource (ScaledObject, TriggerAuthentication, ServiceMonitor, ...)
  is validated against the openAPIV3Schema of its CRD, read from the CRD
  files kept in `--schemas` (deploy/k8s/schemas/, provenance in its README).
  Objects are closed the way the API server prunes them: a field that the
  schema does not declare is an error, unless the schema says
  x-kubernetes-preserve-unknown-fields. Its metadata is checked as ObjectMeta;
- a document whose kind has neither is an error (add its CRD to --schemas).

Then, for each rendered overlay (not for files given with --schema-only),
checks that the objects fit together and follow this project's rules:
one namespace; every pod spec has enableServiceLinks: false (Kubernetes
would inject DIRSYNC_*_SERVICE_HOST variables, which dirsync reads as
unknown settings and refuses), non-root, read-only root, no privilege
escalation, all capabilities dropped, requests and limits, a pinned image
tag; Deployments have liveness and readiness probes on declared ports;
Services, PodDisruptionBudgets, ServiceMonitors and autoscalers select or
name something that exists; a PodDisruptionBudget never blocks drains; one
autoscaler per Deployment and no spec.replicas on an autoscaled one;
references to ConfigMaps (and to Secrets where the overlay renders them)
resolve. CRD x-kubernetes-validations (CEL) are not evaluated, except the
ScaledObject's minReplicaCount <= maxReplicaCount, checked here by hand.

Prints one line per file and one per error; exits 1 on any error.
"""

import argparse
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

CLUSTER_SCOPED = {
    "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
    "PriorityClass", "StorageClass", "PersistentVolume", "IngressClass",
    "ClusterTriggerAuthentication", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}


# --- CRD schemas -------------------------------------------------------------

def structural_to_jsonschema(node, root=True):
    """A CRD's openAPIV3Schema as a JSON Schema that rejects what the API
    server would prune or refuse: declared objects are closed."""
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: structural_to_jsonschema(v, False) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = structural_to_jsonschema(value, False)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [structural_to_jsonschema(v, False) for v in value]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "example", "externalDocs"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    closed = (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and not node.get("x-kubernetes-embedded-resource")
    )
    if closed:
        out["additionalProperties"] = False
    if root:
        # metadata is checked apart, as ObjectMeta.
        out.get("properties", {}).pop("metadata", None)
        out["properties"]["metadata"] = {"type": "object"}
    return out


def load_crds(schema_dir):
    """{(apiVersion, kind): (validator, crd file)} for every served version."""
    crds = {}
    files = sorted(Path(schema_dir).glob("*.yaml")) + sorted(Path(schema_dir).glob("*.yml"))
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if schema is None:
                    continue
                converted = structural_to_jsonschema(schema)
                jsonschema.Draft202012Validator.check_schema(converted)
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                crds[key] = (jsonschema.Draft202012Validator(converted), path.name)
    return crds


def object_meta_validator(k8s_version):
    """ObjectMeta (strict) from kubernetes-validate's bundled schemas, resolved
    the way kubernetes_validate.validate resolves a kind's schema."""
    version = [v for v in kv_utils.all_versions()
               if kv_utils.major_minor(v) <= kv_utils.major_minor(k8s_version)][-1]
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kv_utils.schema_contents(f"{folder}/objectmeta-meta-v1.json", k8s_version)
    defs = kv_utils.schema_contents(f"{folder}/_definitions.json", k8s_version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def where(error):
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top)"


def short(message, limit=160):
    return message if len(message) <= limit else message[: limit - 3] + "..."


# --- schema validation -------------------------------------------------------

def validate_schemas(docs, crds, versions, meta_validators):
    errors = []
    for doc in docs:
        ident = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in crds:
            validator, _ = crds[key]
            for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                errors.append(f"{ident}: {where(err)}: {short(err.message)}")
            for version, meta in meta_validators.items():
                for err in meta.iter_errors(doc.get("metadata", {})):
                    path = ".".join(["metadata"] + [str(p) for p in err.absolute_path])
                    errors.append(f"{ident}: {path} (k8s {version}): {short(err.message)}")
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                errors.append(f"{ident}: {where(err)} (k8s {version}): {short(err.message)}")
            except kv_utils.SchemaNotFoundError:
                errors.append(
                    f"{ident}: unknown kind {doc.get('kind')} ({doc.get('apiVersion')}) for "
                    f"Kubernetes {version}: neither built in nor a CRD kept in deploy/k8s/schemas/")
                break
    return errors


# --- how the objects fit together -------------------------------------------

def selects(selector, labels):
    """A LabelSelector (or a plain map, for Service selectors) against labels."""
    if not selector:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    return spec.get("template", {})


def check_image(ident, image):
    if "@sha256:" in image:
        return []
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return [f"{ident}: image {image} has no tag (set it with `images:` in the overlay)"]
    if last.endswith(":latest"):
        return [f"{ident}: image {image} uses `latest`; pin a version"]
    return []


def check_pod(ident, kind, pod, names):
    errors = []
    spec = pod.get("spec", {})
    if spec.get("enableServiceLinks") is not False:
        errors.append(
            f"{ident}: enableServiceLinks must be false (Kubernetes would inject "
            "DIRSYNC_*_SERVICE_* variables, which dirsync refuses as unknown settings)")
    pod_sc = spec.get("securityContext", {})
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    for c in containers:
        cid = f"{ident} container {c.get('name')}"
        sc = c.get("securityContext", {})
        errors += check_image(cid, c.get("image", ""))
        if not (sc.get("runAsNonRoot") or (pod_sc.get("runAsNonRoot") and sc.get("runAsNonRoot") is not False)):
            errors.append(f"{cid}: runAsNonRoot must be true")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{cid}: securityContext.readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{cid}: securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
            errors.append(f"{cid}: securityContext.capabilities.drop must include ALL")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(part) or {}):
                    errors.append(f"{cid}: resources.{part}.{r} is missing")
        ports = {p.get("name") for p in c.get("ports", []) if p.get("name")}
        numbers = {p.get("containerPort") for p in c.get("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            port = (c.get(probe) or {}).get("httpGet", {}).get("port")
            if isinstance(port, str) and port not in ports:
                errors.append(f"{cid}: {probe} uses port `{port}`, which the container does not declare")
            if isinstance(port, int) and port not in numbers:
                errors.append(f"{cid}: {probe} uses port {port}, which the container does not declare")
        if kind == "Deployment" and c in spec.get("containers", []):
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    errors.append(f"{cid}: {probe} is missing")
        for ref in c.get("envFrom", []):
            for kind_key, target in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                r = ref.get(kind_key)
                if r:
                    errors += check_ref(cid, target, r.get("name"), r.get("optional"), names)
        for env in c.get("env", []):
            vf = env.get("valueFrom", {})
            for kind_key, target in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                r = vf.get(kind_key)
                if r:
                    errors += check_ref(cid, target, r.get("name"), r.get("optional"), names)
        mounts = {m["name"] for m in c.get("volumeMounts", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for m in sorted(mounts - volumes):
            errors.append(f"{cid}: volumeMount {m} has no volume")
    for v in spec.get("volumes", []):
        if "secret" in v:
            errors += check_ref(ident, "Secret", v["secret"].get("secretName"), v["secret"].get("optional"), names)
        if "configMap" in v:
            errors += check_ref(ident, "ConfigMap", v["configMap"].get("name"), v["configMap"].get("optional"), names)
    return errors


def check_ref(ident, kind, name, optional, names):
    if optional:
        return []
    if kind == "Secret" and not names.get("Secret"):
        return []  # Secrets are created out of band in this overlay
    if name not in names.get(kind, set()):
        return [f"{ident}: refers to {kind} {name}, which is not rendered"]
    return []


def check_together(docs):
    errors = []
    names = {}
    seen = set()
    namespaces = set()
    for d in docs:
        meta = d.get("metadata", {})
        key = (d.get("apiVersion", "").split("/")[0], d.get("kind"), meta.get("name"))
        if key in seen:
            errors.append(f"{d.get('kind')}/{meta.get('name')}: rendered twice")
        seen.add(key)
        names.setdefault(d.get("kind"), set()).add(meta.get("name"))
        if d.get("kind") not in CLUSTER_SCOPED:
            namespaces.add(meta.get("namespace"))
    if len(namespaces) > 1 or None in namespaces:
        shown = ", ".join(sorted(str(n) for n in namespaces))
        errors.append(f"namespaced objects must share one namespace set by the overlay; found: {shown}")

    workloads = [d for d in docs if d.get("kind") in WORKLOADS]
    for w in workloads:
        ident = f"{w['kind']}/{w['metadata']['name']}"
        errors += check_pod(ident, w["kind"], pod_template(w), names)

    def pods_selected(selector, only_long_running=False):
        found = []
        for w in workloads:
            if only_long_running and w["kind"] in ("Job", "CronJob"):
                continue
            if selects(selector, pod_template(w).get("metadata", {}).get("labels", {})):
                found.append(w)
        return found

    # Autoscalers: target exists, one per Deployment, no spec.replicas there.
    scaled = {}
    for d in docs:
        kind = d.get("kind")
        if kind not in ("ScaledObject", "HorizontalPodAutoscaler"):
            continue
        ident = f"{kind}/{d['metadata']['name']}"
        spec = d.get("spec", {})
        ref = spec.get("scaleTargetRef", {})
        target_kind = ref.get("kind", "Deployment")
        target = next((w for w in workloads
                       if w["kind"] == target_kind and w["metadata"]["name"] == ref.get("name")), None)
        if target is None:
            errors.append(f"{ident}: scaleTargetRef {target_kind}/{ref.get('name')} is not rendered")
            continue
        if kind == "ScaledObject":
            lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
            for t in spec.get("triggers", []):
                auth = t.get("authenticationRef")
                if auth and auth.get("name") not in names.get(auth.get("kind", "TriggerAuthentication"), set()):
                    errors.append(f"{ident}: trigger {t.get('name', t.get('type'))} uses "
                                  f"authenticationRef {auth.get('name')}, which is not rendered")
        else:
            lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
        if lo > hi:
            errors.append(f"{ident}: minimum {lo} is above maximum {hi}")
        tkey = (target_kind, ref.get("name"))
        if tkey in scaled:
            errors.append(f"{ident}: {target_kind}/{ref.get('name')} is already scaled by {scaled[tkey][0]}")
        scaled[tkey] = (ident, lo)
        if "replicas" in target.get("spec", {}):
            errors.append(f"{target_kind}/{ref.get('name')}: spec.replicas is set but {ident} owns the "
                          "scale (every apply would reset it); drop it")

    def min_replicas(w):
        key = (w["kind"], w["metadata"]["name"])
        if key in scaled:
            return scaled[key][1]
        return w.get("spec", {}).get("replicas", 1)

    for d in docs:
        kind = d.get("kind")
        ident = f"{kind}/{d.get('metadata', {}).get('name')}"
        spec = d.get("spec", {})
        if kind == "Service" and spec.get("selector"):
            matched = pods_selected(spec["selector"], only_long_running=True)
            if not matched:
                errors.append(f"{ident}: selector matches no pod template")
            for p in spec.get("ports", []):
                tp = p.get("targetPort")
                if isinstance(tp, str):
                    for w in matched:
                        declared = {cp.get("name") for c in pod_template(w).get("spec", {}).get("containers", [])
                                    for cp in c.get("ports", [])}
                        if tp not in declared:
                            errors.append(f"{ident}: targetPort `{tp}` is not a port of {w['kind']}/{w['metadata']['name']}")
        elif kind == "PodDisruptionBudget":
            matched = pods_selected(spec.get("selector"), only_long_running=True)
            if not matched:
                errors.append(f"{ident}: selector matches no pod template")
            total = sum(min_replicas(w) for w in matched)
            floor = spec.get("minAvailable")
            if isinstance(floor, int) and matched and floor >= total:
                errors.append(f"{ident}: minAvailable {floor} with {total} replica(s) blocks every node drain")
            if spec.get("maxUnavailable") == 0:
                errors.append(f"{ident}: maxUnavailable 0 blocks every node drain")
        elif kind == "ServiceMonitor":
            services = [s for s in docs if s.get("kind") == "Service"
                        and selects(spec.get("selector"), s.get("metadata", {}).get("labels", {}))]
            if not services:
                errors.append(f"{ident}: selector matches no Service")
            for ep in spec.get("endpoints", []):
                port = ep.get("port")
                if port and not any(port == p.get("name") for s in services for p in s["spec"].get("ports", [])):
                    errors.append(f"{ident}: endpoint port `{port}` is on no selected Service")
    return errors


# --- main --------------------------------------------------------------------

def load_docs(path):
    try:
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]
    except yaml.YAMLError as err:
        return None, [f"not YAML: {short(str(err))}"]
    problems = []
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") \
                or not d.get("metadata", {}).get("name"):
            problems.append(f"document {i + 1}: needs apiVersion, kind and metadata.name")
    return docs, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schemas", required=True, help="folder of CRD YAML files")
    ap.add_argument("--k8s-version", action="append", required=True, dest="versions")
    ap.add_argument("--schema-only", action="append", default=[], metavar="FILE",
                    help="validate schemas only (no cross-object rules), e.g. an example file")
    ap.add_argument("rendered", nargs="*", help="rendered overlays (kubectl kustomize output)")
    args = ap.parse_args()

    crds = load_crds(args.schemas)
    if not crds:
        print(f"k8s-check: no CRD found in {args.schemas}")
        return 1
    metas = {v: object_meta_validator(v) for v in args.versions}

    failed = 0
    total = 0
    for path, together in [(p, True) for p in args.rendered] + [(p, False) for p in args.schema_only]:
        label = Path(path).stem if together else path
        docs, errors = load_docs(path)
        if docs is not None and not errors:
            if not docs:
                errors.append("renders nothing")
            errors += validate_schemas(docs, crds, args.versions, metas)
            if together:
                errors += check_together(docs)
        total += len(docs or [])
        if errors:
            failed += 1
            print(f"FAIL {label}: {len(errors)} error(s)")
            for e in errors:
                print(f"  {label}: {e}")
        else:
            kinds = {}
            for d in docs:
                kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            print(f"ok   {label}: {len(docs)} objects ({summary})")
    files = len(args.rendered) + len(args.schema_only)
    crd_kinds = ", ".join(sorted({k for _, k in crds}))
    print(f"k8s-check: {files - failed} of {files} files valid, {total} objects, "
          f"Kubernetes {' and '.join(args.versions)}, CRDs: {crd_kinds}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
