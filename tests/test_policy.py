"""Guardrails: the rules on the shipped plans, each rule tripped on purpose, suppressions, the offline
plan's exit code, and the same rules through pulumi-policy's CrossGuard objects."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
import sys
import threading

import pytest

from policy.rules import RULES, Resource, evaluate
from automation.stack_files import project_name
from tests.conftest import ROOT, make_plan


# What a CrossGuard preview of a deployed stack sees where the offline plan has a placeholder: ARNs, URLs,
# ids, and a real Bottlerocket version for a group that tracks `latest` (the SSM parameter read).
DEPLOYED_RELEASE = "1.55.0-a1b2c3d4"
ACCOUNT = "123456789012"
_PLACEHOLDER = re.compile(r"<after-deploy:([^>]*)>")


def _deployed_value(what: str) -> str:
    if what.startswith("ssm:") or what.endswith(".releaseVersion"):
        return DEPLOYED_RELEASE
    if what == "aws:accountId":
        return ACCOUNT
    if what.startswith("eks-addon-version:"):
        return "v1.19.2-eksbuild.1"
    resource, _, output = what.rpartition(".")
    resource_type, _, name = resource.rpartition("::")
    if output == "arn":
        return f"arn:aws:{resource_type.split(':')[1].split('/')[0]}:eu-west-1:{ACCOUNT}:{name}"
    if output == "url":
        return f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{name}"
    return "3" if output == "latestVersion" else f"{name}-0f1e2d3c4b5a6978"


def _resources(plan, deployed: bool = False) -> list[Resource]:
    """The plan's resources; with `deployed`, every placeholder replaced by a realistic post-deploy value."""
    resources = [Resource(r["type"], r["name"], r["urn"], copy.deepcopy(r["inputs"])) for r in plan.resources]
    if not deployed:
        return resources
    replace = lambda text: _PLACEHOLDER.sub(lambda match: _deployed_value(match[1]), text)  # noqa: E731
    resources = [Resource(r.type, r.name, r.urn, json.loads(replace(json.dumps(r.props)))) for r in resources]
    assert "<after-deploy:" not in json.dumps([r.props for r in resources])
    return resources


def _one(resources, typ, name=None) -> Resource:
    return next(r for r in resources if r.type == typ and (name is None or r.name == name))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_pass_every_mandatory_rule(stack, dev_plan, prod_plan):
    plan = {"dev": dev_plan, "prod": prod_plan}[stack]
    report = json.loads((plan.out_dir / "policy.json").read_text())
    assert plan.exit_code == 0 and report["mandatory"] == [] and report["advisory"] == []
    (suppressed,) = report["suppressed"]
    assert suppressed["rule"] == "sqs-encrypted-with-dlq" and suppressed["urn"].endswith("::karpenter-interruption")
    assert "Policy: 0 mandatory and 0 advisory violation(s), 1 suppressed" in plan.stdout


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rules_judge_deployed_values_as_they_judge_the_offline_plan(stack, dev_plan, prod_plan):
    """No rule depends on a placeholder: the same verdicts once every value is a real one."""
    plan = {"dev": dev_plan, "prod": prod_plan}[stack]
    assert evaluate(_resources(plan, deployed=True)) == evaluate(_resources(plan))
    blue = _one(_resources(plan, deployed=True), "aws:eks/nodeGroup:NodeGroup", "blue")
    assert blue.props["releaseVersion"] in (DEPLOYED_RELEASE, "1.54.0-5043decc")


@pytest.mark.parametrize("deployed", [False, True], ids=["offline", "deployed"])
def test_version_rule_reads_the_published_release_policy(deployed, prod_plan):
    resources = _resources(prod_plan, deployed)
    group = _one(resources, "aws:eks/nodeGroup:NodeGroup", "blue")
    assert group.props["tags"]["eks-bottlerocket/release"] == "pinned" and group.props["tags"]["eks-bottlerocket/frozen"] == "true"
    group.props["tags"]["eks-bottlerocket/frozen"] = "false"  # pinned, real version, but not frozen
    (violation,) = evaluate(resources)[0]
    assert (violation.rule, violation.mandatory) == ("version-frozen-production", False) and "set freeze: true" in violation.message
    group.props["tags"].update({"eks-bottlerocket/release": "latest", "eks-bottlerocket/frozen": "true"})  # a frozen `latest`
    assert [v.rule for v in evaluate(resources)[0]] == ["version-frozen-production"]
    group.props["tags"].pop("eks-bottlerocket/release")  # a node group this program did not tag
    assert [v.rule for v in evaluate(resources)[0]] == ["version-frozen-production"]


