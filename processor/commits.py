"""Kafka offsets committed in order: offset+1 of the highest contiguous finished event.

Events of one partition finish out of order (different files, different sizes). An offset is
committed only once it and every offset before it are finished, so a crash redelivers exactly
the unfinished events and those after them, never skips one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from aiokafka import TopicPartition

__all__ = ["OffsetTracker"]


@dataclass
class _Partition:
    # (offset, finished) in arrival order; offsets arrive in increasing order.
    pending: deque[list[int | bool]] = field(default_factory=deque)
    committable: int | None = None
    committed: int | None = None


class OffsetTracker:
    """Not thread-safe; used from the consumer's event loop."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, _Partition] = {}

    def received(self, tp: TopicPartition, offset: int) -> None:
        state = self._partitions.setdefault(tp, _Partition())
        if state.pending and int(state.pending[-1][0]) >= offset:
            raise ValueError(f"{tp}: offset {offset} received out of order")
        state.pending.append([offset, False])

    def finished(self, tp: TopicPartition, offset: int) -> None:
        state = self._partitions.get(tp)
        if state is None:
            return  # the partition was revoked meanwhile: nothing to commit for it
        for entry in state.pending:
            if entry[0] == offset:
                entry[1] = True
                break
        else:
            raise ValueError(f"{tp}: offset {offset} was never received")
        while state.pending and state.pending[0][1]:
            state.committable = int(state.pending.popleft()[0]) + 1

    def to_commit(self) -> dict[TopicPartition, int]:
        """Positions that moved since the last :meth:`committed` call."""
        return {
            tp: state.committable
            for tp, state in self._partitions.items()
            if state.committable is not None and state.committable != state.committed
        }

    def committed(self, positions: dict[TopicPartition, int]) -> None:
        for tp, offset in positions.items():
            state = self._partitions.get(tp)
            if state is not None:
                state.committed = offset

    def unfinished(self, tp: TopicPartition | None = None) -> int:
        """Events received and not finished (in one partition, or in all)."""
        states = [self._partitions[tp]] if tp in self._partitions else []
        if tp is None:
            states = list(self._partitions.values())
        return sum(1 for state in states for entry in state.pending if not entry[1])

    def forget(self, tp: TopicPartition) -> None:
        """Drop a revoked partition (after its final commit)."""
        self._partitions.pop(tp, None)
