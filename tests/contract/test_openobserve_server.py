"""The contract server answers like OpenObserve: ingestion, normalisation, schema, search,
streams, dashboards and alerts, each through real HTTP."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from typing import Any

import httpx
import pytest

from tests.contract.conftest import HOUR_US, NOW_US
from tests.contract.openobserve_server import OpenObserveContractServer


def _search(client: httpx.Client, sql: str, **extra: Any) -> httpx.Response:
    query = {"sql": sql, "start_time": 0, "end_time": NOW_US + 48 * HOUR_US, **extra}
    return client.post("/api/default/_search", params={"type": "logs"}, json={"query": query})


def _status(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 200
    (status,) = body["status"]
    assert isinstance(status, dict)
    return status


# ingestion endpoints ---------------------------------------------------------------------------
def test_json_array_is_stored_and_answered_per_stream(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    docs = [{"_timestamp": NOW_US - i, "message": f"m{i}"} for i in range(3)]
    response = client.post("/api/default/app/_json", json=docs)
    assert response.json() == {
        "code": 200,
        "status": [{"name": "app", "successful": 3, "failed": 0}],
    }
    rows = server.records("default", "app")
    assert [r["message"] for r in rows] == ["m0", "m1", "m2"]
    assert [r["_timestamp"] for r in rows] == [NOW_US, NOW_US - 1, NOW_US - 2]


def test_json_single_object_is_a_one_element_array(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    status = _status(client.post("/api/default/app/_json", json={"message": "one"}))
    assert (status["successful"], status["failed"]) == (1, 0)
    assert server.records("default", "app") == [{"_timestamp": NOW_US, "message": "one"}]


def test_empty_array_answers_zero_zero_and_creates_nothing(client: httpx.Client) -> None:
    status = _status(client.post("/api/default/app/_json", json=[]))
    assert status == {"name": "app", "successful": 0, "failed": 0}
    assert client.get("/api/default/streams").json()["list"] == []


def test_multi_reads_ndjson_and_skips_blank_lines(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    body = '{"n": 1}\n\n   \n{"n": 2}\r\n{"n": 3}'
    status = _status(client.post("/api/default/app/_multi", content=body))
    assert status["successful"] == 3
    assert [r["n"] for r in server.records("default", "app")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("_json", '[{"ok": 1}, {"broken": '),
        ("_json", '[{"ok": 1}, 5]'),
        ("_json", '"just a string"'),
        ("_multi", '{"ok": 1}\n{"broken": \n'),
        ("_multi", '{"ok": 1}\n[1, 2]\n'),
    ],
)
def test_malformed_body_is_rejected_whole_and_writes_nothing(
    server: OpenObserveContractServer, client: httpx.Client, endpoint: str, body: str
) -> None:
    response = client.post(f"/api/default/app/{endpoint}", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"]
    assert server.records("default", "app") == []


# normalisation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("My-Stream", "my_stream"),
        ("aurora.postgres..error log", "aurora_postgres_error_log"),
        ("ns:Logs", "ns:logs"),
        ("already_ok_1", "already_ok_1"),
    ],
)
def test_stream_names_are_normalised(
    server: OpenObserveContractServer, client: httpx.Client, sent: str, stored: str
) -> None:
    assert _status(client.post(f"/api/default/{sent}/_json", json=[{"a": 1}]))["name"] == stored
    assert [s["name"] for s in client.get("/api/default/streams").json()["list"]] == [stored]
    assert len(server.records("default", stored)) == 1


def test_keys_are_normalised_and_objects_flattened_to_depth_three(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    doc = {
        "Level": "info",
        "db.instance": "i-1",
        "x-y z": 1,
        "Café": 2,
        "kept_null": None,
        "empty_obj": {},
        "empty_list": [],
        "tags": ["a", "b"],
        "A": {"B": {"C": 3, "D": {"E": 4}}},
    }
    _status(client.post("/api/default/app/_json", json=[doc]))
    (row,) = server.records("default", "app")
    assert row == {
        "_timestamp": NOW_US,
        "level": "info",
        "db_instance": "i-1",
        "x_y_z": 1,
        "caf_": 2,
        "tags": '["a","b"]',
        "a_b_c": 3,
        "a_b_d": '{"E":4}',
    }


# _timestamp ------------------------------------------------------------------------------------
TS_US = NOW_US - HOUR_US  # 2025-12-31T23:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TS_US // 1_000_000, TS_US),
        (TS_US // 1000, TS_US),
        (TS_US, TS_US),
        (TS_US * 1000, TS_US),
        (TS_US / 1_000_000 + 0.9, TS_US),
        (str(TS_US), TS_US),
        ("2025-12-31T23:00:00Z", TS_US),
        ("2026-01-01T00:00:00+01:00", TS_US),
        ("2025-12-31T23:00:00.250Z", TS_US + 250_000),
        ("2025-12-31T23:00:00.123456", TS_US + 123_456),
        ("2025-12-31T23:00:00", TS_US),
        ("2025-12-31 23:00:00", TS_US),
        ("Wed, 31 Dec 2025 23:00:00 +0000", TS_US),
    ],
)
def test_timestamp_formats_openobserve_accepts(
    server: OpenObserveContractServer, client: httpx.Client, value: Any, expected: int
) -> None:
    status = _status(client.post("/api/default/app/_json", json=[{"_timestamp": value}]))
    assert status == {"name": "app", "successful": 1, "failed": 0}
    assert server.records("default", "app")[0]["_timestamp"] == expected


@pytest.mark.parametrize("value", ["2025-12-31 23:00:00 UTC", "yesterday", True])
def test_unparseable_timestamp_fails_that_record(client: httpx.Client, value: Any) -> None:
    docs = [{"_timestamp": value}, {"_timestamp": TS_US}]
    status = _status(client.post("/api/default/app/_json", json=docs))
    assert status == {
        "name": "app",
        "successful": 1,
        "failed": 1,
        "error": "Can't parse timestamp",
    }


def test_time_window_rejects_old_and_future_records(client: httpx.Client) -> None:
    docs = [
        {"_timestamp": NOW_US - 5 * HOUR_US - 1},
        {"_timestamp": NOW_US - 5 * HOUR_US},
        {"_timestamp": NOW_US + 24 * HOUR_US + 1},
    ]
    status = _status(client.post("/api/default/app/_json", json=docs))
    assert (status["successful"], status["failed"]) == (1, 2)
    assert status["error"].startswith("Too far data, only future 24 hours data can be ingested.")
    old = _status(client.post("/api/default/app/_json", json=docs[:1]))
    assert old["error"].startswith("Too old data, only last 5 hours data can be ingested.")


def test_time_window_follows_configuration(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.set_time_window(upto_hours=720, in_future_hours=1)
    docs = [{"_timestamp": NOW_US - 700 * HOUR_US}, {"_timestamp": NOW_US + 2 * HOUR_US}]
    status = _status(client.post("/api/default/app/_json", json=docs))
    assert (status["successful"], status["failed"]) == (1, 1)
    assert status["error"].startswith("Too far data, only future 1 hours data can be ingested.")
    server.set_time_window(upto_hours=1)
    status = _status(client.post("/api/default/app/_json", json=docs[:1]))
    assert status["failed"] == 1


def test_error_holds_only_the_last_per_record_error(client: httpx.Client) -> None:
    docs = [
        {"_timestamp": "nonsense"},
        {"_timestamp": NOW_US - 6 * HOUR_US},
        {"_timestamp": TS_US},
    ]
    status = _status(client.post("/api/default/app/_json", json=docs))
    assert (status["successful"], status["failed"]) == (1, 2)
    assert status["error"].startswith("Too old data")


def test_too_old_server_with_configured_window_is_exactly_the_cli_default(
    server: OpenObserveContractServer,
) -> None:
    faults = server.describe_faults()
    assert (faults["ingest_allowed_upto_hours"], faults["ingest_allowed_in_future_hours"]) == (
        5,
        24,
    )
    assert faults["payload_limit_bytes"] == 200 * 1024 * 1024


# schema ----------------------------------------------------------------------------------------
def test_widening_int_to_float_evolves_the_column(client: httpx.Client) -> None:
    _status(client.post("/api/default/app/_json", json=[{"v": 1, "_timestamp": TS_US}]))
    status = _status(client.post("/api/default/app/_json", json=[{"v": 2.5}]))
    assert status["successful"] == 1
    hits = _search(client, 'SELECT v FROM "app" ORDER BY v').json()["hits"]
    assert hits == [{"v": 1.0}, {"v": 2.5}]
    assert isinstance(hits[0]["v"], float)
    schema = client.get("/api/default/streams/app/schema").json()["schema"]
    assert {"name": "v", "type": "Float64"} in schema


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        ({"n": 1}, {"n": "abc"}, "Failed to cast n to type Int64 "),
        ({"f": 1.5}, {"f": "x1"}, "Failed to cast f to type Float64 "),
        ({"b": True}, {"b": "yes"}, "Failed to cast b to type Boolean "),
        ({"n": 1, "b": False}, {"n": "x", "b": "y"}, None),
    ],
)
def test_failed_cast_fails_the_record(
    server: OpenObserveContractServer,
    client: httpx.Client,
    first: dict[str, Any],
    second: dict[str, Any],
    error: str | None,
) -> None:
    _status(client.post("/api/default/app/_json", json=[first]))
    status = _status(client.post("/api/default/app/_json", json=[second]))
    assert (status["successful"], status["failed"]) == (0, 1)
    if error is None:
        # One phrase per failing field, concatenated, as OpenObserve words it.
        assert status["error"] == (
            "Failed to cast n to type Int64 Failed to cast b to type Boolean "
        )
    else:
        assert status["error"] == error
    assert len(server.records("default", "app")) == 1


def test_castable_values_are_converted_to_the_column_type(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    _status(client.post("/api/default/app/_json", json=[{"n": 1, "s": "a", "b": True}]))
    status = _status(client.post("/api/default/app/_json", json=[{"n": "42", "s": 7, "b": 0}]))
    assert status["successful"] == 1
    assert server.records("default", "app")[1] == {
        "_timestamp": NOW_US,
        "n": 42,
        "s": "7",
        "b": False,
    }


def test_more_than_1000_columns_is_dropped_silently(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    wide = {f"c{i}": i for i in range(1000)}  # plus _timestamp: 1001 columns
    status = _status(client.post("/api/default/app/_json", json=[wide]))
    assert status == {"name": "app", "successful": 0, "failed": 0}
    assert server.records("default", "app") == []
    narrow = {f"c{i}": i for i in range(999)}
    assert _status(client.post("/api/default/app/_json", json=[narrow]))["successful"] == 1


# auth and organisations ------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, ("root@example.com", "wrong"), ("other@x.io", "x")])
def test_bad_credentials_answer_401_plain_text(
    server: OpenObserveContractServer, auth: Any
) -> None:
    with httpx.Client(base_url=server.url, auth=auth) as anonymous:
        response = anonymous.post("/api/default/app/_json", json=[{"a": "x" * 1_000_000}])
        again = anonymous.post("/api/default/app/_json", json=[{"a": 1}])
    assert response.status_code == again.status_code == 401
    assert response.text == "Unauthorized Access"
    assert response.headers["content-type"].startswith("text/plain")
    assert server.records("default", "app") == []


def test_ingestion_passcode_works_on_ingestion_paths_only(
    server: OpenObserveContractServer,
) -> None:
    server.set_ingestion_passcode("pc-123")
    with httpx.Client(base_url=server.url, auth=(server.root_email, "pc-123")) as c:
        assert _status(c.post("/api/default/app/_json", json=[{"a": 1}]))["successful"] == 1
        assert (
            c.post("/api/default/_bulk", content='{"index":{"_index":"app"}}\n{"a":2}\n').json()[
                "errors"
            ]
            is False
        )
        assert c.get("/api/default/streams").status_code == 401
        assert _search(c, 'SELECT * FROM "app"').status_code == 401


def test_unknown_org_is_created_by_root_ingestion_only(client: httpx.Client) -> None:
    response = client.get("/api/neworg/streams")
    assert (response.status_code, response.text) == (404, "Organization not found")
    assert _search(client, "SELECT 1 FROM x").status_code == 400
    searched = client.post("/api/neworg/_search", json={"query": {"sql": 'SELECT * FROM "s"'}})
    assert (searched.status_code, searched.text) == (404, "Organization not found")
    assert _status(client.post("/api/neworg/s/_json", json=[{"a": 1}]))["successful"] == 1
    assert [s["name"] for s in client.get("/api/neworg/streams").json()["list"]] == ["s"]


def test_healthz_needs_no_auth(server: OpenObserveContractServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


# content encoding and size ---------------------------------------------------------------------
def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _raw_deflate)],
)
def test_gzip_and_deflate_bodies_are_decoded(
    server: OpenObserveContractServer, client: httpx.Client, encoding: str, encode: Any
) -> None:
    body = encode(json.dumps([{"m": "x"}, {"m": "y"}]).encode())
    response = client.post(
        "/api/default/app/_json", content=body, headers={"Content-Encoding": encoding}
    )
    assert _status(response)["successful"] == 2
    assert server.requests()[-1]["content_encoding"] == encoding


def test_brotli_is_unsupported_without_a_stdlib_decoder(client: httpx.Client) -> None:
    response = client.post(
        "/api/default/app/_json", content=b"\x0b\x02\x80[]\x03", headers={"Content-Encoding": "br"}
    )
    assert response.status_code == 415
    assert response.json() == {"code": 415, "message": "Unsupported Content-Encoding: br"}


def test_zstd_415_switch(server: OpenObserveContractServer, client: httpx.Client) -> None:
    frame = bytes.fromhex("28b52ffd2002110000005b5d")  # zstd frame of b"[]"
    server.set_zstd_unsupported(True)
    response = client.post(
        "/api/default/app/_json", content=frame, headers={"Content-Encoding": "zstd"}
    )
    assert response.status_code == 415
    server.set_zstd_unsupported(False)
    response = client.post(
        "/api/default/app/_json", content=frame, headers={"Content-Encoding": "zstd"}
    )
    try:
        import compression.zstd  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        assert response.status_code == 415  # no stdlib decoder before Python 3.14
    else:
        assert response.status_code == 200


def test_corrupt_gzip_is_a_bad_request(client: httpx.Client) -> None:
    response = client.post(
        "/api/default/app/_json", content=b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_body_over_payload_limit_answers_413_sent_or_decoded(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    server.set_payload_limit(1024)
    big = json.dumps([{"m": "x" * 3_000_000}]).encode()
    response = client.post("/api/default/app/_json", content=big)
    assert response.status_code == 413
    assert response.json() == {"code": 413, "message": "A payload reached size limit."}
    # The refused body was drained, so the same keep-alive client goes on working.
    assert _status(client.post("/api/default/app/_json", json=[{"m": "small"}]))["successful"] == 1
    bomb = gzip.compress(json.dumps([{"m": "x" * 200_000}]).encode())
    assert len(bomb) < 1024
    response = client.post(
        "/api/default/app/_json", content=bomb, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert [r["m"] for r in server.records("default", "app")] == ["small"]


def test_chunked_request_bodies_are_read(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    def chunks() -> Any:
        yield b'[{"m": "a"},'
        yield b'{"m": "b"}]'

    response = client.post("/api/default/app/_json", content=chunks())
    assert _status(response)["successful"] == 2


# _bulk -----------------------------------------------------------------------------------------
def _ndjson(*lines: Any) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_bulk_answers_in_the_elasticsearch_shape(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    body = _ndjson(
        {"index": {"_index": "Bulk-One", "_id": "d1"}},
        {"m": "ok", "_timestamp": TS_US},
        {"create": {"_index": "bulk-one"}},
        {"m": "late", "_timestamp": NOW_US - 6 * HOUR_US},
        {"index": {"_index": "bulk_two"}},
        {"m": "other"},
    )
    response = client.post("/api/default/_bulk", content=body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["errors"] is True
    assert isinstance(payload["took"], int)
    failure, first, second = payload["items"]
    assert failure["create"]["status"] == 422
    assert failure["create"]["_index"] == "bulk_one"
    assert failure["create"]["error"]["type"] == "timestamp_parsing_failed"
    assert failure["create"]["error"]["reason"].startswith("Too old data, only last 5 hours")
    assert first == {
        "index": {
            "_index": "bulk_one",
            "_id": "d1",
            "_version": 1,
            "result": "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": 1,
            "_primary_term": 1,
            "status": 200,
        }
    }
    assert second["index"]["_index"] == "bulk_two"
    assert server.records("default", "bulk_one") == [{"_timestamp": TS_US, "m": "ok", "_id": "d1"}]
    assert len(server.records("default", "bulk_two")) == 1


def test_bulk_skips_documents_without_action_lines(
    server: OpenObserveContractServer, client: httpx.Client
) -> None:
    body = _ndjson(
        {"m": "orphan"},
        {"delete": {"_index": "b", "_id": "1"}},
        {"index": {"_index": "b"}},
        {"m": "kept"},
        {"update": {"_index": "b"}},
        {"m": "updated"},
    )
    payload = client.post("/api/default/_bulk", content=body).json()
    assert payload["errors"] is False
    assert len(payload["items"]) == 2
    assert [r["m"] for r in server.records("default", "b")] == ["kept", "updated"]


def test_bulk_reports_timestamp_and_cast_failures_per_item(client: httpx.Client) -> None:
    body = _ndjson(
        {"index": {"_index": "b"}},
        {"n": 1},
        {"index": {"_index": "b"}},
        {"n": "not a number"},
        {"index": {"_index": "b"}},
        {"_timestamp": "2024-05-01 12:34:56 UTC"},
    )
    payload = client.post("/api/default/_bulk", content=body).json()
    assert payload["errors"] is True
    ts_fail, ok, cast_fail = (item["index"] for item in payload["items"])
    assert ts_fail["error"]["type"] == "timestamp_parsing_failed"
    assert ok["status"] == 200
    assert cast_fail["status"] == 422
    assert cast_fail["error"] == {
        "type": "schema_conformance_failed",
        "reason": "Failed to cast n to type Int64 ",
        "index_uuid": "0",
        "shard": "1",
        "index": "b",
    }


@pytest.mark.parametrize(
    "body", ['{"index":{"_index":"b"}}\n{"m":\n', '{"index":{"_index":"b"}}\n7\n']
)
def test_bulk_malformed_line_rejects_the_request(
    server: OpenObserveContractServer, client: httpx.Client, body: str
) -> None:
    response = client.post("/api/default/_bulk", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert server.records("default", "b") == []


# search ----------------------------------------------------------------------------------------
@pytest.fixture
def levels(client: httpx.Client) -> None:
    docs = [
        {"_timestamp": TS_US + i, "level": lvl, "n": i, "ok": i % 2 == 0, "msg": f"m-{lvl}-{i}"}
        for i, lvl in enumerate(["info", "warn", "error", "info", "info", "warn"])
    ]
    assert _status(client.post("/api/default/app/_json", json=docs))["successful"] == 6


@pytest.mark.usefixtures("levels")
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("level = 'info'", [4, 3, 0]),
        ("level != 'info'", [5, 2, 1]),
        ("n < 2", [1, 0]),
        ("n > 3", [5, 4]),
        ("n >= 4 AND level = 'info'", [4]),
        ("level = 'error' OR n = 5", [5, 2]),
        ("level IN ('warn', 'error')", [5, 2, 1]),
        ("msg LIKE 'm-warn-%'", [5, 1]),
        ("ok = true", [4, 2, 0]),
        ("(n = 1 OR n = 2) AND NOT level = 'warn'", [2]),
    ],
)
def test_search_where_clauses(client: httpx.Client, where: str, expected: list[int]) -> None:
    response = _search(client, f'SELECT * FROM "app" WHERE {where}')
    assert response.status_code == 200, response.text
    assert [h["n"] for h in response.json()["hits"]] == expected


@pytest.mark.usefixtures("levels")
def test_search_returns_typed_hits_newest_first_by_default(client: httpx.Client) -> None:
    body = _search(client, 'SELECT * FROM "app"').json()
    assert set(body) >= {"took", "hits", "total", "from", "size", "scan_size"}
    assert body["total"] == 6
    assert body["hits"][0] == {
        "_timestamp": TS_US + 5,
        "level": "warn",
        "n": 5,
        "ok": False,
        "msg": "m-warn-5",
    }


@pytest.mark.usefixtures("levels")
def test_search_count_group_by_and_order(client: httpx.Client) -> None:
    sql = 'SELECT level, COUNT(*) AS c FROM "app" GROUP BY level ORDER BY c DESC, level'
    assert _search(client, sql).json()["hits"] == [
        {"level": "info", "c": 3},
        {"level": "warn", "c": 2},
        {"level": "error", "c": 1},
    ]
    assert _search(client, 'SELECT COUNT(*) AS total FROM "app"').json()["hits"] == [{"total": 6}]


@pytest.mark.usefixtures("levels")
def test_search_pages_with_from_and_size_and_honours_limit(client: httpx.Client) -> None:
    sql = 'SELECT n FROM "app" ORDER BY n'
    page = _search(client, sql, **{"from": 2, "size": 2}).json()
    assert ([h["n"] for h in page["hits"]], page["from"], page["size"]) == ([2, 3], 2, 2)
    limited = _search(client, 'SELECT n FROM "app" ORDER BY n LIMIT 3', size=100).json()
    assert [h["n"] for h in limited["hits"]] == [0, 1, 2]


@pytest.mark.usefixtures("levels")
def test_search_time_range_is_start_inclusive_end_exclusive(client: httpx.Client) -> None:
    query = {"sql": "SELECT n FROM app ORDER BY n", "start_time": TS_US + 1, "end_time": TS_US + 3}
    hits = client.post("/api/default/_search", json={"query": query}).json()["hits"]
    assert hits == [{"n": 1}, {"n": 2}]


def test_search_of_a_stream_never_ingested_is_400_code_20002(client: httpx.Client) -> None:
    response = _search(client, 'SELECT * FROM "ghost"')
    assert response.status_code == 400
    assert response.json()["code"] == 20002
    assert response.json()["message"] == "Search stream not found: ghost"


@pytest.mark.usefixtures("levels")
@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ('SELECT histogram(_timestamp) FROM "app"', 20001),
        ('SELECT * FROM "app" a JOIN "app" b ON a.n = b.n', 20001),
        ('SELECT * FROM "app" WHERE n IN (SELECT n FROM "app")', 20001),
        ('SELECT * FROM "app"; DROP TABLE "app"', 20001),
        ("SELECT * FROM \"app\" WHERE match_all('x')", 20001),
        ("DELETE FROM app", 20001),
        ('SELECT nope FROM "app"', 20004),
    ],
)
def test_search_outside_the_supported_subset_is_a_clear_400(
    client: httpx.Client, sql: str, code: int
) -> None:
    response = _search(client, sql)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["error_detail"]


# streams ---------------------------------------------------------------------------------------
def test_stream_list_has_stats(client: httpx.Client) -> None:
    docs = [{"_timestamp": TS_US}, {"_timestamp": TS_US + 10}, {"_timestamp": TS_US - 10}]
    _status(client.post("/api/default/app/_json", json=docs))
    listed = client.get("/api/default/streams", params={"type": "logs"}).json()
    assert listed["total"] == 1
    (stream,) = listed["list"]
    assert (stream["name"], stream["stream_type"]) == ("app", "logs")
    stats = stream["stats"]
    assert (stats["doc_num"], stats["doc_time_min"], stats["doc_time_max"]) == (
        3,
        TS_US - 10,
        TS_US + 10,
    )
    assert stats["storage_size"] > 0
    assert {"compressed_size", "index_size", "created_at"} <= set(stats)


def test_stream_create_and_settings(client: httpx.Client) -> None:
    spec = {
        "fields": [{"name": "message", "type": "Utf8"}, {"name": "db_instance", "type": "Utf8"}],
        "settings": {"data_retention": 7},
    }
    created = client.post("/api/default/streams/Aurora?type=logs", json=spec)
    assert created.json() == {"code": 200, "message": "stream created"}
    again = client.post("/api/default/streams/aurora?type=logs", json=spec)
    assert again.status_code == 400
    assert again.json() == {"code": 400, "message": "stream already exists"}
    update = {
        "partition_keys": {"add": [{"field": "db_instance", "types": "value"}]},
        "full_text_search_keys": {"add": ["message"]},
        "data_retention": 30,
    }
    assert (
        client.put("/api/default/streams/aurora/settings?type=logs", json=update).json()["code"]
        == 200
    )
    settings = client.get("/api/default/streams/aurora/schema").json()["settings"]
    assert settings["partition_keys"] == [
        {"field": "db_instance", "types": "value", "disabled": False}
    ]
    assert (settings["full_text_search_keys"], settings["data_retention"]) == (["message"], 30)
    removal = {
        "partition_keys": {"remove": [{"field": "db_instance"}]},
        "full_text_search_keys": {"remove": ["message"]},
    }
    client.put("/api/default/streams/aurora/settings", json=removal)
    settings = client.get("/api/default/streams/aurora/schema").json()["settings"]
    assert (settings["partition_keys"], settings["full_text_search_keys"]) == ([], [])
    # A created stream exists for search even before any record arrives.
    assert _search(client, 'SELECT * FROM "aurora"').json()["hits"] == []


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/streams/s",
            {"fields": [{"name": "a", "type": "Text"}], "settings": {}},
            400,
            "invalid data type: Text",
        ),
        (
            "/streams/s",
            {"fields": [], "settings": {"full_text_search_keys": ["nope"]}},
            400,
            "field [nope] not found in schema",
        ),
        ("/streams/ghost/settings", {"data_retention": 3}, 404, "stream not found"),
    ],
)
def test_stream_errors(
    client: httpx.Client, path: str, body: Any, status: int, message: str
) -> None:
    method = "PUT" if path.endswith("settings") else "POST"
    response = client.request(method, f"/api/default{path}", json=body)
    assert response.status_code == status
    assert response.json() == {"code": status, "message": message}


# dashboards ------------------------------------------------------------------------------------
def _dashboard(title: str = "Aurora errors") -> dict[str, Any]:
    panel = {
        "id": "Panel_1",
        "type": "bar",
        "title": "Errors by instance",
        "description": "",
        "queryType": "sql",
        "queries": [
            {
                "query": 'SELECT db_instance, COUNT(*) FROM "aurora" GROUP BY db_instance',
                "customQuery": True,
                "fields": {
                    "stream": "aurora",
                    "stream_type": "logs",
                    "x": [],
                    "y": [],
                    "filter": {"filterType": "group", "logicalOperator": "AND", "conditions": []},
                },
                "config": {},
            }
        ],
        "layout": {"x": 0, "y": 0, "w": 12, "h": 9, "i": 1},
        "config": {"show_legends": True},
    }
    return {
        "version": 5,
        "title": title,
        "description": "d",
        "tabs": [{"tabId": "default", "name": "Default", "panels": [panel]}],
    }


def test_dashboard_lifecycle(client: httpx.Client) -> None:
    created = client.post("/api/default/dashboards?folder=default", json=_dashboard())
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["version"] == 5
    dashboard_id = body["v5"]["dashboardId"]
    listed = client.get("/api/default/dashboards").json()["dashboards"]
    assert [(d["dashboard_id"], d["title"]) for d in listed] == [(dashboard_id, "Aurora errors")]
    fetched = client.get(f"/api/default/dashboards/{dashboard_id}").json()
    assert fetched["v5"]["tabs"][0]["panels"][0]["layout"]["w"] == 12
    stale_hash = fetched["hash"]
    updated = client.put(
        f"/api/default/dashboards/{dashboard_id}",
        params={"folder": "default", "hash": stale_hash},
        json=_dashboard("Renamed"),
    )
    assert updated.json()["v5"]["title"] == "Renamed"
    conflict = client.put(
        f"/api/default/dashboards/{dashboard_id}", params={"hash": stale_hash}, json=_dashboard()
    )
    assert conflict.status_code == 409
    assert client.delete(f"/api/default/dashboards/{dashboard_id}").json()["code"] == 200
    assert client.get(f"/api/default/dashboards/{dashboard_id}").status_code == 404


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(version=4),
        lambda d: d.pop("version"),
        lambda d: d.update(title=""),
        lambda d: d["tabs"][0]["panels"][0].pop("layout"),
        lambda d: d["tabs"][0]["panels"][0].pop("queryType"),
        lambda d: d["tabs"][0]["panels"][0]["queries"][0]["fields"].pop("stream"),
        lambda d: d["tabs"][0].pop("tabId"),
    ],
)
def test_dashboard_outside_the_v5_shape_is_rejected(client: httpx.Client, mutate: Any) -> None:
    dashboard = _dashboard()
    mutate(dashboard)
    response = client.post("/api/default/dashboards?folder=default", json=dashboard)
    assert response.status_code == 400
    assert response.json()["message"] == "Error parsing request body"
    assert client.get("/api/default/dashboards").json()["dashboards"] == []


# alerts ----------------------------------------------------------------------------------------
def _alert(**changes: Any) -> dict[str, Any]:
    alert = {
        "name": "too_many_errors",
        "stream_type": "logs",
        "stream_name": "app",
        "is_real_time": False,
        "query_condition": {"type": "sql", "sql": 'SELECT COUNT(*) AS n FROM "app"'},
        "trigger_condition": {
            "period": 10,
            "operator": ">=",
            "threshold": 1,
            "frequency": 5,
            "frequency_type": "minutes",
            "silence": 10,
            "timezone": "UTC",
        },
        "destinations": ["ops"],
        "enabled": True,
    }
    alert.update(changes)
    return alert


def test_alert_templates_destinations_and_alerts(client: httpx.Client) -> None:
    _status(client.post("/api/default/app/_json", json=[{"level": "error"}]))
    template = {"name": "basic", "body": '{"text": "{alert_name}"}', "type": "http"}
    assert client.post("/api/default/alerts/templates", json=template).json()["code"] == 200
    duplicate = client.post("/api/default/alerts/templates", json=template)
    assert (duplicate.status_code, duplicate.json()["message"]) == (
        400,
        "Template with the same name already exists",
    )
    destination = {
        "name": "ops",
        "url": "http://127.0.0.1:9/hook",
        "method": "post",
        "template": "basic",
    }
    assert client.post("/api/default/alerts/destinations", json=destination).json()["code"] == 200
    duplicate = client.post("/api/default/alerts/destinations", json=destination)
    assert (duplicate.status_code, duplicate.json()["message"]) == (
        400,
        "Destination with the same name already exists",
    )
    assert [t["name"] for t in client.get("/api/default/alerts/templates").json()] == ["basic"]
    assert [d["name"] for d in client.get("/api/default/alerts/destinations").json()] == ["ops"]

    created = client.post("/api/v2/default/alerts?folder=default", json=_alert())
    assert created.json()["message"] == "Alert saved"
    assert client.post("/api/v2/default/alerts?folder=default", json=_alert()).status_code == 409
    (listed,) = client.get("/api/v2/default/alerts").json()["list"]
    assert (listed["name"], listed["alert_id"]) == ("too_many_errors", created.json()["id"])
    assert listed["trigger_condition"]["frequency_type"] == "minutes"


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"destinations": ["nowhere"]}, 404, "Alert destination nowhere not found"),
        ({"stream_name": "ghost"}, 404, "Stream ghost not found"),
        ({"destinations": []}, 400, "Alert destinations is required"),
        ({"name": ""}, 400, "Alert name is required"),
        (
            {"query_condition": {"type": "sql", "sql": 'SELECT * FROM "app"'}},
            400,
            "Alert with SQL can not contain SELECT * in the SQL query",
        ),
        (
            {"query_condition": {"type": "sql", "sql": ""}},
            400,
            "Alert with SQL mode should have a query",
        ),
        ({"trigger_condition": {"period": 10}}, 400, "Error parsing request body"),
    ],
)
def test_invalid_alerts_are_refused(
    client: httpx.Client, changes: dict[str, Any], status: int, message: str
) -> None:
    _status(client.post("/api/default/app/_json", json=[{"level": "error"}]))
    client.post("/api/default/alerts/destinations", json={"name": "ops", "url": "http://h/x"})
    response = client.post("/api/v2/default/alerts?folder=default", json=_alert(**changes))
    assert (response.status_code, response.json()["message"]) == (status, message)
    assert client.get("/api/v2/default/alerts").json()["list"] == []


# concurrency -----------------------------------------------------------------------------------
def test_concurrent_ingestion_keeps_every_record(
    server: OpenObserveContractServer,
) -> None:
    results: list[int] = []

    def send(worker: int) -> None:
        with httpx.Client(base_url=server.url, auth=server.auth) as c:
            for batch in range(5):
                docs = [{"w": worker, "b": batch, "i": i} for i in range(50)]
                results.append(_status(c.post("/api/default/app/_json", json=docs))["successful"])

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 8 * 5 * 50
    assert len(server.records("default", "app")) == 2000
