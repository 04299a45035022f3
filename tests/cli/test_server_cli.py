"""`rdbkit-server` / `rdbkit server`: argument handling and one real subprocess run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from click.testing import CliRunner

from rdbtools.cli.main import main as rdbkit_main
from server.cli import command
from tests.support.realredis import free_port


def test_version():
    result = CliRunner().invoke(command, ["--version"])
    assert result.exit_code == 0
    assert "rdbkit-server" in result.output


def test_bad_config_file_is_a_clean_error(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("port 7000\nbogus yes\n")
    result = CliRunner().invoke(command, [str(conf)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{conf}" in result.output and "line 2" in result.output


def test_bad_option_value(tmp_path):
    result = CliRunner().invoke(command, ["--port", "notaport"])
    assert result.exit_code == 1
    assert "integer" in result.output


def test_rdbkit_group_has_server():
    result = CliRunner().invoke(rdbkit_main, ["server", "--version"])
    assert result.exit_code == 0, result.output


def test_subprocess_smoke(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--port", str(port),
                             "--bind", "127.0.0.1", "--logfile", str(tmp_path / "log")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with s:
            s.sendall(b"PING\r\nSHUTDOWN NOSAVE\r\n")
            s.settimeout(5)
            assert s.recv(100).startswith(b"+PONG")
        assert proc.wait(10) == 0
        assert "Ready to accept connections" in (tmp_path / "log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
