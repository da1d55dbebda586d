"""Bottlerocket's settings model, as far as this program lets users set it.

Bottlerocket declares every settings table with serde's `deny_unknown_fields`: one unknown key or one
wrongly typed value makes the node reject the *whole* user data and never join the cluster. These
models mirror the upstream ones (bottlerocket-settings-models; see shared/reference/bottlerocket-settings.md
in the project's research notes) closely enough to catch that before anything is deployed:
closed tables (`extra="forbid"`), kebab-case keys, strict types, and the exact value formats
(quantities, eviction thresholds, durations, label and taint syntax).

Keys are Bottlerocket's own (kebab-case) names so settings can be pasted from bottlerocket.dev.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.config.base import quote

# --- value formats --------------------------------------------------------------------------------
# Each value must pass both Bottlerocket's settings model (bottlerocket-settings-models, modeled-types
# src/kubernetes.rs and shared.rs) and the component that finally reads it (the kubelet, the API
# server): Bottlerocket's regexes are looser (its quantity form `[0-9.]+` accepts `1.2.3Gi`, which the
# kubelet cannot parse, and the node never joins). Every pattern is matched against the whole text:
# Python's `$` also matches before a trailing newline.

# kubernetes/kubernetes v1.33.0, staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go, the
# grammar in the Quantity doc comment (lines 37-61): <number> is digits, digits.digits, digits. or
# .digits; suffixes Ki..Ei, n u m "" k M G T P E, or an exponent. Bottlerocket's first form only takes
# `e` followed by digits, so that is the exponent allowed here. No sign: every quantity this program
# takes (reservations, thresholds, limits, log sizes) must not be negative.
_QUANTITY = re.compile(r"(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>e[0-9]+|[KMGTPE]i|[numkMGTPE])?")
# The kubelet's eviction thresholds (pkg/kubelet/eviction/helpers.go, parseThresholdStatement and
# parsePercentage): a percentage is strconv.ParseFloat of the text before `%`, so `5 %` fails there.
_PERCENT = re.compile(r"(?P<number>[0-9]+(\.[0-9]+)?)%")
_DURATION = re.compile(
    r"(([0-9]+\.)?[0-9]+h)?(([0-9]+\.)?[0-9]+m)?(([0-9]+\.)?[0-9]+s)?(([0-9]+\.)?[0-9]+ms)?"
)
# apimachinery pkg/util/validation/validation.go, IsQualifiedName and IsValidLabelValue: an optional
# DNS-1123 subdomain prefix (lower case, at most 253) and a name of at most 63.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_IDENTIFIER = re.compile(r"[A-Za-z0-9-]{1,76}")
_SYSCTL_KEY = re.compile(r"[a-zA-Z0-9./_-]{1,128}")
_CPUSET = re.compile(r"([0-9]+(-[0-9]+)?,?)*([0-9]+(-[0-9]+)?)+")
_KERNEL_MODULE = re.compile(r"[A-Za-z0-9_-]{1,56}")

_QUANTITY_SUFFIX_BYTES = {
    "": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5, "E": 1000**6,
    "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6,
}


def _quantity(value: str) -> str:
    if not _QUANTITY.fullmatch(value):
        raise ValueError(f"{quote(value)} is not a Kubernetes quantity: a number that is not negative, with an optional "
                         "suffix (examples: 100Mi, 1Gi, 200m, 512M)")
    return value


def _threshold(value: str) -> str:
    if value.endswith("%"):
        match = _PERCENT.fullmatch(value)
        if not match:
            raise ValueError(f"{quote(value)} is not a percentage (example: 10%)")
        if not 0.0 <= float(match["number"]) < 100.0:
            raise ValueError(f"{quote(value)}: a percentage threshold must be at least 0% and below 100%")
        return value
    if not _QUANTITY.fullmatch(value):
        raise ValueError(f"{quote(value)} is neither a percentage (10%) nor a quantity (500Mi)")
    if quantity_value(value) <= 0:
        raise ValueError(f"{quote(value)}: the kubelet takes only eviction thresholds above zero")
    return value


def _duration(value: str) -> str:
    if not value or not _DURATION.fullmatch(value):
        raise ValueError(f"{quote(value)} is not a duration: use h, m, s, ms in that order (examples: 30s, 1m30s, 2h)")
    return value


def _integer_percent(value: Any) -> int:
    # Bottlerocket accepts an integer or a string holding one, nothing else.
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ValueError(f"{value!r} is not a whole-number percentage")
    number = int(value)
    if not 0 <= number <= 100:
        raise ValueError(f"{number} is not a percentage from 0 to 100")
    return number


def _matches(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{quote(value)} is not a valid {what}")
        return value

    return check


def _label_key(value: str) -> str:
    prefix, slash, name = value.rpartition("/")
    if not (_QUALIFIED_NAME_PART.fullmatch(name) and len(name) <= 63) or \
            (slash and not (_DNS_SUBDOMAIN.fullmatch(prefix) and len(prefix) <= 253)):
        raise ValueError(f"{quote(value)} is not a valid Kubernetes label key: an optional lower-case DNS prefix and '/', "
                         "then up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
    return value


# kubernetes/kubernetes v1.33.0, pkg/kubelet/apis/well_known_labels.go (kubeletLabels,
# kubeletLabelNamespaces) and cmd/kubelet/app/options/options.go (ValidateKubeletFlags): a kubelet
# started with a --node-labels key in the kubernetes.io or k8s.io domains outside these exits
# ("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels"), so the node never joins.
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch", "kubernetes.io/instance-type",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "failure-domain.kubernetes.io/zone", "failure-domain.kubernetes.io/region",
})
KUBELET_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _in_domain(prefix: str, domain: str) -> bool:
    return prefix == domain or prefix.endswith("." + domain)


def reserved_node_label(key: str) -> str | None:
    """Why the kubelet refuses this node label key, or None when it takes it."""
    prefix = key.rpartition("/")[0]
    domain = next((d for d in ("kubernetes.io", "k8s.io") if _in_domain(prefix, d)), None)
    if domain is None or key in KUBELET_LABELS or any(_in_domain(prefix, d) for d in KUBELET_LABEL_DOMAINS):
        return None
    return (f"is in Kubernetes' reserved {domain} domain: the kubelet refuses it and the node never joins; "
            f"use a prefix of your own (or {' or '.join(KUBELET_LABEL_DOMAINS)})")


def _apiclient_command(command: list[str]) -> list[str]:
    if not command or command[0] != "apiclient":
        raise ValueError("every bootstrap command must start with 'apiclient'")
    return command


def _set_by_eks(_: Any) -> None:
    raise ValueError(
        "EKS injects this into managed node group user data for BOTTLEROCKET_* AMI types; remove it"
    )


def _set_on_node_group(_: Any) -> None:
    raise ValueError(
        "set node labels and taints with nodeGroups.<name>.labels / .taints so EKS manages them"
    )


Quantity = Annotated[str, AfterValidator(_quantity)]
Threshold = Annotated[str, AfterValidator(_threshold)]
Duration = Annotated[str, AfterValidator(_duration)]
IntegerPercent = Annotated[Any, AfterValidator(_integer_percent)]
Identifier = Annotated[str, AfterValidator(_matches(_IDENTIFIER, "identifier (letters, digits, '-')"))]
SysctlKey = Annotated[str, AfterValidator(_matches(_SYSCTL_KEY, "sysctl key"))]
CpuSet = Annotated[str, AfterValidator(_matches(_CPUSET, "CPU set (example: 0,3-5)"))]
KernelModuleName = Annotated[str, AfterValidator(_matches(_KERNEL_MODULE, "kernel module name"))]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_matches(_LABEL_VALUE, "Kubernetes label value"))]
NonNegativeInt = Annotated[int, Field(ge=0, le=2**31 - 1)]
InjectedByEks = Annotated[Any, AfterValidator(_set_by_eks)]
SetOnNodeGroup = Annotated[Any, AfterValidator(_set_on_node_group)]

EvictionSignal = Literal[
    "memory.available", "nodefs.available", "nodefs.inodesFree",
    "imagefs.available", "imagefs.inodesFree", "pid.available",
]
ReservedResource = Literal["cpu", "memory", "ephemeral-storage", "pid"]


def quantity_value(value: str) -> float:
    """The number a Kubernetes quantity stands for: bytes for memory (`1Gi`, `512M`, `129e6`), cores
    for CPU (`200m`, `2`); used for cross-field checks and capacity estimates."""
    match = _QUANTITY.fullmatch(value)
    if not match:
        raise ValueError(f"{quote(value)} is not a quantity")
    number, suffix = float(match["number"]), match["suffix"] or ""
    if suffix.startswith("e"):
        return number * 10.0 ** int(suffix[1:])
    if suffix in ("n", "u", "m"):
        return number * {"n": 1e-9, "u": 1e-6, "m": 1e-3}[suffix]
    return number * _QUANTITY_SUFFIX_BYTES[suffix]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _BottlerocketTable(BaseModel):
    """A closed Bottlerocket settings table: unknown keys and loosely typed values are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=_kebab, frozen=True)


