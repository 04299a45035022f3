"""The sans-I/O command engine: keyspace, command table, `execute(client, argv) -> reply`.

No sockets here: the network loop, an AOF replayer or a test drive the same
`Engine.execute`. Executed writes are offered to `prop_hooks` in their propagated form
(`hook(dbid, argv)`), wrapped in MULTI/EXEC for transactions, for the AOF writer.
"""

from __future__ import annotations

import os
import time

from rdbtools.sds import repr_bytes

from .config import Config
from .db import Database
from .proto import NULL_ARRAY, OK, QUEUED, Error, err

WRONGTYPE = Error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = Error(b"ERR syntax error")
NOT_INT = Error(b"ERR value is not an integer or out of range")
NOT_FLOAT = Error(b"ERR value is not a valid float")
NOAUTH = Error(b"NOAUTH Authentication required.")


class CommandError(Exception):
    """Raised anywhere inside a handler: becomes the error reply."""

    def __init__(self, reply) -> None:
        if isinstance(reply, str):
            reply = err(reply)
        self.reply = reply


class Command:
    __slots__ = ("name", "handler", "arity", "flags", "first", "last", "step", "subs",
                 "fullname", "group", "is_write", "parent", "since", "calls", "failed")

    def __init__(self, name, handler, arity, flags, first, last, step, group, since) -> None:
        self.name = name
        self.fullname = name
        self.handler = handler
        self.arity = arity
        self.flags = frozenset(flags.split())
        self.first, self.last, self.step = first, last, step
        self.subs: dict[bytes, Command] | None = None
        self.group = group
        self.is_write = "write" in self.flags
        self.parent = None
        self.since = since
        self.calls = 0
        self.failed = 0


#: name (lowercase bytes) -> Command; filled by the `cmd_*` modules through `command()`
COMMANDS: dict[bytes, Command] = {}


def command(name: str, arity: int, flags: str = "", first: int = 0, last: int = 0,
            step: int = 0, group: str = "generic", since: str = "1.0.0"):
    """Register a handler `fn(engine, client, argv) -> reply`; `name` may be `parent|sub`."""

    def deco(fn):
        cmd = Command(name, fn, arity, flags, first, last, step, group, since)
        if "|" in name:
            parent, sub = name.split("|")
            p = COMMANDS[parent.encode()]
            if p.subs is None:
                p.subs = {}
            cmd.parent = p
            p.subs[sub.encode()] = cmd
        else:
            COMMANDS[name.encode()] = cmd
        return fn

    return deco


def container(name: str, group: str = "server", since: str = "1.0.0", flags: str = "") -> None:
    """A command that only has subcommands (CONFIG, CLIENT, OBJECT, ...)."""
    COMMANDS[name.encode()] = Command(name, None, -2, flags, 0, 0, 0, group, since)


class Client:
    """Per-connection state the engine needs; the network layer hangs its own on `conn`."""

    __slots__ = ("id", "name", "db", "resp", "authenticated", "multi", "multi_error",
                 "watched", "dirty_cas", "addr", "laddr", "fd", "ctime", "last_interaction",
                 "last_cmd", "close_after_reply", "conn", "lib_name", "lib_ver", "kind",
                 "no_evict", "flags_extra", "killed", "tot_cmds", "subs", "psubs", "pushed")

    def __init__(self, cid: int, engine: "Engine", addr: str = "", laddr: str = "",
                 fd: int = -1) -> None:
        self.id = cid
        self.name = b""
        self.db = engine.dbs[0]
        self.resp = 2
        self.authenticated = not engine.config.requirepass
        self.multi: list | None = None
        self.multi_error = False
        self.watched: dict[tuple[int, bytes], bool] = {}
        self.dirty_cas = False
        self.addr = addr
        self.laddr = laddr
        self.fd = fd
        self.ctime = time.time()
        self.last_interaction = self.ctime
        self.last_cmd = b"NULL"
        self.close_after_reply = False
        self.conn = None
        self.lib_name = b""
        self.lib_ver = b""
        self.kind = "normal"
        self.no_evict = False
        self.flags_extra = ""
        self.killed = False
        self.tot_cmds = 0
        self.subs: set[bytes] = set()       # Pub/Sub channels
        self.psubs: set[bytes] = set()      # Pub/Sub patterns
        self.pushed: list = []              # messages for a client without a connection


