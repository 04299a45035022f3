"""Wiring: config -> engine -> network loop, plus an in-process runner for tests."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from .config import Config
from .engine import Engine
from .net import Server


class Logger:
    """Redis-style log lines (`pid:M 21 Nov 2026 06:00:00.000 * msg`) to stdout or a file."""

    def __init__(self, path: str = "", level: str = "notice") -> None:
        self.path = path
        self.quiet = level == "warning"

    def __call__(self, msg: str, mark: str = "*") -> None:
        if self.quiet and mark != "#":
            return
        t = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(t)) + ".%03d" % (t % 1 * 1000)
        line = f"{os.getpid()}:M {stamp} {mark} {msg}\n"
        try:
            if self.path:
                with open(self.path, "a") as f:
                    f.write(line)
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
        except OSError:
            pass


def build(config: Config, *, config_file: str | None = None, log=None) -> Server:
    """Engine + listening loop + persistence, booted from disk (dump.rdb / AOF).

    Raises AofLoadError / FormatError when the files on disk refuse to load, as Redis
    refuses to start.
    """
    from .persist.manager import Persistence

    engine = Engine(config)
    engine.config_file = os.path.abspath(config_file) if config_file else ""
    srv = Server(engine, log=log)
    srv.listen()
    try:
        srv.persist = engine.persist = Persistence(engine, log=srv.log, tick=srv.loading_tick)
        srv.write_at_once = False  # replies wait for the AOF write of their turn
        engine.persist.boot()
        engine.persist.attach()
    except BaseException:
        srv.close_all()
        raise
    return srv


def run(config: Config, *, config_file: str | None = None) -> int:
    """Run until SHUTDOWN or SIGTERM/SIGINT; returns the process exit code."""
    log = Logger(config.get("logfile"), config.get("loglevel"))
    from rdbtools.errors import FormatError

    from .persist.load import AofLoadError

    log("rdbkit-server starting (speaks Redis 7.0 protocol)", "#")
    try:
        srv = build(config, config_file=config_file, log=log)
    except AofLoadError as e:  # before FormatError: it is one
        for line in getattr(e, "lines", None) or [str(e)]:
            log(line, "#")
        return 1
    except FormatError as e:
        log("Fatal error loading the DB: %s. Exiting." % e, "#")
        return 1
    pidfile = config.get("pidfile")
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")

    def on_signal(signum, frame):
        log(f"Received {signal.Signals(signum).name} scheduling shutdown...", "#")
        p = srv.persist
        if p is not None and not p.done:
            p.shutdown()  # saves when save points are set, closes the AOF
        srv.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"Server initialized; listening on port {srv.port}")
    log("Ready to accept connections tcp")
    try:
        srv.serve_forever()
    finally:
        if pidfile:
            try:
                os.unlink(pidfile)
            except OSError:
                pass
    log("rdbkit-server is now ready to exit, bye bye...", "#")
    return 0


class ServerThread:
    """An in-process server on 127.0.0.1:<ephemeral> in a daemon thread (tests)."""

    def __init__(self, *directives: str, config: Config | None = None) -> None:
        import tempfile

        from .config import apply_text, options_to_text

        self.config = config or Config()
        self._tmp = None
        base = ["--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if "--dir" not in directives:
            # never boot from, or save into, whatever directory the tests run in
            self._tmp = tempfile.TemporaryDirectory(prefix="rdbkit-server-")
            base += ["--dir", self._tmp.name]
        opts = [*base, *directives]
        apply_text(self.config, options_to_text(list(opts)), source="(test)")
        self.server: Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def engine(self) -> Engine:
        return self.server.engine

    def start(self) -> "ServerThread":
        self.server = build(self.config)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None and self.thread.is_alive():
            self.server.stop()
            # wake the selector so the loop notices at once
            import socket

            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                pass
            self.thread.join(10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def client(self, **kw):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
