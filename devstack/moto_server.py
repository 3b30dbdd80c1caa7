"""moto's AWS server with this project's extensions loaded: ``python -m devstack.moto_server``.

moto falls short of what Aurora does (its RDS has no log files worth the name); an extension is
a function ``module:function`` called once before the server starts, which may register
backends, responses and URL routes with moto (the simulator's RDS log API is one). moto itself
is never forked or patched on disk.

Options: ``--host``, ``--port`` (0 picks a free one), ``--port-file`` (the bound port is written
there once the server listens), ``--extension module:function`` (repeatable).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["load_extension", "main"]


def load_extension(spec: str) -> Callable[[], object]:
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise SystemExit(f"moto_server: extension {spec!r} must look like module:function")
    function: Callable[[], object] = getattr(importlib.import_module(module_name), attribute)
    return function


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.moto_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--extension", action="append", default=[])
    args = parser.parse_args(argv)

    # Credentials moto accepts; real ones must never reach a local fake.
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)

    for spec in args.extension:
        load_extension(spec)()

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    if args.port_file is not None:
        partial = args.port_file.with_suffix(".partial")
        partial.write_text(str(port))
        partial.rename(args.port_file)
    print(f"moto listening on {host}:{port}", flush=True)

    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
