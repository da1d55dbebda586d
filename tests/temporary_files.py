"""A command run as a user runs it, `python -m automation ...` in a fresh process, with an audit hook that
lists every temporary file and folder it makes: CPython raises the audit events `tempfile.mkstemp` and
`tempfile.mkdtemp` for each (whoever calls them), so a test can tell "made none" from "made and removed"."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

_AUDITED = """
import atexit, runpy, sys
made = []
sys.addaudithook(lambda event, args: made.append(args[0]) if event in ("tempfile.mkstemp", "tempfile.mkdtemp") else None)
atexit.register(lambda: sys.stderr.write(f"\\ntemporary: {made!r}\\n"))
sys.argv = ["automation", *sys.argv[1:]]
runpy.run_module("automation", run_name="__main__")
"""


def run_listing_temporary_files(arguments: list[str], temporary: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """(the finished command, with the audit line cut from its stderr; the temporary paths it made), run
    with TMPDIR=`temporary`."""
    result = subprocess.run([sys.executable, "-c", _AUDITED, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TMPDIR": str(temporary)})
    stderr, _, made = result.stderr.rpartition("\ntemporary: ")
    result.stderr = stderr
    return result, ast.literal_eval(made.strip())
