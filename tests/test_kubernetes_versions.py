"""Kubernetes versions per node group: the config rules (skew, supported versions, unquoted numbers),
what the plan registers for a pinned group, and the control plane's one-minor step."""

from __future__ import annotations

import pytest

from core.config.base import format_path
from core.kubernetes_versions import control_plane_step_problems, minor, next_minor, node_group_skew_problems
from tests.conftest import make_plan


def _problems(problems):
    return [(format_path(p.path), p.message) for p in problems]


def test_control_plane_moves_one_minor_per_update():
    assert control_plane_step_problems(None, "1.35") == []  # nothing deployed yet
    assert control_plane_step_problems("1.33", "1.33") == []
    assert control_plane_step_problems("1.33", "1.34") == []
    ((path, message),) = _problems(control_plane_step_problems("1.33", "1.35"))
    assert path == "cluster.kubernetesVersion" and "'1.35' skips 1.34" in message and "set '1.34' first" in message
    ((path, message),) = _problems(control_plane_step_problems("1.34", "1.33"))
    assert path == "cluster.kubernetesVersion" and "cannot downgrade" in message


def test_node_group_skew():
    assert node_group_skew_problems("1.34", {"blue": "1.34", "green": "1.31"}) == []
    problems = _problems(node_group_skew_problems("1.34", {"blue": "1.35", "green": "1.30"}))
    assert problems[0][0] == "nodeGroups.blue.kubernetesVersion" and "newer than the control plane (1.34)" in problems[0][1]
    assert problems[1][0] == "nodeGroups.green.kubernetesVersion" and "4 minor versions behind" in problems[1][1]


def test_minor_versions():
    assert minor("1.33") == 33 and next_minor("1.33") == "1.34"
    with pytest.raises(ValueError):
        minor("v1.33")


def _set_version(path: str, value):
    def edit(values: dict) -> None:
        node = values
        *parents, last = path.split("/")
        for part in parents:
            node = node[part]
        node[last] = value
    return edit


BAD_VERSIONS = [
    ("group-newer-than-cluster", [("nodeGroups/blue/kubernetesVersion", "1.34")], "nodeGroups.blue.kubernetesVersion",
     "'1.34' is newer than the control plane (1.33)"),
    ("skew-above-three", [("cluster/kubernetesVersion", "1.35"), ("nodeGroups/blue/kubernetesVersion", "1.31")],
     "nodeGroups.blue.kubernetesVersion", "'1.31' is 4 minor versions behind the control plane (1.35); Kubernetes allows at most 3"),
    ("unsupported-group-version", [("nodeGroups/blue/kubernetesVersion", "1.29")], "nodeGroups.blue.kubernetesVersion",
     "'1.29' is not a supported Kubernetes version"),
    ("unquoted-group-version", [("nodeGroups/blue/kubernetesVersion", 1.30)], "nodeGroups.blue.kubernetesVersion",
     # the stack file is written by yaml.dump, which writes the number as 1.3: the message quotes the file
     '1.3 is unquoted, so YAML reads it as the number 1.3; quote it ("1.3")'),
    ("unquoted-cluster-version", [("cluster/kubernetesVersion", 1.30)], "cluster.kubernetesVersion",
     # the stack file is written by yaml.dump, which writes the number as 1.3: the message quotes the file
     '1.3 is unquoted, so YAML reads it as the number 1.3; quote it ("1.3")'),
    ("addon-version", [("eksAddons", {"coredns": {"version": "1.11.4"}})], "eksAddons.coredns.version",
     "'1.11.4' is not an EKS add-on version such as v1.12.1-eksbuild.2"),
    ("addon-key", [("eksAddons", {"coreDns": {}})], "eksAddons.coreDns", "did you mean 'coredns'?"),
]


@pytest.mark.parametrize("edits, path, fragment", [case[1:] for case in BAD_VERSIONS], ids=[case[0] for case in BAD_VERSIONS])
def test_bad_versions_exit_2_with_the_key_path_and_nothing_planned(edits, path, fragment, write_stack, tmp_path, monkeypatch):
    import automation.plan

    def must_not_run(*args, **kwargs):
        raise AssertionError("the program ran although the configuration is invalid")

    monkeypatch.setattr(automation.plan, "run_program", must_not_run)

    def edit(values: dict) -> None:
        for key_path, value in edits:
            _set_version(key_path, value)(values)

    out = tmp_path / "out"
    plan = make_plan("dev", out, config_file=write_stack(edit, name="Pulumi.dev.yaml"))
    assert plan.exit_code == 2 and not out.exists() and "Traceback" not in plan.stderr
    assert f"Pulumi.dev.yaml: {path}: " in plan.stderr and fragment in plan.stderr, plan.stderr


def test_unquoted_version_in_the_yaml_file_is_named_as_written(tmp_path):
    """The YAML text itself, not a pre-parsed value: `kubernetesVersion: 1.30` reaches the model as 1.3."""
    from tests.conftest import ROOT

    text = (ROOT / "Pulumi.dev.yaml").read_text().replace('kubernetesVersion: "1.33"', "kubernetesVersion: 1.30")
    assert "kubernetesVersion: 1.30" in text
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text)
    plan = make_plan("dev", tmp_path / "out", config_file=path)
    assert plan.exit_code == 2
    assert 'Pulumi.dev.yaml: cluster.kubernetesVersion: 1.30 is unquoted, so YAML reads it as the number 1.3; quote it ("1.30")' in plan.stderr


def test_a_pinned_group_keeps_its_version_and_its_ssm_parameter(write_stack, tmp_path):
    """Blue stays on 1.33 while the control plane moves to 1.34; green, unpinned, follows the cluster."""
    def edit(values: dict) -> None:
        values["cluster"]["kubernetesVersion"] = "1.34"
        values["nodeGroups"]["blue"]["kubernetesVersion"] = "1.33"
        values["nodeGroups"]["green"]["enabled"] = True

    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(edit, name="Pulumi.dev.yaml"))
    assert plan.exit_code == 0, plan.stderr
    groups = {g["name"]: g["inputs"] for g in plan.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert groups["blue"]["version"] == "1.33" and groups["green"]["version"] == "1.34"
    assert groups["blue"]["releaseVersion"] == "<after-deploy:ssm:/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version>"
    assert groups["green"]["releaseVersion"] == "<after-deploy:ssm:/aws/service/bottlerocket/aws-k8s-1.34/x86_64/latest/image_version>"
    (cluster,) = plan.of_type("eks:index:Cluster")
    assert cluster["inputs"]["version"] == "1.34"
    addons = {a["inputs"]["addonName"]: a["inputs"] for a in plan.of_type("aws:eks/addon:Addon")}
    assert addons["coredns"]["addonVersion"] == "<after-deploy:eks-addon-version:coredns@1.34>"
