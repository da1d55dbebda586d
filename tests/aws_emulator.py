"""A real AWS API emulator (moto's server) on localhost, and how tests seed it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, UTC

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
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
