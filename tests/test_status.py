"""`status` against moto's server: a real AWS API over HTTP, seeded with a cluster, node groups and SSM."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from automation.eks_node_groups import read_live_cluster
from automation.status import collect_status, render_table, run_status
from automation.version_status import collect_version_status
from tests.aws_emulator import recorded_operations, seed_public_parameter
from core.config.stack_config import validate_stack_config
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


def test_status_reports_versions_against_latest(aws):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue")})
    code, status, _ = _status()
    assert code == 0
    assert status["cluster"] == {"name": "platform-prod", "version": "1.33", "status": "ACTIVE"}
    rows = {row["group"]: row for row in status["nodeGroups"]}
    assert rows["blue"] == {"group": "blue", "name": "platform-prod-blue-2026", "status": "ACTIVE", "releaseVersion": "1.54.0-5043decc",
                            "latestReleaseVersion": LATEST, "versusLatest": "behind", "requested": "1.54.0-5043decc", "frozen": True,
                            "release": "pinned", "desiredSize": 3, "inConfig": True, "flags": [],
                            "heldUntilRollout": []}
    assert rows["green"]["status"] == "DISABLED" and rows["green"]["name"] is None and rows["green"]["flags"] == []


@pytest.mark.parametrize("live, expected", [(LATEST, "up to date"), ("1.54.9-0a1b2c3d", "behind"), ("1.9.0-0a1b2c3d", "behind"),
                                            ("1.55.1-0a1b2c3d", "newer than latest"), ("1.100.0-0a1b2c3d", "newer than latest"),
                                            ("1.55.0-ffffffff", "other build")])
def test_versions_compare_as_bottlerocket_versions(aws, live, expected):
    """1.100.0 is newer than 1.55.0 although it sorts before it as text; the build commit has no order."""
    _seed(aws, {"platform-prod-blue-2026": (live, "blue")})
    _, status, _ = _status()
    row = status["nodeGroups"][0]
    assert row["versusLatest"] == expected
    assert ("newer than the latest release" in row["flags"]) == (expected == "newer than latest")


@pytest.mark.parametrize("stack, live, expected", [
    ("prod", "1.54.0-5043decc", "pinned"),  # prod's blue: pinned and frozen at 1.54.0-5043decc, live on it
    ("prod", "1.53.0-0a1b2c3d", "frozen"),  # live elsewhere: ignoreChanges holds it, only a rollout moves it
    ("dev", LATEST, "tracking latest"),     # dev's blue tracks latest and is on it
    ("dev", "1.54.0-5043decc", "pending: the next up moves it"),
])
def test_release_is_judged_from_the_live_version(aws, stack, live, expected):
    _seed(aws, {f"platform-{stack}-blue-2026": (live, "blue")}, cluster=f"platform-{stack}")
    _, status, _ = _status(stack)
    assert status["nodeGroups"][0]["release"] == expected


def test_a_live_group_disabled_in_the_config_is_flagged(aws):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue"), "platform-prod-green-2026": ("1.54.0-5043decc", "green")})
    code, status, _ = _status()
    rows = {row["group"]: row for row in status["nodeGroups"]}
    assert code == 0 and rows["green"]["status"] == "ACTIVE"
    assert rows["green"]["flags"] == ["disabled in the stack config but ACTIVE"]


def test_missing_and_unknown_groups_are_reported(aws):
    _seed(aws, {"hand-made": ("1.50.0-aaaabbbb", None)})
    _, status, _ = _status()
    rows = status["nodeGroups"]
    assert [r["status"] for r in rows if r["group"] == "blue"] == ["MISSING"]
    (unknown,) = [r for r in rows if not r["inConfig"]]
    assert unknown["name"] == "hand-made" and unknown["group"] is None and unknown["releaseVersion"] == "1.50.0-aaaabbbb"
    assert unknown["versusLatest"] == "behind" and unknown["flags"] == ["not in the stack config"]


def test_table_output(aws):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue"), "hand-made": ("1.50.0-aaaabbbb", None),
                "platform-prod-green-2026": ("1.56.0-0a1b2c3d", "green")})
    out = io.StringIO()
    assert run_status("prod", as_json=False, out=out, err=io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "cluster platform-prod  Kubernetes 1.33  ACTIVE"
    assert lines[2].split() == ["GROUP", "NODE", "GROUP", "STATUS", "K8S", "SKEW", "VERSION", "LATEST", "VS", "LATEST", "RELEASE", "DESIRED",
                                "NOTES"]
    blue = next(line for line in lines if line.startswith("blue "))
    assert blue.split()[:9] == ["blue", "platform-prod-blue-2026", "ACTIVE", "1.33", "0", "1.54.0-5043decc", LATEST, "behind", "pinned"]
    green = next(line for line in lines if line.startswith("green "))
    assert "newer than latest" in green and green.endswith("disabled in the stack config but ACTIVE; newer than the latest release")
    assert any(line.startswith("-") and line.endswith("not in the stack config") for line in lines)


def test_a_missing_ssm_parameter_is_exit_1_naming_it(aws):
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue")})
    aws.client("ssm")  # the parameter exists only in the seeded backend; reset it away
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssm.models import ssm_backends

    del ssm_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]._parameters[PARAMETER]
    code, _, err = _status()
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"cannot read the newest Bottlerocket release from SSM parameter {PARAMETER} in eu-west-1:")
    assert "ParameterNotFound" in err


def test_access_denied_is_exit_1_naming_the_parameter(aws, moto_endpoint, monkeypatch):
    """IAM enforced by the emulator from the 4th request on (describe cluster, list and describe the node group
    go through first): a user without SSM permissions."""
    import requests

    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue")})
    iam = aws.client("iam")
    iam.create_user(UserName="status-reader")
    iam.put_user_policy(UserName="status-reader", PolicyName="eks-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "eks:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="status-reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"3", timeout=10)
    try:
        code, _, err = _status()
    finally:
        requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"cannot read the newest Bottlerocket release from SSM parameter {PARAMETER}") and "AccessDenied" in err


@pytest.mark.parametrize("as_json", [True, False])
def test_status_reads_the_cluster_and_its_node_groups_once(aws, moto_endpoint, tmp_path, as_json):
    """The node groups and the Kubernetes versions are two views of one read: moto's server sees one
    DescribeCluster, one ListNodegroups and one DescribeNodegroup per group per run."""
    _seed(aws, {"platform-prod-blue-2026": ("1.54.0-5043decc", "blue"), "hand-made": ("1.50.0-aaaabbbb", None),
                "platform-prod-green-2026": ("1.56.0-0a1b2c3d", "green")})
    with recorded_operations(moto_endpoint, tmp_path / "requests.jsonl") as operations:
        assert run_status("prod", as_json=as_json, out=io.StringIO(), err=io.StringIO()) == 0
    eks_reads = [operation for operation in operations if operation in ("eks:DescribeCluster", "eks:ListNodegroups", "eks:DescribeNodegroup")]
    assert eks_reads == ["eks:DescribeCluster", "eks:ListNodegroups"] + ["eks:DescribeNodegroup"] * 3


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
    # the live group runs Kubernetes 1.33: its newest release is aws-k8s-1.33's
    seed_public_parameter("/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version", LATEST)
    seed_public_parameter("/aws/service/bottlerocket/aws-k8s-1.34/x86_64/latest/image_version", LATEST)  # green's, at the cluster's version
    values = project_values("prod")
    values["cluster"]["kubernetesVersion"] = "1.34"
    config = validate_stack_config(values, "Pulumi.prod.yaml")
    live = read_live_cluster(eks, config.cluster.name)
    status = collect_status(config, live, aws.client("ssm"), ec2)
    status["versions"] = collect_version_status(config, "prod", eks, live)
    table = render_table(status)
    assert "blue: Kubernetes version 1.33 -> 1.34 held until rollout" in table
    assert "blue: launch template version (Bottlerocket settings, volumes or tags) 1 -> 2 held until rollout" in table


def test_status_shows_kubernetes_versions_skew_and_what_is_due(aws, monkeypatch):
    """The control plane at 1.34 (the stack file's), blue left at 1.33 by a rollout not yet done: the JSON
    carries the version report, the table its K8S and SKEW columns and what is due. moto 5.2.5 has no EKS
    add-on API, so the report says the add-ons could not be read instead of failing."""
    eks = aws.client("eks")
    eks.create_cluster(name="platform-prod", version="1.34", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60718"]})
    eks.create_nodegroup(clusterName="platform-prod", nodegroupName="platform-prod-blue-1", subnets=["subnet-0a1b2c3d4e5f60718"],
                         nodeRole="arn:aws:iam::123456789012:role/nodes", amiType="BOTTLEROCKET_x86_64", releaseVersion="1.54.0-5043decc",
                         version="1.33", scalingConfig={"minSize": 2, "maxSize": 12, "desiredSize": 3},
                         tags={"eks-bottlerocket/node-group": "blue"})
    seed_public_parameter(PARAMETER, LATEST)
    seed_public_parameter("/aws/service/bottlerocket/aws-k8s-1.34/x86_64/latest/image_version", LATEST)
    stack_file = ROOT / "Pulumi.prod.yaml"
    values = project_values("prod")
    values["cluster"]["kubernetesVersion"] = "1.34"
    values["nodeGroups"]["blue"]["kubernetesVersion"] = "1.33"
    config = validate_stack_config(values, stack_file.name)
    monkeypatch.setattr("automation.status.load_config", lambda stack, err, stack_file=None: config)
    out, table = io.StringIO(), io.StringIO()
    assert run_status("prod", as_json=True, out=out, err=io.StringIO()) == 0
    assert run_status("prod", as_json=False, out=table, err=io.StringIO()) == 0
    versions = json.loads(out.getvalue())["versions"]
    assert versions["controlPlane"] == "1.34"
    assert versions["nodeGroups"] == [{"group": "blue", "kubernetesVersion": "1.33", "skew": 1, "configured": "1.33"}]
    assert versions["addons"] == [] and versions["due"][0].startswith("EKS add-ons could not be read:")
    assert any(line.startswith("blue runs 1.33, 1 behind the control plane: move it to 1.34") for line in versions["due"])
    assert "python -m automation upgrade-check --stack prod --to 1.35" in versions["due"][-1]
    lines = table.getvalue().splitlines()
    blue = next(line for line in lines if line.startswith("blue "))
    assert blue.split()[:5] == ["blue", "platform-prod-blue-1", "ACTIVE", "1.33", "1"]
    assert "due:" in lines and any("blue runs 1.33, 1 behind the control plane" in line for line in lines)
