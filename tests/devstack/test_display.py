"""make run's live view and plain line, rendered from a snapshot built by hand."""

from __future__ import annotations

from rich.console import Console

from common.status import FileProgress
from devstack.display import live_view, plain_line
from devstack.monitor import Metrics, Scraped, Snapshot

PROCESSOR = Metrics.parse(
    "# TYPE aurora_processor_records_shipped_total counter\n"
    'aurora_processor_records_shipped_total{stream="aurora_mysql_slow"} 1200.0\n'
    "# TYPE aurora_processor_records_total counter\n"
    'aurora_processor_records_total{log_type="mysql_slow",outcome="parsed"} 1203.0\n'
    "# TYPE aurora_processor_sink_retries_total counter\n"
    'aurora_processor_sink_retries_total{reason="http_503"} 2.0\n'
    "# TYPE aurora_processor_dead_letters_total counter\n"
    'aurora_processor_dead_letters_total{kind="record",reason="too_old"} 3.0\n'
)
DISCOVERY = Metrics.parse(
    "# TYPE aurora_discovery_instances_known gauge\naurora_discovery_instances_known 6.0\n"
    "# TYPE aurora_discovery_events_published_total counter\n"
    'aurora_discovery_events_published_total{status="active"} 40.0\n'
    "# TYPE aurora_discovery_files_discovered_total counter\n"
    'aurora_discovery_files_discovered_total{log_kind="slowquery"} 4.0\n'
)


def _file(instance: str, seen: int, ingested: int, lag_s: float) -> FileProgress:
    return FileProgress(
        instance_id=instance,
        cluster_id="orders",
        engine="aurora-mysql",
        log_file="slowquery/mysql-slowquery.log",
        log_kind="slowquery",
        status="active",
        seen_bytes=seen,
        published_bytes=seen,
        ingested_bytes=ingested,
        lag_bytes=max(0, seen - ingested),
        lag_s=lag_s,
        lost_bytes=0,
        last_seen_ms=0,
    )


def _snapshot(at: float, shipped_metrics: Metrics) -> Snapshot:
    return Snapshot(
        taken_at=at,
        services=[
            Scraped("discovery-1", "discovery", "u", "up", DISCOVERY),
            Scraped("discovery-2", "discovery", "u", "not answering", Metrics()),
            Scraped("processor-1", "processor", "u", "up", shipped_metrics),
            Scraped("processor-2", "processor", "u", "exited", Metrics()),
        ],
        files=[_file("orders-1", 5000, 3000, 12.0), _file("orders-2", 100, 100, 0.0)],
        partitions=[],
        problems=["Kafka offsets: KafkaConnectionError: down"],
    )


def _row(text: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is ``first``."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{text}")


def test_the_live_view_shows_services_types_instances_and_problems() -> None:
    before = _snapshot(100.0, Metrics())
    now = _snapshot(110.0, PROCESSOR)
    console = Console(record=True, width=120)
    console.print(live_view(now, before, "make run: 10 s"))
    text = console.export_text()

    assert "processor-2 exited" in text
    assert "discovery-2 not answering" in text
    assert "discovery-1 up (0 instances)" in text
    assert "instances 6" in text
    assert "40 published" in text
    assert "retries 2" in text
    assert "dead letters 3" in text
    assert _row(text, "mysql_slow") == ["mysql_slow", "4", "0 B", "1,203", "1,200", "120"]
    lagging = ["orders-1", "aurora-mysql", "1", "4.9 KB", "2.9 KB", "2.0 KB", "12"]
    assert _row(text, "orders-1") == lagging
    assert "KafkaConnectionError" in text


def test_the_plain_line_sums_what_matters() -> None:
    line = plain_line(_snapshot(110.0, PROCESSOR), 42.0)
    assert line.startswith("[   42 s] up 2/4 | instances 6 files 2 | events 40 |")
    assert "mysql_slow=1,200 " in line
    assert "lag 2.0 KB" in line
    assert "retries 2 | dead letters 3" in line
