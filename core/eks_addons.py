"""The EKS managed add-ons this program keeps in step with the cluster's Kubernetes version, as plain data.

EKS installs CoreDNS, kube-proxy and the VPC CNI itself when it creates a cluster (pulumi-eks leaves
`bootstrapSelfManagedAddons` at true: pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts, main @7bf0c1b1,
line 700). pulumi-eks manages kube-proxy and the VPC CNI as EKS add-ons but, with `skipDefaultNodeGroup`,
not CoreDNS (same file, lines 1176-1184), so that CoreDNS would never be upgraded. This program takes
CoreDNS and the VPC CNI over as `aws.eks.Addon` resources of its own, created after the node groups
(CoreDNS's pods need nodes before the add-on can become ACTIVE); kube-proxy stays with pulumi-eks.

Version: pinned in the stack file (`eksAddons.<addon>.version`) or, by default, the version EKS marks
as default for the cluster's Kubernetes version (DescribeAddonVersions `compatibilities[].defaultVersion`,
read at deploy time through `aws.eks.getAddonVersion` with `mostRecent: false`). A cluster upgrade
therefore moves both add-ons to the new version's defaults in the same `up`, after the node groups.

Conflicts (the EKS API's `resolveConflicts`, botocore 1.44.8's EKS model, data/eks/2017-11-01/
service-2.json, CreateAddonRequest and UpdateAddonRequest; hashicorp/terraform-provider-aws
internal/service/eks/addon.go, the stored copy at commit 00a35305 (the v6 line pulumi-aws 7.x bridges;
the exact upstream tag of pulumi-aws 7.51.1 could not be read here), passes `resolve_conflicts_on_create`
to CreateAddon in resourceAddonCreate and `resolve_conflicts_on_update` to UpdateAddon in
resourceAddonUpdate unchanged, and sends UpdateAddon only when the version, configuration, service
account role or pod identity associations change):
- on create OVERWRITE: the add-on adopts the self-managed CoreDNS and aws-node that EKS bootstrapped and
  sets their fields to EKS' defaults; NONE would let creation fail on the first field that differs.
- on update OVERWRITE: a field changed by hand (`kubectl edit`) goes back to the EKS default on the next
  version or configuration change; the stack file is the only place to configure these add-ons.
  PRESERVE would carry hand edits forward unreviewed into a new version.
- `preserve: true`: removing the resource from the program leaves the add-on's software running (the
  DeleteAddon `preserve` flag), since EKS, not this program, installed it; the cluster keeps DNS and
  networking.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic.alias_generators import to_camel

from core.config.eks_addons import EksAddonsConfig

RESOLVE_CONFLICTS_ON_CREATE = "OVERWRITE"
RESOLVE_CONFLICTS_ON_UPDATE = "OVERWRITE"
KUBE_PROXY = "kube-proxy"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
VPC_CNI = "vpc-cni"


@dataclass(frozen=True)
class ManagedAddon:
    field: str  # EksAddonsConfig's field; the stack file's key is its camelCase
    addon_name: str  # the EKS add-on name

    @property
    def key(self) -> str:
        return to_camel(self.field)

    def pinned_version(self, config: EksAddonsConfig) -> str | None:
        version: str | None = getattr(config, self.field).version
        return version


MANAGED_ADDONS = (ManagedAddon("vpc_cni", VPC_CNI), ManagedAddon("coredns", "coredns"))
# Every EKS add-on on the cluster, for the pre-flight check of a new Kubernetes version.
CLUSTER_ADDON_NAMES = tuple(addon.addon_name for addon in MANAGED_ADDONS) + (KUBE_PROXY, POD_IDENTITY_AGENT)
