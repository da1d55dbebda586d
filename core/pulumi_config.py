"""The thin shell between Pulumi's config and the typed stack model."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from core.config.base import ConfigError
from core.config.stack_config import StackConfig, other_namespaces, validate_stack_config


def stack_file_name() -> str:
    return f"Pulumi.{pulumi.get_stack()}.yaml"


def project_config(project: str) -> dict[str, Any]:
    """Every `<project>:<key>` the engine passed to the program, structured values decoded.

    The language host hands config over as the PULUMI_CONFIG environment variable; the mock engine sets
    it in-process. Both are read so unknown top-level keys can be reported, which `pulumi.Config` cannot."""
    prefix = f"{project}:"
    raw: dict[str, Any] = {}
    for key, value in _engine_config().items():
        if key.startswith(prefix):
            name = key[len(prefix):]
            raw[name] = _decode(value)
    return raw


def _engine_config() -> dict[str, Any]:
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def other_namespaces_config(project: str) -> dict[str, Any]:
    """The engine's keys outside the project's namespace (`aws:region`, ...), full names, for hints only."""
    return other_namespaces(_engine_config(), project)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def project_secret_keys(project: str) -> list[str]:
    """The project's keys the engine marked secret, without their namespace."""
    prefix = f"{project}:"
    keys = set(runtime_config.get_config_secret_keys_env()) | {k for k in runtime_config.CONFIG.get() if runtime_config.is_config_secret(k)}
    return [key[len(prefix):] for key in keys if key.startswith(prefix)]


def load_stack_config() -> StackConfig:
    """The validated configuration, or a clean `pulumi up` error listing every problem."""
    project = pulumi.get_project()
    try:
        return validate_stack_config(project_config(project), stack_file_name(), project_secret_keys(project),
                                     project=project, other_keys=other_namespaces_config(project))
    except ConfigError as error:
        raise pulumi.RunError(error.report()) from None
