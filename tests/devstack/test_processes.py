"""Stack processes never outlive whoever started them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from devstack.processes import ManagedProcess, group_alive, process_alive, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_until_gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    # A shell that starts a grandchild which ignores SIGTERM.
    script = "trap '' TERM; sleep 300 & echo $! > grandchild.pid; wait"
    process = ManagedProcess(
        "sleeper", ["bash", "-c", script], log_path=tmp_path / "log", cwd=tmp_path
    )
    process.start()
    deadline = time.monotonic() + 10
    pid_file = tmp_path / "grandchild.pid"
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "grandchild never started"
        time.sleep(0.02)
    grandchild = int(pid_file.read_text())
    process.stop(timeout_s=1)
    assert not process.leftovers()
    assert not group_alive(process.pid)
    assert _wait_until_gone(grandchild)


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    # A parent process starts a stack process, then is killed without any cleanup.
    parent_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from devstack.processes import ManagedProcess
        child = ManagedProcess("child", ["sleep", "300"], log_path=Path({str(tmp_path)!r}) / "c")
        child.start()
        print(child.pid, flush=True)
        time.sleep(300)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", parent_code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait()
    assert _wait_until_gone(child_pid), "the child outlived its killed parent"


def test_wait_for_port_gives_up_when_the_process_died(tmp_path: Path) -> None:
    process = ManagedProcess("quitter", ["true"], log_path=tmp_path / "log")
    process.start()
    started = time.monotonic()
    assert not wait_for_port("127.0.0.1", 1, timeout_s=10, alive=process.running)
    assert time.monotonic() - started < 5


def test_detached_stack_up_status_env_down(tmp_path: Path) -> None:
    env = {**os.environ, "AURORA_STACK_DIR": str(tmp_path)}

    def devstack(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "devstack", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    devstack("up", "--services", "valkey")
    try:
        status = devstack("status")
        assert "valkey" in status
        assert "up" in status
        exports = devstack("env")
        assert "export AURORA_VALKEY__URL=redis://127.0.0.1:" in exports
    finally:
        stopped = devstack("down")
    assert "valkey" in stopped
    assert "no stack recorded" in devstack("status")
