"""File names, rotation and retention of every log kind, as Aurora does them (no moto).

The clock is simulated: days of rotation run in well under a second.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest

from simulator.clock import DEFAULT_START_US, to_us
from simulator.profiles import (
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Engine,
    LogOptions,
    LogProfile,
    Rate,
)
from simulator.streams import InstanceLogs
from simulator.truth import Truth

HOUR_S = 3600
HOUR_US = 3_600_000_000
# 2024-01-04T09:17:00Z: the first rotation comes after a partial hour.
START_US = DEFAULT_START_US


def _logs(
    tmp_path: Path,
    engine: Engine,
    rates: dict[str, Rate],
    options: LogOptions,
    *,
    start_us: int = START_US,
) -> tuple[InstanceLogs, Truth]:
    truth = Truth()
    logs = InstanceLogs(
        "db-1", engine, LogProfile(rates, options), tmp_path, truth=truth, start_us=start_us
    )
    return logs, truth


def _advance(logs: InstanceLogs, seconds: float) -> None:
    logs.advance_to(logs.now_us + int(seconds * 1_000_000))


def _on_disk(logs: InstanceLogs, folder: str) -> list[str]:
    names = os.listdir(logs.directory / folder)
    return sorted(f"{folder}/{name}" for name in names if not name.startswith("."))


SLOW = {"slowquery": Rate(entries_per_s=0.5)}


@pytest.mark.parametrize(
    ("naming", "expected"),
    [
        ("dated", "slowquery/mysql-slowquery.log.2024-01-04.9"),
        ("dated_padded", "slowquery/mysql-slowquery.log.2024-01-04.09"),
        ("hour", "slowquery/mysql-slowquery.log.9"),
    ],
)
def test_slow_log_rotates_at_the_hour_to_the_hour_it_holds(
    tmp_path: Path, naming: str, expected: str
) -> None:
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, SLOW, LogOptions(query_log_naming=naming))
    active = "slowquery/mysql-slowquery.log"
    first = truth.content_id_of("db-1", active)
    _advance(logs, 42 * 60)  # 09:17 -> 09:59
    assert _on_disk(logs, "slowquery") == [active]
    _advance(logs, 2 * 60)  # past 10:00
    assert _on_disk(logs, "slowquery") == sorted([active, expected])
    # The content written in the 9 o'clock hour kept its identity under the new name.
    assert truth.content_id_of("db-1", expected) == first
    assert [name for _at, name in truth.file(first).names] == [active, expected]
    # The new file starts with mysqld's banner; nothing else before its first entry.
    new_entries = truth.entries(
        content_id=truth.content_id_of("db-1", active) or "", include_headers=True
    )
    assert new_entries[0].header
    assert new_entries[0].offset == 0


def test_legacy_hour_names_are_reused_the_next_day(tmp_path: Path) -> None:
    # Error logs keep 30 days, but `.N` names come back every 24 hours: the old content goes.
    logs, truth = _logs(
        tmp_path,
        AURORA_MYSQL_3,
        {"error": Rate(entries_per_s=0.05)},
        LogOptions(error_naming="hour"),
    )
    _advance(logs, 25 * HOUR_S)
    names = _on_disk(logs, "error")
    assert names == sorted(
        ["error/mysql-error-running.log"]
        + [f"error/mysql-error-running.log.{h}" for h in range(24)]
    )
    nine = [f for f in truth.files(kind="error") if f.name == "error/mysql-error-running.log.9"]
    assert len(nine) == 2, "yesterday's .9 and today's .9 are two contents"
    replaced, current = nine
    assert replaced.delete_reason == "replaced"
    assert not current.deleted
    assert current.created_us > replaced.created_us


def test_dated_error_names_keep_thirty_days(tmp_path: Path) -> None:
    logs, truth = _logs(
        tmp_path,
        AURORA_MYSQL_3,
        {"error": Rate(entries_per_s=0.01)},
        LogOptions(error_naming="dated_padded"),
    )
    _advance(logs, 31 * 24 * HOUR_S)
    names = _on_disk(logs, "error")
    rotated = [n for n in names if n != "error/mysql-error-running.log"]
    assert all(
        re.fullmatch(r"error/mysql-error-running\.log\.\d{4}-\d\d-\d\d\.\d\d", n) for n in rotated
    )
    # 30 days of hourly files survive retention; older ones were deleted by it.
    assert 30 * 24 - 1 <= len(rotated) <= 30 * 24 + 1
    assert {f.delete_reason for f in truth.files(kind="error") if f.deleted} == {"retention"}


def test_slow_and_general_keep_24_hours(tmp_path: Path) -> None:
    rates = {"slowquery": Rate(entries_per_s=0.02), "general": Rate(entries_per_s=0.02)}
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, rates, LogOptions())
    _advance(logs, 30 * HOUR_S)
    for folder in ("slowquery", "general"):
        rotated = [n for n in _on_disk(logs, folder) if not n.endswith(".log")]
        assert 23 <= len(rotated) <= 24
    deleted = [f for f in truth.files() if f.deleted]
    assert deleted
    for record in deleted:
        assert record.delete_reason == "retention"
        assert record.deleted_us is not None
        # Deleted once its last write was 24 hours old, at the next step (a minute at most).
        last = max(
            e.ts_us for e in truth.entries(content_id=record.content_id, include_headers=True)
        )
        assert 0 <= record.deleted_us - (last + 24 * HOUR_US) <= 60_000_000


def test_retention_can_delete_files_nobody_read(tmp_path: Path) -> None:
    options = LogOptions(retention_s={"slowquery": 60})
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, SLOW, options)
    _advance(logs, 3 * HOUR_S)
    assert _on_disk(logs, "slowquery") == ["slowquery/mysql-slowquery.log"]
    assert len([f for f in truth.files(kind="slowquery") if f.deleted]) == 3


def test_aurora_audit_writes_four_files_at_once_and_starts_a_new_set_by_size(
    tmp_path: Path,
) -> None:
    options = LogOptions(audit_set_bytes=5_000)
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, {"audit": Rate(entries_per_s=5)}, options)
    _advance(logs, 10)
    first_set = _on_disk(logs, "audit")
    assert first_set == [f"audit/audit.log.{n}.2024-01-04-09-17.0" for n in range(4)]
    _advance(logs, 40)
    names = _on_disk(logs, "audit")
    assert len(names) % 4 == 0
    assert len(names) > 4
    sets = {name.split(".", 3)[3] for name in names}
    # Sets started within one minute are numbered .0, .1, ...
    assert any(name.endswith(".1") for name in sets)
    # Each file is in time order; together they are not: a reader must merge by timestamp.
    stamps = []
    for content in truth.files(kind="audit"):
        times = [e.ts_us for e in truth.entries(content_id=content.content_id)]
        assert times == sorted(times) or _nearly_sorted(times)
        stamps.append(times)
    written_order = [e.ts_us for e in truth.entries(kind="audit")]
    assert written_order != sorted(written_order)
    for content in truth.files(kind="audit"):
        if not content.deleted:
            assert (logs.directory / content.name).stat().st_size == content.size


def _nearly_sorted(times: list[int]) -> bool:
    # A QUERY's table events are a microsecond or two after it; another connection may land
    # between them.
    return all(b - a > -10 for a, b in itertools.pairwise(times))


def test_server_audit_rotates_by_renaming_up_the_chain(tmp_path: Path) -> None:
    options = LogOptions(
        audit_style="server_audit", server_audit_rotate_bytes=5_000, server_audit_rotations=3
    )
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, {"audit": Rate(entries_per_s=5)}, options)
    _advance(logs, 5)
    first = truth.content_id_of("db-1", "audit/server_audit.log")
    assert first is not None
    _advance(logs, 120)
    assert _on_disk(logs, "audit") == [
        "audit/server_audit.log",
        "audit/server_audit.log.1",
        "audit/server_audit.log.2",
        "audit/server_audit.log.3",
    ]
    history = [name for _at, name in truth.file(first).names]
    assert history[:4] == [
        "audit/server_audit.log",
        "audit/server_audit.log.1",
        "audit/server_audit.log.2",
        "audit/server_audit.log.3",
    ]
    assert truth.file(first).delete_reason == "rotated_out"
    # Every name holds exactly the content the truth says it holds.
    for content in truth.files(kind="audit", include_deleted=False):
        data = (logs.directory / content.name).read_bytes()
        assert len(data) == content.size


@pytest.mark.parametrize(
    ("naming", "names"),
    [
        (
            "minute",
            ["error/postgresql.log.2024-01-04-0917", "error/postgresql.log.2024-01-04-1000"],
        ),
        ("hour", ["error/postgresql.log.2024-01-04-09", "error/postgresql.log.2024-01-04-10"]),
    ],
)
def test_postgresql_opens_a_new_name_at_each_rotation(
    tmp_path: Path, naming: str, names: list[str]
) -> None:
    rates = {"postgresql": Rate(entries_per_s=0.5)}
    logs, truth = _logs(tmp_path, AURORA_POSTGRESQL, rates, LogOptions(postgresql_naming=naming))
    _advance(logs, 50 * 60)
    assert _on_disk(logs, "error") == names
    # Nothing is ever renamed.
    assert all(len(f.names) == 1 for f in truth.files())


def test_postgresql_rotates_by_size_within_the_hour_and_csv_twins_follow(tmp_path: Path) -> None:
    options = LogOptions(csvlog=True, postgresql_rotation_bytes=30_000)
    logs, _truth = _logs(
        tmp_path, AURORA_POSTGRESQL, {"postgresql": Rate(entries_per_s=2)}, options
    )
    _advance(logs, 20 * 60)
    names = _on_disk(logs, "error")
    stderr = [n for n in names if not n.endswith(".csv")]
    csv = [n for n in names if n.endswith(".csv")]
    assert len(stderr) > 3
    assert all(re.fullmatch(r"error/postgresql\.log\.2024-01-04-09[1-3]\d", n) for n in stderr)
    # Twins start together; each destination then rotates when it reaches the size itself.
    assert csv[0] == stderr[0] + ".csv"
    assert all(re.fullmatch(r"error/postgresql\.log\.2024-01-04-09[1-3]\d\.csv", n) for n in csv)
    for name in stderr[:-1]:
        assert (logs.directory / name).stat().st_size >= 30_000


def test_postgresql_keeps_three_days(tmp_path: Path) -> None:
    rates = {"postgresql": Rate(entries_per_s=0.01)}
    logs, truth = _logs(tmp_path, AURORA_POSTGRESQL, rates, LogOptions())
    _advance(logs, 80 * HOUR_S)
    kept = _on_disk(logs, "error")
    assert 72 <= len(kept) <= 74
    assert all(f.delete_reason == "retention" for f in truth.files() if f.deleted)


def test_a_restart_writes_banners_mid_file(tmp_path: Path) -> None:
    rates = {
        "slowquery": Rate(entries_per_s=1),
        "general": Rate(entries_per_s=1),
        "error": Rate(entries_per_s=0.1),
    }
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, rates, LogOptions())
    _advance(logs, 60)
    logs.restart()
    _advance(logs, 60)
    slow = truth.entries(
        content_id=truth.content_id_of("db-1", "slowquery/mysql-slowquery.log") or "",
        include_headers=True,
    )
    headers = [e for e in slow if e.header]
    assert len(headers) == 2
    assert headers[1].offset > 0
    error = (logs.directory / "error/mysql-error-running.log").read_text()
    assert "ready for connections" in error


def test_forced_rotation_and_deletion(tmp_path: Path) -> None:
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, SLOW, LogOptions())
    _advance(logs, 60)
    logs.rotate("slowquery")
    rotated = "slowquery/mysql-slowquery.log.2024-01-04.9"
    assert rotated in _on_disk(logs, "slowquery")
    assert logs.delete_file(rotated)
    assert rotated not in _on_disk(logs, "slowquery")
    assert not logs.delete_file("slowquery/mysql-slowquery.log"), "the active file stays"
    deleted = [f for f in truth.files() if f.deleted]
    assert [f.delete_reason for f in deleted] == ["deleted"]


def test_delete_on_close_removes_a_file_as_it_is_rotated_out(tmp_path: Path) -> None:
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, SLOW, LogOptions())
    series = logs.stream("slowquery").primary
    series.delete_on_close = 1
    _advance(logs, 2 * HOUR_S)
    reasons = [f.delete_reason for f in truth.files(kind="slowquery") if f.deleted]
    assert reasons == ["deleted_before_read"]
    assert series.deleted_on_close == 1
    assert "slowquery/mysql-slowquery.log.2024-01-04.10" in _on_disk(logs, "slowquery")


def test_a_chain_with_a_deleted_link_leaves_no_name_showing_moved_content(
    tmp_path: Path,
) -> None:
    """Found by the fault harness: with each file deleted as it rotates out to ``.1``, the
    shift of ``.2`` to ``.3`` left ``.2`` showing the same content as ``.3`` for good."""
    options = LogOptions(audit_style="server_audit", server_audit_rotate_bytes=5_000)
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, {"audit": Rate(entries_per_s=5)}, options)
    _advance(logs, 30)  # some rotated files first
    series = logs.stream("audit").primary
    series.delete_on_close = 100
    _advance(logs, 60)
    assert series.deleted_on_close >= 2
    names = [n for n in _on_disk(logs, "audit") if n != "audit/server_audit.log"]
    holders = {
        content.name: content for content in truth.files(kind="audit", include_deleted=False)
    }
    assert sorted(holders) == sorted([*names, "audit/server_audit.log"])
    for name in names:
        assert (logs.directory / name).read_bytes() == b"".join(
            (logs.directory / name).read_bytes()[e.offset : e.end]
            for e in truth.entries(content_id=holders[name].content_id, include_headers=True)
        )


def test_last_written_is_the_simulated_time_of_the_last_entry(tmp_path: Path) -> None:
    logs, truth = _logs(tmp_path, AURORA_MYSQL_3, SLOW, LogOptions())
    _advance(logs, 90)
    path = logs.directory / "slowquery/mysql-slowquery.log"
    last = truth.entries(kind="slowquery")[-1].ts_us
    assert path.stat().st_mtime_ns == last * 1000
    assert START_US < last < START_US + 90_000_000
    assert to_us(path.stat().st_mtime) == pytest.approx(last, abs=2)
