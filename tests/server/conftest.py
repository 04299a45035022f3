from __future__ import annotations

import pytest

from server.app import ServerThread
from tests.support.realredis import RealRedis, need_binary


@pytest.fixture(scope="module")
def ours():
    srv = ServerThread("--enable-debug-command", "yes").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    need_binary("redis-server")
    srv = RealRedis(tmp_path_factory.mktemp("real-redis"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
