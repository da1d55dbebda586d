"""The base of every stack-config section: closed, strictly typed, camelCase keys."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigSection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=False)


class SourceFloat(float):
    """A float as written in the stack file: `1.30` keeps its text for messages (the float says 1.3)."""

    source: str

    @classmethod
    def of(cls, value: float, source: str) -> SourceFloat:
        number = cls(value)
        number.source = source
        return number


def as_written(value: Any) -> str:
    """The user's text for a value, as a message quotes it: the original of a float, long values cut."""
    text = getattr(value, "source", None) or (value if isinstance(value, str) else repr(value))
    return quote(text)


MAX_QUOTED_CHARACTERS = 80


def quote(text: str) -> str:
    """`'text'` for a message; a value longer than MAX_QUOTED_CHARACTERS is cut with its length noted."""
    if len(text) <= MAX_QUOTED_CHARACTERS:
        return repr(text)
    return f"{text[:MAX_QUOTED_CHARACTERS]!r}... ({len(text):,} characters)"


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
        if isinstance(part, str) and len(part) > MAX_QUOTED_CHARACTERS:
            part = f"{part[:MAX_QUOTED_CHARACTERS]}... ({len(part):,} characters)"
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text or "(top level)"
