"""`python -m automation rollout`: the README's blue/green procedure, one stage at a time, holding capacity.

1 enable the target (version, the source's sizes, no retiring taint; Karpenter follows it); preview, `up`;
  its nodes are uncordoned (a rollback re-enables a group an earlier drain cordoned);
2 wait until the target is ready: its EKS node group ACTIVE at its desired size, every node Ready,
  schedulable and without the retiring taint, and their allocatable CPU and memory covering the
  requests of the pods that will move;
3 taint the source NoSchedule; preview, `up`;
4 drain the source in waves of its maxUnavailable nodes: recheck the target, cordon, evict through the
  Eviction API (PodDisruptionBudgets answer 429: retried later), wait until the pods are gone and their
  controllers have them Ready again, polling each node at most once a second with backoff. A failed or
  interrupted drain uncordons what it cordoned. Bare pods stop it unless --force;
5 recheck the target, disable the source; preview, `up`.
With --kubernetes-version 1.N (a minor-version upgrade, core/version_rollout.py) the blue/green stages
become 3-7 and the target is enabled at 1.N: stage 0 is the pre-flight (upgrade-check's checks; a blocker
stops the rollout), 1 pins every enabled group to the current version and moves the control plane, 2
moves the EKS add-ons to the new version's defaults, 8 removes the pins that say nothing any more.
Every stage is derived from the stack file and the live state: a rerun resumes, and a stage the stack
file says is done while the live state does not gets its `up` again. Every edited stack file is
validated before it is written or shown (a dry run chains the stages' edits). Stack-file writes are atomic. A
rollout marker (an SSM parameter) tells CI deploys to wait (`rollout-guard`) until the rollout finishes.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kubernetes import client as k8s_client
from kubernetes.client.rest import ApiException

from automation import yaml_round_trip
from automation.base import STACK_ERRORS, AwsClients, load_config, stack_error_report
from automation.eks_node_groups import live_node_groups
from automation.stack_files import project_name, stack_file_path, validate_stack_text
from core.bottlerocket_settings import quantity_value
from core.release_version import LATEST
from core.upgrade_check import readiness
from core.rollout import (KUBERNETES_VERSION_KEY, RETIRING_TAINT, PodView, RolloutPlan, RolloutUsageError, capacity_shortfall, disable_source, enable_target,
                          max_unavailable, plan_rollout, pod_requests, source_disabled, source_tainted, taint_source,
                          cluster_version, target_enabled, waves)
from core.tags import COLOUR_LABEL, PREFIX
from core.version_rollout import (addons_follow_cluster, check_version_request, control_plane_bumped, no_redundant_pins, pin_and_bump,
                                  refuse_an_upgrade_to_the_current_version, remove_redundant_pins, unpin_addons)

from automation.exit_codes import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE, UsageError, one_line
MARKER_PARAMETER = "/" + PREFIX + "{cluster}/rollout"  # the SSM parameter path, in the program's tag namespace
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 1.0, 10.0
BUDGET_RETRY_SECONDS = 5.0  # after a 429 without Retry-After; what `kubectl drain` waits between eviction attempts
API_RETRIES = 5


class RolloutError(Exception):
    """The rollout cannot go on; the message says why and what to do (exit 1)."""


# --- the CI interlock: a marker in the stack's AWS account ----------------------------------------------

MARKER_KEYS = ("stack", "from", "to", "stage", "updated")  # what RolloutMarker.write records and the readers rely on
MARKER_TEXT_SHOWN = 80  # characters of an unreadable marker a one-line message quotes


class UnreadableMarker(Exception):
    """The marker parameter exists but is not what RolloutMarker.write records (someone set it by hand, or
    another tool): it still means "a rollout may be in progress", so CI keeps waiting (rollout-guard exits 4)
    and a rollout does not guess; `rollout-guard --clear` removes it."""

    def __init__(self, name: str, text: str):
        shown = text if len(text) <= MARKER_TEXT_SHOWN else text[:MARKER_TEXT_SHOWN] + "..."
        super().__init__(f"the rollout marker {name} is unreadable (not a marker this program wrote): {one_line(shown)!r}")
        self.name, self.text = name, text


class RolloutMarker:
    """An SSM parameter per cluster, set while a rollout runs: CI's `rollout-guard` step refuses to deploy
    while it exists, so a deploy from main cannot undo a rollout halfway. Not managed by the program."""

    def __init__(self, ssm: Any, cluster_name: str):
        self.ssm, self.name = ssm, MARKER_PARAMETER.format(cluster=cluster_name)

    def text(self) -> str | None:
        """The parameter's value as stored, None without the parameter."""
        try:
            return self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def read(self) -> dict[str, Any] | None:
        """The marker RolloutMarker.write recorded, None without one; UnreadableMarker for any other value."""
        text = self.text()
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict) or any(not isinstance(value.get(key), str) for key in MARKER_KEYS):
            raise UnreadableMarker(self.name, text)
        return value

    def write(self, stack: str, plan: RolloutPlan, stage: str) -> None:
        value = {"stack": stack, "from": plan.source, "to": plan.target, "version": plan.version,
                 "kubernetesVersion": plan.kubernetes_version, "stage": stage,
                 "updated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.ssm.put_parameter(Name=self.name, Value=json.dumps(value), Type="String", Overwrite=True,
                               Description="eks-bottlerocket rollout in progress; CI deploys wait (README: Blue/green rollout)")

    def clear(self) -> None:
        try:
            self.ssm.delete_parameter(Name=self.name)
        except self.ssm.exceptions.ParameterNotFound:
            pass


