"""The S3 source: log files staged as objects ``<staged_prefix><instance>/<log file>``.

A read is one ranged GET from the offset to the end, streamed in chunks. Markers do not exist
here; ``chunk.end`` carries offsets only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from common.errors import NotFoundError, from_aws_error
from processor.sources import Chunk, FileRef, FileStat, Position

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

__all__ = ["S3Source", "staged_key"]


def staged_key(prefix: str, instance_id: str, log_file: str) -> str:
    return f"{prefix}{instance_id}/{log_file}"


class S3Source:
    name = "s3"

    def __init__(self, client: S3Client, *, bucket: str, prefix: str, chunk_bytes: int) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._chunk_bytes = chunk_bytes

    async def listing(self, instance_id: str, contains: str) -> dict[str, FileStat]:
        folder = staged_key(self._prefix, instance_id, "")
        files: dict[str, FileStat] = {}
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=folder):
                for item in page.get("Contents", []):
                    name = item["Key"][len(folder) :]
                    if contains in name:
                        modified = int(item["LastModified"].timestamp() * 1000)
                        files[name] = FileStat(int(item["Size"]), modified)
        except ClientError as exc:
            raise from_aws_error(exc) from exc
        return files

    async def read(self, file: FileRef, start: Position, *, size_hint: int) -> AsyncIterator[Chunk]:
        key = staged_key(self._prefix, file.instance_id, file.log_file)
        try:
            answer = await self._client.get_object(
                Bucket=self._bucket, Key=key, Range=f"bytes={start.offset}-"
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "InvalidRange":  # nothing after the offset yet
                return
            if code in {"NoSuchKey", "404"}:
                raise NotFoundError(f"s3://{self._bucket}/{key} does not exist") from exc
            raise from_aws_error(exc) from exc
        offset = start.offset
        async with answer["Body"] as body:
            while data := await body.read(self._chunk_bytes):
                offset += len(data)
                yield Chunk(offset - len(data), data, Position(offset))
