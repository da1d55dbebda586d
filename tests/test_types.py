"""core/ and components/ pass mypy's strict mode (mypy.ini): the annotations are checked, not decoration."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_core_and_components_pass_the_strict_type_check(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(tmp_path / "cache")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found in ")
