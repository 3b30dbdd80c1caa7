"""The batcher and the shipper against a scripted sink: every document settles exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from common.errors import AccessDeniedError, UnavailableError
from processor.batching import Batcher
from processor.delivery import Document, Rejection, Ticket
from processor.metrics import RECORDS_SHIPPED
from processor.shipping import Shipper
from processor.sinks import RETRY, BatchMalformedError, BatchTooLargeError, Outcome
from tests.processor.recorders import RecordingDeadLetters


class ScriptedSink:
    """Answers each send with the next scripted reaction; records what it was sent."""

    name = "scripted"

    def __init__(self, *reactions: object) -> None:
        self.reactions = list(reactions)
        self.sent: list[list[str]] = []

    async def send(self, stream: str, documents: Sequence[Document]) -> list[Outcome]:
        self.sent.append([document.record_id for document in documents])
        reaction = self.reactions.pop(0) if self.reactions else "ok"
        if isinstance(reaction, Exception):
            raise reaction
        if callable(reaction):
            return [reaction(document) for document in documents]
        return [None] * len(documents)

    async def aclose(self) -> None:
        return None


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def _documents(ticket: Ticket, count: int, stream: str = "s", size: int = 10) -> list[Document]:
    ticket.add(count)
    return [Document(stream, f"r{index}", b"x" * size, ticket) for index in range(count)]


def _shipper(sink: ScriptedSink, dead: RecordingDeadLetters) -> Shipper:
    return Shipper(
        sink, dead, retry_base_s=0.01, retry_max_s=0.1, halted_retry_interval_s=1, sleep=no_sleep
    )


async def test_transient_failures_are_retried_until_delivered() -> None:
    sink = ScriptedSink(UnavailableError("503", reason="http_503"), UnavailableError("t"), "ok")
    dead = RecordingDeadLetters()
    ticket = Ticket()
    documents = _documents(ticket, 3)
    ticket.seal()
    await _shipper(sink, dead).ship("s", documents)
    assert ticket.settled
    assert (ticket.delivered, ticket.rejected) == (3, 0)
    assert len(sink.sent) == 3
    assert dead.written == []


async def test_per_item_refusals_are_dead_lettered_and_retries_resent() -> None:
    def answer(document: Document) -> Outcome:
        if document.record_id == "r1":
            return Rejection("too_old", "Too old data")
        if document.record_id == "r2":
            return RETRY
        return None

    sink = ScriptedSink(answer, "ok")
    dead = RecordingDeadLetters()
    ticket = Ticket()
    documents = _documents(ticket, 4, stream="refusals")
    ticket.seal()
    shipped_before = RECORDS_SHIPPED.labels("refusals")._value.get()
    await _shipper(sink, dead).ship("refusals", documents)
    assert sink.sent == [["r0", "r1", "r2", "r3"], ["r2"]]
    assert dead.written == [("r1", "too_old")]
    assert (ticket.delivered, ticket.rejected) == (3, 1)
    # Counted once delivered: neither the dead-lettered one nor the retried one's first try.
    assert RECORDS_SHIPPED.labels("refusals")._value.get() - shipped_before == 3


@pytest.mark.parametrize("error", [BatchTooLargeError("413"), BatchMalformedError("400")])
async def test_a_refused_batch_is_split_to_isolate_the_culprit(error: Exception) -> None:
    class Culprit(ScriptedSink):
        async def send(self, stream: str, documents: Sequence[Document]) -> list[Outcome]:
            self.sent.append([document.record_id for document in documents])
            if any(document.record_id == "r5" for document in documents):
                raise error
            return [None] * len(documents)

    sink = Culprit()
    dead = RecordingDeadLetters()
    ticket = Ticket()
    documents = _documents(ticket, 8)
    ticket.seal()
    await _shipper(sink, dead).ship("s", documents)
    assert (ticket.delivered, ticket.rejected) == (7, 1)
    assert dead.written == [("r5", getattr(error, "reason", ""))]
    assert ["r5"] in sink.sent


async def test_access_denied_halts_until_the_sink_recovers() -> None:
    sink = ScriptedSink(AccessDeniedError("401", reason="http_401"), AccessDeniedError("401"), "ok")
    dead = RecordingDeadLetters()
    shipper = _shipper(sink, dead)
    ticket = Ticket()
    documents = _documents(ticket, 2)
    ticket.seal()
    observed: list[str | None] = []

    async def watch_sleep(_seconds: float) -> None:
        observed.append(shipper.halted_reason)
        await asyncio.sleep(0)

    shipper._sleep = watch_sleep
    await shipper.ship("s", documents)
    assert observed == ["http_401", "access_denied"]
    assert shipper.halted_reason is None
    assert ticket.delivered == 2


async def test_batches_are_cut_by_records_bytes_and_age() -> None:
    now = [0.0]
    sink = ScriptedSink()
    batcher = Batcher(
        _shipper(sink, RecordingDeadLetters()),
        max_records=3,
        max_bytes=100,
        max_age_s=1.0,
        max_concurrent=2,
        clock=lambda: now[0],
    )
    ticket = Ticket()
    for document in _documents(ticket, 4, size=10):  # cut at 3 records
        await batcher.submit(document)
    for document in _documents(ticket, 2, stream="big", size=60):  # 120 bytes > 100: cut at 1
        await batcher.submit(document)
    await batcher.flush_aged()
    assert batcher.open_documents == 2  # "s" has r3, "big" has its second document
    now[0] = 1.5
    await batcher.flush_aged()
    ticket.seal()
    await batcher.drain()
    assert ticket.settled
    assert sorted(map(len, sink.sent)) == [1, 1, 1, 3]


def _broken_batcher() -> Batcher:
    """A batcher whose sink has a bug (raises something no sink may raise)."""

    class Broken(ScriptedSink):
        async def send(self, stream: str, documents: Sequence[Document]) -> list[Outcome]:
            raise KeyError("bug")

    return Batcher(
        _shipper(Broken(), RecordingDeadLetters()),
        max_records=1,
        max_bytes=100,
        max_age_s=1,
        max_concurrent=1,
    )


async def test_batcher_drain_reraises_a_bug_in_the_sink() -> None:
    batcher = _broken_batcher()
    ticket = Ticket()
    await batcher.submit(_documents(ticket, 1)[0])
    with pytest.raises(KeyError):
        await batcher.drain()


def test_a_ticket_counts_exactly() -> None:
    ticket = Ticket("t")
    ticket.add(2)
    ticket.settle(delivered=1)
    ticket.seal()
    assert not ticket.settled
    ticket.settle(rejected=1)
    assert ticket.settled
    with pytest.raises(RuntimeError):
        ticket.add(1)
    with pytest.raises(RuntimeError):
        ticket.settle(delivered=1)


async def test_a_bug_in_shipping_fails_the_waiting_work_instead_of_hanging_it() -> None:
    batcher = _broken_batcher()
    ticket = Ticket()
    await batcher.submit(_documents(ticket, 1)[0])
    ticket.seal()
    with pytest.raises(KeyError):
        await asyncio.wait_for(ticket.wait(), timeout=5)
    assert not ticket.settled
    with pytest.raises(KeyError):
        await batcher.drain()
