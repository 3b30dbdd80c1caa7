"""Every known failure of the RDS log API, switched on per test, seen through boto3."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from botocore.exceptions import ClientError

from simulator.faults import (
    BinaryData,
    Budget,
    DeleteBeforeRead,
    Gap,
    GarbageBytes,
    HugeLine,
    Latency,
    Overlap,
    RotateMidRead,
    Stale,
    Throttle,
    Truncate,
)
from simulator.fleet import Fleet, SimInstance
from simulator.portions import TRUNCATION_TEXT, truncate_page
from simulator.profiles import AURORA_MYSQL_3, LogOptions, LogProfile, Rate
from simulator.rds_api import BINARY_DATA_MESSAGE
from simulator.requestlog import conforms_to_budget
from simulator.truth import entry_digest
from tests.simulator.conftest import make_rds
from tests.simulator.test_download_complete import signed_get

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

pytestmark = pytest.mark.integration

MB = 1_048_576
SLOW = "slowquery/mysql-slowquery.log"
GENERAL = "general/mysql-general.log"
ERROR = "error/mysql-error-running.log"


def _instance(fleet: Fleet, name: str, rates: dict[str, Rate], **options: Any) -> SimInstance:
    profile = LogProfile(rates, LogOptions(**options))
    cluster = fleet.add_cluster(name, AURORA_MYSQL_3, instances=1, profile=profile)
    assert cluster.writer is not None
    return fleet.instance(cluster.writer)


def _error_of(call: Callable[[], object]) -> dict[str, Any]:
    with pytest.raises(ClientError) as failed:
        call()
    response: dict[str, Any] = failed.value.response
    return response


def _page(rds: RDSClient, instance: str, name: str, marker: str = "0", **extra: Any) -> Any:
    return rds.download_db_log_file_portion(
        DBInstanceIdentifier=instance, LogFileName=name, Marker=marker, **extra
    )


def test_throttling_answers_like_aws_and_stops_after_its_count(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("t"), {"error": Rate(entries_per_s=1)})
    fleet.advance(5)
    fault = fleet.faults.add(Throttle(instance=instance.id, count=2))
    for _ in range(2):
        error = _error_of(lambda: rds.describe_db_log_files(DBInstanceIdentifier=instance.id))
        assert error["Error"] == {
            "Type": "Sender",
            "Code": "Throttling",
            "Message": "Rate exceeded",
        }
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert rds.describe_db_log_files(DBInstanceIdentifier=instance.id)["DescribeDBLogFiles"]
    status = fleet.faults.status(fault)
    assert (status.fired, status.exhausted) == (2, True)


def test_throttling_at_a_rate_and_only_in_scope(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    hot = _instance(fleet, ident("hot"), {"error": Rate(entries_per_s=1)})
    calm = _instance(fleet, ident("calm"), {"error": Rate(entries_per_s=1)})
    fleet.advance(5)
    fleet.faults.add(Throttle(instance=hot.id, probability=0.5))
    outcomes = []
    for _ in range(80):
        try:
            rds.describe_db_log_files(DBInstanceIdentifier=hot.id)
            outcomes.append("ok")
        except ClientError:
            outcomes.append("throttled")
        rds.describe_db_log_files(DBInstanceIdentifier=calm.id)  # never throttled
    assert 15 <= outcomes.count("throttled") <= 65


def test_a_budget_is_shared_by_every_caller(
    fleet: Fleet, moto_url: str, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("b"), {"error": Rate(entries_per_s=1)})
    fleet.advance(5)
    assert Budget().burst == 300
    assert Budget().rate_per_s == 12.0
    fleet.faults.add(Budget(burst=6, rate_per_s=0.2))
    since = fleet.requests.last_seq()
    replicas = [make_rds(moto_url, f"AKIAREPLICA000000000{n}") for n in (1, 2)]
    try:
        outcomes = []
        for index in range(12):
            try:
                replicas[index % 2].describe_db_log_files(DBInstanceIdentifier=instance.id)
                outcomes.append("ok")
            except ClientError:
                outcomes.append("throttled")
    finally:
        for client in replicas:
            client.close()
    assert outcomes[:6] == ["ok"] * 6
    assert outcomes[6:].count("ok") <= 1  # 0.2 tokens/s: at most one back in the meantime
    records = fleet.requests.records(since=since)
    assert {r.access_key_id for r in records} == {"AKIAREPLICA0000000001", "AKIAREPLICA0000000002"}
    assert conforms_to_budget(records, burst=6, rate_per_s=0.2) == (True, None)
    allowed, first_over = conforms_to_budget(records, burst=3, rate_per_s=0.2)
    assert not allowed
    assert first_over is not None


def test_latency_holds_matching_answers_back_and_answers_in_parallel(
    fleet: Fleet, rds: RDSClient, moto_url: str, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("late"), {"error": Rate(entries_per_s=1)})
    fleet.advance(5)
    fault = fleet.faults.add(
        Latency(instance=instance.id, action="DownloadDBLogFilePortion", seconds=1.5)
    )
    rds.describe_db_log_files(DBInstanceIdentifier=instance.id)  # out of scope
    assert fleet.faults.status(fault).fired == 0
    started = time.monotonic()
    assert _page(rds, instance.id, ERROR)["LogFileData"]
    assert time.monotonic() - started >= 1.5
    # Two held answers at once take one delay, not two: each request has a thread.
    clients = [make_rds(moto_url) for _ in range(2)]  # boto3 builds clients unsafely in threads
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        pages = list(pool.map(lambda client: _page(client, instance.id, ERROR), clients))
    assert all(page["LogFileData"] for page in pages)
    assert 1.5 <= time.monotonic() - started < 2.9
    assert fleet.faults.status(fault).fired == 3
    # The full-file download is held back too, under its own action name.
    fleet.faults.add(
        Latency(instance=instance.id, action="DownloadCompleteDBLogFile", seconds=1, count=1)
    )
    started = time.monotonic()
    full = signed_get(f"{moto_url}/v13/downloadCompleteLogFile/{instance.id}/{ERROR}")
    assert full.status_code == 200
    assert time.monotonic() - started >= 1


def test_truncation_at_the_page_cap_claims_there_is_nothing_more(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("trunc"), {"slowquery": Rate(bytes_per_min=100_000)})
    fleet.advance(20 * 60)
    content = fleet.path(instance.id, SLOW).read_bytes()
    assert len(content) > MB
    fleet.faults.add(Truncate(instance=instance.id))
    page = _page(rds, instance.id, SLOW)
    data = page["LogFileData"].encode()
    assert data.endswith(TRUNCATION_TEXT)
    assert len(data) <= MB
    head = data[: -len(TRUNCATION_TEXT)]
    assert content.startswith(head)
    assert not head.endswith(b"\n"), "cut in the middle of a line"
    assert page["AdditionalDataPending"] is False
    # A reader that trusts AdditionalDataPending stops here, far short of Size.
    assert len(head) < len(content)


def test_overlapping_pages_repeat_the_end_of_the_previous_page(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("ovl"), {"error": Rate(entries_per_s=2)})
    fleet.advance(120)
    lines = fleet.path(instance.id, ERROR).read_bytes().splitlines(keepends=True)
    first = _page(rds, instance.id, ERROR, NumberOfLines=20)
    fleet.faults.add(Overlap(instance=instance.id, lines=3, count=1))
    second = _page(rds, instance.id, ERROR, first["Marker"], NumberOfLines=20)
    assert second["LogFileData"].encode() == b"".join(lines[17:37])
    assert first["LogFileData"].encode().endswith(b"".join(lines[17:20]))


def test_gapped_pages_skip_lines(fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]) -> None:
    instance = _instance(fleet, ident("gap"), {"error": Rate(entries_per_s=2)})
    fleet.advance(120)
    lines = fleet.path(instance.id, ERROR).read_bytes().splitlines(keepends=True)
    first = _page(rds, instance.id, ERROR, NumberOfLines=20)
    fleet.faults.add(Gap(instance=instance.id, lines=4, count=1))
    second = _page(rds, instance.id, ERROR, first["Marker"], NumberOfLines=20)
    assert second["LogFileData"].encode() == b"".join(lines[24:44])


def test_binary_data_refuses_the_portion_api_but_not_the_full_download(
    fleet: Fleet, rds: RDSClient, moto_url: str, ident: Callable[[str], str]
) -> None:
    instance = _instance(
        fleet, ident("bin"), {"error": Rate(entries_per_s=1), "general": Rate(entries_per_s=1)}
    )
    fleet.advance(30)
    fleet.faults.add(BinaryData(instance=instance.id, file="general"))
    error = _error_of(lambda: _page(rds, instance.id, GENERAL))
    assert error["Error"]["Code"] == "InvalidParameterValue"
    assert error["Error"]["Message"] == BINARY_DATA_MESSAGE
    assert _page(rds, instance.id, ERROR)["LogFileData"]
    full = signed_get(f"{moto_url}/v13/downloadCompleteLogFile/{instance.id}/{GENERAL}")
    assert full.content == fleet.path(instance.id, GENERAL).read_bytes()


def test_garbage_bytes_spoil_the_next_entry_and_the_truth_records_them(
    fleet: Fleet, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("junk"), {"general": Rate(entries_per_s=2)})
    fleet.advance(10)
    fault = fleet.faults.add(GarbageBytes(instance=instance.id, file="general", byte_count=40))
    fleet.advance(10)
    fleet.advance(10)
    assert fleet.faults.status(fault).fired == 1
    content = fleet.path(instance.id, GENERAL).read_bytes()
    spoiled = []
    for entry in fleet.truth.entries(instance=instance.id):
        data = content[entry.offset : entry.end]
        assert entry_digest(data) == entry.digest
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            spoiled.append(data)
    assert len(spoiled) == 1
    # The 40 bytes sit just before the entry's final newline, none of them a newline or ASCII
    # (the entry itself may span lines: a general-log query often does).
    assert spoiled[0].endswith(b"\xff\n")
    assert all(byte >= 0x80 for byte in spoiled[0][-41:-1])
    spoiled[0][:-41].decode("utf-8")  # the entry's own text is intact


def test_a_line_over_one_megabyte_never_comes_whole_through_the_portion_api(
    fleet: Fleet, rds: RDSClient, moto_url: str, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("huge"), {"general": Rate(entries_per_s=2)})
    fleet.advance(10)
    fault = fleet.faults.add(HugeLine(instance=instance.id, file="general", line_bytes=1_200_000))
    fleet.advance(10)
    assert fleet.faults.status(fault).fired == 1
    huge = [e for e in fleet.truth.entries(instance=instance.id) if e.length > MB]
    assert len(huge) == 1
    content = fleet.path(instance.id, GENERAL).read_bytes()
    data = b""
    marker = "0"
    truncated_at = []
    while True:
        page = _page(rds, instance.id, GENERAL, marker)
        chunk = page["LogFileData"].encode()
        if chunk.endswith(TRUNCATION_TEXT):
            truncated_at.append(marker)
        data += chunk
        marker = page["Marker"]
        if not page["AdditionalDataPending"]:
            break
    assert len(truncated_at) == 1
    assert len(data) < len(content), "the rest of the long line is lost"
    # Asking again for just that line gives the same cut line, however often one asks.
    again = [
        _page(rds, instance.id, GENERAL, truncated_at[0], NumberOfLines=1)["LogFileData"]
        for _ in range(2)
    ]
    assert again[0] == again[1]
    assert again[0].encode().endswith(TRUNCATION_TEXT)
    assert len(again[0].encode()) <= MB
    full = signed_get(f"{moto_url}/v13/downloadCompleteLogFile/{instance.id}/{GENERAL}")
    assert full.content == content


def test_rotation_in_the_middle_of_a_paged_read(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("rot"), {"slowquery": Rate(bytes_per_min=50_000)})
    fleet.advance(5 * 60)
    fleet.api.set(page_cap_bytes=64 * 1024)
    before = fleet.path(instance.id, SLOW).read_bytes()
    first_id = fleet.truth.content_id_of(instance.id, SLOW)
    fleet.faults.add(RotateMidRead(instance=instance.id, file="slowquery", count=1))
    first = _page(rds, instance.id, SLOW)
    assert first["AdditionalDataPending"] is True
    fleet.advance(1)  # the writer rotates before it writes again
    rotated = "slowquery/mysql-slowquery.log.2024-01-04.9"
    assert fleet.truth.content_id_of(instance.id, rotated) == first_id
    # The same (name, marker) now points into a different, new file.
    second = _page(rds, instance.id, SLOW, first["Marker"])
    offset = len(first["LogFileData"].encode())
    assert second["LogFileData"].encode() != before[offset : offset + 64 * 1024]
    # The rest of what was being read is under the rotated name.
    assert fleet.path(instance.id, rotated).read_bytes().startswith(before)


def test_a_renamed_file_changes_under_a_reader(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(
        fleet,
        ident("chain"),
        {"audit": Rate(entries_per_s=20)},
        audit_style="server_audit",
        server_audit_rotate_bytes=60_000,
    )
    fleet.advance(60)
    name = "audit/server_audit.log.1"
    original = fleet.path(instance.id, name).read_bytes()
    original_id = fleet.truth.content_id_of(instance.id, name)
    first = _page(rds, instance.id, name, NumberOfLines=10)
    fleet.rotate(instance.id, "audit")  # .1 -> .2, the active file -> .1
    second = _page(rds, instance.id, name, first["Marker"], NumberOfLines=10)
    offset = len(first["LogFileData"].encode())
    assert (
        second["LogFileData"].encode()
        != original[offset : offset + len(second["LogFileData"].encode())]
    )
    assert fleet.truth.content_id_of(instance.id, "audit/server_audit.log.2") == original_id


def test_files_deleted_before_anyone_read_them(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("del"), {"slowquery": Rate(entries_per_s=1)})
    fault = fleet.faults.add(DeleteBeforeRead(instance=instance.id, file="slowquery"))
    fleet.advance(3 * 3600)
    listed = [
        f["LogFileName"]
        for f in rds.describe_db_log_files(DBInstanceIdentifier=instance.id)["DescribeDBLogFiles"]
    ]
    assert listed == [SLOW]
    gone = [f for f in fleet.truth.files(instance=instance.id) if f.deleted]
    assert len(gone) == 3
    assert {f.delete_reason for f in gone} == {"deleted_before_read"}
    assert fleet.faults.status(fault).fired == 3


def test_a_stale_api_shows_no_new_data_until_it_recovers(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("stale"), {"general": Rate(entries_per_s=3)})
    fleet.advance(60)
    fleet.api.set(last_written_granularity_ms=1)

    def described() -> tuple[int, int]:
        files = rds.describe_db_log_files(
            DBInstanceIdentifier=instance.id, FilenameContains="general"
        )
        item = files["DescribeDBLogFiles"][0]
        return item["Size"], item["LastWritten"]

    fault = fleet.faults.add(Stale(instance=instance.id, file="general"))
    size, written = described()
    whole = _page(rds, instance.id, GENERAL)
    assert whole["AdditionalDataPending"] is False
    assert len(whole["LogFileData"].encode()) == size
    end = whole["Marker"]
    fleet.advance(60)
    assert fleet.path(instance.id, GENERAL).stat().st_size > size
    assert described() == (size, written)
    nothing = _page(rds, instance.id, GENERAL, end)
    assert nothing.get("LogFileData", "") == ""
    assert nothing["AdditionalDataPending"] is False
    fleet.faults.remove(fault)
    assert described()[0] == fleet.path(instance.id, GENERAL).stat().st_size
    assert _page(rds, instance.id, GENERAL, end)["LogFileData"]


def test_a_stale_fault_can_end_by_itself(
    fleet: Fleet, rds: RDSClient, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("stale2"), {"general": Rate(entries_per_s=3)})
    fleet.advance(30)
    fleet.faults.add(Stale(instance=instance.id, file="general", duration_s=0.3))

    def listed_size() -> int:
        files = rds.describe_db_log_files(
            DBInstanceIdentifier=instance.id, FilenameContains="general"
        )
        return files["DescribeDBLogFiles"][0]["Size"]

    # The fault freezes what the API says about a file from the first time it meets it.
    size = listed_size()
    assert size == fleet.path(instance.id, GENERAL).stat().st_size
    fleet.advance(30)
    assert listed_size() == size
    # Real time is what ends it: poll with a deadline instead of sleeping a guess.
    deadline = time.monotonic() + 10
    while listed_size() == size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listed_size() == fleet.path(instance.id, GENERAL).stat().st_size


def test_faults_through_the_admin_http_api(
    fleet: Fleet, rds: RDSClient, moto_url: str, ident: Callable[[str], str]
) -> None:
    instance = _instance(fleet, ident("http"), {"error": Rate(entries_per_s=1)})
    fleet.advance(10)
    admin = f"{moto_url}/_simulator"
    created = httpx.post(f"{admin}/faults", json={"type": "throttle", "instance": instance.id})
    assert created.status_code == 201
    fault_id = created.json()["id"]
    assert (
        _error_of(lambda: rds.describe_db_log_files(DBInstanceIdentifier=instance.id))["Error"][
            "Code"
        ]
        == "Throttling"
    )
    listed = httpx.get(f"{admin}/faults").json()
    assert [(f["id"], f["fired"]) for f in listed] == [(fault_id, 1)]
    assert httpx.delete(f"{admin}/faults/{fault_id}").status_code == 200
    assert rds.describe_db_log_files(DBInstanceIdentifier=instance.id)["DescribeDBLogFiles"]
    bad = httpx.post(f"{admin}/faults", json={"type": "no-such-fault"})
    assert bad.status_code == 400
    config = httpx.patch(f"{admin}/config", json={"page_cap_bytes": 4096})
    assert config.json()["page_cap_bytes"] == 4096
    assert httpx.post(f"{admin}/reset").status_code == 200
    assert httpx.get(f"{admin}/config").json()["page_cap_bytes"] == MB


@pytest.mark.parametrize("line_end_at_cut", [False, True], ids=["mid-line", "line-end"])
def test_a_truncated_page_ends_inside_a_line_wherever_the_cap_falls(
    tmp_path: Path, line_end_at_cut: bool
) -> None:
    cap = 200
    cut = cap - len(TRUNCATION_TEXT)
    body = b"x" * (cut - 1) + (b"\n" if line_end_at_cut else b"y") + b"z" * 500 + b"\n"
    path = tmp_path / "slow.log"
    path.write_bytes(body)
    with path.open("rb") as f:
        page = truncate_page(f, 0, cap=cap)
    assert page.data.endswith(TRUNCATION_TEXT)
    head = page.data[: -len(TRUNCATION_TEXT)]
    assert body.startswith(head)
    assert not head.endswith(b"\n")
    assert page.end == len(head)
    assert not page.pending
