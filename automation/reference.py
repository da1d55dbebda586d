"""`python -m automation.reference [--write]`: the README's configuration reference tables and
schema/stack.schema.json, regenerated from the config models (core/config/reference.py).

Without --write it only compares and exits 1 naming what is out of date; with --write it rewrites both.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from automation.stack_files import PROJECT_ROOT, project_name
from core.config.reference import stack_file_schema, with_tables

README = Path("README.md")
SCHEMA = Path("schema/stack.schema.json")


def generated(root: Path = PROJECT_ROOT) -> dict[Path, str]:
    """What README.md and the schema file should hold, by their path under `root`."""
    schema = json.dumps(stack_file_schema(project_name(root)), indent=2, ensure_ascii=False) + "\n"
    return {README: with_tables((root / README).read_text(encoding="utf-8")), SCHEMA: schema}


def stale(root: Path = PROJECT_ROOT) -> list[Path]:
    """The generated files whose content differs from what the models make (missing ones included)."""
    return [path for path, text in generated(root).items()
            if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automation.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the files instead of only checking them")
    args = parser.parse_args(argv)
    if args.write:
        for path, text in generated().items():
            (PROJECT_ROOT / path).parent.mkdir(parents=True, exist_ok=True)
            (PROJECT_ROOT / path).write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        return 0
    if out_of_date := stale():
        print(f"out of date with the config models: {', '.join(map(str, out_of_date))}; run python -m automation.reference --write",
              file=sys.stderr)
        return 1
    print("README.md and schema/stack.schema.json match the config models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