class Engine:
    def __init__(self, config: Config | None = None, *, clock=time.time) -> None:
        self.config = config or Config()
        self.clock = clock
        self.now_ms = int(clock() * 1000)
        self.dbs = [Database(i, self) for i in range(self.config.databases)]
        self.commands = COMMANDS
        self.clients: dict[int, Client] = {}
        self.next_client_id = 1
        self.prop_hooks: list = []
        # The hooks in force outside EXEC and scripts (which put a buffer of their own
        # in place and wrap what it gathers themselves)
        self._outer_hooks = self.prop_hooks
        self.log = lambda msg, mark="*": None  # the server installs its logger
        self.persist = None  # server.persist.manager.Persistence once wired (app.build)
        self._prop_override = None
        self._prop_db = -1
        self.dirty = 0
        self.loading = False
        self.functions: dict[bytes, bytes] = {}  # library name -> code
        self.monitors: list = []                 # clients in MONITOR mode
        self.channels: dict[bytes, set] = {}     # Pub/Sub channel -> clients
        self.patterns: dict[bytes, set] = {}     # Pub/Sub pattern -> clients
        self.start_time = time.time()
        self.run_id = os.urandom(20).hex()
        self.stats = _fresh_stats()
        self.error_replies = 0
        self.shutdown_requested = None  # set by SHUTDOWN: (flags)
        self.in_exec = False
        self.expire_cursor = 0
        self.renames: dict[bytes, bytes | None] = {}
        for old, new in self.config.renames.items():
            self.rename_command(old.encode(), new.encode())
        _load_command_modules()
        self.reset_stats()

    # -- clients ----------------------------------------------------------------------
    def new_client(self, addr: str = "", laddr: str = "", fd: int = -1) -> Client:
        c = Client(self.next_client_id, self, addr, laddr, fd)
        self.next_client_id += 1
        self.clients[c.id] = c
        self.stats["total_connections_received"] += 1
        return c

    def free_client(self, c: Client) -> None:
        self.unwatch_all(c)
        if c in self.monitors:
            self.monitors.remove(c)
        for ch in c.subs:
            self._unsub(self.channels, ch, c)
        for pat in c.psubs:
            self._unsub(self.patterns, pat, c)
        self.clients.pop(c.id, None)

    # -- MONITOR ------------------------------------------------------------------------
    def _feed_monitors(self, c: Client, argv: list[bytes]) -> None:
        t = self.clock()
        line = b"%d.%06d [%d %s]" % (int(t), int(t % 1 * 1_000_000), c.db.id,
                                    (c.addr or "lua").encode())
        line += b"".join(b" " + repr_bytes(a) for a in argv)
        from .proto import Simple

        for m in list(self.monitors):
            if m is not c:
                self.push(m, Simple(line))

    # -- Pub/Sub ------------------------------------------------------------------------
    @staticmethod
    def _unsub(table, name, c) -> None:
        members = table.get(name)
        if members is not None:
            members.discard(c)
            if not members:
                del table[name]

    def push(self, c: Client, message) -> None:
        """Deliver an out-of-band message (Pub/Sub) to a client."""
        if c.conn is not None:
            c.conn.push(message)
        else:
            c.pushed.append(message)

    def rename_command(self, old: bytes, new: bytes) -> None:
        cmd = self.commands.get(old.lower())
        if cmd is None:
            return
        self.commands = dict(self.commands)
        del self.commands[old.lower()]
        if new:
            self.commands[new.lower()] = cmd

    # -- propagation --------------------------------------------------------------------
    def propagate(self, dbid: int, argv: list[bytes]) -> None:
        for hook in self.prop_hooks:
            hook(dbid, argv)

    def propagate_block(self, items: list) -> None:
        """Propagate `(dbid, argv)` items as Redis 7.0 does what one command, EXEC or
        script produced: several go out wrapped in MULTI/EXEC."""
        wrap = len(items) > 1
        if wrap:
            self.propagate(items[0][0], [b"MULTI"])
        for db, a in items:
            self.propagate(db, a)
        if wrap:
            self.propagate(items[-1][0], [b"EXEC"])

    def rewrite(self, *argvs: list[bytes]) -> None:
        """Propagate these commands instead of the one executed (e.g. EXPIRE -> PEXPIREAT)."""
        if self._prop_override is None:
            self._prop_override = []
        self._prop_override.extend(argvs)

    # -- the entry point ------------------------------------------------------------------
    def execute(self, c: Client, argv: list[bytes]):
        """Run one request for client `c` exactly as Redis's processCommand would."""
        self.now_ms = int(self.clock() * 1000)
        name = argv[0].lower()
        cmd = self.commands.get(name)
        if cmd is None:
            return self._reject(c, _unknown(argv))
        if cmd.subs is not None and len(argv) >= 2:
            sub = cmd.subs.get(argv[1].lower())
            if sub is None:
                return self._reject(c, err("ERR unknown subcommand '%s'. Try %s HELP." % (
                    _trunc(argv[1]), argv[0].decode("utf-8", "replace").upper())))
            cmd = sub
        arity = cmd.arity
        n = len(argv)
        if (arity > 0 and arity != n) or n < -arity:
            return self._reject(c, err("ERR wrong number of arguments for '%s' command"
                                       % cmd.fullname))
        if not c.authenticated and "no-auth" not in cmd.flags:
            return self._reject(c, NOAUTH)
        if (c.subs or c.psubs) and c.resp == 2 and cmd.name not in _PUBSUB_CONTEXT:
            return self._reject(c, err(
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                "QUIT / RESET are allowed in this context" % cmd.fullname))
        if c.multi is not None and cmd.name not in _NOT_QUEUED:
            if "no-multi" in cmd.flags:
                return self._reject(c, err("ERR Command not allowed inside a transaction"))
            c.multi.append((cmd, argv))
            return QUEUED
        return self.call(c, cmd, argv)

    def _reject(self, c: Client, reply):
        if c.multi is not None:
            c.multi_error = True
        self.stats["rejected_calls"] += 1
        self.error_replies += 1
        return reply

    def call(self, c: Client, cmd: Command, argv: list[bytes]):
        dirty = self.dirty
        try:
            reply = cmd.handler(self, c, argv)
        except CommandError as e:
            reply = e.reply
        except RecursionError:
            reply = err("ERR rdbkit-server: nesting too deep in '%s'" % cmd.fullname)
        except Exception as e:  # a bug here must not take the whole server down
            import traceback

            self.log("Internal error in '%s': %s" % (
                cmd.fullname, "".join(traceback.format_exception(e)).rstrip()), "#")
            reply = err("ERR rdbkit-server internal error in '%s': %s" % (
                cmd.fullname, type(e).__name__))
        cmd.calls += 1
        c.last_cmd = cmd.fullname
        if self.monitors and not (cmd.flags & _NOT_MONITORED):
            self._feed_monitors(c, argv)
        if type(reply) is Error:
            cmd.failed += 1
            self.error_replies += 1
        if self.dirty != dirty and cmd.is_write and self.prop_hooks:
            override = self._prop_override
            self._prop_override = None
            todo = [(c.db.id, a) for a in (override if override is not None else (argv,))]
            if self.prop_hooks is self._outer_hooks:
                # a command that propagates as several (SPOP with a count, XREADGROUP
                # of many entries) goes out in MULTI/EXEC, unless already inside one
                self.propagate_block(todo)
            else:
                for db, a in todo:
                    self.propagate(db, a)
        elif self._prop_override is not None:
            self._prop_override = None
        return reply

    @property
    def cmdstats(self) -> dict[str, list]:
        out = {}
        for cmd in self.all_commands():
            if cmd.calls or cmd.failed:
                out[cmd.fullname] = [cmd.calls, 0, cmd.failed]
        return out

    def all_commands(self):
        for cmd in self.commands.values():
            yield cmd
            if cmd.subs:
                yield from cmd.subs.values()

    def reset_stats(self) -> None:
        self.stats = _fresh_stats()
        self.error_replies = 0
        for cmd in self.all_commands():
            cmd.calls = cmd.failed = 0

    # -- transactions -------------------------------------------------------------------
    def exec_multi(self, c: Client):
        if c.multi is None:
            return err("ERR EXEC without MULTI")
        queued = c.multi
        if c.multi_error:
            self.discard(c)
            return err("EXECABORT Transaction discarded because of previous errors.")
        if c.dirty_cas or self._watched_expired(c):
            self.discard(c)
            return NULL_ARRAY
        c.multi = None
        c.multi_error = False
        self.unwatch_all(c)
        replies = []
        hooks = self.prop_hooks
        buffered: list = []
        if hooks:
            self.prop_hooks = [lambda db, a: buffered.append((db, a))]
        self.in_exec = True
        try:
            for cmd, argv in queued:
                replies.append(self.call(c, cmd, argv))
        finally:
            self.in_exec = False
            self.prop_hooks = hooks
        if buffered:
            self.propagate_block(buffered)
        return replies

    def discard(self, c: Client) -> None:
        c.multi = None
        c.multi_error = False
        self.unwatch_all(c)

    def watch(self, c: Client, key: bytes) -> None:
        wk = (c.db.id, key)
        if wk in c.watched:
            return
        db = c.db
        c.watched[wk] = key in db.data and db.is_expired(key)
        db.watched.setdefault(key, set()).add(c)

    def unwatch_all(self, c: Client) -> None:
        for dbid, key in c.watched:
            db = self.dbs[dbid]
            s = db.watched.get(key)
            if s is not None:
                s.discard(c)
                if not s:
                    del db.watched[key]
        c.watched = {}
        c.dirty_cas = False

    def _watched_expired(self, c: Client) -> bool:
        for (dbid, key), was_expired in c.watched.items():
            if not was_expired and key in self.dbs[dbid].data and self.dbs[dbid].is_expired(key):
                return True
        return False

    # -- periodic work ------------------------------------------------------------------
    def active_expire_cycle(self, budget_s: float = 0.025) -> int:
        """Redis's sampling expiry: 20 keys per db per round, repeat while > 25% expired."""
        self.now_ms = int(self.clock() * 1000)
        deadline = time.monotonic() + budget_s
        total = 0
        for db in self.dbs:
            while db.expires:
                n = len(db.expires)
                start = self.expire_cursor % n if n > 20 else 0
                sample = db.sample_keys(start, 20)
                self.expire_cursor += 20
                now = self.now_ms
                expired = 0
                for k in sample:
                    when = db.expires.get(k)
                    if when is not None and when <= now:
                        db.expire_now(k)
                        expired += 1
                total += expired
                if expired * 4 <= len(sample) or time.monotonic() > deadline:
                    break
            if time.monotonic() > deadline:
                break
        return total

    # -- helpers shared by command modules ---------------------------------------------
    def flush_all(self) -> int:
        n = 0
        for db in self.dbs:
            db.touch_all()
            n += db.clear()
        return n


