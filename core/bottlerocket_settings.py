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

from core.config.base import Shape, quote

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


Quantity = Annotated[str, AfterValidator(_quantity), Shape("Kubernetes quantity (`100Mi`, `250m`)")]
Threshold = Annotated[str, AfterValidator(_threshold)]
Duration = Annotated[str, AfterValidator(_duration)]
IntegerPercent = Annotated[Any, AfterValidator(_integer_percent)]
Identifier = Annotated[str, AfterValidator(_matches(_IDENTIFIER, "identifier (letters, digits, '-')"))]
SysctlKey = Annotated[str, AfterValidator(_matches(_SYSCTL_KEY, "sysctl key"))]
CpuSet = Annotated[str, AfterValidator(_matches(_CPUSET, "CPU set (example: 0,3-5)"))]
KernelModuleName = Annotated[str, AfterValidator(_matches(_KERNEL_MODULE, "kernel module name"))]
LabelKey = Annotated[str, AfterValidator(_label_key), Shape("Kubernetes label key")]
LabelValue = Annotated[str, AfterValidator(_matches(_LABEL_VALUE, "Kubernetes label value")), Shape("Kubernetes label value")]
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


def cpu_milli(quantity: str) -> float:
    """A Kubernetes CPU quantity (`250m`, `2`) in millicores."""
    return quantity_value(quantity) * 1000


