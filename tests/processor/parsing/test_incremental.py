"""One piece, any chunking, any restart from a checkpoint: always the same records.

The processor feeds pages of whatever size the API returns and may restart from a stored
checkpoint at any time; parsing must not depend on either.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.parsing import LogType, ParserCheckpoint, ParsingSettings, Record, make_parser
from tests.processor.parsing.conftest import FALLBACK_US, parse, read_bytes
from tests.processor.parsing.samples import SAMPLES

# The smallest entry cap, so the cut of an oversized entry is exercised on small inputs.
TIGHT = ParsingSettings(max_entry_bytes=4096, max_message_bytes=256, max_statement_bytes=256)
SETTINGS = {"default": ParsingSettings(), "tight": TIGHT}


def with_long_entry(log_type: LogType, data: bytes) -> bytes:
    """The sample plus an entry longer than TIGHT's cap, so the cut happens mid-entry."""
    filler = b"".join(b"  AND c%d = 'caf\xc3\xa9 %d'\n" % (i, i) for i in range(400))
    long_entries = {
        LogType.MYSQL_SLOW: b"\n# User@Host: a[a] @ h []\n# Query_time: 1  Lock_time: 0\n"
        b"SELECT 1 FROM t WHERE 1\n" + filler,
        LogType.MYSQL_ERROR: b"\n2026-11-26T09:00:09.000000Z 0 [Note] dump\n" + filler,
        LogType.MYSQL_GENERAL: b"\n2026-11-26T09:00:09.000000Z\t 1 Query\tSELECT 1\n" + filler,
        LogType.MYSQL_AUDIT: b"\n1795683600079000,a,b,c,1,2,QUERY,,'x\n" + filler,
        LogType.POSTGRESQL: b"\n2026-11-26 09:00:10 UTC::@:[1]:LOG:  statement: SELECT 1\n"
        + filler.replace(b"  AND", b"\tAND"),
        LogType.POSTGRESQL_CSV: b'\n2026-11-26 09:00:10.000 UTC,"a","b",1,,s,1,"",,,0,LOG,00000,"'
        + filler.replace(b"'", b"")
        + b'",,,,,,,,,""\n',
        LogType.POSTGRESQL_JSON: b'\n{"timestamp":"2026-11-26 09:00:10 UTC","message":"'
        + b"x" * 5000
        + b'"}\n',
    }
    return data + long_entries[log_type] + data


def by_restarts(
    log_type: LogType, data: bytes, config: ParsingSettings, cuts: list[int], restarts: set[int]
) -> list[Record]:
    """Feed ``data`` cut at ``cuts``; after the feeds listed in ``restarts``, throw the parser
    away and resume a new one from its checkpoint (JSON round-tripped, as stored)."""
    parser = make_parser(log_type, config, fallback_timestamp_us=FALLBACK_US)
    records: list[Record] = []
    position = 0
    for index, cut in enumerate([*cuts, len(data)]):
        records += parser.feed(data[position:cut])
        position = cut
        if index in restarts:
            checkpoint = ParserCheckpoint.from_json(parser.checkpoint().to_json())
            assert checkpoint.offset <= position
            parser = make_parser(log_type, config, checkpoint=checkpoint)
            position = checkpoint.offset
    records += parser.feed(data[position:])  # what the last restart held back, again
    records += parser.flush()
    return records


@pytest.mark.parametrize("config_name", sorted(SETTINGS))
@pytest.mark.parametrize("log_type", list(LogType))
def test_every_single_split_point_gives_the_same_records(
    log_type: LogType, config_name: str
) -> None:
    """Exhaustive: the sample cut once at every byte (inside UTF-8 sequences, inside CRLF)."""
    config = SETTINGS[config_name]
    data = SAMPLES[log_type]
    whole = parse(log_type, data, config)
    assert whole
    for cut in range(len(data) + 1):
        assert parse(log_type, data, config, chunks=[cut]) == whole, cut


@st.composite
def cut_points(draw: st.DrawFn, size: int) -> list[int]:
    cuts = draw(st.lists(st.integers(min_value=0, max_value=size), max_size=12))
    return sorted(cuts)


