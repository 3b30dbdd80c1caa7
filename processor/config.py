"""Settings of the processor service: the shared sections plus ``processor``."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from common.section import Section
from common.settings import CommonSettings
from processor.parsing.options import ParsingSettings

__all__ = ["ProcessorConfig", "ProcessorSettings", "StreamNames"]


class StreamNames(Section):
    """OpenObserve stream per log type (``AURORA_PROCESSOR__STREAMS__MYSQL_SLOW`` ...)."""

    mysql_slow: str = "aurora_mysql_slow"
    mysql_error: str = "aurora_mysql_error"
    mysql_general: str = "aurora_mysql_general"
    mysql_audit: str = "aurora_mysql_audit"
    postgresql: str = "aurora_postgresql"

    def for_log_type(self, log_type: str) -> str:
        """The stream of a record's ``log_type`` (``mysql_slow`` ...)."""
        stream: str = getattr(self, log_type)
        return stream


class ProcessorConfig(Section):
    # Where log bytes come from: the RDS API (with the full-file download as fallback), or
    # files staged in S3 under s3.staged_prefix.
    source: Literal["rds", "s3"] = "rds"
    # Where records go: OpenObserve, or NDJSON files per stream (local runs, debugging).
    sink: Literal["openobserve", "file"] = "openobserve"
    file_sink_dir: str = "/var/lib/aurora-logs/records"
    # The file sink rotates <stream>.ndjson past this size (to .1, .2 ...) and keeps this
    # many rotated files per stream; a batch is never split, so one larger batch gets a file.
    file_sink_max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    file_sink_keep_files: int = Field(default=5, ge=0)
    streams: StreamNames = StreamNames()

    # Batches to the sink: cut at whichever bound is reached first.
    max_batch_records: int = Field(default=5000, ge=1)
    max_batch_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch_age_s: float = Field(default=1.0, gt=0)
    max_concurrent_requests: int = Field(default=4, ge=1)

    # Work in flight per replica: files processed at once, and log bytes held in memory
    # between download and delivery. Past either bound the consumer pauses its partitions.
    max_concurrent_files: int = Field(default=16, ge=1)
    max_inflight_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    max_queued_events: int = Field(default=2000, ge=1)

    # Downloads.
    full_download_threshold_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    read_chunk_bytes: int = Field(default=1024 * 1024, ge=4096)
    checkpoint_every_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)
    # Keep every byte read, gzip-compressed, in s3.bucket under s3.raw_prefix (processor.archive):
    # logs then outlive Aurora's retention and `aurora-logs raw-restore` gives them back.
    archive_raw: bool = False

    # Retries of the sink and of the sources (exponential back-off with full jitter).
    retry_base_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    # After 401/403/404 from OpenObserve the sink halts; it tries again this often.
    halted_retry_interval_s: float = Field(default=60.0, gt=0)

    commit_interval_s: float = Field(default=1.0, gt=0)
    # On SIGTERM or a rebalance, work in hand gets this long to finish before it is abandoned
    # (uncommitted, so another replica redoes it).
    drain_timeout_s: float = Field(default=15.0, gt=0)


class ProcessorSettings(CommonSettings):
    """Everything the processor reads from ``AURORA_*`` variables."""

    processor: ProcessorConfig = ProcessorConfig()
    parsing: ParsingSettings = ParsingSettings()

    @model_validator(mode="after")
    def _drain_fits_the_session_and_the_pod(self) -> Self:
        drain = self.processor.drain_timeout_s
        deadline = self.service.shutdown_deadline_s
        session = self.kafka.session_timeout_s
        grace = self.service.termination_grace_period_s
        if not drain <= deadline:
            raise ValueError(
                "processor.drain_timeout_s must not exceed service.shutdown_deadline_s "
                f"({drain:g} > {deadline:g})"
            )
        if not deadline < session < grace:
            raise ValueError(
                "service.shutdown_deadline_s < kafka.session_timeout_s < "
                "service.termination_grace_period_s must hold "
                f"({deadline:g}, {session:g}, {grace:g}): a drain that outlives the Kafka session "
                "rebalances its partitions away mid-drain, and a session longer than the pod's "
                "grace period keeps partitions assigned to a dead pod"
            )
        return self
