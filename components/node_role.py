"""NodeRole: the IAM role every managed node group's instances run as."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.context import DeploymentContext
from core.deployment import NodeRolePlan
from core.iam_documents import NODE_MANAGED_POLICIES, SSM_MANAGED_POLICY, managed_policy_arn, service_assume_role_policy
from core.tags import COMPONENT_TYPE_PREFIX


class NodeRole(pulumi.ComponentResource):
    """EC2 role with the worker and ECR pull-only managed policies, and SSM's only for nodes that run the
    control host container. The VPC CNI's permissions go to aws-node's own role (components/cluster.py)."""

    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, plan: NodeRolePlan, context: DeploymentContext, *, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE_PREFIX + "NodeRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(name, assume_role_policy=json.dumps(service_assume_role_policy("ec2.amazonaws.com")),
                                 description="Bottlerocket managed node groups", opts=child)
        for policy_name in (*NODE_MANAGED_POLICIES, *((SSM_MANAGED_POLICY,) if plan.ssm else ())):
            aws.iam.RolePolicyAttachment(f"{name}-{policy_name}", role=self.role.name,
                                         policy_arn=managed_policy_arn(context.region, policy_name), opts=child)
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})
