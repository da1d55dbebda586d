"""The blue/green rollout as plain functions over plain data: who rolls to whom, the stack-file edit of
each stage, what each stage's completion looks like in the stack file, drain waves, and whether the
target's capacity covers the pods that will move. automation/rollout.py does the I/O.

The stack file is handled as the mapping a YAML round trip gives (`config` -> `<project>:nodeGroups`),
so the edits keep comments and formatting. The project (Pulumi.yaml's `name`, the keys' namespace) is
given by the caller: automation/stack_files.py reads it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.bottlerocket_settings import quantity_value
from core.config.node_groups import NodeGroupConfig
from core.release_version import LATEST, pin_problem
from core.tags import COLOUR_LABEL, PREFIX

RETIRING_TAINT = {"key": PREFIX + "retiring", "value": "true", "effect": "NoSchedule"}
KUBERNETES_VERSION_KEY = "kubernetesVersion"  # cluster.kubernetesVersion and nodeGroups.<g>.kubernetesVersion
DEFAULT_MAX_UNAVAILABLE: int = NodeGroupConfig.model_fields["max_unavailable"].default


class RolloutUsageError(ValueError):
    """The request cannot be a rollout (unknown group, --from equal to --to, a bad version...): exit 2."""


@dataclass(frozen=True)
class RolloutPlan:
    """The rollout's parties and the version the target gets; `kubernetes_version` in a Kubernetes
    minor-version upgrade (core/version_rollout.py): the target is enabled at it."""

    source: str
    target: str
    version: str
    kubernetes_version: str | None = None
    project: str = field(kw_only=True)  # the namespace of the stack file's keys


def project_key(project: str, name: str) -> str:
    """A stack-file key of the project's namespace: `<project>:<name>`."""
    return f"{project}:{name}"


def node_groups(document: Any, project: str) -> Any:
    return document["config"][project_key(project, "nodeGroups")]


def cluster_version(document: Any, project: str) -> str:
    return str(document["config"][project_key(project, "cluster")][KUBERNETES_VERSION_KEY])


def written_kubernetes_version(document: Any, project: str, name: str) -> str:
    """The Kubernetes version the stack file document gives a group: its pin, else the cluster's."""
    pinned = node_groups(document, project)[name].get(KUBERNETES_VERSION_KEY)
    return str(pinned) if pinned is not None else cluster_version(document, project)


def pin_kubernetes_version(group: Any, version: str) -> None:
    """Set the group's `kubernetesVersion`, a new key right after `releaseVersion`: a round-trip mapping
    keeps a comment that follows the group with its last key, which must not be one a later stage removes."""
    if KUBERNETES_VERSION_KEY not in group and "releaseVersion" in group and hasattr(group, "insert"):
        group.insert(list(group).index("releaseVersion") + 1, KUBERNETES_VERSION_KEY, version)
    else:
        group[KUBERNETES_VERSION_KEY] = version


def is_enabled(group: Mapping[str, Any]) -> bool:
    return bool(group.get("enabled", True))


def has_retiring_taint(group: Mapping[str, Any]) -> bool:
    return any(dict(taint) == RETIRING_TAINT for taint in group.get("taints", []) or [])


# (amiType, sorted labels, sorted taints as sorted (field, value) pairs): comparable and hashable.
Role = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[tuple[str, Any], ...], ...]]


def role(group: Mapping[str, Any]) -> Role:
    """What decides which pods a group can take: AMI type, labels (the colour aside) and taints (the
    retiring one aside). Groups of the same role can replace each other."""
    labels = {k: str(v) for k, v in (group.get("labels") or {}).items() if k != COLOUR_LABEL}
    taints = sorted(tuple(sorted(dict(t).items())) for t in group.get("taints", []) or [] if dict(t) != RETIRING_TAINT)
    return str(group.get("amiType", "")), tuple(sorted(labels.items())), tuple(taints)


def plan_rollout(document: Any, project: str, target: str, source: str | None, version: str | None) -> RolloutPlan | None:
    """None when there is nothing left to do: the target is enabled, untainted and no group of its role
    is enabled besides it."""
    groups = node_groups(document, project)
    for flag, name in (("--to", target), ("--from", source)):
        if name is not None and name not in groups:
            raise RolloutUsageError(f"{flag} {name}: nodeGroups has no such group (known: {', '.join(groups)})")
    if source == target:
        raise RolloutUsageError(f"--from and --to are both {target!r}; name two different groups")
    wanted = version or str(groups[target].get("releaseVersion", LATEST))
    if problem := pin_problem(wanted):
        raise RolloutUsageError(f"--version {wanted!r} {problem}")
    if source is None:
        peers = [name for name, group in groups.items()
                 if name != target and is_enabled(group) and role(group) == role(groups[target])]
        if not peers:
            if is_enabled(groups[target]) and not has_retiring_taint(groups[target]):
                return None
            raise RolloutUsageError(f"no enabled group of {target!r}'s role to roll from; name it with --from")
        if len(peers) > 1:
            raise RolloutUsageError(f"several enabled groups share {target!r}'s role ({', '.join(peers)}); name the source with --from")
        source = peers[0]
    elif not is_enabled(groups[source]):
        if is_enabled(groups[target]) and not has_retiring_taint(groups[target]):
            return None  # the source is gone already: the rollout finished
        raise RolloutUsageError(f"--from {source}: the group is not enabled, there is nothing to roll from")
    return RolloutPlan(source, target, wanted, project=project)


