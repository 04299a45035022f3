#!/usr/bin/env python3
"""rdbkit-server against real redis-server 7.0 (and, opt-in, fakeredis's TCP server).

Runs `redis-benchmark -t set,get,lpush,hset,zadd -n N -c 50`, without and with
`-P 16`, against each server in turn and prints requests per second side by side,
with rdbkit's (and fakeredis's) throughput as a fraction of real Redis's. The issue's
targets: at least 0.40 unpipelined and 0.20 with -P 16.

    python3 bench/server_bench.py                # -n 200000, the issue's setting
    python3 bench/server_bench.py -n 20000       # quicker
    python3 bench/server_bench.py --fakeredis    # add fakeredis (pip install fakeredis)

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = "set,get,lpush,hset,zadd"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")  # RESP: fakeredis has no inline commands
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


@contextlib.contextmanager
def real_redis(workdir: Path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def rdbkit_server(workdir: Path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def fakeredis_server(workdir: Path):
    try:
        from fakeredis import TcpFakeServer
    except ImportError:
        sys.exit("fakeredis with TcpFakeServer is not installed (pip install 'fakeredis>=2.24')")
    port = free_port()
    # socketserver listens with a backlog of 5: redis-benchmark's 50 clients would be reset
    server = TcpFakeServer(("127.0.0.1", port), bind_and_activate=False, server_type="redis")
    server.request_queue_size = 128
    server.server_bind()
    server.server_activate()
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        wait_port(port)
        yield port
    finally:
        server.shutdown()


def bench(port: int, n: int, pipeline: int) -> dict[str, float]:
    cmd = ["redis-benchmark", "-p", str(port), "-t", TESTS, "-n", str(n), "-c", "50",
           "--csv"]
    if pipeline > 1:
        cmd += ["-P", str(pipeline)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    out = done.stdout
    rows = csv.reader(io.StringIO(out))
    next(rows, None)
    return {row[0]: float(row[1]) for row in rows if len(row) > 1}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200_000, help="requests per test")
    ap.add_argument("--fakeredis", action="store_true", help="also run fakeredis's server")
    args = ap.parse_args(argv)
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        sys.exit("redis-server and redis-benchmark are required")
    servers = [("redis", real_redis), ("rdbkit", rdbkit_server)]
    if args.fakeredis:
        servers.append(("fakeredis", fakeredis_server))
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pipeline in (1, 16):
            for name, factory in servers:
                with factory(Path(tmp)) as port:
                    results[(name, pipeline)] = bench(port, args.n, pipeline)
    names = [s[0] for s in servers]
    for pipeline in (1, 16):
        print(f"\n-P {pipeline}  (requests per second; ratio = server / redis)")
        header = f"{'test':8}" + "".join(f"{n:>12}" for n in names) + "".join(
            f"{n + '/redis':>18}" for n in names[1:])
        print(header)
        ratios = {n: [] for n in names[1:]}
        for test in ("SET", "GET", "LPUSH", "HSET", "ZADD"):
            base = results[("redis", pipeline)].get(test, 0.0)
            line = f"{test:8}" + "".join(
                f"{results[(n, pipeline)].get(test, 0.0):12.0f}" for n in names)
            for n in names[1:]:
                r = results[(n, pipeline)].get(test, 0.0) / base if base else 0.0
                ratios[n].append(r)
                line += f"{r:18.2f}"
            print(line)
        target = 0.40 if pipeline == 1 else 0.20
        for n, rs in ratios.items():
            mean = sum(rs) / len(rs)
            print(f"{n}: mean ratio {mean:.2f} (target for rdbkit {target:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
