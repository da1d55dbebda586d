"""A time-aware Kubernetes API emulator on localhost, for the calls the rollout and node-logs make.

Time runs on a scaled clock (`ScaledClock`: by default 1 real second is 200 emulated seconds) and behaves
like a cluster's: nodes join Ready after a boot delay; an evicted pod keeps being listed, with a
deletionTimestamp, until its grace period is over; ReplicaSets recreate missing pods, which a scheduler
binds by requests, taints, tolerations and cordons and which turn Ready after a start-up delay;
PodDisruptionBudgets answer evictions with 429 while `disruptionsAllowed` is 0, and a pod already being
deleted is evicted without a budget check (kubernetes/kubernetes pkg/registry/core/pod/storage/
eviction.go: `checkAndDecrement` and `canIgnorePDB`). Every request is counted, and the Ready pods of
every ReplicaSet are recorded at each step, so tests assert on the lowest count a rollout ever caused.

Shapes follow the Kubernetes API reference, so the official client deserialises them: nodes (list by
label, read, strategic-merge patch of `spec.unschedulable`), pods (list by `spec.nodeName`), the
`pods/eviction` subresource, ReplicaSets (read), and the node proxy's log files (node-logs).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from core.bottlerocket_settings import quantity_value

EPOCH = datetime(2026, 11, 27, tzinfo=UTC)
STEP_SECONDS = 0.25  # emulated time resolution of controllers, scheduler and kubelet


class ScaledClock:
    """Emulated seconds since start; `sleep` waits the scaled-down real time."""

    def __init__(self, scale: float = 200.0):
        self.scale, self._start = scale, time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._start) * self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0) / self.scale)


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    ready_at: float
    instance: str
    cpu: float = 4.0
    memory: float = 16 * 2**30
    taints: list[dict[str, str]] = field(default_factory=list)
    unschedulable: bool = False


@dataclass
class Pod:
    namespace: str
    name: str
    requests: tuple[float, float]  # CPU cores, memory bytes
    grace_seconds: float
    owner: tuple[str, str] | None  # (kind, name)
    labels: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, str]] = field(default_factory=list)
    node: str | None = None
    ready_at: float | None = None
    deleted_at: float | None = None
    mirror: bool = False

    def terminating(self) -> bool:
        return self.deleted_at is not None

    def ready(self, now: float) -> bool:
        return self.node is not None and self.ready_at is not None and self.ready_at <= now and not self.terminating()


@dataclass
class ReplicaSet:
    namespace: str
    name: str
    replicas: int
    requests: tuple[float, float]
    grace_seconds: float
    start_seconds: float
    tolerations: list[dict[str, str]] = field(default_factory=list)
    created: int = 0


@dataclass
class Budget:
    namespace: str
    replica_set: str
    max_unavailable: int


def _tolerates(pod: Pod, taint: dict[str, str]) -> bool:
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    return any(t.get("key") == taint["key"] and (t.get("operator") == "Exists" or t.get("value") == taint.get("value"))
               for t in pod.tolerations)


class KubeEmulator:
    def __init__(self, clock: ScaledClock | None = None):
        self.clock = clock or ScaledClock()
        self.lock = threading.RLock()
        self.nodes: dict[str, Node] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        self.replica_sets: dict[tuple[str, str], ReplicaSet] = {}
        self.budgets: list[Budget] = []
        self.requests: list[tuple[float, str, str]] = []  # emulated time, method, path
        self.evictions: list[tuple[str, str, int]] = []  # namespace, name, HTTP status
        self.patches: list[tuple[str, dict]] = []
        self.archives: dict[str, bytes] = {}  # node -> bottlerocket-logs.tar.gz served by its proxy
        self.lowest_ready: dict[tuple[str, str], int] = {}
        self.lost_pods: list[str] = []  # pods killed with their node instead of evicted
        self.throttled_requests = 0  # the next N requests answer 429 with Retry-After (API Priority and Fairness)
        self._time = 0.0

    # --- building the cluster ------------------------------------------------------------------------

    def add_node(self, name: str, colour: str | None, *, boot_seconds: float = 0.0, ready: bool = True, instance: str = "i-0123456789abcdef0",
                 extra_labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None,
                 cpu: str = "4", memory: str = "16Gi") -> None:
        with self.lock:
            labels = {"kubernetes.io/hostname": name, **({"eks-bottlerocket/colour": colour} if colour else {}), **(extra_labels or {})}
            self._advance()
            ready_at = self._time + boot_seconds if ready else float("inf")
            self.nodes[name] = Node(name, labels, ready_at, instance, quantity_value(cpu), quantity_value(memory), list(taints or []))

    def remove_node(self, name: str) -> None:
        """The instance is terminated: whatever still runs there is lost at once."""
        with self.lock:
            self._advance()
            self.nodes.pop(name, None)
            for key, pod in list(self.pods.items()):
                if pod.node == name:
                    if not pod.terminating() and pod.owner and pod.owner[0] != "DaemonSet":
                        self.lost_pods.append(f"{pod.namespace}/{pod.name}")
                    del self.pods[key]
            self._record()

    def set_taints(self, node: str, taints: list[dict[str, str]]) -> None:
        with self.lock:
            self.nodes[node].taints = list(taints)

    def add_replica_set(self, namespace: str, name: str, replicas: int, *, cpu: str = "250m", memory: str = "256Mi",
                        grace_seconds: float = 30.0, start_seconds: float = 5.0, max_unavailable: int | None = None) -> None:
        """A Deployment's ReplicaSet with its pods already Ready where the scheduler puts them now."""
        with self.lock:
            self._advance()  # before the controller knows the ReplicaSet: its pods start Ready, not pending
            replica_set = ReplicaSet(namespace, name, replicas, (quantity_value(cpu), quantity_value(memory)), grace_seconds, start_seconds)
            self.replica_sets[(namespace, name)] = replica_set
            if max_unavailable is not None:
                self.budgets.append(Budget(namespace, name, max_unavailable))
            for _ in range(replicas):
                pod = self._new_pod(replica_set)
                self._schedule(pod)
                pod.ready_at = self._time
            self._record()

    def add_pod(self, namespace: str, name: str, node: str, owner: str | None = "ReplicaSet", *, grace_seconds: float = 30.0,
                mirror: bool = False) -> None:
        """A pod bound to a node: `owner` None is a bare pod, "DaemonSet" a daemon."""
        with self.lock:
            self._advance()
            pod = Pod(namespace, name, (0.1, 64 * 2**20), grace_seconds, (owner, f"{name}-owner") if owner else None, mirror=mirror)
            pod.node, pod.ready_at = node, self._time
            self.pods[(namespace, name)] = pod

    def _new_pod(self, replica_set: ReplicaSet) -> Pod:
        replica_set.created += 1
        pod = Pod(replica_set.namespace, f"{replica_set.name}-{replica_set.created:05d}", replica_set.requests, replica_set.grace_seconds,
                  ("ReplicaSet", replica_set.name), labels={"app": replica_set.name}, tolerations=replica_set.tolerations)
        self.pods[(pod.namespace, pod.name)] = pod
        return pod

    # --- what a test reads ------------------------------------------------------------------------------

    def ready_count(self, namespace: str, name: str) -> int:
        with self.lock:
            self._advance()
            return self._ready(namespace, name, self._time)

    def pods_on(self, node_prefix: str) -> list[Pod]:
        with self.lock:
            self._advance()
            return [pod for pod in self.pods.values() if pod.node and pod.node.startswith(node_prefix)]

    def request_count(self) -> int:
        return len(self.requests)

    # --- time ---------------------------------------------------------------------------------------------

    def _ready(self, namespace: str, name: str, now: float) -> int:
        return sum(1 for pod in self.pods.values() if pod.owner == ("ReplicaSet", name) and pod.namespace == namespace and pod.ready(now))

    def _record(self) -> None:
        for key in self.replica_sets:
            count = self._ready(*key, self._time)
            self.lowest_ready[key] = min(self.lowest_ready.get(key, count), count)

    def _node_ready(self, node: Node, now: float) -> bool:
        return node.ready_at <= now

    def _free(self, node: Node) -> tuple[float, float]:
        used_cpu = sum(p.requests[0] for p in self.pods.values() if p.node == node.name)  # terminating pods still hold theirs
        used_memory = sum(p.requests[1] for p in self.pods.values() if p.node == node.name)
        return node.cpu - used_cpu, node.memory - used_memory

    def _schedule(self, pod: Pod) -> bool:
        candidates = []
        for node in self.nodes.values():
            if node.unschedulable or not self._node_ready(node, self._time) or not all(_tolerates(pod, t) for t in node.taints):
                continue
            free_cpu, free_memory = self._free(node)
            if free_cpu >= pod.requests[0] and free_memory >= pod.requests[1]:
                candidates.append((-free_cpu, node.name))
        if not candidates:
            return False
        pod.node = min(candidates)[1]
        return True

    def _step(self, now: float) -> None:
        for key, pod in list(self.pods.items()):
            if pod.deleted_at is not None and pod.deleted_at + pod.grace_seconds <= now:
                del self.pods[key]
        for replica_set in self.replica_sets.values():
            alive = [p for p in self.pods.values() if p.owner == ("ReplicaSet", replica_set.name) and not p.terminating()]
            for _ in range(replica_set.replicas - len(alive)):
                self._new_pod(replica_set)
        for pod in self.pods.values():
            if pod.node is None and not pod.terminating() and self._schedule(pod):
                replica_set = self.replica_sets.get((pod.namespace, pod.owner[1])) if pod.owner else None
                pod.ready_at = now + (replica_set.start_seconds if replica_set else 0.0)
        self._record()

    def _advance(self) -> None:
        now = self.clock.now()
        while self._time + STEP_SECONDS <= now:
            self._time += STEP_SECONDS
            self._step(self._time)

    # --- API behaviour ------------------------------------------------------------------------------------

    def _disruptions_allowed(self, pod: Pod) -> int | None:
        for budget in self.budgets:
            if budget.namespace == pod.namespace and pod.owner == ("ReplicaSet", budget.replica_set):
                replica_set = self.replica_sets[(budget.namespace, budget.replica_set)]
                return self._ready(budget.namespace, budget.replica_set, self._time) - (replica_set.replicas - budget.max_unavailable)
        return None

    def evict(self, namespace: str, name: str) -> int:
        pod = self.pods.get((namespace, name))
        if pod is None:
            status = 404
        elif pod.terminating() or pod.node is None:
            status = 201  # canIgnorePDB: already being deleted, or pending
        elif (allowed := self._disruptions_allowed(pod)) is not None and allowed <= 0:
            status = 429
        else:
            pod.deleted_at = self._time
            status = 201
        self.evictions.append((namespace, name, status))
        self._record()
        return status

    def node_json(self, node: Node) -> dict:
        ready = self._node_ready(node, self._time)
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node.name, "labels": node.labels, "resourceVersion": "1"},
                "spec": {"unschedulable": node.unschedulable, "providerID": f"aws:///eu-west-1a/{node.instance}",
                         **({"taints": node.taints} if node.taints else {})},
                "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                           "reason": "KubeletReady" if ready else "KubeletNotReady"}],
                           "allocatable": {"cpu": f"{round(node.cpu * 1000)}m", "memory": f"{round(node.memory)}", "pods": "110"}}}

    def pod_json(self, pod: Pod) -> dict:
        owners = []
        if pod.owner:
            api = "v1" if pod.owner[0] == "Node" else "apps/v1"
            owners = [{"apiVersion": api, "kind": pod.owner[0], "name": pod.owner[1], "uid": f"uid-{pod.owner[1]}", "controller": True}]
        metadata = {"name": pod.name, "namespace": pod.namespace, "uid": f"uid-{pod.name}", "labels": pod.labels, "ownerReferences": owners}
        if pod.mirror:
            metadata["annotations"] = {"kubernetes.io/config.mirror": "mirror"}
        if pod.deleted_at is not None:
            metadata["deletionTimestamp"] = (EPOCH + timedelta(seconds=pod.deleted_at)).strftime("%Y-%m-%dT%H:%M:%SZ")
            metadata["deletionGracePeriodSeconds"] = int(pod.grace_seconds)
        ready = pod.ready(self._time)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                "spec": {"nodeName": pod.node, "terminationGracePeriodSeconds": int(pod.grace_seconds), "tolerations": pod.tolerations,
                         "containers": [{"name": "main", "image": "registry.example/app:1",
                                         "resources": {"requests": {"cpu": f"{round(pod.requests[0] * 1000)}m", "memory": str(round(pod.requests[1]))}}}]},
                "status": {"phase": "Running" if pod.node else "Pending",
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    def replica_set_json(self, replica_set: ReplicaSet) -> dict:
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": replica_set.name, "namespace": replica_set.namespace, "uid": f"uid-{replica_set.name}"},
                "spec": {"replicas": replica_set.replicas, "selector": {"matchLabels": {"app": replica_set.name}}},
                "status": {"replicas": replica_set.replicas, "readyReplicas": self._ready(replica_set.namespace, replica_set.name, self._time)}}


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure" if code >= 400 else "Success",
            "reason": reason, "message": message, "code": code}


