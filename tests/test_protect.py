"""stack.protect: what a destroy or a renaming replace must not take with it."""

from __future__ import annotations

from core.config.stack_config import validate_stack_config
from tests.conftest import project_values

PROTECTED = {
    ("aws:kms/key:Key", "cluster-secrets"),
    ("eks:index:Cluster", "cluster"),
    ("aws:ec2/vpc:Vpc", "network"),
    ("aws:sqs/queue:Queue", "worker-orders-worker"),
    ("aws:sqs/queue:Queue", "worker-orders-worker-dlq"),
}


def _protected(plan) -> set[tuple[str, str]]:
    return {(r["type"], r["name"]) for r in plan.resources if r["options"].get("protect")}


def test_prod_protects_the_cluster_key_vpc_and_queues(prod_plan):
    assert _protected(prod_plan) == PROTECTED
    (cluster,) = prod_plan.of_type("eks:index:Cluster")
    assert cluster["inputs"]["deletionProtection"] is True  # EKS refuses DeleteCluster as well


def test_dev_opts_out_and_can_be_torn_down(dev_plan):
    assert _protected(dev_plan) == set()
    (cluster,) = dev_plan.of_type("eks:index:Cluster")
    assert cluster["inputs"]["deletionProtection"] is False


def test_protect_is_the_default():
    values = project_values("dev")
    del values["stack"]
    assert validate_stack_config(values, "Pulumi.dev.yaml").stack.protect is True
