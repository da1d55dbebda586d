"""`python -m automation.reference [--write]`: the README's configuration reference tables and
schema/stack.schema.json, regenerated from the config models (core/config/reference.py).

Without --write it only compares and exits 1 (EXIT_FAILED) naming what is out of date; with --write it
rewrites both. Exit 0 when they match or were written; 2 (EXIT_USAGE), one line, when Pulumi.yaml or
README.md cannot be read or the README has lost a generated block's markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from automation.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, one_line
from automation.stack_files import PROJECT_ROOT, StackFileError, project_name
from core.config.reference import stack_file_schema, with_tables

README = Path("README.md")
SCHEMA = Path("schema/stack.schema.json")


def generated(root: Path = PROJECT_ROOT) -> dict[Path, str]:
    """What README.md and the schema file should hold, by their path under `root`."""
    schema = json.dumps(stack_file_schema(project_name(root)), indent=2, ensure_ascii=False) + "\n"
    return {README: with_tables((root / README).read_text(encoding="utf-8")), SCHEMA: schema}


def stale(root: Path = PROJECT_ROOT) -> list[Path]:
    """The generated files whose content differs from what the models make (missing ones included)."""
    return _differing(generated(root), root)


def _differing(wanted: dict[Path, str], root: Path = PROJECT_ROOT) -> list[Path]:
    return [path for path, text in wanted.items() if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text]


def _problem(error: OSError | ValueError | StackFileError) -> str:
    if isinstance(error, OSError):
        return f"{error.filename or 'a file'}: {error.strerror or error}"
    return str(error)


def main(argv: list[str] | None = None, root: Path = PROJECT_ROOT) -> int:
    """`root`: the clone whose files are checked or written."""
    parser = argparse.ArgumentParser(prog="python -m automation.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the files instead of only checking them")
    args = parser.parse_args(argv)
    try:
        wanted = generated(root)
    except (StackFileError, ValueError, OSError) as error:  # Pulumi.yaml or README.md missing, unreadable, without markers
        print(f"reference: {one_line(_problem(error))}", file=sys.stderr)
        return EXIT_USAGE
    if args.write:
        for path, text in wanted.items():
            try:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text, encoding="utf-8")
            except OSError as error:
                print(f"reference: cannot write {path}: {one_line(_problem(error))}", file=sys.stderr)
                return EXIT_FAILED
            print(f"wrote {path}")
        return EXIT_OK
    if out_of_date := _differing(wanted, root):
        print(f"out of date with the config models: {', '.join(map(str, out_of_date))}; run python -m automation.reference --write",
              file=sys.stderr)
        return EXIT_FAILED
    print("README.md and schema/stack.schema.json match the config models")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
