"""The blue/green rollout: stack-file edits, resume, and the live steps against moto's EKS and a local
Kubernetes API server (the official kubernetes client talks HTTP to both)."""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
import sys

import pytest
from kubernetes import client as k8s_client

from automation.rollout import RETIRING_TAINT, Cluster, Rollout, RolloutError, dump_document, load_document
from core.stack_config import validate_stack_config
from tests.conftest import ROOT
from tests.fake_kubernetes import FakeCluster, serve

NEW = "1.55.0-0a1b2c3d"


@pytest.fixture
def stack_file(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(ROOT / "Pulumi.prod.yaml", path)
    return path


@pytest.fixture
def kubernetes():
    cluster = FakeCluster()
    server, url = serve(cluster)
    api = k8s_client.CoreV1Api(k8s_client.ApiClient(k8s_client.Configuration(host=url)))
    yield cluster, api
    server.shutdown()


def _groups(path):
    return load_document(path.read_text())["config"]["eks-bottlerocket:nodeGroups"]


def _eks_with_green(aws, status_tag="green"):
    eks = aws.client("eks")
    eks.create_cluster(name="platform-prod", version="1.33", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60718"]})
    eks.create_nodegroup(clusterName="platform-prod", nodegroupName="platform-prod-green-1", subnets=["subnet-0a1b2c3d4e5f60718"],
                         nodeRole="arn:aws:iam::123456789012:role/nodes", amiType="BOTTLEROCKET_x86_64", releaseVersion=NEW,
                         scalingConfig={"minSize": 2, "maxSize": 12, "desiredSize": 3}, tags={"eks-bottlerocket/node-group": status_tag})
    return eks


def _rollout(stack_file, cluster=None, up_results=None, **kwargs):
    ups = []
    results = iter(up_results or itertools.repeat(0))

    def up():
        ups.append(stack_file.read_text())
        return next(results)

    clock = itertools.count(step=60.0)  # each look at the clock is a minute later
    out = io.StringIO()
    rollout = Rollout(stack_file, "green", NEW, up=up, cluster=cluster, out=out, sleep=lambda s: None,
                      clock=lambda: next(clock), wait_timeout=600, drain_timeout=600, **kwargs)
    return rollout, ups, out


def test_dry_run_prints_each_stage_and_changes_nothing(stack_file):
    before = stack_file.read_text()
    rollout, ups, out = _rollout(stack_file)
    assert rollout.run(dry_run=True) == 0
    text = out.getvalue()
    assert ups == [] and stack_file.read_text() == before
    stages = [line for line in text.splitlines() if line.startswith("== stage")]
    assert stages == ["== stage 1: enable green", "== stage 2: wait until node group green is ACTIVE and its nodes are Ready",
                      "== stage 3: taint blue NoSchedule", "== stage 4: drain blue through the eviction API (PodDisruptionBudgets honoured)",
                      "== stage 5: disable blue"]
    assert "-      enabled: false\n+      enabled: true" in text and f"+      releaseVersion: {NEW}" in text
    assert "-      versionFrom: blue\n+      versionFrom: green" in text
    assert "+        - key: eks-bottlerocket/retiring" in text and "+      enabled: false" in text


def test_full_rollout_against_live_apis(stack_file, aws, kubernetes):
    fake, api = kubernetes
    fake.add_node("blue-1", "blue")
    fake.add_node("blue-2", "blue")
    fake.add_node("green-1", "green")
    fake.add_pod("workers", "orders-worker-abc", "blue-1")
    fake.add_pod("shop", "web-1", "blue-2")
    fake.add_pod("kube-system", "aws-node-x", "blue-1", owner="DaemonSet")
    fake.budget_refusals[("shop", "web-1")] = 1
    original = stack_file.read_text()
    rollout, ups, out = _rollout(stack_file, Cluster("platform-prod", _eks_with_green(aws), api))
    assert rollout.run(dry_run=False) == 0

    assert len(ups) == 3  # enable green, taint blue, disable blue
    groups = _groups(stack_file)
    assert groups["green"]["enabled"] is True and groups["green"]["releaseVersion"] == NEW
    assert groups["blue"]["enabled"] is False and "taints" not in groups["blue"]
    assert load_document(ups[1])["config"]["eks-bottlerocket:nodeGroups"]["blue"]["taints"] == [RETIRING_TAINT]
    # blue-1's pod goes first; the budget holds web-1 back once, the next pass evicts it
    assert fake.evictions == [("workers", "orders-worker-abc", 201), ("shop", "web-1", 429), ("shop", "web-1", 201)]
    assert ("kube-system", "aws-node-x") in fake.pods  # DaemonSet pods stay
    assert sorted(name for name, _ in fake.patches) == ["blue-1", "blue-2"]
    assert "waiting for their disruption budget" in out.getvalue() and "rollout complete" in out.getvalue()
    for line in original.splitlines():  # every comment of the stack file survives the edits
        if line.lstrip().startswith("#"):
            assert line in stack_file.read_text()
    values = {k.split(":", 1)[1]: v for k, v in load_document(stack_file.read_text())["config"].items() if k.startswith("eks-bottlerocket:")}
    validate_stack_config(values, "Pulumi.prod.yaml")  # the result is a valid stack config


def test_rerun_resumes_at_the_drain(stack_file, aws, kubernetes):
    fake, api = kubernetes
    fake.add_node("blue-1", "blue")
    fake.add_node("green-1", "green")
    fake.add_pod("workers", "orders-worker-abc", "blue-1")
    document = load_document(stack_file.read_text())
    groups = document["config"]["eks-bottlerocket:nodeGroups"]
    groups["green"]["enabled"], groups["green"]["releaseVersion"] = True, NEW
    groups["blue"]["taints"] = [dict(RETIRING_TAINT)]
    stack_file.write_text(dump_document(document))
    rollout, ups, out = _rollout(stack_file, Cluster("platform-prod", _eks_with_green(aws), api))
    assert rollout.run(dry_run=False) == 0
    assert len(ups) == 1 and "stage 1: green already enabled" in out.getvalue() and "stage 3: blue already tainted" in out.getvalue()
    assert _groups(stack_file)["blue"]["enabled"] is False
    rollout, ups, out = _rollout(stack_file, Cluster("platform-prod", aws.client("eks"), api))
    assert rollout.run(dry_run=False) == 0 and ups == [] and "nothing to roll out" in out.getvalue()


def test_waits_then_gives_up_without_ready_capacity(stack_file, aws, kubernetes):
    fake, api = kubernetes
    fake.add_node("blue-1", "blue")
    fake.add_node("green-1", "green", ready=False)
    rollout, ups, out = _rollout(stack_file, Cluster("platform-prod", _eks_with_green(aws), api))
    with pytest.raises(RolloutError, match="green is not ACTIVE with Ready nodes after 600s"):
        rollout.run(dry_run=False)
    assert len(ups) == 1  # green was enabled; blue untouched
    groups = _groups(stack_file)
    assert groups["green"]["enabled"] is True and groups["blue"].get("enabled", True) is True and "taints" not in groups["blue"]
    assert "green: EKS ACTIVE, 0 Ready node(s)" in out.getvalue()


def test_failed_up_restores_the_stack_file(stack_file):
    before = stack_file.read_text()
    rollout, ups, _ = _rollout(stack_file, cluster=None, up_results=[1])
    with pytest.raises(RolloutError, match="`up` failed in stage 1: enable green; the stack file is back as it was"):
        rollout.run(dry_run=False)
    assert stack_file.read_text() == before and len(ups) == 1


def test_refusals(stack_file):
    with pytest.raises(RolloutError, match="no group 'purple'"):
        Rollout(stack_file, "purple", None, up=lambda: 0, cluster=None, out=io.StringIO()).run(dry_run=True)
    stack_file.write_text(stack_file.read_text().replace("  eks-bottlerocket:region: eu-west-1", "  eks-bottlerocket:region:   eu-west-1"))
    with pytest.raises(RolloutError, match="does not survive a YAML round trip"):
        Rollout(stack_file, "green", None, up=lambda: 0, cluster=None, out=io.StringIO()).run(dry_run=True)


def test_rollout_command_line_dry_run():
    result = subprocess.run([sys.executable, "-m", "automation", "rollout", "--stack", "dev", "--to", "green", "--dry-run"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "rollout blue -> green at Bottlerocket latest (dry run)" in result.stdout and "end of dry run" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "automation", "rollout", "--stack", "dev", "--to", "green", "--version", "1.2", "--dry-run"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "neither 'latest' nor a Bottlerocket version" in bad.stderr
