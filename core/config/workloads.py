"""`workloads`: SQS-driven workers, each a Deployment scaled by KEDA on its queue's length.

Defaults reproduce the field notes' burst scenario (§3): an idle cluster with 0 worker pods takes
100,000+ SQS messages, KEDA reacts within ~5 s, Karpenter adds nodes, everything scales back to zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field

from core.config.base import ConfigSection, Path, Problem, Shape
from core.config.kubernetes import KubernetesName, Resources, resources_default


def _image(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?", value) or (":" not in value.rsplit("/", 1)[-1] and "@" not in value):
        raise ValueError(f"{value!r} is not a container image pinned by tag or digest (example: repo/app:1.4.2)")
    if value.endswith(":latest"):
        raise ValueError(f"{value!r} uses the latest tag; pin a version so rollouts are repeatable")
    return value


ContainerImage = Annotated[str, AfterValidator(_image), Shape("image pinned by tag or digest (not `latest`)")]


class QueueConfig(ConfigSection):
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] | None = Field(default=None, description=(
        "The queue's `visibilityTimeoutSeconds`, at least `processingSeconds`. Unset: 6 × `processingSeconds`."))
    long_polling_seconds: Annotated[int, Field(ge=0, le=20)] = Field(default=20, description="The queue's `receiveWaitTimeSeconds` (long polling).")
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = Field(default=5, description=(
        "Redrive to the 14-day dead-letter queue after this many receives (`maxReceiveCount`)."))
    retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = Field(default=345600, description=(
        "The queue's `messageRetentionSeconds` (the default is 4 days)."))


class ProbeConfig(ConfigSection):
    port: Annotated[int, Field(ge=1, le=65535)] = Field(default=8080, description="The port both probes call.")
    startup_path: str = Field(default="/healthz", description="The startup probe's HTTP path.")
    readiness_path: str = Field(default="/ready", description="The readiness probe's HTTP path.")


class WorkloadScaling(ConfigSection):
    min_replicas: Annotated[int, Field(ge=0, le=1000)] = Field(default=0, description=(
        "`minReplicaCount`: 0 means nothing runs (or is paid for) while the queue is empty; at most `maxReplicas`."))
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = Field(default=50, description="`maxReplicaCount`, and the size of the single scale-up step.")
    messages_per_replica: Annotated[int, Field(ge=1)] = Field(default=100, description=(
        "Trigger `queueLength`: target visible+in-flight messages per pod."))
    activation_queue_length: Annotated[int, Field(ge=0)] = Field(default=0, description="Trigger `activationQueueLength`: the 0→1 activation threshold.")
    polling_interval_seconds: Annotated[int, Field(ge=1, le=300)] = Field(default=5, description=(
        "`pollingInterval`: how soon KEDA sees a burst (KEDA's default is 30)."))
    cooldown_period_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(default=60, description=(
        "`cooldownPeriod`: wait after the last activity before scaling to 0."))
    scale_down_stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(default=120, description=(
        "HPA scale-down stabilisation; scale-down removes at most 25 % of pods a minute."))
    fallback_replicas: Annotated[int, Field(ge=0)] = Field(default=5, description=(
        "`fallback.replicas` when the SQS metric fails 3 times in a row; at most `maxReplicas`."))


class WorkloadConfig(ConfigSection):
    name: KubernetesName = Field(description=(
        "Deployment, ServiceAccount, PDB, ScaledObject names; queue `<cluster>-<name>`. Unique across namespaces."))
    namespace: KubernetesName = Field(default="workers", description=(
        "The namespace the program creates for the worker: not one that exists already (`default`, `kube-*`, `keda`)."))
    image: ContainerImage = Field(description="The container image.")
    command: list[str] | None = Field(default=None, description="The container's command. Unset: the image's entrypoint.")
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(default={}, description=(
        "Extra environment of plain values, besides `QUEUE_URL`, `AWS_REGION`, `PROCESSING_SECONDS` and Pod Identity's "
        "`AWS_CONTAINER_*`, which it may not override."))
    processing_seconds: Annotated[int, Field(ge=1, le=43200)] = Field(default=20, description=(
        "How long one message takes: the lower bound of the visibility timeout and of the termination grace period."))
    termination_grace_period_seconds: Annotated[int, Field(ge=1, le=3600)] | None = Field(default=None, description=(
        "Pod `terminationGracePeriodSeconds`, at least `processingSeconds`. Unset: max(`processingSeconds` + 10, "
        "`eviction-max-pod-grace-period`)."))
    queue: QueueConfig = Field(default_factory=QueueConfig, description="The worker's SQS queue.")
    resources: Resources = resources_default("250m", "256Mi", "1", "512Mi", description="Container resources.")
    probes: ProbeConfig = Field(default_factory=ProbeConfig, description="Startup and readiness probes.")
    scaling: WorkloadScaling = Field(default_factory=WorkloadScaling, description=(
        "The ScaledObject: see [Scaling knobs](#scaling-knobs)."))


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
