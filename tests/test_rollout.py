"""Whole blue/green rollouts against moto's EKS and SSM and the time-aware Kubernetes emulator: nodes boot,
pods terminate after their grace period, ReplicaSets recreate evicted pods, budgets answer 429. Each
test asserts what the cluster lived through: the lowest Ready count of the workload, the API requests,
and the end state."""

from __future__ import annotations

import difflib
import io
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s_client
from moto.core import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends

from automation import yaml_round_trip
from automation.rollout import Cluster, Rollout, RolloutError, RolloutMarker, RolloutRequest, run_rollout_guard
from automation.stack_files import validate_stack_text
from automation.upgrade_check import check
from core.rollout import RETIRING_TAINT, RolloutPlan, RolloutUsageError, enable_target, plan_rollout, taint_source
from core.version_rollout import check_version_request, pin_and_bump, remove_redundant_pins
from core.node_group import EKS_TAINT_EFFECTS
from core.tags import NODE_GROUP_TAG
from core.config.stack_config import validate_stack_config
from tests.conftest import PROJECT, ROOT
from tests.fake_kubernetes import KubeEmulator, ScaledClock, serve
from tests.temporary_files import run_listing_temporary_files

NEW = "1.55.0-0a1b2c3d"
CLUSTER = "platform-prod"
SUBNET = "subnet-0a1b2c3d4e5f60718"
BOOT_SECONDS = 90.0
REQUEST_BUDGET = 2000  # the bound for 3 nodes and 12 pods
BUSIEST_TEN_SECONDS = 40  # no emulated 10 s window may see more requests than this: a spinning loop would


class Deployer:
    """Stands in for `pulumi up`: makes moto's EKS and the emulator's nodes match the stack file's node
    groups (create, EKS taint updates, delete) and Kubernetes versions, the way the program's Cluster and
    NodeGroup resources would, under EKS' version rules (core/kubernetes_versions.py): the control plane
    moves only while every node group runs its version, a group is created only at the cluster's version,
    a group whose version changes is updated in place (recorded: a version rollout must never do that)."""

    def __init__(self, stack_file: Path, eks, kube: KubeEmulator, boot_seconds: float = BOOT_SECONDS, cluster: str = CLUSTER):
        self.stack_file, self.eks, self.kube, self.boot_seconds, self.cluster = stack_file, eks, kube, boot_seconds, cluster
        self.live: dict[str, str] = {}  # group -> EKS node group name
        self.members: dict[str, list[str]] = {}
        self.commands: list[str] = []
        self.crash_next_up = False
        self.serial = 0
        self.in_place_version_updates: list[tuple[str, str, str]] = []  # (group, from, to)
        self.control_plane_moves: list[tuple[str, str]] = []

    def _backend(self):
        return eks_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].clusters[self.cluster]

    def _move_control_plane(self, wanted: str) -> None:
        backend = self._backend()
        if backend.version == wanted:
            return
        behind = {name: group.version for name, group in backend.nodegroups.items() if group.version != backend.version}
        if behind:
            raise RuntimeError(f"EKS UpdateClusterVersion refused: node groups {behind} do not run {backend.version}")
        self.control_plane_moves.append((backend.version, wanted))
        backend.version = wanted

    def engine(self, command: str) -> int:
        self.commands.append(command)
        if command == "up":
            if self.crash_next_up:
                self.crash_next_up = False
                raise SystemExit("killed while `up` ran")  # the process dies after the stack file was written
            self.up()
        return 0

    def up(self) -> None:
        config = yaml.safe_load(self.stack_file.read_text())["config"]
        cluster_version = config[f"{PROJECT}:cluster"]["kubernetesVersion"]
        self._move_control_plane(cluster_version)
        groups = config[f"{PROJECT}:nodeGroups"]
        for name, group in groups.items():
            version = group.get("kubernetesVersion", cluster_version)
            taints = [dict(t) for t in group.get("taints", [])]
            eks_taints = [{"key": t["key"], "value": t.get("value", ""), "effect": EKS_TAINT_EFFECTS[t["effect"]]} for t in taints]
            if group.get("enabled", True) and name not in self.live:
                if version != cluster_version:
                    raise RuntimeError(f"EKS CreateNodegroup refused: {name} at {version}, the cluster runs {cluster_version}")
                self.serial += 1
                self.live[name] = f"{self.cluster}-{name}-{self.serial}"
                scaling = group["scaling"]
                self.eks.create_nodegroup(clusterName=self.cluster, nodegroupName=self.live[name], subnets=[SUBNET],
                                          nodeRole="arn:aws:iam::123456789012:role/nodes", amiType=group["amiType"],
                                          releaseVersion=group["releaseVersion"], version=version, taints=eks_taints,
                                          scalingConfig={"minSize": scaling["minSize"], "maxSize": scaling["maxSize"], "desiredSize": scaling["desiredSize"]},
                                          labels=group.get("labels", {}), tags={NODE_GROUP_TAG: name})
                self.members[name] = [f"{name}-{self.serial}-{i}" for i in range(scaling["desiredSize"])]
                for node in self.members[name]:
                    self.kube.add_node(node, name, boot_seconds=self.boot_seconds, taints=taints, extra_labels=group.get("labels"))
            elif group.get("enabled", True):
                live = self.eks.describe_nodegroup(clusterName=self.cluster, nodegroupName=self.live[name])["nodegroup"]
                if live["version"] != version:
                    self.in_place_version_updates.append((name, live["version"], version))
                    self._backend().nodegroups[self.live[name]].version = version
                if live.get("taints", []) != eks_taints:
                    self.eks.update_nodegroup_config(clusterName=self.cluster, nodegroupName=self.live[name],
                                                     taints={"addOrUpdateTaints": eks_taints, "removeTaints": [
                                                         t for t in live.get("taints", []) if t not in eks_taints]})
                    for node in self.members[name]:
                        self.kube.set_taints(node, taints)
            elif name in self.live:
                self.eks.delete_nodegroup(clusterName=self.cluster, nodegroupName=self.live.pop(name))
                for node in self.members.pop(name):
                    self.kube.remove_node(node)


