"""How a command's process ends: `python -m automation` freezes what is alive before the interpreter's
shutdown, so the shutdown's cyclic collections do not walk the SDKs' objects again (about 1 s of a plan)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_command_line_freezes_the_live_objects_before_the_process_ends(tmp_path):
    script = ("import gc, json, runpy, sys\n"
              f"sys.argv = ['automation', 'plan', '--stack', 'prod', '--out', {str(tmp_path / 'plan')!r}]\n"
              "try:\n    runpy.run_module('automation', run_name='__main__', alter_sys=True)\n"
              "except SystemExit as end:\n    print(json.dumps([end.code, gc.get_freeze_count()]))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    code, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0
    assert frozen > 100_000  # the SDKs' classes and the plan's objects, about 400,000