def describe_marker(marker: dict[str, Any]) -> str:
    return (f"a rollout {marker['from']} -> {marker['to']} of stack {marker['stack']} is in progress "
            f"({marker['stage']}, last step {marker['updated']})")


# --- the live cluster ------------------------------------------------------------------------------------

def _pod_view(pod: Any) -> PodView:
    owners = pod.metadata.owner_references or []
    controller = next((o for o in owners if o.controller), owners[0] if owners else None)
    containers = [{"resources": {"requests": (c.resources.requests if c.resources else None) or {}}} for c in pod.spec.containers or []]
    cpu, memory = pod_requests(containers)
    return PodView(pod.metadata.namespace, pod.metadata.name, controller.kind if controller else None, controller.name if controller else None,
                   "kubernetes.io/config.mirror" in (pod.metadata.annotations or {}), pod.status.phase or "Unknown",
                   pod.metadata.deletion_timestamp is not None, cpu, memory)


class Cluster:
    """What the rollout reads and does live: EKS node groups (boto3) and Kubernetes nodes and pods.
    Every Kubernetes call retries a 429 after its Retry-After (API Priority and Fairness)."""

    def __init__(self, cluster_name: str, eks: Any, api_client: k8s_client.ApiClient, sleep: Callable[[float], None] = time.sleep):
        self.cluster_name, self.eks, self.sleep = cluster_name, eks, sleep
        self.core, self.apps = k8s_client.CoreV1Api(api_client), k8s_client.AppsV1Api(api_client)

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(API_RETRIES + 1):
            try:
                return function(*args, **kwargs)
            except ApiException as error:
                if error.status != 429 or attempt == API_RETRIES:
                    raise
                self.sleep(_retry_after(error, FIRST_POLL_SECONDS * 2 ** attempt))
        raise AssertionError("unreachable")

    def control_plane_version(self) -> str:
        return self.eks.describe_cluster(name=self.cluster_name)["cluster"]["version"]

    def node_group(self, group: str) -> dict[str, Any] | None:
        return live_node_groups(self.eks, self.cluster_name)[0].get(group)

    def nodes(self, group: str) -> list[Any]:
        return self._call(self.core.list_node, label_selector=f"{COLOUR_LABEL}={group}").items

    def pods(self, node: str) -> list[PodView]:
        listed = self._call(self.core.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node}").items
        return [_pod_view(pod) for pod in listed]

    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        self._call(self.core.patch_node, node, {"spec": {"unschedulable": unschedulable}})

    def evict(self, pod: PodView) -> float | None:
        """None when evicted (or gone already); else the seconds after which to try again (HTTP 429:
        a PodDisruptionBudget allows no disruption now)."""
        body = k8s_client.V1Eviction(api_version="policy/v1", kind="Eviction",
                                     metadata=k8s_client.V1ObjectMeta(name=pod.name, namespace=pod.namespace))
        try:
            self.core.create_namespaced_pod_eviction(pod.name, pod.namespace, body)
            return None
        except ApiException as error:
            if error.status == 429:
                return _retry_after(error, BUDGET_RETRY_SECONDS)
            if error.status == 404:
                return None
            raise

    def controller_ready(self, namespace: str, kind: str, name: str) -> bool:
        """Whether the pods' controller has all its replicas Ready again (ReplicaSets and StatefulSets)."""
        read = {"ReplicaSet": self.apps.read_namespaced_replica_set, "StatefulSet": self.apps.read_namespaced_stateful_set}.get(kind)
        if read is None:
            return True
        try:
            found = self._call(read, name, namespace)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return (found.status.ready_replicas or 0) >= (found.spec.replicas or 0)


