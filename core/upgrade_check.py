"""The pre-flight of a Kubernetes minor-version upgrade, as plain functions over plain data.

Each check returns findings; a `blocker` stops the upgrade, a `warning` needs a decision, `ok` and
`skipped` (with the reason) say what was looked at. What AWS knows (the live cluster, Bottlerocket's SSM
parameters, EKS add-on versions) reaches these functions as plain values read by automation/upgrade_check.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.config.base import format_path
from core.deployment import enabled_node_groups, group_kubernetes_version
from core.eks_addons import MANAGED_ADDONS
from core.kubernetes_versions import DEPLOYED_VERSION, control_plane_step_problems, minor, node_group_skew_problems
from core.release_version import ssm_parameter_name
from core.config.stack_config import StackConfig

Status = Literal["ok", "blocker", "warning", "skipped"]


@dataclass(frozen=True)
class Finding:
    check: str  # control-plane, node-groups, charts, apis, bottlerocket, eks-addons
    status: Status
    subject: str  # what was checked: a key path, a file, a parameter, an add-on
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class RenderedObject:
    """One Kubernetes object the program renders: where it was found, its apiVersion and kind."""

    source: str
    api_version: str
    kind: str


STACK_FILE_VERSION = "the stack file's"  # where the current version comes from offline, in a problem's words


def target_version_problems(current: str, target: str, current_is: str = DEPLOYED_VERSION) -> list[str]:
    """Why `--to target` is not a next step from `current` (bad input, not a blocker); `current_is` says
    where `current` comes from (STACK_FILE_VERSION offline)."""
    if target == current:
        return [f"the control plane is already at {current}"]
    return [f"{format_path(p.path)}: {p.message}" for p in control_plane_step_problems(current, target, current_is)]


def readiness(findings: Iterable[Mapping[str, str]], target: str | None = None) -> str:
    """The verdict line over findings (as_dict) without blockers: plain "Ready" only when nothing was
    skipped; else it says the verdict covers what was checked, and what was not."""
    findings = list(findings)
    ready = f"Ready for Kubernetes {target}" if target else "Ready"
    skipped = [f for f in findings if f["status"] == "skipped"]
    if not skipped:
        return ready
    checks = ", ".join(dict.fromkeys(f["check"] for f in skipped))
    return f"{ready} as far as checked offline ({len(skipped)} check(s) skipped: {checks})"


def control_plane_findings(current: str, target: str, current_from: str) -> list[Finding]:
    return [Finding("control-plane", "ok", "cluster.kubernetesVersion",
                    f"{current} ({current_from}) -> {target}: one minor version")]


def node_group_findings(config: StackConfig, current: str, target: str, live_versions: Mapping[str, str] | None) -> list[Finding]:
    """Before the bump every managed node group must run the control plane's version (EKS refuses
    UpdateClusterVersion otherwise); after it, pinned groups must stay within the kubelet skew."""
    findings = []
    before = dict(live_versions) if live_versions is not None else {
        name: group_kubernetes_version(config, name) for name in enabled_node_groups(config)}
    where = "live" if live_versions is not None else "in the stack file"
    for name, version in sorted(before.items()):
        subject = f"nodeGroups.{name}" if name in config.node_groups else f"node group {name}"
        if version != current:
            findings.append(Finding("node-groups", "blocker", subject,
                                    f"runs {version} ({where}) but the control plane {current}: EKS updates the control plane only "
                                    "when every managed node group runs its version; move or remove this group first"))
        else:
            findings.append(Finding("node-groups", "ok", subject, f"runs {current} ({where})"))
    if live_versions is not None:
        for name, group in sorted(enabled_node_groups(config).items()):
            if name not in live_versions and group.kubernetes_version not in (None, target):
                findings.append(Finding("node-groups", "blocker", f"nodeGroups.{name}.kubernetesVersion",
                                        f"{group.kubernetes_version!r} for a group that does not exist yet: EKS creates node groups "
                                        f"only at the cluster's version ({target} after the bump); remove the pin"))
    pinned = {name: group.kubernetes_version for name, group in enabled_node_groups(config).items() if group.kubernetes_version}
    for problem in node_group_skew_problems(target, pinned):
        findings.append(Finding("node-groups", "blocker", format_path(problem.path), f"after the bump: {problem.message}"))
    for name, group in sorted(enabled_node_groups(config).items()):
        if not group.kubernetes_version:
            findings.append(Finding("node-groups", "warning", f"nodeGroups.{name}.kubernetesVersion",
                                    f"not set, so the group follows the cluster and is replaced in place with {target} nodes in the "
                                    f"same `up`; set it to {current!r} to keep it while another group moves blue/green"))
    return findings


def chart_findings(config: StackConfig, target: str, ranges: Mapping[str, Mapping[str, Any]], pinned: Mapping[str, str]) -> list[Finding]:
    """KEDA's and Karpenter's pinned charts against their published Kubernetes ranges (`pinned`: chart -> pin)."""
    enabled = {"keda": config.keda is not None, "karpenter": config.karpenter is not None}
    findings = []
    for chart, on in enabled.items():
        if not on:
            continue
        published = ranges[chart]
        if published["chartVersion"] != pinned[chart]:
            findings.append(Finding("charts", "blocker", chart, f"the compatibility data is for {published['chartVersion']} but "
                                                                f"{pinned[chart]} is pinned; update data/addon-kubernetes-compatibility.json"))
        elif not minor(published["minKubernetes"]) <= minor(target) <= minor(published["maxKubernetes"]):
            findings.append(Finding("charts", "blocker", chart, f"{chart} {pinned[chart]} supports Kubernetes {published['minKubernetes']} "
                                                                f"to {published['maxKubernetes']}, not {target} ({published['source']})"))
        else:
            findings.append(Finding("charts", "ok", chart, f"{chart} {pinned[chart]} supports {published['minKubernetes']} to "
                                                             f"{published['maxKubernetes']}"))
    return findings


def find_objects(source: str, document: Any) -> list[RenderedObject]:
    """Every mapping with a string apiVersion and kind inside `document` (a manifest, or Helm values
    that embed objects such as `extraObjects`)."""
    found = []
    if isinstance(document, Mapping):
        api_version, kind = document.get("apiVersion"), document.get("kind")
        if isinstance(api_version, str) and isinstance(kind, str):
            found.append(RenderedObject(source, api_version, kind))
        for value in document.values():
            found += find_objects(source, value)
    elif isinstance(document, list):
        for value in document:
            found += find_objects(source, value)
    return found


def api_findings(objects: Iterable[RenderedObject], target: str, table: Mapping[str, Any]) -> list[Finding]:
    """Objects against the API table (data/kubernetes-api-removals.json)."""
    removed = {(entry["apiVersion"], kind): entry for entry in table["removed"] for kind in entry["kinds"]}
    deprecated = {(entry["apiVersion"], kind): entry for entry in table["deprecated"] for kind in entry["kinds"]}
    findings, count = [], 0
    for obj in objects:
        count += 1
        key = (obj.api_version, obj.kind)
        subject = f"{obj.source}: {obj.api_version} {obj.kind}"
        if key in removed and minor(removed[key]["removedIn"]) <= minor(target):
            findings.append(Finding("apis", "blocker", subject, f"no longer served since {removed[key]['removedIn']}; "
                                                                f"use {removed[key]['use']}"))
        elif key in deprecated and minor(deprecated[key]["deprecatedIn"]) <= minor(target):
            findings.append(Finding("apis", "warning", subject, f"deprecated since {deprecated[key]['deprecatedIn']} (still served); "
                                                                f"move to {deprecated[key]['use']}"))
    if not any(f.status == "blocker" for f in findings):
        findings.append(Finding("apis", "ok", "rendered objects", f"{count} object(s) use no API removed by {target}"))
    return findings


def bottlerocket_parameters(config: StackConfig, target: str) -> list[str]:
    """The SSM parameters of Bottlerocket's newest release for `target`, one per AMI type in use."""
    return sorted({ssm_parameter_name(target, group.ami_type) for group in enabled_node_groups(config).values()})


