"""EKS on Bottlerocket. Read this file as the table of contents; each concern lives in components/."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import Cluster
from components.eks_addons import EksAddons
from components.karpenter import Karpenter
from components.keda import Keda
from components.network import Network
from components.node_group import BottlerocketNodeGroup
from components.node_role import NodeRole
from components.sqs_worker import SqsWorker
from core import aws_limits, karpenter as karpenter_data
from core.deployment import deployment_plan
from core.pulumi_config import load_stack_config
from core.tags import STACK_TAG

config = load_stack_config()  # every config problem is reported here, before anything is registered
plan = deployment_plan(config)  # every derived value, computed once
stack_tags = {**config.tags, STACK_TAG: pulumi.get_stack()}

aws_provider = aws.Provider("aws", region=config.region, default_tags={"tags": stack_tags})
in_account = pulumi.ResourceOptions(providers=[aws_provider])

network = Network("network", config.network, cluster_name=config.cluster.name, protect=config.stack.protect, opts=in_account)
node_role = NodeRole("nodes", region=config.region, ssm=plan.nodes_need_ssm,
                     opts=in_account)
cluster = Cluster(
    "cluster", config.cluster, region=config.region, network=network, node_role_arn=node_role.arn,
    leave_conntrack_to_nodes=plan.conntrack_left_to_nodes,
    aws_provider=aws_provider, tags=stack_tags, protect=config.stack.protect, opts=in_account,
)

node_groups = {
    name: BottlerocketNodeGroup(
        name,
        cluster_name=cluster.name,
        kubernetes_version=group.kubernetes_version,
        config=group.config,
        settings=group.settings,
        release=group.release,
        node_role_arn=node_role.arn,
        subnet_ids=network.private_subnet_ids,
        physical_name_prefix=group.physical_name_prefix,
        tags=stack_tags,
        opts=pulumi.ResourceOptions(providers=[aws_provider], depends_on=cluster.node_prerequisites),
    )
    for name, group in plan.node_groups.items()
}

eks_addons = EksAddons("eks-addons", config.eks_addons, cluster_name=cluster.name, eks_cluster_urn=cluster.eks_cluster.urn,
                       kubernetes_version=config.cluster.kubernetes_version, node_groups=list(node_groups.values()), opts=in_account)

# KEDA's atomic release waits for its pods; they need nodes (lifecycle rule in tests/test_lifecycle_order.py).
after_node_groups = pulumi.ResourceOptions(providers=[aws_provider], depends_on=list(node_groups.values()))
keda = Keda("keda", config.keda, cluster, opts=after_node_groups) if config.keda else None

karpenter = None
if plan.karpenter:
    followed = plan.karpenter.followed  # Karpenter's nodes follow this group's variant, version and volumes
    karpenter = Karpenter(
        "karpenter", plan.karpenter.config, cluster=cluster, cluster_name=config.cluster.name, region=config.region,
        node_settings=plan.karpenter.settings,
        ami_selector=node_groups[followed.name].release_version.apply(lambda version: karpenter_data.ami_selector_term(
            followed.release, version, followed.config.ami_type, followed.kubernetes_version)),
        ami_family=karpenter_data.ami_family(followed.config.ami_type),
        block_devices=karpenter_data.block_device_mappings(followed.config.root_volume, followed.config.data_volume),
        tags=stack_tags, opts=after_node_groups,
    )

namespaces = {
    namespace: k8s.core.v1.Namespace(f"namespace-{namespace}", metadata={"name": namespace},
                                     opts=pulumi.ResourceOptions(provider=cluster.provider))
    for namespace in sorted({workload.namespace for workload in config.workloads})
}
workers = {
    workload.name: SqsWorker(
        aws_limits.worker_resource_name(workload.name), workload, cluster=cluster, cluster_name=config.cluster.name, keda=keda,
        namespace=namespaces[workload.namespace], region=config.region,
        eviction_max_pod_grace_period=plan.workers[workload.name].eviction_max_pod_grace_period,
        secret_env=plan.workers[workload.name].secret_env, protect=config.stack.protect, opts=in_account,
    )
    for workload in config.workloads  # validation guarantees a `keda` section when there are workloads
}

pulumi.export("clusterName", cluster.name)
pulumi.export("endpoint", cluster.endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("kubernetesProvider", cluster.provider.urn)
pulumi.export("nodeRoleArn", node_role.arn)
pulumi.export("nodeGroups", {
    name: {
        "releaseVersion": group.release_version,
        "requested": plan.node_groups[name].release.requested,
        "frozen": plan.node_groups[name].release.frozen,
        "amiType": plan.node_groups[name].config.ami_type,
        "heldUntilRollout": group.held_until_rollout,
    }
    for name, group in node_groups.items()
})
if karpenter:
    pulumi.export("karpenterAmiAlias", karpenter.ami_selector.apply(lambda term: term.get("alias") or term["ssmParameter"]))
pulumi.export("workloadQueues", {name: worker.queue.url for name, worker in workers.items()})
