"""`plan --compare`: changes between two plans and which of them replace nodes."""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest

from automation.plan import run_plan
from automation.plan_compare import compare_plans, print_comparison, summary_line
from tests.conftest import make_plan


def _edit(document: dict, typ: str, name: str, change) -> dict:
    edited = copy.deepcopy(document)
    (record,) = [r for r in edited["resources"] if r["type"] == typ and r["name"] == name]
    change(record)
    return edited


def _printed(changes) -> str:
    out = io.StringIO()
    print_comparison(changes, "before", out)
    return out.getvalue()


def test_same_plan_has_no_changes(dev_plan):
    assert compare_plans(dev_plan.document, dev_plan.document) == []
    assert "0 to create, 0 to delete, 0 to update" in summary_line([])


def test_instance_types_replace_the_node_group(dev_plan):
    after = _edit(dev_plan.document, "aws:eks/nodeGroup:NodeGroup", "blue",
                  lambda r: r["inputs"].update(instanceTypes=["m7i.large"]))
    (change,) = compare_plans(dev_plan.document, after)
    assert change.replaced and [p.path for p in change.paths] == ["instanceTypes"]
    assert change.nodes == ["node group blue is replaced: a new group with new nodes, then the old one is deleted"]
    assert "~ replace  aws:eks/nodeGroup:NodeGroup  blue" in _printed([change])


@pytest.mark.parametrize("path, value", [("releaseVersion", "1.55.0-aaaabbbb"), ("version", "1.34")])
def test_version_changes_roll_the_nodes_of_the_group(dev_plan, path, value):
    after = _edit(dev_plan.document, "aws:eks/nodeGroup:NodeGroup", "blue", lambda r: r["inputs"].update({path: value}))
    (change,) = compare_plans(dev_plan.document, after)
    assert not change.replaced
    assert change.nodes == ["nodes of blue are replaced (UpdateNodegroupVersion: new nodes, old ones drained)"]


def test_a_frozen_release_version_is_ignored(prod_plan):
    after = _edit(prod_plan.document, "aws:eks/nodeGroup:NodeGroup", "blue", lambda r: r["inputs"].update(releaseVersion="1.55.0-aaaabbbb"))
    (change,) = compare_plans(prod_plan.document, after)
    assert change.only_ignored and change.nodes == []
    assert "nothing replaces nodes" in summary_line([change])


def test_user_data_changes_show_their_toml_lines_and_replace_the_nodes(dev_plan):
    def reword(record):
        text = base64.b64decode(record["inputs"]["userData"]).decode().replace("kept for kubelet", "kept for the kubelet")
        record["inputs"]["userData"] = base64.b64encode(text.encode()).decode()

    after = _edit(dev_plan.document, "aws:ec2/launchTemplate:LaunchTemplate", "blue", reword)
    (change,) = compare_plans(dev_plan.document, after)
    printed = _printed([change])
    assert "          -# Resources kept for kubelet and containerd." in printed
    assert "          +# Resources kept for the kubelet and containerd." in printed
    assert "! new launch template version: nodes of node group blue are replaced" in printed


def test_launch_template_tags_alone_keep_the_nodes(dev_plan):
    after = _edit(dev_plan.document, "aws:ec2/launchTemplate:LaunchTemplate", "blue", lambda r: r["inputs"]["tags"].update(team="x"))
    (change,) = compare_plans(dev_plan.document, after)
    assert change.action == "update" and change.nodes == []


def test_node_class_alias_drifts_dynamically_and_node_pool_limits_do_not(dev_plan):
    after = _edit(dev_plan.document, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "karpenter-bottlerocket",
                  lambda r: r["inputs"]["spec"].update(amiSelectorTerms=[{"alias": "bottlerocket@v1.55.0"}]))
    after = _edit(after, "kubernetes:karpenter.sh/v1:NodePool", "karpenter-pool-default",
                  lambda r: r["inputs"]["spec"]["limits"].update(cpu="999"))
    node_class, node_pool = compare_plans(dev_plan.document, after)
    assert node_class.nodes == ["Karpenter drifts the nodes of EC2NodeClass bottlerocket when the alias or selector "
                                "resolves to another AMI (amiSelectorTerms changed)"]
    assert node_pool.nodes == []


