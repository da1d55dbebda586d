"""The README and docs/ are the user's manual: their tables render, their links land, their commands run.

Tables are rendered with markdown-it-py (CommonMark plus GitHub's table extension, as GitHub shows them):
a row outside any table (a blank line splitting one) or a row with another number of cells than its
header is an error. Every `python -m automation ...` and `make ...` command written out in full must be
one the command line and the Makefile accept, written `venv/bin/python -m automation` (the project's
environment); the CLI reference names exactly each command's flags; a `cp -r` recipe can be repeated.
"""

from __future__ import annotations

import argparse
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from automation.__main__ import parser
from tests.conftest import ROOT

MANUALS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _tokens(text: str):
    return MarkdownIt("commonmark").enable("table").parse(text)


def _cells(row: str) -> int:
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return len(_UNESCAPED_PIPE.split(inner))


def table_problems(text: str) -> list[str]:
    lines = text.splitlines()
    problems = []
    for token in _tokens(text):
        start, end = token.map or (0, 0)
        if token.type == "table_open":
            rows = [line for line in lines[start:end] if line.strip()]
            header = _cells(rows[0])
            problems += [f"line {start + 1 + rows.index(row)}: {_cells(row)} cells in a table of {header} columns"
                         for row in rows[2:] if _cells(row) != header]
        elif token.type == "paragraph_open":
            problems += [f"line {start + 1 + i}: a table row outside a table (a blank line or a bad delimiter row splits it)"
                         for i, line in enumerate(lines[start:end]) if line.lstrip().startswith("|") and line.rstrip().endswith("|")]
    return problems


