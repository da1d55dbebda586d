"""The offline plans of the shipped stacks equal the approved ones in tests/golden/<stack>, byte for byte.

Any change to what is deployed (a rendered default, a TOML comment, a manifest, a Helm value, an input of
any resource) fails here until it is approved on purpose with `make golden`, which rewrites the folders
from the current program; the approved change then shows in the pull request's diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
SHIPPED_STACKS = sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))
_DIFF_LINES = 120
_LINE_CHARS = 160  # base64 user data is one long line; its decoded TOML is diffed in userdata/ anyway


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _short(line: str) -> str:
    return line if len(line) <= _LINE_CHARS else f"{line[:_LINE_CHARS]}... ({len(line)} characters)"


def golden_differences(approved: Path, planned: Path) -> list[str]:
    """Unified diffs (approved -> planned) and missing or extra files, as report lines; empty when equal."""
    old, new = _files(approved), _files(planned)
    report = [f"only in the approved plan: {name}" for name in sorted(old.keys() - new.keys())]
    report += [f"new in this plan: {name}" for name in sorted(new.keys() - old.keys())]
    for name in sorted(old.keys() & new.keys()):
        if old[name] != new[name]:
            diff = list(difflib.unified_diff(old[name].decode().splitlines(), new[name].decode().splitlines(),
                                             f"approved/{name}", f"planned/{name}", lineterm=""))
            diff = [_short(line) for line in diff]
            report += diff[:_DIFF_LINES] + ([f"... {len(diff) - _DIFF_LINES} more diff lines"] if len(diff) > _DIFF_LINES else [])
    return report


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_plan_equals_the_approved_golden_files(stack, request):
    plan = request.getfixturevalue(f"{stack}_plan")
    assert plan.exit_code == 0, plan.stderr
    approved = GOLDEN / stack
    assert approved.is_dir(), f"no approved plan for stack {stack}: run `make golden` and commit tests/golden/{stack}"
    differences = golden_differences(approved, plan.out_dir)
    if differences:
        pytest.fail("\n".join([f"The plan of stack {stack} differs from tests/golden/{stack}: this changes what is deployed.",
                               *differences,
                               "If the change is intended, run `make golden` to re-approve it and commit tests/golden with it."]),
                    pytrace=False)


def test_the_comparison_reports_a_one_character_change(tmp_path):
    approved, planned = tmp_path / "approved", tmp_path / "planned"
    for folder, memory in ((approved, "893Mi"), (planned, "894Mi")):
        (folder / "userdata").mkdir(parents=True)
        (folder / "userdata" / "blue.toml").write_text(f'[settings.kubernetes.kube-reserved]\nmemory = "{memory}"\n')
    (planned / "extra.json").write_text("{}")
    assert golden_differences(approved, planned) == [
        "new in this plan: extra.json",
        "--- approved/userdata/blue.toml", "+++ planned/userdata/blue.toml", "@@ -1,2 +1,2 @@",
        " [settings.kubernetes.kube-reserved]", '-memory = "893Mi"', '+memory = "894Mi"',
    ]
