"""The stack configuration: one typed model, validated once, with every problem reported together.

A stack file sets these keys under the project's namespace (`eks-bottlerocket:cluster`, ...). Keys are
camelCase, grouped by concern; only the Bottlerocket settings tables use Bottlerocket's own kebab-case
names. `validate_stack_config` returns the model or raises `ConfigError` listing every problem as
`<stack file>: <key path>: <message>`; nothing here touches Pulumi or AWS.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from core import aws_limits, instance_types
from core.addons_config import KarpenterConfig, KedaConfig, WorkloadConfig, node_pool_problems, workload_problems
from core.access_entries import CREATOR_LISTED, creator_listed
from core.karpenter import NAMESPACE as KARPENTER_NAMESPACE, controller_replica_problem, node_class_settings as karpenter_node_class_settings, split_node_class_settings
from core.keda import KEDA_NAMESPACE
from core.sqs_worker import INJECTED_ENV
from core.eks_addons import EksAddonsConfig
from core.kubernetes_versions import node_group_skew_problems, written_unquoted
from core.config.base import ConfigError, ConfigSection, Path, Problem, pattern, quote, unknown_key_message, unquoted_number_message, validate_part
from core.bottlerocket_settings import BottlerocketSettings, LabelKey, LabelValue, reserved_node_label, settings_as_dict
from core.block_devices import MINIMUM_DATA_VOLUME_GIB, MINIMUM_ROOT_VOLUME_GIB
from core.network_plan import plan_subnets
# COLOUR_LABEL and NODE_GROUP_TAG are re-exported (automation/rollout.py, status.py and core/rollout.py import them from here).
from core.tags import COLOUR_LABEL as COLOUR_LABEL, NODE_GROUP_TAG as NODE_GROUP_TAG, STACK_TAG, SUPPRESSION_PREFIX
from core.release_version import BOTTLEROCKET_AMI_TYPES, LATEST, ami_architecture, is_nvidia, is_valid_pin, release_policy, ReleasePolicy
from core.user_data import DEFAULT_SETTINGS, SettingsProblem, deep_merge, eks_merge_problems, render_user_data, settings_problems

SUPPORTED_KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
# The most tags the program adds to one resource next to the stack's `tags` (a private subnet: the stack
# tag, Name, the internal load balancer role and Karpenter's discovery tag); tests check it on the plans.
PROGRAM_TAGS_PER_RESOURCE = 4


# --- value checks ----------------------------------------------------------------------------------

def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block ({error})") from None
    return str(network)


def _region(value: str) -> str:
    regions = aws_limits.eks_regions()
    if value not in regions:
        close = difflib.get_close_matches(value, list(regions), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else " (example: eu-west-1)"
        raise ValueError(f"{quote(value)} is not a region where EKS is available{hint}")
    return value


def _cluster_name(value: str) -> str:
    if problem := aws_limits.cluster_name_rule().problem(value):
        raise ValueError(f"not a valid EKS cluster name: {problem}")
    return value


# An IAM role or user. EKS refuses STS session ARNs for access entries: "You can't use the STS session
# principal type with access entries because this is a temporary principal for each session" (botocore
# data/eks/2017-11-01/service-2.json, CreateAccessEntryRequest.principalArn).
_PRINCIPAL_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>[0-9]{12}):"
                            r"(?P<kind>role|user|assumed-role)/(?P<name>[\w+=,.@-]+(/[\w+=,.@-]+)*)")
_KMS_KEY_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):(key|alias)/[\w/-]+")


def _principal_arn(value: str) -> str:
    match = _PRINCIPAL_ARN.fullmatch(value)
    if not match:
        raise ValueError(f"{quote(value)} is not an IAM role or user ARN (example: arn:aws:iam::111122223333:role/platform-admin)")
    if match["kind"] == "assumed-role" or match["service"] == "sts":
        role = match["name"].split("/")[0]
        raise ValueError(f"{quote(value)} is an STS session, which EKS access entries refuse; give the role itself: "
                         f"arn:{match['partition']}:iam::{match['account']}:role/{role} (add its path if it has one)")
    return value


def _kms_key_arn(value: str) -> str:
    if not _KMS_KEY_ARN.fullmatch(value):
        raise ValueError(f"{quote(value)} is not a KMS key ARN (example: arn:aws:kms:eu-west-1:111122223333:key/<key id>)")
    return value


def _unquoted_kubernetes_version(value: Any) -> Any:
    """A version YAML read as a number (`1.30` is 1.3): the message quotes the version the user meant,
    from the loader's text of the float or, for values from Pulumi's config, the supported versions."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(unquoted_number_message(value, getattr(value, "source", None) or written_unquoted(value, SUPPORTED_KUBERNETES_VERSIONS)))
    return value


