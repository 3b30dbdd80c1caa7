"""File identity rules on listing snapshots: names, rotation styles, reuse, shrink, deletion."""

from __future__ import annotations

from discovery.identity import (
    Born,
    Entry,
    Gone,
    Grew,
    Known,
    Listing,
    Moved,
    NameRules,
    NeedsFullListing,
    Plan,
    StatusChanged,
    birth_name,
    listing_since,
    make_identity,
    reconcile,
)

ALL = NameRules(frozenset({"error", "slowquery", "general", "audit", "postgresql"}))
HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

SLOW = "slowquery/mysql-slowquery.log"
ERR = "error/mysql-error-running.log"
AUDIT = "audit/server_audit.log"
PG = "error/postgresql.log"


def e(name: str, size: int, lw: int) -> Entry:
    return Entry(name, size, lw)


def k(identity: str, name: str, size: int, lw: int, status: str = "active") -> Known:
    assert status in {"active", "rotated"}
    return Known(identity, name, size, lw, "active" if status == "active" else "rotated")


def plan(known: list[Known], entries: list[Entry], since: int | None = None) -> set[object]:
    outcome = reconcile(known, Listing(tuple(entries), since), ALL)
    assert isinstance(outcome, Plan), outcome
    return set(outcome.changes)


# --- first sight, growth, nothing -----------------------------------------------------------


def test_first_full_listing_tracks_every_followed_file_with_its_status() -> None:
    entries = [
        e(SLOW, 100, T0),
        e(f"{SLOW}.2025-12-31.23", 50, T0 - HOUR),
        e(f"{ERR}.5", 7, T0 - 19 * HOUR),
        e(f"{PG}.2025-12-31-2300", 80, T0 - HOUR),
        e(f"{PG}.2026-01-01-0000", 30, T0),
        e(AUDIT, 9, T0),
        e(f"{AUDIT}.1", 11, T0 - HOUR),
    ]
    assert plan([], entries) == {
        Born(entries[0], "active"),
        Born(entries[1], "rotated"),
        Born(entries[2], "rotated"),
        Born(entries[3], "rotated"),
        Born(entries[4], "active"),
        Born(entries[5], "active"),
        Born(entries[6], "rotated"),
    }


def test_growth_and_unchanged_files() -> None:
    known = [k("s@1", SLOW, 100, T0), k("p@1", f"{PG}.2026-01-01-0000", 30, T0)]
    grown = e(SLOW, 180, T0 + 60_000)
    assert plan(known, [grown, e(f"{PG}.2026-01-01-0000", 30, T0)]) == {Grew("s@1", grown)}


def test_a_touched_file_of_the_same_size_is_not_a_rotation() -> None:
    known = [k("s@1", SLOW, 100, T0)]
    touched = e(SLOW, 100, T0 + 300_000)
    assert plan(known, [touched]) == {Grew("s@1", touched)}


# --- MySQL rotation -----------------------------------------------------------------------


def test_dated_rotation_keeps_the_identity_of_the_renamed_content() -> None:
    known = [k("s@1", SLOW, 1000, T0 + 50 * 60_000)]
    rotated = e(f"{SLOW}.2026-01-01.0", 1200, T0 + 59 * 60_000)
    fresh = e(SLOW, 200, T0 + HOUR + 60_000)
    assert plan(known, [rotated, fresh]) == {Moved("s@1", rotated), Born(fresh, "active")}


def test_new_file_that_outgrew_the_old_one_is_still_a_rotation() -> None:
    known = [k("s@1", SLOW, 300, T0 + 10 * 60_000)]
    rotated = e(f"{SLOW}.2026-01-01.0", 300, T0 + 10 * 60_000)
    regrown = e(SLOW, 5000, T0 + HOUR + 5 * 60_000)
    assert plan(known, [rotated, regrown]) == {Moved("s@1", rotated), Born(regrown, "active")}


def test_legacy_numbered_name_reused_next_day_retires_the_old_content() -> None:
    known = [
        k("e@1", ERR, 400, T0 + 24 * HOUR + 5 * HOUR + 40 * 60_000),
        k("e5@1", f"{ERR}.5", 90, T0 + 5 * HOUR + 59 * 60_000, "rotated"),
    ]
    reused = e(f"{ERR}.5", 450, T0 + 24 * HOUR + 5 * HOUR + 59 * 60_000)
    fresh = e(ERR, 20, T0 + 24 * HOUR + 6 * HOUR + 1000)
    assert plan(known, [reused, fresh]) == {
        Gone("e5@1", "overwritten"),
        Moved("e@1", reused),
        Born(fresh, "active"),
    }


