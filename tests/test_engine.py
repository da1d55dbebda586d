"""The Automation API driver against a fake Pulumi CLI on PATH (tests/fake_pulumi.py).

The SDK runs the fake as it runs the CLI: `pulumi version`, then each command as a process; engine events
come back over the gRPC event stream (CLI > 3.205) or the file event log (older CLIs), over time.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from automation.engine import ConfigOverride, EngineRequest, keep_cli_owned_keys, run_engine
from tests.conftest import PROJECT, ROOT

LOCKED = "error: [409] Conflict: Another update is currently in progress."
URN = "urn:pulumi:{stack}::" + PROJECT + "::{type}::{name}"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def node_group(stack: str, name: str, op: str, **extra) -> dict:
    return {"urn": URN.format(stack=stack, type=f"eks-bottlerocket:index:BottlerocketNodeGroup${NODE_GROUP}", name=name),
            "type": NODE_GROUP, "op": op, **extra}


def bucket(stack: str, op: str = "same", **extra) -> dict:
    return {"urn": URN.format(stack=stack, type="aws:s3/bucketV2:BucketV2", name="logs"), "type": "aws:s3/bucketV2:BucketV2",
            "op": op, **extra}


@pytest.fixture
def work_dir(tmp_path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _run(request: EngineRequest, work_dir: Path, **kwargs) -> tuple[int, str, str, list[float]]:
    out, err, sleeps = io.StringIO(), io.StringIO(), []
    code = run_engine(request, work_dir=work_dir, out=out, err=err, sleep=sleeps.append, **kwargs)
    return code, out.getvalue(), err.getvalue(), sleeps


@pytest.mark.parametrize("version, transport", [("3.200.0", "file"), ("3.205.0", "file"), ("3.206.0", "grpc"), (None, "grpc")])
def test_preview_events_arrive_on_every_cli_generation(fake_pulumi, work_dir, version, transport):
    """CLIs newer than 3.205 stream events over gRPC; older ones write the event log file. Both reach the summary."""
    if version:
        fake_pulumi.state["version"] = version
    update = node_group("dev", "blue", "update", detailedDiff={"scalingConfig.desiredSize": {"diffKind": "update", "inputDiff": True}},
                        new={"inputs": {"scalingConfig": {"desiredSize": 3}}})
    fake_pulumi.state["operations"]["preview"] = {"resources": [bucket("dev"), update]}
    fake_pulumi.save()
    summary_file = work_dir / "summary.json"
    code, out, err, _ = _run(EngineRequest("preview", ["dev"], diff=True, refresh=True, policy_packs=["policy"], json_file=summary_file), work_dir)
    assert code == 0, err
    assert "Previewing preview (dev)" in out and f"update {NODE_GROUP} blue" in out
    (preview,) = [call for call in fake_pulumi.calls() if call[0] == "preview"]
    event_log = preview[preview.index("--event-log") + 1]
    assert event_log.startswith("tcp://127.0.0.1:") if transport == "grpc" else event_log.endswith("eventlog.txt")
    assert {"--diff", "--refresh", "--stack", "dev"} <= set(preview) and preview[preview.index("--policy-pack") + 1] == "policy"
    summary = json.loads(summary_file.read_text())
    assert summary["changes"] == {"same": 1, "update": 1} and summary["result"] == "succeeded" and summary["exitCode"] == 0
    assert summary["resources"] == [{"urn": update["urn"], "type": NODE_GROUP, "name": "blue", "op": "update",
                                     "properties": ["scalingConfig.desiredSize"]}]
    assert len(summary["planHash"]) == 64


def _drift_scenario(fake_pulumi, *, drifted: bool) -> dict:
    live_edit = node_group("prod", "blue", "update" if drifted else "same",
                           detailedDiff={"scalingConfig.desiredSize": {"diffKind": "update"}} if drifted else {},
                           old={"inputs": {"scalingConfig": {"desiredSize": 3}}, "outputs": {"scalingConfig": {"desiredSize": 3}}},
                           new={"outputs": {"scalingConfig": {"desiredSize": 5 if drifted else 3}}})
    fake_pulumi.state["operations"]["refresh"] = {"resources": [bucket("prod"), live_edit]}
    # The tracking group's `latest` moved: the program asks for it, a preview shows it, the refresh does not.
    fake_pulumi.state["operations"]["preview"] = {"resources": [
        bucket("prod"), node_group("prod", "green", "update", detailedDiff={"releaseVersion": {"diffKind": "update", "inputDiff": True}},
                                   new={"inputs": {"releaseVersion": "1.55.0-0a1b2c3d"}})]}
    fake_pulumi.save()
    return live_edit


def test_drift_refreshes_without_the_program_and_lists_drifted_resources(fake_pulumi, work_dir):
    live_edit = _drift_scenario(fake_pulumi, drifted=True)
    summary_file = work_dir / "drift.json"
    code, out, _, _ = _run(EngineRequest("drift", ["prod"], json_file=summary_file), work_dir)
    assert code == 3
    refresh = [call for call in fake_pulumi.calls() if call[0] == "refresh"]
    assert len(refresh) == 1 and {"--preview-only", "--expect-no-changes"} <= set(refresh[0])
    assert "up" not in fake_pulumi.commands() and "stack init" not in fake_pulumi.commands()
    summary = json.loads(summary_file.read_text())
    assert summary["result"] == "changes" and summary["changes"] == {"same": 1, "update": 1}
    assert summary["drift"] == [{"urn": live_edit["urn"], "type": NODE_GROUP, "name": "blue", "op": "update",
                                 "properties": ["scalingConfig.desiredSize"]}]
    assert [(u["name"], u["properties"]) for u in summary["updatesAvailable"]] == [("green", ["releaseVersion"])]
    assert "drift on stack prod: 1 resource(s)" in out and "updates available" in out


def test_updates_the_stack_asked_for_are_not_drift(fake_pulumi, work_dir):
    _drift_scenario(fake_pulumi, drifted=False)
    summary_file = work_dir / "drift.json"
    code, out, _, _ = _run(EngineRequest("drift", ["prod"], json_file=summary_file), work_dir)
    summary = json.loads(summary_file.read_text())
    assert code == 0 and summary["drift"] == [] and summary["updatesAvailable"][0]["name"] == "green"
    assert "no drift on stack prod" in out


def test_drift_in_an_ignored_property_is_drift(fake_pulumi, work_dir):
    """prod freezes releaseVersion (ignoreChanges): the engine's refresh diff skips it, the live value moved anyway."""
    frozen = node_group("prod", "blue", "same", old={"inputs": {"releaseVersion": "1.54.0-5043decc"},
                                                     "outputs": {"releaseVersion": "1.54.0-5043decc"}},
                        new={"outputs": {"releaseVersion": "1.56.0-1a2b3c4d"}})
    fake_pulumi.state["operations"]["refresh"] = {"resources": [frozen]}
    fake_pulumi.save()
    summary_file = work_dir / "drift.json"
    code, out, _, _ = _run(EngineRequest("drift", ["prod"], json_file=summary_file), work_dir)
    assert code == 3
    assert json.loads(summary_file.read_text())["drift"] == [{"urn": frozen["urn"], "type": NODE_GROUP, "name": "blue", "op": "same",
                                                             "properties": [], "ignoredProperties": ["releaseVersion"]}]
    assert "releaseVersion (ignored by the program)" in out


