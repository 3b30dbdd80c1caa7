"""One service of the local stack can go down and come back where clients expect it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from devstack.processes import port_open
from devstack.stack import LocalStack

pytestmark = [pytest.mark.integration]


def test_a_restarted_service_listens_on_its_old_port_and_valkey_comes_back_empty(
    tmp_path: Path,
) -> None:
    stack = LocalStack(tmp_path)
    try:
        port = stack.ensure("valkey").port
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        client.set("lease", "replica-1")
        with pytest.raises(RuntimeError, match="stop_service"):
            stack.restart_service("valkey")
        stack.stop_service("valkey")
        assert not port_open("127.0.0.1", port)
        assert stack.restart_service("valkey").port == port
        assert client.get("lease") is None
        client.close()
    finally:
        assert not stack.stop()
