"""`workloads`: SQS-driven workers, each a Deployment scaled by KEDA on its queue's length.

Defaults reproduce the field notes' burst scenario (§3): an idle cluster with 0 worker pods takes
100,000+ SQS messages, KEDA reacts within ~5 s, Karpenter adds nodes, everything scales back to zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field

from core.config.base import ConfigSection, Path, Problem
from core.config.kubernetes import KubernetesName, Resources, resources_default


def _image(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?", value) or (":" not in value.rsplit("/", 1)[-1] and "@" not in value):
        raise ValueError(f"{value!r} is not a container image pinned by tag or digest (example: repo/app:1.4.2)")
    if value.endswith(":latest"):
        raise ValueError(f"{value!r} uses the latest tag; pin a version so rollouts are repeatable")
    return value


ContainerImage = Annotated[str, AfterValidator(_image)]


class QueueConfig(ConfigSection):
    visibility_timeout_seconds: Annotated[int, Field(ge=0, le=43200)] | None = None  # default: 6 x processing time
    long_polling_seconds: Annotated[int, Field(ge=0, le=20)] = 20
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    retention_seconds: Annotated[int, Field(ge=60, le=1209600)] = 345600


class ProbeConfig(ConfigSection):
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    startup_path: str = "/healthz"
    readiness_path: str = "/ready"


class WorkloadScaling(ConfigSection):
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
    resources: Resources = resources_default("250m", "256Mi", "1", "512Mi")
    probes: ProbeConfig = Field(default_factory=ProbeConfig)
    scaling: WorkloadScaling = Field(default_factory=WorkloadScaling)


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
