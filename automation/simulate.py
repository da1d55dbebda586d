"""`python -m automation simulate`: how long a burst takes to drain, and what it costs, with this stack's
settings: the ScaledObject the program deploys, the NodePools' instance types and limits, the managed node
groups' size, the node settings' reserved resources, and Karpenter's consolidation. With --target-drain, the
cheapest maxReplicaCount, NodePool CPU limit and polling interval that drain the burst in time at p95.

Exit codes: 0 done; 1 no setting drains the burst within --target-drain; 2 invalid stack file or argument."""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from automation.stack_files import PROJECT_ROOT
from core import instance_types, sqs_worker
from core.addons_config import NodePoolConfig, WorkloadConfig
from core.bottlerocket_settings import quantity_value
from core.burst_simulation import (
    Autoscaling,
    Capacity,
    InstanceOption,
    NodePool,
    Result,
    ScalingPolicy,
    ScalingRules,
    Scenario,
    percentile,
    series_time,
    simulate,
)
from core.stack_config import StackConfig
from core.user_data import reserved_memory_mib

PRICES_FILE = PROJECT_ROOT / "data" / "ec2-on-demand-prices.json"
# What DaemonSets (VPC CNI, kube-proxy, Pod Identity agent) take on every node.
DAEMONSET_CPU_MILLI, DAEMONSET_MEMORY_MIB = 250, 300
# Karpenter counts an instance type's memory against pool limits less its VM overhead estimate:
# VM_MEMORY_OVERHEAD_PERCENT 0.075 (aws/karpenter-provider-aws v1.14.1 pkg/operator/options/options.go:58,
# applied in pkg/providers/instancetype/types.go:364).
KARPENTER_VM_MEMORY_OVERHEAD = 0.075
FIGURES = ("firstPodReady", "firstMessageProcessed", "fullCapacity", "drained", "backToZero", "nodeSeconds", "podSeconds", "costUsd")
DEFAULT_RUNS = 200
from automation.exit_codes import EXIT_FAILED as EXIT_IMPOSSIBLE, EXIT_OK, EXIT_USAGE  # 1: no setting drains in time


def _cpu_milli(quantity: str) -> float:
    return quantity_value(quantity) * 1000


def _memory_mib(quantity: str) -> float:
    return quantity_value(quantity) / 2**20


def duration_seconds(text: str) -> int | None:
    """`15m`, `1h30m`, `90s`, `900` (seconds) -> seconds; None when it is not a duration."""
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if not re.fullmatch(r"([0-9]+[hms])+", text):
        return None
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600}[unit] for n, unit in re.findall(r"([0-9]+)([smh])", text))


def autoscaling_for(workload: WorkloadConfig) -> Autoscaling:
    """The autoscaling of the ScaledObject the program renders for `workload`."""
    spec = sqs_worker.scaled_object(workload, "", "")["spec"]
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]

    def rules(side: dict) -> ScalingRules:
        return ScalingRules(side["stabilizationWindowSeconds"], side["selectPolicy"],
                            tuple(ScalingPolicy(p["type"], p["value"], p["periodSeconds"]) for p in side["policies"]))

    trigger = spec["triggers"][0]["metadata"]
    return Autoscaling(spec["pollingInterval"], spec["cooldownPeriod"], int(trigger["activationQueueLength"]),
                       int(trigger["queueLength"]), spec["minReplicaCount"], spec["maxReplicaCount"],
                       rules(behavior["scaleUp"]), rules(behavior["scaleDown"]))


