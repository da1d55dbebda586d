"""The stack configuration: one typed model composed of the sections, validated once, with every problem
reported together.

A stack file sets these keys under the project's namespace (`eks-bottlerocket:cluster`, ...). Keys are
camelCase, grouped by concern (one module of this package per section, with its own rules); only the
Bottlerocket settings tables use Bottlerocket's own kebab-case names. `validate_stack_config` returns
the model or raises `ConfigError` listing every problem as `<stack file>: <key path>: <message>`;
nothing here touches Pulumi or AWS. The rules here are those that span sections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import Field

from core import aws_limits
from core.bottlerocket_settings import BottlerocketSettings, settings_as_dict
from core.config.base import ConfigError, ConfigSection, Path, Problem, unknown_key_message, validate_part
from core.config.cluster import ClusterConfig, cluster_problems
from core.config.eks_addons import EksAddonsConfig
from core.config.karpenter import KarpenterConfig, node_pool_problems
from core.config.keda import KedaConfig
from core.config.network import NetworkConfig, network_problems
from core.config.node_groups import NodeGroupConfig, NodeGroupName, node_group_problems, settings_origin, validate_node_groups
from core.config.region import Region
from core.config.stack_settings import StackSettings
from core.config.tags import MAX_STACK_TAGS, PROGRAM_TAGS_PER_RESOURCE, TagKey, TagValue, tag_problems
from core.config.workload_secrets import EnvName, SecretText, secret_problems
from core.config.workloads import INJECTED_ENV_MESSAGE, WorkloadConfig, workload_problems
from core.karpenter import controller_replica_problem, node_class_settings, split_node_class_settings
from core.kubernetes_versions import node_group_skew_problems
from core.sqs_worker import INJECTED_ENV
from core.tags import STACK_TAG, SUPPRESSION_PREFIX
from core.user_data import SettingsProblem, effective_settings, settings_problems


class StackConfig(ConfigSection):
    region: Region = Field(description="The explicit AWS provider's `region`.")
    cluster: ClusterConfig = Field(description="The EKS control plane.")
    network: NetworkConfig = Field(description="The VPC the cluster runs in.")
    node_groups: dict[NodeGroupName, NodeGroupConfig] = Field(description=(
        "One `BottlerocketNodeGroup` per enabled entry, named by its key; at least one enabled."))
    bottlerocket: BottlerocketSettings = Field(default=BottlerocketSettings(), description=(
        "Bottlerocket settings merged over the [defaults](#bottlerocket-defaults) into every node group's user data."))
    tags: dict[TagKey, TagValue] = Field(default={}, json_schema_extra={"maxProperties": MAX_STACK_TAGS}, description=(
        f"The AWS provider's `defaultTags` (every taggable resource), plus `{STACK_TAG}=<stack>`. At most "
        f"{MAX_STACK_TAGS}: AWS's {aws_limits.max_tags_per_resource()} tags per "
        f"resource less the {PROGRAM_TAGS_PER_RESOURCE} the program adds; keys may not start with `{SUPPRESSION_PREFIX}` "
        "(a suppression belongs on one resource)."))
    stack: StackSettings = Field(default=StackSettings(), description="How Pulumi treats the stack's resources.")
    keda: KedaConfig | None = Field(default=None, description="KEDA, which scales the workloads. Unset: no KEDA.")
    karpenter: KarpenterConfig | None = Field(default=None, description="Karpenter, which adds nodes for pending pods. Unset: no Karpenter.")
    eks_addons: EksAddonsConfig = Field(default=EksAddonsConfig(), description="The EKS add-ons the program manages.")
    workloads: list[WorkloadConfig] = Field(default=[], description="SQS workers, one Deployment scaled by KEDA each.")
    # Per workload, environment variables from a Kubernetes Secret; must be Pulumi secrets (set --secret).
    workload_secrets: dict[str, dict[EnvName, SecretText]] = Field(default={}, repr=False, description=(
        "**Pulumi secret** strings (`pulumi config set --secret --path 'workloadSecrets.<workload>.<VARIABLE>'`): a Kubernetes "
        "Secret `<workload>-env`, referenced by the container's env; the only key that takes secrets."))


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


def _karpenter_problems(karpenter: KarpenterConfig, groups: Mapping[str, NodeGroupConfig], broken_groups: set[str],
                        stack_settings: BottlerocketSettings | None) -> list[Problem]:
    """`broken_groups`: node groups that failed to parse, already reported; nothing is said about them here."""
    problems = node_pool_problems(karpenter)
    enabled = sorted(name for name, group in groups.items() if group.enabled)
    # A group that failed to parse would count as no capacity; with none enabled, nodeGroups says so already
    # (node_groups.validate_node_groups), and "every enabled group has minSize 0" would be about no group.
    if enabled and not broken_groups:
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
    merged = node_class_settings(effective_settings(stack_dict), own)  # what the EC2NodeClass gets (core/deployment.py karpenter_node_settings)
    for problem in settings_problems(merged, None):
        problems.append(Problem(settings_origin(problem, stack_dict, own, own_path), problem.message))
    _, _, dropped = split_node_class_settings(merged)
    for key in dropped:
        kept_out = SettingsProblem(("kubernetes", key), "")
        problems.append(Problem(settings_origin(kept_out, stack_dict, own, own_path),
                                "Karpenter drops this key from EC2NodeClass user data; set it per node group "
                                "(nodeGroups.<name>.bottlerocket) instead of for every node"))
    return problems


def missing_key_message(key: str, project: str | None, other_keys: Mapping[str, Any]) -> str:
    """`key` is missing from the project's keys; where the stack file sets the provider's key of the same
    name instead (`aws:region`, the usual Pulumi habit), say which key the program reads."""
    provider_key = f"aws:{key}"
    if key != "region" or provider_key not in other_keys:
        return "required key is missing"
    own = f"{project}:{key}" if project else f"{key} in the project's namespace (Pulumi.yaml's `name`)"
    written = other_keys[provider_key]
    example = f"; write `{project}:{key}: {written}`" if project and isinstance(written, str) else ""
    return (f"required key is missing; the stack file sets {provider_key}, but this program reads {own} and passes "
            f"it to its own AWS provider, so {provider_key} does not set it{example}")


def other_namespaces(config: Mapping[str, Any], project: str) -> dict[str, Any]:
    """The keys of `config` (full names) outside the project's namespace (`aws:region`, ...): validation's
    `other_keys`, which only make its messages more helpful."""
    return {key: value for key, value in config.items() if not key.startswith(f"{project}:")}


def validate_stack_config(raw: Mapping[str, Any], stack_file: str, secret_keys: Iterable[str | Path] = (),
                          sources: Mapping[Path, str] | None = None, *, project: str | None = None,
                          other_keys: Mapping[str, Any] | None = None) -> StackConfig:
    """The typed configuration of a stack, or ConfigError with every problem in `raw`.

    `raw` holds the project's keys without their namespace: {"cluster": {...}, "nodeGroups": {...}};
    `secret_keys` names those of them the stack keeps encrypted (a key, or the key path of one encrypted
    value where it is known); `sources` the key paths whose value came
    from a one-run override rather than the stack file (a problem there names the override).
    `project` (Pulumi.yaml's `name`) and `other_keys` (the stack's keys of other namespaces, full names:
    {"aws:region": ...}) only make messages more helpful."""
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    fields = {field.alias or name: (name, field) for name, field in StackConfig.model_fields.items()}

    for key in raw:
        if key not in fields:
            problems.append(Problem((key,), unknown_key_message(StackConfig, (key,))))
    for alias, (_, field) in fields.items():
        if alias not in raw:
            if field.is_required():
                problems.append(Problem((alias,), missing_key_message(alias, project, other_keys or {})))
            continue
        if alias == "nodeGroups":
            parsed[alias], group_problems = validate_node_groups(raw[alias], StackConfig)
            problems += group_problems
            continue
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        value, part_problems = validate_part(annotation, raw[alias], (alias,), StackConfig)
        if value is not None:
            parsed[alias] = value
        problems += part_problems

    if "cluster" in parsed:
        problems += cluster_problems(parsed["cluster"], parsed.get("region"))
    problems += _aws_name_problems(parsed)
    if "tags" in parsed:
        problems += tag_problems(parsed["tags"])
    if "network" in parsed:
        problems += network_problems(parsed["network"], parsed.get("region"))
    # Merged-settings rules need the stack-wide table; skip them while it is itself broken.
    stack_settings = None if "bottlerocket" in raw and "bottlerocket" not in parsed else parsed.get("bottlerocket", BottlerocketSettings())
    groups: dict[str, NodeGroupConfig] = parsed.get("nodeGroups") or {}
    for name, group in groups.items():
        problems += node_group_problems(name, group, stack_settings)
    if "cluster" in parsed:
        pinned = {name: group.kubernetes_version for name, group in groups.items() if group.kubernetes_version}
        problems += node_group_skew_problems(parsed["cluster"].kubernetes_version, pinned)
    problems += secret_problems(raw, secret_keys)
    if parsed.get("workloadSecrets") and "workloads" in parsed:  # a broken `workloads` is reported already
        names = {w.name: w for w in parsed.get("workloads", [])}
        for workload, variables in parsed["workloadSecrets"].items():
            if workload not in names:
                problems.append(Problem(("workloadSecrets", workload), f"no workload is named {workload!r}"))
                continue
            for variable in variables:
                if variable in INJECTED_ENV:
                    problems.append(Problem(("workloadSecrets", workload, variable), INJECTED_ENV_MESSAGE))
                elif variable in names[workload].env:
                    problems.append(Problem(("workloadSecrets", workload, variable), "is also set as a plain environment variable"))
    if parsed.get("karpenter") is not None:
        broken_groups = {str(name) for name in raw["nodeGroups"]} - set(groups) if isinstance(raw.get("nodeGroups"), Mapping) else set()
        problems += _karpenter_problems(parsed["karpenter"], groups, broken_groups, stack_settings)
    if "workloads" in parsed:
        problems += workload_problems(parsed["workloads"], has_keda=raw.get("keda") is not None)

    if problems:
        # A stack-wide setting shared by several node groups breaks a rule once, not once per group.
        raise ConfigError(stack_file, list(dict.fromkeys(problems)), sources)
    # Every key of `raw` is validated above, section by section; the model is assembled from those parts
    # (absent keys take their defaults) rather than validating the whole stack a second time.
    return StackConfig.model_construct(**parsed)
