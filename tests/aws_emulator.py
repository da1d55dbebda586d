"""A real AWS API emulator (moto's server) on localhost, and how tests seed it."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, UTC
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.session
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import recorder
from moto.server import ThreadedMotoServer
from moto.ssm.models import Parameter, ssm_backends


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """Standard AWS settings pointing boto3 at the emulator; the emulator is reset for each test."""
    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    return boto3.Session(region_name="eu-west-1")


def seed_public_parameter(name: str, value: str, region: str = "eu-west-1") -> None:
    """AWS publishes /aws/service/* parameters and the API refuses to write them, moto included; moto
    itself loads its built-in public parameters into its backend like this."""
    ssm_backends[DEFAULT_ACCOUNT_ID][region]._parameters[name].append(Parameter(
        account_id=DEFAULT_ACCOUNT_ID, name=name, value=value, parameter_type="String", description=None,
        allowed_pattern=None, keyid=None, last_modified_date=datetime.now(UTC).timestamp(), version=1, data_type="text"))


def _operation(entry: dict) -> str:
    """'service:Operation' of one request in moto's request log: the service from the SigV4 credential
    scope, the operation from the JSON protocol's X-Amz-Target, the query protocol's Action, or else
    (REST) the service model's method and request URI that match the request."""
    headers = {name.lower(): value for name, value in entry["headers"].items()}
    service = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers["authorization"]).group(1)
    if "x-amz-target" in headers:
        return f"{service}:{headers['x-amz-target'].rsplit('.', 1)[1]}"
    body = base64.b64decode(entry["body"]).decode() if entry["body_encoded"] else entry["body"] or ""
    action = parse_qs(body).get("Action")
    if action:
        return f"{service}:{action[0]}"
    model = botocore.session.get_session().get_service_model(service)
    path = urlsplit(entry["url"]).path
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(http["requestUri"].split("?")[0]))
        if http["method"] == entry["method"] and re.fullmatch(uri, path):
            return f"{service}:{name}"
    raise AssertionError(f"no {service} operation for {entry['method']} {path}")


@contextmanager
def recorded_operations(endpoint: str, log: Path) -> Iterator[list[str]]:
    """The AWS operations moto's server receives inside the block, in order ('eks:DescribeCluster', ...),
    read from moto's own request log (its recorder, written to `log`) when the block ends."""
    import requests

    operations: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recorder, "_location", str(log))
        requests.post(f"{endpoint}/moto-api/recorder/reset-recording", timeout=10)
        requests.post(f"{endpoint}/moto-api/recorder/start-recording", timeout=10)
        try:
            yield operations
        finally:
            requests.post(f"{endpoint}/moto-api/recorder/stop-recording", timeout=10)
        recording = requests.get(f"{endpoint}/moto-api/recorder/download-recording", timeout=10).text
    operations += [_operation(json.loads(line)) for line in recording.splitlines() if line]