def test_created_and_deleted_resources(dev_plan):
    after = copy.deepcopy(dev_plan.document)
    queue = next(r for r in after["resources"] if r["type"] == "aws:sqs/queue:Queue" and r["name"] == "worker-orders-worker-dlq")
    after["resources"].remove(queue)
    after["resources"].append({**queue, "urn": queue["urn"] + "-2", "name": queue["name"] + "-2"})
    changes = compare_plans(dev_plan.document, after)
    assert [(c.action, c.name) for c in changes] == [("delete", "worker-orders-worker-dlq"), ("create", "worker-orders-worker-dlq-2")]
    assert summary_line(changes).startswith("1 to create, 1 to delete, 0 to update")


def test_compare_a_data_volume_change_end_to_end(write_stack, tmp_path):
    before = make_plan("dev", tmp_path / "before")
    bigger = write_stack(lambda v: v["nodeGroups"]["blue"].update(dataVolume={"sizeGiB": 100}))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_plan("dev", bigger, tmp_path / "after", stdout=stdout, stderr=stderr, compare_dir=before.out_dir)
    assert code == 0, stderr.getvalue()
    report = stdout.getvalue().split("Compared with the plan in", 1)[1]
    assert "~ update  aws:ec2/launchTemplate:LaunchTemplate  blue\n      blockDeviceMappings[1].ebs.volumeSize: 50 -> 100" in report
    assert "  - new launch template version: nodes of node group blue are replaced" in report
    assert report.rstrip().endswith("Compare: 0 to create, 0 to delete, 2 to update (0 replaced), 0 ignored by ignoreChanges; "
                                    "2 change(s) replace nodes.")


def test_a_frozen_group_holds_a_launch_template_change(write_stack, tmp_path):
    """Prod's blue is frozen: its ignoreChanges holds launchTemplate.version, so a data volume edit makes a new
    template version that never reaches the group's nodes (Karpenter's nodes still drift)."""
    before = make_plan("prod", tmp_path / "before")
    bigger = write_stack(lambda v: v["nodeGroups"]["blue"]["dataVolume"].update(sizeGiB=250), base="prod", name="Pulumi.prod.yaml")
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_plan("prod", bigger, tmp_path / "after", stdout=stdout, stderr=stderr, compare_dir=before.out_dir) == 0, stderr.getvalue()
    report = stdout.getvalue().split("Compared with the plan in", 1)[1]
    assert "nodes of node group blue are replaced" not in report
    assert "  - new launch template version: node group blue keeps its nodes, held until rollout" in report
    assert "Karpenter drifts the nodes of EC2NodeClass bottlerocket" in report


def test_compare_a_desired_size_change_end_to_end(write_stack, tmp_path):
    before = make_plan("dev", tmp_path / "before")
    more = write_stack(lambda v: v["nodeGroups"]["blue"]["scaling"].update(desiredSize=3))
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_plan("dev", more, tmp_path / "after", stdout=stdout, stderr=stderr, as_json=True, compare_dir=before.out_dir) == 0
    compare = json.loads(stdout.getvalue())["compare"]
    assert [(c["name"], c["ignored"], c["nodesReplaced"]) for c in compare["changes"]] == [("blue", True, [])]
    assert compare["summary"].endswith("nothing replaces nodes.")


def test_compare_with_a_folder_that_is_not_a_plan(tmp_path):
    plan = make_plan("dev", tmp_path / "out")
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_plan("dev", None, tmp_path / "out", stdout=stdout, stderr=stderr, compare_dir=tmp_path / "nothing") == 2
    assert stderr.getvalue().strip().splitlines() == [f"plan: --compare {tmp_path / 'nothing'}: no plan there "
                                                      "(a plan folder has a readable resources.json)"]
    assert (plan.out_dir / "resources.json").exists() and not stdout.getvalue()
