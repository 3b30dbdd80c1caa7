"""The file sink: NDJSON per stream, every batch on disk before it counts, rotation by size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from processor.delivery import Document, Ticket
from processor.sinks.file import FileSink


def _batch(stream: str, first: int, count: int, size: int = 100) -> list[Document]:
    ticket = Ticket()
    documents = []
    for number in range(first, first + count):
        body = json.dumps({"n": number, "pad": "x" * size}).encode()
        documents.append(Document(stream, f"id{number}", body, ticket))
    return documents


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def _numbers(path: Path) -> list[int]:
    return [json.loads(line)["n"] for line in path.read_text().splitlines()]


async def test_each_stream_gets_its_own_file_in_order(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    outcomes = await sink.send("aurora_mysql_slow", _batch("aurora_mysql_slow", 0, 3))
    await sink.send("aurora/odd name", _batch("aurora/odd name", 10, 2))
    await sink.send("aurora_mysql_slow", _batch("aurora_mysql_slow", 3, 2))

    assert outcomes == [None, None, None]
    assert _numbers(tmp_path / "aurora_mysql_slow.ndjson") == [0, 1, 2, 3, 4]
    assert _numbers(tmp_path / "aurora_odd_name.ndjson") == [10, 11]
    assert _names(tmp_path) == [
        "aurora_mysql_slow.ndjson",
        "aurora_odd_name.ndjson",
    ]


async def test_rotates_by_size_and_keeps_the_newest_rotated_files(tmp_path: Path) -> None:
    stream = "aurora_postgresql"
    one_batch = len(b"".join(d.body + b"\n" for d in _batch(stream, 0, 5)))
    # Two batches fit in a file, a third does not.
    sink = FileSink(tmp_path, max_file_bytes=2 * one_batch + 10, keep_files=2)
    for batch in range(7):
        await sink.send(stream, _batch(stream, batch * 5, 5))

    current = sink.path_of(stream)
    rotated = sink.rotated_paths(stream)
    assert [path.name for path in rotated] == [f"{current.name}.1", f"{current.name}.2"]
    # 7 batches: [0,1] [2,3] [4,5] [6]; the oldest file ([0,1]) was deleted.
    assert _numbers(current) == list(range(30, 35))
    assert _numbers(rotated[0]) == list(range(20, 30))
    assert _numbers(rotated[1]) == list(range(10, 20))
    assert not current.with_name(f"{current.name}.3").exists()
    for path in [current, *rotated]:
        assert path.stat().st_size <= sink.max_file_bytes


async def test_a_batch_larger_than_a_file_is_never_split(tmp_path: Path) -> None:
    stream = "aurora_mysql_audit"
    sink = FileSink(tmp_path, max_file_bytes=300, keep_files=1)
    await sink.send(stream, _batch(stream, 0, 1, size=10))
    await sink.send(stream, _batch(stream, 1, 4, size=200))

    current = sink.path_of(stream)
    assert _numbers(current) == [1, 2, 3, 4]
    assert _numbers(sink.rotated_paths(stream)[0]) == [0]


async def test_keep_zero_keeps_only_the_current_file(tmp_path: Path) -> None:
    stream = "aurora_mysql_error"
    sink = FileSink(tmp_path, max_file_bytes=200, keep_files=0)
    for batch in range(3):
        await sink.send(stream, _batch(stream, batch, 1))

    assert _names(tmp_path) == ["aurora_mysql_error.ndjson"]
    assert _numbers(sink.path_of(stream)) == [2]


def test_refuses_nonsense_limits(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_file_bytes"):
        FileSink(tmp_path, max_file_bytes=0)
    with pytest.raises(ValueError, match="keep_files"):
        FileSink(tmp_path, keep_files=-1)