@pytest.mark.parametrize("deployed", [False, True], ids=["offline", "deployed"])
def test_dead_letter_queues_are_known_by_their_tag(deployed, dev_plan):
    resources = _resources(dev_plan, deployed)
    dead_letters = _one(resources, "aws:sqs/queue:Queue", "worker-orders-worker-dlq")
    assert evaluate(resources)[0] == []
    dead_letters.props.pop("tags")  # another queue's redrive target, but not marked as a dead-letter queue
    assert [(v.rule, v.urn) for v in evaluate(resources)[0]] == [("sqs-encrypted-with-dlq", dead_letters.urn)]


def _set_user_data(resource: Resource, edit) -> None:
    import tomlkit

    document = tomlkit.parse(base64.b64decode(resource.props["userData"]).decode())
    edit(document["settings"])
    resource.props["userData"] = base64.b64encode(tomlkit.dumps(document).encode()).decode()


def _launch_template(resources):
    return _one(resources, "aws:ec2/launchTemplate:LaunchTemplate")


def _node_class_spec(resources):
    return _one(resources, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass").props["spec"]


def _deployment_container(resources):
    return _one(resources, "kubernetes:apps/v1:Deployment").props["spec"]["template"]["spec"]["containers"][0]


# rule -> (stack, breaking edit, fragment of the fix in the message)
BREAKS = {
    "imdsv2-required": ("dev", lambda rs: _launch_template(rs).props["metadataOptions"].update(httpTokens="optional"), "httpTokens to 'required'"),
    "ebs-encrypted": ("dev", lambda rs: _node_class_spec(rs)["blockDeviceMappings"][1]["ebs"].update(encrypted=False), "set encrypted to true"),
    "data-volume": ("dev", lambda rs: _launch_template(rs).props["blockDeviceMappings"].pop(), "add one (dataVolume.sizeGiB)"),
    "bottlerocket-user-data": ("dev", lambda rs: _set_user_data(_launch_template(rs), lambda s: s["kubernetes"].update({"eviction-hard": {"memory.available": "100Mi"}})), "a partial map sets the others to 0"),
    "kernel-lockdown-production": ("prod", lambda rs: _set_user_data(_launch_template(rs), lambda s: s["kernel"].update(lockdown="none")), "lockdown to 'integrity'"),
    "admin-container-production": ("prod", lambda rs: _set_user_data(_launch_template(rs), lambda s: s["host-containers"]["admin"].update(enabled=True)), "host-containers.admin.enabled (or its superpowered) to false"),
    "iam-least-privilege": ("dev", lambda rs: _one(rs, "aws:iam/rolePolicy:RolePolicy", "worker-orders-worker-queue").props.update(
        policy=json.dumps({"Statement": [{"Sid": "Broad", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})), "name the actions"),
    "sqs-encrypted-with-dlq": ("dev", lambda rs: _one(rs, "aws:sqs/queue:Queue", "worker-orders-worker").props.pop("redrivePolicy"), "set a redrivePolicy"),
    "workload-hardening": ("dev", lambda rs: _deployment_container(rs).pop("readinessProbe"), "needs a readiness probe"),
    "keda-trigger-strings": ("dev", lambda rs: _one(rs, "kubernetes:keda.sh/v1alpha1:ScaledObject").props["spec"]["triggers"][0]["metadata"].update(queueLength=100), "(quote it)"),
    "helm-chart-pinned": ("dev", lambda rs: _one(rs, "kubernetes:helm.sh/v3:Release", "keda").props.update(version="2.x"), "not pinned to an exact version"),
    "endpoint-not-open-production": ("prod", lambda rs: _one(rs, "eks:index:Cluster").props.update(publicAccessCidrs=["0.0.0.0/0"]), "list your own CIDRs"),
    "secrets-encryption": ("dev", lambda rs: _one(rs, "eks:index:Cluster").props.pop("encryptionConfigKeyArn"), "set cluster.secretsEncryption"),
    "audit-logs-production": ("prod", lambda rs: _one(rs, "eks:index:Cluster").props.update(enabledClusterLogTypes=["api"]), "add 'audit'"),
    "version-frozen-production": ("prod", lambda rs: _one(rs, "aws:eks/nodeGroup:NodeGroup").props["tags"].update(
        {"eks-bottlerocket/release": "latest"}), "pin releaseVersion"),
}


def test_every_rule_has_a_breaking_case():
    assert set(BREAKS) == {rule.name for rule in RULES}


@pytest.mark.parametrize("deployed", [False, True], ids=["offline", "deployed"])
@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_each_rule_trips_with_a_message_that_says_how_to_fix_it(rule, deployed, dev_plan, prod_plan):
    stack, edit, fix = BREAKS[rule]
    resources = _resources({"dev": dev_plan, "prod": prod_plan}[stack], deployed)
    edit(resources)
    violations, _ = evaluate(resources)
    assert {v.rule for v in violations} == {rule}, violations
    assert any(fix in v.message for v in violations)
    assert {v.mandatory for v in violations} == {next(r.mandatory for r in RULES if r.name == rule)}


def test_production_rules_do_not_apply_to_dev(dev_plan):
    resources = _resources(dev_plan)
    _set_user_data(_launch_template(resources), lambda s: s["host-containers"]["admin"].update(enabled=True))
    _one(resources, "eks:index:Cluster").props.update(publicAccessCidrs=["0.0.0.0/0"])
    assert evaluate(resources)[0] == []


def test_a_suppression_needs_a_reason(dev_plan):
    resources = _resources(dev_plan)
    queue = _one(resources, "aws:sqs/queue:Queue", "karpenter-interruption")
    queue.props["tags"]["policy.eks-bottlerocket/sqs-encrypted-with-dlq"] = "  "
    violations, suppressed = evaluate(resources)
    assert [v.rule for v in violations] == ["sqs-encrypted-with-dlq"] and suppressed == []
    deployment = _one(resources, "kubernetes:apps/v1:Deployment")
    _deployment_container(resources).pop("readinessProbe")
    deployment.props["metadata"]["annotations"]["policy.eks-bottlerocket/workload-hardening"] = "batch job, no HTTP server"
    violations, suppressed = evaluate(resources)
    assert "workload-hardening" not in {v.rule for v in violations}
    assert ("workload-hardening", deployment.urn, "batch job, no HTTP server") in suppressed


def test_one_word_reasons_and_stack_wide_tags_suppress_nothing(dev_plan):
    resources = _resources(dev_plan)
    _deployment_container(resources).pop("readinessProbe")
    deployment = _one(resources, "kubernetes:apps/v1:Deployment")
    deployment.props["metadata"]["annotations"]["policy.eks-bottlerocket/workload-hardening"] = "x"
    assert "workload-hardening" in {v.rule for v in evaluate(resources)[0]}
    # The stack's `tags` become the provider's default tags and reach every resource: never a suppression.
    queue = _one(resources, "aws:sqs/queue:Queue", "worker-orders-worker")
    queue.props.pop("redrivePolicy")
    key = "policy.eks-bottlerocket/sqs-encrypted-with-dlq"
    queue.props["tags"] = {key: "the stack owner said every queue may skip it"}
    _one(resources, "pulumi:providers:aws").props["defaultTags"]["tags"][key] = "the stack owner said every queue may skip it"
    violations, suppressed = evaluate(resources)
    assert "sqs-encrypted-with-dlq" in {v.rule for v in violations}
    assert key not in {f"policy.eks-bottlerocket/{rule}" for rule, _, _ in suppressed}


def test_open_endpoint_is_judged_by_the_addresses_it_lets_in(prod_plan):
    from policy.rules import open_share

    assert open_share(["0.0.0.0/1", "128.0.0.0/1"]) == 1.0 and open_share(["0.0.0.0/0"]) == 1.0
    assert open_share(["10.0.0.0/8"]) == 1 / 256 and open_share(["198.51.100.0/24", "203.0.113.0/24"]) < 1e-6
    resources = _resources(prod_plan)
    _one(resources, "eks:index:Cluster").props.update(publicAccessCidrs=["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"])
    assert [v.rule for v in evaluate(resources)[0]] == ["endpoint-not-open-production"]


@pytest.mark.parametrize("edit, rule", [
    (lambda v: v["bottlerocket"].update({"host-containers": {"admin": {"enabled": True}}}), "admin-container-production"),
    (lambda v: v["bottlerocket"].update({"host-containers": {"debug": {"enabled": True, "superpowered": True,
                                                                       "source": "public.ecr.aws/example/debug:1.0"}}}), "admin-container-production"),
    (lambda v: v["cluster"]["endpoint"].update(publicAccessCidrs=["0.0.0.0/1", "128.0.0.0/1"]), "endpoint-not-open-production"),
    (lambda v: v["bottlerocket"].update({"kernel": {"lockdown": "none"}}), "kernel-lockdown-production"),
    (lambda v: v["cluster"]["endpoint"].update(publicAccessCidrs=["0.0.0.0/0"]), "endpoint-not-open-production"),
    (lambda v: v["cluster"].update(logTypes=["api"]), "audit-logs-production"),
])
def test_plan_fails_on_a_mandatory_violation(edit, rule, write_stack, tmp_path):
    plan = make_plan("prod", tmp_path / "out", config_file=write_stack(edit, base="prod", name="Pulumi.prod.yaml"))
    assert plan.exit_code == 1
    assert f"[mandatory] {rule}:" in plan.stdout and "mandatory policy violation(s)" in plan.stderr
    assert json.loads((tmp_path / "out" / "policy.json").read_text())["mandatory"][0]["rule"] == rule


def test_advisory_violations_are_printed_but_do_not_fail(write_stack, tmp_path):
    def track_latest(values):
        values["nodeGroups"]["blue"].update(releaseVersion="latest", freeze=False)

    plan = make_plan("prod", tmp_path / "out", config_file=write_stack(track_latest, base="prod", name="Pulumi.prod.yaml"))
    assert plan.exit_code == 0 and "[advisory] version-frozen-production:" in plan.stdout


def test_crossguard_pack_applies_the_same_rules(dev_plan, prod_plan):
    pulumi_policy = pytest.importorskip("pulumi_policy", reason="pulumi-policy is installed by `make venv` (policy/requirements.txt)")
    from policy.pack import POLICIES

    def run(plan, edit=None):
        resources = _resources(plan)
        if edit:
            edit(resources)
        options = pulumi_policy.PolicyResourceOptions(False, [], False, [], pulumi_policy.PolicyCustomTimeouts(0, 0, 0), [], None)
        policy_resources = [pulumi_policy.PolicyResource(r.type, r.props, r.urn, r.name, options, None, None, [], {}) for r in resources]
        reported = []
        for policy in POLICIES:
            policy.validate(pulumi_policy.StackValidationArgs(policy_resources), lambda message, urn=None, p=policy: reported.append((p.name, message, urn)))
        return reported

    assert run(dev_plan) == [] and run(prod_plan) == []
    reported = run(prod_plan, BREAKS["audit-logs-production"][1])
    assert [(name, urn.rsplit("::", 1)[-1]) for name, _, urn in reported] == [("eks-bottlerocket-mandatory", "cluster")]
    assert reported[0][1].startswith("[audit-logs-production] ")
    assert [p.enforcement_level.value for p in POLICIES] == ["mandatory", "advisory"]


def test_the_pack_starts_the_way_pulumi_runs_it(tmp_path):
    """Pulumi starts a Python pack as `python -u -m pulumi.policy <engine> <pack folder>` in the pack's
    folder (pulumi/pulumi v3.272.0 sdk/python/cmd/pulumi-language-python/main.go, RunPlugin for an analyzer;
    sdk/python/lib/pulumi/policy/__main__.py runs the folder's __main__.py with runpy.run_path). The rules
    import core/ through the project's editable install, not a sys.path edit: the pack serves and prints
    its port."""
    pytest.importorskip("pulumi_policy", reason="pulumi-policy is installed by `make test` (policy/requirements.txt)")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # asked from outside the repository, whose root holds the editable build's egg-info
    installed = subprocess.run([sys.executable, "-c", f"import importlib.metadata as m; m.distribution({project_name()!r})"],
                               cwd=tmp_path, env=env, capture_output=True, timeout=60)
    if installed.returncode:
        pytest.skip("the project is installed (editable) by `make test` and `make policy-venv` (policy/requirements.txt)")
    pack = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(ROOT / "policy")], cwd=ROOT / "policy",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(120, pack.kill)
    watchdog.start()
    try:
        port = pack.stdout.readline().strip()
    finally:
        watchdog.cancel()
        pack.kill()
        _, errors = pack.communicate()
    assert port.isdigit(), errors