@pytest.mark.parametrize("config_name", sorted(SETTINGS))
@pytest.mark.parametrize("log_type", list(LogType))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_chunks_and_restarts_give_the_same_records(
    log_type: LogType, config_name: str, data: st.DataObject
) -> None:
    config = SETTINGS[config_name]
    content = with_long_entry(log_type, SAMPLES[log_type])
    whole = parse(log_type, content, config)
    cuts = data.draw(cut_points(len(content)), label="cuts")
    restarts = data.draw(st.sets(st.integers(0, len(cuts))), label="restarts")
    assert parse(log_type, content, config, chunks=cuts) == whole
    assert by_restarts(log_type, content, config, cuts, restarts) == whole


@pytest.mark.parametrize("log_type", [t for t in LogType if t is not LogType.POSTGRESQL_JSON])
def test_an_entry_over_the_cap_is_cut_at_a_line_start(log_type: LogType) -> None:
    content = with_long_entry(log_type, SAMPLES[log_type])
    records = parse(log_type, content, TIGHT)
    limit = TIGHT.max_entry_bytes
    cut = [r for r in records if r["length"] >= limit]
    assert cut, "the filler makes one entry longer than twice the limit"
    first = cut[0]
    assert first["truncated"] is True
    # An audit event is one line: a multi-line one this long is not an event at all.
    assert ("parse_error" in first) == (log_type is LogType.MYSQL_AUDIT)
    assert content[first["offset"] + first["length"] - 1] == ord("\n")
    assert first["length"] < limit + 64, "cut at the first line start past the limit"
    rest = records[records.index(first) + 1 :]
    assert rest[0]["parse_error"] is True, "the rest of the cut entry is kept, as errors"
    assert rest[0]["offset"] == first["offset"] + first["length"]
    assert all(r["length"] < limit + 64 for r in records)


def test_a_single_line_is_not_cut() -> None:
    """A JSON line has no line start to cut at: it is held until its newline arrives."""
    content = with_long_entry(LogType.POSTGRESQL_JSON, SAMPLES[LogType.POSTGRESQL_JSON])
    records = parse(LogType.POSTGRESQL_JSON, content, TIGHT)
    long = [r for r in records if r["length"] > TIGHT.max_entry_bytes]
    assert len(long) == 1
    assert long[0]["truncated"] is True  # its message, capped
    assert "parse_error" not in long[0]


@pytest.mark.parametrize(
    ("relative", "log_type", "prefix"),
    [
        ("mysql/slow/beats-percona-ubuntu-8.0.15.log", LogType.MYSQL_SLOW, None),
        ("mysql/slow/pt-slow046.txt", LogType.MYSQL_SLOW, None),
        ("mysql/error/pt-errlog005.txt", LogType.MYSQL_ERROR, None),
        ("mysql/general/pt-genlog003.txt", LogType.MYSQL_GENERAL, None),
        ("mysql/audit/aurora-mysql-audit.log", LogType.MYSQL_AUDIT, None),
        ("postgresql/pgbadger-queryid.log", LogType.POSTGRESQL, "%m [%p] [queryid=%Q] %q%u@%d "),
        ("postgresql/beats-postgresql-11-multi-line.csv.log", LogType.POSTGRESQL_CSV, None),
        ("postgresql/pgbadger-pg_vacuums.json.head20.jsonl", LogType.POSTGRESQL_JSON, None),
    ],
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corpus_files_in_random_chunks_and_restarts(
    corpus: Path, relative: str, log_type: LogType, prefix: str | None, data: st.DataObject
) -> None:
    content = read_bytes(corpus / relative)
    config = ParsingSettings(postgresql_log_line_prefix=prefix) if prefix else ParsingSettings()
    whole = parse(log_type, content, config)
    cuts = data.draw(cut_points(len(content)), label="cuts")
    restarts = data.draw(st.sets(st.integers(0, len(cuts))), label="restarts")
    assert by_restarts(log_type, content, config, cuts, restarts) == whole
