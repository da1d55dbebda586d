"""pyproject.toml declares the project as Pulumi.yaml names it and ships every package of the program, and an
editable install makes them importable from anywhere (what the policy pack's virtualenv relies on)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from automation.stack_files import project_name
from tests.conftest import ROOT

NOT_SHIPPED = {"tests", "bench"}  # run from a clone, never installed


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_distribution_is_the_pulumi_project_with_every_package():
    pyproject = _pyproject()
    assert pyproject["project"]["name"] == project_name()
    packages = sorted(path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name not in NOT_SHIPPED)
    assert sorted(pyproject["tool"]["setuptools"]["packages"]) == packages
    # the dependencies stay pinned in requirements*.txt, not here
    assert "dependencies" not in pyproject["project"]


def test_an_editable_install_imports_the_packages_from_outside_the_repository(tmp_path):
    """A virtualenv with the project installed editable (as policy/requirements.txt does) imports its
    packages from any working directory, with no sys.path edit (modules without third-party imports here:
    the venv has none). The build backend comes from the package index pip is configured with."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-deps", "-e", str(ROOT)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    script = "import automation.exit_codes, core.tags; print(core.tags.__file__, automation.exit_codes.__file__)"
    result = subprocess.run([str(python), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(ROOT / "core" / "tags.py"), str(ROOT / "automation" / "exit_codes.py")]
