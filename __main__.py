"""EKS on Bottlerocket. Read this file as the table of contents; each concern lives in components/."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import Cluster
from components.context import DeploymentContext
from components.eks_addons import EksAddons
from components.karpenter import Karpenter
from components.keda import Keda
from components.network import Network
from components.node_group import BottlerocketNodeGroup
from components.node_role import NodeRole
from components.sqs_worker import SqsWorker
from core.deployment import deployment_plan
from core.pulumi_config import load_stack_config
from core.tags import STACK_TAG

config = load_stack_config()  # every config problem is reported here, before anything is registered
plan = deployment_plan(config)  # every derived value, computed once
stack_tags = {**config.tags, STACK_TAG: pulumi.get_stack()}

aws_provider = aws.Provider("aws", region=config.region, default_tags={"tags": stack_tags})
in_account = pulumi.ResourceOptions(providers=[aws_provider])
# Each component: (name, its stack-file section or plan, this context, wiring to other components, opts).
context = DeploymentContext(cluster_name=config.cluster.name, region=config.region, tags=stack_tags, protect=config.stack.protect,
                          aws_provider=aws_provider)

network = Network("network", config.network, context, opts=in_account)
node_role = NodeRole("nodes", plan.node_role, context, opts=in_account)
cluster = Cluster("cluster", plan.cluster, context, network=network, node_role_arn=node_role.arn, opts=in_account)
cluster_context = context.with_cluster(cluster)

node_groups = {
    name: BottlerocketNodeGroup(name, group, cluster_context, node_role_arn=node_role.arn, subnet_ids=network.private_subnet_ids,
                                opts=pulumi.ResourceOptions(providers=[aws_provider], depends_on=cluster.node_prerequisites))
    for name, group in plan.node_groups.items()
}
eks_addons = EksAddons("eks-addons", config.eks_addons, cluster_context, node_groups=list(node_groups.values()), opts=in_account)

# KEDA's atomic release waits for its pods; they need nodes (lifecycle rule in tests/test_lifecycle_order.py).
after_node_groups = pulumi.ResourceOptions(providers=[aws_provider], depends_on=list(node_groups.values()))
keda = Keda("keda", config.keda, cluster_context, opts=after_node_groups) if config.keda else None

karpenter = None
if plan.karpenter:
    # Karpenter's nodes follow one group's variant, release and volumes (core/deployment.py KarpenterPlan).
    karpenter = Karpenter("karpenter", plan.karpenter, cluster_context,
                          followed_release_version=node_groups[plan.karpenter.followed.name].release_version, opts=after_node_groups)

# A namespace may hold several workers, so no worker owns it; each is the stack's own child (moving it
# under a component would change its URN, and the engine would replace it).
namespaces = {
    namespace: k8s.core.v1.Namespace(f"namespace-{namespace}", metadata={"name": namespace},
                                     opts=pulumi.ResourceOptions(provider=cluster.provider))
    for namespace in sorted({worker.workload.namespace for worker in plan.workers.values()})
}
workers = {  # validation guarantees a `keda` section when there are workloads
    name: SqsWorker(worker.resource_name, worker, cluster_context, keda=keda,
                    namespace=namespaces[worker.workload.namespace], opts=in_account)
    for name, worker in plan.workers.items()
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
        "requested": group.plan.release.requested,
        "frozen": group.plan.release.frozen,
        "amiType": group.plan.config.ami_type,
        "heldUntilRollout": group.held_until_rollout,
    }
    for name, group in node_groups.items()
})
if karpenter:
    pulumi.export("karpenterAmiAlias", karpenter.ami_selector.apply(lambda term: term.get("alias") or term["ssmParameter"]))
pulumi.export("workloadQueues", {name: worker.queue.url for name, worker in workers.items()})
