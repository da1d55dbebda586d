"""Wall time and peak memory of the offline plan: prod, and generated stacks of 1 to 20 node groups, and
the prod plan against the import floor measured in the same run.

Prints figures; it asserts nothing. Each stack is planned in fresh `python -m automation plan` processes
(what `make plan` costs, imports included), and in a child process that plans it once (imports included)
and then AGAIN_RUNS more times (the program's own cost). The import floor is a process
that only imports the SDK modules whose resources the program registers (IMPORT_FLOOR), under the process
settings the plan command runs with (no cyclic garbage collector while importing, the live objects frozen
before the interpreter's shutdown: automation/__main__.py), so that it stays the least a process with
those imports costs; a plain import process (collector on, full shutdown) is measured too, as issue 16
first did, and so is the registration floor (bench/registration_floor.py): the import floor plus the SDK
registering the plan's own resources, the least any program that registers them pays. The floors and the
prod plan alternate, FLOOR_RUNS times, and the medians are compared. Every
child process writes and reuses bytecode (in a temporary PYTHONPYCACHEPREFIX), as a user's Python does.
Run: `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import importlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

GROUP_COUNTS = (1, 5, 10, 20)
FLOOR_RUNS = 7
AGAIN_RUNS = 5
PROCESS_RUNS = 3
# The SDK modules whose resources the program registers (issue 16's import floor).
IMPORT_FLOOR = ("pulumi", "pulumi_eks", *(f"pulumi_aws.{m}" for m in ("ec2", "eks", "iam", "sqs", "ssm", "kms", "cloudwatch")),
                *(f"pulumi_kubernetes.{m}" for m in ("core.v1", "apps.v1", "helm.v3", "apiextensions", "policy.v1", "networking.v1")),
                "pydantic", "tomlkit", "yaml")


def generated_stack(groups: int, folder: Path) -> Path:
    """prod's stack file (add-ons included) with `groups` enabled copies of its blue node group."""
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    from automation.stack_files import project_name  # here, not at the top: the import floor must not load it

    project = project_name()
    blue = document["config"][f"{project}:nodeGroups"]["blue"]
    document["config"][f"{project}:nodeGroups"] = {f"g{i:02d}": copy.deepcopy(blue) for i in range(1, groups + 1)}
    document["config"][f"{project}:karpenter"]["nodeClass"]["versionFrom"] = "g01"
    path = folder / f"Pulumi.bench{groups}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def child(stack: str, config_file: str | None) -> None:
    """A plan through the command's own entry point (so with its process settings), then AGAIN_RUNS more in the
    same process, timed; `again` is their median (one run alone moves by a fifth with what else the machine does)."""
    from automation.__main__ import main as command

    timings = []
    with tempfile.TemporaryDirectory() as out:
        argv = ["plan", "--stack", stack, "--out", str(Path(out) / "plan")] + (["--config-file", config_file] if config_file else [])
        for _ in range(1 + AGAIN_RUNS):
            gc.collect()  # untimed: each run starts from the live objects only (the command keeps the collector off)
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = command(argv)
            timings.append(time.perf_counter() - started)
            if code != 0:
                raise SystemExit(code)
        resources = len(json.loads((Path(out) / "plan" / "resources.json").read_text())["resources"])
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"first": timings[0], "again": statistics.median(timings[1:]), "peakMiB": peak_mib, "resources": resources}))
    gc.freeze()  # the process ends as the command's does (automation/__main__.py)


def import_floor() -> None:
    """Import the IMPORT_FLOOR modules whole."""
    for name in IMPORT_FLOOR:
        # The SDKs load a sub-package lazily, on its first attribute that is not module metadata.
        getattr(importlib.import_module(name), "__all__", None)


def floor_child(like_the_plan: bool) -> None:
    if like_the_plan:
        gc.disable()
    import_floor()
    if like_the_plan:
        gc.freeze()


