"""The registration floor: the import floor's modules, plus the SDK registering the resources of a plan
(its resources.json), in plan order, with the same types, names, inputs, parents and providers, under the
same mock runtime as the plan (automation/mock_loop.py) and the SDK's plain MockMonitor.

What is left is the least any program pays to have the Pulumi SDK register those resources offline: the
SDK resolves each resource class's type hints on first use (pulumi 3.272.0 pulumi/_types.py
`_raw_return_hints`, called through `input_type_types` from rpc.serialize_properties), serializes every
input and runs its registration tasks. Nothing of the project is imported. `bench/plan_benchmark.py` runs it
as `python -m bench.registration_floor <resources.json>`.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import sys
from typing import Any

import pulumi
from pulumi import _types
from pulumi.runtime.mocks import MockMonitor

from automation.mock_loop import mock_runtime
from bench.plan_benchmark import import_floor

# API groups of the Kubernetes types the program registers with a class of their own, as pulumi_kubernetes
# names its modules; any other group is a CustomResource (how components/karpenter.py and sqs_worker register them).
_KUBERNETES_MODULES = {"core": "core", "apps": "apps", "helm.sh": "helm", "policy": "policy", "networking.k8s.io": "networking"}
_COMPONENT_PACKAGES = {"eks": "pulumi_eks"}


class _EchoMocks(pulumi.runtime.Mocks):
    """Outputs are the inputs: the least a mock can answer."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _sdk_class(token: str) -> tuple[type | None, dict[str, Any]]:
    """The SDK class that registers `token`, and the constructor arguments the token itself fixes."""
    package, module, kind = token.split(":")
    if package == "pulumi" and module == "providers":
        return importlib.import_module(f"pulumi_{kind}").Provider, {}
    if package == "aws":
        return getattr(importlib.import_module(f"pulumi_aws.{module.split('/')[0]}"), kind), {}
    if package == "kubernetes":
        group, version = module.split("/")
        if group in _KUBERNETES_MODULES:
            return getattr(importlib.import_module(f"pulumi_kubernetes.{_KUBERNETES_MODULES[group]}.{version}"), kind), {}
        return importlib.import_module("pulumi_kubernetes.apiextensions").CustomResource, {"api_version": module, "kind": kind}
    if package in _COMPONENT_PACKAGES:
        return getattr(importlib.import_module(_COMPONENT_PACKAGES[package]), kind), {}
    return None, {}  # the project's own component resources


def provider_value(value: Any) -> Any:
    """A provider input as the program passed it: the generated provider classes send their non-string
    inputs as JSON text (pulumi-aws 7.51.1 pulumi_aws/provider.py:767 `default_tags`, pulumi-kubernetes
    4.34.2 pulumi_kubernetes/provider.py:569, `.apply(pulumi.runtime.to_json)`), and the plan records
    that text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _arguments(cls: type, inputs: dict[str, Any]) -> dict[str, Any]:
    """`inputs` (the engine's camelCase names) as the constructor's keyword arguments; inputs the class
    sets itself (apiVersion, kind) are left to it."""
    if issubclass(cls, pulumi.ProviderResource):
        inputs = {name: provider_value(value) for name, value in inputs.items()}
    args_type = getattr(sys.modules[cls.__module__], f"{cls.__name__}Args", None)
    pulumi_names = _types.input_type_py_to_pulumi_names(args_type) if args_type is not None else {}
    python_names = {pulumi_name: python_name for python_name, pulumi_name in pulumi_names.items()}
    accepted = set(inspect.signature(cls._internal_init).parameters) if hasattr(cls, "_internal_init") else set(pulumi_names)
    arguments = {}
    for name, value in inputs.items():
        python_name = python_names.get(name, name)
        if python_name in accepted:
            arguments[python_name] = value
    return arguments


def _registration_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record after its parent, its provider and the resources it depends on."""
    by_urn = {record["urn"]: record for record in records}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()

    def place(record: dict[str, Any]) -> None:
        if record["urn"] in placed:
            return
        placed.add(record["urn"])
        for urn in [record["parent"], record["provider"], *record["dependencies"]]:
            if urn in by_urn:
                place(by_urn[urn])
        ordered.append(record)

    for record in records:
        place(record)
    return ordered


def register(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Register the plan's resources through the SDK; the inputs the mock monitor received, by URN."""
    created: dict[str, pulumi.Resource] = {}

    @pulumi.runtime.test
    def replay():
        for record in _registration_order(document["resources"]):
            # The recorded dependencies (the engine's graph edges) order the registrations as the program's
            # outputs do: each waits for the resources it depends on.
            options = pulumi.ResourceOptions(parent=created.get(record["parent"]), provider=created.get(record["provider"] or ""),
                                             depends_on=[created[urn] for urn in record["dependencies"] if urn in created])
            cls, fixed = _sdk_class(record["type"])
            if cls is None:
                created[record["urn"]] = pulumi.ComponentResource(record["type"], record["name"], None, options)
            else:
                arguments = {**_arguments(cls, record["inputs"]), **fixed}
                created[record["urn"]] = cls(record["name"], **arguments, opts=options)
        return pulumi.Output.from_input(None)

    mocks = _EchoMocks()
    monitor = MockMonitor(mocks)
    with mock_runtime(mocks, monitor, project=document["project"], stack=document["stack"]):
        replay()
    return {urn: registration.state for urn, registration in monitor.resources.items()}


if __name__ == "__main__":
    gc.disable()  # the plan's process settings (automation/__main__.py)
    import_floor()
    with open(sys.argv[1]) as plan:
        print(len(register(json.load(plan))), "resources registered")
    gc.freeze()
