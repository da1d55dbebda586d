"""Stack config of the add-ons (KEDA, Karpenter) and of the SQS-driven workloads.

Defaults reproduce the field notes' burst scenario (§3): an idle cluster with 0 worker pods takes
100,000+ SQS messages, KEDA reacts within ~5 s, Karpenter adds nodes, everything scales back to zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from core.bottlerocket_settings import BottlerocketSettings, LabelKey, LabelValue, Quantity, reserved_node_label
from core.config.base import ConfigSection, Path, Problem
from core.tags import NODE_POOL_LABEL

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_KARPENTER_DURATION = re.compile(r"(([0-9]+(s|m|h))+|Never)")


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value) or len(value) > 40:
        raise ValueError(f"{value!r} is not a Kubernetes name (lower-case letters, digits, '-', up to 40)")
    return value


def _karpenter_duration(value: str) -> str:
    if not _KARPENTER_DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a Karpenter duration (examples: 30s, 5m, 720h, Never)")
    return value


def _budget_nodes(value: str) -> str:
    if not re.fullmatch(r"((100|[0-9]{1,2})%|[0-9]+)", value):
        raise ValueError(f"{value!r} is not a node count or a percentage (examples: 1, 10%)")
    return value


def _image(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?", value) or (":" not in value.rsplit("/", 1)[-1] and "@" not in value):
        raise ValueError(f"{value!r} is not a container image pinned by tag or digest (example: repo/app:1.4.2)")
    if value.endswith(":latest"):
        raise ValueError(f"{value!r} uses the latest tag; pin a version so rollouts are repeatable")
    return value


KubernetesName = Annotated[str, AfterValidator(_dns_label)]
KarpenterDuration = Annotated[str, AfterValidator(_karpenter_duration)]
BudgetNodes = Annotated[str, AfterValidator(_budget_nodes)]
ContainerImage = Annotated[str, AfterValidator(_image)]


class ResourceList(ConfigSection):
    cpu: Quantity
    memory: Quantity


class Resources(ConfigSection):
    requests: ResourceList
    limits: ResourceList


def _default_pool_limits() -> dict[Literal["cpu", "memory"], str]:
    return {"cpu": "100", "memory": "400Gi"}


def _resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Any:
    return Field(default_factory=lambda: Resources.model_validate({
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }))


class KedaOperatorConfig(ConfigSection):
    replicas: Annotated[int, Field(ge=1, le=5)] = 2
    resources: Resources = _resources("100m", "100Mi", "1", "1000Mi")


class KedaConfig(ConfigSection):
    operator: KedaOperatorConfig = Field(default_factory=KedaOperatorConfig)


class KarpenterControllerConfig(ConfigSection):
    replicas: Annotated[int, Field(ge=1, le=5)] = 2
    resources: Resources = _resources("1", "1Gi", "1", "1Gi")


class NodeClassConfig(ConfigSection):
    version_from: str | None = None  # an enabled node group; default: the first enabled one by name
    bottlerocket: BottlerocketSettings = BottlerocketSettings()


class TaintSpec(ConfigSection):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class BudgetConfig(ConfigSection):
    nodes: BudgetNodes
    reasons: list[Literal["Underutilized", "Empty", "Drifted"]] | None = None
    schedule: str | None = None
    duration: str | None = None


class DisruptionConfig(ConfigSection):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmptyOrUnderutilized"
    consolidate_after: KarpenterDuration = "1m"
    budgets: list[BudgetConfig] = Field(default_factory=lambda: [BudgetConfig.model_validate({"nodes": "10%"})])


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
    taints: list[TaintSpec] = []


class KarpenterConfig(ConfigSection):
    controller: KarpenterControllerConfig = Field(default_factory=KarpenterControllerConfig)
    node_class: NodeClassConfig = Field(default_factory=NodeClassConfig)
    node_pools: dict[KubernetesName, NodePoolConfig] = Field(default_factory=lambda: {"default": NodePoolConfig()}, min_length=1)
    # EC2 refuses Spot launches in an account without the AWSServiceRoleForEC2Spot service-linked role, and
    # Karpenter's role may not create it (karpenter-provider-aws v1.14.1 pkg/providers/instance/instance.go:644
    # marks spot unavailable on ServiceLinkedRoleCreationNotPermitted; website/content/en/docs/troubleshooting.md
    # "Missing Service Linked Role"). A stack that uses spot must decide: true creates it, false says it exists.
    create_spot_service_linked_role: bool | None = None


class QueueConfig(ConfigSection):
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] | None = None  # default: 6 x processing time
    long_polling_seconds: Annotated[int, Field(ge=0, le=20)] = 20
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = 345600


class ProbeConfig(ConfigSection):
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    startup_path: str = "/healthz"
    readiness_path: str = "/ready"


class ScalingConfig(ConfigSection):
    min_replicas: Annotated[int, Field(ge=0, le=1000)] = 0
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 50
    messages_per_replica: Annotated[int, Field(ge=1)] = 100
    activation_queue_length: Annotated[int, Field(ge=0)] = 0
    polling_interval_seconds: Annotated[int, Field(ge=1, le=300)] = 5
    cooldown_period_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    scale_down_stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    fallback_replicas: Annotated[int, Field(ge=0)] = 5


class WorkloadConfig(ConfigSection):
    name: KubernetesName
    namespace: KubernetesName = "workers"
    image: ContainerImage
    command: list[str] | None = None
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = {}
    processing_seconds: Annotated[int, Field(ge=1, le=43200)] = 20
    termination_grace_period_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    queue: QueueConfig = Field(default_factory=QueueConfig)
    resources: Resources = _resources("250m", "256Mi", "1", "512Mi")
    probes: ProbeConfig = Field(default_factory=ProbeConfig)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)


def workload_problems(workloads: list[WorkloadConfig], has_keda: bool,
                      taken_namespaces: Mapping[str, str]) -> list[Problem]:
    """`taken_namespaces`: namespaces Kubernetes or an add-on owns, with who owns them."""
    problems: list[Problem] = []
    if workloads and not has_keda:
        problems.append(Problem(("workloads",), "SQS workloads scale through KEDA: add a `keda` section"))
    seen: dict[str, str] = {}
    for index, workload in enumerate(workloads):
        base: Path = ("workloads", index)
        if workload.name in seen:
            # The name alone makes the queues, the IAM role and the Pulumi resources: unique across namespaces.
            where = "" if seen[workload.name] == workload.namespace else f" (in namespace {seen[workload.name]!r}; names are unique across namespaces)"
            problems.append(Problem((*base, "name"), f"another workload is already named {workload.name!r}{where}"))
        seen.setdefault(workload.name, workload.namespace)
        if workload.namespace in taken_namespaces:
            problems.append(Problem((*base, "namespace"), f"{workload.namespace!r} already exists in the cluster ({taken_namespaces[workload.namespace]}); "
                                    "the program creates each workload namespace, so pick one of your own"))
        visibility = workload.queue.visibility_timeout_seconds
        if visibility is not None and visibility < workload.processing_seconds:
            problems.append(Problem((*base, "queue", "visibilityTimeoutSeconds"),
                                    f"{visibility}s is shorter than processingSeconds ({workload.processing_seconds}s): "
                                    "messages would be handed to a second pod while the first still works on them"))
        grace = workload.termination_grace_period_seconds
        if grace is not None and grace < workload.processing_seconds:
            problems.append(Problem((*base, "terminationGracePeriodSeconds"),
                                    f"{grace}s is shorter than processingSeconds ({workload.processing_seconds}s): pods would be killed mid-message"))
        scaling = workload.scaling
        if scaling.min_replicas > scaling.max_replicas:
            problems.append(Problem((*base, "scaling", "minReplicas"), f"{scaling.min_replicas} is above maxReplicas ({scaling.max_replicas})"))
        if scaling.fallback_replicas > scaling.max_replicas:
            problems.append(Problem((*base, "scaling", "fallbackReplicas"), f"{scaling.fallback_replicas} is above maxReplicas ({scaling.max_replicas})"))
    return problems


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
