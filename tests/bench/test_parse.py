"""The benchmark's inputs are real-format logs that the parser reads without an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.parse import build_pg, build_slow, ours
from processor.parsing import LogType, ParsingSettings, make_parser
from tests.processor.parsing.conftest import corpus_root


@pytest.fixture
def corpus() -> Path:
    root = corpus_root()
    if root is None:
        pytest.skip("the shared log corpus is absent: the benchmark builds its input from it")
    return root


@pytest.mark.parametrize(
    ("log_type", "build", "entry_start"),
    [(LogType.MYSQL_SLOW, build_slow, b"\n# Time: "), (LogType.POSTGRESQL, build_pg, b"\n2026-")],
)
def test_bench_input_is_well_formed_and_varied(
    corpus: Path, tmp_path: Path, log_type: LogType, build: object, entry_start: bytes
) -> None:
    path = tmp_path / "input.log"
    assert callable(build)
    build(corpus, 300_000, path)
    data = path.read_bytes()
    parser = make_parser(log_type, ParsingSettings(), fallback_timestamp_us=0)
    records = parser.feed(data) + parser.flush()
    assert not [r for r in records if r.get("parse_error")]
    assert len(records) == data.count(entry_start) + (0 if log_type is LogType.MYSQL_SLOW else 1)
    statements = [r["statement"] for r in records if "statement" in r]
    assert len(set(statements)) > 0.5 * len(statements), "literals vary: caches do not flatter"
    assert len({r["fingerprint"] for r in records if "fingerprint" in r}) > 20
    result = ours(log_type, path, 64 * 1024)
    assert result.entries == len(records)
    assert result.peak_rss_mb is not None
