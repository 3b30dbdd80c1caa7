"""Written files follow the formats of ../shared/reference/log-formats.md, with variety.

No moto: the writers run on their own (``simulator.samples``). Every entry recorded in the
truth is checked against the entry-start grammar of its kind.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from simulator.samples import SAMPLE_INSTANCES, write_samples
from simulator.samples import main as samples_main
from simulator.truth import Truth, TruthEntry
from tests.simulator.grammar import AUDIT, GEN_NEW, RDS, TIME, USE, entry_problems


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    out = tmp_path_factory.mktemp("samples")
    # Keep every rotated audit file: the checks read entries from the files on disk.
    truth = write_samples(out, minutes=20, bytes_per_min=150_000, truth=Truth())
    return out, truth


def _entries(truth: Truth, **filters: Any) -> list[TruthEntry]:
    """Entries of files still on disk (a deleted file's last name may now hold another)."""
    return [e for e in truth.entries(**filters) if not truth.file(e.content_id).deleted]


def _data(root: Path, truth: Truth, entry: TruthEntry) -> bytes:
    content = _read(root / entry.instance_id / truth.file(entry.content_id).name)
    return content[entry.offset : entry.end]


@functools.cache
def _read(path: Path) -> bytes:
    # The samples do not change once written: read each file once.
    return path.read_bytes()


def _by_file(truth: Truth, **filters: str) -> dict[str, list[TruthEntry]]:
    grouped: dict[str, list[TruthEntry]] = {}
    for entry in _entries(truth, include_headers=True, **filters):
        grouped.setdefault(entry.content_id, []).append(entry)
    return grouped


@pytest.mark.parametrize("kind", ["error", "slowquery", "general", "audit", "postgresql"])
def test_every_entry_starts_as_its_kind_requires(samples: tuple[Path, Truth], kind: str) -> None:
    root, truth = samples
    entries = _entries(truth, kind=kind, include_headers=True)
    assert len(entries) > 200
    problems = []
    for entry in entries:
        name = truth.file(entry.content_id).name
        found = entry_problems(kind, name, _data(root, truth, entry), header=entry.header)
        problems.extend(f"{entry.instance_id}/{name}@{entry.offset}: {p}" for p in found)
    assert not problems, "\n".join(problems[:20])


def test_content_varies_enough_to_exercise_fingerprints(samples: tuple[Path, Truth]) -> None:
    root, truth = samples
    statements: set[str] = set()
    literal_free: set[str] = set()
    users: set[str] = set()
    multi_line = 0
    for entry in _entries(truth, kind="slowquery"):
        text = _data(root, truth, entry).decode()
        lines = text.splitlines()
        users.add(lines[1].split("[", 1)[0])
        body = [line for line in lines[3:] if not USE.match(line) and not line.startswith("SET ")]
        statement = "\n".join(body)
        statements.add(statement)
        multi_line += len(body) > 1
        # A crude fingerprint: literals and numbers out, case folded.
        shape = re.sub(r"'[^']*'|\b\d+\b", "?", statement).lower()
        literal_free.add(re.sub(r"\s+", " ", shape))
    assert len(statements) > 500
    assert len(literal_free) > 100, "too few distinct query shapes"
    assert len(users) >= 5
    assert multi_line > 20


def test_slow_log_writes_use_only_when_the_schema_changes(samples: tuple[Path, Truth]) -> None:
    root, truth = samples
    for entries in _by_file(truth, kind="slowquery").values():
        last_db = None
        for entry in entries:
            if entry.header:
                last_db = None  # mysqld forgets the schema when it (re)opens the file
                continue
            lines = _data(root, truth, entry).decode().splitlines()
            use = USE.match(lines[3])
            if use:
                assert use["db"] != last_db, "use repeated for an unchanged schema"
                last_db = use["db"]
            else:
                assert last_db is not None, "an entry without use before any use"


def test_slow_entries_end_after_they_start_and_carry_extras_on_aurora_3(
    samples: tuple[Path, Truth],
) -> None:
    root, truth = samples
    for instance in ("sample-mysql2", "sample-mysql3"):
        entries = _entries(truth, instance=instance, kind="slowquery")
        extras = 0
        for entry in entries:
            lines = _data(root, truth, entry).decode().splitlines()
            time_line = TIME.match(lines[0])
            assert time_line is not None
            query_time = float(lines[2].split()[2])
            lock_time = float(lines[2].split()[4])
            assert lock_time <= query_time
            extras += " Start: " in lines[2]
        if instance == "sample-mysql3":
            assert extras == len(entries)
        else:
            assert extras == 0


def test_general_log_has_connects_quits_and_multi_line_queries(
    samples: tuple[Path, Truth],
) -> None:
    root, truth = samples
    commands: Counter[str] = Counter()
    continued = 0
    for entry in _entries(truth, kind="general"):
        text = _data(root, truth, entry).decode()
        match = GEN_NEW.match(text.split("\n", 1)[0])
        assert match is not None
        commands[match["cmd"]] += 1
        continued += text.count("\n") > 1
    assert {"Connect", "Quit", "Query", "Init DB", "Prepare", "Execute"} <= set(commands)
    assert continued > 10


def test_error_logs_follow_the_major_version(samples: tuple[Path, Truth]) -> None:
    root, truth = samples
    v2 = [
        _data(root, truth, e).decode()
        for e in _entries(truth, instance="sample-mysql2")
        if e.kind == "error"
    ]
    v3 = [
        _data(root, truth, e).decode()
        for e in _entries(truth, instance="sample-mysql3")
        if e.kind == "error"
    ]
    assert all("[MY-" not in text.split("\n", 1)[0] for text in v2)
    eight = [t for t in v3 if "[MY-" in t.split("\n", 1)[0]]
    assert eight
    # The location closes the message, which may continue over several lines.
    assert all(re.search(r" \(\w+\.cc:\d+\)$", t, re.MULTILINE) for t in eight)
    # Aurora 3 restarts write foreign lines: the audit plugin's old stamp and DAS.
    assert any(" server_audit: Audit STARTED." in t for t in v3)
    assert any("[DAS][INFO]" in t for t in v3)
    # Multi-line entries: deadlock dumps, the 5.7 Version line after "ready for connections".
    assert any("*** (1) TRANSACTION:" in t for t in v2 + v3)
    assert any(t.startswith("20") and "\nVersion: '5.7.12-log'" in t for t in v2)


def test_aurora_audit_escapes_and_adds_table_events(samples: tuple[Path, Truth]) -> None:
    root, truth = samples
    operations: Counter[str] = Counter()
    for entry in _entries(truth, instance="sample-mysql3", kind="audit"):
        line = _data(root, truth, entry).decode().rstrip("\n")
        match = AUDIT.match(line)
        assert match is not None
        assert len(match["ts"]) == 16, "Aurora writes µs since the epoch"
        assert match["serverhost"] == "sample-mysql3"
        operations[match["op"]] += 1
        if match["op"] == "QUERY":
            assert match["object"].startswith("'")
            assert len(match["object"]) <= 1024 * 2 + 2
        elif match["op"] in ("READ", "WRITE"):
            assert match["retcode"] == ""
            assert not match["object"].startswith("'")
    assert {"QUERY", "READ", "WRITE", "CONNECT", "DISCONNECT"} <= set(operations)
    quoted = [
        _data(root, truth, e).decode()
        for e in _entries(truth, kind="audit")
        if "\\'" in _data(root, truth, e).decode()
    ]
    assert quoted, "no escaped quote in any audit line"


def test_rds_mysql_audit_uses_dates_and_trailing_fields(samples: tuple[Path, Truth]) -> None:
    root, truth = samples
    entries = _entries(truth, instance="sample-mysql3-rds-audit", kind="audit")
    assert entries
    for entry in entries[:200]:
        match = AUDIT.match(_data(root, truth, entry).decode().rstrip("\n"))
        assert match is not None
        assert re.fullmatch(r"\d{8} \d\d:\d\d:\d\d", match["ts"])
        assert match["extra"] == ",,"


def test_postgresql_messages_keep_their_parts_together(samples: tuple[Path, Truth]) -> None:
    root, truth = samples
    severities: Counter[str] = Counter()
    tab_continued = 0
    for entry in _entries(truth, instance="sample-postgresql", kind="postgresql"):
        if truth.file(entry.content_id).name.endswith(".csv"):
            continue
        text = _data(root, truth, entry).decode()
        lines = text.rstrip("\n").split("\n")
        for line in lines:
            match = RDS.match(line)
            if match:
                severities[match["sev"]] += 1
        tab_continued += any(line.startswith("\t") for line in lines[1:])
    assert {"LOG", "ERROR", "FATAL", "WARNING", "DETAIL", "STATEMENT", "HINT"} <= set(severities)
    assert tab_continued > 20
    text = "".join(
        _data(root, truth, e).decode() for e in _entries(truth, instance="sample-postgresql")[:3000]
    )
    for needle in (
        "  plan:\n\tQuery Text: ",
        "UTC::@:[",
        ":[local]:",
        "connection received:",
        "checkpoint complete:",
        "automatic vacuum of table",
    ):
        assert needle in text, needle


def test_csvlog_is_rfc4180_with_newlines_inside_fields(samples: tuple[Path, Truth]) -> None:
    root, _truth = samples
    csv_files = sorted((root / "sample-postgresql" / "error").glob("*.csv"))
    assert csv_files
    records = list(csv.reader(io.StringIO(csv_files[0].read_text())))
    assert len(records) > 100
    assert all(len(record) == 26 for record in records)
    assert any("\n" in field for record in records for field in record)
    assert any('"' in record[13] for record in records), "no doubled quote in any message"


def test_every_sample_instance_writes_every_kind_of_its_engine(
    samples: tuple[Path, Truth],
) -> None:
    root, truth = samples
    for sample in SAMPLE_INSTANCES:
        kinds = {f.kind for f in truth.files(instance=sample.instance_id)}
        assert kinds == set(sample.engine.kinds)
        assert (root / sample.instance_id).is_dir()


def test_samples_command_writes_files_and_their_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert samples_main([str(tmp_path), "--minutes", "2"]) == 0
    listed = capsys.readouterr().out.splitlines()
    truth = Truth.load_jsonl(tmp_path / "truth.jsonl")
    live = truth.files(include_deleted=False)
    assert len(listed) == len(live) > 10
    for record in live:
        assert (tmp_path / record.instance_id / record.name).stat().st_size == record.size
