"""The command line imports only what the command needs: the plan path loads no Kubernetes client, boto3,
matplotlib or numpy (they cost seconds and belong to rollout, status, node-logs and simulate --plot)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("kubernetes", "boto3", "botocore", "matplotlib", "numpy", "ruamel.yaml")


def test_plan_path_imports_no_command_specific_library(tmp_path):
    script = ("import json, sys\nfrom automation.__main__ import main\n"
              f"code = main(['plan', '--stack', 'prod', '--out', {str(tmp_path)!r}])\n"
              f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    code, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0 and loaded == []


def test_help_of_every_command_still_shows_its_module_docstring():
    result = subprocess.run([sys.executable, "-m", "automation", "rollout", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "blue/green" in result.stdout.lower()
