"""core/deployment.py: the derived values of a validated stack, computed once, as plain functions over data."""

from __future__ import annotations

from core.block_devices import DATA_DEVICE, ROOT_DEVICE
from core.deployment import deployment_plan, enabled_node_groups, group_release_policy, node_group_settings, shared_bottlerocket_settings
from core.config.stack_config import validate_stack_config
from core.user_data import DEFAULT_SETTINGS
from tests.conftest import project_values


def _config(stack: str, edit=None):
    values = project_values(stack)
    if edit:
        edit(values)
    return validate_stack_config(values, f"Pulumi.{stack}.yaml")


def test_release_policies_of_the_shipped_stacks():
    dev, prod = _config("dev"), _config("prod")
    assert group_release_policy(dev, "blue").tracks_latest and not group_release_policy(dev, "blue").frozen
    assert group_release_policy(prod, "blue").requested == "1.54.0-5043decc" and group_release_policy(prod, "blue").frozen
    # a disabled group has a policy too (status reports it)
    assert group_release_policy(prod, "green").frozen


def test_settings_merge_defaults_stack_and_group():
    dev, prod = _config("dev"), _config("prod")
    assert node_group_settings(dev, "blue")["host-containers"]["admin"]["enabled"] is True
    assert node_group_settings(prod, "blue")["host-containers"]["admin"]["enabled"] is False
    assert shared_bottlerocket_settings(prod)["kubernetes"]["eviction-hard"]["memory.available"] == "1Gi"  # the stack's own value
    assert shared_bottlerocket_settings(prod)["kubernetes"]["pod-pids-limit"] == DEFAULT_SETTINGS["kubernetes"]["pod-pids-limit"]

    def group_override(values):
        values["nodeGroups"]["blue"]["bottlerocket"] = {"kubernetes": {"pod-pids-limit": 2048}}

    edited = _config("prod", group_override)
    assert node_group_settings(edited, "blue")["kubernetes"]["pod-pids-limit"] == 2048
    assert shared_bottlerocket_settings(edited)["kubernetes"]["pod-pids-limit"] == DEFAULT_SETTINGS["kubernetes"]["pod-pids-limit"]


def test_the_plan_holds_each_enabled_group_once():
    prod = _config("prod")
    plan = deployment_plan(prod)
    assert list(plan.node_groups) == list(enabled_node_groups(prod)) == ["blue"]
    blue = plan.node_groups["blue"]
    assert blue.config is prod.node_groups["blue"]
    assert blue.kubernetes_version == "1.33" and blue.release == group_release_policy(prod, "blue")
    assert blue.settings == node_group_settings(prod, "blue")
    assert blue.physical_name_prefix == "platform-prod-blue-"
    assert [(m["deviceName"], m["ebs"]["volumeSize"]) for m in blue.block_devices] == [(ROOT_DEVICE, 10), (DATA_DEVICE, 200)]
    assert blue.block_devices[1]["ebs"]["iops"] == 6000 and blue.block_devices[1]["ebs"]["throughput"] == 250


def test_a_group_pinned_to_its_own_kubernetes_version_gets_that_variant():
    def pin(values):
        values["nodeGroups"]["blue"]["kubernetesVersion"] = "1.32"

    blue = deployment_plan(_config("prod", pin)).node_groups["blue"]
    assert blue.kubernetes_version == "1.32"
    assert "aws-k8s-1.32" in blue.release.ssm_parameter


def test_karpenter_follows_version_from_else_the_first_enabled_group():
    plan = deployment_plan(_config("prod"))
    assert plan.karpenter is not None and plan.karpenter.followed is plan.node_groups["blue"]
    assert "kube-reserved" not in plan.karpenter.settings["kubernetes"]  # core/karpenter.py node_class_settings

    def two_groups(values):
        values["nodeGroups"]["green"]["enabled"] = True
        values["nodeGroups"]["green"]["dataVolume"] = {"sizeGiB": 300}
        del values["karpenter"]["nodeClass"]["versionFrom"]

    plan = deployment_plan(_config("prod", two_groups))
    assert plan.karpenter is not None and plan.karpenter.followed.name == "blue"  # sorted by name

    def follow_green(values):
        two_groups(values)
        values["karpenter"]["nodeClass"]["versionFrom"] = "green"

    plan = deployment_plan(_config("prod", follow_green))
    assert plan.karpenter is not None and plan.karpenter.followed is plan.node_groups["green"]
    assert plan.karpenter.followed.block_devices[1]["ebs"]["volumeSize"] == 300


def test_without_karpenter_there_is_no_karpenter_plan():
    def drop(values):
        del values["karpenter"]

    assert deployment_plan(_config("prod", drop)).karpenter is None


def test_workers_get_their_secrets_and_the_nodes_eviction_cap():
    plan = deployment_plan(validate_stack_config({**project_values("prod"), "workloadSecrets": {"orders-worker": {"API_TOKEN": "x"}}},
                                                 "Pulumi.prod.yaml", secret_keys=["workloadSecrets"]))
    worker = plan.workers["orders-worker"]
    assert worker.secret_env == {"API_TOKEN": "x"}
    assert worker.resource_name == "worker-orders-worker"  # the SqsWorker's name and its resources' (core/aws_limits.py)
    assert worker.eviction_max_pod_grace_period == DEFAULT_SETTINGS["kubernetes"]["eviction-max-pod-grace-period"]
    assert deployment_plan(_config("prod")).workers["orders-worker"].secret_env == {}


def test_node_wide_facts_come_from_the_groups_settings():
    prod = deployment_plan(_config("prod"))
    assert prod.node_role.ssm and prod.cluster.leave_conntrack_to_nodes  # the defaults run the control container and set conntrack

    def opt_out(values):
        values["nodeGroups"]["blue"]["bottlerocket"] = {"host-containers": {"control": {"enabled": False}},
                                                        "kernel": {"sysctl": {"net.netfilter.nf_conntrack_max": None}}}

    edited = deployment_plan(_config("prod", opt_out))
    assert not edited.node_role.ssm and not edited.cluster.leave_conntrack_to_nodes
    # Karpenter's nodes have their own role, by the node class's settings (the shared ones, here with the control container)
    assert edited.karpenter is not None and edited.karpenter.node_role.ssm
    assert edited.cluster.config == _config("prod", opt_out).cluster
