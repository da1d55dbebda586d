"""An event-driven, one-second-resolution simulation of an SQS burst through KEDA, the HPA, Karpenter and
Bottlerocket nodes.

The control loops follow their upstream code (each rule cites it where it is implemented):
- KEDA polls every `pollingInterval` (the burst lands at a random point of that cycle); from 0 it activates
  the Deployment when the queue length (visible + in flight) exceeds `activationQueueLength`, and returns it
  to `minReplicaCount` after `cooldownPeriod` without activity.
- The HPA syncs every 15 s at a random phase against the burst. desired = ceil(metric / target) for an
  AverageValue metric, unchanged within a 10 % tolerance; then the stabilisation windows and the
  behaviour policies, whose rate limits count only the HPA's own scale events (KEDA's 0 -> 1 is not one).
- Karpenter batches pending pods (closes after 1 s without a new one or 10 s in all), packs them onto new
  NodeClaims in NodePool weight order and launches, per NodeClaim, the cheapest allowed instance type
  that fits its pods within the pool's remaining limits; empty nodes go after `consolidateAfter`.
- A node goes through EC2 launch -> kubelet registration -> Ready; pods pass startup and readiness probes
  after being scheduled.

Time advances from event to event (arrivals, completions, polls, syncs, pods and nodes getting Ready,
consolidation deadlines); seconds in between change nothing and are accounted in one go. While every pod
is busy and the queue is deep enough that neither KEDA nor the HPA can act, whole processing cycles are
advanced at once (`_Burst.cruise`). Random durations come from `random.Random(seed)`: runs are
reproducible.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

# kube-controller-manager defaults: --horizontal-pod-autoscaler-sync-period=15s and
# --horizontal-pod-autoscaler-tolerance=0.1 (kubernetes/kubernetes
# pkg/controller/podautoscaler/config/v1alpha1/defaults.go).
HPA_SYNC_SECONDS = 15
HPA_TOLERANCE = 0.1
# Karpenter's batching window: BATCH_IDLE_DURATION 1s, BATCH_MAX_DURATION 10s
# (kubernetes-sigs/karpenter v1.14.1 pkg/operator/options/options.go:129-130).
KARPENTER_BATCH_IDLE_SECONDS = 1
KARPENTER_BATCH_MAX_SECONDS = 10

# Node start, in three phases (low, mode, high of a triangular draw):
# EC2 launch request -> kubelet registration: awslabs/node-latency-for-k8s README (commit 03c0a163), two
# measured c6a.large launches: "Kubelet Registered" 19 s and 20 s after "Instance Requested" (VM initialised
# at 11-13 s). The range is set so that, with the next phase, launch -> Ready spans the 30-40 s Karpenter's
# maintainers report as typical (aws/karpenter-provider-aws issue #6165, 2024-05-09).
LAUNCH_TO_REGISTERED_SECONDS = (15.0, 19.5, 26.0)
# Registration -> Ready: the field notes' `kubectl get nodes -w` (the Node object's age): NotReady at 0 s,
# Ready at 13 s and 14 s; "12-15 s" typically (shared/seed/DIGEST.md section 1).
REGISTERED_TO_READY_SECONDS = (12.0, 13.5, 15.0)
# The field notes' worst case, 2 min 24 s, seen "about 5 times"; they give no rate. This model assumes 2 %
# of nodes are slow, with an exponential tail (mean 40 s) capped at that worst case.
SLOW_NODE_FRACTION = 0.02
SLOW_NODE_MAX_SECONDS = 144.0
# Scheduled -> Ready pod (image present, startup and readiness probes): 8-15 s (DIGEST.md section 3).
POD_READY_SECONDS = (8.0, 11.0, 15.0)


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


# Kubernetes' HPA defaults, the autoscaling/v2 behaviour when none is given (kubernetes/kubernetes
# pkg/apis/autoscaling/v2/defaults.go: up max(+100 %, +4 pods) per 15 s, no window; down -100 % per 15 s
# after the controller's 300 s --horizontal-pod-autoscaler-downscale-stabilization), and KEDA's defaults
# (kedacore/keda v2.20.2 apis/keda/v1alpha1/scaledobject_types.go: pollingInterval 30 s, cooldownPeriod
# 300 s; shared/reference/keda-karpenter.md section 1.6).
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
class InstanceOption:
    """An instance type a NodePool may launch: its price, the worker pods that fit, and its capacity as
    Karpenter counts it against the pool's limits."""
    name: str
    price_per_hour: float
    pods: int
    cpu_milli: int
    memory_mib: int


