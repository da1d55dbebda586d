"""`upgrade-check`: offline, and against moto's server (a real AWS API over HTTP) for the live checks.

moto 5.2.5 implements EKS clusters and node groups and SSM, but not DescribeAddonVersions (it answers
404): against it the add-on check reports that it could not read the versions, which is itself a blocker;
the parsing of DescribeAddonVersions answers is tested on its own below.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from automation.upgrade_check import API_TABLE_FILE, CHART_RANGES_FILE, PINNED_CHARTS, rendered_objects, run_upgrade_check
from core.config.stack_config import validate_stack_config
from core.upgrade_check import (
    RenderedObject,
    addon_findings,
    addon_versions_offered,
    api_findings,
    chart_findings,
    find_objects,
)
from tests.aws_emulator import seed_public_parameter
from tests.conftest import ROOT, project_values
from tests.temporary_files import run_listing_temporary_files

SUBNET = "subnet-0a1b2c3d4e5f60718"
PARAMETER_1_33 = "/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"
PARAMETER_1_34 = "/aws/service/bottlerocket/aws-k8s-1.34/x86_64/latest/image_version"
REMOVED_CRONJOB = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "workers"},
                   "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}


def _run(stack="dev", target="1.34", **kwargs) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_upgrade_check(stack, target, True, out=out, err=err, **kwargs)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def _blockers(report: dict) -> dict[str, str]:
    return {f["subject"]: f["message"] for f in report["findings"] if f["status"] == "blocker"}


@pytest.fixture
def plan_with_removed_api(dev_plan, tmp_path) -> Path:
    """The dev plan's folder plus one test manifest that uses an API removed in 1.25."""
    folder = tmp_path / "plan"
    shutil.copytree(dev_plan.out_dir, folder)
    (folder / "manifests" / "CronJob-workers-report.yaml").write_text(yaml.safe_dump(REMOVED_CRONJOB))
    return folder


