"""The fault harness in its short form (``make chaos CHAOS_ARGS=--short``) on a stack of its own
(it stops and restarts Kafka, which the session's shared stack must not see), each scenario
accounted entry by entry against the simulator's ground truth.

``make test`` runs eight of the eleven (about three minutes): processors killed and
rebalanced, Valkey restarted, the broker down, the RDS API's page faults, files deleted before
they are read (new names and a rename chain) and poison input. The other three have
service-level tests of their own (discovery hand-over after a kill and throttling in
tests/discovery/test_acceptance.py, OpenObserve's faults in tests/processor); ``make chaos``
runs all eleven.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.chaos import SCENARIOS, Durations, run_harness, table

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IN_MAKE_TEST = (
    "processor-sigkill",
    "processor-rebalance",
    "valkey-restart",
    "kafka-stopped",
    "rds-pages",
    "deleted-before-read",
    "deleted-before-read-chain",
    "malformed-input",
)


def test_the_chosen_scenarios_exist() -> None:
    assert set(IN_MAKE_TEST) <= set(SCENARIOS)


@pytest.mark.timeout(900)
def test_every_fault_kind_accounts_for_every_entry(tmp_path: Path) -> None:
    results = run_harness(tmp_path / "chaos", Durations.short(), list(IN_MAKE_TEST))
    report = table(results)
    assert [result.scenario for result in results] == list(IN_MAKE_TEST), report
    assert all(result.passed for result in results), report
