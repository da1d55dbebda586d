"""What a real `pulumi up` and `pulumi destroy` do in order, from the plan's dependency graph (order.json).

The rules asserted here are the failure modes the mock engine cannot show by itself: a Helm release
whose pods wait for nodes that do not exist yet, Karpenter losing its permissions or its queue while its
finalizers still run, and custom resources outliving the CRDs that define them.
"""

from __future__ import annotations

import json

import pytest

from automation.lifecycle_order import Lifecycle, create_waves, lifecycle_order
from core import karpenter, keda
from tests.conftest import Plan

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
# Which Helm release installs the CRDs of each API group the program creates objects of: the
# karpenter-crd chart (aws/karpenter-provider-aws v1.14.1, charts/karpenter-crd/templates) and KEDA's
# chart with `crds.install` (kedacore/charts v2.20.2, keda/templates/crds).
CRD_RELEASE_OF_GROUP = {"karpenter.sh": "karpenter-crd", "karpenter.k8s.aws": "karpenter-crd", "keda.sh": keda.KEDA_CHART}
# Charts that run no pods: nothing in them waits for a node.
CHARTS_WITHOUT_PODS = {karpenter.CRD_CHART}


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan) -> Plan:
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def _release(plan: Plan, release_name: str) -> dict:
    (hit,) = [r for r in plan.of_type(HELM_RELEASE) if r["inputs"]["name"] == release_name]
    return hit


def _custom_resources(plan: Plan) -> list[dict]:
    return [r for r in plan.resources if r["type"].startswith("kubernetes:") and r["type"].split(":")[1].split("/")[0] in CRD_RELEASE_OF_GROUP]


def test_order_json_is_written_with_every_resource_once(plan):
    order = json.loads((plan.out_dir / "order.json").read_text())
    assert order == lifecycle_order(plan.document)
    created = [urn for wave in order["create"] for urn in wave]
    assert sorted(created) == sorted(r["urn"] for r in plan.resources)
    assert order["delete"] == list(reversed(order["create"]))
    position = {urn: index for index, wave in enumerate(order["create"]) for urn in wave}
    lifecycle = Lifecycle(plan.document)
    for urn, dependencies in lifecycle.graph.items():
        assert all(position[d] < position[urn] for d in dependencies), urn


def test_waves_follow_parents_providers_and_component_dependencies():
    def record(urn, parent=None, provider=None, deps=(), depends_on=(), component=False):
        return {"urn": urn, "type": "x:y:Component" if component else "x:y:Z", "id": None if component else f"{urn}-id",
                "parent": parent, "provider": provider, "dependencies": list(deps),
                "options": {"dependsOn": list(depends_on)} if depends_on else {}}

    document = {"resources": [
        record("provider"),
        record("group", component=True),
        record("group-child", parent="group", provider="provider"),
        record("release", deps=["provider"], depends_on=["group"]),
    ]}
    lifecycle = Lifecycle(document)
    assert lifecycle.depends_on("release", "group-child")  # a dependency on a component covers its children
    assert lifecycle.depends_on("group-child", "group") and lifecycle.depends_on("group-child", "provider")
    assert create_waves(lifecycle.graph) == [["group", "provider"], ["group-child"], ["release"]]
    with pytest.raises(ValueError, match="cycle"):
        create_waves({"a": frozenset({"b"}), "b": frozenset({"a"})})


def test_releases_with_pods_come_after_every_node_group(plan):
    lifecycle = Lifecycle(plan.document)
    node_groups = plan.of_type(NODE_GROUP)
    releases = [r for r in plan.of_type(HELM_RELEASE) if r["inputs"]["chart"] not in CHARTS_WITHOUT_PODS]
    assert {r["inputs"]["name"] for r in releases} == {"keda", "karpenter"}
    for release in releases:
        for group in node_groups:
            assert lifecycle.depends_on(release["urn"], group["urn"]), f"{release['name']} may start before node group {group['name']}"


def test_karpenter_controller_outlives_its_permissions_queue_and_objects(plan):
    lifecycle = Lifecycle(plan.document)
    controller = _release(plan, karpenter.RELEASE_NAME)
    (component,) = plan.of_type("eks-bottlerocket:index:Karpenter")
    needed_types = {"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policy:Policy", "aws:sqs/queue:Queue",
                    "aws:sqs/queuePolicy:QueuePolicy", "aws:cloudwatch/eventRule:EventRule",
                    "aws:cloudwatch/eventTarget:EventTarget", "aws:eks/podIdentityAssociation:PodIdentityAssociation",
                    "aws:eks/accessEntry:AccessEntry", "aws:ec2/tag:Tag"}
    needed = [r for r in plan.resources if r["type"] in needed_types
              and (r["parent"] == component["urn"] or plan.by_urn(r["parent"])["parent"] == component["urn"])]
    assert {r["type"] for r in needed} == needed_types
    for record in needed:
        assert lifecycle.depends_on(controller["urn"], record["urn"]), f"{record['name']} may be deleted while the controller runs"
    karpenter_objects = [r for r in _custom_resources(plan) if r["type"].startswith("kubernetes:karpenter.")]
    assert karpenter_objects
    for record in karpenter_objects:
        assert lifecycle.depends_on(record["urn"], controller["urn"]), f"{record['name']} would lose its controller first"


def test_custom_resources_go_before_the_crds_that_define_them(plan):
    lifecycle = Lifecycle(plan.document)
    custom = _custom_resources(plan)
    assert {r["type"].split(":")[1].split("/")[0] for r in custom} == set(CRD_RELEASE_OF_GROUP)
    for record in custom:
        crds = _release(plan, CRD_RELEASE_OF_GROUP[record["type"].split(":")[1].split("/")[0]])
        assert lifecycle.depends_on(record["urn"], crds["urn"]), f"{record['name']} may outlive its CRD"


def test_karpenter_objects_go_before_the_network_their_nodes_live_in(plan):
    """NodePools and the EC2NodeClass (whose finalizers terminate Karpenter's instances) are deleted before any
    subnet or the VPC: an instance still running keeps its subnet, and so the VPC, from being deleted."""
    lifecycle = Lifecycle(plan.document)
    network = plan.of_type("aws:ec2/subnet:Subnet") + plan.of_type("aws:ec2/vpc:Vpc")
    assert network
    for record in (r for r in _custom_resources(plan) if r["type"].startswith("kubernetes:karpenter.")):
        for part in network:
            assert lifecycle.depends_on(record["urn"], part["urn"]), f"{record['name']} may outlive {part['name']}"
