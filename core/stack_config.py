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
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from core import instance_types
from core.access_entries import CREATOR_LISTED, creator_listed
from core.addons_config import KarpenterConfig, KedaConfig, WorkloadConfig, node_pool_problems, workload_problems
from core.karpenter import controller_replica_problem, node_class_settings as karpenter_node_class_settings, split_node_class_settings
from core.config_base import ConfigSection, Path, Problem, format_path
from core.bottlerocket_settings import BottlerocketSettings, LabelKey, LabelValue, settings_as_dict
from core.network_plan import plan_subnets
from core.release_version import BOTTLEROCKET_AMI_TYPES, LATEST, ami_architecture, is_nvidia, is_valid_pin, release_policy, ReleasePolicy
from core.user_data import DEFAULT_SETTINGS, SettingsProblem, deep_merge, eks_merge_problems, render_user_data, settings_problems

SUPPORTED_KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
MINIMUM_DATA_VOLUME_GIB = 20  # the data volume of Bottlerocket's aws-k8s AMIs; smaller fails to launch
MINIMUM_ROOT_VOLUME_GIB = {"standard": 2, "nvidia": 4}  # the AMIs' OS volumes
COLOUR_LABEL = "eks-bottlerocket/colour"
NODE_GROUP_TAG = "eks-bottlerocket/node-group"


# --- value checks ----------------------------------------------------------------------------------

