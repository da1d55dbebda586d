"""`workloadSecrets`: per workload, environment variables from a Kubernetes Secret, which must be Pulumi
secrets; and the rule that secrets appear nowhere else and no credential is written in plain text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import WithJsonSchema

from core.config.base import Path, Problem, Shape, pattern


# A Pulumi secret as the stack file holds it: `{secure: <ciphertext>}` (what the loader decrypts, or masks
# offline: automation/stack_files.py); the model itself sees the plain text.
SecretText = Annotated[str, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "object", "properties": {"secure": {"type": "string"}},
                                                                          "required": ["secure"], "additionalProperties": False}]})]
EnvName = Annotated[str, pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name"), Shape("environment variable name")]
SECRET_KEYS = ("workloadSecrets",)


def secret_problems(raw: Mapping[str, Any], secret_keys: Iterable[str | Path]) -> list[Problem]:
    """Secrets only where they stay secret, and no credential in plain text anywhere.

    The engine marks a whole key secret when any value in it is; the program keeps secrets secret only
    through `workloadSecrets` (a Kubernetes Secret, Pulumi secret inputs). A secret elsewhere would land
    in a Deployment's env, a manifest or an output as plain text, so it is refused with where to put it."""
    problems = []
    whole_keys = {key for key in secret_keys if isinstance(key, str)}
    values = [key for key in secret_keys if not isinstance(key, str)]
    for key in SECRET_KEYS:
        if key in raw and key not in whole_keys:
            problems.append(Problem((key,), "holds plain text; every value must be a Pulumi secret: "
                                           f"pulumi config set --secret --path '{key}.<workload>.<VARIABLE>' <value>"))
    misplaced = [path for path in values if path[0] not in SECRET_KEYS]
    misplaced += [(key,) for key in sorted(whole_keys - set(SECRET_KEYS)) if not any(path[0] == key for path in values)]
    for path in misplaced:
        problems.append(Problem(path, "is a Pulumi secret, which only workloadSecrets keeps secret (here it would reach manifests, "
                                      "env or outputs in plain text): pulumi config set --secret --path "
                                      "'workloadSecrets.<workload>.<VARIABLE>' <value>"))
    for path, kind in _plain_credentials(raw, ()):
        problems.append(Problem(path, f"holds what looks like {kind} in plain text, which would end up in the stack file, the state "
                                      "and the cluster; rotate it, and pass it as a secret in workloadSecrets"))
    return problems


# Credentials recognisable by their form: AWS access key ids (IAM user guide, "Understanding unique ID
# prefixes": AKIA long-term, ASIA temporary) and PEM private keys.
_CREDENTIALS = {
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----"),
}


def _plain_credentials(value: Any, path: Path) -> list[tuple[Path, str]]:
    if path[:1] and path[0] in SECRET_KEYS:
        return []
    if isinstance(value, Mapping):
        return [hit for key, child in value.items() for hit in _plain_credentials(child, (*path, str(key)))]
    if isinstance(value, list):
        return [hit for index, child in enumerate(value) for hit in _plain_credentials(child, (*path, index))]
    if isinstance(value, str):
        return [(path, kind) for kind, regex in _CREDENTIALS.items() if regex.search(value)][:1]
    return []
