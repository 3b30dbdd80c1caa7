"""The discovery benchmark's simulation: the real scheduler keeps to its pace and its bounds."""

from __future__ import annotations

import pytest

from bench.discovery import Scenario, main, simulate
from discovery.config import DiscoveryConfig

CONFIG = DiscoveryConfig(replica_id="bench-test")


def test_a_fleet_the_budget_covers_is_polled_within_the_maximum_interval() -> None:
    result = simulate(Scenario(instances=300, budget_rate_per_s=10, budget_share=0.5), CONFIG)
    pace_per_hour = 10 * 0.5 * 3600
    assert result.calls_per_instance_hour * 300 <= pace_per_hour * 1.01
    # Every instance within max_poll_interval_s (plus one poll), busy ones far more often.
    assert result.worst_delay_s <= CONFIG.max_poll_interval_s + 1
    assert result.median_delay_s < CONFIG.max_poll_interval_s / 2


def test_an_overloaded_pace_is_used_fully_and_shared_fairly() -> None:
    result = simulate(Scenario(instances=3000, budget_rate_per_s=2, budget_share=0.5), CONFIG)
    pace_per_hour = 2 * 0.5 * 3600
    used = result.calls_per_instance_hour * 3000
    assert pace_per_hour * 0.95 <= used <= pace_per_hour * 1.01
    # No schedule can do better than the mean gap; deadline order stays close to it.
    assert result.mean_gap_s > CONFIG.max_poll_interval_s * 5
    assert result.worst_delay_s <= result.mean_gap_s * 1.3


def test_the_report_names_the_headline_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "10,000 instances, 10 req/s budget" in out
    assert "worst-case detection delay" in out
    assert "RDS calls per instance per hour" in out
    assert out.count("\n|") >= 5
