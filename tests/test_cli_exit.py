"""How a plan's process spends (or spares) the cyclic garbage collector: `python -m automation plan` runs
without it, and freezes what is alive before the interpreter's shutdown, so no collection walks the SDKs'
objects (about 400,000 after a prod plan) during the plan, after it, or at the shutdown (about 1 s)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_no_collection_walks_the_plans_objects_and_they_are_frozen_before_the_process_ends(tmp_path):
    script = ("import gc, json, runpy, sys\n"
              "young = []\n"
              "gc.callbacks.append(lambda phase, info: phase == 'start' and young.append(gc.get_count()[0]))\n"
              f"sys.argv = ['automation', 'plan', '--stack', 'prod', '--out', {str(tmp_path / 'plan')!r}]\n"
              "try:\n    runpy.run_module('automation', run_name='__main__', alter_sys=True)\n"
              "except SystemExit as end:\n    print(json.dumps([end.code, gc.get_freeze_count(), max(young)]))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    code, frozen, largest_young_generation = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0
    assert frozen > 100_000  # the SDKs' classes and the plan's objects
    assert largest_young_generation < 10_000  # collections only ran before the plan, over a few thousand objects
