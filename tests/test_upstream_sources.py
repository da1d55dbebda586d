"""tests/upstream holds exactly the files its SOURCES.md lists, each unchanged (sha256)."""

from __future__ import annotations

import hashlib
import re

from tests.upstream_data import UPSTREAM


def test_every_upstream_file_is_listed_with_its_sha256():
    rows = re.findall(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{64}) \|$", (UPSTREAM / "SOURCES.md").read_text(), flags=re.MULTILINE)
    listed = dict(rows)
    present = {str(path.relative_to(UPSTREAM)) for path in UPSTREAM.rglob("*") if path.is_file() and path.name != "SOURCES.md"}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((UPSTREAM / name).read_bytes()).hexdigest() == digest, f"{name} differs from its upstream copy"