@dataclass(frozen=True)
class NodePool:
    name: str
    options: tuple[InstanceOption, ...]
    cpu_limit_milli: float = math.inf
    memory_limit_mib: float = math.inf
    consolidate_after_seconds: int = 30


@dataclass(frozen=True)
class Capacity:
    managed_nodes: int
    managed_price_per_hour: float  # all managed nodes together
    managed_free_pod_slots: int
    pools: tuple[NodePool, ...]  # in Karpenter's order: highest weight first


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
    """The HPA's proposal for an AverageValue metric, with its 10 % tolerance (kubernetes/kubernetes
    pkg/controller/podautoscaler/replica_calculator.go, GetExternalPerPodMetricReplicas)."""
    if current == 0:
        return math.ceil(metric / target)
    ratio = metric / (target * current)
    if abs(ratio - 1.0) <= HPA_TOLERANCE:
        return current
    return math.ceil(metric / target)


def scale_limit(rules: ScalingRules, period_start: dict[int, int], up: bool) -> int:
    """The furthest the policies let replicas go; `period_start[p]` = the replicas at the start of each
    policy's period. Upstream: calculateScaleUpLimitWithScalingRules rounds a Percent step up,
    calculateScaleDownLimitWithBehaviors truncates it (int32(float64(start) * (1 - value/100)))
    (kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go)."""
    limits = []
    for policy in rules.policies:
        start = period_start[policy.period_seconds]
        if up:
            limits.append(start + policy.value if policy.type == "Pods" else math.ceil(start * (1 + policy.value / 100)))
        else:
            limits.append(start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100)))
    if up:
        return max(limits) if rules.select == "Max" else min(limits)
    return min(limits) if rules.select == "Max" else max(limits)


@dataclass(frozen=True)
class NodeClaim:
    pool: NodePool
    option: InstanceOption
    pods: int


def karpenter_node_claims(pods: int, pools: tuple[NodePool, ...], used: dict[str, tuple[float, float]]) -> list[NodeClaim]:
    """The NodeClaims Karpenter creates for `pods` identical pending pods, given each pool's (cpu, memory)
    already used by its nodes.

    kubernetes-sigs/karpenter v1.14.1, pkg/controllers/provisioning/scheduling/scheduler.go: a pod joins the
    in-flight NodeClaim it still fits (its instance-type options narrow to the types that fit all its pods,
    nodeclaim.go:124 CanAdd), else opens a new one in the first pool, by weight, with instance types within
    the remaining limits (:716 filterByRemainingResources); opening one reserves the largest of its options
    against the limits (:786 subtractMax). The launch takes the cheapest remaining option
    (aws/karpenter-provider-aws v1.14.1 pkg/providers/instance/types.go:244, CreateFleet `lowest-price`;
    spot's price-capacity-optimized, :234, also starts from the cheapest).
    """
    claims = []
    for pool in pools:
        cpu_used, memory_used = used.get(pool.name, (0.0, 0.0))
        cpu_left, memory_left = pool.cpu_limit_milli - cpu_used, pool.memory_limit_mib - memory_used
        while pods:
            viable = [o for o in pool.options if o.cpu_milli <= cpu_left and o.memory_mib <= memory_left]
            if not viable:
                break
            count = min(pods, max(o.pods for o in viable))
            chosen = min((o for o in viable if o.pods >= count), key=lambda o: (o.price_per_hour, o.name))
            claims.append(NodeClaim(pool, chosen, count))
            cpu_left -= max(o.cpu_milli for o in viable)
            memory_left -= max(o.memory_mib for o in viable)
            pods -= count
    return claims


