"""preview / up / refresh / destroy / outputs through the Pulumi Automation API (which drives the CLI).

The stack config model validates first, so a bad config never reaches the engine. `--config` overrides
apply to one run: the stack file is restored afterwards unless `--save-config`.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pulumi import automation as auto

from automation.stack_files import PROJECT_ROOT, StackFileError, load_yaml_text, project_name, read_stack_config
from core.stack_config import ConfigError, validate_stack_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CHANGES, EXIT_LOCKED = 0, 1, 2, 3, 4
RESULTS = {EXIT_OK: "succeeded", EXIT_FAILED: "failed", EXIT_USAGE: "invalid", EXIT_CHANGES: "changes", EXIT_LOCKED: "locked"}
NO_CLI_MESSAGE = ("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) to run {command}; "
                  "`python -m automation plan` works without it")
UNCHANGED_OPERATIONS = {"same"}


@dataclass(frozen=True)
class ConfigOverride:
    """`--config key=value` (a string) or `--config-path a.b.c=value` (a YAML scalar, like `pulumi config set --path`)."""

    key: str
    value: Any
    path: bool

    @classmethod
    def parse(cls, text: str, path: bool) -> ConfigOverride:
        key, separator, value = text.partition("=")
        if not separator or not key:
            raise ValueError(f"{text!r}: expected key=value")
        if not path:
            return cls(key, value, path)
        try:  # the stack files' loader: the same bounds on aliases and nesting, floats keep their text
            return cls(key, load_yaml_text(value, key), path)
        except StackFileError as error:
            raise ValueError(str(error)) from None

    def full_key(self, project: str) -> str:
        return self.key if ":" in self.key.split(".")[0] else f"{project}:{self.key}"


@dataclass
class EngineRequest:
    command: str
    stacks: list[str]
    overrides: list[ConfigOverride] = field(default_factory=list)
    save_config: bool = False
    refresh: bool = False
    diff: bool = False
    yes: bool = False
    expect_no_changes: bool = False
    policy_packs: list[str] = field(default_factory=list)
    json_file: Path | None = None
    retries: int = 3
    retry_delay_seconds: float = 10.0


def apply_overrides(values: dict[str, Any], overrides: list[ConfigOverride], project: str) -> dict[str, Any]:
    """The project's config values with the overrides of this run applied (what the engine will see)."""
    result = json.loads(json.dumps(values))
    for override in overrides:
        full = override.full_key(project)
        if not full.startswith(f"{project}:"):
            continue
        parts = full.split(":", 1)[1].split(".") if override.path else [full.split(":", 1)[1]]
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = override.value
    return result


def override_sources(overrides: list[ConfigOverride], project: str) -> dict[tuple[str, ...], str]:
    """The key paths this run's overrides set, each with the flag that set it (for error messages)."""
    sources = {}
    for override in overrides:
        full = override.full_key(project)
        if full.startswith(f"{project}:"):
            key = full.split(":", 1)[1]
            path = tuple(key.split(".")) if override.path else (key,)
            sources[path] = f"--config{'-path' if override.path else ''} {override.key}"
    return sources