@pytest.mark.parametrize("command", ["up", "preview", "destroy", "refresh", "drift", "outputs"])
@pytest.mark.parametrize("backend, where", [("https://api.pulumi.com", "organization acme on backend https://api.pulumi.com"),
                                            ("file:///srv/state", "organization organization on backend file:///srv/state")])
def test_a_missing_stack_is_never_created(fake_pulumi, work_dir, command, backend, where):
    fake_pulumi.state["backend"] = backend
    del fake_pulumi.state["stacks"]["prod"]
    fake_pulumi.save()
    before = (work_dir / "Pulumi.prod.yaml").read_bytes()
    code, _, err, _ = _run(EngineRequest(command, ["prod"], yes=True), work_dir)
    assert code == 2
    assert err.startswith(f"stack prod does not exist in {where}; nothing was created")
    assert "python -m automation init --stack prod" in err
    assert "stack init" not in fake_pulumi.commands() and "prod" not in fake_pulumi.load()["stacks"]
    assert (work_dir / "Pulumi.prod.yaml").read_bytes() == before


def test_init_creates_the_stack_once(fake_pulumi, work_dir):
    fake_pulumi.state["backend"] = "file:///srv/state"
    del fake_pulumi.state["stacks"]["prod"]
    fake_pulumi.save()
    code, out, _, _ = _run(EngineRequest("init", ["prod"]), work_dir)
    assert code == 0 and "created stack prod in organization organization on backend file:///srv/state" in out
    assert "encryptionsalt" in yaml.safe_load((work_dir / "Pulumi.prod.yaml").read_text())
    code, _, err, _ = _run(EngineRequest("init", ["prod"]), work_dir)
    assert code == 2 and err.startswith("stack prod already exists in organization organization")


