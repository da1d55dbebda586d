"""`python -m automation upgrade-check --stack S --to 1.N`: the pre-flight of a Kubernetes minor-version upgrade.

Checks, in order: the control plane moves one minor version; every managed node group runs the control
plane's version now and pinned groups stay within the kubelet skew after the bump; the pinned KEDA and
Karpenter charts support 1.N (data/addon-kubernetes-compatibility.json); no rendered object uses an API
removed by 1.N (data/kubernetes-api-removals.json; the objects come from an offline plan: the manifests/
and helm/ folders of --plan DIR, or a fresh plan computed in memory, nothing written); Bottlerocket
publishes an SSM release parameter for 1.N per AMI type in use; EKS offers every add-on of the cluster
for 1.N (DescribeAddonVersions). The live
checks read AWS with boto3 and the standard AWS settings; --offline skips them and says so.
Chart templates themselves are not rendered (no Helm here): the chart's published range covers them.

Exit codes: 0 ready; 1 blockers found (listed) or AWS unreadable; 2 bad input (stack file, --to).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from automation.stack_files import PROJECT_ROOT, read_stack_config, stack_file_path
from automation.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from automation.base import STACK_ERRORS, AwsClients, load_config, stack_error_report
from automation.version_status import live_versions
from core import karpenter as karpenter_data
from core.config.base import format_path
from core.eks_addons import CLUSTER_ADDON_NAMES
from core.keda import KEDA_CHART_VERSION
from core.kubernetes_versions import DEPLOYED_VERSION, SUPPORTED_KUBERNETES_VERSIONS, control_plane_step_problems
from core.config.stack_config import StackConfig
from core.upgrade_check import (
    Finding,
    RenderedObject,
    addon_findings,
    addon_versions_offered,
    api_findings,
    bottlerocket_findings,
    bottlerocket_parameters,
    chart_findings,
    control_plane_findings,
    STACK_FILE_VERSION,
    find_objects,
    is_ready,
    readiness,
    node_group_findings,
    skipped,
    target_version_problems,
)

API_TABLE_FILE = PROJECT_ROOT / "data" / "kubernetes-api-removals.json"
CHART_RANGES_FILE = PROJECT_ROOT / "data" / "addon-kubernetes-compatibility.json"
PINNED_CHARTS = {"keda": KEDA_CHART_VERSION, "karpenter": karpenter_data.CHART_VERSION}


class CheckStopped(Exception):
    """The check cannot run; the message is the one line the user sees."""

    exit_code = EXIT_FAILED


class BadInput(CheckStopped):
    """A problem with what the user asked for (the stack file, --to, --plan)."""

    exit_code = EXIT_USAGE


class AwsUnreadable(CheckStopped):
    """The live cluster could not be read."""


def rendered_objects(plan_dir: Path) -> list[RenderedObject]:
    """The objects of an offline plan folder: its manifests and any object embedded in Helm values."""
    objects = []
    for folder in ("manifests", "helm"):
        for path in sorted((plan_dir / folder).glob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                objects += find_objects(f"{folder}/{path.name}", document)
    return objects


def planned_objects(document: dict[str, Any]) -> list[RenderedObject]:
    """The objects of a plan document in memory, named and ordered as rendered_objects finds them in the
    folder `plan` writes from it (manifests/<file>, helm/<release>.values.yaml)."""
    from automation.plan import helm_values, kubernetes_manifests

    files = sorted((f"manifests/{name}", manifest) for name, manifest in kubernetes_manifests(document).items())
    files += sorted((f"helm/{release}.values.yaml", values) for release, values in helm_values(document).items())
    return [found for source, value in files for found in find_objects(source, value)]


def _planned_objects(stack: str, plan_dir: Path | None, config_file: Path | None, region: str) -> list[RenderedObject]:
    if plan_dir is not None:
        if not (plan_dir / "manifests").is_dir():
            raise BadInput(f"--plan {plan_dir}: not a plan folder (no manifests/); run `python -m automation plan` first")
        return rendered_objects(plan_dir)
    from automation.plan import ProgramFailed, planned_document

    try:
        source = read_stack_config(stack, config_file)  # validated already (the caller's config); read for the engine's view
        document = planned_document(source, region)
    except STACK_ERRORS as error:
        raise BadInput(stack_error_report(error)) from None
    except ProgramFailed as error:  # no plan means no objects, which is not "no removed API in use"
        raise CheckStopped(str(error)) from None
    return planned_objects(document)


def _live_cluster(config: StackConfig, eks: Any) -> tuple[str | None, dict[str, str] | None]:
    """(the cluster's version, node group -> version) or (None, None) when the cluster does not exist."""
    try:
        return live_versions(eks, config.cluster.name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None, None
        raise


def _ssm_values(ssm: Any, names: list[str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name in names:
        try:
            values[name] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ParameterNotFound":
                raise
            values[name] = None
    return values


def _addon_versions(eks: Any, target: str) -> dict[str, dict[str, Any]]:
    """EKS add-on name -> the versions EKS offers for `target` and its default among them."""
    return {name: addon_versions_offered(eks.get_paginator("describe_addon_versions").paginate(addonName=name, kubernetesVersion=target), target)
            for name in CLUSTER_ADDON_NAMES}


def check(stack: str, target: str, *, config: StackConfig, stack_file: str, config_file: Path | None = None,
          plan_dir: Path | None = None, offline: bool = False) -> dict[str, Any]:
    if target not in SUPPORTED_KUBERNETES_VERSIONS:
        raise BadInput(f"--to {target!r}: not a supported Kubernetes version ({', '.join(SUPPORTED_KUBERNETES_VERSIONS)})")
    eks = ssm = None
    live_version = live_groups = None
    if not offline:
        aws = AwsClients(config.region)
        eks, ssm = aws.eks, aws.ssm
        try:
            live_version, live_groups = _live_cluster(config, eks)
        except (ClientError, BotoCoreError) as error:
            raise AwsUnreadable(f"cannot read cluster {config.cluster.name} in {config.region}: {error} (--offline skips the live checks)") from None
    if live_version is not None:
        stack_step = control_plane_step_problems(live_version, config.cluster.kubernetes_version)
        if stack_step:
            raise BadInput("\n".join(f"{stack_file}: {format_path(p.path)}: {p.message} (the live cluster runs {live_version})" for p in stack_step))
    current = live_version or config.cluster.kubernetes_version
    current_from = "live cluster" if live_version else stack_file
    problems = target_version_problems(current, target, DEPLOYED_VERSION if live_version else STACK_FILE_VERSION)
    if problems:
        raise BadInput("\n".join(f"--to {target}: {problem} (from {current}, {current_from})" for problem in problems))

    findings: list[Finding] = control_plane_findings(current, target, current_from)
    findings += node_group_findings(config, current, target, live_groups)
    ranges = json.loads(CHART_RANGES_FILE.read_text())["charts"]
    findings += chart_findings(config, target, ranges, PINNED_CHARTS)
    findings += api_findings(_planned_objects(stack, plan_dir, config_file, config.region), target, json.loads(API_TABLE_FILE.read_text()))
    if offline:
        findings += [skipped("bottlerocket", name, "offline: not read") for name in bottlerocket_parameters(config, target)]
        findings.append(skipped("eks-addons", "DescribeAddonVersions", f"offline: the add-on versions EKS offers for {target} were not read"))
    else:
        # A live check that cannot read AWS cannot say "ready": it is a blocker that names the error.
        try:
            findings += bottlerocket_findings(_ssm_values(ssm, bottlerocket_parameters(config, target)))
        except (ClientError, BotoCoreError) as error:
            findings.append(Finding("bottlerocket", "blocker", "GetParameter", f"could not be read: {error}"))
        try:
            findings += addon_findings(config, target, _addon_versions(eks, target))
        except (ClientError, BotoCoreError) as error:
            findings.append(Finding("eks-addons", "blocker", "DescribeAddonVersions", f"could not be read for {target}: {error}"))
    return {"stack": stack, "from": current, "fromSource": current_from, "to": target, "ready": is_ready(findings),
            "findings": [finding.as_dict() for finding in findings]}


def render_text(report: dict[str, Any]) -> str:
    lines = [f"upgrade-check {report['stack']}: Kubernetes {report['from']} ({report['fromSource']}) -> {report['to']}", ""]
    width = max(len(f["check"]) for f in report["findings"])
    for finding in report["findings"]:
        lines.append(f"  {finding['status'].upper():8} {finding['check']:{width}}  {finding['subject']}: {finding['message']}")
    blockers = sum(f["status"] == "blocker" for f in report["findings"])
    lines += ["", f"{readiness(report['findings'])}." if report["ready"] else f"Not ready: {blockers} blocker(s)."]
    return "\n".join(lines) + "\n"


def run_upgrade_check(stack: str, target: str, as_json: bool, *, config_file: Path | None = None, plan_dir: Path | None = None,
                      offline: bool = False, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    config = load_config(stack, err, config_file)
    if config is None:
        return EXIT_USAGE
    stack_file = (config_file or stack_file_path(stack)).name
    try:
        report = check(stack, target, config=config, stack_file=stack_file, config_file=config_file, plan_dir=plan_dir, offline=offline)
    except CheckStopped as error:
        err.write(f"{error}\n")
        return error.exit_code
    out.write(json.dumps(report, indent=2) + "\n" if as_json else render_text(report))
    return EXIT_OK if report["ready"] else EXIT_FAILED