class KubernetesSettings(_BottlerocketTable):
    # Bootstrap values EKS merges in for managed node groups; setting them would fight EKS.
    api_server: InjectedByEks = None
    cluster_certificate: InjectedByEks = None
    cluster_name: InjectedByEks = None
    cluster_dns_ip: InjectedByEks = None
    node_labels: SetOnNodeGroup = None
    node_taints: SetOnNodeGroup = None

    max_pods: Annotated[int, Field(ge=1, le=4_294_967_295)] | None = None
    pod_pids_limit: Annotated[int, Field(ge=-1)] | None = None
    cluster_domain: str | None = None
    max_parallel_image_pulls: Annotated[int, Field(ge=1)] | None = None
    image_gc_high_threshold_percent: IntegerPercent | None = None
    image_gc_low_threshold_percent: IntegerPercent | None = None
    image_minimum_gc_age: Duration | None = None
    image_maximum_gc_age: Duration | None = None
    container_log_max_size: Quantity | None = None
    container_log_max_files: Annotated[int, Field(ge=2)] | None = None
    container_log_max_workers: Annotated[int, Field(ge=1)] | None = None
    container_log_monitor_interval: Duration | None = None
    kube_api_qps: NonNegativeInt | None = None
    kube_api_burst: NonNegativeInt | None = None
    registry_qps: NonNegativeInt | None = None
    registry_burst: NonNegativeInt | None = None
    event_qps: NonNegativeInt | None = None
    event_burst: NonNegativeInt | None = None
    # `null` entries remove a default of this program (see core/user_data.py); they never reach the TOML.
    system_reserved: dict[ReservedResource, Quantity | None] | None = None
    kube_reserved: dict[ReservedResource, Quantity | None] | None = None
    eviction_hard: dict[EvictionSignal, Threshold] | None = None
    eviction_soft: dict[EvictionSignal, Threshold | None] | None = None
    eviction_soft_grace_period: dict[EvictionSignal, Duration | None] | None = None
    eviction_max_pod_grace_period: NonNegativeInt | None = None
    cpu_manager_policy: Literal["none", "static"] | None = None
    cpu_manager_reconcile_period: Duration | None = None
    cpu_manager_policy_options: list[Literal["full-pcpus-only"]] | None = None
    cpu_cfs_quota_enforced: bool | None = None
    topology_manager_policy: Literal["none", "restricted", "best-effort", "single-numa-node"] | None = None
    topology_manager_scope: Literal["container", "pod"] | None = None
    memory_manager_policy: Literal["none", "static", "None", "Static"] | None = None
    reserved_cpus: CpuSet | None = None
    shutdown_grace_period: Duration | None = None
    shutdown_grace_period_for_critical_pods: Duration | None = None
    log_level: Annotated[int, Field(ge=0, le=255)] | None = None
    seccomp_default: bool | None = None
    device_ownership_from_security_context: bool | None = None
    single_process_oom_kill: bool | None = None
    allowed_unsafe_sysctls: list[str] | None = None
    hostname_override_source: Literal["private-dns-name", "instance-id"] | None = None
    server_tls_bootstrap: bool | None = None