def memory_mib(quantity: str) -> float:
    """A Kubernetes memory quantity (`512Mi`, `1Gi`) in MiB."""
    return quantity_value(quantity) / 2**20


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _BottlerocketTable(BaseModel):
    """A closed Bottlerocket settings table: unknown keys and loosely typed values are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=_kebab, frozen=True)


class KubernetesSettings(_BottlerocketTable):
    # Bootstrap values EKS merges in for managed node groups; setting them would fight EKS.
    api_server: InjectedByEks = Field(default=None, description=(
        "Refused: EKS injects `settings.kubernetes.api-server` into managed node group user data."))
    cluster_certificate: InjectedByEks = Field(default=None, description="Refused: EKS injects `settings.kubernetes.cluster-certificate`.")
    cluster_name: InjectedByEks = Field(default=None, description="Refused: EKS injects `settings.kubernetes.cluster-name`.")
    cluster_dns_ip: InjectedByEks = Field(default=None, description="Refused: EKS injects `settings.kubernetes.cluster-dns-ip`.")
    node_labels: SetOnNodeGroup = Field(default=None, description=(
        "Refused: set node labels with `nodeGroups.<g>.labels` so EKS manages them."))
    node_taints: SetOnNodeGroup = Field(default=None, description="Refused: set taints with `nodeGroups.<g>.taints` so EKS manages them.")

    max_pods: Annotated[int, Field(ge=1, le=4_294_967_295)] | None = Field(default=None, description=(
        "The kubelet's `maxPods`: pods per node."))
    pod_pids_limit: Annotated[int, Field(ge=-1)] | None = Field(default=None, description=(
        "The kubelet's `podPidsLimit`: processes per pod (-1: unlimited)."))
    cluster_domain: str | None = Field(default=None, description="The kubelet's `clusterDomain` (DNS suffix of Services).")
    max_parallel_image_pulls: Annotated[int, Field(ge=1)] | None = Field(default=None, description="The kubelet's `maxParallelImagePulls`.")
    image_gc_high_threshold_percent: IntegerPercent | None = Field(default=None, description=(
        "The kubelet's `imageGCHighThresholdPercent`: disk use at which image garbage collection starts; above the low threshold."))
    image_gc_low_threshold_percent: IntegerPercent | None = Field(default=None, description=(
        "The kubelet's `imageGCLowThresholdPercent`: disk use image garbage collection frees down to."))
    image_minimum_gc_age: Duration | None = Field(default=None, description=(
        "The kubelet's `imageMinimumGCAge`: an unused image's minimum age before it is collected."))
    image_maximum_gc_age: Duration | None = Field(default=None, description=(
        "The kubelet's `imageMaximumGCAge`: how long an unused image may stay."))
    container_log_max_size: Quantity | None = Field(default=None, description=(
        "The kubelet's `containerLogMaxSize`: a container log file's size before rotation."))
    container_log_max_files: Annotated[int, Field(ge=2)] | None = Field(default=None, description=(
        "The kubelet's `containerLogMaxFiles`: rotated log files kept per container."))
    container_log_max_workers: Annotated[int, Field(ge=1)] | None = Field(default=None, description=(
        "The kubelet's `containerLogMaxWorkers`: concurrent log rotations."))
    container_log_monitor_interval: Duration | None = Field(default=None, description=(
        "The kubelet's `containerLogMonitorInterval`: how often logs are checked for rotation."))
    kube_api_qps: NonNegativeInt | None = Field(default=None, description="The kubelet's `kubeAPIQPS` towards the API server.")
    kube_api_burst: NonNegativeInt | None = Field(default=None, description="The kubelet's `kubeAPIBurst` towards the API server.")
    registry_qps: NonNegativeInt | None = Field(default=None, description="The kubelet's `registryPullQPS` (0: unlimited).")
    registry_burst: NonNegativeInt | None = Field(default=None, description="The kubelet's `registryBurst`.")
    event_qps: NonNegativeInt | None = Field(default=None, description="The kubelet's `eventRecordQPS`.")
    event_burst: NonNegativeInt | None = Field(default=None, description="The kubelet's `eventBurst`.")
    # `null` entries remove a default of this program (see core/user_data.py); they never reach the TOML.
    system_reserved: dict[ReservedResource, Quantity | None] | None = Field(default=None, description=(
        "The kubelet's `systemReserved`: resources kept for the OS (`null` removes a default)."))
    kube_reserved: dict[ReservedResource, Quantity | None] | None = Field(default=None, description=(
        "The kubelet's `kubeReserved`: resources kept for the kubelet and containerd (`null` removes a default)."))
    eviction_hard: dict[EvictionSignal, Threshold] | None = Field(default=None, description=(
        "The kubelet's `evictionHard`: thresholds at which pods are killed at once; must list every kubelet default signal."))
    eviction_soft: dict[EvictionSignal, Threshold | None] | None = Field(default=None, description=(
        "The kubelet's `evictionSoft`: thresholds at which pods are evicted after their grace period (`null` removes a default)."))
    eviction_soft_grace_period: dict[EvictionSignal, Duration | None] | None = Field(default=None, description=(
        "The kubelet's `evictionSoftGracePeriod`, one per `eviction-soft` signal (`null` removes a default)."))
    eviction_max_pod_grace_period: NonNegativeInt | None = Field(default=None, description=(
        "The kubelet's `evictionMaxPodGracePeriod`: the longest grace a pod gets on soft eviction."))
    cpu_manager_policy: Literal["none", "static"] | None = Field(default=None, description="The kubelet's `cpuManagerPolicy`.")
    cpu_manager_reconcile_period: Duration | None = Field(default=None, description="The kubelet's `cpuManagerReconcilePeriod`.")
    cpu_manager_policy_options: list[Literal["full-pcpus-only"]] | None = Field(default=None, description=(
        "The kubelet's `cpuManagerPolicyOptions`."))
    cpu_cfs_quota_enforced: bool | None = Field(default=None, description="The kubelet's `cpuCFSQuota`: enforce CPU limits with CFS quota.")
    topology_manager_policy: Literal["none", "restricted", "best-effort", "single-numa-node"] | None = Field(default=None, description=(
        "The kubelet's `topologyManagerPolicy`."))
    topology_manager_scope: Literal["container", "pod"] | None = Field(default=None, description="The kubelet's `topologyManagerScope`.")
    memory_manager_policy: Literal["none", "static", "None", "Static"] | None = Field(default=None, description=(
        "The kubelet's `memoryManagerPolicy`."))
    reserved_cpus: CpuSet | None = Field(default=None, description=(
        "The kubelet's `reservedSystemCPUs`: CPUs kept off pods (example: `0,3-5`)."))
    shutdown_grace_period: Duration | None = Field(default=None, description=(
        "The kubelet's `shutdownGracePeriod`: how long a node shutdown waits for pods."))
    shutdown_grace_period_for_critical_pods: Duration | None = Field(default=None, description=(
        "The kubelet's `shutdownGracePeriodCriticalPods`: the part of it kept for critical pods."))
    log_level: Annotated[int, Field(ge=0, le=255)] | None = Field(default=None, description="The kubelet's log verbosity.")
    seccomp_default: bool | None = Field(default=None, description=(
        "The kubelet's `seccompDefault`: run every container with the runtime's default seccomp profile."))
    device_ownership_from_security_context: bool | None = Field(default=None, description=(
        "containerd's `device_ownership_from_security_context`: devices owned by the pod's user."))
    single_process_oom_kill: bool | None = Field(default=None, description=(
        "The kubelet's `singleProcessOOMKill`: the OOM killer kills one process, not the whole container."))
    allowed_unsafe_sysctls: list[str] | None = Field(default=None, description=(
        "The kubelet's `allowedUnsafeSysctls`: sysctls pods may set."))
    hostname_override_source: Literal["private-dns-name", "instance-id"] | None = Field(default=None, description=(
        "Where the node's name comes from: the private DNS name or the instance id."))
    server_tls_bootstrap: bool | None = Field(default=None, description=(
        "The kubelet's `serverTLSBootstrap`: request its serving certificate from the API server."))


class KernelModule(_BottlerocketTable):
    allowed: bool | None = Field(default=None, description="Whether the module may be loaded.")
    autoload: bool | None = Field(default=None, description="Load the module at boot.")


class KernelSettings(_BottlerocketTable):
    lockdown: Literal["none", "integrity", "confidentiality"] | None = Field(default=None, description=(
        "The kernel lockdown mode (`integrity` by default: userspace cannot modify the running kernel)."))
    # Values are strings in Bottlerocket's model: an unquoted number is rejected on the node.
    sysctl: dict[SysctlKey, str | None] | None = Field(default=None, description=(
        "Kernel parameters, each a quoted string (`null` removes a default)."))
    modules: dict[KernelModuleName, KernelModule] | None = Field(default=None, description=(
        "Kernel modules, by name: whether they may load and whether they load at boot."))


class HostContainer(_BottlerocketTable):
    enabled: bool | None = Field(default=None, description="Run this host container.")
    superpowered: bool | None = Field(default=None, description="Give it root access to the host.")
    source: str | None = Field(default=None, description="Its container image.")
    user_data: str | None = Field(default=None, description="Base64 user data handed to it.")
    command: list[str] | None = Field(default=None, description="Its command.")


class BootstrapContainer(_BottlerocketTable):
    source: str | None = Field(default=None, description="Its container image.")
    mode: Literal["off", "once", "always"] | None = Field(default=None, description=(
        "When it runs: `off`, `once` (first boot) or `always` (every boot)."))
    user_data: str | None = Field(default=None, description="Base64 user data handed to it.")
    essential: bool | None = Field(default=None, description="A failure stops the boot.")
    command: list[str] | None = Field(default=None, description="Its command.")


class BootstrapCommand(_BottlerocketTable):
    commands: list[Annotated[list[str], AfterValidator(_apiclient_command)]] | None = Field(default=None, description=(
        "The `apiclient` commands to run, each a list of arguments."))
    mode: Literal["off", "once", "always"] | None = Field(default=None, description=(
        "When they run: `off`, `once` (first boot) or `always` (every boot)."))
    essential: bool | None = Field(default=None, description="A failure stops the boot.")


class NtpSettings(_BottlerocketTable):
    time_servers: list[str] | None = Field(default=None, description="NTP servers.")
    options: list[str] | None = Field(default=None, description="chrony options for the servers.")


class MetricsSettings(_BottlerocketTable):
    metrics_url: str | None = Field(default=None, description="Where Bottlerocket sends its anonymous metrics.")
    send_metrics: bool | None = Field(default=None, description="Send them.")
    service_checks: list[str] | None = Field(default=None, description="The services whose health is reported.")


class ContainerRuntimeSettings(_BottlerocketTable):
    max_container_log_line_size: int | None = Field(default=None, description="containerd's `max_container_log_line_size`.")
    max_concurrent_downloads: int | None = Field(default=None, description=(
        "containerd's `max_concurrent_downloads`: image layers pulled at once."))
    enable_unprivileged_ports: bool | None = Field(default=None, description=(
        "containerd's `enable_unprivileged_ports`: containers may bind ports below 1024."))
    enable_unprivileged_icmp: bool | None = Field(default=None, description=(
        "containerd's `enable_unprivileged_icmp`: containers may send ICMP echo without privileges."))


class BottlerocketSettings(_BottlerocketTable):
    """The `[settings]` table. Only the tables modelled here are accepted by this program."""

    kubernetes: KubernetesSettings | None = Field(default=None, description="`settings.kubernetes`: the kubelet's configuration.")
    kernel: KernelSettings | None = Field(default=None, description="`settings.kernel`: lockdown, sysctls and modules.")
    host_containers: dict[Identifier, HostContainer] | None = Field(default=None, description=(
        "`settings.host-containers`, by name (`control`: SSM access; `admin`: a root shell and `logdog`)."))
    bootstrap_containers: dict[Identifier, BootstrapContainer] | None = Field(default=None, description=(
        "`settings.bootstrap-containers`, by name: containers run before the kubelet starts."))
    bootstrap_commands: dict[Identifier, BootstrapCommand] | None = Field(default=None, description=(
        "`settings.bootstrap-commands`, by name: `apiclient` commands run at boot."))
    ntp: NtpSettings | None = Field(default=None, description="`settings.ntp`: time synchronisation.")
    metrics: MetricsSettings | None = Field(default=None, description="`settings.metrics`: Bottlerocket's anonymous metrics.")
    container_runtime: ContainerRuntimeSettings | None = Field(default=None, description=(
        "`settings.container-runtime`: containerd's options."))
    motd: str | None = Field(default=None, description="`settings.motd`: the message of the day.")


def settings_as_dict(settings: BottlerocketSettings) -> dict[str, Any]:
    """Plain dict in Bottlerocket's key names, without unset keys (what goes into the TOML)."""
    data = settings.model_dump(by_alias=True, exclude_none=True)
    kubernetes = data.get("kubernetes", {})
    for key in ("image-gc-high-threshold-percent", "image-gc-low-threshold-percent"):
        if key in kubernetes:
            kubernetes[key] = int(kubernetes[key])
    return data
