"""The stack config model: the shipped stacks validate, and broken ones fail with the exact key path."""

from __future__ import annotations

import json
import string
from typing import Any
from collections.abc import Callable

import pulumi
import pytest
import yaml

from automation.mock_engine import run_program
from core.config.base import ConfigError, format_path
from core import deployment
from core.config import stack_config
from core.config.stack_config import StackConfig, validate_stack_config
from tests.conftest import PROJECT, ROOT, make_plan, project_values


def test_shipped_stacks_validate():
    dev = validate_stack_config(project_values("dev"), "Pulumi.dev.yaml")
    prod = validate_stack_config(project_values("prod"), "Pulumi.prod.yaml")
    assert len(prod.network.availability_zones) == 3 and prod.node_groups["blue"].scaling.min_size >= 2
    assert prod.node_groups["blue"].data_volume.size_gib > dev.node_groups["blue"].data_volume.size_gib


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_config_assembled_from_its_sections_is_the_model_of_the_whole_stack(stack):
    """validate_stack_config builds StackConfig from the sections it validated (no second validation of the
    whole stack): the same model, defaults and which keys were set included."""
    values = project_values(stack)
    assembled = validate_stack_config(values, f"Pulumi.{stack}.yaml")
    whole = StackConfig.model_validate(values)
    assert assembled == whole and assembled.model_fields_set == whole.model_fields_set
    assert assembled.model_dump() == whole.model_dump()


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def edit(values: dict) -> None:
        *parents, last = path.split("/")
        node = values
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


_DELETE = object()

