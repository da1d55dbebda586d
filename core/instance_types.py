"""What the program knows about EC2 instance types without calling AWS, from data/ec2-instance-types.json.

That file lists every type the EC2 API accepts (botocore's InstanceType enum) with its architectures,
vCPUs, memory, accelerator makers and network interfaces from EC2 DescribeInstanceTypes records;
data/regenerate_instance_types.py writes it (see the file's `names`, `facts` and `generated`). Types listed there without facts (retired
or unrecorded ones) answer None here: nothing is guessed from the name.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Architecture = Literal["x86_64", "arm64"]
DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "ec2-instance-types.json"


@dataclass(frozen=True)
class InstanceFacts:
    architectures: tuple[str, ...]
    vcpus: int
    memory_mib: int
    gpu_makers: tuple[str, ...]
    other_accelerator_makers: tuple[str, ...]
    network_interfaces: int  # of the default network card
    ipv4_per_interface: int


@functools.cache
def _table() -> dict[str, InstanceFacts | None]:
    types = json.loads(DATA_FILE.read_text())["types"]
    return {name: None if facts is None else InstanceFacts(tuple(facts["architectures"]), facts["vcpus"], facts["memoryMiB"],
                                                          tuple(facts["gpu"]), tuple(facts["otherAccelerators"]),
                                                          facts["networkInterfaces"], facts["ipv4PerInterface"])
            for name, facts in types.items()}


def all_types() -> list[str]:
    return list(_table())


def is_valid_instance_type(instance_type: str) -> bool:
    return instance_type in _table()


def facts(instance_type: str) -> InstanceFacts | None:
    """The type's facts; None for a name EC2 does not know or one the data file has no record of."""
    return _table().get(instance_type)


def architecture(instance_type: str) -> Architecture | None:
    known = facts(instance_type)
    return known.architectures[0] if known and known.architectures else None  # type: ignore[return-value]


def has_nvidia_gpu(instance_type: str) -> bool:
    known = facts(instance_type)
    return bool(known) and "NVIDIA" in known.gpu_makers  # type: ignore[union-attr]


def vcpus(instance_type: str) -> int | None:
    known = facts(instance_type)
    return known.vcpus if known else None


def memory_mib(instance_type: str) -> int | None:
    known = facts(instance_type)
    return known.memory_mib if known else None
