"""Prometheus metrics of the discovery service.

Names end in their unit or ``_total``; labels are small closed sets (never an instance, cluster
or file name). RDS calls and throttles are counted by :mod:`common.ratelimit`
(``aurora_rds_calls_total{operation,outcome}``, ``aurora_rds_throttles_total{operation}``).
Gauges are per replica: sum them across replicas in queries.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BYTES_LOST",
    "EVENTS_PUBLISHED",
    "EVENT_PUBLISH_FAILURES",
    "FILES_DISCOVERED",
    "FILES_GONE",
    "FILES_TRACKED",
    "INSTANCES_KNOWN",
    "INSTANCES_OWNED",
    "INVENTORY_REFRESHES",
    "LEASE_CHANGES",
    "MEMBERS",
    "POLLS",
    "POLL_DURATION",
    "POLL_LAG",
    "ROTATIONS",
    "SECONDS_SINCE_POLL",
    "TRACKING_CONFLICTS",
]

INSTANCES_OWNED = Gauge(
    "aurora_discovery_instances_owned", "Instances whose lease this replica holds."
)
INSTANCES_KNOWN = Gauge(
    "aurora_discovery_instances_known", "Instances in the inventory (whole fleet, as seen here)."
)
MEMBERS = Gauge("aurora_discovery_members", "Live discovery replicas, as seen by this one.")
POLLS = Counter(
    "aurora_discovery_polls_total",
    "Polls of an instance's log files, by listing (incremental, full) and outcome "
    "(ok, failed, lease_lost).",
    ["listing", "outcome"],
)
POLL_DURATION = Histogram(
    "aurora_discovery_poll_duration_seconds",
    "Time one poll took: listing, tracking writes and events.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
POLL_LAG = Histogram(
    "aurora_discovery_poll_lag_seconds",
    "How late a poll started after it was due (budget or concurrency shortage).",
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
SECONDS_SINCE_POLL = Gauge(
    "aurora_discovery_seconds_since_poll_max",
    "The longest any owned instance has gone without a poll (compare to max_poll_interval_s).",
)
FILES_TRACKED = Gauge(
    "aurora_discovery_files",
    "Live tracked files of the owned instances, by status (active, rotated).",
    ["status"],
)
FILES_DISCOVERED = Counter(
    "aurora_discovery_files_discovered_total",
    "New file generations tracked, by log kind.",
    ["log_kind"],
)
ROTATIONS = Counter(
    "aurora_discovery_rotations_total",
    "Rotations detected, by kind: renamed (content kept its identity under a rotated name), "
    "truncated (an active file shrank), overwritten (a reused name got other content), "
    "superseded (a newer file of a series appeared).",
    ["kind"],
)
FILES_GONE = Counter(
    "aurora_discovery_files_gone_total",
    "Files no longer readable, by status: deleted (fully ingested first) or lost.",
    ["status"],
)
BYTES_LOST = Counter(
    "aurora_discovery_bytes_lost_total",
    "Bytes seen by discovery in files that disappeared before the processor made them durable.",
)
EVENTS_PUBLISHED = Counter(
    "aurora_discovery_events_published_total",
    "Log-file events confirmed by Kafka, by file status (active, rotated).",
    ["status"],
)
EVENT_PUBLISH_FAILURES = Counter(
    "aurora_discovery_event_publish_failures_total",
    "Log-file events Kafka did not confirm in time (published again on the next poll).",
)
TRACKING_CONFLICTS = Counter(
    "aurora_discovery_tracking_conflicts_total",
    "Conditional tracking writes refused (a concurrent writer or a newer lease's fence).",
)
LEASE_CHANGES = Counter(
    "aurora_discovery_lease_changes_total",
    "Instance leases taken, renewed-failed (lost) and given back, by change.",
    ["change"],
)
INVENTORY_REFRESHES = Counter(
    "aurora_discovery_inventory_refreshes_total",
    "Inventory reads by this replica, by outcome (ok, failed).",
    ["outcome"],
)
