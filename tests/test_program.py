"""The real __main__.py under Pulumi's mock engine, for the shipped dev and prod stacks.

Every registered resource type is listed in EXPECTED_COUNTS and asserted on below; a new resource type
without assertions fails `test_every_registered_type_is_expected`.
"""

from __future__ import annotations

import base64

import pytest
import tomlkit

from core.deployment import node_group_settings
from core.kube_proxy import kube_proxy_configuration
from core.config.stack_config import validate_stack_config
from core.user_data import eks_merge_problems, settings_problems
from tests.conftest import PROJECT, project_values

AWS_PROVIDER_SUFFIX = "pulumi:providers:aws::aws"

EXPECTED_COUNTS = {
    "dev": {
        "pulumi:providers:aws": 1,
        "eks-bottlerocket:index:Network": 1,
        "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/subnet:Subnet": 4,
        "aws:ec2/routeTable:RouteTable": 3,  # public + one private per AZ
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 4,
        "aws:ec2/eip:Eip": 1,  # natGateways: single
        "aws:ec2/natGateway:NatGateway": 1,
        "eks-bottlerocket:index:NodeRole": 2,
        "aws:iam/role:Role": 6,  # nodes, Karpenter's nodes and controller, KEDA operator, the worker, the VPC CNI
        # 3 + 3 node policies (worker, ECR pull, SSM for the control container), 6 Karpenter controller policies, the CNI's
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 13,
        "eks-bottlerocket:index:Cluster": 1,
        "aws:kms/key:Key": 1,
        "eks:index:Cluster": 1,
        "aws:eks/addon:Addon": 3,  # pod identity agent; CoreDNS and VPC CNI (asserted in test_eks_addons.py)
        "eks-bottlerocket:index:EksAddons": 1,
        "pulumi:providers:kubernetes": 1,
        "kubernetes:core/v1:ConfigMapPatch": 1,
        "eks-bottlerocket:index:BottlerocketNodeGroup": 1,  # green is disabled
        "aws:ec2/launchTemplate:LaunchTemplate": 1,
        "aws:eks/nodeGroup:NodeGroup": 1,
        # add-ons (asserted in test_addons.py)
        "eks-bottlerocket:index:Keda": 1,
        "eks-bottlerocket:index:Karpenter": 1,
        "eks-bottlerocket:index:SqsWorker": 1,
        "aws:cloudwatch/eventRule:EventRule": 5,
        "aws:cloudwatch/eventTarget:EventTarget": 5,
        "aws:ec2/tag:Tag": 1,
        "aws:eks/accessEntry:AccessEntry": 1,
        "aws:eks/podIdentityAssociation:PodIdentityAssociation": 3,  # Karpenter, the worker, aws-node
        "aws:iam/policy:Policy": 6,
        "aws:iam/rolePolicy:RolePolicy": 2,
        "aws:sqs/queue:Queue": 3,
        "aws:sqs/queuePolicy:QueuePolicy": 1,
        "kubernetes:apps/v1:Deployment": 1,
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:core/v1:ServiceAccount": 1,
        "kubernetes:helm.sh/v3:Release": 3,
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": 1,
        "kubernetes:karpenter.sh/v1:NodePool": 1,
        "kubernetes:keda.sh/v1alpha1:ScaledObject": 1,
        "kubernetes:keda.sh/v1alpha1:TriggerAuthentication": 1,
        "kubernetes:policy/v1:PodDisruptionBudget": 1,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1,
        "aws:iam/serviceLinkedRole:ServiceLinkedRole": 1,  # karpenter.createSpotServiceLinkedRole: true
    },
}
EXPECTED_COUNTS["prod"] = {
    **EXPECTED_COUNTS["dev"],
    "aws:ec2/subnet:Subnet": 6,
    "aws:ec2/routeTable:RouteTable": 4,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
    "aws:ec2/eip:Eip": 3,  # natGateways: onePerAz
    "aws:ec2/natGateway:NatGateway": 3,
    "kubernetes:karpenter.sh/v1:NodePool": 2,  # default and burst
}
del EXPECTED_COUNTS["prod"]["aws:iam/serviceLinkedRole:ServiceLinkedRole"]  # prod's account has the Spot role


