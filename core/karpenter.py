"""Karpenter for Bottlerocket, as plain data: IAM documents, interruption events, EC2NodeClass, NodePool.

Facts from Karpenter v1.14 (aws/karpenter-provider-aws): the controller's six IAM policies of its
CloudFormation template, the five EventBridge rules, the EC2NodeClass `userData` merge (Karpenter keeps
only the `[settings.kubernetes]` keys its struct knows and owns the ones it models in `spec.kubelet`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core import instance_types
from core.config.karpenter import NodePoolConfig
from core.block_devices import DATA_DEVICE
from core.bottlerocket_settings import cpu_milli, memory_mib
from core.release_version import PIN_PATTERN, ReleasePolicy, bottlerocket_parameter
from core.tags import DISCOVERY_TAG, NODE_POOL_LABEL
from core.user_data import deep_merge

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"
RELEASE_NAME = "karpenter"
CHART = "oci://public.ecr.aws/karpenter/karpenter"
CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"
CHART_VERSION = "1.14.1"
INTERRUPTION_QUEUE_RETENTION_SECONDS = 300

# Bottlerocket setting -> EC2NodeClass spec.kubelet field. Karpenter writes these into the user data
# itself from spec.kubelet, overriding whatever the TOML says.
KUBELET_FIELDS = {
    "max-pods": "maxPods",
    "system-reserved": "systemReserved",
    "kube-reserved": "kubeReserved",
    "eviction-hard": "evictionHard",
    "eviction-soft": "evictionSoft",
    "eviction-soft-grace-period": "evictionSoftGracePeriod",
    "eviction-max-pod-grace-period": "evictionMaxPodGracePeriod",
    "image-gc-high-threshold-percent": "imageGCHighThresholdPercent",
    "image-gc-low-threshold-percent": "imageGCLowThresholdPercent",
    "cpu-cfs-quota-enforced": "cpuCFSQuota",
}

# The `[settings.kubernetes]` keys Karpenter's BottlerocketKubernetes struct knows (bootstrap/
# bottlerocketsettings.go, v1.14); any other key is logged and dropped when Karpenter merges user data.
KUBERNETES_KEYS_KARPENTER_KEEPS = frozenset({
    "api-server", "cloud-provider", "cluster-certificate", "cluster-name", "cluster-dns-ip", "credential-providers",
    "node-labels", "node-taints", "max-pods", "static-pods", "eviction-hard", "eviction-soft",
    "eviction-soft-grace-period", "eviction-max-pod-grace-period", "kube-reserved", "system-reserved",
    "allowed-unsafe-sysctls", "server-tls-bootstrap", "registry-qps", "registry-burst", "event-qps", "event-burst",
    "kube-api-qps", "kube-api-burst", "container-log-max-size", "container-log-max-files", "cpu-manager-policy",
    "cpu-manager-policy-options", "cpu-manager-reconcile-period", "topology-manager-scope", "topology-manager-policy",
    "image-gc-high-threshold-percent", "image-gc-low-threshold-percent", "ids-per-pod", "cpu-cfs-quota-enforced",
    "shutdown-grace-period", "shutdown-grace-period-for-critical-pods", "cluster-domain", "seccomp-default",
    "pod-pids-limit", "device-ownership-from-security-context", "single-process-oom-kill", "container-log-max-workers",
    "container-log-monitor-interval", "hostname-override-source", "log-level",
})

# EventBridge rules that feed the interruption queue (rule name suffix -> event pattern).
INTERRUPTION_EVENTS = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "capacity-reservation-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"]},
}


def split_node_class_settings(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(settings left in the TOML, spec.kubelet, kubernetes keys Karpenter would silently drop)."""
    kubernetes = dict(settings.get("kubernetes", {}))
    kubelet = {KUBELET_FIELDS[key]: kubernetes.pop(key) for key in list(kubernetes) if key in KUBELET_FIELDS}
    dropped = sorted(key for key in kubernetes if key not in KUBERNETES_KEYS_KARPENTER_KEEPS)
    remaining = {key: value for key, value in settings.items() if key != "kubernetes"}
    if kubernetes:
        remaining["kubernetes"] = kubernetes
    return remaining, kubelet, dropped


