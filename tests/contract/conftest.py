"""Fixtures for the contract server's own tests.

One server and one client serve the whole session (starting a server per test costs more than
the tests); each test gets the server :meth:`reset` to its constructed state, fixed clock
included, so tests stay independent.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.contract.openobserve_server import OpenObserveContractServer

NOW_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a fixed clock keeps timestamps exact
NOW_US = int(NOW_S * 1_000_000)
HOUR_US = 3_600_000_000


@pytest.fixture(scope="session")
def _shared_server() -> Iterator[OpenObserveContractServer]:
    with OpenObserveContractServer(clock=lambda: NOW_S) as srv:
        yield srv


@pytest.fixture
def server(_shared_server: OpenObserveContractServer) -> OpenObserveContractServer:
    _shared_server.reset()
    return _shared_server


@pytest.fixture(scope="session")
def _shared_client(_shared_server: OpenObserveContractServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_shared_server.url, auth=_shared_server.auth, timeout=10.0) as c:
        yield c


@pytest.fixture
def client(server: OpenObserveContractServer, _shared_client: httpx.Client) -> httpx.Client:
    return _shared_client
