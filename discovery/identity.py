"""File identity: which content each RDS log file name holds, and how it changed since last seen.

RDS names log files by path, but a path does not name content: Aurora renames the active file
at rotation, reuses hourly names every day and shifts ``server_audit.log.N`` chains. This module
decides, from what was known of an instance's files and a new DescribeDBLogFiles listing,
what happened to every piece of content. It is pure: no I/O, no clock.

Name roles (ACTIVE, RENAMED, DATED, SERIES) are defined with the names in
:mod:`common.lognames`; the newest of a SERIES is the one being written.

Names whose content can flow into one another form a *family* (the active name and its
rotations; a chain; one series). The rules, applied per family by :func:`reconcile`:

- Content is identified by a generation, never by a name. A generation born under a name keeps
  its identity when renamed, so the processor's checkpoint follows the bytes.
- The active generation is renamed at rotation: a rotated name that appeared (or changed) whose
  size is at least the last seen size and whose LastWritten is not older is where that content
  went; with several, the oldest (the first rotation since). A new generation takes the name.
- A shrinking size is a rotation, never a negative delta: the old content is gone (unless found
  under a rotated name) and a new generation starts.
- A rotated name whose size or LastWritten changes holds other content (reuse); only a unique
  (DATED or SERIES) name may grow in place.
- A generation gone from a listing that would have shown it is gone (deleted). A listing made
  with ``FileLastWritten`` shows only files written since then, so absence of an older file
  proves nothing there; when such a listing cannot settle where content went, the answer is
  :class:`NeedsFullListing` and the caller lists again without the filter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from common.events import LogKind
from common.lognames import HOURLY_BASES, LogName, Role, Style, parse_log_name

__all__ = [
    "Born",
    "Change",
    "Entry",
    "Gone",
    "Grew",
    "Known",
    "Listing",
    "Moved",
    "NameRules",
    "NeedsFullListing",
    "Plan",
    "StatusChanged",
    "birth_name",
    "listing_since",
    "make_identity",
    "reconcile",
]

LiveStatus = Literal["active", "rotated"]
GoneReason = Literal["deleted", "overwritten", "truncated"]

# Rename rotation keeps the file's mtime, but LastWritten is coarse: tolerate rounding.
LAST_WRITTEN_SLACK_MS = 1_000
# A file this much newer than a listing's FileLastWritten is certainly in it.
_VISIBLE_MS = 2 * LAST_WRITTEN_SLACK_MS
_HOUR_MS = 3_600_000
# How late after the top of the hour an hourly rotation may still happen.
_ROTATION_GRACE_MS = 15 * 60_000


@dataclass(frozen=True)
class NameRules:
    """Which of the parsable names an operator chose to follow."""

    log_kinds: frozenset[LogKind]
    ignored: frozenset[str] = frozenset()

    def classify(self, name: str) -> LogName | None:
        if name in self.ignored:
            return None
        parsed = parse_log_name(name)
        if parsed is None or parsed.kind not in self.log_kinds:
            return None
        return parsed


def make_identity(birth_name: str, generation: int) -> str:
    """The identity of the ``generation``-th content born under ``birth_name``."""
    return f"{birth_name}@{generation}"


def birth_name(identity: str) -> str:
    """The name an identity's content was born under (its family's Kafka key)."""
    return identity.rpartition("@")[0] or identity


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One row of DescribeDBLogFiles."""

    name: str
    size: int
    last_written_ms: int


@dataclass(frozen=True)
class Listing:
    """A DescribeDBLogFiles answer (all pages). ``since_ms`` is the FileLastWritten filter used;
    None means every file of the instance is in ``entries``."""

    entries: tuple[Entry, ...]
    since_ms: int | None = None

    @property
    def complete(self) -> bool:
        return self.since_ms is None


@dataclass(frozen=True)
class Known:
    """A live generation as tracked: where its content is, and how big it was last seen."""

    identity: str
    name: str
    size: int
    last_written_ms: int
    status: LiveStatus


# --- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Born:
    """Content never seen before under ``entry.name``: a new generation."""

    entry: Entry
    status: LiveStatus


