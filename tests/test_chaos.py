"""The fault harness in its short form (``make chaos CHAOS_ARGS=--short``): every scenario of
:mod:`devstack.chaos` on a stack of its own (it stops and restarts Kafka and Valkey, which the
session's shared stack must not see), each accounted entry by entry against the simulator's
ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.chaos import SCENARIOS, Durations, run_harness, table

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(900)
def test_every_fault_scenario_accounts_for_every_entry(tmp_path: Path) -> None:
    results = run_harness(tmp_path / "chaos", Durations.short(), list(SCENARIOS))
    report = table(results)
    assert [result.scenario for result in results] == list(SCENARIOS), report
    assert all(result.passed for result in results), report
