"""CoreDNS and the VPC CNI as EKS add-ons of this program: after the node groups, versions in step with
the cluster, conflicts resolved as core/eks_addons.py documents."""

from __future__ import annotations

import pytest

from components.eks_addons import pulumi_eks_vpc_cni_urn
from tests.conftest import PROJECT, make_plan


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def _addons(plan) -> dict[str, dict]:
    return {a["inputs"]["addonName"]: a for a in plan.of_type("aws:eks/addon:Addon")}


def test_coredns_and_vpc_cni_come_after_every_node_group(plan):
    stack = plan.document["stack"]
    addons = _addons(plan)
    node_groups = {g["urn"] for g in plan.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert node_groups
    for name in ("coredns", "vpc-cni"):
        addon = addons[name]
        assert addon["inputs"] == {
            "addonName": name, "clusterName": f"platform-{stack}",
            "addonVersion": f"<after-deploy:eks-addon-version:{name}@1.33>",
            "resolveConflictsOnCreate": "OVERWRITE", "resolveConflictsOnUpdate": "OVERWRITE", "preserve": True,
        }
        assert node_groups <= set(addon["options"]["dependsOn"]), addon["options"]
        assert plan.by_urn(addon["parent"])["type"] == "eks-bottlerocket:index:EksAddons"


def test_pulumi_eks_no_longer_creates_the_vpc_cni(plan):
    (cluster,) = plan.of_type("eks:index:Cluster")
    assert cluster["inputs"]["useDefaultVpcCni"] is True


def test_a_pinned_version_is_used_as_written(write_stack, tmp_path):
    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(
        lambda values: values.update(eksAddons={"coredns": {"version": "v1.12.1-eksbuild.2"}}), name="Pulumi.dev.yaml"))
    assert plan.exit_code == 0, plan.stderr
    addons = _addons(plan)
    assert addons["coredns"]["inputs"]["addonVersion"] == "v1.12.1-eksbuild.2"
    assert addons["vpc-cni"]["inputs"]["addonVersion"] == "<after-deploy:eks-addon-version:vpc-cni@1.33>"


def test_the_vpc_cni_takes_over_pulumi_eks_add_on_by_alias():
    """pulumi-eks named it `<cluster>-vpc-cni`, an aws.eks.Addon inside an eks:index:VpcCniAddon."""
    eks_cluster = f"urn:pulumi:prod::{PROJECT}::eks-bottlerocket:index:Cluster$eks:index:Cluster::cluster"
    assert pulumi_eks_vpc_cni_urn(eks_cluster) == (
        f"urn:pulumi:prod::{PROJECT}::eks-bottlerocket:index:Cluster$eks:index:Cluster$eks:index:VpcCniAddon"
        "$aws:eks/addon:Addon::cluster-vpc-cni")
