"""DownloadDBLogFilePortion over HTTP with RDS's paging semantics (boto3 and aioboto3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aioboto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from simulator.fleet import Fleet, SimInstance
from simulator.profiles import AURORA_MYSQL_3, LogOptions, LogProfile, Rate

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

pytestmark = pytest.mark.integration

MB = 1_048_576
SLOW = "slowquery/mysql-slowquery.log"
GENERAL = "general/mysql-general.log"


def _busy(fleet: Fleet, name: str, rates: dict[str, Rate]) -> SimInstance:
    cluster = fleet.add_cluster(
        name, AURORA_MYSQL_3, instances=1, profile=LogProfile(rates, LogOptions())
    )
    assert cluster.writer is not None
    return fleet.instance(cluster.writer)


def _read_all(
    rds: RDSClient, instance: str, name: str, marker: str = "0", **extra: Any
) -> tuple[bytes, list[dict[str, Any]]]:
    data = b""
    pages = []
    while True:
        page = rds.download_db_log_file_portion(
            DBInstanceIdentifier=instance, LogFileName=name, Marker=marker, **extra
        )
        pages.append(dict(page))
        data += page.get("LogFileData", "").encode()
        marker = page["Marker"]
        if not page["AdditionalDataPending"]:
            return data, pages


def test_marker_zero_pages_through_the_whole_file_in_one_megabyte_pages(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("orders"), {"slowquery": Rate(bytes_per_min=90_000)})
    fleet.advance(38 * 60)  # 09:17 -> 09:55: one file of about 3.4 MB
    expected = fleet.path(instance.id, SLOW).read_bytes()
    assert len(expected) > 3 * MB
    data, pages = _read_all(rds, instance.id, SLOW)
    assert data == expected
    assert len(pages) == 4
    for page in pages[:-1]:
        chunk = page["LogFileData"].encode()
        assert MB - 20_000 < len(chunk) <= MB, "full pages, cut after the last whole line"
        assert chunk.endswith(b"\n")
        assert page["AdditionalDataPending"] is True
    # Markers are opaque; they look like RDS's `<segment>:<offset>`.
    assert all(re.fullmatch(r"\d{1,2}:\d+", page["Marker"]) for page in pages)


def test_reading_on_from_the_last_marker_returns_exactly_the_new_bytes(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("billing"), {"general": Rate(entries_per_s=5)})
    fleet.advance(60)
    first, pages = _read_all(rds, instance.id, GENERAL)
    fleet.advance(60)
    more, _ = _read_all(rds, instance.id, GENERAL, marker=pages[-1]["Marker"])
    assert more
    assert first + more == fleet.path(instance.id, GENERAL).read_bytes()


def test_a_rotated_file_read_to_its_end_returns_marker_zero(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("auth"), {"slowquery": Rate(entries_per_s=2)})
    fleet.advance(3600)
    rotated = "slowquery/mysql-slowquery.log.2024-01-04.9"
    data, pages = _read_all(rds, instance.id, rotated)
    assert data == fleet.path(instance.id, rotated).read_bytes()
    assert pages[-1]["Marker"] == "0"
    fleet.api.set(zero_marker_at_segment_end=False)
    _, pages = _read_all(rds, instance.id, rotated)
    assert pages[-1]["Marker"] == f"2024-01-04.9:{len(data)}"


def test_without_marker_or_lines_the_last_ten_thousand_lines_come_back(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("events"), {"error": Rate(entries_per_s=150)})
    fleet.advance(80)
    content = fleet.path(instance.id, "error/mysql-error-running.log").read_bytes()
    lines = content.splitlines(keepends=True)
    assert len(lines) > 10_000
    last = b"".join(lines[-10_000:])
    fleet.api.set(page_cap_bytes=8 * MB)
    page = rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance.id, LogFileName="error/mysql-error-running.log"
    )
    assert page["LogFileData"].encode() == last
    assert page["AdditionalDataPending"] is False
    # With the real 1 MB cap the tail starts at the same line and stops at the cap; following
    # the markers reaches the end, but never the bytes before the tail: a reader that omits
    # Marker="0" on its first call stops short of Size.
    fleet.api.set(page_cap_bytes=MB)
    page = rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance.id, LogFileName="error/mysql-error-running.log"
    )
    assert last.startswith(page["LogFileData"].encode())
    assert page["AdditionalDataPending"] is (len(last) > MB)
    rest, _ = _read_all(rds, instance.id, "error/mysql-error-running.log", page["Marker"])
    assert page["LogFileData"].encode() + rest == last
    assert len(last) < len(content)


def test_number_of_lines_reads_from_the_end_or_from_the_marker(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("crm"), {"error": Rate(entries_per_s=3)})
    fleet.advance(120)
    name = "error/mysql-error-running.log"
    lines = fleet.path(instance.id, name).read_bytes().splitlines(keepends=True)
    tail = rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance.id, LogFileName=name, NumberOfLines=7
    )
    assert tail["LogFileData"].encode() == b"".join(lines[-7:])
    assert tail["AdditionalDataPending"] is False
    head = rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance.id, LogFileName=name, Marker="0", NumberOfLines=7
    )
    assert head["LogFileData"].encode() == b"".join(lines[:7])
    assert head["AdditionalDataPending"] is True
    following = rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance.id, LogFileName=name, Marker=head["Marker"], NumberOfLines=5
    )
    assert following["LogFileData"].encode() == b"".join(lines[7:12])
    # In blocks of lines from "0", as the API reference describes, until nothing is pending.
    data, pages = _read_all(rds, instance.id, name, NumberOfLines=40)
    assert data == b"".join(lines)
    assert len(pages) == -(-len(lines) // 40)


def test_missing_files_instances_and_bad_markers_are_errors(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("misc"), {"error": Rate(entries_per_s=1)})
    fleet.advance(10)
    cases = [
        (
            {"DBInstanceIdentifier": instance.id, "LogFileName": "error/nope.log"},
            "DBLogFileNotFoundFault",
            404,
        ),
        (
            {"DBInstanceIdentifier": instance.id, "LogFileName": "../../etc/passwd"},
            "DBLogFileNotFoundFault",
            404,
        ),
        (
            {"DBInstanceIdentifier": "no-such-db", "LogFileName": "error/mysql-error-running.log"},
            "DBInstanceNotFound",
            404,
        ),
        (
            {
                "DBInstanceIdentifier": instance.id,
                "LogFileName": "error/mysql-error-running.log",
                "Marker": "not-a-marker",
            },
            "InvalidParameterValue",
            400,
        ),
    ]
    for kwargs, code, status in cases:
        with pytest.raises(ClientError) as failed:
            rds.download_db_log_file_portion(**kwargs)
        assert failed.value.response["Error"]["Code"] == code
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_a_marker_beyond_the_end_returns_nothing(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("short"), {"error": Rate(entries_per_s=1)})
    fleet.advance(10)
    page = rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance.id,
        LogFileName="error/mysql-error-running.log",
        Marker="9:99999999",
    )
    assert page.get("LogFileData", "") == ""
    assert page["AdditionalDataPending"] is False


async def test_aioboto3_pages_through_a_file_too(
    fleet: Fleet, moto_url: str, ident: Callable[[str], str]
) -> None:
    instance = _busy(fleet, ident("async"), {"general": Rate(bytes_per_min=60_000)})
    fleet.advance(25 * 60)
    fleet.api.set(page_cap_bytes=256 * 1024)
    session = aioboto3.Session(
        aws_access_key_id="AKIAASYNCREADER00001", aws_secret_access_key="test-secret"
    )
    data = b""
    async with session.client(
        "rds",
        endpoint_url=moto_url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}),
    ) as client:
        paginator = client.get_paginator("download_db_log_file_portion")
        pages = 0
        async for page in paginator.paginate(
            DBInstanceIdentifier=instance.id, LogFileName=GENERAL, Marker="0"
        ):
            data += page.get("LogFileData", "").encode()
            pages += 1
    assert data == fleet.path(instance.id, GENERAL).read_bytes()
    assert pages >= 5
