"""Parsing speed and memory, side by side with pt-query-digest, pgbadger and grep.

    python -m bench.parse [--size-mb 50] [--page-bytes 1048576]

Builds two large inputs from the real entries of the shared corpus (../shared/corpus, or
AURORA_BENCH_CORPUS) into .cache/bench/ (git-ignored): a MySQL slow log and a PostgreSQL stderr
log with Aurora's prefix. Literals are varied so no two statements are alike, and table names
are varied so fingerprints differ too (caches only help as much as in real traffic). Then, in
the same run, on the same files, it measures:

* our parser: single core, in a fresh Python process, 1 MiB pages, every record built and
  serialised to JSON;
* ``pt-query-digest`` (percona-toolkit) on the slow log, ``pgbadger -j 1`` on the PostgreSQL
  log (installed with apt-get when running as root and missing);
* ``grep -c`` on both files, the floor of reading the bytes;
* our peak memory: the peak RSS of a child process parsing the full file and a tenth of it
  (the same peak means memory is bounded by the page and entry sizes, not the file), and the
  peak of Python allocations during parsing (tracemalloc).

Rates are per CPU second of each tool's processes (user + system, interpreter start-up and
report writing included), the cost on one core and the figure shared machines disturb least;
wall times are shown too. Every tool runs ``--repeat`` times (default 2) and its fastest run
is kept.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import string
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import orjson

from processor.parsing import LogType, ParsingSettings, make_parser
from processor.parsing.log_line_prefix import compile_prefix

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".cache" / "bench"
RDS_PREFIX = "%t:%r:%u@%d:[%p]:"
# PostgreSQL corpus files in stderr format, with their log_line_prefix.
PG_SOURCES = {
    "aurora-postgresql.log": RDS_PREFIX,
    "pgbadger-pg-timezones.log": RDS_PREFIX,
    "pgbadger-multiline_param.log": "%m [%p] user=%u,db=%d ",
    "pgbadger-queryid.log": "%m [%p] [queryid=%Q] %q%u@%d ",
    "pgbadger-begin_end.log": "%t [%p]: db=%d,user=%u,app=%a,client=%h ",
    "pgbadger-light.postgres.log": "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "pgbadger-postgresql_param_range.log": "%t [%p]: [%l-1] [%x] usr=%u,db=%d,appli=%a ",
    "beats-postgresql-query-steps-slowlog.log": "%m [%p] %q%u@%d ",
    "pgbadger-stmt_type.log": "%m [%p] ",
}
_NUMBER = re.compile(r"(?<![\w.])\d+(?!\w)")
_STRING = re.compile(r"'[^'\n]*'")
_TABLE = re.compile(r"(?i)\b(from|into|update|join)\s+([A-Za-z_][\w.]*)")


@dataclass
class Result:
    tool: str
    log: str
    size_bytes: int
    seconds: float  # CPU time (user + system) of the tool's processes, start-up included
    entries: int | None
    wall_s: float = 0.0
    peak_rss_mb: float | None = None

    @property
    def mb_per_s(self) -> float:
        return self.size_bytes / self.seconds / 1e6

    @property
    def entries_per_s(self) -> float | None:
        return self.entries / self.seconds if self.entries is not None else None


def corpus_root() -> Path:
    configured = os.environ.get("AURORA_BENCH_CORPUS")
    root = Path(configured) if configured else ROOT / ".." / "shared" / "corpus"
    if not root.is_dir():
        sys.exit(f"bench: no corpus at {root} (set AURORA_BENCH_CORPUS)")
    return root.resolve()


class Varier:
    """Rewrites a statement's literals and table names so every copy is new text."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        words = {"".join(self._random.choices(string.ascii_lowercase, k=6)) for _ in range(400)}
        self._tables = sorted(words)

    def __call__(self, text: str) -> str:
        rnd = self._random
        text = _NUMBER.sub(lambda _m: str(rnd.randrange(1, 10**7)), text)
        text = _STRING.sub(lambda _m: f"'{rnd.choice(self._tables)}{rnd.randrange(10**5)}'", text)
        suffix = rnd.choice(self._tables)
        return _TABLE.sub(lambda m: f"{m.group(1)} {m.group(2)}_{suffix}", text, count=1)


def slow_sources(corpus: Path) -> tuple[list[list[str]], list[str]]:
    """Header blocks of the corpus's MySQL 5.7+/8.0 entries (what Aurora MySQL 2 and 3 write)
    and the statements of every corpus entry, whatever its server version."""
    headers: list[list[str]] = []
    statements: list[str] = []
    for path in sorted((corpus / "mysql" / "slow").iterdir()):
        data = path.read_bytes()
        parser = make_parser(LogType.MYSQL_SLOW, ParsingSettings(), fallback_timestamp_us=0)
        for record in parser.feed(data) + parser.flush():
            statement = record.get("statement")
            if statement is None or record["length"] > 20_000 or "admin_command" in record:
                continue
            statements.append(statement)
            lines = record["message"].split("\n")
            if lines[0].startswith("# Time: 2") and lines[0][12:13] == "-":
                header = [line for line in lines if line.startswith("# ")]
                headers.append([line for line in header if not line.startswith("# Time:")])
    return headers, statements


