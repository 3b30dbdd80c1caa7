"""``read_ahead``: the next chunk is fetched while the current one is handled, in order, with
errors where they belong and nothing left running when the reader stops early."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from processor.sources import read_ahead


class Pages:
    """An async generator of numbered pages that says when each fetch starts."""

    def __init__(self, count: int, *, fail_after: int | None = None) -> None:
        self.count = count
        self.fail_after = fail_after
        self.started = [asyncio.Event() for _ in range(count + 1)]
        self.release = [asyncio.Event() for _ in range(count + 1)]
        self.closed = False
        self.cancelled = False

    async def pages(self) -> AsyncIterator[int]:
        try:
            for page in range(self.count):
                self.started[page].set()
                try:
                    await self.release[page].wait()
                except asyncio.CancelledError:
                    self.cancelled = True
                    raise
                if self.fail_after is not None and page == self.fail_after:
                    raise ValueError(f"page {page} failed")
                yield page
        finally:
            self.closed = True


async def test_the_next_fetch_runs_while_the_current_page_is_handled() -> None:
    source = Pages(3)
    for event in source.release:
        event.set()
    seen = []
    async with contextlib.aclosing(read_ahead(source.pages())) as pages:
        async for page in pages:
            # Handling this page: the fetch of the next one has already begun, without the
            # consumer asking for it.
            if page + 1 < source.count:
                await asyncio.wait_for(source.started[page + 1].wait(), timeout=5)
            seen.append(page)
    assert seen == [0, 1, 2]
    assert source.closed


async def test_never_more_than_one_page_ahead() -> None:
    source = Pages(4)
    source.release[0].set()
    source.release[1].set()
    async with contextlib.aclosing(read_ahead(source.pages())) as pages:
        assert await anext(pages) == 0
        await asyncio.wait_for(source.started[1].wait(), timeout=5)
        for _ in range(20):  # let the loop run: page 1 is fetched, page 2 must not start
            await asyncio.sleep(0)
        assert not source.started[2].is_set()
        assert await anext(pages) == 1
        await asyncio.wait_for(source.started[2].wait(), timeout=5)


async def test_an_error_arrives_after_every_page_before_it() -> None:
    source = Pages(4, fail_after=2)
    for event in source.release:
        event.set()
    async with contextlib.aclosing(read_ahead(source.pages())) as pages:
        assert await anext(pages) == 0
        assert await anext(pages) == 1
        with pytest.raises(ValueError, match="page 2 failed"):
            await anext(pages)
    assert source.closed


async def test_stopping_early_cancels_the_fetch_under_way_and_closes_the_source() -> None:
    source = Pages(3)
    source.release[0].set()  # page 1 is never released: its fetch hangs until cancelled
    async with contextlib.aclosing(read_ahead(source.pages())) as pages:
        async for page in pages:
            assert page == 0
            await asyncio.wait_for(source.started[1].wait(), timeout=5)
            break
    assert source.cancelled
    assert source.closed


async def test_a_plain_async_iterator_is_read_ahead_too() -> None:
    class Countdown:
        def __init__(self) -> None:
            self.left = 3

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> int:
            if self.left == 0:
                raise StopAsyncIteration
            self.left -= 1
            return self.left

    assert [n async for n in read_ahead(Countdown())] == [2, 1, 0]
