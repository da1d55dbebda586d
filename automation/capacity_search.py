"""`simulate --target-drain DURATION`: the cheapest maxReplicaCount, NodePool CPU limit and KEDA polling
interval that drain the burst within DURATION at p95, searched over the simulator and printed as the
stack-file edit to make.

The search, per polling interval: the fewest replicas that make it with no CPU limit (bisection: more
replicas never drain later), then the lowest CPU limit of the NodePool the workers land on first (the
highest weight) that still makes it with those replicas. Lower-weight pools are not counted on: they can
only add room. The cheapest combination by simulated cost (p50) wins; it is then checked with all the runs
asked for, and replicas are added until it holds.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, replace
from typing import Any, TextIO

from automation.exit_codes import EXIT_FAILED, EXIT_OK
from automation.stack_files import project_name
from automation.simulate import format_figure, load_prices, run_many, select_workload, summarize
from core.burst_simulation import Capacity, Scenario, karpenter_node_claims, simulate
from core.capacity import autoscaling_for, capacity_for
from core.config.stack_config import StackConfig
from core.config.workloads import WorkloadConfig
from core.rollout import project_key

POLLING_CANDIDATES = (1, 5, 15, 30)
SEARCH_RUNS = 40  # per candidate while searching; the winner is checked with the full --runs


@dataclass(frozen=True)
class Setting:
    replicas: int
    polling_seconds: int
    cpu_limit_vcpus: int | None  # None: no limit


@dataclass(frozen=True)
class Outcome:
    drained_p50: float | None
    drained_p95: float | None
    cost_p50: float


class Search:
    def __init__(self, config: StackConfig, workload: WorkloadConfig, scenario: Scenario, target_seconds: int, seed: int):
        self.workload, self.scenario, self.target, self.seed = workload, scenario, target_seconds, seed
        self.capacity = capacity_for(config, workload, load_prices())
        if not self.capacity.pools:
            raise ValueError("--target-drain needs Karpenter: the stack has no NodePool to size")
        self.pool = self.capacity.pools[0]
        self.memory_per_vcpu = max((o.memory_mib / o.cpu_milli * 1000 for o in self.pool.options), default=0.0)
        self.cache: dict[tuple[Setting, int], Outcome] = {}
        self.verdicts: dict[tuple[Setting, int], bool] = {}

    def autoscaling(self, setting: Setting):
        scaling = self.workload.scaling.model_copy(update={"max_replicas": setting.replicas, "polling_interval_seconds": setting.polling_seconds})
        return autoscaling_for(self.workload.model_copy(update={"scaling": scaling}))

    def memory_limit_mib(self, cpu_limit_vcpus: int | None) -> float:
        """The pool's memory limit, raised where it would bind before the CPU limit."""
        if cpu_limit_vcpus is None:
            return math.inf
        return max(self.pool.memory_limit_mib, math.ceil(cpu_limit_vcpus * self.memory_per_vcpu / 1024) * 1024)

    def capacity_for(self, setting: Setting) -> Capacity:
        cpu = math.inf if setting.cpu_limit_vcpus is None else setting.cpu_limit_vcpus * 1000
        pool = replace(self.pool, cpu_limit_milli=cpu, memory_limit_mib=self.memory_limit_mib(setting.cpu_limit_vcpus))
        return replace(self.capacity, pools=(pool,))

    def evaluate(self, setting: Setting, runs: int) -> Outcome:
        key = (setting, runs)
        if key not in self.cache:
            summary = summarize(run_many(self.autoscaling(setting), self.capacity_for(setting), self.scenario, runs, self.seed))
            self.cache[key] = Outcome(summary["drained"]["p50"], summary["drained"]["p95"], summary["costUsd"]["p50"] or math.inf)
        return self.cache[key]

    def meets(self, setting: Setting, runs: int = SEARCH_RUNS) -> bool:
        """p95 drain within the target: at most runs - ceil(0.95 runs) runs may miss it (nearest rank), so the
        runs stop at the first miss beyond that."""
        key = (setting, runs)
        if key in self.verdicts:
            return self.verdicts[key]
        autoscaling, capacity = self.autoscaling(setting), self.capacity_for(setting)
        allowed, misses = runs - math.ceil(0.95 * runs), 0
        for run in range(runs):
            drained = simulate(autoscaling, capacity, self.scenario, self.seed + run).drained
            misses += drained is None or drained > self.target
            if misses > allowed:
                break
        self.verdicts[key] = misses <= allowed
        return self.verdicts[key]

    def replica_bounds(self) -> tuple[int, int]:
        """From the throughput the target needs with an instant ramp, to the replicas the HPA can ask for."""
        scaling = self.workload.scaling
        throughput_floor = math.ceil(self.scenario.messages * self.scenario.processing_seconds
                                     / (self.scenario.messages_in_flight_per_pod * self.target))
        high = min(1000, max(scaling.max_replicas, math.ceil(self.scenario.messages / scaling.messages_per_replica)))
        low = max(1, scaling.min_replicas, scaling.fallback_replicas, throughput_floor)
        return min(low, high), high

    def fewest_replicas(self, polling: int) -> int | None:
        """Bisection, bracketed by a first guess: drain ≈ ramp + work / replicas, the ramp taken from a run
        at the throughput floor."""
        low, high = self.replica_bounds()
        if self.meets(Setting(low, polling, None)):
            return low
        floor_run = self.evaluate(Setting(low, polling, None), SEARCH_RUNS).drained_p95
        work = self.scenario.messages * self.scenario.processing_seconds / self.scenario.messages_in_flight_per_pod
        ramp = (floor_run or math.inf) - work / low
        if ramp < self.target:
            guess = min(high, math.ceil(work / (self.target - ramp) * 1.1))
            if self.meets(Setting(guess, polling, None)):
                high = guess
        if not self.meets(Setting(high, polling, None)):
            return None
        while low < high:
            middle = (low + high) // 2
            if self.meets(Setting(middle, polling, None)):
                high = middle
            else:
                low = middle + 1
        return high

    def lowest_cpu_limit(self, replicas: int, polling: int, runs: int = SEARCH_RUNS) -> int:
        """Bisection over whole vCPUs; the upper end starts at what one batch of all the replicas reserves
        and doubles until it makes it (the unlimited setting does, so it ends)."""
        unlimited = replace(self.pool, cpu_limit_milli=math.inf, memory_limit_mib=math.inf)
        largest = max(o.cpu_milli for o in self.pool.options)
        high = max(1, math.ceil(len(karpenter_node_claims(replicas, (unlimited,), {})) * largest / 1000))
        while not self.meets(Setting(replicas, polling, high), runs):
            high *= 2
        # No fewer vCPUs than the pods the managed nodes cannot take need on the densest instance type.
        densest = max(o.pods / o.cpu_milli * 1000 for o in self.pool.options)
        low = min(high, max(0, math.floor((replicas - self.capacity.managed_free_pod_slots) / densest)))
        while low < high:
            middle = (low + high) // 2
            if self.meets(Setting(replicas, polling, middle), runs):
                high = middle
            else:
                low = middle + 1
        return high

    def best(self, runs: int) -> Setting | None:
        current = self.workload.scaling.polling_interval_seconds
        candidates = []
        for polling in sorted({current, *POLLING_CANDIDATES}):
            replicas = self.fewest_replicas(polling)
            if replicas is None:
                continue
            setting = Setting(replicas, polling, self.lowest_cpu_limit(replicas, polling))
            # Cost to the cent (the prices are estimates), then fewer replicas, then slower polling (fewer SQS
            # GetQueueAttributes calls, which KEDA makes all the time, burst or not).
            candidates.append((round(self.evaluate(setting, SEARCH_RUNS).cost_p50, 2), replicas, -polling, setting))
        for _, _, _, setting in sorted(candidates, key=lambda c: c[:3]):
            checked = self.confirm(setting, runs)
            if checked is not None:
                return checked
        return None

    def confirm(self, setting: Setting, runs: int) -> Setting | None:
        """The setting checked with all the runs; replicas, and the CPU limit in proportion, grow by 2 % steps
        until it holds."""
        _, high = self.replica_bounds()
        base = setting
        while not self.meets(setting, runs):
            if setting.replicas >= high:
                return None
            replicas = min(high, setting.replicas + max(1, setting.replicas // 50))
            limit = None if base.cpu_limit_vcpus is None else math.ceil(base.cpu_limit_vcpus * replicas / base.replicas)
            setting = Setting(replicas, setting.polling_seconds, limit)
        return setting


def _edits(config: StackConfig, index: int, search: Search, setting: Setting) -> list[dict[str, Any]]:
    """The stack-file edit, as `pulumi config set --path` key paths with the old and new values."""
    scaling = search.workload.scaling
    pool_name = search.pool.name
    pool = config.karpenter.node_pools[pool_name] if config.karpenter else None
    project = project_name()
    edits = [
        {"path": project_key(project, f"workloads[{index}].scaling.maxReplicas"), "from": scaling.max_replicas, "to": setting.replicas},
        {"path": project_key(project, f"workloads[{index}].scaling.pollingIntervalSeconds"), "from": scaling.polling_interval_seconds,
         "to": setting.polling_seconds},
    ]
    if pool is not None and setting.cpu_limit_vcpus is not None:
        edits.append({"path": project_key(project, f"karpenter.nodePools.{pool_name}.limits.cpu"), "from": pool.limits.get("cpu"),
                      "to": str(setting.cpu_limit_vcpus)})
        memory = search.memory_limit_mib(setting.cpu_limit_vcpus)
        if memory > search.pool.memory_limit_mib:
            edits.append({"path": project_key(project, f"karpenter.nodePools.{pool_name}.limits.memory"), "from": pool.limits.get("memory"),
                          "to": f"{int(memory // 1024)}Gi"})
    return edits


def run_target_drain(config: StackConfig, stack: str, *, workload_name: str | None, scenario: Scenario, target_seconds: int,
                     runs: int, seed: int, processing_seconds: float | None, json_output: bool, out: TextIO, err: TextIO) -> int:
    index, workload = select_workload(config, stack, workload_name)
    scenario = replace(scenario, processing_seconds=processing_seconds or workload.processing_seconds)
    search = Search(config, workload, scenario, target_seconds, seed)
    setting = search.best(runs)
    target = format_figure(float(target_seconds), "drained")
    if setting is None:
        _, high = search.replica_bounds()
        fastest = search.evaluate(Setting(high, 1, None), runs)
        err.write(f"simulate: no setting drains {scenario.messages:,} messages within {target} at p95: even {high} replicas, "
                  f"1 s polling and no CPU limit on NodePool {search.pool.name} give a p95 of {format_figure(fastest.drained_p95, 'drained')}\n")
        return EXIT_FAILED  # no setting drains in time
    outcome = search.evaluate(setting, runs)
    edits = _edits(config, index, search, setting)
    if json_output:
        out.write(json.dumps({"stack": stack, "workload": workload.name, "targetSeconds": target_seconds, "runs": runs,
                              "edits": edits, "drained": {"p50": outcome.drained_p50, "p95": outcome.drained_p95},
                              "costUsd": {"p50": outcome.cost_p50}}, indent=2) + "\n")
        return EXIT_OK
    out.write(f"{stack}/{workload.name}: {scenario.messages:,} messages drain within {target} at p95 "
              f"(p50 {format_figure(outcome.drained_p50, 'drained')}, p95 {format_figure(outcome.drained_p95, 'drained')}, "
              f"cost p50 {format_figure(outcome.cost_p50, 'costUsd')}; {runs} runs) with this edit of Pulumi.{stack}.yaml:\n\n")
    out.write(render_edits(edits, stack))
    return EXIT_OK


def as_yaml(value: Any) -> str:
    """A value as the stack file must hold it: a string double-quoted (`"124"`, which the model wants for a
    quantity, where a bare 124 would be read as a number and refused), a number bare."""
    return json.dumps(value)


def config_set_command(edit: dict[str, Any], stack: str) -> str:
    """The `pulumi config set` line that stores the edit's value with its type. With `--path` the CLI turns an
    untyped "124" into a number (pulumi/pulumi v3.259.0 sdk/go/common/resource/config/value.go `coerceObject`,
    object.go:566 `coerce`: "true"/"false" to booleans, integers without a leading 0 to numbers); `--type
    string` keeps it a string (pkg/cmd/pulumi/config/config.go:787, the `--type` flag, `config.NewTypedValue`;
    map.go:239, `Set` does not coerce a typed value; added by pulumi/pulumi#18287, CLI 3.150)."""
    value = edit["to"]
    typed = " --type string" if isinstance(value, str) else ""
    return f"pulumi config set --stack {stack} --path{typed} {shlex.quote(edit['path'])} {shlex.quote(str(value))}"


def render_edits(edits: list[dict[str, Any]], stack: str) -> str:
    """The edit as the stack file must hold it, and as the `pulumi config set` commands that make it."""
    width = max(len(edit["path"]) for edit in edits)
    value_width = max(len(as_yaml(edit["to"])) for edit in edits)
    lines = []
    for edit in edits:
        if edit["from"] == edit["to"]:
            change = "unchanged"
        else:
            change = "not set" if edit["from"] is None else f"was {as_yaml(edit['from'])}"
        lines.append(f"  {edit['path']:<{width}}  {as_yaml(edit['to']):>{value_width}}   ({change})\n")
    commands = "".join(f"  {config_set_command(edit, stack)}\n" for edit in edits)
    return ("".join(lines) + "\nLower-weight NodePools are not counted on. Edit the file, writing each value as shown (a "
            f"quoted value is a string; unquoted, YAML reads it as a number), or run:\n\n{commands}")