@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def test_plan_succeeds(plan):
    assert plan.exit_code == 0, plan.stderr
    assert plan.document["project"] == PROJECT  # from Pulumi.yaml


def test_every_registered_type_is_expected(plan):
    counts: dict[str, int] = {}
    for record in plan.resources:
        counts[record["type"]] = counts.get(record["type"], 0) + 1
    assert counts == EXPECTED_COUNTS[plan.document["stack"]]


def test_every_aws_resource_uses_the_explicit_provider(plan):
    for record in plan.resources:
        if record["type"].startswith("aws:"):
            assert record["provider"].endswith(AWS_PROVIDER_SUFFIX), record["urn"]
        if record["type"].startswith("kubernetes:"):
            assert record["provider"].endswith("pulumi:providers:kubernetes::cluster-k8s"), record["urn"]


def test_aws_provider_region_and_default_tags(plan):
    (provider,) = plan.of_type("pulumi:providers:aws")
    stack = plan.document["stack"]
    assert provider["inputs"]["region"] == "eu-west-1"
    tags = provider["inputs"]["defaultTags"]["tags"]
    assert tags["environment"] == stack and tags["eks-bottlerocket/stack"] == stack


def test_vpc_and_subnets(plan):
    stack = plan.document["stack"]
    (vpc,) = plan.of_type("aws:ec2/vpc:Vpc")
    assert vpc["inputs"]["cidrBlock"] == {"dev": "10.40.0.0/16", "prod": "10.50.0.0/16"}[stack]
    assert vpc["inputs"]["enableDnsHostnames"] is True and vpc["inputs"]["enableDnsSupport"] is True
    cluster_name = f"platform-{stack}"
    subnets = plan.of_type("aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "-private-" in s["name"]]
    public = [s for s in subnets if "-public-" in s["name"]]
    zones = {"dev": 2, "prod": 3}[stack]
    assert len(private) == len(public) == zones
    assert len({s["inputs"]["availabilityZone"] for s in private}) == zones
    for subnet in private:
        assert subnet["inputs"]["vpcId"] == vpc["id"]
        assert subnet["inputs"]["tags"]["karpenter.sh/discovery"] == cluster_name
        assert subnet["inputs"]["tags"]["kubernetes.io/role/internal-elb"] == "1"
    for subnet in public:
        assert subnet["inputs"]["tags"]["kubernetes.io/role/elb"] == "1"
        assert subnet["inputs"]["mapPublicIpOnLaunch"] is False
        assert "karpenter.sh/discovery" not in subnet["inputs"]["tags"]


def test_routing_through_nat_gateways(plan):
    ids = {r["id"]: r for r in plan.resources}
    (gateway,) = plan.of_type("aws:ec2/internetGateway:InternetGateway")
    nat_ids = {n["id"] for n in plan.of_type("aws:ec2/natGateway:NatGateway")}
    for nat in plan.of_type("aws:ec2/natGateway:NatGateway"):
        assert "-public-" in ids[nat["inputs"]["subnetId"]]["name"]
        assert ids[nat["inputs"]["allocationId"]]["type"] == "aws:ec2/eip:Eip"
    for eip in plan.of_type("aws:ec2/eip:Eip"):
        assert eip["inputs"]["domain"] == "vpc"
    for table in plan.of_type("aws:ec2/routeTable:RouteTable"):
        (route,) = table["inputs"]["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0"
        if table["name"].endswith("-public"):
            assert route["gatewayId"] == gateway["id"]
        else:
            assert route["natGatewayId"] in nat_ids
    for association in plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        subnet, table = ids[association["inputs"]["subnetId"]], ids[association["inputs"]["routeTableId"]]
        tier = "public" if "-public-" in subnet["name"] else "private"
        assert tier in table["name"]


def test_node_role_and_policies(plan):
    role = plan.one("aws:iam/role:Role", "nodes")
    import json

    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attachments = [a for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a["name"].startswith("nodes-")]
    attached = {a["inputs"]["policyArn"] for a in attachments}
    # No AmazonEKS_CNI_Policy: aws-node has its own role (tests/test_least_privilege.py).
    assert attached == {f"arn:aws:iam::aws:policy/{p}" for p in (
        "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore")}
    for attachment in attachments:
        assert attachment["inputs"]["role"] == f"<after-deploy:aws:iam/role:Role::{role['name']}.name>"


def test_cluster_component_inputs(plan):
    stack = plan.document["stack"]
    (cluster,) = plan.of_type("eks:index:Cluster")
    inputs = cluster["inputs"]
    assert inputs["name"] == f"platform-{stack}" and inputs["version"] == "1.33"
    assert inputs["skipDefaultNodeGroup"] is True and inputs["skipDefaultSecurityGroups"] is True
    assert inputs["authenticationMode"] == "API"
    assert inputs["createOidcProvider"] is True
    (key,) = plan.of_type("aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    assert inputs["encryptionConfigKeyArn"] == f"<after-deploy:aws:kms/key:Key::{key['name']}.arn>"
    assert inputs["endpointPrivateAccess"] is True and inputs["endpointPublicAccess"] is True
    assert "0.0.0.0/0" not in inputs["publicAccessCidrs"]
    expected_logs = {"dev": ["api", "audit", "authenticator"],
                     "prod": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}[stack]
    assert inputs["enabledClusterLogTypes"] == expected_logs
    (vpc,) = plan.of_type("aws:ec2/vpc:Vpc")
    assert inputs["vpcId"] == vpc["id"]
    private_ids = {s["id"] for s in plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s["name"]}
    assert set(inputs["privateSubnetIds"]) == private_ids
    assert cluster["options"]["providers"]["aws"].endswith(AWS_PROVIDER_SUFFIX)


def test_access_entries(plan):
    (cluster,) = plan.of_type("eks:index:Cluster")
    role = plan.one("aws:iam/role:Role", "nodes")
    entries = cluster["inputs"]["accessEntries"]
    assert entries["nodes"] == {"principalArn": f"<after-deploy:aws:iam/role:Role::{role['name']}.arn>", "type": "EC2_LINUX"}
    admins = {name: e for name, e in entries.items() if name.startswith("admin-")}
    expected = project_values(plan.document["stack"])["cluster"]["adminPrincipalArns"]
    # Keyed by principal, never by list position (core/access_entries.py).
    account = {"dev": "111122223333", "prod": "444455556666"}[plan.document["stack"]]
    assert {name: a["principalArn"] for name, a in admins.items()} == {
        f"admin-{account}-role-{arn.rsplit('/', 1)[-1]}": arn for arn in expected}
    for admin in admins.values():
        policy = admin["accessPolicies"]["cluster-admin"]
        assert policy["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert policy["accessScope"] == {"type": "cluster"}


def test_pod_identity_agent_addon(plan):
    addon = plan.one("aws:eks/addon:Addon", "cluster-pod-identity-agent")
    assert addon["inputs"]["addonName"] == "eks-pod-identity-agent"
    assert addon["inputs"]["clusterName"] == f"platform-{plan.document['stack']}"


def test_kubernetes_provider_uses_the_cluster_kubeconfig(plan):
    (provider,) = plan.of_type("pulumi:providers:kubernetes")
    kubeconfig = provider["inputs"]["kubeconfig"]
    assert kubeconfig["users"][0]["user"]["exec"]["args"][-1] == f"platform-{plan.document['stack']}"
    assert provider["inputs"]["enableServerSideApply"] == "true"
    assert plan.outputs["kubernetesProvider"] == provider["urn"]


def test_kube_proxy_leaves_conntrack_to_the_node(plan):
    """Both stacks configure nf_conntrack_max, so kube-proxy must not overwrite it."""
    (cluster,) = plan.of_type("eks:index:Cluster")
    assert cluster["inputs"]["kubeProxyAddonOptions"]["resolveConflictsOnUpdate"] == "PRESERVE"
    (patch,) = plan.of_type("kubernetes:core/v1:ConfigMapPatch")
    assert patch["inputs"]["metadata"]["name"] == "kube-proxy-config"
    assert patch["inputs"]["metadata"]["namespace"] == "kube-system"
    assert patch["inputs"]["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
    import yaml

    configuration = yaml.safe_load(patch["inputs"]["data"]["config"])
    assert configuration == kube_proxy_configuration()
    assert configuration["conntrack"]["maxPerCore"] == 0 and configuration["conntrack"]["min"] == 0
    assert cluster["urn"] in patch["options"]["dependsOn"]
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert patch["urn"] in group["options"]["dependsOn"]


def test_launch_template_has_no_image_and_both_volumes(plan):
    stack = plan.document["stack"]
    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        inputs = template["inputs"]
        assert "imageId" not in inputs and "instanceType" not in inputs
        assert inputs["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
        devices = {m["deviceName"]: m["ebs"] for m in inputs["blockDeviceMappings"]}
        assert set(devices) == {"/dev/xvda", "/dev/xvdb"}
        assert devices["/dev/xvda"]["volumeSize"] == 10
        data = devices["/dev/xvdb"]
        expected_data = {"dev": {"volumeSize": 50, "volumeType": "gp3"},
                         "prod": {"volumeSize": 200, "volumeType": "gp3", "iops": 6000, "throughput": 250}}[stack]
        assert {k: v for k, v in data.items() if k in ("volumeSize", "volumeType", "iops", "throughput")} == expected_data
        for volume in devices.values():
            assert volume["encrypted"] == "true" and volume["deleteOnTermination"] == "true"
        assert inputs["namePrefix"] == f"platform-{stack}-{template['name']}-"
        assert {s["resourceType"] for s in inputs["tagSpecifications"]} == {"instance", "volume"}


def test_user_data_file_is_the_launch_template_user_data(plan):
    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        text = base64.b64decode(template["inputs"]["userData"]).decode()
        assert plan.user_data(template["name"]) == text


def test_user_data_passes_bottlerocket_rules(plan):
    stack = plan.document["stack"]
    config = validate_stack_config(project_values(stack), f"Pulumi.{stack}.yaml")
    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        text = plan.user_data(template["name"])
        settings = tomlkit.parse(text).unwrap()["settings"]
        # The rendered TOML re-validates against the settings model and the cross-field rules.
        from core.bottlerocket_settings import BottlerocketSettings

        BottlerocketSettings.model_validate(settings)
        assert settings_problems(settings, ("m6i.large", 8192)) == []
        assert eks_merge_problems(text) == []
        assert settings == node_group_settings(config, template["name"])
        for key in ("api-server", "cluster-certificate", "cluster-name", "cluster-dns-ip", "node-labels", "node-taints"):
            assert key not in settings["kubernetes"]


def test_admin_container_per_stack(dev_plan, prod_plan):
    dev = tomlkit.parse(dev_plan.user_data("blue")).unwrap()["settings"]
    prod = tomlkit.parse(prod_plan.user_data("blue")).unwrap()["settings"]
    assert dev["host-containers"]["admin"]["enabled"] is True
    assert prod["host-containers"]["admin"]["enabled"] is False
    assert dev["host-containers"]["control"]["enabled"] is True and prod["host-containers"]["control"]["enabled"] is True
    assert prod["kubernetes"]["eviction-hard"]["memory.available"] == "1Gi"  # prod's stack-wide override
    assert dev["kubernetes"]["eviction-hard"]["memory.available"] == "500Mi"  # the program's default


def test_node_group_inputs(plan):
    stack = plan.document["stack"]
    ids = {r["id"]: r for r in plan.resources}
    role = plan.one("aws:iam/role:Role", "nodes")
    values = project_values(stack)["nodeGroups"]
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        name, inputs, configured = group["name"], group["inputs"], values[group["name"]]
        assert inputs["clusterName"] == f"platform-{stack}"
        assert inputs["amiType"] == "BOTTLEROCKET_x86_64" and inputs["version"] == "1.33"
        assert inputs["nodeGroupNamePrefix"] == f"platform-{stack}-{name}-"
        assert inputs["nodeRoleArn"] == f"<after-deploy:aws:iam/role:Role::{role['name']}.arn>"
        assert inputs["instanceTypes"] == configured["instanceTypes"]
        assert inputs["capacityType"] == "ON_DEMAND"
        assert inputs["scalingConfig"] == configured["scaling"]
        assert inputs["updateConfig"] == {"maxUnavailable": 1}
        assert inputs["labels"]["eks-bottlerocket/colour"] == name
        template = ids[inputs["launchTemplate"]["id"]]
        assert inputs["tags"]["eks-bottlerocket/node-group"] == name
        # The release policy as facts for the guardrails, on the node group only (a launch template tag
        # would be a new template version, every node replaced).
        assert inputs["tags"]["eks-bottlerocket/release"] == ("latest" if configured["releaseVersion"] == "latest" else "pinned")
        assert inputs["tags"]["eks-bottlerocket/frozen"] == str(configured.get("freeze", False)).lower()
        assert not {"eks-bottlerocket/release", "eks-bottlerocket/frozen"} & set(template["inputs"]["tags"])
        assert template["type"] == "aws:ec2/launchTemplate:LaunchTemplate" and template["name"] == name
        assert inputs["launchTemplate"]["version"] == f"<after-deploy:aws:ec2/launchTemplate:LaunchTemplate::{name}.latestVersion>"
        for subnet_id in inputs["subnetIds"]:
            assert "-private-" in ids[subnet_id]["name"]
        assert "scalingConfig.desiredSize" in group["options"]["ignoreChanges"]


def test_dev_tracks_latest_from_ssm(dev_plan):
    group = dev_plan.one("aws:eks/nodeGroup:NodeGroup", "blue")
    parameter = "/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"
    assert group["inputs"]["releaseVersion"] == f"<after-deploy:ssm:{parameter}>"
    assert "releaseVersion" not in group["options"]["ignoreChanges"]
    assert dev_plan.outputs["nodeGroups"]["blue"] == {
        "releaseVersion": f"<after-deploy:ssm:{parameter}>", "requested": "latest", "frozen": False, "amiType": "BOTTLEROCKET_x86_64",
        "heldUntilRollout": []}


def test_prod_is_pinned_and_frozen(prod_plan):
    group = prod_plan.one("aws:eks/nodeGroup:NodeGroup", "blue")
    assert group["inputs"]["releaseVersion"] == "1.54.0-5043decc"
    # No launch template, Kubernetes or release change reaches a frozen group's nodes (README table).
    assert group["options"]["ignoreChanges"] == ["scalingConfig.desiredSize", "releaseVersion", "version", "launchTemplate.version"]
    assert prod_plan.outputs["nodeGroups"]["blue"] == {
        "releaseVersion": "1.54.0-5043decc", "requested": "1.54.0-5043decc", "frozen": True, "amiType": "BOTTLEROCKET_x86_64",
        "heldUntilRollout": []}


def test_stack_outputs(plan):
    stack = plan.document["stack"]
    outputs = plan.outputs
    assert outputs["clusterName"] == f"platform-{stack}"
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["endpoint"] == "<after-deploy:eks:index:Cluster::cluster.endpoint>"
    assert outputs["oidcProviderArn"] == "<after-deploy:eks:index:Cluster::cluster.oidcProviderArn>"
    role = plan.one("aws:iam/role:Role", "nodes")
    assert outputs["nodeRoleArn"] == f"<after-deploy:aws:iam/role:Role::{role['name']}.arn>"
    assert set(outputs["nodeGroups"]) == {"blue"}
    assert outputs["workloadQueues"] == {"orders-worker": "<after-deploy:aws:sqs/queue:Queue::worker-orders-worker.url>"}


def test_components_parent_their_resources(plan):
    urns = {r["urn"]: r for r in plan.resources}
    expected_parent = {  # (type prefix, name prefix) -> parent component type
        ("aws:ec2/", "network"): "eks-bottlerocket:index:Network",
        ("aws:iam/", "nodes"): "eks-bottlerocket:index:NodeRole",
        ("aws:iam/", "karpenter-nodes"): "eks-bottlerocket:index:NodeRole",
        ("aws:iam/", "karpenter-controller"): "eks-bottlerocket:index:Karpenter",
        ("aws:iam/role:Role", "keda-"): "eks-bottlerocket:index:Keda",
        ("aws:kms/", ""): "eks-bottlerocket:index:Cluster",
        ("aws:iam/", "cluster-vpc-cni"): "eks-bottlerocket:index:Cluster",
        ("aws:eks/podIdentityAssociation", "cluster-vpc-cni"): "eks-bottlerocket:index:Cluster",
        ("eks:index:Cluster", ""): "eks-bottlerocket:index:Cluster",
        ("aws:eks/addon", ""): "eks-bottlerocket:index:Cluster",
        ("aws:eks/addon", "eks-addons-"): "eks-bottlerocket:index:EksAddons",
        ("aws:eks/nodeGroup", ""): "eks-bottlerocket:index:BottlerocketNodeGroup",
        ("aws:ec2/launchTemplate", ""): "eks-bottlerocket:index:BottlerocketNodeGroup",
        ("aws:sqs/", "karpenter"): "eks-bottlerocket:index:Karpenter",
        ("aws:sqs/", "worker-"): "eks-bottlerocket:index:SqsWorker",
        ("kubernetes:karpenter", ""): "eks-bottlerocket:index:Karpenter",
        ("kubernetes:keda.sh", ""): "eks-bottlerocket:index:SqsWorker",
        ("kubernetes:apps/v1:Deployment", ""): "eks-bottlerocket:index:SqsWorker",
    }
    checked = 0
    for record in plan.resources:
        matches = [p for (typ, name), p in expected_parent.items() if record["type"].startswith(typ) and record["name"].startswith(name)]
        if matches:
            checked += 1
            assert urns[record["parent"]]["type"] == matches[-1], record["urn"]
    assert checked > 40


def test_no_placeholder_looks_like_a_real_value(plan):
    """Ids and ARNs only AWS can know are explicit placeholders, never invented real-looking values."""
    import json
    import re

    text = json.dumps(plan.document)
    assert not re.search(r"\b(vpc|subnet|igw|nat|eipalloc|rtb|lt)-[0-9a-f]{8,17}\b", text)
    assert not re.search(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:(?!role/platform-)", text)


def test_the_ssm_lookup_goes_through_the_explicit_provider():
    from automation.mock_engine import run_program
    from automation.stack_files import read_stack_config
    from tests.conftest import ROOT

    source = read_stack_config("dev")
    run = run_program(str(ROOT / "__main__.py"), source.engine_config, project=PROJECT, stack="dev", region="eu-west-1")
    (lookup,) = [invoke for invoke in run.invokes if invoke[0] == "aws:ssm/getParameter:getParameter"]
    assert lookup[1] == {"name": "/aws/service/bottlerocket/aws-k8s-1.33/x86_64/latest/image_version"}
    assert {invoke[0] for invoke in run.invokes} == {"aws:ssm/getParameter:getParameter", "aws:index/getCallerIdentity:getCallerIdentity",
                                                     "aws:eks/getAddonVersion:getAddonVersion"}
    # CoreDNS and the VPC CNI default to EKS' default version (mostRecent false) for the cluster's version.
    assert sorted((args["addonName"], args["kubernetesVersion"], args["mostRecent"])
                  for token, args, _ in run.invokes if token == "aws:eks/getAddonVersion:getAddonVersion") == [
        ("coredns", "1.33", False), ("vpc-cni", "1.33", False)]
    for _, _, provider in run.invokes:
        assert provider.split("::<after-deploy:")[0].endswith(AWS_PROVIDER_SUFFIX)


def test_plan_output_names_what_a_frozen_group_holds(prod_plan, dev_plan):
    assert ("Node group changes held until rollout (never applied to running nodes in place):\n"
            "  blue: Bottlerocket release; Kubernetes version; launch template version (Bottlerocket settings, volumes or tags)\n") in prod_plan.stdout
    assert "held until rollout" not in dev_plan.stdout  # dev tracks latest: every change rolls its nodes
