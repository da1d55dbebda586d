"""`python -m automation status`: live cluster and node group versions, read with boto3 (no Pulumi CLI).

Node groups are matched to the stack config through the `eks-bottlerocket/node-group` tag the program
puts on every managed node group. boto3 takes endpoint and credentials from the standard AWS settings
(AWS_ENDPOINT_URL, AWS_PROFILE, ...); the region is the stack's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from automation.stack_files import StackFileError, read_stack_config
from core.release_version import LATEST, GroupVersions, held_until_rollout, ssm_parameter_name
from core.stack_config import NODE_GROUP_TAG, ConfigError, StackConfig, validate_stack_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def live_node_groups(eks: Any, cluster_name: str) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The cluster's managed node groups: by their `eks-bottlerocket/node-group` tag, and those without it."""
    tagged: dict[str, dict[str, Any]] = {}
    untagged: list[dict[str, Any]] = []
    for page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster_name):
        for name in page["nodegroups"]:
            group = eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=name)["nodegroup"]
            owner = (group.get("tags") or {}).get(NODE_GROUP_TAG)
            if owner:
                tagged[owner] = group
            else:
                untagged.append(group)
    return tagged, untagged


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


def held_changes(config: StackConfig, name: str, group: dict[str, Any], newest: str | None, ec2: Any) -> list[str]:
    """What the stack wants for a live group that its freeze or pin keeps off the nodes."""
    policy = config.release_policy(name)
    deployed = GroupVersions(group.get("releaseVersion"), group.get("version"), (group.get("launchTemplate") or {}).get("version"))
    wanted = GroupVersions(newest if policy.requested == LATEST else policy.requested, config.cluster.kubernetes_version,
                           latest_template_version(ec2, group))
    return held_until_rollout(policy, deployed, wanted)


def collect_status(config: StackConfig, eks: Any, ssm: Any, ec2: Any = None) -> dict[str, Any]:
    cluster = eks.describe_cluster(name=config.cluster.name)["cluster"]
    version = cluster["version"]
    tagged, untagged = live_node_groups(eks, config.cluster.name)
    live = {owner: group for owner, group in tagged.items() if owner in config.node_groups}
    unknown = untagged + [group for owner, group in tagged.items() if owner not in config.node_groups]

    latest_cache: dict[str, str | None] = {}

    def latest(ami_type: str) -> str | None:
        parameter = ssm_parameter_name(version, ami_type)
        if parameter not in latest_cache:
            try:
                latest_cache[parameter] = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
            except ClientError:
                latest_cache[parameter] = None
        return latest_cache[parameter]

    rows = []
    for name, group_config in sorted(config.node_groups.items()):
        group = live.get(name)
        newest = latest(group_config.ami_type)
        release = group.get("releaseVersion") if group else None
        rows.append({
            "group": name,
            "name": group["nodegroupName"] if group else None,
            "status": group["status"] if group else ("MISSING" if group_config.enabled else "DISABLED"),
            "releaseVersion": release,
            "latestReleaseVersion": newest,
            "frozen": group_config.freeze,
            "desiredSize": group["scalingConfig"]["desiredSize"] if group else None,
            "upToDate": bool(release and newest and release == newest),
            "inConfig": True,
            "heldUntilRollout": held_changes(config, name, group, newest, ec2) if group else [],
        })
    for group in unknown:
        newest = latest(group.get("amiType", "")) if str(group.get("amiType", "")).startswith("BOTTLEROCKET") else None
        rows.append({
            "group": None, "name": group["nodegroupName"], "status": group["status"], "releaseVersion": group.get("releaseVersion"),
            "latestReleaseVersion": newest, "frozen": False, "desiredSize": group["scalingConfig"]["desiredSize"],
            "upToDate": bool(newest and group.get("releaseVersion") == newest), "inConfig": False, "heldUntilRollout": [],
        })
    return {"cluster": {"name": cluster["name"], "version": version, "status": cluster["status"]}, "nodeGroups": rows}


def render_table(status: dict[str, Any]) -> str:
    cluster = status["cluster"]
    lines = [f"cluster {cluster['name']}  Kubernetes {cluster['version']}  {cluster['status']}", ""]
    header = ("GROUP", "NODE GROUP", "STATUS", "VERSION", "LATEST", "FROZEN", "DESIRED", "")
    rows = [header]
    for row in status["nodeGroups"]:
        note = "not in the stack config" if not row["inConfig"] else ("up to date" if row["upToDate"] else ("behind" if row["releaseVersion"] else ""))
        rows.append((row["group"] or "-", row["name"] or "-", row["status"], row["releaseVersion"] or "-", row["latestReleaseVersion"] or "?",
                     "yes" if row["frozen"] else "no", "-" if row["desiredSize"] is None else str(row["desiredSize"]), note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in rows]
    lines += [f"{row['group']}: {held}" for row in status["nodeGroups"] for held in row["heldUntilRollout"]]
    return "\n".join(lines) + "\n"


def load_config(stack: str, err: TextIO, stack_file: Path | None = None) -> StackConfig | None:
    try:
        source = read_stack_config(stack, stack_file)
        return validate_stack_config(source.project_values, source.stack_file, source.project_secret_keys)
    except StackFileError as error:
        err.write(f"{error}\n")
    except ConfigError as error:
        err.write(f"{error.report()}\n")
    return None


def aws_clients(region: str) -> tuple[Any, Any]:
    session = boto3.Session(region_name=region)
    return session.client("eks"), session.client("ssm")


def ec2_client(region: str) -> Any:
    return boto3.Session(region_name=region).client("ec2")


def run_status(stack: str, as_json: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    config = load_config(stack, err)
    if config is None:
        return EXIT_USAGE
    eks, ssm = aws_clients(config.region)
    try:
        status = collect_status(config, eks, ssm, ec2_client(config.region))
    except (ClientError, BotoCoreError) as error:
        err.write(f"cannot read cluster {config.cluster.name} in {config.region}: {error}\n")
        return EXIT_FAILED
    out.write(json.dumps(status, indent=2) + "\n" if as_json else render_table(status))
    return EXIT_OK
