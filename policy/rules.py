"""Guardrail rules as plain functions over resources (type, name, urn, inputs in engine camelCase).

The same rules run in two places: the CrossGuard pack in this folder (`pulumi preview --policy-pack
policy`) and the offline plan (`python -m automation plan`). pulumi-eks' Cluster is a multi-language
component whose children the mock engine never builds, so each rule on the `aws:eks/cluster:Cluster`
child is mirrored on the component's inputs (`eks:index:Cluster`).

A rule reads what a resource's inputs and tags say, never a value only the offline plan has, so it
judges the offline plan and a CrossGuard preview alike. Facts the inputs cannot show once deployed are tags
the components write (core/tags.py): a node group's release policy, a dead-letter queue.

Suppress a rule for one resource next to it: an AWS tag or a Kubernetes annotation
`policy.eks-bottlerocket/<rule name>` whose value is the reason, in at least three words. The stack's
`tags` reach every resource through the provider's default tags, so they never suppress anything.
"""

from __future__ import annotations

import base64
import ipaddress
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import tomlkit
from pydantic import ValidationError

from core.block_devices import DATA_DEVICE, MINIMUM_DATA_VOLUME_GIB
from core.bottlerocket_settings import BottlerocketSettings
from core.resource_types import AWS_PROVIDER, EKS_CLUSTER, HELM_RELEASE, IAM_ROLE, LAUNCH_TEMPLATE, NODE_CLASS, NODE_GROUP, PULUMI_EKS_CLUSTER, QUEUE, SCALED_OBJECT
from core.tags import DEAD_LETTER_QUEUE_TAG, FROZEN, FROZEN_TAG, PINNED, RELEASE_TAG, SQS_ENCRYPTED_WITH_DLQ_RULE, STACK_TAG, suppression
from core.user_data import KUBELET_DEFAULT_HARD_SIGNALS, settings_problems

PRODUCTION_NAMES = {"prod", "production"}
# Actions without resource-level permissions: "*" is the narrowest Resource AWS allows for them.
UNSCOPABLE_ACTIONS = {
    "ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeInstanceStatus",
    "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates",
    "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets",
    "pricing:GetProducts", "iam:ListInstanceProfiles", "arc-zonal-shift:GetManagedResource",
}


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    production: bool
    stack_wide_tags: frozenset[str] = frozenset()  # keys of the AWS providers' default tags


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    mandatory: bool
    check: Callable[[Resource, Context], Iterable[str]]


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    message: str
    mandatory: bool


# --- helpers ----------------------------------------------------------------------------------------

def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _tags(resource: Resource) -> Mapping[str, str]:
    """The resource's own tags; none while they are unknown (an output of another resource in a preview)."""
    tags = resource.props.get("tags")
    return tags if isinstance(tags, Mapping) else {}


def _is_production(resources: Iterable[Resource]) -> bool:
    for resource in resources:
        tags = _tags(resource)
        if tags.get(STACK_TAG) in PRODUCTION_NAMES or tags.get("environment") in PRODUCTION_NAMES:
            return True
    return False


MINIMUM_REASON_WORDS = 3


def _suppression(resource: Resource, rule: str, context: Context) -> str | None:
    """The reason a resource's own tag or annotation gives for skipping `rule`, if it is one.

    A tag the provider's default tags put there (the stack's `tags`, which reach every resource) is
    never a suppression, and a reason must say something: at least three words."""
    annotations = (resource.props.get("metadata") or {}).get("annotations") or {}
    key = suppression(rule)
    if key in context.stack_wide_tags:
        return None
    reason = {**_tags(resource), **annotations}.get(key)
    if not isinstance(reason, str) or len(re.findall(r"\w+", reason)) < MINIMUM_REASON_WORDS:
        return None
    return reason.strip()


@functools.lru_cache(maxsize=256)  # three rules read the same user data; parse it once
def _user_data_settings(encoded_or_text: str, encoded: bool) -> dict[str, Any]:
    text = base64.b64decode(encoded_or_text).decode() if encoded else encoded_or_text
    return tomlkit.parse(text).unwrap().get("settings", {})


# --- rules ------------------------------------------------------------------------------------------

def _imdsv2(resource: Resource, context: Context) -> Iterable[str]:
    if resource.type in (LAUNCH_TEMPLATE, NODE_CLASS):
        options = (resource.props.get("spec") or resource.props).get("metadataOptions") or {}
        if options.get("httpTokens") != "required":
            yield "IMDSv2 is not required: set metadataOptions.httpTokens to 'required'"
        hop_limit = options.get("httpPutResponseHopLimit")
        if hop_limit is None or hop_limit > 2:
            yield f"IMDS hop limit is {hop_limit}; set metadataOptions.httpPutResponseHopLimit to 1 (or 2)"


