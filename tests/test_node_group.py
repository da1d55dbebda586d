"""core/node_group.py: a node group's volumes and taints as pulumi-aws spells them, as plain functions over data."""

from __future__ import annotations

from typing import get_args

from core.block_devices import DATA_DEVICE, ROOT_DEVICE, block_device_mappings
from core.config.kubernetes import TaintConfig
from core.config.node_groups import VolumeConfig
from core.node_group import EKS_TAINT_EFFECTS, launch_template_block_devices, node_group_taints


def test_launch_template_block_devices_are_snake_case_with_flags_as_strings():
    root = VolumeConfig.model_validate({"sizeGiB": 10})
    data = VolumeConfig.model_validate({"sizeGiB": 200, "iops": 6000, "throughput": 250})
    assert launch_template_block_devices(block_device_mappings(root, data)) == [
        {"device_name": ROOT_DEVICE, "ebs": {"volume_size": 10, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}},
        {"device_name": DATA_DEVICE, "ebs": {"volume_size": 200, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true",
                                             "iops": 6000, "throughput": 250}},
    ]


def test_taints_take_eks_effect_names_and_no_empty_value():
    taints = [TaintConfig(key="dedicated", value="batch", effect="NoSchedule"), TaintConfig(key="gpu", effect="NoExecute"),
              TaintConfig(key="spot", value="yes", effect="PreferNoSchedule")]
    assert node_group_taints(taints) == [
        {"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"},
        {"key": "gpu", "value": None, "effect": "NO_EXECUTE"},
        {"key": "spot", "value": "yes", "effect": "PREFER_NO_SCHEDULE"},
    ]
    # every effect the stack file allows has EKS's name
    assert set(get_args(TaintConfig.model_fields["effect"].annotation)) == set(EKS_TAINT_EFFECTS)
