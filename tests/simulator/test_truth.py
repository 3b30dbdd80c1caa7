"""The ground truth describes the files exactly: spans reassemble them, digests match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.clock import DEFAULT_START_US
from simulator.profiles import AURORA_MYSQL_2, AURORA_POSTGRESQL, LogOptions, LogProfile
from simulator.streams import InstanceLogs
from simulator.truth import Truth, entry_digest


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Truth]]:
    tmp_path = tmp_path_factory.mktemp("truth")
    truth = Truth(jsonl_path=tmp_path / "truth.jsonl")
    options = LogOptions(
        csvlog=True,
        audit_style="server_audit",
        server_audit_rotate_bytes=10_000,
        retention_s={"audit": 600},
    )
    for instance, engine in (("db-my", AURORA_MYSQL_2), ("db-pg", AURORA_POSTGRESQL)):
        logs = InstanceLogs(
            instance,
            engine,
            LogProfile.realistic(engine, 60_000, options),
            tmp_path,
            truth=truth,
            start_us=DEFAULT_START_US,
        )
        logs.advance_to(DEFAULT_START_US + 50 * 60_000_000)
        logs.restart()
        logs.advance_to(DEFAULT_START_US + 75 * 60_000_000)
    truth.flush()
    yield tmp_path, truth
    truth.close()


def test_spans_reassemble_every_file_byte_for_byte(written: tuple[Path, Truth]) -> None:
    root, truth = written
    files = truth.files(include_deleted=False)
    assert len(files) > 10
    for record in files:
        data = (root / record.instance_id / record.name).read_bytes()
        entries = truth.entries(content_id=record.content_id, include_headers=True)
        position = 0
        for entry in entries:
            assert entry.offset == position, f"gap or overlap in {record.name}"
            chunk = data[entry.offset : entry.end]
            assert entry_digest(chunk) == entry.digest
            position = entry.end
        assert position == len(data) == record.size


def test_renamed_files_keep_their_content_id_and_history(written: tuple[Path, Truth]) -> None:
    _root, truth = written
    renamed = [f for f in truth.files() if len(f.names) > 1]
    assert renamed
    for record in renamed:
        times = [at for at, _name in record.names]
        assert times == sorted(times)
        first_at, first_name = record.names[0]
        assert record.name_at(first_at) == first_name
        assert record.name_at(first_at - 1) is None
        entries = truth.entries(content_id=record.content_id, include_headers=True)
        # Entries remember the name the file had when they were written.
        assert {e.name for e in entries} <= {name for _at, name in record.names}


def test_deleted_files_say_why_and_are_gone(written: tuple[Path, Truth]) -> None:
    root, truth = written
    deleted = [f for f in truth.files() if f.deleted]
    assert deleted
    assert {f.delete_reason for f in deleted} <= {"rotated_out", "retention", "replaced"}
    for record in deleted:
        holder = truth.content_id_of(record.instance_id, record.name)
        assert holder != record.content_id
        if holder is None:
            assert not (root / record.instance_id / record.name).exists()


def test_digests_are_a_multiset_of_instance_and_digest(written: tuple[Path, Truth]) -> None:
    _root, truth = written
    digests = truth.digests(instance="db-my")
    entries = truth.entries(instance="db-my")
    assert sum(digests.values()) == len(entries)
    assert all(instance == "db-my" for instance, _digest in digests)
    assert truth.bytes_written(instance="db-my") == sum(
        e.length for e in truth.entries(instance="db-my", include_headers=True)
    )


def test_jsonl_dump_rebuilds_the_same_truth(written: tuple[Path, Truth]) -> None:
    root, truth = written
    loaded = Truth.load_jsonl(root / "truth.jsonl")
    assert loaded.entries(include_headers=True) == truth.entries(include_headers=True)
    assert [
        (f.content_id, f.names, f.deleted_us, f.delete_reason, f.size) for f in loaded.files()
    ] == [(f.content_id, f.names, f.deleted_us, f.delete_reason, f.size) for f in truth.files()]


def test_a_jsonl_line_still_being_written_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    truth = Truth(jsonl_path=path)
    truth.file_created("db-1", "error", "db-1#1", "error/mysql-error-running.log", 1)
    truth.entries_written(
        "db-1", "error", "db-1#1", "error/mysql-error-running.log", [(0, b"line\n", 2, False)]
    )
    truth.close()
    with path.open("a") as f:
        f.write('{"type":"entry","instance":"db-1"')
    loaded = Truth.load_jsonl(path)
    assert len(loaded.entries()) == 1


def test_a_truth_without_memory_refuses_entry_queries(tmp_path: Path) -> None:
    truth = Truth(keep_in_memory=False, jsonl_path=tmp_path / "t.jsonl")
    with pytest.raises(RuntimeError, match="keep_in_memory"):
        truth.entries()
    truth.close()
