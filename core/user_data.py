"""Bottlerocket user data: safe defaults, stack/node-group merging, cross-field rules, TOML rendering.

Bottlerocket ships no eviction thresholds and no reserved resources, so a node without them can be
starved by pods until kubelet and containerd die (field notes §4). The defaults below close that gap;
a stack's `bottlerocket` settings and a node group's own `bottlerocket` settings are deep-merged on
top of them (a `null` removes a default entry). The same renderer feeds managed node groups and, later,
Karpenter's EC2NodeClass.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import tomlkit

from core.bottlerocket_settings import memory_mib, quantity_value

# Signals the kubelet itself sets by default. Listing some in eviction-hard zeroes the rest
# (KubeletConfiguration: "other signals not specified will be set to 0"), so all must be present.
KUBELET_DEFAULT_HARD_SIGNALS = ("memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available")

DEFAULT_SETTINGS: dict[str, Any] = {
    "kubernetes": {
        "pod-pids-limit": 1024,
        "image-gc-high-threshold-percent": 85,
        "image-gc-low-threshold-percent": 80,
        "container-log-max-size": "100Mi",
        "container-log-max-files": 10,
        "eviction-max-pod-grace-period": 60,
        "eviction-hard": {
            "memory.available": "500Mi",
            "nodefs.available": "10%",
            "nodefs.inodesFree": "5%",
            "imagefs.available": "15%",
            "imagefs.inodesFree": "5%",
        },
        "eviction-soft": {"memory.available": "1Gi", "nodefs.available": "15%"},
        "eviction-soft-grace-period": {"memory.available": "30s", "nodefs.available": "1m"},
        "system-reserved": {"cpu": "200m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        "kube-reserved": {"cpu": "100m", "memory": "893Mi", "ephemeral-storage": "1Gi"},
    },
    "kernel": {
        "lockdown": "integrity",
        "sysctl": {
            "net.netfilter.nf_conntrack_max": "1048576",
            "net.netfilter.nf_conntrack_tcp_timeout_time_wait": "60",
        },
    },
    "host-containers": {
        "control": {"enabled": True},
        "admin": {"enabled": False},
    },
}

CONNTRACK_MAX_SYSCTL = "net.netfilter.nf_conntrack_max"
MINIMUM_ALLOCATABLE_MEMORY_MIB = 1024

# One "why" per rendered table, written as a TOML comment above it.
_WHY: dict[tuple[str, ...], str] = {
    ("settings", "kubernetes"): "Kubelet limits Bottlerocket leaves open: PIDs per pod, image GC, log rotation.",
    ("settings", "kubernetes", "eviction-hard"): (
        "Bottlerocket sets no eviction thresholds; a partial map zeroes the rest, so all signals are listed."
    ),
    ("settings", "kubernetes", "eviction-soft"): "Evict with SIGTERM and a grace period before the hard limits kill.",
    ("settings", "kubernetes", "eviction-soft-grace-period"): "How long a soft threshold must hold before eviction.",
    ("settings", "kubernetes", "system-reserved"): "Resources kept for the OS so pods cannot starve it.",
    ("settings", "kubernetes", "kube-reserved"): "Resources kept for kubelet and containerd.",
    ("settings", "kernel"): "Lockdown stops userspace from modifying the running kernel.",
    ("settings", "kernel", "sysctl"): (
        "Conntrack sized up front, TIME_WAIT shortened: the table filled under short-lived connections."
    ),
    ("settings", "host-containers", "control"): "SSM access to the Bottlerocket API.",
    ("settings", "host-containers", "admin"): (
        "Shell and logdog when the log collector is down; enabling it later replaces the nodes."
    ),
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`; nested tables merge, `None` removes the key."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def effective_settings(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """DEFAULT_SETTINGS with each layer merged on top in turn: the stack's `bottlerocket`, then a node group's."""
    return functools.reduce(deep_merge, layers, copy.deepcopy(DEFAULT_SETTINGS))


@dataclass(frozen=True)
class SettingsProblem:
    """A cross-field rule broken by merged settings; `key` is the path inside `settings` to fix, `also`
    other settings that break the rule with it (the one the user wrote is named), and `cause` the
    setting that made the rule apply (it tells which table the user wrote it in)."""

    key: tuple[str, ...]
    message: str
    cause: tuple[str, ...] | None = None
    also: tuple[tuple[str, ...], ...] = ()


def _is_percent(threshold: str) -> bool:
    return threshold.endswith("%")


def _soft_is_not_looser(soft: str, hard: str) -> bool:
    if _is_percent(soft) != _is_percent(hard):
        return False
    if _is_percent(soft):
        return float(soft[:-1]) <= float(hard[:-1])
    return quantity_value(soft) <= quantity_value(hard)


def reserved_memory_mib(kubernetes: Mapping[str, Any], capacity_mib: float) -> float:
    """Memory pods cannot have on a node of `capacity_mib`: system- and kube-reserved plus the hard
    `memory.available` eviction threshold."""
    reserved = sum(memory_mib(kubernetes.get(table, {}).get("memory") or "0") for table in ("system-reserved", "kube-reserved"))
    threshold = kubernetes.get("eviction-hard", {}).get("memory.available")
    if threshold:
        reserved += capacity_mib * float(threshold[:-1]) / 100 if _is_percent(threshold) else memory_mib(threshold)
    return reserved


def settings_problems(settings: Mapping[str, Any], smallest_memory: tuple[str, int] | None) -> list[SettingsProblem]:
    """Rules Bottlerocket itself does not enforce but the kubelet or the node's health needs.

    `smallest_memory` is (instance type, MiB) of the smallest instance the settings will run on."""
    kubernetes = settings.get("kubernetes", {})
    problems: list[SettingsProblem] = []

    high = kubernetes.get("image-gc-high-threshold-percent")
    low = kubernetes.get("image-gc-low-threshold-percent")
    if high is not None and low is not None and int(low) >= int(high):
        problems.append(SettingsProblem(
            ("kubernetes", "image-gc-low-threshold-percent"),
            f"must be below image-gc-high-threshold-percent ({high}); it is {low}",
        ))

    hard = kubernetes.get("eviction-hard", {})
    missing = [signal for signal in KUBELET_DEFAULT_HARD_SIGNALS if signal not in hard]
    if missing:
        problems.append(SettingsProblem(
            ("kubernetes", "eviction-hard"),
            f"must list every kubelet default signal, missing {', '.join(missing)} "
            "(a partial map sets the others to 0, which disables them)",
        ))

    soft = kubernetes.get("eviction-soft", {})
    grace = kubernetes.get("eviction-soft-grace-period", {})
    for signal in soft:
        if signal not in grace:
            problems.append(SettingsProblem(
                ("kubernetes", "eviction-soft-grace-period", signal),
                f"eviction-soft sets {signal} but it has no grace period (the kubelet refuses to start)",
                cause=("kubernetes", "eviction-soft", signal),
            ))
        elif signal in hard and _soft_is_not_looser(soft[signal], hard[signal]):
            problems.append(SettingsProblem(
                ("kubernetes", "eviction-soft", signal),
                f"soft threshold {soft[signal]} must leave more free than the hard one ({hard[signal]}), "
                "or soft eviction never happens",
                also=(("kubernetes", "eviction-hard", signal),),
            ))
    for signal in grace:
        if signal not in soft:
            problems.append(SettingsProblem(
                ("kubernetes", "eviction-soft-grace-period", signal),
                f"grace period for {signal} has no eviction-soft threshold",
            ))

    if smallest_memory is not None:
        instance_type, capacity_mib = smallest_memory
        allocatable = capacity_mib - reserved_memory_mib(kubernetes, capacity_mib)
        if allocatable < MINIMUM_ALLOCATABLE_MEMORY_MIB:
            problems.append(SettingsProblem(
                ("kubernetes", "system-reserved", "memory"),
                f"reserved memory and the hard eviction threshold leave {allocatable:.0f}Mi of "
                f"{instance_type}'s {capacity_mib}Mi for pods; at least {MINIMUM_ALLOCATABLE_MEMORY_MIB}Mi is needed",
                also=(("kubernetes", "kube-reserved", "memory"), ("kubernetes", "eviction-hard", "memory.available")),
            ))
    return problems


def control_container_enabled(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("host-containers", {}).get("control", {}).get("enabled"))


def conntrack_max_configured(settings: Mapping[str, Any]) -> bool:
    return CONNTRACK_MAX_SYSCTL in settings.get("kernel", {}).get("sysctl", {})


def _add_table(parent: Any, key: str, values: Mapping[str, Any], path: tuple[str, ...]) -> None:
    scalars = {k: v for k, v in values.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in values.items() if isinstance(v, Mapping)}
    # A table holding only tables prints no header of its own: [settings.kubernetes], not [settings].
    table = tomlkit.table(is_super_table=not scalars)
    why = _WHY.get(path)
    if why and scalars:
        table.add(tomlkit.comment(why))
    for name in sorted(scalars):
        table.add(name, scalars[name])
    for name in sorted(tables):
        _add_table(table, name, tables[name], (*path, name))
    parent.add(key, table)


def render_user_data(settings: Mapping[str, Any], header: Iterable[str]) -> str:
    """Deterministic, commented TOML for Bottlerocket's `[settings]` table."""
    return _render(json.dumps(settings, sort_keys=True), tuple(header))