def _world(aws, tmp_path, stack: str):
    """`stack`'s stack file, moto's EKS with the cluster at the file's version, the emulator serving its
    API, blue deployed and a 12-pod ReplicaSet (PDB maxUnavailable 1, grace 30 s)."""
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    shutil.copy(ROOT / stack_file.name, stack_file)
    cluster_config = yaml.safe_load(stack_file.read_text())["config"][f"{PROJECT}:cluster"]
    name = cluster_config["name"]
    kube = KubeEmulator(ScaledClock(scale=50.0))
    server, url = serve(kube)
    eks = aws.client("eks")
    eks.create_cluster(name=name, version=cluster_config["kubernetesVersion"], roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": [SUBNET]})
    eks_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].clusters[name].endpoint = url  # the emulator is this cluster's API server
    deployer = Deployer(stack_file, eks, kube, boot_seconds=0.0, cluster=name)
    deployer.up()
    deployer.boot_seconds = BOOT_SECONDS
    kube.add_replica_set("shop", "web", 12, cpu="250m", memory="256Mi", grace_seconds=30, max_unavailable=1)
    kube.add_pod("kube-system", "aws-node-blue", deployer.members["blue"][0], owner="DaemonSet")
    api_client = k8s_client.ApiClient(k8s_client.Configuration(host=url))
    return server, {"stack": stack, "cluster": name, "stack_file": stack_file, "kube": kube, "eks": eks, "ssm": aws.client("ssm"),
                    "deployer": deployer, "url": url, "api_client": api_client, "tmp_path": tmp_path}


@pytest.fixture
def world(aws, tmp_path):
    """prod: blue deployed with 3 nodes."""
    server, built = _world(aws, tmp_path, "prod")
    yield built
    server.shutdown()


@pytest.fixture
def dev_world(aws, tmp_path):
    """dev: blue deployed with 2 nodes, tracking the latest Bottlerocket, Kubernetes 1.33."""
    server, built = _world(aws, tmp_path, "dev")
    yield built
    server.shutdown()


def _rollout(world, target: str, source: str | None = None, version: str | None = NEW, **options) -> tuple[Rollout, io.StringIO]:
    kube, out = world["kube"], io.StringIO()
    request = RolloutRequest(world["stack"], target, source, version, kubernetes_version=options.pop("kubernetes_version", None),
                             dry_run=options.pop("dry_run", False), yes=options.pop("yes", True), force=options.pop("force", False))
    cluster = Cluster(world["cluster"], world["eks"], world["api_client"], sleep=kube.clock.sleep)
    rollout = Rollout(world["stack_file"], request, world["deployer"].engine, cluster, RolloutMarker(world["ssm"], world["cluster"]),
                      out=out, clock=kube.clock.now, sleep=kube.clock.sleep, **{"wait_timeout": 1800, "drain_timeout": 1800, **options})
    return rollout, out


def _groups(world) -> dict:
    return yaml.safe_load(world["stack_file"].read_text())["config"][f"{PROJECT}:nodeGroups"]


