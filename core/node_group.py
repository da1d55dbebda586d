"""A managed node group's inputs that the stack file describes in Kubernetes' or the plan's terms, spelled
as pulumi-aws takes them (aws.ec2.LaunchTemplate, aws.eks.NodeGroup), as plain data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic.alias_generators import to_snake

from core.config.kubernetes import TaintConfig

# Kubernetes' taint effect -> EKS's spelling of it (pulumi-aws 7.51.1 sdk/python/pulumi_aws/eks/_inputs.py,
# NodeGroupTaintArgs.effect: "Valid values: `NO_SCHEDULE`, `NO_EXECUTE`, `PREFER_NO_SCHEDULE`").
EKS_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}


def node_group_taints(taints: Iterable[TaintConfig]) -> list[dict[str, str | None]]:
    """The node group's `taints`: EKS's effect names, and no value (None) for a taint without one."""
    return [{"key": taint.key, "value": taint.value or None, "effect": EKS_TAINT_EFFECTS[taint.effect]} for taint in taints]


def launch_template_block_devices(mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both Bottlerocket volumes (core/block_devices.py, NodeGroupPlan.block_devices) as the launch template's
    arguments: snake_case, and the flags as the strings pulumi-aws types them (LaunchTemplateBlockDeviceMappingEbsArgs)."""
    def flag_or_value(value: Any) -> Any:
        return str(value).lower() if isinstance(value, bool) else value

    return [{"device_name": mapping["deviceName"], "ebs": {to_snake(key): flag_or_value(value) for key, value in mapping["ebs"].items()}}
            for mapping in mappings]
