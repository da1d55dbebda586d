"""Cluster: the EKS control plane (pulumi-eks), its secrets key, add-ons and Kubernetes provider."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.context import DeploymentContext
from components.network import Network
from core.access_entries import admin_entry_key
from core.iam_documents import (
    CLUSTER_ADMIN_ACCESS_POLICY,
    CNI_MANAGED_POLICY,
    CNI_NAMESPACE,
    CNI_SERVICE_ACCOUNT,
    eks_access_policy_arn,
    managed_policy_arn,
    pod_identity_trust_policy,
)
from core.kube_proxy import KUBE_PROXY_CONFIG_MAP, render_kube_proxy_config
from core.deployment import ClusterPlan
from core.tags import COMPONENT_TYPE_PREFIX


class Cluster(pulumi.ComponentResource):
    """No default node group; API authentication with access entries; IRSA and Pod Identity; secrets
    encrypted with KMS. `provider` is the explicit Kubernetes provider every add-on must use."""

    eks_cluster: eks.Cluster
    provider: k8s.Provider
    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kube_proxy_config: k8s.core.v1.ConfigMapPatch | None
    kubernetes_version: str
    node_prerequisites: list[pulumi.Resource]

    def __init__(self, name: str, plan: ClusterPlan, context: DeploymentContext, *, network: Network,
                 node_role_arn: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE_PREFIX + "Cluster", name, None, opts)
        config = plan.config
        region, protect = context.region, context.protect
        self.kubernetes_version = config.kubernetes_version
        child = pulumi.ResourceOptions(parent=self)

        key_arn = config.secrets_encryption.kms_key_arn or aws.kms.Key(
            f"{name}-secrets", description=f"EKS secrets encryption for {config.name}",
            enable_key_rotation=True, deletion_window_in_days=30,
            opts=pulumi.ResourceOptions(parent=self, protect=protect)).arn  # stack.protect

        access_entries = {"nodes": eks.AccessEntryArgs(principal_arn=node_role_arn, type="EC2_LINUX")}
        for principal in config.admin_principal_arns:
            access_entries[admin_entry_key(principal)] = eks.AccessEntryArgs(
                principal_arn=principal, type="STANDARD",
                access_policies={"cluster-admin": eks.AccessPolicyAssociationArgs(
                    policy_arn=eks_access_policy_arn(region, CLUSTER_ADMIN_ACCESS_POLICY),
                    access_scope={"type": "cluster"})})

        # PRESERVE keeps EKS add-on updates from reverting the kube-proxy ConfigMap this program owns.
        kube_proxy_options = eks.KubeProxyAddonOptionsArgs(resolve_conflicts_on_update="PRESERVE") if plan.leave_conntrack_to_nodes else None
        self.eks_cluster = eks.Cluster(
            name,
            name=config.name,
            version=config.kubernetes_version,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            skip_default_node_group=True,
            # Nodes use the security group EKS manages for the cluster; pulumi-eks' extra groups (open
            # egress, broad node-to-node ingress) are not created.
            skip_default_security_groups=True,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            create_oidc_provider=True,
            enabled_cluster_log_types=list(config.log_types),
            encryption_config_key_arn=key_arn,
            endpoint_private_access=config.endpoint.private_access,
            endpoint_public_access=config.endpoint.public_access,
            public_access_cidrs=list(config.endpoint.public_access_cidrs) or None,
            kube_proxy_addon_options=kube_proxy_options,
            use_default_vpc_cni=True,  # the VPC CNI add-on is components/eks_addons.py's, after the node groups
            # stack.protect: EKS itself refuses DeleteCluster (InvalidRequestException) while this is on (EKS
            # user guide, "Protect EKS clusters from accidental deletion"), and Pulumi refuses to delete or
            # replace the component in preview (pulumi/pulumi pkg/resource/deploy/step.go DeleteStep.Apply,
            # `deleteProtectedError`). Its children inherit `protect` (Pulumi docs, "Resource option:
            # protect"): removing an admin's access entry then needs `pulumi state unprotect` on that entry.
            deletion_protection=protect,
            tags=dict(context.tags),
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": context.aws_provider}, protect=protect),
        )
        cluster_name = self.eks_cluster.eks_cluster.name

        aws.eks.Addon(f"{name}-pod-identity-agent", cluster_name=cluster_name, addon_name="eks-pod-identity-agent",
                      resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", opts=child)

        # The VPC CNI (aws-node) gets its permissions through its own Pod Identity role instead of the node
        # role (core/iam_documents.py). Nodes wait for the association: aws-node pods started before it
        # would run without credentials until restarted.
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        cni_role = aws.iam.Role(
            f"{name}-vpc-cni", description=f"VPC CNI (aws-node) of {config.name} through EKS Pod Identity",
            assume_role_policy=account.apply(lambda account_id: json.dumps(pod_identity_trust_policy(
                account=account_id, cluster_name=config.name, namespace=CNI_NAMESPACE, service_account=CNI_SERVICE_ACCOUNT))),
            opts=child)
        cni_policy = aws.iam.RolePolicyAttachment(f"{name}-vpc-cni", role=cni_role.name,
                                                  policy_arn=managed_policy_arn(region, CNI_MANAGED_POLICY), opts=child)
        cni_identity = aws.eks.PodIdentityAssociation(
            f"{name}-vpc-cni", cluster_name=cluster_name, namespace=CNI_NAMESPACE, service_account=CNI_SERVICE_ACCOUNT,
            role_arn=cni_role.arn, opts=pulumi.ResourceOptions(parent=self, depends_on=[cni_policy]))
        self.node_prerequisites = [cni_identity]

        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.eks_cluster.kubeconfig_json,
                                     enable_server_side_apply=True, opts=child)
        self.kube_proxy_config = None
        if plan.leave_conntrack_to_nodes:
            self.kube_proxy_config = k8s.core.v1.ConfigMapPatch(
                f"{name}-{KUBE_PROXY_CONFIG_MAP}",
                metadata={"name": KUBE_PROXY_CONFIG_MAP, "namespace": "kube-system",
                          # The add-on created the ConfigMap; server-side apply must take the field over.
                          "annotations": {"pulumi.com/patchForce": "true"}},
                data={"config": render_kube_proxy_config()},
                opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.eks_cluster]),
            )
            self.node_prerequisites.append(self.kube_proxy_config)

        self.name = cluster_name
        self.endpoint = self.eks_cluster.eks_cluster.endpoint
        self.oidc_provider_arn = self.eks_cluster.oidc_provider_arn
        self.oidc_issuer = self.eks_cluster.oidc_issuer
        # The security group EKS creates for the cluster; managed nodes get it, Karpenter's nodes find it by tag.
        self.security_group_id = self.eks_cluster.eks_cluster.vpc_config.cluster_security_group_id
        self.kubeconfig = pulumi.Output.secret(self.eks_cluster.kubeconfig_json)
        self.register_outputs({"name": self.name, "endpoint": self.endpoint, "oidcProviderArn": self.oidc_provider_arn})
