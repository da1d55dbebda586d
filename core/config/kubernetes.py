"""Kubernetes shapes several sections share: object names, container resources and node taints."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from core.bottlerocket_settings import LabelKey, LabelValue, Quantity
from core.config.base import ConfigSection

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value) or len(value) > 40:
        raise ValueError(f"{value!r} is not a Kubernetes name (lower-case letters, digits, '-', up to 40)")
    return value


KubernetesName = Annotated[str, AfterValidator(_dns_label)]


class ResourceList(ConfigSection):
    cpu: Quantity
    memory: Quantity


class Resources(ConfigSection):
    requests: ResourceList
    limits: ResourceList


def resources_default(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Any:
    return Field(default_factory=lambda: Resources.model_validate({
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }))


class TaintConfig(ConfigSection):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
