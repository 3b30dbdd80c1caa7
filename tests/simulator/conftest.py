"""Fixtures for the simulator's tests against the session's moto server.

Each test gets a fresh :class:`~simulator.fleet.Fleet` on a simulated clock, with the server's
faults, request log and API config reset before and after, and its clusters removed at the
end. Clients for the code under test sign with their own access key ids, never the
simulator's, so the server treats them as a pipeline replica would be treated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from simulator.client import SimulatorControl, SimulatorUnavailableError
from simulator.clock import SimClock
from simulator.fleet import Fleet

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


@pytest.fixture(scope="session")
def simulator_control(moto_url: str) -> Iterator[SimulatorControl]:
    control = SimulatorControl(moto_url)
    try:
        control.info()
    except SimulatorUnavailableError as exc:
        # AURORA_TEST_AWS named a moto started without the extension.
        pytest.fail(str(exc))
    yield control
    control.close()


@pytest.fixture
def fleet(moto_url: str, simulator_control: SimulatorControl) -> Iterator[Fleet]:
    simulator_control.reset()
    fleet = Fleet(moto_url, clock=SimClock(), seed=uuid.uuid4().hex)
    yield fleet
    fleet.close()
    simulator_control.reset()


@pytest.fixture
def ident() -> Callable[[str], str]:
    """RDS identifiers no other test uses (a letter first, letters, digits, single hyphens)."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_rds(moto_url: str, access_key_id: str = "AKIAREADER0000000001") -> RDSClient:
    """A boto3 RDS client as a pipeline replica has one: its own key, no automatic retries."""
    client: RDSClient = boto3.client(
        "rds",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key="test-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return client


@pytest.fixture
def rds(moto_url: str) -> Iterator[RDSClient]:
    client = make_rds(moto_url)
    yield client
    client.close()
