"""Version status (for `status`): pure rules, and the boto3 reads against moto's server."""

from __future__ import annotations

from automation.eks_node_groups import LiveCluster, read_live_cluster
from automation.version_status import collect_version_status, kubernetes_versions
from core.config.stack_config import validate_stack_config
from core.version_status import version_report
from tests.conftest import project_values


def _config(edit=None):
    values = project_values("prod")
    if edit:
        edit(values)
    return validate_stack_config(values, "Pulumi.prod.yaml")


def test_versions_skew_and_what_is_due():
    def edit(values):
        values["cluster"]["kubernetesVersion"] = "1.34"
        values["nodeGroups"]["blue"]["kubernetesVersion"] = "1.33"
        values["eksAddons"] = {"vpcCni": {"version": "v1.19.0-eksbuild.1"}}

    report = version_report(_config(edit), "prod", "1.34", {"blue": "1.33", "hand-made": "1.30"}, {
        "coredns": {"version": "v1.11.4-eksbuild.1", "default": "v1.12.1-eksbuild.2"},
        "vpc-cni": {"version": "v1.19.0-eksbuild.1", "default": "v1.20.0-eksbuild.1"},
        "kube-proxy": {"version": "v1.34.0-eksbuild.2", "default": "v1.34.0-eksbuild.2"},
    })
    assert report["controlPlane"] == "1.34"
    assert report["nodeGroups"] == [
        {"group": "blue", "kubernetesVersion": "1.33", "skew": 1, "configured": "1.33"},
        {"group": "hand-made", "kubernetesVersion": "1.30", "skew": 4, "configured": None},
    ]
    rows = {row["name"]: row for row in report["addons"]}
    assert rows["kube-proxy"]["atDefault"] is True and rows["coredns"]["atDefault"] is False
    assert rows["vpc-cni"]["pinned"] == "v1.19.0-eksbuild.1"
    due = "\n".join(report["due"])
    assert "blue runs 1.33, 1 behind the control plane: move it to 1.34" in due
    assert "hand-made runs 1.30, outside the kubelet skew of the control plane 1.34: replace it now" in due
    assert "coredns is v1.11.4-eksbuild.1; EKS' default for 1.34 is v1.12.1-eksbuild.2: the next `up` moves it" in due
    assert "vpc-cni is pinned to v1.19.0-eksbuild.1 (eksAddons)" in due
    assert "python -m automation upgrade-check --stack prod --to 1.35" in due


def test_nothing_due_at_the_newest_version_in_step():
    def edit(values):
        values["cluster"]["kubernetesVersion"] = "1.35"

    report = version_report(_config(edit), "prod", "1.35", {"blue": "1.35"},
                            {"coredns": {"version": "v1.12.1-eksbuild.2", "default": "v1.12.1-eksbuild.2"}})
    assert report["due"] == []


def test_kubernetes_versions_of_a_read():
    """A tagged group by its tag, an untagged one by its EKS name."""
    live = LiveCluster({"name": "platform-prod", "version": "1.34"},
                       {"blue": {"nodegroupName": "platform-prod-blue-1", "version": "1.33"}},
                       [{"nodegroupName": "hand-made", "version": "1.30"}])
    assert kubernetes_versions(live) == ("1.34", {"blue": "1.33", "hand-made": "1.30"})


def test_read_from_moto(aws):
    eks = aws.client("eks")
    eks.create_cluster(name="platform-prod", version="1.33", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d4e5f60718"]})
    eks.create_nodegroup(clusterName="platform-prod", nodegroupName="platform-prod-blue-1", subnets=["subnet-0a1b2c3d4e5f60718"],
                         version="1.32", nodeRole="arn:aws:iam::123456789012:role/nodes", amiType="BOTTLEROCKET_x86_64",
                         scalingConfig={"minSize": 2, "maxSize": 12, "desiredSize": 3}, tags={"eks-bottlerocket/node-group": "blue"})
    report = collect_version_status(_config(), "prod", eks, read_live_cluster(eks, "platform-prod"))
    assert report["controlPlane"] == "1.33"
    assert report["nodeGroups"] == [{"group": "blue", "kubernetesVersion": "1.32", "skew": 1, "configured": "1.33"}]
    # moto 5.2.5 has no EKS add-on API: the report says so instead of failing.
    assert report["due"][0].startswith("EKS add-ons could not be read:") and report["addons"] == []
    assert any("blue is 1.33 in the stack file but 1.32 live" in line for line in report["due"])
