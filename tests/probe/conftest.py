"""Fixtures for the probe: a real moto server on loopback, reset between tests.

Never reaches AWS: dummy credentials are set for the session and every client is pointed at
the server's URL.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
CLEARED_ENVIRONMENT = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port, with dummy credentials; yields its URL."""
    saved = {name: os.environ.get(name) for name in (*DUMMY_ENVIRONMENT, *CLEARED_ENVIRONMENT)}
    os.environ.update(DUMMY_ENVIRONMENT)
    for name in CLEARED_ENVIRONMENT:
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def moto(moto_server: str) -> str:
    """The moto server's URL, with every service's state reset for this test."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_server


@pytest.fixture
def setup_client(moto: str) -> Callable[..., Any]:
    """Plain, unguarded boto3 clients for arranging a test's world (never for the probe)."""

    def make(service: str, region: str = REGION) -> Any:
        return boto3.client(service, endpoint_url=moto, region_name=region)

    return make
