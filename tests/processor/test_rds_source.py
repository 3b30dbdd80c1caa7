"""The RDS source against the simulator: every known failure of the portion API, byte-exact.

Each test reads a real-format file through moto's extended RDS API with the processor's own
client and compares what the source yields with the file's bytes on disk.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from common.clients.aws import AwsClients
from common.clients.valkey import make_valkey
from common.errors import NotFoundError
from common.ratelimit import RdsBudget, RdsCaller
from common.settings import AwsSettings, RdsSettings, ValkeySettings
from processor.metrics import SOURCE_FALLBACKS
from processor.sources import Chunk, ContentChangedError, FileRef, Position
from processor.sources.rds import FullDownload, RdsSource
from simulator import (
    AURORA_MYSQL_3,
    BinaryData,
    Fleet,
    Gap,
    HugeLine,
    LogProfile,
    Overlap,
    Rate,
    RotateMidRead,
    Throttle,
    Truncate,
)

pytestmark = pytest.mark.integration

SLOW = "slowquery/mysql-slowquery.log"


@dataclass
class Reader:
    source: RdsSource
    budget: RdsBudget

    async def read(
        self, ref: FileRef, start: Position | None = None, size_hint: int = 0
    ) -> list[Chunk]:
        start = start or Position(0)
        return [chunk async for chunk in self.source.read(ref, start, size_hint=size_hint)]


@pytest.fixture
async def reader(
    aws_environ: dict[str, str], moto_url: str, valkey_url: str
) -> AsyncIterator[Reader]:
    aws = AwsClients(AwsSettings(endpoint_url=moto_url, max_attempts=1))
    valkey = make_valkey(ValkeySettings(url=valkey_url))
    budget = RdsBudget(
        valkey, RdsSettings(budget_rate_per_s=100, budget_burst=100), key=f"t:{uuid.uuid4().hex}"
    )

    async def no_sleep(_seconds: float) -> None:
        return None

    caller = RdsCaller(budget, base_backoff_s=0.001, sleep=no_sleep, max_attempts=10)
    full = FullDownload(
        aws.session,
        caller,
        region="us-east-1",
        endpoint_url=moto_url,
        path_template="/v13/downloadCompleteLogFile/{instance}/{file}",
        chunk_bytes=256 * 1024,
        timeout_s=30,
    )
    async with aws.rds() as rds:
        yield Reader(RdsSource(rds, caller, full, full_download_threshold_bytes=10**12), budget)
    await full.aclose()
    await valkey.aclose()


@pytest.fixture
def busy(fleet: Fleet, ident: Callable[[str], str]) -> tuple[Fleet, str]:
    """One Aurora MySQL 3 instance whose slow log holds more than two pages (over 2 MB)."""
    profile = LogProfile(rates={"slowquery": Rate(bytes_per_min=5_000_000)})
    cluster = fleet.add_cluster(ident("src"), AURORA_MYSQL_3, instances=1, profile=profile)
    fleet.advance(45)
    instance = cluster.writer
    assert fleet.path(instance, SLOW).stat().st_size > 2_100_000
    return fleet, instance


def _joined(chunks: list[Chunk], start: int = 0) -> bytes:
    expected = start
    for chunk in chunks:
        assert chunk.offset == expected, "chunks must be contiguous"
        expected += len(chunk.data)
        assert chunk.end.offset == expected
    return b"".join(chunk.data for chunk in chunks)


def _count(metric: object, label: str) -> float:
    return float(metric.labels(label)._value.get())  # type: ignore[attr-defined]


async def test_pages_reassemble_the_file(busy: tuple[Fleet, str], reader: Reader) -> None:
    fleet, instance = busy
    ref = FileRef(instance, SLOW, "id")
    chunks = await reader.read(ref)
    assert len(chunks) >= 3
    assert _joined(chunks) == fleet.path(instance, SLOW).read_bytes()
    assert all(chunk.end.marker for chunk in chunks)


async def test_reads_resume_from_stored_positions(busy: tuple[Fleet, str], reader: Reader) -> None:
    fleet, instance = busy
    ref = FileRef(instance, SLOW, "id")
    content = fleet.path(instance, SLOW).read_bytes()
    first = (await reader.read(ref))[0]
    unmarked = _count(SOURCE_FALLBACKS, "no_marker")
    fallbacks = unmarked + _count(SOURCE_FALLBACKS, "unverified")
    # From the first page's end (marker and anchor), skipping into the second page.
    middle = first.end.offset + 1000
    start = Position(middle, first.end.marker, first.end.marker_offset, first.end.anchor)
    assert _joined(await reader.read(ref, start), middle) == content[middle:]
    # After a full download there is an anchor but no marker: one one-line call tells the
    # marker's segment and the anchor is verified through the portion API.
    no_marker = Position(first.end.offset, None, first.end.offset, first.end.anchor)
    assert (
        _joined(await reader.read(ref, no_marker), first.end.offset) == content[first.end.offset :]
    )
    assert sum(_count(SOURCE_FALLBACKS, r) for r in ("no_marker", "unverified")) == fallbacks
    # A bare offset has nothing to verify the content with: the full download reads on.
    line_end = content.index(b"\n", 1_500_000) + 1
    assert _joined(await reader.read(ref, Position(line_end)), line_end) == content[line_end:]
    assert _count(SOURCE_FALLBACKS, "no_marker") == unmarked + 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Truncate(), "truncated"),
        (Gap(lines=5), "gap"),
        (BinaryData(), "binary_data"),
    ],
)
async def test_damaged_pages_fall_back_to_the_full_download(
    busy: tuple[Fleet, str], reader: Reader, fault: Truncate | Gap | BinaryData, reason: str
) -> None:
    fleet, instance = busy
    before = _count(SOURCE_FALLBACKS, reason)
    fleet.faults.add(fault.model_copy(update={"instance": instance, "count": 1}))
    chunks = await reader.read(FileRef(instance, SLOW, "id"))
    assert _joined(chunks) == fleet.path(instance, SLOW).read_bytes()
    assert _count(SOURCE_FALLBACKS, reason) == before + 1


async def test_overlapping_pages_are_repaired_without_a_fallback(
    busy: tuple[Fleet, str], reader: Reader
) -> None:
    fleet, instance = busy
    fallbacks = sum(_count(SOURCE_FALLBACKS, r) for r in ("gap", "truncated", "binary_data"))
    fleet.faults.add(Overlap(instance=instance, lines=4))
    chunks = await reader.read(FileRef(instance, SLOW, "id"))
    assert _joined(chunks) == fleet.path(instance, SLOW).read_bytes()
    after = sum(_count(SOURCE_FALLBACKS, r) for r in ("gap", "truncated", "binary_data"))
    assert after == fallbacks


async def test_a_line_over_one_megabyte_is_read_whole(
    fleet: Fleet, ident: Callable[[str], str], reader: Reader
) -> None:
    profile = LogProfile(rates={"slowquery": Rate(entries_per_s=2)})
    instance = fleet.add_cluster(ident("huge"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.faults.add(HugeLine(instance=instance, file="slowquery", line_bytes=1_300_000))
    fleet.advance(5)
    content = fleet.path(instance, SLOW).read_bytes()
    assert max(len(line) for line in content.split(b"\n")) > 1_048_576
    before = _count(SOURCE_FALLBACKS, "truncated")
    chunks = await reader.read(FileRef(instance, SLOW, "id"))
    assert _joined(chunks) == content
    assert _count(SOURCE_FALLBACKS, "truncated") == before + 1


async def test_throttling_is_absorbed(busy: tuple[Fleet, str], reader: Reader) -> None:
    fleet, instance = busy
    fleet.faults.add(Throttle(instance=instance, count=3))
    chunks = await reader.read(FileRef(instance, SLOW, "id"))
    assert _joined(chunks) == fleet.path(instance, SLOW).read_bytes()
    assert (await reader.budget.state()).factor < 1.0, "throttles shrink the shared budget"


async def test_rotation_mid_read_stops_before_the_new_content(
    busy: tuple[Fleet, str], reader: Reader
) -> None:
    fleet, instance = busy
    ref = FileRef(instance, SLOW, "id")
    old_content_id = fleet.truth.content_id_of(instance, SLOW)
    fleet.faults.add(RotateMidRead(instance=instance, count=1))
    first = (await reader.read(ref))[0]  # served with data pending: asks the writer to rotate
    fleet.advance(90)  # the writer rotates, and the new file outgrows our offset
    # Nothing of the new generation may be passed off as the old file's continuation.
    with pytest.raises(ContentChangedError):
        await reader.read(ref, first.end)
    rotated = [
        name
        for name in fleet.log_files(instance)
        if fleet.truth.content_id_of(instance, name) == old_content_id
    ]
    assert rotated, "the old generation must still exist under its rotated name"
    assert rotated[0] != SLOW
    old_bytes = fleet.path(instance, rotated[0]).read_bytes()
    assert old_bytes.startswith(first.data)


async def test_catch_up_uses_the_full_download(busy: tuple[Fleet, str], reader: Reader) -> None:
    fleet, instance = busy
    reader.source._threshold = 1_000_000
    before = _count(SOURCE_FALLBACKS, "catch_up")
    content = fleet.path(instance, SLOW).read_bytes()
    chunks = await reader.read(FileRef(instance, SLOW, "id"), Position(500), len(content))
    assert _joined(chunks, 500) == content[500:]
    assert _count(SOURCE_FALLBACKS, "catch_up") == before + 1
    assert all(chunk.end.marker is None for chunk in chunks)


async def test_a_deleted_file_is_not_found(busy: tuple[Fleet, str], reader: Reader) -> None:
    fleet, instance = busy
    fleet.rotate(instance, "slowquery")
    rotated = next(name for name in fleet.log_files(instance) if name.startswith(SLOW + "."))
    fleet.delete_log_file(instance, rotated)
    with pytest.raises(NotFoundError):
        await reader.read(FileRef(instance, rotated, "id"))
