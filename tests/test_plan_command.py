"""`python -m automation plan`: the command line, its files, and whole-program variants of the stacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import tomlkit

import automation.plan
from automation.plan import PLAN_MARKER
from tests.conftest import PROJECT, ROOT, make_plan


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automation", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_lists_plan():
    result = _run("--help")
    assert result.returncode == 0 and "plan" in result.stdout


def test_plan_command_writes_the_plan(tmp_path):
    out = tmp_path / "dev"
    result = _run("plan", "--stack", "dev", "--out", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "resources.json").read_text())
    assert set(document) == {"stack", "project", "resources", "outputs"}
    for record in document["resources"]:
        assert set(record) == {"type", "name", "urn", "id", "parent", "provider", "inputs", "options", "dependencies"}
    assert (out / "userdata" / "blue.toml").read_text().startswith("# Bottlerocket settings of node group 'blue'")
    assert f"Offline plan of stack dev (project {PROJECT}): {len(document['resources'])} resources" in result.stdout
    assert "aws:eks/nodeGroup:NodeGroup  blue  [ignoreChanges: scalingConfig.desiredSize]" in result.stdout
    assert "    4  aws:ec2/subnet:Subnet" in result.stdout


def test_plan_is_deterministic(tmp_path):
    first = make_plan("prod", tmp_path / "a")
    second = make_plan("prod", tmp_path / "b")
    assert (tmp_path / "a" / "resources.json").read_text() == (tmp_path / "b" / "resources.json").read_text()
    assert first.user_data("blue") == second.user_data("blue")


def test_enabling_green_adds_a_second_group_and_removes_stale_files(write_stack, tmp_path):
    out = tmp_path / "out"
    both = write_stack(lambda v: v["nodeGroups"]["green"].update(enabled=True))
    plan = make_plan("dev", out, config_file=both)
    assert {g["name"] for g in plan.of_type("aws:eks/nodeGroup:NodeGroup")} == {"blue", "green"}
    assert set(plan.outputs["nodeGroups"]) == {"blue", "green"}
    assert (out / "userdata" / "green.toml").exists()
    def only_green(values):
        values["nodeGroups"]["blue"]["enabled"] = False
        values["nodeGroups"]["green"]["enabled"] = True
        values["karpenter"]["nodeClass"]["versionFrom"] = "green"  # Karpenter follows the colour in service

    plan = make_plan("dev", out, config_file=write_stack(only_green))
    assert [g["name"] for g in plan.of_type("aws:eks/nodeGroup:NodeGroup")] == ["green"]
    assert not (out / "userdata" / "blue.toml").exists()


def test_existing_vpc_is_tagged_not_created(write_stack, tmp_path):
    def use_existing(values):
        values["network"] = {"existingVpc": {"vpcId": "vpc-0a1b2c3d4e5f60718",
                                             "privateSubnetIds": ["subnet-0a1b2c3d4e5f60718", "subnet-08f7e6d5c4b3a2910"]}}

    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(use_existing))
    assert plan.exit_code == 0, plan.stderr
    assert not plan.of_type("aws:ec2/vpc:Vpc") and not plan.of_type("aws:ec2/subnet:Subnet")
    tags = {(t["inputs"]["resourceId"], t["inputs"]["key"]): t["inputs"]["value"]
            for t in plan.of_type("aws:ec2/tag:Tag") if t["inputs"]["resourceId"].startswith("subnet-")}
    assert tags == {
        ("subnet-0a1b2c3d4e5f60718", "karpenter.sh/discovery"): "platform-dev",
        ("subnet-0a1b2c3d4e5f60718", "kubernetes.io/role/internal-elb"): "1",
        ("subnet-08f7e6d5c4b3a2910", "karpenter.sh/discovery"): "platform-dev",
        ("subnet-08f7e6d5c4b3a2910", "kubernetes.io/role/internal-elb"): "1",
    }
    (cluster,) = plan.of_type("eks:index:Cluster")
    assert cluster["inputs"]["vpcId"] == "vpc-0a1b2c3d4e5f60718"
    assert cluster["inputs"]["privateSubnetIds"] == ["subnet-0a1b2c3d4e5f60718", "subnet-08f7e6d5c4b3a2910"]
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    assert group["inputs"]["subnetIds"] == ["subnet-0a1b2c3d4e5f60718", "subnet-08f7e6d5c4b3a2910"]


def test_arm_group_with_labels_taints_and_overrides(write_stack, tmp_path):
    def arm_green(values):
        values["nodeGroups"]["green"] = {
            "amiType": "BOTTLEROCKET_ARM_64", "instanceTypes": ["m7g.large"], "capacityType": "SPOT",
            "scaling": {"minSize": 0, "desiredSize": 1, "maxSize": 4}, "releaseVersion": "1.54.0-5043decc",
            "labels": {"workload": "batch"}, "taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}],
            "metadataHopLimit": 2,
            "bottlerocket": {"kubernetes": {"max-pods": 58}, "kernel": {"sysctl": {"net.netfilter.nf_conntrack_max": None}}},
        }

    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(arm_green))
    assert plan.exit_code == 0, plan.stderr
    group = plan.one("aws:eks/nodeGroup:NodeGroup", "green")
    assert group["inputs"]["amiType"] == "BOTTLEROCKET_ARM_64" and group["inputs"]["capacityType"] == "SPOT"
    assert group["inputs"]["releaseVersion"] == "1.54.0-5043decc"
    assert group["inputs"]["labels"] == {"workload": "batch", "eks-bottlerocket/colour": "green"}
    assert group["inputs"]["taints"] == [{"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"}]
    template = plan.one("aws:ec2/launchTemplate:LaunchTemplate", "green")
    assert template["inputs"]["metadataOptions"]["httpPutResponseHopLimit"] == 2
    settings = tomlkit.parse(plan.user_data("green")).unwrap()["settings"]
    assert settings["kubernetes"]["max-pods"] == 58
    assert settings["kernel"]["sysctl"] == {"net.netfilter.nf_conntrack_tcp_timeout_time_wait": "60"}
    assert "nodeGroups" in plan.outputs and plan.outputs["nodeGroups"]["green"]["amiType"] == "BOTTLEROCKET_ARM_64"


def test_without_a_conntrack_max_kube_proxy_is_left_alone(write_stack, tmp_path):
    def no_conntrack(values):
        values["bottlerocket"]["kernel"] = {"sysctl": {"net.netfilter.nf_conntrack_max": None}}

    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(no_conntrack))
    assert not plan.of_type("kubernetes:core/v1:ConfigMapPatch")
    (cluster,) = plan.of_type("eks:index:Cluster")
    assert "kubeProxyAddonOptions" not in cluster["inputs"]
    # Nodes then wait only for aws-node's Pod Identity association, not for a kube-proxy patch.
    assert plan.one("aws:eks/nodeGroup:NodeGroup", "blue")["options"]["dependsOn"] == [
        plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "cluster-vpc-cni")["urn"]]


def test_existing_kms_key_is_used(write_stack, tmp_path):
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(lambda v: v["cluster"].update(secretsEncryption={"kmsKeyArn": arn})))
    assert not plan.of_type("aws:kms/key:Key")
    assert plan.one("eks:index:Cluster", "cluster")["inputs"]["encryptionConfigKeyArn"] == arn


# --- where the plan writes ------------------------------------------------------------------------------

def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_out_folder_with_a_foreign_file_is_refused_and_kept(tmp_path):
    out = tmp_path / "scratch"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = _run("plan", "--stack", "dev", "--out", str(out))
    assert result.returncode == 2
    assert PLAN_MARKER in _one_line(result.stderr) and "nothing was changed" in result.stderr
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert not result.stdout


def test_a_checkout_is_never_an_output_folder(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    plan = make_plan("dev", checkout)
    assert plan.exit_code == 2 and (checkout / ".git" / "HEAD").exists()
    file_out = tmp_path / "a-file"
    file_out.write_text("x")
    plan = make_plan("dev", file_out)
    assert plan.exit_code == 2 and "not a folder" in _one_line(plan.stderr) and file_out.read_text() == "x"


def test_a_folder_the_plan_wrote_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    assert make_plan("dev", out).exit_code == 0
    assert (out / PLAN_MARKER).is_file()
    (out / "userdata" / "stale.toml").write_text("from an older plan")
    assert make_plan("dev", out).exit_code == 0
    assert not (out / "userdata" / "stale.toml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left beside it


def test_empty_and_absent_folders_are_written(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert make_plan("dev", empty).exit_code == 0 and (empty / "resources.json").exists()
    nested = tmp_path / "a" / "b" / "plan"
    assert make_plan("dev", nested).exit_code == 0 and (nested / PLAN_MARKER).is_file()


@pytest.mark.parametrize("stack", ["../x", "a/b", "..", ".", "x y", "a..b", "", "s" * 101, "dev\\x"])
def test_stack_names_pulumi_refuses_or_that_leave_the_folder_are_refused(stack, tmp_path):
    plan = make_plan(stack, None)
    assert plan.exit_code == 2
    assert _one_line(plan.stderr).startswith(f"plan: --stack {stack!r}: a stack name has 1 to 100 letters")
    assert not (ROOT / "build" / "x").exists()


def test_a_failed_plan_removes_the_previous_plan(write_stack, tmp_path):
    out = tmp_path / "out"
    assert make_plan("dev", out).exit_code == 0
    broken = write_stack(lambda values: values["nodeGroups"]["blue"].update(instanceTypes="m7i.large"))
    plan = make_plan("dev", out, config_file=broken)
    assert plan.exit_code == 2 and "nodeGroups.blue.instanceTypes" in plan.stderr
    assert f"Removed the previous plan in {out}" in plan.stderr
    assert not out.exists()


def _earlier_plan(folder):
    """A folder as a plan leaves it (its marker), standing for the plan of an earlier run."""
    folder.mkdir(parents=True)
    (folder / PLAN_MARKER).write_text("written by an earlier plan")
    return folder


@pytest.mark.parametrize("default_folder", [True, False])
def test_a_stack_file_that_cannot_be_read_removes_no_plan(tmp_path, monkeypatch, default_folder):
    """A typo in --config-file says nothing about the plan in the folder: refused, exit 2, nothing removed."""
    monkeypatch.setattr(automation.plan, "default_plan_folder", lambda stack: tmp_path / "build" / "plan" / stack)
    out = _earlier_plan(tmp_path / "build" / "plan" / ("dev" if default_folder else "my-edit"))
    plan = make_plan("dev", None if default_folder else out, config_file=tmp_path / "my-edti.yaml")
    assert plan.exit_code == 2
    assert _one_line(plan.stderr) == f"my-edti.yaml: file not found ({tmp_path / 'my-edti.yaml'})"
    assert (out / PLAN_MARKER).is_file()


def test_a_folder_given_as_the_stack_file_removes_no_plan(tmp_path):
    """A folder is not read either (StackFileUnreadable): the --out folder's plan stays."""
    out = _earlier_plan(tmp_path / "build" / "plan" / "my-edit")
    (tmp_path / "Pulumi.dev.yaml").mkdir()
    plan = make_plan("dev", out, config_file=tmp_path / "Pulumi.dev.yaml")
    assert plan.exit_code == 2 and "is a directory" in plan.stderr and "Removed" not in plan.stderr
    assert (out / PLAN_MARKER).is_file()


