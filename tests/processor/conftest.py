"""Fixtures shared by the processor's integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.openobserve_server import OpenObserveContractServer

USER, PASSWORD = "root@example.com", "pw"


@pytest.fixture(scope="module")
def wide_openobserve() -> Iterator[OpenObserveContractServer]:
    """An OpenObserve contract server of the module's own that takes records of any age
    (simulated logs are dated in the past)."""
    with OpenObserveContractServer(
        root_email=USER, root_password=PASSWORD, ingest_allowed_upto_hours=10**6
    ) as server:
        yield server
