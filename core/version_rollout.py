"""A Kubernetes minor-version upgrade as a blue/green rollout (`rollout --kubernetes-version 1.N`): the
stack-file edits of the stages it adds around the blue/green stages of core/rollout.py, what each looks
like done in the stack file, and the input it refuses. Plain functions over the round-trip mapping of the
stack file; automation/rollout.py runs the stages.

Order, and why (the EKS rules are cited in core/kubernetes_versions.py):
- pin, then bump: EKS updates the control plane only while every managed node group runs its version, so
  every enabled group is pinned to the current version (`nodeGroups.<g>.kubernetesVersion`) in the same
  `up` that moves `cluster.kubernetesVersion` one minor; unpinned, the groups would be replaced in place
  by the new version's nodes in that `up`, which is what the blue/green rollout avoids;
- add-ons: CoreDNS and the VPC CNI follow EKS' default for the cluster's version unless pinned in
  `eksAddons` (core/eks_addons.py); a pin is removed so they move to the new version's defaults;
- blue/green: the target group is enabled at 1.N (EKS creates node groups only at the cluster's version);
  Karpenter's node class follows the target (`karpenter.nodeClass.versionFrom`), so its nodes drift;
- unpin: the pins equal to the cluster's version say nothing any more, and a disabled group's pin could
  never be used (EKS would create the group at the cluster's version), so both are removed.
"""

from __future__ import annotations

import copy
from typing import Any

from core.config.base import format_path
from core.eks_addons import MANAGED_ADDONS
from core.kubernetes_versions import control_plane_step_problems, minor
from core.rollout import (KUBERNETES_VERSION_KEY, RolloutPlan, RolloutUsageError, cluster_version, is_enabled, node_groups,
                          pin_kubernetes_version, project_key)
from core.kubernetes_versions import SUPPORTED_KUBERNETES_VERSIONS
from core.upgrade_check import STACK_FILE_VERSION, target_version_problems

ADDONS_SECTION = "eksAddons"


def check_version_request(document: Any, project: str, version: str, stack_file: str) -> None:
    """RolloutUsageError (exit 2) unless `version` is supported and the stack file's control plane is at it
    (a rerun) or one minor below it, and no group is pinned newer than it."""
    if version not in SUPPORTED_KUBERNETES_VERSIONS:
        raise RolloutUsageError(f"--kubernetes-version {version!r}: not a supported Kubernetes version "
                                f"({', '.join(SUPPORTED_KUBERNETES_VERSIONS)})")
    current = cluster_version(document, project)
    for problem in control_plane_step_problems(current, version, STACK_FILE_VERSION):
        raise RolloutUsageError(f"--kubernetes-version {version}: {stack_file}: {format_path(problem.path)} is {current!r}; {problem.message}")
    for name, group in node_groups(document, project).items():
        pinned = group.get(KUBERNETES_VERSION_KEY)
        if pinned is not None and minor(str(pinned)) > minor(version):
            raise RolloutUsageError(f"--kubernetes-version {version}: {stack_file}: nodeGroups.{name}.kubernetesVersion is {str(pinned)!r}, "
                                    f"newer than the control plane would be; a kubelet must never be newer than the API server")


def refuse_an_upgrade_to_the_current_version(document: Any, plan: RolloutPlan, stack_file: str) -> None:
    """RolloutUsageError (exit 2, the words of upgrade-check's refusal) when the stack file's control plane
    is at `plan.kubernetes_version` already and no upgrade to it is under way: neither the source nor the
    target carries a `kubernetesVersion` pin (stage 1 pins the source to the version it moves from, stage 3
    enables the target pinned to the new one, the last stage removes both). A rerun of an interrupted
    upgrade has them; a blue/green rollout at the current version is `rollout` without the flag."""
    current = cluster_version(document, plan.project)
    if current != plan.kubernetes_version:
        return
    groups = node_groups(document, plan.project)
    if any((groups.get(name) or {}).get(KUBERNETES_VERSION_KEY) is not None for name in (plan.source, plan.target)):
        return
    for problem in target_version_problems(current, plan.kubernetes_version):
        raise RolloutUsageError(f"--kubernetes-version {plan.kubernetes_version}: {problem} ({stack_file}); "
                                "drop --kubernetes-version to roll out at the current version")


# --- stage 1: pin every enabled group to the current version, move the control plane -------------------

def pin_and_bump(document: Any, plan: RolloutPlan) -> Any:
    edited = copy.deepcopy(document)
    current = cluster_version(edited, plan.project)
    for group in node_groups(edited, plan.project).values():
        if is_enabled(group) and group.get(KUBERNETES_VERSION_KEY) is None:
            pin_kubernetes_version(group, current)
    edited["config"][project_key(plan.project, "cluster")][KUBERNETES_VERSION_KEY] = plan.kubernetes_version
    return edited


def control_plane_bumped(document: Any, plan: RolloutPlan) -> bool:
    return cluster_version(document, plan.project) == plan.kubernetes_version


# --- stage 2: EKS add-ons to the new version's defaults ---------------------------------------------------

def unpin_addons(document: Any, plan: RolloutPlan) -> Any:
    edited = copy.deepcopy(document)
    key = project_key(plan.project, ADDONS_SECTION)
    addons = edited["config"][key]
    for addon in MANAGED_ADDONS:
        section = addons.get(addon.key)
        if section is not None and section.get("version") is not None:
            del section["version"]
            if not section:
                del addons[addon.key]
    if not addons:
        del edited["config"][key]
    return edited


def addons_follow_cluster(document: Any, plan: RolloutPlan) -> bool:
    addons = document["config"].get(project_key(plan.project, ADDONS_SECTION)) or {}
    return all((addons.get(addon.key) or {}).get("version") is None for addon in MANAGED_ADDONS)


# --- the last stage: the pins that say nothing any more go ---------------------------------------------

def _redundant_pins(document: Any, project: str) -> list[str]:
    current = cluster_version(document, project)
    return [name for name, group in node_groups(document, project).items()
            if group.get(KUBERNETES_VERSION_KEY) is not None and (str(group[KUBERNETES_VERSION_KEY]) == current or not is_enabled(group))]


def remove_redundant_pins(document: Any, plan: RolloutPlan) -> Any:
    edited = copy.deepcopy(document)
    for name in _redundant_pins(edited, plan.project):
        del node_groups(edited, plan.project)[name][KUBERNETES_VERSION_KEY]
    return edited


def no_redundant_pins(document: Any, plan: RolloutPlan) -> bool:
    return not _redundant_pins(document, plan.project)

