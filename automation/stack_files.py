"""Reading `Pulumi.yaml` and a stack file the way the Pulumi CLI hands them to the program."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Hashable

import yaml

from core.config.base import SourceFloat
from core.config.stack_config import StackConfig, other_namespaces, validate_stack_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# Bounds on what a stack file may make the loader build. Real stack files are a few KB, nest under ten
# levels and expand to a few hundred values; a file past these is a mistake or an attack (a "billion
# laughs" alias bomb expands 5 KB into gigabytes), and is refused before anything is built from it.
MAX_STACK_FILE_BYTES = 1024 * 1024
MAX_NESTING_DEPTH = 32
MAX_EXPANDED_VALUES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StackFileRules(yaml.composer.Composer, yaml.constructor.SafeConstructor):
    """YAML loading as the Pulumi CLI reads stack files (YAML 1.1 merge keys `<<: *group` included),
    but a key given twice is an error (plain YAML keeps the last one silently), nesting is bounded,
    and floats keep the text the user wrote (`1.30`, which a float would show as 1.3). The composing
    and constructing half of a loader; the concrete loaders below add who reads the text."""

    def __init__(self) -> None:
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_NESTING_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"values nest deeper than {MAX_NESTING_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # keys merged in may be overridden; only the map's own keys must be unique
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # a list or map as a key: SafeConstructor refuses it ("found unhashable key")
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)

    def construct_object(self, node, deep=False):
        """A scalar its tag cannot hold (`2024-13-45` resolves as a timestamp, `!!int x`) is refused at its
        line; SafeConstructor lets Python's own ValueError (or worse) escape."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, IndexError) as error:
            if not isinstance(node, yaml.ScalarNode):
                raise
            why = f": {error}" if isinstance(error, ValueError) else ""  # the others' texts speak of PyYAML's internals
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a valid {node.tag.rpartition(':')[2]}{why}",
                                                    node.start_mark) from None

    def construct_yaml_float(self, node):
        return SourceFloat.of(super().construct_yaml_float(node), str(node.value))


_StackFileRules.add_constructor("tag:yaml.org,2002:float", _StackFileRules.construct_yaml_float)


