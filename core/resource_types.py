"""The Pulumi type tokens the program's tooling looks for, each spelled here once.

A token is `<package>:<module>:<Type>` as the provider's schema names it; the guardrails (policy/rules.py),
the offline plan's mock engine and its summaries (automation/) pick resources by it. The policy pack
imports core/ but not automation/, so the tokens live here.
"""

from __future__ import annotations

from core.tags import COMPONENT_TYPE_PREFIX

# Every provider resource's type is `pulumi:providers:<package>` (pulumi-aws, pulumi-kubernetes, ...).
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
AWS_PROVIDER = PROVIDER_TYPE_PREFIX + "aws"
KUBERNETES_PROVIDER = PROVIDER_TYPE_PREFIX + "kubernetes"

# pulumi-eks' Cluster component and the aws:eks/cluster:Cluster it creates (a child the mock engine never builds).
PULUMI_EKS_CLUSTER = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"

IAM_ROLE = "aws:iam/role:Role"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
QUEUE = "aws:sqs/queue:Queue"

NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"

# The program's own component that the plan summary reads (components/sqs_worker.py).
SQS_WORKER = COMPONENT_TYPE_PREFIX + "SqsWorker"