@pytest.mark.parametrize("args", [["init", "--stack", "../x"], ["preview", "--stack", "../dev"], ["outputs", "--stack", "a b"]])
def test_a_bad_stack_name_reaches_no_cli(fake_pulumi, args, capsys):
    """The name is checked before anything else: the CLI is never asked (it would create `../x`)."""
    from automation.__main__ import main

    fake_pulumi.save()
    assert main(args) == 2
    assert capsys.readouterr().err.startswith(f"{args[0]}: --stack {args[2]!r}: a stack name has")
    assert fake_pulumi.calls() == [] and "../x" not in fake_pulumi.load()["stacks"]


def test_a_run_without_overrides_leaves_the_stack_file_as_the_cli_wrote_it(fake_pulumi, work_dir):
    fake_pulumi.state["backend"] = "file:///srv/state"
    del fake_pulumi.state["stacks"]["dev"]
    fake_pulumi.save()
    assert _run(EngineRequest("init", ["dev"]), work_dir)[0] == 0
    written = (work_dir / "Pulumi.dev.yaml").read_bytes()
    assert b"encryptionsalt" in written
    assert _run(EngineRequest("preview", ["dev"]), work_dir)[0] == 0
    assert (work_dir / "Pulumi.dev.yaml").read_bytes() == written
    assert "config set-all" not in fake_pulumi.commands() and "config set" not in fake_pulumi.commands()


def test_overrides_reach_the_engine_typed_and_apply_to_one_run(fake_pulumi, work_dir):
    stack_file = work_dir / "Pulumi.dev.yaml"
    before = stack_file.read_bytes()
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.maxSize=8", path=True),
                                                           ConfigOverride.parse("nodeGroups.blue.capacityType=SPOT", path=True),
                                                           ConfigOverride.parse("aws:profile=ci", path=False)])
    code, _, err, _ = _run(request, work_dir)
    assert code == 0, err
    (set_all,) = [call for call in fake_pulumi.calls() if call[:2] == ["config", "set-all"]]
    payload = json.loads(set_all[set_all.index("--json") + 1])
    assert set(payload) == {f"{PROJECT}:nodeGroups", "aws:profile"}
    groups = payload[f"{PROJECT}:nodeGroups"]["objectValue"]
    original = yaml.safe_load(before)["config"][f"{PROJECT}:nodeGroups"]
    assert groups["blue"]["scaling"]["maxSize"] == 8 and groups["blue"]["capacityType"] == "SPOT"
    assert {**groups, "blue": original["blue"]} == original and {**groups["blue"]["scaling"], "maxSize": original["blue"]["scaling"]["maxSize"]} == original["blue"]["scaling"]
    assert json.loads(payload[f"{PROJECT}:nodeGroups"]["value"]) == groups
    assert payload["aws:profile"] == {"value": "ci", "secret": False}
    # The CLI rewrote the whole file for set-all; the run put back every byte.
    assert stack_file.read_bytes() == before
    calls = fake_pulumi.commands()
    assert calls.index("config set-all") < calls.index("preview")


def test_restoring_keeps_the_salt_the_cli_wrote_during_the_run(fake_pulumi, work_dir):
    fake_pulumi.state["backend"] = "file:///srv/state"
    fake_pulumi.save()
    stack_file = work_dir / "Pulumi.dev.yaml"
    before = stack_file.read_text()
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.maxSize=8", path=True)])
    assert _run(request, work_dir)[0] == 0
    after = stack_file.read_text()
    salt = fake_pulumi.state["stacks"]["dev"]["salt"]
    assert after.replace(f"encryptionsalt: {salt}\n", "") == before and f"encryptionsalt: {salt}\n" in after
    assert yaml.safe_load(after)["config"] == yaml.safe_load(before)["config"]


def test_keep_cli_owned_keys_replaces_a_changed_salt_in_place():
    snapshot = b"# comment\nencryptionsalt: v1:old\nconfig:\n  a: 1  # kept\n"
    current = b"encryptionsalt: v1:new\nconfig:\n  a: 2\n"
    assert keep_cli_owned_keys(snapshot, current) == b"# comment\nencryptionsalt: v1:new\nconfig:\n  a: 1  # kept\n"
    assert keep_cli_owned_keys(snapshot, snapshot) == snapshot