class _StackFileLoader(_StackFileRules, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.resolver.Resolver):
    """The pure-Python loader: it words every refusal (the messages users and tests know), and reads
    everything when PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        _StackFileRules.__init__(self)


if yaml.__with_libyaml__:
    class _LibyamlStackFileLoader(_StackFileRules, yaml.cyaml.CParser, yaml.resolver.Resolver):
        """libyaml reads the text into events, several times faster than PyYAML's Python reader and
        scanner (`python -m bench.stack_file_benchmark` prints the figures); the composing stays the
        Python composer above, which bounds nesting as it goes. libyaml's own composer (what
        `yaml.compose(..., Loader=yaml.CSafeLoader)` runs) recurses without a bound and crashes the
        interpreter (SIGSEGV) on 100,000 nested `[`, a file far under MAX_STACK_FILE_BYTES. libyaml words
        syntax errors its own way ("did not find expected ',' or ']'"), so a text it refuses is read again
        by _StackFileLoader, which gives the message. libyaml accepts a few spellings PyYAML's Python
        scanner refuses, as the Pulumi CLI does: a tab as separating white space (yaml/pyyaml#594), `?`
        or `:` inside a plain scalar in `[...]`/`{...}`; and it skips a byte-order mark starting a line
        (libyaml 0.2.5 src/scanner.c yaml_parser_scan_to_next_token, "Allow the BOM mark to start a
        line"), which PyYAML's Python scanner takes as a character of the text. The CLI parses stack
        files with go-yaml v3, a Go port of libyaml (pulumi/pulumi sdk/go/common/encoding/marshal.go:27
        `yaml "gopkg.in/yaml.v3"`, used by sdk/go/common/workspace/loaders.go:181 LoadProjectStackBytes;
        read at sdk 3.260.0, the newest stored snapshot, as the 3.272.0 tag was not available)."""

        def __init__(self, stream: str) -> None:
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.resolver.Resolver.__init__(self)
            _StackFileRules.__init__(self)

    _LIBYAML_LOADER: type[_StackFileRules] | None = _LibyamlStackFileLoader
else:  # a PyYAML built without libyaml (no wheel for the platform): _StackFileLoader reads everything, as before
    _LIBYAML_LOADER = None


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document becomes once every alias is expanded, computed without expanding
    (each node counted once, aliases reuse the count); an alias inside its own anchor is refused."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise yaml.composer.ComposerError(None, None, "an alias refers to the value that contains it", node.start_mark)
        in_progress.add(key)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        else:
            total = 1
        in_progress.discard(key)
        sizes[key] = min(total, MAX_EXPANDED_VALUES + 1)
        return sizes[key]

    return size(root)


class StackFileError(Exception):
    """A stack or project file that cannot be read at all (missing, not UTF-8, not YAML, empty)."""


class StackFileUnreadable(StackFileError):
    """The file itself could not be opened or read (missing, a folder, no permission, an I/O error): its
    content says nothing, unlike a file that was read and is not valid."""


# The characters the Pulumi CLI allows in a stack name (pulumi/pulumi v3.272.0,
# pkg/backend/diy/backend.go, validateStackName: `^[A-Za-z0-9_.-]{1,100}$`). The name also becomes a path
# component (Pulumi.<stack>.yaml, build/plan/<stack>), so `.`-only names and `..` are refused as well.
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


STACK_NAME_RULE = "a stack name has 1 to 100 letters, digits, '-', '_' or '.' (no path separators, no '..')"


def check_stack_name(stack: str) -> None:
    """Raise StackFileError unless `stack` is a stack name Pulumi accepts and is safe as a folder name."""
    if not _STACK_NAME.match(stack) or ".." in stack or not stack.strip("."):
        raise StackFileError(f"--stack {stack!r}: {STACK_NAME_RULE}")


@dataclass(frozen=True)
class StackConfigSource:
    """One stack's configuration: the project's keys (no namespace) and all keys as the engine sees them."""

    project: str
    stack: str
    stack_file: str
    project_values: dict[str, Any]
    engine_config: dict[str, str]
    secret_keys: list[str]
    secret_paths: list[tuple[str | int, ...]]  # every encrypted value's key path in the project's keys
    config: dict[str, Any]  # every key as written, full names, ciphertext kept (what config overrides start from)

    @property
    def project_secret_keys(self) -> list[str | tuple[str | int, ...]]:
        """The project's encrypted keys without their namespace, as the config model names them (a key
        whose every value is encrypted), and the key path of each encrypted value."""
        prefix = f"{self.project}:"
        return [key[len(prefix):] for key in self.secret_keys if key.startswith(prefix)] + list(self.secret_paths)


def _refuse_oversized(file_name: str, size: int) -> None:
    if size > MAX_STACK_FILE_BYTES:
        raise StackFileError(f"{file_name}: {size / 2**20:.1f} MiB is too large for a stack file (at most {MAX_STACK_FILE_BYTES // 2**20} MiB)")


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise StackFileUnreadable(f"{path.name}: is a directory, not a stack file ({path})")
        _refuse_oversized(path.name, path.stat().st_size)  # before reading: a huge file is not read at all
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise StackFileUnreadable(f"{path.name}: file not found ({path})") from None
    except NotADirectoryError:
        raise StackFileUnreadable(f"{path.name}: file not found: a folder on its path is a file ({path})") from None
    except PermissionError:
        raise StackFileUnreadable(f"{path.name}: cannot be read: permission denied ({path})") from None
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path.name}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    except OSError as error:
        raise StackFileUnreadable(f"{path.name}: cannot be read: {error.strerror or error} ({path})") from None


def load_yaml_text(text: str, name: str) -> Any:
    """YAML text (a stack file's, or a `--config-path` value's) with the loader's bounds, or
    StackFileError naming `name` and where the text goes wrong."""
    if _LIBYAML_LOADER is not None:
        try:
            return _load_with(_LIBYAML_LOADER, text, name)
        except (yaml.YAMLError, UnicodeEncodeError):  # UnicodeEncodeError: a lone surrogate, which libyaml cannot take
            pass  # refused: the Python loader reads it again and words the refusal
    try:
        return _load_with(_StackFileLoader, text, name)
    except yaml.reader.ReaderError as error:  # a character YAML does not allow: a control character, a lone surrogate
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        raise StackFileError(f"{name}: refused at line {line}, column {column}: "
                             f"character #x{error.character:04x} is not allowed in YAML ({error.reason})") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name}: {_yaml_error_text(error, text)}") from None


TAB_TOKEN = "found character '\\t' that cannot start any token"  # PyYAML's scanner, on a tab where a token starts
BLOCK_END = "expected <block end>"  # PyYAML's parser, on a line indented unlike the block it is in


def _yaml_error_text(error: yaml.YAMLError, text: str) -> str:
    """PyYAML's refusal in words: where it is, and for the two indentation mistakes users make most (a
    tab, a line indented unlike its block) what to do; every other refusal as PyYAML words it."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    kind = "YAML syntax error" if isinstance(error, (yaml.scanner.ScannerError, yaml.parser.ParserError)) else "refused"
    if mark and problem == TAB_TOKEN and not text.splitlines()[mark.line][:mark.column].strip(" "):
        return f"{kind} at line {mark.line + 1}: a tab indents this line; YAML indents with spaces"
    context, begun = getattr(error, "context", None), getattr(error, "context_mark", None)
    if mark and begun and problem.startswith(BLOCK_END) and context:
        block = context.removeprefix("while parsing ").removeprefix("a ")  # "while parsing a block mapping"
        return (f"{kind}{where}: {problem}: the {block} that began at line {begun.line + 1}, column {begun.column + 1} ended "
                f"before this line; check the indentation from line {begun.line + 1} to line {mark.line + 1}")
    return f"{kind}{where}: {problem}"