def _seed_cluster(session, groups: dict[str, tuple[str, str | None]], version: str = "1.33") -> None:
    """groups: EKS node group name -> (Kubernetes version, eks-bottlerocket/node-group tag or None)."""
    eks = session.client("eks")
    eks.create_cluster(name="platform-dev", version=version, roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": [SUBNET]})
    for name, (group_version, tag) in groups.items():
        eks.create_nodegroup(clusterName="platform-dev", nodegroupName=name, subnets=[SUBNET], version=group_version,
                             nodeRole="arn:aws:iam::123456789012:role/nodes", amiType="BOTTLEROCKET_x86_64",
                             scalingConfig={"minSize": 2, "maxSize": 6, "desiredSize": 2},
                             tags={"eks-bottlerocket/node-group": tag} if tag else {})


def test_offline_dev_to_the_next_minor_is_ready_with_the_live_checks_skipped():
    code, report, err = _run(offline=True)
    assert code == 0, err
    assert (report["from"], report["fromSource"], report["to"], report["ready"]) == ("1.33", "Pulumi.dev.yaml", "1.34", True)
    statuses = {(f["check"], f["status"]) for f in report["findings"]}
    assert {("control-plane", "ok"), ("charts", "ok"), ("apis", "ok"), ("bottlerocket", "skipped"), ("eks-addons", "skipped")} <= statuses
    (warning,) = [f for f in report["findings"] if f["status"] == "warning"]
    assert warning["subject"] == "nodeGroups.blue.kubernetesVersion" and "set it to '1.33'" in warning["message"]


def test_removed_api_and_missing_ssm_parameter_against_moto_exit_1_naming_them(aws, plan_with_removed_api):
    _seed_cluster(aws, {"platform-dev-blue-1": ("1.33", "blue")})
    seed_public_parameter(PARAMETER_1_33, "1.54.0-5043decc")  # Bottlerocket for 1.33 exists, for 1.34 not yet
    code, report, err = _run(plan_dir=plan_with_removed_api)
    assert code == 1, err
    assert report["fromSource"] == "live cluster" and report["ready"] is False
    blockers = _blockers(report)
    assert blockers["manifests/CronJob-workers-report.yaml: batch/v1beta1 CronJob"] == "no longer served since 1.25; use batch/v1"
    assert blockers[PARAMETER_1_34].startswith("does not exist")
    assert "DescribeAddonVersions" in blockers  # moto has no EKS add-on API: not checked means not ready
    oks = {f["subject"] for f in report["findings"] if f["status"] == "ok"}
    assert "nodeGroups.blue" in oks and "cluster.kubernetesVersion" in oks


def test_text_output_lists_the_blockers(aws, plan_with_removed_api):
    _seed_cluster(aws, {"platform-dev-blue-1": ("1.33", "blue")})
    out, err = io.StringIO(), io.StringIO()
    assert run_upgrade_check("dev", "1.34", False, plan_dir=plan_with_removed_api, out=out, err=err) == 1
    text = out.getvalue()
    assert text.startswith("upgrade-check dev: Kubernetes 1.33 (live cluster) -> 1.34")
    assert "BLOCKER  apis" in text and f"BLOCKER  bottlerocket   {PARAMETER_1_34}: does not exist" in text
    assert text.rstrip().endswith("blocker(s).")


def test_a_live_node_group_behind_the_control_plane_blocks_the_update(aws, dev_plan):
    seed_public_parameter(PARAMETER_1_34, "1.55.0-0a1b2c3d")
    _seed_cluster(aws, {"platform-dev-blue-1": ("1.33", "blue"), "hand-made": ("1.32", None)})
    code, report, _ = _run(plan_dir=dev_plan.out_dir)
    assert code == 1
    blockers = _blockers(report)
    assert "runs 1.32 (live) but the control plane 1.33" in blockers["node group hand-made"]
    assert PARAMETER_1_34 not in blockers


@pytest.mark.parametrize("target, fragment", [
    ("1.35", "--to 1.35: cluster.kubernetesVersion: '1.35' skips 1.34"),
    ("1.32", "--to 1.32: cluster.kubernetesVersion: '1.32' is older than the stack file's 1.33"),  # offline: not deployed
    ("1.33", "--to 1.33: the control plane is already at 1.33"),
    ("1.29", "--to '1.29': not a supported Kubernetes version"),
    ("1.3", "--to '1.3': not a supported Kubernetes version"),
])
def test_bad_targets_exit_2_and_plan_nothing(target, fragment, monkeypatch):
    import automation.plan

    monkeypatch.setattr(automation.plan, "planned_document", lambda *a, **k: pytest.fail("planned although the input is bad"))
    code, report, err = _run(target=target, offline=True)
    assert code == 2 and report == {} and fragment in err and "Traceback" not in err


def test_a_program_that_fails_to_plan_stops_the_check_instead_of_passing_it(monkeypatch):
    """No plan means no objects: that must not read as "no removed API in use"."""
    import automation.plan

    def failing_program(*args, **kwargs):
        raise KeyError("subnets")

    monkeypatch.setattr(automation.plan, "run_program", failing_program)
    code, report, err = _run(target="1.34", offline=True)
    assert code == 1 and report == {}
    assert err == "plan: __main__.py failed for stack dev: KeyError: 'subnets'\n"  # the plan's own line


def test_the_planned_objects_come_from_memory_as_the_plan_folder_holds_them(dev_plan, monkeypatch):
    """The fresh plan is not written and read back: no temporary folder or file, and the objects, their
    file names and order are those of the folder `plan` writes."""
    import tempfile

    def no_temporary(*args, **kwargs):
        raise AssertionError("upgrade-check made a temporary file or folder")

    for name in ("mkdtemp", "mkstemp", "TemporaryDirectory", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, no_temporary)
    planned = []
    monkeypatch.setattr("automation.upgrade_check.api_findings", lambda objects, *rest: planned.extend(objects) or [])
    code, _, err = _run(offline=True)
    assert code == 0, err
    assert planned == rendered_objects(dev_plan.out_dir) and len(planned) > 10


def test_upgrade_check_makes_no_temporary_file_or_folder(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result, made = run_listing_temporary_files(["upgrade-check", "--stack", "dev", "--to", "1.34", "--offline"], temporary)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n\nReady as far as checked offline (2 check(s) skipped: bottlerocket, eks-addons).\n"), result.stdout
    assert "\nReady.\n" not in result.stdout and made == [] and list(temporary.iterdir()) == []


def test_a_stack_file_two_minors_ahead_of_the_live_cluster_is_bad_input(aws, write_stack):
    _seed_cluster(aws, {"platform-dev-blue-1": ("1.33", "blue")})
    stack_file = write_stack(lambda values: values["cluster"].update(kubernetesVersion="1.35"), name="Pulumi.dev.yaml")
    code, _, err = _run(target="1.34", config_file=stack_file)
    assert code == 2
    assert "Pulumi.dev.yaml: cluster.kubernetesVersion: '1.35' skips 1.34" in err and "live cluster runs 1.33" in err


def test_a_pinned_group_too_far_behind_after_the_bump_blocks(write_stack, dev_plan):
    def edit(values: dict) -> None:
        values["cluster"]["kubernetesVersion"] = "1.33"
        values["nodeGroups"]["blue"]["kubernetesVersion"] = "1.30"

    code, report, err = _run(config_file=write_stack(edit, name="Pulumi.dev.yaml"), plan_dir=dev_plan.out_dir, offline=True)
    assert code == 1, err
    blockers = _blockers(report)
    assert "after the bump: '1.30' is 4 minor versions behind the control plane (1.34)" in blockers["nodeGroups.blue.kubernetesVersion"]
    assert "runs 1.30 (in the stack file) but the control plane 1.33" in blockers["nodeGroups.blue"]


def test_invalid_stack_file_is_bad_input(write_stack):
    code, _, err = _run(config_file=write_stack(lambda v: v["cluster"].update(kubernetesVersion=1.30), name="Pulumi.dev.yaml"),
                        offline=True)
    assert code == 2 and "Pulumi.dev.yaml: cluster.kubernetesVersion: 1.3 is unquoted" in err


def test_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "automation", "upgrade-check", "--stack", "dev", "--to", "1.35", "--offline"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "skips 1.34" in result.stderr and "Traceback" not in result.stderr


# --- the pure checks --------------------------------------------------------------------------------

def test_compatibility_data_is_for_the_pinned_charts():
    ranges = json.loads(CHART_RANGES_FILE.read_text())["charts"]
    assert {chart: data["chartVersion"] for chart, data in ranges.items()} == PINNED_CHARTS


def test_a_chart_outside_its_published_range_blocks():
    config = validate_stack_config(project_values("dev"), "Pulumi.dev.yaml")
    ranges = json.loads(CHART_RANGES_FILE.read_text())["charts"]
    findings = {f.subject: f for f in chart_findings(config, "1.36", ranges, PINNED_CHARTS)}
    assert findings["keda"].status == "blocker" and "supports Kubernetes 1.33 to 1.35, not 1.36" in findings["keda"].message
    assert findings["karpenter"].status == "ok"
    stale = chart_findings(config, "1.34", ranges, {**PINNED_CHARTS, "keda": "2.21.0"})
    assert [f.status for f in stale if f.subject == "keda"] == ["blocker"]


def test_objects_embedded_in_helm_values_are_checked(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "helm").mkdir()
    (tmp_path / "helm" / "keda.values.yaml").write_text(yaml.safe_dump({"extraObjects": [
        {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"}}]}))
    objects = rendered_objects(tmp_path)
    assert objects == [RenderedObject("helm/keda.values.yaml", "policy/v1beta1", "PodDisruptionBudget")]
    (finding,) = api_findings(objects, "1.34", json.loads(API_TABLE_FILE.read_text()))
    assert finding.status == "blocker" and finding.message == "no longer served since 1.25; use policy/v1"


def test_removal_is_by_version_and_deprecation_is_a_warning():
    table = json.loads(API_TABLE_FILE.read_text())
    flow = find_objects("x", {"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema"})
    assert [f.status for f in api_findings(flow, "1.31", table)] == ["ok"]
    assert [f.status for f in api_findings(flow, "1.32", table)] == ["blocker"]
    endpoints = find_objects("x", {"apiVersion": "v1", "kind": "Endpoints"})
    assert [f.status for f in api_findings(endpoints, "1.33", table)] == ["warning", "ok"]
    assert [f.status for f in api_findings(endpoints, "1.32", table)] == ["ok"]


# DescribeAddonVersions' answer shape (botocore's EKS model, AddonInfo / AddonVersionInfo / Compatibility).
ADDON_PAGES = [{"addons": [{"addonName": "coredns", "type": "networking", "addonVersions": [
    {"addonVersion": "v1.12.2-eksbuild.4", "compatibilities": [{"clusterVersion": "1.34", "defaultVersion": False}]},
    {"addonVersion": "v1.12.1-eksbuild.2", "compatibilities": [{"clusterVersion": "1.34", "defaultVersion": True},
                                                                {"clusterVersion": "1.33", "defaultVersion": False}]},
    {"addonVersion": "v1.11.4-eksbuild.1", "compatibilities": [{"clusterVersion": "1.33", "defaultVersion": True}]},
]}]}]


def test_add_on_versions_offered_and_pins():
    offered = addon_versions_offered(ADDON_PAGES, "1.34")
    assert offered == {"versions": ["v1.12.2-eksbuild.4", "v1.12.1-eksbuild.2"], "default": "v1.12.1-eksbuild.2"}
    values = project_values("dev")
    config = validate_stack_config(values, "Pulumi.dev.yaml")
    available = {"coredns": offered, "kube-proxy": {"versions": [], "default": None}}
    findings = {f.subject: f for f in addon_findings(config, "1.34", available)}
    assert findings["coredns"].status == "ok" and "v1.12.1-eksbuild.2 (EKS default)" in findings["coredns"].message
    assert findings["kube-proxy"].status == "blocker"
    values["eksAddons"] = {"coredns": {"version": "v1.11.4-eksbuild.1"}}
    pinned = validate_stack_config(values, "Pulumi.dev.yaml")
    (finding,) = addon_findings(pinned, "1.34", {"coredns": offered})
    assert (finding.status, finding.subject) == ("blocker", "eksAddons.coredns.version")
    assert "v1.11.4-eksbuild.1 is not offered for 1.34; remove the pin (default v1.12.1-eksbuild.2)" in finding.message


def test_a_cluster_not_deployed_yet_is_checked_from_the_stack_file(aws, dev_plan):
    seed_public_parameter(PARAMETER_1_34, "1.55.0-0a1b2c3d")
    code, report, _ = _run(plan_dir=dev_plan.out_dir)
    assert report["fromSource"] == "Pulumi.dev.yaml" and report["from"] == "1.33"
    assert [f["status"] for f in report["findings"] if f["subject"] == PARAMETER_1_34] == ["ok"]


def test_unreachable_aws_is_a_one_line_failure(aws, monkeypatch, dev_plan):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, report, err = _run(plan_dir=dev_plan.out_dir)
    assert code == 1 and report == {}
    assert err.startswith("cannot read cluster platform-dev in eu-west-1:") and "--offline skips the live checks" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_new_group_pinned_to_the_old_version_blocks(aws, write_stack, dev_plan):
    """Green does not exist live; pinned to 1.33 it could not be created once the cluster runs 1.34."""
    _seed_cluster(aws, {"platform-dev-blue-1": ("1.33", "blue")})

    def edit(values: dict) -> None:
        values["nodeGroups"]["green"].update(enabled=True, kubernetesVersion="1.33")

    code, report, _ = _run(config_file=write_stack(edit, name="Pulumi.dev.yaml"), plan_dir=dev_plan.out_dir)
    assert code == 1
    assert "EKS creates node groups only at the cluster's version (1.34 after the bump)" in _blockers(report)["nodeGroups.green.kubernetesVersion"]


def test_an_older_target_names_where_the_current_version_came_from(aws):
    """Live, the control plane's version is the deployed one; offline (above) it is the stack file's."""
    _seed_cluster(aws, {"platform-dev-blue-1": ("1.33", "blue")})
    code, report, err = _run(target="1.32")
    assert code == 2 and report == {}
    assert "--to 1.32: cluster.kubernetesVersion: '1.32' is older than the deployed 1.33; EKS cannot downgrade a cluster (from 1.33, live cluster)" in err