@dataclass(frozen=True)
class Grew:
    """The same content, at the same name, is at least as big (or was touched)."""

    identity: str
    entry: Entry


@dataclass(frozen=True)
class Moved:
    """The content was renamed by rotation to ``entry.name``; it is final from now on."""

    identity: str
    entry: Entry


@dataclass(frozen=True)
class StatusChanged:
    """A series file was superseded by a newer one: it will not grow any more. ``entry`` is
    set when it also grew since last seen (one change per generation and listing)."""

    identity: str
    status: LiveStatus
    entry: Entry | None = None


@dataclass(frozen=True)
class Gone:
    """The content can no longer be read: deleted, overwritten by other content, or truncated."""

    identity: str
    reason: GoneReason


Change = Born | Grew | Moved | StatusChanged | Gone


@dataclass(frozen=True)
class Plan:
    """Everything that changed: at most one change per known generation."""

    changes: tuple[Change, ...]


@dataclass(frozen=True)
class NeedsFullListing:
    """A filtered listing cannot tell where some content went; list without FileLastWritten."""

    reason: str


def listing_since(
    known: Iterable[Known], high_water_ms: int, margin_ms: int, rules: NameRules
) -> int:
    """``FileLastWritten`` for an incremental listing.

    A margin before the newest LastWritten seen (LastWritten is coarse), and early enough that
    the active file of every chain family stays in view: such a family rotates on size, at any
    time, and its rotated copy keeps the old LastWritten, so only keeping it in view lets a
    rotation be told from growth when the new file has already outgrown the old. (Hourly
    families need no such help: a rotation always crosses the top of an hour.)
    """
    since = high_water_ms - margin_ms
    for item in known:
        parsed = rules.classify(item.name)
        if parsed is not None and parsed.style is Style.CHAIN and parsed.role is Role.ACTIVE:
            since = min(since, item.last_written_ms - _VISIBLE_MS)
    return max(0, since)


# --- reconciliation -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Seen:
    entry: Entry
    name: LogName


@dataclass(frozen=True)
class _Held:
    known: Known
    name: LogName


def _same(known: Known, entry: Entry) -> bool:
    return known.size == entry.size and known.last_written_ms == entry.last_written_ms


def _changed(known: Known, entry: Entry) -> bool:
    return not _same(known, entry)


def _could_hold(known: Known, entry: Entry) -> bool:
    """Whether ``entry`` may be ``known``'s content after more writes and a rename."""
    return (
        entry.size >= known.size
        and entry.last_written_ms >= known.last_written_ms - LAST_WRITTEN_SLACK_MS
    )


