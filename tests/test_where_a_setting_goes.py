"""The three chains of docs/development.md "Where a setting goes": an edit of `releaseVersion`, `freeze` and
`dataVolume.sizeGiB` in the stack file reaches the managed node group's inputs and, through the group Karpenter
follows, the EC2NodeClass, under the real program and the mock engine."""

from __future__ import annotations

import yaml

from core.block_devices import DATA_DEVICE
from core.tags import FROZEN_TAG
from tests.conftest import make_plan


def _node_class(plan) -> dict:
    return yaml.safe_load((plan.out_dir / "manifests" / "EC2NodeClass-cluster-bottlerocket.yaml").read_text())["spec"]


def test_release_freeze_and_data_volume_reach_their_inputs(tmp_path, write_stack):
    def edit(values):
        blue = values["nodeGroups"]["blue"]
        blue["releaseVersion"], blue["freeze"] = "1.55.0-0a1b2c3d", False
        blue["dataVolume"]["sizeGiB"] = 321

    plan = make_plan("prod", tmp_path / "plan", config_file=write_stack(edit, base="prod"))
    assert plan.exit_code == 0, plan.stderr
    group = plan.one("aws:eks/nodeGroup:NodeGroup", "blue")
    assert group["inputs"]["releaseVersion"] == "1.55.0-0a1b2c3d"
    assert group["inputs"]["tags"][FROZEN_TAG] == "false"
    assert "releaseVersion" not in group["options"]["ignoreChanges"]  # a pin that is not frozen moves with its edit
    template = plan.one("aws:ec2/launchTemplate:LaunchTemplate", "blue")["inputs"]
    (data,) = [m["ebs"] for m in template["blockDeviceMappings"] if m["deviceName"] == DATA_DEVICE]
    assert data["volumeSize"] == 321

    node_class = _node_class(plan)
    assert node_class["amiSelectorTerms"] == [{"alias": "bottlerocket@v1.55.0"}]
    (data,) = [m for m in node_class["blockDeviceMappings"] if m["deviceName"] == DATA_DEVICE]
    assert data["ebs"]["volumeSize"] == "321Gi" and data["rootVolume"] is True


def test_freeze_holds_the_release_on_both_branches(prod_plan):
    group = prod_plan.one("aws:eks/nodeGroup:NodeGroup", "blue")
    assert group["inputs"]["tags"][FROZEN_TAG] == "true"
    assert {"releaseVersion", "version", "launchTemplate.version"} <= set(group["options"]["ignoreChanges"])
    assert _node_class(prod_plan)["amiSelectorTerms"] == [{"alias": "bottlerocket@v1.54.0"}]