def pods_per_node(instance_type: str, settings: dict[str, Any], workload: WorkloadConfig, taken_cpu_milli: float = 0,
                  taken_memory_mib: float = 0) -> int:
    """Worker pods that fit by requests, after reserved resources, the hard eviction threshold and DaemonSets."""
    cpus, memory = instance_types.vcpus(instance_type), instance_types.memory_mib(instance_type)
    if not cpus or not memory:
        return 0
    kubernetes = settings.get("kubernetes", {})
    reserved_cpu = sum(_cpu_milli(kubernetes.get(k, {}).get("cpu", "0")) for k in ("system-reserved", "kube-reserved"))
    reserved_memory = reserved_memory_mib(kubernetes, memory)
    cpu = cpus * 1000 - reserved_cpu - DAEMONSET_CPU_MILLI - taken_cpu_milli
    mem = memory - reserved_memory - DAEMONSET_MEMORY_MIB - taken_memory_mib
    request_cpu = _cpu_milli(workload.resources.requests.cpu)
    request_memory = _memory_mib(workload.resources.requests.memory)
    return max(0, int(min(cpu // request_cpu, mem // request_memory)))


def _allowed(instance_type: str, pool: NodePoolConfig) -> bool:
    match = re.match(r"^([a-z]+)([0-9]+)([a-z-]*)\.", instance_type)
    if not match or match[1] not in pool.instance_categories or int(match[2]) < pool.minimum_instance_generation:
        return False
    architecture = "arm64" if instance_types.architecture(instance_type) == "arm64" else "amd64"
    return architecture in pool.architectures


def _limit(pool: NodePoolConfig, resource: str, to_unit) -> float:
    return to_unit(pool.limits[resource]) if resource in pool.limits else math.inf


def node_pools_for(config: StackConfig, workload: WorkloadConfig, prices: dict[str, float]) -> tuple[NodePool, ...]:
    """The stack's NodePools in Karpenter's order (weight descending, then name descending:
    kubernetes-sigs/karpenter v1.14.1 pkg/utils/nodepool/nodepool.go:161 OrderByWeight), each with the priced
    instance types it allows that fit a worker pod, cheapest first. Spot pools are priced on demand: the
    price file has no spot prices, so their cost is an upper bound."""
    if not config.karpenter:
        return ()
    settings = config.node_class_settings()
    ordered = sorted(config.karpenter.node_pools.items(), key=lambda item: (item[1].weight or 0, item[0]), reverse=True)
    pools = []
    for name, pool in ordered:
        options = []
        for instance_type, price in prices.items():
            slots = pods_per_node(instance_type, settings, workload) if _allowed(instance_type, pool) else 0
            if slots:
                memory = instance_types.memory_mib(instance_type) or 0
                options.append(InstanceOption(instance_type, price, slots, (instance_types.vcpus(instance_type) or 0) * 1000,
                                              memory - math.ceil(memory * KARPENTER_VM_MEMORY_OVERHEAD)))
        pools.append(NodePool(name, tuple(sorted(options, key=lambda o: (o.price_per_hour, o.name))),
                              _limit(pool, "cpu", _cpu_milli), _limit(pool, "memory", _memory_mib),
                              duration_seconds(pool.disruption.consolidate_after) or 0))
    return tuple(pools)


def capacity_for(config: StackConfig, workload: WorkloadConfig, prices: dict[str, float]) -> Capacity:
    """Karpenter's pools, and the room the enabled managed node groups (at their `desiredSize`, first
    instance type) leave for workers after the Karpenter and KEDA controllers."""
    pools = node_pools_for(config, workload, prices)
    groups = config.enabled_node_groups()
    managed_nodes = sum(group.scaling.desired_size for group in groups.values())
    controllers_cpu = controllers_memory = 0.0
    for replicas, resources in _controllers(config):
        controllers_cpu += replicas * _cpu_milli(resources.requests.cpu)
        controllers_memory += replicas * _memory_mib(resources.requests.memory)
    free = price = 0.0
    for name, group in groups.items():
        instance_type = group.instance_types[0]
        share = group.scaling.desired_size / managed_nodes if managed_nodes else 0
        per_node = pods_per_node(instance_type, config.node_group_settings(name), workload,
                                 controllers_cpu * share / max(group.scaling.desired_size, 1),
                                 controllers_memory * share / max(group.scaling.desired_size, 1))
        free += per_node * group.scaling.desired_size
        price += prices.get(instance_type, 0.0) * group.scaling.desired_size
    if not free and not any(pool.options for pool in pools):
        raise ValueError(f"no managed node and no priced instance type of a Karpenter NodePool fits a {workload.name} pod")
    return Capacity(managed_nodes, price, int(free), pools)


def _controllers(config: StackConfig) -> list[tuple[int, Any]]:
    controllers = []
    if config.karpenter:
        controllers.append((config.karpenter.controller.replicas, config.karpenter.controller.resources))
    if config.keda:
        controllers.append((config.keda.operator.replicas, config.keda.operator.resources))
    return controllers


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
