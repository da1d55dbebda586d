"""The cluster's managed node groups as EKS lists them, read with boto3 (status, version status, rollout)."""

from __future__ import annotations

from typing import Any

from core.tags import NODE_GROUP_TAG


def live_node_groups(eks: Any, cluster_name: str) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The cluster's managed node groups: by their `eks-bottlerocket/node-group` tag, and those without it."""
    tagged: dict[str, dict[str, Any]] = {}
    untagged: list[dict[str, Any]] = []
    for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster_name):
        for name in page["nodegroups"]:
            group = eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=name)["nodegroup"]
            owner = (group.get("tags") or {}).get(NODE_GROUP_TAG)
            if owner:
                tagged[owner] = group
            else:
                untagged.append(group)
    return tagged, untagged