def _block_devices(resource: Resource) -> list[tuple[str, Mapping[str, Any]]]:
    if resource.type == LAUNCH_TEMPLATE:
        return [(m.get("deviceName", "?"), m.get("ebs") or {}) for m in resource.props.get("blockDeviceMappings") or []]
    if resource.type == NODE_CLASS:
        return [(m.get("deviceName", "?"), m.get("ebs") or {}) for m in (resource.props.get("spec") or {}).get("blockDeviceMappings") or []]
    return []


def _ebs_encrypted(resource: Resource, context: Context) -> Iterable[str]:
    for device, ebs in _block_devices(resource):
        if str(ebs.get("encrypted")).lower() != "true":
            yield f"EBS volume {device} is not encrypted: set encrypted to true"


def _data_volume(resource: Resource, context: Context) -> Iterable[str]:
    if resource.type not in (LAUNCH_TEMPLATE, NODE_CLASS):
        return
    devices = dict(_block_devices(resource))
    size = devices.get(DATA_DEVICE, {}).get("volumeSize")
    gib = int(str(size).removesuffix("Gi")) if size is not None and re.fullmatch(r"[0-9]+(Gi)?", str(size)) else None
    if gib is None:
        yield f"no {DATA_DEVICE} data volume: Bottlerocket keeps pods' ephemeral storage there; add one (dataVolume.sizeGiB)"
    elif gib < MINIMUM_DATA_VOLUME_GIB:
        yield f"data volume {DATA_DEVICE} is {gib} GiB; give it at least {MINIMUM_DATA_VOLUME_GIB} GiB"


def _node_settings(resource: Resource) -> dict[str, Any] | None:
    if resource.type == LAUNCH_TEMPLATE and resource.props.get("userData"):
        return _user_data_settings(resource.props["userData"], encoded=True)
    if resource.type == NODE_CLASS:
        return _user_data_settings((resource.props.get("spec") or {}).get("userData") or "", encoded=False)
    return None


def _bottlerocket_user_data(resource: Resource, context: Context) -> Iterable[str]:
    try:
        settings = _node_settings(resource)
    except (ValueError, tomlkit.exceptions.ParseError) as error:
        yield f"user data is not valid TOML: {error}"
        return
    if settings is None:
        return
    try:
        BottlerocketSettings.model_validate(settings)
    except ValidationError as error:
        for item in error.errors():
            yield f"Bottlerocket would reject the user data: settings.{'.'.join(map(str, item['loc']))}: {item['msg']}"
        return
    if resource.type == NODE_CLASS:
        hard = ((resource.props.get("spec") or {}).get("kubelet") or {}).get("evictionHard") or {}
        missing = [s for s in KUBELET_DEFAULT_HARD_SIGNALS if s not in hard]
        if missing:
            yield f"spec.kubelet.evictionHard misses {', '.join(missing)}; a partial map sets them to 0"
        return
    for problem in settings_problems(settings, None):
        yield f"settings.{'.'.join(problem.key)}: {problem.message}"


def _lockdown(resource: Resource, context: Context) -> Iterable[str]:
    settings = _node_settings(resource) if context.production else None
    if settings is not None and (settings.get("kernel") or {}).get("lockdown", "integrity") == "none":
        yield "kernel.lockdown is 'none' in production: set bottlerocket.kernel.lockdown to 'integrity'"


# Bottlerocket's defaults (sources/shared-defaults/aws-host-containers.toml; shared
# reference/bottlerocket-settings.md, host-containers): `admin` is superpowered unless set otherwise,
# any other host container is not.
SUPERPOWERED_BY_DEFAULT = {"admin"}


def _superpowered_containers(resource: Resource, context: Context) -> Iterable[str]:
    """Any enabled superpowered host container, whatever its name: it has the host's root."""
    settings = _node_settings(resource) if context.production else None
    for name, container in sorted(((settings or {}).get("host-containers") or {}).items()):
        if container.get("enabled") and container.get("superpowered", name in SUPERPOWERED_BY_DEFAULT):
            yield (f"the superpowered host container {name!r} is enabled in production: set "
                   f"bottlerocket.host-containers.{name}.enabled (or its superpowered) to false")


def _policy_documents(resource: Resource) -> list[Mapping[str, Any]]:
    keys = {"aws:iam/policy:Policy": ("policy",), "aws:iam/rolePolicy:RolePolicy": ("policy",),
            IAM_ROLE: ("assumeRolePolicy",), "aws:sqs/queuePolicy:QueuePolicy": ("policy",)}.get(resource.type, ())
    return [_json(resource.props[key]) for key in keys if resource.props.get(key)]


