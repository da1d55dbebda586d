"""`stack`: how Pulumi treats the stack's resources."""

from __future__ import annotations

from core.config.base import ConfigSection


class StackSettings(ConfigSection):
    # Pulumi `protect` on what holds state or is costly to lose: the EKS cluster (also EKS deletion
    # protection), its KMS key, the VPC and the workloads' queues. A destroy or a renaming replace then fails
    # in preview instead of deleting them; set false only to tear a stack down on purpose.
    protect: bool = True
