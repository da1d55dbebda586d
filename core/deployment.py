"""What the validated stack configuration means for each thing deployed, computed once as plain values.

`deployment_plan` turns a `StackConfig` into the per-node-group facts every consumer needs (Kubernetes
version, release policy, merged Bottlerocket settings, block devices, physical name prefix), the cluster's
(whether kube-proxy leaves conntrack to the nodes), the node role's (whether the nodes reach SSM), Karpenter's
(the group it follows, its node class settings) and each worker's (its resource name, secrets, grace cap). `__main__.py` passes these values to
the components and automation/ reads the same functions, so each fact is derived in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core import aws_limits
from core.config.cluster import ClusterConfig
from core.config.karpenter import KarpenterConfig
from core.config.node_groups import NodeGroupConfig
from core.config.stack_config import StackConfig
from core.config.workloads import WorkloadConfig
from core.block_devices import block_device_mappings
from core.bottlerocket_settings import settings_as_dict
from core.karpenter import node_class_settings
from core.release_version import ReleasePolicy, release_policy
from core.user_data import conntrack_max_configured, control_container_enabled, effective_settings


def enabled_node_groups(config: StackConfig) -> dict[str, NodeGroupConfig]:
    return {name: group for name, group in config.node_groups.items() if group.enabled}


def group_kubernetes_version(config: StackConfig, name: str) -> str:
    """A node group's own `kubernetesVersion`, else the cluster's."""
    return config.node_groups[name].kubernetes_version or config.cluster.kubernetes_version


def group_release_policy(config: StackConfig, name: str) -> ReleasePolicy:
    group = config.node_groups[name]
    return release_policy(group_kubernetes_version(config, name), group.ami_type, group.release_version, group.freeze)


def shared_bottlerocket_settings(config: StackConfig) -> dict[str, Any]:
    """Bottlerocket settings every node shares: defaults <- the stack's `bottlerocket`."""
    return effective_settings(settings_as_dict(config.bottlerocket))


def node_group_settings(config: StackConfig, name: str) -> dict[str, Any]:
    """Effective Bottlerocket settings of a node group: defaults <- stack <- node group."""
    return effective_settings(settings_as_dict(config.bottlerocket), settings_as_dict(config.node_groups[name].bottlerocket))


def karpenter_node_settings(config: StackConfig) -> dict[str, Any]:
    """Effective Bottlerocket settings of Karpenter's nodes: the stack's settings <- karpenter.nodeClass.bottlerocket
    (core/karpenter.py node_class_settings merges them and says what is left out)."""
    assert config.karpenter is not None
    return node_class_settings(shared_bottlerocket_settings(config), settings_as_dict(config.karpenter.node_class.bottlerocket))


@dataclass(frozen=True)
class NodeGroupPlan:
    """One enabled node group as it is deployed."""

    name: str
    config: NodeGroupConfig
    kubernetes_version: str
    release: ReleasePolicy
    settings: Mapping[str, Any]  # effective Bottlerocket settings
    block_devices: list[dict[str, Any]]  # core/block_devices.py, camelCase; each consumer spells them its way
    physical_name_prefix: str  # of its launch template and EKS node group


def node_group_plan(config: StackConfig, name: str) -> NodeGroupPlan:
    group = config.node_groups[name]
    return NodeGroupPlan(
        name=name, config=group, kubernetes_version=group_kubernetes_version(config, name),
        release=group_release_policy(config, name), settings=node_group_settings(config, name),
        block_devices=block_device_mappings(group.root_volume, group.data_volume),
        physical_name_prefix=aws_limits.node_group_name_prefix(config.cluster.name, name),
    )


@dataclass(frozen=True)
class NodeRolePlan:
    """An EC2 node role: what its nodes need beyond a worker node's managed policies."""

    ssm: bool  # some node runs Bottlerocket's control host container, which reaches SSM


def node_role_plan(settings: Iterable[Mapping[str, Any]]) -> NodeRolePlan:
    """The role of nodes with these effective Bottlerocket settings."""
    return NodeRolePlan(ssm=any(control_container_enabled(one) for one in settings))


@dataclass(frozen=True)
class ClusterPlan:
    """The cluster as deployed: its section, and what the node groups' settings ask of it."""

    config: ClusterConfig
    leave_conntrack_to_nodes: bool  # some node group sets conntrack itself, so kube-proxy must leave it alone


@dataclass(frozen=True)
class KarpenterPlan:
    """Karpenter as deployed: its nodes follow one managed group's variant, release and volumes."""

    config: KarpenterConfig
    followed: NodeGroupPlan  # karpenter.nodeClass.versionFrom, else the first enabled group by name
    settings: Mapping[str, Any]  # the EC2NodeClass's Bottlerocket settings, before Karpenter's split into spec.kubelet

    @property
    def node_role(self) -> NodeRolePlan:
        """The role of Karpenter's nodes, by the node class's settings."""
        return node_role_plan([self.settings])


@dataclass(frozen=True)
class WorkerPlan:
    """One SQS worker as deployed."""

    workload: WorkloadConfig
    resource_name: str  # the component's name, that of its resources (core/aws_limits.py worker_resource_name)
    secret_env: Mapping[str, str]  # workloadSecrets of this worker (Pulumi secrets)
    eviction_max_pod_grace_period: int | None  # the nodes' kubelet cap on its termination grace period


@dataclass(frozen=True)
class DeploymentPlan:
    cluster: ClusterPlan
    node_role: NodeRolePlan  # of the managed node groups' nodes
    node_groups: dict[str, NodeGroupPlan]  # the enabled ones, in stack-file order
    karpenter: KarpenterPlan | None
    workers: dict[str, WorkerPlan]


def deployment_plan(config: StackConfig) -> DeploymentPlan:
    """Every derived value of a validated stack configuration, each computed once."""
    node_groups = {name: node_group_plan(config, name) for name in enabled_node_groups(config)}
    karpenter = None
    if config.karpenter is not None:
        followed = config.karpenter.node_class.version_from or sorted(node_groups)[0]
        karpenter = KarpenterPlan(config.karpenter, node_groups[followed], karpenter_node_settings(config))
    eviction_cap = shared_bottlerocket_settings(config)["kubernetes"].get("eviction-max-pod-grace-period")
    workers = {workload.name: WorkerPlan(workload, aws_limits.worker_resource_name(workload.name),
                                         config.workload_secrets.get(workload.name, {}), eviction_cap)
               for workload in config.workloads}
    cluster = ClusterPlan(config.cluster, leave_conntrack_to_nodes=any(
        conntrack_max_configured(group.settings) for group in node_groups.values()))
    node_role = node_role_plan(group.settings for group in node_groups.values())
    return DeploymentPlan(cluster, node_role, node_groups, karpenter, workers)
