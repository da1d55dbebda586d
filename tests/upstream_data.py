"""The upstream reference data copied into tests/upstream (provenance: tests/upstream/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

UPSTREAM = Path(__file__).resolve().parent / "upstream"
KARPENTER_CLOUDFORMATION = UPSTREAM / "karpenter-1.14.1" / "cloudformation.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (`!Sub x`) as their long form (`{"Fn::Sub": x}`)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value = (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
             else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node))
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def karpenter_template() -> dict[str, Any]:
    return yaml.load(KARPENTER_CLOUDFORMATION.read_text(), Loader=_CloudFormationLoader)


def karpenter_controller_policies(substitutions: dict[str, str]) -> dict[str, Any]:
    """The template's controller policies by short name (`NodeLifecycle`, ...), placeholders substituted."""
    policies = {}
    for resource in karpenter_template()["Resources"].values():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        properties = resource["Properties"]
        name = properties["ManagedPolicyName"]["Fn::Sub"].removeprefix("KarpenterController").split("Policy-")[0]
        text = properties["PolicyDocument"]["Fn::Sub"]
        for placeholder, value in substitutions.items():
            text = text.replace(placeholder, value)
        policies[name] = json.loads(text)
    return policies


def karpenter_event_patterns() -> list[dict[str, Any]]:
    return [resource["Properties"]["EventPattern"] for resource in karpenter_template()["Resources"].values()
            if resource["Type"] == "AWS::Events::Rule"]
