"""The capacity a burst meets, as plain functions over the stack's config: worker pods per node, Karpenter's
NodePools with the priced instance types they allow, the room the managed node groups leave, and the
autoscaling of the ScaledObject the program renders. core/burst_simulation.py runs the burst over them;
automation/simulate.py is the command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from core import instance_types, sqs_worker
from core.config.karpenter import NodePoolConfig
from core.config.kubernetes import Resources
from core.config.stack_config import StackConfig
from core.config.workloads import WorkloadConfig
from core.bottlerocket_settings import cpu_milli, memory_mib
from core.karpenter import memory_after_vm_overhead
from core.deployment import KarpenterPlan, deployment_plan
from core.burst_simulation import Autoscaling, Capacity, InstanceOption, NodePool, ScalingPolicy, ScalingRules
from core.user_data import reserved_memory_mib

# What DaemonSets (VPC CNI, kube-proxy, Pod Identity agent) take on every node.
DAEMONSET_CPU_MILLI, DAEMONSET_MEMORY_MIB = 250, 300


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

    def rules(side: dict[str, Any]) -> ScalingRules:
        return ScalingRules(side["stabilizationWindowSeconds"], side["selectPolicy"],
                            tuple(ScalingPolicy(p["type"], p["value"], p["periodSeconds"]) for p in side["policies"]))

    trigger = spec["triggers"][0]["metadata"]
    return Autoscaling(spec["pollingInterval"], spec["cooldownPeriod"], int(trigger["activationQueueLength"]),
                       int(trigger["queueLength"]), spec["minReplicaCount"], spec["maxReplicaCount"],
                       rules(behavior["scaleUp"]), rules(behavior["scaleDown"]))


def pods_per_node(instance_type: str, settings: Mapping[str, Any], workload: WorkloadConfig, taken_cpu_milli: float = 0,
                  taken_memory_mib: float = 0) -> int:
    """Worker pods that fit by requests, after reserved resources, the hard eviction threshold and DaemonSets."""
    cpus, memory = instance_types.vcpus(instance_type), instance_types.memory_mib(instance_type)
    if not cpus or not memory:
        return 0
    kubernetes = settings.get("kubernetes", {})
    reserved_cpu = sum(cpu_milli(kubernetes.get(k, {}).get("cpu", "0")) for k in ("system-reserved", "kube-reserved"))
    reserved_memory = reserved_memory_mib(kubernetes, memory)
    cpu = cpus * 1000 - reserved_cpu - DAEMONSET_CPU_MILLI - taken_cpu_milli
    mem = memory - reserved_memory - DAEMONSET_MEMORY_MIB - taken_memory_mib
    request_cpu = cpu_milli(workload.resources.requests.cpu)
    request_memory = memory_mib(workload.resources.requests.memory)
    return max(0, int(min(cpu // request_cpu, mem // request_memory)))


def _allowed(instance_type: str, pool: NodePoolConfig) -> bool:
    match = re.match(r"^([a-z]+)([0-9]+)([a-z-]*)\.", instance_type)
    if not match or match[1] not in pool.instance_categories or int(match[2]) < pool.minimum_instance_generation:
        return False
    architecture = "arm64" if instance_types.architecture(instance_type) == "arm64" else "amd64"
    return architecture in pool.architectures


def _limit(pool: NodePoolConfig, resource: str, to_unit: Callable[[str], float]) -> float:
    return to_unit(pool.limits[resource]) if resource in pool.limits else math.inf


def node_pools_for(karpenter: KarpenterPlan | None, workload: WorkloadConfig, prices: dict[str, float]) -> tuple[NodePool, ...]:
    """The stack's NodePools (of its deployment plan's Karpenter, core/deployment.py) in Karpenter's order (weight descending, then name descending:
    kubernetes-sigs/karpenter v1.14.1 pkg/utils/nodepool/nodepool.go:161 OrderByWeight), each with the priced
    instance types it allows that fit a worker pod, cheapest first. Spot pools are priced on demand: the
    price file has no spot prices, so their cost is an upper bound."""
    if karpenter is None:
        return ()
    ordered = sorted(karpenter.config.node_pools.items(), key=lambda item: (item[1].weight or 0, item[0]), reverse=True)
    pools = []
    for name, pool in ordered:
        options = []
        for instance_type, price in prices.items():
            slots = pods_per_node(instance_type, karpenter.settings, workload) if _allowed(instance_type, pool) else 0
            if slots:
                # Karpenter counts an instance type's memory against pool limits less its VM overhead.
                options.append(InstanceOption(instance_type, price, slots, (instance_types.vcpus(instance_type) or 0) * 1000,
                                              memory_after_vm_overhead(instance_types.memory_mib(instance_type) or 0)))
        pools.append(NodePool(name, tuple(sorted(options, key=lambda o: (o.price_per_hour, o.name))),
                              _limit(pool, "cpu", cpu_milli), _limit(pool, "memory", memory_mib),
                              duration_seconds(pool.disruption.consolidate_after) or 0))
    return tuple(pools)


def capacity_for(config: StackConfig, workload: WorkloadConfig, prices: dict[str, float]) -> Capacity:
    """Karpenter's pools, and the room the enabled managed node groups (at their `desiredSize`, first
    instance type) leave for workers after the Karpenter and KEDA controllers."""
    plan = deployment_plan(config)
    pools = node_pools_for(plan.karpenter, workload, prices)
    groups = {name: group.config for name, group in plan.node_groups.items()}  # the enabled ones
    managed_nodes = sum(group.scaling.desired_size for group in groups.values())
    controllers_cpu = controllers_memory = 0.0
    for replicas, resources in _controllers(config):
        controllers_cpu += replicas * cpu_milli(resources.requests.cpu)
        controllers_memory += replicas * memory_mib(resources.requests.memory)
    free = price = 0.0
    for name, group in groups.items():
        instance_type = group.instance_types[0]
        share = group.scaling.desired_size / managed_nodes if managed_nodes else 0
        per_node = pods_per_node(instance_type, plan.node_groups[name].settings, workload,
                                 controllers_cpu * share / max(group.scaling.desired_size, 1),
                                 controllers_memory * share / max(group.scaling.desired_size, 1))
        free += per_node * group.scaling.desired_size
        price += prices.get(instance_type, 0.0) * group.scaling.desired_size
    if not free and not any(pool.options for pool in pools):
        raise ValueError(f"no managed node and no priced instance type of a Karpenter NodePool fits a {workload.name} pod")
    return Capacity(managed_nodes, price, int(free), pools)


def _controllers(config: StackConfig) -> list[tuple[int, Resources]]:
    controllers = []
    if config.karpenter:
        controllers.append((config.karpenter.controller.replicas, config.karpenter.controller.resources))
    if config.keda:
        controllers.append((config.keda.operator.replicas, config.keda.operator.resources))
    return controllers
