"""Every fault of the contract server, switched in-process and over the ``/_contract`` API."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import httpx
import pytest

from tests.contract.conftest import HOUR_US, NOW_US
from tests.contract.openobserve_server import OpenObserveContractServer


def _post_json(client: httpx.Client, docs: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/api/default/app/_json", json=docs)


def _status(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    (status,) = response.json()["status"]
    assert isinstance(status, dict)
    return status


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, {"code": 503, "message": "Error# MemoryTableOverflowError"}),
        (500, {"code": 500, "message": "Error# Internal Server Error"}),
        (403, {"code": 403, "message": "Unauthorized Access"}),
        (413, {"code": 413, "message": "A payload reached size limit."}),
        (415, {"code": 415, "message": "Unsupported Content-Encoding"}),
    ],
)
def test_next_n_ingestion_requests_answer_the_status(
    server: OpenObserveContractServer, client: httpx.Client, status: int, body: Any
) -> None:
    server.fail_next(2, status)
    answers = [_post_json(client, [{"a": 1}]) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].json() == body
    assert len(server.records("default", "app")) == 1
    assert [r["status"] for r in server.requests()] == [status, status, 200]


def test_a_401_burst_answers_plain_text_and_spares_other_endpoints(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.fail_next(1, 401)
    assert client.get("/api/default/streams").status_code == 200
    response = client.post("/api/default/_bulk", content='{"index":{"_index":"b"}}\n{"a":1}\n')
    assert (response.status_code, response.text) == (401, "Unauthorized Access")
    assert _status(_post_json(client, [{"a": 1}]))["successful"] == 1


def test_a_custom_burst_message_and_bad_bursts(server: OpenObserveContractServer) -> None:
    server.fail_next(1, 503, "Error# MemoryCircuitBreakerError")
    assert server.describe_faults()["fail_next"]["message"] == "Error# MemoryCircuitBreakerError"
    with pytest.raises(ValueError, match="429"):
        server.fail_next(1, 429)
    with pytest.raises(ValueError, match="at least 1"):
        server.fail_next(0, 503)


def test_latency_delays_only_the_first_n_requests(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.set_latency(0.2, first_n=1)
    started = time.monotonic()
    _status(_post_json(client, [{"a": 1}]))
    slow = time.monotonic() - started
    started = time.monotonic()
    _status(_post_json(client, [{"a": 1}]))
    fast = time.monotonic() - started
    assert slow >= 0.2
    assert fast < 0.2
    assert server.describe_faults()["latency"] is None


def test_fixed_latency_applies_to_every_api_request(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.set_latency(0.05)
    for _ in range(2):
        started = time.monotonic()
        client.get("/api/default/streams")
        assert time.monotonic() - started >= 0.05


def test_every_kth_record_fails_with_the_given_error(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.fail_records(every_kth=3, error="injected failure")
    status = _status(_post_json(client, [{"i": i} for i in range(1, 8)]))
    assert status == {"name": "app", "successful": 5, "failed": 2, "error": "injected failure"}
    assert [r["i"] for r in server.records("default", "app")] == [1, 2, 4, 5, 7]


def test_records_matching_a_field_fail(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.fail_records(field="Level", value="poison")
    docs = [{"level": "ok"}, {"level": "poison"}, {"level": "ok"}]
    status = _status(_post_json(client, docs))
    assert (status["successful"], status["failed"]) == (2, 1)
    assert status["error"].startswith("Failed to cast")


def test_bulk_items_fail_individually_with_the_chosen_status(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.fail_records(
        field="id", value=2, bulk_status=400, error_type="mapper_parsing_exception", error="bad"
    )
    lines = []
    for i in range(1, 4):
        lines += [json.dumps({"index": {"_index": "b", "_id": str(i)}}), json.dumps({"id": i})]
    payload = client.post("/api/default/_bulk", content="\n".join(lines) + "\n").json()
    assert payload["errors"] is True
    statuses = [(item["index"]["_id"], item["index"]["status"]) for item in payload["items"]]
    assert statuses == [("1", 200), ("2", 400), ("3", 200)]
    assert payload["items"][1]["index"]["error"]["type"] == "mapper_parsing_exception"
    assert payload["items"][1]["index"]["error"]["reason"] == "bad"
    assert [r["id"] for r in server.records("default", "b")] == [1, 3]


def test_bulk_per_item_failure_defaults_to_422(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.fail_records(every_kth=1)
    payload = client.post(
        "/api/default/_bulk", content='{"index":{"_index":"b"}}\n{"a":1}\n'
    ).json()
    assert payload["items"][0]["index"]["status"] == 422


def test_silent_drop_answers_200_zero_zero(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.drop_silently()
    assert _status(_post_json(client, [{"a": 1}, {"a": 2}])) == {
        "name": "app",
        "successful": 0,
        "failed": 0,
    }
    bulk = client.post("/api/default/_bulk", content='{"index":{"_index":"b"}}\n{"a":1}\n').json()
    assert bulk["items"] == []
    assert server.records("default", "app") == []
    server.drop_silently(False)
    assert _status(_post_json(client, [{"a": 1}]))["successful"] == 1


def test_reset_faults_switches_everything_off(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.fail_next(5, 503)
    server.fail_records(every_kth=1)
    server.drop_silently()
    server.set_latency(1.0)
    server.reset_faults()
    assert _status(_post_json(client, [{"a": 1}]))["successful"] == 1
    faults = server.describe_faults()
    assert (faults["fail_next"], faults["record_failure"], faults["latency"]) == (None, None, None)


def test_memory_table_full_answers_503() -> None:
    with (
        OpenObserveContractServer(max_rows=2) as small,
        httpx.Client(base_url=small.url, auth=small.auth) as c,
    ):
        assert _status(c.post("/api/default/app/_json", json=[{"a": 1}, {"a": 2}]))["successful"]
        full = c.post("/api/default/app/_json", json=[{"a": 3}])
    assert full.status_code == 503
    assert full.json() == {"code": 503, "message": "Error# MemoryTableOverflowError"}


# the same switches over HTTP -------------------------------------------------------------------
def test_admin_api_sets_reads_and_clears_faults(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    update = {
        "fail_next": {"count": 1, "status": 503},
        "record_failure": {"every_kth": 2, "error": "nope"},
        "ingest_allowed_upto_hours": 720,
        "payload_limit_bytes": 4096,
        "ingestion_passcode": "pc",
    }
    shown = client.post("/_contract/faults", json=update).json()
    assert shown["fail_next"]["remaining"] == 1
    assert (shown["ingest_allowed_upto_hours"], shown["payload_limit_bytes"]) == (720, 4096)
    assert _post_json(client, [{"a": 1}]).status_code == 503
    old = NOW_US - 600 * HOUR_US
    status = _status(_post_json(client, [{"_timestamp": old}, {"_timestamp": old}]))
    assert status == {"name": "app", "successful": 1, "failed": 1, "error": "nope"}
    with httpx.Client(base_url=server.url, auth=(server.root_email, "pc")) as passcode_client:
        assert _status(_post_json(passcode_client, [{"a": 1}]))["successful"] == 1
    cleared = client.delete("/_contract/faults").json()
    assert cleared["record_failure"] is None
    assert cleared["ingest_allowed_upto_hours"] == 720  # limits survive a fault reset


@pytest.mark.parametrize(
    "update",
    [
        {"fail_next": {"count": 1, "status": 429}},
        {"no_such_fault": True},
        {"record_failure": {}},
        {"latency": {"first_n": 1}},
        [1, 2],
    ],
)
def test_admin_api_refuses_bad_fault_settings(client: httpx.Client, update: Any) -> None:
    response = client.post("/_contract/faults", json=update)
    assert response.status_code == 400
    assert response.json()["error"]
    assert client.get("/_contract/faults").json()["fail_next"] is None


def test_admin_api_latency_silent_drop_and_switches(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    client.post(
        "/_contract/faults",
        json={
            "latency": {"seconds": 0.1, "first_n": 1},
            "silent_drop": True,
            "zstd_unsupported": True,
            "column_limit": 3,
            "ingest_allowed_in_future_hours": 48,
        },
    )
    started = time.monotonic()
    assert _status(_post_json(client, [{"a": 1}])) == {"name": "app", "successful": 0, "failed": 0}
    assert time.monotonic() - started >= 0.1
    shown = client.post("/_contract/faults", json={"silent_drop": False, "latency": None}).json()
    assert (shown["zstd_unsupported"], shown["column_limit"]) == (True, 3)
    assert shown["ingest_allowed_in_future_hours"] == 48
    assert _status(_post_json(client, [{"a": 1, "b": 2, "c": 3}])) == {
        "name": "app",
        "successful": 0,
        "failed": 0,
    }
    assert _status(_post_json(client, [{"a": 1, "b": 2}]))["successful"] == 1


def test_admin_api_clock_records_requests_and_reset(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    fixed = NOW_US + 1000 * HOUR_US
    assert client.post("/_contract/clock", json={"now_us": fixed}).json() == {"now_us": fixed}
    body = gzip.compress(json.dumps([{"m": "x"}]).encode())
    _status(
        client.post(
            "/api/default/Clocked/_json", content=body, headers={"Content-Encoding": "gzip"}
        )
    )
    records = client.get("/_contract/records", params={"org": "default", "stream": "Clocked"})
    assert records.json() == {
        "org": "default",
        "stream": "clocked",
        "records": [{"_timestamp": fixed, "m": "x"}],
    }
    (logged,) = client.get("/_contract/requests").json()["requests"]
    assert logged["method"] == "POST"
    assert logged["path"] == "/api/default/Clocked/_json"
    assert logged["status"] == 200
    assert (logged["received"], logged["successful"], logged["failed"]) == (1, 1, 0)
    assert logged["content_encoding"] == "gzip"
    assert (logged["body_bytes"], logged["decoded_bytes"]) == (len(body), len(b'[{"m": "x"}]'))
    client.post("/_contract/clock", json={"now_us": None})
    assert server.now_us() == NOW_US
    client.post("/_contract/faults", json={"silent_drop": True})
    assert client.post("/_contract/reset").json() == {"reset": True}
    assert client.get("/_contract/faults").json()["silent_drop"] is False
    assert len(server.records("default", "clocked")) == 1  # data kept without {"data": true}
    client.post("/_contract/reset", json={"data": True})
    assert client.get("/_contract/records?stream=clocked").json()["records"] == []
    assert client.get("/_contract/requests").json()["requests"] == []


def test_stored_rows_filter_by_one_column_in_the_server(client: httpx.Client) -> None:
    """Tests poll for their own instance's rows; the filter runs in the store, exactly (no
    LIKE wildcards), and a column the stream never had matches nothing."""
    docs = [
        {"instance": "db-1", "n": 1},
        {"instance": "db-10", "n": 2},
        {"instance": "db_1", "n": 3},
        {"instance": "db%1", "n": 4},
        {"other": "db-1", "n": 5},
    ]
    _status(_post_json(client, docs))

    def numbers(**params: str) -> list[int]:
        answer = client.get("/_contract/records", params={"stream": "app", **params})
        assert answer.status_code == 200, answer.text
        return [row["n"] for row in answer.json()["records"]]

    assert numbers() == [1, 2, 3, 4, 5]
    assert numbers(field="instance", equals="db-1") == [1]
    assert numbers(field="instance", prefix="db-1") == [1, 2]
    assert numbers(field="instance", prefix="db%") == [4]
    assert numbers(field="instance", prefix="db_") == [3]
    assert numbers(field="missing", equals="db-1") == []
    for params in (
        {"field": "instance"},
        {"equals": "x"},
        {"field": "n", "equals": "1", "prefix": "1"},
    ):
        answer = client.get("/_contract/records", params={"stream": "app", **params})
        assert answer.status_code == 400
        assert "field" in answer.json()["error"] or "equals" in answer.json()["error"]
