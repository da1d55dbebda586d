"""IAM policy documents and AWS-managed policy ARNs, as plain data."""

from __future__ import annotations

from typing import Any

# What every node needs (EKS user guide, "Amazon EKS node IAM role"): the kubelet's EC2 reads and the Pod
# Identity agent (worker policy) and image pulls. The VPC CNI's permissions are not here: AWS recommends a
# separate role for the aws-node service account (EKS user guide, "Configure Amazon VPC CNI plugin to use
# IRSA": "We recommend that you assign it to a separate role"; the plugin supports EKS Pod Identity too).
NODE_MANAGED_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
CNI_MANAGED_POLICY = "AmazonEKS_CNI_Policy"
CNI_NAMESPACE, CNI_SERVICE_ACCOUNT = "kube-system", "aws-node"
# Only for nodes whose Bottlerocket control host container is on: it reaches SSM, the way onto a node.
SSM_MANAGED_POLICY = "AmazonSSMManagedInstanceCore"
CLUSTER_ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def managed_policy_arn(region: str, policy_name: str) -> str:
    return f"arn:{partition(region)}:iam::aws:policy/{policy_name}"


def eks_access_policy_arn(region: str, policy_name: str) -> str:
    return f"arn:{partition(region)}:eks::aws:cluster-access-policy/{policy_name}"


def pod_identity_trust_policy(*, account: str, cluster_name: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Trust for an EKS Pod Identity role, limited to one service account of one cluster in this account.

    The statement is the EKS user guide's ("Create IAM role with trust policy required by EKS Pod
    Identity"); the conditions use the session tags Pod Identity sets by default (user guide, "Enable or
    disable session tags": eks-cluster-name, kubernetes-namespace, kubernetes-service-account) and
    aws:SourceAccount against a confused deputy."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {
            "aws:SourceAccount": account,
            "aws:RequestTag/eks-cluster-name": cluster_name,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }}}]}


def service_assume_role_policy(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    }

