"""EKS on Bottlerocket. Read this file as the table of contents; each concern lives in components/."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import Cluster
from components.karpenter import Karpenter
from components.keda import Keda
from components.network import Network
from components.node_group import BottlerocketNodeGroup
from components.node_role import NodeRole
from components.sqs_worker import SqsWorker
from core import karpenter as karpenter_data
from core.pulumi_config import load_stack_config
from core.user_data import conntrack_max_configured

config = load_stack_config()  # every config problem is reported here, before anything is registered
stack_tags = {**config.tags, "eks-bottlerocket/stack": pulumi.get_stack()}

aws_provider = aws.Provider("aws", region=config.region, default_tags={"tags": stack_tags})
in_account = pulumi.ResourceOptions(providers=[aws_provider])

network = Network("network", config.network, cluster_name=config.cluster.name, opts=in_account)
node_role = NodeRole("nodes", region=config.region, opts=in_account)

node_group_settings = {name: config.node_group_settings(name) for name in config.enabled_node_groups()}
cluster = Cluster(
    "cluster", config.cluster, region=config.region, network=network, node_role_arn=node_role.arn,
    leave_conntrack_to_nodes=any(conntrack_max_configured(s) for s in node_group_settings.values()),
    aws_provider=aws_provider, tags=stack_tags, opts=in_account,
)

node_groups = {
    name: BottlerocketNodeGroup(
        name,
        cluster_name=cluster.name,
        kubernetes_version=config.cluster.kubernetes_version,
        config=group,
        settings=node_group_settings[name],
        release=config.release_policy(name),
        node_role_arn=node_role.arn,
        subnet_ids=network.private_subnet_ids,
        physical_name_prefix=f"{config.cluster.name}-{name}",
        tags=stack_tags,
        opts=pulumi.ResourceOptions(providers=[aws_provider], depends_on=[cluster.kube_proxy_config] if cluster.kube_proxy_config else []),
    )
    for name, group in config.enabled_node_groups().items()
}

keda = Keda("keda", config.keda, cluster, opts=in_account) if config.keda else None

karpenter = None
if config.karpenter:
    version_group = config.karpenter_version_group()
    karpenter = Karpenter(
        "karpenter", config.karpenter, cluster=cluster, cluster_name=config.cluster.name, region=config.region,
        node_settings=config.node_class_settings(),
        ami_alias=node_groups[version_group].release_version.apply(
            lambda version: karpenter_data.ami_alias(config.release_policy(version_group), version)),
        block_devices=karpenter_data.block_device_mappings(config.node_groups[version_group].root_volume,
                                                           config.node_groups[version_group].data_volume),
        tags=stack_tags, opts=pulumi.ResourceOptions(providers=[aws_provider], depends_on=list(node_groups.values())),
    )

namespaces = {
    namespace: k8s.core.v1.Namespace(f"namespace-{namespace}", metadata={"name": namespace},
                                     opts=pulumi.ResourceOptions(provider=cluster.provider))
    for namespace in sorted({workload.namespace for workload in config.workloads})
}
workers = {
    workload.name: SqsWorker(
        f"worker-{workload.name}", workload, cluster=cluster, cluster_name=config.cluster.name, keda=keda,
        namespace=namespaces[workload.namespace], region=config.region,
        eviction_max_pod_grace_period=config.stack_settings()["kubernetes"].get("eviction-max-pod-grace-period"),
        secret_env=config.workload_secrets.get(workload.name), opts=in_account,
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
        "requested": config.release_policy(name).requested,
        "frozen": config.release_policy(name).frozen,
        "amiType": config.node_groups[name].ami_type,
        "heldUntilRollout": group.held_until_rollout,
    }
    for name, group in node_groups.items()
})
if karpenter:
    pulumi.export("karpenterAmiAlias", karpenter.ami_alias)
pulumi.export("workloadQueues", {name: worker.queue.url for name, worker in workers.items()})
