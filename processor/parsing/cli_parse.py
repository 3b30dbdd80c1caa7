"""``aurora-logs parse [--type T] FILE...``: log files in, NDJSON records out, as shipped.

Each file is read in pages like the processor reads Aurora's API (1 MiB by default) and fed
to one parser, flushed at the end. ``-`` reads stdin; ``.gz`` and ``.bz2`` files are
decompressed. The type is taken from ``--type``, else from the file name, else from content.
Settings come from the same ``AURORA_PARSING__*`` variables as the processor's; options given
here override them.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, BinaryIO, cast

import orjson

from common.errors import ConfigurationError
from common.settings import load_settings
from processor.config import ProcessorSettings
from processor.parsing.detect import detect_type, sniff_type
from processor.parsing.factory import make_parser
from processor.parsing.options import ParsingSettings
from processor.parsing.records import LogType

__all__ = ["add_arguments", "run"]

_SNIFF_BYTES = 64 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--type",
        dest="log_type",
        choices=["auto", *(t.value for t in LogType)],
        default="auto",
        help="the log grammar (default auto: from the file name, else from its content)",
    )
    parser.add_argument(
        "--log-line-prefix",
        help="PostgreSQL log_line_prefix of stderr logs (default: Aurora's %%t:%%r:%%u@%%d:[%%p]:)",
    )
    parser.add_argument("--redact", action="store_true", help="replace literals in statements by ?")
    parser.add_argument(
        "--page-bytes",
        type=int,
        default=1024 * 1024,
        help="feed the parser this many bytes at a time (default 1 MiB, the API's page)",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files; - reads stdin")


def run(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    status = 0
    for name in args.files:
        try:
            with _open(name) as stream:
                _parse(name, stream, args, settings, out)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, like any Unix filter, and point
            # stdout at /dev/null so the interpreter's final flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except OSError as exc:
            print(f"aurora-logs parse: {name}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
    out.flush()
    return status


def _settings(args: argparse.Namespace) -> ParsingSettings:
    settings = load_settings(ProcessorSettings).parsing
    overrides: dict[str, object] = {}
    if args.log_line_prefix is not None:
        overrides["postgresql_log_line_prefix"] = args.log_line_prefix
    if args.redact:
        overrides["redact_literals"] = True
    if not overrides:
        return settings
    try:
        return ParsingSettings.model_validate({**settings.model_dump(), **overrides})
    except ValueError as exc:
        raise ConfigurationError(f"invalid option: {exc}") from exc


def _open(name: str) -> BinaryIO:
    """The file's bytes (decompressed); the caller closes it."""
    if name == "-":
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    if name.endswith(".gz"):
        return cast(BinaryIO, gzip.open(name, "rb"))
    if name.endswith(".bz2"):
        return cast(BinaryIO, bz2.open(name, "rb"))
    return open(name, "rb")


def _pages(stream: IO[bytes], page_bytes: int) -> Iterator[bytes]:
    while page := stream.read(page_bytes):
        yield page


def _parse(
    name: str,
    stream: IO[bytes],
    args: argparse.Namespace,
    settings: ParsingSettings,
    out: BinaryIO,
) -> None:
    page_bytes = max(1, args.page_bytes)
    head = stream.read(_SNIFF_BYTES)
    if args.log_type != "auto":
        log_type = LogType(args.log_type)
    else:
        log_type = (detect_type(name) if name != "-" else None) or sniff_type(head)
    try:
        fallback_us = int(os.stat(name).st_mtime * 1_000_000) if name != "-" else None
    except OSError:
        fallback_us = None
    parser = make_parser(
        log_type, settings, fallback_timestamp_us=fallback_us or time.time_ns() // 1000
    )
    dumps = orjson.dumps
    head_pages = (head[i : i + page_bytes] for i in range(0, len(head), page_bytes))
    for page in (*head_pages, *_pages(stream, page_bytes)):
        records = parser.feed(page)
        if records:
            out.write(b"".join(dumps(record) + b"\n" for record in records))
    records = parser.flush()
    if records:
        out.write(b"".join(dumps(record) + b"\n" for record in records))
