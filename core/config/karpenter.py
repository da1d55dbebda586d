"""`karpenter`: the Karpenter controller, its EC2NodeClass and NodePools (section absent: no Karpenter)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from core.bottlerocket_settings import BottlerocketSettings, LabelKey, LabelValue, Quantity, reserved_node_label
from core.config.base import ConfigSection, Problem
from core.config.kubernetes import KubernetesName, Resources, TaintConfig, resources_default
from core.tags import NODE_POOL_LABEL


_KARPENTER_DURATION = re.compile(r"(([0-9]+(s|m|h))+|Never)")


def _karpenter_duration(value: str) -> str:
    if not _KARPENTER_DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a Karpenter duration (examples: 30s, 5m, 720h, Never)")
    return value


def _budget_nodes(value: str) -> str:
    if not re.fullmatch(r"((100|[0-9]{1,2})%|[0-9]+)", value):
        raise ValueError(f"{value!r} is not a node count or a percentage (examples: 1, 10%)")
    return value


KarpenterDuration = Annotated[str, AfterValidator(_karpenter_duration)]
BudgetNodes = Annotated[str, AfterValidator(_budget_nodes)]


class KarpenterControllerConfig(ConfigSection):
    replicas: Annotated[int, Field(ge=1, le=5)] = 2
    resources: Resources = resources_default("1", "1Gi", "1", "1Gi")


class NodeClassConfig(ConfigSection):
    version_from: str | None = None  # an enabled node group; default: the first enabled one by name
    bottlerocket: BottlerocketSettings = BottlerocketSettings()


class BudgetConfig(ConfigSection):
    nodes: BudgetNodes
    reasons: list[Literal["Underutilized", "Empty", "Drifted"]] | None = None
    schedule: str | None = None
    duration: str | None = None


class DisruptionConfig(ConfigSection):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmptyOrUnderutilized"
    consolidate_after: KarpenterDuration = "1m"
    budgets: list[BudgetConfig] = Field(default_factory=lambda: [BudgetConfig.model_validate({"nodes": "10%"})])


def _default_pool_limits() -> dict[Literal["cpu", "memory"], str]:
    return {"cpu": "100", "memory": "400Gi"}


class NodePoolConfig(ConfigSection):
    architectures: list[Literal["amd64", "arm64"]] = Field(default=["amd64"], min_length=1)
    capacity_types: list[Literal["spot", "on-demand"]] = Field(default=["spot", "on-demand"], min_length=1)
    instance_categories: list[Annotated[str, Field(pattern=r"^[a-z]$")]] = Field(default=["c", "m", "r"], min_length=1)
    minimum_instance_generation: Annotated[int, Field(ge=1, le=20)] = 6
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=_default_pool_limits)
    disruption: DisruptionConfig = Field(default_factory=DisruptionConfig)
    expire_after: KarpenterDuration = "720h"
    weight: Annotated[int, Field(ge=1, le=100)] | None = None
    labels: dict[LabelKey, LabelValue] = {}
    taints: list[TaintConfig] = []


class KarpenterConfig(ConfigSection):
    controller: KarpenterControllerConfig = Field(default_factory=KarpenterControllerConfig)
    node_class: NodeClassConfig = Field(default_factory=NodeClassConfig)
    node_pools: dict[KubernetesName, NodePoolConfig] = Field(default_factory=lambda: {"default": NodePoolConfig()}, min_length=1)
    # EC2 refuses Spot launches in an account without the AWSServiceRoleForEC2Spot service-linked role, and
    # Karpenter's role may not create it (karpenter-provider-aws v1.14.1 pkg/providers/instance/instance.go:644
    # marks spot unavailable on ServiceLinkedRoleCreationNotPermitted; website/content/en/docs/troubleshooting.md
    # "Missing Service Linked Role"). A stack that uses spot must decide: true creates it, false says it exists.
    create_spot_service_linked_role: bool | None = None


# Label domains a NodePool's template may not use: the CEL rules on spec.template.metadata.labels in
# aws/karpenter-provider-aws v1.14.1, pkg/apis/crds/karpenter.sh_nodepools.yaml (tests' copy: shared
# crds/karpenter.sh_nodepools.yaml, lines 223-231). Karpenter sets these itself (capacityTypes,
# instance facts) and the API server refuses the NodePool otherwise.
KARPENTER_LABEL_DOMAINS = ("karpenter.sh", "karpenter.k8s.aws")


def _node_pool_label_problem(key: str) -> str | None:
    prefix = key.rpartition("/")[0]
    if key == NODE_POOL_LABEL:
        return "is set by the program to the node pool's name"
    if key == "kubernetes.io/hostname" or any(prefix == d or prefix.endswith("." + d) for d in KARPENTER_LABEL_DOMAINS):
        return "is restricted by Karpenter's NodePool CRD (it sets this label itself); use a prefix of your own"
    return reserved_node_label(key)


SPOT_ROLE_DECISION = ("node pool {pool!r} launches spot: set true to create the EC2 Spot service-linked role, or false "
                      "when the account has it (aws iam get-role --role-name AWSServiceRoleForEC2Spot)")


def node_pool_problems(karpenter: KarpenterConfig) -> list[Problem]:
    problems: list[Problem] = []
    spot_pools = [name for name, pool in karpenter.node_pools.items() if "spot" in pool.capacity_types]
    if spot_pools and karpenter.create_spot_service_linked_role is None:
        problems.append(Problem(("karpenter", "createSpotServiceLinkedRole"), SPOT_ROLE_DECISION.format(pool=spot_pools[0])))
    for name, pool in karpenter.node_pools.items():
        for key in pool.labels:
            if reason := _node_pool_label_problem(key):
                problems.append(Problem(("karpenter", "nodePools", name, "labels", key), reason))
        for index, budget in enumerate(pool.disruption.budgets):
            if (budget.schedule is None) != (budget.duration is None):
                problems.append(Problem(("karpenter", "nodePools", name, "disruption", "budgets", index),
                                        "schedule and duration must be set together"))
    return problems
