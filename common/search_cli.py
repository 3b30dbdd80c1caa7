"""``aurora-logs search "SELECT ... FROM aurora_mysql_slow ..."``: OpenObserve from a terminal.

Connection from ``AURORA_OPENOBSERVE__URL``, ``__ORGANIZATION``, ``__USER``, ``__PASSWORD``
(``AURORA_OPENOBSERVE_URL``, as ``make run`` reads it, is accepted for the URL). The window is
``--since``/``--start`` (an ISO 8601 time or an age, default 1h) to ``--end`` (default now).
Prints a table of the hits, or one JSON object per line with ``--json``. Exit status 1 with
the server's message when OpenObserve refuses the query.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from common.cli import point_in_time_ms
from common.errors import ConfigurationError
from common.search import SearchError, search
from common.settings import CommonSettings, load_settings
from common.status_cli import format_table

__all__ = ["add_arguments", "run", "search_environ"]

_CELL_CHARS = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help='e.g. "SELECT * FROM aurora_mysql_slow WHERE query_time_s > 1"')
    parser.add_argument(
        "--since",
        "--start",
        dest="start_ms",
        type=point_in_time_ms,
        default="1h",
        metavar="TIME",
        help="window start: ISO 8601 or an age (90s, 30m, 2h, 7d); default 1h",
    )
    parser.add_argument(
        "--end",
        "--until",
        dest="end_ms",
        type=point_in_time_ms,
        default=None,
        metavar="TIME",
        help="window end, the same forms; default now",
    )
    parser.add_argument("--limit", type=int, default=100, help="hits at most (default 100)")
    parser.add_argument("--json", action="store_true", help="one JSON object per hit and line")


def search_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with ``AURORA_OPENOBSERVE_URL`` (make run's name) as the setting it means."""
    env = dict(environ)
    url = env.pop("AURORA_OPENOBSERVE_URL", None)
    if url and "AURORA_OPENOBSERVE__URL" not in env:
        env["AURORA_OPENOBSERVE__URL"] = url
    return env


def _cell(name: str, value: Any) -> str:
    if name == "_timestamp" and isinstance(value, int):
        text = datetime.fromtimestamp(value / 1_000_000, UTC).isoformat(timespec="milliseconds")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value)
    text = " ".join(text.split())
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def _table(hits: list[dict[str, Any]]) -> str:
    columns: dict[str, None] = {}
    for hit in hits:
        columns.update(dict.fromkeys(hit))
    names = list(columns)
    rows = [
        [_cell(name, hit.get(name, "")) if name in hit else "" for name in names] for hit in hits
    ]
    return format_table(names, rows)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(CommonSettings, search_environ(os.environ))
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    end_us = args.end_ms * 1000 if args.end_ms is not None else int(time.time() * 1_000_000)
    start_us = args.start_ms * 1000
    try:
        result = search(
            settings.openobserve, args.sql, start_us=start_us, end_us=end_us, limit=args.limit
        )
    except SearchError as exc:
        print(f"aurora-logs search: OpenObserve refused the query: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        url = settings.openobserve.url
        print(f"aurora-logs search: cannot reach OpenObserve at {url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        for hit in result.hits:
            sys.stdout.write(json.dumps(hit, ensure_ascii=False) + "\n")
    else:
        if result.hits:
            print(_table(result.hits))
        print(f"({len(result.hits)} hits, {result.took_ms} ms)", file=sys.stderr)
    return 0
