"""Bottlerocket's two volumes as block device mappings, one description for the node groups' launch
templates and Karpenter's EC2NodeClass alike (the policy pack reads the device names and minimum here too).

Bottlerocket's aws-k8s AMIs have two volumes: the OS on /dev/xvda and the data volume on /dev/xvdb, which
holds containerd's images, the kubelet root dir and so pods' ephemeral storage.
"""

from __future__ import annotations

from typing import Any, Protocol

ROOT_DEVICE = "/dev/xvda"  # Bottlerocket's OS volume
DATA_DEVICE = "/dev/xvdb"  # Bottlerocket's data volume: kubelet root dir, containerd, pods' ephemeral storage
MINIMUM_DATA_VOLUME_GIB = 20  # the data volume of Bottlerocket's aws-k8s AMIs; smaller fails to launch
MINIMUM_ROOT_VOLUME_GIB = {"standard": 2, "nvidia": 4}  # the AMIs' OS volumes


class Volume(Protocol):
    """A volume as the stack file describes it (core/config/node_groups.py VolumeConfig), read-only."""

    @property
    def size_gib(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def iops(self) -> int | None: ...
    @property
    def throughput(self) -> int | None: ...
    @property
    def encrypted(self) -> bool: ...


def _ebs(volume: Volume) -> dict[str, Any]:
    ebs: dict[str, Any] = {"volumeSize": volume.size_gib, "volumeType": volume.type,
                           "encrypted": volume.encrypted, "deleteOnTermination": True}
    if volume.iops is not None:
        ebs["iops"] = volume.iops
    if volume.throughput is not None:
        ebs["throughput"] = volume.throughput
    return ebs


def block_device_mappings(root: Volume, data: Volume) -> list[dict[str, Any]]:
    """Both volumes as EC2 block device mappings in the engine's camelCase, sizes in GiB, flags as booleans.
    Each consumer only spells them its way: core/node_group.py for the launch template,
    core/karpenter.py for the EC2NodeClass."""
    return [{"deviceName": ROOT_DEVICE, "ebs": _ebs(root)}, {"deviceName": DATA_DEVICE, "ebs": _ebs(data)}]
