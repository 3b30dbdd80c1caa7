"""Test doubles for discovery's own interfaces (never for AWS: that is moto and the simulator)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from discovery.ownership import DropReason, OwnedInstance
from discovery.publisher import Outgoing


@dataclass
class RecordingPublisher:
    """Records what would go to Kafka; ``refuse`` makes publishes unconfirmed."""

    sent: list[Outgoing] = field(default_factory=list)
    refuse: bool = False

    async def publish(self, outgoing: Sequence[Outgoing]) -> list[bool]:
        if self.refuse:
            return [False] * len(outgoing)
        self.sent.extend(outgoing)
        return [True] * len(outgoing)


@dataclass
class RecordingListener:
    """Records ownership changes; ``polling`` names instances to report as mid-poll."""

    acquired_ids: list[str] = field(default_factory=list)
    retiring_ids: list[str] = field(default_factory=list)
    renewed_ids: list[str] = field(default_factory=list)
    dropped_ids: list[tuple[str, DropReason]] = field(default_factory=list)
    polling: set[str] = field(default_factory=set)

    def acquired(self, owned: OwnedInstance) -> None:
        self.acquired_ids.append(owned.instance_id)

    def retire(self, owned: OwnedInstance) -> None:
        self.retiring_ids.append(owned.instance_id)

    def renewed(self, owned: OwnedInstance) -> None:
        self.renewed_ids.append(owned.instance_id)

    def dropped(self, owned: OwnedInstance, reason: DropReason) -> None:
        self.dropped_ids.append((owned.instance_id, reason))

    def is_polling(self, instance_id: str) -> bool:
        return instance_id in self.polling