class _Family:
    """The known generations and listed entries of one family, and the listing's horizon."""

    def __init__(self, held: Sequence[_Held], seen: Sequence[_Seen], since_ms: int | None):
        self.held = {item.known.name: item for item in held}
        self.seen = {item.entry.name: item for item in seen}
        self.since_ms = since_ms
        self.changes: list[Change] = []

    def visible(self, known: Known) -> bool:
        """Whether the listing must show ``known``'s name if its content is still there."""
        return self.since_ms is None or known.last_written_ms >= self.since_ms + _VISIBLE_MS

    def successor_of(
        self,
        active: Known,
        open_names: Iterable[str],
        *,
        rotates_hourly: bool,
        chain: bool = False,
    ) -> Entry | None:
        """The oldest listed, unaccounted rotated name that can hold ``active``'s content.

        An hourly-rotated file is renamed at the first top of the hour after its last write, so
        its copy was last written before that hour ended (a late rotation gets some grace).
        In a chain, age is the position: LastWritten is too coarse to order generations that
        rotated between two listings, but the active content is the deepest of them.
        """
        latest = None
        if rotates_hourly:
            latest = (active.last_written_ms // _HOUR_MS + 1) * _HOUR_MS + _ROTATION_GRACE_MS
        fits = [
            self.seen[name].entry
            for name in open_names
            if _could_hold(active, self.seen[name].entry)
            and (latest is None or self.seen[name].entry.last_written_ms < latest)
        ]
        if not fits:
            return None
        if chain:
            return max(fits, key=lambda entry: self.seen[entry.name].name.position)
        return min(fits, key=lambda entry: (entry.last_written_ms, entry.size, entry.name))


def reconcile(
    known: Iterable[Known], listing: Listing, rules: NameRules
) -> Plan | NeedsFullListing:
    """What happened to each known generation and each listed file, family by family.

    ``known`` are the live generations of one instance (at most one per name). Listed files
    that ``rules`` do not follow are ignored, and so are known generations whose names they no
    longer follow. A complete listing (``since_ms`` None) always yields a :class:`Plan`.
    """
    styles: dict[str, Style] = {}
    held: dict[str, list[_Held]] = defaultdict(list)
    for item in known:
        parsed = rules.classify(item.name)
        if parsed is not None:
            held[parsed.family].append(_Held(item, parsed))
            styles[parsed.family] = parsed.style
    seen: dict[str, list[_Seen]] = defaultdict(list)
    for entry in listing.entries:
        parsed = rules.classify(entry.name)
        if parsed is not None:
            seen[parsed.family].append(_Seen(entry, parsed))
            styles[parsed.family] = parsed.style

    changes: list[Change] = []
    for family_name, style in sorted(styles.items()):
        family = _Family(held.get(family_name, []), seen.get(family_name, []), listing.since_ms)
        if style is Style.HOURLY:
            outcome = _reconcile_hourly(family, family_name)
        elif style is Style.CHAIN:
            outcome = _reconcile_chain(family, family_name)
        else:
            outcome = _reconcile_series(family)
        if outcome is not None:
            return outcome
        changes.extend(family.changes)
    return Plan(tuple(changes))


def _reconcile_active(
    family: _Family,
    active_name: str,
    open_names: list[str],
    *,
    rotates_hourly: bool,
    rotated_elsewhere: bool = False,
    chain: bool = False,
) -> NeedsFullListing | None:
    """Settle the active name's generation: grown, renamed away, truncated or deleted.

    ``open_names`` are the listed rotated names whose content is not accounted for yet; the one
    the active content moved to is removed from it. ``rotated_elsewhere`` says the family is
    known to have rotated (a chain shifted), so the active content cannot still be in place.
    """
    held = family.held.get(active_name)
    seen = family.seen.get(active_name)
    entry = seen.entry if seen is not None else None
    if held is None:
        if entry is not None:
            family.changes.append(Born(entry, "active"))
        return None
    active = held.known
    successor = family.successor_of(active, open_names, rotates_hourly=rotates_hourly, chain=chain)
    if successor is not None:
        open_names.remove(successor.name)
        family.changes.append(Moved(active.identity, successor))
        if entry is not None:
            family.changes.append(Born(entry, "active"))
        return None
    replaced = rotated_elsewhere or (entry is not None and entry.size < active.size)
    missing = entry is None and family.visible(active)
    crossed_hour = (
        rotates_hourly
        and entry is not None
        and entry.last_written_ms // _HOUR_MS > active.last_written_ms // _HOUR_MS
    )
    if (replaced or missing or crossed_hour) and not family.visible(active):
        # The rotated copy keeps the old LastWritten, older than this listing's horizon.
        return NeedsFullListing(f"{active_name} may have rotated out of the listing's window")
    if replaced:
        family.changes.append(Gone(active.identity, "truncated"))
        if entry is not None:
            family.changes.append(Born(entry, "active"))
    elif missing:
        family.changes.append(Gone(active.identity, "deleted"))
    elif entry is not None and _changed(active, entry):
        family.changes.append(Grew(active.identity, entry))
    return None


def _reconcile_hourly(family: _Family, active_name: str) -> NeedsFullListing | None:
    open_names: list[str] = []
    for name, item in sorted(family.held.items()):
        if item.name.role is Role.ACTIVE:
            continue
        seen = family.seen.get(name)
        if seen is None:
            # Rotated names of an hourly family never move: absent and visible means deleted.
            if family.visible(item.known):
                family.changes.append(Gone(item.known.identity, "deleted"))
            continue
        if _same(item.known, seen.entry):
            continue
        if item.name.role is Role.DATED and seen.entry.size >= item.known.size:
            family.changes.append(Grew(item.known.identity, seen.entry))
            continue
        family.changes.append(Gone(item.known.identity, "overwritten"))
        open_names.append(name)
    open_names.extend(
        name
        for name, seen in sorted(family.seen.items())
        if seen.name.role is not Role.ACTIVE and name not in family.held
    )
    outcome = _reconcile_active(
        family, active_name, open_names, rotates_hourly=active_name in HOURLY_BASES
    )
    if outcome is not None:
        return outcome
    family.changes.extend(Born(family.seen[name].entry, "rotated") for name in open_names)
    return None


def _reconcile_chain(family: _Family, active_name: str) -> NeedsFullListing | None:
    by_position = {seen.name.position: seen for seen in family.seen.values()}
    claimed: set[int] = set()
    shifted = False
    finals = sorted(
        (item for item in family.held.values() if item.name.role is Role.RENAMED),
        key=lambda item: item.name.position,
        reverse=True,
    )
    for item in finals:
        start = item.name.position
        # Final content only ever moves deeper, unchanged (a rename keeps size and mtime).
        destination = next(
            (
                position
                for position in sorted(by_position)
                if position >= start
                and position not in claimed
                and _same(item.known, by_position[position].entry)
            ),
            None,
        )
        if destination is not None:
            claimed.add(destination)
            if destination != start:
                shifted = True
                family.changes.append(Moved(item.known.identity, by_position[destination].entry))
            continue
        if family.since_ms is None:
            family.changes.append(Gone(item.known.identity, "deleted"))
        elif start in by_position or family.visible(item.known):
            # Its name shows other content (or it should be in view): it moved out of sight.
            return NeedsFullListing(f"{active_name} chain shifted beyond the listing's window")
        # Otherwise it is hidden and its name not reused: unchanged as far as anyone can tell.
    open_names = [
        by_position[position].entry.name
        for position in sorted(by_position)
        if position != 0 and position not in claimed
    ]
    outcome = _reconcile_active(
        family,
        active_name,
        open_names,
        rotates_hourly=False,
        rotated_elsewhere=shifted,
        chain=True,
    )
    if outcome is not None:
        return outcome
    family.changes.extend(Born(family.seen[name].entry, "rotated") for name in open_names)
    return None


def _reconcile_series(family: _Family) -> NeedsFullListing | None:
    live: dict[str, str] = {}  # name -> order, of content still there after this listing
    for name, item in sorted(family.held.items()):
        seen = family.seen.get(name)
        if seen is None:
            if family.visible(item.known):
                family.changes.append(Gone(item.known.identity, "deleted"))
            else:
                live[name] = item.name.order
            continue
        live[name] = item.name.order
        if _same(item.known, seen.entry):
            continue
        if seen.entry.size >= item.known.size:
            family.changes.append(Grew(item.known.identity, seen.entry))
        else:
            family.changes.append(Gone(item.known.identity, "truncated"))
    for name, seen in family.seen.items():
        live[name] = seen.name.order
    newest = max(live, key=lambda name: (live[name], name), default=None)
    truncated = {
        change.identity
        for change in family.changes
        if isinstance(change, Gone) and change.reason == "truncated"
    }
    for name, seen in sorted(family.seen.items()):
        status: LiveStatus = "active" if name == newest else "rotated"
        previous = family.held.get(name)
        if previous is None or previous.known.identity in truncated:
            family.changes.append(Born(seen.entry, status))
    grown = {
        change.identity: index
        for index, change in enumerate(family.changes)
        if isinstance(change, Grew)
    }
    for name, item in sorted(family.held.items()):
        identity = item.known.identity
        if (
            name != newest
            and item.known.status == "active"
            and name in live
            and identity not in truncated
        ):
            if identity in grown:
                growth = family.changes[grown[identity]]
                assert isinstance(growth, Grew)
                family.changes[grown[identity]] = StatusChanged(identity, "rotated", growth.entry)
            else:
                family.changes.append(StatusChanged(identity, "rotated"))
    return None
