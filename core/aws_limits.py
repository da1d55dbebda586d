"""What AWS accepts, from the upstream data that says so, and the physical names the program derives.

Regions, partitions and the EKS/IAM name and tag limits are read from botocore's own data (the
endpoint rules and the service models AWS publishes for its SDKs, pinned through boto3 in
requirements.txt), so they move with the pin instead of being copied here. Limits that no service model
states come from the provider that enforces them, cited beside each.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from pathlib import Path
import ipaddress
import re
from dataclasses import dataclass
from typing import Any


# terraform-plugin-sdk v2 helper/id (UniqueIDSuffixLength = 26): a `*_name_prefix` argument gets a
# 26-character timestamp-and-counter suffix. hashicorp/terraform-provider-aws (v6, bridged by
# pulumi-aws 7.51.1) internal/service/eks/node_group.go: node_group_name StringLenBetween(0, 63),
# node_group_name_prefix StringLenBetween(0, 63-id.UniqueIDSuffixLength), i.e. 37.
UNIQUE_SUFFIX_LENGTH = 26
NODE_GROUP_NAME_MAX = 63
NODE_GROUP_NAME_PREFIX_MAX = NODE_GROUP_NAME_MAX - UNIQUE_SUFFIX_LENGTH
# Amazon SQS API reference, CreateQueue QueueName: up to 80 alphanumeric characters, hyphens and
# underscores (provider: internal/service/sqs/queue.go, the same rule). Only the length needs checking:
# the queue names are the cluster name (EKS' ClusterName pattern, cluster_name_rule) and Kubernetes names
# (core/config/kubernetes.py) joined by hyphens, characters SQS takes.
SQS_QUEUE_NAME_MAX = 80
# pulumi/pulumi-aws 7.51.1 autonames an unnamed aws.iam.Role `<logical name>-<7 random hex>`.
AUTONAME_SUFFIX_LENGTH = 8
# Amazon VPC user guide, "VPC CIDR blocks": an IPv4 VPC block is between a /16 and a /28.
VPC_PREFIX_LENGTHS = range(16, 29)


@functools.cache
def _botocore_data() -> Path:
    """botocore's data folder, found without importing botocore: its import (urllib3, http.client) costs
    more than the whole validation, and only the JSON files are needed."""
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_json(path: Path) -> Any:
    """A data file as botocore's Loader reads it: `<name>.json`, or `<name>.json.gz` where only that exists."""
    if path.exists():
        return json.loads(path.read_text())
    return json.loads(gzip.decompress(path.with_name(path.name + ".gz").read_bytes()))


@functools.cache
def _service_model(service: str) -> dict[str, Any]:
    # botocore.loaders.Loader.load_service_model takes the newest API version folder; so does this.
    newest = max(folder for folder in (_botocore_data() / service).iterdir() if folder.is_dir())
    model: dict[str, Any] = _read_json(newest / "service-2.json")
    return model


def _shape(service: str, shape: str) -> dict[str, Any]:
    shape_model: dict[str, Any] = _service_model(service)["shapes"][shape]
    return shape_model


@functools.cache
def _partitions() -> list[dict[str, Any]]:
    partitions: list[dict[str, Any]] = _read_json(_botocore_data() / "endpoints.json")["partitions"]
    return partitions


@dataclass(frozen=True)
class NameRule:
    what: str
    maximum: int
    pattern: re.Pattern[str]

    def problem(self, name: str) -> str | None:
        """Why AWS refuses `name` as this kind of name, or None."""
        if len(name) > self.maximum:
            return f"{self.what} {name!r} has {len(name)} characters; AWS allows at most {self.maximum}"
        if not self.pattern.fullmatch(name):
            return f"{self.what} {name!r} has characters AWS does not allow (it must match {self.pattern.pattern})"
        return None


def _model_rule(what: str, service: str, shape: str) -> NameRule:
    data = _shape(service, shape)
    return NameRule(what, data["max"], re.compile(data["pattern"].removeprefix("^").removesuffix("$")))


def cluster_name_rule() -> NameRule:
    """botocore data/eks/2017-11-01/service-2.json, shape ClusterName (1-100, ^[0-9A-Za-z][A-Za-z0-9\\-_]*)."""
    return _model_rule("the EKS cluster name", "eks", "ClusterName")


def role_name_rule() -> NameRule:
    """botocore data/iam/2010-05-08/service-2.json, shape roleNameType (1-64, [\\w+=,.@-]+)."""
    return _model_rule("the IAM role name", "iam", "roleNameType")


def max_tags_per_resource() -> int:
    """botocore data/eks/2017-11-01/service-2.json, shape TagMap (max 50); IAM's tagListType and
    EC2's tagging rules say the same 50 (tags with the aws: prefix, which users cannot set, aside)."""
    return int(_shape("eks", "TagMap")["max"])


def eks_length_problem(shape: str, what: str, text: str) -> str | None:
    """Whether the EKS API takes `text` where its model uses `shape` (botocore data/eks/2017-11-01/
    service-2.json: labelKey and labelValue 1-63, taintKey 1-63, taintValue 0-63: whole keys, a
    Kubernetes prefix included, which Kubernetes itself would allow longer)."""
    limits = _shape("eks", shape)
    low, high = limits.get("min", 0), limits["max"]
    if not low <= len(text) <= high:
        return f"EKS takes {what} of {low} to {high} characters; this one has {len(text)}"
    return None


# --- regions and partitions --------------------------------------------------------------------------

@functools.cache
def eks_regions() -> dict[str, str]:
    """Every region EKS has an endpoint in, with its partition (botocore data/endpoints.json)."""
    regions = {}
    for partition in _partitions():
        for region in partition["services"].get("eks", {}).get("endpoints", {}):
            if region in partition["regions"]:  # skip `fips-...` endpoint aliases
                regions[region] = partition["partition"]
    return regions


def partition_of(region: str) -> str | None:
    return eks_regions().get(region)


# --- the physical names this program gives AWS resources --------------------------------------------

def node_group_name_prefix(cluster_name: str, group: str) -> str:
    return f"{cluster_name}-{group}-"


def interruption_queue_name(cluster_name: str) -> str:
    """Karpenter's interruption queue; its Helm value settings.interruptionQueue names the same queue."""
    return cluster_name


def worker_queue_name(cluster_name: str, workload: str) -> str:
    return f"{cluster_name}-{workload}"


def dead_letter_queue_name(cluster_name: str, workload: str) -> str:
    return f"{cluster_name}-{workload}-dlq"


def worker_resource_name(workload: str) -> str:
    """The Pulumi name of a worker's component and of its IAM role (autonamed from it)."""
    return f"worker-{workload}"


def autonamed_role_problem(logical_name: str) -> str | None:
    longest = logical_name + "-" + "x" * (AUTONAME_SUFFIX_LENGTH - 1)
    return role_name_rule().problem(longest)


def vpc_cidr_problem(cidr: str) -> str | None:
    prefix = ipaddress.IPv4Network(cidr).prefixlen
    if prefix not in VPC_PREFIX_LENGTHS:
        return f"{cidr} is a /{prefix}; a VPC's IPv4 block must be between a /{VPC_PREFIX_LENGTHS[0]} and a /{VPC_PREFIX_LENGTHS[-1]}"
    return None
