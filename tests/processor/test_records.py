"""Record context, ids and serialisation."""

from __future__ import annotations

import orjson

from processor.records import FileContext, file_key, record_id


def _context() -> FileContext:
    return FileContext(
        cluster="orders",
        instance="orders-1",
        engine="aurora-mysql",
        engine_version="8.0.mysql_aurora.3.05.2",
        log_file="slowquery/mysql-slowquery.log",
        identity="slowquery/mysql-slowquery.log@1",
    )


def test_ids_are_deterministic_per_file_and_offset() -> None:
    context = _context()
    rid, body = context.finish({"offset": 4096, "log_type": "mysql_slow", "_timestamp": 1})
    assert rid == record_id("orders-1", "slowquery/mysql-slowquery.log@1", 4096)
    assert rid == f"{file_key('orders-1', 'slowquery/mysql-slowquery.log@1')}-1000"
    assert record_id("orders-1", "slowquery/mysql-slowquery.log@2", 4096) != rid
    record = orjson.loads(body)
    assert record["record_id"] == rid
    assert record["instance"] == "orders-1"
    assert record["log_file"] == "slowquery/mysql-slowquery.log"


def test_a_value_json_cannot_carry_costs_only_its_record() -> None:
    rid, body = _context().finish(
        {"offset": 0, "log_type": "mysql_slow", "rows_examined": 10**30, "_timestamp": 1}
    )
    record = orjson.loads(body)
    assert record["rows_examined"] == str(10**30)
    assert record["parse_error"] is True
    assert record["record_id"] == rid
    # In-range values keep their type.
    _rid, body = _context().finish({"offset": 1, "rows_examined": 2**64 - 1, "_timestamp": 1})
    assert orjson.loads(body)["rows_examined"] == 2**64 - 1