def _iam_least_privilege(resource: Resource, context: Context) -> Iterable[str]:
    for document in _policy_documents(resource):
        for statement in _as_list(document.get("Statement", [])):
            if statement.get("Effect") != "Allow":
                continue
            actions = set(_as_list(statement.get("Action", [])))
            sid = statement.get("Sid", "statement")
            if "*" in actions or any(a.endswith(":*") for a in actions):
                yield f"{sid} allows every action ({sorted(actions)}); name the actions the component needs"
            if "*" in _as_list(statement.get("Resource", [])) and not actions <= UNSCOPABLE_ACTIONS:
                yield f"{sid} grants {sorted(actions - UNSCOPABLE_ACTIONS)} on Resource '*'; scope it to the ARNs it needs"


def _sqs(resource: Resource, context: Context) -> Iterable[str]:
    if resource.type != QUEUE:
        return
    if not resource.props.get("sqsManagedSseEnabled") and not resource.props.get("kmsMasterKeyId"):
        yield "the queue is not encrypted: set sqsManagedSseEnabled (or a KMS key)"
    # A dead-letter queue is marked by the component that creates it: another queue's redrive policy names
    # it only by an ARN that is unknown until both exist.
    if not resource.props.get("redrivePolicy") and DEAD_LETTER_QUEUE_TAG not in _tags(resource):
        yield "the queue has no dead-letter queue: set a redrivePolicy with maxReceiveCount"


