"""Every command's error paths, run as a user runs them (`python -m automation ...` in a process): one line on
stderr, no traceback, and an exit code the command's --help documents. Help texts list exactly each
command's flags and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from automation.__main__ import EXIT_CODES, exit_code_text, main
from tests.conftest import ROOT

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once
COMMANDS = sorted(EXIT_CODES)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch, capsys) -> Callable[..., Result]:
    """The command line in this process (the same `main` a process runs), with its own environment."""

    def run_command(args: list[str], env: dict[str, str] | None = None) -> Result:
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            patch.chdir(ROOT)
            try:
                code = main(list(args))
            except SystemExit as done:  # --help
                code = done.code
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run_command


def run_process(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automation", *args], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def assert_one_line(result: Result | subprocess.CompletedProcess, command: str | None, code: int, starts: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(starts), result.stderr
    assert result.returncode == code, result.stderr
    if command:
        assert code in EXIT_CODES[command]


@pytest.fixture
def no_kubeconfig(tmp_path) -> dict[str, str]:
    return {"KUBECONFIG": str(tmp_path / "absent"), "HOME": str(tmp_path)}


@pytest.fixture
def aws_env() -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": UNREACHABLE, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_MAX_ATTEMPTS": "1"}


def kubeconfig(path: Path, server: str) -> str:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    return str(path)


@pytest.mark.parametrize("args, command, code, starts", [
    ([], None, 2, "python -m automation: the following arguments are required: COMMAND"),
    (["deploy"], None, 2, "python -m automation: argument COMMAND: invalid choice: 'deploy'"),
    (["plan"], "plan", 2, "python -m automation plan: the following arguments are required: --stack"),
    (["plan", "--stack", "nope"], "plan", 2, "Pulumi.nope.yaml: file not found"),
    (["status", "--stack", "nope"], "status", 2, "Pulumi.nope.yaml: file not found"),
    (["status", "--stack", "prod", "--json", "extra"], None, 2, "python -m automation: unrecognized arguments: extra"),
    (["simulate", "--stack", "prod", "--plot", "missing-folder/plot.png"], "simulate", 2,
     "python -m automation simulate: argument --plot: folder missing-folder does not exist"),
    (["simulate", "--stack", "prod", "--workload", "nope"], "simulate", 2, "simulate: --workload: stack prod has no workload named 'nope'"),
    (["simulate", "--stack", "prod", "--messages", "many"], "simulate", 2,
     "python -m automation simulate: argument --messages: invalid int value: 'many'"),
    (["preview", "--stack", "nope"], "preview", 2, "Pulumi.nope.yaml: file not found"),
    (["preview", "--stack", "dev", "--config", "novalue"], "preview", 2, "--config: 'novalue': expected key=value"),
    (["preview", "--stack", "dev", "--config-path", "x"], "preview", 2, "--config-path: 'x': expected key=value"),
    (["preview", "--stack", "dev", "--json", "missing-folder/p.json"], "preview", 2,
     "python -m automation preview: argument --json: folder missing-folder does not exist"),
    (["up", "--stack", "dev"], "up", 2, "up changes infrastructure: pass --yes in non-interactive runs"),
    (["outputs", "--stack", "dev", "--save-config"], None, 2, "python -m automation: unrecognized arguments: --save-config"),
    (["refresh", "--stack", "dev", "--expect-no-changes"], None, 2, "python -m automation: unrecognized arguments: --expect-no-changes"),
    (["destroy", "--stack", "dev", "--expect-no-changes"], None, 2, "python -m automation: unrecognized arguments: --expect-no-changes"),
    (["node-logs", "--stack", "prod", "--node", "n1", "--out", "missing-folder/logs.tgz"], "node-logs", 2,
     "python -m automation node-logs: argument --out: folder missing-folder does not exist"),
    (["preview", "--stack", "../dev"], "preview", 2, "preview: --stack '../dev': a stack name has 1 to 100 letters"),
    (["init", "--stack", "a b"], "init", 2, "init: --stack 'a b': a stack name has 1 to 100 letters"),
    (["outputs", "--stack", "acme/eks/dev/x"], "outputs", 2, "outputs: --stack 'acme/eks/dev/x': a stack name has 1 to 100 letters"),
    (["drift", "--stack", "dev", "--stack", "acme/../dev"], "drift", 2, "drift: --stack 'acme/../dev': a stack name has"),
    (["status", "--stack", "../prod"], "status", 2, "status: --stack '../prod': a stack name has 1 to 100 letters"),
    (["rollout-guard", "--stack", "a/b"], "rollout-guard", 2, "rollout-guard: --stack 'a/b': a stack name has 1 to 100 letters"),
    (["status", "--stack", "a: b"], "status", 2, "status: --stack 'a: b': a stack name has 1 to 100 letters"),
    (["up", "--stack", "dev", "--yes", "--retries", "-1"], "up", 2, "python -m automation up: argument --retries: must be 0 or more (got -1)"),
    (["preview", "--stack", "dev", "--retry-delay", "-1"], "preview", 2,
     "python -m automation preview: argument --retry-delay: must be a number of seconds, 0 or more (got '-1')"),
    (["preview", "--stack", "dev", "--retry-delay", "nan"], "preview", 2,
     "python -m automation preview: argument --retry-delay: must be a number of seconds, 0 or more (got 'nan')"),
    (["refresh", "--stack", "dev", "--retry-delay", "inf"], "refresh", 2,
     "python -m automation refresh: argument --retry-delay: must be a number of seconds, 0 or more (got 'inf')"),
    (["rollout", "--stack", "dev", "--to", "green", "--dry-run", "--wait-timeout", "-5"], "rollout", 2,
     "python -m automation rollout: argument --wait-timeout: must be a number of seconds, above 0 (got '-5')"),
    (["rollout", "--stack", "dev", "--to", "green", "--dry-run", "--drain-timeout", "0"], "rollout", 2,
     "python -m automation rollout: argument --drain-timeout: must be a number of seconds, above 0 (got '0')"),
])
def test_usage_and_input_errors(run, args, command, code, starts):
    assert_one_line(run(args), command, code, starts)


def test_status_with_aws_unreachable(run, aws_env):
    assert_one_line(run(["status", "--stack", "prod"], aws_env), "status", 1, "cannot read cluster platform-prod in eu-west-1:")


@pytest.mark.parametrize("command", [["rollout", "--stack", "prod", "--to", "green"], ["node-logs", "--stack", "prod", "--node", "n1"]])
def test_kubernetes_commands_without_a_kubeconfig(run, command, no_kubeconfig, aws_env):
    assert_one_line(run(command, {**no_kubeconfig, **aws_env}), command[0], 2, f"{command[0]}: kubeconfig ")


@pytest.mark.parametrize("command", [["rollout", "--stack", "prod", "--to", "green"], ["node-logs", "--stack", "prod", "--node", "n1"]])
def test_kubernetes_commands_with_a_broken_kubeconfig(run, command, tmp_path, aws_env):
    broken = tmp_path / "config"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: [}\n")
    assert_one_line(run([*command, "--kubeconfig", str(broken)], aws_env), command[0], 2, f"{command[0]}: kubeconfig {broken}: ")


def test_node_logs_with_aws_unreachable(run, tmp_path, aws_env):
    """The kube context is checked against DescribeCluster first (an unreachable API server behind a matching
    endpoint: tests/test_rollout.py, test_wrong_cluster_missing_kubeconfig_and_unreachable_server_exit_2_...)."""
    config = kubeconfig(tmp_path / "config", "https://127.0.0.1:9")
    result = run(["node-logs", "--stack", "prod", "--node", "n1", "--kubeconfig", config], aws_env)
    assert_one_line(result, "node-logs", 1, "node-logs: cannot describe EKS cluster platform-prod: ")


@pytest.mark.parametrize("command", [["rollout", "--stack", "prod", "--to", "green", "--yes"], ["node-logs", "--stack", "prod", "--node", "n1"]])
def test_an_aws_failure_under_the_kube_context_check_exits_1_as_status_does(run, command, tmp_path, monkeypatch):
    """No credentials, and (moto) no such cluster: the README's exit-code table counts AWS failures as 1."""
    config = kubeconfig(tmp_path / "config", "https://127.0.0.1:9")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    no_credentials = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                      "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": UNREACHABLE}
    assert_one_line(run([*command, "--kubeconfig", config], no_credentials), command[0], 1,
                    f"{command[0]}: cannot describe EKS cluster platform-prod: Unable to locate credentials")
    assert_one_line(run(["status", "--stack", "prod"], no_credentials), "status", 1, "cannot read cluster platform-prod")


