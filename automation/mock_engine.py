"""Run the real `__main__.py` in-process under the Pulumi SDK's mock engine and record what it registers.

No CLI, no plugins, no credentials, no network: the SDK's `MockMonitor` receives every resource
registration and invoke. What only AWS can know (ids, ARNs, the SSM "latest" version) comes back as an
explicit placeholder `<after-deploy:...>`, never as an invented real-looking value; resource ids are
placeholders named after the resource, so references between records can be followed.

The workarounds for the SDK's mock engine (pulumi-eks remote components, event loops, the missing
`Call`) follow the recipe in the project's research notes on offline Pulumi testing.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime.mocks import MockMonitor

from automation.mock_loop import mock_runtime
from core.iam_documents import partition
from core.resource_types import (EKS_CLUSTER, IAM_ROLE, KUBERNETES_PROVIDER, LAUNCH_TEMPLATE, NODE_GROUP, PROVIDER_TYPE_PREFIX,
                                 PULUMI_EKS_CLUSTER, QUEUE)

# Wire-format markers of the Pulumi RPC layer (pulumi/runtime/rpc.py).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# How the offline plan marks a value only a deployment knows; nothing outside the plan code looks for it.
KNOWN_AFTER_DEPLOY = "<after-deploy:"


def after_deploy(what: str) -> str:
    """The placeholder for a value only a real deployment can know."""
    return f"{KNOWN_AFTER_DEPLOY}{what}>"


def resource_placeholder(typ: str, name: str, attribute: str) -> str:
    return after_deploy(f"{typ}::{name}.{attribute}")


@dataclass
class RegisteredResource:
    type: str
    name: str
    id: str | None
    inputs: dict
    outputs: dict
    urn: str = ""
    parent: str | None = None
    provider: str | None = None
    options: dict = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)  # explicit and property dependencies: the engine's graph edges


class PlanMocks(pulumi.runtime.Mocks):
    def __init__(self, project: str, stack: str, region: str):
        self.project, self.stack, self.region = project, stack, region
        self.monitor: MockMonitor | None = None
        self.resources: dict[tuple[str, str], RegisteredResource] = {}
        self.invokes: list[tuple[str, dict, str]] = []  # token, arguments, provider reference

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args), args.provider))
        answer = _INVOKE_ANSWERS.get(args.token)
        if answer is None:
            raise NotImplementedError(f"the offline plan has no answer for invoke {args.token}; add one to automation/mock_engine.py")
        return answer(self, args.args)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        custom = bool(args.custom) or args.typ.startswith(PROVIDER_TYPE_PREFIX)
        resource_id = resource_placeholder(args.typ, args.name, "id") if custom else ""
        computed = _COMPUTED_OUTPUTS.get(args.typ, _default_outputs)(self, args)
        outputs = {**args.inputs, **computed}
        key = (args.typ, args.name)
        if key in self.resources:
            raise ValueError(f"two resources registered as {args.typ} {args.name!r}")
        self.resources[key] = RegisteredResource(args.typ, args.name, resource_id or None, dict(args.inputs), outputs)
        return resource_id, outputs

    def reference(self, typ: str, name: str, state: dict, parent_type: str) -> dict:
        """A resource reference to a fake child of a remote component (the SDK resolves it by URN)."""
        assert self.monitor is not None
        urn = f"urn:pulumi:{self.stack}::{self.project}::{parent_type}${typ}::{name}"
        resource_id = resource_placeholder(typ, name, "id")
        self.monitor.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        return {_SIG_KEY: _RESOURCE_SIG, "urn": urn, "id": resource_id}


def _default_outputs(mocks: PlanMocks, args) -> dict:
    if args.typ.startswith("aws:") and "arn" not in args.inputs:
        return {"arn": resource_placeholder(args.typ, args.name, "arn")}
    return {}


def _named_outputs(*attributes: str) -> Callable[[PlanMocks, Any], dict]:
    def outputs(mocks: PlanMocks, args) -> dict:
        computed = _default_outputs(mocks, args)
        for attribute in attributes:
            if attribute not in args.inputs:
                computed[attribute] = resource_placeholder(args.typ, args.name, attribute)
        return computed

    return outputs


def _eks_cluster(mocks: PlanMocks, args) -> dict:
    """Outputs of pulumi-eks' Cluster, a remote component whose children the mock engine never builds."""
    name, typ = args.name, args.typ
    cluster_name = args.inputs.get("name") or resource_placeholder(typ, name, "name")
    endpoint = resource_placeholder(typ, name, "endpoint")
    certificate = resource_placeholder(typ, name, "certificateAuthority")
    oidc_arn = resource_placeholder(typ, name, "oidcProviderArn")
    oidc_url = resource_placeholder(typ, name, "oidcProviderUrl")
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "aws",
        "clusters": [{"name": "kubernetes", "cluster": {"server": endpoint, "certificate-authority-data": certificate}}],
        "contexts": [{"name": "aws", "context": {"cluster": "kubernetes", "user": "aws"}}],
        "users": [{"name": "aws", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name]}}}],
    }
    eks_cluster = mocks.reference(EKS_CLUSTER, f"{name}-eksCluster", {
        "name": cluster_name, "arn": resource_placeholder(typ, name, "arn"), "endpoint": endpoint,
        "version": args.inputs.get("version"), "certificateAuthority": {"data": certificate},
        "vpcConfig": {"clusterSecurityGroupId": resource_placeholder(typ, name, "clusterSecurityGroupId")},
    }, typ)
    oidc = mocks.reference("aws:iam/openIdConnectProvider:OpenIdConnectProvider", f"{name}-oidcProvider",
                           {"arn": oidc_arn, "url": oidc_url}, typ)
    provider = mocks.reference(KUBERNETES_PROVIDER, f"{name}-eks-k8s", {"kubeconfig": json.dumps(kubeconfig)}, typ)
    return {
        "eksCluster": eks_cluster,
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "clusterSecurityGroupId": resource_placeholder(typ, name, "clusterSecurityGroupId"),
        "nodeSecurityGroupId": resource_placeholder(typ, name, "nodeSecurityGroupId"),
        "oidcProviderArn": oidc_arn,
        "oidcProviderUrl": oidc_url,
        "oidcIssuer": oidc_url,
        "core": {"cluster": eks_cluster, "endpoint": endpoint, "provider": provider, "oidcProvider": oidc,
                 "subnetIds": args.inputs.get("privateSubnetIds", []), "vpcId": args.inputs.get("vpcId")},
    }


