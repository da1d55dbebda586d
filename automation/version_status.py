"""Kubernetes versions for `status`: control plane, node groups and skew, EKS add-ons against EKS'
defaults, and what is due (core/version_status.py). `status` reads the cluster and its node groups once
(automation/eks_node_groups.py) and hands them to `collect_version_status`, which reads only the add-ons
with boto3; `status` prints its report, nothing here prints.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automation.eks_node_groups import LiveCluster, read_live_cluster
from automation.exit_codes import one_line
from core.config.stack_config import StackConfig
from core.upgrade_check import addon_versions_offered
from core.version_status import version_report


def _installed_addons(eks: Any, cluster_name: str, control_plane: str) -> dict[str, dict[str, str | None]]:
    installed = {}
    for page in eks.get_paginator("list_addons").paginate(clusterName=cluster_name):
        for name in page["addons"]:
            version = eks.describe_addon(clusterName=cluster_name, addonName=name)["addon"]["addonVersion"]
            pages = eks.get_paginator("describe_addon_versions").paginate(addonName=name, kubernetesVersion=control_plane)
            installed[name] = {"version": version, "default": addon_versions_offered(pages, control_plane)["default"]}
    return installed


def kubernetes_versions(live: LiveCluster) -> tuple[str, dict[str, str]]:
    """The control plane's Kubernetes version and each managed node group's (by its eks-bottlerocket/
    node-group tag, else by its EKS name), from what was read."""
    groups = {owner: group["version"] for owner, group in live.tagged.items()}
    groups.update({group["nodegroupName"]: group["version"] for group in live.untagged})
    return live.cluster["version"], groups


def live_versions(eks: Any, cluster_name: str) -> tuple[str, dict[str, str]]:
    """`kubernetes_versions` of a fresh read, for upgrade-check (automation/upgrade_check.py), which reads
    nothing else of the cluster."""
    return kubernetes_versions(read_live_cluster(eks, cluster_name))


def collect_version_status(config: StackConfig, stack: str, eks: Any, live: LiveCluster) -> dict[str, Any]:
    """The version report of the cluster and node groups already read (`live`); `eks` reads the add-ons.
    An add-on API that cannot be read is reported under `due` instead, so the versions of the cluster and
    its nodes still show."""
    control_plane, groups = kubernetes_versions(live)
    try:
        addons, unreadable = _installed_addons(eks, config.cluster.name, control_plane), None
    except (ClientError, BotoCoreError) as error:
        addons, unreadable = {}, f"EKS add-ons could not be read: {one_line(error)}"
    report = version_report(config, stack, control_plane, groups, addons)
    if unreadable:
        report["due"].insert(0, unreadable)
    return report
