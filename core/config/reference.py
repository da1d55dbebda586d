"""The README's configuration reference and the stack file's JSON Schema, both generated from the models.

Every field's `description` (core/config/*) is the user's documentation of a key: the README tables
show it next to the key path, the type and the default; the schema carries it to an editor's YAML
language server. `python -m automation.reference` writes both; tests/test_config_reference.py fails when
either is out of date with the models.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from core.bottlerocket_settings import BottlerocketSettings
from core.config.base import Shape, code_list, unwrap
from core.config.kubernetes import Resources, TaintConfig
from core.config.node_groups import VolumeConfig
from core.config.stack_config import StackConfig
from core.config.workloads import WorkloadScaling

# Sections documented as one row where they are used (their keys spelled out in the Type column),
# rather than a row per key; two have a table of their own (keys relative to where they are used),
# and Bottlerocket's settings are described by the README's prose.
ONE_ROW = (TaintConfig, Resources)
BOTTLEROCKET_TYPE = "Bottlerocket settings (below)"
OWN_TABLES: dict[str, tuple[type[BaseModel], str]] = {
    "config table": (StackConfig, ""),
    "volume table": (VolumeConfig, "volume (below)"),
    "workload scaling table": (WorkloadScaling, "see [Scaling knobs](#scaling-knobs)"),
}
# How a map's keys are named in key paths (`nodeGroups.<g>.amiType`); other maps read `<name>`.
KEY_PLACEHOLDERS = {"nodeGroups": "<g>", "nodePools": "<p>"}
TABLE_HEADER = "| Key | Type | Default | What it becomes |\n|---|---|---|---|\n"
BEGIN_MARKER = "<!-- generated: {name} (python -m automation.reference --write) -->"
END_MARKER = "<!-- end generated -->"


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str

    def markdown(self) -> str:
        cells = (f"`{self.key}`", self.type, self.default, self.description)
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


# --- the README tables --------------------------------------------------------------------------------

def rows(model: type[BaseModel], prefix: str = "") -> Iterator[Row]:
    """One row per key of `model`, depth first; a section's keys follow the row of the section."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        yield Row(key, _field_type(field), _default_text(field), field.description or "")
        for section, section_key in _sections(field.annotation, key):
            yield from rows(section, section_key + ".")


def _sections(annotation: Any, key: str) -> Iterator[tuple[type[BaseModel], str]]:
    """The models whose keys are listed under `key`: a section, a map's or a list's items."""
    annotation = unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict:
        yield from _sections(typing.get_args(annotation)[1], f"{key}.{KEY_PLACEHOLDERS.get(key.rpartition('.')[2], '<name>')}")
    elif origin is list:
        yield from _sections(typing.get_args(annotation)[0], f"{key}[i]")
    elif _is_model(annotation) and not _documented_elsewhere(annotation):
        yield annotation, key


def _documented_elsewhere(model: type[BaseModel]) -> bool:
    return model is BottlerocketSettings or model in ONE_ROW or any(model is own and label for own, label in OWN_TABLES.values())


def _field_type(field: FieldInfo) -> str:
    return _type_text(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)


