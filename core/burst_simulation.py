"""A one-second-step simulation of an SQS burst through KEDA, the HPA, Karpenter and Bottlerocket nodes.

The control loops use their real parameters and algorithms:
- KEDA polls every `pollingInterval` (the burst lands at a random point of that cycle); from 0 it activates to 1 replica when the queue length (visible +
  in flight) exceeds `activationQueueLength`, and back to 0 after `cooldownPeriod` without activity.
- The HPA syncs every 15 s: desired = ceil(current × metric / (target × current)) = ceil(metric / target)
  for an AverageValue metric, unchanged within a 10 % tolerance; scale-up and scale-down are bounded by
  the behaviour policies (Pods/Percent per period, selectPolicy) and stabilisation windows.
- Karpenter batches pending pods (closes after 1 s without a new one or 10 s in all), then launches
  enough nodes of the cheapest allowed instance type per pod slot; empty nodes go after `consolidateAfter`.
- Bottlerocket nodes become Ready 12–15 s after launch (field notes), with a rare tail to the 2 min 24 s
  seen; pods pass startup and readiness in 8–15 s.
Random durations come from `random.Random(seed)`: runs are reproducible.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

HPA_SYNC_SECONDS = 15
HPA_TOLERANCE = 0.1
KARPENTER_BATCH_IDLE_SECONDS = 1
KARPENTER_BATCH_MAX_SECONDS = 10


@dataclass(frozen=True)
class ScalingPolicy:
    type: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    stabilization_seconds: int
    select: Literal["Max", "Min"]
    policies: tuple[ScalingPolicy, ...]


# Kubernetes' HPA defaults (autoscaling/v2 behaviour when none is given) and KEDA's defaults.
DEFAULT_SCALE_UP = ScalingRules(0, "Max", (ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15)))
DEFAULT_SCALE_DOWN = ScalingRules(300, "Max", (ScalingPolicy("Percent", 100, 15),))
KEDA_DEFAULT_POLLING_SECONDS = 30
KEDA_DEFAULT_COOLDOWN_SECONDS = 300


@dataclass(frozen=True)
class Autoscaling:
    polling_seconds: int
    cooldown_seconds: int
    activation_queue_length: int
    target_per_replica: int
    min_replicas: int
    max_replicas: int
    scale_up: ScalingRules
    scale_down: ScalingRules

    def with_defaults(self) -> Autoscaling:
        """The same workload with KEDA's and the HPA's default settings."""
        return Autoscaling(KEDA_DEFAULT_POLLING_SECONDS, KEDA_DEFAULT_COOLDOWN_SECONDS, self.activation_queue_length,
                           self.target_per_replica, self.min_replicas, self.max_replicas, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)


@dataclass(frozen=True)
class Capacity:
    node_type: str
    node_price_per_hour: float
    pods_per_node: int
    managed_nodes: int
    managed_node_price_per_hour: float
    managed_free_pod_slots: int
    consolidate_after_seconds: int
    max_karpenter_nodes: int


@dataclass(frozen=True)
class Scenario:
    messages: int = 100_000
    burst_seconds: int = 10
    shape: Literal["uniform", "instant"] = "uniform"
    processing_seconds: float = 20.0
    messages_in_flight_per_pod: int = 10
    max_seconds: int = 6 * 3600


# --- control-loop arithmetic (tested against hand-worked cases) ------------------------------------

def hpa_desired(current: int, metric: float, target: float) -> int:
    """The HPA's recommendation for an AverageValue metric, with its 10 % tolerance."""
    if current == 0:
        return math.ceil(metric / target)
    ratio = metric / (target * current)
    if abs(ratio - 1.0) <= HPA_TOLERANCE:
        return current
    return math.ceil(ratio * current)


def scale_limit(rules: ScalingRules, period_start: dict[int, int], current: int, up: bool) -> int:
    """How far the policies let replicas move from `current`; `period_start[p]` = replicas p seconds ago."""
    limits = []
    for policy in rules.policies:
        start = period_start.get(policy.period_seconds, current)
        if up:
            limits.append(start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100)))
        else:
            limits.append(start - policy.value if policy.type == "Pods" else math.ceil(start * (1 - policy.value / 100)))
    if up:
        return max(limits) if rules.select == "Max" else min(limits)
    return min(limits) if rules.select == "Max" else max(limits)


def node_ready_seconds(rng: random.Random) -> float:
    """Launch to Ready: 12–15 s typically (mode 13.5); 2 % of launches are slow, up to 144 s."""
    if rng.random() < 0.02:
        return min(144.0, 15.0 + rng.expovariate(1 / 40))
    return rng.triangular(12.0, 15.0, 13.5)


def pod_ready_seconds(rng: random.Random) -> float:
    """Scheduled to Ready (image present, startup and readiness probes): 8–15 s."""
    return rng.triangular(8.0, 15.0, 11.0)