def _kubernetes_version(value: str) -> str:
    if value not in SUPPORTED_KUBERNETES_VERSIONS:
        raise ValueError(f"{value!r} is not a supported Kubernetes version ({', '.join(SUPPORTED_KUBERNETES_VERSIONS)})")
    return value


Region = Annotated[str, AfterValidator(_region)]
ClusterName = Annotated[str, AfterValidator(_cluster_name)]
NodeGroupName = Annotated[str, pattern(r"[a-z][a-z0-9-]{0,19}", "a node group name (lower-case letters, digits and -, up to 20)")]
Cidr = Annotated[str, AfterValidator(_cidr)]
KubernetesVersion = Annotated[str, BeforeValidator(_unquoted_kubernetes_version), AfterValidator(_kubernetes_version)]
PrincipalArn = Annotated[str, AfterValidator(_principal_arn)]
KmsKeyArn = Annotated[str, AfterValidator(_kms_key_arn)]
VpcId = Annotated[str, pattern(r"vpc-[0-9a-f]{8,17}", "a VPC id")]
SubnetId = Annotated[str, pattern(r"subnet-[0-9a-f]{8,17}", "a subnet id")]
TagKey = Annotated[str, pattern(r"(?i:(?!aws:))[\w .:/=+@-]{1,128}", "a tag key (1-128 characters, not starting with aws:)")]
TagValue = Annotated[str, pattern(r"[\w .:/=+@-]{0,256}", "a tag value (up to 256 characters)")]
EnvName = Annotated[str, pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")]
LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


class EndpointConfig(ConfigSection):
    public_access: bool = False
    private_access: bool = True
    public_access_cidrs: list[Cidr] = []


class SecretsEncryptionConfig(ConfigSection):
    kms_key_arn: KmsKeyArn | None = None  # None: the program creates a key with rotation on


class ClusterConfig(ConfigSection):
    name: ClusterName
    kubernetes_version: KubernetesVersion
    endpoint: EndpointConfig = EndpointConfig()
    log_types: list[LogType] = ["api", "audit", "authenticator"]
    secrets_encryption: SecretsEncryptionConfig = SecretsEncryptionConfig()
    admin_principal_arns: list[PrincipalArn] = []
    # The principal `pulumi up` runs as when it creates the cluster (CI's deploy role); EKS gives it an
    # admin access entry itself (core/access_entries.py), so it must not be listed again.
    creator_principal_arn: PrincipalArn | None = None


class StackSettings(ConfigSection):
    # Pulumi `protect` on what holds state or is costly to lose: the EKS cluster (also EKS deletion
    # protection), its KMS key, the VPC and the workloads' queues. A destroy or a renaming replace then fails
    # in preview instead of deleting them; set false only to tear a stack down on purpose.
    protect: bool = True


class ExistingVpcConfig(ConfigSection):
    vpc_id: VpcId
    private_subnet_ids: list[SubnetId] = Field(min_length=2)
    public_subnet_ids: list[SubnetId] = []


class NetworkConfig(ConfigSection):
    cidr: Cidr = "10.0.0.0/16"
    availability_zones: list[str] = []
    nat_gateways: Literal["single", "onePerAz"] = "onePerAz"
    existing_vpc: ExistingVpcConfig | None = None


class VolumeConfig(ConfigSection):
    size_gib: Annotated[int, Field(ge=1, le=16384, alias="sizeGiB")]
    type: Literal["gp3", "gp2", "io1", "io2"] = "gp3"
    iops: Annotated[int, Field(ge=100, le=256000)] | None = None
    throughput: Annotated[int, Field(ge=125, le=2000)] | None = None
    encrypted: bool = True


class ScalingConfig(ConfigSection):
    min_size: Annotated[int, Field(ge=0, le=1000)]
    desired_size: Annotated[int, Field(ge=0, le=1000)]
    max_size: Annotated[int, Field(ge=1, le=1000)]


class TaintConfig(ConfigSection):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodeGroupConfig(ConfigSection):
    enabled: bool = True
    ami_type: Literal[BOTTLEROCKET_AMI_TYPES]  # type: ignore[valid-type]
    instance_types: list[str] = Field(min_length=1)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    scaling: ScalingConfig
    max_unavailable: Annotated[int, Field(ge=1, le=100)] = 1
    release_version: str = LATEST
    freeze: bool = False
    kubernetes_version: KubernetesVersion | None = None  # None: the cluster's
    labels: dict[LabelKey, LabelValue] = {}
    taints: list[TaintConfig] = []
    root_volume: VolumeConfig = Field(default_factory=lambda: VolumeConfig.model_validate({"sizeGiB": 10}))
    data_volume: VolumeConfig = Field(default_factory=lambda: VolumeConfig.model_validate({"sizeGiB": 100}))
    metadata_hop_limit: Annotated[int, Field(ge=1, le=2)] = 1
    bottlerocket: BottlerocketSettings = BottlerocketSettings()


class StackConfig(ConfigSection):
    region: Region
    cluster: ClusterConfig
    network: NetworkConfig
    node_groups: dict[NodeGroupName, NodeGroupConfig]
    bottlerocket: BottlerocketSettings = BottlerocketSettings()
    tags: dict[TagKey, TagValue] = {}
    stack: StackSettings = StackSettings()
    keda: KedaConfig | None = None
    karpenter: KarpenterConfig | None = None
    eks_addons: EksAddonsConfig = EksAddonsConfig()
    workloads: list[WorkloadConfig] = []
    # Per workload, environment variables from a Kubernetes Secret; must be Pulumi secrets (set --secret).
    workload_secrets: dict[str, dict[EnvName, str]] = Field(default={}, repr=False)

    def enabled_node_groups(self) -> dict[str, NodeGroupConfig]:
        return {name: group for name, group in self.node_groups.items() if group.enabled}

    def node_group_settings(self, name: str) -> dict[str, Any]:
        """Effective Bottlerocket settings of a node group: defaults <- stack <- node group."""
        return deep_merge(self.stack_settings(), settings_as_dict(self.node_groups[name].bottlerocket))

    def stack_settings(self) -> dict[str, Any]:
        """Bottlerocket settings every node shares: defaults <- the stack's `bottlerocket`."""
        return deep_merge(DEFAULT_SETTINGS, settings_as_dict(self.bottlerocket))

    def node_class_settings(self) -> dict[str, Any]:
        """Karpenter's nodes: the stack's settings <- karpenter.nodeClass.bottlerocket."""
        assert self.karpenter is not None
        return karpenter_node_class_settings(self.stack_settings(), settings_as_dict(self.karpenter.node_class.bottlerocket))

    def karpenter_version_group(self) -> str:
        """The node group whose Bottlerocket version Karpenter's nodes follow."""
        assert self.karpenter is not None
        return self.karpenter.node_class.version_from or sorted(self.enabled_node_groups())[0]

    def node_group_kubernetes_version(self, name: str) -> str:
        return self.node_groups[name].kubernetes_version or self.cluster.kubernetes_version

    def release_policy(self, name: str) -> ReleasePolicy:
        group = self.node_groups[name]
        return release_policy(self.node_group_kubernetes_version(name), group.ami_type, group.release_version, group.freeze)


# --- problems --------------------------------------------------------------------------------------

# --- semantic rules (run on every part that parsed) ------------------------------------------------

def _endpoint_problems(endpoint: EndpointConfig) -> list[Problem]:
    base: Path = ("cluster", "endpoint")
    problems = []
    if not endpoint.public_access and not endpoint.private_access:
        problems.append(Problem(base, "publicAccess and privateAccess are both false; nothing could reach the API"))
    if endpoint.public_access and not endpoint.public_access_cidrs:
        problems.append(Problem((*base, "publicAccessCidrs"), "publicAccess is true: list the CIDRs allowed to reach the API"))
    if not endpoint.public_access and endpoint.public_access_cidrs:
        problems.append(Problem((*base, "publicAccessCidrs"), "set only with publicAccess: true"))
    return problems


def _account_problems(cluster: ClusterConfig, region: str | None) -> list[Problem]:
    """ARNs against each other and against the stack's region."""
    problems = []
    partition = aws_limits.partition_of(region) if region else None
    first: dict[str, int] = {}
    for index, arn in enumerate(cluster.admin_principal_arns):
        path: Path = ("cluster", "adminPrincipalArns", index)
        if arn in first:
            problems.append(Problem(path, f"lists {arn} again (first at [{first[arn]}]); EKS takes one access entry per principal"))
        first.setdefault(arn, index)
        if partition and arn.split(":")[1] != partition:
            problems.append(Problem(path, f"is in the {arn.split(':')[1]} partition, but {region} is in {partition}"))
    key = cluster.secrets_encryption.kms_key_arn
    if key and region:
        key_partition, key_region = key.split(":")[1], key.split(":")[3]
        if key_region != region or (partition and key_partition != partition):
            # botocore data/eks/2017-11-01/service-2.json, Provider.keyArn: "created in the same Amazon Web
            # Services Region as the cluster".
            problems.append(Problem(("cluster", "secretsEncryption", "kmsKeyArn"),
                                    f"the key is in {key_region}; EKS needs a KMS key in the cluster's region ({region})"))
    return problems


def _aws_name_problems(parsed: Mapping[str, Any]) -> list[Problem]:
    """The physical names the program derives from the config, against the limits AWS puts on them."""
    cluster: ClusterConfig | None = parsed.get("cluster")
    if cluster is None:
        return []
    name, problems = cluster.name, []
    for group in parsed.get("nodeGroups") or {}:
        prefix = aws_limits.node_group_name_prefix(name, group)
        if len(prefix) > aws_limits.NODE_GROUP_NAME_PREFIX_MAX:
            problems.append(Problem(("nodeGroups", group), (
                f"with cluster name {name!r} the node group name prefix {prefix!r} has {len(prefix)} characters; EKS node group "
                f"names take {aws_limits.NODE_GROUP_NAME_MAX} and the provider appends a {aws_limits.UNIQUE_SUFFIX_LENGTH}-character "
                f"unique suffix, so at most {aws_limits.NODE_GROUP_NAME_PREFIX_MAX}: shorten the cluster or the group name")))
    if parsed.get("karpenter") is not None:
        queue = aws_limits.interruption_queue_name(name)
        if len(queue) > aws_limits.SQS_QUEUE_NAME_MAX:
            problems.append(Problem(("cluster", "name"), (
                f"also names Karpenter's interruption queue, and SQS queue names take at most {aws_limits.SQS_QUEUE_NAME_MAX} "
                f"characters; this one has {len(queue)}")))
    for index, workload in enumerate(parsed.get("workloads") or []):
        queue = aws_limits.dead_letter_queue_name(name, workload.name)  # the longer of its two queues
        if len(queue) > aws_limits.SQS_QUEUE_NAME_MAX:
            problems.append(Problem(("workloads", index, "name"), (
                f"with the cluster name it makes the SQS queue name {queue!r} of {len(queue)} characters; "
                f"SQS allows at most {aws_limits.SQS_QUEUE_NAME_MAX}")))
        if role := aws_limits.autonamed_role_problem(aws_limits.worker_resource_name(workload.name)):
            problems.append(Problem(("workloads", index, "name"), f"makes the worker's IAM role name too long: {role}"))
    return problems


def _tag_problems(tags: Mapping[str, str]) -> list[Problem]:
    problems = []
    for key in tags:
        if key.startswith(SUPPRESSION_PREFIX):
            problems.append(Problem(("tags", key), "stack-wide tags reach every resource, so they cannot suppress a guardrail; "
                                                   "a suppression goes on the one resource it is for, with its reason"))
    limit = aws_limits.max_tags_per_resource()
    if len(tags) + PROGRAM_TAGS_PER_RESOURCE > limit:
        problems.append(Problem(("tags",), (
            f"{len(tags)} tags and the {PROGRAM_TAGS_PER_RESOURCE} the program adds to some resources make "
            f"{len(tags) + PROGRAM_TAGS_PER_RESOURCE}; AWS takes at most {limit} per resource, so list at most "
            f"{limit - PROGRAM_TAGS_PER_RESOURCE}")))
    return problems


def _creator_problems(cluster: ClusterConfig) -> list[Problem]:
    if cluster.creator_principal_arn is None:
        return []
    return [Problem(("cluster", "adminPrincipalArns", index), f"{cluster.admin_principal_arns[index]!r} {CREATOR_LISTED}")
            for index in creator_listed(cluster.admin_principal_arns, cluster.creator_principal_arn)]


def _network_problems(network: NetworkConfig, region: str | None) -> list[Problem]:
    problems = []
    if network.existing_vpc is not None:
        for key in ("cidr", "availability_zones", "nat_gateways"):
            if key in network.model_fields_set:
                problems.append(Problem(("network", to_camel(key)), "does not apply with existingVpc; remove it"))
        subnet_ids = network.existing_vpc.private_subnet_ids
        if len(set(subnet_ids)) != len(subnet_ids):
            problems.append(Problem(("network", "existingVpc", "privateSubnetIds"), "lists a subnet twice"))
        return problems
    zones = network.availability_zones
    if len(zones) < 2:
        problems.append(Problem(("network", "availabilityZones"), "list at least 2 availability zones (EKS needs subnets in 2)"))
    if len(set(zones)) != len(zones):
        problems.append(Problem(("network", "availabilityZones"), "lists an availability zone twice"))
    for index, zone in enumerate(zones):
        if region and not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
            problems.append(Problem(("network", "availabilityZones", index), f"{quote(zone)} is not an availability zone of {region}"))
    if cidr_problem := aws_limits.vpc_cidr_problem(network.cidr):
        problems.append(Problem(("network", "cidr"), cidr_problem))
    elif len(zones) >= 2:
        try:
            plan_subnets(network.cidr, zones)
        except ValueError as error:
            problems.append(Problem(("network", "cidr"), str(error)))
    return problems


def _volume_problems(volume: VolumeConfig, path: Path, minimum_gib: int) -> list[Problem]:
    problems = []
    if volume.size_gib < minimum_gib:
        problems.append(Problem((*path, "sizeGiB"), f"must be at least {minimum_gib} GiB (the AMI's own volume size); it is {volume.size_gib}"))
    if volume.iops is not None and volume.type == "gp2":
        problems.append(Problem((*path, "iops"), "gp2 volumes take no iops setting; use gp3"))
    if volume.type in ("io1", "io2") and volume.iops is None:
        problems.append(Problem((*path, "iops"), f"{volume.type} volumes need iops"))
    if volume.type == "gp3" and volume.iops is not None and not 3000 <= volume.iops <= 16000:
        problems.append(Problem((*path, "iops"), f"gp3 takes 3000 to 16000 iops; it is {volume.iops}"))
    if volume.throughput is not None and volume.type != "gp3":
        problems.append(Problem((*path, "throughput"), "only gp3 volumes take a throughput setting"))
    if volume.type == "gp3" and volume.throughput is not None and volume.throughput > 1000:
        problems.append(Problem((*path, "throughput"), f"gp3 takes 125 to 1000 MiB/s; it is {volume.throughput}"))
    return problems


def _smallest_memory(group: NodeGroupConfig) -> tuple[str, int] | None:
    known = [(t, m) for t in group.instance_types if (m := instance_types.memory_mib(t)) is not None]
    return min(known, key=lambda item: item[1]) if known else None


def _settings_origin(problem: SettingsProblem, stack: Mapping[str, Any], own: Mapping[str, Any], own_path: Path) -> Path:
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


def _karpenter_problems(karpenter: KarpenterConfig, groups: Mapping[str, NodeGroupConfig], broken_groups: set[str],
                        stack_settings: BottlerocketSettings | None) -> list[Problem]:
    """`broken_groups`: node groups that failed to parse, already reported; nothing is said about them here."""
    problems = node_pool_problems(karpenter)
    enabled = sorted(name for name, group in groups.items() if group.enabled)
    if groups and not broken_groups:  # a group that failed to parse would count as no capacity
        guaranteed = sum(groups[name].scaling.min_size for name in enabled)
        if (placement := controller_replica_problem(karpenter.controller.replicas, guaranteed)) is not None:
            problems.append(Problem(("karpenter", "controller", "replicas"), placement))
    version_from = karpenter.node_class.version_from
    if version_from is not None and groups and version_from not in enabled and version_from not in broken_groups:
        problems.append(Problem(("karpenter", "nodeClass", "versionFrom"),
                                f"{version_from!r} is not an enabled node group ({', '.join(enabled) or 'none is enabled'})"))
    if stack_settings is None:
        return problems
    own_path: Path = ("karpenter", "nodeClass", "bottlerocket")
    stack_dict, own = settings_as_dict(stack_settings), settings_as_dict(karpenter.node_class.bottlerocket)
    merged = deep_merge(deep_merge(DEFAULT_SETTINGS, stack_dict), own)
    for problem in settings_problems(merged, None):
        problems.append(Problem(_settings_origin(problem, stack_dict, own, own_path), problem.message))
    _, _, dropped = split_node_class_settings(merged)
    for key in dropped:
        kept_out = SettingsProblem(("kubernetes", key), "")
        problems.append(Problem(_settings_origin(kept_out, stack_dict, own, own_path),
                                "Karpenter drops this key from EC2NodeClass user data; set it per node group "
                                "(nodeGroups.<name>.bottlerocket) instead of for every node"))
    return problems


def _node_group_problems(name: str, group: NodeGroupConfig, stack_settings: BottlerocketSettings | None) -> list[Problem]:
    base: Path = ("nodeGroups", name)
    problems = []
    scaling = group.scaling
    if scaling.min_size > scaling.max_size:
        problems.append(Problem((*base, "scaling", "minSize"), f"{scaling.min_size} is above maxSize ({scaling.max_size})"))
    elif not scaling.min_size <= scaling.desired_size <= scaling.max_size:
        problems.append(Problem((*base, "scaling", "desiredSize"), f"{scaling.desired_size} is outside minSize..maxSize ({scaling.min_size}..{scaling.max_size})"))
    if group.max_unavailable > scaling.max_size:
        problems.append(Problem((*base, "maxUnavailable"), f"{group.max_unavailable} is larger than the group (maxSize {scaling.max_size})"))
    if group.release_version != LATEST and not is_valid_pin(group.release_version):
        problems.append(Problem((*base, "releaseVersion"), f"{group.release_version!r} is neither 'latest' nor a Bottlerocket version such as 1.54.0-5043decc"))

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
        merged = deep_merge(deep_merge(DEFAULT_SETTINGS, stack_dict), group_dict)
        smallest = _smallest_memory(group) if all(instance_types.is_valid_instance_type(t) for t in group.instance_types) else None
        for problem in settings_problems(merged, smallest):
            problems.append(Problem(_settings_origin(problem, stack_dict, group_dict, (*base, "bottlerocket")), problem.message))
        for issue in eks_merge_problems(render_user_data(merged, [])):
            problems.append(Problem((*base, "bottlerocket"), f"renders TOML that EKS's user-data merger rejects: {issue}"))
    return problems


SECRET_KEYS = ("workloadSecrets",)
_INJECTED_MESSAGE = f"is set for every worker by the program or EKS Pod Identity ({', '.join(INJECTED_ENV)}); choose another name"
# Namespaces that exist before the program creates the workloads' (Kubernetes' own, and the add-ons'
# Helm releases): creating one again fails with AlreadyExists, and deleting it would take the others.
TAKEN_NAMESPACES = {KEDA_NAMESPACE: "KEDA", KARPENTER_NAMESPACE: "Karpenter", "default": "Kubernetes",
                    "kube-system": "Kubernetes", "kube-public": "Kubernetes", "kube-node-lease": "Kubernetes"}


def _secret_problems(raw: Mapping[str, Any], secret_keys: Iterable[str | Path]) -> list[Problem]:
    """Secrets only where they stay secret, and no credential in plain text anywhere.

    The engine marks a whole key secret when any value in it is; the program keeps secrets secret only
    through `workloadSecrets` (a Kubernetes Secret, Pulumi secret inputs). A secret elsewhere would land
    in a Deployment's env, a manifest or an output as plain text, so it is refused with where to put it."""
    problems = []
    whole_keys = {key for key in secret_keys if isinstance(key, str)}
    values = [key for key in secret_keys if not isinstance(key, str)]
    for key in SECRET_KEYS:
        if key in raw and key not in whole_keys:
            problems.append(Problem((key,), "holds plain text; every value must be a Pulumi secret: "
                                           f"pulumi config set --secret --path '{key}.<workload>.<VARIABLE>' <value>"))
    misplaced = [path for path in values if path[0] not in SECRET_KEYS]
    misplaced += [(key,) for key in sorted(whole_keys - set(SECRET_KEYS)) if not any(path[0] == key for path in values)]
    for path in misplaced:
        problems.append(Problem(path, "is a Pulumi secret, which only workloadSecrets keeps secret (here it would reach manifests, "
                                      "env or outputs in plain text): pulumi config set --secret --path "
                                      "'workloadSecrets.<workload>.<VARIABLE>' <value>"))
    for path, kind in _plain_credentials(raw, ()):
        problems.append(Problem(path, f"holds what looks like {kind} in plain text, which would end up in the stack file, the state "
                                      "and the cluster; rotate it, and pass it as a secret in workloadSecrets"))
    return problems


# Credentials recognisable by their form: AWS access key ids (IAM user guide, "Understanding unique ID
# prefixes": AKIA long-term, ASIA temporary) and PEM private keys.
_CREDENTIALS = {
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----"),
}


def _plain_credentials(value: Any, path: Path) -> list[tuple[Path, str]]:
    if path[:1] and path[0] in SECRET_KEYS:
        return []
    if isinstance(value, Mapping):
        return [hit for key, child in value.items() for hit in _plain_credentials(child, (*path, str(key)))]
    if isinstance(value, list):
        return [hit for index, child in enumerate(value) for hit in _plain_credentials(child, (*path, index))]
    if isinstance(value, str):
        return [(path, kind) for kind, pattern in _CREDENTIALS.items() if pattern.search(value)][:1]
    return []


def validate_stack_config(raw: Mapping[str, Any], stack_file: str, secret_keys: Iterable[str | Path] = (),
                          sources: Mapping[Path, str] | None = None) -> StackConfig:
    """The typed configuration of a stack, or ConfigError with every problem in `raw`.

    `raw` holds the project's keys without their namespace: {"cluster": {...}, "nodeGroups": {...}};
    `secret_keys` names those of them the stack keeps encrypted (a key, or the key path of one encrypted
    value where it is known); `sources` the key paths whose value came
    from a one-run override rather than the stack file (a problem there names the override)."""
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    fields = {field.alias or name: (name, field) for name, field in StackConfig.model_fields.items()}

    for key in raw:
        if key not in fields:
            problems.append(Problem((key,), unknown_key_message(StackConfig, (key,))))
    for alias, (_, field) in fields.items():
        if alias not in raw:
            if field.is_required():
                problems.append(Problem((alias,), "required key is missing"))
            continue
        if alias == "nodeGroups":
            parsed[alias], group_problems = _validate_node_groups(raw[alias])
            problems += group_problems
            continue
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        value, part_problems = validate_part(annotation, raw[alias], (alias,), StackConfig)
        if value is not None:
            parsed[alias] = value
        problems += part_problems

    if "cluster" in parsed:
        problems += _endpoint_problems(parsed["cluster"].endpoint)
        problems += _account_problems(parsed["cluster"], parsed.get("region"))
        problems += _creator_problems(parsed["cluster"])
    problems += _aws_name_problems(parsed)
    if "tags" in parsed:
        problems += _tag_problems(parsed["tags"])
    if "network" in parsed:
        problems += _network_problems(parsed["network"], parsed.get("region"))
    # Merged-settings rules need the stack-wide table; skip them while it is itself broken.
    stack_settings = None if "bottlerocket" in raw and "bottlerocket" not in parsed else parsed.get("bottlerocket", BottlerocketSettings())
    groups: dict[str, NodeGroupConfig] = parsed.get("nodeGroups") or {}
    for name, group in groups.items():
        problems += _node_group_problems(name, group, stack_settings)
    if "cluster" in parsed:
        pinned = {name: group.kubernetes_version for name, group in groups.items() if group.kubernetes_version}
        problems += node_group_skew_problems(parsed["cluster"].kubernetes_version, pinned)
    problems += _secret_problems(raw, secret_keys)
    if parsed.get("workloadSecrets") and "workloads" in parsed:  # a broken `workloads` is reported already
        names = {w.name: w for w in parsed.get("workloads", [])}
        for workload, variables in parsed["workloadSecrets"].items():
            if workload not in names:
                problems.append(Problem(("workloadSecrets", workload), f"no workload is named {workload!r}"))
                continue
            for variable in variables:
                if variable in INJECTED_ENV:
                    problems.append(Problem(("workloadSecrets", workload, variable), _INJECTED_MESSAGE))
                elif variable in names[workload].env:
                    problems.append(Problem(("workloadSecrets", workload, variable), "is also set as a plain environment variable"))
    if parsed.get("karpenter") is not None:
        broken_groups = {str(name) for name in raw["nodeGroups"]} - set(groups) if isinstance(raw.get("nodeGroups"), Mapping) else set()
        problems += _karpenter_problems(parsed["karpenter"], groups, broken_groups, stack_settings)
    if "workloads" in parsed:
        problems += workload_problems(parsed["workloads"], has_keda=raw.get("keda") is not None,
                                      taken_namespaces=TAKEN_NAMESPACES)
        for index, workload in enumerate(parsed["workloads"]):
            problems += [Problem(("workloads", index, "env", name), _INJECTED_MESSAGE) for name in workload.env if name in INJECTED_ENV]
    if "nodeGroups" in raw and isinstance(raw["nodeGroups"], Mapping) and groups and len(groups) == len(raw["nodeGroups"]):
        if not any(group.enabled for group in groups.values()):
            problems.append(Problem(("nodeGroups",), "no node group is enabled; keep at least one (a blue/green rollout disables the old one only after the new one is Ready)"))

    if problems:
        # A stack-wide setting shared by several node groups breaks a rule once, not once per group.
        raise ConfigError(stack_file, list(dict.fromkeys(problems)), sources)
    return StackConfig.model_validate(dict(raw))


def _validate_node_groups(raw_groups: Any) -> tuple[dict[str, NodeGroupConfig], list[Problem]]:
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
        group, group_problems = validate_part(NodeGroupConfig, raw_group, ("nodeGroups", name), StackConfig)
        problems += group_problems
        if group is not None:
            groups[name] = group
    return groups, problems
