"""The raw archive: every byte the processor reads, kept gzip-compressed in S3, so logs outlive
Aurora's 1-30 day retention and can be parsed again later (``AURORA_PROCESSOR__ARCHIVE_RAW``).

Layout: one object per checkpoint segment, ``<raw_prefix><instance>/<identity>/<start>.gz``,
``start`` the segment's first byte offset in the file as 16 hex digits, so a listing sorts
segments in file order. A segment is ``[previous checkpoint offset, new checkpoint offset)``:
exactly the bytes the checkpoint moves over, and it is stored before the checkpoint is
written, so an archived file has no hole. A segment read again after a crash starts at the
same offset and overwrites its object with the same bytes, or more of them.

:func:`restore` joins a file's segments back into its bytes (``aurora-logs raw-restore``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from isal import igzip

from common.errors import PermanentError, from_aws_error
from processor.metrics import ARCHIVED_BYTES

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import ObjectIdentifierTypeDef

__all__ = ["ArchivedSegment", "RawArchive", "restore"]


@dataclass(frozen=True, slots=True)
class ArchivedSegment:
    key: str
    start: int
    # When S3 stored the object (epoch ms); 0 when not listed.
    written_ms: int = 0


def _folder(prefix: str, instance_id: str, identity: str) -> str:
    return f"{prefix}{instance_id}/{identity}/"


def _segment_start(name: str) -> int | None:
    """The start offset a segment's object name holds (16 hex digits + .gz), else None."""
    digits = name.removesuffix(".gz")
    if len(digits) != 16 or digits == name:
        return None
    try:
        return int(digits, 16)
    except ValueError:
        return None


class RawArchive:
    def __init__(self, client: S3Client, *, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def key(self, instance_id: str, identity: str, start: int) -> str:
        return f"{_folder(self._prefix, instance_id, identity)}{start:016x}.gz"

    async def put(
        self, instance_id: str, identity: str, log_file: str, start: int, data: bytes
    ) -> None:
        """Store ``data``, the file's bytes from ``start`` on. Retriable errors propagate as
        :class:`~common.errors.RetriableError` (the event is retried, the checkpoint waits)."""
        body = await asyncio.to_thread(igzip.compress, data, compresslevel=3)
        try:
            await self._client.put_object(
                Bucket=self._bucket,
                Key=self.key(instance_id, identity, start),
                Body=body,
                ContentType="application/gzip",
                Metadata={"log-file": log_file, "end": str(start + len(data))},
            )
        except ClientError as exc:
            raise from_aws_error(exc) from exc
        ARCHIVED_BYTES.inc(len(data))

    async def segments(self, instance_id: str, identity: str) -> list[ArchivedSegment]:
        folder = _folder(self._prefix, instance_id, identity)
        return (await self._listed(folder)).get("", [])

    async def generations(self, instance_id: str) -> dict[str, list[ArchivedSegment]]:
        """Every archived generation of ``instance_id``: identity -> its segments in order."""
        return await self._listed(f"{self._prefix}{instance_id}/")

    async def _listed(self, folder: str) -> dict[str, list[ArchivedSegment]]:
        """The segments under ``folder`` by the path between it and their name (identities
        hold slashes, so the segment's name is what follows the last one)."""
        found: dict[str, list[ArchivedSegment]] = {}
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=folder):
                for item in page.get("Contents", []):
                    between, _, name = item["Key"][len(folder) :].rpartition("/")
                    start = _segment_start(name)
                    if start is not None:
                        written_ms = int(item["LastModified"].timestamp() * 1000)
                        segment = ArchivedSegment(item["Key"], start, written_ms)
                        found.setdefault(between, []).append(segment)
        except ClientError as exc:
            raise from_aws_error(exc) from exc
        for segments in found.values():
            segments.sort(key=lambda segment: segment.start)
        return found

    async def discard(self, instance_id: str, identity: str) -> None:
        """Delete a generation's segments (its checkpoint was reset: they may hold bytes of
        another generation, which a shorter re-read would not all overwrite)."""
        segments = await self.segments(instance_id, identity)
        for start in range(0, len(segments), 1000):  # DeleteObjects takes up to 1000 keys
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": segment.key} for segment in segments[start : start + 1000]
            ]
            try:
                await self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except ClientError as exc:
                raise from_aws_error(exc) from exc

    async def read(self, segment: ArchivedSegment) -> bytes:
        try:
            answer = await self._client.get_object(Bucket=self._bucket, Key=segment.key)
            async with answer["Body"] as body:
                compressed = await body.read()
        except ClientError as exc:
            raise from_aws_error(exc) from exc
        return await asyncio.to_thread(igzip.decompress, compressed)


async def restore(archive: RawArchive, instance_id: str, identity: str) -> AsyncIterator[bytes]:
    """The archived bytes of one file generation from offset 0, in order. Overlaps (a segment
    archived twice after a crash) are dropped; a gap raises :class:`PermanentError` after the
    bytes before it."""
    segments = await archive.segments(instance_id, identity)
    if not segments:
        raise PermanentError(f"nothing archived for {instance_id}/{identity}")
    position = 0
    for segment in segments:
        if segment.start > position:
            raise PermanentError(
                f"{instance_id}/{identity}: bytes {position}-{segment.start} are not archived"
            )
        data = await archive.read(segment)
        fresh = data[position - segment.start :]
        if fresh:
            position += len(fresh)
            yield fresh
