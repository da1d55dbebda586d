"""What the program knows about EC2 instance types without calling AWS: architecture and memory.

The architecture rule is exact for current EC2 naming (Graviton families carry a `g` in the attribute
letters after the generation digit: m7g, c6gn, x2gd, im4gn, g5g). Memory is derived from the family's
GiB-per-vCPU ratio for the general-purpose, compute, memory and burstable families; for any other
family it is unknown and memory checks are skipped rather than guessed.
"""

from __future__ import annotations

import re
from typing import Literal

Architecture = Literal["x86_64", "arm64"]

_INSTANCE_TYPE = re.compile(r"^(?P<series>[a-z]+)(?P<generation>[0-9]+)(?P<attributes>[a-z-]*)\.(?P<size>[a-z0-9]+)$")
_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8}
_BURSTABLE_MEMORY_GIB = {
    "nano": 0.5, "micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32,
}
_GPU_SERIES = {"g", "p", "gr"}


def is_valid_instance_type(instance_type: str) -> bool:
    return bool(_INSTANCE_TYPE.match(instance_type))


def architecture(instance_type: str) -> Architecture:
    match = _INSTANCE_TYPE.match(instance_type)
    if not match:
        raise ValueError(f"{instance_type!r} is not an EC2 instance type name")
    return "arm64" if "g" in match["attributes"] else "x86_64"


def has_nvidia_gpu(instance_type: str) -> bool:
    match = _INSTANCE_TYPE.match(instance_type)
    return bool(match) and match["series"] in _GPU_SERIES


def vcpus(instance_type: str) -> int | None:
    """vCPUs of a large/xlarge/Nxlarge size (burstable medium and smaller: 2), or None."""
    match = _INSTANCE_TYPE.match(instance_type)
    if not match:
        return None
    if match["series"] == "t" and match["size"] in _BURSTABLE_MEMORY_GIB:
        return 2 if match["size"] in ("medium", "large", "small", "micro", "nano") else _vcpus(match["size"])
    return _vcpus(match["size"])


def _vcpus(size: str) -> int | None:
    if size == "large":
        return 2
    if size == "xlarge":
        return 4
    multiple = re.fullmatch(r"([0-9]+)xlarge", size)
    return 4 * int(multiple[1]) if multiple else None


def memory_mib(instance_type: str) -> int | None:
    """Nominal memory of the instance type in MiB, or None where this table does not know it."""
    match = _INSTANCE_TYPE.match(instance_type)
    if not match:
        return None
    series, size = match["series"], match["size"]
    if series == "t":
        gib = _BURSTABLE_MEMORY_GIB.get(size)
        return int(gib * 1024) if gib is not None else None
    ratio, vcpus = _GIB_PER_VCPU.get(series), _vcpus(size)
    if ratio is None or vcpus is None:
        return None
    return ratio * vcpus * 1024
