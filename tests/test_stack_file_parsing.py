"""How a stack file's text is parsed: libyaml reads it (the pinned PyYAML wheel ships it), PyYAML's
Python loader words every refusal and reads everything when libyaml is missing; both give the same
values, and a refusal reads the same either way, word for word as before libyaml was used."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from automation import stack_files
from automation.base import STACK_ERRORS, stack_error_report
from automation.stack_files import StackFileError, load_stack, load_yaml_text, validate_stack_text
from tests.conftest import PROJECT, ROOT, make_plan
from tests.test_bad_input_catalogue import BAD_FILES, WITH_MERGE_KEYS

NAME = "Pulumi.prod.yaml"


def _read(text: str, *, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """("value", what the text becomes, with each float's source text) or ("refused", the message)."""
    with monkeypatch.context() as patch:
        if not libyaml:
            patch.setattr(stack_files, "_LIBYAML_LOADER", None)
        try:
            value = load_yaml_text(text, NAME)
        except StackFileError as error:
            return "refused", str(error)
    return "value", (value, _float_sources(value))


def _float_sources(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [source for key, child in value.items() for source in _float_sources(key) + _float_sources(child)]
    if isinstance(value, list):
        return [source for child in value for source in _float_sources(child)]
    return [value.source] if isinstance(value, float) else []


SHIPPED = [(ROOT / f"Pulumi.{stack}.yaml").read_text() for stack in ("dev", "prod")]


def test_the_pinned_pyyaml_has_libyaml():
    assert yaml.__with_libyaml__ and stack_files._LIBYAML_LOADER is not None


@pytest.mark.parametrize("text", [*SHIPPED, WITH_MERGE_KEYS, f"config:\n  {PROJECT}:ratio: 1.30\n"],
                         ids=["dev", "prod", "merge-keys", "float-as-written"])
def test_a_valid_stack_file_is_read_by_libyaml_alone_and_as_before(text, monkeypatch):
    before = _read(text, libyaml=False, monkeypatch=monkeypatch)

    class NotToBeUsed(stack_files._StackFileLoader):
        def __init__(self, stream: str) -> None:
            raise AssertionError("a valid stack file went through PyYAML's Python scanner")

    monkeypatch.setattr(stack_files, "_StackFileLoader", NotToBeUsed)
    assert _read(text, libyaml=True, monkeypatch=monkeypatch) == before
    assert before[0] == "value"


# Refusals, with the message word for word as PyYAML's Python loader gave it before libyaml read stack files
# (libyaml words the syntax errors differently: "did not find expected ',' or ']'").
REFUSALS = [
    ("unclosed-flow", f"config:\n  {PROJECT}:region: [eu-west-1\n",
     "YAML syntax error at line 3, column 1: expected ',' or ']', but got '<stream end>'"),
    ("mapping-in-plain-scalar", "config:\n  a: b: c\n", "YAML syntax error at line 2, column 7: mapping values are not allowed here"),
    # the two indentation mistakes in words (PyYAML's own: "found character '\\t' that cannot start any token";
    # "expected <block end>" with only the line where the block broke, not where it began)
    ("tab-as-indentation", "config:\n\tb: 1\n", "YAML syntax error at line 2: a tab indents this line; YAML indents with spaces"),
    ("tab-after-spaces", "config:\n  \tb: 1\n", "YAML syntax error at line 2: a tab indents this line; YAML indents with spaces"),
    ("block-end", "- a\nb: 1\n", "YAML syntax error at line 2, column 1: expected <block end>, but found '?': the block collection that "
                                "began at line 1, column 1 ended before this line; check the indentation from line 1 to line 2"),
    ("outdented-key", f"config:\n  {PROJECT}:region: eu-west-1\n{PROJECT}:network:\n    cidr: 10.50.0.0/16\n\n  {PROJECT}:tags: {{}}\n",
     "YAML syntax error at line 6, column 3: expected <block end>, but found '<block mapping start>': the block mapping that "
     "began at line 1, column 1 ended before this line; check the indentation from line 1 to line 6"),
    ("undefined-alias", "config: *nope\n", "refused at line 1, column 9: found undefined alias 'nope'"),
    ("duplicate-anchor", "a: &x 1\nb: &x 2\n", "refused at line 2, column 4: second occurrence"),
    ("two-documents", "a: 1\n---\nb: 2\n", "refused at line 2, column 1: but found another document"),
    ("duplicate-key", f"config:\n  {PROJECT}:nodeGroups:\n    blue: {{}}\n    blue: {{}}\n",
     "refused at line 4, column 5: duplicate key 'blue' (first at line 3)"),
    ("alias-loop", f"config: &loop\n  {PROJECT}:tags: *loop\n", "refused at line 1, column 9: an alias refers to the value that contains it"),
    ("too-deep", "config: " + "[" * 40 + "]" * 40 + "\n", "refused at line 1, column 40: values nest deeper than 32 levels"),
    # the alias itself is the 33rd level: the message points at the alias, not at the value it names
    ("too-deep-at-an-alias", "x: &x 1\nconfig: " + "[" * 31 + "*x" + "]" * 31 + "\n",
     "refused at line 2, column 40: values nest deeper than 32 levels"),
    ("python-tag", "config: !!python/name:os.system x\n",
     "refused at line 1, column 9: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in REFUSALS], ids=[case[0] for case in REFUSALS])
def test_a_refusal_reads_as_before(text, message, monkeypatch):
    assert _read(text, libyaml=True, monkeypatch=monkeypatch) == ("refused", f"{NAME}: {message}")
    assert _read(text, libyaml=False, monkeypatch=monkeypatch) == ("refused", f"{NAME}: {message}")


@pytest.mark.parametrize("text", [case[1] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_the_bad_input_catalogue_reads_the_same_without_libyaml(text, monkeypatch):
    assert _read(text, libyaml=True, monkeypatch=monkeypatch) == _read(text, libyaml=False, monkeypatch=monkeypatch)


def test_deep_nesting_within_the_size_bound_is_refused_without_crashing_the_interpreter():
    """libyaml's own composer recurses without a bound: 100,000 nested `[` (200 KB, under the 1 MiB bound)
    kill the process (SIGSEGV). The nesting bound must stop the file first; a subprocess, so a crash shows
    as a failure instead of ending the test run."""
    nested = 100_000
    script = ("from automation.stack_files import load_yaml_text, StackFileError\n"
              f"try:\n    load_yaml_text('config: ' + '[' * {nested} + ']' * {nested}, 'Pulumi.prod.yaml')\n"
              "except StackFileError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Pulumi.prod.yaml: refused at line 1, column 40: values nest deeper than 32 levels\n"


@pytest.mark.parametrize("text", [
    f"config:\n  {PROJECT}:tags: {{owner:\tplatform}}\t# who pays\n",  # a tab as separating white space
    f"config:\n\ufeff {PROJECT}:tags: {{owner: platform}}\n",  # a byte-order mark starting a line
], ids=["tab", "byte-order-mark"])
def test_what_libyaml_and_the_pulumi_cli_accept_is_read(text, monkeypatch):
    """YAML allows a tab as separating white space; PyYAML's Python scanner refuses it (yaml/pyyaml#594),
    libyaml and go-yaml (the Pulumi CLI's parser, a port of libyaml) accept it; they also skip a
    byte-order mark that starts a line, which PyYAML's Python scanner took as a character of a key.
    The plan now reads both as the Pulumi CLI does."""
    libyaml = _read(text, libyaml=True, monkeypatch=monkeypatch)
    assert libyaml == ("value", ({"config": {f"{PROJECT}:tags": {"owner": "platform"}}}, []))
    assert _read(text, libyaml=False, monkeypatch=monkeypatch) != libyaml  # what changed with libyaml


# Texts that escaped as a Python error (`error: ValueError: month must be in 1..12`, exit 1) or as a
# two-line message; now one line at the value, as every other refusal.
PYTHON_ERRORS = [
    ("impossible-date", f"config:\n  {PROJECT}:tags: {{since: 2024-13-45}}\n",
     "refused at line 2, column 34: '2024-13-45' is not a valid timestamp: month must be in 1..12"),
    ("tagged-int", f"config:\n  {PROJECT}:tags: {{a: !!int x}}\n",
     "refused at line 2, column 30: 'x' is not a valid int: invalid literal for int() with base 10: 'x'"),
    ("tagged-timestamp", f"config:\n  {PROJECT}:tags: {{a: !!timestamp x}}\n", "refused at line 2, column 30: 'x' is not a valid timestamp"),
    ("empty-tagged-int", f"config:\n  {PROJECT}:tags: {{a: !!int ''}}\n", "refused at line 2, column 30: '' is not a valid int"),
    ("list-as-key", f"config:\n  {PROJECT}:tags: {{[1]: 2}}\n", "refused at line 2, column 27: found unhashable key"),
    ("control-character", f"config:\n  {PROJECT}:tags: {{a: \x07}}\n",
     "refused at line 2, column 30: character #x0007 is not allowed in YAML (special characters are not allowed)"),
    ("lone-surrogate", f"config:\n  {PROJECT}:tags: {{a: \udcff}}\n",  # what a --config-path value from a non-UTF-8 argv holds
     "refused at line 2, column 30: character #xdcff is not allowed in YAML (special characters are not allowed)"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in PYTHON_ERRORS], ids=[case[0] for case in PYTHON_ERRORS])
def test_a_value_python_cannot_build_is_refused_in_one_line(text, message, monkeypatch):
    assert _read(text, libyaml=True, monkeypatch=monkeypatch) == ("refused", f"{NAME}: {message}")
    assert _read(text, libyaml=False, monkeypatch=monkeypatch) == ("refused", f"{NAME}: {message}")


def test_the_plan_command_answers_an_impossible_date_with_exit_2(tmp_path):
    lines = (ROOT / NAME).read_text().splitlines(keepends=True)
    (line,) = [number for number, text in enumerate(lines) if text.strip() == "owner: platform-team"]
    lines[line] = lines[line].replace("platform-team", "2024-13-45")
    path = tmp_path / NAME
    path.write_text("".join(lines))
    plan = make_plan("prod", tmp_path / "out", config_file=path)
    column = lines[line].index("2024") + 1
    assert (plan.exit_code, plan.stderr) == (2, f"{NAME}: refused at line {line + 1}, column {column}: '2024-13-45' is not a valid "
                                                "timestamp: month must be in 1..12\n")


# --- stack-file text that is not on disk: what a rollout stage would write ---------------------------------

TEXT_CASES = [
    ("shipped", (ROOT / NAME).read_text()),
    ("invalid-value", (ROOT / NAME).read_text().replace("minSize: 3,", "minSize: two,", 1)),
    ("syntax-error", f"config:\n  {PROJECT}:region: [eu-west-1\n"),
    ("empty", ""),
    ("no-config-map", "config: 3\n"),
    ("another-project", (ROOT / NAME).read_text().replace(f"{PROJECT}:", "billing-platform:")),
    ("too-large", (ROOT / NAME).read_text() + "# " + "x" * (1024 * 1024) + "\n"),
]


def _outcome(read: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "config", read()
    except STACK_ERRORS as error:
        return "refused", stack_error_report(error)


@pytest.mark.parametrize("text", [case[1] for case in TEXT_CASES], ids=[case[0] for case in TEXT_CASES])
def test_stack_text_is_validated_as_the_same_file_on_disk(text, tmp_path, monkeypatch):
    """validate_stack_text answers what load_stack answers for the file with that text, the messages naming
    the real stack file, and writes nothing (no temporary file)."""
    path = tmp_path / NAME
    path.write_text(text, encoding="utf-8")
    from_file = _outcome(lambda: load_stack("prod", path))
    import tempfile

    def no_temporary(*args, **kwargs):
        raise AssertionError("validating stack text made a temporary file or folder")

    for name in ("mkdtemp", "mkstemp", "TemporaryDirectory", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, no_temporary)
    assert _outcome(lambda: validate_stack_text("prod", NAME, text)) == from_file
    if from_file[0] == "refused":
        assert all(line.startswith(f"{NAME}: ") for line in from_file[1].splitlines()[1:] or from_file[1].splitlines())
