"""The frame of an ``aurora-logs`` command that works on the pipeline's services: settings,
logging, one event loop, and exit codes an operator's script can rely on.

Exit 2 when the settings (or the command's own arguments, raised as
:class:`ConfigurationError`) are wrong, 1 when the work fails on a service (Kafka, AWS,
OpenObserve), else what the work returns. The report goes to stdout; the pipeline's own log
events, if any, to stderr, so that a report piped into another tool stays clean.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiokafka.errors import KafkaError

from common.errors import AuroraLogsError, ConfigurationError
from common.logs import configure_logging
from common.settings import CommonSettings, load_settings

__all__ = ["run_command"]

S = TypeVar("S", bound=CommonSettings)


def run_command(
    command: str, settings_type: type[S], work: Callable[[S], Coroutine[Any, Any, int]]
) -> int:
    """Run ``work(settings)`` for ``aurora-logs <command>``; see the module for exit codes."""
    prefix = f"aurora-logs {command}:"
    try:
        settings = load_settings(settings_type)
    except ConfigurationError as exc:
        print(prefix, exc, file=sys.stderr)
        return 2
    configure_logging(settings.logging, service=f"aurora-logs-{command}", stream=sys.stderr)
    try:
        return asyncio.run(work(settings))
    except ConfigurationError as exc:
        print(prefix, exc, file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(prefix, f"Kafka: {exc}", file=sys.stderr)
        return 1
    except AuroraLogsError as exc:
        print(prefix, exc, file=sys.stderr)
        return 1