# --- the simulation -----------------------------------------------------------------------------------

@dataclass
class Result:
    first_pod_ready: float | None = None
    first_message_processed: float | None = None
    full_capacity: float | None = None
    drained: float | None = None
    back_to_zero: float | None = None
    node_seconds: float = 0.0
    pod_seconds: float = 0.0
    cost_usd: float = 0.0
    peak_replicas: int = 0
    peak_karpenter_nodes: int = 0
    series: list[tuple[int, int, int, int]] = field(default_factory=list)  # t, queue, ready pods, nodes

    def figures(self) -> dict[str, float | None]:
        return {"firstPodReady": self.first_pod_ready, "firstMessageProcessed": self.first_message_processed,
                "fullCapacity": self.full_capacity, "drained": self.drained, "backToZero": self.back_to_zero,
                "nodeSeconds": self.node_seconds, "podSeconds": self.pod_seconds, "costUsd": round(self.cost_usd, 4)}


@dataclass
class _Node:
    ready_at: float
    slots: int
    pods: int = 0
    empty_since: float | None = None


def simulate(autoscaling: Autoscaling, capacity: Capacity, scenario: Scenario, seed: int, keep_series: bool = False) -> Result:
    rng = random.Random(seed)
    result = Result()
    arrivals = _arrivals(scenario)
    visible, completions = 0, deque()  # completions: (time, count), in time order
    in_flight, processed = 0, 0
    replicas, active, last_active = 0, False, -10**9
    history: dict[int, int] = {}  # t -> replicas
    down_recommendations: deque[tuple[int, int]] = deque()
    pods_starting: list[float] = []  # ready times of scheduled pods
    pods_ready, pods_pending = 0, 0
    managed_free = capacity.managed_free_pod_slots
    managed_used = 0
    nodes: list[_Node] = []
    batch_started: int | None = None
    batch_last_pending: int | None = None
    full_target = full_capacity_replicas(autoscaling, scenario.messages)
    # The burst lands at a random moment of KEDA's polling cycle.
    polling_phase = rng.randrange(autoscaling.polling_seconds)
    t = 0
    while t < scenario.max_seconds:
        # messages arrive, in-flight ones finish
        visible += arrivals.get(t, 0)
        while completions and completions[0][0] <= t:
            _, count = completions.popleft()
            in_flight -= count
            processed += count
            if result.first_message_processed is None:
                result.first_message_processed = float(t)
        # pods become Ready
        became_ready = [r for r in pods_starting if r <= t]
        if became_ready:
            pods_starting = [r for r in pods_starting if r > t]
            pods_ready += len(became_ready)
            if result.first_pod_ready is None:
                result.first_pod_ready = float(t)
        # Ready pods take messages up to their concurrency
        free = pods_ready * scenario.messages_in_flight_per_pod - in_flight
        taken = min(max(free, 0), visible)
        if taken:
            visible -= taken
            in_flight += taken
            completions.append((t + math.ceil(scenario.processing_seconds), taken))
        metric = visible + in_flight

        # KEDA: activation from 0 and back to 0
        if (t + polling_phase) % autoscaling.polling_seconds == 0:
            if metric > autoscaling.activation_queue_length:
                last_active = t
                if replicas == 0:
                    replicas, active = max(1, autoscaling.min_replicas), True
            elif active and t - last_active >= autoscaling.cooldown_seconds:
                replicas, active = autoscaling.min_replicas, autoscaling.min_replicas > 0
        # HPA
        if active and t % HPA_SYNC_SECONDS == 0 and replicas > 0:
            replicas = _hpa_step(autoscaling, replicas, metric, t, history, down_recommendations)
        history[t] = replicas
        result.peak_replicas = max(result.peak_replicas, replicas)

        # reconcile pods with replicas
        existing = pods_ready + len(pods_starting) + pods_pending
        if replicas > existing:
            pods_pending += replicas - existing
            if batch_started is None:
                batch_started = t
            batch_last_pending = t
        elif replicas < existing:
            removed = existing - replicas
            unscheduled = min(removed, pods_pending)  # pending pods hold no slot
            pods_pending -= unscheduled
            scheduled = removed - unscheduled
            starting = min(scheduled, len(pods_starting))
            pods_starting = pods_starting[: len(pods_starting) - starting]
            pods_ready -= scheduled - starting
            managed_used = _release(managed_used, nodes, scheduled, t)
        # schedule pending pods onto free slots (managed nodes first, then Ready Karpenter nodes)
        if pods_pending:
            placed = min(pods_pending, managed_free - managed_used)
            managed_used += placed
            for node in nodes:
                if node.ready_at <= t:
                    fit = min(pods_pending - placed, node.slots - node.pods)
                    node.pods += fit
                    node.empty_since = None if node.pods else node.empty_since
                    placed += fit
            pods_pending -= placed
            pods_starting += [t + pod_ready_seconds(rng) for _ in range(placed)]
        # Karpenter: close the batch, launch nodes for pods no launching node will take
        if batch_started is not None and (t - batch_last_pending >= KARPENTER_BATCH_IDLE_SECONDS or t - batch_started >= KARPENTER_BATCH_MAX_SECONDS):
            launching_room = sum(n.slots - n.pods for n in nodes if n.ready_at > t)
            uncovered = max(0, pods_pending - launching_room)
            wanted = min(math.ceil(uncovered / capacity.pods_per_node), capacity.max_karpenter_nodes - len(nodes))
            nodes += [_Node(t + node_ready_seconds(rng), capacity.pods_per_node, empty_since=None) for _ in range(max(0, wanted))]
            batch_started = batch_last_pending = None
            if pods_pending and wanted <= 0 and uncovered:
                batch_started = batch_last_pending = t  # still pending: try again (limits or waiting for room)
        # consolidation of empty Karpenter nodes
        for node in nodes:
            if node.ready_at <= t and node.pods == 0 and node.empty_since is None:
                node.empty_since = t
        nodes = [n for n in nodes if not (n.empty_since is not None and t - n.empty_since >= capacity.consolidate_after_seconds)]
        result.peak_karpenter_nodes = max(result.peak_karpenter_nodes, len(nodes))

        # bookkeeping
        result.node_seconds += capacity.managed_nodes + len(nodes)
        result.cost_usd += (capacity.managed_nodes * capacity.managed_node_price_per_hour + len(nodes) * capacity.node_price_per_hour) / 3600
        result.pod_seconds += pods_ready + len(pods_starting)
        if result.full_capacity is None and pods_ready >= full_target:
            result.full_capacity = float(t)
        all_arrived = t >= max(arrivals)
        if result.drained is None and all_arrived and processed >= scenario.messages:
            result.drained = float(t)
        if keep_series and t % 5 == 0:
            result.series.append((t, visible + in_flight, pods_ready, capacity.managed_nodes + len(nodes)))
        if result.drained is not None and replicas == 0 and not nodes and pods_ready == 0 and not pods_starting:
            result.back_to_zero = float(t)
            break
        t += 1
    return result


