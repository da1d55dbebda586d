"""KEDA, Karpenter and the SQS worker in the offline plans of dev and prod, checked against upstream truth."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import tomlkit
import yaml

from core import karpenter
from core.config.karpenter import NodePoolConfig
from core.deployment import karpenter_node_settings
from core.release_version import release_policy
from core.config.stack_config import validate_stack_config
from core.user_data import DEFAULT_SETTINGS
from policy.rules import UNSCOPABLE_ACTIONS
from tests.conftest import make_plan, project_values
from tests.kubernetes_schemas import validate
from tests.upstream_data import UPSTREAM, karpenter_controller_policies, karpenter_event_patterns



@pytest.fixture(params=["dev", "prod"])
def plan(request, dev_plan, prod_plan):
    return {"dev": dev_plan, "prod": prod_plan}[request.param]


def _manifests(plan) -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted((plan.out_dir / "manifests").glob("*.yaml"))}


def _as_list(value):
    return value if isinstance(value, list) else [value]


# --- files of the plan ----------------------------------------------------------------------------

def test_plan_writes_a_manifest_per_kubernetes_object(plan):
    names = set(_manifests(plan))
    expected = {"ConfigMap-kube-system-kube-proxy-config.yaml", "EC2NodeClass-cluster-bottlerocket.yaml",
                "NodePool-cluster-default.yaml", "Namespace-cluster-workers.yaml", "ServiceAccount-workers-orders-worker.yaml",
                "Deployment-workers-orders-worker.yaml", "PodDisruptionBudget-workers-orders-worker.yaml",
                "NetworkPolicy-workers-orders-worker.yaml",
                "TriggerAuthentication-workers-orders-worker-aws.yaml", "ScaledObject-workers-orders-worker.yaml"}
    if plan.document["stack"] == "prod":
        expected.add("NodePool-cluster-burst.yaml")
    assert names == expected
    objects = [r for r in plan.resources if r["type"].startswith("kubernetes:") and "helm" not in r["type"] and "providers" not in r["type"]]
    assert len(objects) == len(names)


def test_helm_values_files_are_the_release_values(plan):
    for release in plan.of_type("kubernetes:helm.sh/v3:Release"):
        path = plan.out_dir / "helm" / f"{release['inputs']['name']}.values.yaml"
        assert yaml.safe_load(path.read_text()) == release["inputs"].get("values", {})


# --- upstream schemas -------------------------------------------------------------------------------

def test_every_object_validates_against_its_upstream_schema(plan):
    version = project_values(plan.document["stack"])["cluster"]["kubernetesVersion"]
    for name, manifest in _manifests(plan).items():
        try:
            validate(manifest, version)
        except (jsonschema.ValidationError, AssertionError) as error:
            pytest.fail(f"{name}: {error}")


def test_schema_check_catches_what_the_api_server_would_reject_or_prune():
    bad_trigger = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
                   "spec": {"scaleTargetRef": {"name": "x"}, "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueLength": 5}}]}}
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        validate(bad_trigger)
    pruned = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "x"},
              "spec": {"template": {"spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "x"},
                                             "requirements": [], "expireAfterr": "1h"}}}}
    with pytest.raises(jsonschema.ValidationError, match="expireAfterr"):
        validate(pruned)


def test_node_class_cel_rules_that_matter_here(prod_plan):
    node_class = _manifests(prod_plan)["EC2NodeClass-cluster-bottlerocket.yaml"]["spec"]
    assert ("role" in node_class) != ("instanceProfile" in node_class)  # exactly one of role / instanceProfile
    (term,) = node_class["amiSelectorTerms"]  # an alias term must be the only term
    assert set(term) == {"alias"} and re.fullmatch(r"^[a-zA-Z0-9]+@.+$", term["alias"]) and len(term["alias"]) <= 30
    assert "amiFamily" not in node_class  # implied by the alias
    devices = node_class["blockDeviceMappings"]
    assert sum(1 for d in devices if d.get("rootVolume")) == 1


# --- KEDA -------------------------------------------------------------------------------------------

def test_keda_release_and_irsa(plan):
    release = plan.one("kubernetes:helm.sh/v3:Release", "keda")
    inputs = release["inputs"]
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == ("keda", "2.20.2", "https://kedacore.github.io/charts")
    assert inputs["namespace"] == "keda" and inputs["name"] == "keda"
    role = plan.one("aws:iam/role:Role", "keda-operator")
    assert inputs["values"]["podIdentity"]["aws"]["irsa"] == {"enabled": True, "roleArn": f"<after-deploy:aws:iam/role:Role::{role['name']}.arn>"}
    expected_replicas = {"dev": 1, "prod": 2}[plan.document["stack"]]
    assert inputs["values"]["operator"]["replicaCount"] == expected_replicas
    assert set(inputs["values"]["resources"]["operator"]) == {"requests", "limits"}
    (statement,) = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    issuer = "<after-deploy:eks:index:Cluster::cluster.oidcProviderUrl>"
    assert statement["Condition"]["StringEquals"] == {f"{issuer}:sub": "system:serviceaccount:keda:keda-operator",
                                                       f"{issuer}:aud": "sts.amazonaws.com"}
    assert release["provider"].endswith("pulumi:providers:kubernetes::cluster-k8s")


def _leaf_paths(values: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        paths |= _leaf_paths(value, f"{path}.") if isinstance(value, dict) and value else {path}
    return paths


def test_keda_values_are_keys_of_the_chart(plan):
    """Every value the program passes to the KEDA chart is a key of the chart's own values.yaml (2.20.2);
    Helm ignores an unknown key silently."""
    chart = _leaf_paths(yaml.safe_load((UPSTREAM / "keda-chart-2.20.2" / "values.yaml").read_text()))
    ours = _leaf_paths(plan.one("kubernetes:helm.sh/v3:Release", "keda")["inputs"]["values"])
    # A chart key whose default is `{}` (affinity, podDisruptionBudget.operator, ...) is an object the
    # templates pass through whole (`toYaml`), so any path below it is the chart's.
    unknown = {path for path in ours if path not in chart
               and not any(path.startswith(f"{open_map}.") for open_map in chart)}
    assert ours and not unknown, unknown


# --- Karpenter ----------------------------------------------------------------------------------------

def test_karpenter_releases(plan):
    stack = plan.document["stack"]
    controller = plan.one("kubernetes:helm.sh/v3:Release", "karpenter")
    crds = plan.one("kubernetes:helm.sh/v3:Release", "karpenter-crd")
    assert (controller["inputs"]["chart"], controller["inputs"]["version"]) == ("oci://public.ecr.aws/karpenter/karpenter", "1.14.1")
    assert (crds["inputs"]["chart"], crds["inputs"]["version"]) == ("oci://public.ecr.aws/karpenter/karpenter-crd", "1.14.1")
    assert controller["inputs"]["skipCrds"] is True and controller["inputs"]["namespace"] == "kube-system"
    values = controller["inputs"]["values"]
    queue = plan.one("aws:sqs/queue:Queue", "karpenter-interruption")
    assert values["settings"] == {"clusterName": f"platform-{stack}", "interruptionQueue": queue["inputs"]["name"]}
    assert queue["inputs"]["name"] == f"platform-{stack}"  # the queue *name*, not its URL or ARN
    assert values["serviceAccount"] == {"name": "karpenter"} and values["replicas"] == {"dev": 1, "prod": 2}[stack]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"},
                                           {"key": "eks-bottlerocket/colour", "operator": "Exists"}]}]
    assert crds["urn"] in controller["options"]["dependsOn"]
    association = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller")
    assert association["urn"] in controller["options"]["dependsOn"]
    assert (association["inputs"]["namespace"], association["inputs"]["serviceAccount"]) == ("kube-system", "karpenter")


def test_interruption_queue_and_policy(plan):
    queue = plan.one("aws:sqs/queue:Queue", "karpenter-interruption")
    assert queue["inputs"]["messageRetentionSeconds"] == 300 and queue["inputs"]["sqsManagedSseEnabled"] is True
    policy = json.loads(plan.one("aws:sqs/queuePolicy:QueuePolicy", "karpenter-interruption")["inputs"]["policy"])
    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow" and allow["Action"] == "sqs:SendMessage"
    assert set(allow["Principal"]["Service"]) == {"events.amazonaws.com", "sqs.amazonaws.com"}
    assert deny == {"Sid": "DenyHTTP", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": allow["Resource"],
                    "Condition": {"Bool": {"aws:SecureTransport": False}}}


SAMPLE_EVENTS = {
    "scheduled-change": {"source": "aws.health", "detail-type": "AWS Health Event"},
    "spot-interruption": {"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning"},
    "rebalance": {"source": "aws.ec2", "detail-type": "EC2 Instance Rebalance Recommendation"},
    "instance-state-change": {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"},
    "capacity-reservation-interruption": {"source": "aws.ec2", "detail-type": "EC2 Capacity Reservation Instance Interruption Warning"},
}


def _matches(pattern: dict, event: dict) -> bool:
    """EventBridge matching for patterns of top-level exact-value lists."""
    return all(event.get(field) in values for field, values in pattern.items())


def test_eventbridge_rules_match_exactly_their_event_type(plan):
    queue = plan.one("aws:sqs/queue:Queue", "karpenter-interruption")
    rules = {r["name"].removeprefix("karpenter-"): json.loads(r["inputs"]["eventPattern"]) for r in plan.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert set(rules) == set(SAMPLE_EVENTS)
    for rule, pattern in rules.items():
        assert [kind for kind, event in SAMPLE_EVENTS.items() if _matches(pattern, event)] == [rule]
        assert not _matches(pattern, {"source": "aws.ec2", "detail-type": "EC2 Instance Launch Successful"})
    for target in plan.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        assert target["inputs"]["arn"] == f"<after-deploy:aws:sqs/queue:Queue::{queue['name']}.arn>"
        assert target["inputs"]["rule"] == f"<after-deploy:aws:cloudwatch/eventRule:EventRule::{target['name']}.name>"


def test_eventbridge_patterns_match_upstream():
    upstream = karpenter_event_patterns()
    assert sorted(map(json.dumps, upstream)) == sorted(json.dumps(p) for p in karpenter.INTERRUPTION_EVENTS.values())


def test_controller_policies_equal_upstream_templates():
    args = {"partition": "aws", "region": "eu-west-1", "account": "111122223333", "cluster_name": "platform-prod",
            "node_role_arn": "arn:aws:iam::111122223333:role/karpenter-nodes", "queue_arn": "arn:aws:sqs:eu-west-1:111122223333:platform-prod"}
    substitutions = {"${AWS::Partition}": "aws", "${AWS::Region}": "eu-west-1", "${AWS::AccountId}": "111122223333",
                     "${ClusterName}": "platform-prod", "${KarpenterNodeRole.Arn}": args["node_role_arn"],
                     "${KarpenterInterruptionQueue.Arn}": args["queue_arn"]}
    rendered = karpenter.controller_policies(**args)
    upstream = karpenter_controller_policies(substitutions)
    assert set(rendered) == set(upstream)
    for name, document in rendered.items():
        assert document == upstream[name], name


def test_controller_iam_is_scoped(plan):
    stack = plan.document["stack"]
    policies = {p["name"].removeprefix("karpenter-"): json.loads(p["inputs"]["policy"]) for p in plan.of_type("aws:iam/policy:Policy")}
    assert set(policies) == {"NodeLifecycle", "IAMIntegration", "EKSIntegration", "Interruption", "ResourceDiscovery", "ZonalShift"}
    for name, document in policies.items():
        assert len(json.dumps(document)) <= 6144, name  # the managed-policy size limit
        for statement in document["Statement"]:
            actions = set(_as_list(statement["Action"]))
            assert "*" not in actions and not any(a.endswith(":*") for a in actions if statement["Effect"] == "Allow")
            if statement["Resource"] == "*":
                assert actions <= UNSCOPABLE_ACTIONS, (name, statement["Sid"])
    text = json.dumps(policies)
    assert f"kubernetes.io/cluster/platform-{stack}" in text and f"cluster/platform-{stack}" in text
    role = plan.one("aws:iam/role:Role", "karpenter-controller")
    (trust,) = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"} and trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    attached = {a["inputs"]["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a["name"].startswith("karpenter-") and not a["name"].startswith("karpenter-nodes")}
    assert attached == {f"<after-deploy:aws:iam/policy:Policy::karpenter-{n}.arn>" for n in policies}


def test_karpenter_nodes_role_and_access_entry(plan):
    role = plan.one("aws:iam/role:Role", "karpenter-nodes")
    entry = plan.one("aws:eks/accessEntry:AccessEntry", "karpenter-nodes")
    assert entry["inputs"] == {"clusterName": f"platform-{plan.document['stack']}", "principalArn": f"<after-deploy:aws:iam/role:Role::{role['name']}.arn>", "type": "EC2_LINUX"}
    node_class = _manifests(plan)["EC2NodeClass-cluster-bottlerocket.yaml"]["spec"]
    assert node_class["role"] == f"<after-deploy:aws:iam/role:Role::{role['name']}.name>"
    tag = plan.one("aws:ec2/tag:Tag", "karpenter-security-group-discovery")
    assert tag["inputs"] == {"key": "karpenter.sh/discovery", "resourceId": "<after-deploy:eks:index:Cluster::cluster.clusterSecurityGroupId>",
                             "value": f"platform-{plan.document['stack']}"}


def test_node_class_follows_the_node_groups(plan):
    stack = plan.document["stack"]
    config = validate_stack_config(project_values(stack), f"Pulumi.{stack}.yaml")
    node_class = _manifests(plan)["EC2NodeClass-cluster-bottlerocket.yaml"]["spec"]
    assert node_class["amiSelectorTerms"] == [{"alias": {"dev": "bottlerocket@latest", "prod": "bottlerocket@v1.54.0"}[stack]}]
    assert plan.outputs["karpenterAmiAlias"] == node_class["amiSelectorTerms"][0]["alias"]
    assert node_class["subnetSelectorTerms"] == node_class["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": f"platform-{stack}"}}]
    template = plan.one("aws:ec2/launchTemplate:LaunchTemplate", "blue")["inputs"]
    for device, ebs in ((m["deviceName"], m["ebs"]) for m in node_class["blockDeviceMappings"]):
        (group_ebs,) = [m["ebs"] for m in template["blockDeviceMappings"] if m["deviceName"] == device]
        assert ebs["volumeSize"] == f"{group_ebs['volumeSize']}Gi" and ebs["volumeType"] == group_ebs["volumeType"]
        assert ebs.get("iops") == group_ebs.get("iops") and ebs.get("throughput") == group_ebs.get("throughput")
    assert node_class["metadataOptions"]["httpTokens"] == "required"
    settings = tomlkit.parse(node_class["userData"]).unwrap()["settings"]
    assert settings == karpenter.split_node_class_settings(karpenter_node_settings(config))[0]


def test_node_class_and_node_group_agree_on_every_shared_setting(plan):
    """A setting both carry has one value, whether in the TOML or moved to spec.kubelet; kube-reserved alone
    is left to Karpenter, which sizes it per instance type (tests/test_karpenter_capacity.py)."""
    node_class = _manifests(plan)["EC2NodeClass-cluster-bottlerocket.yaml"]["spec"]
    node_class_settings = tomlkit.parse(node_class["userData"]).unwrap()["settings"]
    group = tomlkit.parse(plan.user_data("blue")).unwrap()["settings"]
    kubelet_by_key = {key: node_class["kubelet"][field] for key, field in karpenter.KUBELET_FIELDS.items() if field in node_class["kubelet"]}
    for key, value in group["kubernetes"].items():
        if key in kubelet_by_key:
            assert kubelet_by_key[key] == value, key
        elif key in node_class_settings.get("kubernetes", {}):
            assert node_class_settings["kubernetes"][key] == value, key
        elif key != "kube-reserved":
            pytest.fail(f"{key} reaches managed nodes but not Karpenter's")
    for table in ("kernel", "host-containers"):
        assert node_class_settings[table] == group[table]
    assert set(node_class_settings["kubernetes"]).isdisjoint(karpenter.KUBELET_FIELDS)


def test_nothing_karpenter_drops_reaches_the_node_class(plan):
    node_class = _manifests(plan)["EC2NodeClass-cluster-bottlerocket.yaml"]["spec"]
    kubernetes = tomlkit.parse(node_class["userData"]).unwrap()["settings"].get("kubernetes", {})
    assert set(kubernetes) <= karpenter.KUBERNETES_KEYS_KARPENTER_KEEPS


def test_split_moves_modelled_kubelet_fields():
    remaining, kubelet, dropped = karpenter.split_node_class_settings(
        {**DEFAULT_SETTINGS, "kubernetes": {**DEFAULT_SETTINGS["kubernetes"], "max-pods": 58, "image-minimum-gc-age": "2m"}})
    assert kubelet["maxPods"] == 58 and kubelet["imageGCHighThresholdPercent"] == 85 and kubelet["evictionHard"]["memory.available"] == "500Mi"
    assert set(remaining["kubernetes"]) == {"pod-pids-limit", "container-log-max-size", "container-log-max-files", "image-minimum-gc-age"}
    assert dropped == ["image-minimum-gc-age"]


@pytest.mark.parametrize("requested, frozen, effective, alias", [
    ("latest", False, "1.55.0-abcdef12", "bottlerocket@latest"),
    ("latest", True, "1.52.1-0123abcd", "bottlerocket@v1.52.1"),
    ("1.54.0-5043decc", False, "1.54.0-5043decc", "bottlerocket@v1.54.0"),
    ("1.54.0-5043decc", True, "1.50.0-aaaabbbb", "bottlerocket@v1.50.0"),  # frozen: what the group really runs
    # any other shape is named whole: offline, a frozen `latest` shows the alias will pin the version the group is created with
    ("latest", True, "<after-deploy:aws:eks/nodeGroup:NodeGroup::blue.releaseVersion>",
     "bottlerocket@v<after-deploy:aws:eks/nodeGroup:NodeGroup::blue.releaseVersion>"),
])
def test_alias_follows_the_version_policy(requested, frozen, effective, alias):
    assert karpenter.ami_alias(release_policy("1.33", "BOTTLEROCKET_x86_64", requested, frozen), effective) == alias


def test_node_pools(plan):
    stack = plan.document["stack"]
    pools = {name: m for name, m in _manifests(plan).items() if name.startswith("NodePool-")}
    default = pools["NodePool-cluster-default.yaml"]["spec"]
    assert default["template"]["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "bottlerocket"}
    requirements = {r["key"]: (r["operator"], r["values"]) for r in default["template"]["spec"]["requirements"]}
    assert requirements["kubernetes.io/arch"] == ("In", ["amd64"])
    assert requirements["karpenter.k8s.aws/instance-generation"] == ("Gt", ["5"])
    assert requirements["karpenter.sh/capacity-type"] == ("In", {"dev": ["spot", "on-demand"], "prod": ["on-demand"]}[stack])
    assert default["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    if stack == "prod":
        assert default["weight"] == 50 and pools["NodePool-cluster-burst.yaml"]["spec"]["weight"] == 10
        assert default["disruption"]["budgets"][1] == {"nodes": "0", "reasons": ["Drifted"], "schedule": "0 8 * * mon-fri", "duration": "10h"}
    node_class = plan.one("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "karpenter-bottlerocket")
    for pool in plan.of_type("kubernetes:karpenter.sh/v1:NodePool"):
        assert node_class["urn"] in pool["options"]["dependsOn"]
        assert plan.one("kubernetes:helm.sh/v3:Release", "karpenter-crd")["urn"] in pool["options"]["dependsOn"]


def test_node_pool_with_taints_and_labels():
    pool = NodePoolConfig.model_validate({"taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}],
                                          "labels": {"workload": "batch"}, "weight": 5})
    manifest = karpenter.node_pool("batch", pool, "bottlerocket")
    assert manifest["spec"]["template"]["spec"]["taints"] == [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
    assert manifest["spec"]["template"]["metadata"]["labels"] == {"eks-bottlerocket/node-pool": "batch", "workload": "batch"}
    validate(manifest)


# --- the SQS worker -----------------------------------------------------------------------------------

def test_worker_queues(plan):
    queue = plan.one("aws:sqs/queue:Queue", "worker-orders-worker")["inputs"]
    dead_letters = plan.one("aws:sqs/queue:Queue", "worker-orders-worker-dlq")
    assert queue["sqsManagedSseEnabled"] is True and dead_letters["inputs"]["sqsManagedSseEnabled"] is True
    assert queue["visibilityTimeoutSeconds"] >= 20 and queue["receiveWaitTimeSeconds"] == 20
    assert json.loads(queue["redrivePolicy"]) == {"deadLetterTargetArn": f"<after-deploy:aws:sqs/queue:Queue::{dead_letters['name']}.arn>",
                                                  "maxReceiveCount": 5}
    assert queue["name"] == f"platform-{plan.document['stack']}-orders-worker"
    assert dead_letters["inputs"]["tags"] == {"eks-bottlerocket/dead-letter-queue-of": queue["name"]}  # for the guardrails


def test_worker_identity_is_limited_to_its_queue(plan):
    queue_arn = "<after-deploy:aws:sqs/queue:Queue::worker-orders-worker.arn>"
    (statement,) = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "worker-orders-worker-queue")["inputs"]["policy"])["Statement"]
    assert statement["Resource"] == queue_arn
    assert set(statement["Action"]) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
    association = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "worker-orders-worker")["inputs"]
    assert (association["namespace"], association["serviceAccount"]) == ("workers", "orders-worker")
    assert association["roleArn"] == "<after-deploy:aws:iam/role:Role::worker-orders-worker.arn>"
    keda_read = plan.one("aws:iam/rolePolicy:RolePolicy", "worker-orders-worker-keda-read")["inputs"]
    assert keda_read["role"] == "<after-deploy:aws:iam/role:Role::keda-operator.id>"
    assert json.loads(keda_read["policy"])["Statement"] == [{"Sid": "ReadQueueLength", "Effect": "Allow",
                                                              "Action": "sqs:GetQueueAttributes", "Resource": queue_arn}]


def test_worker_deployment(plan):
    manifests = _manifests(plan)
    deployment = manifests["Deployment-workers-orders-worker.yaml"]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert "replicas" not in deployment["spec"]  # KEDA owns it
    assert {"name": "QUEUE_URL", "value": "<after-deploy:aws:sqs/queue:Queue::worker-orders-worker.url>"} in container["env"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz" and container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["securityContext"]["runAsNonRoot"] is True and container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["terminationGracePeriodSeconds"] >= 20 and spec["terminationGracePeriodSeconds"] >= 60  # processing, soft-eviction grace
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spec["automountServiceAccountToken"] is False and container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    policy = manifests["NetworkPolicy-workers-orders-worker.yaml"]["spec"]
    assert policy == {"podSelector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]}, "policyTypes": ["Ingress"], "ingress": []}
    assert spec["serviceAccountName"] == manifests["ServiceAccount-workers-orders-worker.yaml"]["metadata"]["name"]
    assert manifests["PodDisruptionBudget-workers-orders-worker.yaml"]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_scaled_object_reproduces_the_burst_scenario(plan):
    scaled = _manifests(plan)["ScaledObject-workers-orders-worker.yaml"]["spec"]
    assert scaled["minReplicaCount"] == 0 and scaled["pollingInterval"] == 5
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    assert trigger["metadata"]["queueURL"] == "<after-deploy:aws:sqs/queue:Queue::worker-orders-worker.url>"
    assert trigger["metadata"]["awsRegion"] == "eu-west-1" and trigger["metadata"]["queueLength"] == "100"
    assert trigger["authenticationRef"] == {"name": "orders-worker-aws", "kind": "TriggerAuthentication"}
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    (up,) = behavior["scaleUp"]["policies"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0 and up == {"type": "Pods", "value": scaled["maxReplicaCount"], "periodSeconds": 15}
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 60
    assert scaled["fallback"]["replicas"] <= scaled["maxReplicaCount"]
    authentication = _manifests(plan)["TriggerAuthentication-workers-orders-worker-aws.yaml"]
    assert authentication["spec"] == {"podIdentity": {"provider": "aws"}}
    keda = plan.one("kubernetes:helm.sh/v3:Release", "keda")
    for kind in ("kubernetes:keda.sh/v1alpha1:ScaledObject", "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"):
        (record,) = plan.of_type(kind)
        assert keda["urn"] in record["options"]["dependsOn"]


def test_stack_without_addons_registers_none(write_stack, tmp_path):
    def strip(values):
        for key in ("keda", "karpenter", "workloads"):
            del values[key]

    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(strip))
    assert plan.exit_code == 0, plan.stderr
    assert not [r for r in plan.resources if r["type"].startswith(("kubernetes:helm", "kubernetes:keda", "kubernetes:karpenter", "aws:sqs"))]
    assert not list((plan.out_dir / "helm").iterdir())
