"""The cluster and its managed node groups as EKS describes them, read with boto3 (status, version status,
rollout)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class LiveCluster:
    """One read of the cluster (DescribeCluster) and its managed node groups (ListNodegroups, then
    DescribeNodegroup each), handed to every part of a command that needs them, so a run reads them once."""

    cluster: dict[str, Any]
    tagged: dict[str, dict[str, Any]]  # by the eks-bottlerocket/node-group tag
    untagged: list[dict[str, Any]]


def read_live_cluster(eks: Any, cluster_name: str) -> LiveCluster:
    """Raises botocore's ClientError (ResourceNotFoundException for a missing cluster) or BotoCoreError."""
    cluster = eks.describe_cluster(name=cluster_name)["cluster"]
    return LiveCluster(cluster, *live_node_groups(eks, cluster_name))
