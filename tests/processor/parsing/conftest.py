"""Shared helpers of the parsing tests: the corpus location and parse-it-all functions."""

from __future__ import annotations

import bz2
import gzip
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from processor.parsing import LogType, ParserCheckpoint, ParsingSettings, Record, make_parser

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FALLBACK_US = 1_700_000_000_000_000


def corpus_root() -> Path | None:
    """The shared corpus (``../shared/corpus`` beside the checkout, or AURORA_TEST_CORPUS)."""
    configured = os.environ.get("AURORA_TEST_CORPUS")
    root = Path(configured) if configured else PROJECT_ROOT / ".." / "shared" / "corpus"
    return root.resolve() if root.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    root = corpus_root()
    if root is None:
        pytest.skip(
            "the shared log corpus is absent (expected ../shared/corpus beside the checkout, "
            "or AURORA_TEST_CORPUS): corpus tests need the real log samples"
        )
    return root


def read_bytes(path: Path) -> bytes:
    """A corpus file's content, decompressed when it is gzip or bzip2."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:3] == b"BZh":
        return bz2.decompress(raw)
    return raw


def parse(
    log_type: LogType,
    data: bytes,
    settings: ParsingSettings | None = None,
    *,
    chunks: Iterable[int] | None = None,
    checkpoint: ParserCheckpoint | None = None,
) -> list[Record]:
    """Every record of ``data`` fed in one piece, or cut at the ``chunks`` offsets."""
    parser = make_parser(
        log_type,
        settings or ParsingSettings(),
        checkpoint=checkpoint,
        fallback_timestamp_us=FALLBACK_US,
    )
    records: list[Record] = []
    start = 0
    for cut in [*(chunks or ()), len(data)]:
        records += parser.feed(data[start:cut])
        start = cut
    records += parser.flush()
    return records
