"""`python -m automation status`: live cluster and node group versions, read with boto3 (no Pulumi CLI).

Node groups are matched to the stack config through the `eks-bottlerocket/node-group` tag the program
puts on every managed node group. Versions are compared as Bottlerocket versions (semver, then the build
commit); an SSM or EKS error (missing parameter, access denied, throttling after boto3's retries) is exit
code 1 with the parameter or cluster it concerns, never a silent "?". The AWS clients are the stack
region's (automation/base.py).
Kubernetes versions (control plane, each group's version and kubelet skew, EKS add-ons against EKS'
default for the cluster's version, what is due) come from automation/version_status.py, under "versions".
The cluster and its node groups are read once per run (automation/eks_node_groups.py, read_live_cluster)
and both reports are made from that read.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from automation.base import AwsClients, load_config
from automation.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandFailed, one_line
from automation.eks_node_groups import LiveCluster, read_live_cluster
from automation.version_status import collect_version_status
from core.deployment import NodeGroupPlan, node_group_plan
from core.release_version import NEWER, GroupVersions, compare_releases, held_until_rollout, ssm_parameter_name
from core.config.stack_config import StackConfig


def latest_template_version(ec2: Any, group: dict[str, Any]) -> str | None:
    """The newest version of the launch template a live node group uses: what the stack file wants it on."""
    template = group.get("launchTemplate") or {}
    if ec2 is None or not template.get("id"):
        return None
    try:
        found = ec2.describe_launch_templates(LaunchTemplateIds=[template["id"]])["LaunchTemplates"]
    except ClientError:
        return None
    return str(found[0]["LatestVersionNumber"]) if found else None


def held_changes(plan: NodeGroupPlan, group: dict[str, Any], newest: str | None, ec2: Any) -> list[str]:
    """What the stack wants for a live group that its freeze or pin keeps off the nodes."""
    policy = plan.release
    deployed = GroupVersions(group.get("releaseVersion"), group.get("version"), (group.get("launchTemplate") or {}).get("version"))
    wanted = GroupVersions(newest if policy.tracks_latest else policy.requested, plan.kubernetes_version,
                           latest_template_version(ec2, group))
    return held_until_rollout(policy, deployed, wanted)


def _release_state(live: str | None, asked: str | None, tracks_latest: bool, frozen: bool) -> str | None:
    """What the live group does with its release, judged from the live version and what the stack asks."""
    if not live or not asked:
        return None
    if live == asked:
        return "tracking latest" if tracks_latest else "pinned"
    # ignoreChanges on releaseVersion (core/release_version.py, ReleasePolicy.ignore_changes): only a rollout moves it.
    return "frozen" if frozen else "pending: the next up moves it"


def collect_status(config: StackConfig, live_cluster: LiveCluster, ssm: Any, ec2: Any = None) -> dict[str, Any]:
    """The node groups of the cluster already read, against the stack config and the newest releases (SSM)."""
    cluster = live_cluster.cluster
    version = cluster["version"]
    live = {owner: group for owner, group in live_cluster.tagged.items() if owner in config.node_groups}
    unknown = live_cluster.untagged + [group for owner, group in live_cluster.tagged.items() if owner not in config.node_groups]

    latest_cache: dict[str, str] = {}

    def latest(ami_type: str, kubernetes_version: str) -> str:
        parameter = ssm_parameter_name(kubernetes_version, ami_type)
        if parameter not in latest_cache:
            try:
                latest_cache[parameter] = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
            except ClientError as error:
                raise CommandFailed(f"cannot read the newest Bottlerocket release from SSM parameter {parameter} in "
                                    f"{config.region}: {one_line(error)}") from None
        return latest_cache[parameter]

    rows = []
    for name, group_config in sorted(config.node_groups.items()):
        group = live.get(name)
        plan = node_group_plan(config, name)  # a disabled group's too: it may still be live
        # the group's own Kubernetes version picks its Bottlerocket variant (aws-k8s-<version>)
        newest = latest(group_config.ami_type, group["version"] if group else plan.kubernetes_version)
        policy = plan.release
        release = group.get("releaseVersion") if group else None
        flags = []
        if group and not group_config.enabled:
            flags.append(f"disabled in the stack config but {group['status']}")
        versus = compare_releases(release, newest) if release else None
        if versus == NEWER:
            flags.append("newer than the latest release")
        rows.append({
            "group": name,
            "name": group["nodegroupName"] if group else None,
            "status": group["status"] if group else ("MISSING" if group_config.enabled else "DISABLED"),
            "releaseVersion": release,
            "latestReleaseVersion": newest,
            "versusLatest": versus,
            "requested": policy.requested,
            "frozen": policy.frozen,
            "release": _release_state(release, newest if policy.tracks_latest else policy.requested, policy.tracks_latest, policy.frozen),
            "desiredSize": group["scalingConfig"]["desiredSize"] if group else None,
            "inConfig": True,
            "heldUntilRollout": held_changes(plan, group, newest, ec2) if group else [],
            "flags": flags,
        })
    for group in unknown:
        bottlerocket = str(group.get("amiType", "")).startswith("BOTTLEROCKET")
        newest = latest(group["amiType"], group.get("version") or version) if bottlerocket else None
        rows.append({
            "group": None, "name": group["nodegroupName"], "status": group["status"], "releaseVersion": group.get("releaseVersion"),
            "latestReleaseVersion": newest, "versusLatest": compare_releases(group.get("releaseVersion"), newest) if newest else None,
            "requested": None, "frozen": None, "release": None, "desiredSize": group["scalingConfig"]["desiredSize"],
            "inConfig": False, "heldUntilRollout": [], "flags": ["not in the stack config"],
        })
    return {"cluster": {"name": cluster["name"], "version": version, "status": cluster["status"]}, "nodeGroups": rows}


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in rows]


def render_table(status: dict[str, Any]) -> str:
    cluster = status["cluster"]
    lines = [f"cluster {cluster['name']}  Kubernetes {cluster['version']}  {cluster['status']}", ""]
    # Kubernetes version and skew per group, from the version report (keyed by the group's tag, else its EKS name)
    kubernetes = {row["group"]: row for row in status["versions"]["nodeGroups"]}
    rows = [("GROUP", "NODE GROUP", "STATUS", "K8S", "SKEW", "VERSION", "LATEST", "VS LATEST", "RELEASE", "DESIRED", "NOTES")]
    for row in status["nodeGroups"]:
        versions = kubernetes.get(row["group"] or row["name"]) if row["name"] else None
        rows.append((row["group"] or "-", row["name"] or "-", row["status"], versions["kubernetesVersion"] if versions else "-",
                     str(versions["skew"]) if versions else "-", row["releaseVersion"] or "-", row["latestReleaseVersion"] or "-",
                     row["versusLatest"] or "-", row["release"] or "-", "-" if row["desiredSize"] is None else str(row["desiredSize"]),
                     "; ".join(row["flags"])))
    lines += _columns(rows)
    lines += [f"{row['group']}: {held}" for row in status["nodeGroups"] for held in row["heldUntilRollout"]]
    addons = status["versions"]["addons"]
    if addons:
        lines += ["", *_columns([("ADD-ON", "VERSION", "DEFAULT", "PINNED")] + [
            (a["name"], a["version"], a["default"] or "-", a["pinned"] or "-") for a in addons])]
    lines += ["", "due:" if status["versions"]["due"] else "due: nothing"]
    lines += [f"  {line}" for line in status["versions"]["due"]]
    return "\n".join(lines) + "\n"


def run_status(stack: str, as_json: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    config = load_config(stack, err)
    if config is None:
        return EXIT_USAGE
    aws = AwsClients(config.region)
    try:
        live = read_live_cluster(aws.eks, config.cluster.name)
        status = collect_status(config, live, aws.ssm, aws.ec2)
        status["versions"] = collect_version_status(config, stack, aws.eks, live)
    except CommandFailed as error:
        err.write(f"{error}\n")
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as error:
        err.write(f"cannot read cluster {config.cluster.name} in {config.region}: {one_line(error)}\n")
        return EXIT_FAILED
    out.write(json.dumps(status, indent=2) + "\n" if as_json else render_table(status))
    return EXIT_OK