def test_reused_numbered_name_with_unrelated_content_is_a_new_generation() -> None:
    known = [
        k("e@1", ERR, 4000, T0 + 2 * HOUR),
        k("e5@1", f"{ERR}.5", 90, T0 - 20 * HOUR, "rotated"),
    ]
    # Smaller than what the active file had: not its renamed content.
    reused = e(f"{ERR}.5", 450, T0 + 2 * HOUR)
    assert plan(known, [reused, e(ERR, 4000, T0 + 2 * HOUR)]) == {
        Gone("e5@1", "overwritten"),
        Born(reused, "rotated"),
    }


def test_several_rotations_between_polls_match_the_oldest_to_the_known_content() -> None:
    known = [k("s@1", SLOW, 100, T0 + 30 * 60_000)]
    first = e(f"{SLOW}.2026-01-01.0", 150, T0 + 59 * 60_000)
    second = e(f"{SLOW}.2026-01-01.1", 900, T0 + 2 * HOUR - 60_000)
    current = e(SLOW, 10, T0 + 2 * HOUR + 60_000)
    assert plan(known, [first, second, current]) == {
        Moved("s@1", first),
        Born(second, "rotated"),
        Born(current, "active"),
    }


def test_shrink_without_a_renamed_copy_retires_the_content_and_starts_a_generation() -> None:
    known = [k("s@1", SLOW, 1000, T0 + 10 * 60_000)]
    smaller = e(SLOW, 10, T0 + 20 * 60_000)
    assert plan(known, [smaller]) == {Gone("s@1", "truncated"), Born(smaller, "active")}


def test_dated_rotation_grown_after_the_rename_stays_one_generation() -> None:
    known = [k("d@1", f"{SLOW}.2026-01-01.0", 100, T0 + HOUR, "rotated")]
    late = e(f"{SLOW}.2026-01-01.0", 130, T0 + HOUR + 2000)
    assert plan(known, [late]) == {Grew("d@1", late)}


def test_a_rotated_file_absent_from_a_full_listing_is_gone() -> None:
    known = [k("s@1", SLOW, 10, T0), k("d@1", f"{SLOW}.2025-12-31.0", 100, T0 - DAY, "rotated")]
    assert plan(known, [e(SLOW, 10, T0)]) == {Gone("d@1", "deleted")}


DAY = 24 * HOUR


# --- incremental listings -----------------------------------------------------------------


def test_incremental_listing_ignores_idle_files_it_does_not_show() -> None:
    since = T0 + HOUR
    known = [
        k("s@1", SLOW, 10, T0 + HOUR + 30_000),
        k("d@1", f"{SLOW}.2025-12-31.0", 100, T0 - DAY, "rotated"),
        k("p@1", f"{PG}.2025-12-31-0000", 100, T0 - DAY, "rotated"),
    ]
    assert plan(known, [e(SLOW, 10, T0 + HOUR + 30_000)], since=since) == set()


def test_incremental_listing_shows_deletion_of_a_file_written_since() -> None:
    since = T0
    known = [k("p@1", f"{PG}.2026-01-01-0000", 100, T0 + 60_000)]
    assert plan(known, [], since=since) == {Gone("p@1", "deleted")}


def test_quiet_active_file_that_shrank_needs_a_full_listing() -> None:
    since = T0 + HOUR
    known = [k("s@1", SLOW, 1000, T0 + 5 * 60_000)]  # last written long before `since`
    outcome = reconcile(known, Listing((e(SLOW, 10, T0 + HOUR + 60_000),), since), ALL)
    assert isinstance(outcome, NeedsFullListing)


def test_quiet_active_file_written_in_a_later_hour_needs_a_full_listing() -> None:
    since = T0 + HOUR
    known = [k("s@1", SLOW, 10, T0 + 5 * 60_000)]
    outcome = reconcile(known, Listing((e(SLOW, 5000, T0 + HOUR + 60_000),), since), ALL)
    assert isinstance(outcome, NeedsFullListing)


