"""The harness's check that a delete-before-read scenario only deletes files a listing could
have shown: a file created and deleted within one step never was on disk between steps."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from devstack.chaos import Phase, _unlistable
from simulator.truth import Truth

S = 1_000_000


def _phase(truth: Truth, steps_s: list[int]) -> Phase:
    harness = cast(Any, SimpleNamespace(fleet=SimpleNamespace(truth=truth)))
    phase = Phase(harness, "p")
    phase.instances = ["p-1"]
    phase.steps_us = [at * S for at in steps_s]
    return phase


def test_a_file_born_and_deleted_within_one_step_is_unlistable() -> None:
    truth = Truth()
    # Steps end at 60, 120, 180 s.
    truth.file_created("p-1", "audit", "p-1#1", "audit/server_audit.log", 50 * S)
    truth.file_deleted("p-1#1", 70 * S, "deleted_before_read")  # on disk at 60: listable
    truth.file_created("p-1", "audit", "p-1#2", "audit/server_audit.log", 70 * S)
    truth.file_deleted("p-1#2", 110 * S, "deleted_before_read")  # within 60-120: never
    truth.file_created("p-1", "audit", "p-1#3", "audit/server_audit.log", 110 * S)
    truth.file_deleted("p-1#3", 125 * S, "retention")  # another reason: not this check's
    truth.file_created("p-9", "audit", "p-9#1", "audit/server_audit.log", 70 * S)
    truth.file_deleted("p-9#1", 80 * S, "deleted_before_read")  # another phase's instance

    assert _unlistable(_phase(truth, [60, 120, 180]), "deleted_before_read") == ["p-1#2"]


def test_files_that_outlive_a_step_end_are_all_listable() -> None:
    truth = Truth()
    truth.file_created("p-1", "audit", "p-1#1", "audit/server_audit.log", 10 * S)
    truth.file_deleted("p-1#1", 130 * S, "deleted_before_read")
    truth.file_created("p-1", "audit", "p-1#2", "audit/server_audit.log", 130 * S)

    assert _unlistable(_phase(truth, [60, 120, 180]), "deleted_before_read") == []
