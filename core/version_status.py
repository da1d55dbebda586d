"""What `status` shows about Kubernetes versions: the control plane, each node group's version and skew,
the EKS add-ons against EKS' default for the cluster's version, and what is due. Plain data in and out;
automation/version_status.py reads it from AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.deployment import enabled_node_groups, group_kubernetes_version
from core.eks_addons import MANAGED_ADDONS
from core.kubernetes_versions import MAX_KUBELET_SKEW, minor, next_minor
from core.kubernetes_versions import SUPPORTED_KUBERNETES_VERSIONS
from core.config.stack_config import StackConfig


def version_report(config: StackConfig, stack: str, control_plane: str, live_groups: Mapping[str, str],
                   addons: Mapping[str, Mapping[str, str | None]]) -> dict[str, Any]:
    """live_groups: node group (its eks-bottlerocket/node-group tag, else its EKS name) -> Kubernetes version;
    addons: EKS add-on name -> {"version": installed, "default": EKS' default for `control_plane`}."""
    due: list[str] = []
    groups = []
    for name, version in sorted(live_groups.items()):
        skew = minor(control_plane) - minor(version)
        configured = group_kubernetes_version(config, name) if name in enabled_node_groups(config) else None
        groups.append({"group": name, "kubernetesVersion": version, "skew": skew, "configured": configured})
        if skew > MAX_KUBELET_SKEW or skew < 0:
            due.append(f"{name} runs {version}, outside the kubelet skew of the control plane {control_plane}: replace it now")
        elif skew > 0:
            due.append(f"{name} runs {version}, {skew} behind the control plane: move it to {control_plane} (a blue/green "
                       "rollout) before the next control-plane upgrade, which EKS refuses until every group matches")
        if configured and configured != version:
            due.append(f"{name} is {configured} in the stack file but {version} live: the next `up` changes it")
    pins = {addon.addon_name: addon.pinned_version(config.eks_addons) for addon in MANAGED_ADDONS}
    addon_rows = []
    for name, info in sorted(addons.items()):
        pinned = pins.get(name)
        addon_rows.append({"name": name, "version": info["version"], "default": info["default"], "pinned": pinned,
                           "atDefault": info["version"] == info["default"]})
        if info["default"] and info["version"] != info["default"]:
            if name in pins and not pinned:
                due.append(f"{name} is {info['version']}; EKS' default for {control_plane} is {info['default']}: the next `up` moves it")
            elif pinned:
                due.append(f"{name} is pinned to {pinned} (eksAddons); EKS' default for {control_plane} is {info['default']}")
            else:
                due.append(f"{name} is {info['version']}; EKS' default for {control_plane} is {info['default']} "
                           "(pulumi-eks manages it)")
    if minor(control_plane) < minor(SUPPORTED_KUBERNETES_VERSIONS[-1]):
        due.append(f"Kubernetes {next_minor(control_plane)} is supported: python -m automation upgrade-check --stack {stack} "
                   f"--to {next_minor(control_plane)}")
    return {"controlPlane": control_plane, "nodeGroups": groups, "addons": addon_rows, "due": due}