def test_busy_active_file_crossing_an_hour_without_rotation_just_grew() -> None:
    since = T0 + 50 * 60_000
    known = [k("s@1", SLOW, 100, T0 + 59 * 60_000)]
    grown = e(SLOW, 300, T0 + HOUR + 60_000)
    assert plan(known, [grown], since=since) == {Grew("s@1", grown)}


def test_busy_active_file_whose_rotated_copy_is_in_view_rotates_without_a_full_listing() -> None:
    since = T0 + 50 * 60_000
    known = [k("s@1", SLOW, 100, T0 + 59 * 60_000)]
    rotated = e(f"{SLOW}.2026-01-01.0", 120, T0 + 59 * 60_000 + 30_000)
    fresh = e(SLOW, 5, T0 + HOUR + 1000)
    assert plan(known, [rotated, fresh], since=since) == {
        Moved("s@1", rotated),
        Born(fresh, "active"),
    }


# --- PostgreSQL and Aurora audit series -----------------------------------------------------


def test_postgresql_new_name_supersedes_the_previous_file() -> None:
    known = [k("p1@1", f"{PG}.2026-01-01-0000", 500, T0 + 59 * 60_000)]
    tail = e(f"{PG}.2026-01-01-0000", 520, T0 + HOUR)
    new = e(f"{PG}.2026-01-01-0100", 40, T0 + HOUR + 60_000)
    assert plan(known, [tail, new], since=T0 + 50 * 60_000) == {
        StatusChanged("p1@1", "rotated", tail),
        Born(new, "active"),
    }
    quiet = e(f"{PG}.2026-01-01-0000", 500, T0 + 59 * 60_000)
    assert plan(known, [quiet, new]) == {StatusChanged("p1@1", "rotated"), Born(new, "active")}


def test_csv_twin_is_its_own_series() -> None:
    known = [k("p@1", f"{PG}.2026-01-01-0000", 500, T0)]
    twin = e(f"{PG}.2026-01-01-0000.csv", 900, T0)
    assert plan(known, [e(f"{PG}.2026-01-01-0000", 500, T0), twin]) == {Born(twin, "active")}


def test_aurora_audit_new_set_supersedes_each_stripe() -> None:
    old = [f"audit/audit.log.{n}.2026-01-01-00-00.1" for n in range(4)]
    new = [f"audit/audit.log.{n}.2026-01-01-00-30.2" for n in range(4)]
    known = [k(f"a{n}@1", name, 100_000, T0 + 29 * 60_000) for n, name in enumerate(old)]
    entries = [e(name, 100_000, T0 + 29 * 60_000) for name in old]
    entries += [e(name, 10, T0 + 31 * 60_000) for name in new]
    changes = plan(known, entries)
    assert changes == {StatusChanged(f"a{n}@1", "rotated") for n in range(4)} | {
        Born(entry, "active") for entry in entries[4:]
    }


def test_a_series_file_that_shrank_is_new_content_under_the_same_name() -> None:
    known = [k("p@1", f"{PG}.2026-01-01", 900, T0)]
    rewritten = e(f"{PG}.2026-01-01", 100, T0 + 60_000)
    assert plan(known, [rewritten]) == {Gone("p@1", "truncated"), Born(rewritten, "active")}


# --- server_audit rename chains -------------------------------------------------------------


def test_chain_shift_moves_every_generation_one_name_deeper() -> None:
    known = [
        k("a0@1", AUDIT, 900, T0 + 50 * 60_000),
        k("a1@1", f"{AUDIT}.1", 1000, T0 + 20 * 60_000, "rotated"),
        k("a2@1", f"{AUDIT}.2", 1000, T0 - 10 * 60_000, "rotated"),
    ]
    entries = [
        e(AUDIT, 30, T0 + 61 * 60_000),
        e(f"{AUDIT}.1", 1000, T0 + 55 * 60_000),
        e(f"{AUDIT}.2", 1000, T0 + 20 * 60_000),
        e(f"{AUDIT}.3", 1000, T0 - 10 * 60_000),
    ]
    assert plan(known, entries) == {
        Moved("a2@1", entries[3]),
        Moved("a1@1", entries[2]),
        Moved("a0@1", entries[1]),
        Born(entries[0], "active"),
    }


