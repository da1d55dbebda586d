"""Least privilege on the nodes and the Pod Identity roles (issue 13, point 13)."""

from __future__ import annotations

import json

import pytest

from automation.lifecycle_order import Lifecycle
from core.iam_documents import CNI_MANAGED_POLICY, SSM_MANAGED_POLICY
from tests.conftest import make_plan

ACCOUNT = "<after-deploy:aws:accountId>"


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def _attached(plan, role_component: str) -> set[str]:
    return {a["inputs"]["policyArn"].rsplit("/", 1)[-1] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a["name"] == role_component or a["name"].startswith(f"{role_component}-")}


def test_no_node_role_carries_the_cni_policy(plan):
    for role in ("nodes", "karpenter-nodes"):
        assert CNI_MANAGED_POLICY not in _attached(plan, role)


def test_aws_node_gets_the_cni_policy_through_pod_identity_before_nodes_exist(plan):
    stack = plan.document["stack"]
    role = plan.one("aws:iam/role:Role", "cluster-vpc-cni")
    assert _attached(plan, "cluster-vpc-cni") == {CNI_MANAGED_POLICY}
    association = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "cluster-vpc-cni")
    assert association["inputs"] == {"clusterName": f"platform-{stack}", "namespace": "kube-system", "serviceAccount": "aws-node",
                                     "roleArn": f"<after-deploy:aws:iam/role:Role::{role['name']}.arn>"}
    lifecycle = Lifecycle(plan.document)
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert lifecycle.depends_on(group["urn"], association["urn"])


def test_every_pod_identity_trust_is_scoped_to_account_cluster_and_service_account(plan):
    stack = plan.document["stack"]
    expected = {"cluster-vpc-cni": ("kube-system", "aws-node"), "karpenter-controller": ("kube-system", "karpenter"),
                "worker-orders-worker": ("workers", "orders-worker")}
    trusting_pods = {}
    for role in plan.of_type("aws:iam/role:Role"):
        (statement,) = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
        if statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}:
            trusting_pods[role["name"]] = statement["Condition"]["StringEquals"]
    assert trusting_pods == {name: {"aws:SourceAccount": ACCOUNT, "aws:RequestTag/eks-cluster-name": f"platform-{stack}",
                                    "aws:RequestTag/kubernetes-namespace": namespace,
                                    "aws:RequestTag/kubernetes-service-account": account}
                             for name, (namespace, account) in expected.items()}


def test_ssm_only_where_the_control_container_runs(write_stack, tmp_path, dev_plan):
    assert SSM_MANAGED_POLICY in _attached(dev_plan, "nodes")  # the default: control container on

    def control_off(values):
        values["bottlerocket"]["host-containers"]["control"] = {"enabled": False}

    plan = make_plan("dev", tmp_path / "off", config_file=write_stack(control_off))
    assert plan.exit_code == 0, plan.stderr
    assert SSM_MANAGED_POLICY not in _attached(plan, "nodes")
    assert SSM_MANAGED_POLICY not in _attached(plan, "karpenter-nodes")