def _containers(resource: Resource) -> list[Mapping[str, Any]]:
    if resource.type != "kubernetes:apps/v1:Deployment":
        return []
    return (((resource.props.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


def _workload_hardening(resource: Resource, context: Context) -> Iterable[str]:
    pod = (((resource.props.get("spec") or {}).get("template") or {}).get("spec") or {})
    for container in _containers(resource):
        name = container.get("name", "?")
        resources = container.get("resources") or {}
        if not (resources.get("requests") and resources.get("limits")):
            yield f"container {name} needs resources.requests and resources.limits"
        if not container.get("readinessProbe") or not (container.get("startupProbe") or container.get("livenessProbe")):
            yield f"container {name} needs a readiness probe and a startup (or liveness) probe"
        security = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
        if not security.get("runAsNonRoot"):
            yield f"container {name} must run as non-root: securityContext.runAsNonRoot: true"
        if not (container.get("securityContext") or {}).get("readOnlyRootFilesystem"):
            yield f"container {name} needs securityContext.readOnlyRootFilesystem: true (mount an emptyDir for scratch)"


def _trigger_strings(resource: Resource, context: Context) -> Iterable[str]:
    if resource.type != SCALED_OBJECT:
        return
    for index, trigger in enumerate((resource.props.get("spec") or {}).get("triggers") or []):
        for key, value in (trigger.get("metadata") or {}).items():
            if not isinstance(value, str):
                yield f"triggers[{index}].metadata.{key} is {value!r}; KEDA's CRD takes strings only (quote it)"


def _helm_pinned(resource: Resource, context: Context) -> Iterable[str]:
    if resource.type == HELM_RELEASE and not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", str(resource.props.get("version") or "")):
        yield f"chart {resource.props.get('chart')} is not pinned to an exact version ({resource.props.get('version')!r})"


def _cluster_inputs(resource: Resource) -> dict[str, Any] | None:
    """The cluster settings, from the real aws:eks/cluster:Cluster or mirrored from pulumi-eks' inputs."""
    props = resource.props
    if resource.type == PULUMI_EKS_CLUSTER:
        return {"publicAccess": props.get("endpointPublicAccess", True), "cidrs": props.get("publicAccessCidrs") or ["0.0.0.0/0"],
                "encrypted": bool(props.get("encryptionConfigKeyArn")), "logs": props.get("enabledClusterLogTypes") or []}
    if resource.type == EKS_CLUSTER:
        vpc = props.get("vpcConfig") or {}
        return {"publicAccess": vpc.get("endpointPublicAccess", True), "cidrs": vpc.get("publicAccessCidrs") or ["0.0.0.0/0"],
                "encrypted": bool(props.get("encryptionConfig")), "logs": props.get("enabledClusterLogTypes") or []}
    return None


# "Open to the internet" is judged by the addresses the list lets in, whatever its spelling
# (0.0.0.0/0, or 0.0.0.0/1 and 128.0.0.0/1): more than a /8 of the address space (the largest block any
# one organisation holds) cannot be one's own egress.
OPEN_ADDRESS_SHARE = 1 / 256


def open_share(cidrs: Iterable[str]) -> float:
    """The largest share of an address family (IPv4 or IPv6) that the CIDR list lets in; an entry
    that is not a CIDR counts as everything, so a typo cannot hide an open endpoint."""
    networks: dict[int, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {4: [], 6: []}
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            return 1.0
        networks[network.version].append(network)
    share = 0.0
    for version, bits in ((4, 32), (6, 128)):
        covered = sum(n.num_addresses for n in ipaddress.collapse_addresses(networks[version]))  # type: ignore[arg-type]
        share = max(share, covered / 2**bits)
    return share


def _endpoint(resource: Resource, context: Context) -> Iterable[str]:
    cluster = _cluster_inputs(resource)
    if cluster and context.production and cluster["publicAccess"] and open_share(cluster["cidrs"]) > OPEN_ADDRESS_SHARE:
        yield (f"the API endpoint is open to {open_share(cluster['cidrs']):.0%} of the internet's addresses in production: "
               "list your own CIDRs (at most a /8 together) in cluster.endpoint.publicAccessCidrs")


def _secrets_encryption(resource: Resource, context: Context) -> Iterable[str]:
    cluster = _cluster_inputs(resource)
    if cluster and not cluster["encrypted"]:
        yield "Kubernetes secrets are not envelope-encrypted: set cluster.secretsEncryption (or leave it to create a key)"


def _audit_logs(resource: Resource, context: Context) -> Iterable[str]:
    cluster = _cluster_inputs(resource)
    if cluster and context.production and "audit" not in cluster["logs"]:
        yield "control-plane audit logs are off in production: add 'audit' to cluster.logTypes"


def _frozen_in_production(resource: Resource, context: Context) -> Iterable[str]:
    """By the release policy the node group publishes: under a preview a `latest` group's releaseVersion is
    as real a version string as a pin, and `freeze` is a resource option, not an input."""
    if not (context.production and resource.type == NODE_GROUP):
        return
    tags = _tags(resource)
    if tags.get(RELEASE_TAG) != PINNED:
        yield ("the node group does not pin its Bottlerocket release in production "
               f"({RELEASE_TAG}={tags.get(RELEASE_TAG)!r}): pin releaseVersion and set freeze: true")
    elif tags.get(FROZEN_TAG) != FROZEN:
        yield "the node group's pinned release is not frozen in production: set freeze: true"


RULES = [
    Rule("imdsv2-required", "IMDSv2 required with a hop limit of at most 2", True, _imdsv2),
    Rule("ebs-encrypted", "every EBS volume encrypted", True, _ebs_encrypted),
    Rule("data-volume", f"a {DATA_DEVICE} data volume of at least {MINIMUM_DATA_VOLUME_GIB} GiB", True, _data_volume),
    Rule("bottlerocket-user-data", "user data passes Bottlerocket's settings rules, with a complete eviction-hard", True, _bottlerocket_user_data),
    Rule("kernel-lockdown-production", "kernel.lockdown is not 'none' in production", True, _lockdown),
    Rule("admin-container-production", "no superpowered host container (admin or any other) runs in production", True, _superpowered_containers),
    Rule("iam-least-privilege", "no Action '*'; Resource '*' only where AWS allows nothing narrower", True, _iam_least_privilege),
    Rule(SQS_ENCRYPTED_WITH_DLQ_RULE, "SQS queues encrypted and with a dead-letter queue", True, _sqs),
    Rule("workload-hardening", "Deployments with requests/limits, probes, non-root, read-only root filesystem", True, _workload_hardening),
    Rule("keda-trigger-strings", "KEDA trigger metadata values are strings", True, _trigger_strings),
    Rule("helm-chart-pinned", "Helm charts pinned to exact versions", True, _helm_pinned),
    Rule("endpoint-not-open-production", "the cluster endpoint lets in at most a /8 of addresses in production", True, _endpoint),
    Rule("secrets-encryption", "Kubernetes secrets envelope-encrypted with KMS", True, _secrets_encryption),
    Rule("audit-logs-production", "control-plane audit logs on in production", True, _audit_logs),
    Rule("version-frozen-production", "production node groups pin their Bottlerocket version and freeze it", False, _frozen_in_production),
]


def context_for(resources: list[Resource]) -> Context:
    stack_wide: set[str] = set()
    for resource in resources:
        if resource.type == AWS_PROVIDER:
            default_tags = _json(resource.props.get("defaultTags") or {}) or {}
            stack_wide |= set((default_tags.get("tags") or {}) if isinstance(default_tags, Mapping) else {})
    return Context(_is_production(resources), frozenset(stack_wide))


def evaluate(resources: list[Resource], rules: list[Rule] = RULES) -> tuple[list[Violation], list[tuple[str, str, str]]]:
    """(violations, suppressions as (rule, urn, reason)) for every resource and rule."""
    context = context_for(resources)
    violations, suppressed = [], []
    for resource in resources:
        for rule in rules:
            messages = list(rule.check(resource, context))
            if not messages:
                continue
            reason = _suppression(resource, rule.name, context)
            if reason:
                suppressed.append((rule.name, resource.urn, reason))
                continue
            violations += [Violation(rule.name, resource.urn, message, rule.mandatory) for message in messages]
    return violations, suppressed
