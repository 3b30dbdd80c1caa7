"""Aurora log file names: what each says about its content."""

from __future__ import annotations

import pytest

from common.lognames import Role, Style, parse_log_name, reused

SLOW = "slowquery/mysql-slowquery.log"
ERR = "error/mysql-error-running.log"
AUDIT = "audit/server_audit.log"
PG = "error/postgresql.log"


@pytest.mark.parametrize(
    ("name", "kind", "family", "style", "role"),
    [
        (ERR, "error", ERR, Style.HOURLY, Role.ACTIVE),
        (f"{ERR}.7", "error", ERR, Style.HOURLY, Role.RENAMED),
        (f"{ERR}.2026-01-04.09", "error", ERR, Style.HOURLY, Role.DATED),
        (SLOW, "slowquery", SLOW, Style.HOURLY, Role.ACTIVE),
        (f"{SLOW}.2026-01-04.9", "slowquery", SLOW, Style.HOURLY, Role.DATED),
        (f"{SLOW}.23", "slowquery", SLOW, Style.HOURLY, Role.RENAMED),
        (
            "general/mysql-general.log.0",
            "general",
            "general/mysql-general.log",
            Style.HOURLY,
            Role.RENAMED,
        ),
        ("error/mysql-error.log", "error", "error/mysql-error.log", Style.HOURLY, Role.ACTIVE),
        (AUDIT, "audit", AUDIT, Style.CHAIN, Role.ACTIVE),
        (f"{AUDIT}.12", "audit", AUDIT, Style.CHAIN, Role.RENAMED),
        (
            "audit/audit.log.2.2026-01-04-12-00.1",
            "audit",
            "audit/audit.log.2",
            Style.SERIES,
            Role.SERIES,
        ),
        (f"{PG}.2026-01-04-1200", "postgresql", PG, Style.SERIES, Role.SERIES),
        (f"{PG}.2026-01-04-12", "postgresql", PG, Style.SERIES, Role.SERIES),
        (f"{PG}.2026-01-04", "postgresql", PG, Style.SERIES, Role.SERIES),
        (f"{PG}.2026-01-04-1200.csv", "postgresql", f"{PG}.csv", Style.SERIES, Role.SERIES),
    ],
)
def test_names_are_classified(name: str, kind: str, family: str, style: Style, role: Role) -> None:
    parsed = parse_log_name(name)
    assert parsed is not None
    assert (parsed.kind, parsed.family, parsed.style, parsed.role) == (kind, family, style, role)


@pytest.mark.parametrize(
    "name",
    [f"{SLOW}.24", f"{SLOW}.2026-01-04.25", "trace/whatever.trc", "error/postgres.log", "x"],
)
def test_other_names_are_not_followed(name: str) -> None:
    assert parse_log_name(name) is None


def test_series_order_sorts_by_time_then_number() -> None:
    names = [
        "audit/audit.log.0.2026-01-04-12-00.2",
        "audit/audit.log.0.2026-01-04-11-59.9",
        "audit/audit.log.0.2026-01-04-12-00.10",
    ]
    ordered = sorted(names, key=lambda name: parse_log_name(name).order)  # type: ignore[union-attr]
    assert ordered == [names[1], names[0], names[2]]
    day = parse_log_name(f"{PG}.2026-01-04")
    hour = parse_log_name(f"{PG}.2026-01-04-01")
    assert day is not None
    assert hour is not None
    assert day.order < hour.order


@pytest.mark.parametrize(
    ("name", "is_reused"),
    [
        (SLOW, True),
        (f"{SLOW}.23", True),
        (f"{AUDIT}.3", True),
        (AUDIT, True),
        (f"{SLOW}.2026-01-04.9", False),
        (f"{PG}.2026-01-04-1200", False),
        ("audit/audit.log.2.2026-01-04-12-00.1", False),
        ("trace/whatever.trc", False),
    ],
)
def test_reused_names_are_those_whose_content_changes(name: str, is_reused: bool) -> None:
    assert reused(name) is is_reused