_COMPUTED_OUTPUTS: dict[str, Callable[[PlanMocks, Any], dict]] = {
    PULUMI_EKS_CLUSTER: _eks_cluster,
    IAM_ROLE: _named_outputs("name", "uniqueId"),
    "aws:kms/key:Key": _named_outputs("keyId"),
    LAUNCH_TEMPLATE: _named_outputs("name", "latestVersion"),
    NODE_GROUP: _named_outputs("nodeGroupName", "status"),
    QUEUE: _named_outputs("name", "url"),
    "aws:cloudwatch/eventRule:EventRule": _named_outputs("name"),
}


def _ssm_parameter(mocks: PlanMocks, args: dict) -> dict:
    name = args["name"]
    value = after_deploy(f"ssm:{name}")
    # `value` is Sensitive in the provider's schema, so pulumi-aws returns it as a secret; `insecureValue`
    # is not (hashicorp/terraform-provider-aws internal/service/ssm/parameter_data_source.go, read at stored
    # commit 01c22b0; the exact upstream tag pulumi-aws 7.51.1 bridges is not in the stored material).
    return {"name": name, "value": {_SIG_KEY: _SECRET_SIG, "value": value}, "insecureValue": value, "type": "String", "id": name,
            "arn": after_deploy(f"ssm-parameter-arn:{name}")}


_INVOKE_ANSWERS: dict[str, Callable[[PlanMocks, dict], dict]] = {
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda m, a: {
        "accountId": after_deploy("aws:accountId"), "arn": after_deploy("aws:callerArn"),
        "userId": after_deploy("aws:userId"), "id": after_deploy("aws:accountId")},
    "aws:index/getPartition:getPartition": lambda m, a: {
        "partition": partition(m.region), "dnsSuffix": "amazonaws.com", "id": partition(m.region)},
    "aws:index/getRegion:getRegion": lambda m, a: {"region": m.region, "name": m.region, "id": m.region},
    # EKS' default add-on version for a Kubernetes version (mostRecent false), known only to the live API.
    "aws:eks/getAddonVersion:getAddonVersion": lambda m, a: {
        **a, "version": after_deploy(f"eks-addon-version:{a['addonName']}@{a['kubernetesVersion']}"), "id": a["addonName"]},
}


