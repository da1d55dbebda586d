"""`python -m automation node-logs`: the field notes' way to get a node's logs when the collector was down.

1. The node's instance id from its providerID (`aws:///<zone>/<instance id>`).
2. SSM runs, in the control container, `apiclient exec admin sheltie logdog`: Bottlerocket's API client
   runs `sheltie` (a root shell on the host) in the admin container, and `logdog` writes
   /var/log/support/bottlerocket-logs.tar.gz on the host.
3. The archive is downloaded through the Kubernetes API node proxy (kubelet serves /var/log as /logs):
   /api/v1/nodes/<node>/proxy/logs/support/bottlerocket-logs.tar.gz, with progress and a SHA-256.
Needs the admin container, which must be enabled when the nodes are created.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from kubernetes import client as k8s_client

from automation.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from core.deployment import karpenter_node_settings, node_group_settings, shared_bottlerocket_settings
from core.config.stack_config import StackConfig
from core.tags import COLOUR_LABEL

LOGDOG_COMMAND = "apiclient exec admin sheltie logdog"
ARCHIVE_PROXY_PATH = "/api/v1/nodes/{node}/proxy/logs/support/bottlerocket-logs.tar.gz"


class NodeLogsError(Exception):
    """Why the logs could not be fetched, and what to do."""


def instance_id(provider_id: str) -> str:
    """`aws:///eu-west-1a/i-0123456789abcdef0` -> `i-0123456789abcdef0`."""
    candidate = provider_id.rstrip("/").rsplit("/", 1)[-1]
    if not provider_id.startswith("aws://") or not candidate.startswith("i-"):
        raise NodeLogsError(f"providerID {provider_id!r} is not an EC2 instance")
    return candidate


def admin_container_enabled(config: StackConfig, labels: dict[str, str]) -> tuple[bool, str]:
    """(enabled, where the setting comes from) for a node, found through its labels."""
    group = labels.get(COLOUR_LABEL)
    if group in config.node_groups:
        settings, source = node_group_settings(config, group), f"node group {group}"
    elif labels.get("karpenter.sh/nodepool") and config.karpenter is not None:
        settings, source = karpenter_node_settings(config), "Karpenter's EC2NodeClass"
    else:
        settings, source = shared_bottlerocket_settings(config), "the stack's bottlerocket settings"
    return bool(settings.get("host-containers", {}).get("admin", {}).get("enabled")), source


def manual_path(node: str, instance: str, source: str) -> str:
    return "\n".join([
        f"The admin host container is disabled for {source}, so logdog cannot run on {node} ({instance}).",
        "Enabling it now replaces the nodes (and their logs). What still works:",
        f"  aws ssm start-session --target {instance}        # the control container",
        "  apiclient logs ...                                 # journal excerpts through the Bottlerocket API, if your version has it",
        f"  kubectl get --raw /api/v1/nodes/{node}/proxy/logs/   # kubelet-served /var/log: pods/ and containers/ logs",
        "For next time: bottlerocket.host-containers.admin.enabled: true on the group before its nodes are created.",
    ])


def run_logdog(ssm: Any, instance: str, timeout: float, poll: float, sleep: Callable[[float], None], out: TextIO) -> str:
    command = ssm.send_command(InstanceIds=[instance], DocumentName="AWS-RunShellScript",
                               Comment="eks-bottlerocket node-logs: logdog", Parameters={"commands": [LOGDOG_COMMAND]})
    command_id = command["Command"]["CommandId"]
    waited = 0.0
    while True:
        sleep(poll)
        waited += poll
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
        status = invocation["Status"]
        out.write(f"  logdog on {instance}: {status}\n")
        if status == "Success":
            return command_id
        if status in ("Failed", "Cancelled", "TimedOut", "Cancelling"):
            raise NodeLogsError(f"logdog failed on {instance} ({status}): {invocation.get('StandardErrorContent', '').strip()}")
        if waited >= timeout:
            raise NodeLogsError(f"logdog did not finish on {instance} within {timeout:.0f}s (SSM command {command_id})")


def download_archive(api: k8s_client.ApiClient, node: str, target: Path, out: TextIO, chunk_size: int = 1 << 16) -> tuple[int, str]:
    """Stream the archive through the node proxy into `target`; (bytes, SHA-256)."""
    response = api.call_api(*api.param_serialize("GET", ARCHIVE_PROXY_PATH.format(node=node), auth_settings=["BearerToken"]),
                            _request_timeout=600)
    if response.status != 200:
        raise NodeLogsError(f"the node proxy answered HTTP {response.status} for {node}'s archive")
    total = int(response.getheader("Content-Length") or 0)
    digest, written = hashlib.sha256(), 0
    with target.open("wb") as handle:
        for chunk in response.response.stream(chunk_size):
            handle.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            out.write(f"\r  downloaded {written:,} bytes" + (f" of {total:,}" if total else ""))
    out.write("\n")
    return written, digest.hexdigest()


def fetch_node_logs(config: StackConfig, node: str, target: Path, *, core: k8s_client.CoreV1Api, ssm: Any,
                    out: TextIO = sys.stdout, timeout: float = 300.0, poll: float = 5.0,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[int, str] | None:
    """None, after printing the manual path, when the node has no admin container."""
    described = core.read_node(node)
    instance = instance_id(described.spec.provider_id or "")
    enabled, source = admin_container_enabled(config, dict(described.metadata.labels or {}))
    if not enabled:
        out.write(manual_path(node, instance, source) + "\n")
        return None
    out.write(f"node {node} is {instance}; running logdog through SSM and the admin container\n")
    run_logdog(ssm, instance, timeout, poll, sleep, out)
    size, sha256 = download_archive(core.api_client, node, target, out)
    out.write(f"wrote {target} ({size:,} bytes, sha256 {sha256})\n")
    return size, sha256


def run_node_logs(stack: str, node: str, target: Path | None, kubeconfig: str | None,
                  out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from kubernetes.client.rest import ApiException

    from automation.kube_context import KubeContextError, cluster_api_client, command_error
    from automation.base import AwsClients, load_config

    config = load_config(stack, err)
    if config is None:
        return EXIT_USAGE
    aws = AwsClients(config.region)
    try:
        api_client = cluster_api_client(kubeconfig, aws.eks, config.cluster.name)
    except KubeContextError as error:  # the top-level handler: one line, exit 1 or 2, --debug traceback
        raise command_error("node-logs", error) from error
    try:
        result = fetch_node_logs(config, node, target or Path(f"{node}-bottlerocket-logs.tar.gz"), core=k8s_client.CoreV1Api(api_client), ssm=aws.ssm, out=out)
    except (NodeLogsError, ApiException) as error:
        err.write(f"node-logs: {error}\n")
        return EXIT_FAILED
    return EXIT_OK if result else EXIT_FAILED
