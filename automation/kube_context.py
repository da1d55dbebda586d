"""The kubeconfig a command acts through, checked against the stack's cluster before anything changes:
its API server must be the EKS endpoint `DescribeCluster` reports for the stack's cluster name (else a
context left on prod could drain or read prod while you meant dev)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as kubernetes_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import ENV_KUBECONFIG_PATH_SEPARATOR

from automation.exit_codes import CommandFailed, UsageError

DEFAULT_KUBECONFIG = "~/.kube/config"  # the client's default (kubernetes/config/kube_config.py, KUBE_CONFIG_DEFAULT_LOCATION)

REACHABILITY_TIMEOUT_SECONDS = 10


class KubeContextError(Exception):
    """The kubeconfig is missing, broken, unreachable or points at another cluster: exit 2, one line."""


class ClusterUnreadable(KubeContextError):
    """AWS could not describe the stack's cluster (no credentials, access denied, no such cluster,
    throttling): a failure, exit 1, as the README's exit-code table counts AWS failures."""


def command_error(command: str, error: KubeContextError) -> Exception:
    """What the top-level handler reports for `command`'s KubeContextError: one line, exit 1 or 2."""
    failed = CommandFailed if isinstance(error, ClusterUnreadable) else UsageError
    return failed(f"{command}: {error}")


def _normalised(url: str) -> str:
    parts = urlsplit(url.strip().rstrip("/"))
    port = f":{parts.port}" if parts.port and not (parts.scheme == "https" and parts.port == 443) else ""
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{port}{parts.path}"


def load_api_client(kubeconfig: str | None, cluster_name: str | None = None) -> k8s_client.ApiClient:
    """The API client of `kubeconfig`, else of KUBECONFIG (read now, not when the client was imported), else
    of ~/.kube/config. The client skips files that do not exist and then says only "Invalid kube-config file.
    No configuration found." (kubernetes-client/python v37.0.1, kubernetes/config/kube_config.py,
    KubeConfigMerger._load_config_from_file_path),
    so a missing file is named here first."""
    from_environment = os.environ.get("KUBECONFIG")
    config_file = kubeconfig or from_environment or DEFAULT_KUBECONFIG
    paths = [path for path in config_file.split(ENV_KUBECONFIG_PATH_SEPARATOR) if path]
    if not any(os.path.exists(os.path.expanduser(path)) for path in paths):
        if kubeconfig:
            raise KubeContextError(f"kubeconfig {kubeconfig}: file not found")
        where = f"KUBECONFIG={from_environment} does not exist" if from_environment else f"KUBECONFIG is not set and there is no {DEFAULT_KUBECONFIG}"
        raise KubeContextError(f"kubeconfig not found ({where}): run `aws eks update-kubeconfig --name {cluster_name or '<cluster>'}` "
                               "or pass --kubeconfig FILE")
    try:
        return kubernetes_config.new_client_from_config(config_file=config_file)
    except (ConfigException, OSError, ValueError, TypeError, yaml.YAMLError) as error:
        raise KubeContextError(f"kubeconfig {config_file}: {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}") from None


def cluster_api_client(kubeconfig: str | None, eks: Any, cluster_name: str) -> k8s_client.ApiClient:
    """The kubeconfig's API client, once it is known to reach the stack's cluster (KubeContextError if not)."""
    api_client = load_api_client(kubeconfig, cluster_name)
    check_cluster(api_client, eks, cluster_name)
    return api_client


def check_cluster(api_client: k8s_client.ApiClient, eks: Any, cluster_name: str) -> None:
    """Raise unless the client's API server is `cluster_name`'s endpoint and answers."""
    server = api_client.configuration.host
    try:
        endpoint = eks.describe_cluster(name=cluster_name)["cluster"].get("endpoint") or ""
    except Exception as error:  # botocore's ClientError and connection errors alike: one line
        raise ClusterUnreadable(f"cannot describe EKS cluster {cluster_name}: {error}") from None
    if _normalised(server) != _normalised(endpoint):
        raise KubeContextError(f"the kube context's API server is {server}, but the stack's cluster {cluster_name} is at "
                               f"{endpoint or 'an unknown endpoint'}; switch context (aws eks update-kubeconfig --name {cluster_name}) or pass --kubeconfig")
    try:
        k8s_client.VersionApi(api_client).get_code(_request_timeout=REACHABILITY_TIMEOUT_SECONDS)
    except Exception as error:  # urllib3 connection errors, TLS errors, 401/403: the context cannot be used
        reason = getattr(error, "reason", None) or type(error).__name__
        raise KubeContextError(f"cannot reach the API server {server} of cluster {cluster_name}: {reason}") from None