def _pattern(regex: str, what: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block ({error})") from None
    return str(network)


def _kubernetes_version(value: str) -> str:
    if value not in SUPPORTED_KUBERNETES_VERSIONS:
        raise ValueError(f"{value!r} is not a supported Kubernetes version ({', '.join(SUPPORTED_KUBERNETES_VERSIONS)})")
    return value


Region = Annotated[str, _pattern(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]", "an AWS region (example: eu-west-1)")]
ClusterName = Annotated[str, _pattern(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", "a valid EKS cluster name (letters, digits, - and _, up to 100)")]
NodeGroupName = Annotated[str, _pattern(r"[a-z][a-z0-9-]{0,19}", "a node group name (lower-case letters, digits and -, up to 20)")]
Cidr = Annotated[str, AfterValidator(_cidr)]
KubernetesVersion = Annotated[str, AfterValidator(_kubernetes_version)]
PrincipalArn = Annotated[str, _pattern(r"arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:(role|user|assumed-role)/[\w+=,.@/-]+", "an IAM role or user ARN")]
KmsKeyArn = Annotated[str, _pattern(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[\w/-]+", "a KMS key ARN")]
VpcId = Annotated[str, _pattern(r"vpc-[0-9a-f]{8,17}", "a VPC id")]
SubnetId = Annotated[str, _pattern(r"subnet-[0-9a-f]{8,17}", "a subnet id")]
TagKey = Annotated[str, _pattern(r"(?!aws:)[\w .:/=+@-]{1,128}", "a tag key (1-128 characters, not starting with aws:)")]
TagValue = Annotated[str, _pattern(r"[\w .:/=+@-]{0,256}", "a tag value (up to 256 characters)")]
EnvName = Annotated[str, _pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")]
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

    def release_policy(self, name: str) -> ReleasePolicy:
        group = self.node_groups[name]
        return release_policy(self.cluster.kubernetes_version, group.ami_type, group.release_version, group.freeze)


# --- problems --------------------------------------------------------------------------------------

class ConfigError(Exception):
    """Every problem found in one stack's configuration."""

    def __init__(self, stack_file: str, problems: list[Problem]):
        self.stack_file = stack_file
        self.problems = problems
        super().__init__(self.report())

    def lines(self) -> list[str]:
        return [f"{self.stack_file}: {format_path(p.path)}: {p.message}" for p in self.problems]

    def report(self) -> str:
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the stack configuration; nothing was deployed:"
        return "\n".join([heading, *self.lines()])


def _unwrap(annotation: Any) -> Any:
    """The model class or container type behind Optional/Annotated wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _unknown_key_message(root: type[BaseModel], path: Path) -> str:
    parent = _model_at(root, path[:-1])
    known = _known_keys(parent) if parent else []
    close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}" if known else ""
    return f"unknown key {path[-1]!r}{hint}"


def _pydantic_problems(error: ValidationError, root: type[BaseModel], prefix: Path) -> list[Problem]:
    problems = []
    for item in error.errors():
        # "[key]" marks a bad dict key: the path then ends at that key.
        loc = tuple(part for part in item["loc"] if part != "[key]")
        path = prefix + loc
        kind, message = item["type"], item["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = _unknown_key_message(root, path)
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "string_type" and isinstance(item.get("input"), (int, float)) and not isinstance(item["input"], bool):
            message = f"must be a string; quote it ('{item['input']}') so YAML does not read it as a number"
        problems.append(Problem(path, message))
    return problems


def _validate_part(model: Any, value: Any, prefix: Path, root: type[BaseModel]) -> tuple[Any, list[Problem]]:
    try:
        return TypeAdapter(model).validate_python(value), []
    except ValidationError as error:
        return None, _pydantic_problems(error, root, prefix)


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
            problems.append(Problem(("network", "availabilityZones", index), f"{zone!r} is not an availability zone of {region}"))
    if len(zones) >= 2:
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
    """Where a user fixes a merged setting: the table that set its cause; by default the most specific
    one (`own`, at `own_path`), else the stack-wide `bottlerocket`."""
    cause = problem.cause or problem.key

    def has(settings: Mapping[str, Any]) -> bool:
        node: Any = settings
        for part in cause:
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    if not has(own) and has(stack):
        return ("bottlerocket", *problem.key)
    return (*own_path, *problem.key)


def _karpenter_problems(karpenter: KarpenterConfig, groups: Mapping[str, NodeGroupConfig],
                        stack_settings: BottlerocketSettings | None) -> list[Problem]:
    problems = node_pool_problems(karpenter)
    enabled = sorted(name for name, group in groups.items() if group.enabled)
    if groups:
        guaranteed = sum(groups[name].scaling.min_size for name in enabled)
        if (placement := controller_replica_problem(karpenter.controller.replicas, guaranteed)) is not None:
            problems.append(Problem(("karpenter", "controller", "replicas"), placement))
    version_from = karpenter.node_class.version_from
    if version_from is not None and groups and version_from not in enabled:
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
        if not instance_types.is_valid_instance_type(instance_type):
            problems.append(Problem(path, f"{instance_type!r} is not an EC2 instance type (example: m6i.large)"))
        elif instance_types.architecture(instance_type) != wanted_architecture:
            problems.append(Problem(path, f"{instance_type} is {instance_types.architecture(instance_type)} but amiType {group.ami_type} is {wanted_architecture}"))
        elif is_nvidia(group.ami_type) and not instance_types.has_nvidia_gpu(instance_type):
            problems.append(Problem(path, f"{instance_type} has no NVIDIA GPU, which amiType {group.ami_type} needs"))
    if len(set(group.instance_types)) != len(group.instance_types):
        problems.append(Problem((*base, "instanceTypes"), "lists an instance type twice"))

    root_minimum = MINIMUM_ROOT_VOLUME_GIB["nvidia" if is_nvidia(group.ami_type) else "standard"]
    problems += _volume_problems(group.root_volume, (*base, "rootVolume"), root_minimum)
    problems += _volume_problems(group.data_volume, (*base, "dataVolume"), MINIMUM_DATA_VOLUME_GIB)

    for key in group.labels:
        if key == COLOUR_LABEL:
            problems.append(Problem((*base, "labels", key), "is set by the program to the group's name"))

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


def validate_stack_config(raw: Mapping[str, Any], stack_file: str, secret_keys: Iterable[str] = ()) -> StackConfig:
    """The typed configuration of a stack, or ConfigError with every problem in `raw`.

    `raw` holds the project's keys without their namespace: {"cluster": {...}, "nodeGroups": {...}};
    `secret_keys` names those of them the stack keeps encrypted."""
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    fields = {field.alias: (name, field) for name, field in StackConfig.model_fields.items()}

    for key in raw:
        if key not in fields:
            problems.append(Problem((key,), _unknown_key_message(StackConfig, (key,))))
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
        value, part_problems = _validate_part(annotation, raw[alias], (alias,), StackConfig)
        if value is not None:
            parsed[alias] = value
        problems += part_problems

    if "cluster" in parsed:
        problems += _endpoint_problems(parsed["cluster"].endpoint)
        problems += _creator_problems(parsed["cluster"])
    if "network" in parsed:
        problems += _network_problems(parsed["network"], parsed.get("region"))
    # Merged-settings rules need the stack-wide table; skip them while it is itself broken.
    stack_settings = None if "bottlerocket" in raw and "bottlerocket" not in parsed else parsed.get("bottlerocket", BottlerocketSettings())
    groups: dict[str, NodeGroupConfig] = parsed.get("nodeGroups") or {}
    for name, group in groups.items():
        problems += _node_group_problems(name, group, stack_settings)
    encrypted = set(secret_keys)
    for key in SECRET_KEYS:
        if key in raw and key not in encrypted:
            problems.append(Problem((key,), "holds plain text; every value must be a Pulumi secret: "
                                           f"pulumi config set --secret --path '{key}.<workload>.<VARIABLE>' <value>"))
    if parsed.get("workloadSecrets"):
        names = {w.name: w for w in parsed.get("workloads", [])}
        for workload, variables in parsed["workloadSecrets"].items():
            if workload not in names:
                problems.append(Problem(("workloadSecrets", workload), f"no workload is named {workload!r}"))
                continue
            for variable in variables:
                if variable in names[workload].env or variable in ("QUEUE_URL", "AWS_REGION", "PROCESSING_SECONDS"):
                    problems.append(Problem(("workloadSecrets", workload, variable), "is also set as a plain environment variable"))
    if parsed.get("karpenter") is not None:
        problems += _karpenter_problems(parsed["karpenter"], groups, stack_settings)
    if "workloads" in parsed:
        cluster_name = parsed["cluster"].name if "cluster" in parsed else None
        problems += workload_problems(parsed["workloads"], cluster_name, has_keda=raw.get("keda") is not None)
    if "nodeGroups" in raw and isinstance(raw["nodeGroups"], Mapping) and groups and len(groups) == len(raw["nodeGroups"]):
        if not any(group.enabled for group in groups.values()):
            problems.append(Problem(("nodeGroups",), "no node group is enabled; keep at least one (a blue/green rollout disables the old one only after the new one is Ready)"))

    if problems:
        # A stack-wide setting shared by several node groups breaks a rule once, not once per group.
        raise ConfigError(stack_file, list(dict.fromkeys(problems)))
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
        group, group_problems = _validate_part(NodeGroupConfig, raw_group, ("nodeGroups", name), StackConfig)
        problems += group_problems
        if group is not None:
            groups[name] = group
    return groups, problems