def build_slow(corpus: Path, target: int, path: Path) -> None:
    """Aurora-style entries (5.7+ headers, a new `# Time` each) around corpus statements."""
    headers, statements = slow_sources(corpus)
    vary = Varier(1)
    rnd = random.Random(2)
    banner = (
        b"/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\n"
        b"Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
        b"Time                 Id Command    Argument\n"
    )
    stamp = 1_795_683_600_000_000
    size = 0
    with path.open("wb") as out:
        out.write(banner)
        while size < target:
            stamp += rnd.randrange(2_000_000)
            seconds, micros = divmod(stamp, 1_000_000)
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            lines = [f"# Time: {when}.{micros:06d}Z", *rnd.choice(headers)]
            if rnd.random() < 0.1:
                lines.append(f"use {rnd.choice(('shop', 'billing', 'audit'))};")
            lines.append(f"SET timestamp={seconds};")
            lines.append(vary(rnd.choice(statements)) + ";")
            data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
            out.write(data)
            size += len(data)


def pg_messages(corpus: Path) -> list[tuple[str, list[str]]]:
    """(primary line without prefix, continuation lines) of the corpus's stderr messages."""
    messages: list[tuple[str, list[str]]] = []
    for name, prefix in PG_SOURCES.items():
        pattern = compile_prefix(prefix)
        lines = (corpus / "postgresql" / name).read_text("utf-8", "replace").splitlines()
        for raw in lines:
            line = raw.rstrip("\r")
            match = pattern.match(line)
            if match is not None:
                messages.append((f"{match['severity']}:  {match['body']}", []))
            elif messages and line:
                messages[-1][1].append(line if line.startswith("\t") else "\t" + line.lstrip())
    return messages


def build_pg(corpus: Path, target: int, path: Path) -> None:
    messages = pg_messages(corpus)
    vary = Varier(3)
    rnd = random.Random(4)
    users = ["app", "postgres", "reporting", "etl"]
    stamp = 1_795_683_600
    size = 0
    with path.open("wb") as out:
        while size < target:
            primary, rest = rnd.choice(messages)
            stamp += rnd.randrange(2)
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))
            client = f"10.0.{rnd.randrange(256)}.{rnd.randrange(256)}({rnd.randrange(1024, 65535)})"
            pid = rnd.randrange(100, 99999)
            prefix = f"{when}:{client}:{rnd.choice(users)}@shop:[{pid}]:"
            if primary.startswith(("DETAIL", "STATEMENT", "HINT", "CONTEXT", "QUERY")):
                primary = "LOG:  " + primary.split(":  ", 1)[1]
            lines = [prefix + vary(primary), *(vary(line) for line in rest)]
            data = ("\n".join(lines) + "\n").encode()
            out.write(data)
            size += len(data)


def ensure_tools() -> None:
    missing = [tool for tool in ("pt-query-digest", "pgbadger") if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() == 0:
        print(f"bench: installing {', '.join(missing)} (percona-toolkit, pgbadger)", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "percona-toolkit", "pgbadger"], check=True, env=env
        )
    else:
        print(
            "bench: pt-query-digest and pgbadger are missing; install them with\n"
            "  sudo apt-get install -y percona-toolkit pgbadger",
            file=sys.stderr,
        )


