"""`status` against moto's server: a real AWS API over HTTP, seeded with a cluster, node groups and SSM."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from automation.status import collect_status, render_table, run_status
from tests.aws_emulator import seed_public_parameter
from core.stack_config import validate_stack_config
from tests.conftest import ROOT, project_values

LATEST = "1.55.0-0a1b2c3d"
PARAMETER = "/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"


def _seed(session, groups: dict[str, tuple[str, str | None]], cluster: str = "platform-prod") -> None:
    """groups: EKS node group name -> (release version, eks-bottlerocket/node-group tag or None)."""
    eks = session.client("eks")
    eks.create_cluster(name=cluster, version="1.33", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60718"]})
    for name, (release, tag) in groups.items():
        eks.create_nodegroup(clusterName=cluster, nodegroupName=name, subnets=["subnet-0a1b2c3d4e5f60718"],
                             nodeRole="arn:aws:iam::123456789012:role/nodes", amiType="BOTTLEROCKET_x86_64", releaseVersion=release,
                             version="1.33", scalingConfig={"minSize": 2, "maxSize": 12, "desiredSize": 3}, tags={"eks-bottlerocket/node-group": tag} if tag else {})
    seed_public_parameter(PARAMETER, LATEST)


def _status(stack: str = "prod") -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_status(stack, as_json=True, out=out, err=err)
    return code, json.loads(out.getvalue()) if code == 0 else {}, err.getvalue()


def test_status_reports_versions_and_up_to_date(aws):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue")})
    code, status, _ = _status()
    assert code == 0
    assert status["cluster"] == {"name": "platform-prod", "version": "1.33", "status": "ACTIVE"}
    rows = {row["group"]: row for row in status["nodeGroups"]}
    assert rows["blue"] == {"group": "blue", "name": "platform-prod-blue-2026", "status": "ACTIVE", "releaseVersion": "1.54.0-5043decc",
                            "latestReleaseVersion": LATEST, "frozen": True, "desiredSize": 3, "upToDate": False, "inConfig": True,
                            "heldUntilRollout": []}
    assert rows["green"]["status"] == "DISABLED" and rows["green"]["name"] is None


def test_status_sees_a_group_on_the_latest_release(aws):
    _seed(aws, {"platform-prod-blue-2026": (LATEST, "blue")})
    _, status, _ = _status()
    assert status["nodeGroups"][0]["upToDate"] is True


def test_missing_and_unknown_groups_are_reported(aws):
    _seed(aws, {"hand-made": ("1.50.0-aaaabbbb", None)})
    _, status, _ = _status()
    rows = status["nodeGroups"]
    assert [r["status"] for r in rows if r["group"] == "blue"] == ["MISSING"]
    (unknown,) = [r for r in rows if not r["inConfig"]]
    assert unknown["name"] == "hand-made" and unknown["group"] is None and unknown["releaseVersion"] == "1.50.0-aaaabbbb"


def test_table_output(aws):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue"), "hand-made": ("1.50.0-aaaabbbb", None)})
    out = io.StringIO()
    assert run_status("prod", as_json=False, out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert text.startswith("cluster platform-prod  Kubernetes 1.33  ACTIVE")
    assert "blue   platform-prod-blue-2026  ACTIVE" in text and "behind" in text and "not in the stack config" in text


def test_missing_cluster_is_a_clear_failure(aws):
    code, _, err = _status()
    assert code == 1 and err.startswith("cannot read cluster platform-prod in eu-west-1:") and "Traceback" not in err


def test_status_command_line_uses_the_standard_aws_settings(aws, moto_endpoint):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue")})
    env = {k: v for k, v in __import__("os").environ.items()}
    result = subprocess.run([sys.executable, "-m", "automation", "status", "--stack", "prod", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nodeGroups"][0]["releaseVersion"] == "1.54.0-5043decc"


@pytest.mark.parametrize("stack", ["nope"])
def test_unknown_stack_file(stack, aws):
    code, _, err = _status(stack)
    assert code == 2 and "Pulumi.nope.yaml: file not found" in err


def test_status_reports_changes_a_frozen_group_holds(aws):
    """The stack file moved on (a settings edit made launch template version 2; Kubernetes 1.34), the frozen
    group did not: status names each held change, as the program's ignoreChanges keeps it off the nodes."""
    ec2, eks = aws.client("ec2"), aws.client("eks")
    template = ec2.create_launch_template(LaunchTemplateName="platform-prod-blue-1", LaunchTemplateData={"UserData": "YQ=="})
    template_id = template["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData={"UserData": "Yg=="})
    eks.create_cluster(name="platform-prod", version="1.34", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60718"]})
    eks.create_nodegroup(clusterName="platform-prod", nodegroupName="platform-prod-blue-1", subnets=["subnet-0a1b2c3d4e5f60718"],
                         nodeRole="arn:aws:iam::123456789012:role/nodes", amiType="BOTTLEROCKET_x86_64", releaseVersion="1.54.0-5043decc",
                         version="1.33", launchTemplate={"id": template_id, "version": "1"},
                         scalingConfig={"minSize": 2, "maxSize": 12, "desiredSize": 3}, tags={"eks-bottlerocket/node-group": "blue"})
    seed_public_parameter("/aws/service/bottlerocket/aws-k8s-1.34/x86_64/latest/image_version", LATEST)
    values = project_values("prod")
    values["cluster"]["kubernetesVersion"] = "1.34"
    config = validate_stack_config(values, "Pulumi.prod.yaml")
    table = render_table(collect_status(config, eks, aws.client("ssm"), ec2))
    assert "blue: Kubernetes version 1.33 -> 1.34 held until rollout" in table
    assert "blue: launch template version (Bottlerocket settings, volumes or tags) 1 -> 2 held until rollout" in table
