"""``aurora-logs raw-restore``: one file generation's bytes back from the raw archive.

Reads the bucket, prefix and AWS settings through the processor's settings
(``AURORA_S3__BUCKET``, ``AURORA_S3__RAW_PREFIX``, ``AURORA_AWS__*``) and writes the file's
bytes from offset 0 to ``--output`` (default: standard output), ready for ``aurora-logs parse``
or for staging under ``AURORA_S3__STAGED_PREFIX`` to be processed again by the ``s3`` source.
Exit status: 0 done, 1 nothing archived, a gap or S3 trouble, 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from common.clients.aws import AwsClients
from common.command import run_command
from processor.archive import RawArchive, restore
from processor.config import ProcessorSettings

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instance", required=True, help="the DB instance identifier")
    parser.add_argument(
        "--identity",
        required=True,
        help="the file generation, as tracked (e.g. slowquery/mysql-slowquery.log@3)",
    )
    parser.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")


async def _restore(settings: ProcessorSettings, args: argparse.Namespace, out: BinaryIO) -> int:
    aws = AwsClients(settings.aws)
    async with aws.s3() as s3:
        archive = RawArchive(s3, bucket=settings.s3.bucket, prefix=settings.s3.raw_prefix)
        written = 0
        async for data in restore(archive, args.instance, args.identity):
            out.write(data)
            written += len(data)
    print(f"raw-restore: {written} bytes of {args.instance}/{args.identity}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    async def work(settings: ProcessorSettings) -> int:
        if args.output is None:
            return await _restore(settings, args, sys.stdout.buffer)
        with args.output.open("wb") as out:
            return await _restore(settings, args, out)

    return run_command("raw-restore", ProcessorSettings, work)
