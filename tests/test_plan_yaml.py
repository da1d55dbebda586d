"""The plan writes its YAML files with PyYAML's libyaml emitter; the text is what the pure-Python emitter
writes, so the files read the same whichever one a platform has."""

from __future__ import annotations

import yaml

from automation.plan import _ReadableDumper, _represent_string, readable_yaml


class _PythonEmitterDumper(yaml.SafeDumper):
    pass


_PythonEmitterDumper.add_representer(str, _represent_string)

TRICKY = {
    "config": "mode: iptables\nconntrack:\n  maxPerCore: 0\n",  # a literal block
    "trailing": "ends with spaces  \nand a second line",
    "unicode": "Grüße ✓ — 名前",
    "long": "word " * 40,
    "quoted": ["yes", "no", "on", "~", "null", "1.0", "0o17", "'single'", '"double"', "a: b", "- item", "#comment", ""],
    "numbers": [0, -1, 1.5, 1e20, True, None],
    "nested": {"list": [{"a": 1}, [], {}], "empty": {}},
}


def test_the_plan_uses_the_libyaml_emitter():
    assert yaml.__with_libyaml__ and issubclass(_ReadableDumper, yaml.CSafeDumper)


def test_libyaml_writes_what_the_python_emitter_writes():
    expected = yaml.dump(TRICKY, Dumper=_PythonEmitterDumper, sort_keys=False, allow_unicode=True)
    assert readable_yaml(TRICKY) == expected
    assert yaml.safe_load(readable_yaml(TRICKY)) == TRICKY
