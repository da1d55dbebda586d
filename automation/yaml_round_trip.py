"""Stack-file edits that keep comments and formatting: a ruamel.yaml round trip in the file's own
indentation style (detected, not assumed), and atomic writes (temp file + rename, so a crash leaves the
old file or the new one, never half of one)."""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

STR_TAG = "tag:yaml.org,2002:str"

_KEY_LINE = re.compile(r"^(?P<indent> *)[^\s#-][^#]*:\s*(#.*)?$")
_DASH_LINE = re.compile(r"^(?P<indent> *)- ")


class RoundTripError(ValueError):
    """The file cannot be edited without changing lines the edit does not touch."""


def _content_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def detect_indentation(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as ruamel.yaml's `indent()` takes them: from the
    first nested mapping and the first block sequence under a key; 2/4/2 where the file has none."""
    mapping, offset = None, None
    lines = _content_lines(text)
    for parent, child in zip(lines, lines[1:]):
        key = _KEY_LINE.match(parent)
        if not key:
            continue
        parent_indent, child_indent = len(key["indent"]), len(child) - len(child.lstrip(" "))
        dash = _DASH_LINE.match(child)
        if dash and offset is None and child_indent >= parent_indent:
            offset = child_indent - parent_indent
        elif not dash and mapping is None and child_indent > parent_indent:
            mapping = child_indent - parent_indent
    mapping = mapping or 2
    offset = 2 if offset is None else offset
    return mapping, offset + 2, offset


def _handler(text: str) -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.width = 4096
    mapping, sequence, offset = detect_indentation(text)
    handler.indent(mapping=mapping, sequence=sequence, offset=offset)
    return handler


def load(text: str) -> Any:
    return _handler(text).load(text)


def _scalars(node: Any) -> list[Any]:
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [found for value in values for found in ([value] if isinstance(value, str) else _scalars(value))]


def _quote_new_strings(node: Any, handler: YAML) -> None:
    """Give every new string value that YAML would read as something else plain (`1.33`, `true`) double
    quotes, where ruamel would write single ones. Strings the file had keep their own quotes
    (preserve_quotes loads them as ScalarString subclasses, which are left alone)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if type(value) is str and handler.resolver.resolve(ScalarNode, value, (True, False)) != STR_TAG:
            node[key] = DoubleQuotedScalarString(value)
        else:
            _quote_new_strings(value, handler)


def dump(document: Any, style_of: str) -> str:
    """`document` in the indentation of `style_of`; the strings an edit added that need quotes get the
    quotes the file's quoted values use (README: "Edits keep comments, quoting..."): double when most of
    its quoted values are double-quoted, ruamel's single quotes otherwise."""
    handler = _handler(style_of)
    quoted = [value for value in _scalars(handler.load(style_of)) if isinstance(value, (DoubleQuotedScalarString, SingleQuotedScalarString))]
    if sum(isinstance(value, DoubleQuotedScalarString) for value in quoted) * 2 > len(quoted):
        _quote_new_strings(document, handler)
    stream = io.StringIO()
    handler.dump(document, stream)
    return stream.getvalue()


def check_round_trip(text: str, file_name: str) -> None:
    """Raise, naming the first line a round trip would change (e.g. two indentation styles in one file)."""
    again = dump(load(text), text)
    if again == text:
        return
    before, after = text.splitlines(), again.splitlines()
    for number, (old, new) in enumerate(zip(before, after), start=1):
        if old != new:
            raise RoundTripError(f"{file_name} line {number}: {old.rstrip()!r} would be rewritten as {new.rstrip()!r} "
                                 "(mixed indentation or spacing); make the file use one style, then rerun")
    raise RoundTripError(f"{file_name} line {min(len(before), len(after)) + 1}: the end of the file would change; "
                         "remove trailing blank lines or stray text, then rerun")


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
