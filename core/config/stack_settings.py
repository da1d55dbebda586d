"""`stack`: how Pulumi treats the stack's resources."""

from __future__ import annotations

from pydantic import Field

from core.config.base import ConfigSection
from core.karpenter import INTERRUPTION_QUEUE_RETENTION_SECONDS


class StackSettings(ConfigSection):
    protect: bool = Field(default=True, description=(
        "Pulumi `protect` on the EKS cluster component, its KMS key, the VPC and the workload queues and dead-letter queues, plus "
        "EKS deletion protection on the cluster: `pulumi destroy` and a renaming replace fail in preview instead of deleting "
        "them (the shipped dev stack sets `false`). The interruption queue is left out (it holds events for "
        f"{INTERRUPTION_QUEUE_RETENTION_SECONDS} s). The "
        "cluster's children inherit `protect`: removing an admin then needs `pulumi state unprotect <its access entry URN>`."))