def _load_with(loader_class: type[_StackFileRules], text: str, name: str) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_EXPANDED_VALUES:
            raise StackFileError(f"{name}: its aliases expand to more than {MAX_EXPANDED_VALUES:,} values; "
                                 "that much configuration is a mistake (or an alias bomb)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _load_yaml(path: Path) -> Any:
    return load_yaml_text(_read_text(path), path.name)


def project_name(root: Path = PROJECT_ROOT) -> str:
    project = _load_yaml(root / "Pulumi.yaml")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise StackFileError("Pulumi.yaml: has no project name")
    return project["name"]


def _engine_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


SECRET_MASK = "[secret]"


def _mask_secure(value: Any, path: tuple[str | int, ...] = ()) -> tuple[Any, list[tuple[str | int, ...]], int]:
    """(value with every `{secure: ...}` masked, the paths of the secure values, count of plain values)."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_MASK, [path], 0
    if isinstance(value, (dict, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        masked: Any = {} if isinstance(value, dict) else []
        secure: list[tuple[str | int, ...]] = []
        plain = 0
        for key, child in items:
            child_masked, child_secure, child_plain = _mask_secure(child, (*path, key))
            if isinstance(masked, dict):
                masked[key] = child_masked
            else:
                masked.append(child_masked)
            secure, plain = secure + child_secure, plain + child_plain
        return masked, secure, plain
    return value, [], 1


def mask_secrets(value: Any) -> Any:
    """The value with every encrypted (`{secure: ...}`) part shown as SECRET_MASK."""
    return _mask_secure(value)[0]


def program_view(value: Any) -> Any:
    """A top-level config value as the program decodes it (core/pulumi_config.py): the engine passes
    each key as a string, and structured values as JSON."""
    return value if isinstance(value, (dict, list)) else _engine_value(value)


def stack_file_path(stack: str, root: Path = PROJECT_ROOT) -> Path:
    """Where the Pulumi CLI keeps a stack's config: `Pulumi.<stack>.yaml` beside `Pulumi.yaml`."""
    return root / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, stack_file: Path | None = None, root: Path = PROJECT_ROOT) -> StackConfigSource:
    """`stack_file` defaults to the stack's own file (stack_file_path)."""
    check_stack_name(stack)
    project = project_name(root)
    path = stack_file or stack_file_path(stack, root)
    return _stack_config_source(stack, project, path.name, _read_text(path))