def ami_alias(policy: ReleasePolicy, effective_version: str) -> str:
    """`bottlerocket@latest` only for a group that tracks latest unfrozen; otherwise the version it runs,
    without its build commit (`bottlerocket@v1.54.0` for the release `1.54.0-5043decc`: the pinned alias
    format of Karpenter's EC2NodeClass CRD, karpenter-provider-aws v1.14.1
    pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml, amiSelectorTerms.alias; tests' copy
    tests/upstream/crds/karpenter-1.14.1/, lines 84-99). The group's releaseVersion as EKS reports it is
    such a release; a value of any other shape (a plan's stand-in for a version still to be known) is
    named whole, and the CRD's `family@version` validation judges it."""
    if policy.tracks_latest and not policy.frozen:
        return "bottlerocket@latest"
    match = PIN_PATTERN.fullmatch(effective_version)
    return f"bottlerocket@v{match['semver'] if match else effective_version}"


def ami_family(ami_type: str) -> str | None:
    """`amiFamily` of the EC2NodeClass: implied by an alias, required without one (ec2nodeclass.go:586,
    "must specify amiFamily if amiSelectorTerms does not contain an alias"); it selects Bottlerocket's user
    data and devices."""
    return "Bottlerocket" if ami_type.endswith("_FIPS") else None


def ami_selector_term(policy: ReleasePolicy, effective_version: str, ami_type: str, kubernetes_version: str) -> dict[str, str]:
    """The EC2NodeClass amiSelectorTerm for the variant and version of the group Karpenter follows.

    The `bottlerocket@` alias resolves only the standard, Neuron and NVIDIA variants' SSM parameters
    (karpenter-provider-aws v1.14.1 pkg/providers/amifamily/bottlerocket.go:44-52 `DescribeImageQuery`), so a
    FIPS group's image is selected by its own SSM parameter, `.../<variant>/<arch>/<version>/image_id`, the
    same path shape without the `v`."""
    alias = ami_alias(policy, effective_version)
    if ami_family(ami_type) is None:
        return {"alias": alias}
    version = alias.split("@", 1)[1].removeprefix("v")
    return {"ssmParameter": bottlerocket_parameter(kubernetes_version, ami_type, version, "image_id")}


