"""The OpenObserve sink and the shipper against the contract server, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from pydantic import AnyHttpUrl, SecretStr

from common.errors import AccessDeniedError, NotFoundError, UnavailableError
from common.settings import OpenObserveSettings
from processor.delivery import Document, Rejection, Ticket
from processor.shipping import Shipper
from processor.sinks import BatchMalformedError, BatchTooLargeError
from processor.sinks.openobserve import OpenObserveSink
from tests.contract.openobserve_server import OpenObserveContractServer
from tests.processor.recorders import RecordingDeadLetters

USER, PASSWORD = "root@example.com", "secret-pw"
NOW_US = int(time.time() * 1_000_000)


@pytest.fixture(scope="module")
def _server() -> Iterator[OpenObserveContractServer]:
    with OpenObserveContractServer(root_email=USER, root_password=PASSWORD) as server:
        yield server


@pytest.fixture
def server(_server: OpenObserveContractServer) -> OpenObserveContractServer:
    _server.reset()
    return _server


def _settings(server: OpenObserveContractServer, password: str = PASSWORD) -> OpenObserveSettings:
    return OpenObserveSettings(
        url=AnyHttpUrl(server.url), user=USER, password=SecretStr(password), request_timeout_s=5
    )


def _documents(count: int, *, ticket: Ticket | None = None, **overrides: object) -> list[Document]:
    ticket = ticket or Ticket()
    ticket.add(count)
    documents = []
    for index in range(count):
        record = {"_timestamp": NOW_US - index, "message": f"entry {index}", "offset": index}
        record.update(overrides)
        body = json.dumps(record).encode()
        documents.append(Document("aurora_mysql_slow", f"id{index:04d}", body, ticket))
    return documents


async def test_a_batch_is_delivered_and_searchable(server: OpenObserveContractServer) -> None:
    sink = OpenObserveSink(_settings(server))
    try:
        outcomes = await sink.send("aurora_mysql_slow", _documents(5))
    finally:
        await sink.aclose()
    assert outcomes == [None] * 5
    stored = server.records("default", "aurora_mysql_slow")
    assert sorted(row["message"] for row in stored) == [f"entry {index}" for index in range(5)]
    request = server.requests()[-1]
    assert request["content_encoding"] == "gzip"
    assert request["path"] == "/api/default/_bulk"


async def test_per_item_refusals_are_attributed_to_the_right_document(
    server: OpenObserveContractServer,
) -> None:
    documents = _documents(6)
    # Two records too old for the 5-hour window, one with an unparseable timestamp: the server
    # lists early failures first, so positions in its answer do not match ours.
    for index, value in ((1, NOW_US - 6 * 3600 * 1_000_000), (4, NOW_US - 7 * 3600 * 1_000_000)):
        record = json.loads(documents[index].body)
        record["_timestamp"] = value
        documents[index] = Document(
            documents[index].stream,
            documents[index].record_id,
            json.dumps(record).encode(),
            documents[index].ticket,
        )
    record = json.loads(documents[2].body)
    record["_timestamp"] = "2024-05-01 12:34:56 UTC"
    documents[2] = Document(
        documents[2].stream,
        documents[2].record_id,
        json.dumps(record).encode(),
        documents[2].ticket,
    )
    sink = OpenObserveSink(_settings(server))
    try:
        outcomes = await sink.send("aurora_mysql_slow", documents)
    finally:
        await sink.aclose()
    reasons = [outcome.reason if isinstance(outcome, Rejection) else None for outcome in outcomes]
    assert reasons == [None, "too_old", "timestamp_invalid", None, "too_old", None]
    assert len(server.records("default", "aurora_mysql_slow")) == 3


async def test_a_type_conflict_fails_only_that_record(server: OpenObserveContractServer) -> None:
    sink = OpenObserveSink(_settings(server))
    try:
        assert await sink.send("aurora_mysql_slow", _documents(1, rows_sent=10)) == [None]
        outcomes = await sink.send("aurora_mysql_slow", _documents(2, rows_sent="many"))
    finally:
        await sink.aclose()
    assert all(isinstance(outcome, Rejection) for outcome in outcomes)
    assert {outcome.reason for outcome in outcomes if isinstance(outcome, Rejection)} == {
        "cast_failed"
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, UnavailableError),
        (500, UnavailableError),
        (400, BatchMalformedError),
        (401, AccessDeniedError),
        (403, AccessDeniedError),
        (404, NotFoundError),
    ],
)
async def test_whole_request_failures_are_classified(
    server: OpenObserveContractServer, status: int, error: type[Exception]
) -> None:
    server.fail_next(1, status)
    sink = OpenObserveSink(_settings(server))
    try:
        with pytest.raises(error):
            await sink.send("aurora_mysql_slow", _documents(2))
    finally:
        await sink.aclose()


async def test_wrong_password_and_unknown_org(server: OpenObserveContractServer) -> None:
    sink = OpenObserveSink(_settings(server, password="wrong"))
    try:
        with pytest.raises(AccessDeniedError):
            await sink.send("aurora_mysql_slow", _documents(1))
    finally:
        await sink.aclose()


async def test_payload_limit_and_silent_drops(server: OpenObserveContractServer) -> None:
    sink = OpenObserveSink(_settings(server))
    try:
        server.set_payload_limit(200)
        with pytest.raises(BatchTooLargeError):
            await sink.send("aurora_mysql_slow", _documents(50))
        server.reset()
        server.drop_silently()
        with pytest.raises(UnavailableError, match="accounted"):
            await sink.send("aurora_mysql_slow", _documents(3))
    finally:
        await sink.aclose()


async def test_connection_refused_is_retriable() -> None:
    settings = OpenObserveSettings(url=AnyHttpUrl("http://127.0.0.1:1"), request_timeout_s=2)
    sink = OpenObserveSink(settings)
    try:
        with pytest.raises(UnavailableError):
            await sink.send("s", _documents(1))
    finally:
        await sink.aclose()


async def test_accounting_is_exact_through_faults(server: OpenObserveContractServer) -> None:
    """503 bursts, latency and per-item refusals: delivered + dead-lettered = sent."""

    async def no_sleep(_seconds: float) -> None:
        return None

    server.fail_next(3, 503)
    server.set_latency(0.05, first_n=2)
    server.fail_records(field="offset", value=7)
    dead = RecordingDeadLetters()
    sink = OpenObserveSink(_settings(server))
    shipper = Shipper(
        sink, dead, retry_base_s=0.01, retry_max_s=0.05, halted_retry_interval_s=1, sleep=no_sleep
    )
    ticket = Ticket()
    documents = _documents(20, ticket=ticket)
    ticket.seal()
    try:
        await shipper.ship("aurora_mysql_slow", documents)
    finally:
        await sink.aclose()
    assert ticket.settled
    assert (ticket.delivered, ticket.rejected) == (19, 1)
    assert dead.written == [("id0007", "cast_failed")]
    stored = server.records("default", "aurora_mysql_slow")
    assert len(stored) == 19
    assert sorted(row["_id"] for row in stored) == sorted(
        document.record_id for document in documents if document.record_id != "id0007"
    )
