"""Discovery settings: environment names, JSON lists, and the start-up cross-checks."""

from __future__ import annotations

import pytest

from common.errors import ConfigurationError
from common.settings import load_settings
from discovery.config import DiscoverySettings


def test_defaults_follow_every_log_kind_and_leave_room_in_the_budget() -> None:
    settings = load_settings(DiscoverySettings, {"AURORA_DISCOVERY__REPLICA_ID": "pod-1"})
    config = settings.discovery
    assert config.replica_id == "pod-1"
    assert config.log_kinds == ("error", "slowquery", "general", "audit", "postgresql")
    assert config.engines == ("aurora-mysql", "aurora-postgresql")
    assert 0 < config.budget_share < 1
    assert config.handover_bound_s() == config.lease_ttl_s + config.lease_renew_interval_s


def test_lists_and_mappings_come_as_json() -> None:
    settings = load_settings(
        DiscoverySettings,
        {
            "AURORA_DISCOVERY__LOG_KINDS": '["error","slowquery"]',
            "AURORA_DISCOVERY__INCLUDE_CLUSTERS": '["orders-*","re:^pay[0-9]+$"]',
            "AURORA_DISCOVERY__EXCLUDE_TAGS": '{"logging":"off"}',
            "AURORA_DISCOVERY__MAX_POLL_INTERVAL_S": "120",
        },
    )
    assert settings.discovery.log_kinds == ("error", "slowquery")
    assert settings.discovery.include_clusters == ("orders-*", "re:^pay[0-9]+$")
    assert settings.discovery.exclude_tags == {"logging": "off"}
    assert settings.discovery.max_poll_interval_s == 120


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"AURORA_DISCOVERY__LOG_KINDS": '["binlog"]'}, "AURORA_DISCOVERY__LOG_KINDS"),
        ({"AURORA_DISCOVERY__LOG_KINDS": "[]"}, "AURORA_DISCOVERY__LOG_KINDS"),
        ({"AURORA_DISCOVERY__INCLUDE_CLUSTERS": '["re:("]'}, "INCLUDE_CLUSTERS"),
        (
            {"AURORA_DISCOVERY__MIN_POLL_INTERVAL_S": "600"},
            "min_poll_interval_s must not exceed max_poll_interval_s",
        ),
        (
            {"AURORA_DISCOVERY__LEASE_RENEW_INTERVAL_S": "20"},
            "lease_renew_interval_s must be at most half of lease_ttl_s",
        ),
        (
            {"AURORA_DISCOVERY__MEMBER_TTL_S": "60"},
            "member_ttl_s must not exceed lease_ttl_s",
        ),
        ({"AURORA_DISCOVERY__BUDGET_SHARE": "1.5"}, "AURORA_DISCOVERY__BUDGET_SHARE"),
        ({"AURORA_DISCOVERY__POLL_INTERVAL_S": "5"}, "AURORA_DISCOVERY__POLL_INTERVAL_S"),
    ],
)
def test_bad_settings_are_refused_at_start_up(variables: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace("(", r"\(")):
        load_settings(DiscoverySettings, variables)
