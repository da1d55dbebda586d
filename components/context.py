"""What every component shares: the one contract is `Component(name, section, context, *, wiring, opts)`.

`section` is the component's part of the stack configuration, or its plan from core/deployment.py where
values are derived from several sections; `context` carries the names, region, tags, protection and
providers of the stack (and, once it exists, the cluster); keyword arguments after it only wire in
resources of other components (a subnet list, a role ARN, the KEDA operator). Each component derives
the rest from core functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi_aws as aws

if TYPE_CHECKING:
    from components.cluster import Cluster


@dataclass(frozen=True)
class DeploymentContext:
    """The stack's shared facts, before the cluster exists."""

    cluster_name: str  # cluster.name of the stack file: the physical names of queues, node groups, ... derive from it
    region: str
    tags: Mapping[str, str]  # the stack's `tags` and the stack tag
    protect: bool  # stack.protect: what holds state refuses destroy and replacement
    aws_provider: aws.Provider

    def with_cluster(self, cluster: Cluster) -> ClusterContext:
        return ClusterContext(**{field.name: getattr(self, field.name) for field in dataclasses.fields(self)}, cluster=cluster)


@dataclass(frozen=True)
class ClusterContext(DeploymentContext):
    """The stack's shared facts and the cluster: its name as an output, its Kubernetes provider."""

    cluster: Cluster
