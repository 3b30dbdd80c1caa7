"""The /healthz, /readyz and /metrics server over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from common.health import HealthServer, Liveness, Readiness
from common.settings import HttpSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def served(clock: FakeClock) -> AsyncIterator[tuple[str, Liveness, Readiness]]:
    registry = CollectorRegistry()
    counter = Counter("events_published_total", "Events published.", registry=registry)
    counter.inc(3)
    liveness = Liveness(timeout_s=60, clock=clock)
    readiness = Readiness(check_timeout_s=0.2)
    server = HealthServer(
        HttpSettings(host="127.0.0.1", port=0),
        liveness=liveness,
        readiness=readiness,
        registry=registry,
    )
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", liveness, readiness
    finally:
        await server.stop()


async def test_liveness_follows_progress_reports(
    served: tuple[str, Liveness, Readiness], clock: FakeClock
) -> None:
    url, liveness, _ = served
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200
        clock.now += 61
        stalled = await client.get("/healthz")
        assert stalled.status_code == 503
        assert stalled.json()["status"] == "stalled"
        liveness.beat()
        assert (await client.get("/healthz")).status_code == 200


async def test_readiness_runs_every_check(served: tuple[str, Liveness, Readiness]) -> None:
    url, _, readiness = served

    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionRefusedError("valkey refused")

    readiness.add("kafka", ok)
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/readyz")
        assert answer.json() == {"checks": {"kafka": "ok"}, "status": "ready"}
        readiness.add("valkey", down)
        answer = await client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["valkey"] == "ConnectionRefusedError: valkey refused"


async def test_a_hanging_check_times_out(served: tuple[str, Liveness, Readiness]) -> None:
    import asyncio

    url, _, readiness = served

    async def hangs() -> None:
        await asyncio.Event().wait()

    readiness.add("dynamodb", hangs)
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["dynamodb"].startswith("timed out")


async def test_not_ready_while_shutting_down(served: tuple[str, Liveness, Readiness]) -> None:
    url, _, readiness = served
    readiness.shutting_down = True
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["shutdown"] == "in progress"


async def test_metrics_in_prometheus_text_format(served: tuple[str, Liveness, Readiness]) -> None:
    url, _, _ = served
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert "events_published_total 3.0" in answer.text
        assert (await client.get("/nope")).status_code == 404
        assert (await client.post("/metrics")).status_code == 405