def test_an_invalid_config_file_leaves_the_plan_of_the_stacks_own_file(write_stack, tmp_path, monkeypatch):
    """build/plan/<stack> describes Pulumi.<stack>.yaml: another file's problems do not make it stale."""
    monkeypatch.setattr(automation.plan, "default_plan_folder", lambda stack: tmp_path / "build" / "plan" / stack)
    default = _earlier_plan(tmp_path / "build" / "plan" / "dev")
    broken = write_stack(lambda values: values["nodeGroups"]["blue"].update(instanceTypes="m7i.large"))
    plan = make_plan("dev", None, config_file=broken)
    assert plan.exit_code == 2 and "nodeGroups.blue.instanceTypes" in plan.stderr and "Removed" not in plan.stderr
    assert plan.stderr.startswith("1 problem in the stack configuration; no plan was written:\n")
    assert (default / PLAN_MARKER).is_file()


def test_an_output_folder_that_cannot_be_made_is_one_line_and_exit_2(tmp_path):
    """--out under a file (or /sys, a read-only mount): the user's choice of folder, so exit 2 and nothing left behind."""
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "plan"
    plan = make_plan("dev", out)
    assert plan.exit_code == 2
    assert _one_line(plan.stderr).startswith(f"plan: cannot write the plan folder {out}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] and (tmp_path / "file").read_text() == "x"


def test_a_program_failure_is_one_line_and_leaves_no_plan(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert make_plan("dev", out).exit_code == 0

    def crash(*args, **kwargs):
        raise RuntimeError("invoke aws:ec2/getAmi:getAmi has no answer")

    monkeypatch.setattr(automation.plan, "run_program", crash)
    plan = make_plan("dev", out)
    assert plan.exit_code == 1
    assert plan.stderr.splitlines()[0] == ("plan: __main__.py failed for stack dev: RuntimeError: "
                                           "invoke aws:ec2/getAmi:getAmi has no answer")
    assert not out.exists()


def test_plans_of_two_stacks_in_one_process_do_not_mix(tmp_path):
    make_plan("dev", tmp_path / "dev")
    prod = make_plan("prod", tmp_path / "prod")
    parents = {r["parent"] for r in prod.resources if r["parent"] and r["parent"].endswith(f"pulumi:pulumi:Stack::{PROJECT}-dev")}
    assert parents == set()
    assert all(r["urn"].startswith("urn:pulumi:prod::") and (r["parent"] or "urn:pulumi:prod::").startswith("urn:pulumi:prod::")
               for r in prod.resources)


def test_the_default_folder_is_the_plans_own_also_without_a_marker(tmp_path, monkeypatch):
    default = tmp_path / "build" / "plan" / "dev"
    (default / "userdata").mkdir(parents=True)
    (default / "userdata" / "old.toml").write_text("written by an older version of the plan")
    monkeypatch.setattr(automation.plan, "default_plan_folder", lambda stack: tmp_path / "build" / "plan" / stack)
    plan = make_plan("dev", None)
    assert plan.exit_code == 0, plan.stderr
    assert (default / PLAN_MARKER).is_file() and not (default / "userdata" / "old.toml").exists()


def test_the_wrote_line_names_every_file_of_the_folder(dev_plan):
    (wrote,) = [line for line in dev_plan.stdout.splitlines() if line.startswith("Wrote ")]
    top_level_files = {path.name for path in dev_plan.out_dir.iterdir() if path.is_file() and path.name != PLAN_MARKER}
    assert top_level_files == {"resources.json", "policy.json", "order.json"}
    assert all(name in wrote for name in top_level_files), wrote
    for folder, kind in (("userdata", "user data"), ("manifests", "manifest"), ("helm", "Helm values")):
        assert f"{len(list((dev_plan.out_dir / folder).iterdir()))} {kind}" in wrote, wrote