def block_device_mappings(mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both Bottlerocket volumes (core/block_devices.py, NodeGroupPlan.block_devices of the followed group) as
    the EC2NodeClass spells them: sizes as quantities, the data volume flagged `rootVolume`.

    `rootVolume` means "mounted as kubelet root dir" (karpenter-provider-aws v1.14.1,
    pkg/apis/v1/ec2nodeclass.go:450), and Karpenter takes that volume's size as the node's
    ephemeral-storage capacity (pkg/providers/instancetype/types.go:372-381, `ephemeralStorage`). On
    Bottlerocket the kubelet root dir lives on the data volume, /dev/xvdb (the family's
    `EphemeralBlockDevice`, pkg/providers/amifamily/bottlerocket.go:198), not on the OS volume."""
    return [{"deviceName": mapping["deviceName"], "rootVolume": mapping["deviceName"] == DATA_DEVICE,
             "ebs": {**mapping["ebs"], "volumeSize": f"{mapping['ebs']['volumeSize']}Gi"}}
            for mapping in mappings]


def node_class_settings(shared: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """Settings of Karpenter's nodes: the stack's shared settings <- `karpenter.nodeClass.bottlerocket`.

    A shared `kube-reserved` is sized for one instance type; Karpenter picks any size, so it is left
    out unless the node class sets its own. Without it Karpenter reserves per instance type
    (kube_reserved below: memory 11 MiB per pod + 255 MiB, CPU by core ranges) and
    Bottlerocket computes the same default at boot (the formula Karpenter copies from it)."""
    kubernetes = {key: value for key, value in shared.get("kubernetes", {}).items() if key != "kube-reserved"}
    return deep_merge({**shared, "kubernetes": kubernetes}, own)


# --- what Karpenter computes for an instance type ---------------------------------------------------
# aws/karpenter-provider-aws v1.14.1, pkg/providers/instancetype/types.go (NewInstanceType :126-160): an
# instance type's Capacity (computeCapacity :332) less its Overhead, KubeReserved + SystemReserved +
# EvictionThreshold (:149-153), is its allocatable (kubernetes-sigs/karpenter v1.14.1 pkg/cloudprovider/
# types.go:271-280 computeAllocatable, :461 InstanceTypeOverhead.Total). The overheads are read from the
# EC2NodeClass's spec.kubelet (types.go:95-124 Resolve; pkg/apis/v1/ec2nodeclass.go:653).

VM_MEMORY_OVERHEAD_PERCENT = 0.075  # pkg/operator/options/options.go:58, the controller's default
GRAVITON_CMA_MIB = 64  # types.go:358-361: "Gravitons have an extra 64 MiB of cma reserved memory"
# types.go:522-552 kubeReservedResources: CPU by core ranges (start, end, share of the range's millicores),
# memory 11 MiB per pod + 255 MiB, ephemeral-storage 1Gi; Bottlerocket's own formula (bottlerocket PR 1388).
_KUBE_RESERVED_CPU_RANGES = ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, 1 << 31, 0.0025))
KUBE_RESERVED_MEMORY_PER_POD_MIB, KUBE_RESERVED_MEMORY_BASE_MIB = 11, 255
KUBE_RESERVED_EPHEMERAL_STORAGE_MIB = 1024
# types.go:554-574 evictionThreshold: without spec.kubelet.evictionHard, 100Mi of memory and 10 % of storage.
DEFAULT_EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%"}


def memory_capacity_mib(instance_type: str) -> int:
    """An instance type's memory as Karpenter counts it, for allocatable and against NodePool limits
    (types.go:356-366 `memory`): less Graviton's CMA reservation, then less the VM overhead estimate."""
    facts = instance_types.facts(instance_type)
    if facts is None:
        return 0
    size = facts.memory_mib - (GRAVITON_CMA_MIB if facts.architectures[:1] == ("arm64",) else 0)
    return size - math.ceil(size * VM_MEMORY_OVERHEAD_PERCENT)


def eni_limited_pods(instance_type: str) -> int:
    """Max pods by the VPC CNI's addresses (types.go:485-505 `ENILimitedPods`: the default network card's
    interfaces x (IPv4 addresses per interface - 1) + 2, with the controller's default of no reserved ENIs,
    options.go:60); amazon-eks-ami's eni-max-pods.txt, which EKS and Bottlerocket use, has the same figures."""
    facts = instance_types.facts(instance_type)
    return facts.network_interfaces * (facts.ipv4_per_interface - 1) + 2 if facts else 0


def max_pods(instance_type: str, kubelet: Mapping[str, Any]) -> int:
    """spec.kubelet.maxPods, else the ENI-limited count (types.go:576-591 `pods`; Bottlerocket supports
    ENI-limited pod density and ignores podsPerCore, pkg/providers/amifamily/bottlerocket.go:214-220)."""
    pods = kubelet.get("maxPods")
    return int(pods) if pods is not None else eni_limited_pods(instance_type)


def kube_reserved(cpu: float, pods: int, kubelet: Mapping[str, Any]) -> dict[str, float]:
    """types.go:522-552 `kubeReservedResources`, spec.kubelet.kubeReserved taking precedence per resource.
    Bottlerocket's memory term counts max pods, not the ENI limit (bottlerocket.go:216,
    UsesENILimitedMemoryOverhead false; types.go:150-151)."""
    reserved = {"memory": KUBE_RESERVED_MEMORY_PER_POD_MIB * pods + KUBE_RESERVED_MEMORY_BASE_MIB,
                "ephemeral-storage": KUBE_RESERVED_EPHEMERAL_STORAGE_MIB,
                "cpu": sum(int((min(cpu, end) - start) * share) for start, end, share in _KUBE_RESERVED_CPU_RANGES if cpu >= start)}
    return {**reserved, **_quantities(kubelet.get("kubeReserved", {}))}


def allocatable(instance_type: str, kubelet: Mapping[str, Any], storage_mib: float | None = None) -> dict[str, float]:
    """What Karpenter v1.14.1 expects a Bottlerocket node of this type to offer pods under an EC2NodeClass
    whose spec.kubelet is `kubelet`: {"cpu": millicores, "memory": MiB, "pods": count}, and
    "ephemeral-storage" (MiB) when the node's `storage_mib` is given (node_storage_mib)."""
    facts = instance_types.facts(instance_type)
    cpu = (facts.vcpus if facts else 0) * 1000
    memory = memory_capacity_mib(instance_type)
    pods = max_pods(instance_type, kubelet)
    capacity = {"cpu": cpu, "memory": memory, **({"ephemeral-storage": storage_mib} if storage_mib is not None else {})}
    hard = {**DEFAULT_EVICTION_HARD, **kubelet.get("evictionHard", {})}
    overheads = (kube_reserved(cpu, pods, kubelet), _quantities(kubelet.get("systemReserved", {})),
                 {"memory": _threshold_mib(hard["memory.available"], memory),
                  "ephemeral-storage": _threshold_mib(hard["nodefs.available"], storage_mib or 0)})
    result = {key: value - sum(overhead.get(key, 0) for overhead in overheads) for key, value in capacity.items()}
    return {**result, "pods": pods}


def node_storage_mib(node_class: Mapping[str, Any]) -> float:
    """The node's ephemeral-storage capacity: the size of the EC2NodeClass's `rootVolume` mapping (on
    Bottlerocket the data volume, see block_device_mappings), else of the family's ephemeral device
    (types.go:369-404 `ephemeralStorage`)."""
    mappings = node_class["blockDeviceMappings"]
    root = next((m for m in mappings if m.get("rootVolume")), None) or next(m for m in mappings if m["deviceName"] == DATA_DEVICE)
    return memory_mib(root["ebs"]["volumeSize"])


def _quantities(table: Mapping[str, str]) -> dict[str, float]:
    return {key: cpu_milli(value) if key == "cpu" else memory_mib(value) for key, value in table.items()}


def _threshold_mib(signal: str, capacity_mib: float) -> float:
    """types.go:599-621 computeEvictionSignal: a percentage of the capacity (100 % disables the signal)."""
    if signal.endswith("%"):
        percent = float(signal[:-1])
        return 0.0 if percent == 100 else capacity_mib * percent / 100
    return memory_mib(signal)


def ec2_node_class(*, name: str, cluster_name: str, ami_selector: object, family: str | None, node_role_name: object,
                   user_data: str, kubelet: Mapping[str, Any], block_devices: list[dict[str, Any]], tags: Mapping[str, str]) -> dict[str, Any]:
    """The EC2NodeClass manifest. `ami_selector` (an amiSelectorTerm, ami_selector_term) and `node_role_name` are
    placed as given, never read: plain values, or the component's outputs, which the engine resolves field by field.
    Building the whole manifest inside an apply instead would make all of its spec unknown in a preview while the
    role's name is (Output.apply runs only on known values: pulumi v3.272.0 sdk/python/lib/pulumi/output.py,
    Output.apply, `if not (is_known or run_with_unknowns)`), so a guardrail could not read spec.metadataOptions."""
    discovery = [{"tags": {DISCOVERY_TAG: cluster_name}}]
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": name},
        "spec": {
            **({"amiFamily": family} if family else {}),
            "amiSelectorTerms": [ami_selector],
            "role": node_role_name,
            "subnetSelectorTerms": discovery,
            "securityGroupSelectorTerms": discovery,
            "blockDeviceMappings": block_devices,
            "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                                "httpPutResponseHopLimit": 1, "httpTokens": "required"},
            "kubelet": dict(kubelet),
            "userData": user_data,
            "tags": dict(tags),
        },
    }


