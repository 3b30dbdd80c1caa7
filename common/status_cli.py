"""``aurora-logs status``: per instance and file, what was seen, published and ingested, and
the lag; per partition of the event topic, the processor group's lag. Read from the tracking table
(DynamoDB) and Kafka with the ``AURORA_*`` settings; plain text, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from common.command import run_command
from common.errors import AuroraLogsError
from common.settings import CommonSettings
from common.status import FileProgress, PartitionLag, StatusReader, by_instance

__all__ = ["add_arguments", "format_bytes", "format_table", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance",
        action="append",
        default=[],
        metavar="ID",
        help="only this DB instance (repeat for several)",
    )
    parser.add_argument(
        "--all", action="store_true", help="include deleted files (fully ingested and gone)"
    )
    parser.add_argument(
        "--no-kafka", action="store_true", help="skip the consumer group's partition lag"
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON document: instances, files, partitions"
    )


def format_bytes(value: int) -> str:
    """``1.2 MB``-style sizes (powers of 1024), ``-`` for a negative (unknown) value."""
    if value < 0:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; numbers (cells starting with a digit) right-aligned."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if cell[:1].isdigit() else cell.ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _text(files: list[FileProgress], partitions: list[PartitionLag] | None, group: str) -> str:
    instances = by_instance(files)
    parts = [
        format_table(
            ["instance", "cluster", "engine", "files", "seen", "ingested", "lag", "lag s", "lost"],
            [
                [
                    item.instance_id,
                    item.cluster_id,
                    item.engine,
                    str(item.files),
                    format_bytes(item.seen_bytes),
                    format_bytes(item.ingested_bytes),
                    format_bytes(item.lag_bytes),
                    f"{item.lag_s:.0f}",
                    format_bytes(item.lost_bytes),
                ]
                for item in instances
            ],
        ),
        format_table(
            ["instance", "file", "status", "seen", "published", "ingested", "lag", "lag s"],
            [
                [
                    file.instance_id,
                    file.log_file,
                    file.status,
                    format_bytes(file.seen_bytes),
                    format_bytes(file.published_bytes),
                    format_bytes(file.ingested_bytes),
                    format_bytes(file.lag_bytes),
                    f"{file.lag_s:.0f}",
                ]
                for file in files
            ],
        ),
    ]
    if partitions is not None:
        total = sum(partition.lag for partition in partitions)
        parts.append(
            f"consumer group {group}: {total} events behind\n"
            + format_table(
                ["topic", "partition", "end", "committed", "lag"],
                [
                    [
                        partition.topic,
                        str(partition.partition),
                        str(partition.end_offset),
                        "-"
                        if partition.committed_offset is None
                        else str(partition.committed_offset),
                        str(partition.lag),
                    ]
                    for partition in partitions
                ],
            )
        )
    return "\n\n".join(parts)


async def _gather(
    settings: CommonSettings, args: argparse.Namespace
) -> tuple[list[FileProgress], list[PartitionLag] | None]:
    async with StatusReader(settings) as reader:
        files = await reader.files(instances=args.instance)
        if not args.all:
            files = [file for file in files if file.status != "deleted"]
        partitions = None if args.no_kafka else await reader.partitions()
    return files, partitions


def run(args: argparse.Namespace) -> int:
    return run_command("status", CommonSettings, lambda settings: _report(settings, args))


async def _report(settings: CommonSettings, args: argparse.Namespace) -> int:
    try:
        files, partitions = await _gather(settings, args)
    except AuroraLogsError as exc:
        table = settings.dynamodb.table
        print(f"aurora-logs status: {type(exc).__name__} (table {table}): {exc}", file=sys.stderr)
        return 1
    if args.json:
        document: dict[str, Any] = {
            "instances": [asdict(item) for item in by_instance(files)],
            "files": [asdict(file) for file in files],
        }
        if partitions is not None:
            document["consumer_group"] = settings.kafka.consumer_group
            document["partitions"] = [
                {**asdict(partition), "lag": partition.lag} for partition in partitions
            ]
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(_text(files, partitions, settings.kafka.consumer_group))
    return 0