# --- stack-file edits per stage, and whether the stack file already says a stage is done ---------------

def enable_target(document: Any, plan: RolloutPlan) -> Any:
    """Stage 1: the target enabled at the version (and the Kubernetes version of an upgrade) with the
    source's sizes, without the retiring taint (a rollback re-enables a tainted group); Karpenter's nodes
    follow the target's version."""
    edited = copy.deepcopy(document)
    groups = node_groups(edited, plan.project)
    target = groups[plan.target]
    target["enabled"] = True
    target["releaseVersion"] = plan.version
    if plan.kubernetes_version is not None:
        pin_kubernetes_version(target, plan.kubernetes_version)
    target["scaling"] = copy.deepcopy(groups[plan.source]["scaling"])
    _remove_retiring_taint(target)
    karpenter = edited["config"].get(project_key(plan.project, "karpenter"))
    if karpenter is not None:
        karpenter.setdefault("nodeClass", {})["versionFrom"] = plan.target
    return edited


def taint_source(document: Any, plan: RolloutPlan) -> Any:
    """Stage 3: no new pod lands on the source."""
    edited = copy.deepcopy(document)
    source = node_groups(edited, plan.project)[plan.source]
    source.setdefault("taints", [])
    source["taints"].append(dict(RETIRING_TAINT))
    return edited


def disable_source(document: Any, plan: RolloutPlan) -> Any:
    """Stage 5: the drained source is deleted."""
    edited = copy.deepcopy(document)
    source = node_groups(edited, plan.project)[plan.source]
    source["enabled"] = False
    _remove_retiring_taint(source)
    return edited


def _remove_retiring_taint(group: Any) -> None:
    if "taints" in group:
        group["taints"] = [t for t in group["taints"] if dict(t) != RETIRING_TAINT]
        if not group["taints"]:
            del group["taints"]


def target_enabled(document: Any, plan: RolloutPlan) -> bool:
    target = node_groups(document, plan.project)[plan.target]
    return (is_enabled(target) and str(target.get("releaseVersion", LATEST)) == plan.version and not has_retiring_taint(target)
            and plan.kubernetes_version in (None, written_kubernetes_version(document, plan.project, plan.target)))


def source_tainted(document: Any, plan: RolloutPlan) -> bool:
    return has_retiring_taint(node_groups(document, plan.project)[plan.source])


def source_disabled(document: Any, plan: RolloutPlan) -> bool:
    return not is_enabled(node_groups(document, plan.project)[plan.source])


def max_unavailable(document: Any, project: str, group: str) -> int:
    return int(node_groups(document, project)[group].get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE))


# --- the drain ------------------------------------------------------------------------------------------

def waves(nodes: Sequence[str], size: int) -> list[list[str]]:
    """The source's nodes in waves of at most `size` (its maxUnavailable)."""
    return [list(nodes[i:i + size]) for i in range(0, len(nodes), max(size, 1))]


@dataclass(frozen=True)
class PodView:
    """What the drain needs to know about a pod, read from the API."""

    namespace: str
    name: str
    owner_kind: str | None
    owner_name: str | None
    mirror: bool
    phase: str
    terminating: bool
    cpu: float
    memory: float

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def bare(self) -> bool:
        return self.owner_kind is None and not self.mirror

    @property
    def evictable(self) -> bool:
        """`kubectl drain` skips DaemonSet pods, mirror (static) pods and finished pods."""
        return self.owner_kind != "DaemonSet" and not self.mirror and self.phase not in ("Succeeded", "Failed")


def pod_requests(containers: Iterable[Any]) -> tuple[float, float]:
    """Summed CPU (cores) and memory (bytes) requests of a pod's containers (dicts of the API's shape)."""
    cpu = memory = 0.0
    for container in containers:
        requests = ((container.get("resources") or {}).get("requests") or {})
        cpu += quantity_value(str(requests["cpu"])) if "cpu" in requests else 0.0
        memory += quantity_value(str(requests["memory"])) if "memory" in requests else 0.0
    return cpu, memory


def capacity_shortfall(allocatable: Iterable[tuple[float, float]], placed: Iterable[PodView], moving: Iterable[PodView]) -> str | None:
    """None when the target nodes' allocatable CPU and memory cover what already runs there plus the pods
    that will move; else which resource falls short, by how much."""
    nodes, placed, moving = list(allocatable), list(placed), list(moving)
    for index, resource, unit, scale in ((0, "CPU", "cores", 1.0), (1, "memory", "GiB", 2.0**30)):
        free = sum(node[index] for node in nodes) - sum((p.cpu, p.memory)[index] for p in placed)
        needed = sum((p.cpu, p.memory)[index] for p in moving)
        if needed > free + 1e-9:
            return f"{resource}: {needed / scale:.2f} {unit} requested by the pods that will move, {free / scale:.2f} free"
    return None
