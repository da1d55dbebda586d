"""User data: defaults, merging, cross-field rules and the TOML renderer (unit and property tests)."""

from __future__ import annotations

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from core.bottlerocket_settings import BottlerocketSettings, settings_as_dict
from core.user_data import (
    DEFAULT_SETTINGS,
    KUBELET_DEFAULT_HARD_SIGNALS,
    conntrack_max_configured,
    deep_merge,
    eks_merge_problems,
    render_user_data,
    settings_problems,
)


def test_defaults_are_valid_and_break_no_rule():
    BottlerocketSettings.model_validate(DEFAULT_SETTINGS)
    assert settings_problems(DEFAULT_SETTINGS, ("t3.medium", 4096)) == []


def test_defaults_cover_the_field_notes_pains():
    kubernetes = DEFAULT_SETTINGS["kubernetes"]
    assert set(KUBELET_DEFAULT_HARD_SIGNALS) <= set(kubernetes["eviction-hard"])
    assert set(kubernetes["eviction-soft"]) == set(kubernetes["eviction-soft-grace-period"])
    assert {"system-reserved", "kube-reserved", "pod-pids-limit", "container-log-max-size", "container-log-max-files"} <= set(kubernetes)
    assert DEFAULT_SETTINGS["kernel"]["lockdown"] == "integrity"
    assert DEFAULT_SETTINGS["kernel"]["sysctl"]["net.netfilter.nf_conntrack_tcp_timeout_time_wait"] == "60"
    assert conntrack_max_configured(DEFAULT_SETTINGS)


def test_deep_merge_merges_tables_and_null_removes():
    merged = deep_merge(DEFAULT_SETTINGS, {"kubernetes": {"eviction-soft": {"nodefs.available": None},
                                                          "eviction-soft-grace-period": {"nodefs.available": None},
                                                          "pod-pids-limit": 4096}})
    assert merged["kubernetes"]["pod-pids-limit"] == 4096
    assert merged["kubernetes"]["eviction-soft"] == {"memory.available": "1Gi"}
    assert merged["kubernetes"]["eviction-hard"] == DEFAULT_SETTINGS["kubernetes"]["eviction-hard"]
    assert DEFAULT_SETTINGS["kubernetes"]["pod-pids-limit"] == 1024  # the defaults are not mutated


def _kubernetes(**overrides):
    return deep_merge(DEFAULT_SETTINGS, {"kubernetes": overrides})


def test_rule_partial_eviction_hard():
    settings = _kubernetes()
    settings["kubernetes"]["eviction-hard"] = {"memory.available": "100Mi"}
    (problem,) = settings_problems(settings, None)
    assert problem.key == ("kubernetes", "eviction-hard")
    assert "nodefs.available, nodefs.inodesFree, imagefs.available" in problem.message


def test_rule_image_gc_order():
    (problem,) = settings_problems(_kubernetes(**{"image-gc-low-threshold-percent": 85}), None)
    assert problem.key == ("kubernetes", "image-gc-low-threshold-percent")


def test_rule_soft_needs_grace_and_grace_needs_soft():
    problems = settings_problems(_kubernetes(**{"eviction-soft": {"imagefs.available": "20%"},
                                                "eviction-soft-grace-period": {"pid.available": "1m"}}), None)
    assert {p.key for p in problems} == {("kubernetes", "eviction-soft-grace-period", "imagefs.available"),
                                         ("kubernetes", "eviction-soft-grace-period", "pid.available")}


def test_rule_soft_looser_than_hard():
    (problem,) = settings_problems(_kubernetes(**{"eviction-soft": {"nodefs.available": "10%"}}), None)
    assert problem.key == ("kubernetes", "eviction-soft", "nodefs.available")


def test_rule_allocatable_memory_on_the_smallest_instance():
    assert settings_problems(DEFAULT_SETTINGS, ("t3.small", 2048))[0].key == ("kubernetes", "system-reserved", "memory")
    assert settings_problems(DEFAULT_SETTINGS, ("m6i.large", 8192)) == []
    percent = _kubernetes(**{"eviction-hard": {"memory.available": "80%"}})
    assert settings_problems(percent, ("m6i.large", 8192))[0].key == ("kubernetes", "system-reserved", "memory")


