"""p50/p95 time to drain a 100,000-message burst for dev and prod, and the ratio against KEDA's and the
HPA's defaults. Prints figures; asserts nothing. Run: `make bench`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automation.simulate import PRICES_FILE, autoscaling_for, capacity_for, run_many, summarize  # noqa: E402
from automation.status import load_config  # noqa: E402
from core.burst_simulation import Scenario  # noqa: E402

RUNS = 50


def main() -> None:
    prices = json.loads(PRICES_FILE.read_text())["prices"]
    print(f"{'stack':<6}{'metric':<15}{'p50':>10}{'p95':>10}{'defaults p50':>14}{'defaults p95':>14}{'ratio p50':>11}")
    for stack in ("dev", "prod"):
        config = load_config(stack, sys.stderr)
        workload = config.workloads[0]
        scenario = Scenario(processing_seconds=workload.processing_seconds)
        autoscaling, capacity = autoscaling_for(workload), capacity_for(config, workload, prices)
        started = time.perf_counter()
        tuned = summarize(run_many(autoscaling, capacity, scenario, RUNS, seed=1))
        defaults = summarize(run_many(autoscaling.with_defaults(), capacity, scenario, RUNS, seed=1))
        elapsed = time.perf_counter() - started
        for metric in ("fullCapacity", "drained", "backToZero", "costUsd"):
            t, d = tuned[metric], defaults[metric]
            ratio = t["p50"] / d["p50"] if t["p50"] and d["p50"] else float("nan")
            print(f"{stack:<6}{metric:<15}{t['p50']:>10.1f}{t['p95']:>10.1f}{d['p50']:>14.1f}{d['p95']:>14.1f}{ratio:>11.2f}")
        print(f"{stack:<6}({2 * RUNS} simulated bursts in {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
