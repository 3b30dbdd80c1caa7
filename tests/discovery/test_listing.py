"""DescribeDBLogFiles through the shared budget, on the simulator: pages, the filter, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from common.errors import NotFoundError
from common.ratelimit import RDS_CALLS, RdsCaller
from discovery.listing import LogFileLister
from simulator import AURORA_MYSQL_3, Fleet, LogOptions, LogProfile, Rate
from tests.discovery.conftest import replica_clients

pytestmark = pytest.mark.integration


@pytest.fixture
async def rds(moto_url: str) -> AsyncIterator[Any]:
    async with replica_clients(moto_url, "AKIADISCOVERYLIST001").rds() as client:
        yield client


@pytest.fixture
def instance(fleet: Fleet, ident: Callable[[str], str]) -> str:
    """An instance with a day of numbered hourly error logs: over 24 files."""
    profile = LogProfile.uniform(
        AURORA_MYSQL_3, Rate(bytes_per_min=100), LogOptions(error_naming="hour")
    )
    cluster = fleet.add_cluster(ident("list"), AURORA_MYSQL_3, instances=1, profile=profile)
    for _ in range(26):
        fleet.advance(3600)
    assert cluster.writer is not None
    return cluster.writer


async def test_every_page_is_listed_and_each_page_is_one_budgeted_call(
    fleet: Fleet, rds: Any, caller: RdsCaller, instance: str
) -> None:
    expected = set(fleet.log_files(instance))
    assert len(expected) > 40
    before = RDS_CALLS.labels("DescribeDBLogFiles", "ok")._value.get()
    listed = await LogFileLister(rds, caller, page_size=20).list(instance, None)
    assert {entry.name for entry in listed.listing.entries} == expected
    assert listed.listing.complete
    assert listed.calls == -(-len(expected) // 20)
    assert RDS_CALLS.labels("DescribeDBLogFiles", "ok")._value.get() - before == listed.calls
    sizes = {entry.name: entry.size for entry in listed.listing.entries}
    assert all(sizes[name] == fleet.path(instance, name).stat().st_size for name in expected)


async def test_file_last_written_lists_only_what_was_written_since(
    fleet: Fleet, rds: Any, caller: RdsCaller, instance: str
) -> None:
    lister = LogFileLister(rds, caller)
    everything = (await lister.list(instance, None)).listing.entries
    newest = max(entry.last_written_ms for entry in everything)
    recent = await lister.list(instance, newest)
    assert recent.listing.since_ms == newest
    assert not recent.listing.complete
    assert recent.listing.entries
    assert {e.name for e in recent.listing.entries} == {
        e.name for e in everything if e.last_written_ms >= newest
    }


async def test_an_instance_that_is_gone_is_not_found(rds: Any, caller: RdsCaller) -> None:
    with pytest.raises(NotFoundError):
        await LogFileLister(rds, caller).list("no-such-instance-x1", None)
