"""Session fixtures: the real services the integration tests talk to.

Each service starts once per session, on first use, on free ports, and is stopped at the end;
the teardown fails the session if a process it started is still alive. A service can instead
be one already running, named by an environment variable:

- ``AURORA_TEST_KAFKA=host:port``, ``AURORA_TEST_VALKEY=redis://host:port/0``,
  ``AURORA_TEST_AWS=http://host:port`` (a moto server), ``AURORA_TEST_OPENOBSERVE=http://...``
- ``AURORA_TEST_DOCKER=1``: Kafka and Valkey from testcontainers on a machine with Docker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from devstack.stack import OPENOBSERVE_PASSWORD, OPENOBSERVE_USER, LocalStack, aws_env
from simulator.client import SimulatorControl, SimulatorUnavailableError
from simulator.clock import SimClock
from simulator.fleet import Fleet


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("stack"))
    yield stack
    leftovers = stack.stop()
    assert not leftovers, f"processes outlived the test session: {leftovers}"


def _docker_requested() -> bool:
    return os.environ.get("AURORA_TEST_DOCKER", "") not in {"", "0", "false"}


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack: LocalStack) -> Iterator[str]:
    """``host:port`` of a Kafka 4 broker in KRaft mode."""
    if given := os.environ.get("AURORA_TEST_KAFKA"):
        yield given
    elif _docker_requested():
        from devstack.containers import kafka_container

        with kafka_container() as bootstrap:
            yield bootstrap
    else:
        yield local_stack.ensure("kafka").address


@pytest.fixture(scope="session")
def valkey_url(local_stack: LocalStack) -> Iterator[str]:
    """``redis://host:port/0`` of a Valkey server."""
    if given := os.environ.get("AURORA_TEST_VALKEY"):
        yield given
    elif _docker_requested():
        from devstack.containers import valkey_container

        with valkey_container() as url:
            yield url
    else:
        yield f"redis://{local_stack.ensure('valkey').address}/0"


@pytest.fixture(scope="session")
def moto_url(local_stack: LocalStack) -> str:
    """``http://host:port`` of a moto server (with the stack's extensions)."""
    if given := os.environ.get("AURORA_TEST_AWS"):
        return given
    return f"http://{local_stack.ensure('moto').address}"


@pytest.fixture(scope="session")
def aws_environ(moto_url: str) -> Iterator[dict[str, str]]:
    """Point the AWS SDKs of this process at moto for the session (fake credentials only)."""
    env = aws_env(moto_url)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def openobserve_url(local_stack: LocalStack) -> str:
    """Base URL of the OpenObserve contract server (root user in org ``default``)."""
    if given := os.environ.get("AURORA_TEST_OPENOBSERVE"):
        return given
    return f"http://{local_stack.ensure('openobserve').address}"


@pytest.fixture(scope="session")
def openobserve_credentials() -> tuple[str, str]:
    return OPENOBSERVE_USER, OPENOBSERVE_PASSWORD


# The simulated Aurora fleet. Each test gets a fresh Fleet on a simulated clock, with the
# server's faults, request log and API config reset before and after, and its clusters removed
# at the end.


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


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names (topics, tables, buckets, key prefixes) no other test uses."""
    token = uuid.uuid4().hex[:8]

    def make(prefix: str) -> str:
        return f"{prefix}-{request.node.name[:30].strip('_-[]')}-{token}".replace("_", "-").lower()

    return make
