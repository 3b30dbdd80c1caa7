"""Sample files of every log kind, written without moto: ``python -m simulator.samples DIR``.

For parser work and the parser-based conformance test: a few simulated minutes across an
hourly rotation and a restart, for Aurora MySQL 2, Aurora MySQL 3 (with ``log_slow_extra``),
Aurora MySQL 3 with RDS-style ``server_audit.log``, and Aurora PostgreSQL with csvlog, plus
the ground truth of every entry (``truth.jsonl``). The layout is the data directory's:
``DIR/<instance>/<LogFileName>``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.clock import DEFAULT_START_US
from simulator.profiles import (
    AURORA_MYSQL_2,
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Engine,
    LogOptions,
    LogProfile,
)
from simulator.streams import InstanceLogs
from simulator.truth import Truth

__all__ = ["SAMPLE_INSTANCES", "SampleInstance", "write_samples"]


@dataclass(frozen=True)
class SampleInstance:
    instance_id: str
    engine: Engine
    options: LogOptions


SAMPLE_INSTANCES = (
    SampleInstance("sample-mysql2", AURORA_MYSQL_2, LogOptions()),
    SampleInstance(
        "sample-mysql3",
        AURORA_MYSQL_3,
        LogOptions(log_slow_extra=True, error_naming="dated_padded"),
    ),
    SampleInstance(
        "sample-mysql3-rds-audit",
        AURORA_MYSQL_3,
        LogOptions(audit_style="server_audit", server_audit_rotate_bytes=64_000),
    ),
    SampleInstance("sample-postgresql", AURORA_POSTGRESQL, LogOptions(csvlog=True)),
)


def write_samples(
    out_dir: Path,
    *,
    minutes: float = 6.0,
    bytes_per_min: float = 60_000,
    seed: int | str = 0,
    truth: Truth | None = None,
) -> Truth:
    """Write the samples under ``out_dir`` (created); returns the truth of what was written.

    The run starts three minutes before an hour, so every file series rotates once, and each
    instance restarts half-way (start-up lines, banners mid-file).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = truth or Truth(jsonl_path=out_dir / "truth.jsonl")
    hour_us = 3_600_000_000
    start_us = (DEFAULT_START_US // hour_us + 1) * hour_us - 180_000_000
    for sample in SAMPLE_INSTANCES:
        profile = LogProfile.realistic(sample.engine, bytes_per_min, sample.options)
        logs = InstanceLogs(
            sample.instance_id,
            sample.engine,
            profile,
            out_dir,
            truth=truth,
            start_us=start_us,
            seed=seed,
        )
        half = start_us + int(minutes * 30_000_000)
        logs.advance_to(half)
        logs.restart()
        logs.advance_to(start_us + int(minutes * 60_000_000))
    truth.flush()
    return truth


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.samples", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--bytes-per-min", type=float, default=60_000)
    parser.add_argument("--seed", default="0")
    args = parser.parse_args(argv)
    truth = write_samples(
        args.out_dir, minutes=args.minutes, bytes_per_min=args.bytes_per_min, seed=args.seed
    )
    for record in truth.files(include_deleted=False):
        print(f"{record.size:>10}  {args.out_dir / record.instance_id / record.name}")
    truth.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
