"""What ``make run`` shows: each service's ``/metrics`` scraped, plus the pipeline's status.

:class:`Monitor` gathers a :class:`Snapshot` on demand: every service's Prometheus metrics
(parsed with prometheus_client's own parser), every tracked file (:mod:`common.status`, the
reader behind ``aurora-logs status``) and the consumer group's partition lag. A service that
does not answer is shown down, never an error; neither is a tracking table that does not
exist yet (the services create it once they start).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import httpx
from prometheus_client.parser import text_string_to_metric_families

from common.clients.aws import AwsClients
from common.errors import NotFoundError
from common.settings import CommonSettings
from common.status import FileProgress, PartitionLag, StatusReader

__all__ = ["LOG_TYPES", "Metrics", "Monitor", "Scraped", "Snapshot"]

# log type (the processor's label) -> discovery's log kind and the default stream
LOG_TYPES: dict[str, tuple[str, str]] = {
    "mysql_slow": ("slowquery", "aurora_mysql_slow"),
    "mysql_error": ("error", "aurora_mysql_error"),
    "mysql_general": ("general", "aurora_mysql_general"),
    "mysql_audit": ("audit", "aurora_mysql_audit"),
    "postgresql": ("postgresql", "aurora_postgresql"),
}


@dataclass(frozen=True)
class Metrics:
    """The samples of one scrape: (sample name, sorted labels) -> value."""

    samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return cls(samples)

    def total(self, name: str, **match: str) -> float:
        """The sum of ``name``'s samples whose labels include ``match``."""
        return sum(
            value
            for (sample, labels), value in self.samples.items()
            if sample == name and all((key, want) in labels for key, want in match.items())
        )

    def by(self, name: str, label: str, **match: str) -> dict[str, float]:
        """``name``'s samples summed per value of ``label``."""
        sums: dict[str, float] = defaultdict(float)
        for (sample, labels), value in self.samples.items():
            if sample != name or not all((key, want) in labels for key, want in match.items()):
                continue
            sums[dict(labels).get(label, "")] += value
        return dict(sums)


@dataclass(frozen=True)
class Scraped:
    """One service as the monitor saw it."""

    name: str
    role: str  # "discovery" or "processor"
    url: str
    # "up" (its /metrics answered), "not answering" (running, e.g. still starting), "exited"
    state: str
    metrics: Metrics

    @property
    def up(self) -> bool:
        return self.state == "up"


def _sum(services: Iterable[Scraped], name: str, **match: str) -> float:
    return sum(service.metrics.total(name, **match) for service in services)


def _sum_by(services: Iterable[Scraped], name: str, label: str, **match: str) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for service in services:
        for key, value in service.metrics.by(name, label, **match).items():
            sums[key] += value
    return dict(sums)