def test_save_config_keeps_the_overrides(fake_pulumi, work_dir):
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.maxSize=8", path=True)],
                            save_config=True)
    assert _run(request, work_dir)[0] == 0
    saved = yaml.safe_load((work_dir / "Pulumi.dev.yaml").read_text())["config"][f"{PROJECT}:nodeGroups"]
    assert saved["blue"]["scaling"]["maxSize"] == 8


def test_invalid_config_never_reaches_the_engine(fake_pulumi, work_dir):
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.desiredSize=99", path=True)])
    code, _, err, _ = _run(request, work_dir)
    assert code == 2 and "nodeGroups.blue.scaling.desiredSize: 99 is outside minSize..maxSize" in err
    assert fake_pulumi.calls() == []


def test_a_bad_override_is_blamed_on_the_flag_not_the_file(fake_pulumi, work_dir):
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.desiredSize=99", path=True),
                                                           ConfigOverride.parse("region=europe", path=False)])
    code, _, err, _ = _run(request, work_dir)
    assert code == 2
    assert "\n--config-path nodeGroups.blue.scaling.desiredSize: 99 is outside" in err  # the key once, in the flag
    assert "\n--config region: 'europe' is not a region where EKS is available" in err
    assert "Pulumi.dev.yaml:" not in err
    assert fake_pulumi.calls() == []


def test_a_string_where_a_map_belongs_is_refused_in_the_stack_files_words(fake_pulumi, work_dir):
    """--config sets a string: `cluster={...}` is text, refused as the stack file's `cluster: text` is, not with pydantic's class name."""
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse('cluster={"name":"x"}', path=False)])
    code, _, err, _ = _run(request, work_dir)
    assert code == 2 and err.splitlines()[1] == """--config cluster: must be a map of keys to values; it is '{"name":"x"}'"""
    assert "ClusterConfig" not in err and fake_pulumi.calls() == []


def test_the_engine_commands_explain_aws_region_too(fake_pulumi, work_dir):
    stack_file = work_dir / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace(f"{PROJECT}:region:", "aws:region:"))
    code, _, err, _ = _run(EngineRequest("preview", ["dev"]), work_dir)
    assert code == 2 and f"this program reads {PROJECT}:region and passes it to its own AWS provider" in err, err
    assert fake_pulumi.calls() == []


@pytest.mark.parametrize("command, heading", [("up", "1 problem in the stack configuration; nothing was deployed:"),
                                              ("destroy", "1 problem in the stack configuration; nothing was destroyed:"),
                                              ("preview", "1 problem in the stack configuration:"),
                                              ("drift", "1 problem in the stack configuration:")])
