"""Structured logging: one JSON object per line in production, readable columns on a terminal.

Event names follow one rule, checked by a test over the whole source tree and, when
``strict_event_names`` is on (the test suite), at run time: an event is lower ``snake_case`` and
says what happened, in the past tense (``batch_shipped``, ``file_rotated``, ``poll_failed``).
Keys are fixed and low-cardinality; values carry the detail.

Third-party libraries log through the standard ``logging`` module; their records pass through
the same renderer so a service's output is uniformly JSON.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from common.settings import LoggingSettings

__all__ = ["EVENT_NAME", "configure_logging", "get_logger", "is_valid_event_name"]

EVENT_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")

# Past participles that do not end in -ed, as they occur in event names.
_IRREGULAR_PAST = frozenset(
    {
        "began",
        "begun",
        "bound",
        "brought",
        "built",
        "caught",
        "chosen",
        "cut",
        "dealt",
        "done",
        "drawn",
        "found",
        "got",
        "held",
        "hit",
        "kept",
        "known",
        "left",
        "lost",
        "made",
        "met",
        "overwritten",
        "paid",
        "put",
        "quit",
        "read",
        "rebuilt",
        "reset",
        "run",
        "seen",
        "sent",
        "set",
        "shown",
        "shut",
        "split",
        "spent",
        "taken",
        "thrown",
        "undone",
        "won",
        "written",
    }
)


def is_valid_event_name(name: str) -> bool:
    """Whether ``name`` is snake_case with at least two words, one of them in the past tense."""
    if not EVENT_NAME.match(name):
        return False
    return any(word.endswith("ed") or word in _IRREGULAR_PAST for word in name.split("_"))


def _check_event_name(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Only structlog's own chain runs this: third-party records carry free text and are exempt.
    event = event_dict.get("event")
    if isinstance(event, str) and not is_valid_event_name(event):
        raise ValueError(f"log event {event!r} breaks the naming rule (past-tense snake_case)")
    return event_dict


def configure_logging(
    settings: LoggingSettings,
    *,
    service: str,
    stream: IO[str] | None = None,
    strict_event_names: bool = False,
) -> None:
    """Configure structlog and the standard ``logging`` root for the whole process.

    Called once at start-up, before anything logs. Does not block. ``stream`` defaults to
    stdout, which container runtimes collect.
    """
    out = stream if stream is not None else sys.stdout
    use_console = settings.format == "console" or (settings.format == "auto" and out.isatty())

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if use_console:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()

    own: list[Processor] = [_check_event_name] if strict_event_names else []
    structlog.configure(
        processors=[
            *own,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    def add_service(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            add_service,
            structlog.processors.format_exc_info if not use_console else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # aiokafka reports every transient coordinator hiccup at ERROR/WARNING; keep its noise at
    # WARNING so real failures stand out, and let our own events describe outcomes.
    logging.getLogger("aiokafka").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.level))
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("aiobotocore").setLevel(logging.WARNING)


def _identity(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return event_dict


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A logger bound to ``initial`` keys. Cheap; call at module level."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger
