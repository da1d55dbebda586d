"""`keda`: the KEDA operator that scales the SQS workloads (section absent: no KEDA)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from core.config.base import ConfigSection
from core.config.kubernetes import Resources, resources_default


class KedaOperatorConfig(ConfigSection):
    replicas: Annotated[int, Field(ge=1, le=5)] = Field(default=2, description=(
        "KEDA chart `operator.replicaCount`, and the metrics server's and webhooks' counts (one leader; more only shorten failover)."))
    resources: Resources = resources_default("100m", "100Mi", "1", "1000Mi", description="Chart `resources.operator`.")


class KedaConfig(ConfigSection):
    operator: KedaOperatorConfig = Field(default_factory=KedaOperatorConfig, description="The KEDA operator.")