_TAINT_KEYS = ("key", "value", "effect")


def node_pool(name: str, config: NodePoolConfig, node_class_name: str) -> dict[str, Any]:
    requirements = [
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(config.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(config.capacity_types)},
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": list(config.instance_categories)},
        {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": [str(config.minimum_instance_generation - 1)]},
    ]
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class_name},
        "requirements": requirements,
        "expireAfter": config.expire_after,
    }
    if config.taints:
        template_spec["taints"] = [{k: v for k, v in zip(_TAINT_KEYS, (t.key, t.value, t.effect)) if v} for t in config.taints]
    disruption = config.disruption
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": {NODE_POOL_LABEL: name, **config.labels}}, "spec": template_spec},
        "limits": dict(config.limits),
        "disruption": {
            "consolidationPolicy": disruption.consolidation_policy,
            "consolidateAfter": disruption.consolidate_after,
            "budgets": [b.model_dump(by_alias=True, exclude_none=True) for b in disruption.budgets],
        },
    }
    if config.weight is not None:
        spec["weight"] = config.weight
    return {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": name}, "spec": spec}


# --- IAM -------------------------------------------------------------------------------------------

def interruption_queue_policy(queue_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "EC2InterruptionPolicy", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
         "Action": "sqs:SendMessage", "Resource": queue_arn},
        {"Sid": "DenyHTTP", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn,
         "Condition": {"Bool": {"aws:SecureTransport": False}}},
    ]}


