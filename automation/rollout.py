"""`python -m automation rollout`: the README's blue/green procedure, one stage at a time.

1 enable the target group (version, the source's sizes; Karpenter follows it) and `up`;
2 wait until its EKS node group is ACTIVE and its nodes are Ready;
3 taint the source group NoSchedule through config and `up`;
4 drain the source nodes through the eviction API (PodDisruptionBudgets are honoured);
5 disable the source group and `up`.
The stage is derived from the stack file and the live state, so a rerun resumes where a failed run
stopped. Stack file edits keep its comments and formatting (ruamel.yaml round trip).
"""

from __future__ import annotations

import copy
import difflib
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kubernetes import client as k8s_client
from kubernetes.client.rest import ApiException
from ruamel.yaml import YAML

from automation.status import live_node_groups
from core.release_version import LATEST, is_valid_pin
from core.stack_config import COLOUR_LABEL

RETIRING_TAINT = {"key": "eks-bottlerocket/retiring", "value": "true", "effect": "NoSchedule"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_PROJECT_KEY = "eks-bottlerocket:"


class RolloutError(Exception):
    """The rollout cannot go on; the message says why and what to do."""


# --- stack file editing (pure) -----------------------------------------------------------------------

def _yaml() -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.width = 4096
    handler.indent(mapping=2, sequence=4, offset=2)  # the stack files' style: list dashes indented under their key
    return handler


def load_document(text: str) -> Any:
    return _yaml().load(text)


def dump_document(document: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def _node_groups(document: Any) -> Any:
    return document["config"][f"{_PROJECT_KEY}nodeGroups"]


def enabled_groups(document: Any) -> list[str]:
    return [name for name, group in _node_groups(document).items() if group.get("enabled", True)]


def has_retiring_taint(group: Any) -> bool:
    return any(dict(taint) == RETIRING_TAINT for taint in group.get("taints", []) or [])


@dataclass(frozen=True)
class Plan:
    """The rollout's parties and the version the target gets."""

    source: str
    target: str
    version: str


def plan_rollout(document: Any, target: str, version: str | None) -> Plan | None:
    """None when there is nothing left to do (the target is the only enabled group)."""
    groups = _node_groups(document)
    if target not in groups:
        raise RolloutError(f"nodeGroups has no group {target!r}; known: {', '.join(groups)}")
    others = [name for name in enabled_groups(document) if name != target]
    if not others:
        if groups[target].get("enabled", True):
            return None
        raise RolloutError("no enabled node group to roll from")
    if len(others) > 1:
        raise RolloutError(f"several groups are enabled besides {target!r} ({', '.join(others)}); roll one at a time")
    wanted = version or str(groups[target].get("releaseVersion", LATEST))
    if wanted != LATEST and not is_valid_pin(wanted):
        raise RolloutError(f"--version {wanted!r} is neither 'latest' nor a Bottlerocket version such as 1.54.0-5043decc")
    return Plan(others[0], target, wanted)


def enable_target(document: Any, plan: Plan) -> Any:
    edited = copy.deepcopy(document)
    groups = _node_groups(edited)
    target = groups[plan.target]
    target["enabled"] = True
    target["releaseVersion"] = plan.version
    target["scaling"] = copy.deepcopy(groups[plan.source]["scaling"])
    karpenter = edited["config"].get(f"{_PROJECT_KEY}karpenter")
    if karpenter is not None:
        karpenter.setdefault("nodeClass", {})["versionFrom"] = plan.target
    return edited


def taint_source(document: Any, plan: Plan) -> Any:
    edited = copy.deepcopy(document)
    source = _node_groups(edited)[plan.source]
    source.setdefault("taints", [])
    source["taints"].append(dict(RETIRING_TAINT))
    return edited


def disable_source(document: Any, plan: Plan) -> Any:
    edited = copy.deepcopy(document)
    source = _node_groups(edited)[plan.source]
    source["enabled"] = False
    source["taints"] = [t for t in source.get("taints", []) if dict(t) != RETIRING_TAINT]
    if not source["taints"]:
        del source["taints"]
    return edited


def target_is_enabled(document: Any, plan: Plan) -> bool:
    target = _node_groups(document)[plan.target]
    return bool(target.get("enabled", True)) and str(target.get("releaseVersion", LATEST)) == plan.version


def diff(before: str, after: str, file_name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{file_name}", f"b/{file_name}"))


# --- live cluster ------------------------------------------------------------------------------------

class Cluster:
    """What the rollout reads and does live: EKS node group status (boto3) and Kubernetes nodes and pods."""

    def __init__(self, cluster_name: str, eks: Any, kubernetes: k8s_client.CoreV1Api):
        self.cluster_name, self.eks, self.kubernetes = cluster_name, eks, kubernetes

    def node_group_status(self, group: str) -> str | None:
        described = live_node_groups(self.eks, self.cluster_name)[0].get(group)
        return described["status"] if described else None

    def nodes(self, group: str) -> list[Any]:
        return self.kubernetes.list_node(label_selector=f"{COLOUR_LABEL}={group}").items

    def ready_nodes(self, group: str) -> list[str]:
        ready = []
        for node in self.nodes(group):
            conditions = {c.type: c.status for c in (node.status.conditions or [])}
            if conditions.get("Ready") == "True" and not node.spec.unschedulable:
                ready.append(node.metadata.name)
        return ready

    def cordon(self, node: str) -> None:
        self.kubernetes.patch_node(node, {"spec": {"unschedulable": True}})

    def evictable_pods(self, node: str) -> list[Any]:
        pods = self.kubernetes.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        return [pod for pod in pods
                if not any(owner.kind == "DaemonSet" for owner in (pod.metadata.owner_references or []))
                and "kubernetes.io/config.mirror" not in (pod.metadata.annotations or {})
                and pod.status.phase not in ("Succeeded", "Failed")]

    def evict(self, pod: Any) -> bool:
        """True when evicted; False when a PodDisruptionBudget says not now (HTTP 429)."""
        body = k8s_client.V1Eviction(api_version="policy/v1", kind="Eviction",
                                     metadata=k8s_client.V1ObjectMeta(name=pod.metadata.name, namespace=pod.metadata.namespace))
        try:
            self.kubernetes.create_namespaced_pod_eviction(pod.metadata.name, pod.metadata.namespace, body)
            return True
        except ApiException as error:
            if error.status == 429:
                return False
            if error.status == 404:
                return True
            raise


# --- the procedure -----------------------------------------------------------------------------------

@dataclass
class Rollout:
    stack_file: Path
    target: str
    version: str | None
    up: Callable[[], int]
    cluster: Cluster | None
    out: TextIO = sys.stdout
    wait_timeout: float = 1800.0
    drain_timeout: float = 1800.0
    poll_seconds: float = 15.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _edit(self, stage: str, edit: Callable[[Any, Plan], Any], plan: Plan, dry_run: bool, text: str) -> str:
        new_text = dump_document(edit(load_document(text), plan))
        self._say(f"== {stage}\n{diff(text, new_text, self.stack_file.name)}")
        if not dry_run:
            self.stack_file.write_text(new_text)
            self._say(f"up -s {self.stack_file.stem.split('.', 1)[1]}")
            if self.up() != EXIT_OK:
                self.stack_file.write_text(text)  # the stage did not happen: a rerun tries it again
                raise RolloutError(f"`up` failed in {stage}; the stack file is back as it was. Fix the cause and rerun to resume")
        return new_text

    def run(self, dry_run: bool) -> int:
        text = self.stack_file.read_text()
        if dump_document(load_document(text)) != text:
            raise RolloutError(f"{self.stack_file.name} does not survive a YAML round trip unchanged; edit it by hand")
        plan = plan_rollout(load_document(text), self.target, self.version)
        if plan is None:
            self._say(f"nothing to roll out: {self.target} is the only enabled node group")
            return EXIT_OK
        self._say(f"rollout {plan.source} -> {plan.target} at Bottlerocket {plan.version}{' (dry run)' if dry_run else ''}")
        document = load_document(text)
        if not target_is_enabled(document, plan):
            text = self._edit(f"stage 1: enable {plan.target}", enable_target, plan, dry_run, text)
        else:
            self._say(f"stage 1: {plan.target} already enabled at {plan.version}")
        self._stage_wait(plan, dry_run)
        if not has_retiring_taint(_node_groups(load_document(text))[plan.source]):
            text = self._edit(f"stage 3: taint {plan.source} NoSchedule", taint_source, plan, dry_run, text)
        else:
            self._say(f"stage 3: {plan.source} already tainted")
        self._stage_drain(plan, dry_run)
        if not dry_run and self.cluster is not None and not self.cluster.ready_nodes(plan.target):
            raise RolloutError(f"refusing to disable {plan.source}: {plan.target} has no Ready node left")
        self._edit(f"stage 5: disable {plan.source}", disable_source, plan, dry_run, text)
        self._say("rollout complete" if not dry_run else "end of dry run: nothing was changed")
        return EXIT_OK

    def _stage_wait(self, plan: Plan, dry_run: bool) -> None:
        self._say(f"== stage 2: wait until node group {plan.target} is ACTIVE and its nodes are Ready")
        if dry_run:
            return
        assert self.cluster is not None
        deadline = self.clock() + self.wait_timeout
        while True:
            status = self.cluster.node_group_status(plan.target)
            ready = self.cluster.ready_nodes(plan.target) if status == "ACTIVE" else []
            self._say(f"  {plan.target}: EKS {status or 'not found'}, {len(ready)} Ready node(s)")
            if status == "ACTIVE" and ready:
                return
            if self.clock() >= deadline:
                raise RolloutError(f"{plan.target} is not ACTIVE with Ready nodes after {self.wait_timeout:.0f}s; rerun to keep waiting")
            self.sleep(self.poll_seconds)

    def _stage_drain(self, plan: Plan, dry_run: bool) -> None:
        self._say(f"== stage 4: drain {plan.source} through the eviction API (PodDisruptionBudgets honoured)")
        if dry_run:
            return
        assert self.cluster is not None
        if not self.cluster.ready_nodes(plan.target):
            raise RolloutError(f"refusing to drain {plan.source}: {plan.target} has no Ready node, nothing could take the pods")
        deadline = self.clock() + self.drain_timeout
        nodes = [node.metadata.name for node in self.cluster.nodes(plan.source)]
        for node in nodes:
            self.cluster.cordon(node)
        while True:
            remaining = [pod for node in nodes for pod in self.cluster.evictable_pods(node)]
            if not remaining:
                self._say(f"  {plan.source}: drained {len(nodes)} node(s)")
                return
            blocked = [f"{p.metadata.namespace}/{p.metadata.name}" for p in remaining if not self.cluster.evict(p)]
            self._say(f"  {len(remaining) - len(blocked)} pod(s) evicted, {len(blocked)} waiting for their disruption budget")
            if self.clock() >= deadline:
                raise RolloutError(f"drain of {plan.source} timed out; blocked by disruption budgets: {', '.join(blocked)}")
            if blocked:
                self.sleep(self.poll_seconds)


def run_rollout(stack: str, target: str, version: str | None, dry_run: bool, *, kubeconfig: str | None = None,
                wait_timeout: float = 1800.0, drain_timeout: float = 1800.0, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from automation.engine import EngineRequest, run_engine
    from automation.stack_files import PROJECT_ROOT
    from automation.status import aws_clients, load_config

    config = load_config(stack, err)
    if config is None:
        return EXIT_USAGE
    cluster = None
    if not dry_run:
        from kubernetes import config as kubernetes_config

        eks, _ = aws_clients(config.region)
        kubernetes_config.load_kube_config(config_file=kubeconfig)
        cluster = Cluster(config.cluster.name, eks, k8s_client.CoreV1Api())
    rollout = Rollout(PROJECT_ROOT / f"Pulumi.{stack}.yaml", target, version,
                      up=lambda: run_engine(EngineRequest("up", [stack], yes=True)), cluster=cluster, out=out,
                      wait_timeout=wait_timeout, drain_timeout=drain_timeout)
    try:
        return rollout.run(dry_run)
    except RolloutError as error:
        err.write(f"rollout stopped: {error}\n")
        return EXIT_FAILED
