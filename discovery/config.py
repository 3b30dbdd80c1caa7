"""Settings of the discovery service: the shared sections plus ``discovery``.

Every field is an environment variable ``AURORA_DISCOVERY__<FIELD>``; tuples and mappings are
given as JSON (``AURORA_DISCOVERY__LOG_KINDS='["error","slowquery"]'``). Cross-field rules
(lease renewal well inside the lease, polling bounds in order) are checked at start-up, so a
replica with settings that would break the hand-over guarantees refuses to start.
"""

from __future__ import annotations

import fnmatch
import os
import re
import socket
from typing import Self

from pydantic import Field, field_validator, model_validator

from common.events import Engine, LogKind
from common.section import Section
from common.settings import CommonSettings

__all__ = ["DiscoveryConfig", "DiscoverySettings", "default_replica_id", "matches_pattern"]

ALL_LOG_KINDS: tuple[LogKind, ...] = ("error", "slowquery", "general", "audit", "postgresql")


def default_replica_id() -> str:
    """The pod name in Kubernetes (``HOSTNAME``), else host name and process id."""
    return os.environ.get("HOSTNAME") or f"{socket.gethostname()}-{os.getpid()}"


def matches_pattern(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern``: a shell glob, or a regex when it starts ``re:``."""
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], value) is not None
    return fnmatch.fnmatchcase(value, pattern)


class DiscoveryConfig(Section):
    """What to watch, how often, and how replicas share the fleet."""

    # Replica identity for rendezvous hashing; stable across restarts of one pod.
    replica_id: str = Field(default_factory=default_replica_id, min_length=1)

    # Inventory: which clusters and which of their log files.
    engines: tuple[Engine, ...] = ("aurora-mysql", "aurora-postgresql")
    log_kinds: tuple[LogKind, ...] = ALL_LOG_KINDS
    # error/mysql-error.log is flushed every 5 minutes into mysql-error-running.log: following
    # both would ship every error line twice.
    ignored_files: tuple[str, ...] = ("error/mysql-error.log",)
    # Cluster id patterns (glob, or "re:<regex>"); empty include = every cluster.
    include_clusters: tuple[str, ...] = ()
    exclude_clusters: tuple[str, ...] = ()
    # A cluster is included only if it carries every include tag, excluded if it carries any
    # exclude tag; tag values are globs ("*" = any value).
    include_tags: dict[str, str] = Field(default_factory=dict)
    exclude_tags: dict[str, str] = Field(default_factory=dict)
    inventory_interval_s: float = Field(default=300.0, gt=0)

    # Polling: every instance at least once per max_poll_interval_s (budget permitting),
    # instances whose files grow every min_poll_interval_s, idle ones backing off in between.
    min_poll_interval_s: float = Field(default=15.0, gt=0)
    max_poll_interval_s: float = Field(default=300.0, gt=0)
    idle_backoff_factor: float = Field(default=2.0, ge=1.0)
    poll_jitter_ratio: float = Field(default=0.1, ge=0, lt=1)
    # A listing without FileLastWritten finds deletions of files nobody writes any more.
    full_listing_interval_s: float = Field(default=3600.0, gt=0)
    # Incremental listings ask for files written since the newest LastWritten seen minus this
    # margin. It must exceed LastWritten's coarseness (AWS's examples are multiples of 300 s);
    # one rotation period keeps recently quiet active files in view, so their hourly rotation
    # is seen without a second, full listing. It costs bytes in the answer, not calls.
    last_written_margin_s: float = Field(default=3600.0, ge=0)
    # MaxRecords of DescribeDBLogFiles; None leaves AWS's default page size.
    listing_page_size: int | None = Field(default=None, ge=20)
    # Share of the account's RDS budget (rds.budget_rate_per_s) discovery paces itself to,
    # split among live replicas; the rest is left to the processor's downloads.
    budget_share: float = Field(default=0.5, gt=0, le=1)
    poll_concurrency: int = Field(default=8, ge=1, le=256)
    # Hygiene bound on one poll; a poll also stops when its instance's lease runs out.
    poll_timeout_s: float = Field(default=120.0, gt=0)

    # Sharding: heartbeats and per-instance leases in Valkey.
    lease_ttl_s: float = Field(default=30.0, gt=0)
    lease_renew_interval_s: float = Field(default=10.0, gt=0)
    member_ttl_s: float = Field(default=30.0, gt=0)

    @field_validator("include_clusters", "exclude_clusters")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise ValueError(f"{pattern!r} is not a valid regex: {exc}") from None
        return patterns

    @field_validator("log_kinds", "engines")
    @classmethod
    def _not_empty(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if not values:
            raise ValueError("must name at least one")
        return values

    @model_validator(mode="after")
    def _timings_consistent(self) -> Self:
        if self.min_poll_interval_s > self.max_poll_interval_s:
            raise ValueError("min_poll_interval_s must not exceed max_poll_interval_s")
        if self.lease_renew_interval_s * 2 > self.lease_ttl_s:
            raise ValueError(
                "lease_renew_interval_s must be at most half of lease_ttl_s, "
                "or one slow renewal loses every lease"
            )
        if self.member_ttl_s < self.lease_renew_interval_s * 2:
            raise ValueError("member_ttl_s must be at least twice lease_renew_interval_s")
        if self.member_ttl_s > self.lease_ttl_s:
            raise ValueError(
                "member_ttl_s must not exceed lease_ttl_s, or a dead replica's instances "
                "wait for its heartbeat longer than for its leases"
            )
        return self

    def handover_bound_s(self) -> float:
        """The longest a dead replica's instances stay unowned (before their first new poll)."""
        return max(self.lease_ttl_s, self.member_ttl_s) + self.lease_renew_interval_s


class DiscoverySettings(CommonSettings):
    """Everything discovery reads from ``AURORA_*`` variables."""

    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
