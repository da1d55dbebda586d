"""pyproject.toml declares the project as Pulumi.yaml names it and ships every package of the program
(subpackages included), a regular install imports them from anywhere, and an editable install makes them
importable from anywhere (what the policy pack's virtualenv relies on)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from automation.stack_files import project_name
from tests.conftest import ROOT

NOT_SHIPPED = ["tests", "tests.*", "bench", "bench.*"]  # run from a clone, never installed


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_distribution_is_the_pulumi_project_without_declared_dependencies():
    pyproject = _pyproject()
    assert pyproject["project"]["name"] == project_name()
    # the dependencies stay pinned in requirements*.txt, not here
    assert "dependencies" not in pyproject["project"]


def _venv(tmp_path: Path) -> Path:
    """A fresh virtualenv whose interpreter also sees this interpreter's third-party packages (pydantic, ...)
    through a .pth file: those paths come after the venv's own site-packages, so the project itself is
    imported from what was installed into the venv, never from this clone's working directory."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(site_packages) / "outer-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _pip(python: Path, *arguments: str, cwd: Path) -> None:
    install = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *arguments],
                             cwd=cwd, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr


def _run(python: Path, script: str, cwd: Path) -> str:
    result = subprocess.run([str(python), "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_regular_install_ships_every_package_setuptools_finds(tmp_path):
    """Built with the pinned build backend (pyproject's build-system, from the package index pip is
    configured with), the installed distribution holds exactly the packages setuptools.find_packages()
    finds in the clone, less tests/ and bench/, and a subpackage imports from outside the repository.
    It builds from a copy of the clone: setuptools' build/lib in the clone would carry files over from an
    earlier build."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "venv", "__pycache__", "*.egg-info"))
    python = _venv(tmp_path)
    (build_backend,) = _pyproject()["build-system"]["requires"]
    _pip(python, build_backend, cwd=tmp_path)
    _pip(python, "--no-deps", "--no-build-isolation", str(source), cwd=tmp_path)
    script = f"""if True:
        import importlib.metadata, json, setuptools
        import core.config.stack_config
        installed = sorted(".".join(file.parent.parts) for file in importlib.metadata.files("{project_name()}")
                           if file.name == "__init__.py")
        expected = sorted(setuptools.find_packages({str(ROOT)!r}, exclude={NOT_SHIPPED!r}))
        print(json.dumps([installed, expected, core.config.stack_config.__file__]))
    """
    installed, expected, imported_from = json.loads(_run(python, script, cwd=tmp_path))
    assert "core.config" in expected
    assert installed == expected
    assert Path(imported_from).is_relative_to(tmp_path / "venv")


def test_an_editable_install_imports_the_packages_from_outside_the_repository(tmp_path):
    """A virtualenv with the project installed editable (as policy/requirements.txt does) imports its
    packages, subpackages included, from any working directory, with no sys.path edit."""
    python = _venv(tmp_path)
    _pip(python, "--no-deps", "-e", str(ROOT), cwd=tmp_path)
    script = "import automation.exit_codes, core.config.stack_config as s; print(s.__file__, automation.exit_codes.__file__)"
    assert _run(python, script, cwd=tmp_path).split() == [str(ROOT / "core" / "config" / "stack_config.py"),
                                                          str(ROOT / "automation" / "exit_codes.py")]
