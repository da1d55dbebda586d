"""`workloads`: SQS-driven workers, each a Deployment scaled by KEDA on its queue's length.

Defaults reproduce the field notes' burst scenario (§3): an idle cluster with 0 worker pods takes
100,000+ SQS messages, KEDA reacts within ~5 s, Karpenter adds nodes, everything scales back to zero.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from core.config.base import ConfigSection, Path, Problem, Shape, code_list
from core.config.kubernetes import KubernetesName, Resources, resources_default
from core.karpenter import NAMESPACE as KARPENTER_NAMESPACE
from core.keda import KEDA_NAMESPACE
from core.sqs_worker import (DEAD_LETTER_RETENTION_SECONDS, FALLBACK_FAILURE_THRESHOLD, GRACE_PERIOD_MARGIN_SECONDS, INJECTED_ENV,
                             MAX_VISIBILITY_TIMEOUT_SECONDS, PROGRAM_ENV, SCALE_DOWN_PERCENT, SCALE_DOWN_PERIOD_SECONDS,
                             VISIBILITY_TIMEOUT_FACTOR)

DAY_SECONDS = 86400
DEFAULT_RETENTION_DAYS = 4  # SQS's own default
# Namespaces that exist before the program creates the workloads' (Kubernetes' own, and the add-ons'
# Helm releases): creating one again fails with AlreadyExists, and deleting it would take the others.
TAKEN_NAMESPACES = {KEDA_NAMESPACE: "KEDA", KARPENTER_NAMESPACE: "Karpenter", "default": "Kubernetes",
                    "kube-system": "Kubernetes", "kube-public": "Kubernetes", "kube-node-lease": "Kubernetes"}
INJECTED_ENV_MESSAGE = f"is set for every worker by the program or EKS Pod Identity ({', '.join(INJECTED_ENV)}); choose another name"


def _image(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?", value) or (":" not in value.rsplit("/", 1)[-1] and "@" not in value):
        raise ValueError(f"{value!r} is not a container image pinned by tag or digest (example: repo/app:1.4.2)")
    if value.endswith(":latest"):
        raise ValueError(f"{value!r} uses the latest tag; pin a version so rollouts are repeatable")
    return value


ContainerImage = Annotated[str, AfterValidator(_image), Shape("image pinned by tag or digest (not `latest`)")]


class QueueConfig(ConfigSection):
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=MAX_VISIBILITY_TIMEOUT_SECONDS)] | None = Field(default=None, description=(
        f"The queue's `visibilityTimeoutSeconds`, at least `processingSeconds`. Unset: {VISIBILITY_TIMEOUT_FACTOR} × `processingSeconds`."))
    long_polling_seconds: Annotated[int, Field(ge=0, le=20)] = Field(default=20, description="The queue's `receiveWaitTimeSeconds` (long polling).")
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = Field(default=5, description=(
        f"Redrive to the {DEAD_LETTER_RETENTION_SECONDS // DAY_SECONDS}-day dead-letter queue after this many receives (`maxReceiveCount`)."))
    retention_seconds: Annotated[int, Field(ge=60, le=DEAD_LETTER_RETENTION_SECONDS)] = Field(default=DEFAULT_RETENTION_DAYS * DAY_SECONDS, description=(
        f"The queue's `messageRetentionSeconds` (the default is {DEFAULT_RETENTION_DAYS} days)."))


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
        f"HPA scale-down stabilisation; scale-down removes at most {SCALE_DOWN_PERCENT} % of pods per {SCALE_DOWN_PERIOD_SECONDS} s."))
    fallback_replicas: Annotated[int, Field(ge=0)] = Field(default=5, description=(
        f"`fallback.replicas` when the SQS metric fails {FALLBACK_FAILURE_THRESHOLD} times in a row; at most `maxReplicas`."))


class WorkloadConfig(ConfigSection):
    name: KubernetesName = Field(description=(
        "Deployment, ServiceAccount, PDB, ScaledObject names; queue `<cluster>-<name>`. Unique across namespaces."))
    namespace: KubernetesName = Field(default="workers", description=(
        f"The namespace the program creates for the worker: not one that exists already ({code_list(sorted(TAKEN_NAMESPACES), last='or')})."))
    image: ContainerImage = Field(description="The container image.")
    command: list[str] | None = Field(default=None, description="The container's command. Unset: the image's entrypoint.")
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(default={}, description=(
        f"Extra environment of plain values. It may not set what the program sets ({code_list(PROGRAM_ENV)}) nor what EKS "
        f"Pod Identity sets ({code_list(name for name in INJECTED_ENV if name not in PROGRAM_ENV)})."))
    processing_seconds: Annotated[int, Field(ge=1, le=MAX_VISIBILITY_TIMEOUT_SECONDS)] = Field(default=20, description=(
        "How long one message takes: the lower bound of the visibility timeout and of the termination grace period."))
    termination_grace_period_seconds: Annotated[int, Field(ge=1, le=3600)] | None = Field(default=None, description=(
        f"Pod `terminationGracePeriodSeconds`, at least `processingSeconds`. Unset: max(`processingSeconds` + {GRACE_PERIOD_MARGIN_SECONDS}, "
        "`eviction-max-pod-grace-period`)."))
    queue: QueueConfig = Field(default_factory=QueueConfig, description="The worker's SQS queue.")
    resources: Resources = resources_default("250m", "256Mi", "1", "512Mi", description="Container resources.")
    probes: ProbeConfig = Field(default_factory=ProbeConfig, description="Startup and readiness probes.")
    scaling: WorkloadScaling = Field(default_factory=WorkloadScaling, description=(
        "The ScaledObject: see [Scaling knobs](#scaling-knobs)."))


def workload_problems(workloads: list[WorkloadConfig], has_keda: bool) -> list[Problem]:
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
        if workload.namespace in TAKEN_NAMESPACES:
            problems.append(Problem((*base, "namespace"), f"{workload.namespace!r} already exists in the cluster ({TAKEN_NAMESPACES[workload.namespace]}); "
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
        problems += [Problem((*base, "env", name), INJECTED_ENV_MESSAGE) for name in workload.env if name in INJECTED_ENV]
        scaling = workload.scaling
        if scaling.min_replicas > scaling.max_replicas:
            problems.append(Problem((*base, "scaling", "minReplicas"), f"{scaling.min_replicas} is above maxReplicas ({scaling.max_replicas})"))
        if scaling.fallback_replicas > scaling.max_replicas:
            problems.append(Problem((*base, "scaling", "fallbackReplicas"), f"{scaling.fallback_replicas} is above maxReplicas ({scaling.max_replicas})"))
    return problems