class StackRunner:
    """Runs one engine command on one stack, with validation, overrides, retries and a summary."""

    def __init__(self, request: EngineRequest, *, pulumi_command: auto.PulumiCommand | None = None,
                 work_dir: Path = PROJECT_ROOT, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                 sleep: Callable[[float], None] = time.sleep):
        self.request, self.pulumi_command, self.work_dir = request, pulumi_command, work_dir
        self.out, self.err, self.sleep = out, err, sleep

    def validate(self, stack: str) -> bool:
        try:
            source = read_stack_config(stack, root=self.work_dir)
            values = apply_overrides(source.project_values, self.request.overrides, source.project)
            validate_stack_config(values, source.stack_file, source.project_secret_keys,
                                  sources=override_sources(self.request.overrides, source.project))
        except StackFileError as error:
            self.err.write(f"{error}\n")
            return False
        except ConfigError as error:
            self.err.write(f"{error.report()}\n")
            return False
        return True

    def _stack(self, name: str) -> auto.Stack:
        options = auto.LocalWorkspaceOptions(work_dir=str(self.work_dir), pulumi_command=self.pulumi_command)
        return auto.create_or_select_stack(name, work_dir=str(self.work_dir), opts=options)

    def run(self, stack_name: str) -> tuple[int, dict[str, Any]]:
        request = self.request
        summary: dict[str, Any] = {"stack": stack_name, "command": request.command, "changes": {}, "outputs": {}}
        started = time.monotonic()
        if not self.validate(stack_name):
            return self._finish(EXIT_USAGE, summary, started)
        if self.pulumi_command is None and shutil.which("pulumi") is None:
            self.err.write(NO_CLI_MESSAGE.format(command=request.command) + "\n")
            return self._finish(EXIT_FAILED, summary, started)

        stack_file = self.work_dir / f"Pulumi.{stack_name}.yaml"
        original = stack_file.read_bytes() if stack_file.exists() else None
        try:
            for attempt in range(request.retries + 1):
                try:
                    stack = self._stack(stack_name)
                    self._set_overrides(stack)
                    code = self._execute(stack, summary)
                    return self._finish(code, summary, started)
                except auto.errors.ConcurrentUpdateError:
                    if attempt == request.retries:
                        self.err.write(f"stack {stack_name} is still locked by another update after {request.retries} retries\n")
                        return self._finish(EXIT_LOCKED, summary, started)
                    delay = request.retry_delay_seconds * 2 ** attempt
                    self.err.write(f"stack {stack_name} is locked by another update; retrying in {delay:.0f}s\n")
                    self.sleep(delay)
                except auto.errors.CommandError as error:
                    if request.expect_no_changes and "no changes were expected" in str(error):
                        return self._finish(EXIT_CHANGES, summary, started)
                    self.err.write(f"{request.command} failed on stack {stack_name}: {_last_lines(error)}\n")
                    return self._finish(EXIT_FAILED, summary, started)
        finally:
            if original is not None and not request.save_config:
                stack_file.write_bytes(original)
        return self._finish(EXIT_FAILED, summary, started)

    def _set_overrides(self, stack: auto.Stack) -> None:
        project = project_name(self.work_dir)
        for override in self.request.overrides:
            value = override.value if isinstance(override.value, str) else json.dumps(override.value)
            stack.set_config(override.full_key(project), auto.ConfigValue(value=value), path=override.path)

    def _execute(self, stack: auto.Stack, summary: dict[str, Any]) -> int:
        request, stream = self.request, self.out.write
        common = {"on_output": lambda line: stream(line + "\n")}
        if request.command == "preview":
            result = stack.preview(diff=request.diff, refresh=request.refresh or None, expect_no_changes=request.expect_no_changes or None,
                                   policy_packs=request.policy_packs or None, **common)
            summary["changes"] = dict(result.change_summary or {})
            changed = any(count for op, count in summary["changes"].items() if op not in UNCHANGED_OPERATIONS)
            return EXIT_CHANGES if request.expect_no_changes and changed else EXIT_OK
        if request.command == "up":
            result = stack.up(diff=request.diff, refresh=request.refresh or None, policy_packs=request.policy_packs or None, **common)
            summary["changes"] = dict(result.summary.resource_changes or {})
            summary["outputs"] = _masked(result.outputs)
            return EXIT_OK
        if request.command == "refresh":
            result = stack.refresh(diff=request.diff, **common)
            summary["changes"] = dict(result.summary.resource_changes or {})
            return EXIT_OK
        if request.command == "destroy":
            result = stack.destroy(diff=request.diff, refresh=request.refresh or None, **common)
            summary["changes"] = dict(result.summary.resource_changes or {})
            return EXIT_OK
        if request.command == "outputs":
            summary["outputs"] = _masked(stack.outputs())
            self.out.write(json.dumps(summary["outputs"], indent=2, sort_keys=True) + "\n")
            return EXIT_OK
        raise ValueError(f"unknown command {request.command}")

    def _finish(self, code: int, summary: dict[str, Any], started: float) -> tuple[int, dict[str, Any]]:
        summary["result"] = RESULTS[code]
        summary["exitCode"] = code
        summary["durationSeconds"] = round(time.monotonic() - started, 3)
        return code, summary


def _masked(outputs: auto.OutputMap) -> dict[str, Any]:
    return {name: "[secret]" if output.secret else output.value for name, output in sorted(outputs.items())}


def _last_lines(error: Exception, count: int = 5) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def run_engine(request: EngineRequest, *, pulumi_command: auto.PulumiCommand | None = None, work_dir: Path = PROJECT_ROOT,
               out: TextIO = sys.stdout, err: TextIO = sys.stderr, interactive: bool | None = None,
               sleep: Callable[[float], None] = time.sleep, confirm: Callable[[str], str] = input) -> int:
    """Run the command on every requested stack; the exit code is the most severe of them."""
    if request.command in ("up", "destroy") and not request.yes:
        if not (sys.stdin.isatty() if interactive is None else interactive):
            err.write(f"{request.command} changes infrastructure: pass --yes in non-interactive runs\n")
            return EXIT_USAGE
        answer = confirm(f"{request.command} stack(s) {', '.join(request.stacks)}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            err.write("cancelled\n")
            return EXIT_USAGE
    runner = StackRunner(request, pulumi_command=pulumi_command, work_dir=work_dir, out=out, err=err, sleep=sleep)
    results = [runner.run(stack) for stack in request.stacks]
    if request.json_file:
        document = results[0][1] if len(results) == 1 else {"stacks": [summary for _, summary in results]}
        request.json_file.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return max(code for code, _ in results)
