"""A local HTTP server answering the few Kubernetes API calls the rollout makes, shaped per the API reference:
list nodes by label, list pods by node, the pod eviction subresource (429 while a PodDisruptionBudget
forbids it), and node patches (cordon)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeCluster:
    nodes: dict[str, dict] = field(default_factory=dict)  # name -> {"labels", "ready", "unschedulable"}
    pods: dict[tuple[str, str], dict] = field(default_factory=dict)  # (namespace, name) -> {"node", "owner"}
    budget_refusals: dict[tuple[str, str], int] = field(default_factory=dict)  # evictions refused before one succeeds
    evictions: list[tuple[str, str, int]] = field(default_factory=list)  # namespace, name, HTTP status
    patches: list[tuple[str, dict]] = field(default_factory=list)
    archives: dict[str, bytes] = field(default_factory=dict)  # node -> bottlerocket-logs.tar.gz served by its proxy

    def add_node(self, name: str, colour: str | None, ready: bool = True, instance: str = "i-0123456789abcdef0",
                 extra_labels: dict[str, str] | None = None) -> None:
        labels = {"kubernetes.io/hostname": name, **({"eks-bottlerocket/colour": colour} if colour else {}), **(extra_labels or {})}
        self.nodes[name] = {"labels": labels, "ready": ready, "unschedulable": False, "instance": instance}

    def add_pod(self, namespace: str, name: str, node: str, owner: str = "ReplicaSet") -> None:
        self.pods[(namespace, name)] = {"node": node, "owner": owner}

    def node_json(self, name: str) -> dict:
        node = self.nodes[name]
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": node["labels"], "resourceVersion": "1"},
                "spec": {"unschedulable": node["unschedulable"], "providerID": f"aws:///eu-west-1a/{node['instance']}"},
                "status": {"conditions": [{"type": "Ready", "status": "True" if node["ready"] else "False", "reason": "KubeletReady"}]}}

    def pod_json(self, namespace: str, name: str) -> dict:
        pod = self.pods[(namespace, name)]
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": pod["owner"], "name": f"{name}-owner", "uid": f"owner-{name}"}]},
                "spec": {"nodeName": pod["node"], "containers": [{"name": "main", "image": "registry.example/app:1"}]},
                "status": {"phase": "Running"}}


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure" if code >= 400 else "Success",
            "reason": reason, "message": message, "code": code}


def serve(cluster: FakeCluster) -> tuple[ThreadingHTTPServer, str]:
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

        def do_GET(self):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/api/v1/nodes":
                key, _, value = query.get("labelSelector", "=").partition("=")
                names = [n for n, node in sorted(cluster.nodes.items()) if not key or node["labels"].get(key) == value]
                return self._send(200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"},
                                        "items": [cluster.node_json(n) for n in names]})
            node_path = re.fullmatch(r"/api/v1/nodes/([^/]+)(/proxy/logs/support/bottlerocket-logs\.tar\.gz)?", url.path)
            if node_path and node_path[1] in cluster.nodes:
                if not node_path[2]:
                    return self._send(200, cluster.node_json(node_path[1]))
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
                items = [cluster.pod_json(ns, name) for (ns, name), pod in sorted(cluster.pods.items()) if pod["node"] == node]
                return self._send(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items})
            return self._send(404, _status(404, "NotFound", self.path))

        def do_POST(self):
            match = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction", urlparse(self.path).path)
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not match or body.get("kind") != "Eviction":
                return self._send(400, _status(400, "BadRequest", "expected an Eviction"))
            key = (match[1], match[2])
            if key not in cluster.pods:
                cluster.evictions.append((*key, 404))
                return self._send(404, _status(404, "NotFound", f'pods "{key[1]}" not found'))
            if cluster.budget_refusals.get(key, 0) > 0:
                cluster.budget_refusals[key] -= 1
                cluster.evictions.append((*key, 429))
                return self._send(429, _status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."))
            del cluster.pods[key]
            cluster.evictions.append((*key, 201))
            return self._send(201, _status(201, "", ""))

        def do_PATCH(self):
            match = re.fullmatch(r"/api/v1/nodes/([^/]+)", urlparse(self.path).path)
            length = int(self.headers.get("Content-Length", 0))
            patch = json.loads(self.rfile.read(length) or b"{}")
            if not match or match[1] not in cluster.nodes:
                return self._send(404, _status(404, "NotFound", self.path))
            cluster.patches.append((match[1], patch))
            cluster.nodes[match[1]]["unschedulable"] = bool(patch.get("spec", {}).get("unschedulable"))
            return self._send(200, cluster.node_json(match[1]))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
