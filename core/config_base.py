"""The base of every stack-config section: closed, strictly typed, camelCase keys."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Union

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigSection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=False)


Path = tuple[Union[str, int], ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a stack's configuration, at a key path."""

    path: Path
    message: str


def format_path(path: Iterable[str | int]) -> str:
    """`nodeGroups.blue.instanceTypes[0]`, quoting keys that contain dots: `eviction-hard["memory.available"]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text or "(top level)"
