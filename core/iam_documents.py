"""IAM policy documents and AWS-managed policy ARNs, as plain data."""

from __future__ import annotations

NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    # The control host container reaches SSM; without it there is no way onto a node.
    "AmazonSSMManagedInstanceCore",
)
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


def service_assume_role_policy(service: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    }

