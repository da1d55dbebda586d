"""The keys of the tags and labels the program writes, each defined here once.

Besides naming what the program created, the tags publish facts about a resource that its inputs do not
show once deployed (a `latest` group's `releaseVersion` is a real version string under `pulumi preview`
as much as a pin is); the guardrails in policy/rules.py read these facts, so a rule judges the offline
plan and a CrossGuard preview alike.
"""

from __future__ import annotations

# The namespace of every tag, label and taint key the program writes (and of the workers' part-of label):
# the project's name as shipped, but a constant, not Pulumi.yaml's `name` (automation/stack_files.py reads
# that for the stack file's keys): renaming a fork's project must not re-tag and re-label what is deployed.
KEY_NAMESPACE = "eks-bottlerocket"
PREFIX = KEY_NAMESPACE + "/"
# The type token of each component, `eks-bottlerocket:index:<Component>`, is part of the URN of the component
# and of every resource below it (a child's URN carries its parent's type chain: pulumi v3.272.0
# sdk/python/lib/pulumi/runtime/resource.py, create_urn). A changed token is a new resource to the engine,
# so, like the key namespace, it is the project's name as shipped and never changes.
COMPONENT_TYPE_PREFIX = KEY_NAMESPACE + ":index:"

COLOUR_LABEL = PREFIX + "colour"  # Kubernetes node label: the node group (blue, green, ...) a node belongs to
NODE_POOL_LABEL = PREFIX + "node-pool"  # Kubernetes node label on Karpenter's nodes: their NodePool
NODE_GROUP_TAG = PREFIX + "node-group"
STACK_TAG = PREFIX + "stack"  # on every AWS resource, through the provider's default tags
# On each managed node group: `pinned` or `latest` (its stack file's releaseVersion), and `true` when frozen.
RELEASE_TAG = PREFIX + "release"
PINNED = "pinned"  # the release tag's value for a pin (`latest` for the rest)
FROZEN_TAG = PREFIX + "frozen"
FROZEN, NOT_FROZEN = "true", "false"  # the frozen tag's values
# On a dead-letter queue, by the component that creates it: the name of the queue it takes the failures of.
DEAD_LETTER_QUEUE_TAG = PREFIX + "dead-letter-queue-of"
# A tag or annotation `policy.eks-bottlerocket/<rule>: <reason>` suppresses a guardrail on its resource.
SUPPRESSION_PREFIX = "policy." + PREFIX
# The guardrail (policy/rules.py) a component suppresses on a resource it creates: Karpenter's interruption queue.
SQS_ENCRYPTED_WITH_DLQ_RULE = "sqs-encrypted-with-dlq"

# Karpenter's key, not the program's: subnets and the cluster security group tagged with it (value: the
# cluster's name) are what the EC2NodeClass's selector terms discover.
DISCOVERY_TAG = "karpenter.sh/discovery"


def suppression(rule: str) -> str:
    """The tag or annotation key that suppresses guardrail `rule` on its resource."""
    return SUPPRESSION_PREFIX + rule
