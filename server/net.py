"""The network loop: one thread, `selectors` (epoll), Redis's rhythm.

Each turn reads every ready client, executes what arrived, and only then writes the
replies out (Redis's beforeSleep / handleClientsWithPendingWrites). The engine never
sees a socket; this module only moves bytes and enforces the connection limits.
"""

from __future__ import annotations

import collections
import errno
import os
import selectors
import socket
import time

from .blocking import Block
from .engine import Engine
from .proto import FastRequestParser, ProtocolError, Raw, encode, err

READ_CHUNK = 64 * 1024
#: Past this many unsent reply bytes a client's further requests wait (and its socket
#: is not read) until the peer drains them: a slow reader cannot grow our memory.
OBUF_PAUSE_BYTES = 4 * 1024 * 1024
DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled "
          b"and no password is set for the default user. In this mode connections are only "
          b"accepted from the loopback interface. If you want to connect from external "
          b"computers to Redis you may adopt one of the following solutions: 1) Just "
          b"disable protected mode sending the command 'CONFIG SET protected-mode no' from "
          b"the loopback interface by connecting to Redis from the same host the server is "
          b"running, however MAKE SURE Redis is not publicly accessible from internet if you "
          b"do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you "
          b"can just disable the protected mode by editing the Redis configuration file, and "
          b"setting the protected mode option to 'no', and then restarting the server. 3) If "
          b"you started the server manually just for testing, restart it with the "
          b"'--protected-mode no' option. 4) Set up an authentication password for the "
          b"default user. NOTE: You only need to do one of the above things in order for the "
          b"server to start accepting connections from the outside.\r\n")


def _is_local(addr) -> bool:
    if isinstance(addr, str) or addr is None:
        return True
    host = addr[0]
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or \
        host.startswith("::ffff:127.")


def _fmt_addr(addr) -> str:
    if isinstance(addr, tuple):
        host, port = addr[0], addr[1]
        if ":" in host:
            return f"[{host}]:{port}" if False else f"{host}:{port}"
        return f"{host}:{port}"
    return f"{addr or '/unix'}:0"


