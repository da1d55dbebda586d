"""`python -m automation simulate`: how long a burst takes to drain, and what it costs, with this stack's
settings: the ScaledObject the program deploys, the NodePool's instance types, the node settings'
reserved resources, and Karpenter's consolidation."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from automation.stack_files import PROJECT_ROOT
from core import instance_types, sqs_worker
from core.addons_config import NodePoolConfig, WorkloadConfig
from core.bottlerocket_settings import quantity_value
from core.user_data import reserved_memory_mib
from core.burst_simulation import Autoscaling, Capacity, Result, Scenario, ScalingPolicy, ScalingRules, percentile, simulate
from core.stack_config import StackConfig

PRICES_FILE = PROJECT_ROOT / "data" / "ec2-on-demand-prices.json"
# What DaemonSets (VPC CNI, kube-proxy, Pod Identity agent) take on every node.
DAEMONSET_CPU_MILLI, DAEMONSET_MEMORY_MIB = 250, 300
FIGURES = ("firstPodReady", "firstMessageProcessed", "fullCapacity", "drained", "backToZero", "nodeSeconds", "podSeconds", "costUsd")


def _cpu_milli(quantity: str) -> float:
    return quantity_value(quantity) * 1000


def _memory_mib(quantity: str) -> float:
    return quantity_value(quantity) / 2**20


def _duration_seconds(text: str) -> int:
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


def capacity_for(config: StackConfig, workload: WorkloadConfig, prices: dict[str, float]) -> Capacity:
    settings = config.node_class_settings() if config.karpenter else config.stack_settings()
    pool_name, pool = max(config.karpenter.node_pools.items(), key=lambda item: item[1].weight or 0) if config.karpenter else (None, None)
    candidates = []
    for instance_type, price in prices.items():
        if pool is not None and _allowed(instance_type, pool):
            slots = pods_per_node(instance_type, settings, workload)
            if slots:
                candidates.append((price / slots, instance_type, price, slots))
    if not candidates:
        raise ValueError(f"no priced instance type of node pool {pool_name!r} fits a {workload.name} pod")
    _, node_type, price, slots = min(candidates)
    max_nodes = int(_cpu_milli(pool.limits.get("cpu", "1000")) // (instance_types.vcpus(node_type) * 1000))

    group_name = config.karpenter_version_group() if config.karpenter else sorted(config.enabled_node_groups())[0]
    managed_type = config.node_groups[group_name].instance_types[0]
    # The add-on controllers run on the managed nodes and take their share first.
    controllers_cpu = controllers_memory = 0.0
    for replicas, resources in _controllers(config):
        controllers_cpu += replicas * _cpu_milli(resources.requests.cpu)
        controllers_memory += replicas * _memory_mib(resources.requests.memory)
    managed_nodes = 2  # the field notes' idle cluster
    free = pods_per_node(managed_type, config.node_group_settings(group_name), workload,
                         controllers_cpu / managed_nodes, controllers_memory / managed_nodes) * managed_nodes
    return Capacity(node_type, price, slots, managed_nodes, prices.get(managed_type, price), free,
                    _duration_seconds(pool.disruption.consolidate_after), max_nodes)


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


def run_many(autoscaling: Autoscaling, capacity: Capacity, scenario: Scenario, runs: int, seed: int) -> list[Result]:
    return [simulate(autoscaling, capacity, scenario, seed + run, keep_series=run == 0) for run in range(runs)]


def _fmt(value: float | None, name: str) -> str:
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
        row = f"{name:24}{_fmt(summary[name]['p50'], name):>12}{_fmt(summary[name]['p95'], name):>12}"
        if defaults:
            row += f"{_fmt(defaults[name]['p50'], name):>16}{_fmt(defaults[name]['p95'], name):>16}"
        lines.append(row)
    return "\n".join(lines) + "\n"


def plot(path: Path, tuned: Result, defaults: Result | None, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 1, sharex=True, figsize=(9, 7))
    for result, style, label in ((tuned, "-", "this stack"), (defaults, "--", "KEDA/HPA defaults")):
        if result is None:
            continue
        minutes = [t / 60 for t, *_ in result.series]
        for axis, index in zip(axes, (1, 2, 3)):
            axis.plot(minutes, [row[index] for row in result.series], style, label=label)
    for axis, label in zip(axes, ("messages in queue", "Ready worker pods", "nodes")):
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend()
    axes[-1].set_xlabel("minutes after the burst starts")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run_simulate(config: StackConfig, stack: str, *, workload_name: str | None, scenario: Scenario, runs: int, seed: int,
                 compare_defaults: bool, json_file: bool, plot_file: Path | None, processing_seconds: float | None = None,
                 out: TextIO = sys.stdout) -> dict[str, Any]:
    """`processing_seconds` None: the workload's own `processingSeconds`."""
    if not config.workloads:
        raise ValueError(f"stack {stack} has no workloads to simulate")
    workload = next((w for w in config.workloads if w.name == workload_name), None) if workload_name else config.workloads[0]
    if workload is None:
        raise ValueError(f"stack {stack} has no workload named {workload_name!r}")
    scenario = replace(scenario, processing_seconds=processing_seconds or workload.processing_seconds)
    prices = json.loads(PRICES_FILE.read_text())["prices"]
    autoscaling, capacity = autoscaling_for(workload), capacity_for(config, workload, prices)
    tuned = run_many(autoscaling, capacity, scenario, runs, seed)
    report: dict[str, Any] = {"stack": stack, "workload": workload.name, "runs": runs, "scenario": asdict(scenario),
                              "capacity": asdict(capacity), **summarize(tuned)}
    baseline = run_many(autoscaling.with_defaults(), capacity, scenario, runs, seed) if compare_defaults else None
    if baseline:
        report["defaults"] = summarize(baseline)
    if plot_file:
        plot(plot_file, tuned[0], baseline[0] if baseline else None,
             f"{stack}/{workload.name}: {scenario.messages:,} messages over {scenario.burst_seconds}s")
    if json_file:
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        out.write(f"{stack}/{workload.name}: {scenario.messages:,} messages over {scenario.burst_seconds}s, "
                  f"{scenario.messages_in_flight_per_pod} in flight per pod × {scenario.processing_seconds:g}s each; "
                  f"{runs} runs\nKarpenter nodes: {capacity.node_type} ({capacity.pods_per_node} pods each, "
                  f"${capacity.node_price_per_hour}/h); {capacity.managed_free_pod_slots} pod slots free on "
                  f"{capacity.managed_nodes} managed nodes\n\n")
        out.write(render_table({k: report[k] for k in FIGURES}, report.get("defaults")))
        if plot_file:
            out.write(f"\nplot: {plot_file}\n")
    return report

