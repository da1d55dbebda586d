"""Time and memory of the plan command on every broken stack file of the bad-input catalogue.

Each case runs as a user runs it, `python -m automation plan --config-file <file>` in a fresh process,
and the figures are printed (the target: every file answered in under 5 s); it asserts nothing, the
tests check the answers. Run: `python -m bench.bad_input_benchmark` from the project root (`--cases N` for the first N only).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

from automation.stack_files import project_name  # noqa: E402
from tests.conftest import project_values, stack_document  # noqa: E402
from tests.test_bad_input_catalogue import BAD_FILES  # noqa: E402
from tests.test_stack_config import BAD_CONFIGS  # noqa: E402


def catalogue_files(folder: Path) -> list[tuple[str, Path]]:
    files, project = [], project_name()
    for name, text, *_ in BAD_FILES:
        path = folder / name / "Pulumi.prod.yaml"
        path.parent.mkdir()
        path.write_text(text)
        files.append((name, path))
    for name, edit, *_ in BAD_CONFIGS:
        document, values = stack_document("dev"), project_values("dev")
        edit(values)
        others = {k: v for k, v in document["config"].items() if not k.startswith(f"{project}:")}
        document["config"] = {**others, **{f"{project}:{k}": v for k, v in values.items()}}
        path = folder / name / "Pulumi.dev.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        files.append((name, path))
    return files


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--cases", type=int, help="run only the first N cases")
    options = arguments.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = catalogue_files(Path(folder))[: options.cases]
        timings = []
        for name, path in files:
            stack = path.stem.split(".")[1]
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "automation", "plan", "--stack", stack, "--config-file", str(path),
                                     "--out", str(Path(folder) / "out")], cwd=ROOT, capture_output=True, text=True)
            timings.append((time.perf_counter() - started, name, result.returncode))
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    seconds = [t for t, _, _ in timings]
    print(f"{len(timings)} broken stack files through `python -m automation plan` (fresh process each):")
    print(f"  median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s, peak memory of one run {peak_mib:.0f} MiB")
    print(f"  exit codes: {sorted({code for _, _, code in timings})}")
    print("  slowest:")
    for elapsed, name, code in sorted(timings, reverse=True)[:5]:
        print(f"    {elapsed:5.2f} s  exit {code}  {name}")


if __name__ == "__main__":
    main()
