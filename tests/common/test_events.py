"""The versioned log-file event and its decoding errors."""

from __future__ import annotations

import json

import pytest

from common.errors import MalformedEventError
from common.events import LogFileEvent, decode_event, encode_event, event_key


def _event(**overrides: object) -> LogFileEvent:
    fields: dict[str, object] = {
        "cluster_id": "orders",
        "instance_id": "orders-1",
        "engine": "aurora-mysql",
        "engine_version": "8.0.mysql_aurora.3.05.2",
        "log_file": "slowquery/mysql-slowquery.log",
        "log_kind": "slowquery",
        "file_identity": "slowquery/mysql-slowquery.log@1764150000000",
        "size_bytes": 1234,
        "last_written_ms": 1764150300000,
        "observed_at_ms": 1764150301000,
    }
    fields.update(overrides)
    return LogFileEvent.model_validate(fields)


def test_round_trip() -> None:
    event = _event()
    payload = encode_event(event)
    assert json.loads(payload)["schema_version"] == 1
    assert decode_event(payload) == event


def test_key_puts_one_file_on_one_partition() -> None:
    assert event_key("orders-1", "error/mysql-error-running.log.3") == (
        b"orders-1/error/mysql-error-running.log.3"
    )


def test_unknown_fields_from_a_newer_minor_writer_are_ignored() -> None:
    data = json.loads(encode_event(_event()))
    data["added_later"] = True
    assert decode_event(json.dumps(data).encode()) == _event()


def test_from_start_is_optional_and_travels() -> None:
    data = json.loads(encode_event(_event()))
    assert data["from_start"] is False
    del data["from_start"]  # an event written before the field existed
    assert decode_event(json.dumps(data).encode()).from_start is False
    assert decode_event(encode_event(_event(from_start=True))).from_start is True


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "empty_event"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_event"),
        (b"[" * 100_000, "invalid_json"),  # deeper than the decoder's recursion limit
        (b'{"schema_version": 2}', "unknown_schema_version"),
        (b'{"cluster_id": "x"}', "unknown_schema_version"),
        (b'{"schema_version": 1, "cluster_id": "x"}', "invalid_event"),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(payload: bytes | None, reason: str) -> None:
    with pytest.raises(MalformedEventError) as error:
        decode_event(payload)
    assert error.value.reason == reason


def test_negative_sizes_are_invalid() -> None:
    data = json.loads(encode_event(_event()))
    data["size_bytes"] = -1
    with pytest.raises(MalformedEventError):
        decode_event(json.dumps(data).encode())