@pytest.mark.parametrize("command", [["rollout", "--stack", "prod", "--to", "green", "--yes"], ["node-logs", "--stack", "prod", "--node", "n1"]])
def test_a_cluster_aws_does_not_have_exits_1(run, command, tmp_path, aws):
    config = kubeconfig(tmp_path / "config", "https://127.0.0.1:9")
    assert_one_line(run([*command, "--kubeconfig", config]), command[0], 1, f"{command[0]}: cannot describe EKS cluster platform-prod: ")


def test_a_process_prints_one_line_and_with_debug_the_traceback(no_kubeconfig, aws_env):
    command = ["rollout", "--stack", "prod", "--to", "green"]
    assert_one_line(run_process(command, {**no_kubeconfig, **aws_env}), "rollout", 2, "rollout: kubeconfig ")
    result = run_process([*command, "--debug"], {**no_kubeconfig, **aws_env})
    assert result.returncode == 2
    assert result.stderr.startswith("rollout: kubeconfig ") and "Traceback (most recent call last)" in result.stderr


def test_engine_commands_without_the_cli(run):
    for command in (["preview", "--stack", "dev"], ["drift", "--stack", "dev"], ["init", "--stack", "dev"], ["outputs", "--stack", "dev"]):
        result = run(command, {"PATH": "/usr/bin:/bin"})
        assert_one_line(result, command[0], 1, "the Pulumi CLI is not on PATH")