def _retry_after(error: ApiException, default: float) -> float:
    value = (error.headers or {}).get("Retry-After") if error.headers else None
    try:
        return max(float(value), FIRST_POLL_SECONDS) if value else default
    except ValueError:
        return default


def _has_retiring_taint(node: Any) -> bool:
    return any(t.key == RETIRING_TAINT["key"] and t.effect == RETIRING_TAINT["effect"] for t in node.spec.taints or [])


def _is_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


# --- the procedure -----------------------------------------------------------------------------------------

@dataclass
class RolloutRequest:
    stack: str
    target: str
    source: str | None = None
    version: str | None = None
    kubernetes_version: str | None = None
    dry_run: bool = False
    yes: bool = False
    force: bool = False


@dataclass
class Rollout:
    """`engine(command)` runs `preview` or `up` on the stack (with its policy packs) and returns the exit
    code; `confirm(question)` asks at a terminal, None without one; `preflight(version)` returns
    upgrade-check's findings for a Kubernetes upgrade to `version` (automation/upgrade_check.py)."""

    stack_file: Path
    request: RolloutRequest
    engine: Callable[[str], int]
    cluster: Cluster | None
    marker: RolloutMarker | None = None
    confirm: Callable[[str], bool] | None = None
    preflight: Callable[[str], list[dict[str, str]]] | None = None
    out: TextIO = sys.stdout
    wait_timeout: float = 1800.0
    drain_timeout: float = 1800.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _cordoned: list[str] = field(default_factory=list)
    _dry_run_text: str | None = None  # a dry run's stack file after the stages so far (none is written)
    _stage_offset: int = 0  # the blue/green stages are 3-7 in a Kubernetes upgrade
    project: str = field(default_factory=project_name)  # the namespace of the stack file's keys (Pulumi.yaml)

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # stack file ------------------------------------------------------------------------------------------

    def _read(self) -> tuple[str, Any]:
        text = self._dry_run_text if self._dry_run_text is not None else self.stack_file.read_text(encoding="utf-8")
        try:
            yaml_round_trip.check_round_trip(text, self.stack_file.name)
        except yaml_round_trip.RoundTripError as error:
            raise RolloutUsageError(str(error)) from None
        return text, yaml_round_trip.load(text)

    def _apply_stage(self, stage: str, edit: Callable[[Any, RolloutPlan], Any] | None, plan: RolloutPlan) -> None:
        """Edit the stack file (None: it already says this stage is done), show the preview, confirm, `up`."""
        text, document = self._read()
        new_text = yaml_round_trip.dump(edit(document, plan), text) if edit else text
        if edit:
            diff = "".join(difflib.unified_diff(text.splitlines(True), new_text.splitlines(True), f"a/{self.stack_file.name}", f"b/{self.stack_file.name}"))
            self._say(diff.rstrip("\n"))
            try:
                validate_stack_text(self.request.stack, self.stack_file.name, new_text)
            except STACK_ERRORS as error:
                raise RolloutError(f"{stage} would leave an invalid stack file, nothing written: {one_line(stack_error_report(error))}") from None
        if self.request.dry_run:
            self._dry_run_text = new_text
            return
        if edit:
            yaml_round_trip.atomic_write(self.stack_file, new_text)
        try:
            self._say(f"preview -s {self.request.stack}")
            if self.engine("preview") != EXIT_OK:
                raise RolloutError(f"preview failed in {stage}; fix the cause and rerun to resume")
            if not self.request.yes:
                if self.confirm is None:
                    raise RolloutUsageError(f"{stage} changes stack {self.request.stack}: pass --yes in non-interactive runs")
                if not self.confirm(f"apply {stage} to stack {self.request.stack}? [y/N] "):
                    raise RolloutError(f"{stage} not confirmed; nothing applied")
        except BaseException:
            if edit:
                yaml_round_trip.atomic_write(self.stack_file, text)  # nothing was deployed: the file says so again
            raise
        if self.marker:  # from here on CI deploys wait for the rollout
            self.marker.write(self.request.stack, plan, stage)
        self._say(f"up -s {self.request.stack}")
        if self.engine("up") != EXIT_OK:
            raise RolloutError(f"`up` failed in {stage}; the stack file keeps the edit and a rerun applies it again once the cause is fixed")

    # live checks -----------------------------------------------------------------------------------------

    def _target_deployed(self, plan: RolloutPlan) -> bool:
        group = self.cluster.node_group(plan.target) if self.cluster else None
        return bool(group) and group["status"] not in ("DELETING", "CREATE_FAILED", "DELETE_FAILED") and (
            plan.version == LATEST or group.get("releaseVersion") == plan.version) and not any(
            t.get("key") == RETIRING_TAINT["key"] for t in group.get("taints") or []) and (
            plan.kubernetes_version in (None, group.get("version")))

    def _source_tainted_live(self, plan: RolloutPlan) -> bool:
        return all(_has_retiring_taint(node) for node in self.cluster.nodes(plan.source))

    def _source_gone_live(self, plan: RolloutPlan) -> bool:
        return self.cluster.node_group(plan.source) is None

    def _target_readiness(self, plan: RolloutPlan, moving: list[PodView]) -> str | None:
        """None when the target is ready to take `moving`; else why not."""
        group = self.cluster.node_group(plan.target)
        if group is None or group["status"] != "ACTIVE":
            return f"EKS node group {group['status'] if group else 'not found'}"
        desired = group["scalingConfig"]["desiredSize"]
        nodes = self.cluster.nodes(plan.target)
        usable = [n for n in nodes if _is_ready(n) and not n.spec.unschedulable and not _has_retiring_taint(n)]
        if len(usable) < desired or len(usable) < len(nodes):
            return f"{len(usable)} of {max(desired, len(nodes))} node(s) Ready, schedulable and untainted"
        allocatable = [(_quantity(n.status.allocatable, "cpu"), _quantity(n.status.allocatable, "memory")) for n in usable]
        placed = [pod for node in usable for pod in self.cluster.pods(node.metadata.name) if pod.phase not in ("Succeeded", "Failed")]
        shortfall = capacity_shortfall(allocatable, placed, moving)
        return f"not enough room: {shortfall}" if shortfall else None

    def _wait_until_ready(self, plan: RolloutPlan, moving: list[PodView], why: str) -> None:
        deadline, delay = self.clock() + self.wait_timeout, FIRST_POLL_SECONDS
        while (reason := self._target_readiness(plan, moving)) is not None:
            self._say(f"  {plan.target} not ready {why}: {reason}")
            if self.clock() >= deadline:
                raise RolloutError(f"{plan.target} is not ready after {self.wait_timeout:.0f}s ({reason}); rerun to keep waiting")
            self.sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)
        self._say(f"  {plan.target} ready {why}")

    # stages ------------------------------------------------------------------------------------------------

    def _number(self, blue_green_stage: int) -> int:
        return blue_green_stage + self._stage_offset

    def _stage_preflight(self, plan: RolloutPlan) -> None:
        version = plan.kubernetes_version
        self._say(f"== stage 0: pre-flight for Kubernetes {version} (upgrade-check)")
        _, document = self._read()
        if control_plane_bumped(document, plan):
            self._say(f"  the stack file's control plane is at {version} already: checked before it moved")
            return
        if self.preflight is None:
            raise RolloutError("no pre-flight check was given; run through `python -m automation rollout`")
        findings = self.preflight(version)
        current = cluster_version(document, plan.project)
        for finding in findings:
            if _pinned_by_stage_1(finding):  # upgrade-check's warning about an unpinned group: this rollout pins it
                self._say(f"  OK {finding['check']} {finding['subject']}: not set; stage 1 pins it to {current!r}")
            elif finding["status"] != "ok":
                self._say(f"  {finding['status'].upper()} {finding['check']} {finding['subject']}: {finding['message']}")
        blockers = [f"{f['subject']}: {f['message']}" for f in findings if f["status"] == "blocker"]
        if blockers:
            raise RolloutError(f"pre-flight for Kubernetes {version} found {len(blockers)} blocker(s): {'; '.join(blockers)}; nothing changed")
        self._say(f"  {readiness(findings, version)}")

    def _stage_bump(self, plan: RolloutPlan) -> None:
        stage = f"stage 1: pin the enabled node groups at their version, control plane to {plan.kubernetes_version}"
        self._say(f"== {stage}")
        self._converge(stage, plan, pin_and_bump, control_plane_bumped, self._control_plane_moved,
                       f"the control plane is at {plan.kubernetes_version}")

    def _control_plane_moved(self, plan: RolloutPlan) -> bool:
        return self.cluster.control_plane_version() == plan.kubernetes_version

    def _stage_addons(self, plan: RolloutPlan) -> None:
        stage = f"stage 2: EKS add-ons to Kubernetes {plan.kubernetes_version}'s defaults"
        self._say(f"== {stage}")
        # Unpinned, CoreDNS and the VPC CNI resolve EKS' default for the cluster's version at deploy time
        # (core/eks_addons.py), so stage 1's `up` moved them. Live, the stage counts as done with the
        # control plane: an unpinned add-on left behind by a crash moves with the next stage's `up`,
        # which deploys the whole stack file; `status` shows the live add-on versions against the defaults.
        self._converge(stage, plan, unpin_addons, addons_follow_cluster, self._control_plane_moved,
                       "the EKS add-ons follow the cluster's version (no eksAddons version pin)")

    def _stage_unpin(self, plan: RolloutPlan) -> None:
        stage = f"stage 8: remove the node-group pins equal to the cluster's {plan.kubernetes_version} and those of disabled groups"
        self._say(f"== {stage}")
        # Removing these pins changes no deployed resource (each group keeps the version it runs), so
        # the stack file alone says whether the stage is done.
        self._converge(stage, plan, remove_redundant_pins, no_redundant_pins, lambda plan: True,
                       "no node group is pinned to the cluster's version, no disabled group is pinned")

    def run(self) -> int:
        request = self.request
        _, document = self._read()
        upgrade = request.kubernetes_version
        if upgrade:
            check_version_request(document, self.project, upgrade, self.stack_file.name)
            self._stage_offset = 2
        plan = self._resume_or_plan(document)
        blue_green = plan is not None
        if plan is None:
            # blue/green is done; a Kubernetes upgrade may still have its last stage (the unpin) left
            plan = RolloutPlan(request.target, request.target, "", upgrade, project=self.project)
            if not upgrade or (cluster_version(document, self.project) == upgrade and no_redundant_pins(document, plan)):
                self._say(f"nothing to roll out: {request.target} is enabled, untainted and has no peer left to replace")
                return EXIT_OK
        elif upgrade:
            plan = dataclasses.replace(plan, kubernetes_version=upgrade)
            refuse_an_upgrade_to_the_current_version(document, plan, self.stack_file.name)
        current = cluster_version(document, self.project) if upgrade else None
        moving = f", Kubernetes {current} -> {upgrade}" if upgrade and current != upgrade else (
            f", Kubernetes {upgrade}" if upgrade else "")
        self._say(f"rollout {plan.source} -> {plan.target} at Bottlerocket {plan.version or '(done)'}{moving}"
                  f"{' (dry run)' if request.dry_run else ''}")
        if blue_green and not request.dry_run:
            self._refuse_bare_pods(plan)
        try:
            if upgrade:
                self._stage_preflight(plan)
                self._stage_bump(plan)
                self._stage_addons(plan)
            if blue_green:
                self._stage_enable(plan)
                self._stage_wait(plan)
                self._stage_taint(plan)
                self._stage_drain(plan)
                self._stage_disable(plan)
            else:
                self._say(f"== stages 3-7: blue/green done: {plan.target} is enabled, untainted and has no peer left to replace")
            if upgrade:
                self._stage_unpin(plan)
        finally:
            self._uncordon_what_we_cordoned()
        if request.dry_run:
            self._say("end of dry run: nothing was changed")
            return EXIT_OK
        if self.marker:
            self.marker.clear()
        self._say(f"rollout complete: commit {self.stack_file.name} so deploys from main keep {plan.target}")
        return EXIT_OK

    def _resume_or_plan(self, document: Any) -> RolloutPlan | None:
        request = self.request
        try:
            recorded = self.marker.read() if self.marker and not request.dry_run else None
        except UnreadableMarker as error:  # whose rollout, at which stage: unknown, so no stage is guessed
            raise RolloutError(f"{error}; if no rollout is running, remove it (rollout-guard --stack {request.stack} --clear) and rerun") from None
        if recorded and recorded.get("stack") == request.stack:
            parties = {recorded["from"], recorded["to"]}
            if request.target not in parties or (request.source and request.source not in parties):
                raise RolloutUsageError(f"{describe_marker(recorded)}; finish it (--to {recorded['to']}) or roll it back (--to {recorded['from']})")
            if request.target == recorded["to"] and request.source in (None, recorded["from"]):
                self._say(f"resuming: {describe_marker(recorded)}")
                return RolloutPlan(recorded["from"], recorded["to"], request.version or recorded["version"],
                                   request.kubernetes_version or recorded.get("kubernetesVersion"), project=self.project)
            source = recorded["to"]  # a rollback: the group the interrupted rollout moved to is the source now
            return plan_rollout(document, self.project, request.target, request.source or source, request.version)
        return plan_rollout(document, self.project, request.target, request.source, request.version)

    def _converge(self, stage: str, plan: RolloutPlan, edit: Callable[[Any, RolloutPlan], Any], in_file: Callable[[Any, RolloutPlan], bool],
                  live: Callable[[RolloutPlan], bool], done: str) -> None:
        """A stage that edits the stack file: done when both the file (`in_file`) and the live state (`live`)
        say so; the file alone saying so means a crash came between the edit and the end of `up`."""
        _, document = self._read()
        if not in_file(document, plan):
            self._apply_stage(stage, edit, plan)
        elif not self.request.dry_run and not live(plan):
            self._say(f"  the stack file says {done}, the live state does not: `up` again")
            self._apply_stage(stage, None, plan)
        else:
            self._say(f"  {done}")

    def _stage_enable(self, plan: RolloutPlan) -> None:
        stage = f"stage {self._number(1)}: enable {plan.target}"
        self._say(f"== {stage}")
        self._converge(stage, plan, enable_target, target_enabled, self._target_deployed, f"{plan.target} is enabled at {plan.version}")
        if not self.request.dry_run:
            for node in self.cluster.nodes(plan.target):
                if node.spec.unschedulable:
                    self.cluster.set_unschedulable(node.metadata.name, False)
                    self._say(f"  uncordoned {node.metadata.name}")

    def _stage_wait(self, plan: RolloutPlan) -> None:
        self._say(f"== stage {self._number(2)}: wait until {plan.target} is ACTIVE at its desired size, its nodes Ready and untainted, with room for the pods that will move")
        if not self.request.dry_run:
            self._wait_until_ready(plan, self._pods_to_move(plan, self._source_nodes(plan)), "to take the source's pods")

    def _stage_taint(self, plan: RolloutPlan) -> None:
        stage = f"stage {self._number(3)}: taint {plan.source} NoSchedule"
        self._say(f"== {stage}")
        self._converge(stage, plan, taint_source, source_tainted, self._source_tainted_live, f"{plan.source} is tainted")

    def _source_nodes(self, plan: RolloutPlan) -> list[str]:
        return sorted(node.metadata.name for node in self.cluster.nodes(plan.source))

    def _pods_to_move(self, plan: RolloutPlan, nodes: list[str]) -> list[PodView]:
        return [pod for node in nodes for pod in self.cluster.pods(node) if pod.evictable and not pod.terminating]

    def _stage_drain(self, plan: RolloutPlan) -> None:
        _, document = self._read()
        size = max_unavailable(document, plan.project, plan.source)
        self._say(f"== stage {self._number(4)}: drain {plan.source} in waves of {size} node(s) through the Eviction API (PodDisruptionBudgets honoured)")
        if self.request.dry_run:
            return
        nodes = self._source_nodes(plan)
        self._refuse_bare_pods(plan)
        deadline = self.clock() + self.drain_timeout
        for number, wave in enumerate(waves(nodes, size), start=1):
            remaining = nodes[nodes.index(wave[0]):]
            self._wait_until_ready(plan, self._pods_to_move(plan, remaining), f"before wave {number} ({', '.join(wave)})")
            for node in wave:
                self.cluster.set_unschedulable(node, True)
                self._cordoned.append(node)
            self._drain_wave(wave, deadline)
            self._say(f"  wave {number}: drained {', '.join(wave)}")

    def _refuse_bare_pods(self, plan: RolloutPlan) -> None:
        """`kubectl drain` refuses pods no controller recreates; so does the rollout, before it changes anything."""
        bare = [pod.key for pod in self._pods_to_move(plan, self._source_nodes(plan)) if pod.bare]
        if bare and not self.request.force:
            raise RolloutError(f"bare pod(s) on {plan.source} would be lost, no controller recreates them: {', '.join(bare)}; "
                               "move them yourself or rerun with --force")

    def _drain_wave(self, wave: list[str], deadline: float) -> None:
        retry_at: dict[str, float] = {}
        evicted_owners: set[tuple[str, str, str]] = set()
        delay, last_report = FIRST_POLL_SECONDS, None
        while True:
            listed = [pod for node in wave for pod in self.cluster.pods(node) if pod.evictable]
            waiting = [pod for pod in listed if not pod.terminating]
            now = self.clock()
            for pod in waiting:
                if retry_at.get(pod.key, 0.0) <= now:
                    again = self.cluster.evict(pod)
                    if again is None:
                        evicted_owners.add((pod.namespace, pod.owner_kind or "", pod.owner_name or ""))
                        retry_at.pop(pod.key, None)
                    else:
                        retry_at[pod.key] = now + again
            if not listed and all(self.cluster.controller_ready(*owner) for owner in evicted_owners):
                return
            report = f"  {len(listed) - len(waiting)} pod(s) terminating, {len(waiting)} waiting for their disruption budget"
            if report != last_report:
                self._say(report)
                delay = FIRST_POLL_SECONDS  # something moved: look again soon
            last_report = report
            if self.clock() >= deadline:
                blocked = ", ".join(pod.key for pod in listed) or "controllers not Ready yet"
                raise RolloutError(f"drain timed out after {self.drain_timeout:.0f}s; still on {', '.join(wave)}: {blocked}. "
                                   "Its nodes are uncordoned; rerun to resume")
            self.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_SECONDS)

    def _uncordon_what_we_cordoned(self) -> None:
        while self._cordoned:
            node = self._cordoned.pop()
            try:
                self.cluster.set_unschedulable(node, False)
            except ApiException as error:
                if error.status != 404:  # a node deleted with its group needs nothing
                    raise

    def _stage_disable(self, plan: RolloutPlan) -> None:
        stage = f"stage {self._number(5)}: disable {plan.source}"
        self._say(f"== {stage}")
        if not self.request.dry_run:
            self._wait_until_ready(plan, [], f"before {plan.source} is deleted")
        self._converge(stage, plan, disable_source, source_disabled, self._source_gone_live, f"{plan.source} is disabled")
        self._cordoned.clear()  # the drained nodes went with their group