@functools.lru_cache(maxsize=256)
def _render(settings_json: str, header: tuple[str, ...]) -> str:
    """Remembered: validation renders every node group's settings (twice in a plan, and node groups often
    share them), and tomlkit takes ~10 ms a document."""
    document = tomlkit.document()
    for line in header:
        document.add(tomlkit.comment(line))
    _add_table(document, "settings", json.loads(settings_json), ("settings",))
    return tomlkit.dumps(document)


# EKS merges managed-node-group user data with its own and its merger does not accept every TOML form.
_QUOTED_HEADER_KEY = re.compile(r"^\s*\[[^\]]*[\"'][^\]]*\]", re.MULTILINE)


def eks_merge_problems(text: str) -> list[str]:
    """TOML constructs the EKS user-data merger rejects (shared reference §11), found in `text`."""
    problems = []
    if _QUOTED_HEADER_KEY.search(text):
        problems.append("a table header contains a quoted key")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        if '\\"' in line or "\\'" in line:
            problems.append(f"line {number}: escaped quote")
        key = line.split("=", 1)[0] if "=" in line else ""
        if key.count('"') > 2 or ("'" in key and '"' in key):
            problems.append(f"line {number}: quotes inside a quoted key")
    try:
        parsed = tomllib.loads(text)  # the standard library's parser: this runs at every validation, tomlkit's is 20x slower
    except tomllib.TOMLDecodeError as error:
        return [*problems, f"not valid TOML: {error}"]
    for path, array in _arrays(parsed, ()):
        kinds = {type(item).__name__ for item in array}
        if len(kinds) > 1:
            problems.append(f"{'.'.join(path)}: array mixes {', '.join(sorted(kinds))}")
    return problems


def _arrays(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _arrays(child, (*path, key))
    elif isinstance(value, list):
        yield path, value
        for item in value:
            yield from _arrays(item, path)
