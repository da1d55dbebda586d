"""Kubernetes shapes several sections share: object names, container resources and node taints."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from core.bottlerocket_settings import LabelKey, LabelValue, Quantity
from core.config.base import ConfigSection, Shape

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value) or len(value) > 40:
        raise ValueError(f"{value!r} is not a Kubernetes name (lower-case letters, digits, '-', up to 40)")
    return value


KubernetesName = Annotated[str, AfterValidator(_dns_label), Shape("Kubernetes name: lower-case letters, digits, `-`, up to 40")]


class ResourceList(ConfigSection):
    cpu: Quantity = Field(description="CPU, a Kubernetes quantity (`250m`, `1`).")
    memory: Quantity = Field(description="Memory, a Kubernetes quantity (`256Mi`).")


class Resources(ConfigSection):
    requests: ResourceList = Field(description="The container's `resources.requests`: what the scheduler reserves.")
    limits: ResourceList = Field(description="The container's `resources.limits`.")


def resources_default(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str, description: str) -> Any:
    """A `Resources` field with these defaults."""
    return Field(default_factory=lambda: Resources.model_validate({
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }), description=description)


class TaintConfig(ConfigSection):
    key: LabelKey = Field(description="The taint's key, a Kubernetes label key.")
    value: LabelValue = Field(default="", description="The taint's value, a Kubernetes label value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(description="What the taint does to pods that do not tolerate it.")
