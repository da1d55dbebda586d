"""The exit codes of `python -m automation`: one definition for every command.

Commands return one of these; `automation/__main__.py` turns the exceptions below (and anything
unexpected) into one line on stderr and the matching code, so no command prints a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CHANGES = 3
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report a command the signal stopped

# What each code means, in the words of every command's --help.
MEANING = {
    EXIT_OK: "success",
    EXIT_FAILED: "failure",
    EXIT_USAGE: "invalid configuration or usage",
    EXIT_CHANGES: "changes present",
    EXIT_LOCKED: "stack still locked by another update after the retries",
}
RESULT_NAMES = {EXIT_OK: "succeeded", EXIT_FAILED: "failed", EXIT_USAGE: "invalid", EXIT_CHANGES: "changes", EXIT_LOCKED: "locked"}


class UsageError(Exception):
    """Bad input from the user (arguments, stack name, stack file): one line, exit code 2."""

    exit_code = EXIT_USAGE


class CommandFailed(Exception):
    """The command could not do its work (AWS, Kubernetes, the engine): one line, exit code 1."""

    exit_code = EXIT_FAILED


def one_line(text: object) -> str:
    """A message as one line: AWS and the CLI answer with multi-line bodies; the user gets them joined."""
    return " ".join(str(text).split())
