"""What every stack-config section shares: the closed, strictly typed camelCase model, problems at key
paths, and the translation of pydantic's validation errors into messages that quote what the user wrote."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel


class ConfigSection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=False)


@dataclass(frozen=True)
class Shape:
    """What a constrained type takes, in the user's words: the Type column of the README's configuration
    reference (core/config/reference.py) for a type whose rule is a validator the JSON Schema cannot say."""

    text: str


def code_list(values: Iterable[Any], last: str = "and") -> str:
    """Values as the README writes them: `` `a`, `b` and `c` `` (`last` joins the final two)."""
    quoted = [f"`{value}`" for value in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


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


def pattern(regex: str, what: str) -> AfterValidator:
    """A validator for a string matching `regex` whole; the message says the value is not `what`."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{quote(value)} is not {what}")
        return value

    return AfterValidator(check)


def unquoted_number_message(number: int | float, written: str) -> str:
    """A number where a string belongs: YAML read the user's `written` text as `number`."""
    read_as = float.__repr__(number) if isinstance(number, float) else number
    return f"{written} is unquoted, so YAML reads it as the number {read_as}; quote it (\"{written}\")"


class ConfigError(Exception):
    """Every problem found in one stack's configuration."""

    def __init__(self, stack_file: str, problems: list[Problem], sources: Mapping[Path, str] | None = None):
        """`sources`: key paths whose value came from elsewhere than the stack file (`--config-path a.b=1`)."""
        self.stack_file = stack_file
        self.problems = problems
        self.sources = dict(sources or {})
        super().__init__(self.report())

    def source(self, path: Path) -> str:
        """Where the value at `path` was written: the override that set it or a parent of it, else the file."""
        for length in range(len(path), 0, -1):
            if path[:length] in self.sources:
                return self.sources[path[:length]]
        return self.stack_file

    def lines(self) -> list[str]:
        # An override names its key itself (`--config-path a.b: ...`); only a path below it is added.
        return [f"{self.source(p.path)}: {'' if p.path in self.sources else format_path(p.path) + ': '}{p.message}"
                for p in self.problems]

    def report(self, outcome: str | None = "nothing was deployed") -> str:
        """Every problem, under a heading that ends with what the command did not do (`pulumi up`: deploy)."""
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the stack configuration{f'; {outcome}' if outcome else ''}:"
        return "\n".join([heading, *self.lines()])


def unwrap(annotation: Any) -> Any:
    """The model class or container type behind Optional/Annotated wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    current: Any = model
    for part in path:
        current = unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def unknown_key_message(root: type[BaseModel], path: Path) -> str:
    """`unknown key 'x'` at `path` under the model `root`, with the closest known key or the known ones."""
    parent = _model_at(root, path[:-1])
    known = _known_keys(parent) if parent else []
    close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}" if known else ""
    return f"unknown key {quote(str(path[-1]))}{hint}"


def _pydantic_problems(error: ValidationError, root: type[BaseModel], prefix: Path) -> list[Problem]:
    problems = []
    for item in error.errors():
        # "[key]" marks a bad dict key: the path then ends at that key.
        loc = tuple(part for part in item["loc"] if part != "[key]")
        path = prefix + loc
        kind, message = item["type"], item["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = unknown_key_message(root, path)
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("model_type", "dict_type"):  # pydantic names its class: "a valid dictionary or instance of ClusterConfig"
            message = "must be a map of keys to values"
        elif kind == "string_type" and isinstance(item.get("input"), (int, float)) and not isinstance(item["input"], bool):
            number = item["input"]
            # The stack-file loader keeps the text of a float (`1.30`); values from elsewhere (Pulumi's
            # config) arrive as plain numbers. A type that can recover a lost zero does so itself
            # (core/config/cluster.py, KubernetesVersion).
            message = unquoted_number_message(number, getattr(number, "source", None) or str(number))
        elif isinstance(item.get("input"), str) and len(item["input"]) > MAX_QUOTED_CHARACTERS:
            message = message.replace(repr(item["input"]), quote(item["input"]))
        if kind.endswith("_type") and isinstance(item.get("input"), (str, int, float, bool)) and kind != "string_type":
            message += f"; it is {as_written(item['input'])}"  # what the user wrote, as YAML read it
        problems.append(Problem(path, message))
    return problems


def validate_part(model: Any, value: Any, prefix: Path, root: type[BaseModel]) -> tuple[Any, list[Problem]]:
    """`value` validated as `model` (a type), or None and its problems at key paths under `prefix`;
    `root` is the model the paths start from (for an unknown key's "did you mean")."""
    try:
        return TypeAdapter(model).validate_python(value), []
    except ValidationError as error:
        return None, _pydantic_problems(error, root, prefix)
