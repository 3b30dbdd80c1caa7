"""The processor's Prometheus metrics. Labels are low-cardinality: log type, stream, reason."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "aurora_processor_events_total",
    "Log-file events finished, by outcome: delivered (committed), rejected (dead-lettered), "
    "errored (left uncommitted to be retried).",
    ["outcome"],
)
RECORDS = Counter(
    "aurora_processor_records_total",
    "Records by log type and outcome (parsed: cut from a file and handed to the batcher); "
    "records the sink confirmed are aurora_processor_records_shipped_total, by stream.",
    ["log_type", "outcome"],
)
BYTES_READ = Counter(
    "aurora_processor_bytes_read_total", "Log bytes downloaded, by log type.", ["log_type"]
)
BYTES_SHIPPED = Counter(
    "aurora_processor_bytes_shipped_total",
    "Record bytes delivered to the sink, by stream.",
    ["stream"],
)
RECORDS_SHIPPED = Counter(
    "aurora_processor_records_shipped_total",
    "Records the sink confirmed as delivered, by stream.",
    ["stream"],
)
BATCHES = Counter(
    "aurora_processor_batches_total", "Batches sent to the sink, by outcome.", ["stream", "outcome"]
)
SINK_RETRIES = Counter(
    "aurora_processor_sink_retries_total",
    "Sink attempts that will be retried, by reason.",
    ["reason"],
)
SINK_HALTED = Gauge(
    "aurora_processor_sink_halted",
    "1 while the sink refuses every request (credentials, organisation): a human must act.",
)
DEAD_LETTERS = Counter(
    "aurora_processor_dead_letters_total",
    "Messages written to the dead-letter topic, by kind (event, record) and reason.",
    ["kind", "reason"],
)
SOURCE_FALLBACKS = Counter(
    "aurora_processor_source_fallbacks_total",
    "Reads switched from the portion API to the full-file download, by reason.",
    ["reason"],
)
READS_CUT_SHORT = Counter(
    "aurora_processor_reads_cut_short_total",
    "Reads stopped early and left for the next event (rotated, name_reused, stalled, failed).",
    ["reason"],
)
CHECKPOINT_RESETS = Counter(
    "aurora_processor_checkpoint_resets_total",
    "Files read again from their start because their checkpoint was made on other content.",
)
CHECKPOINT_CONFLICTS = Counter(
    "aurora_processor_checkpoint_conflicts_total",
    "Checkpoint writes refused because another processor moved the checkpoint.",
)
FILE_LAG_BYTES = Histogram(
    "aurora_processor_file_lag_bytes",
    "Unread bytes of a file when its work started.",
    buckets=(0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9),
)
FILE_LAG_SECONDS = Histogram(
    "aurora_processor_file_lag_seconds",
    "Time from discovery's observation of a file to its records being delivered.",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)
INFLIGHT_BYTES = Gauge(
    "aurora_processor_inflight_bytes", "Log bytes held between download and delivery."
)
PAUSED_PARTITIONS = Gauge(
    "aurora_processor_paused_partitions", "Partitions paused because the replica is at capacity."
)
ARCHIVED_BYTES = Counter(
    "aurora_processor_archived_bytes_total",
    "Raw log bytes stored in the S3 archive (AURORA_PROCESSOR__ARCHIVE_RAW).",
)
