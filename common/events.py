"""The log-file event: what discovery publishes to Kafka and the processor consumes.

An event is *level-triggered*: it says "this file exists and, when observed, had this size";
it does not carry a byte range. The processor reads from its own durable checkpoint up to the
current end of the file, so a repeated, late or out-of-order event is harmless and a lost one
is made good by the next.

Wire format: UTF-8 JSON of :class:`LogFileEvent`, with ``schema_version`` so the format can
evolve; the record key is :func:`event_key` so every event of one file lands on one partition
and is processed in order by one consumer.

``from_start`` (added within version 1, absent = false) is the one exception to level
triggering: set only by ``aurora-logs backfill --from-start``, it asks the processor to rewind
the file's checkpoint to byte 0 and read it all again. Re-sent records keep their
``record_id``, so they are duplicates an operator can recognise. A processor older than the
field ignores it (``extra="ignore"``) and just catches the file up.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import MalformedEventError

__all__ = [
    "SCHEMA_VERSION",
    "Engine",
    "FileStatus",
    "LogFileEvent",
    "LogKind",
    "decode_event",
    "encode_event",
    "event_key",
]

SCHEMA_VERSION: Literal[1] = 1

Engine = Literal["aurora-mysql", "aurora-postgresql"]
LogKind = Literal["error", "slowquery", "general", "audit", "postgresql"]
FileStatus = Literal["active", "rotated", "deleted"]


class LogFileEvent(BaseModel):
    """One observation of one log file of one Aurora instance."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = SCHEMA_VERSION
    cluster_id: str = Field(min_length=1)
    instance_id: str = Field(min_length=1)
    engine: Engine
    engine_version: str = ""
    log_file: str = Field(
        min_length=1, description="RDS LogFileName, e.g. slowquery/mysql-slowquery.log"
    )
    log_kind: LogKind
    file_identity: str = Field(
        min_length=1,
        description="Stable identity of the file's content, surviving reused names and renames",
    )
    size_bytes: int = Field(ge=0, description="Size as DescribeDBLogFiles reported it")
    last_written_ms: int = Field(ge=0, description="LastWritten as DescribeDBLogFiles reported it")
    status: FileStatus = "active"
    observed_at_ms: int = Field(ge=0, description="When discovery observed the file (epoch ms)")
    from_start: bool = Field(
        default=False,
        description="Read the file again from byte 0, whatever its checkpoint (backfill)",
    )


def event_key(instance_id: str, log_file: str) -> bytes:
    """The Kafka record key: one file always maps to one partition."""
    return f"{instance_id}/{log_file}".encode()


def encode_event(event: LogFileEvent) -> bytes:
    return event.model_dump_json().encode()


def decode_event(payload: bytes | None) -> LogFileEvent:
    """Decode a Kafka record value; raises :class:`MalformedEventError` with a stable reason."""
    if payload is None:
        raise MalformedEventError("event has no value", reason="empty_event")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEventError(f"event is not JSON: {exc}", reason="invalid_json") from None
    except RecursionError:
        # Nesting deeper than the decoder's stack (`[[[[...`): no event is shaped like that,
        # and letting the error escape would stop the consumer on this record forever.
        raise MalformedEventError("event is nested too deeply", reason="invalid_json") from None
    if not isinstance(data, dict):
        raise MalformedEventError("event is not a JSON object", reason="invalid_event")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise MalformedEventError(
            f"unknown schema_version {version!r} (this build reads {SCHEMA_VERSION})",
            reason="unknown_schema_version",
        )
    try:
        return LogFileEvent.model_validate(data)
    except ValidationError as exc:
        raise MalformedEventError(
            f"event fails the schema: {exc.errors(include_url=False)}", reason="invalid_event"
        ) from None
