"""What discovery knows of one owned instance's files, and the tracking writes a plan needs.

:class:`InstanceFiles` holds the *live* generations (active or rotated) of one instance as they
are stored in the tracking table, with the last generation number given out per name. It turns
a :class:`~discovery.identity.Plan` into the writes that record it (:meth:`writes_for`) and
knows which generations the processor has not heard about yet (:meth:`due_events`). Pure: the
caller performs the writes (:mod:`discovery.tracker`) and stores what DynamoDB accepted.

Loaded once when the instance's lease is taken and kept while it is held: only the lease
holder writes observations, so the copy stays exact; any conflicting write makes the caller
drop it and load again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from common.events import LogKind
from common.tracking import Observation, TrackedFile
from discovery.identity import (
    Born,
    Entry,
    Gone,
    GoneReason,
    Grew,
    Known,
    Moved,
    NameRules,
    Plan,
    StatusChanged,
    birth_name,
    make_identity,
)
from discovery.inventory import AuroraInstance

__all__ = ["Create", "InstanceFiles", "Retire", "Update", "Write", "is_due"]

UpdateKind = Literal["grew", "moved", "superseded"]


@dataclass(frozen=True)
class Create:
    """Insert a new generation (conditional on its identity being new)."""

    file: TrackedFile
    name: str
    generation: int


@dataclass(frozen=True)
class Update:
    """Replace the observation of a generation."""

    file: TrackedFile
    observation: Observation
    kind: UpdateKind


@dataclass(frozen=True)
class Retire:
    """The generation's content is gone: deleted or lost, decided from the checkpoint."""

    file: TrackedFile
    reason: GoneReason


Write = Create | Update | Retire


def _recency(file: TrackedFile) -> tuple[int, int, int]:
    observation = file.observation
    return (observation.first_seen_ms, _generation_of(file.identity), observation.version)


def is_due(observation: Observation) -> bool:
    """Whether a live generation has bytes, a name or a status the processor was not told."""
    if observation.seen_size <= 0 or observation.status not in {"active", "rotated"}:
        return False
    return (
        observation.seen_size > observation.published_size
        or observation.log_file != observation.published_file
        or observation.status != observation.published_status
    )


def _generation_of(identity: str) -> int:
    number = identity.rpartition("@")[2]
    return int(number) if number.isdigit() else 0


