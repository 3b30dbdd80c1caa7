"""``python -m devstack {up,down,status,env}``: the local stack for manual work.

``up`` starts the services detached (they outlive this command) and records them in
``.stack/state.json``; ``down`` stops them; ``env`` prints ``export`` lines to point a shell at
them (``eval "$(python -m devstack env)"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.stack import ROOT, SERVICES, LocalStack, saved_status, stop_saved


def _state_dir() -> Path:
    return Path(os.environ.get("AURORA_STACK_DIR", ROOT / ".stack"))


def _exports(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack in the background")
    up.add_argument("--services", default=",".join(SERVICES), help="comma-separated subset")
    sub.add_parser("down", help="stop the stack started by 'up'")
    sub.add_parser("status", help="show which services answer")
    sub.add_parser("env", help="print export lines for the running stack")
    args = parser.parse_args(argv)
    state_dir = _state_dir()
    state_file = state_dir / "state.json"

    if args.command == "up":
        if saved_status(state_file):
            print("a stack is already recorded; run 'make stack-down' first", file=sys.stderr)
            return 1
        state_dir.mkdir(exist_ok=True)
        stack = LocalStack(state_dir, die_with_parent=False)
        stack.start(name.strip() for name in args.services.split(",") if name.strip())
        stack.save(state_file)
        for name, item in stack.running.items():
            print(f"{name:12} 127.0.0.1:{item.port}  log: {item.process.log_path}")
        print(f"\nstate in {state_file}; point a shell at it with:")
        print('  eval "$(.venv/bin/python -m devstack env)"')
        return 0
    if args.command == "down":
        stopped = stop_saved(state_file)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    if args.command == "status":
        status = saved_status(state_file)
        if not status:
            print("no stack recorded")
        for name, state in status.items():
            print(f"{name:12} {state}")
        return 0
    if not state_file.exists():
        print("no stack recorded; run 'make stack-up'", file=sys.stderr)
        return 1
    sys.stdout.write(_exports(json.loads(state_file.read_text())["env"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