def _assert_capacity_held(kube: KubeEmulator) -> None:
    assert kube.lowest_ready[("shop", "web")] >= 11  # replicas - maxUnavailable, never lower
    assert kube.lost_pods == []
    assert kube.request_count() < REQUEST_BUDGET
    per_window = Counter(int(t // 10) for t, _, _ in kube.requests)
    assert max(per_window.values()) <= BUSIEST_TEN_SECONDS, per_window.most_common(3)


def _assert_serving(world, group: str) -> None:
    kube = world["kube"]
    nodes = world["deployer"].members[group]
    assert all(not kube.nodes[n].unschedulable and not kube.nodes[n].taints for n in nodes)
    on_group = [p for p in kube.pods.values() if p.owner == ("ReplicaSet", "web")]
    assert len(on_group) == 12 and all(p.node in nodes for p in on_group)
    assert kube.ready_count("shop", "web") == 12


def test_blue_to_green_keeps_capacity_and_ends_with_blue_disabled(world):
    rollout, out = _rollout(world, "green")
    assert rollout.run() == 0, out.getvalue()
    kube = world["kube"]
    _assert_capacity_held(kube)
    groups = _groups(world)
    assert groups["green"]["enabled"] is True and groups["green"]["releaseVersion"] == NEW and "taints" not in groups["green"]
    assert groups["blue"]["enabled"] is False and "taints" not in groups["blue"]
    assert "blue" not in world["deployer"].live and not any(n.startswith("blue") for n in kube.nodes)
    _assert_serving(world, "green")
    assert world["deployer"].commands == ["preview", "up"] * 3  # a preview before each `up`
    text = out.getvalue()
    assert "wave 1: drained blue-1-0" in text and "wave 3: drained blue-1-2" in text  # maxUnavailable 1: one node at a time
    assert "waiting for their disruption budget" in text
    assert RolloutMarker(world["ssm"], CLUSTER).read() is None
    assert ("kube-system", "aws-node-blue", 201) not in kube.evictions  # DaemonSet pods are not evicted
    values = {k.split(":", 1)[1]: v for k, v in yaml_round_trip.load(world["stack_file"].read_text())["config"].items()
              if k.startswith(f"{PROJECT}:")}
    validate_stack_config(values, "Pulumi.prod.yaml")
    for line in (ROOT / "Pulumi.prod.yaml").read_text().splitlines():  # comments survive
        if line.lstrip().startswith("#"):
            assert line in world["stack_file"].read_text()
    print(f"\nrollout blue->green: {kube.request_count()} Kubernetes API requests, lowest Ready {kube.lowest_ready[('shop', 'web')]}/12, "
          f"{kube.clock.now():.0f} emulated seconds")


def test_rollback_after_the_taint_stage_ends_with_blue_serving_untainted(world):
    kube = world["kube"]
    forward, out = _rollout(world, "green", drain_timeout=20)  # shorter than the 30 s grace period: the drain gives up
    with pytest.raises(RolloutError, match="drain timed out"):
        forward.run()
    assert _groups(world)["blue"]["taints"] == [RETIRING_TAINT]
    assert not any(node.unschedulable for node in kube.nodes.values())  # the failed drain uncordoned what it cordoned
    marker = RolloutMarker(world["ssm"], CLUSTER).read()
    assert (marker["from"], marker["to"], marker["stage"]) == ("blue", "green", "stage 3: taint blue NoSchedule")

    back, out = _rollout(world, "blue", version=None)
    assert back.run() == 0, out.getvalue()
    assert "rollout green -> blue at Bottlerocket 1.54.0-5043decc" in out.getvalue()
    groups = _groups(world)
    assert groups["blue"]["enabled"] is True and "taints" not in groups["blue"] and groups["green"]["enabled"] is False
    _assert_serving(world, "blue")
    _assert_capacity_held(kube)
    assert RolloutMarker(world["ssm"], CLUSTER).read() is None


def test_a_crash_after_the_stack_file_was_written_is_repaired_on_resume(world):
    world["deployer"].crash_next_up = True
    crashed, _ = _rollout(world, "green")
    with pytest.raises(SystemExit):
        crashed.run()
    assert _groups(world)["green"]["enabled"] is True and "green" not in world["deployer"].live  # file done, live not

    resumed, out = _rollout(world, "green")
    assert resumed.run() == 0, out.getvalue()
    assert "resuming: a rollout blue -> green" in out.getvalue()
    assert "the stack file says green is enabled at 1.55.0-0a1b2c3d, the live state does not: `up` again" in out.getvalue()
    assert _groups(world)["blue"]["enabled"] is False
    _assert_serving(world, "green")
    _assert_capacity_held(world["kube"])


def test_a_third_group_is_left_alone(world):
    document = yaml_round_trip.load(world["stack_file"].read_text())
    groups = document["config"][f"{PROJECT}:nodeGroups"]
    gpu = yaml_round_trip.load(yaml_round_trip.dump(groups["blue"], world["stack_file"].read_text()))
    gpu["amiType"], gpu["labels"] = "BOTTLEROCKET_x86_64_NVIDIA", {"accelerator": "nvidia"}
    gpu["instanceTypes"] = ["g5.xlarge"]  # an NVIDIA group needs GPU instances: the rollout validates each stack file it writes
    gpu["scaling"] = {"minSize": 1, "desiredSize": 1, "maxSize": 2}
    groups["gpu"] = gpu
    world["stack_file"].write_text(yaml_round_trip.dump(document, world["stack_file"].read_text()))
    world["deployer"].boot_seconds = 0.0
    world["deployer"].up()
    world["deployer"].boot_seconds = BOOT_SECONDS

    rollout, out = _rollout(world, "green")
    assert rollout.run() == 0, out.getvalue()
    groups = _groups(world)
    assert groups["gpu"].get("enabled", True) and "taints" not in groups["gpu"] and "gpu" in world["deployer"].live
    assert not any(node.startswith("gpu") for node, _ in world["kube"].patches)
    _assert_capacity_held(world["kube"])


def test_a_bare_pod_stops_the_rollout_before_any_change_unless_forced(world):
    kube = world["kube"]
    kube.add_pod("default", "debug-shell", world["deployer"].members["blue"][1], owner=None)
    before = world["stack_file"].read_text()
    rollout, _ = _rollout(world, "green")
    with pytest.raises(RolloutError, match="bare pod.*default/debug-shell.*--force"):
        rollout.run()
    assert world["stack_file"].read_text() == before and world["deployer"].commands == [] and kube.patches == []

    forced, out = _rollout(world, "green", force=True)
    assert forced.run() == 0, out.getvalue()
    assert ("default", "debug-shell", 201) in kube.evictions
    _assert_capacity_held(kube)


def test_dry_run_prints_each_stage_and_changes_nothing(world):
    before = world["stack_file"].read_text()
    rollout, out = _rollout(world, "green", dry_run=True)
    assert rollout.run() == 0
    text = out.getvalue()
    assert world["stack_file"].read_text() == before and world["deployer"].commands == [] and world["kube"].request_count() == 0
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("== stage")] == [f"== stage {n}" for n in range(1, 6)]
    assert "-      enabled: false\n+      enabled: true" in text and f"+      releaseVersion: {NEW}" in text
    assert "-      versionFrom: blue\n+      versionFrom: green" in text
    assert f"+        - key: {RETIRING_TAINT['key']}" in text and "+      enabled: false" in text


def test_without_a_terminal_each_up_needs_yes(world):
    before = world["stack_file"].read_text()
    rollout, _ = _rollout(world, "green", yes=False)
    with pytest.raises(RolloutUsageError, match="pass --yes in non-interactive runs"):
        rollout.run()
    assert world["stack_file"].read_text() == before and world["deployer"].commands == ["preview"]
    assert RolloutMarker(world["ssm"], CLUSTER).read() is None  # nothing applied: CI is not held


def test_stack_files_in_any_indentation_style_round_trip(world):
    text = world["stack_file"].read_text()
    flat = yaml_round_trip.dump(yaml_round_trip.load(text), "key:\n- item\n")  # lists written without extra indentation
    assert "\n    - arn:aws:iam::444455556666:role/platform-admin" in flat
    world["stack_file"].write_text(flat)
    rollout, out = _rollout(world, "green", dry_run=True)
    assert rollout.run() == 0
    assert f"+      - key: {RETIRING_TAINT['key']}" in out.getvalue()  # the edit follows the file's style
    mixed = flat.replace(f"\n  {PROJECT}:network:", f"\n    extraList:\n      - a\n  {PROJECT}:network:", 1)
    with pytest.raises(yaml_round_trip.RoundTripError, match=r"Pulumi.prod.yaml line \d+: '      - a'"):
        yaml_round_trip.check_round_trip(mixed, "Pulumi.prod.yaml")


@pytest.mark.parametrize("quote", ['"', "'"])
def test_edits_quote_new_values_as_the_file_quotes_its_values(quote):
    """README: "Edits keep comments, quoting...": the shipped files double-quote; a file that single-quotes
    gets single quotes. Values the file had keep theirs; values that need no quotes get none."""
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    if quote == "'":
        text = re.sub(r'"([^"\n]*)"', r"'\1'", text)
    plan = RolloutPlan("blue", "green", NEW, "1.34", project=PROJECT)
    document = yaml_round_trip.load(text)
    edited = yaml_round_trip.dump(taint_source(enable_target(pin_and_bump(document, plan), plan), plan), text)
    added = [line[1:].strip() for line in difflib.unified_diff(text.splitlines(), edited.splitlines(), lineterm="", n=0)
             if line.startswith("+") and not line.startswith("+++")]
    assert f"kubernetesVersion: {quote}1.34{quote}" in added and f"kubernetesVersion: {quote}1.33{quote}" in added
    assert f"value: {quote}true{quote}" in added and f"releaseVersion: {NEW}" in added and "effect: NoSchedule" in added
    assert yaml_round_trip.dump(yaml_round_trip.load(text), text) == text


def test_plan_picks_the_source_by_role_or_asks_for_from():
    document = yaml_round_trip.load((ROOT / "Pulumi.prod.yaml").read_text())
    groups = document["config"][f"{PROJECT}:nodeGroups"]
    assert plan_rollout(document, PROJECT, "green", None, None).source == "blue"
    groups["batch"] = dict(groups["blue"])
    with pytest.raises(RolloutUsageError, match=r"several enabled groups share 'green''s role \(blue, batch\); name the source with --from"):
        plan_rollout(document, PROJECT, "green", None, None)
    assert plan_rollout(document, PROJECT, "green", "batch", None).source == "batch"
    for target, source, version, message in [
        ("purple", None, None, "--to purple: nodeGroups has no such group"),
        ("green", "green", None, "--from and --to are both 'green'"),
        ("green", "blue", "1.2", "neither 'latest' nor a Bottlerocket version"),
    ]:
        with pytest.raises(RolloutUsageError, match=message):
            plan_rollout(document, PROJECT, target, source, version)


def test_rollout_guard_holds_ci_deploys_while_a_rollout_runs(world, monkeypatch):
    monkeypatch.chdir(ROOT)
    marker = RolloutMarker(world["ssm"], CLUSTER)
    out, err = io.StringIO(), io.StringIO()
    assert run_rollout_guard("prod", clear=False, out=out, err=err) == 0 and "no rollout in progress" in out.getvalue()
    marker.write("prod", RolloutPlan("blue", "green", NEW, project=PROJECT), "stage 3: taint blue NoSchedule")
    err = io.StringIO()
    assert run_rollout_guard("prod", clear=False, out=io.StringIO(), err=err) == 4
    assert err.getvalue().count("\n") == 1 and "a rollout blue -> green of stack prod is in progress (stage 3" in err.getvalue()
    assert run_rollout_guard("prod", clear=True, out=io.StringIO(), err=io.StringIO()) == 0 and marker.read() is None


@pytest.mark.parametrize("value", ['{"from":"blue","to":"green"}', "rollout by alice", "[1, 2]", "x" * 300])
def test_a_marker_the_program_did_not_write_holds_deploys_and_clear_removes_it(aws, monkeypatch, value):
    """Unreadable still means "a rollout may be in progress": exit 4 and one line quoting it (truncated);
    --clear removes the parameter and says what it removed; a rollout refuses to guess whose it is."""
    monkeypatch.chdir(ROOT)
    ssm = aws.client("ssm")
    marker = RolloutMarker(ssm, CLUSTER)
    ssm.put_parameter(Name=marker.name, Value=value, Type="String")
    err = io.StringIO()
    assert run_rollout_guard("prod", clear=False, out=io.StringIO(), err=err) == 4
    line = err.getvalue()
    assert line.count("\n") == 1 and line.startswith(f"rollout-guard: the rollout marker {marker.name} is unreadable"), line
    assert repr(value[:80] + ("..." if len(value) > 80 else "")) in line and "--clear" in line and len(line) < 400, line
    with pytest.raises(RolloutError, match="unreadable"):
        Rollout(ROOT / "Pulumi.prod.yaml", RolloutRequest("prod", "green"), lambda command: 0, None, marker,
                project=PROJECT).run()
    out, err = io.StringIO(), io.StringIO()
    assert run_rollout_guard("prod", clear=True, out=out, err=err) == 0, err.getvalue()
    assert out.getvalue().startswith(f"cleared {marker.name}: the rollout marker {marker.name} is unreadable") and err.getvalue() == ""
    assert marker.text() is None
    assert run_rollout_guard("prod", clear=False, out=io.StringIO(), err=io.StringIO()) == 0


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automation", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    return path


@pytest.mark.parametrize("args, message", [
    (["--to", "purple", "--dry-run"], "rollout: --to purple: nodeGroups has no such group"),
    (["--to", "green", "--from", "green", "--dry-run"], "rollout: --from and --to are both 'green'"),
    (["--to", "green", "--version", "1.2", "--dry-run"], "rollout: --version '1.2' is neither 'latest' nor"),
    (["--to", "green", "--kubernetes-version", "1.35", "--dry-run"],
     "rollout: --kubernetes-version 1.35: Pulumi.prod.yaml: cluster.kubernetesVersion is '1.33'; '1.35' skips 1.34"),
    (["--to", "green", "--kubernetes-version", "1.36", "--dry-run"], "rollout: --kubernetes-version '1.36': not a supported Kubernetes version"),
    (["--to", "green", "--kubernetes-version", "1.32", "--dry-run"], "rollout: --kubernetes-version 1.32: Pulumi.prod.yaml: cluster.kubernetesVersion is '1.33'; "
     "'1.32' is older than the stack file's 1.33"),
    (["--to", "green", "--kubernetes-version", "1.33", "--dry-run"],  # upgrade-check --to 1.33 refuses it in the same words
     "rollout: --kubernetes-version 1.33: the control plane is already at 1.33 (Pulumi.prod.yaml); drop --kubernetes-version"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    result = _cli("rollout", "--stack", "prod", *args)
    assert result.returncode == 2 and result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_wrong_cluster_missing_kubeconfig_and_unreachable_server_exit_2_and_change_nothing(world, monkeypatch):
    import os

    env = {**os.environ}
    before = (ROOT / "Pulumi.prod.yaml").read_text()
    wrong = _kubeconfig(world["tmp_path"] / "wrong", "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com")
    for command in (["rollout", "--stack", "prod", "--to", "green", "--yes"], ["node-logs", "--stack", "prod", "--node", "blue-1-0"]):
        result = _cli(*command, "--kubeconfig", str(wrong), env=env)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com" in result.stderr and world["url"] in result.stderr
    result = _cli("rollout", "--stack", "prod", "--to", "green", "--yes", "--kubeconfig", str(world["tmp_path"] / "absent"), env=env)
    assert result.returncode == 2 and result.stderr.startswith("rollout: kubeconfig ") and result.stderr.count("\n") == 1, result.stderr
    closed = "http://127.0.0.1:9"  # discard port: nothing listens
    eks_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].clusters[CLUSTER].endpoint = closed
    for command in (["rollout", "--stack", "prod", "--to", "green", "--yes"], ["node-logs", "--stack", "prod", "--node", "blue-1-0"]):
        result = _cli(*command, "--kubeconfig", str(_kubeconfig(world["tmp_path"] / "c", closed)), env=env)
        assert result.returncode == 2 and "cannot reach the API server http://127.0.0.1:9" in result.stderr and result.stderr.count("\n") == 1
    assert (ROOT / "Pulumi.prod.yaml").read_text() == before and world["kube"].patches == [] and world["deployer"].commands == []


def test_command_line_dry_run_on_the_shipped_stack():
    result = _cli("rollout", "--stack", "dev", "--to", "green", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "rollout blue -> green at Bottlerocket latest (dry run)" in result.stdout and "end of dry run" in result.stdout


def test_throttled_requests_are_retried_after_retry_after(world):
    """A 429 from API Priority and Fairness: urllib3 retries idempotent reads after Retry-After itself; the
    rollout retries its writes (cordon) the same way."""
    kube = world["kube"]
    slept = []
    cluster = Cluster(CLUSTER, world["eks"], world["api_client"], sleep=slept.append)
    kube.throttled_requests = 1
    assert [node.metadata.name for node in cluster.nodes("blue")] == world["deployer"].members["blue"]
    kube.throttled_requests = 2
    cluster.set_unschedulable("blue-1-0", True)
    assert slept == [1.0, 1.0] and kube.nodes["blue-1-0"].unschedulable and kube.request_count() == 5


def test_a_declined_stage_puts_the_stack_file_back(world):
    before = world["stack_file"].read_text()
    rollout, _ = _rollout(world, "green", yes=False)
    rollout.confirm = lambda question: False
    with pytest.raises(RolloutError, match="stage 1: enable green not confirmed; nothing applied"):
        rollout.run()
    assert world["stack_file"].read_text() == before and world["deployer"].commands == ["preview"]
    assert RolloutMarker(world["ssm"], CLUSTER).read() is None  # nothing applied: CI is not held


def test_an_interrupted_drain_uncordons_what_it_cordoned(world, monkeypatch):
    kube = world["kube"]
    evict = Cluster.evict

    def interrupted(self, pod):
        if len(kube.evictions) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the first wave
        return evict(self, pod)

    monkeypatch.setattr(Cluster, "evict", interrupted)
    rollout, _ = _rollout(world, "green")
    with pytest.raises(KeyboardInterrupt):
        rollout.run()
    assert [node for node, patch in kube.patches] == ["blue-1-0", "blue-1-0"]  # cordoned, then uncordoned
    assert not kube.nodes["blue-1-0"].unschedulable
    _assert_capacity_held(kube)


# --- Kubernetes minor-version upgrades: rollout --kubernetes-version --------------------------------------

def _preflight(world, plan_dir: Path, offline: bool = True):
    """upgrade-check's checks on the world's stack file, objects from an offline plan of the shipped stack;
    offline, the live SSM and add-on checks are skipped (moto has no EKS add-on API)."""
    def preflight(version: str) -> list[dict[str, str]]:
        config = validate_stack_text(world["stack"], world["stack_file"].name, world["stack_file"].read_text())
        return check(world["stack"], version, config=config, stack_file=world["stack_file"].name, plan_dir=plan_dir, offline=offline)["findings"]
    return preflight


def _project_values(text: str) -> dict:
    return {k.split(":", 1)[1]: v for k, v in yaml.safe_load(text)["config"].items() if k.startswith(f"{PROJECT}:")}


def test_kubernetes_upgrade_of_dev_rolls_blue_to_green_at_the_new_version(dev_world, dev_plan):
    rollout, out = _rollout(dev_world, "green", version=None, kubernetes_version="1.34", preflight=_preflight(dev_world, dev_plan.out_dir))
    assert rollout.run() == 0, out.getvalue()
    text = out.getvalue()
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("== stage")] == [f"== stage {n}" for n in range(9)]
    deployer, eks, kube = dev_world["deployer"], dev_world["eks"], dev_world["kube"]
    assert deployer.control_plane_moves == [("1.33", "1.34")]
    assert deployer.in_place_version_updates == []  # blue stayed at 1.33 until it was deleted
    assert eks.describe_cluster(name="platform-dev")["cluster"]["version"] == "1.34"
    assert eks.describe_nodegroup(clusterName="platform-dev", nodegroupName=deployer.live["green"])["nodegroup"]["version"] == "1.34"
    assert "blue" not in deployer.live
    config = yaml.safe_load(dev_world["stack_file"].read_text())["config"]
    assert config[f"{PROJECT}:cluster"]["kubernetesVersion"] == "1.34"
    groups = config[f"{PROJECT}:nodeGroups"]
    assert groups["green"]["enabled"] is True and groups["blue"]["enabled"] is False
    assert not any("kubernetesVersion" in group for group in groups.values())  # no per-group pin left
    assert config[f"{PROJECT}:karpenter"]["nodeClass"]["versionFrom"] == "green"
    # stage 1, enable, taint, disable, unpin; stage 2 has nothing to edit (dev pins no add-on)
    assert deployer.commands == ["preview", "up"] * 5
    assert "the EKS add-ons follow the cluster's version" in text
    _assert_capacity_held(kube)
    _assert_serving(dev_world, "green")
    assert RolloutMarker(dev_world["ssm"], "platform-dev").read() is None
    validate_stack_config(_project_values(dev_world["stack_file"].read_text()), "Pulumi.dev.yaml")
    for line in (ROOT / "Pulumi.dev.yaml").read_text().splitlines():  # comments survive
        if line.lstrip().startswith("#"):
            assert line in dev_world["stack_file"].read_text()
    print(f"\nKubernetes upgrade 1.33 -> 1.34, blue->green: {kube.request_count()} Kubernetes API requests, lowest Ready "
          f"{kube.lowest_ready[('shop', 'web')]}/12, {kube.clock.now():.0f} emulated seconds")


def test_kubernetes_upgrade_dry_run_prints_each_stage_diff_and_every_stack_file_validates(tmp_path, dev_plan, monkeypatch):
    """dev 1.33 -> 1.34 with CoreDNS pinned: the stages in order, each with its diff of the stack file as the
    stages before it left it, and each of those files valid (validated by the rollout and again here)."""
    stack_file = tmp_path / "Pulumi.dev.yaml"
    original = (ROOT / "Pulumi.dev.yaml").read_text() + f"\n  {PROJECT}:eksAddons:\n    coredns:\n      version: v1.11.4-eksbuild.1\n"
    stack_file.write_text(original)
    written = []
    validate = validate_stack_text
    monkeypatch.setattr("automation.rollout.validate_stack_text", lambda stack, name, text: written.append(text) or validate(stack, name, text))
    out = io.StringIO()
    rollout = Rollout(stack_file, RolloutRequest("dev", "green", kubernetes_version="1.34", dry_run=True),
                      lambda command: pytest.fail(f"a dry run ran {command}"), None,
                      preflight=_preflight({"stack": "dev", "stack_file": stack_file}, dev_plan.out_dir), out=out)
    assert rollout.run() == 0
    assert stack_file.read_text() == original
    text = out.getvalue()
    sections = {int(part.split(":")[0].split()[0]): part for part in text.split("== stage ")[1:]}
    assert sorted(sections) == list(range(9)) and text.index("== stage 0") < text.index("== stage 1") < text.index("== stage 8")
    assert [n for n, part in sections.items() if "--- a/Pulumi.dev.yaml" in part] == [1, 2, 3, 5, 7, 8]
    assert '-    kubernetesVersion: "1.33"\n+    kubernetesVersion: "1.34"' in sections[1]
    assert "+      kubernetesVersion: \"1.33\"" in sections[1]
    assert "-      version: v1.11.4-eksbuild.1" in sections[2]
    assert "+      kubernetesVersion: \"1.34\"" in sections[3] and "+      versionFrom: green" in sections[3]
    assert "-      kubernetesVersion: \"1.33\"" in sections[8] and "-      kubernetesVersion: \"1.34\"" in sections[8]
    assert len(written) == 6
    configs = [validate_stack_config(_project_values(file), "Pulumi.dev.yaml") for file in written]
    assert configs[0].cluster.kubernetes_version == "1.34" and configs[0].node_groups["blue"].kubernetes_version == "1.33"
    assert configs[1].eks_addons.coredns.version is None
    assert configs[2].node_groups["green"].enabled and configs[2].node_groups["green"].kubernetes_version == "1.34"
    assert configs[-1].cluster.kubernetes_version == "1.34"
    assert all(group.kubernetes_version is None for group in configs[-1].node_groups.values())


def test_a_preflight_blocker_stops_the_upgrade_before_any_change(dev_world, dev_plan):
    """Live pre-flight against moto: no Bottlerocket release parameter for 1.34 is published there."""
    before = dev_world["stack_file"].read_text()
    rollout, out = _rollout(dev_world, "green", version=None, kubernetes_version="1.34",
                            preflight=_preflight(dev_world, dev_plan.out_dir, offline=False))
    with pytest.raises(RolloutError, match=r"pre-flight for Kubernetes 1.34 found \d+ blocker\(s\): .*aws-k8s-1.34/x86_64/latest/image_version"):
        rollout.run()
    assert dev_world["stack_file"].read_text() == before and dev_world["deployer"].commands == []
    assert RolloutMarker(dev_world["ssm"], "platform-dev").read() is None
    assert "BLOCKER bottlerocket" in out.getvalue()


def test_an_upgrade_interrupted_while_the_control_plane_moves_resumes(dev_world, dev_plan):
    deployer = dev_world["deployer"]
    deployer.crash_next_up = True
    crashed, _ = _rollout(dev_world, "green", version=None, kubernetes_version="1.34", preflight=_preflight(dev_world, dev_plan.out_dir))
    with pytest.raises(SystemExit):
        crashed.run()
    assert yaml.safe_load(dev_world["stack_file"].read_text())["config"][f"{PROJECT}:cluster"]["kubernetesVersion"] == "1.34"
    assert dev_world["eks"].describe_cluster(name="platform-dev")["cluster"]["version"] == "1.33"  # file done, live not

    resumed, out = _rollout(dev_world, "green", version=None, kubernetes_version="1.34")  # no pre-flight needed any more
    assert resumed.run() == 0, out.getvalue()
    text = out.getvalue()
    assert "resuming: a rollout blue -> green of stack dev" in text
    assert "the stack file's control plane is at 1.34 already" in text
    assert "the stack file says the control plane is at 1.34, the live state does not: `up` again" in text
    assert deployer.control_plane_moves == [("1.33", "1.34")] and deployer.in_place_version_updates == []
    _assert_serving(dev_world, "green")


def test_a_group_pinned_newer_than_the_requested_version_is_refused():
    document = yaml_round_trip.load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"][f"{PROJECT}:nodeGroups"]["green"]["kubernetesVersion"] = "1.35"
    with pytest.raises(RolloutUsageError, match=r"nodeGroups.green.kubernetesVersion is '1.35', newer than the control plane would be"):
        check_version_request(document, PROJECT, "1.34", "Pulumi.dev.yaml")


def test_an_upgrade_rolled_back_after_the_taint_keeps_blue_at_the_old_version(dev_world, dev_plan):
    """The README's way back: the control plane stays at 1.34 (EKS cannot downgrade), blue serves again at
    its 1.33 pin, within the kubelet skew, and green is drained and deleted."""
    forward, _ = _rollout(dev_world, "green", version=None, kubernetes_version="1.34", preflight=_preflight(dev_world, dev_plan.out_dir),
                          drain_timeout=20)  # shorter than the 30 s grace period: the drain gives up
    with pytest.raises(RolloutError, match="drain timed out"):
        forward.run()
    back, out = _rollout(dev_world, "blue", version=None)
    assert back.run() == 0, out.getvalue()
    groups = _groups(dev_world)
    assert groups["blue"]["enabled"] is True and groups["blue"]["kubernetesVersion"] == "1.33" and "taints" not in groups["blue"]
    assert groups["green"]["enabled"] is False
    deployer = dev_world["deployer"]
    assert deployer.control_plane_moves == [("1.33", "1.34")] and deployer.in_place_version_updates == []
    assert "green" not in deployer.live
    _assert_serving(dev_world, "blue")
    _assert_capacity_held(dev_world["kube"])
    validate_stack_config(_project_values(dev_world["stack_file"].read_text()), "Pulumi.dev.yaml")


def test_command_line_kubernetes_upgrade_dry_run_on_the_shipped_stack():
    result = _cli("rollout", "--stack", "dev", "--to", "green", "--kubernetes-version", "1.34", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "rollout blue -> green at Bottlerocket latest, Kubernetes 1.33 -> 1.34 (dry run)" in result.stdout
    assert [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("== stage")] == [f"== stage {n}" for n in range(9)]
    assert "SKIPPED bottlerocket /aws/service/bottlerocket/aws-k8s-1.34/x86_64/latest/image_version: offline" in result.stdout
    assert "Ready for Kubernetes 1.34 as far as checked offline (2 check(s) skipped: bottlerocket, eks-addons)" in result.stdout
    assert "end of dry run" in result.stdout
    stage_0 = result.stdout.split("== stage 0")[1].split("== stage 1")[0]  # stage 1 pins blue: no warning that it is unpinned
    assert "WARNING" not in stage_0 and "OK node-groups nodeGroups.blue.kubernetesVersion: not set; stage 1 pins it to '1.33'" in stage_0


def test_an_upgrade_whose_blue_green_stages_are_done_only_unpins(tmp_path):
    """A rerun after the source was disabled, before the pins went (a crash in the last stage)."""
    document = yaml_round_trip.load((ROOT / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    config[f"{PROJECT}:cluster"]["kubernetesVersion"] = "1.34"
    groups = config[f"{PROJECT}:nodeGroups"]
    groups["blue"]["enabled"], groups["blue"]["kubernetesVersion"] = False, "1.33"
    groups["green"]["enabled"], groups["green"]["kubernetesVersion"] = True, "1.34"
    config[f"{PROJECT}:karpenter"]["nodeClass"]["versionFrom"] = "green"
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml_round_trip.dump(document, (ROOT / "Pulumi.dev.yaml").read_text()))
    out = io.StringIO()
    rollout = Rollout(stack_file, RolloutRequest("dev", "green", kubernetes_version="1.34", dry_run=True),
                      lambda command: pytest.fail(f"a dry run ran {command}"), None, preflight=lambda version: pytest.fail("no pre-flight"), out=out)
    assert rollout.run() == 0
    text = out.getvalue()
    assert "== stages 3-7: blue/green done: green is enabled" in text
    stage_8 = text.split("== stage 8")[1]
    assert '-      kubernetesVersion: "1.33"' in stage_8 and '-      kubernetesVersion: "1.34"' in stage_8
    assert "--- a/" not in text.split("== stage 8")[0]  # nothing else to edit

    unpinned = remove_redundant_pins(yaml_round_trip.load(stack_file.read_text()), RolloutPlan("green", "green", "", "1.34", project=PROJECT))
    stack_file.write_text(yaml_round_trip.dump(unpinned, stack_file.read_text()))
    done = io.StringIO()
    rollout = Rollout(stack_file, RolloutRequest("dev", "green", kubernetes_version="1.34", dry_run=True), lambda command: 1, None, out=done)
    assert rollout.run() == 0 and "nothing to roll out" in done.getvalue()


def test_a_dry_run_kubernetes_upgrade_makes_no_temporary_file(tmp_path):
    """Each stage's edit is validated as text and the pre-flight plans in memory: nothing goes through a
    temporary file or folder (an audit hook in the process lists any)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result, made = run_listing_temporary_files(["rollout", "--stack", "dev", "--to", "green", "--kubernetes-version", "1.34", "--dry-run"],
                                               temporary)
    assert result.returncode == 0, result.stderr
    assert "== stage 8" in result.stdout and result.stdout.rstrip().endswith("end of dry run: nothing was changed")
    assert made == [] and list(temporary.iterdir()) == []