class InstanceFiles:
    """The live generations of one instance, as stored, and the fence of this replica's lease."""

    def __init__(
        self,
        instance: AuroraInstance,
        files: Iterable[TrackedFile],
        *,
        fence: int,
        rules: NameRules,
        item_ttl_s: int,
    ) -> None:
        self.instance = instance
        self.fence = fence
        self._rules = rules
        self._item_ttl_s = item_ttl_s
        self._generations: dict[str, int] = {}
        self._live: dict[str, TrackedFile] = {}
        # Live generations whose name another, newer one claims: left behind by a writer that
        # died between two writes of one plan. Retired by the next plan's writes.
        self._shadowed: list[TrackedFile] = []
        holders: dict[str, TrackedFile] = {}
        for file in files:
            self._note_generation(file.identity)
            if file.observation.status not in {"active", "rotated"}:
                continue
            name = file.observation.log_file
            other = holders.get(name)
            if other is not None:
                older, file = sorted((other, file), key=_recency)
                self._shadowed.append(older)
                self._live.pop(older.identity, None)
            holders[name] = file
            self._live[file.identity] = file

    def __len__(self) -> int:
        return len(self._live)

    def live(self) -> list[TrackedFile]:
        return list(self._live.values())

    def get(self, identity: str) -> TrackedFile | None:
        return self._live.get(identity)

    def known(self) -> list[Known]:
        """The live generations as :func:`~discovery.identity.reconcile` wants them."""
        known: list[Known] = []
        for file in self._live.values():
            observation = file.observation
            status: Literal["active", "rotated"] = (
                "active" if observation.status == "active" else "rotated"
            )
            known.append(
                Known(
                    identity=file.identity,
                    name=observation.log_file,
                    size=observation.seen_size,
                    last_written_ms=observation.seen_last_written_ms,
                    status=status,
                )
            )
        return known

    def high_water_ms(self) -> int | None:
        """The newest LastWritten of any live generation (None when there is none)."""
        return max(
            (file.observation.seen_last_written_ms for file in self._live.values()), default=None
        )

    def writes_for(self, plan: Plan, now_ms: int) -> list[Write]:
        """The tracking writes that record ``plan``, in an order safe to apply one by one:
        a name is always vacated (renamed away, retired) before a new generation takes it."""
        writes: list[Write] = [Retire(file, "overwritten") for file in self._shadowed]
        self._shadowed = []
        for change in plan.changes:
            if isinstance(change, Born):
                writes.append(self._born(change, now_ms))
                continue
            file = self._live.get(change.identity)
            if file is None:
                raise KeyError(f"plan names unknown generation {change.identity}")
            if isinstance(change, Grew):
                writes.append(Update(file, self._seen(file, change.entry, now_ms), "grew"))
            elif isinstance(change, Moved):
                observation = replace(
                    self._seen(file, change.entry, now_ms),
                    log_file=change.entry.name,
                    previous_names=(*file.observation.previous_names, file.observation.log_file),
                    status="rotated",
                    expires_at_s=self._expiry_s(now_ms),
                )
                writes.append(Update(file, observation, "moved"))
            elif isinstance(change, StatusChanged):
                seen = file.observation
                if change.entry is not None:
                    seen = self._seen(file, change.entry, now_ms)
                observation = replace(
                    seen,
                    status=change.status,
                    fence=self.fence,
                    expires_at_s=self._expiry_s(now_ms),
                )
                writes.append(Update(file, observation, "superseded"))
            elif isinstance(change, Gone):
                writes.append(Retire(file, change.reason))
        return writes

    def retired(self, fresh: TrackedFile, now_ms: int) -> Observation:
        """The final observation of a generation whose content is gone, given the item as it
        is now (with the processor's latest checkpoint): lost if bytes seen were never made
        durable, else deleted."""
        lost_bytes = fresh.unread_bytes
        return replace(
            fresh.observation,
            status="lost" if lost_bytes > 0 else "deleted",
            lost_bytes=lost_bytes,
            last_seen_ms=now_ms,
            fence=self.fence,
            expires_at_s=self._expiry_s(now_ms),
        )

    def published(self, observation: Observation, now_ms: int) -> Observation:
        """``observation`` with the publication of an event carrying it recorded."""
        return replace(
            observation,
            published_size=observation.seen_size,
            published_file=observation.log_file,
            published_status=observation.status,
            published_at_ms=now_ms,
            fence=self.fence,
        )

    def store(self, file: TrackedFile) -> None:
        """Keep ``file`` as stored in DynamoDB (dropped from the live set once gone)."""
        self._note_generation(file.identity)
        if file.observation.status in {"active", "rotated"}:
            self._live[file.identity] = file
        else:
            self._live.pop(file.identity, None)

    def forget(self, identity: str) -> None:
        """Stop tracking a generation whose item no longer exists."""
        self._live.pop(identity, None)

    def _born(self, change: Born, now_ms: int) -> Create:
        name = change.entry.name
        parsed = self._rules.classify(name)
        kind: LogKind = parsed.kind if parsed is not None else "error"
        # Every replica that sees this content computes the same number from the stored
        # generations, so a second creation of it is refused by the conditional put.
        generation = self._generations.get(name, 0) + 1
        observation = Observation(
            cluster_id=self.instance.cluster_id,
            engine=self.instance.engine,
            engine_version=self.instance.engine_version,
            log_file=name,
            log_kind=kind,
            status=change.status,
            first_seen_ms=now_ms,
            last_seen_ms=now_ms,
            seen_size=change.entry.size,
            seen_last_written_ms=change.entry.last_written_ms,
            published_size=-1,
            fence=self.fence,
            expires_at_s=self._expiry_s(now_ms) if change.status == "rotated" else None,
        )
        file = TrackedFile(self.instance.instance_id, make_identity(name, generation), observation)
        return Create(file, name, generation)

    def _seen(self, file: TrackedFile, entry: Entry, now_ms: int) -> Observation:
        return replace(
            file.observation,
            seen_size=entry.size,
            seen_last_written_ms=entry.last_written_ms,
            last_seen_ms=now_ms,
            fence=self.fence,
        )

    def _expiry_s(self, now_ms: int) -> int:
        return now_ms // 1000 + self._item_ttl_s

    def _note_generation(self, identity: str) -> None:
        name, number = birth_name(identity), _generation_of(identity)
        if number > self._generations.get(name, 0):
            self._generations[name] = number