def controller_policies(*, partition: str, region: str, account: str, cluster_name: str,
                        node_role_arn: str, queue_arn: str) -> dict[str, dict[str, Any]]:
    """The six controller policies of Karpenter v1.14's CloudFormation template, scoped to this cluster."""
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    nodepool_tagged = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    request_tags = {f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster_name}
    created = [f"{ec2}:*:{kind}/*" for kind in ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")]
    profiles = f"arn:{partition}:iam::{account}:instance-profile/*"
    region_tag = {"aws:ResourceTag/topology.kubernetes.io/region": region}
    cluster_arn = f"arn:{partition}:eks:{region}:{account}:cluster/{cluster_name}"
    statement = _statement
    return {
        "NodeLifecycle": _document(
            statement("AllowScopedEC2InstanceAccessActions", ["ec2:RunInstances", "ec2:CreateFleet"],
                      [f"{ec2}::image/*", f"{ec2}::snapshot/*"] + [f"{ec2}:*:{kind}/*" for kind in ("security-group", "subnet", "capacity-reservation", "placement-group")]),
            statement("AllowScopedEC2LaunchTemplateAccessActions", ["ec2:RunInstances", "ec2:CreateFleet"], f"{ec2}:*:launch-template/*",
                      {"StringEquals": owned, "StringLike": nodepool_tagged}),
            statement("AllowScopedEC2InstanceActionsWithTags", ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"], created,
                      {"StringEquals": request_tags, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}),
            statement("AllowScopedResourceCreationTagging", "ec2:CreateTags", created,
                      {"StringEquals": {**request_tags, "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                       "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}),
            statement("AllowScopedResourceTagging", "ec2:CreateTags", f"{ec2}:*:instance/*",
                      {"StringEquals": owned, "StringLike": nodepool_tagged,
                       "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}),
            statement("AllowScopedDeletion", ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                      [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"], {"StringEquals": owned, "StringLike": nodepool_tagged}),
        ),
        "IAMIntegration": _document(
            statement("AllowPassingInstanceRole", "iam:PassRole", node_role_arn,
                      {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}),
            statement("AllowScopedInstanceProfileCreationActions", ["iam:CreateInstanceProfile"], profiles,
                      {"StringEquals": {**request_tags, "aws:RequestTag/topology.kubernetes.io/region": region},
                       "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
            statement("AllowScopedInstanceProfileTagActions", ["iam:TagInstanceProfile"], profiles,
                      {"StringEquals": {**owned, **region_tag, **request_tags, "aws:RequestTag/topology.kubernetes.io/region": region},
                       "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
            statement("AllowScopedInstanceProfileActions", ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
                      profiles, {"StringEquals": {**owned, **region_tag}, "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
        ),
        "EKSIntegration": _document(statement("AllowAPIServerEndpointDiscovery", "eks:DescribeCluster", cluster_arn)),
        "Interruption": _document(statement("AllowInterruptionQueueActions", ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"], queue_arn)),
        # Describe*, pricing and listing support no resource-level scoping: "*" is the narrowest AWS allows.
        "ResourceDiscovery": _document(
            statement("AllowRegionalReadActions", [f"ec2:{action}" for action in (
                "DescribeCapacityReservations", "DescribeImages", "DescribeInstances", "DescribeInstanceStatus",
                "DescribeInstanceTypeOfferings", "DescribeInstanceTypes", "DescribeLaunchTemplates", "DescribePlacementGroups",
                "DescribeSecurityGroups", "DescribeSpotPriceHistory", "DescribeSubnets")], "*",
                {"StringEquals": {"aws:RequestedRegion": region}}),
            statement("AllowSSMReadActions", "ssm:GetParameter", f"arn:{partition}:ssm:{region}::parameter/aws/service/*"),
            statement("AllowPricingReadActions", "pricing:GetProducts", "*"),
            statement("AllowUnscopedInstanceProfileListAction", "iam:ListInstanceProfiles", "*"),
            statement("AllowInstanceProfileReadActions", "iam:GetInstanceProfile", profiles),
        ),
        "ZonalShift": _document(statement("AllowZonalShiftStatusReadOnly", ["arc-zonal-shift:GetManagedResource"], "*",
                                          {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}})),
    }


def _statement(sid: str, action: str | list[str], resource: str | list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Resource": resource, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}



def controller_replica_problem(replicas: int, guaranteed_managed_nodes: int) -> str | None:
    """The chart keeps one controller per node (values.yaml:93-103, required podAntiAffinity on
    kubernetes.io/hostname, karpenter-provider-aws v1.14.1 charts/karpenter) and only managed nodes qualify
    (helm_values' node affinity); its PDB allows one unavailable (values.yaml:60-62). Replicas beyond the
    nodes never schedule and the atomic install times out; as many replicas as nodes leave an evicted
    controller nowhere to go, so a node-group drain stalls on the PDB."""
    if guaranteed_managed_nodes == 0:
        return ("every enabled node group has minSize 0: the controller runs only on managed nodes and would have none; "
                "keep minSize of at least replicas + 1")
    if replicas >= guaranteed_managed_nodes:
        return (f"{replicas} controller(s) need at least {replicas + 1} managed nodes (one per node, plus one free for a drain); "
                f"the enabled node groups guarantee {guaranteed_managed_nodes} (sum of minSize)")
    return None


def managed_nodes_only(managed_node_label: str) -> dict[str, Any]:
    """Node affinity to the managed node groups: never a node Karpenter launched (spot, consolidated away)."""
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
        "matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"},
                             {"key": managed_node_label, "operator": "Exists"}]}]}}


def helm_values(*, cluster_name: str, queue_name: str, replicas: int, resources: dict[str, Any], managed_node_label: str) -> dict[str, Any]:
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        # Fixed name: the Pod Identity association must match it, and the chart derives it from the release otherwise.
        "serviceAccount": {"name": SERVICE_ACCOUNT},
        "replicas": replicas,
        "controller": {"resources": resources},
        # The controller runs on the managed node groups, never on nodes it manages itself; the chart's own
        # podAntiAffinity (one controller per node) is kept, as Helm merges maps (controller_replica_problem).
        "affinity": {"nodeAffinity": managed_nodes_only(managed_node_label)},
        # The VPC resolver, not CoreDNS: CoreDNS may run on nodes Karpenter has yet to launch (v1.14.1
        # website/content/en/docs/getting-started/getting-started-with-karpenter/_index.md:130 and
        # troubleshooting.md:48: "set the pod DNS policy to `Default`"; the chart's default is ClusterFirst,
        # charts/karpenter/values.yaml:78).
        "dnsPolicy": "Default",
    }
