"""`cluster`: the EKS control plane (name, version, endpoint, logs, secrets encryption, admins)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from core import aws_limits
from core.access_entries import CREATOR_LISTED, creator_listed
from core.config.base import ConfigSection, Path, Problem, Shape, quote, unquoted_number_message
from core.config.network import Cidr
from core.kubernetes_versions import SUPPORTED_KUBERNETES_VERSIONS, written_unquoted


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


ClusterName = Annotated[str, AfterValidator(_cluster_name), Shape("EKS name: letters, digits, `-`, `_`; short enough for the names made from it")]
KubernetesVersion = Annotated[str, BeforeValidator(_unquoted_kubernetes_version), AfterValidator(_kubernetes_version),
                              Shape(f"string, one of `{SUPPORTED_KUBERNETES_VERSIONS[0]}`…`{SUPPORTED_KUBERNETES_VERSIONS[-1]}` (quote it: YAML reads `1.30` as the number 1.3)")]
PrincipalArn = Annotated[str, AfterValidator(_principal_arn), Shape("IAM role/user ARN (not an `sts` `assumed-role` session)")]
KmsKeyArn = Annotated[str, AfterValidator(_kms_key_arn), Shape("KMS key ARN in the stack's region")]
LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


class EndpointConfig(ConfigSection):
    public_access: bool = Field(default=False, description="`endpointPublicAccess` of the cluster: the API answers from the internet.")
    private_access: bool = Field(default=True, description="`endpointPrivateAccess`: the API answers inside the VPC (one of the two must be true).")
    public_access_cidrs: list[Cidr] = Field(default=[], description="`publicAccessCidrs`: who may reach the public endpoint; required when "
                                                                    "`publicAccess` is true, refused without it.")


class SecretsEncryptionConfig(ConfigSection):
    kms_key_arn: KmsKeyArn | None = Field(default=None, description="`encryptionConfigKeyArn` (envelope encryption of Kubernetes secrets). Unset: "
                                                            "the program creates a KMS key with rotation on.")


class ClusterConfig(ConfigSection):
    name: ClusterName = Field(description=(
        "The EKS cluster's name; prefix of node group and launch template names; Karpenter's interruption queue; worker queue "
        "names; `karpenter.sh/discovery` tag value."))
    kubernetes_version: KubernetesVersion = Field(description=(
        "The control plane's `version`; the default of every node group's `kubernetesVersion`; the version CoreDNS and the VPC "
        "CNI follow. It moves one minor version per `up` ([Kubernetes upgrades](#kubernetes-upgrades))."))
    endpoint: EndpointConfig = Field(default=EndpointConfig(), description="Who can reach the Kubernetes API.")
    log_types: list[LogType] = Field(default=["api", "audit", "authenticator"], description="`enabledClusterLogTypes`: control plane logs sent to CloudWatch.")
    secrets_encryption: SecretsEncryptionConfig = Field(default=SecretsEncryptionConfig(), description="Envelope encryption of Kubernetes secrets.")
    admin_principal_arns: list[PrincipalArn] = Field(default=[], description=(
        "One access entry each, with `AmazonEKSClusterAdminPolicy` on the cluster, keyed by the principal "
        "(`admin-<account>-role-<name>`), so removing one leaves the others untouched. Each listed once, in the region's partition."))
    # The principal `pulumi up` runs as when it creates the cluster (CI's deploy role); EKS gives it an
    # admin access entry itself (core/access_entries.py), so it must not be listed again.
    creator_principal_arn: PrincipalArn | None = Field(default=None, description=(
        "The principal `pulumi up` runs as when it creates the cluster (CI's deploy role). pulumi-eks always sets "
        "`bootstrapClusterCreatorAdminPermissions: true`, so EKS gives it an admin entry itself; listing it in "
        "`adminPrincipalArns` too is refused (EKS would answer `ResourceInUseException`)."))


def cluster_problems(cluster: ClusterConfig, region: str | None) -> list[Problem]:
    """The cluster section's cross-field rules; `region` is the stack's (None when it is broken)."""
    return _endpoint_problems(cluster.endpoint) + _account_problems(cluster, region) + _creator_problems(cluster)


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


def _creator_problems(cluster: ClusterConfig) -> list[Problem]:
    if cluster.creator_principal_arn is None:
        return []
    return [Problem(("cluster", "adminPrincipalArns", index), f"{cluster.admin_principal_arns[index]!r} {CREATOR_LISTED}")
            for index in creator_listed(cluster.admin_principal_arns, cluster.creator_principal_arn)]
