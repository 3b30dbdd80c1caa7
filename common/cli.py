"""``aurora-logs``: the command line for tools around the pipeline.

Each subcommand lives in the package that owns its concept and is imported only when invoked,
so ``common`` does not depend on the services and a missing development-only package (the
simulator is not in the service images) fails with a clear message instead of an ImportError.
A command module provides ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType

__all__ = ["COMMANDS", "main", "point_in_time_ms"]

# name -> (module, one-line help). Order is the order of `aurora-logs --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "settings": (
        "common.settings_cli",
        "validate the AURORA_* settings and print them, secrets masked",
    ),
    "parse": (
        "processor.parsing.cli_parse",
        "parse Aurora log files and print their records as NDJSON, exactly as shipped",
    ),
    "fingerprint": (
        "processor.parsing.cli_fingerprint",
        "print query_id<TAB>fingerprint for each query read from stdin, one per line",
    ),
    "raw-restore": (
        "processor.archive_cli",
        "write one log file generation's bytes back from the raw archive in S3",
    ),
    "backfill": (
        "discovery.backfill",
        "publish events so the processor (re)ingests log files still on instances",
    ),
    "replay": (
        "processor.replay",
        "ingest log files again from the raw archive in S3, under their original record ids",
    ),
    "dlq": (
        "processor.deadletter_cli",
        "inspect the dead-letter topic, or re-drive its events and records (retry)",
    ),
    "status": (
        "common.status_cli",
        "per instance and file: size seen, published, ingested, lag; the consumer group's lag",
    ),
    "search": (
        "common.search_cli",
        "run an SQL query against OpenObserve's _search API and print the hits",
    ),
    "simulate": (
        "simulator.cli",
        "run a simulated Aurora fleet whose log files grow and rotate, served by moto",
    ),
    "openobserve": (
        "processor.provisioning.cli",
        "provision OpenObserve's streams, dashboards and alerts from openobserve/provisioning",
    ),
}


_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def point_in_time_ms(text: str, *, now_s: float | None = None) -> int:
    """An argparse type for ``--since``/``--until``: an ISO 8601 time (UTC unless it says
    otherwise) or an age such as ``90s``, ``30m``, ``2h``, ``7d``; returns epoch milliseconds."""
    if match := _AGO.match(text.strip()):
        ago_s = int(match[1]) * _UNIT_S[match[2]]
        return int(((time.time() if now_s is None else now_s) - ago_s) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO 8601 time (2026-11-27T08:00:00Z) "
            "nor an age (90s, 30m, 2h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact, unlike float seconds


def _load(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".", 1)[0]
        if exc.name is not None and exc.name.split(".", 1)[0] == top:
            raise SystemExit(
                f"aurora-logs: this command needs the '{top}' package, which this installation "
                "does not include (it ships with a source checkout, not the service images)"
            ) from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="aurora-logs", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        subparsers.add_parser(name, help=help_text, add_help=False)
    # Parse the command name first, then let only that command's module define its arguments.
    chosen = next((arg for arg in args_list if not arg.startswith("-")), None)
    if chosen in COMMANDS:
        module = _load(COMMANDS[chosen][0])
        sub = argparse.ArgumentParser(prog=f"aurora-logs {chosen}", description=COMMANDS[chosen][1])
        module.add_arguments(sub)
        index = args_list.index(chosen)
        args = sub.parse_args(args_list[index + 1 :])
        status: int = module.run(args)
        return status
    parser.parse_args(args_list)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
