"""Structured logging: JSON lines, stdlib records rendered alike, and the event-naming rule."""

from __future__ import annotations

import ast
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from common.logs import configure_logging, get_logger, is_valid_event_name
from common.settings import LoggingSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "discovery", "processor", "simulator", "devstack")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(
        LoggingSettings(level="DEBUG", format="json"),
        service="test",
        stream=stream,
        strict_event_names=True,
    )
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_events_are_json_lines_with_fixed_keys(captured: io.StringIO) -> None:
    get_logger("aurora.test").info("batch_shipped", records=12, stream="aurora_mysql_slow")
    line = json.loads(captured.getvalue().splitlines()[-1])
    assert line["event"] == "batch_shipped"
    assert line["records"] == 12
    assert line["level"] == "info"
    assert line["service"] == "test"
    assert line["timestamp"].endswith("Z")


def test_third_party_records_are_rendered_as_json_too(captured: io.StringIO) -> None:
    logging.getLogger("some.library").warning("connection reset by %s", "peer")
    line = json.loads(captured.getvalue().splitlines()[-1])
    assert line["event"] == "connection reset by peer"
    assert line["level"] == "warning"


def test_exceptions_are_serialised(captured: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("aurora.test").exception("poll_failed")
    line = json.loads(captured.getvalue().splitlines()[-1])
    assert "ValueError: boom" in line["exception"]


def test_strict_mode_refuses_badly_named_events(captured: io.StringIO) -> None:
    with pytest.raises(ValueError, match="naming rule"):
        get_logger("aurora.test").info("Shipping batch")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("batch_shipped", True),
        ("file_rotated", True),
        ("poll_failed", True),
        ("events_sent", True),
        ("bytes_lost", True),
        ("ship_batch", False),
        ("Batch_shipped", False),
        ("shipped", False),
        ("batch shipped", False),
    ],
)
def test_event_name_rule(name: str, valid: bool) -> None:
    assert is_valid_event_name(name) is valid


def _logged_event_names() -> Iterator[tuple[str, int, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LOG_METHODS
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    continue
                receiver = ast.unparse(node.func.value)
                if receiver.split(".")[-1].lstrip("_") in {"log", "logger"}:
                    yield str(path.relative_to(ROOT)), node.lineno, node.args[0].value


def test_every_event_in_the_source_follows_the_rule() -> None:
    found = list(_logged_event_names())
    assert found, "the scan found no log calls: it is looking in the wrong place"
    bad = [
        f"{path}:{line}: {name!r}" for path, line, name in found if not is_valid_event_name(name)
    ]

    assert not bad, "events must be past-tense snake_case:\n" + "\n".join(bad)