def _type_text(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = typing.get_args(annotation)
        shape = next((item for item in metadata if isinstance(item, Shape)), None)
        return shape.text if shape else _type_text(inner) + _constraints(metadata)
    if origin in (Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        return " or ".join(_type_text(member) for member in members)
    if origin is Literal:
        return code_list(typing.get_args(annotation), last="or")
    if origin is list:
        item = typing.get_args(annotation)[0]
        return "list of sections (keys below)" if _is_model(item) and not _documented_elsewhere(item) else f"list of {_type_text(item)}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map {_type_text(key)} → {_type_text(value)}"
    if annotation is BottlerocketSettings:
        return BOTTLEROCKET_TYPE
    for own, label in OWN_TABLES.values():
        if annotation is own and label:
            return label
    if _is_model(annotation):
        return _shape_of(annotation) if _documented_elsewhere(annotation) else "section (keys below)"
    return {bool: "bool", int: "integer", str: "string", float: "number"}.get(annotation, str(annotation))


def _shape_of(model: type[BaseModel]) -> str:
    """A section as its keys: `{key, value, effect: NoSchedule|PreferNoSchedule|NoExecute}`, with the values
    a key takes when they are a few names, and nested sections spelled out when they are small."""
    parts = []
    for name, field in model.model_fields.items():
        key, inner = field.alias or name, unwrap(field.annotation)
        if _is_model(inner) and len(inner.model_fields) <= 3:
            parts.append(f"{key}: {_shape_of(inner).strip('`')}")
        elif typing.get_origin(inner) is Literal:
            parts.append(f"{key}: {'|'.join(str(value) for value in typing.get_args(inner))}")
        else:
            parts.append(key)
    return "`{" + ", ".join(parts) + "}`"


def _constraints(metadata: list[Any]) -> str:
    metadata = [item for entry in metadata for item in (entry.metadata if isinstance(entry, FieldInfo) else [entry])]
    # pydantic keeps `Field(ge=1, le=5, min_length=2)` as annotated-types' Ge, Le and MinLen objects.
    low = next((item.ge for item in metadata if hasattr(item, "ge")), None)
    high = next((item.le for item in metadata if hasattr(item, "le")), None)
    shortest = next((item.min_length for item in metadata if hasattr(item, "min_length")), None)
    text = f" {low}..{high}" if low is not None and high is not None else f" ≥ {low}" if low is not None else ""
    return text + (f", at least {shortest}" if shortest else "")


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return "unset" if value is None else f"`{_flow(value)}`"


def _flow(value: Any) -> str:
    """A value as YAML flow style, the way a stack file could write it."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_defaults=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value) if value != "" else '""'


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def table(name: str) -> str:
    model, _ = OWN_TABLES[name]
    return TABLE_HEADER + "".join(row.markdown() + "\n" for row in rows(model))


def with_tables(readme: str) -> str:
    """`readme` with every generated table replaced by the models' current one; a missing marker is an error."""
    for name in OWN_TABLES:
        begin = BEGIN_MARKER.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(END_MARKER), re.DOTALL)
        if not pattern.search(readme):
            raise ValueError(f"README.md has no {begin} ... {END_MARKER} block")
        readme = pattern.sub(lambda _: f"{begin}\n{table(name)}{END_MARKER}", readme, count=1)
    return readme


# --- the stack file's JSON Schema ---------------------------------------------------------------------

# A Pulumi stack file (pulumi/pulumi sdk/go/common/workspace/project.go, type ProjectStack, line 1229): the
# secrets manager's keys, the config bag and ESC environments. The CLI writes the first three itself. Read
# at commit 1b5949891b (2026-08-21, v3.259.0 and 14 commits), the newest pulumi/pulumi in the store: the
# pinned v3.272.0 tag is not there.
STACK_FILE_KEYS: dict[str, dict[str, Any]] = {
    "secretsprovider": {"type": "string", "description": "The stack's secrets provider (written by `pulumi stack init` / `change-secrets-provider`)."},
    "encryptedkey": {"type": "string", "description": "The KMS-encrypted data key of a cloud secrets provider (written by the CLI)."},
    "encryptionsalt": {"type": "string", "description": "The passphrase secrets provider's salt (written by the CLI)."},
    "environment": {"description": "Pulumi ESC environments the stack imports."},
}


def stack_file_schema(project: str) -> dict[str, Any]:
    """The JSON Schema of `Pulumi.<stack>.yaml` for `project`: its keys are `<project>:<key>` (or bare, as
    the CLI reads them) under `config`, checked as StackConfig; other namespaces (`pulumi:`, `aws:`) pass."""
    model = StackConfig.model_json_schema(by_alias=True, mode="validation")
    definitions = model.pop("$defs", {})
    properties = {}
    for key, key_schema in model["properties"].items():
        properties[f"{project}:{key}"] = key_schema
        properties[key] = key_schema
    config = {
        "type": "object",
        "description": f"The stack's configuration: this project's keys as `{project}:<key>`, documented in README.md "
                       "(Configuration reference), and keys of other namespaces.",
        "properties": properties,
        # Other namespaces' keys (`pulumi:`, `aws:`).
        "patternProperties": {f"^(?!{_literal(project)}:)[^:]+:": {}},
        "additionalProperties": False,
    }
    schema: dict[str, Any] = _without_titles({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Pulumi stack file of the {project} project",
        "type": "object",
        "properties": {**STACK_FILE_KEYS, "config": config},
        "additionalProperties": False,
        "$defs": definitions,
    })
    return schema


def _literal(text: str) -> str:
    """`text` as a regex matching itself, in syntax both Python and ECMAScript (what editors run) read the
    same way: each character other than a letter, digit or `_` as a one-character class (`\\-`, what
    re.escape writes for `-`, is an error in ECMAScript's unicode mode)."""
    return "".join(c if c.isalnum() or c == "_" else f"[{c}]" if c not in "\\]^" else f"\\{c}" for c in text)


def _without_titles(schema: Any) -> Any:
    """pydantic's generated `title`s (the field name again) only clutter an editor's hover text."""
    if isinstance(schema, dict):
        return {key: _without_titles(value) for key, value in schema.items()
                if not (key == "title" and isinstance(value, str) and "$schema" not in schema)}
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    return schema