def _triangular(rng: random.Random, bounds: tuple[float, float, float]) -> float:
    low, mode, high = bounds
    return rng.triangular(low, high, mode)


def node_start_seconds(rng: random.Random) -> tuple[float, float]:
    """(launch -> registration, registration -> Ready) for one node."""
    registered = _triangular(rng, LAUNCH_TO_REGISTERED_SECONDS)
    if rng.random() < SLOW_NODE_FRACTION:
        ready = min(SLOW_NODE_MAX_SECONDS, REGISTERED_TO_READY_SECONDS[2] + rng.expovariate(1 / 40))
    else:
        ready = _triangular(rng, REGISTERED_TO_READY_SECONDS)
    return registered, ready


def pod_ready_seconds(rng: random.Random) -> float:
    return _triangular(rng, POD_READY_SECONDS)


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
    launched: dict[str, int] = field(default_factory=dict)  # instance type -> Karpenter nodes launched
    series: list[tuple[int, int, int, int]] = field(default_factory=list)  # t, queue, Ready pods, nodes

    def figures(self) -> dict[str, float | None]:
        return {"firstPodReady": self.first_pod_ready, "firstMessageProcessed": self.first_message_processed,
                "fullCapacity": self.full_capacity, "drained": self.drained, "backToZero": self.back_to_zero,
                "nodeSeconds": self.node_seconds, "podSeconds": self.pod_seconds, "costUsd": round(self.cost_usd, 4)}


def series_time(t: int) -> bool:
    """The series' grid: every second for the first 10 minutes (where settings differ), then every 10 s."""
    return t < 600 or t % 10 == 0


def _grid_between(start: int, end: int) -> range | list[int]:
    """Grid times in (start, end)."""
    first = start + 1
    if end <= first:
        return []
    if end <= 600:
        return range(first, end)
    head = list(range(first, 600)) if first < 600 else []
    return head + list(range(max(600, first + (-first) % 10), end, 10))


@dataclass
class _Node:
    pool: str
    option: InstanceOption
    ready_at: float
    pods: int = 0
    empty_since: int | None = None


