"""How ``make run`` shows a :class:`~devstack.monitor.Snapshot`: a rich live view on a terminal,
one plain line per period otherwise (CI logs, pipes, files), and the closing summary.

Rates are per second between two snapshots. Nothing here does I/O but returning renderables
and strings; the caller prints them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from common.status import by_instance
from common.status_cli import format_bytes
from devstack.monitor import LOG_TYPES, Snapshot

__all__ = ["live_view", "plain_line", "summary_lines"]


def _rate(now: Snapshot, before: Snapshot | None, stream: str) -> str:
    if before is None or now.taken_at <= before.taken_at:
        return ""
    delta = now.records_shipped().get(stream, 0) - before.records_shipped().get(stream, 0)
    return f"{delta / (now.taken_at - before.taken_at):,.0f}"


def _types_table(now: Snapshot, before: Snapshot | None) -> Table:
    table = Table(title="per log type", title_justify="left", expand=False)
    for name in ("log type", "files found", "read", "parsed", "shipped", "per s"):
        table.add_column(name, justify="left" if name == "log type" else "right")
    found, read = now.files_discovered(), now.bytes_read()
    parsed, shipped = now.records_parsed(), now.records_shipped()
    for log_type, (kind, stream) in LOG_TYPES.items():
        table.add_row(
            log_type,
            f"{found.get(kind, 0):,}",
            format_bytes(read.get(log_type, 0)),
            f"{parsed.get(log_type, 0):,}",
            f"{shipped.get(stream, 0):,}",
            _rate(now, before, stream),
        )
    return table


def _instances_table(now: Snapshot) -> Table:
    table = Table(title="per instance (tracking table)", title_justify="left")
    for name in ("instance", "engine", "files", "seen", "ingested", "lag", "lag s"):
        table.add_column(name, justify="right" if name not in {"instance", "engine"} else "left")
    for item in by_instance(now.files):
        lag_style = "yellow" if item.lag_s > 60 else ""
        table.add_row(
            item.instance_id,
            item.engine,
            str(item.files),
            format_bytes(item.seen_bytes),
            format_bytes(item.ingested_bytes),
            Text(format_bytes(item.lag_bytes), style=lag_style),
            Text(f"{item.lag_s:.0f}", style=lag_style),
        )
    return table


_STATE_STYLES = {"up": "green", "not answering": "yellow", "exited": "bold red"}


def _services_line(now: Snapshot) -> Text:
    text = Text()
    owned = now.instances_owned()
    for service in now.services:
        if text:
            text.append("  ")
        text.append(service.name + " ")
        text.append(service.state, style=_STATE_STYLES.get(service.state, ""))
        if service.name in owned and service.up:
            text.append(f" ({owned[service.name]} instances)")
    return text


def _totals_line(now: Snapshot) -> Text:
    events = now.events_processed
    text = Text(
        f"instances {now.instances_known}  files {len(now.files)}  events: "
        f"{now.events_published:,} published, {events.get('delivered', 0):,} processed, "
        f"{now.consumer_lag:,} queued  "
    )
    text.append(f"retries {now.retries:,}", style="yellow" if now.retries else "")
    text.append("  ")
    text.append(f"dead letters {now.dead_letters:,}", style="red" if now.dead_letters else "")
    if now.bytes_lost:
        text.append(f"  lost {format_bytes(now.bytes_lost)}", style="bold red")
    if now.sink_halted:
        text.append("  SINK HALTED", style="bold red")
    return text


def live_view(now: Snapshot, before: Snapshot | None, header: str) -> RenderableType:
    """The terminal view of ``now`` (``before``: an earlier snapshot, for the rates)."""
    return Group(
        Text(header, style="bold"),
        _services_line(now),
        _totals_line(now),
        _types_table(now, before),
        _instances_table(now),
        *(Text(problem, style="red") for problem in now.problems),
    )


def plain_line(now: Snapshot, elapsed_s: float) -> str:
    """One line for logs: services up, discovery, records shipped per stream, lag, errors."""
    up = sum(service.up for service in now.services)
    shipped = now.records_shipped()
    per_type = " ".join(
        f"{log_type}={shipped.get(stream, 0):,}" for log_type, (_kind, stream) in LOG_TYPES.items()
    )
    lag = sum(item.lag_bytes for item in now.files)
    problems = "".join(f" | {problem}" for problem in now.problems)
    return (
        f"[{elapsed_s:5.0f} s] up {up}/{len(now.services)} | instances {now.instances_known} "
        f"files {len(now.files)} | events {now.events_published:,} | shipped {per_type} | "
        f"lag {format_bytes(lag)}, {now.consumer_lag} events | retries {now.retries} | "
        f"dead letters {now.dead_letters}{problems}"
    )


def summary_lines(
    now: Snapshot, elapsed_s: float, cpu_s: Mapping[str, float], samples: Mapping[str, list[str]]
) -> list[str]:
    """The closing report: totals per log type, CPU per process, a few records of each type."""
    shipped, parsed = now.records_shipped(), now.records_parsed()
    found = now.files_discovered()
    lines = [f"summary after {elapsed_s:.0f} s:"]
    lines.append(
        f"  instances {now.instances_known}, files tracked {len(now.files)}, events published "
        f"{now.events_published:,}, retries {now.retries}, dead letters {now.dead_letters}, "
        f"lost {format_bytes(now.bytes_lost)}"
    )
    for log_type, (kind, stream) in LOG_TYPES.items():
        lines.append(
            f"  {log_type:<14} files {found.get(kind, 0):>3}  parsed {parsed.get(log_type, 0):>8,}"
            f"  shipped {shipped.get(stream, 0):>8,}"
        )
    lines.append(f"  shipped in all: {sum(shipped.values()):,} records")
    states = Counter(file.status for file in now.files)
    lag = sum(file.lag_bytes for file in now.files)
    lines.append(
        f"  files by status: {dict(sorted(states.items()))}; unread at the end: {format_bytes(lag)}"
    )
    if cpu_s:
        used = ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu_s.items())
        lines.append(f"  CPU seconds: {used} (total {sum(cpu_s.values()):.1f})")
    for stream, records in samples.items():
        lines.append(f"\n{stream}: {len(records)} sample record(s)")
        lines.extend(f"  {record}" for record in records)
    return lines
