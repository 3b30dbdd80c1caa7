"""What every grammar shares: framing, checkpoints, error records, the non-UTF-8 rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.parsing import LogType, ParsingSettings, Record, make_parser
from processor.parsing.entries import cap_utf8, clean_text, decode
from processor.parsing.mysql_error import MySqlErrorParser
from tests.processor.parsing.conftest import FALLBACK_US, parse
from tests.processor.parsing.samples import SAMPLES

REQUIRED = ("_timestamp", "log_type", "offset", "length", "message")


@pytest.mark.parametrize("log_type", list(LogType))
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=600), cut=st.integers(min_value=0, max_value=600))
def test_any_bytes_become_records_never_exceptions(
    log_type: LogType, data: bytes, cut: int
) -> None:
    records = parse(log_type, data, chunks=[min(cut, len(data))])
    covered = 0
    for record in records:
        assert all(key in record for key in REQUIRED)
        assert record["offset"] >= covered
        covered = record["offset"] + record["length"]
        assert not any(0xDC80 <= ord(ch) <= 0xDCFF for ch in record["message"])
    assert covered <= len(data)


@pytest.mark.parametrize("log_type", list(LogType))
def test_garbage_is_a_parse_error_with_the_fallback_time(log_type: LogType) -> None:
    data = b"\x00\x01 this is not a log line at all\nnor is this\n"
    records = parse(log_type, data)
    # Line-oriented grammars (csvlog, jsonlog) report each line, the others the whole run.
    line_oriented = log_type in (LogType.POSTGRESQL_CSV, LogType.POSTGRESQL_JSON)
    assert len(records) == (2 if line_oriented else 1)
    assert all(r["parse_error"] is True for r in records)
    assert all(r["_timestamp"] == FALLBACK_US for r in records)
    assert "\n".join(r["message"] for r in records) == data.decode().rstrip("\n")
    assert sum(r["length"] for r in records) == len(data)


@pytest.mark.parametrize("log_type", list(LogType))
def test_checkpoint_offset_is_where_the_held_back_bytes_start(log_type: LogType) -> None:
    data = SAMPLES[log_type]
    parser = make_parser(log_type, ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    records = parser.feed(data)
    offset = parser.checkpoint().offset
    last_end = max((r["offset"] + r["length"] for r in records), default=0)
    assert offset >= last_end
    assert parse(log_type, data[last_end:offset]) == [], "only a banner between them"
    rest = parser.flush()
    assert parser.checkpoint().offset == len(data)
    assert rest, "the sample ends without a newline: its last entry was held back"
    assert rest[-1]["offset"] + rest[-1]["length"] == len(data)


def test_the_fallback_time_is_kept_in_checkpoints() -> None:
    parser = make_parser(LogType.MYSQL_ERROR, ParsingSettings())
    checkpoint = parser.checkpoint()
    resumed = make_parser(LogType.MYSQL_ERROR, ParsingSettings(), checkpoint=checkpoint)
    assert resumed.feed(b"garbage\n") == []
    (record,) = resumed.flush()
    assert record["_timestamp"] == checkpoint.state["_fallback_ts_us"]


def test_records_after_an_entry_take_its_time() -> None:
    data = b"2016-01-01 12:00:00 1 [Note] ok\n"
    records = parse(LogType.POSTGRESQL, b"garbage\n", ParsingSettings())
    assert records[0]["_timestamp"] == FALLBACK_US
    ok, garbage = parse(LogType.MYSQL_AUDIT, b"1703817810076091,a,b,c,1,0,CONNECT,,,0\njunk\n")
    assert garbage["_timestamp"] == ok["_timestamp"] == 1703817810076091
    assert parse(LogType.MYSQL_ERROR, data)[0]["_timestamp"] != FALLBACK_US


def test_a_grammar_bug_costs_one_error_record_not_the_file() -> None:
    class Broken(MySqlErrorParser):
        def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
            if "boom" in text:
                raise RuntimeError("bug")
            return super()._parse_entry(text, offset, length, dirty)

    parser = Broken(ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    data = b"2016-01-01 12:00:00 1 [Note] boom\n2016-01-01 12:00:01 1 [Note] fine\n"
    broken, fine = parser.feed(data) + parser.flush()
    assert broken["parse_error"] is True
    assert broken["message"] == "2016-01-01 12:00:00 1 [Note] boom"
    assert fine["text"] == "fine"


def test_non_utf8_rule() -> None:
    text, dirty = decode(b"caf\xe9 \xc3\xa9")
    assert dirty
    assert clean_text(text) == "caf\\xe9 é"
    assert decode(b"plain") == ("plain", False)


def test_cap_never_cuts_inside_a_character() -> None:
    assert cap_utf8("é" * 200, 301) == ("é" * 150, True)
    assert cap_utf8("short", 256) == ("short", False)


@pytest.mark.parametrize("log_type", list(LogType))
def test_message_is_capped_with_truncated(log_type: LogType) -> None:
    config = ParsingSettings(max_message_bytes=256, max_statement_bytes=256)
    for record in parse(log_type, SAMPLES[log_type], config):
        assert len(record["message"].encode()) <= 256
        for key in ("statement", "text", "plan", "detail"):
            if key in record:
                assert len(record[key].encode()) <= 256
        full = [r for r in parse(log_type, SAMPLES[log_type]) if r["offset"] == record["offset"]]
        if full[0]["message"] != record["message"]:
            assert record["truncated"] is True
