"""`tags`: AWS tags on every taggable resource of the stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from core import aws_limits
from core.config.base import Problem, Shape, pattern
from core.tags import SUPPRESSION_PREFIX


# The most tags the program adds to one resource next to the stack's `tags` (a private subnet: the stack
# tag, Name, the internal load balancer role and Karpenter's discovery tag); tests check it on the plans.
PROGRAM_TAGS_PER_RESOURCE = 4
MAX_STACK_TAGS = aws_limits.max_tags_per_resource() - PROGRAM_TAGS_PER_RESOURCE
TagKey = Annotated[str, pattern(r"(?i:(?!aws:))[\w .:/=+@-]{1,128}", "a tag key (1-128 characters, not starting with aws:)"),
                 Shape("tag key, 1-128 characters, not starting with `aws:` (any case)")]
TagValue = Annotated[str, pattern(r"[\w .:/=+@-]{0,256}", "a tag value (up to 256 characters)"), Shape("tag value, up to 256 characters")]


def tag_problems(tags: Mapping[str, str]) -> list[Problem]:
    problems = []
    for key in tags:
        if key.startswith(SUPPRESSION_PREFIX):
            problems.append(Problem(("tags", key), "stack-wide tags reach every resource, so they cannot suppress a guardrail; "
                                                   "a suppression goes on the one resource it is for, with its reason"))
    if len(tags) > MAX_STACK_TAGS:
        problems.append(Problem(("tags",), (
            f"{len(tags)} tags and the {PROGRAM_TAGS_PER_RESOURCE} the program adds to some resources make "
            f"{len(tags) + PROGRAM_TAGS_PER_RESOURCE}; AWS takes at most {aws_limits.max_tags_per_resource()} per resource, "
            f"so list at most {MAX_STACK_TAGS}")))
    return problems
