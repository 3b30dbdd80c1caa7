"""DescribeDBLogFiles over HTTP: real sizes, coarse LastWritten, filters, paging, errors."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from simulator.fleet import Fleet, SimInstance
from simulator.profiles import AURORA_MYSQL_3, LogOptions, LogProfile, Rate

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

pytestmark = pytest.mark.integration


def _listed(rds: RDSClient, instance: str, **filters: Any) -> dict[str, dict[str, Any]]:
    answer = rds.describe_db_log_files(DBInstanceIdentifier=instance, **filters)
    assert "Marker" not in answer
    return {f["LogFileName"]: dict(f) for f in answer["DescribeDBLogFiles"]}


@pytest.fixture
def writer(fleet: Fleet, ident: Callable[[str], str]) -> SimInstance:
    cluster = fleet.add_cluster(ident("orders"), AURORA_MYSQL_3, instances=1)
    fleet.advance(3600)  # 09:17 -> 10:17: every hourly log has rotated once
    assert cluster.writer is not None
    return fleet.instance(cluster.writer)


def test_lists_every_file_with_its_real_size(
    fleet: Fleet, rds: RDSClient, writer: SimInstance
) -> None:
    listed = _listed(rds, writer.id)
    assert sorted(listed) == fleet.log_files(writer.id)
    assert "slowquery/mysql-slowquery.log.2024-01-04.9" in listed
    for name, item in listed.items():
        assert item["Size"] == fleet.path(writer.id, name).stat().st_size


def test_last_written_is_coarse_by_default_and_configurable(
    fleet: Fleet, rds: RDSClient, writer: SimInstance
) -> None:
    name = "general/mysql-general.log"
    mtime_ms = fleet.path(writer.id, name).stat().st_mtime_ns // 1_000_000
    coarse = _listed(rds, writer.id)[name]["LastWritten"]
    assert coarse % 300_000 == 0, "AWS's examples are multiples of 300 s; so is the default"
    assert mtime_ms - 300_000 < coarse <= mtime_ms
    fleet.api.set(last_written_granularity_ms=1)
    assert _listed(rds, writer.id)[name]["LastWritten"] == mtime_ms


def test_file_last_written_returns_only_files_written_since(
    fleet: Fleet, rds: RDSClient, writer: SimInstance
) -> None:
    fleet.api.set(last_written_granularity_ms=1)
    every = _listed(rds, writer.id)
    rotated = every["slowquery/mysql-slowquery.log.2024-01-04.9"]["LastWritten"]
    recent = _listed(rds, writer.id, FileLastWritten=rotated + 1)
    assert recent
    assert all(item["LastWritten"] > rotated for item in recent.values())
    assert "slowquery/mysql-slowquery.log.2024-01-04.9" not in recent
    assert "slowquery/mysql-slowquery.log" in recent
    # "Since" includes the moment itself.
    assert "slowquery/mysql-slowquery.log.2024-01-04.9" in _listed(
        rds, writer.id, FileLastWritten=rotated
    )
    # Nothing written after the last write: empty, as a quiet poll would see.
    newest = max(item["LastWritten"] for item in every.values())
    assert _listed(rds, writer.id, FileLastWritten=newest + 1) == {}


def test_filename_contains_and_file_size_filter(rds: RDSClient, writer: SimInstance) -> None:
    slow = _listed(rds, writer.id, FilenameContains="slowquery")
    assert sorted(slow) == [
        "slowquery/mysql-slowquery.log",
        "slowquery/mysql-slowquery.log.2024-01-04.9",
    ]
    every = _listed(rds, writer.id)
    middle = sorted(item["Size"] for item in every.values())[len(every) // 2]
    larger = _listed(rds, writer.id, FileSize=middle)
    assert larger
    assert all(item["Size"] > middle for item in larger.values())
    assert set(larger) == {name for name, item in every.items() if item["Size"] > middle}


def test_pages_with_max_records_and_marker(rds: RDSClient, writer: SimInstance) -> None:
    every = _listed(rds, writer.id)
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": writer.id, "MaxRecords": 3}
        if marker:
            kwargs["Marker"] = marker
        answer = rds.describe_db_log_files(**kwargs)
        seen += [item["LogFileName"] for item in answer["DescribeDBLogFiles"]]
        pages += 1
        marker = answer.get("Marker")
        if not marker:
            break
    assert pages == -(-len(every) // 3)
    assert seen == sorted(every)
    # botocore's paginator drives the same markers.
    paginator = rds.get_paginator("describe_db_log_files")
    names = [
        item["LogFileName"]
        for page in paginator.paginate(
            DBInstanceIdentifier=writer.id, PaginationConfig={"PageSize": 4}
        )
        for item in page["DescribeDBLogFiles"]
    ]
    assert names == seen


def test_a_busy_instance_needs_more_than_one_default_page(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    # Dated error logs are kept 30 days: five days already make 120 files.
    profile = LogProfile(
        {"error": Rate(entries_per_s=0.002)}, LogOptions(error_naming="dated_padded")
    )
    cluster = fleet.add_cluster(ident("ledger"), AURORA_MYSQL_3, instances=1, profile=profile)
    fleet.advance(5 * 24 * 3600)
    assert cluster.writer is not None
    first = rds.describe_db_log_files(DBInstanceIdentifier=cluster.writer)
    assert len(first["DescribeDBLogFiles"]) == 100
    rest = rds.describe_db_log_files(DBInstanceIdentifier=cluster.writer, Marker=first["Marker"])
    assert "Marker" not in rest
    total = len(first["DescribeDBLogFiles"]) + len(rest["DescribeDBLogFiles"])
    assert total == len(os.listdir(fleet.instance(cluster.writer).directory / "error"))


def test_unknown_instances_are_not_found(rds: RDSClient) -> None:
    with pytest.raises(ClientError) as missing:
        rds.describe_db_log_files(DBInstanceIdentifier="no-such-instance")
    assert missing.value.response["Error"]["Code"] == "DBInstanceNotFound"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_instance_without_files_lists_none(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    profile = LogProfile({}, LogOptions())
    cluster = fleet.add_cluster(ident("quiet"), AURORA_MYSQL_3, instances=1, profile=profile)
    assert cluster.writer is not None
    assert (
        rds.describe_db_log_files(DBInstanceIdentifier=cluster.writer)["DescribeDBLogFiles"] == []
    )


def test_a_listing_during_writes_never_sees_the_wall_clock_or_half_an_append(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    profile = LogProfile.uniform(AURORA_MYSQL_3, Rate(bytes_per_min=4_000_000))
    cluster = fleet.add_cluster(ident("busy"), AURORA_MYSQL_3, instances=1, profile=profile)
    assert cluster.writer is not None
    instance = cluster.writer
    fleet.api.set(last_written_granularity_ms=1)
    stop = threading.Event()
    seen: list[tuple[str, int, int]] = []

    def watch() -> None:
        while not stop.is_set():
            answer = rds.describe_db_log_files(DBInstanceIdentifier=instance)
            seen.extend(
                (f["LogFileName"], f["Size"], f["LastWritten"])
                for f in answer["DescribeDBLogFiles"]
            )

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(4):
            fleet.advance(60)
    finally:
        stop.set()
        watcher.join(timeout=30)
    now_ms = fleet.clock.now_us() // 1000
    assert len(seen) > 20
    assert max(written for _name, _size, written in seen) <= now_ms
    # Every size seen ends an entry the truth knows (never inside an append).
    ends = {(e.name, e.end) for e in fleet.truth.entries(instance=instance, include_headers=True)}
    ends |= {(f.names[0][1], 0) for f in fleet.truth.files(instance=instance)}
    assert all((name, size) in ends for name, size, _written in seen if name.startswith("general"))
