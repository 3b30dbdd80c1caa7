"""How one tracking item reads as an operator's row: lag in bytes and in seconds."""

from __future__ import annotations

from common.status import by_instance, file_progress
from common.tracking import Checkpoint, Observation, TrackedFile


def _tracked(seen: int, checkpoint: Checkpoint, status: str = "active") -> TrackedFile:
    return TrackedFile(
        "orders-1",
        "general/mysql-general.log@1",
        Observation(
            cluster_id="orders",
            engine="aurora-mysql",
            engine_version="8.0.mysql_aurora.3.05.2",
            log_file="general/mysql-general.log",
            log_kind="general",
            status=status,  # type: ignore[arg-type]
            first_seen_ms=10_000,
            seen_size=seen,
            lost_bytes=7 if status == "deleted" else 0,
        ),
        checkpoint,
    )


def test_lag_seconds_count_from_the_last_checkpoint_or_from_first_sight() -> None:
    moved = file_progress(_tracked(900, Checkpoint(offset=600, updated_at_ms=40_000)), 70_000)
    assert (moved.lag_bytes, moved.lag_s) == (300, 30.0)
    never = file_progress(_tracked(900, Checkpoint()), 70_000)
    assert (never.lag_bytes, never.lag_s) == (900, 60.0)
    # Read past what discovery saw (it read to the file's end): nothing waits.
    ahead = file_progress(_tracked(900, Checkpoint(offset=950, updated_at_ms=1)), 70_000)
    assert (ahead.lag_bytes, ahead.lag_s) == (0, 0.0)


def test_deleted_files_count_for_what_was_lost_only() -> None:
    live = file_progress(_tracked(900, Checkpoint(offset=600, updated_at_ms=40_000)), 70_000)
    gone = file_progress(_tracked(500, Checkpoint(offset=493), status="deleted"), 70_000)
    (summary,) = by_instance([live, gone])
    assert (summary.files, summary.seen_bytes, summary.ingested_bytes) == (1, 900, 600)
    assert (summary.lag_bytes, summary.lag_s, summary.lost_bytes) == (300, 30.0, 7)