_NOT_QUEUED = {"exec", "discard", "multi", "watch", "quit", "reset"}
_PUBSUB_CONTEXT = {"subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ssubscribe",
                   "sunsubscribe", "ping", "quit", "reset"}


_NOT_MONITORED = frozenset({"admin", "skip-monitor"})


def _trunc(b: bytes, n: int = 128) -> str:
    return b[:n].decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")


def _unknown(argv: list[bytes]) -> Error:
    args = ""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += "'%s' " % _trunc(a, 128 - len(args))
    return err("ERR unknown command '%s', with args beginning with: %s" % (_trunc(argv[0]), args))


def _fresh_stats() -> dict:
    return {k: 0 for k in (
        "total_connections_received", "total_commands_processed", "expired_keys",
        "evicted_keys", "keyspace_hits", "keyspace_misses", "rejected_connections",
        "total_error_replies", "rejected_calls", "total_net_input_bytes",
        "total_net_output_bytes", "expired_stale_perc", "client_query_buffer_limit_disconnections",
        "client_output_buffer_limit_disconnections", "dump_payload_sanitizations")}


_loaded = False


def _load_command_modules() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import (cmd_geo, cmd_hash, cmd_hll, cmd_keys, cmd_list,  # noqa: F401
                   cmd_pubsub, cmd_scripting, cmd_server, cmd_set, cmd_sort, cmd_stream,
                   cmd_string, cmd_zset)