def test_rendered_defaults_are_commented_and_merge_safe():
    text = render_user_data(DEFAULT_SETTINGS, ["header line"])
    assert text.startswith("# header line\n")
    assert "[settings.kubernetes.eviction-hard]\n# Bottlerocket sets no eviction thresholds" in text
    assert '"memory.available" = "500Mi"' in text
    assert "[settings]" not in text  # only the tables that carry values get headers
    assert eks_merge_problems(text) == []
    assert tomlkit.parse(text).unwrap() == {"settings": DEFAULT_SETTINGS}


def test_eks_merge_problems_detects_unsupported_toml():
    assert eks_merge_problems('[settings."kubernetes.x"]\na = 1\n') == ["a table header contains a quoted key"]
    assert eks_merge_problems('[settings.motd]\nx = "say \\"hi\\""\n')[0].endswith("escaped quote")
    assert eks_merge_problems('[settings.a]\nx = [1, "two"]\n') == ["settings.a.x: array mixes int, str"]


# --- property-based: any valid settings render to TOML that round-trips and obeys the rules ----------

_quantities = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 4096), st.sampled_from(["Mi", "Gi", "M", "Ki"]))
_percent = st.builds(lambda n: f"{n}%", st.integers(1, 99))
_durations = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 120), st.sampled_from(["s", "m", "h"]))
_signals = st.sampled_from(["memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
                            "imagefs.inodesFree", "pid.available"])
_sysctl_keys = st.from_regex(r"net\.[a-z]{1,10}\.[a-z_]{1,20}", fullmatch=True)

_overrides = st.fixed_dictionaries({}, optional={
    "kubernetes": st.fixed_dictionaries({}, optional={
        "pod-pids-limit": st.integers(64, 1_000_000),
        "max-pods": st.integers(1, 737),
        "container-log-max-size": _quantities,
        "container-log-max-files": st.integers(2, 100),
        "eviction-hard": st.dictionaries(_signals, st.one_of(_percent, _quantities), max_size=3),
        "eviction-max-pod-grace-period": st.integers(0, 600),
        "image-minimum-gc-age": _durations,
        "kube-reserved": st.fixed_dictionaries({}, optional={"cpu": st.sampled_from(["50m", "100m", "1"]),
                                                             "ephemeral-storage": _quantities}),
        "seccomp-default": st.booleans(),
    }),
    "kernel": st.fixed_dictionaries({}, optional={
        "lockdown": st.sampled_from(["none", "integrity", "confidentiality"]),
        "sysctl": st.dictionaries(_sysctl_keys, st.integers(0, 10**7).map(str), max_size=4),
    }),
    "host-containers": st.fixed_dictionaries({}, optional={
        "admin": st.fixed_dictionaries({"enabled": st.booleans()}),
        "control": st.fixed_dictionaries({"enabled": st.booleans()}),
    }),
    "motd": st.text(alphabet=st.characters(whitelist_categories=("L", "N", "Zs")), max_size=40),
})


@settings(max_examples=150, deadline=None)
@given(_overrides)
def test_any_valid_override_renders_round_trip_toml_that_keeps_the_rules(override):
    user = settings_as_dict(BottlerocketSettings.model_validate(override))
    merged = deep_merge(DEFAULT_SETTINGS, user)
    text = render_user_data(merged, ["generated"])
    parsed = tomlkit.parse(text).unwrap()["settings"]
    assert parsed == merged
    BottlerocketSettings.model_validate(parsed)
    assert eks_merge_problems(text) == []
    assert set(KUBELET_DEFAULT_HARD_SIGNALS) <= set(parsed["kubernetes"]["eviction-hard"])
    assert set(parsed["kubernetes"]["eviction-soft"]) <= set(parsed["kubernetes"]["eviction-soft-grace-period"])
    assert render_user_data(merged, ["generated"]) == text  # deterministic
