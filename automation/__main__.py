"""`python -m automation <command>`: the program's command line.

Exit codes: 0 success; 1 failure; 2 invalid configuration or usage; 3 changes present under
--expect-no-changes; 4 stack still locked by another update after the retries.
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib.util
import os
import sys
from pathlib import Path

ENGINE_COMMANDS = {
    "preview": "show what `up` would change (use --expect-no-changes as a drift check)",
    "up": "create or update the stack's resources",
    "refresh": "read the live state of the stack's resources into its state",
    "destroy": "delete every resource of the stack",
    "outputs": "print the stack's outputs (secrets masked)",
}


def _command_doc(module: str) -> str:
    """A command module's docstring, read from its source: importing it would import what only that command
    needs (the Kubernetes client, boto3) on every command's path."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or ""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m automation", description="Drive the eks-bottlerocket Pulumi program.",
                                   epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser("plan", help="offline plan: run __main__.py under Pulumi's mock engine (no CLI, no AWS)",
                               description="Exit codes: 0 planned, 2 invalid configuration (nothing written).")
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--config-file", type=Path, help="plan from this stack file instead of Pulumi.<stack>.yaml")
    plan.add_argument("--out", type=Path, help="output folder (default build/plan/<stack>)")

    status = commands.add_parser("status", help="live cluster and node group versions vs the newest Bottlerocket (boto3, no CLI)")
    status.add_argument("--stack", required=True, help="stack name")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")

    rollout = commands.add_parser("rollout", help="blue/green node group rollout as staged config edits and `up` runs",
                                  description=_command_doc("automation.rollout"),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    rollout.add_argument("--stack", required=True, help="stack name")
    rollout.add_argument("--to", required=True, metavar="GROUP", help="the node group to move to (e.g. green)")
    rollout.add_argument("--version", help="Bottlerocket version for the target: a pin or 'latest' (default: its configured one)")
    rollout.add_argument("--dry-run", action="store_true", help="print each stage and its stack file diff; change nothing")
    rollout.add_argument("--kubeconfig", help="kubeconfig for the cluster (default: KUBECONFIG or ~/.kube/config)")
    rollout.add_argument("--wait-timeout", type=float, default=1800.0, help="seconds to wait for the target's nodes (default 1800)")
    rollout.add_argument("--drain-timeout", type=float, default=1800.0, help="seconds to drain the source (default 1800)")

    logs = commands.add_parser("node-logs", help="run logdog on a node (SSM + admin container) and download the archive",
                               description=_command_doc("automation.node_logs"),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    logs.add_argument("--stack", required=True, help="stack name")
    logs.add_argument("--node", required=True, help="the Kubernetes node name")
    logs.add_argument("--out", type=Path, help="archive path (default <node>-bottlerocket-logs.tar.gz)")
    logs.add_argument("--kubeconfig", help="kubeconfig for the cluster (default: KUBECONFIG or ~/.kube/config)")

    simulate = commands.add_parser("simulate", help="simulate an SQS burst through KEDA, the HPA and Karpenter with the stack's settings",
                                   description=_command_doc("automation.simulate"))
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
    simulate.add_argument("--plot", type=Path, metavar="FILE.png", help="plot queue depth, pods and nodes over time")
    simulate.add_argument("--target-drain", metavar="DURATION",
                          help="find the cheapest maxReplicaCount, NodePool CPU limit and polling interval draining within DURATION (e.g. 15m) at p95")

    for name, help_text in ENGINE_COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=f"{help_text}. Needs the Pulumi CLI.\n\n{__doc__.split(chr(10), 2)[2]}",
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_argument("--stack", action="append", required=True, help="stack name; repeat for several stacks")
        command.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="config value for this run only")
        command.add_argument("--config-path", action="append", default=[], metavar="A.B.C=VALUE",
                             help="structured config value for this run only (like `pulumi config set --path`)")
        command.add_argument("--save-config", action="store_true", help="keep the --config values in the stack file")
        command.add_argument("--json", type=Path, metavar="FILE", help="write a summary for CI to FILE")
        command.add_argument("--retries", type=int, default=3, help="retries when the stack is locked by another update (default 3)")
        command.add_argument("--retry-delay", type=float, default=10.0, help="first retry delay in seconds, doubled each time")
        if name != "outputs":
            command.add_argument("--diff", action="store_true", help="show a detailed diff")
        if name in ("preview", "up", "destroy"):
            command.add_argument("--refresh", action="store_true", help="refresh the state first")
        if name in ("preview", "up"):
            command.add_argument("--policy-pack", action="append", default=[], metavar="DIR", help="run this policy pack")
        if name in ("up", "destroy"):
            command.add_argument("--yes", action="store_true", help="do not ask for confirmation (required in non-interactive runs)")
        if name == "preview":
            command.add_argument("--expect-no-changes", action="store_true", help="exit 3 when there are changes (drift check)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "plan":
        # A short-lived process whose objects (the SDKs' classes, the registered resources) nearly all live
        # to its end: the cyclic collector would only walk them again and again (a fifth of a plan's time)
        # for about 1 MB of garbage.
        gc.disable()
        try:
            from automation.plan import run_plan

            return run_plan(args.stack, args.config_file, args.out)
        finally:
            gc.enable()

    if args.command == "status":
        from automation.status import run_status

        return run_status(args.stack, args.json)

    if args.command == "simulate":
        from automation.simulate import main as simulate

        return simulate(args)

    if args.command == "node-logs":
        from automation.node_logs import run_node_logs

        return run_node_logs(args.stack, args.node, args.out, args.kubeconfig)

    if args.command == "rollout":
        from automation.rollout import run_rollout

        return run_rollout(args.stack, args.to, args.version, args.dry_run, kubeconfig=args.kubeconfig,
                           wait_timeout=args.wait_timeout, drain_timeout=args.drain_timeout)

    from automation.engine import EXIT_USAGE, ConfigOverride, EngineRequest, run_engine

    try:
        overrides = [ConfigOverride.parse(text, path=False) for text in args.config]
        overrides += [ConfigOverride.parse(text, path=True) for text in args.config_path]
    except ValueError as error:
        sys.stderr.write(f"--config: {error}\n")
        return EXIT_USAGE
    request = EngineRequest(
        command=args.command, stacks=args.stack, overrides=overrides, save_config=args.save_config,
        refresh=getattr(args, "refresh", False), diff=getattr(args, "diff", False), yes=getattr(args, "yes", False),
        expect_no_changes=getattr(args, "expect_no_changes", False), policy_packs=getattr(args, "policy_pack", []),
        json_file=args.json, retries=args.retries, retry_delay_seconds=args.retry_delay,
    )
    return run_engine(request)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly, like other command-line tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