def _environment(cache: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = cache
    return environment


def _timed(command: list[str], cache: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, cwd=ROOT, env=_environment(cache))
    return time.perf_counter() - started


def floor_ratio(cache: str) -> dict[str, float]:
    """Median seconds of the import floor, of a plain import process, of the registration floor
    (bench/registration_floor.py) and of `python -m automation plan --stack prod`, alternating."""
    with tempfile.TemporaryDirectory() as out:
        plan = [sys.executable, "-m", "automation", "plan", "--stack", "prod", "--out", out]
        _timed(plan, cache)  # writes the bytecode, and the resources.json the registration floor registers
        with tempfile.TemporaryDirectory() as kept:
            resources = Path(kept) / "resources.json"
            shutil.copy(Path(out) / "resources.json", resources)
            commands = {
                "floor": [sys.executable, "-m", "bench.plan_benchmark", "--floor"],
                "plain": [sys.executable, "-m", "bench.plan_benchmark", "--plain-imports"],
                "registration": [sys.executable, "-m", "bench.registration_floor", str(resources)],
                "plan": plan,
            }
            _timed(commands["registration"], cache)
            runs = [{label: _timed(command, cache) for label, command in commands.items()} for _ in range(FLOOR_RUNS)]
    return {label: statistics.median(run[label] for run in runs) for label in commands}


def measure(stack: str, config_file: Path | None, cache: str) -> dict:
    """Figures of one stack: `process` is the median of PROCESS_RUNS `python -m automation plan` processes
    (what `make plan` costs), the rest comes from a child that plans several times in one process."""
    extra = ["--config-file", str(config_file)] if config_file else []
    child = [sys.executable, "-m", "bench.plan_benchmark", "--child", stack] + ([str(config_file)] if config_file else [])
    result = subprocess.run(child, capture_output=True, text=True, check=True, cwd=ROOT, env=_environment(cache))
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as out:
        plan = [sys.executable, "-m", "automation", "plan", "--stack", stack, "--out", out, *extra]
        figures["process"] = statistics.median(_timed(plan, cache) for _ in range(PROCESS_RUNS))
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        medians = floor_ratio(cache)
        rows = [("prod", measure("prod", None, cache))]
        with tempfile.TemporaryDirectory() as folder:
            for groups in GROUP_COUNTS:
                rows.append((f"{groups} node groups", measure("prod", generated_stack(groups, Path(folder)), cache)))
    print(f"{'stack':<16}{'resources':>10}{'process s':>11}{'plan s':>9}{'again s':>9}{'peak MiB':>10}")
    for label, f in rows:
        print(f"{label:<16}{f['resources']:>10}{f['process']:>11.2f}{f['first']:>9.2f}{f['again']:>9.3f}{f['peakMiB']:>10.0f}")
    one, twenty = rows[1][1], rows[-1][1]
    per_group = (twenty["again"] - one["again"]) / (GROUP_COUNTS[-1] - GROUP_COUNTS[0])
    print(f"\nprocess s: a whole `python -m automation plan` process (median of {PROCESS_RUNS}); plan s: first plan in a child process (imports included); "
          f"again s: median of {AGAIN_RUNS} more plans in the same process.")
    print(f"Marginal cost per node group (again s, 1 -> 20 groups): {per_group * 1000:.1f} ms")
    print(f"20 node groups / prod (process s): {twenty['process'] / rows[0][1]['process']:.2f}x")
    floor, plan = medians["floor"], medians["plan"]
    print(f"\nImport floor ({len(IMPORT_FLOOR)} SDK modules, the plan's process settings) {floor:.2f} s; `plan --stack prod` "
          f"{plan:.2f} s (medians of {FLOOR_RUNS} alternating runs): the plan is {plan / floor:.2f}x the floor")
    print(f"A plain process importing the same modules (collector on, full shutdown) {medians['plain']:.2f} s: "
          f"the plan is {plan / medians['plain']:.2f}x that")
    print(f"Registration floor (the import floor, then the SDK registering the plan's resources) {medians['registration']:.2f} s: "
          f"{medians['registration'] / floor:.2f}x the import floor; the plan is {plan / medians['registration']:.2f}x it")

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1:] == ["--floor"]:
        floor_child(like_the_plan=True)
    elif sys.argv[1:] == ["--plain-imports"]:
        floor_child(like_the_plan=False)
    else:
        argparse.ArgumentParser(description=__doc__).parse_args()
        main()
