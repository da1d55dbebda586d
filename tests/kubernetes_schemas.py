"""Validation of rendered Kubernetes objects against upstream schemas.

Custom resources: the openAPIV3Schema of the real CRDs in tests/upstream/crds (KEDA 2.20.2, Karpenter
1.14.1), made strict: an object schema with `properties` rejects unknown fields, which the API server
would silently prune. CEL rules (`x-kubernetes-validations`) are not evaluated here; the tests check the
ones that matter for this program directly. Built-in kinds: kubernetes-validate's strict OpenAPI schemas.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.upstream_data import UPSTREAM

CUSTOM_GROUPS = ("keda.sh/", "karpenter.sh/", "karpenter.k8s.aws/")


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields") \
                and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@cache
def crd_schemas(folder: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(apiVersion, kind) -> strict schemas, from every CRD file in `folder` (and its subfolders)."""
    schemas: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted(Path(folder).rglob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        for version in crd["spec"]["versions"]:
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            schema["properties"]["metadata"] = {"type": "object"}
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            schemas.setdefault(key, []).append(_strict(schema))
    return schemas


def validate(manifest: dict[str, Any], kubernetes_version: str = "1.33") -> None:
    """Raise if `manifest` breaks its schema; every known CRD copy of a kind must accept it."""
    if manifest["apiVersion"].startswith(CUSTOM_GROUPS):
        folder = UPSTREAM / "crds"
        schemas = crd_schemas(str(folder)).get((manifest["apiVersion"], manifest["kind"]))
        if not schemas:
            raise AssertionError(f"no CRD in {folder} for {manifest['apiVersion']} {manifest['kind']}")
        for schema in schemas:
            jsonschema.validate(manifest, schema)
    else:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
