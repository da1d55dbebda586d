"""`nodeGroups`: the EKS managed node groups running Bottlerocket (blue/green), their volumes, scaling,
labels, taints and Bottlerocket settings."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from core import aws_limits, instance_types
from core.block_devices import DATA_DEVICE, MINIMUM_DATA_VOLUME_GIB, MINIMUM_ROOT_VOLUME_GIB, ROOT_DEVICE
from core.bottlerocket_settings import BottlerocketSettings, LabelKey, LabelValue, reserved_node_label, settings_as_dict
from core.config.base import ConfigSection, Path, Problem, Shape, code_list, pattern, quote, validate_part
from core.config.cluster import KubernetesVersion
from core.config.kubernetes import TaintConfig
from core.release_version import (BOTTLEROCKET_AMI_TYPES, HELD_BY_A_PIN, LATEST, PIN_EXAMPLE, RELEASE_VERSION_PATTERN,
                                  VERSION_INPUTS, ami_architecture,
                                  is_nvidia, pin_problem)
from core.tags import COLOUR_LABEL, FROZEN, FROZEN_TAG, NOT_FROZEN, PINNED, RELEASE_TAG
from core.user_data import SettingsProblem, effective_settings, eks_merge_problems, render_user_data, settings_problems


NodeGroupName = Annotated[str, pattern(r"[a-z][a-z0-9-]{0,19}", "a node group name (lower-case letters, digits and -, up to 20)"),
                        Shape("group name: lower-case letters, digits and `-`, up to 20")]


# gp3's ranges, tighter than the field bounds (which io1/io2 share), as EC2 documents them for the launch
# template's EBS block device (botocore 1.44.8, data/ec2/2016-11-15 LaunchTemplateEbsBlockDeviceRequest Iops
# "gp3: 3,000 - 80,000 IOPS" and Throughput "Minimum value of 125. Maximum value of 2,000", as CreateVolume's).
# Karpenter's EC2NodeClass CRD (v1.14.1) still describes the former 16,000/1,000 in prose but validates no
# maximum, so EC2 is the one that refuses; the followed group's volumes are the node class's.
GP3_IOPS, GP3_THROUGHPUT_MIB_S = (3000, 80000), (125, 2000)


class VolumeConfig(ConfigSection):
    size_gib: Annotated[int, Field(ge=1, le=16384, alias="sizeGiB")] = Field(description=(
        f"The EBS volume's `volumeSize` in GiB. The root volume must be at least the AMI's ({MINIMUM_ROOT_VOLUME_GIB['standard']} GiB, "
        f"{MINIMUM_ROOT_VOLUME_GIB['nvidia']} GiB for NVIDIA), "
        f"the data volume at least {MINIMUM_DATA_VOLUME_GIB}."))
    type: Literal["gp3", "gp2", "io1", "io2"] = Field(default="gp3", description="`volumeType`.")
    iops: Annotated[int, Field(ge=100, le=256000)] | None = Field(default=None, description=(
        f"`iops`: {GP3_IOPS[0]} to {GP3_IOPS[1]} for gp3, required for io1/io2, refused for gp2."))
    throughput: Annotated[int, Field(ge=125, le=2000)] | None = Field(default=None, description=(
        f"`throughput` in MiB/s: {GP3_THROUGHPUT_MIB_S[0]} to {GP3_THROUGHPUT_MIB_S[1]}, gp3 only."))
    encrypted: bool = Field(default=True, description="`encrypted` (EBS encryption with the account's default key).")


class NodeGroupScaling(ConfigSection):
    min_size: Annotated[int, Field(ge=0, le=1000)] = Field(description="`scalingConfig.minSize`; at most `maxSize`.")
    desired_size: Annotated[int, Field(ge=0, le=1000)] = Field(description=(
        "`scalingConfig.desiredSize`, from `minSize` to `maxSize`; ignored after creation (`ignoreChanges`) so an autoscaler owns it."))
    max_size: Annotated[int, Field(ge=1, le=1000)] = Field(description="`scalingConfig.maxSize`.")


class NodeGroupConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Disabled groups are validated but not deployed (destroyed if they existed).")
    ami_type: Literal[BOTTLEROCKET_AMI_TYPES] = Field(description=(  # type: ignore[valid-type]
        "Node group `amiType`; picks the SSM variant (`aws-k8s-<v>[-nvidia|-fips]`) and architecture."))
    instance_types: list[Annotated[str, Shape("EC2 instance type (`m6i.large`)")]] = Field(min_length=1, description=(
        "`instanceTypes`, each once; each must be in `data/ec2-instance-types.json` with facts, match the AMI's architecture "
        "(and have an NVIDIA GPU for `_NVIDIA`)."))
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(default="ON_DEMAND", description="`capacityType`.")
    scaling: NodeGroupScaling = Field(description="The group's size.")
    max_unavailable: Annotated[int, Field(ge=1, le=100)] = Field(default=1, description=(
        "`updateConfig.maxUnavailable` during node replacements; at most `maxSize`."))
    release_version: Annotated[str, Shape(f"`{LATEST}` or a pin like `{PIN_EXAMPLE}`")] = Field(
        default=LATEST, json_schema_extra={"pattern": RELEASE_VERSION_PATTERN}, description=(
        f"`releaseVersion`. `{LATEST}` reads "
        "`/aws/service/bottlerocket/aws-k8s-<v>/<arch>/latest/image_version`; a pin is sent as is, and its group also "
        f"holds {code_list(HELD_BY_A_PIN)} at their deployed values (`ignoreChanges`), so its nodes change only through "
        "an edit of the pin or a blue/green rollout ([Version freeze and bump](#version-freeze-and-bump)). "
        f"The node group carries the tag `{RELEASE_TAG}: {LATEST}` or `{PINNED}`."))
    freeze: bool = Field(default=False, description=(
        f"Holds {code_list(VERSION_INPUTS)} at their deployed values (`ignoreChanges`): the group's nodes change only "
        "through a blue/green rollout ([Version freeze and bump](#version-freeze-and-bump)). The node group carries the "
        f"tag `{FROZEN_TAG}: {FROZEN}` or `{NOT_FROZEN}`."))
    kubernetes_version: KubernetesVersion | None = Field(default=None, description=(
        "Node group `version` and the SSM parameter of `latest` (`aws-k8s-<this>`); at most 3 minors older than "
        "`cluster.kubernetesVersion`, never newer. Unset: the cluster's. Keeps a group on the old version while the control "
        "plane moves ([Kubernetes upgrades](#kubernetes-upgrades))."))
    labels: dict[LabelKey, LabelValue] = Field(default={}, description=(
        f"Node group `labels`, plus `{COLOUR_LABEL}=<group>`. Keys and values 1-63 characters (EKS), not in the "
        "`kubernetes.io`/`k8s.io` domains except `node.kubernetes.io` and `kubelet.kubernetes.io` (the kubelet refuses them)."))
    taints: list[TaintConfig] = Field(default=[], description="Node group `taints`; key 1-63 and value at most 63 characters (EKS).")
    root_volume: VolumeConfig = Field(default_factory=lambda: VolumeConfig.model_validate({"sizeGiB": 10}), description=(
        f"Launch template `{ROOT_DEVICE}` (Bottlerocket's OS)."))
    data_volume: VolumeConfig = Field(default_factory=lambda: VolumeConfig.model_validate({"sizeGiB": 100}), description=(
        f"Launch template `{DATA_DEVICE}`: images, containers and pods' ephemeral storage."))
    metadata_hop_limit: Annotated[int, Field(ge=1, le=2)] = Field(default=1, description=(
        "IMDSv2 (`httpTokens: required`) hop limit; 1 keeps pods off the node's instance role."))
    bottlerocket: BottlerocketSettings = Field(default=BottlerocketSettings(), description=(
        "Bottlerocket settings merged over the stack-wide `bottlerocket` for this group only."))


def validate_node_groups(raw_groups: Any, root: type[BaseModel]) -> tuple[dict[str, NodeGroupConfig], list[Problem]]:
    """The `nodeGroups` map group by group, so one broken group leaves the others checked; `root` is
    the stack's model (for an unknown key's "did you mean")."""
    if not isinstance(raw_groups, Mapping) or not raw_groups:
        return {}, [Problem(("nodeGroups",), "must be a map of node group names (blue, green, ...) to their settings")]
    groups, problems = {}, []
    name_adapter = TypeAdapter(NodeGroupName)
    for name, raw_group in raw_groups.items():
        try:
            name_adapter.validate_python(name)
        except ValidationError as error:
            problems.append(Problem(("nodeGroups", str(name)), error.errors()[0]["msg"].removeprefix("Value error, ")))
            continue
        group, group_problems = validate_part(NodeGroupConfig, raw_group, ("nodeGroups", name), root)
        problems += group_problems
        if group is not None:
            groups[name] = group
    if len(groups) == len(raw_groups) and not any(group.enabled for group in groups.values()):  # a broken group may be enabled
        problems.append(Problem(("nodeGroups",), "no node group is enabled; keep at least one (a blue/green rollout disables the "
                                                 "old one only after the new one is Ready)"))
    return groups, problems


def node_group_problems(name: str, group: NodeGroupConfig, stack_settings: BottlerocketSettings | None) -> list[Problem]:
    base: Path = ("nodeGroups", name)
    problems = []
    scaling = group.scaling
    if scaling.min_size > scaling.max_size:
        problems.append(Problem((*base, "scaling", "minSize"), f"{scaling.min_size} is above maxSize ({scaling.max_size})"))
    elif not scaling.min_size <= scaling.desired_size <= scaling.max_size:
        problems.append(Problem((*base, "scaling", "desiredSize"), f"{scaling.desired_size} is outside minSize..maxSize ({scaling.min_size}..{scaling.max_size})"))
    if group.max_unavailable > scaling.max_size:
        problems.append(Problem((*base, "maxUnavailable"), f"{group.max_unavailable} is larger than the group (maxSize {scaling.max_size})"))
    if pin := pin_problem(group.release_version):
        problems.append(Problem((*base, "releaseVersion"), f"{quote(group.release_version)} {pin}"))

    wanted_architecture = ami_architecture(group.ami_type)
    for index, instance_type in enumerate(group.instance_types):
        path = (*base, "instanceTypes", index)
        known = instance_types.facts(instance_type)
        if not instance_types.is_valid_instance_type(instance_type):
            close = difflib.get_close_matches(instance_type, instance_types.all_types(), n=1, cutoff=0.8)
            hint = f"; did you mean {close[0]!r}?" if close else " (example: m6i.large)"
            problems.append(Problem(path, f"{quote(instance_type)} is not an EC2 instance type{hint}"))
        elif known is None:
            problems.append(Problem(path, f"{instance_type} has no recorded facts in data/ec2-instance-types.json (a retired or "
                                          "unrecorded type), so its architecture and GPU cannot be checked: choose a current type, "
                                          "or regenerate the file from your account (data/regenerate_instance_types.py)"))
        elif wanted_architecture not in known.architectures:
            problems.append(Problem(path, f"{instance_type} is {'/'.join(known.architectures)} but amiType {group.ami_type} is {wanted_architecture}"))
        elif is_nvidia(group.ami_type) and "NVIDIA" not in known.gpu_makers:
            has = f"a GPU by {' and '.join(known.gpu_makers)}" if known.gpu_makers else "no GPU"
            problems.append(Problem(path, f"{instance_type} has {has}, but amiType {group.ami_type} runs NVIDIA GPUs only"))
    if len(set(group.instance_types)) != len(group.instance_types):
        problems.append(Problem((*base, "instanceTypes"), "lists an instance type twice"))

    root_minimum = MINIMUM_ROOT_VOLUME_GIB["nvidia" if is_nvidia(group.ami_type) else "standard"]
    problems += _volume_problems(group.root_volume, (*base, "rootVolume"), root_minimum)
    problems += _volume_problems(group.data_volume, (*base, "dataVolume"), MINIMUM_DATA_VOLUME_GIB)

    for key, value in group.labels.items():
        if key == COLOUR_LABEL:
            problems.append(Problem((*base, "labels", key), "is set by the program to the group's name"))
        elif reason := (reserved_node_label(key) or aws_limits.eks_length_problem("labelKey", "node group label keys", key)
                        or aws_limits.eks_length_problem("labelValue", "node group label values", value)):
            problems.append(Problem((*base, "labels", key), reason))
    for index, taint in enumerate(group.taints):
        for field, shape in (("key", "taintKey"), ("value", "taintValue")):
            if reason := aws_limits.eks_length_problem(shape, f"taint {field}s", getattr(taint, field)):
                problems.append(Problem((*base, "taints", index, field), reason))

    if stack_settings is not None:
        stack_dict, group_dict = settings_as_dict(stack_settings), settings_as_dict(group.bottlerocket)
        merged = effective_settings(stack_dict, group_dict)
        smallest = _smallest_memory(group) if all(instance_types.is_valid_instance_type(t) for t in group.instance_types) else None
        for problem in settings_problems(merged, smallest):
            problems.append(Problem(settings_origin(problem, stack_dict, group_dict, (*base, "bottlerocket")), problem.message))
        for issue in eks_merge_problems(render_user_data(merged, [])):
            problems.append(Problem((*base, "bottlerocket"), f"renders TOML that EKS's user-data merger rejects: {issue}"))
    return problems


def _volume_problems(volume: VolumeConfig, path: Path, minimum_gib: int) -> list[Problem]:
    problems = []
    if volume.size_gib < minimum_gib:
        problems.append(Problem((*path, "sizeGiB"), f"must be at least {minimum_gib} GiB (the AMI's own volume size); it is {volume.size_gib}"))
    if volume.iops is not None and volume.type == "gp2":
        problems.append(Problem((*path, "iops"), "gp2 volumes take no iops setting; use gp3"))
    if volume.type in ("io1", "io2") and volume.iops is None:
        problems.append(Problem((*path, "iops"), f"{volume.type} volumes need iops"))
    if volume.type == "gp3" and volume.iops is not None and not GP3_IOPS[0] <= volume.iops <= GP3_IOPS[1]:
        problems.append(Problem((*path, "iops"), f"gp3 takes {GP3_IOPS[0]} to {GP3_IOPS[1]} iops; it is {volume.iops}"))
    if volume.throughput is not None and volume.type != "gp3":
        problems.append(Problem((*path, "throughput"), "only gp3 volumes take a throughput setting"))
    if volume.type == "gp3" and volume.throughput is not None and volume.throughput > GP3_THROUGHPUT_MIB_S[1]:
        problems.append(Problem((*path, "throughput"), f"gp3 takes {GP3_THROUGHPUT_MIB_S[0]} to {GP3_THROUGHPUT_MIB_S[1]} MiB/s; it is {volume.throughput}"))
    return problems


def _smallest_memory(group: NodeGroupConfig) -> tuple[str, int] | None:
    known = [(t, m) for t in group.instance_types if (m := instance_types.memory_mib(t)) is not None]
    return min(known, key=lambda item: item[1]) if known else None


def settings_origin(problem: SettingsProblem, stack: Mapping[str, Any], own: Mapping[str, Any], own_path: Path) -> Path:
    """Where a user fixes a merged setting: the key among those that break the rule (problem.key, then
    problem.also) that the user wrote, in the most specific table that has it (`own`, at `own_path`,
    before the stack-wide `bottlerocket`); `cause` stands in for `key` when it decides the table. A rule
    broken only by the program's defaults is reported at `key` in `own`."""

    def has(settings: Mapping[str, Any], key: tuple[str, ...]) -> bool:
        node: Any = settings
        for part in key:
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    for table, prefix in ((own, own_path), (stack, ("bottlerocket",))):
        for key in (problem.key, *problem.also):
            if has(table, problem.cause if problem.cause and key == problem.key else key):
                return (*prefix, *key)
    return (*own_path, *problem.key)
