"""The shared base of the `python -m automation` commands: the stack file read and validated (its problems
as one report, exit code 2) and the AWS clients of the stack's region. The exit codes live in
automation/exit_codes.py, the project name and the stack-file reading in automation/stack_files.py.

boto3 is imported where a client is made, not here: the plan imports this module and must not load it
(tests/test_cli_imports.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from automation.stack_files import StackFileError, load_stack
from core.config.base import ConfigError
from core.config.stack_config import StackConfig

# What a stack file can be wrong with: unreadable (StackFileError), or read but invalid (ConfigError).
STACK_ERRORS = (StackFileError, ConfigError)


def stack_error_report(error: StackFileError | ConfigError, outcome: str | None = None) -> str:
    """What the user is told about a stack file that cannot be used: every problem, each naming the file.
    `outcome` is what the command therefore did not do (`nothing was deployed`); read-only commands say none."""
    return error.report(outcome) if isinstance(error, ConfigError) else str(error)


def load_config(stack: str, err: TextIO, stack_file: Path | None = None) -> StackConfig | None:
    """The stack's validated config, or None after writing its problems to `err` (the caller exits 2)."""
    try:
        return load_stack(stack, stack_file)
    except STACK_ERRORS as error:
        err.write(f"{stack_error_report(error)}\n")
    return None


@dataclass
class AwsClients:
    """The AWS clients of one region, from one boto3 session, each made on first use. boto3 takes the
    endpoint and credentials from the standard AWS settings (AWS_ENDPOINT_URL, AWS_PROFILE, ...); the
    region is the stack's."""

    region: str
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _session: Any = field(default=None, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                import boto3

                self._session = boto3.Session(region_name=self.region)
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    @property
    def eks(self) -> Any:
        return self.client("eks")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")

    @property
    def ec2(self) -> Any:
        return self.client("ec2")