def test_a_chain_shifted_twice_between_listings_follows_positions_not_sizes() -> None:
    """Two rotations between listings, all in one LastWritten period: the active content is
    the deeper of the two new rotated names, though the shallower one is smaller."""
    known = [
        k("a0@1", AUDIT, 500, T0),
        k("a1@1", f"{AUDIT}.1", 60_032, T0, "rotated"),
    ]
    entries = [
        e(AUDIT, 300, T0),
        e(f"{AUDIT}.1", 60_061, T0),  # born and rotated between the listings
        e(f"{AUDIT}.2", 60_073, T0),  # a0@1, grown and renamed twice
        e(f"{AUDIT}.3", 60_032, T0),
    ]
    assert plan(known, entries) == {
        Moved("a1@1", entries[3]),
        Moved("a0@1", entries[2]),
        Born(entries[1], "rotated"),
        Born(entries[0], "active"),
    }


def test_chain_shift_with_the_deepest_file_dropped() -> None:
    known = [
        k("a0@1", AUDIT, 900, T0 + 50 * 60_000),
        k("a1@1", f"{AUDIT}.1", 1000, T0 + 20 * 60_000, "rotated"),
    ]
    entries = [e(AUDIT, 30, T0 + 61 * 60_000), e(f"{AUDIT}.1", 1000, T0 + 55 * 60_000)]
    assert plan(known, entries) == {
        Gone("a1@1", "deleted"),
        Moved("a0@1", entries[1]),
        Born(entries[0], "active"),
    }


def test_incremental_listing_of_a_shifted_chain_needs_a_full_listing() -> None:
    known = [
        k("a0@1", AUDIT, 900, T0 + 50 * 60_000),
        k("a1@1", f"{AUDIT}.1", 1000, T0 - 2 * HOUR, "rotated"),
    ]
    entries = (e(AUDIT, 30, T0 + 61 * 60_000), e(f"{AUDIT}.1", 1000, T0 + 55 * 60_000))
    outcome = reconcile(known, Listing(entries, T0 + 40 * 60_000), ALL)
    assert isinstance(outcome, NeedsFullListing)


def test_listing_horizon_keeps_a_quiet_chain_active_file_in_view() -> None:
    known = [k("a0@1", AUDIT, 900, T0), k("s@1", SLOW, 10, T0 + 5 * HOUR)]
    since = listing_since(known, T0 + 5 * HOUR, 600_000, ALL)
    assert since <= T0 - 2_000
    assert listing_since([known[1]], T0 + 5 * HOUR, 600_000, ALL) == T0 + 5 * HOUR - 600_000


# --- deletion before read, deleted instances -------------------------------------------------


def test_everything_is_gone_from_an_empty_full_listing() -> None:
    known = [k("s@1", SLOW, 10, T0), k("p@1", f"{PG}.2026-01-01-0000", 10, T0)]
    assert plan(known, []) == {Gone("s@1", "deleted"), Gone("p@1", "deleted")}


def test_at_most_one_change_per_known_generation() -> None:
    known = [
        k("e@1", ERR, 400, T0 + 5 * HOUR + 40 * 60_000),
        k("e5@1", f"{ERR}.5", 90, T0 - 19 * HOUR, "rotated"),
        k("e6@1", f"{ERR}.6", 90, T0 - 18 * HOUR, "rotated"),
    ]
    entries = [
        e(f"{ERR}.5", 450, T0 + 5 * HOUR + 59 * 60_000),
        e(ERR, 20, T0 + 6 * HOUR + 1000),
    ]
    outcome = reconcile(known, Listing(tuple(entries)), ALL)
    assert isinstance(outcome, Plan)
    identities = [c.identity for c in outcome.changes if not isinstance(c, Born)]
    assert len(identities) == len(set(identities)) == 3


def test_rules_filter_kinds_and_ignored_names() -> None:
    rules = NameRules(frozenset({"error"}), frozenset({"error/mysql-error.log"}))
    assert rules.classify(ERR) is not None
    assert rules.classify("error/mysql-error.log") is None
    assert rules.classify(SLOW) is None
    outcome = reconcile([], Listing((e(SLOW, 10, T0), e(ERR, 5, T0))), rules)
    assert outcome == Plan((Born(e(ERR, 5, T0), "active"),))


def test_identity_names_its_birth_name_and_generation() -> None:
    identity = make_identity(f"{SLOW}.2026-01-04.9", 3)
    assert identity == f"{SLOW}.2026-01-04.9@3"
    assert birth_name(identity) == f"{SLOW}.2026-01-04.9"
