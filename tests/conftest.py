"""Shared fixtures: offline plans of the real program for the shipped stacks, and stack-file helpers."""

from __future__ import annotations

import copy
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]  # on sys.path through pytest.ini's `pythonpath`

import automation.plan  # noqa: E402
from automation.plan import run_plan  # noqa: E402
from automation.stack_files import project_name  # noqa: E402

PROJECT = project_name()  # the namespace of the stack files' keys, from Pulumi.yaml

pytest_plugins = ["tests.aws_emulator"]  # the moto server fixtures
from automation.stack_files import read_stack_config  # noqa: E402


class Plan:
    """An offline plan as written to disk, with lookups for assertions."""

    def __init__(self, out_dir: Path, exit_code: int, stdout: str, stderr: str):
        self.out_dir, self.exit_code, self.stdout, self.stderr = out_dir, exit_code, stdout, stderr
        self.document = json.loads((out_dir / "resources.json").read_text()) if exit_code == 0 else None

    @property
    def resources(self) -> list[dict[str, Any]]:
        return self.document["resources"]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.document["outputs"]

    def of_type(self, typ: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == typ]

    def one(self, typ: str, name: str) -> dict[str, Any]:
        (hit,) = [r for r in self.resources if r["type"] == typ and r["name"] == name]
        return hit

    def by_urn(self, urn: str) -> dict[str, Any]:
        (hit,) = [r for r in self.resources if r["urn"] == urn]
        return hit

    def user_data(self, group: str) -> str:
        return (self.out_dir / "userdata" / f"{group}.toml").read_text()


def make_plan(stack: str, out_dir: Path | None, config_file: Path | None = None) -> Plan:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_plan(stack, config_file, out_dir, stdout=stdout, stderr=stderr)
    return Plan(out_dir or automation.plan.default_plan_folder(stack), code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="session")
def dev_plan(tmp_path_factory) -> Plan:
    return make_plan("dev", tmp_path_factory.mktemp("plan") / "dev")


@pytest.fixture(scope="session")
def prod_plan(tmp_path_factory) -> Plan:
    return make_plan("prod", tmp_path_factory.mktemp("plan") / "prod")


def stack_document(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def project_values(stack: str) -> dict[str, Any]:
    """The project's keys of a shipped stack file, without namespace (what the validator receives)."""
    return copy.deepcopy(read_stack_config(stack).project_values)


@pytest.fixture
def write_stack(tmp_path) -> Callable[..., Path]:
    """Write a variant of a shipped stack file: `edit` receives the project's values to change."""

    def write(edit: Callable[[dict[str, Any]], None], base: str = "dev", name: str = "Pulumi.broken.yaml") -> Path:
        document = stack_document(base)
        values = project_values(base)
        edit(values)
        others = {k: v for k, v in document["config"].items() if not k.startswith(f"{PROJECT}:")}
        document["config"] = {**others, **{f"{PROJECT}:{k}": v for k, v in values.items()}}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


class FakePulumiCli:
    """tests/fake_pulumi.py on PATH as `pulumi`: its scenario (`state`, saved with `save()`) and the calls it got."""

    def __init__(self, home: Path):
        self.home = home
        self.state: dict[str, Any] = {
            "version": pinned_pulumi_version(), "backend": "https://api.pulumi.com", "user": "ci-bot", "organization": "acme",
            "stacks": {name: {"salt": f"v1:salt-{name}:v1:key-{name}", "outputs": {}} for name in ("dev", "prod")},
            "operations": {}, "failures": {}, "step_seconds": 0.02,
        }
        self.save()

    def save(self) -> None:
        (self.home / "state.json").write_text(json.dumps(self.state, indent=2))

    def load(self) -> dict[str, Any]:
        self.state = json.loads((self.home / "state.json").read_text())
        return self.state

    def calls(self) -> list[list[str]]:
        path = self.home / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [[a for a in json.loads(line)["args"] if a != "--non-interactive"] for line in lines]

    def commands(self) -> list[str]:
        """Each call's words before its flags, e.g. 'stack select', 'refresh'."""
        result = []
        for call in self.calls():
            words = []
            for arg in call:
                if arg.startswith("-"):
                    break
                words.append(arg)
            result.append(" ".join(words))
        return result


def pinned_pulumi_version() -> str:
    """The Pulumi version the project pins (requirements.txt); the workflow installs this CLI, the fake reports it."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("pulumi=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError("requirements.txt pins no pulumi version")


@pytest.fixture
def fake_pulumi(tmp_path_factory, monkeypatch) -> FakePulumiCli:
    home = tmp_path_factory.mktemp("fake-pulumi")
    bin_dir = home / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "pulumi"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fake_pulumi.py"}" "$@"\n')
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(home))
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    return FakePulumiCli(home)
