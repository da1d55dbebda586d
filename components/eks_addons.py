"""EksAddons: CoreDNS and the VPC CNI as EKS add-ons that follow the cluster's Kubernetes version.

Why these two, the version rule and the conflict resolution: core/eks_addons.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.context import ClusterContext
from core.config.eks_addons import EksAddonsConfig
from core.eks_addons import MANAGED_ADDONS, RESOLVE_CONFLICTS_ON_CREATE, RESOLVE_CONFLICTS_ON_UPDATE, VPC_CNI
from core.tags import COMPONENT_TYPE_PREFIX

# Before this component existed pulumi-eks created the VPC CNI add-on as a child of its Cluster
# (pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts, main @7bf0c1b1, lines 1089-1108: `${name}-vpc-cni`,
# an eks:index:VpcCniAddon whose aws.eks.Addon has the same name, nodejs/eks/addons/cni-addon.ts line 297).
# The alias makes a stack deployed then update that add-on in place: without it Pulumi would create
# a second `vpc-cni` add-on (CreateAddon fails, the name is taken) before deleting the first.
def pulumi_eks_vpc_cni_urn(eks_cluster_urn: str) -> str:
    """The URN pulumi-eks gave its VPC CNI add-on, from the URN of the pulumi-eks Cluster it belongs to."""
    prefix, types, name = eks_cluster_urn.rsplit("::", 2)
    return f"{prefix}::{types}$eks:index:VpcCniAddon$aws:eks/addon:Addon::{name}-vpc-cni"



class EksAddons(pulumi.ComponentResource):
    """One `aws.eks.Addon` per managed add-on, each after every node group."""

    addons: dict[str, aws.eks.Addon]

    def __init__(self, name: str, config: EksAddonsConfig, context: ClusterContext, *, node_groups: Sequence[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE_PREFIX + "EksAddons", name, None, opts)
        cluster = context.cluster
        self.addons = {}
        for addon in MANAGED_ADDONS:
            pinned = addon.pinned_version(config)
            version = pinned if pinned else aws.eks.get_addon_version_output(
                addon_name=addon.addon_name, kubernetes_version=cluster.kubernetes_version, most_recent=False,
                opts=pulumi.InvokeOutputOptions(parent=self)).version
            aliases = [cluster.eks_cluster.urn.apply(pulumi_eks_vpc_cni_urn)] if addon.addon_name == VPC_CNI else []
            self.addons[addon.addon_name] = aws.eks.Addon(
                f"{name}-{addon.addon_name}",
                cluster_name=cluster.name,
                addon_name=addon.addon_name,
                addon_version=version,
                resolve_conflicts_on_create=RESOLVE_CONFLICTS_ON_CREATE,
                resolve_conflicts_on_update=RESOLVE_CONFLICTS_ON_UPDATE,
                preserve=True,
                # The component's dependencies are repeated: Pulumi does not pass them on to children.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(node_groups), aliases=aliases),
            )
        self.register_outputs({name: addon.addon_version for name, addon in self.addons.items()})
