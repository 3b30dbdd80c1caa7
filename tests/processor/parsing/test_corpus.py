"""Every file of the shared corpus, parsed and checked against what its format implies and
against the expectations other projects published for it (go-mysql, beats, pt-fingerprint)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.parsing import LogType, ParsingSettings, Record, query_id
from processor.parsing.log_line_prefix import SEVERITIES
from processor.parsing.postgresql_messages import SECONDARY_SEVERITIES
from tests.processor.parsing.conftest import PROJECT_ROOT, corpus_root, parse, read_bytes

RDS = "%t:%r:%u@%d:[%p]:"
# Files whose every entry is well-formed: parse_error count 0. The others, and why:
FOREIGN_WHOLE = "not this grammar at all: the whole file is one parse_error record"
KNOWN_ERRORS: dict[str, tuple[int, str]] = {
    "mysql/slow/gomysql-slow016.log": (1, "starts mid-entry (header lines of a cut entry)"),
    "mysql/slow/gomysql-slow017.log": (1, "starts mid-entry (the statement of a cut entry)"),
    "mysql/slow/pt-slow015.txt": (1, "a truncated entry: no Query_time line"),
    "mysql/slow/pt-slow041.txt": (1, "starts with the administrator command of a cut entry"),
    "mysql/slow/pt-slow006-session-1.txt": (1, "pt-query-digest session file, " + FOREIGN_WHOLE),
    "mysql/slow/pt-slow006-session-2.txt": (1, "pt-query-digest session file, " + FOREIGN_WHOLE),
    "mysql/slow/pt-slow006-session-3.txt": (1, "pt-query-digest session file, " + FOREIGN_WHOLE),
    "mysql/error/pt-patterns.txt": (1, "pt-error-log's pattern file, " + FOREIGN_WHOLE),
    "mysql/audit/mariadb-server_audit-test-excerpt.log": (
        1, "MariaDB's test masks timestamps as TIME: " + FOREIGN_WHOLE),
    "postgresql/pgbadger-logplex.log": (1, "Heroku logplex wrapper, " + FOREIGN_WHOLE),
    "postgresql/pgbadger-logplex.gz": (1, "Heroku logplex wrapper, " + FOREIGN_WHOLE),
    "postgresql/pgbadger-pg-syslog.1.bz2": (
        2, "syslog wrapper, " + FOREIGN_WHOLE + ", cut once at max_entry_bytes (11 MB)"),
    "postgresql/pgbadger-cloudsql.log.gz": (-1, "Cloud SQL JSON, not jsonlog: every line"),
    "postgresql/pgbadger-cnpg.log.gz": (-1, "CloudNativePG JSON, not jsonlog: every line"),
}  # fmt: skip
# PostgreSQL files: (type, log_line_prefix of stderr files).
PG_FILES: dict[str, tuple[LogType, str]] = {
    "aurora-postgresql.log": (LogType.POSTGRESQL, RDS),
    "pgbadger-pg-timezones.log": (LogType.POSTGRESQL, RDS),
    "pgbadger-multiline_param.log": (LogType.POSTGRESQL, "%m [%p] user=%u,db=%d "),
    "pgbadger-queryid.log": (LogType.POSTGRESQL, "%m [%p] [queryid=%Q] %q%u@%d "),
    "pgbadger-queryid.log.gz": (LogType.POSTGRESQL, "%m [%p] [queryid=%Q] %q%u@%d "),
    "pgbadger-stmt_type.log": (LogType.POSTGRESQL, "%m [%p] "),
    "pgbadger-pg_rawcsv.log": (LogType.POSTGRESQL, "%m [%p] %q%u@%d "),
    "beats-postgresql-query-steps-slowlog.log": (LogType.POSTGRESQL, "%m [%p] %q%u@%d "),
    "pgbadger-begin_end.log": (LogType.POSTGRESQL, "%t [%p]: db=%d,user=%u,app=%a,client=%h "),
    "pgbadger-postgresql_param_range.log": (
        LogType.POSTGRESQL, "%t [%p]: [%l-1] [%x] usr=%u,db=%d,appli=%a "),
    "pgbadger-light.postgres.log": (
        LogType.POSTGRESQL, "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "),
    "pgbadger-light.postgres.log.bz2": (
        LogType.POSTGRESQL, "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "),
    "pgbadger-pg_vacuums.log.gz": (
        LogType.POSTGRESQL, "%t [%p]: [%l-1] user=%u,db=%d,host=%h,app=%a "),
    "pgbadger-tempfile_only.log.gz": (LogType.POSTGRESQL, "%t [%p]: [%l-1] user=%u,db=%d "),
    "pgbadger-logplex.log": (LogType.POSTGRESQL, RDS),
    "pgbadger-logplex.gz": (LogType.POSTGRESQL, RDS),
    "pgbadger-pg-syslog.1.bz2": (LogType.POSTGRESQL, RDS),
    "pgbadger-weeknumber.log": (LogType.POSTGRESQL_CSV, RDS),
    "pgbadger-anonymize.log": (LogType.POSTGRESQL_CSV, RDS),
    "pgbadger-csv_statement_without_duration.log": (LogType.POSTGRESQL_CSV, RDS),
    "beats-postgresql-13-error-code.csv.log": (LogType.POSTGRESQL_CSV, RDS),
    "beats-postgresql-11-multi-line.csv.log": (LogType.POSTGRESQL_CSV, RDS),
    "pgbadger-pg_vacuums.json.head20.jsonl": (LogType.POSTGRESQL_JSON, RDS),
    "pgbadger-pg_vacuums.json.gz": (LogType.POSTGRESQL_JSON, RDS),
    "pgbadger-cloudsql.log.gz": (LogType.POSTGRESQL_JSON, RDS),
    "pgbadger-cnpg.log.gz": (LogType.POSTGRESQL_JSON, RDS),
}  # fmt: skip
MYSQL_FOLDERS = {
    "slow": LogType.MYSQL_SLOW,
    "error": LogType.MYSQL_ERROR,
    "general": LogType.MYSQL_GENERAL,
    "audit": LogType.MYSQL_AUDIT,
}
REQUIRED = {"_timestamp": int, "log_type": str, "offset": int, "length": int, "message": str}


def corpus_files() -> list[str]:
    root = corpus_root()
    if root is None:
        return []
    return sorted(
        str(path.relative_to(root))
        for folder in ("mysql", "postgresql")
        for path in (root / folder).rglob("*")
        if path.is_file()
    )


def file_type(relative: str) -> tuple[LogType, ParsingSettings]:
    engine, *rest = relative.split("/")
    if engine == "mysql":
        return MYSQL_FOLDERS[rest[0]], ParsingSettings()
    log_type, prefix = PG_FILES[rest[-1]]
    return log_type, ParsingSettings(postgresql_log_line_prefix=prefix)


def parsed(corpus: Path, relative: str) -> tuple[bytes, list[Record]]:
    data = read_bytes(corpus / relative)
    log_type, settings = file_type(relative)
    return data, parse(log_type, data, settings)


def test_every_corpus_file_has_a_known_grammar(corpus: Path) -> None:
    files = corpus_files()
    assert len(files) > 100
    for relative in files:
        file_type(relative)  # raises KeyError for a file nobody decided about


@pytest.mark.parametrize("relative", corpus_files())
def test_corpus_file_parses_into_well_formed_records(corpus: Path, relative: str) -> None:
    data, records = parsed(corpus, relative)
    log_type, _ = file_type(relative)
    end = 0
    for record in records:
        for key, kind in REQUIRED.items():
            assert isinstance(record[key], kind), (key, record)
        assert record["log_type"] == log_type.record_type
        assert record["offset"] >= end, "entries are in file order and never overlap"
        gap = data[end : record["offset"]]
        assert _banner_free(gap).strip() == b"", "only blank lines and banners yield no record"
        end = record["offset"] + record["length"]
        assert None not in record.values()
        assert orjson.loads(orjson.dumps(record)) == record
    errors = sum(1 for record in records if record.get("parse_error"))
    expected, _why = KNOWN_ERRORS.get(relative, (0, "well-formed"))
    if expected == -1:
        assert errors == len(records) == len(data.splitlines())
    else:
        assert errors == expected


_BANNER = re.compile(
    rb"(?m)^[^\n]*, Version: [^\n]*\n(?:T[cC][pP] [pP]ort[^\n]*\n)?(?:Time +Id.*\n)?"
)


def _banner_free(data: bytes) -> bytes:
    return _BANNER.sub(b"", data)


ENTRY_STARTS = {
    LogType.MYSQL_SLOW: re.compile(rb"^# Query_time: ", re.M),
    LogType.MYSQL_ERROR: re.compile(rb"^(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|\d{6} +\d?\d:)", re.M),
    LogType.MYSQL_GENERAL: re.compile(
        rb"^(?:\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-][\d:]+)|\d{6} +[\d:]+|)\s+\d+ "
        rb"(?:Query|Connect|Quit|Init DB|Prepare|Execute|Close stmt|Field List|Sleep)",
        re.M,
    ),
    LogType.MYSQL_AUDIT: re.compile(rb"^(?:\d{16}|\d{8} \d\d:\d\d:\d\d),", re.M),
}  # fmt: skip
PG_PRIMARY = re.compile(
    r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[^\n]*?\b(" + SEVERITIES + r"):\s", re.M
)


@pytest.mark.parametrize("relative", corpus_files())
def test_corpus_entry_counts_match_the_format(corpus: Path, relative: str) -> None:
    """Entries counted the way the format defines them, independently of the parser; text
    that is no entry (KNOWN_ERRORS) is in parse_error records, never counted as entries."""
    data, records = parsed(corpus, relative)
    log_type, _ = file_type(relative)
    entries = sum(1 for record in records if not record.get("parse_error"))
    if log_type in ENTRY_STARTS:
        assert entries == len(ENTRY_STARTS[log_type].findall(data))
    elif log_type is LogType.POSTGRESQL:
        text = data.decode("utf-8", "replace")
        severities = PG_PRIMARY.findall(text)
        # Secondary lines (DETAIL, STATEMENT...) belong to the message before them.
        assert entries == sum(1 for s in severities if s not in SECONDARY_SEVERITIES)
    elif log_type is LogType.POSTGRESQL_CSV:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"))))
        assert entries == sum(1 for row in rows if row)
    else:
        # jsonlog always writes these two keys.
        lines = data.splitlines()
        assert entries == sum(
            1 for ln in lines if b'"timestamp"' in ln and b'"error_severity"' in ln
        )


def test_slow_log_banner_lines_yield_no_record(corpus: Path) -> None:
    relative = "mysql/slow/aurora3-slowquery.log"
    data, records = parsed(corpus, relative)
    assert data.count(b", Version: ") > 3
    assert len(records) == data.count(b"# Query_time:")
    assert all("Version" not in r["message"] for r in records)
    without = parse(LogType.MYSQL_SLOW, _banner_free(data))
    # A banner resets the carried `use`, so only the statements and times must agree.
    assert [(r["statement"], r["_timestamp"]) for r in without] == [
        (r["statement"], r["_timestamp"]) for r in records
    ]


# -- peers' published expectations --------------------------------------------------------


# go-mysql's own fingerprinter departs from pt-fingerprint here; we follow pt (query_id must
# join with pt-query-digest reports), so their class is compared under pt's fingerprint.
GO_MYSQL_DIFFERS = {"set names utf8": "set names utf?"}


def _golden_pairs() -> list[tuple[str, str]]:
    root = corpus_root()
    if root is None:
        return []
    pairs = []
    for golden in sorted((root / "expected" / "go-mysql-golden").glob("*.golden")):
        name = golden.stem.removesuffix("-no-examples")
        pairs.append((golden.name, f"mysql/slow/gomysql-{name}.log"))
    return pairs


@pytest.mark.parametrize(("golden", "log"), _golden_pairs())
def test_slow_log_matches_go_mysql_golden_classes(corpus: Path, golden: str, log: str) -> None:
    expected = json.loads((corpus / "expected" / "go-mysql-golden" / golden).read_text())
    _, records = parsed(corpus, log)
    classes: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if not record.get("parse_error"):
            # go-mysql's class ID is the last 16 hex digits of pt-query-digest's ID.
            classes[record["query_id"][-16:]].append(record)
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cls in expected["Class"].values():
        fp = GO_MYSQL_DIFFERS.get(cls["Fingerprint"])
        if fp is not None:
            cls = {**cls, "Fingerprint": fp, "Id": query_id(fp)[-16:]}
        by_id[cls["Id"]].append(cls)
    assert set(classes) == set(by_id)
    for class_id, ours in classes.items():
        theirs = by_id[class_id]
        assert {r["fingerprint"] for r in ours} == {c["Fingerprint"] for c in theirs}
        # TotalQueries is weighted by Log_slow_rate_limit in go-mysql; Cnt counts entries.
        query_times = [c["Metrics"]["TimeMetrics"]["Query_time"] for c in theirs]
        assert len(ours) == sum(q["Cnt"] for q in query_times)
        assert max(r["query_time_s"] for r in ours) == pytest.approx(
            max(q["Max"] for q in query_times)
        )
        assert min(r["query_time_s"] for r in ours) == pytest.approx(
            min(q["Min"] for q in query_times)
        )
        users = {c["User"] for c in theirs}
        # go-mysql keeps the brackets of the replication thread's user ("[SQL_SLAVE]"); the
        # format is priv_user[user] and we report the user inside the brackets.
        assert {r.get("user", "") for r in ours} == {str(u).strip("[]") for u in users}
        # go-mysql does not carry `use db` to later entries; the server writes `use` only
        # when the schema changes (per file), so we do: their empty Db may be our carried one.
        for cls in theirs:
            if cls["Db"]:
                assert cls["Db"] in {r.get("database") for r in ours}


BEATS_EXTRA = (
    "bytes_sent", "bytes_received", "read_first", "read_key", "read_rnd_next", "sort_rows",
    "sort_scan_count", "tmp_tables", "tmp_disk_tables", "killed",
)  # fmt: skip


def test_slow_log_matches_beats_expected_fields(corpus: Path) -> None:
    expected = json.loads(
        (corpus / "expected" / "beats" / "mysql-ubuntu-8.0.15.slowlog-expected.json").read_text()
    )
    data, records = parsed(corpus, "mysql/slow/beats-mysql-ubuntu-8.0.15.log")
    assert len(records) == len(expected)
    for ours, theirs in zip(records, expected, strict=True):
        # beats starts an event at `# User@Host:`; the `# Time:` line before it belongs to the
        # same entry, so our offset is that line's start.
        time_line = data[ours["offset"] : theirs["log.offset"]]
        assert time_line.startswith(b"# Time: ")
        assert time_line.count(b"\n") == 1
        assert ours["user"] == theirs["user.name"]
        assert ours["host"] == theirs["source.domain"]
        assert ours["database"] == theirs["mysql.slowlog.schema"]
        assert ours["statement"] + ";" == theirs["mysql.slowlog.query"]
        assert ours["lock_time_s"] == theirs["mysql.slowlog.lock_time.sec"]
        assert ours["rows_sent"] == theirs["mysql.slowlog.rows_sent"]
        assert ours["rows_examined"] == theirs["mysql.slowlog.rows_examined"]
        assert round(ours["query_time_s"] * 1e9) == theirs["event.duration"]
        thread = theirs["mysql.thread_id"]
        assert ours["thread_id"] == (thread[0] if isinstance(thread, list) else thread)
        # beats stamps the event with SET timestamp (the start, 1 s resolution); our
        # _timestamp is `# Time` (when the server logged it) and the start is start_time_us.
        assert _iso_us(theirs["@timestamp"]) == ours["start_time_us"] // 1_000_000 * 1_000_000
        for key in BEATS_EXTRA:
            if f"mysql.slowlog.{key}" in theirs:
                assert ours[key] == theirs[f"mysql.slowlog.{key}"], key
        if "event.end" in theirs:
            assert ours["end_time_us"] == _iso_us(theirs["event.end"])
            assert ours["start_time_us"] == _iso_us(theirs["event.start"])
            assert ours["errno"] == theirs["mysql.slowlog.last_errno"]


def _iso_us(text: str) -> int:
    from processor.parsing.timestamps import Timestamps

    value = Timestamps().iso(text)
    assert value is not None
    return value


@pytest.mark.parametrize("name", ["query001", "query002"])
def test_pt_fingerprint_samples(corpus: Path, name: str) -> None:
    folder = corpus / "expected" / "pt-fingerprint"
    records = parse(LogType.MYSQL_SLOW, (folder / name).read_bytes())
    assert [r["fingerprint"] for r in records] == (
        folder / f"{name}.fingerprint"
    ).read_text().splitlines()


# -- properties over the whole corpus --------------------------------------------------------


def _json_type(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string"}[type(value)]


def test_every_key_keeps_one_json_type_across_all_log_types(corpus: Path) -> None:
    """OpenObserve fixes a column's type on first sight: one key, one type, everywhere."""
    seen: dict[str, set[str]] = defaultdict(set)
    for relative in corpus_files():
        for redacting in (False, True):
            data = read_bytes(corpus / relative)
            log_type, settings = file_type(relative)
            settings = settings.model_copy(update={"redact_literals": redacting})
            for record in parse(log_type, data, settings):
                for key, value in record.items():
                    seen[key].add(_json_type(value))
    mixed = {key: types for key, types in seen.items() if len(types) > 1}
    assert not mixed
    assert all(re.fullmatch(r"_?[a-z][a-z0-9_]*", key) for key in seen)
    assert len(seen) > 60


def test_every_key_the_parsers_emit_is_documented(corpus: Path) -> None:
    from tests.processor.parsing.samples import SAMPLES

    doc = (PROJECT_ROOT / "docs" / "records.md").read_text()
    keys: set[str] = set()
    for relative in corpus_files():
        log_type, settings = file_type(relative)
        keys.update(*parse(log_type, read_bytes(corpus / relative), settings))
    for log_type, data in SAMPLES.items():
        keys.update(*parse(log_type, data))
    assert sorted(key for key in keys if f"`{key}`" not in doc) == []
