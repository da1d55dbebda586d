"""Reading `Pulumi.yaml` and a stack file the way the Pulumi CLI hands them to the program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loading that refuses a key given twice (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


class StackFileError(Exception):
    """A stack or project file that cannot be read at all (missing, not UTF-8, not YAML, empty)."""


@dataclass(frozen=True)
class StackConfigSource:
    """One stack's configuration: the project's keys (no namespace) and all keys as the engine sees them."""

    project: str
    stack: str
    stack_file: str
    project_values: dict[str, Any]
    engine_config: dict[str, str]
    secret_keys: list[str]
    config: dict[str, Any]  # every key as written, full names, ciphertext kept (what config overrides start from)

    @property
    def project_secret_keys(self) -> list[str]:
        """The project's encrypted keys without their namespace, as the config model names them."""
        prefix = f"{self.project}:"
        return [key[len(prefix):] for key in self.secret_keys if key.startswith(prefix)]


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{path.name}: file not found ({path})") from None
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path.name}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise StackFileError(f"{path.name}: YAML syntax error{where}: {problem}") from None


def project_name(root: Path = PROJECT_ROOT) -> str:
    project = _load_yaml(root / "Pulumi.yaml")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise StackFileError("Pulumi.yaml: has no project name")
    return project["name"]


def _engine_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


SECRET_MASK = "[secret]"


def _mask_secure(value: Any) -> tuple[Any, int, int]:
    """(value with every `{secure: ...}` masked, secure leaves, plain leaves)."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_MASK, 1, 0
    if isinstance(value, dict):
        masked, secure, plain = {}, 0, 0
        for key, child in value.items():
            masked[key], child_secure, child_plain = _mask_secure(child)
            secure, plain = secure + child_secure, plain + child_plain
        return masked, secure, plain
    if isinstance(value, list):
        parts = [_mask_secure(child) for child in value]
        return [p[0] for p in parts], sum(p[1] for p in parts), sum(p[2] for p in parts)
    return value, 0, 1


def mask_secrets(value: Any) -> Any:
    """The value with every encrypted (`{secure: ...}`) part shown as SECRET_MASK."""
    return _mask_secure(value)[0]


def program_view(value: Any) -> Any:
    """A top-level config value as the program decodes it (core/pulumi_config.py): the engine passes
    each key as a string, and structured values as JSON."""
    return value if isinstance(value, (dict, list)) else _engine_value(value)


def read_stack_config(stack: str, stack_file: Path | None = None, root: Path = PROJECT_ROOT) -> StackConfigSource:
    """`stack_file` defaults to `Pulumi.<stack>.yaml` beside `Pulumi.yaml`."""
    project = project_name(root)
    path = stack_file or root / f"Pulumi.{stack}.yaml"
    document = _load_yaml(path)
    if document is None:
        raise StackFileError(f"{path.name}: the file is empty; it needs a 'config:' map")
    if not isinstance(document, dict):
        raise StackFileError(f"{path.name}: the top level must be a map with a 'config:' key")
    config = document.get("config")
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: config: must be a map of keys to values")

    project_values: dict[str, Any] = {}
    engine_config: dict[str, str] = {}
    secret_keys: list[str] = []
    full_config: dict[str, Any] = {}
    for key, value in config.items():
        full_key = key if ":" in str(key) else f"{project}:{key}"
        full_config[full_key] = value
        # Ciphertext cannot be decrypted offline; the plan shows it masked. A key counts as secret only
        # when every value in it is encrypted (the engine would call it secret if any one were).
        value, secure, plain = _mask_secure(value)
        if secure and not plain:
            secret_keys.append(full_key)
        engine_config[full_key] = _engine_value(value)
        namespace, _, name = full_key.partition(":")
        if namespace == project:
            project_values[name] = value
    return StackConfigSource(project, stack, path.name, project_values, engine_config, secret_keys, full_config)