def _strip_resource_refs(value: Any) -> None:
    """Rewrite resource references inside a protobuf Struct/Value into their URN strings, in place.

    The monitor deserializes inputs on an executor thread; a reference there becomes a Resource whose
    lookup task belongs to another event loop, which hangs or fails the run (pulumi/pulumi#6561)."""
    if isinstance(value, struct_pb2.Struct):
        for child in value.fields.values():
            _strip_resource_refs(child)
        return
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        fields = value.struct_value.fields
        if _SIG_KEY in fields and fields[_SIG_KEY].string_value == _RESOURCE_SIG:
            value.string_value = fields["urn"].string_value
            return
        for child in fields.values():
            _strip_resource_refs(child)
    elif kind == "list_value":
        for child in value.list_value.values:
            _strip_resource_refs(child)


class RecordingMonitor(MockMonitor):
    """MockMonitor that keeps each registration's options and answers component method calls."""

    def __init__(self, mocks: PlanMocks):
        super().__init__(mocks)
        self.plan_mocks = mocks

    def RegisterResource(self, request):
        _strip_resource_refs(request.object)
        response = super().RegisterResource(request)
        record = self.plan_mocks.resources.get((request.type, request.name))
        if record is None:  # the root stack resource never reaches Mocks.new_resource
            return response
        record.urn = response.urn
        record.parent = request.parent or None
        record.provider = _provider_urn(request.provider)
        record.options = _options(request)
        record.dependencies = sorted(request.dependencies)
        return response

    def Invoke(self, request):
        if request.tok != "pulumi:pulumi:getResource":
            _strip_resource_refs(request.args)
        return super().Invoke(request)

    def Call(self, request):
        from pulumi.runtime import rpc
        from pulumi.runtime.proto import provider_pb2
        from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

        _ensure_event_loop()
        _strip_resource_refs(request.args)
        args = rpc.deserialize_properties(request.args)
        result = self.mocks.call(pulumi.runtime.MockCallArgs(token=request.tok, args=args, provider=request.provider))
        return provider_pb2.CallResponse(**{"return": _sync_await(rpc.serialize_properties(result, {}))})


def _provider_urn(reference: str) -> str | None:
    """A provider reference is `<urn>::<id>`; the ids here are placeholders that contain `::` too."""
    if not reference:
        return None
    return reference.split(f"::{KNOWN_AFTER_DEPLOY}", 1)[0]


def _options(request) -> dict:
    """Resource options worth reviewing; `dependsOn` holds explicit dependencies only."""
    options: dict[str, Any] = {}
    if request.ignoreChanges:
        options["ignoreChanges"] = list(request.ignoreChanges)
    if request.protect:
        options["protect"] = True
    if request.deleteBeforeReplace:
        options["deleteBeforeReplace"] = True
    if request.retainOnDelete:
        options["retainOnDelete"] = True
    from_properties = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
    explicit = [urn for urn in request.dependencies if urn not in from_properties]
    if explicit:
        options["dependsOn"] = sorted(explicit)
    if request.providers:  # how a component hands providers to its children (e.g. pulumi-eks)
        options["providers"] = {package: _provider_urn(ref) for package, ref in sorted(request.providers.items())}
    return options


@dataclass
class ProgramRun:
    resources: list[RegisteredResource]
    invokes: list[tuple[str, dict, str]]
    outputs: dict[str, Any]
    secret_outputs: set[str]


def run_program(program: str, config: dict[str, str], *, project: str, stack: str, region: str,
                secret_keys: list[str] | None = None) -> ProgramRun:
    """Run `program` (a __main__.py) under the mock engine with `config` ({"project:key": str})."""
    mocks = PlanMocks(project, stack, region)
    monitor = RecordingMonitor(mocks)
    mocks.monitor = monitor
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    async def collect_outputs(exported: dict[str, Any]) -> None:
        for name, value in exported.items():
            output = pulumi.Output.from_input(value)
            outputs[name] = await output.future()
            if await output.is_secret():
                secret_outputs.add(name)

    @pulumi.runtime.test
    def execute():
        runpy.run_path(program, run_name="__main__")
        exported = dict(pulumi.runtime.settings.get_root_resource().outputs)
        return pulumi.Output.from_input(asyncio.ensure_future(collect_outputs(exported)))

    with mock_runtime(mocks, monitor, project=project, stack=stack):
        pulumi.runtime.set_all_config(config, secret_keys or [])
        execute()
    return ProgramRun(list(mocks.resources.values()), mocks.invokes, outputs, secret_outputs)


def is_secret_marker(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG
