"""What changes between two offline plans, and which changes replace nodes: `plan --compare DIR`.

A plain function over two plan documents (`resources.json`); `plan` only loads the earlier one and prints.
Resources are matched by URN without its stack part, so a plan can also be compared with another stack's.

Which input changes replace what comes from the providers' own code; the tables below cite it:

- Terraform AWS provider (what pulumi-aws bridges), hashicorp/terraform-provider-aws, read at the stored
  snapshot commit 012e0a32f0686212f447447fd3d81c3d0ce256ad:
  - internal/service/eks/node_group.go, `resourceNodeGroup` schema: `ForceNew: true` on ami_type,
    capacity_type, cluster_name, disk_size, instance_types, launch_template.id, launch_template.name,
    node_group_name, node_group_name_prefix, node_role_arn, remote_access, subnet_ids: a new node group
    is created and the old one deleted. `resourceNodeGroupUpdate` sends launch_template, release_version
    and version changes as one `UpdateNodegroupVersion` call.
  - internal/service/ec2/ec2_launch_template.go, `resourceLaunchTemplateUpdate`: a change of any key of
    `updateKeys` (block_device_mappings, metadata_options, tag_specifications, user_data, description, ...)
    creates a new launch template version, so the template's `latestVersion` moves; name and name_prefix
    are ForceNew.
- EKS API reference, UpdateNodegroupVersion: "Updates the Kubernetes version or AMI version of an Amazon
  EKS managed node group ... you can update the launch template version"; nodes are replaced by new ones
  and "every Pod on that node is drained first". A node group that follows its launch template's
  `latestVersion` therefore replaces its nodes whenever the template gets a new version.
- Karpenter (aws/karpenter-provider-aws v1.14.1, pkg/apis/v1/ec2nodeclass.go, `EC2NodeClass.Hash`): the
  static drift hash covers the whole spec except the fields tagged `hash:"ignore"` (subnetSelectorTerms,
  securityGroupSelectorTerms, capacityReservationSelectorTerms, ipPrefixCount, amiSelectorTerms,
  amiFamily); those are checked dynamically, by what they resolve to (a new AMI, other subnets or
  security groups). A drifted node is replaced by Karpenter's disruption controller.
- Karpenter NodePool (kubernetes-sigs/karpenter, pkg/apis/v1/nodepool.go, `NodePool.Hash`): the drift
  hash is taken over `spec.template`; limits, disruption and weight do not drift nodes.
"""

from __future__ import annotations

import base64
import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, TextIO

from core.resource_types import LAUNCH_TEMPLATE, NODE_CLASS, NODE_GROUP, NODE_POOL
from core.release_version import HELD_UNTIL_ROLLOUT

# Terraform attribute paths (snake_case, as in the provider source) that force a new resource.
FORCE_NEW = {
    NODE_GROUP: {"ami_type", "capacity_type", "cluster_name", "disk_size", "instance_types", "launch_template.id",
                 "launch_template.name", "node_group_name", "node_group_name_prefix", "node_role_arn",
                 "remote_access", "subnet_ids"},
    LAUNCH_TEMPLATE: {"name", "name_prefix"},
}
# aws_eks_node_group attributes updated in place by UpdateNodegroupVersion, which replaces the nodes.
NODE_GROUP_VERSION_UPDATE = {"launch_template.version", "release_version", "version"}
# aws_launch_template `updateKeys`: a change creates a new launch template version.
LAUNCH_TEMPLATE_NEW_VERSION = {
    "block_device_mappings", "capacity_reservation_specification", "cpu_options", "credit_specification", "description",
    "disable_api_stop", "disable_api_termination", "ebs_optimized", "elastic_gpu_specifications",
    "elastic_inference_accelerator", "enclave_options", "hibernation_options", "iam_instance_profile", "image_id",
    "instance_initiated_shutdown_behavior", "instance_market_options", "instance_requirements", "instance_type",
    "kernel_id", "key_name", "license_specification", "metadata_options", "monitoring", "network_interfaces",
    "placement", "private_dns_name_options", "ram_disk_id", "security_group_names", "tag_specifications", "user_data",
    "vpc_security_group_ids",
}
# EC2NodeClass spec fields outside the static drift hash: they drift nodes only when what they select changes.
NODE_CLASS_DYNAMIC_DRIFT = {
    "amiSelectorTerms": "when the alias or selector resolves to another AMI",
    "subnetSelectorTerms": "when the selected subnets differ",
    "securityGroupSelectorTerms": "when the selected security groups differ",
    "capacityReservationSelectorTerms": "when the selected capacity reservations differ",
}
NODE_CLASS_NO_DRIFT = {"ipPrefixCount", "amiFamily"}


@dataclass(frozen=True)
class PathChange:
    path: str
    old: Any
    new: Any
    ignored: bool = False  # in the resource's ignoreChanges: Pulumi keeps the live value


@dataclass
class ResourceChange:
    action: str  # "create", "delete", "update"
    type: str
    name: str
    paths: list[PathChange] = field(default_factory=list)
    replaced: bool = False  # the provider deletes and re-creates the resource
    nodes: list[str] = field(default_factory=list)  # why nodes are replaced, one line each
    held: list[str] = field(default_factory=list)  # node replacements a frozen or pinned group keeps off its nodes

    @property
    def only_ignored(self) -> bool:
        return self.action == "update" and all(change.ignored for change in self.paths)


def _key(record: dict[str, Any]) -> str:
    return record["urn"].split("::", 1)[1]  # without `urn:pulumi:<stack>`


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(path, old, new) of every leaf that differs; a list whose length changes is one change."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(old.keys() | new.keys()):
            changes += changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [change for i, (a, b) in enumerate(zip(old, new)) for change in changed_paths(a, b, f"{prefix}[{i}]")]
    return [] if old == new else [(prefix, old, new)]


def _snake(path: str) -> str:
    """`launchTemplate.id` -> `launch_template.id`, `blockDeviceMappings[1].ebs` -> `block_device_mappings`."""
    parts = [re.sub(r"(?<!^)(?=[A-Z])", "_", part).lower() for part in re.sub(r"\[\d+\]", "", path).split(".")]
    return ".".join(parts)


def _matches(path: str, attributes: set[str]) -> bool:
    snake = _snake(path)
    return any(snake == attribute or snake.startswith(f"{attribute}.") for attribute in attributes)


def _ignored(path: str, ignore_changes: list[str]) -> bool:
    return any(path == ignored or path.startswith(f"{ignored}.") or path.startswith(f"{ignored}[") for ignored in ignore_changes)


def _update(old: dict[str, Any], new: dict[str, Any]) -> ResourceChange | None:
    ignore = new["options"].get("ignoreChanges", [])
    paths = [PathChange(path, a, b, _ignored(path, ignore)) for path, a, b in changed_paths(old["inputs"], new["inputs"])]
    paths += [PathChange(f"options.{path}", a, b) for path, a, b in changed_paths(old["options"], new["options"])]
    if not paths:
        return None
    change = ResourceChange("update", new["type"], new["name"], paths)
    applied = [p.path for p in paths if not p.ignored and not p.path.startswith("options.")]
    change.replaced = any(_matches(path, FORCE_NEW.get(new["type"], set())) for path in applied)
    if new["type"] == NODE_GROUP:
        if change.replaced:
            change.nodes.append(f"node group {new['name']} is replaced: a new group with new nodes, then the old one is deleted")
        elif any(_matches(path, NODE_GROUP_VERSION_UPDATE) for path in applied):
            change.nodes.append(f"nodes of {new['name']} are replaced (UpdateNodegroupVersion: new nodes, old ones drained)")
    elif new["type"] == NODE_CLASS:
        change.nodes += _node_class_drift(new["inputs"]["metadata"]["name"], applied)
    elif new["type"] == NODE_POOL and any(path.startswith("spec.template") for path in applied):
        change.nodes.append(f"Karpenter drifts the nodes of NodePool {new['inputs']['metadata']['name']} (template changed) and replaces them")
    return change


def _node_class_drift(name: str, paths: list[str]) -> list[str]:
    reasons = []
    fields = {path.split(".")[1].split("[")[0] for path in paths if path.startswith("spec.")}
    hashed = sorted(fields - NODE_CLASS_NO_DRIFT - NODE_CLASS_DYNAMIC_DRIFT.keys())
    if hashed:
        reasons.append(f"Karpenter drifts the nodes of EC2NodeClass {name} ({', '.join(hashed)} changed) and replaces them")
    for dynamic in sorted(fields & NODE_CLASS_DYNAMIC_DRIFT.keys()):
        reasons.append(f"Karpenter drifts the nodes of EC2NodeClass {name} {NODE_CLASS_DYNAMIC_DRIFT[dynamic]} ({dynamic} changed)")
    return reasons


def compare_plans(old: dict[str, Any], new: dict[str, Any]) -> list[ResourceChange]:
    """Every resource created, deleted or updated from plan `old` to plan `new`, in URN order."""
    before = {_key(r): r for r in old["resources"]}
    after = {_key(r): r for r in new["resources"]}
    changes: list[ResourceChange] = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            changes.append(ResourceChange("create", after[key]["type"], after[key]["name"]))
        elif key not in after:
            changes.append(ResourceChange("delete", before[key]["type"], before[key]["name"]))
        elif (change := _update(before[key], after[key])) is not None:
            changes.append(change)
    _launch_template_versions(changes, new)
    return changes


def _launch_template_versions(changes: list[ResourceChange], new: dict[str, Any]) -> None:
    """A launch template with a new version replaces the nodes of every node group that uses it, unless the
    group holds its `launchTemplate.version` (ignoreChanges of a frozen or pinned group, core/release_version.py):
    then the provider sends no UpdateNodegroupVersion and the change waits for a rollout."""
    templates = {r["name"]: r["id"] for r in new["resources"] if r["type"] == LAUNCH_TEMPLATE}
    for change in changes:
        if change.type != LAUNCH_TEMPLATE or change.action != "update" or change.replaced:
            continue
        if any(_matches(p.path, LAUNCH_TEMPLATE_NEW_VERSION) for p in change.paths if not p.ignored):
            users = [r for r in new["resources"]
                     if r["type"] == NODE_GROUP and r["inputs"].get("launchTemplate", {}).get("id") == templates[change.name]]
            for user in users:
                if _ignored("launchTemplate.version", user["options"].get("ignoreChanges", [])):
                    change.held.append(f"new launch template version: node group {user['name']} keeps its nodes, "
                                       f"{HELD_UNTIL_ROLLOUT} (its ignoreChanges holds launchTemplate.version)")
                else:
                    change.nodes.append(f"new launch template version: nodes of node group {user['name']} are replaced "
                                        "(UpdateNodegroupVersion: new nodes, old ones drained)")


def summary_line(changes: list[ResourceChange]) -> str:
    counts = {action: sum(1 for c in changes if c.action == action and not c.only_ignored) for action in ("create", "delete", "update")}
    ignored = sum(1 for c in changes if c.only_ignored)
    replaced = sum(1 for c in changes if c.replaced)
    nodes = sum(1 for c in changes if c.nodes)
    return (f"{counts['create']} to create, {counts['delete']} to delete, {counts['update']} to update"
            f" ({replaced} replaced), {ignored} ignored by ignoreChanges; "
            + (f"{nodes} change(s) replace nodes." if nodes else "nothing replaces nodes."))


def _show(value: Any, limit: int = 70) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _text_diff(old: Any, new: Any, path: str) -> list[str]:
    """Changed lines of multi-line text values (TOML user data, also when base64-encoded)."""
    def text(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        if path.endswith("userData") and "\n" not in value:
            try:
                value = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return None
        return value if "\n" in value else None

    a, b = text(old), text(new)
    if a is None or b is None:
        return []
    return [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


_SIGNS = {"create": "+ create", "delete": "- delete", "update": "~ update"}


def print_comparison(changes: list[ResourceChange], old_folder: str, out: TextIO) -> None:
    out.write(f"\nCompared with the plan in {old_folder}:\n")
    for change in changes:
        label = "~ ignored" if change.only_ignored else ("~ replace" if change.replaced else _SIGNS[change.action])
        out.write(f"  {label}  {change.type}  {change.name}\n")
        for path in change.paths:
            note = "  (in ignoreChanges: Pulumi keeps the live value)" if path.ignored else ""
            out.write(f"      {path.path}: {_show(path.old)} -> {_show(path.new)}{note}\n")
            for line in _text_diff(path.old, path.new, path.path):
                out.write(f"          {line}\n")
        for reason in change.nodes:
            out.write(f"      ! {reason}\n")
        for reason in change.held:
            out.write(f"      = {reason}\n")
    node_lines = [reason for change in changes for reason in change.nodes]
    out.write("\nNodes replaced:\n" + "".join(f"  - {line}\n" for line in node_lines) if node_lines else "\nNo change replaces nodes.\n")
    held_lines = [reason for change in changes for reason in change.held]
    if held_lines:
        out.write("\nHeld until rollout (a blue/green rollout brings them):\n" + "".join(f"  - {line}\n" for line in held_lines))
    out.write(f"\nCompare: {summary_line(changes)}\n")


def comparison_json(changes: list[ResourceChange]) -> dict[str, Any]:
    return {
        "changes": [{"action": c.action, "type": c.type, "name": c.name, "replaced": c.replaced, "ignored": c.only_ignored,
                     "paths": [{"path": p.path, "old": p.old, "new": p.new, "ignored": p.ignored} for p in c.paths],
                     "nodesReplaced": c.nodes, "heldUntilRollout": c.held} for c in changes],
        "summary": summary_line(changes),
    }
