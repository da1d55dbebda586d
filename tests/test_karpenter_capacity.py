"""What Karpenter believes a Bottlerocket node offers, computed from the planned EC2NodeClass the way
karpenter-provider-aws v1.14.1 computes it (core/karpenter.py `allocatable`).

Instance data come from data/ec2-instance-types.json (moto's DescribeInstanceTypes records); the expected
figures are worked by hand from those records.
"""

from __future__ import annotations

import pytest
import yaml

from core import karpenter
from core.deployment import karpenter_node_settings, node_group_settings
from core.config.stack_config import validate_stack_config
from tests.conftest import project_values


def _node_class(plan) -> dict:
    return yaml.safe_load((plan.out_dir / "manifests" / "EC2NodeClass-cluster-bottlerocket.yaml").read_text())["spec"]


def test_pod_storage_is_the_data_volume(prod_plan):
    node_class = _node_class(prod_plan)
    flagged = [m["deviceName"] for m in node_class["blockDeviceMappings"] if m["rootVolume"]]
    assert flagged == [karpenter.DATA_DEVICE]
    # prod's data volume is 200 GiB: Karpenter sees 200 GiB less 1 GiB kube- and system-reserved each and the
    # 10 % nodefs hard threshold, not the 10 GiB OS volume.
    storage = karpenter.allocatable("m6i.large", node_class["kubelet"], karpenter.node_storage_mib(node_class))["ephemeral-storage"]
    assert storage == 200 * 1024 - 1024 - 1024 - 200 * 1024 * 0.10


def test_kube_reserved_is_left_to_karpenter_and_scales_with_size(prod_plan):
    node_class = _node_class(prod_plan)
    assert "kubeReserved" not in node_class["kubelet"]
    assert node_class["kubelet"]["systemReserved"] == {"cpu": "200m", "memory": "1Gi", "ephemeral-storage": "1Gi"}
    small = karpenter.allocatable("m6i.large", node_class["kubelet"])
    large = karpenter.allocatable("m6i.8xlarge", node_class["kubelet"])
    # m6i.large: 2 vCPU, 8192 MiB, 3 ENIs x 10 IPv4 -> 3 * 9 + 2 = 29 pods.
    # memory: 8192 - ceil(8192 * 0.075) = 7577; kube-reserved 11 * 29 + 255 = 574; system 1024; hard 1Gi (prod).
    # cpu: 2000 - (60 + 10) kube-reserved - 200 system-reserved.
    assert small == {"pods": 29, "memory": 7577 - 574 - 1024 - 1024, "cpu": 2000 - 70 - 200}
    # m6i.8xlarge: 32 vCPU, 131072 MiB, 8 ENIs x 30 IPv4 -> 8 * 29 + 2 = 234 pods.
    # memory: 131072 - 9831 = 121241; kube-reserved 11 * 234 + 255 = 2829.
    # cpu: kube-reserved 60 + 10 + 10 + (32000 - 4000) * 0.25 % = 150.
    assert large == {"pods": 234, "memory": 121241 - 2829 - 1024 - 1024, "cpu": 32000 - 150 - 200}


def test_a_node_class_kube_reserved_is_kept_and_used():
    config = validate_stack_config(project_values("dev"), "Pulumi.dev.yaml")
    assert "kube-reserved" in node_group_settings(config, "blue")["kubernetes"]  # managed groups keep the shared one
    assert "kube-reserved" not in karpenter_node_settings(config)["kubernetes"]
    values = project_values("dev")
    values["karpenter"]["nodeClass"]["bottlerocket"] = {"kubernetes": {"kube-reserved": {"memory": "2Gi", "cpu": "300m"}}}
    edited = validate_stack_config(values, "Pulumi.dev.yaml")
    assert karpenter_node_settings(edited)["kubernetes"]["kube-reserved"] == {"memory": "2Gi", "cpu": "300m"}
    _, kubelet, _ = karpenter.split_node_class_settings(karpenter_node_settings(edited))
    # dev: system-reserved 1Gi, hard memory.available 500Mi (the defaults), the node class's 2Gi kube-reserved.
    assert karpenter.allocatable("m6i.large", kubelet)["memory"] == 7577 - 2048 - 1024 - 500


@pytest.mark.parametrize("size, pods", [("m6i.large", 29), ("m6i.xlarge", 58), ("m6i.8xlarge", 234)])
def test_eni_limited_pods_match_the_eks_max_pods_table(size, pods):
    # amazon-eks-ami eni-max-pods.txt, which Karpenter's formula reproduces: m6i.large 29, xlarge 58, 8xlarge 234.
    assert karpenter.eni_limited_pods(size) == pods


def test_max_pods_and_graviton_memory_change_what_karpenter_reserves():
    # spec.kubelet.maxPods replaces the ENI limit, and kube-reserved memory counts it: 11 * 110 + 255 = 1465.
    assert karpenter.allocatable("m6i.large", {"maxPods": 110}) == {"pods": 110, "memory": 7577 - 1465 - 100, "cpu": 2000 - 70}
    # c7g.xlarge (arm64): 8192 MiB less Graviton's 64 MiB CMA = 8128, less ceil(8128 * 0.075) = 610 VM overhead.
    assert karpenter.memory_capacity_mib("c7g.xlarge") == 7518
    # a 100 % threshold disables the signal (types.go mustParsePercentage)
    assert karpenter.allocatable("m6i.large", {"evictionHard": {"memory.available": "100%"}})["memory"] == 7577 - 574


def _with(stack: str, replicas: int, min_sizes: dict[str, int]) -> dict:
    values = project_values(stack)
    values["karpenter"]["controller"]["replicas"] = replicas
    for name, size in min_sizes.items():
        values["nodeGroups"][name]["enabled"] = True
        scaling = values["nodeGroups"][name]["scaling"]
        scaling["minSize"], scaling["desiredSize"] = size, max(size, scaling["desiredSize"])
    return values


@pytest.mark.parametrize("replicas, min_sizes, message", [
    (5, {"blue": 2}, "5 controller(s) need at least 6 managed nodes (one per node, plus one free for a drain); "
                     "the enabled node groups guarantee 2 (sum of minSize)"),
    (3, {"blue": 3}, "3 controller(s) need at least 4 managed nodes (one per node, plus one free for a drain); "
                     "the enabled node groups guarantee 3 (sum of minSize)"),
    (1, {"blue": 0}, "every enabled node group has minSize 0: the controller runs only on managed nodes and would have none; "
                     "keep minSize of at least replicas + 1"),
])
def test_controller_replicas_must_fit_the_managed_nodes(replicas, min_sizes, message):
    from core.config.base import ConfigError

    with pytest.raises(ConfigError) as error:
        validate_stack_config(_with("dev", replicas, min_sizes), "Pulumi.dev.yaml")
    assert error.value.lines() == [f"Pulumi.dev.yaml: karpenter.controller.replicas: {message}"]


def test_a_rollout_counts_both_colours():
    # blue (2) and green (2) during a blue/green rollout: 3 controllers fit with a node to spare.
    assert validate_stack_config(_with("dev", 3, {"blue": 2, "green": 2}), "Pulumi.dev.yaml").karpenter.controller.replicas == 3
