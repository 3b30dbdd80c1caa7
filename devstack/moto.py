"""moto in server mode (S3, DynamoDB, RDS and the rest) as a local process."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.processes import ManagedProcess, free_port

__all__ = ["moto_process"]


def moto_process(
    workdir: Path,
    *,
    port: int | None = None,
    extensions: Sequence[str] = (),
    die_with_parent: bool = True,
) -> tuple[ManagedProcess, int]:
    """A (not yet started) moto server on 127.0.0.1 with ``extensions`` loaded."""
    port = port or free_port()
    argv = [sys.executable, "-m", "devstack.moto_server", "--port", str(port)]
    for extension in extensions:
        argv += ["--extension", extension]
    process = ManagedProcess(
        name="moto",
        argv=argv,
        log_path=workdir / "moto.log",
        # The simulator extension serves log files from here (the writer finds it through
        # GET /_simulator/info); under the stack's workdir so `make clean` removes it.
        env={"PYTHONUNBUFFERED": "1", "AURORA_SIMULATOR__DATA_DIR": str(workdir / "simulator")},
        cwd=Path(__file__).resolve().parent.parent,
        die_with_parent=die_with_parent,
    )
    return process, port
