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

from core import eks_addons, instance_types, sqs_worker
from core.config.karpenter import NodePoolConfig
from core.config.kubernetes import Resources
from core.config.stack_config import StackConfig
from core.config.workloads import WorkloadConfig
from core.bottlerocket_settings import cpu_milli, memory_mib
from core.deployment import KarpenterPlan, deployment_plan
from core.karpenter import allocatable, memory_capacity_mib, split_node_class_settings
from core.burst_simulation import Autoscaling, Capacity, InstanceOption, NodePool, ScalingPolicy, ScalingRules

# The DaemonSets on every node, one pod each, and what they request together.
DAEMONSETS = (eks_addons.VPC_CNI, eks_addons.KUBE_PROXY, eks_addons.POD_IDENTITY_AGENT)
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
                  taken_memory_mib: float = 0, taken_pods: float = 0) -> int:
    """Worker pods that fit, by requests and by max pods, in a node's allocatable after the DaemonSets and
    what is `taken` (the controllers' share).

    The allocatable is Karpenter's (core/karpenter.py `allocatable`: capacity less kube-reserved,
    system-reserved and the hard eviction threshold, aws/karpenter-provider-aws v1.14.1
    pkg/providers/instancetype/types.go:149-153), over the kubelet fields of the node's Bottlerocket
    `settings` (the EC2NodeClass's spec.kubelet, split as components/karpenter.py splits it). For a managed
    node it is the same sum: the kubelet reserves its user data's kube-reserved and system-reserved and the
    hard threshold; a kube-reserved the user data leaves out is Bottlerocket's default, the formula Karpenter
    copies (11 MiB per pod + 255 MiB, CPU by core ranges), and max-pods is EKS's (or Bottlerocket's pluto's)
    from eni-max-pods, the ENI-limited count (shared/reference/bottlerocket-settings.md, rows
    `max-pods` and `kube-reserved`: bottlerocket-core-kit v3.1.1 sources/api/schnauzer/src/helpers/mod.rs,
    sources/api/pluto/src/main.rs). Its memory capacity is the VM's, less than the instance type's, which
    Karpenter's VM overhead estimate stands for on both."""
    room = allocatable(instance_type, split_node_class_settings(settings)[1])
    if not room["cpu"] or not room["memory"]:
        return 0
    cpu = room["cpu"] - DAEMONSET_CPU_MILLI - taken_cpu_milli
    mem = room["memory"] - DAEMONSET_MEMORY_MIB - taken_memory_mib
    pods = room["pods"] - len(DAEMONSETS) - taken_pods
    request_cpu = cpu_milli(workload.resources.requests.cpu)
    request_memory = memory_mib(workload.resources.requests.memory)
    return max(0, int(min(cpu // request_cpu, mem // request_memory, pods)))


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
                # Karpenter counts an instance type's capacity against pool limits: its memory less the VM overhead.
                options.append(InstanceOption(instance_type, price, slots, (instance_types.vcpus(instance_type) or 0) * 1000,
                                              memory_capacity_mib(instance_type)))
        pools.append(NodePool(name, tuple(sorted(options, key=lambda o: (o.price_per_hour, o.name))),
                              _limit(pool, "cpu", cpu_milli), _limit(pool, "memory", memory_mib),
                              duration_seconds(pool.disruption.consolidate_after) or 0))
    return tuple(pools)


def capacity_for(config: StackConfig, workload: WorkloadConfig, prices: dict[str, float]) -> Capacity:
    """Karpenter's pools, and the room the enabled managed node groups (at their `desiredSize`, first
    instance type) leave for workers after the Karpenter and KEDA controllers."""
    plan = deployment_plan(config)
    pools = node_pools_for(plan.karpenter, workload, prices)
    groups = plan.node_groups.values()  # the enabled ones
    managed_nodes = sum(group.config.scaling.desired_size for group in groups)
    controllers_cpu = controllers_memory = controllers_pods = 0.0
    for replicas, resources in _controllers(config):
        controllers_cpu += replicas * cpu_milli(resources.requests.cpu)
        controllers_memory += replicas * memory_mib(resources.requests.memory)
        controllers_pods += replicas
    per_node_share = 1 / managed_nodes if managed_nodes else 0  # the controllers spread over the managed nodes
    free = price = 0.0
    for group in groups:
        instance_type, nodes = group.config.instance_types[0], group.config.scaling.desired_size
        per_node = pods_per_node(instance_type, group.settings, workload, controllers_cpu * per_node_share,
                                 controllers_memory * per_node_share, controllers_pods * per_node_share)
        free += per_node * nodes
        price += prices.get(instance_type, 0.0) * nodes
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
