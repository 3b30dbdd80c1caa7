"""``aurora-logs search`` against the OpenObserve contract server's ``_search`` API."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import httpx
import pytest

from common import search_cli
from common.search import SearchError, search
from common.settings import OpenObserveSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def stream(
    openobserve_url: str,
    openobserve_credentials: tuple[str, str],
    unique_name: Callable[[str], str],
) -> str:
    """A fresh stream holding five slow-log records of the last minute."""
    name = unique_name("search").replace("-", "_")
    now_us = int(time.time() * 1_000_000)
    records = [
        {
            "_timestamp": now_us - (5 - number) * 1_000_000,
            "db_instance": f"orders-{number % 2}",
            "query_time": float(number),
            "query": f"SELECT {number} FROM t",
        }
        for number in range(5)
    ]
    answer = httpx.post(
        f"{openobserve_url}/api/default/{name}/_json",
        json=records,
        auth=openobserve_credentials,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"][0]["successful"] == 5
    return name


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch, openobserve_url: str, openobserve_credentials: tuple[str, str]
) -> OpenObserveSettings:
    user, password = openobserve_credentials
    monkeypatch.delenv("AURORA_OPENOBSERVE__URL", raising=False)
    monkeypatch.setenv("AURORA_OPENOBSERVE_URL", openobserve_url)  # make run's spelling
    monkeypatch.setenv("AURORA_OPENOBSERVE__USER", user)
    monkeypatch.setenv("AURORA_OPENOBSERVE__PASSWORD", password)
    return OpenObserveSettings(url=openobserve_url, user=user, password=password)  # type: ignore[arg-type]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    search_cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_search_returns_the_hits_of_the_window(
    configured: OpenObserveSettings, stream: str
) -> None:
    now_us = int(time.time() * 1_000_000)
    result = search(
        configured,
        f"SELECT db_instance, query_time FROM {stream} WHERE query_time >= 2 ORDER BY query_time",
        start_us=now_us - 3600 * 1_000_000,
        end_us=now_us + 1_000_000,
    )
    assert [hit["query_time"] for hit in result.hits] == [2.0, 3.0, 4.0]
    assert result.total == 3

    limited = search(configured, f"SELECT * FROM {stream}", start_us=now_us - 3600_000_000, limit=2)
    assert len(limited.hits) == 2
    # A window that ends before the records holds none of them.
    early = search(configured, f"SELECT * FROM {stream}", start_us=0, end_us=now_us - 3600_000_000)
    assert early.hits == []


def test_the_command_prints_json_lines_and_a_table(
    configured: OpenObserveSettings, stream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = f"SELECT db_instance, query FROM {stream} WHERE db_instance = 'orders-1' ORDER BY query"
    assert search_cli.run(_args(sql, "--json", "--since", "10m")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["query"] for line in lines] == ["SELECT 1 FROM t", "SELECT 3 FROM t"]

    assert search_cli.run(_args(f"SELECT * FROM {stream} ORDER BY query_time", "--limit", "3")) == 0
    captured = capsys.readouterr()
    header, *rows = captured.out.splitlines()
    assert {"_timestamp", "db_instance", "query_time", "query"} <= set(header.split())
    assert len(rows) == 3
    assert "(3 hits" in captured.err


def test_a_refused_query_prints_the_servers_message(
    configured: OpenObserveSettings,
    unique_name: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    absent = unique_name("never").replace("-", "_")
    assert search_cli.run(_args(f"SELECT * FROM {absent}")) == 1
    err = capsys.readouterr().err
    assert "HTTP 400, code 20002" in err
    assert f"Search stream not found: {absent}" in err


def test_wrong_credentials_are_a_clear_error(configured: OpenObserveSettings, stream: str) -> None:
    wrong = OpenObserveSettings(
        url=configured.url,
        user=configured.user,
        password="not-the-password",  # type: ignore[arg-type]
    )
    with pytest.raises(SearchError) as caught:
        search(wrong, f"SELECT * FROM {stream}", start_us=0)
    assert caught.value.status == 401
    assert str(caught.value) == "HTTP 401: Unauthorized Access"


def test_the_window_takes_times_and_ages() -> None:
    args = _args("SELECT 1", "--start", "2026-05-01T12:00:00Z", "--end", "2026-05-01T13:00:00")
    assert (args.start_ms, args.end_ms) == (1_777_636_800_000, 1_777_640_400_000)
    before = time.time() * 1000
    default = _args("SELECT 1")
    assert before - 3_600_000 - 1000 <= default.start_ms <= time.time() * 1000 - 3_600_000
    assert default.end_ms is None
    assert _args("SELECT 1", "--since", "15m").start_ms <= time.time() * 1000 - 900_000
    with pytest.raises(SystemExit):
        _args("SELECT 1", "--since", "an hour")