# (id, edit of the dev stack, expected key path, a fragment of the message)
BAD_CONFIGS = [
    ("unknown-top-level-key", _set("nodeGroup", {}), "nodeGroup", "did you mean 'nodeGroups'?"),
    ("missing-cluster", _set("cluster", _DELETE), "cluster", "required key is missing"),
    ("bad-region", _set("region", "europe"), "region", "not a region where EKS is available"),
    ("cluster-name", _set("cluster/name", "-bad name"), "cluster.name", "not a valid EKS cluster name"),
    ("version-as-number", _set("cluster/kubernetesVersion", 1.33), "cluster.kubernetesVersion", 'quote it ("1.33")'),
    ("unsupported-version", _set("cluster/kubernetesVersion", "1.20"), "cluster.kubernetesVersion", "not a supported Kubernetes version"),
    ("typo-in-endpoint", _set("cluster/endpoint/publicAcess", True), "cluster.endpoint.publicAcess", "did you mean 'publicAccess'?"),
    ("public-without-cidrs", _set("cluster/endpoint/publicAccessCidrs", []), "cluster.endpoint.publicAccessCidrs", "list the CIDRs"),
    ("bad-cidr", _set("cluster/endpoint/publicAccessCidrs", ["10.0.0.1/8"]), "cluster.endpoint.publicAccessCidrs[0]", "not an IPv4 CIDR"),
    ("bad-log-type", _set("cluster/logTypes", ["api", "audits"]), "cluster.logTypes[1]", "'audit'"),
    ("admin-arn", _set("cluster/adminPrincipalArns", ["platform-admin"]), "cluster.adminPrincipalArns[0]", "not an IAM role or user ARN"),
    ("one-az", _set("network/availabilityZones", ["eu-west-1a"]), "network.availabilityZones", "at least 2"),
    ("az-of-other-region", _set("network/availabilityZones/1", "us-east-1b"), "network.availabilityZones[1]", "not an availability zone of eu-west-1"),
    ("vpc-too-small", _set("network/cidr", "10.40.0.0/27"), "network.cidr", "too small"),
    ("nat-mode", _set("network/natGateways", "perAz"), "network.natGateways", "'onePerAz'"),
    ("group-name", _set("nodeGroups/Blue", {}), "nodeGroups.Blue", "not a node group name"),
    ("ami-type", _set("nodeGroups/blue/amiType", "AL2023_x86_64_STANDARD"), "nodeGroups.blue.amiType", "BOTTLEROCKET_x86_64"),
    ("arch-mismatch", _set("nodeGroups/blue/instanceTypes/1", "m7g.large"), "nodeGroups.blue.instanceTypes[1]", "is arm64 but amiType"),
    ("instance-type-name", _set("nodeGroups/blue/instanceTypes/0", "large"), "nodeGroups.blue.instanceTypes[0]", "not an EC2 instance type"),
    ("desired-outside-range", _set("nodeGroups/blue/scaling/desiredSize", 9), "nodeGroups.blue.scaling.desiredSize", "outside minSize..maxSize"),
    ("max-unavailable", _set("nodeGroups/blue/maxUnavailable", 7), "nodeGroups.blue.maxUnavailable", "larger than the group"),
    ("bad-pin", _set("nodeGroups/blue/releaseVersion", "v1.54"), "nodeGroups.blue.releaseVersion", "neither 'latest' nor"),
    ("freeze-not-bool", _set("nodeGroups/blue/freeze", "yes"), "nodeGroups.blue.freeze", "valid boolean"),
    ("small-data-volume", _set("nodeGroups/blue/dataVolume/sizeGiB", 10), "nodeGroups.blue.dataVolume.sizeGiB", "at least 20 GiB"),
    ("gp3-iops", _set("nodeGroups/blue/dataVolume/iops", 1000), "nodeGroups.blue.dataVolume.iops", "3000 to 80000"),
    ("gp3-iops-above-ec2", _set("nodeGroups/blue/dataVolume/iops", 80001), "nodeGroups.blue.dataVolume.iops", "3000 to 80000"),
    ("gp3-throughput-above-ec2", _set("nodeGroups/blue/dataVolume/throughput", 2001), "nodeGroups.blue.dataVolume.throughput", "less than or equal to 2000"),
    ("label-key", _set("nodeGroups/blue/labels", {"bad key!": "x"}), 'nodeGroups.blue.labels["bad key!"]', "not a valid Kubernetes label key"),
    ("taint-effect", _set("nodeGroups/blue/taints", [{"key": "dedicated", "effect": "NoSchedul"}]), "nodeGroups.blue.taints[0].effect", "'NoSchedule'"),
    ("all-disabled", _set("nodeGroups/blue/enabled", False), "nodeGroups", "no node group is enabled"),
    ("bottlerocket-unknown-table", _set("bottlerocket/kernal", {}), "bottlerocket.kernal", "did you mean 'kernel'?"),
    ("bottlerocket-unknown-key", _set("bottlerocket/kubernetes", {"evictionHard": {}}), "bottlerocket.kubernetes.evictionHard", "did you mean 'eviction-hard'?"),
    ("bad-quantity", _set("bottlerocket/kubernetes", {"container-log-max-size": "10MB"}), "bottlerocket.kubernetes.container-log-max-size", "not a Kubernetes quantity"),
    ("threshold-100", _set("bottlerocket/kubernetes", {"eviction-hard": {"nodefs.available": "100%"}}), 'bottlerocket.kubernetes.eviction-hard["nodefs.available"]', "below 100%"),
    ("bad-duration", _set("bottlerocket/kubernetes", {"eviction-soft-grace-period": {"memory.available": "30"}}), 'bottlerocket.kubernetes.eviction-soft-grace-period["memory.available"]', "not a duration"),
    ("soft-without-grace", _set("bottlerocket/kubernetes", {"eviction-soft": {"imagefs.available": "20%"}}), 'bottlerocket.kubernetes.eviction-soft-grace-period["imagefs.available"]', "no grace period"),
    ("image-gc-order", _set("bottlerocket/kubernetes", {"image-gc-low-threshold-percent": 90}), "bottlerocket.kubernetes.image-gc-low-threshold-percent", "must be below image-gc-high-threshold-percent"),
    ("sysctl-number", _set("bottlerocket/kernel", {"sysctl": {"net.core.somaxconn": 4096}}), 'bottlerocket.kernel.sysctl["net.core.somaxconn"]', "4096 is unquoted, so YAML reads it as the number 4096"),
    ("lockdown-value", _set("bottlerocket/kernel", {"lockdown": "off"}), "bottlerocket.kernel.lockdown", "'integrity'"),
    ("eks-injected-key", _set("bottlerocket/kubernetes", {"cluster-dns-ip": "10.100.0.10"}), "bottlerocket.kubernetes.cluster-dns-ip", "EKS injects this"),
    ("labels-in-settings", _set("nodeGroups/blue/bottlerocket", {"kubernetes": {"node-labels": {"a": "b"}}}), "nodeGroups.blue.bottlerocket.kubernetes.node-labels", "nodeGroups.<name>.labels"),
    ("reserved-too-much", _set("nodeGroups/blue/bottlerocket", {"kubernetes": {"system-reserved": {"memory": "7Gi"}}}), "nodeGroups.blue.bottlerocket.kubernetes.system-reserved.memory", "for pods; at least 1024Mi"),
    ("soft-not-looser", _set("nodeGroups/blue/bottlerocket", {"kubernetes": {"eviction-soft": {"memory.available": "400Mi"}}}), 'nodeGroups.blue.bottlerocket.kubernetes.eviction-soft["memory.available"]', "must leave more free"),
    ("quote-in-value", _set("nodeGroups/blue/bottlerocket", {"motd": 'say "hi"'}), "nodeGroups.blue.bottlerocket", "escaped quote"),
    ("visibility-below-processing", _set("workloads/0/queue/visibilityTimeoutSeconds", 10), "workloads[0].queue.visibilityTimeoutSeconds", "shorter than processingSeconds"),
    ("min-above-max-replicas", _set("workloads/0/scaling/minReplicas", 40), "workloads[0].scaling.minReplicas", "above maxReplicas"),
    ("grace-below-processing", _set("workloads/0/terminationGracePeriodSeconds", 5), "workloads[0].terminationGracePeriodSeconds", "killed mid-message"),
    ("image-latest", _set("workloads/0/image", "example/worker:latest"), "workloads[0].image", "latest tag"),
    ("workload-typo", _set("workloads/0/procesingSeconds", 5), "workloads[0].procesingSeconds", "did you mean 'processingSeconds'?"),
    ("workloads-without-keda", _set("keda", _DELETE), "workloads", "add a `keda` section"),
    ("version-from-disabled", _set("karpenter/nodeClass/versionFrom", "green"), "karpenter.nodeClass.versionFrom", "not an enabled node group"),
    ("karpenter-drops-key", _set("bottlerocket/kubernetes", {"image-minimum-gc-age": "5m"}), "bottlerocket.kubernetes.image-minimum-gc-age", "Karpenter drops this key"),
    ("budget-schedule-alone", _set("karpenter/nodePools/default/disruption/budgets", [{"nodes": "0", "schedule": "@daily"}]), "karpenter.nodePools.default.disruption.budgets[0]", "set together"),
    ("node-pool-duration", _set("karpenter/nodePools/default/expireAfter", "30d"), "karpenter.nodePools.default.expireAfter", "not a Karpenter duration"),
    ("secret-in-plain-text", _set("workloadSecrets", {"orders-worker": {"API_TOKEN": "hunter2"}}), "workloadSecrets", "pulumi config set --secret"),
    ("duplicate-workload", lambda v: v["workloads"].append(dict(v["workloads"][0])), "workloads[1].name", "already named 'orders-worker'"),
    ("tag-key", _set("tags", {"aws:owner": "me"}), 'tags["aws:owner"]', "not a tag key"),
    # issue 14: values the consuming system would refuse, checked with its grammar
    ("quantity-two-dots", _set("bottlerocket/kubernetes", {"container-log-max-size": "1.2.3Gi"}), "bottlerocket.kubernetes.container-log-max-size", "not a Kubernetes quantity"),
    ("quantity-negative", _set("nodeGroups/blue/bottlerocket", {"kubernetes": {"kube-reserved": {"cpu": "-100m"}}}), "nodeGroups.blue.bottlerocket.kubernetes.kube-reserved.cpu", "not negative"),
    ("threshold-inner-space", _set("bottlerocket/kubernetes", {"eviction-hard": {"nodefs.available": "5 %"}}), 'bottlerocket.kubernetes.eviction-hard["nodefs.available"]', "not a percentage"),
    ("threshold-zero-quantity", _set("bottlerocket/kubernetes", {"eviction-hard": {"memory.available": "0"}}), 'bottlerocket.kubernetes.eviction-hard["memory.available"]', "above zero"),
    ("duration-trailing-newline", _set("karpenter/nodeClass/bottlerocket", {"kubernetes": {"shutdown-grace-period": "30s\n"}}), "karpenter.nodeClass.bottlerocket.kubernetes.shutdown-grace-period", "not a duration"),
    ("label-value-trailing-newline", _set("nodeGroups/blue/labels", {"team": "web\n"}), "nodeGroups.blue.labels.team", "not a valid Kubernetes label value"),
    ("label-key-upper-case-prefix", _set("nodeGroups/blue/labels", {"Example.com/team": "web"}), 'nodeGroups.blue.labels["Example.com/team"]', "lower-case DNS prefix"),
    ("pin-trailing-newline", _set("nodeGroups/blue/releaseVersion", "1.54.0-5043decc\n"), "nodeGroups.blue.releaseVersion", "neither 'latest' nor"),
    ("node-label-reserved-domain", _set("nodeGroups/blue/labels", {"node-role.kubernetes.io/worker": ""}), 'nodeGroups.blue.labels["node-role.kubernetes.io/worker"]', "reserved kubernetes.io domain"),
    ("node-pool-label-karpenter-domain", _set("karpenter/nodePools/default/labels", {"karpenter.sh/nodepool": "x"}), 'karpenter.nodePools.default.labels["karpenter.sh/nodepool"]', "restricted by Karpenter"),
    ("node-pool-label-reserved-domain", _set("karpenter/nodePools/default/labels", {"app.k8s.io/tier": "x"}), 'karpenter.nodePools.default.labels["app.k8s.io/tier"]', "reserved k8s.io domain"),
    ("worker-in-kube-system", _set("workloads/0/namespace", "kube-system"), "workloads[0].namespace", "already exists in the cluster (Kubernetes)"),
    ("worker-in-keda-namespace", _set("workloads/0/namespace", "keda"), "workloads[0].namespace", "already exists in the cluster (KEDA)"),
    ("worker-env-overrides-injected", _set("workloads/0/env", {"QUEUE_URL": "https://example.com"}), "workloads[0].env.QUEUE_URL", "is set for every worker"),
    ("worker-env-overrides-pod-identity", _set("workloads/0/env", {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://x"}), "workloads[0].env.AWS_CONTAINER_CREDENTIALS_FULL_URI", "EKS Pod Identity"),
    ("unknown-region", _set("region", "eu-wset-1"), "region", "did you mean 'eu-west-1'?"),
    ("region-trailing-newline", _set("region", "eu-west-1\n"), "region", "not a region where EKS is available"),
    ("vpc-cidr-too-large", _set("network/cidr", "10.0.0.0/8"), "network.cidr", "between a /16 and a /28"),
    ("kms-key-other-region", _set("cluster/secretsEncryption", {"kmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
     "cluster.secretsEncryption.kmsKeyArn", "EKS needs a KMS key in the cluster's region (eu-west-1)"),
    ("assumed-role-admin", _set("cluster/adminPrincipalArns", ["arn:aws:sts::111122223333:assumed-role/platform-admin/alice"]),
     "cluster.adminPrincipalArns[0]", "give the role itself: arn:aws:iam::111122223333:role/platform-admin"),
    ("same-principal-twice", _set("cluster/adminPrincipalArns", ["arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/a"]),
     "cluster.adminPrincipalArns[1]", "one access entry per principal"),
    ("principal-other-partition", _set("cluster/adminPrincipalArns", ["arn:aws-cn:iam::111122223333:role/a"]), "cluster.adminPrincipalArns[0]", "aws-cn partition"),
    ("tag-key-aws-upper-case", _set("tags", {"AWS:owner": "me"}), 'tags["AWS:owner"]', "not a tag key"),
    ("too-many-tags", _set("tags", {f"team-{i}": "x" for i in range(47)}), "tags", "at most 46"),
    # issue 13 point 7: physical names past AWS limits
    ("node-group-prefix-too-long", _set("cluster/name", "platform-development-eu-west-one"), "nodeGroups.green", "at most 37"),
    ("interruption-queue-too-long", _set("cluster/name", "p" * 81), "cluster.name", "Karpenter's interruption queue"),
    ("worker-queue-too-long", _set("cluster/name", "p" * 70), "workloads[0].name", "SQS allows at most 80"),
    ("cluster-name-too-long", _set("cluster/name", "p" * 101), "cluster.name", "AWS allows at most 100"),
    ("kube-reserved-too-large", _set("nodeGroups/blue/bottlerocket", {"kubernetes": {"kube-reserved": {"memory": "7Gi"}}}),
     "nodeGroups.blue.bottlerocket.kubernetes.kube-reserved.memory", "for pods; at least 1024Mi"),
    ("hard-threshold-above-default-soft", _set("bottlerocket/kubernetes", {"eviction-hard": {"memory.available": "3Gi", "nodefs.available": "10%",
                                                                                         "nodefs.inodesFree": "5%", "imagefs.available": "15%"}}),
     'bottlerocket.kubernetes.eviction-hard["memory.available"]', "must leave more free than the hard one"),
    ("suppression-in-stack-tags", _set("tags", {"policy.eks-bottlerocket/endpoint-not-open-production": "we know what we do"}),
     'tags["policy.eks-bottlerocket/endpoint-not-open-production"]', "cannot suppress a guardrail"),
    ("aws-key-id-in-env", _set("workloads/0/env", {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}), "workloads[0].env.AWS_ACCESS_KEY_ID", "an AWS access key id in plain text"),
    ("private-key-in-sysctl-free-text", _set("bottlerocket/motd", "-----BEGIN RSA PRIVATE KEY-----"), "bottlerocket.motd", "a private key in plain text"),
    ("graviton-without-g-in-x86-group", _set("nodeGroups/blue/instanceTypes/1", "a1.large"), "nodeGroups.blue.instanceTypes[1]", "is arm64 but amiType"),
    ("instance-type-typo", _set("nodeGroups/blue/instanceTypes/0", "m6i.lage"), "nodeGroups.blue.instanceTypes[0]", "did you mean 'm6i.large'?"),
    ("amd-gpu-with-nvidia-ami", _set("nodeGroups/green", {"amiType": "BOTTLEROCKET_x86_64_NVIDIA", "instanceTypes": ["g4ad.xlarge"],
                                                          "scaling": {"minSize": 0, "desiredSize": 0, "maxSize": 2}}),
     "nodeGroups.green.instanceTypes[0]", "no recorded facts"),
    ("inferentia-with-nvidia-ami", _set("nodeGroups/green", {"amiType": "BOTTLEROCKET_x86_64_NVIDIA", "instanceTypes": ["inf2.xlarge"],
                                                            "scaling": {"minSize": 0, "desiredSize": 0, "maxSize": 2}}),
     "nodeGroups.green.instanceTypes[0]", "has no GPU, but amiType BOTTLEROCKET_x86_64_NVIDIA runs NVIDIA GPUs only"),
    ("node-label-empty-value", _set("nodeGroups/blue/labels", {"team": ""}), "nodeGroups.blue.labels.team", "EKS takes node group label values of 1 to 63"),
    ("node-label-key-over-63", _set("nodeGroups/blue/labels", {"teams.platform.example.com/" + "t" * 40: "web"}),
     'nodeGroups.blue.labels["teams.platform.example.com/' + "t" * 40 + '"]', "EKS takes node group label keys of 1 to 63"),
    ("taint-key-over-63", _set("nodeGroups/blue/taints", [{"key": "dedicated.platform.example.com/" + "d" * 40, "effect": "NoSchedule"}]),
     "nodeGroups.blue.taints[0].key", "EKS takes taint keys of 1 to 63"),
    ("same-worker-two-namespaces", lambda v: v["workloads"].append({**v["workloads"][0], "namespace": "batch"}), "workloads[1].name", "in namespace 'workers'; names are unique across namespaces"),
]


@pytest.mark.parametrize("edit, path, fragment", [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS])
def test_bad_config_names_the_key(edit, path, fragment):
    values = project_values("dev")
    edit(values)
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml")
    lines = caught.value.lines()
    matching = [line for line in lines if line.startswith(f"Pulumi.dev.yaml: {path}: ")]
    assert matching, f"no problem at {path}; got {lines}"
    assert any(fragment in line for line in matching), matching


def test_every_name_the_config_allows_makes_queue_names_of_characters_sqs_takes():
    """Only the queue names' length is validated: the characters a cluster name and a workload name may
    hold, joined by hyphens, are ones SQS takes (CreateQueue QueueName: alphanumerics, `-`, `_`)."""
    from pydantic import TypeAdapter, ValidationError

    from core import aws_limits
    from core.config.kubernetes import KubernetesName

    sqs_characters = set(string.ascii_letters + string.digits + "-_")
    workload_name = TypeAdapter(KubernetesName)
    for character in map(chr, range(32, 127)):
        if aws_limits.cluster_name_rule().problem(f"a{character}a") is None:
            assert character in sqs_characters, f"cluster names may hold {character!r}"
        try:
            workload_name.validate_python(f"a{character}a")
        except ValidationError:
            continue
        assert character in sqs_characters, f"workload names may hold {character!r}"
    assert set(aws_limits.dead_letter_queue_name("c", "w").replace("c", "").replace("w", "")) <= sqs_characters


def test_all_problems_are_reported_together():
    values = project_values("dev")
    edits = {name: edit for name, edit, *_ in BAD_CONFIGS}
    for name in ("bad-region", "typo-in-endpoint", "arch-mismatch", "bad-quantity"):
        edits[name](values)
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml")
    paths = {format_path(p.path) for p in caught.value.problems}
    assert {"region", "cluster.endpoint.publicAcess", "nodeGroups.blue.instanceTypes[1]",
            "bottlerocket.kubernetes.container-log-max-size"} <= paths
    assert caught.value.report().startswith(f"{len(caught.value.problems)} problems in the stack configuration; nothing was deployed:")


def test_stack_wide_problem_points_at_the_stack_wide_key():
    """A merged-settings rule names the table the user has to edit."""
    values = project_values("dev")
    values["bottlerocket"]["kubernetes"] = {"eviction-soft": {"memory.available": "300Mi"}}
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml")
    assert [format_path(p.path) for p in caught.value.problems] == ['bottlerocket.kubernetes.eviction-soft["memory.available"]']


def test_karpenter_settings_are_validated_as_the_node_class_gets_them(monkeypatch):
    """The Karpenter rules judge the merge the EC2NodeClass is built from (core/deployment.py), which leaves
    out a stack-wide kube-reserved (sized for one instance type), not the merge a node group gets."""
    values = project_values("dev")
    values["bottlerocket"].setdefault("kubernetes", {})["kube-reserved"] = {"cpu": "150m", "memory": "700Mi"}
    judged: list[dict[str, Any]] = []
    original = stack_config.settings_problems
    monkeypatch.setattr(stack_config, "settings_problems",
                        lambda settings, smallest: judged.append(settings) or original(settings, smallest))
    config = validate_stack_config(values, "Pulumi.dev.yaml")
    deployed = deployment.karpenter_node_settings(config)
    assert "kube-reserved" not in deployed["kubernetes"]
    assert judged == [deployed]  # the node groups' rules, with the shared kube-reserved, run in core/config/node_groups.py


def test_invalid_config_plan_exits_2_and_writes_nothing(write_stack, tmp_path):
    broken = write_stack(_set("nodeGroups/blue/dataVolume/sizeGiB", 5), name="Pulumi.dev.yaml")
    out = tmp_path / "out"
    plan = make_plan("dev", out, config_file=broken)
    assert plan.exit_code == 2
    assert "Pulumi.dev.yaml: nodeGroups.blue.dataVolume.sizeGiB: must be at least 20 GiB" in plan.stderr
    assert "Traceback" not in plan.stderr
    assert not out.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (f"config:\n  {PROJECT}:region: [eu-west-1\n".encode(), "YAML syntax error at line"),
    (f"config:\n  {PROJECT}:region: ".encode() + b"\xff\xfe\n", "not UTF-8 text"),
    (b"- just\n- a list\n", "top level must be a map"),
    (b"config: 3\n", "config: must be a map"),
    (f"config:\n  {PROJECT}:nodeGroups:\n    blue: {{}}\n    blue: {{}}\n".encode(), "duplicate key 'blue' (first at line 3)"),
])
def test_unreadable_stack_files(tmp_path, content, message):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(content)
    plan = make_plan("dev", tmp_path / "out", config_file=path)
    assert plan.exit_code == 2 and message in plan.stderr and "Traceback" not in plan.stderr
    assert plan.stderr.startswith("Pulumi.dev.yaml: ")


def test_pulumi_up_reports_problems_as_a_clean_error_and_registers_nothing():
    """Under `pulumi up` the same list arrives as pulumi.RunError (printed without a traceback)."""
    values = project_values("dev")
    values["region"] = "europe"
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else __import__("json").dumps(v) for k, v in values.items()}
    with pytest.raises(pulumi.RunError) as caught:
        run_program(str(ROOT / "__main__.py"), config, project=PROJECT, stack="dev", region="eu-west-1")
    assert "Pulumi.dev.yaml: region: 'europe' is not a region where EKS is available" in str(caught.value)


@pytest.mark.parametrize("edit, path, fragment", [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS])
def test_bad_input_catalogue_through_the_plan_command(edit, path, fragment, write_stack, tmp_path, monkeypatch):
    """Every broken stack file: exit code 2, the stack file and exact key path on stderr, nothing registered or written."""
    import automation.plan

    def must_not_run(*args, **kwargs):
        raise AssertionError("the program ran although the configuration is invalid")

    monkeypatch.setattr(automation.plan, "run_program", must_not_run)
    out = tmp_path / "out"
    plan = make_plan("dev", out, config_file=write_stack(edit, name="Pulumi.dev.yaml"))
    assert plan.exit_code == 2
    lines = plan.stderr.splitlines()
    assert lines[0].endswith(("problem in the stack configuration; no plan was written:", "problems in the stack configuration; no plan was written:"))
    assert any(line.startswith(f"Pulumi.dev.yaml: {path}: ") and fragment in line for line in lines), lines
    assert "Traceback" not in plan.stderr and not out.exists()


def test_workload_secrets_must_name_a_workload_and_be_encrypted():
    values = project_values("dev")
    values["workloadSecrets"] = {"billing": {"API_TOKEN": "[secret]"}, "orders-worker": {"QUEUE_URL": "[secret]"}}
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml", secret_keys=["workloadSecrets"])
    assert caught.value.lines() == [
        "Pulumi.dev.yaml: workloadSecrets.billing: no workload is named 'billing'",
        "Pulumi.dev.yaml: workloadSecrets.orders-worker.QUEUE_URL: is set for every worker by the program or EKS Pod Identity "
        "(QUEUE_URL, AWS_REGION, PROCESSING_SECONDS, AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE); "
        "choose another name",
    ]


def test_secrets_outside_workload_secrets_are_refused_and_credentials_never_echoed():
    values = project_values("dev")
    values["workloads"][0]["env"] = {"LOG_LEVEL": "info", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}
    with pytest.raises(ConfigError) as caught:  # under `pulumi up` the engine marks the whole key secret
        validate_stack_config(values, "Pulumi.dev.yaml", secret_keys=["workloads"])
    assert "Pulumi.dev.yaml: workloads: is a Pulumi secret, which only workloadSecrets keeps secret" in caught.value.report()
    assert "AKIAIOSFODNN7EXAMPLE" not in caught.value.report()


def test_encrypted_workload_secrets_become_a_kubernetes_secret(write_stack, tmp_path):
    ciphertext = {"secure": "v1:AAAAAAAAAAAA:bm90LWEtcmVhbC1jaXBoZXJ0ZXh0"}
    plan = make_plan("dev", tmp_path / "out", config_file=write_stack(
        lambda v: v.update(workloadSecrets={"orders-worker": {"API_TOKEN": ciphertext}}), name="Pulumi.dev.yaml"))
    assert plan.exit_code == 0, plan.stderr
    secret = plan.one("kubernetes:core/v1:Secret", "worker-orders-worker-env")
    assert secret["inputs"]["stringData"] == "[secret]" and "hunter2" not in json.dumps(plan.document)
    (container,) = plan.one("kubernetes:apps/v1:Deployment", "worker-orders-worker")["inputs"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"key": "API_TOKEN", "name": "orders-worker-env"}}} in container["env"]
    mixed = write_stack(lambda v: v.update(workloadSecrets={"orders-worker": {"API_TOKEN": ciphertext, "OTHER": "plain"}}), name="Pulumi.dev.yaml")
    assert make_plan("dev", tmp_path / "mixed", config_file=mixed).exit_code == 2


