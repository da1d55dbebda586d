"""init / preview / up / refresh / destroy / outputs / drift through the Pulumi Automation API (which drives the CLI).

The stack config model validates first, so a bad config never reaches the engine. Stacks are only
selected: `init` is the one command that creates a stack, so a wrong backend or organization is an
error instead of a second, empty stack. `--config` overrides apply to one run: they reach the engine
through `pulumi config set-all --json` as the typed values that were validated, and the stack file is
restored afterwards (keeping what the CLI itself wrote, like a new `encryptionsalt`) unless `--save-config`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from pulumi import automation as auto

from automation.base import STACK_ERRORS, stack_error_report
from automation.exit_codes import (EXIT_CHANGES, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE, RESULT_NAMES, CommandFailed,
                                   UsageError)
from automation.stack_files import (PROJECT_ROOT, StackFileError, load_yaml_text, mask_secrets, program_view,
                                    read_stack_config, stack_file_path)
from core.config.stack_config import other_namespaces, validate_stack_config

NO_CLI_MESSAGE = ("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) to run {command}; "
                  "`python -m automation plan` works without it")
# The CLI's --expect-no-changes failure: backenderr.NoChangesExpectedError, "no changes were expected [for refresh]
# but changes were proposed" (pulumi/pulumi pkg/backend/backenderr/backenderr.go, NoChangesExpectedError.Error).
NO_CHANGES_EXPECTED = "no changes were expected"
# Step operations that leave a resource as it is. A refresh reports each resource as "refresh" before it
# is read and with its result ("same", "update", "delete") after (pulumi/pulumi pkg/engine/update.go,
# "Refreshes are handled specially": the op of the outputs event is RefreshStep.ResultOp()).
UNCHANGED_OPERATIONS = {"same", "read", "refresh"}
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
# DIY backends (file, S3, GCS, Azure blob, Postgres) have one fixed organization, "organization"
# (pulumi/pulumi pkg/backend/diy/backend.go: `return "organization", ...`; store.go: it "MUST always be").
DIY_BACKEND_SCHEMES = ("file://", "s3://", "gs://", "azblob://", "postgres://")
# What an invalid stack config stops, for the commands that change something (the others only read).
NOT_DONE = {"up": "nothing was deployed", "destroy": "nothing was destroyed", "refresh": "the state was not changed"}
# The top-level keys of a stack file the CLI writes itself (the secrets manager's state).
CLI_OWNED_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")


@dataclass(frozen=True)
class ConfigOverride:
    """`--config key=value` (a string) or `--config-path a.b[0].c=value` (a YAML scalar, like `pulumi config set --path`)."""

    key: str
    value: Any
    path: bool

    @classmethod
    def parse(cls, text: str, path: bool) -> ConfigOverride:
        key, separator, value = text.partition("=")
        if not separator or not key:
            raise ValueError(f"{text!r}: expected key=value")
        if path:
            try:  # the stack files' loader: the same bounds on aliases and nesting, floats keep their text
                typed = load_yaml_text(value, key) if value else ""
            except StackFileError as error:
                raise ValueError(str(error)) from None
            if isinstance(typed, (dict, list)):
                raise ValueError(f"{text!r}: give one scalar per --config-path (a.b.c=8), not a map or list")
            return cls(key, typed, path)
        return cls(key, value, path)

    def full_key(self, project: str) -> str:
        return self.key if ":" in self.key.split(".")[0] else f"{project}:{self.key}"

    def segments(self, project: str) -> tuple[str, list[str | int]]:
        """(top-level key, path inside it): `p:a.b[0].c` -> ("p:a", ["b", 0, "c"])."""
        full = self.full_key(project)
        if not self.path:
            return full, []
        namespace, _, rest = full.partition(":")
        parts: list[str | int] = [int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", rest)]
        if not parts or not isinstance(parts[0], str):
            raise ValueError(f"{self.key!r}: not a config path")
        return f"{namespace}:{parts[0]}", parts[1:]


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
    approved_preview: Path | None = None


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_contains_secret(child) for child in value.values())
    if isinstance(value, list):
        return any(_contains_secret(child) for child in value)
    return False


def apply_overrides(config: dict[str, Any], overrides: list[ConfigOverride], project: str) -> tuple[dict[str, Any], list[str]]:
    """(the stack's config, full keys, with the overrides applied; the top-level keys they touched)."""
    result = copy.deepcopy(config)
    touched: list[str] = []
    for override in overrides:
        top, path = override.segments(project)
        if _contains_secret(result.get(top)):
            raise ValueError(f"{override.key}: {top} holds encrypted values, which a one-run override would send in plain "
                             "text; use `pulumi config set --secret` instead")
        if not path:
            result[top] = override.value
        else:
            node = result.setdefault(top, {})
            for part, following in zip(path, path[1:] + [None]):
                if following is None:
                    break
                if isinstance(part, int):
                    if not isinstance(node, list) or part >= len(node):
                        raise ValueError(f"{override.key}: no item [{part}] in the stack file")
                    node = node[part]
                else:
                    if not isinstance(node, dict):
                        raise ValueError(f"{override.key}: {part} is not inside a map in the stack file")
                    node = node.setdefault(part, [] if isinstance(following, int) else {})
            last = path[-1]
            if isinstance(last, int):
                if not isinstance(node, list) or last > len(node):
                    raise ValueError(f"{override.key}: no item [{last}] in the stack file")
                node[last:last + 1] = [override.value]
            elif isinstance(node, dict):
                node[last] = override.value
            else:
                raise ValueError(f"{override.key}: {last} is not inside a map in the stack file")
        if top not in touched:
            touched.append(top)
    return result, touched


def set_all_payload(config: dict[str, Any], keys: list[str]) -> dict[str, dict[str, Any]]:
    """`pulumi config set-all --json` entries (the shape `pulumi config --json` prints) for whole top-level keys.

    A structured value goes as `objectValue`, which the CLI stores as that object (pulumi/pulumi
    pkg/cmd/pulumi/config/config.go, newConfigSetAllCmd: `config.NewObjectValue`), so numbers and booleans
    keep their types; `config set --path` would convert only some strings."""
    payload: dict[str, dict[str, Any]] = {}
    for key in keys:
        value = config[key]
        if isinstance(value, (dict, list)):
            payload[key] = {"value": json.dumps(value), "objectValue": value, "secret": False}
        else:
            payload[key] = {"value": program_view(value), "secret": False}
    return payload


def keep_cli_owned_keys(snapshot: bytes, current: bytes) -> bytes:
    """The stack file as it was before this run's overrides, plus what the CLI wrote meanwhile that was not an
    override (its secrets-manager keys, e.g. a new `encryptionsalt`), so restoring never discards them."""
    before = yaml.safe_load(snapshot) or {}
    after = yaml.safe_load(current) or {}
    text = snapshot.decode("utf-8")
    for key in CLI_OWNED_KEYS:
        if after.get(key) == before.get(key):
            continue
        line = yaml.safe_dump({key: after[key]}, default_flow_style=False, width=4096).strip() if key in after else ""
        pattern = re.compile(rf"^{key}:.*$\n?", re.MULTILINE)
        if pattern.search(text):
            text = pattern.sub(line + "\n" if line else "", text, count=1)
        elif line:
            config_line = re.search(r"^config:", text, re.MULTILINE)
            at = config_line.start() if config_line else len(text)
            text = text[:at] + line + "\n" + text[at:]
    return text.encode("utf-8")


class EventLog:
    """The engine events of one operation (file log or gRPC stream, as the SDK delivers them), reduced to
    each resource's step: its operation and changed properties."""

    def __init__(self, refresh: bool = False) -> None:
        self.refresh = refresh  # a refresh's "same" steps carry the state before and after reading the resource
        self.changes: dict[str, int] = {}
        self.steps: dict[str, dict[str, Any]] = {}

    def __call__(self, event: auto.EngineEvent) -> None:
        if event.summary_event:
            self.changes = dict(event.summary_event.resource_changes or {})
        for holder in (event.resource_pre_event, event.res_outputs_event):
            if holder is not None and holder.metadata.type != ROOT_STACK_TYPE:
                self._record(holder.metadata)

    def _record(self, metadata: auto.events.StepEventMetadata) -> None:
        op = metadata.op.value if hasattr(metadata.op, "value") else str(metadata.op)
        properties = sorted(metadata.detailed_diff or {}) or sorted(metadata.diffs or [])
        old, new = metadata.old, metadata.new
        # In a refresh, a property the program sets whose live value moved although the engine reports no
        # change: the program ignores it (ignoreChanges, e.g. a frozen releaseVersion), and the engine's refresh
        # diff honours ignoreChanges (pulumi/pulumi pkg/resource/deploy/step.go, RefreshStep.Apply passes
        # s.old.IgnoreChanges to diffResource), so only the outputs read before and after show it.
        ignored = []
        if self.refresh and op == "same" and old and new and old.inputs and old.outputs is not None and new.outputs is not None:
            ignored = sorted(key for key in old.inputs if key in old.outputs and old.outputs.get(key) != new.outputs.get(key))
        new_inputs = (new.inputs if new else None) or {}
        top_level = sorted({re.split(r"[.\[]", key, maxsplit=1)[0] for key in properties})
        self.steps[metadata.urn] = {
            "urn": metadata.urn, "type": metadata.type, "name": metadata.urn.rsplit("::", 1)[-1], "op": op,
            "properties": properties, "ignoredProperties": ignored, "planned": {key: new_inputs.get(key) for key in top_level},
        }

    def changed(self) -> list[dict[str, Any]]:
        """Every resource the operation changes (or, for a refresh, found changed), in URN order."""
        report = []
        for _, step in sorted(self.steps.items()):
            if step["op"] in UNCHANGED_OPERATIONS and not step["ignoredProperties"]:
                continue
            entry = {key: step[key] for key in ("urn", "type", "name", "op", "properties")}
            if step["ignoredProperties"]:
                entry["ignoredProperties"] = step["ignoredProperties"]
            report.append(entry)
        return report

    def plan_hash(self) -> str:
        """A digest of what the operation would do: each changed resource, its operation, properties and their
        planned values (secrets as the engine masks them). Two previews plan the same changes exactly when
        their digests match."""
        planned = [[step["urn"], step["op"], step["properties"], step["planned"]]
                   for _, step in sorted(self.steps.items()) if step["op"] not in UNCHANGED_OPERATIONS]
        return hashlib.sha256(json.dumps(planned, sort_keys=True, default=str).encode()).hexdigest()


def _describe(steps: list[dict[str, Any]]) -> list[str]:
    lines = []
    for step in steps:
        detail = ", ".join(step["properties"])
        if step.get("ignoredProperties"):
            detail = ", ".join(filter(None, [detail, f"{', '.join(step['ignoredProperties'])} (ignored by the program)"]))
        lines.append(f"  {step['op']:<8} {step['type']} {step['name']}{': ' + detail if detail else ''}")
    return lines


@dataclass
class PreparedConfig:
    """What a run sends to the engine besides the stack file: the overridden top-level keys, whole."""

    payload: dict[str, dict[str, Any]]


def override_sources(overrides: list[ConfigOverride], project: str) -> dict[tuple[str, ...], str]:
    """The key paths this run's overrides set, each with the flag that set it (for error messages)."""
    sources = {}
    for override in overrides:
        top, path = override.segments(project)
        if top.startswith(f"{project}:"):
            sources[(top.split(":", 1)[1], *path)] = f"--config{'-path' if override.path else ''} {override.key}"
    return sources


class StackRunner:
    """Runs one engine command on one stack, with validation, overrides, retries and a summary."""

    def __init__(self, request: EngineRequest, *, pulumi_command: auto.PulumiCommand | None = None,
                 work_dir: Path = PROJECT_ROOT, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                 sleep: Callable[[float], None] = time.sleep):
        self.request, self.pulumi_command, self.work_dir = request, pulumi_command, work_dir
        self.out, self.err, self.sleep = out, err, sleep

    def prepare(self, stack: str) -> PreparedConfig:
        """Validate the stack's config as the engine will see it, overrides applied; raise UsageError if invalid."""
        try:
            source = read_stack_config(stack.rsplit("/", 1)[-1], root=self.work_dir)
            config, touched = apply_overrides(source.config, self.request.overrides, source.project)
            prefix = f"{source.project}:"
            values = {key[len(prefix):]: program_view(mask_secrets(value)) for key, value in config.items() if key.startswith(prefix)}
            validate_stack_config(values, source.stack_file, source.project_secret_keys,
                                  sources=override_sources(self.request.overrides, source.project), project=source.project,
                                  other_keys=other_namespaces(config, source.project))
        except STACK_ERRORS as error:
            raise UsageError(stack_error_report(error, NOT_DONE.get(self.request.command))) from None
        except ValueError as error:  # an override that cannot apply
            raise UsageError(str(error)) from None
        return PreparedConfig(set_all_payload(config, touched))

    def _workspace(self) -> auto.LocalWorkspace:
        if self.pulumi_command is None and shutil.which("pulumi") is None:
            raise CommandFailed(NO_CLI_MESSAGE.format(command=self.request.command))
        return auto.LocalWorkspace(work_dir=str(self.work_dir), pulumi_command=self.pulumi_command)

    def _where(self, workspace: auto.LocalWorkspace, stack_name: str) -> str:
        """'organization O on backend URL', as far as the CLI can tell."""
        try:
            identity = workspace.who_am_i()
            url, user = identity.url or "the current backend", identity.user
        except auto.errors.CommandError:
            url, user = "the current backend (`pulumi whoami` failed)", None
        if stack_name.count("/") == 2:
            organization = stack_name.split("/")[0]
        elif url.startswith(DIY_BACKEND_SCHEMES):
            organization = "organization"
        else:
            try:
                organization = workspace.org_get_default() or user or "unknown"
            except auto.errors.CommandError:
                organization = user or "unknown"
        return f"organization {organization} on backend {url}"

    def _select(self, workspace: auto.LocalWorkspace, stack_name: str) -> auto.Stack:
        try:
            return auto.Stack.select(stack_name, workspace)
        except auto.errors.StackNotFoundError:
            raise UsageError(f"stack {stack_name} does not exist in {self._where(workspace, stack_name)}; nothing was created. "
                             f"Check PULUMI_BACKEND_URL / `pulumi login` and the organization, or create it with "
                             f"`python -m automation init --stack {stack_name}`") from None

    def run(self, stack_name: str) -> tuple[int, dict[str, Any]]:
        request = self.request
        summary: dict[str, Any] = {"stack": stack_name, "command": request.command, "changes": {}, "outputs": {}}
        started = time.monotonic()
        try:
            code = self._run(stack_name, summary)
        except UsageError as error:
            self.err.write(f"{error}\n")
            code = EXIT_USAGE
        except CommandFailed as error:
            self.err.write(f"{error}\n")
            code = EXIT_FAILED
        except auto.errors.CommandError as error:
            self.err.write(f"{request.command} failed on stack {stack_name}: {_last_lines(error)}\n")
            code = EXIT_FAILED
        return self._finish(code, summary, started)

    def _run(self, stack_name: str, summary: dict[str, Any]) -> int:
        request = self.request
        if request.command == "init":
            workspace = self._workspace()
            try:
                workspace.create_stack(stack_name)
            except auto.errors.StackAlreadyExistsError:
                raise UsageError(f"stack {stack_name} already exists in {self._where(workspace, stack_name)}") from None
            self.out.write(f"created stack {stack_name} in {self._where(workspace, stack_name)}\n")
            return EXIT_OK
        prepared = self.prepare(stack_name) if request.command != "outputs" else PreparedConfig({})
        stack = self._select(self._workspace(), stack_name)
        stack_file = stack_file_path(stack_name.rsplit("/", 1)[-1], self.work_dir)
        restore = bool(prepared.payload) and not request.save_config and stack_file.exists()
        snapshot = stack_file.read_bytes() if restore else b""
        try:
            if prepared.payload:
                stack.set_all_config_json(json.dumps(prepared.payload))
            return self._with_retries(stack, summary)
        finally:
            if restore:
                stack_file.write_bytes(keep_cli_owned_keys(snapshot, stack_file.read_bytes()))

    def _with_retries(self, stack: auto.Stack, summary: dict[str, Any]) -> int:
        request = self.request
        for attempt in range(request.retries + 1):
            try:
                return self._execute(stack, summary)
            except auto.errors.ConcurrentUpdateError:
                if attempt == request.retries:
                    self.err.write(f"stack {stack.name} is still locked by another update after {request.retries} retries\n")
                    return EXIT_LOCKED
                delay = request.retry_delay_seconds * 2 ** attempt
                self.err.write(f"stack {stack.name} is locked by another update; retrying in {delay:.0f}s\n")
                self.sleep(delay)
        return EXIT_LOCKED

    def _execute(self, stack: auto.Stack, summary: dict[str, Any]) -> int:
        request = self.request
        events = EventLog()
        common: dict[str, Any] = {"on_output": lambda line: self.out.write(line + "\n"), "on_event": events}
        try:
            if request.command == "preview":
                stack.preview(diff=request.diff, refresh=request.refresh or None, expect_no_changes=request.expect_no_changes or None,
                              policy_packs=request.policy_packs or None, **common)
                summary["planHash"] = events.plan_hash()
            elif request.command == "up":
                if request.approved_preview and not self._matches_approved_preview(stack, summary):
                    return EXIT_CHANGES
                result = stack.up(diff=request.diff, refresh=request.refresh or None, policy_packs=request.policy_packs or None, **common)
                summary["outputs"] = _masked(result.outputs)
            elif request.command == "refresh":
                stack.refresh(diff=request.diff, **common)
            elif request.command == "destroy":
                stack.destroy(diff=request.diff, refresh=request.refresh or None, **common)
            elif request.command == "outputs":
                summary["outputs"] = _masked(stack.outputs())
                self.out.write(json.dumps(summary["outputs"], indent=2, sort_keys=True) + "\n")
                return EXIT_OK
            elif request.command == "drift":
                return self._drift(stack, summary)
            else:
                raise ValueError(f"unknown command {request.command}")
        except auto.errors.CommandError as error:
            if not (request.expect_no_changes and NO_CHANGES_EXPECTED in str(error)) or isinstance(error, auto.errors.ConcurrentUpdateError):
                raise
            return self._record(events, summary, EXIT_CHANGES)
        return self._record(events, summary, EXIT_OK)

    @staticmethod
    def _record(events: EventLog, summary: dict[str, Any], code: int) -> int:
        summary["changes"], summary["resources"] = events.changes, events.changed()
        return code

    def _matches_approved_preview(self, stack: auto.Stack, summary: dict[str, Any]) -> bool:
        """Preview again and compare with the approved preview's plan; False (and why, on stderr) if it moved."""
        path = self.request.approved_preview
        assert path is not None
        try:
            approved = json.loads(path.read_text())
            approved_hash, approved_stack = approved["planHash"], approved["stack"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"--approved-preview {path}: not a preview summary written by `preview --json` ({error})") from None
        if approved_stack != stack.name:
            raise UsageError(f"--approved-preview {path} is a preview of stack {approved_stack}, not {stack.name}")
        events = EventLog()
        stack.preview(diff=self.request.diff, refresh=self.request.refresh or None, policy_packs=self.request.policy_packs or None,
                      on_event=events)
        summary["planHash"] = events.plan_hash()
        if summary["planHash"] == approved_hash:
            return True
        self.err.write(f"up refused on stack {stack.name}: the plan changed since the approved preview "
                       f"(approved {approved_hash[:12]}, now {summary['planHash'][:12]}); nothing was changed. "
                       "Preview again and approve that\n")
        self._record(events, summary, EXIT_CHANGES)
        return False

    def _drift(self, stack: auto.Stack, summary: dict[str, Any]) -> int:
        """`refresh --preview-only --expect-no-changes` (Pulumi's drift check, Stack.preview_refresh) reads every
        resource and compares it with the state, without the program: movement the program itself asks for
        (a tracking group's new `latest`, a `mostRecent` add-on) is not drift. A plain preview then lists that
        movement as updates available."""
        refresh = EventLog(refresh=True)
        try:
            stack.preview_refresh(expect_no_changes=True, on_event=refresh)
        except auto.errors.CommandError as error:
            if NO_CHANGES_EXPECTED not in str(error):
                raise
        drift = refresh.changed()
        summary["changes"], summary["drift"] = refresh.changes, drift
        updates = EventLog()
        stack.preview(on_event=updates)
        summary["updatesAvailable"] = updates.changed()
        report = [f"drift on stack {stack.name}: {len(drift)} resource(s)" if drift else f"no drift on stack {stack.name}"]
        report += _describe(drift)
        if summary["updatesAvailable"]:
            report += [f"updates available (the stack asks for them; `up` applies them): {len(summary['updatesAvailable'])} resource(s)"]
            report += _describe(summary["updatesAvailable"])
        self.out.write("\n".join(report) + "\n")
        return EXIT_CHANGES if drift else EXIT_OK

    def _finish(self, code: int, summary: dict[str, Any], started: float) -> tuple[int, dict[str, Any]]:
        summary["result"] = RESULT_NAMES[code]
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