def test_engine_commands_against_the_cli(run, fake_pulumi):
    del fake_pulumi.state["stacks"]["prod"]
    fake_pulumi.save()
    assert_one_line(run(["drift", "--stack", "prod"]), "drift", 2,
                    "stack prod does not exist in organization acme on backend https://api.pulumi.com; nothing was created")
    assert_one_line(run(["outputs", "--stack", "prod"]), "outputs", 2, "stack prod does not exist in organization acme")
    assert_one_line(run(["init", "--stack", "dev"]), "init", 2, "stack dev already exists in organization acme")
    assert_one_line(run(["up", "--stack", "dev", "--yes", "--approved-preview", "missing.json"]), "up", 2,
                    "--approved-preview missing.json: not a preview summary written by `preview --json`")
    fake_pulumi.state["failures"]["refresh"] = ["error: creating EKS Cluster: AccessDeniedException: not authorized\n  more detail"]
    fake_pulumi.save()
    result = run(["refresh", "--stack", "dev", "--retries", "0"])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("refresh failed on stack dev: ") and "AccessDeniedException" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_the_command_exit_codes(run, command):
    result = run([command, "--help"])
    assert result.returncode == 0
    assert exit_code_text(command) in " ".join(result.stdout.split())
    assert result.stdout.count("Exit codes") == 1, result.stdout  # a command module's own paragraph is not printed too


def test_init_help_says_once_that_it_creates_the_stack(run):
    text = " ".join(run(["init", "--help"]).stdout.split())
    assert "create the stack in the current backend (no other command creates one). Needs the Pulumi CLI." in text
    assert "selects an existing stack" not in text and text.count("creates") == 1


