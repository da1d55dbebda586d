"""`region`: the AWS region the stack deploys to."""

from __future__ import annotations

import difflib
from typing import Annotated

from pydantic import AfterValidator

from core import aws_limits
from core.config.base import Shape, quote


def _region(value: str) -> str:
    regions = aws_limits.eks_regions()
    if value not in regions:
        close = difflib.get_close_matches(value, list(regions), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else " (example: eu-west-1)"
        raise ValueError(f"{quote(value)} is not a region where EKS is available{hint}")
    return value


Region = Annotated[str, AfterValidator(_region), Shape("a region EKS is in (botocore's endpoint data), e.g. `eu-west-1`")]