def test_only_a_command_that_changes_something_says_what_it_did_not_do(fake_pulumi, work_dir, command, heading):
    request = EngineRequest(command, ["dev"], yes=True,
                            overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.maxSize=eight", path=True)] if command != "drift" else [])
    if command == "drift":  # drift takes no overrides: the stack file itself is invalid
        stack_file = work_dir / "Pulumi.dev.yaml"
        stack_file.write_text(stack_file.read_text().replace("name: platform-dev", "name: [platform-dev]"))
    code, _, err, _ = _run(request, work_dir)
    assert code == 2 and err.splitlines()[0] == heading, err


def test_a_string_where_a_number_belongs_is_refused_as_validated(fake_pulumi, work_dir):
    """`--config-path` values are YAML scalars: "eight" stays a string, and the model refuses it before the engine runs."""
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.maxSize=eight", path=True)])
    code, _, err, _ = _run(request, work_dir)
    assert code == 2 and "nodeGroups.blue.scaling.maxSize" in err and fake_pulumi.calls() == []


def test_up_needs_yes_without_a_terminal(fake_pulumi, work_dir):
    code, _, err, _ = _run(EngineRequest("up", ["dev"]), work_dir, interactive=False)
    assert code == 2 and "pass --yes" in err and fake_pulumi.calls() == []
    code, _, err, _ = _run(EngineRequest("destroy", ["dev"]), work_dir, interactive=True, confirm=lambda prompt: "n")
    assert code == 2 and "cancelled" in err


def test_up_summary_masks_secret_outputs(fake_pulumi, work_dir):
    fake_pulumi.state["stacks"]["dev"]["outputs"] = {"clusterName": {"value": "platform-dev"}, "kubeconfig": {"value": "{real}", "secret": True}}
    fake_pulumi.state["operations"]["up"] = {"resources": [bucket("dev", "create")]}
    fake_pulumi.save()
    summary_file = work_dir / "up.json"
    code, _, err, _ = _run(EngineRequest("up", ["dev"], yes=True, json_file=summary_file), work_dir)
    assert code == 0, err
    summary = json.loads(summary_file.read_text())
    assert summary["outputs"] == {"clusterName": "platform-dev", "kubeconfig": "[secret]"} and summary["changes"] == {"create": 1}
    (up,) = [call for call in fake_pulumi.calls() if call[0] == "up"]
    assert "--yes" in up and "--skip-preview" in up


def test_up_refuses_when_the_plan_moved_since_the_approved_preview(fake_pulumi, work_dir):
    fake_pulumi.state["operations"]["preview"] = {"resources": [node_group("prod", "blue", "update", detailedDiff={
        "scalingConfig.desiredSize": {"diffKind": "update"}}, new={"inputs": {"scalingConfig": {"desiredSize": 4}}})]}
    fake_pulumi.save()
    approved = work_dir / "preview-prod.json"
    assert _run(EngineRequest("preview", ["prod"], json_file=approved), work_dir)[0] == 0
    assert _run(EngineRequest("up", ["prod"], yes=True, approved_preview=approved), work_dir)[0] == 0
    assert fake_pulumi.commands().count("up") == 1

    fake_pulumi.load()["operations"]["preview"]["resources"][0]["new"]["inputs"]["scalingConfig"]["desiredSize"] = 10
    fake_pulumi.save()
    code, _, err, _ = _run(EngineRequest("up", ["prod"], yes=True, approved_preview=approved), work_dir)
    assert code == 3 and "the plan changed since the approved preview" in err
    assert fake_pulumi.commands().count("up") == 1


def test_an_approved_preview_of_another_stack_is_refused(fake_pulumi, work_dir):
    approved = work_dir / "preview-dev.json"
    assert _run(EngineRequest("preview", ["dev"], json_file=approved), work_dir)[0] == 0
    code, _, err, _ = _run(EngineRequest("up", ["prod"], yes=True, approved_preview=approved), work_dir)
    assert code == 2 and "is a preview of stack dev, not prod" in err and "up" not in fake_pulumi.commands()


def test_locked_stack_is_retried_with_backoff(fake_pulumi, work_dir):
    fake_pulumi.state["failures"]["up"] = [LOCKED, LOCKED]
    fake_pulumi.save()
    code, _, err, sleeps = _run(EngineRequest("up", ["dev"], yes=True, retries=3, retry_delay_seconds=10), work_dir)
    assert code == 0 and sleeps == [10, 20] and err.count("retrying") == 2
    fake_pulumi.load()["failures"]["up"] = [LOCKED, LOCKED, LOCKED]
    fake_pulumi.save()
    code, _, err, sleeps = _run(EngineRequest("up", ["dev"], yes=True, retries=2, retry_delay_seconds=1), work_dir)
    assert code == 4 and sleeps == [1, 2] and "still locked" in err


def test_engine_failure_is_exit_1_with_the_cli_message(fake_pulumi, work_dir):
    fake_pulumi.state["failures"]["refresh"] = ["error: creating EKS Cluster: AccessDeniedException: not authorized"]
    fake_pulumi.save()
    code, _, err, _ = _run(EngineRequest("refresh", ["dev"]), work_dir)
    assert code == 1 and "refresh failed on stack dev" in err and "AccessDeniedException" in err


def test_expect_no_changes_reports_the_changes(fake_pulumi, work_dir):
    fake_pulumi.state["operations"]["preview"] = {"resources": [bucket("prod", "update", diffs=["tags"])]}
    fake_pulumi.save()
    summary_file = work_dir / "all.json"
    code, _, _, _ = _run(EngineRequest("preview", ["dev", "prod"], expect_no_changes=True, json_file=summary_file), work_dir)
    assert code == 3
    stacks = json.loads(summary_file.read_text())["stacks"]
    assert [s["stack"] for s in stacks] == ["dev", "prod"]
    assert stacks[1]["changes"] == {"update": 1} and stacks[1]["resources"][0]["properties"] == ["tags"]


def test_outputs_command(fake_pulumi, work_dir):
    fake_pulumi.state["stacks"]["dev"]["outputs"] = {"clusterName": {"value": "platform-dev"}, "kubeconfig": {"value": "{}", "secret": True}}
    fake_pulumi.save()
    code, out, _, _ = _run(EngineRequest("outputs", ["dev"]), work_dir)
    assert code == 0 and json.loads(out) == {"clusterName": "platform-dev", "kubeconfig": "[secret]"}


def test_without_the_cli_the_commands_say_what_to_install(work_dir, monkeypatch):
    monkeypatch.setenv("PATH", str(work_dir))
    err = io.StringIO()
    code = run_engine(EngineRequest("preview", ["dev"]), work_dir=work_dir, err=err)
    assert code == 1
    assert err.getvalue().strip() == ("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) to run preview; "
                                      "`python -m automation plan` works without it")


def test_the_command_line_drives_the_fake_cli(fake_pulumi, tmp_path):
    """The whole path a CI job takes: `python -m automation drift` as a process, the fake CLI on PATH."""
    _drift_scenario(fake_pulumi, drifted=True)
    result = subprocess.run([sys.executable, "-m", "automation", "drift", "--stack", "prod", "--json", str(tmp_path / "d.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 3, result.stderr
    assert json.loads((tmp_path / "d.json").read_text())["drift"][0]["name"] == "blue"


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the real Pulumi CLI on PATH (absent here; CI installs the pinned one)")
def test_real_cli_never_creates_then_inits_and_reads_a_stack_in_a_local_backend(work_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    assert _run(EngineRequest("preview", ["dev"]), work_dir)[0] == 2  # missing: never created
    assert _run(EngineRequest("init", ["dev"]), work_dir)[0] == 0
    written = (work_dir / "Pulumi.dev.yaml").read_bytes()
    assert b"encryptionsalt" in written
    code, _, err, _ = _run(EngineRequest("outputs", ["dev"]), work_dir)
    assert code == 0, err
    assert (work_dir / "Pulumi.dev.yaml").read_bytes() == written


def _outputs_event(resource: dict, planning: bool = True):
    from pulumi.automation import EngineEvent

    metadata = {"op": resource["op"], "urn": resource["urn"], "type": resource["type"], "provider": "",
                **{key: resource[key] for key in ("detailedDiff", "diffs") if key in resource},
                **{side: {"type": resource["type"], "urn": resource["urn"], **resource[side]} for side in ("old", "new") if side in resource}}
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resOutputsEvent": {"metadata": metadata, "planning": planning}})


def test_outputs_that_moved_count_only_in_a_refresh():
    """A preview's "same" step may carry other outputs than the state (they are not read yet); only a refresh reads them."""
    from automation.engine import EventLog

    moved = node_group("prod", "blue", "same", old={"inputs": {"releaseVersion": "1.54.0-5043decc"}, "outputs": {"releaseVersion": "1.54.0-5043decc"}},
                       new={"outputs": {}})
    preview, refresh = EventLog(), EventLog(refresh=True)
    preview(_outputs_event(moved))
    refresh(_outputs_event(moved))
    assert preview.changed() == [] and refresh.changed()[0]["ignoredProperties"] == ["releaseVersion"]


def test_the_plan_hash_follows_planned_values_not_event_order():
    from automation.engine import EventLog

    first = node_group("prod", "blue", "update", detailedDiff={"scalingConfig.desiredSize": {"diffKind": "update"}},
                       new={"inputs": {"scalingConfig": {"desiredSize": 4}}})
    second = bucket("prod", "update", diffs=["tags"], new={"inputs": {"tags": {"team": "platform"}}})
    one, other, moved = EventLog(), EventLog(), EventLog()
    for log, order in ((one, [first, second]), (other, [second, first])):
        for resource in order:
            log(_outputs_event(resource))
    moved(_outputs_event({**first, "new": {"inputs": {"scalingConfig": {"desiredSize": 5}}}}))
    moved(_outputs_event(second))
    assert one.plan_hash() == other.plan_hash() != moved.plan_hash()


@pytest.mark.parametrize("override", ["workloadSecrets.orders-worker.API_TOKEN=plain", "workloadSecrets={}"])
def test_keys_holding_secrets_are_not_overridden_in_plain_text(fake_pulumi, work_dir, override):
    stack_file = work_dir / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"][f"{PROJECT}:workloadSecrets"] = {"orders-worker": {"API_TOKEN": {"secure": "v1:AAAAAAAAAAAA:Y2lwaGVy"}}}
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    path = "." in override.split("=")[0]
    code, _, err, _ = _run(EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse(override, path=path)]), work_dir)
    assert code == 2 and f"{PROJECT}:workloadSecrets holds encrypted values" in err
    assert fake_pulumi.calls() == []
