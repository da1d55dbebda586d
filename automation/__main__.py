"""`python -m automation <command>`: the program's command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m automation", description="Drive the eks-bottlerocket Pulumi program.")
    commands = root.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="offline plan: run __main__.py under Pulumi's mock engine (no CLI, no AWS)",
                               description="Exit codes: 0 planned, 2 invalid configuration (nothing written).")
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--config-file", type=Path, help="plan from this stack file instead of Pulumi.<stack>.yaml")
    plan.add_argument("--out", type=Path, help="output folder (default build/plan/<stack>)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "plan":
        from automation.plan import run_plan

        return run_plan(args.stack, args.config_file, args.out)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly, like other command-line tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
