"""node-logs: SSM against moto's server, the archive through a local Kubernetes API server's node proxy."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from kubernetes import client as k8s_client

from automation.node_logs import LOGDOG_COMMAND, NodeLogsError, fetch_node_logs, instance_id
from core.config.stack_config import validate_stack_config
from tests.conftest import project_values
from tests.fake_kubernetes import KubeEmulator, serve

INSTANCE = "i-0a1b2c3d4e5f60718"


@pytest.fixture
def kubernetes():
    cluster = KubeEmulator()
    server, url = serve(cluster)
    yield cluster, k8s_client.CoreV1Api(k8s_client.ApiClient(k8s_client.Configuration(host=url)))
    server.shutdown()


def _config(stack):
    return validate_stack_config(project_values(stack), f"Pulumi.{stack}.yaml")


def test_instance_id_from_provider_id():
    assert instance_id("aws:///eu-west-1a/i-0a1b2c3d4e5f60718") == "i-0a1b2c3d4e5f60718"
    with pytest.raises(NodeLogsError):
        instance_id("kind://docker/kind/kind-worker")


def test_logdog_and_download(aws, kubernetes, tmp_path):
    fake, core = kubernetes
    fake.add_node("ip-10-40-1-5.eu-west-1.compute.internal", "blue", instance=INSTANCE)
    archive = os.urandom(200_000)
    fake.archives["ip-10-40-1-5.eu-west-1.compute.internal"] = archive
    ssm = aws.client("ssm")
    out = io.StringIO()
    size, sha256 = fetch_node_logs(_config("dev"), "ip-10-40-1-5.eu-west-1.compute.internal", tmp_path / "logs.tar.gz",
                                   core=core, ssm=ssm, out=out, sleep=lambda s: None)
    assert (tmp_path / "logs.tar.gz").read_bytes() == archive
    assert size == len(archive) and sha256 == hashlib.sha256(archive).hexdigest()
    (command,) = ssm.list_commands(InstanceId=INSTANCE)["Commands"]
    assert command["DocumentName"] == "AWS-RunShellScript" and command["Parameters"]["commands"] == [LOGDOG_COMMAND]
    text = out.getvalue()
    assert f"is {INSTANCE}" in text and "logdog on" in text and "Success" in text and f"sha256 {sha256}" in text
    assert "downloaded 200,000 bytes of 200,000" in text


def test_without_the_admin_container_it_prints_the_manual_path(aws, kubernetes, tmp_path):
    fake, core = kubernetes
    fake.add_node("ip-10-50-1-5", "blue", instance=INSTANCE)
    ssm = aws.client("ssm")
    out = io.StringIO()
    assert fetch_node_logs(_config("prod"), "ip-10-50-1-5", tmp_path / "logs.tar.gz", core=core, ssm=ssm, out=out) is None
    assert "The admin host container is disabled for node group blue" in out.getvalue()
    assert f"aws ssm start-session --target {INSTANCE}" in out.getvalue()
    assert ssm.list_commands()["Commands"] == [] and not (tmp_path / "logs.tar.gz").exists()


def test_karpenter_nodes_follow_the_node_class(aws, kubernetes, tmp_path):
    fake, core = kubernetes
    fake.add_node("karpenter-node", None, instance=INSTANCE, extra_labels={"karpenter.sh/nodepool": "default"})
    out = io.StringIO()
    assert fetch_node_logs(_config("prod"), "karpenter-node", tmp_path / "x", core=core, ssm=aws.client("ssm"), out=out) is None
    assert "disabled for Karpenter's EC2NodeClass" in out.getvalue()


def test_missing_archive_is_a_clear_error(aws, kubernetes, tmp_path):
    fake, core = kubernetes
    fake.add_node("n1", "blue", instance=INSTANCE)
    with pytest.raises(Exception) as caught:
        fetch_node_logs(_config("dev"), "n1", tmp_path / "x", core=core, ssm=aws.client("ssm"), out=io.StringIO(), sleep=lambda s: None)
    assert "404" in str(caught.value)