def bottlerocket_findings(parameters: Mapping[str, str | None]) -> list[Finding]:
    """parameter -> its value (a release version), None when it does not exist."""
    return [Finding("bottlerocket", "ok" if value else "blocker", name,
                    f"latest release {value}" if value else "does not exist: Bottlerocket has no release for this version yet")
            for name, value in sorted(parameters.items())]


def addon_findings(config: StackConfig, target: str, available: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """available: EKS add-on name -> {"versions": [...compatible with target], "default": str | None}, as
    DescribeAddonVersions answers for `target`."""
    pins = {addon.addon_name: (addon.key, addon.pinned_version(config.eks_addons)) for addon in MANAGED_ADDONS}
    findings = []
    for name, info in sorted(available.items()):
        key, pinned = pins.get(name, (None, None))
        if not info["versions"]:
            findings.append(Finding("eks-addons", "blocker", name, f"EKS offers no version of {name} for {target}"))
        elif pinned and pinned not in info["versions"]:
            findings.append(Finding("eks-addons", "blocker", f"eksAddons.{key}.version",
                                    f"{pinned} is not offered for {target}; remove the pin (default {info['default']}) or pick one of "
                                    f"{', '.join(info['versions'][:5])}"))
        else:
            chosen = f"{pinned} (pinned)" if pinned else f"{info['default']} (EKS default)" if info["default"] else "no default marked"
            findings.append(Finding("eks-addons", "ok", name, f"{len(info['versions'])} version(s) for {target}; {chosen}"))
    return findings


def addon_versions_offered(pages: Iterable[Mapping[str, Any]], target: str) -> dict[str, Any]:
    """The versions of one add-on that DescribeAddonVersions pages list as compatible with `target`, and
    the one marked `defaultVersion` (botocore's EKS model: AddonInfo.addonVersions[].compatibilities[])."""
    versions, default = [], None
    for page in pages:
        for addon in page["addons"]:
            for info in addon["addonVersions"]:
                matching = [c for c in info.get("compatibilities", []) if c.get("clusterVersion") == target]
                if matching:
                    versions.append(info["addonVersion"])
                    if any(c.get("defaultVersion") for c in matching):
                        default = info["addonVersion"]
    return {"versions": versions, "default": default}


def skipped(check: str, subject: str, reason: str) -> Finding:
    return Finding(check, "skipped", subject, reason)


def is_ready(findings: Iterable[Finding]) -> bool:
    return not any(f.status == "blocker" for f in findings)
