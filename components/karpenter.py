"""Karpenter: interruption handling, IAM, the controller (Helm) and Bottlerocket EC2NodeClass/NodePools."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import ClusterContext
from components.node_role import NodeRole
from core import aws_limits, karpenter
from core.deployment import KarpenterPlan
from core.iam_documents import partition, pod_identity_trust_policy
from core.tags import COLOUR_LABEL, COMPONENT_TYPE_PREFIX, DISCOVERY_TAG, SQS_ENCRYPTED_WITH_DLQ_RULE, suppression
from core.user_data import render_user_data

NODE_CLASS_NAME = "bottlerocket"


class Karpenter(pulumi.ComponentResource):
    """Controller on the managed node groups with an EKS Pod Identity role scoped to this cluster; its own
    node role with an EC2_LINUX access entry; CRDs managed by the separate `karpenter-crd` chart so they
    are upgraded with every version bump (the main chart installs CRDs only once)."""

    ami_selector: pulumi.Output[dict[str, str]]
    node_class: k8s.apiextensions.CustomResource
    node_pools: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, plan: KarpenterPlan, context: ClusterContext, *, followed_release_version: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        """`followed_release_version`: the release the followed node group (plan.followed) runs, as EKS reports it:
        a frozen group's nodes keep theirs, and Karpenter's must match."""
        super().__init__(COMPONENT_TYPE_PREFIX + "Karpenter", name, None, opts)
        config, followed, node_settings = plan.config, plan.followed, plan.settings
        cluster, cluster_name, region = context.cluster, context.cluster_name, context.region
        self.ami_selector = pulumi.Output.from_input(followed_release_version).apply(lambda version: karpenter.ami_selector_term(
            followed.release, version, followed.config.ami_type, followed.kubernetes_version))
        child = pulumi.ResourceOptions(parent=self)

        queue = aws.sqs.Queue(f"{name}-interruption", name=aws_limits.interruption_queue_name(cluster_name),
                              message_retention_seconds=karpenter.INTERRUPTION_QUEUE_RETENTION_SECONDS,
                              sqs_managed_sse_enabled=True,
                              tags={suppression(SQS_ENCRYPTED_WITH_DLQ_RULE):
                                    f"Interruption events expire after {karpenter.INTERRUPTION_QUEUE_RETENTION_SECONDS} s as upstream sets it. A DLQ would only keep stale events"},
                              opts=child)
        # Everything the controller needs while it runs, finalizers included: on destroy the engine deletes a
        # resource only after all that depend on it (automation/lifecycle_order.py), so the controller depends
        # on all of it and the NodePools/EC2NodeClass depend on the controller. Otherwise the policies or the
        # queue can go in parallel with the NodePools, and their finalizers (terminating instances, deleting
        # instance profiles) fail for lack of permissions: karpenter-provider-aws v1.14.1
        # pkg/controllers/nodeclass/controller.go:174 cleanupInstanceProfiles (the EC2NodeClass finalizer) and
        # pkg/cloudprovider/cloudprovider.go:250 Delete (TerminateInstances for each NodeClaim).
        needed: list[pulumi.Resource] = [queue]
        needed.append(aws.sqs.QueuePolicy(f"{name}-interruption", queue_url=queue.url,
                                          policy=queue.arn.apply(lambda arn: json.dumps(karpenter.interruption_queue_policy(arn))), opts=child))
        for event, pattern in karpenter.INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(f"{name}-{event}", description=f"Karpenter interruption: {event}",
                                            event_pattern=json.dumps(pattern), opts=child)
            needed.append(aws.cloudwatch.EventTarget(f"{name}-{event}", rule=rule.name, arn=queue.arn,
                                                     target_id="KarpenterInterruptionQueueTarget", opts=child))

        if config.create_spot_service_linked_role:
            # Account-wide and possibly used by others: kept when this stack goes (retain_on_delete).
            needed.append(aws.iam.ServiceLinkedRole(f"{name}-spot", aws_service_name="spot.amazonaws.com",
                                                    description="EC2 Spot, for Karpenter's spot node pools",
                                                    opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True)))

        node_role = NodeRole(f"{name}-nodes", plan.node_role, context, opts=child)
        access = aws.eks.AccessEntry(f"{name}-nodes", cluster_name=cluster.name, principal_arn=node_role.arn,
                                     type="EC2_LINUX", opts=child)
        needed.append(node_role)
        needed.append(aws.ec2.Tag(f"{name}-security-group-discovery", resource_id=cluster.security_group_id,
                                  key=DISCOVERY_TAG, value=cluster_name, opts=child))

        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        controller_role = aws.iam.Role(
            f"{name}-controller", description="Karpenter controller (EKS Pod Identity)",
            assume_role_policy=account.apply(lambda account_id: json.dumps(pod_identity_trust_policy(
                account=account_id, cluster_name=cluster_name, namespace=karpenter.NAMESPACE, service_account=karpenter.SERVICE_ACCOUNT))),
            opts=child)
        documents = pulumi.Output.all(account, node_role.arn, queue.arn).apply(
            lambda args: karpenter.controller_policies(partition=partition(region), region=region, account=args[0],
                                                       cluster_name=cluster_name, node_role_arn=args[1], queue_arn=args[2]))
        for policy_name in ("NodeLifecycle", "IAMIntegration", "EKSIntegration", "Interruption", "ResourceDiscovery", "ZonalShift"):
            policy = aws.iam.Policy(f"{name}-{policy_name}", description=f"Karpenter controller {policy_name} for {cluster_name}",
                                    policy=documents.apply(_one_document(policy_name)), opts=child)
            needed.append(aws.iam.RolePolicyAttachment(f"{name}-{policy_name}", role=controller_role.name, policy_arn=policy.arn, opts=child))
        identity = aws.eks.PodIdentityAssociation(f"{name}-controller", cluster_name=cluster.name, namespace=karpenter.NAMESPACE,
                                                  service_account=karpenter.SERVICE_ACCOUNT, role_arn=controller_role.arn, opts=child)

        in_cluster = pulumi.ResourceOptions(parent=self, provider=cluster.provider)
        crds = k8s.helm.v3.Release(f"{name}-crd", name="karpenter-crd", chart=karpenter.CRD_CHART, version=karpenter.CHART_VERSION,
                                   namespace=karpenter.NAMESPACE, opts=in_cluster)
        controller = k8s.helm.v3.Release(
            name, name=karpenter.RELEASE_NAME, chart=karpenter.CHART, version=karpenter.CHART_VERSION,
            namespace=karpenter.NAMESPACE, skip_crds=True, atomic=True,
            values=karpenter.helm_values(cluster_name=cluster_name, queue_name=aws_limits.interruption_queue_name(cluster_name), replicas=config.controller.replicas,
                                         resources=config.controller.resources.model_dump(), managed_node_label=COLOUR_LABEL),
            opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[crds, identity, access, *needed])),
        )

        toml_settings, kubelet, _ = karpenter.split_node_class_settings(node_settings)
        user_data = render_user_data(toml_settings, [
            "Bottlerocket settings of Karpenter's nodes, rendered by eks-bottlerocket.",
            "Kubelet values Karpenter models live in the EC2NodeClass spec.kubelet, not here.",
        ])
        after_crds = pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[crds, controller]))
        node_class = karpenter.ec2_node_class(name=NODE_CLASS_NAME, cluster_name=cluster_name, ami_selector=self.ami_selector,
                                              family=karpenter.ami_family(followed.config.ami_type),
                                              node_role_name=node_role.role.name, user_data=user_data, kubelet=kubelet,
                                              block_devices=karpenter.block_device_mappings(followed.block_devices), tags=context.tags)
        self.node_class = k8s.apiextensions.CustomResource(f"{name}-{NODE_CLASS_NAME}", **_custom_resource_args(node_class), opts=after_crds)
        self.node_pools = {
            pool_name: k8s.apiextensions.CustomResource(
                f"{name}-pool-{pool_name}", **_custom_resource_args(karpenter.node_pool(pool_name, pool, NODE_CLASS_NAME)),
                opts=pulumi.ResourceOptions.merge(after_crds, pulumi.ResourceOptions(depends_on=[self.node_class])))
            for pool_name, pool in config.node_pools.items()
        }
        self.register_outputs({"interruptionQueue": queue.name, "nodeRoleArn": node_role.arn})


def _one_document(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda documents: json.dumps(documents[key])


def _custom_resource_args(manifest: dict[str, Any]) -> dict[str, Any]:
    return {"api_version": manifest["apiVersion"], "kind": manifest["kind"], "metadata": manifest["metadata"], "spec": manifest["spec"]}