def full_capacity_replicas(autoscaling: Autoscaling, messages: int) -> int:
    """The replicas the whole burst calls for: ceil(messages / target), within min/max."""
    return max(1, autoscaling.min_replicas, min(autoscaling.max_replicas, math.ceil(messages / autoscaling.target_per_replica)))


def _arrivals(scenario: Scenario) -> dict[int, int]:
    if scenario.shape == "instant" or scenario.burst_seconds <= 1:
        return {0: scenario.messages}
    base, extra = divmod(scenario.messages, scenario.burst_seconds)
    return {second: base + (1 if second < extra else 0) for second in range(scenario.burst_seconds)}


def _hpa_step(autoscaling: Autoscaling, replicas: int, metric: float, t: int, history: dict[int, int],
              down_recommendations: deque[tuple[int, int]]) -> int:
    desired = hpa_desired(replicas, metric, autoscaling.target_per_replica)
    desired = max(max(1, autoscaling.min_replicas), min(autoscaling.max_replicas, desired))
    down_recommendations.append((t, desired))
    while down_recommendations and down_recommendations[0][0] < t - autoscaling.scale_down.stabilization_seconds:
        down_recommendations.popleft()
    if desired > replicas:
        period_start = {p.period_seconds: history.get(t - p.period_seconds, replicas) for p in autoscaling.scale_up.policies}
        return min(desired, scale_limit(autoscaling.scale_up, period_start, replicas, up=True))
    if desired < replicas:
        stabilized = max(r for _, r in down_recommendations)  # the highest recommendation in the window wins
        if stabilized >= replicas:
            return replicas
        period_start = {p.period_seconds: history.get(t - p.period_seconds, replicas) for p in autoscaling.scale_down.policies}
        return max(stabilized, scale_limit(autoscaling.scale_down, period_start, replicas, up=False))
    return replicas


def _release(managed_used: int, nodes: list[_Node], count: int, t: int) -> int:
    """Pods leaving free Karpenter nodes first (newest first), then the managed nodes; the managed
    nodes' used slots are returned."""
    for node in reversed(nodes):
        freed = min(count, node.pods)
        node.pods -= freed
        count -= freed
        if node.pods == 0 and node.empty_since is None:
            node.empty_since = t
    return max(0, managed_used - count)


def percentile(values: list[float], fraction: float) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    index = min(len(present) - 1, max(0, math.ceil(fraction * len(present)) - 1))
    return present[index]
