"""`python -m automation simulate`: how long a burst takes to drain, and what it costs, with this stack's
settings: the ScaledObject the program deploys, the NodePools' instance types and limits, the managed node
groups' size, the node settings' reserved resources, and Karpenter's consolidation. With --target-drain, the
cheapest maxReplicaCount, NodePool CPU limit and polling interval that drain the burst in time at p95.

Exit codes: 0 done; 1 no setting drains the burst within --target-drain; 2 invalid stack file or argument."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from automation.exit_codes import EXIT_OK, EXIT_USAGE
from automation.stack_files import PROJECT_ROOT
from core.burst_simulation import Autoscaling, Capacity, Result, Scenario, percentile, series_time, simulate
from core.capacity import autoscaling_for, capacity_for, duration_seconds
from core.config.stack_config import StackConfig
from core.config.workloads import WorkloadConfig

PRICES_FILE = PROJECT_ROOT / "data" / "ec2-on-demand-prices.json"
FIGURES = ("firstPodReady", "firstMessageProcessed", "fullCapacity", "drained", "backToZero", "nodeSeconds", "podSeconds", "costUsd")
DEFAULT_RUNS = 200


def summarize(results: list[Result]) -> dict[str, dict[str, float | None]]:
    figures = [r.figures() for r in results]
    return {name: {"p50": percentile([f[name] for f in figures], 0.5), "p95": percentile([f[name] for f in figures], 0.95)}
            for name in FIGURES}


def run_many(autoscaling: Autoscaling, capacity: Capacity, scenario: Scenario, runs: int, seed: int,
             keep_series: bool = False) -> list[Result]:
    return [simulate(autoscaling, capacity, scenario, seed + run, keep_series) for run in range(runs)]


# --- arguments ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arguments:
    messages: int = 100_000
    burst_seconds: int = 10
    shape: str = "uniform"
    processing_seconds: float | None = None
    in_flight_per_pod: int = 10
    runs: int = DEFAULT_RUNS
    seed: int = 1
    target_drain: str | None = None
    plot: bool = False
    compare: bool = False


def argument_errors(arguments: Arguments) -> list[str]:
    """Every invalid simulator argument, each naming its flag."""
    errors = []
    for flag, value in (("--messages", arguments.messages), ("--burst-seconds", arguments.burst_seconds),
                        ("--in-flight-per-pod", arguments.in_flight_per_pod), ("--runs", arguments.runs)):
        if value < 1:
            errors.append(f"{flag} must be at least 1 (got {value})")
    if arguments.processing_seconds is not None and not (0 < arguments.processing_seconds <= 43200):
        errors.append(f"--processing-seconds must be above 0 and at most 43200 (got {arguments.processing_seconds:g})")
    if arguments.seed < 0:
        errors.append(f"--seed must be 0 or more (got {arguments.seed})")
    if arguments.target_drain is not None:
        seconds = duration_seconds(arguments.target_drain)
        if not seconds:
            errors.append(f"--target-drain must be a duration such as 15m, 1h or 900s (got {arguments.target_drain!r})")
        errors += [f"{flag} does not apply to --target-drain" for flag, given in (("--plot", arguments.plot), ("--compare", arguments.compare)) if given]
    return errors


# --- output -------------------------------------------------------------------------------------------

def format_figure(value: float | None, name: str) -> str:
    if value is None:
        return "never"
    if name == "costUsd":
        return f"${value:.2f}"
    if name in ("nodeSeconds", "podSeconds"):
        return f"{value:,.0f}"
    return f"{value:,.0f}s" if value < 120 else f"{value / 60:,.1f}min"


def render_table(summary: dict, defaults: dict | None) -> str:
    header = f"{'':24}{'p50':>12}{'p95':>12}" + (f"{'defaults p50':>16}{'defaults p95':>16}" if defaults else "")
    lines = [header]
    for name in FIGURES:
        row = f"{name:24}{format_figure(summary[name]['p50'], name):>12}{format_figure(summary[name]['p95'], name):>12}"
        if defaults:
            row += f"{format_figure(defaults[name]['p50'], name):>16}{format_figure(defaults[name]['p95'], name):>16}"
        lines.append(row)
    return "\n".join(lines) + "\n"


def _launched(results: list[Result]) -> dict[str, int]:
    """Karpenter nodes launched per instance type, summed over the runs."""
    totals: dict[str, int] = {}
    for result in results:
        for name, count in result.launched.items():
            totals[name] = totals.get(name, 0) + count
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def bands(results: list[Result], end: int) -> dict[str, list[float]]:
    """p5, p50 and p95 over the runs of queue, Ready pods and nodes on the series' grid up to `end`; a run
    that has settled keeps its last values."""
    import numpy

    grid = [t for t in range(end + 1) if series_time(t)]
    if grid[-1] != end:
        grid.append(end)
    columns = numpy.empty((3, len(results), len(grid)))
    for run, result in enumerate(results):
        times = numpy.array([row[0] for row in result.series])
        values = numpy.array([row[1:] for row in result.series], dtype=float)
        index = numpy.searchsorted(times, grid, side="right") - 1
        columns[:, run, :] = values[numpy.clip(index, 0, None)].T
    out: dict[str, list[float]] = {"t": grid}
    for column, name in enumerate(("queue", "pods", "nodes")):
        for q in (5, 50, 95):
            out[f"{name}_p{q}"] = numpy.percentile(columns[column], q, axis=0).tolist()
    return out


def plot(path: Path, tuned: list[Result], defaults: list[Result] | None, title: str) -> None:
    """Queue, Ready pods and nodes: p50 line and p5-p95 band over the runs, this stack against the
    defaults; left the first five minutes in seconds, right the whole burst in minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(3, 2, figsize=(12, 8), gridspec_kw={"width_ratios": [1, 1.6]})
    labels = ("messages in the queue", "Ready worker pods", "nodes (managed + Karpenter)")
    end = max(r.series[-1][0] for r in tuned + (defaults or []))
    for results, colour, label in ((tuned, "tab:blue", "this stack"), (defaults, "tab:orange", "KEDA/HPA defaults")):
        if not results:
            continue
        band = bands(results, end)
        seconds = band["t"]
        minutes = [t / 60 for t in seconds]
        early = sum(1 for t in seconds if t <= 300)
        for row, name in enumerate(("queue", "pods", "nodes")):
            for column, x, count in ((0, seconds, early), (1, minutes, len(seconds))):
                axis = axes[row][column]
                axis.fill_between(x[:count], band[f"{name}_p5"][:count], band[f"{name}_p95"][:count], color=colour, alpha=0.2,
                                  linewidth=0, step="post")
                axis.step(x[:count], band[f"{name}_p50"][:count], where="post", color=colour,
                          label=f"{label}: p50, band p5–p95 of {len(results)} runs")
    for row, label in enumerate(labels):
        for column in (0, 1):
            axis = axes[row][column]
            axis.grid(alpha=0.3)
            axis.set_ylim(bottom=0)
            if row:
                axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[row][0].set_ylabel(label)
    axes[0][0].set_title("first 5 minutes")
    axes[0][1].set_title("the whole burst, back to idle")
    axes[-1][0].set_xlabel("seconds after the burst starts")
    axes[-1][1].set_xlabel("minutes after the burst starts")
    axes[0][1].legend(loc="upper right", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- the command ---------------------------------------------------------------------------------------

def select_workload(config: StackConfig, stack: str, workload_name: str | None) -> tuple[int, WorkloadConfig]:
    if not config.workloads:
        raise ValueError(f"stack {stack} has no workloads to simulate")
    for index, workload in enumerate(config.workloads):
        if workload_name in (None, workload.name):
            return index, workload
    raise ValueError(f"--workload: stack {stack} has no workload named {workload_name!r}")


def load_prices() -> dict[str, float]:
    return json.loads(PRICES_FILE.read_text())["prices"]


def run_simulate(config: StackConfig, stack: str, *, workload_name: str | None, scenario: Scenario, runs: int, seed: int,
                 compare_defaults: bool, json_file: bool, plot_file: Path | None, processing_seconds: float | None = None,
                 out: TextIO = sys.stdout) -> dict[str, Any]:
    """`processing_seconds` None: the workload's own `processingSeconds`."""
    _, workload = select_workload(config, stack, workload_name)
    scenario = replace(scenario, processing_seconds=processing_seconds or workload.processing_seconds)
    autoscaling, capacity = autoscaling_for(workload), capacity_for(config, workload, load_prices())
    keep = plot_file is not None
    tuned = run_many(autoscaling, capacity, scenario, runs, seed, keep)
    report: dict[str, Any] = {"stack": stack, "workload": workload.name, "runs": runs, "scenario": asdict(scenario),
                              "capacity": {"managedNodes": capacity.managed_nodes, "managedFreePodSlots": capacity.managed_free_pod_slots,
                                           "karpenterLaunched": _launched(tuned)},
                              **summarize(tuned)}
    baseline = run_many(autoscaling.with_defaults(), capacity, scenario, runs, seed, keep) if compare_defaults else None
    if baseline:
        report["defaults"] = summarize(baseline)
        report["capacity"]["defaultsKarpenterLaunched"] = _launched(baseline)
    if plot_file:
        plot(plot_file, tuned, baseline, f"{stack}/{workload.name}: {scenario.messages:,} messages over {scenario.burst_seconds}s")
    if json_file:
        out.write(json.dumps(report, indent=2) + "\n")
        return report
    def per_run(launched: dict[str, int]) -> str:
        return ", ".join(f"{name} ×{count / runs:.1f}" for name, count in launched.items()) or "none"

    out.write(f"{stack}/{workload.name}: {scenario.messages:,} messages over {scenario.burst_seconds}s, "
              f"{scenario.messages_in_flight_per_pod} in flight per pod × {scenario.processing_seconds:g}s each; {runs} runs\n"
              f"{capacity.managed_free_pod_slots} pod slots free on {capacity.managed_nodes} managed nodes; "
              f"Karpenter nodes per run: {per_run(report['capacity']['karpenterLaunched'])}"
              + (f" (defaults: {per_run(report['capacity']['defaultsKarpenterLaunched'])})" if baseline else "") + "\n\n")
    out.write(render_table({k: report[k] for k in FIGURES}, report.get("defaults")))
    if plot_file:
        out.write(f"\nplot: {plot_file}\n")
    return report


def main(args: Any, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The `simulate` command from parsed arguments: validate them, load the stack, run."""
    out, err = out or sys.stdout, err or sys.stderr
    from automation.base import load_config

    arguments = Arguments(args.messages, args.burst_seconds, args.shape, args.processing_seconds, args.in_flight_per_pod,
                          args.runs, args.seed, args.target_drain, args.plot is not None, args.compare is not None)
    errors = argument_errors(arguments)
    if errors:
        err.write("simulate: " + "; ".join(errors) + "\n")
        return EXIT_USAGE
    config = load_config(args.stack, err, args.config_file)
    if config is None:
        return EXIT_USAGE
    scenario = Scenario(messages=args.messages, burst_seconds=args.burst_seconds, shape=args.shape,
                        messages_in_flight_per_pod=args.in_flight_per_pod)
    try:
        if args.target_drain:
            from automation.capacity_search import run_target_drain

            return run_target_drain(config, args.stack, workload_name=args.workload, scenario=scenario,
                                    target_seconds=duration_seconds(args.target_drain) or 0, runs=args.runs, seed=args.seed,
                                    processing_seconds=args.processing_seconds, json_output=args.json, out=out, err=err)
        run_simulate(config, args.stack, workload_name=args.workload, scenario=scenario, runs=args.runs, seed=args.seed,
                     compare_defaults=args.compare == "defaults", json_file=args.json, plot_file=args.plot,
                     processing_seconds=args.processing_seconds, out=out)
    except ValueError as error:
        err.write(f"simulate: {error}\n")
        return EXIT_USAGE
    return EXIT_OK
