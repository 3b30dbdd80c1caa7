"""In-order offset commits."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from processor.commits import OffsetTracker

TP = TopicPartition("aurora-logs", 0)
OTHER = TopicPartition("aurora-logs", 1)


def test_commits_only_the_contiguous_finished_prefix() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.received(TP, offset)
    tracker.finished(TP, 12)
    assert tracker.to_commit() == {}
    tracker.finished(TP, 10)
    assert tracker.to_commit() == {TP: 11}
    tracker.committed({TP: 11})
    assert tracker.to_commit() == {}
    tracker.finished(TP, 11)
    assert tracker.to_commit() == {TP: 13}
    assert tracker.unfinished(TP) == 1
    tracker.finished(TP, 13)
    assert tracker.to_commit() == {TP: 14}
    assert tracker.unfinished() == 0


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    tracker.received(TP, 0)
    tracker.received(OTHER, 5)
    tracker.finished(OTHER, 5)
    assert tracker.to_commit() == {OTHER: 6}
    assert tracker.unfinished() == 1


def test_a_revoked_partition_is_forgotten() -> None:
    tracker = OffsetTracker()
    tracker.received(TP, 0)
    tracker.forget(TP)
    tracker.finished(TP, 0)  # work that finishes after the revoke commits nothing
    assert tracker.to_commit() == {}


def test_misuse_is_an_error() -> None:
    tracker = OffsetTracker()
    tracker.received(TP, 3)
    with pytest.raises(ValueError, match="out of order"):
        tracker.received(TP, 2)
    with pytest.raises(ValueError, match="never received"):
        tracker.finished(TP, 4)