class Conn:
    __slots__ = ("sock", "fd", "client", "parser", "out", "out_len", "pending_view",
                 "queue", "closing", "reply_mode", "blocked", "server", "want_write",
                 "reading", "obuf_soft_since", "dead")

    def __init__(self, server: "Server", sock: socket.socket, client) -> None:
        self.server = server
        self.sock = sock
        self.fd = sock.fileno()
        self.client = client
        self.parser = FastRequestParser(server.engine.config.proto_max_bulk_len)
        self.parser.authenticated = client.authenticated
        self.out: list[bytes] = []
        self.out_len = 0
        self.pending_view: memoryview | None = None
        self.queue: collections.deque = collections.deque()
        self.closing = False
        self.reply_mode = "on"
        self.blocked = None  # (argv, Block, deadline)
        self.want_write = False
        self.reading = True
        self.obuf_soft_since = None
        self.dead = False

    # used by CLIENT LIST / KILL / UNBLOCK
    def qbuf_len(self) -> int:
        return self.parser.pending()

    def obuf_len(self) -> int:
        return self.out_len + (len(self.pending_view) if self.pending_view is not None else 0)

    def kill(self) -> None:
        self.server.close_conn(self)

    def unblock(self, as_error: bool) -> None:
        if self.blocked is None:
            return
        _, blk, _ = self.blocked
        self.blocked = None
        self.server._drop_blocked(self)
        if as_error:
            self.reply(err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        else:
            self.reply(blk.timeout_reply)
        self.server.pending_write.add(self)
        self.server.process(self)

    def push(self, message) -> None:
        """A Pub/Sub message for this client, sent with this turn's writes."""
        if self.dead:
            return
        chunks: list = []
        encode(message, self.client.resp == 3, chunks)
        data = b"".join(chunks)
        self.out.append(data)
        self.out_len += len(data)
        self.server.pending_write.add(self)

    def reply(self, r) -> None:
        if self.reply_mode != "on":
            if self.reply_mode == "skip":
                self.reply_mode = "on"
            return
        t = type(r)
        if t is Raw:
            data = r
        elif t is bytes:
            data = b"$%d\r\n%s\r\n" % (len(r), r)
        elif t is int:
            data = b":%d\r\n" % r
        else:
            chunks: list = []
            encode(r, self.client.resp == 3, chunks)
            data = b"".join(chunks)
        self.out.append(data)
        self.out_len += len(data)


class Server:
    def __init__(self, engine: Engine, *, log=None) -> None:
        self.engine = engine
        self.config = engine.config
        self.sel = selectors.DefaultSelector()
        self.listeners: list[socket.socket] = []
        self.paused_listeners: list[socket.socket] = []
        self.conns: dict[int, Conn] = {}
        self.pending_write: set[Conn] = set()
        self.blocked: set[Conn] = set()
        self.block_order: dict[Conn, int] = {}
        self.block_seq = 0
        self.running = False
        self.log = log or (lambda msg, mark="*": None)
        self.ports: list[int] = []
        self.stats = {"in_bytes": 0, "out_bytes": 0, "reads": 0, "writes": 0, "max_in": 0,
                      "max_out": 0}
        self.last_dirty = -1
        #: reply right after each client's input is executed; off once persistence is
        #: wired, since the AOF must be written (and fsynced) before replies leave
        self.write_at_once = True
        #: server.persist.manager.Persistence, set by app.build (None: no persistence)
        self.persist = None
        self.loading_now = False
        self.busy_now = False          # serving other clients while a script runs
        self.executing: Conn | None = None   # whose command the engine is running
        self.active_expire_enabled = True
        engine.net_info = self.net_info
        engine.busy_tick = self.busy_tick
        if log is not None:
            engine.log = log
        engine.active_expire_enabled = True

    # -- setup -------------------------------------------------------------------------
    def listen(self) -> None:
        port = self.config.port
        addrs = self.config.get("bind").split()
        for a in addrs:
            optional = a.startswith("-")
            host = a[1:] if optional else a
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
                s.listen(int(self.config.get("tcp-backlog")))
            except OSError as e:
                s.close()
                if optional and e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT,
                                            errno.EPROTONOSUPPORT):
                    continue
                raise OSError(e.errno, f"Could not create server TCP listening socket "
                                       f"{host}:{port}: {e.strerror}") from None
            s.setblocking(False)
            self.listeners.append(s)
            self.sel.register(s, selectors.EVENT_READ, None)
            if port == 0:
                port = s.getsockname()[1]  # every address shares the first ephemeral port
            self.ports.append(s.getsockname()[1])
        unix = self.config.get("unixsocket")
        if unix:
            try:
                os.unlink(unix)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(unix)
            os.chmod(unix, int(self.config.get("unixsocketperm") or "0", 8) or 0o700)
            s.listen(511)
            s.setblocking(False)
            self.listeners.append(s)
            self.sel.register(s, selectors.EVENT_READ, None)
        if not self.listeners:
            raise OSError(errno.EADDRNOTAVAIL, "Failed listening on any address")
        if self.ports:
            self.config.values["port"] = str(self.ports[0])
            self.config._cache_ints()

    @property
    def port(self) -> int:
        return self.ports[0] if self.ports else 0

    def net_info(self) -> dict:
        d = dict(self.stats)
        d["api"] = type(self.sel).__name__.replace("Selector", "").lower()
        d["port"] = self.port
        d["blocked"] = len(self.blocked)
        return d

    # -- the loop ------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.running = True
        period = 1.0 / self.config.hz
        next_cron = time.monotonic() + period
        sel = self.sel
        try:
            while self.running:
                timeout = max(0.0, next_cron - time.monotonic())
                for key, mask in sel.select(timeout):
                    conn = key.data
                    if conn is None:
                        try:
                            self.accept(key.fileobj)
                        except Exception as e:  # never let accepting stop the loop
                            self.log(f"Accepting client connection: {e}", "#")
                        continue
                    try:
                        if mask & selectors.EVENT_WRITE:
                            self.flush(conn)
                        if mask & selectors.EVENT_READ and not conn.dead:
                            self.read(conn)
                    except Exception as e:  # one client's trouble never stops the server
                        self.log(f"Closing client {conn.client.addr} after an internal "
                                 f"error: {type(e).__name__}: {e}", "#")
                        self.close_conn(conn)
                if self.blocked and self.engine.dirty != self.last_dirty:
                    self.retry_blocked()
                self.last_dirty = self.engine.dirty
                if self.pending_write:
                    self.write_pending()
                if self.engine.shutdown_requested is not None:
                    break
                now = time.monotonic()
                if now >= next_cron:
                    self.cron()
                    period = 1.0 / self.config.hz
                    next_cron = now + period
        finally:
            self.close_all()

    def stop(self) -> None:
        self.running = False
        self.engine.shutdown_requested = set()

    def accept(self, lsock) -> None:
        for _ in range(100):
            try:
                sock, addr = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors: stop polling the listener until the next cron
                    # turn instead of spinning on an always-readable socket
                    self.log(f"Accepting client connection: {e.strerror}", "#")
                    try:
                        self.sel.unregister(lsock)
                    except (KeyError, ValueError):
                        pass
                    self.paused_listeners.append(lsock)
                return
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if len(self.conns) >= self.config.maxclients:
                self.engine.stats["rejected_connections"] += 1
                _send_and_close(sock, b"-ERR max number of clients reached\r\n")
                continue
            if (self.config.protected_mode and not self.config.requirepass
                    and sock.family != socket.AF_UNIX and not _is_local(addr)):
                _send_and_close(sock, DENIED)
                continue
            try:
                laddr = sock.getsockname()
            except OSError:
                laddr = None
            client = self.engine.new_client(_fmt_addr(addr), _fmt_addr(laddr), sock.fileno())
            conn = Conn(self, sock, client)
            client.conn = conn
            self.conns[conn.fd] = conn
            self.sel.register(sock, selectors.EVENT_READ, conn)

    def read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close_conn(conn)
            return
        if not data:
            self.close_conn(conn)
            return
        self.stats["reads"] += 1
        self.stats["in_bytes"] += len(data)
        conn.client.last_interaction = time.time()
        p = conn.parser
        p.max_bulk = self.config.proto_max_bulk_len  # CONFIG SET applies at once
        p.feed(data)
        try:
            cmds = p.commands()
        except ProtocolError as e:
            conn.queue.append(e)
            cmds = ()
        if p.pending() > self.config.query_buffer_limit:
            self.engine.stats["client_query_buffer_limit_disconnections"] += 1
            self.log(f"Closing client that reached max query buffer length: "
                     f"{conn.client.addr}")
            self.close_conn(conn)
            return
        if cmds:
            conn.queue.extend(cmds)
        self.process(conn)
        if self.write_at_once and not conn.dead and (conn.out or conn.closing):
            self.pending_write.discard(conn)
            self.flush(conn)

    def process(self, conn: Conn) -> None:
        """Execute queued requests until blocked, closing, or output is too far behind."""
        engine = self.engine
        client = conn.client
        q = conn.queue
        execute = engine.execute
        if self.busy_now and conn is self.executing:
            return   # its script is running: what it sent meanwhile waits (protectClient)
        while q and conn.blocked is None and not conn.closing:
            if conn.out_len > OBUF_PAUSE_BYTES:
                self._pause_reading(conn)
                break
            argv = q.popleft()
            if type(argv) is ProtocolError:
                conn.reply(err("ERR " + str(argv)))
                conn.closing = True
                q.clear()
                break
            if self.loading_now and not _allowed_while_loading(engine, argv):
                conn.reply(LOADING)
                continue
            if self.busy_now and not _allowed_while_busy(engine, argv):
                conn.reply(_busy_reply(engine))
                continue
            outer, self.executing = self.executing, conn
            try:
                reply = execute(client, argv)
            finally:
                self.executing = outer
            if type(reply) is Block:
                self._block(conn, argv, reply)
                break
            if reply is not None or not client.close_after_reply:
                conn.reply(reply)
            if client.close_after_reply:
                conn.closing = True
                q.clear()
                break
        conn.parser.authenticated = client.authenticated
        if conn.out or conn.closing:
            self.pending_write.add(conn)
        self._check_obuf_limits(conn)

    def _pause_reading(self, conn: Conn) -> None:
        if conn.reading:
            conn.reading = False
            self._update_events(conn)

    def _update_events(self, conn: Conn) -> None:
        if conn.dead:
            return
        ev = (selectors.EVENT_READ if conn.reading else 0) | \
             (selectors.EVENT_WRITE if conn.want_write else 0)
        try:
            key = self.sel.get_key(conn.sock)
        except (KeyError, ValueError):
            key = None
        if ev == 0:
            if key is not None:
                self.sel.unregister(conn.sock)
        elif key is None:
            self.sel.register(conn.sock, ev, conn)
        elif key.events != ev:
            self.sel.modify(conn.sock, ev, conn)

    def _check_obuf_limits(self, conn: Conn) -> None:
        hard, soft, secs = self.config.obuf.get("normal", (0, 0, 0))
        size = conn.obuf_len()
        if hard and size > hard:
            self._obuf_kill(conn)
        elif soft and size > soft:
            now = time.monotonic()
            if conn.obuf_soft_since is None:
                conn.obuf_soft_since = now
            elif now - conn.obuf_soft_since >= secs:
                self._obuf_kill(conn)
        else:
            conn.obuf_soft_since = None

    def _obuf_kill(self, conn: Conn) -> None:
        self.engine.stats["client_output_buffer_limit_disconnections"] += 1
        self.log(f"Client {conn.client.addr} scheduled to be closed ASAP for overcoming of "
                 f"output buffer limits.")
        self.close_conn(conn)

    def _block(self, conn: Conn, argv, blk: Block) -> None:
        deadline = time.monotonic() + blk.timeout if blk.timeout > 0 else None
        conn.blocked = (blk.rerun or argv, blk, deadline)
        self.block_seq += 1
        self.block_order[conn] = self.block_seq
        self.blocked.add(conn)

    def _drop_blocked(self, conn: Conn) -> None:
        self.blocked.discard(conn)
        self.block_order.pop(conn, None)

    def retry_blocked(self) -> None:
        # first blocked, first served, as Redis serves clients blocked on a key
        order = self.block_order
        for conn in sorted(self.blocked, key=lambda c: order.get(c, 0)):
            if conn.blocked is None or conn.dead:
                self._drop_blocked(conn)
                continue
            argv, blk, deadline = conn.blocked
            reply = self.engine.execute(conn.client, argv)
            if type(reply) is Block:
                continue
            conn.blocked = None
            self._drop_blocked(conn)
            conn.reply(reply)
            self.pending_write.add(conn)
            self.process(conn)

    def write_pending(self) -> None:
        if self.persist is not None:
            self.persist.before_sleep()  # AOF written (and fsynced) before any reply
        pending = self.pending_write
        self.pending_write = set()
        for conn in pending:
            if not conn.dead:
                self.flush(conn)

    def flush(self, conn: Conn) -> None:
        if conn.pending_view is None and conn.out:
            data = conn.out[0] if len(conn.out) == 1 else b"".join(conn.out)
            conn.out = []
            conn.out_len = 0
            conn.pending_view = memoryview(data)
        view = conn.pending_view
        if view is not None:
            try:
                n = conn.sock.send(view)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self.close_conn(conn)
                return
            self.stats["writes"] += 1
            self.stats["out_bytes"] += n
            if n < len(view):
                conn.pending_view = view[n:]
                if not conn.want_write:
                    conn.want_write = True
                    self._update_events(conn)
                return
            conn.pending_view = None
        if conn.out:
            self.flush(conn)
            return
        if conn.want_write:
            conn.want_write = False
            self._update_events(conn)
        if conn.closing:
            self.close_conn(conn)
            return
        if not conn.reading:
            conn.reading = True
            self._update_events(conn)
            self.process(conn)

    def close_conn(self, conn: Conn) -> None:
        if conn.dead:
            return
        conn.dead = True
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        try:
            conn.sock.close()
        except OSError:
            pass
        self.conns.pop(conn.fd, None)
        self._drop_blocked(conn)
        self.pending_write.discard(conn)
        self.engine.free_client(conn.client)

    def close_all(self) -> None:
        if self.persist is not None and not self.persist.done:
            try:
                self.persist.shutdown(nosave=True)  # close the AOF cleanly
            except Exception as ex:
                self.log(f"Closing persistence: {type(ex).__name__}: {ex}", "#")
        for conn in list(self.conns.values()):
            if conn.out or conn.pending_view is not None:
                try:
                    conn.sock.setblocking(True)
                    conn.sock.settimeout(0.2)
                    if conn.pending_view is not None:
                        conn.sock.sendall(conn.pending_view)
                    conn.sock.sendall(b"".join(conn.out))
                except OSError:
                    pass
            self.close_conn(conn)
        for s in self.listeners:
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self.listeners = []
        unix = self.config.get("unixsocket")
        if unix:
            try:
                os.unlink(unix)
            except OSError:
                pass
        self.sel.close()

    def loading_tick(self) -> None:
        """One quick turn while the dataset loads: accept, read, answer `-LOADING` to
        everything but the commands Redis allows then (INFO, PING is not one of them)."""
        self._serve_turn(busy=False)

    serve_loading_tick = loading_tick

    def busy_tick(self) -> None:
        """A quick turn while a script runs past busy-reply-threshold (the script calls
        it now and then): accept, read, answer `-BUSY` to everything but the commands
        flagged allow-busy (SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE, ...),
        which run now; the client running the script is left alone."""
        if self.busy_now or self.loading_now:
            return
        self._serve_turn(busy=True)

    def _serve_turn(self, *, busy: bool) -> None:
        """One non-blocking turn of the loop from inside a long job (loading, a busy
        script): `process` answers what the job allows and refuses the rest."""
        flag = "busy_now" if busy else "loading_now"
        setattr(self, flag, True)
        try:
            for key, mask in self.sel.select(0):
                conn = key.data
                try:
                    if conn is None:
                        self.accept(key.fileobj)
                        continue
                    if mask & selectors.EVENT_WRITE:
                        self.flush(conn)
                    if mask & selectors.EVENT_READ and not conn.dead:
                        self.read(conn)
                except Exception as e:
                    self.log(f"Error while {'a script runs' if busy else 'loading'}: "
                             f"{type(e).__name__}: {e}", "#")
            pending = self.pending_write
            self.pending_write = set()
            for conn in pending:
                if not conn.dead and conn is not self.executing:
                    self.flush(conn)
                elif conn is self.executing:
                    self.pending_write.add(conn)
        finally:
            setattr(self, flag, False)

    def cron(self) -> None:
        e = self.engine
        if self.persist is not None:
            try:
                self.persist.cron()
            except Exception as ex:  # persistence trouble is logged, the loop goes on
                self.log(f"Persistence cron: {type(ex).__name__}: {ex}", "#")
        while self.paused_listeners:
            lsock = self.paused_listeners.pop()
            try:
                self.sel.register(lsock, selectors.EVENT_READ, None)
            except (KeyError, ValueError):
                pass
        if getattr(e, "active_expire_enabled", True):
            e.active_expire_cycle(budget_s=0.25 / self.config.hz)
        now = time.monotonic()
        for conn in list(self.blocked):
            _, blk, deadline = conn.blocked
            if deadline is not None and now >= deadline:
                conn.blocked = None
                self._drop_blocked(conn)
                conn.reply(blk.timeout_reply)
                self.pending_write.add(conn)
                self.process(conn)
        idle = self.config.timeout
        if idle:
            wall = time.time()
            for conn in list(self.conns.values()):
                if conn.blocked is None and wall - conn.client.last_interaction > idle:
                    self.close_conn(conn)
        for conn in list(self.conns.values()):
            if conn.obuf_soft_since is not None:
                self._check_obuf_limits(conn)
            if conn.client.killed:
                self.close_conn(conn)
        if self.pending_write:
            self.write_pending()


LOADING = Raw(b"-LOADING Redis is loading the dataset in memory\r\n")


def _allowed_while_loading(engine, argv) -> bool:
    cmd = engine.commands.get(argv[0].lower())
    if cmd is not None and cmd.subs is not None and len(argv) >= 2:
        cmd = cmd.subs.get(argv[1].lower(), cmd)
    return cmd is None or "loading" in cmd.flags


def _allowed_while_busy(engine, argv) -> bool:
    cmd = engine.commands.get(argv[0].lower())
    if cmd is not None and cmd.subs is not None and len(argv) >= 2:
        cmd = cmd.subs.get(argv[1].lower(), cmd)
    return cmd is None or "allow-busy" in cmd.flags


def _busy_reply(engine):
    from .scripting import Scripting

    running = Scripting.of(engine).running
    kill = "SCRIPT KILL" if running is None or running.is_eval else "FUNCTION KILL"
    return Raw(b"-BUSY Redis is busy running a script. You can only call %s or SHUTDOWN "
               b"NOSAVE.\r\n" % kill.encode())


def _send_and_close(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except OSError:
        pass
    sock.close()