@pytest.mark.parametrize("command, absent", [("outputs", ["--expect-no-changes", "--save-config", "--config", "--retries", "--diff"]),
                                             ("refresh", ["--expect-no-changes", "--policy-pack", "--yes"]),
                                             ("destroy", ["--expect-no-changes", "--policy-pack"]),
                                             ("drift", ["--expect-no-changes", "--config", "--save-config", "--yes"]),
                                             ("init", ["--json", "--config"])])
def test_help_lists_no_flag_the_command_does_not_have(run, command, absent):
    text = run([command, "--help"]).stdout
    for flag in absent:
        assert f"{flag} " not in text and f"{flag}\n" not in text, flag


def test_root_help_lists_every_command_and_code(run):
    result = run(["--help"])
    for command in COMMANDS:
        assert command in result.stdout, command
    for code in ("0 success", "1 failure", "2 invalid", "3 changes", "4 stack still locked"):
        assert code in " ".join(result.stdout.split())


def test_a_python_without_the_dependencies_says_which_python_to_use():
    """`python3 -m automation` outside the project's environment (-S: no site-packages, so no PyYAML, no semver)."""
    result = subprocess.run([sys.executable, "-S", "-m", "automation", "plan", "--stack", "dev"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert_one_line(result, "plan", 1, "this Python lacks the project's dependencies (no module ")
    assert "run `venv/bin/python -m automation ...` (`make venv` creates the environment)" in result.stderr


@pytest.mark.parametrize("args", [["status", "--stack", "dev"], ["simulate", "--stack", "dev"], ["rollout-guard", "--stack", "dev"],
                                  ["upgrade-check", "--stack", "dev", "--to", "1.34", "--offline"], ["node-logs", "--stack", "dev", "--node", "n1"]])
def test_read_only_commands_do_not_speak_of_deploying(run, args, tmp_path, monkeypatch):
    """An invalid stack file: the heading says how many problems, not "nothing was deployed" (they deploy nothing)."""
    stack_file = ROOT / "Pulumi.dev.yaml"
    copy = tmp_path / "Pulumi.dev.yaml"
    copy.write_text(stack_file.read_text().replace("name: platform-dev", "name: [platform-dev]"))
    monkeypatch.setattr("automation.stack_files.stack_file_path", lambda stack, root=ROOT: copy)
    result = run(args)
    assert result.returncode == 2 and result.stderr.splitlines()[0] == "1 problem in the stack configuration:", result.stderr


@pytest.mark.parametrize("command", [["rollout", "--stack", "prod", "--to", "green"], ["node-logs", "--stack", "prod", "--node", "n1"]])
def test_a_missing_kubeconfig_is_named_with_how_to_get_one(run, command, tmp_path, aws_env, monkeypatch):
    absent = tmp_path / "absent"
    result = run([*command, "--kubeconfig", str(absent)], aws_env)
    assert_one_line(result, command[0], 2, f"{command[0]}: kubeconfig {absent}: file not found\n")
    how = "run `aws eks update-kubeconfig --name platform-prod` or pass --kubeconfig FILE\n"
    monkeypatch.delenv("KUBECONFIG", raising=False)
    result = run(command, {**aws_env, "HOME": str(tmp_path)})
    assert_one_line(result, command[0], 2, f"{command[0]}: kubeconfig not found (KUBECONFIG is not set and there is no ~/.kube/config): {how}")
    result = run(command, {**aws_env, "HOME": str(tmp_path), "KUBECONFIG": str(absent)})
    assert_one_line(result, command[0], 2, f"{command[0]}: kubeconfig not found (KUBECONFIG={absent} does not exist): {how}")


def test_a_missing_module_of_the_project_is_not_blamed_on_the_environment():
    """Only a missing third-party module means "use the project's environment"; one of the project's own is a defect."""
    from automation.__main__ import _error_line

    assert "venv/bin/python" in _error_line(ModuleNotFoundError("no yaml", name="yaml"), debug=False)[1]
    assert _error_line(ModuleNotFoundError("gone", name="automation.gone"), debug=False) == (
        1, "error: ModuleNotFoundError: gone (--debug shows the traceback)")
