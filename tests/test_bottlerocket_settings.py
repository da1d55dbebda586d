"""Bottlerocket's value formats and closed tables, checked with upstream's own good and bad examples."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from core.bottlerocket_settings import BottlerocketSettings, KubernetesSettings, cpu_milli, memory_mib, quantity_value
from tests.upstream_data import UPSTREAM


def _kubernetes(**settings) -> KubernetesSettings:
    return KubernetesSettings.model_validate(settings)


# Examples from the tests of upstream modeled-types (kubernetes.rs), as quoted in the reference.
@pytest.mark.parametrize("good", ["129e6", "10Mi", "1024M", "1Gi", "120Ki", "1Ti", "1000n", "100m"])
def test_quantity_accepts_upstream_examples(good):
    assert _kubernetes(**{"container-log-max-size": good}).container_log_max_size == good


@pytest.mark.parametrize("bad", ["", "12%", "12ki", "100e23m", "1100KTi", "100Kiii", "1000i", "10MB"])
def test_quantity_rejects_upstream_examples(bad):
    with pytest.raises(ValidationError, match="not a Kubernetes quantity"):
        _kubernetes(**{"container-log-max-size": bad})


@pytest.mark.parametrize("good", ["10%", "0%", "99.9%", "129e6", "10Mi", "1Gi", "100m"])
def test_threshold_accepts(good):
    assert _kubernetes(**{"eviction-hard": {"memory.available": good}}).eviction_hard == {"memory.available": good}


@pytest.mark.parametrize("bad", ["100%", "101%", "-1%", "ten%", "12ki", ""])
def test_threshold_rejects(bad):
    with pytest.raises(ValidationError):
        _kubernetes(**{"eviction-hard": {"memory.available": bad}})


@pytest.mark.parametrize("good", ["9ms", "99s", "20m", "1h", "1h2m3s10ms", "1.5h3.5m"])
def test_duration_accepts(good):
    assert _kubernetes(**{"image-minimum-gc-age": good}).image_minimum_gc_age == good


@pytest.mark.parametrize("bad", ["100", "1m2h", "9ns", "", "1 m"])
def test_duration_rejects(bad):
    with pytest.raises(ValidationError, match="not a duration"):
        _kubernetes(**{"image-minimum-gc-age": bad})


def test_eviction_signals_are_a_closed_set():
    with pytest.raises(ValidationError):
        _kubernetes(**{"eviction-hard": {"memory.free": "1Gi"}})


def test_integer_percent_takes_integers_and_numeric_strings_only():
    assert _kubernetes(**{"image-gc-high-threshold-percent": "85"}).image_gc_high_threshold_percent == 85
    for bad in (101, "eighty", 85.0, True):
        with pytest.raises(ValidationError):
            _kubernetes(**{"image-gc-high-threshold-percent": bad})


def test_strict_types_reject_what_serde_rejects():
    with pytest.raises(ValidationError):
        _kubernetes(**{"pod-pids-limit": "1024"})  # integer field, string value
    with pytest.raises(ValidationError):
        _kubernetes(**{"pod-pids-limit": 1024.0})  # floats are not integers to serde
    with pytest.raises(ValidationError):
        BottlerocketSettings.model_validate({"kernel": {"sysctl": {"vm.max_map_count": 262144}}})


def test_unknown_keys_are_rejected_at_every_level():
    for settings in ({"kubernets": {}}, {"kubernetes": {"evictionHard": {}}}, {"host-containers": {"admin": {"enable": True}}}):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            BottlerocketSettings.model_validate(settings)


def test_bootstrap_commands_must_start_with_apiclient():
    ok = {"bootstrap-commands": {"storage": {"commands": [["apiclient", "ephemeral-storage", "init"]], "mode": "once"}}}
    BottlerocketSettings.model_validate(ok)
    with pytest.raises(ValidationError, match="must start with 'apiclient'"):
        BottlerocketSettings.model_validate({"bootstrap-commands": {"x": {"commands": [["mkfs", "/dev/xvdc"]]}}})


def test_quantity_value():
    assert quantity_value("1Gi") == 2**30
    assert quantity_value("500Mi") == 500 * 2**20
    assert quantity_value("129e6") == 129e6
    assert quantity_value("1k") == 1000
    assert (cpu_milli("250m"), cpu_milli("2"), memory_mib("1Gi"), memory_mib("512Mi")) == (250, 2000, 1024, 512)


def _reference_kubernetes_keys() -> set[str]:
    text = (UPSTREAM / "notes" / "bottlerocket-settings.md").read_text()
    section = text.split("### 1.2 Keys", 1)[1].split("## 2.", 1)[0]
    keys = set()
    for row in re.findall(r"^\| (`[^|]+`(?:, `[^|]+`)*) \|", section, flags=re.MULTILINE):
        keys.update(re.findall(r"`([a-z0-9-]+)`", row))
    return keys


def test_every_modelled_kubernetes_key_exists_upstream():
    """The model may accept less than Bottlerocket, never a key Bottlerocket does not have."""
    upstream = _reference_kubernetes_keys()
    modelled = {field.alias for field in KubernetesSettings.model_fields.values()}
    assert modelled - upstream == set()


def test_eviction_signals_match_upstream():
    text = (UPSTREAM / "notes" / "bottlerocket-settings.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `KubernetesEvictionKey`"))
    upstream = set(re.findall(r"`([a-zA-Z.]+)`", row.split("|")[2]))
    from typing import get_args

    from core.bottlerocket_settings import EvictionSignal

    assert set(get_args(EvictionSignal)) == upstream
