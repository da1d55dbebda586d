"""Time to parse a stack file: the median of 20 parses of Pulumi.prod.yaml through
automation.stack_files.load_yaml_text, read by libyaml (what the commands do) and by PyYAML's
Python loader alone (what they did before, and do when PyYAML has no libyaml).

Prints figures; it asserts nothing (tests/test_stack_file_parsing.py checks both give the same values).
Run: `python -m bench.stack_file_benchmark` from the project root.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from automation import stack_files

ROOT = Path(__file__).resolve().parents[1]
PARSES = 20


def median_ms(text: str) -> float:
    stack_files.load_yaml_text(text, "Pulumi.prod.yaml")  # warm: first-use imports and regex compilation
    times = []
    for _ in range(PARSES):
        started = time.perf_counter()
        stack_files.load_yaml_text(text, "Pulumi.prod.yaml")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    with_libyaml = median_ms(text)
    fast_loader, stack_files._LIBYAML_LOADER = stack_files._LIBYAML_LOADER, None
    try:
        python_only = median_ms(text)
    finally:
        stack_files._LIBYAML_LOADER = fast_loader
    print(f"Pulumi.prod.yaml ({len(text):,} characters), median of {PARSES} parses:")
    print(f"  libyaml reads, Python composes: {with_libyaml:6.2f} ms" + ("" if fast_loader else "  (no libyaml: same loader as below)"))
    print(f"  PyYAML's Python loader alone:   {python_only:6.2f} ms  ({python_only / with_libyaml:.1f}x)")


if __name__ == "__main__":
    main()