def test_aws_region_instead_of_the_projects_region_gets_a_hint():
    """`aws:region` is the usual Pulumi habit; the program reads its own `<project>:region` and gives it to its
    own AWS provider, and the message says so, with the project's name (Pulumi.yaml's), not a fixed one."""
    values = project_values("dev")
    del values["region"]
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml", project="my-platform", other_keys={"aws:region": "eu-west-1"})
    assert caught.value.lines() == [
        "Pulumi.dev.yaml: region: required key is missing; the stack file sets aws:region, but this program reads "
        "my-platform:region and passes it to its own AWS provider, so aws:region does not set it; "
        "write `my-platform:region: eu-west-1`"]
    with pytest.raises(ConfigError) as caught:  # no aws:region: nothing to explain
        validate_stack_config(values, "Pulumi.dev.yaml", project="my-platform", other_keys={"aws:profile": "x"})
    assert caught.value.lines() == ["Pulumi.dev.yaml: region: required key is missing"]


def test_pulumi_up_explains_aws_region_too():
    values = project_values("dev")
    del values["region"]
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    with pytest.raises(pulumi.RunError) as caught:
        run_program(str(ROOT / "__main__.py"), {**config, "aws:region": "eu-west-1"}, project=PROJECT, stack="dev", region="eu-west-1")
    assert f"this program reads {PROJECT}:region and passes it to its own AWS provider" in str(caught.value)


def test_plan_explains_aws_region_too(write_stack, tmp_path):
    def move_region(values):
        del values["region"]

    stack_file = write_stack(move_region, name="Pulumi.dev.yaml")
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["aws:region"] = "eu-west-1"
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    plan = make_plan("dev", tmp_path / "plan", config_file=stack_file)
    assert plan.exit_code == 2
    assert f"this program reads {PROJECT}:region and passes it to its own AWS provider" in plan.stderr


def test_no_enabled_node_group_is_reported_once_not_as_a_controller_placement_problem():
    values = project_values("dev")
    for group in values["nodeGroups"].values():
        group["enabled"] = False
    with pytest.raises(ConfigError) as caught:
        validate_stack_config(values, "Pulumi.dev.yaml")
    paths = [format_path(problem.path) for problem in caught.value.problems]
    assert "nodeGroups" in paths and "karpenter.controller.replicas" not in paths
    assert any("no node group is enabled" in line for line in caught.value.lines())