class KernelModule(_BottlerocketTable):
    allowed: bool | None = None
    autoload: bool | None = None


class KernelSettings(_BottlerocketTable):
    lockdown: Literal["none", "integrity", "confidentiality"] | None = None
    # Values are strings in Bottlerocket's model: an unquoted number is rejected on the node.
    sysctl: dict[SysctlKey, str | None] | None = None
    modules: dict[KernelModuleName, KernelModule] | None = None


class HostContainer(_BottlerocketTable):
    enabled: bool | None = None
    superpowered: bool | None = None
    source: str | None = None
    user_data: str | None = None
    command: list[str] | None = None


class BootstrapContainer(_BottlerocketTable):
    source: str | None = None
    mode: Literal["off", "once", "always"] | None = None
    user_data: str | None = None
    essential: bool | None = None
    command: list[str] | None = None


class BootstrapCommand(_BottlerocketTable):
    commands: list[Annotated[list[str], AfterValidator(_apiclient_command)]] | None = None
    mode: Literal["off", "once", "always"] | None = None
    essential: bool | None = None


class NtpSettings(_BottlerocketTable):
    time_servers: list[str] | None = None
    options: list[str] | None = None


class MetricsSettings(_BottlerocketTable):
    metrics_url: str | None = None
    send_metrics: bool | None = None
    service_checks: list[str] | None = None


class ContainerRuntimeSettings(_BottlerocketTable):
    max_container_log_line_size: int | None = None
    max_concurrent_downloads: int | None = None
    enable_unprivileged_ports: bool | None = None
    enable_unprivileged_icmp: bool | None = None


class BottlerocketSettings(_BottlerocketTable):
    """The `[settings]` table. Only the tables modelled here are accepted by this program."""

    kubernetes: KubernetesSettings | None = None
    kernel: KernelSettings | None = None
    host_containers: dict[Identifier, HostContainer] | None = None
    bootstrap_containers: dict[Identifier, BootstrapContainer] | None = None
    bootstrap_commands: dict[Identifier, BootstrapCommand] | None = None
    ntp: NtpSettings | None = None
    metrics: MetricsSettings | None = None
    container_runtime: ContainerRuntimeSettings | None = None
    motd: str | None = None


def settings_as_dict(settings: BottlerocketSettings) -> dict[str, Any]:
    """Plain dict in Bottlerocket's key names, without unset keys (what goes into the TOML)."""
    data = settings.model_dump(by_alias=True, exclude_none=True)
    kubernetes = data.get("kubernetes", {})
    for key in ("image-gc-high-threshold-percent", "image-gc-low-threshold-percent"):
        if key in kubernetes:
            kubernetes[key] = int(kubernetes[key])
    return data