def read_stack_text(stack: str, file_name: str, text: str, root: Path = PROJECT_ROOT) -> StackConfigSource:
    """A stack file's text that is not (yet) on disk, read as read_stack_config reads the file; every
    message names `file_name`, the stack file the text is for."""
    check_stack_name(stack)
    project = project_name(root)
    _refuse_oversized(file_name, len(text.encode("utf-8", "surrogatepass")))
    return _stack_config_source(stack, project, file_name, text)


def _stack_config_source(stack: str, project: str, file_name: str, text: str) -> StackConfigSource:
    document = load_yaml_text(text, file_name)
    if document is None:
        raise StackFileError(f"{file_name}: the file is empty; it needs a 'config:' map")
    if not isinstance(document, dict):
        raise StackFileError(f"{file_name}: the top level must be a map with a 'config:' key")
    config = document.get("config")
    if not isinstance(config, dict):
        raise StackFileError(f"{file_name}: config: must be a map of keys to values")

    project_values: dict[str, Any] = {}
    engine_config: dict[str, str] = {}
    secret_keys: list[str] = []
    secret_paths: list[tuple[str | int, ...]] = []
    full_config: dict[str, Any] = {}
    for key, value in config.items():
        full_key = key if ":" in str(key) else f"{project}:{key}"
        full_config[full_key] = value
        # Ciphertext cannot be decrypted offline; the plan shows it masked. A key counts as secret only
        # when every value in it is encrypted (the engine would call it secret if any one were).
        value, secure, plain = _mask_secure(value)
        if secure and not plain:
            secret_keys.append(full_key)
        engine_config[full_key] = _engine_value(value)
        namespace, _, name = full_key.partition(":")
        if namespace == project:
            project_values[name] = value
            secret_paths += [(name, *leaf) for leaf in secure]
    if not project_values:
        _no_project_keys(file_name, project, [key.partition(":")[0] for key in engine_config])
    return StackConfigSource(project, stack, file_name, project_values, engine_config, secret_keys, secret_paths, full_config)


# Namespaces of the engine and the providers: keys a stack file of any project may set.
_SHARED_NAMESPACES = {"pulumi", "aws", "kubernetes", "eks"}


def _no_project_keys(file_name: str, project: str, namespaces: list[str]) -> None:
    foreign = sorted(set(namespaces) - _SHARED_NAMESPACES)
    found = f"it sets keys of {', '.join(repr(n + ':') for n in foreign)}" if foreign else "it sets none of this project's keys"
    raise StackFileError(f"{file_name}: no key is in this project's namespace '{project}:' ({found}); "
                         f"is it another project's stack file? Keys look like {project}:cluster")


def _validated(source: StackConfigSource) -> StackConfig:
    return validate_stack_config(source.project_values, source.stack_file, source.project_secret_keys,
                                 project=source.project, other_keys=other_namespaces(source.config, source.project))


def load_stack_source(stack: str, stack_file: Path | None = None) -> tuple[StackConfigSource, StackConfig]:
    """The stack file as read and its validated config, as `plan` and `up` read it; StackFileError or ConfigError."""
    source = read_stack_config(stack, stack_file)
    return source, _validated(source)


def validate_stack_text(stack: str, file_name: str, text: str) -> StackConfig:
    """Stack-file text validated as load_stack validates the file (a rollout stage's edit, before it is
    written), each problem naming the stack file `file_name`; StackFileError or ConfigError."""
    return _validated(read_stack_text(stack, file_name, text))


def load_stack(stack: str, stack_file: Path | None = None) -> StackConfig:
    """The stack file read and validated as `plan` and `up` read it; StackFileError or ConfigError."""
    return load_stack_source(stack, stack_file)[1]