def serve(cluster: KubeEmulator) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _enter(self) -> None:
            cluster._advance()
            cluster.requests.append((cluster._time, self.command, self.path))

        def _throttled(self) -> bool:
            if cluster.throttled_requests <= 0:
                return False
            cluster.throttled_requests -= 1
            data = json.dumps(_status(429, "TooManyRequests", "too many requests, please try again later")).encode()
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True

        def do_GET(self):
            with cluster.lock:
                self._enter()
                return None if self._throttled() else self._get()

        def _get(self):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path.rstrip("/") == "/version":
                return self._send(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.5-eks", "platform": "linux/amd64"})
            if url.path == "/api/v1/nodes":
                key, _, value = query.get("labelSelector", "=").partition("=")
                names = [n for n, node in sorted(cluster.nodes.items()) if not key or node.labels.get(key) == value]
                return self._send(200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"},
                                        "items": [cluster.node_json(cluster.nodes[n]) for n in names]})
            node_path = re.fullmatch(r"/api/v1/nodes/([^/]+)(/proxy/logs/support/bottlerocket-logs\.tar\.gz)?", url.path)
            if node_path and node_path[1] in cluster.nodes:
                if not node_path[2]:
                    return self._send(200, cluster.node_json(cluster.nodes[node_path[1]]))
                archive = cluster.archives.get(node_path[1])
                if archive is None:
                    return self._send(404, _status(404, "NotFound", "no such file"))
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(archive)))
                self.end_headers()
                self.wfile.write(archive)
                return None
            if url.path == "/api/v1/pods":
                node = query.get("fieldSelector", "").removeprefix("spec.nodeName=")
                items = [cluster.pod_json(pod) for _, pod in sorted(cluster.pods.items()) if pod.node == node]
                return self._send(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items})
            replica_set = re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/replicasets/([^/]+)", url.path)
            if replica_set and (replica_set[1], replica_set[2]) in cluster.replica_sets:
                return self._send(200, cluster.replica_set_json(cluster.replica_sets[(replica_set[1], replica_set[2])]))
            return self._send(404, _status(404, "NotFound", self.path))

        def do_POST(self):
            match = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction", urlparse(self.path).path)
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with cluster.lock:
                self._enter()
                if not match or body.get("kind") != "Eviction":
                    return self._send(400, _status(400, "BadRequest", "expected an Eviction"))
                code = cluster.evict(match[1], match[2])
                if code == 404:
                    return self._send(404, _status(404, "NotFound", f'pods "{match[2]}" not found'))
                if code == 429:
                    return self._send(429, _status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."))
                return self._send(201, _status(201, "", ""))

        def do_PATCH(self):
            match = re.fullmatch(r"/api/v1/nodes/([^/]+)", urlparse(self.path).path)
            length = int(self.headers.get("Content-Length", 0))
            patch = json.loads(self.rfile.read(length) or b"{}")
            with cluster.lock:
                self._enter()
                if self._throttled():
                    return None
                if not match or match[1] not in cluster.nodes:
                    return self._send(404, _status(404, "NotFound", self.path))
                cluster.patches.append((match[1], patch))
                cluster.nodes[match[1]].unschedulable = bool(patch.get("spec", {}).get("unschedulable"))
                return self._send(200, cluster.node_json(cluster.nodes[match[1]]))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