@dataclass(frozen=True)
class Snapshot:
    """Everything one refresh of the display shows, taken at ``taken_at`` (monotonic s)."""

    taken_at: float
    services: list[Scraped]
    files: list[FileProgress]
    partitions: list[PartitionLag]
    # What could not be read this time (shown, and tried again on the next refresh).
    problems: list[str] = field(default_factory=list)

    def role(self, role: str) -> list[Scraped]:
        return [service for service in self.services if service.role == role]

    @property
    def instances_known(self) -> int:
        """The fleet as the discovery replicas see it (each sees the whole inventory)."""
        known = [
            s.metrics.total("aurora_discovery_instances_known") for s in self.role("discovery")
        ]
        return int(max(known, default=0))

    def instances_owned(self) -> dict[str, int]:
        return {
            s.name: int(s.metrics.total("aurora_discovery_instances_owned"))
            for s in self.role("discovery")
        }

    @property
    def events_published(self) -> int:
        return int(_sum(self.role("discovery"), "aurora_discovery_events_published_total"))

    @property
    def publish_failures(self) -> int:
        return int(_sum(self.role("discovery"), "aurora_discovery_event_publish_failures_total"))

    def files_discovered(self) -> dict[str, int]:
        """New file generations per discovery log kind."""
        found = _sum_by(
            self.role("discovery"), "aurora_discovery_files_discovered_total", "log_kind"
        )
        return {kind: int(value) for kind, value in found.items()}

    def records_parsed(self) -> dict[str, int]:
        parsed = _sum_by(
            self.role("processor"), "aurora_processor_records_total", "log_type", outcome="parsed"
        )
        return {log_type: int(value) for log_type, value in parsed.items()}

    def records_shipped(self) -> dict[str, int]:
        """Records the sink confirmed, per stream."""
        shipped = _sum_by(
            self.role("processor"), "aurora_processor_records_shipped_total", "stream"
        )
        return {stream: int(value) for stream, value in shipped.items()}

    def bytes_read(self) -> dict[str, int]:
        read = _sum_by(self.role("processor"), "aurora_processor_bytes_read_total", "log_type")
        return {log_type: int(value) for log_type, value in read.items()}

    @property
    def events_processed(self) -> dict[str, int]:
        done = _sum_by(self.role("processor"), "aurora_processor_events_total", "outcome")
        return {outcome: int(value) for outcome, value in done.items()}

    @property
    def retries(self) -> int:
        """Sink attempts to be retried, events left for redelivery, events Kafka did not confirm."""
        processors = self.role("processor")
        return int(
            _sum(processors, "aurora_processor_sink_retries_total")
            + _sum(processors, "aurora_processor_events_total", outcome="errored")
            + self.publish_failures
        )

    @property
    def dead_letters(self) -> int:
        return int(_sum(self.role("processor"), "aurora_processor_dead_letters_total"))

    @property
    def sink_halted(self) -> bool:
        return _sum(self.role("processor"), "aurora_processor_sink_halted") > 0

    @property
    def bytes_lost(self) -> int:
        return int(_sum(self.role("discovery"), "aurora_discovery_bytes_lost_total"))

    @property
    def consumer_lag(self) -> int:
        return sum(partition.lag for partition in self.partitions)


class Monitor:
    """Scrapes the services and reads the pipeline's status; ``async with`` it, then
    :meth:`snapshot` as often as the display refreshes (each call may take up to a few
    seconds when a service hangs: every request has a short timeout)."""

    def __init__(
        self,
        settings: CommonSettings,
        services: Mapping[str, tuple[str, str]],
        *,
        aws: AwsClients | None = None,
        alive: Callable[[str], bool] = lambda _name: True,
        timeout_s: float = 2.0,
    ) -> None:
        """``services``: name -> (role, metrics URL); ``aws``: clients with the credentials
        the stack accepts (default: the process's own); ``alive(name)``: whether the service's
        process still runs (tells a starting service from one that exited)."""
        self._alive = alive
        self.settings = settings
        self._aws = aws
        self.services = dict(services)
        self._timeout_s = timeout_s
        self._stack = contextlib.AsyncExitStack()
        self._http: httpx.AsyncClient | None = None
        self._status: StatusReader | None = None
        self._partitions: list[PartitionLag] = []

    async def __aenter__(self) -> Self:
        self._http = await self._stack.enter_async_context(
            httpx.AsyncClient(timeout=self._timeout_s)
        )
        self._status = await self._stack.enter_async_context(
            StatusReader(self.settings, aws=self._aws)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _scrape(self, name: str, role: str, url: str) -> Scraped:
        assert self._http is not None
        try:
            answer = await self._http.get(url)
            if answer.status_code == 200:
                return Scraped(name, role, url, "up", Metrics.parse(answer.text))
        except httpx.HTTPError:
            pass
        state = "not answering" if self._alive(name) else "exited"
        return Scraped(name, role, url, state, Metrics())

    async def snapshot(self) -> Snapshot:
        assert self._status is not None
        scraped = [
            await self._scrape(name, role, url) for name, (role, url) in self.services.items()
        ]
        files: list[FileProgress] = []
        partitions: list[PartitionLag] = []
        problems: list[str] = []
        try:
            files = await self._status.files()
        except NotFoundError:
            pass  # the services create the table as they start
        except Exception as exc:  # shown, not fatal: the next refresh tries again
            problems.append(f"tracking table: {type(exc).__name__}: {exc}")
        try:
            partitions = await self._status.partitions()
            self._partitions = partitions
        except Exception as exc:
            if getattr(exc, "retriable", False):
                # aiokafka's passing states (a group coordinator still being elected while
                # the stack starts): the last figures stand until the next refresh.
                partitions = self._partitions
            else:
                problems.append(f"Kafka offsets: {type(exc).__name__}: {exc}")
        return Snapshot(time.monotonic(), scraped, files, partitions, problems)
