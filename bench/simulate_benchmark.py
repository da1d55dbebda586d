"""p50/p95 time to drain a 100,000-message burst for dev and prod, the ratio against KEDA's and the HPA's
defaults, the time the default number of runs takes, and the p50 of a second seed block. Prints figures;
asserts nothing. Run: `make bench`."""

from __future__ import annotations

import json
import sys
import time

from automation.simulate import DEFAULT_RUNS, PRICES_FILE, run_many, summarize
from automation.base import load_config
from core.burst_simulation import Scenario
from core.capacity import autoscaling_for, capacity_for

RUNS = DEFAULT_RUNS
SECOND_SEED_BLOCK = 10_001


def main() -> None:
    prices = json.loads(PRICES_FILE.read_text())["prices"]
    print(f"{'stack':<6}{'metric':<15}{'p50':>10}{'p95':>10}{'defaults p50':>14}{'defaults p95':>14}{'ratio p50':>11}"
          f"{'p50 seeds ' + str(SECOND_SEED_BLOCK) + '+':>18}")
    for stack in ("dev", "prod"):
        config = load_config(stack, sys.stderr)
        workload = config.workloads[0]
        scenario = Scenario(processing_seconds=workload.processing_seconds)
        autoscaling, capacity = autoscaling_for(workload), capacity_for(config, workload, prices)
        started = time.perf_counter()
        tuned = summarize(run_many(autoscaling, capacity, scenario, RUNS, seed=1))
        elapsed = time.perf_counter() - started
        defaults = summarize(run_many(autoscaling.with_defaults(), capacity, scenario, RUNS, seed=1))
        again = summarize(run_many(autoscaling, capacity, scenario, RUNS, seed=SECOND_SEED_BLOCK))
        for metric in ("fullCapacity", "drained", "backToZero", "costUsd"):
            t, d = tuned[metric], defaults[metric]
            ratio = t["p50"] / d["p50"] if t["p50"] and d["p50"] else float("nan")
            digits = 2 if metric == "costUsd" else 0
            print(f"{stack:<6}{metric:<15}{t['p50']:>10.{digits}f}{t['p95']:>10.{digits}f}{d['p50']:>14.{digits}f}"
                  f"{d['p95']:>14.{digits}f}{ratio:>11.2f}{again[metric]['p50']:>18.{digits}f}")
        print(f"{stack:<6}({RUNS} simulated bursts with the stack's settings in {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
