"""core/ passes mypy's strict mode (mypy.ini): the functional core's annotations are checked, not decoration."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_core_passes_the_strict_type_check(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(tmp_path / "cache")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found in ")