def _pinned_by_stage_1(finding: dict[str, str]) -> bool:
    """upgrade-check warns about every enabled group without `kubernetesVersion` (core/upgrade_check.py,
    node_group_findings); stage 1 (pin_and_bump) pins exactly those, so in a rollout the warning is done."""
    return finding["check"] == "node-groups" and finding["status"] == "warning" and finding["subject"].endswith("." + KUBERNETES_VERSION_KEY)


def _quantity(values: dict[str, str] | None, name: str) -> float:
    return quantity_value(str((values or {}).get(name, "0")))


# --- the command line --------------------------------------------------------------------------------------

def run_rollout(request: RolloutRequest, *, kubeconfig: str | None = None, wait_timeout: float = 1800.0, drain_timeout: float = 1800.0,
                out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from automation.engine import EngineRequest, run_engine
    from automation.kube_context import KubeContextError, cluster_api_client, command_error
    from automation.stack_files import PROJECT_ROOT

    config = load_config(request.stack, err)
    if config is None:
        return EXIT_USAGE
    stack_file = stack_file_path(request.stack)
    cluster = marker = None
    interactive = sys.stdin.isatty()
    policy_packs = [str(PROJECT_ROOT / "policy")]

    def engine(command: str) -> int:
        return run_engine(EngineRequest(command, [request.stack], yes=True, policy_packs=policy_packs), out=out, err=err)

    def preflight(version: str) -> list[dict[str, str]]:
        """upgrade-check's checks; a dry run reads nothing live, so it skips the live ones (and says so)."""
        from automation.upgrade_check import BadInput, CheckStopped, check

        try:
            return check(request.stack, version, config=config, stack_file=stack_file.name, offline=request.dry_run)["findings"]
        except BadInput as error:
            raise RolloutUsageError(str(error)) from None
        except CheckStopped as error:
            raise RolloutError(f"pre-flight: {error}") from None

    try:
        if not request.dry_run:
            aws = AwsClients(config.region)
            api_client = cluster_api_client(kubeconfig, aws.eks, config.cluster.name)
            cluster, marker = Cluster(config.cluster.name, aws.eks, api_client), RolloutMarker(aws.ssm, config.cluster.name)
        rollout = Rollout(stack_file, request, engine, cluster, marker,
                          confirm=(lambda question: input(question).strip().lower() in ("y", "yes")) if interactive else None,
                          preflight=preflight,
                          out=out, wait_timeout=wait_timeout, drain_timeout=drain_timeout)
        return rollout.run()
    except RolloutUsageError as error:  # the top-level handler: one line, exit 2, --debug traceback
        raise UsageError(f"rollout: {error}") from error
    except KubeContextError as error:  # exit 1 when AWS failed under it, else 2
        raise command_error("rollout", error) from error
    except RolloutError as error:
        err.write(f"rollout stopped: {error}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("rollout interrupted: cordoned nodes were uncordoned; rerun to resume\n")
        return EXIT_FAILED
    except Exception as error:  # the API or AWS failed under us: one line, the stages say where to resume
        err.write(f"rollout stopped: {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}; rerun to resume\n")
        return EXIT_FAILED


def run_rollout_guard(stack: str, clear: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """CI runs this before `up`: exit 4 while a rollout of the stack's cluster is in progress. A marker this
    program did not write (UnreadableMarker) counts as one: nobody can say no rollout runs. `--clear`
    removes the marker parameter whatever it holds: it is at this program's own parameter name, and the
    user asked for it (the documented way out of an abandoned rollout); it says what it removed."""
    config = load_config(stack, err)
    if config is None:
        return EXIT_USAGE
    try:
        marker = RolloutMarker(AwsClients(config.region).ssm, config.cluster.name)
        try:
            recorded, unreadable = marker.read(), None
        except UnreadableMarker as error:
            recorded, unreadable = None, error
        if clear:
            marker.clear()
            what = describe_marker(recorded) if recorded else (str(unreadable) if unreadable else None)
            out.write(f"cleared {marker.name}: {what}\n" if what else "no rollout marker to clear\n")
            return EXIT_OK
    except Exception as error:  # credentials, network: the guard cannot say, so the deploy must not go on
        err.write(f"rollout-guard: cannot read the rollout marker of {config.cluster.name}: {error}\n")
        return EXIT_FAILED
    if unreadable:
        err.write(f"rollout-guard: {unreadable}; a rollout may be in progress: deploy after it finishes, or remove the marker "
                  f"(rollout-guard --stack {stack} --clear)\n")
        return EXIT_LOCKED
    if recorded:
        err.write(f"rollout-guard: {describe_marker(recorded)}; deploy after it finishes (and its stack-file edits are merged)\n")
        return EXIT_LOCKED
    out.write(f"no rollout in progress on {config.cluster.name}\n")
    return EXIT_OK
