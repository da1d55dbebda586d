"""Kubernetes minor versions: the rules a cluster upgrade must follow, as plain functions over plain data.

- The control plane moves one minor version per update and never back ("Control plane version upgrades
  must be done for one minor version at a time", eksctl's cluster-upgrade page in the EKS docs,
  https://docs.aws.amazon.com/eks/latest/eksctl/cluster-upgrade.html).
- EKS refuses that update while a managed node group runs another version, and creates node groups only
  at the cluster's version (botocore 1.44.8's EKS model, data/eks/2017-11-01/service-2.json:
  UpdateClusterVersion "all of your node groups' Kubernetes versions must match the cluster's Kubernetes
  version"; CreateNodegroupRequest.version "By default, the Kubernetes version of the cluster is used,
  and this is the only accepted specified value"). A group older than the cluster is therefore one
  created before the control plane moved: the blue side of a version rollout.
- A node's kubelet may be up to three minor versions older than the API server and never newer
  (kubernetes/website, content/en/releases/version-skew-policy.md, section "kubelet": "kubelet must not be
  newer than kube-apiserver", "kubelet may be up to three minor versions older than kube-apiserver").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.config.base import Path, Problem

SUPPORTED_KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
MAX_KUBELET_SKEW = 3  # minors a kubelet may lag behind the API server
CLUSTER_VERSION_PATH: Path = ("cluster", "kubernetesVersion")
_VERSION = re.compile(r"1\.(?P<minor>[0-9]+)")


def minor(version: str) -> int:
    """The minor number of `1.N`; ValueError for anything else."""
    match = _VERSION.fullmatch(version)
    if not match:
        raise ValueError(f"{version!r} is not a Kubernetes minor version such as 1.33")
    return int(match["minor"])


def next_minor(version: str) -> str:
    return f"1.{minor(version) + 1}"


def written_unquoted(value: float, known: tuple[str, ...]) -> str:
    """What a user most likely typed when YAML turned a version into the number `value`: `1.30`
    reads as 1.3, so the known version that reads as the same number wins."""
    return next((version for version in known if float(version) == value), repr(value))


# Where a current version comes from, in a problem's words: the live cluster (core/upgrade_check.py has the offline one).
DEPLOYED_VERSION = "the deployed"


def control_plane_step_problems(previous: str | None, new: str, previous_is: str = DEPLOYED_VERSION) -> list[Problem]:
    """The control plane's move from `previous` (deployed; None when nothing is) to `new`; `previous_is`
    says where `previous` comes from when it is not the deployed cluster ("the stack file's")."""
    if previous is None or previous == new:
        return []
    if minor(new) < minor(previous):
        return [Problem(CLUSTER_VERSION_PATH, f"{new!r} is older than {previous_is} {previous}; EKS cannot downgrade a cluster")]
    if minor(new) > minor(previous) + 1:
        return [Problem(CLUSTER_VERSION_PATH, f"{new!r} skips {next_minor(previous)}: EKS moves the control plane one minor "
                                              f"version per update; set {next_minor(previous)!r} first")]
    return []


def node_group_skew_problems(cluster_version: str, group_versions: Mapping[str, str]) -> list[Problem]:
    """Node groups (name -> Kubernetes version) against the control plane's version."""
    problems = []
    for name, version in group_versions.items():
        path: Path = ("nodeGroups", name, "kubernetesVersion")
        lag = minor(cluster_version) - minor(version)
        if lag < 0:
            problems.append(Problem(path, f"{version!r} is newer than the control plane ({cluster_version}); a kubelet must never "
                                          "be newer than the API server"))
        elif lag > MAX_KUBELET_SKEW:
            problems.append(Problem(path, f"{version!r} is {lag} minor versions behind the control plane ({cluster_version}); "
                                          f"Kubernetes allows at most {MAX_KUBELET_SKEW}"))
    return problems