def github_slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def _anchors(path: Path) -> set[str]:
    tokens = _tokens(path.read_text())
    return {github_slug(tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"}


def _links(text: str) -> list[str]:
    links = []
    for token in _tokens(text):
        for child in token.children or []:
            if child.type == "link_open":
                links.append(child.attrs["href"])
    return links


def _code(text: str) -> list[str]:
    """Inline code and the lines of code blocks."""
    code = []
    for token in _tokens(text):
        if token.type in ("fence", "code_block"):
            code += token.content.splitlines()
        for child in token.children or []:
            if child.type == "code_inline":
                code.append(child.content)
    return code


@pytest.mark.parametrize("path", MANUALS, ids=lambda p: p.name)
def test_tables_render(path):
    assert table_problems(path.read_text()) == []


def test_the_table_check_finds_broken_tables():
    good = "| a | b |\n|---|---|\n| 1 | `x \\| y` |\n"
    assert table_problems(good) == []
    assert table_problems(good + "\n| 2 | 3 |\n") == ["line 5: a table row outside a table (a blank line or a bad delimiter row splits it)"]
    assert table_problems(good + "| 2 | 3 | 4 |\n") == ["line 4: 3 cells in a table of 2 columns"]


@pytest.mark.parametrize("path", MANUALS, ids=lambda p: p.name)
def test_links_land(path):
    broken = []
    for href in _links(path.read_text()):
        if href.startswith(("http://", "https://")):
            continue
        file_part, _, anchor = href.partition("#")
        target = (path.parent / file_part).resolve() if file_part else path
        if not target.exists():
            broken.append(href)
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(href)
    assert broken == []


def _commands(path: Path, pattern: str) -> list[str]:
    found = []
    for line in _code(path.read_text()):
        for match in re.finditer(pattern, line):
            command = match.group(1).split(" #", 1)[0].split(" && ", 1)[0].split(" > ", 1)[0].strip()
            if not any(mark in command for mark in ("[", "…", "<", "|", "...")):
                found.append(command)
    return found


def _invocations(path: Path) -> list[str]:
    """`python -m automation` commands written out with their options (not a mere mention of a command)."""
    return [command for command in _commands(path, r"python -m automation (.+)") if "--" in command]


def test_automation_commands_in_the_readme_parse():
    commands = _invocations(ROOT / "README.md")
    assert len(commands) >= 10
    command_line = parser()
    for command in commands:
        try:
            command_line.parse_args(shlex.split(command))
        except SystemExit as exit:
            if exit.code == 0:  # --help
                continue
            pytest.fail(f"README command `python -m automation {command}` is rejected (exit {exit.code})")


def test_make_commands_in_the_manuals_exist():
    phony = re.search(r"^\.PHONY: (.+)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE).group(1).split()
    targets = {target for path in MANUALS for command in _commands(path, r"\bmake ([a-z][\w-]*)") for target in command.split()[:1]}
    assert targets and targets <= set(phony), targets - set(phony)


def recopy_problems(lines: list[str]) -> list[str]:
    """`cp -r SRC DEST` copies into DEST/SRC-name when DEST exists already, so a recipe run a second time
    silently keeps the first copy: a manual's `cp -r` must remove DEST first in the same command."""
    problems = []
    for line in lines:
        for match in re.finditer(r"\bcp -[rR]\w* \S+ (\S+)", line):
            if not re.search(rf"\brm -r?f?r?f? {re.escape(match.group(1))} &&", line[:match.start()]):
                problems.append(line.strip())
    return problems


def test_the_recopy_check_finds_a_stale_copy():
    assert recopy_problems(["make plan && cp -r build/plan/prod /tmp/before"]) == ["make plan && cp -r build/plan/prod /tmp/before"]
    assert recopy_problems(["rm -rf /tmp/before && cp -r build/plan/prod /tmp/before"]) == []


@pytest.mark.parametrize("path", MANUALS, ids=lambda p: p.name)
def test_copy_recipes_can_be_repeated(path):
    assert recopy_problems(_code(path.read_text())) == []


def _cli_reference_rows() -> list[str]:
    """The first cells of the CLI reference table: `command --flag … ` synopses."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## CLI reference"):]
    section = section[:section.index("\n## ", 1)]
    return [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]


def _long_options(command: argparse.ArgumentParser) -> set[str]:
    return {option for action in command._actions for option in action.option_strings
            if option.startswith("--") and option not in ("--help", "--debug")}


def test_cli_reference_lists_every_flag_of_every_command():
    """Each command's row in the CLI reference names exactly the flags its --help does (--help and --debug, which
    every command has, aside)."""
    subcommands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    rows = _cli_reference_rows()
    for name, command in subcommands.items():
        row = [cell for cell in rows if cell.startswith(f"| `{name} ")]
        assert len(row) == 1, f"{name}: {len(row)} rows in the CLI reference"
        written = set(re.findall(r"--[a-z][a-z-]*", row[0]))
        assert written == _long_options(command), (f"{name}: missing {sorted(_long_options(command) - written)}, "
                                                   f"not a flag {sorted(written - _long_options(command))}")


def test_node_logs_section_gives_the_exit_code_of_the_admin_container_off_case():
    """The README says what the command does without the admin container: the exit code its --help gives."""
    subcommands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    code = re.search(r"(\d) no archive \(admin container off", subcommands["node-logs"].epilog or subcommands["node-logs"].description).group(1)
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Operations: node logs"):]
    section = section[:section.index("\n## ", 1)]
    paragraph = next(p for p in section.split("\n\n") if "admin container disabled" in p)
    assert f"exits {code}" in paragraph and "instead of failing" not in paragraph


def bare_invocations(code: list[str]) -> list[str]:
    """`python -m automation COMMAND` written without the project's environment (`venv/bin/python`), which
    fails outside the venv on a missing dependency; `python -m automation …` (after activating) is the one
    allowed form, where the README says to activate the venv."""
    return [line.strip() for line in code
            for match in re.finditer(r"(\S*)python -m automation (\S+)", line)
            if match.group(1) != "venv/bin/" and match.group(2) != "…"]


def test_the_bare_invocation_check_finds_one():
    assert bare_invocations(["python -m automation plan --stack dev", "venv/bin/python -m automation plan --stack dev",
                             "python -m automation …"]) == ["python -m automation plan --stack dev"]


def test_readme_commands_run_in_the_projects_environment():
    assert bare_invocations(_code((ROOT / "README.md").read_text())) == []