class _Burst:
    """One run: the state of the queue, KEDA, the HPA, the pods and the nodes, one method per control loop."""

    def __init__(self, autoscaling: Autoscaling, capacity: Capacity, scenario: Scenario, seed: int, keep_series: bool):
        self.a, self.capacity, self.scenario, self.keep_series = autoscaling, capacity, scenario, keep_series
        self.rng = random.Random(seed)
        self.result = Result()
        self.arrivals = _arrivals(scenario)
        self.last_arrival = self.arrivals[-1][0]
        self.next_arrival = 0
        self.cycle = max(1, math.ceil(scenario.processing_seconds))
        self.visible = self.in_flight = self.processed = 0
        self.completions: deque[tuple[int, int]] = deque()  # (time, count), in time order
        # KEDA and the HPA: the burst lands at a random point of each loop's cycle.
        self.keda_phase = self.rng.randrange(autoscaling.polling_seconds)
        self.hpa_phase = self.rng.randrange(HPA_SYNC_SECONDS)
        # Idle: minReplicaCount pods (0 for scale-to-zero), already running on the managed nodes.
        self.replicas, self.active, self.last_active = autoscaling.min_replicas, autoscaling.min_replicas > 0, -10**9
        self.recommendations: deque[tuple[int, int]] = deque()
        self.up_events: deque[tuple[int, int]] = deque()
        self.down_events: deque[tuple[int, int]] = deque()
        self.keep_recommendations = max(autoscaling.scale_up.stabilization_seconds, autoscaling.scale_down.stabilization_seconds)
        self.keep_events = max(p.period_seconds for p in autoscaling.scale_up.policies + autoscaling.scale_down.policies)
        # pods and nodes
        self.pods_ready = self.managed_used = min(autoscaling.min_replicas, capacity.managed_free_pod_slots)
        self.pods_pending = 0
        self.pods_starting: list[float] = []  # Ready times of scheduled pods, sorted
        self.nodes: list[_Node] = []
        self.node_price_per_hour = capacity.managed_price_per_hour
        self.batch_started: int | None = None
        self.batch_last_pending: int | None = None
        self.waiting_for_limits = False
        self.pools = {pool.name: pool for pool in capacity.pools}
        self.full_target = full_capacity_replicas(autoscaling, scenario.messages)

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> Result:
        t, end = 0, self.scenario.max_seconds
        while t < end:
            self.step(t)
            if self.result.back_to_zero is not None:
                break
            t = self.cruise(t)
            following = min(self.next_event(t), end)
            self.account(following - t - 1)
            if self.keep_series:
                self.result.series.extend(self._sample(g, self.visible) for g in _grid_between(t, following))
            t = following
        return self.result

    def step(self, t: int) -> None:
        self.arrive_and_complete(t)
        self.pods_become_ready(t)
        self.take_messages(t)
        metric = self.visible + self.in_flight
        if (t + self.keda_phase) % self.a.polling_seconds == 0:
            self.keda_poll(t, metric)
        if self.active and self.replicas > 0 and (t + self.hpa_phase) % HPA_SYNC_SECONDS == 0:
            self.hpa_sync(t, metric)
        self.result.peak_replicas = max(self.result.peak_replicas, self.replicas)
        self.reconcile_pods(t)
        self.schedule_pending(t)
        self.karpenter_batch(t)
        self.consolidate(t)
        self.record(t)
        self.account(1)

    def next_event(self, t: int) -> int:
        """The next second at which anything can change."""
        candidates = [t + 1 + (-(t + 1 + self.keda_phase)) % self.a.polling_seconds]
        if self.batch_started is not None:
            return t + 1
        if self.next_arrival < len(self.arrivals):
            candidates.append(self.arrivals[self.next_arrival][0])
        if self.completions:
            candidates.append(self.completions[0][0])
        if self.pods_starting:
            candidates.append(math.ceil(self.pods_starting[0]))
        if self.active and self.replicas > 0:
            candidates.append(t + 1 + (-(t + 1 + self.hpa_phase)) % HPA_SYNC_SECONDS)
        for node in self.nodes:
            if node.ready_at > t:
                candidates.append(math.ceil(node.ready_at))
            elif node.empty_since is not None:
                candidates.append(node.empty_since + self.pools[node.pool].consolidate_after_seconds)
        return max(t + 1, min(candidates))

    # --- one method per control loop ---------------------------------------------------------------

    def arrive_and_complete(self, t: int) -> None:
        while self.next_arrival < len(self.arrivals) and self.arrivals[self.next_arrival][0] <= t:
            self.visible += self.arrivals[self.next_arrival][1]
            self.next_arrival += 1
        while self.completions and self.completions[0][0] <= t:
            _, count = self.completions.popleft()
            self.in_flight -= count
            self.processed += count
            if self.result.first_message_processed is None:
                self.result.first_message_processed = float(t)

    def pods_become_ready(self, t: int) -> None:
        ready = bisect.bisect_right(self.pods_starting, t)
        if ready:
            del self.pods_starting[:ready]
            self.pods_ready += ready
            if self.result.first_pod_ready is None:
                self.result.first_pod_ready = float(t)

    def take_messages(self, t: int) -> None:
        """Ready pods receive messages up to their concurrency; each finishes `processingSeconds` later."""
        free = self.pods_ready * self.scenario.messages_in_flight_per_pod - self.in_flight
        taken = min(max(free, 0), self.visible)
        if taken:
            self.visible -= taken
            self.in_flight += taken
            self.completions.append((t + self.cycle, taken))

    def keda_poll(self, t: int, metric: int) -> None:
        a = self.a
        if metric > a.activation_queue_length:
            self.last_active = t
            if self.replicas == 0:
                self.replicas, self.active = max(1, a.min_replicas), True
        elif self.active and t - self.last_active >= a.cooldown_seconds:
            self.replicas, self.active = a.min_replicas, a.min_replicas > 0

    def hpa_sync(self, t: int, metric: int) -> None:
        """kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler ->
        normalizeDesiredReplicasWithBehaviors: stabilise the proposal, then apply the rate limits; a rescale
        is stored as the HPA's own scale event (storeScaleEvent). KEDA creates the HPA with
        minReplicas = max(minReplicaCount, 1) (scaledobject_types.go GetHPAMinReplicas)."""
        a, current = self.a, self.replicas
        hpa_min = max(1, a.min_replicas)
        if current > a.max_replicas:
            desired = a.max_replicas
        elif current < hpa_min:
            desired = hpa_min
        else:
            desired = self._rate_limited(t, current, self._stabilized(t, current, hpa_desired(current, metric, a.target_per_replica)), hpa_min)
        if desired != current:
            (self.up_events if desired > current else self.down_events).append((t, abs(desired - current)))
            self.replicas = desired

    def _stabilized(self, t: int, current: int, proposal: int) -> int:
        """stabilizeRecommendationWithBehaviors: the lowest recommendation of the scale-up window when going
        up, the highest of the scale-down window when going down; every proposal is remembered."""
        up = proposal >= current
        window = self.a.scale_up.stabilization_seconds if up else self.a.scale_down.stabilization_seconds
        recommendation = proposal
        for when, value in self.recommendations:
            if when > t - window:
                recommendation = min(value, recommendation) if up else max(value, recommendation)
        while self.recommendations and self.recommendations[0][0] <= t - self.keep_recommendations:
            self.recommendations.popleft()
        self.recommendations.append((t, proposal))
        return recommendation

    def _rate_limited(self, t: int, current: int, desired: int, hpa_min: int) -> int:
        """convertDesiredReplicasWithBehaviorRate: the period start counts only the HPA's own events
        (current - added + deleted within the period)."""
        while self.up_events and self.up_events[0][0] <= t - self.keep_events:
            self.up_events.popleft()
        while self.down_events and self.down_events[0][0] <= t - self.keep_events:
            self.down_events.popleft()
        if desired > current:
            rules = self.a.scale_up
            limit = max(current, scale_limit(rules, self._period_starts(t, current, rules), up=True))
            return min(desired, self.a.max_replicas, limit)
        if desired < current:
            rules = self.a.scale_down
            limit = min(current, scale_limit(rules, self._period_starts(t, current, rules), up=False))
            return max(desired, hpa_min, limit)
        return desired

    def _period_starts(self, t: int, current: int, rules: ScalingRules) -> dict[int, int]:
        starts = {}
        for policy in rules.policies:
            cutoff = t - policy.period_seconds
            added = sum(change for when, change in self.up_events if when > cutoff)
            deleted = sum(change for when, change in self.down_events if when > cutoff)
            starts[policy.period_seconds] = current - added + deleted
        return starts

    def reconcile_pods(self, t: int) -> None:
        """The ReplicaSet: new pods are Pending; on scale-down unscheduled pods go first, then starting ones."""
        existing = self.pods_ready + len(self.pods_starting) + self.pods_pending
        if self.replicas > existing:
            self.pods_pending += self.replicas - existing
            if self.batch_started is None:
                self.batch_started = t
            self.batch_last_pending = t
        elif self.replicas < existing:
            removed = existing - self.replicas
            unscheduled = min(removed, self.pods_pending)
            self.pods_pending -= unscheduled
            scheduled = removed - unscheduled
            starting = min(scheduled, len(self.pods_starting))
            del self.pods_starting[len(self.pods_starting) - starting:]
            self.pods_ready -= scheduled - starting
            self._release(scheduled, t)

    def _release(self, count: int, t: int) -> None:
        """Pods leave Karpenter nodes first (newest first), then the managed nodes."""
        for node in reversed(self.nodes):
            freed = min(count, node.pods)
            node.pods -= freed
            count -= freed
            if node.pods == 0 and node.empty_since is None and node.ready_at <= t:
                node.empty_since = t
        self.managed_used = max(0, self.managed_used - count)

    def schedule_pending(self, t: int) -> None:
        """kube-scheduler: free room on the managed nodes first, then on Ready Karpenter nodes."""
        if not self.pods_pending:
            return
        placed = min(self.pods_pending, self.capacity.managed_free_pod_slots - self.managed_used)
        self.managed_used += placed
        for node in self.nodes:
            if node.ready_at <= t and placed < self.pods_pending and node.pods < node.option.pods:
                fit = min(self.pods_pending - placed, node.option.pods - node.pods)
                node.pods += fit
                node.empty_since = None
                placed += fit
        if placed:
            self.pods_pending -= placed
            for _ in range(placed):
                bisect.insort(self.pods_starting, t + pod_ready_seconds(self.rng))

    def karpenter_batch(self, t: int) -> None:
        """Close the batch; launch NodeClaims for the pending pods no launching node will take."""
        if self.batch_started is None:
            return
        assert self.batch_last_pending is not None  # set together with batch_started
        if t - self.batch_last_pending < KARPENTER_BATCH_IDLE_SECONDS and t - self.batch_started < KARPENTER_BATCH_MAX_SECONDS:
            return
        self.batch_started = self.batch_last_pending = None
        launching_room = sum(n.option.pods - n.pods for n in self.nodes if n.ready_at > t)
        uncovered = self.pods_pending - launching_room
        if uncovered <= 0:
            return
        claims = karpenter_node_claims(uncovered, self.capacity.pools, self._pool_usage())
        for claim in claims:
            registered, ready = node_start_seconds(self.rng)
            self.nodes.append(_Node(claim.pool.name, claim.option, t + registered + ready))
            self.node_price_per_hour += claim.option.price_per_hour
            self.result.launched[claim.option.name] = self.result.launched.get(claim.option.name, 0) + 1
        self.waiting_for_limits = sum(c.pods for c in claims) < uncovered
        self.result.peak_karpenter_nodes = max(self.result.peak_karpenter_nodes, len(self.nodes))

    def _pool_usage(self) -> dict[str, tuple[float, float]]:
        usage: dict[str, tuple[float, float]] = {}
        for node in self.nodes:
            cpu, memory = usage.get(node.pool, (0.0, 0.0))
            usage[node.pool] = (cpu + node.option.cpu_milli, memory + node.option.memory_mib)
        return usage

    def consolidate(self, t: int) -> None:
        """Empty Ready Karpenter nodes go after their pool's consolidateAfter; freed limits let pods that
        were left pending try again."""
        removed = False
        for node in self.nodes:
            if node.ready_at <= t and node.pods == 0 and node.empty_since is None:
                node.empty_since = t
        kept = []
        for node in self.nodes:
            if node.empty_since is not None and t - node.empty_since >= self.pools[node.pool].consolidate_after_seconds:
                self.node_price_per_hour -= node.option.price_per_hour
                removed = True
            else:
                kept.append(node)
        self.nodes = kept
        if removed and self.waiting_for_limits and self.pods_pending and self.batch_started is None:
            self.batch_started = self.batch_last_pending = t

    def record(self, t: int) -> None:
        result = self.result
        if result.full_capacity is None and self.pods_ready >= self.full_target:
            result.full_capacity = float(t)
        if result.drained is None and t >= self.last_arrival and self.processed >= self.scenario.messages:
            result.drained = float(t)
        settled = (result.drained is not None and self.replicas == self.a.min_replicas and not self.nodes
                   and not self.pods_starting and not self.pods_pending)
        if settled:
            result.back_to_zero = float(t)
        if self.keep_series and (series_time(t) or settled):
            result.series.append(self._sample(t, self.visible))

    def _sample(self, t: int, visible: int) -> tuple[int, int, int, int]:
        return t, visible + self.in_flight, self.pods_ready, self.capacity.managed_nodes + len(self.nodes)

    def account(self, seconds: int) -> None:
        """Node, pod and cost accounting for `seconds` seconds in the current state."""
        result = self.result
        result.node_seconds += seconds * (self.capacity.managed_nodes + len(self.nodes))
        result.pod_seconds += seconds * (self.pods_ready + len(self.pods_starting))
        result.cost_usd += seconds * self.node_price_per_hour / 3600

    # --- whole processing cycles at once ----------------------------------------------------------

    def cruise(self, t: int) -> int:
        """When every Ready pod is busy, the queue is deep, the HPA sits at maxReplicas and nothing else is
        under way, each processing cycle repeats the last one: completions are taken again at once. Advance
        whole cycles while the queue length stays where neither KEDA (above activation) nor the HPA (ratio
        within or above its tolerance at maxReplicas) acts; returns the last second covered."""
        a, busy = self.a, self.in_flight
        if (busy == 0 or self.visible == 0 or self.pods_pending or self.pods_starting or self.batch_started is not None
                or t < self.last_arrival or not self.active or self.replicas != a.max_replicas
                or a.scale_up.stabilization_seconds or busy != self.pods_ready * self.scenario.messages_in_flight_per_pod
                or any(n.ready_at > t or n.pods == 0 for n in self.nodes)):
            return t
        floor = max(a.activation_queue_length + 1, math.ceil((1 - HPA_TOLERANCE) * a.target_per_replica * a.max_replicas) + 1)
        cycles = min((self.visible + busy - floor) // busy, self.visible // busy, (self.scenario.max_seconds - 1 - t) // self.cycle)
        if cycles < 1:
            return t
        end = t + cycles * self.cycle
        ring = [(when - t, count) for when, count in self.completions]

        def visible_at(s: int) -> int:
            elapsed = s - t
            return self.visible - sum(count * ((elapsed - offset) // self.cycle + 1) for offset, count in ring if elapsed >= offset)

        # The HPA's proposals inside its stabilisation windows stay remembered.
        while self.recommendations and self.recommendations[0][0] <= end - self.keep_recommendations:
            self.recommendations.popleft()
        first_sync = max(t + 1, end - self.keep_recommendations + 1)
        first_sync += (-(first_sync + self.hpa_phase)) % HPA_SYNC_SECONDS
        for s in range(first_sync, end + 1, HPA_SYNC_SECONDS):
            self.recommendations.append((s, hpa_desired(self.replicas, visible_at(s) + busy, a.target_per_replica)))
        self.last_active = end - (end + self.keda_phase) % a.polling_seconds
        if self.result.first_message_processed is None:
            self.result.first_message_processed = float(self.completions[0][0])
        if self.keep_series:
            self.result.series.extend(self._sample(g, visible_at(g)) for g in _grid_between(t, end + 1))
        self.account(end - t)
        self.visible -= cycles * busy
        self.processed += cycles * busy
        self.completions = deque((when + cycles * self.cycle, count) for when, count in self.completions)
        return end


def simulate(autoscaling: Autoscaling, capacity: Capacity, scenario: Scenario, seed: int, keep_series: bool = False) -> Result:
    return _Burst(autoscaling, capacity, scenario, seed, keep_series).run()


def full_capacity_replicas(autoscaling: Autoscaling, messages: int) -> int:
    """The replicas the whole burst calls for: ceil(messages / target), within min/max."""
    return max(1, autoscaling.min_replicas, min(autoscaling.max_replicas, math.ceil(messages / autoscaling.target_per_replica)))


def _arrivals(scenario: Scenario) -> list[tuple[int, int]]:
    if scenario.shape == "instant" or scenario.burst_seconds <= 1:
        return [(0, scenario.messages)]
    base, extra = divmod(scenario.messages, scenario.burst_seconds)
    return [(second, base + (1 if second < extra else 0)) for second in range(scenario.burst_seconds)]


def percentile(values: list[float | None], fraction: float) -> float | None:
    """Nearest-rank percentile; a run that never reached the figure (None) ranks after every other, so the
    percentile is None ("never") when it falls on such a run."""
    if not values:
        return None
    ranked = sorted(values, key=lambda v: math.inf if v is None else v)
    return ranked[min(len(ranked) - 1, max(0, math.ceil(fraction * len(ranked)) - 1))]
