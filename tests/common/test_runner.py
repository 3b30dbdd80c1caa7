"""The service runner: graceful stop on SIGTERM, the deadline, crashes and bad settings."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from common.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Lifecycle, serve
from common.settings import CommonSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(deadline_s: float = 5.0) -> CommonSettings:
    return load_settings(
        CommonSettings,
        {
            "AURORA_HTTP__HOST": "127.0.0.1",
            "AURORA_HTTP__PORT": "0",
            "AURORA_SERVICE__SHUTDOWN_DEADLINE_S": str(deadline_s),
        },
    )


async def test_sigterm_lets_main_drain_and_exit_cleanly() -> None:
    drained = asyncio.Event()

    async def main(lifecycle: Lifecycle) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await lifecycle.stopping.wait()
        assert lifecycle.readiness.shutting_down
        drained.set()

    assert await serve("test", _settings(), main) == EXIT_OK
    assert drained.is_set()


async def test_main_that_ignores_the_stop_is_cancelled_at_the_deadline() -> None:
    cancelled = asyncio.Event()

    async def main(lifecycle: Lifecycle) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.Event().wait()  # never looks at lifecycle.stopping
        except asyncio.CancelledError:
            cancelled.set()
            raise

    started = time.monotonic()
    assert await serve("test", _settings(deadline_s=0.3), main) == EXIT_FAILED
    assert cancelled.is_set()
    assert time.monotonic() - started < 5


async def test_a_crash_is_exit_status_one() -> None:
    async def main(lifecycle: Lifecycle) -> None:
        raise RuntimeError("bug")

    assert await serve("test", _settings(), main) == EXIT_FAILED


def test_service_process_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AURORA_HTTP__HOST": "127.0.0.1",
        "AURORA_HTTP__PORT": "0",
        "AURORA_LOGGING__FORMAT": "json",
        # Nothing listens there: the service must run (alive, not ready) without them.
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "AURORA_VALKEY__URL": "redis://127.0.0.1:1/0",
        "AURORA_HTTP__READINESS_CHECK_TIMEOUT_S": "0.5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "discovery"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["event"] == "service_started"
        assert first["service"] == "discovery"
        base = f"http://127.0.0.1:{first['port']}"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 503
        assert set(ready.json()["checks"]) == {"kafka", "valkey", "dynamodb"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == EXIT_OK
        events = [json.loads(line)["event"] for line in process.stdout if line.startswith("{")]
        assert "shutdown_requested" in events
        assert events[-1] == "service_stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("module", ["discovery", "processor"])
def test_bad_settings_exit_with_status_two_naming_the_variable(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**os.environ, "AURORA_KAFKA__BOOTSTRAP_SERVERS": "nohostport"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_CONFIG
    assert "AURORA_KAFKA__BOOTSTRAP_SERVERS" in result.stderr
