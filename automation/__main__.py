"""`python -m automation <command>`: the program's command line.

Every command answers bad input with one line on stderr and its documented exit code; no traceback
reaches a user (`--debug` prints it after the line).
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib.util
import inspect
import math
import os
import sys
import tokenize
import traceback
from pathlib import Path
from typing import NoReturn

from automation.exit_codes import (EXIT_CHANGES, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE, MEANING, CommandFailed,
                                   UsageError, one_line)

NO_STACK = f"{MEANING[EXIT_USAGE]}, or no such stack"
# The exit codes each command can return, and what they mean for it. --help prints exactly these.
EXIT_CODES: dict[str, dict[int, str]] = {
    "plan": {EXIT_OK: "planned", EXIT_FAILED: "a mandatory policy violation (plan written) or the program failed",
             EXIT_USAGE: f"{MEANING[EXIT_USAGE]}, stack name or output folder (nothing written)"},
    "status": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: "an AWS error (missing parameter, access denied, throttling, no cluster)",
               EXIT_USAGE: MEANING[EXIT_USAGE]},
    "rollout": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: "the rollout stopped (the message says why), or AWS could not be read", EXIT_USAGE: MEANING[EXIT_USAGE]},
    "rollout-guard": {EXIT_OK: "no rollout in progress", EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: MEANING[EXIT_USAGE],
                      EXIT_LOCKED: "a rollout of the stack's cluster is in progress"},
    "upgrade-check": {EXIT_OK: "ready to upgrade", EXIT_FAILED: "blockers found (listed), or AWS could not be read",
                      EXIT_USAGE: MEANING[EXIT_USAGE]},
    "node-logs": {EXIT_OK: "archive written", EXIT_FAILED: "no archive (admin container off, node, SSM or API server error), or AWS could not be read",
                  EXIT_USAGE: MEANING[EXIT_USAGE]},
    "simulate": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: f"no setting drains the burst within --target-drain, or {MEANING[EXIT_FAILED]}",
                 EXIT_USAGE: MEANING[EXIT_USAGE]},
    "init": {EXIT_OK: "stack created", EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: f"{MEANING[EXIT_USAGE]}, or the stack exists"},
    "preview": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: NO_STACK,
                EXIT_CHANGES: "changes present under --expect-no-changes", EXIT_LOCKED: MEANING[EXIT_LOCKED]},
    "up": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: NO_STACK,
           EXIT_CHANGES: "the plan differs from the --approved-preview (nothing changed)", EXIT_LOCKED: MEANING[EXIT_LOCKED]},
    "refresh": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: NO_STACK,
                EXIT_LOCKED: MEANING[EXIT_LOCKED]},
    "destroy": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: NO_STACK,
                EXIT_LOCKED: MEANING[EXIT_LOCKED]},
    "outputs": {EXIT_OK: MEANING[EXIT_OK], EXIT_FAILED: MEANING[EXIT_FAILED], EXIT_USAGE: NO_STACK},
    "drift": {EXIT_OK: "no drift (updates the stack asked for may be available)", EXIT_FAILED: MEANING[EXIT_FAILED],
              EXIT_USAGE: NO_STACK, EXIT_CHANGES: "drift: live resources differ from the stack's state",
              EXIT_LOCKED: MEANING[EXIT_LOCKED]},
}

ENGINE_COMMANDS = {
    "preview": "show what `up` would change",
    "up": "create or update the stack's resources",
    "refresh": "read the live state of the stack's resources into its state",
    "destroy": "delete every resource of the stack",
    "outputs": "print the stack's outputs (secrets masked)",
    "drift": "drift check: `refresh --preview-only --expect-no-changes`, plus the updates the stack asks for",
    "init": "create the stack in the current backend (no other command creates one)",
}
# Commands that run an update against the stack and so take --config overrides and retry on a lock.
UPDATE_COMMANDS = ("preview", "up", "refresh", "destroy")


def _command_doc(module: str) -> str:
    """A command module's docstring, read from its source: importing it would import what only that command
    needs (the Kubernetes client, boto3) on every command's path. Only the tokens up to the docstring are read
    (parsing the whole module cost every command ~50 ms)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    with open(spec.origin, "rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type == tokenize.STRING:
                # The module's own "Exit codes:" paragraph is for its readers; --help prints EXIT_CODES, once.
                paragraphs = inspect.cleandoc(ast.literal_eval(token.string)).split("\n\n")
                return "\n\n".join(paragraph for paragraph in paragraphs if not paragraph.startswith("Exit codes:"))
            if token.type not in (tokenize.ENCODING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE):
                break
    return ""


def exit_code_text(command: str) -> str:
    return "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES[command].items()) + "."


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit code 2, through the top-level handler."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def output_file(text: str) -> Path:
    """A file the command writes: its folder must exist (checked before any work starts)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist (for {text})")
    return path


def count(text: str) -> int:
    """A number of times (retries): a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return value


def _seconds(text: str, *, zero_allowed: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, {'0 or more' if zero_allowed else 'above 0'} (got {text!r})")
    return value


def seconds(text: str) -> float:
    """A delay: a finite number of seconds, 0 or more."""
    return _seconds(text, zero_allowed=True)


def positive_seconds(text: str) -> float:
    """A timeout: a finite number of seconds above 0 (a timeout of 0 could never be met)."""
    return _seconds(text, zero_allowed=False)


def _command(commands, name: str, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
    text = f"{description or help_text}\n\n{exit_code_text(name)}"
    command = commands.add_parser(name, help=help_text, description=text, formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    return command


def parser() -> ArgumentParser:
    epilog = "Exit codes (each command's --help lists its own): " + "; ".join(f"{c} {t}" for c, t in MEANING.items()) + "."
    root = ArgumentParser(prog="python -m automation", description="Drive the eks-bottlerocket Pulumi program.",
                          epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = _command(commands, "plan", "offline plan: run __main__.py under Pulumi's mock engine (no CLI, no AWS)")
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--config-file", type=Path, help="plan from this stack file instead of Pulumi.<stack>.yaml")
    plan.add_argument("--out", type=Path, help="output folder: new, empty, or an earlier plan (default build/plan/<stack>)")
    plan.add_argument("--json", action="store_true", help="print the summary (node groups, Karpenter, Helm, workloads, policy) as JSON")
    plan.add_argument("--compare", type=Path, metavar="DIR",
                      help="also list what changed since the plan in DIR (e.g. a copy of build/plan/<stack>) and which changes replace nodes")

    status = _command(commands, "status", "live cluster, node group and add-on versions vs the newest Bottlerocket and EKS defaults, and what is due (boto3, no CLI)")
    status.add_argument("--stack", required=True, help="stack name")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")

    rollout = _command(commands, "rollout", "blue/green node group rollout as staged config edits and `up` runs",
                       _command_doc("automation.rollout"))
    rollout.add_argument("--stack", required=True, help="stack name")
    rollout.add_argument("--to", required=True, metavar="GROUP", help="the node group to move to (e.g. green)")
    rollout.add_argument("--from", dest="source", metavar="GROUP",
                         help="the group to move from (default: the single other enabled group of the same role)")
    rollout.add_argument("--version", help="Bottlerocket version for the target: a pin or 'latest' (default: its configured one)")
    rollout.add_argument("--kubernetes-version", metavar="1.N",
                         help="a Kubernetes minor-version upgrade: pre-flight, pin the groups, move the control plane and add-ons, "
                              "roll to the target at 1.N, unpin")
    rollout.add_argument("--yes", action="store_true", help="apply each stage's `up` without asking (required without a terminal)")
    rollout.add_argument("--dry-run", action="store_true", help="print each stage and its stack file diff; change nothing")
    rollout.add_argument("--kubeconfig", help="kubeconfig for the cluster (default: KUBECONFIG or ~/.kube/config)")
    rollout.add_argument("--wait-timeout", type=positive_seconds, default=1800.0, help="seconds to wait for the target's readiness (default 1800)")
    rollout.add_argument("--drain-timeout", type=positive_seconds, default=1800.0, help="seconds to drain the source (default 1800)")
    rollout.add_argument("--force", action="store_true", help="evict bare pods too (they are lost: nothing recreates them)")

    guard = _command(commands, "rollout-guard", "exit 4 while a rollout of the stack's cluster is in progress (CI runs it before `up`)")
    guard.add_argument("--stack", required=True, help="stack name")
    guard.add_argument("--clear", action="store_true", help="remove the marker of an abandoned rollout")

    upgrade = _command(commands, "upgrade-check", "pre-flight of a Kubernetes minor-version upgrade",
                       _command_doc("automation.upgrade_check"))
    upgrade.add_argument("--stack", required=True, help="stack name")
    upgrade.add_argument("--to", required=True, metavar="1.N", help="the Kubernetes version to move the control plane to")
    upgrade.add_argument("--json", action="store_true", help="print JSON instead of a table")
    upgrade.add_argument("--config-file", type=Path, help="check this stack file instead of Pulumi.<stack>.yaml")
    upgrade.add_argument("--plan", type=Path, metavar="DIR", help="read objects from this offline plan folder (default: plan now)")
    upgrade.add_argument("--offline", action="store_true", help="skip the checks that read AWS (live cluster, SSM, EKS add-ons)")

    logs = _command(commands, "node-logs", "run logdog on a node (SSM + admin container) and download the archive",
                    _command_doc("automation.node_logs"))
    logs.add_argument("--stack", required=True, help="stack name")
    logs.add_argument("--node", required=True, help="the Kubernetes node name")
    logs.add_argument("--out", type=output_file, help="archive path (default <node>-bottlerocket-logs.tar.gz)")
    logs.add_argument("--kubeconfig", help="kubeconfig for the cluster (default: KUBECONFIG or ~/.kube/config)")

    simulate = _command(commands, "simulate", "simulate an SQS burst through KEDA, the HPA and Karpenter with the stack's settings",
                        _command_doc("automation.simulate"))
    simulate.add_argument("--stack", required=True, help="stack name")
    simulate.add_argument("--workload", help="workload name (default: the first)")
    simulate.add_argument("--messages", type=int, default=100_000, help="burst size (default 100000)")
    simulate.add_argument("--burst-seconds", type=int, default=10, help="seconds over which the burst arrives (default 10)")
    simulate.add_argument("--shape", choices=("uniform", "instant"), default="uniform", help="arrival shape (default uniform)")
    simulate.add_argument("--processing-seconds", type=float, help="processing time per message (default: the workload's)")
    simulate.add_argument("--in-flight-per-pod", type=int, default=10, help="messages a pod works on at once (default 10)")
    simulate.add_argument("--config-file", type=Path, help="simulate this stack file instead of Pulumi.<stack>.yaml")
    simulate.add_argument("--runs", type=int, default=200, help="runs with different random draws, for p50/p95 (default 200)")
    simulate.add_argument("--seed", type=int, default=1, help="first random seed (default 1)")
    simulate.add_argument("--compare", choices=("defaults",), help="also run with KEDA's and the HPA's default settings")
    simulate.add_argument("--json", action="store_true", help="print JSON (figures in seconds)")
    simulate.add_argument("--plot", type=output_file, metavar="FILE.png", help="plot queue depth, pods and nodes over time")
    simulate.add_argument("--target-drain", metavar="DURATION",
                          help="find the cheapest maxReplicaCount, NodePool CPU limit and polling interval draining within DURATION (e.g. 15m) at p95")

    for name, help_text in ENGINE_COMMANDS.items():
        stack_use = "" if name == "init" else "; selects an existing stack (only `init` creates one)"
        command = _command(commands, name, help_text, f"{help_text}. Needs the Pulumi CLI{stack_use}.")
        if name == "init":
            command.add_argument("--stack", required=True, help="stack name (org/project/stack on Pulumi Cloud)")
            continue
        command.add_argument("--stack", action="append", required=True, help="stack name; repeat for several stacks")
        command.add_argument("--json", type=output_file, metavar="FILE", help="write a summary for CI to FILE")
        if name in UPDATE_COMMANDS:
            command.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="config value (a string) for this run only")
            command.add_argument("--config-path", action="append", default=[], metavar="A.B.C=VALUE",
                                 help="structured config value (a YAML scalar: 8, true, text) for this run only")
            command.add_argument("--save-config", action="store_true", help="keep the --config/--config-path values in the stack file")
            command.add_argument("--retries", type=count, default=3, help="retries when the stack is locked by another update (default 3)")
            command.add_argument("--retry-delay", type=seconds, default=10.0, help="first retry delay in seconds, doubled each time (default 10)")
            command.add_argument("--diff", action="store_true", help="show a detailed diff")
        if name in ("preview", "up", "destroy"):
            command.add_argument("--refresh", action="store_true", help="refresh the state first")
        if name in ("preview", "up"):
            command.add_argument("--policy-pack", action="append", default=[], metavar="DIR", help="run this policy pack")
        if name in ("up", "destroy"):
            command.add_argument("--yes", action="store_true", help="do not ask for confirmation (required in non-interactive runs)")
        if name == "preview":
            command.add_argument("--expect-no-changes", action="store_true", help="exit 3 when the preview proposes changes")
        if name == "up":
            command.add_argument("--approved-preview", type=Path, metavar="FILE",
                                 help="the --json summary of an approved preview: refuse (exit 3) unless a fresh preview plans the same")
    return root


def check_stack_names(command: str, stacks: list[str]) -> None:
    """Every --stack is a name Pulumi accepts and safe as a file name, checked before anything else runs. The
    engine commands also take the Pulumi Cloud forms org/stack and org/project/stack (pulumi/pulumi v3.272.0,
    pkg/backend/httpstate/backend.go, parseStackName: one to three parts split on "/"); each part is checked."""
    from automation.stack_files import STACK_NAME_RULE, StackFileError, check_stack_name

    for stack in stacks:
        parts = stack.split("/") if command in ENGINE_COMMANDS and stack.count("/") <= 2 else [stack]
        try:
            for part in parts:
                check_stack_name(part)
        except StackFileError:  # its message names the part; the user typed the whole name
            qualified = "; on Pulumi Cloud also org/stack or org/project/stack" if command in ENGINE_COMMANDS else ""
            raise UsageError(f"{command}: --stack {stack!r}: {STACK_NAME_RULE}{qualified}") from None


def _run(args: argparse.Namespace) -> int:
    check_stack_names(args.command, args.stack if isinstance(args.stack, list) else [args.stack])
    if args.command == "plan":
        # A short-lived process whose objects (the SDKs' classes, the registered resources) nearly all live
        # to its end: the cyclic collector would only walk them again and again (a fifth of a plan's time)
        # for about 1 MB of garbage.
        gc.disable()
        try:
            from automation.plan import run_plan

            return run_plan(args.stack, args.config_file, args.out, stdout=sys.stdout, stderr=sys.stderr, as_json=args.json,
                            compare_dir=args.compare)
        finally:
            gc.enable()

    if args.command == "status":
        from automation.status import run_status

        return run_status(args.stack, args.json, out=sys.stdout, err=sys.stderr)

    if args.command == "simulate":
        from automation.simulate import main as simulate

        return simulate(args, out=sys.stdout, err=sys.stderr)

    if args.command == "node-logs":
        from automation.node_logs import run_node_logs

        return run_node_logs(args.stack, args.node, args.out, args.kubeconfig, out=sys.stdout, err=sys.stderr)

    if args.command == "upgrade-check":
        from automation.upgrade_check import run_upgrade_check

        return run_upgrade_check(args.stack, args.to, args.json, config_file=args.config_file, plan_dir=args.plan,
                                 offline=args.offline, out=sys.stdout, err=sys.stderr)

    if args.command == "rollout":
        from automation.rollout import RolloutRequest, run_rollout

        request = RolloutRequest(args.stack, args.to, args.source, args.version, kubernetes_version=args.kubernetes_version,
                                 dry_run=args.dry_run, yes=args.yes, force=args.force)
        return run_rollout(request, kubeconfig=args.kubeconfig, wait_timeout=args.wait_timeout, drain_timeout=args.drain_timeout,
                           out=sys.stdout, err=sys.stderr)

    if args.command == "rollout-guard":
        from automation.rollout import run_rollout_guard

        return run_rollout_guard(args.stack, args.clear, out=sys.stdout, err=sys.stderr)

    from automation.engine import ConfigOverride, EngineRequest, run_engine

    if args.command == "init":
        return run_engine(EngineRequest("init", [args.stack]), out=sys.stdout, err=sys.stderr)
    overrides = []
    for flag, path in (("config", False), ("config_path", True)):
        for text in getattr(args, flag, []):
            try:
                overrides.append(ConfigOverride.parse(text, path=path))
            except ValueError as error:
                raise UsageError(f"--{flag.replace('_', '-')}: {error}") from None
    request = EngineRequest(
        command=args.command, stacks=args.stack, overrides=overrides, save_config=getattr(args, "save_config", False),
        refresh=getattr(args, "refresh", False), diff=getattr(args, "diff", False), yes=getattr(args, "yes", False),
        expect_no_changes=getattr(args, "expect_no_changes", False), policy_packs=getattr(args, "policy_pack", []),
        json_file=args.json, retries=getattr(args, "retries", 0), retry_delay_seconds=getattr(args, "retry_delay", 0.0),
        approved_preview=getattr(args, "approved_preview", None),
    )
    return run_engine(request, out=sys.stdout, err=sys.stderr)


# Errors of the libraries the commands use, by (module, class) anywhere in the exception's class hierarchy,
# so the handler names the cause without importing them: (exit code, what the line starts with).
LIBRARY_ERRORS = {
    ("kubernetes.config.config_exception", "ConfigException"): (EXIT_USAGE, "kubeconfig"),
    ("yaml.error", "YAMLError"): (EXIT_USAGE, "invalid YAML"),
    ("urllib3.exceptions", "HTTPError"): (EXIT_FAILED, "cannot reach the Kubernetes API server"),
    ("kubernetes.client.exceptions", "ApiException"): (EXIT_FAILED, "Kubernetes API"),
    ("botocore.exceptions", "BotoCoreError"): (EXIT_FAILED, "AWS"),
    ("botocore.exceptions", "ClientError"): (EXIT_FAILED, "AWS"),
}


def _library_error(error: BaseException) -> tuple[int, str] | None:
    for cls in type(error).__mro__:
        known = LIBRARY_ERRORS.get((cls.__module__, cls.__name__))
        if known:
            return known
    return None


# A Python without the pinned dependencies (`python3 -m automation` outside the project's environment); a
# missing module of the project's own folders is a defect, reported as any other error.
MISSING_DEPENDENCY = ("this Python lacks the project's dependencies (no module {name!r}): run `venv/bin/python -m automation ...` "
                      "(`make venv` creates the environment)")


def _error_line(error: Exception, debug: bool) -> tuple[int, str]:
    if isinstance(error, (UsageError, CommandFailed)):
        return error.exit_code, one_line(error)
    if isinstance(error, ModuleNotFoundError) and not (Path(__file__).resolve().parents[1] / (error.name or "").partition(".")[0]).is_dir():
        return EXIT_FAILED, MISSING_DEPENDENCY.format(name=error.name)
    code, cause = _library_error(error) or (EXIT_FAILED, f"error: {type(error).__name__}")
    hint = "" if debug or code == EXIT_USAGE else " (--debug shows the traceback)"
    return code, f"{cause}: {one_line(error) or type(error).__name__}{hint}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error ends here as one line on stderr and its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        return _run(parser().parse_args(argv))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly, like other command-line tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - the one place that turns any error into one line
        code, line = _error_line(error, debug)
        sys.stderr.write(line + "\n")
        if debug:
            traceback.print_exception(error)
        return code


if __name__ == "__main__":
    exit_code = main()
    # The interpreter's shutdown runs full cyclic collections over every object still alive, gc.disable() or
    # not (CPython 3.11 Python/pylifecycle.c, finalize_modules and finalize_interp_clear, call
    # _PyGC_CollectNoFail; Modules/gcmodule.c, unlike PyGC_Collect, does not check whether gc is enabled):
    # after a plan about 400,000 objects, the SDKs' classes and typing objects, some 0.35 s a collection.
    # Frozen objects are left out of every later collection (gc.freeze, Doc/library/gc.rst, Python 3.7+).
    # The process ends right after: the memory goes back to the system either way, and only finalizers of
    # objects in reference cycles are skipped, which Python never promises at exit (object.__del__).
    gc.freeze()
    sys.exit(exit_code)
