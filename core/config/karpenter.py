"""`karpenter`: the Karpenter controller, its EC2NodeClass and NodePools (section absent: no Karpenter)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from core.bottlerocket_settings import BottlerocketSettings, LabelKey, LabelValue, Quantity, reserved_node_label
from core.config.base import ConfigSection, Problem, Shape
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


KarpenterDuration = Annotated[str, AfterValidator(_karpenter_duration), Shape("duration (`30s`, `5m`, `720h`, `Never`)")]
BudgetNodes = Annotated[str, AfterValidator(_budget_nodes), Shape("node count or percentage (`1`, `10%`)")]


class KarpenterControllerConfig(ConfigSection):
    replicas: Annotated[int, Field(ge=1, le=5)] = Field(default=2, description=(
        "Chart `replicas`, one per managed node: must be below the sum of the enabled groups' `minSize` (a free node for "
        "drains); all groups at `minSize: 0` is refused."))
    resources: Resources = resources_default("1", "1Gi", "1", "1Gi", description="Chart `controller.resources`.")


class NodeClassConfig(ConfigSection):
    version_from: Annotated[str, Shape("an enabled node group's name")] | None = Field(default=None, description=(
        "An enabled node group whose version policy, volumes and settings Karpenter's nodes follow. Unset: the first enabled "
        "group by name."))
    bottlerocket: BottlerocketSettings = Field(default=BottlerocketSettings(), description=(
        "Bottlerocket settings merged over the stack-wide settings for Karpenter's nodes only."))


class BudgetConfig(ConfigSection):
    nodes: BudgetNodes = Field(description="The budget's `nodes`: how many nodes may be disrupted at once.")
    reasons: list[Literal["Underutilized", "Empty", "Drifted"]] | None = Field(default=None, description=(
        "The budget's `reasons`. Unset: every reason."))
    schedule: str | None = Field(default=None, description="The budget's `schedule` (cron); set together with `duration`.")
    duration: str | None = Field(default=None, description="The budget's `duration`; set together with `schedule`.")


class DisruptionConfig(ConfigSection):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = Field(default="WhenEmptyOrUnderutilized", description=(
        "`spec.disruption.consolidationPolicy`."))
    consolidate_after: KarpenterDuration = Field(default="1m", description="`spec.disruption.consolidateAfter`.")
    budgets: list[BudgetConfig] = Field(default_factory=lambda: [BudgetConfig.model_validate({"nodes": "10%"})], description=(
        "`spec.disruption.budgets`."))


def _default_pool_limits() -> dict[Literal["cpu", "memory"], str]:
    return {"cpu": "100", "memory": "400Gi"}


class NodePoolConfig(ConfigSection):
    architectures: list[Literal["amd64", "arm64"]] = Field(default=["amd64"], min_length=1, description="Requirement `kubernetes.io/arch`.")
    capacity_types: list[Literal["spot", "on-demand"]] = Field(default=["spot", "on-demand"], min_length=1, description=(
        "Requirement `karpenter.sh/capacity-type`."))
    instance_categories: list[Annotated[str, Field(pattern=r"^[a-z]$"), Shape("instance family letter (`c`)")]] = Field(default=["c", "m", "r"], min_length=1, description=(
        "Requirement `karpenter.k8s.aws/instance-category`: instance family letters."))
    minimum_instance_generation: Annotated[int, Field(ge=1, le=20)] = Field(default=6, description=(
        "Requirement `karpenter.k8s.aws/instance-generation Gt (n-1)`."))
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=_default_pool_limits, description=(
        "`spec.limits`: the pool's ceiling, Kubernetes quantities."))
    disruption: DisruptionConfig = Field(default_factory=DisruptionConfig, description="`spec.disruption`: when Karpenter removes nodes.")
    expire_after: KarpenterDuration = Field(default="720h", description="`template.spec.expireAfter`: a node's longest life.")
    weight: Annotated[int, Field(ge=1, le=100)] | None = Field(default=None, description="`spec.weight`: pools with more weight are tried first.")
    labels: dict[LabelKey, LabelValue] = Field(default={}, description=(
        f"Template labels, plus `{NODE_POOL_LABEL}=<pool>`; not in the `karpenter.sh`, `karpenter.k8s.aws` (Karpenter sets "
        "those), `kubernetes.io` or `k8s.io` domains."))
    taints: list[TaintConfig] = Field(default=[], description="Template taints.")


class KarpenterConfig(ConfigSection):
    controller: KarpenterControllerConfig = Field(default_factory=KarpenterControllerConfig, description="The Karpenter controller.")
    node_class: NodeClassConfig = Field(default_factory=NodeClassConfig, description="The EC2NodeClass `bottlerocket` every pool uses.")
    node_pools: dict[KubernetesName, NodePoolConfig] = Field(default_factory=lambda: {"default": NodePoolConfig()}, min_length=1,
                                                             description="One NodePool each, named by its key.")
    # EC2 refuses Spot launches in an account without the AWSServiceRoleForEC2Spot service-linked role, and
    # Karpenter's role may not create it (karpenter-provider-aws v1.14.1 pkg/providers/instance/instance.go:644
    # marks spot unavailable on ServiceLinkedRoleCreationNotPermitted; website/content/en/docs/troubleshooting.md
    # "Missing Service Linked Role"). A stack that uses spot must decide: true creates it, false says it exists.
    create_spot_service_linked_role: bool | None = Field(default=None, description=(
        "Required when a node pool allows `spot`. `true` creates the `AWSServiceRoleForEC2Spot` service-linked role (kept when "
        "the stack is destroyed: it is account-wide); `false` states the account has it "
        "(`aws iam get-role --role-name AWSServiceRoleForEC2Spot`). Without it EC2 refuses every Spot launch."))


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