_CHILD = """
import resource, sys, orjson
from processor.parsing import LogType, ParsingSettings, make_parser
log_type, path = LogType(sys.argv[1]), sys.argv[2]
limit, page_bytes = int(sys.argv[3]), int(sys.argv[4])
parser = make_parser(log_type, ParsingSettings(), fallback_timestamp_us=0)
dumps = orjson.dumps
entries = serialised = 0
with open(path, "rb") as stream:
    while limit > 0 and (page := stream.read(min(page_bytes, limit))):
        limit -= len(page)
        for record in parser.feed(page):
            serialised += len(dumps(record))
            entries += 1
for record in parser.flush():
    serialised += len(dumps(record))
    entries += 1
print(entries, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def ours(log_type: LogType, path: Path, page_bytes: int, limit: int | None = None) -> Result:
    """Our parser in a fresh process (cold caches, its own peak RSS): the first ``limit``
    bytes of ``path`` read in pages, every record built and serialised to JSON."""
    size = path.stat().st_size if limit is None else limit
    command = [sys.executable, "-c", _CHILD, log_type.value, str(path), str(size), str(page_bytes)]
    done, cpu_s, wall_s = _timed(command, check=True)
    entries, rss_kb = done.stdout.split()
    result = Result("aurora-logs parser", log_type.value, size, cpu_s, int(entries), wall_s)
    result.peak_rss_mb = int(rss_kb) / 1024
    return result


def _timed(
    command: list[str], *, check: bool = False
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``command``; its CPU seconds (user + system, all its processes) and wall seconds.

    CPU time is what a tool costs on one core, and it is what shared machines disturb least.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=check, cwd=ROOT)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done, cpu_s, wall_s


def external(tool: str, command: list[str], path: Path, log: str) -> Result | None:
    if shutil.which(command[0]) is None:
        return None
    done, cpu_s, wall_s = _timed(command)
    if done.returncode != 0:
        print(f"bench: {tool} failed: {done.stderr.strip()[:500]}", file=sys.stderr)
        return None
    entries = None
    total = re.search(r"Overall: ([\d.]+)([kM]?) total", done.stdout)
    if total is not None:
        entries = round(float(total.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[total.group(2)])
    elif command[0] == "grep":
        entries = int(done.stdout.strip() or 0)
    return Result(tool, log, path.stat().st_size, cpu_s, entries, wall_s)


def traced_peak_mb(log_type: LogType, path: Path, page_bytes: int) -> float:
    """Peak of Python allocations while parsing the whole file (records dropped per page)."""
    parser = make_parser(log_type, ParsingSettings(), fallback_timestamp_us=0)
    tracemalloc.start()
    with path.open("rb") as stream:
        while page := stream.read(page_bytes):
            for record in parser.feed(page):
                orjson.dumps(record)
    parser.flush()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def print_table(results: list[Result]) -> None:
    by_log: dict[str, Result] = {r.log: r for r in results if r.tool == "aurora-logs parser"}
    for result in results:
        if result.entries is None:  # pgbadger prints no count: the file's entries are ours
            result.entries = by_log[result.log].entries
    print(
        f"\n{'tool':<20}{'input':<12}{'MB':>6}{'cpu s':>8}{'wall s':>8}{'MB/s':>8}"
        f"{'entries/s':>11}{'ours x':>8}"
    )
    for result in results:
        mine = by_log[result.log]
        ratio = result.seconds / mine.seconds
        rate = result.entries_per_s
        print(
            f"{result.tool:<20}{result.log:<12}{result.size_bytes / 1e6:>6.1f}"
            f"{result.seconds:>8.2f}{result.wall_s:>8.2f}{result.mb_per_s:>8.1f}"
            f"{(f'{rate:,.0f}' if rate is not None else '-'):>11}"
            f"{('' if result is mine else f'{ratio:.1f}'):>8}"
        )
    print(
        "MB/s and entries/s per CPU second (user + system, start-up included: what the tool\n"
        "costs on one core); 'ours x' = that tool's CPU time / ours on the same file."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.parse", description=__doc__)
    parser.add_argument("--size-mb", type=float, default=50.0, help="size of each input")
    parser.add_argument("--page-bytes", type=int, default=1024 * 1024)
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs per tool, the fastest kept (the same for every tool: machines are shared)",
    )
    args = parser.parse_args(argv)
    corpus = corpus_root()
    OUT.mkdir(parents=True, exist_ok=True)
    target = int(args.size_mb * 1e6)
    slow, pg = OUT / "mysql-slowquery.log", OUT / "postgresql.log"
    for path, build in ((slow, build_slow), (pg, build_pg)):
        if not path.exists() or abs(path.stat().st_size - target) > target // 10:
            print(f"bench: building {path.relative_to(ROOT)} ({args.size_mb:g} MB)", flush=True)
            build(corpus, target, path)
    ensure_tools()

    results: list[Result] = []
    for log_type, path in ((LogType.MYSQL_SLOW, slow), (LogType.POSTGRESQL, pg)):
        print(f"bench: parsing {path.name}", flush=True)
        runs = [ours(log_type, path, args.page_bytes) for _ in range(max(1, args.repeat))]
        results.append(min(runs, key=lambda r: r.seconds))
    report = OUT / "pgbadger.html"
    peers = [
        ("pt-query-digest", ["pt-query-digest", str(slow)], slow, "mysql-slow"),
        ("grep -c", ["grep", "-c", "^# Query_time: ", str(slow)], slow, "mysql-slow"),
        (
            "pgbadger -j 1",
            ["pgbadger", "-q", "-j", "1", "--prefix", RDS_PREFIX, "-o", str(report), str(pg)],
            pg,
            "postgresql",
        ),
        ("grep -c", ["grep", "-c", "^[0-9]", str(pg)], pg, "postgresql"),
    ]
    for tool, command, path, log in peers:
        print(f"bench: running {tool} on {path.name}", flush=True)
        found = [external(tool, command, path, log) for _ in range(max(1, args.repeat))]
        runs = [run for run in found if run is not None]
        if runs:
            results.append(min(runs, key=lambda r: r.seconds))
    print_table(results)

    print(f"\nmemory (pages of {args.page_bytes} bytes):")
    for log_type, path in ((LogType.MYSQL_SLOW, slow), (LogType.POSTGRESQL, pg)):
        size = path.stat().st_size
        tenth = ours(log_type, path, args.page_bytes, size // 10).peak_rss_mb or 0.0
        full = ours(log_type, path, args.page_bytes).peak_rss_mb or 0.0
        traced = traced_peak_mb(log_type, path, args.page_bytes)
        print(
            f"  {log_type.value:<12} peak RSS {tenth:6.1f} MB on {size / 10e6:5.1f} MB, "
            f"{full:6.1f} MB on {size / 1e6:5.1f} MB; Python allocations peak {traced:5.1f} MB"
        )
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  (this benchmark process itself peaked at {idle:.0f} MB RSS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
