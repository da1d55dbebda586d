"""The Automation API driver, with a fake `PulumiCommand` injected through LocalWorkspaceOptions.

The fake records the CLI's argv and answers like the CLI: engine events on the event log for preview/up,
JSON for `stack output`, errors as the CLI's stderr (mapped by the SDK's own create_command_error).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from semver import VersionInfo

from automation.engine import ConfigOverride, EngineRequest, run_engine
from tests.conftest import ROOT

LOCKED = "error: [409] Conflict: Another update is currently in progress."


class FakePulumi(auto.PulumiCommand):
    def __init__(self, changes: dict | None = None, failures: list[str] | None = None, stack_file: Path | None = None):
        # No super().__init__(): it would exec `pulumi version`.
        self.command, self.version = "pulumi", VersionInfo(3, 200, 0)
        self.calls: list[list[str]] = []
        self.changes = changes if changes is not None else {"create": 12}
        self.failures = list(failures or [])
        self.stack_file = stack_file

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        self.calls.append(list(args))
        words = [a for a in args if not a.startswith("--")]
        if words[:2] == ["config", "set"] and self.stack_file:
            with self.stack_file.open("a") as handle:  # the CLI writes config set into the stack file
                handle.write(f"# set {words[2:]}\n")
        if words and words[0] in ("preview", "up", "refresh", "destroy"):
            if self.failures:
                raise auto.errors.create_command_error(CommandResult(stdout="", stderr=self.failures.pop(0), code=255))
            if on_output:
                on_output(f"{words[0]} running")
            log = args[args.index("--event-log") + 1] if "--event-log" in args else None
            if log:
                with open(log, "a") as handle:
                    handle.write(json.dumps({"sequence": 1, "timestamp": 0, "summaryEvent": {
                        "maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": self.changes, "policyPacks": {}}}) + "\n")
                    handle.write(json.dumps({"sequence": 2, "timestamp": 0, "cancelEvent": {}}) + "\n")
            if words[0] != "preview":
                return CommandResult(stdout="", stderr="", code=0)
        if words[:2] == ["stack", "history"]:
            return CommandResult(stdout=json.dumps([{"kind": words[0] if words else "update", "startTime": "2026-11-26T00:00:00.000Z",
                                                      "message": "", "environment": {}, "config": {}, "result": "succeeded",
                                                      "endTime": "2026-11-26T00:01:00.000Z", "version": 1,
                                                      "resourceChanges": self.changes}]), stderr="", code=0)
        if words[:2] == ["stack", "output"]:
            secret = "--show-secrets" in args
            return CommandResult(stdout=json.dumps({"clusterName": "platform-dev", "kubeconfig": "{real}" if secret else "[secret]"}),
                                 stderr="", code=0)
        return CommandResult(stdout="", stderr="", code=0)


@pytest.fixture
def work_dir(tmp_path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _run(request: EngineRequest, fake: FakePulumi, work_dir: Path, **kwargs):
    out, err, sleeps = io.StringIO(), io.StringIO(), []
    code = run_engine(request, pulumi_command=fake, work_dir=work_dir, out=out, err=err, sleep=sleeps.append, **kwargs)
    return code, out.getvalue(), err.getvalue(), sleeps


def _commands(fake: FakePulumi) -> list[str]:
    return [" ".join(a for a in call if not a.startswith("--event-log") and "eventlog" not in a) for call in fake.calls]


def test_preview_streams_and_writes_a_summary(work_dir):
    fake = FakePulumi(changes={"create": 12, "same": 3})
    summary_file = work_dir / "summary.json"
    code, out, _, _ = _run(EngineRequest("preview", ["dev"], diff=True, refresh=True, policy_packs=["policy"], json_file=summary_file), fake, work_dir)
    assert code == 0 and "preview running" in out
    (preview,) = [call for call in fake.calls if call[0] == "preview"]
    assert {"--diff", "--refresh", "--stack", "dev"} <= set(preview) and preview[preview.index("--policy-pack") + 1] == "policy"
    summary = json.loads(summary_file.read_text())
    assert summary["stack"] == "dev" and summary["command"] == "preview" and summary["result"] == "succeeded"
    assert summary["changes"] == {"create": 12, "same": 3} and summary["exitCode"] == 0 and summary["durationSeconds"] >= 0


def test_drift_check_exit_codes(work_dir):
    drift = EngineRequest("preview", ["prod"], expect_no_changes=True)
    assert _run(drift, FakePulumi(changes={"update": 1, "same": 40}), work_dir)[0] == 3
    assert _run(drift, FakePulumi(changes={"same": 41}), work_dir)[0] == 0
    failing = FakePulumi(failures=["error: no changes were expected but changes were proposed"])
    assert _run(drift, failing, work_dir)[0] == 3


def test_up_needs_yes_without_a_terminal(work_dir):
    fake = FakePulumi()
    code, _, err, _ = _run(EngineRequest("up", ["dev"]), fake, work_dir, interactive=False)
    assert code == 2 and "pass --yes" in err and fake.calls == []
    code, _, err, _ = _run(EngineRequest("destroy", ["dev"]), fake, work_dir, interactive=True, confirm=lambda prompt: "n")
    assert code == 2 and "cancelled" in err


def test_up_summary_masks_secret_outputs(work_dir):
    fake = FakePulumi(changes={"create": 97})
    summary_file = work_dir / "up.json"
    code, _, _, _ = _run(EngineRequest("up", ["dev"], yes=True, json_file=summary_file), fake, work_dir)
    assert code == 0
    summary = json.loads(summary_file.read_text())
    assert summary["outputs"] == {"clusterName": "platform-dev", "kubeconfig": "[secret]"}
    assert summary["changes"] == {"create": 97}
    assert any(call[0] == "up" and "--yes" in call and "--skip-preview" in call for call in fake.calls)


def test_locked_stack_is_retried_with_backoff(work_dir):
    fake = FakePulumi(failures=[LOCKED, LOCKED])
    code, _, err, sleeps = _run(EngineRequest("up", ["dev"], yes=True, retries=3, retry_delay_seconds=10), fake, work_dir)
    assert code == 0 and sleeps == [10, 20] and err.count("retrying") == 2
    code, _, err, sleeps = _run(EngineRequest("up", ["dev"], yes=True, retries=2, retry_delay_seconds=1),
                                FakePulumi(failures=[LOCKED, LOCKED, LOCKED]), work_dir)
    assert code == 4 and sleeps == [1, 2] and "still locked" in err


def test_engine_failure_is_exit_1_with_the_cli_message(work_dir):
    fake = FakePulumi(failures=["error: creating EKS Cluster: AccessDeniedException: not authorized"])
    code, _, err, _ = _run(EngineRequest("refresh", ["dev"]), fake, work_dir)
    assert code == 1 and "refresh failed on stack dev" in err and "AccessDeniedException" in err


def test_invalid_config_never_reaches_the_engine(work_dir):
    fake = FakePulumi()
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.desiredSize=99", path=True)])
    code, _, err, _ = _run(request, fake, work_dir)
    assert code == 2 and "nodeGroups.blue.scaling.desiredSize: 99 is outside minSize..maxSize" in err
    assert fake.calls == []


def test_a_bad_override_is_blamed_on_the_flag_not_the_file(work_dir):
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.desiredSize=99", path=True),
                                                           ConfigOverride.parse("region=europe", path=False)])
    code, _, err, _ = _run(request, FakePulumi(), work_dir)
    assert code == 2
    assert "--config-path nodeGroups.blue.scaling.desiredSize: nodeGroups.blue.scaling.desiredSize: 99 is outside" in err
    assert "--config region: region: 'europe' is not a region where EKS is available" in err
    assert "Pulumi.dev.yaml:" not in err


def test_overrides_apply_to_one_run_only(work_dir):
    stack_file = work_dir / "Pulumi.dev.yaml"
    before = stack_file.read_bytes()
    fake = FakePulumi(stack_file=stack_file)
    request = EngineRequest("preview", ["dev"], overrides=[ConfigOverride.parse("nodeGroups.blue.scaling.maxSize=8", path=True),
                                                           ConfigOverride.parse("aws:profile=ci", path=False)])
    assert _run(request, fake, work_dir)[0] == 0
    sets = [call for call in fake.calls if call[:2] == ["config", "set"]]
    assert sets == [
        ["config", "set", "--path", "eks-bottlerocket:nodeGroups.blue.scaling.maxSize", "--plaintext", "--stack", "dev", "--non-interactive", "--", "8"],
        ["config", "set", "aws:profile", "--plaintext", "--stack", "dev", "--non-interactive", "--", "ci"],
    ]
    assert stack_file.read_bytes() == before
    request.save_config = True
    _run(request, FakePulumi(stack_file=stack_file), work_dir)
    assert stack_file.read_bytes() != before


def test_several_stacks_report_the_worst_result(work_dir):
    summary_file = work_dir / "all.json"
    fake = FakePulumi(changes={"update": 2})
    code, _, _, _ = _run(EngineRequest("preview", ["dev", "prod"], expect_no_changes=True, json_file=summary_file), fake, work_dir)
    assert code == 3
    assert [s["stack"] for s in json.loads(summary_file.read_text())["stacks"]] == ["dev", "prod"]


def test_outputs_command(work_dir):
    code, out, _, _ = _run(EngineRequest("outputs", ["dev"]), FakePulumi(), work_dir)
    assert code == 0 and json.loads(out) == {"clusterName": "platform-dev", "kubeconfig": "[secret]"}


def test_without_the_cli_the_commands_say_what_to_install(work_dir, monkeypatch):
    monkeypatch.setenv("PATH", str(work_dir))
    err = io.StringIO()
    code = run_engine(EngineRequest("preview", ["dev"]), work_dir=work_dir, err=err)
    assert code == 1
    assert err.getvalue().strip() == ("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) to run preview; "
                                      "`python -m automation plan` works without it")


def test_help_lists_every_command():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "automation", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    for command in ("plan", "preview", "up", "refresh", "destroy", "outputs", "status", "rollout"):
        assert command in result.stdout, command
    for code in ("0 success", "1 failure", "2 invalid", "3 changes", "4 stack still locked"):
        assert code in result.stdout.replace("\n", " ")


def test_ci_workflow_uses_oidc_and_the_documented_commands():
    import yaml

    text = (ROOT / ".github" / "workflows" / "infrastructure.yml").read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"]["id-token"] == "write"
    assert {"test", "preview", "deploy-dev", "deploy-prod", "drift"} <= set(workflow["jobs"])
    assert workflow["jobs"]["deploy-prod"]["environment"] == "production" and workflow["jobs"]["deploy-prod"]["needs"] == "deploy-dev"
    assert "--expect-no-changes" in text and "make test" in text
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "PULUMI_ACCESS_TOKEN"):
        assert forbidden not in text


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the Pulumi CLI on PATH (absent here)")
def test_real_cli_selects_a_stack_in_a_local_backend(work_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    stack = auto.create_or_select_stack("dev", work_dir=str(work_dir))
    assert stack.name == "dev"
