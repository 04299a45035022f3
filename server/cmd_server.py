"""Connection and server commands: PING/ECHO/HELLO/AUTH, transactions, INFO, CONFIG,
CLIENT, COMMAND, TIME, DEBUG, SHUTDOWN, MEMORY, FUNCTION."""

from __future__ import annotations

import os
import re
import resource
import sys
import time

from ._util import glob_match, to_int
from .config import ConfigError
from .engine import COMMANDS, SYNTAX, CommandError, command, container
from .objects import (RHash, RList, RSet, RStream, RZset, encoding_of, to_record)
from .proto import NULL_ARRAY, OK, PONG, Map, Simple, Verbatim, err

REDIS_VERSION = "7.0.15"
RDBKIT_VERSION = "0.1.0"


@command("ping", -1, "fast stale", 0, 0, 0, "connection")
def ping(e, c, argv):
    if len(argv) > 2:
        return err("ERR wrong number of arguments for 'ping' command")
    if (c.subs or c.psubs) and c.resp == 2:
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    if len(argv) == 2:
        return argv[1]
    return PONG


@command("echo", 2, "fast", 0, 0, 0, "connection")
def echo(e, c, argv):
    return argv[1]


@command("quit", -1, "no-auth fast allow-busy", 0, 0, 0, "connection")
def quit_(e, c, argv):
    c.close_after_reply = True
    return OK


@command("reset", 1, "no-auth fast", 0, 0, 0, "connection", since="6.2.0")
def reset(e, c, argv):
    e.discard(c)
    for ch in list(c.subs):
        e._unsub(e.channels, ch, c)
    for pat in list(c.psubs):
        e._unsub(e.patterns, pat, c)
    c.subs.clear()
    c.psubs.clear()
    c.db = e.dbs[0]
    c.resp = 2
    c.name = b""
    c.authenticated = not e.config.requirepass
    return Simple(b"RESET")


def _check_pass(e, c, user, password):
    if user != b"default" or password.decode("utf-8", "surrogateescape") != e.config.requirepass:
        raise CommandError(err("WRONGPASS invalid username-password pair or user is disabled."))
    c.authenticated = True


@command("auth", -2, "no-auth fast stale loading", 0, 0, 0, "connection")
def auth(e, c, argv):
    if len(argv) > 3:
        return SYNTAX
    if len(argv) == 2 and not e.config.requirepass:
        return err("ERR AUTH <password> called without any password configured for the "
                   "default user. Are you sure your configuration is correct?")
    user = argv[1] if len(argv) == 3 else b"default"
    if not e.config.requirepass and user == b"default":
        c.authenticated = True
        return OK
    _check_pass(e, c, user, argv[-1])
    return OK


@command("hello", -1, "no-auth fast stale loading", 0, 0, 0, "connection", since="6.0.0")
def hello(e, c, argv):
    ver = None
    if len(argv) >= 2:
        ver = to_int(argv[1], err("ERR Protocol version is not an integer or out of range"))
        if ver < 2 or ver > 3:
            return err("NOPROTO unsupported protocol version")
    i = 2
    name = None
    while i < len(argv):
        o = argv[i].lower()
        if o == b"auth" and i + 2 < len(argv):
            _check_pass(e, c, argv[i + 1], argv[i + 2])
            i += 3
        elif o == b"setname" and i + 1 < len(argv):
            name = argv[i + 1]
            _check_name(name)
            i += 2
        else:
            return err("ERR Syntax error in HELLO option '%s'" % o.decode("utf-8", "replace"))
    if not c.authenticated:
        return err("NOAUTH HELLO must be called with the client already authenticated, "
                   "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                   "authenticate the client and select the RESP protocol version at the "
                   "same time")
    if name is not None:
        c.name = name
    if ver is not None:
        c.resp = ver
    return Map([(b"server", b"redis"), (b"version", REDIS_VERSION.encode()),
                (b"proto", c.resp), (b"id", c.id), (b"mode", b"standalone"),
                (b"role", b"master"), (b"modules", [])])


# -- transactions ---------------------------------------------------------------------

@command("multi", 1, "no-script loading stale fast allow-busy", 0, 0, 0, "transactions")
def multi(e, c, argv):
    if c.multi is not None:
        return err("ERR MULTI calls can not be nested")
    c.multi = []
    c.multi_error = False
    return OK


@command("exec", 1, "no-script loading stale skip-slowlog", 0, 0, 0, "transactions")
def exec_(e, c, argv):
    return e.exec_multi(c)


@command("discard", 1, "no-script loading stale fast allow-busy", 0, 0, 0, "transactions")
def discard(e, c, argv):
    if c.multi is None:
        return err("ERR DISCARD without MULTI")
    e.discard(c)
    return OK


@command("watch", -2, "no-script loading stale fast allow-busy", 1, -1, 1, "transactions")
def watch(e, c, argv):
    if c.multi is not None:
        return err("ERR WATCH inside MULTI is not allowed")
    for k in argv[1:]:
        e.watch(c, k)
    return OK


@command("unwatch", 1, "no-script loading stale fast allow-busy", 0, 0, 0, "transactions")
def unwatch(e, c, argv):
    e.unwatch_all(c)
    return OK


# -- INFO -------------------------------------------------------------------------------

def _used_memory() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _human(n: int) -> str:
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return "%.2f%s" % (n / size, unit)
    return "%dB" % n


def info_sections(e, c) -> dict[str, list[tuple[str, object]]]:
    now = time.time()
    up = int(now - e.start_time)
    mem = _used_memory()
    net = e.net_info() if hasattr(e, "net_info") else {}
    ru = resource.getrusage(resource.RUSAGE_SELF)
    st = e.stats
    sections = {
        "server": [
            ("redis_version", REDIS_VERSION), ("rdbkit_version", RDBKIT_VERSION),
            ("redis_git_sha1", "00000000"), ("redis_git_dirty", 0),
            ("redis_build_id", "rdbkit"), ("redis_mode", "standalone"),
            ("os", f"{os.uname().sysname} {os.uname().release} {os.uname().machine}"),
            ("arch_bits", 64), ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", net.get("api", "none")), ("atomicvar_api", "python"),
            ("gcc_version", "0.0.0"), ("process_id", os.getpid()), ("process_supervised", "no"),
            ("run_id", e.run_id), ("tcp_port", net.get("port", e.config.port)),
            ("server_time_usec", int(now * 1e6)), ("uptime_in_seconds", up),
            ("uptime_in_days", up // 86400), ("hz", e.config.hz),
            ("configured_hz", e.config.hz), ("lru_clock", int(now) & ((1 << 24) - 1)),
            ("executable", os.path.abspath(sys.argv[0])),
            ("config_file", getattr(e, "config_file", "") or ""),
            ("io_threads_active", 0),
        ],
        "clients": [
            ("connected_clients", len(e.clients)), ("cluster_connections", 0),
            ("maxclients", e.config.maxclients),
            ("client_recent_max_input_buffer", net.get("max_in", 0)),
            ("client_recent_max_output_buffer", net.get("max_out", 0)),
            ("blocked_clients", net.get("blocked", 0)), ("tracking_clients", 0),
            ("clients_in_timeout_table", net.get("blocked", 0)),
        ],
        "memory": [
            ("used_memory", mem), ("used_memory_human", _human(mem)),
            ("used_memory_rss", mem), ("used_memory_rss_human", _human(mem)),
            ("used_memory_peak", ru.ru_maxrss * 1024),
            ("used_memory_peak_human", _human(ru.ru_maxrss * 1024)),
            *_scripting_memory(e),
            ("maxmemory", int(e.config.get("maxmemory"))),
            ("maxmemory_human", _human(int(e.config.get("maxmemory")))),
            ("maxmemory_policy", e.config.get("maxmemory-policy")),
            ("mem_fragmentation_ratio", "1.00"), ("mem_allocator", "pymalloc"),
            ("lazyfree_pending_objects", 0),
        ],
        "persistence": e.persist.info_fields() if e.persist is not None else [
            ("loading", 0), ("async_loading", 0), ("rdb_changes_since_last_save", e.dirty),
            ("rdb_bgsave_in_progress", 0), ("rdb_last_save_time", int(e.start_time)),
            ("rdb_last_bgsave_status", "ok"), ("aof_enabled", 0),
            ("aof_rewrite_in_progress", 0), ("aof_last_bgrewrite_status", "ok"),
            ("aof_last_write_status", "ok"),
        ],
        "stats": [
            ("total_connections_received", st["total_connections_received"]),
            ("total_commands_processed", sum(x.calls for x in e.all_commands())),
            ("instantaneous_ops_per_sec", net.get("ops", 0)),
            ("total_net_input_bytes", net.get("in_bytes", 0)),
            ("total_net_output_bytes", net.get("out_bytes", 0)),
            ("rejected_connections", st["rejected_connections"]),
            ("expired_keys", st["expired_keys"]), ("evicted_keys", st["evicted_keys"]),
            ("keyspace_hits", st["keyspace_hits"]), ("keyspace_misses", st["keyspace_misses"]),
            ("pubsub_channels", len(e.channels)), ("pubsub_patterns", len(e.patterns)),
            ("total_error_replies", e.error_replies),
            ("unexpected_error_replies", 0),
            ("dump_payload_sanitizations", st["dump_payload_sanitizations"]),
            ("client_query_buffer_limit_disconnections",
             st["client_query_buffer_limit_disconnections"]),
            ("client_output_buffer_limit_disconnections",
             st["client_output_buffer_limit_disconnections"]),
            ("total_reads_processed", net.get("reads", 0)),
            ("total_writes_processed", net.get("writes", 0)),
        ],
        "replication": [
            ("role", "master"), ("connected_slaves", 0), ("master_failover_state", "no-failover"),
            ("master_replid", e.run_id), ("master_replid2", "0" * 40),
            ("master_repl_offset", 0), ("second_repl_offset", -1),
            ("repl_backlog_active", 0),
        ],
        "cpu": [
            ("used_cpu_sys", "%.6f" % ru.ru_stime), ("used_cpu_user", "%.6f" % ru.ru_utime),
        ],
        "modules": [],
        "errorstats": [],
        "cluster": [("cluster_enabled", 0)],
        "keyspace": [],
    }
    errs: dict[str, int] = getattr(e, "errorstats", {})
    sections["errorstats"] = [(f"errorstat_{k}", f"count={v}") for k, v in sorted(errs.items())]
    for db in e.dbs:
        if db.data:
            sections["keyspace"].append(
                (f"db{db.id}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl=0"))
    sections["commandstats"] = [
        (f"cmdstat_{name}", f"calls={v[0]},usec={v[1]},usec_per_call=0.00,"
                            f"rejected_calls=0,failed_calls={v[2]}")
        for name, v in sorted(e.cmdstats.items())]
    return sections


_DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication",
                     "cpu", "modules", "errorstats", "cluster", "keyspace")


@command("info", -1, "loading stale", 0, 0, 0, "server")
def info(e, c, argv):
    secs = info_sections(e, c)
    wanted = [a.decode("utf-8", "replace").lower() for a in argv[1:]]
    if not wanted or "default" in wanted:
        names = list(_DEFAULT_SECTIONS) + [w for w in wanted if w in secs and w != "default"]
    elif "all" in wanted or "everything" in wanted:
        names = list(secs)
    else:
        names = [w for w in wanted if w in secs]
    out = []
    for name in dict.fromkeys(names):
        if out:
            out.append("")
        out.append("# " + ("CPU" if name == "cpu" else name.capitalize()))
        for k, v in secs[name]:
            out.append(f"{k}:{v}")
    text = "\r\n".join(out) + ("\r\n" if out else "")
    return Verbatim(text.encode())


# -- CONFIG -------------------------------------------------------------------------------

container("config", "server", "2.0.0")


@command("config|get", -3, "admin noscript loading stale", 0, 0, 0, "server")
def config_get(e, c, argv):
    seen = {}
    for pat in argv[2:]:
        for name, value in e.config.matching(pat.decode("utf-8", "surrogateescape")):
            seen[name] = value
    return Map([(k.encode(), v.encode("utf-8", "surrogateescape")) for k, v in seen.items()])


@command("config|set", -4, "admin noscript loading stale", 0, 0, 0, "server")
def config_set(e, c, argv):
    if len(argv) % 2:
        return err("ERR wrong number of arguments for 'config|set' command")
    from ._config_table import ALIASES, DIRECTIVES

    pairs = []
    seen = set()
    for i in range(2, len(argv), 2):
        name = argv[i].decode("utf-8", "surrogateescape").lower()
        canon = ALIASES.get(name, name)
        if canon not in DIRECTIVES:
            return err("ERR Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        if canon in seen:
            return err("ERR CONFIG SET failed (possibly related to argument '%s') - duplicate "
                       "parameter" % name)
        seen.add(canon)
        pairs.append((name, argv[i + 1].decode("utf-8", "surrogateescape")))
    saved = dict(e.config.values)
    for name, value in pairs:
        try:
            e.config.set(name, [value], runtime=True)
        except ConfigError as ex:
            e.config.values = saved
            e.config._cache_ints()
            return err("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                       % (name, ex))
    return OK


@command("config|resetstat", 2, "admin noscript loading stale", 0, 0, 0, "server")
def config_resetstat(e, c, argv):
    from .engine import _fresh_stats

    e.reset_stats()
    return OK


@command("config|rewrite", 2, "admin noscript loading stale", 0, 0, 0, "server")
def config_rewrite(e, c, argv):
    path = getattr(e, "config_file", None)
    if not path:
        return err("ERR The server is running without a config file")
    from rdbtools.fileio import write_file_atomic

    from ._config_table import DIRECTIVES
    from .config import quote_arg

    lines = []
    for name, value in e.config.values.items():
        if name == "dir" or value != DIRECTIVES[name][0]:
            if name in ("save", "bind", "client-output-buffer-limit", "oom-score-adj-values"):
                lines.append(f"{name} {value}" if value else f'{name} ""')
            else:
                lines.append(f"{name} {quote_arg(value)}")
    try:
        write_file_atomic(path, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    except OSError as ex:
        return err("ERR Rewriting config file: %s" % ex.strerror)
    return OK


@command("config|help", 2, "loading stale", 0, 0, 0, "server")
def config_help(e, c, argv):
    return [Simple(s) for s in (
        b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"GET <pattern>", b"    Return parameters matching the glob-like <pattern> and their values.",
        b"SET <directive> <value>", b"    Set the configuration <directive> to <value>.",
        b"RESETSTAT", b"    Reset statistics reported by the INFO command.",
        b"REWRITE", b"    Rewrite the configuration file.", b"HELP", b"    Print this help.")]


# -- CLIENT ---------------------------------------------------------------------------------

container("client", "connection", "2.4.0")

_NAME_OK = re.compile(rb"[!-~]*\Z")


def _check_name(name: bytes) -> None:
    if not _NAME_OK.match(name):
        raise CommandError(err("ERR Client names cannot contain spaces, newlines or special "
                               "characters."))


@command("client|id", 2, "noscript loading stale", 0, 0, 0, "connection", since="5.0.0")
def client_id(e, c, argv):
    return c.id


@command("client|setname", 3, "noscript loading stale", 0, 0, 0, "connection")
def client_setname(e, c, argv):
    _check_name(argv[2])
    c.name = argv[2]
    return OK


@command("client|getname", 2, "noscript loading stale", 0, 0, 0, "connection")
def client_getname(e, c, argv):
    return c.name or None


def client_line(e, x) -> bytes:
    now = time.time()
    conn = x.conn
    qbuf = conn.qbuf_len() if conn is not None else 0
    omem = conn.obuf_len() if conn is not None else 0
    flags = "x" if x.multi is not None else ""
    if conn is not None and getattr(conn, "blocked", None) is not None:
        flags += "b"
    flags = flags or "N"
    cmd = x.last_cmd if isinstance(x.last_cmd, str) else x.last_cmd.decode()
    return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=0 psub=0 "
            "ssub=0 multi=%d qbuf=%d qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 "
            "obl=0 oll=0 omem=%d tot-mem=%d events=r cmd=%s user=default redir=-1 resp=%d"
            % (x.id, x.addr, x.laddr, x.fd, x.name.decode("utf-8", "replace"),
               now - x.ctime, now - x.last_interaction, flags, x.db.id,
               -1 if x.multi is None else len(x.multi), qbuf, omem, qbuf + omem + 16384, cmd,
               x.resp)).encode()


@command("client|list", -2, "admin noscript loading stale", 0, 0, 0, "connection")
def client_list(e, c, argv):
    clients = list(e.clients.values())
    i = 2
    while i < len(argv):
        o = argv[i].lower()
        if o == b"type" and i + 1 < len(argv):
            t = argv[i + 1].lower()
            if t not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return err("ERR Unknown client type '%s'" % argv[i + 1].decode("utf-8", "replace"))
            clients = [x for x in clients if t == b"normal"]
            i += 2
        elif o == b"id" and i + 1 < len(argv):
            ids = set()
            for raw in argv[i + 1:]:
                n = to_int(raw, err("ERR Invalid client ID"))
                if n <= 0:
                    return err("ERR Invalid client ID")
                ids.add(n)
            clients = [x for x in clients if x.id in ids]
            break
        else:
            return SYNTAX
    return Verbatim(b"".join(client_line(e, x) + b"\n" for x in clients))


@command("client|info", 2, "noscript loading stale", 0, 0, 0, "connection", since="6.2.0")
def client_info(e, c, argv):
    return Verbatim(client_line(e, c) + b"\n")


@command("client|kill", -3, "admin noscript loading stale", 0, 0, 0, "connection")
def client_kill(e, c, argv):
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "replace")
        for x in list(e.clients.values()):
            if x.addr == addr:
                _kill(e, c, x)
                return OK
        return err("ERR No such client")
    if len(argv) % 2:
        return SYNTAX
    filters = []
    skipme = True
    for i in range(2, len(argv), 2):
        o, v = argv[i].lower(), argv[i + 1]
        if o == b"id":
            n = to_int(v, err("ERR client-id should be greater than 0"))
            if n <= 0:
                return err("ERR client-id should be greater than 0")
            filters.append(lambda x, n=n: x.id == n)
        elif o == b"addr":
            filters.append(lambda x, a=v.decode(): x.addr == a)
        elif o == b"laddr":
            filters.append(lambda x, a=v.decode(): x.laddr == a)
        elif o == b"type":
            t = v.lower()
            if t not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return err("ERR Unknown client type '%s'" % v.decode("utf-8", "replace"))
            filters.append(lambda x, t=t: t == b"normal")
        elif o == b"user":
            filters.append(lambda x, u=v: u == b"default")
        elif o == b"skipme":
            if v.lower() == b"yes":
                skipme = True
            elif v.lower() == b"no":
                skipme = False
            else:
                return SYNTAX
        else:
            return SYNTAX
    n = 0
    for x in list(e.clients.values()):
        if skipme and x is c:
            continue
        if all(f(x) for f in filters):
            _kill(e, c, x)
            n += 1
    return n


def _kill(e, c, x):
    if x is c:
        c.close_after_reply = True
    else:
        x.killed = True
        if x.conn is not None:
            x.conn.kill()


@command("client|no-evict", 3, "admin noscript loading stale", 0, 0, 0, "connection",
         since="7.0.0")
def client_no_evict(e, c, argv):
    v = argv[2].lower()
    if v not in (b"on", b"off"):
        return SYNTAX
    c.no_evict = v == b"on"
    return OK


@command("client|reply", 3, "noscript loading stale", 0, 0, 0, "connection", since="3.2.0")
def client_reply(e, c, argv):
    v = argv[2].lower()
    if v not in (b"on", b"off", b"skip"):
        return SYNTAX
    if c.conn is not None:
        c.conn.reply_mode = v.decode()
    return OK if v == b"on" else None


@command("client|unblock", -3, "admin noscript loading stale", 0, 0, 0, "connection",
         since="5.0.0")
def client_unblock(e, c, argv):
    n = to_int(argv[2])
    mode = argv[3].lower() if len(argv) > 3 else b"timeout"
    if mode not in (b"timeout", b"error") or len(argv) > 4:
        return err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    x = e.clients.get(n)
    if x is None or x.conn is None or getattr(x.conn, "blocked", None) is None:
        return 0
    x.conn.unblock(mode == b"error")
    return 1


@command("client|help", 2, "loading stale", 0, 0, 0, "connection")
def client_help(e, c, argv):
    return [Simple(s) for s in (
        b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"GETNAME", b"    Return the name of the current connection.",
        b"ID", b"    Return the ID of the current connection.",
        b"INFO", b"    Return information about the current client connection.",
        b"KILL <ip:port>", b"    Kill connection made from <ip:port>.",
        b"LIST [options ...]", b"    Return information about client connections.",
        b"NO-EVICT (ON|OFF)", b"REPLY (ON|OFF|SKIP)", b"SETNAME <name>",
        b"UNBLOCK <clientid> [TIMEOUT|ERROR]", b"HELP", b"    Print this help.")]


# -- COMMAND --------------------------------------------------------------------------------

def _acl_cats(cmd):
    cats = []
    if "write" in cmd.flags:
        cats.append(b"@write")
    if "readonly" in cmd.flags:
        cats.append(b"@read")
    if cmd.group in ("string", "list", "hash", "set", "sorted-set", "stream", "bitmap",
                     "keyspace", "connection", "transactions", "scripting", "geo",
                     "hyperloglog"):
        cats.append(b"@" + cmd.group.replace("sorted-set", "sortedset").replace(
            "transactions", "transaction").encode())
    if "fast" in cmd.flags:
        cats.append(b"@fast")
    else:
        cats.append(b"@slow")
    if "blocking" in cmd.flags:
        cats.append(b"@blocking")
    if "admin" in cmd.flags:
        cats.append(b"@admin")
        cats.append(b"@dangerous")
    return cats


def command_info(cmd):
    subs = [command_info(s) for s in (cmd.subs or {}).values()]
    flags = [Simple(f.encode()) for f in sorted(cmd.flags)]
    key_specs = []
    if cmd.first:
        key_specs = [_key_spec(cmd)]
    return [cmd.fullname.encode(), cmd.arity, flags, cmd.first, cmd.last, cmd.step,
            _acl_cats(cmd), [], key_specs, subs]


def _key_spec(cmd):
    last = cmd.last
    return Map([(b"begin_search", Map([(b"type", b"index"),
                                        (b"spec", Map([(b"index", cmd.first)]))])),
                (b"find_keys", Map([(b"type", b"range"),
                                    (b"spec", Map([(b"lastkey", last - cmd.first if last >= 0
                                                    else last),
                                                   (b"keystep", cmd.step),
                                                   (b"limit", 0)]))]))])


def _doc(cmd):
    from ._docs import arguments

    d = [(b"summary", _SUMMARY.get(cmd.fullname, cmd.fullname.upper()).encode()),
         (b"since", cmd.since.encode()), (b"group", cmd.group.encode())]
    args = arguments(cmd.fullname)
    if args is not None:
        d.append((b"arguments", args))
    if cmd.subs:
        d.append((b"subcommands", Map([(s.fullname.encode(), Map(_doc(s)))
                                       for s in cmd.subs.values()])))
    return d


_SUMMARY = {
    "get": "Get the value of a key", "set": "Set the string value of a key",
    "del": "Delete a key", "ping": "Ping the server",
}


def _lookup(e, name: bytes):
    if b"|" in name:
        p, s = name.lower().split(b"|", 1)
        parent = e.commands.get(p)
        return parent.subs.get(s) if parent is not None and parent.subs else None
    return e.commands.get(name.lower())


@command("command", -1, "loading stale", 0, 0, 0, "server", since="2.8.13")
def command_(e, c, argv):
    return [command_info(x) for x in e.commands.values()]


@command("command|count", 2, "loading stale", 0, 0, 0, "server")
def command_count(e, c, argv):
    return len(e.commands)


@command("command|info", -2, "loading stale", 0, 0, 0, "server")
def command_info_(e, c, argv):
    if len(argv) == 2:
        return [command_info(x) for x in e.commands.values()]
    out = []
    for name in argv[2:]:
        cmd = _lookup(e, name)
        out.append(None if cmd is None else command_info(cmd))
    return out


@command("command|docs", -2, "loading stale", 0, 0, 0, "server", since="7.0.0")
def command_docs(e, c, argv):
    if len(argv) == 2:
        cmds = list(e.commands.values())
    else:
        cmds = [x for x in (_lookup(e, n) for n in argv[2:]) if x is not None]
    return Map([(x.fullname.encode(), Map(_doc(x))) for x in cmds])


@command("command|list", -2, "loading stale", 0, 0, 0, "server", since="7.0.0")
def command_list(e, c, argv):
    names = [x.fullname.encode() for x in e.commands.values()]
    if len(argv) == 2:
        return names
    if len(argv) == 5 and argv[2].lower() == b"filterby":
        how, what = argv[3].lower(), argv[4]
        if how == b"pattern":
            return [n for n in names if glob_match(what, n, nocase=True)]
        if how == b"aclcat":
            cat = b"@" + what.lower()
            return [x.fullname.encode() for x in e.commands.values() if cat in _acl_cats(x)]
        if how == b"module":
            return []
    return SYNTAX


@command("command|getkeys", -3, "loading stale", 0, 0, 0, "server", since="2.8.13")
def command_getkeys(e, c, argv):
    cmd = _lookup(e, argv[2])
    if cmd is None:
        return err("ERR Invalid command specified")
    args = argv[2:]
    if (cmd.arity > 0 and cmd.arity != len(args)) or len(args) < -cmd.arity:
        return err("ERR Invalid number of arguments specified for command")
    if not cmd.first:
        return err("ERR The command has no key arguments")
    last = cmd.last if cmd.last >= 0 else len(args) + cmd.last
    return [args[i] for i in range(cmd.first, last + 1, cmd.step)]


@command("command|help", 2, "loading stale", 0, 0, 0, "server")
def command_help(e, c, argv):
    return [Simple(b"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
            Simple(b"COUNT"), Simple(b"DOCS [<command-name> ...]"), Simple(b"GETKEYS"),
            Simple(b"INFO [<command-name> ...]"), Simple(b"LIST"), Simple(b"HELP")]


@command("time", 1, "loading stale fast", 0, 0, 0, "server", since="2.6.0")
def time_(e, c, argv):
    t = time.time()
    return [b"%d" % int(t), b"%d" % int((t % 1) * 1_000_000)]


@command("lastsave", 1, "loading stale fast", 0, 0, 0, "server")
def lastsave(e, c, argv):
    if e.persist is not None:
        return e.persist.lastsave()
    return int(e.start_time)


# -- DEBUG ---------------------------------------------------------------------------------

def _debug_allowed(e, c) -> bool:
    mode = e.config.debug
    if mode == "yes":
        return True
    if mode == "local":
        return not c.addr or c.addr.startswith(("127.", "[::1]", "::1", "/")) or c.fd < 0
    return False


@command("debug", -2, "admin noscript loading stale", 0, 0, 0, "server")
def debug(e, c, argv):
    if not _debug_allowed(e, c):
        return err("ERR DEBUG command not allowed. If the enable-debug-command option is set "
                   "to \"local\", you can run it from a local connection, otherwise you need "
                   "to set this option in the configuration file, and then restart the server.")
    sub = argv[1].lower()
    if sub == b"digest" and len(argv) == 2:
        return Simple(dataset_digest(e).encode())
    if sub == b"digest-value":
        from rdbtools.digest import value_digest

        out = []
        for k in argv[2:]:
            db = c.db
            v = db.data.get(k)
            if v is None:
                out.append(Simple(b"0" * 40))
                continue
            kind, value, fexp = to_record(v)
            out.append(Simple(value_digest(kind, value, k in db.expires,
                                           field_expires=fexp).hex().encode()))
        return out
    if sub == b"sleep" and len(argv) == 3:
        try:
            secs = float(argv[2])
        except ValueError:
            secs = 0.0
        time.sleep(max(0.0, secs))
        return OK
    if sub == b"set-active-expire" and len(argv) == 3:
        e.active_expire_enabled = argv[2] != b"0"
        return OK
    if sub == b"object" and len(argv) == 3:
        v = c.db.data.get(argv[2])
        if v is None:
            return err("ERR no such key")
        extra = ""
        if type(v) is RList:
            extra = " ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:-2 ql_compressed:0 " \
                    "ql_uncompressed_size:%d" % (1, len(v), len(v))
        return Simple(("Value at:0x0 refcount:1 encoding:%s serializedlength:%d lru:0 "
                       "lru_seconds_idle:0%s" % (encoding_of(v).decode(), _mem(v), extra)
                       ).encode())
    if sub in (b"reload", b"loadaof") and len(argv) == 2 and e.persist is not None:
        ok, msg = (e.persist.debug_reload() if sub == b"reload"
                   else e.persist.debug_loadaof())
        return OK if ok else err(msg)
    if sub == b"help":
        return [Simple(b"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
                Simple(b"DIGEST"), Simple(b"DIGEST-VALUE <key> [<key> ...]"),
                Simple(b"OBJECT <key>"), Simple(b"SET-ACTIVE-EXPIRE <0|1>"),
                Simple(b"SLEEP <seconds>"), Simple(b"HELP")]
    return err("ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
               % argv[1].decode("utf-8", "replace"))


def dataset_digest(e) -> str:
    from rdbtools.digest import DatasetDigest

    d = DatasetDigest()
    for db in e.dbs:
        exp = db.expires
        for k, v in db.data.items():
            kind, value, fexp = to_record(v)
            d.add(db.id, k, kind, value, k in exp, field_expires=fexp)
    return d.hexdigest()


# -- SHUTDOWN --------------------------------------------------------------------------------

@command("shutdown", -1, "admin noscript loading stale no-multi allow-busy", 0, 0, 0,
         "server")
def shutdown(e, c, argv):
    flags = set()
    for a in argv[1:]:
        o = a.lower()
        if o not in (b"nosave", b"save", b"now", b"force", b"abort"):
            return SYNTAX
        flags.add(o)
    if b"save" in flags and b"nosave" in flags:
        return SYNTAX
    if b"abort" in flags:
        if len(flags) > 1:
            return SYNTAX
        return err("ERR No shutdown in progress.")
    running = _scripting(e).running
    if running is not None and b"nosave" not in flags:
        # a busy script: only SHUTDOWN NOSAVE may end the server (and the script)
        return err("BUSY Redis is busy running a script. You can only call %s or SHUTDOWN "
                   "NOSAVE." % ("SCRIPT KILL" if running.is_eval else "FUNCTION KILL"))
    p = e.persist
    if p is not None and not p.done:
        if not p.shutdown(save=b"save" in flags, nosave=b"nosave" in flags,
                          force=b"force" in flags):
            return err("ERR Errors trying to SHUTDOWN. Check logs.")
    e.shutdown_requested = flags
    c.close_after_reply = True
    return None  # no reply: the connection just closes


# -- MEMORY ---------------------------------------------------------------------------------

container("memory", "server", "4.0.0")


def _mem(v) -> int:
    """A rough allocation estimate in Redis's terms (object header + payload)."""
    t = type(v)
    if t is bytes or t is bytearray:
        n = len(v)
        if t is bytes and encoding_of(v) == b"int":
            return 16
        return 16 + n + (3 if n <= 44 else 9)
    if t is RList:
        return 64 + sum(len(x) + 2 for x in v) + 32 * (1 + len(v) // 128)
    if t is RHash:
        base = sum(len(f) + len(x) + 4 for f, x in v.items())
        return 16 + base + (16 if v.lp else 72 + 40 * len(v))
    if t is RSet:
        if v.intset:
            return 16 + 8 + 8 * len(v)
        return 88 + sum(len(m) + 48 for m in v)
    if t is RZset:
        base = sum(len(m) + 12 for m in v.d)
        return 16 + base + (16 if v.lp else 96 + 64 * len(v.d))
    if t is RStream:
        return 96 + sum(sum(len(x) for x in f) + 16 for f in v.entries.values())
    return 16


@command("memory|usage", -3, "readonly", 2, 2, 1, "server")
def memory_usage(e, c, argv):
    if len(argv) not in (3, 5):
        return SYNTAX
    if len(argv) == 5:
        if argv[3].lower() != b"samples":
            return SYNTAX
        to_int(argv[4])
    v = c.db.get(argv[2])
    if v is None:
        return None
    return _mem(v) + len(argv[2]) + 32


@command("memory|help", 2, "loading stale", 0, 0, 0, "server")
def memory_help(e, c, argv):
    return [Simple(b"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
            Simple(b"USAGE <key> [SAMPLES <count>]"), Simple(b"HELP")]


# -- FUNCTION --------------------------------------------------------------------------------

container("function", "scripting", "7.0.0")

def _scripting_memory(e) -> list:
    from .scripting import info_memory_fields

    return list(info_memory_fields(e))


def _scripting(e):
    from .scripting import Scripting

    st = Scripting.of(e)
    st.sync()
    return st


@command("function|load", -3, "write denyoom noscript", 0, 0, 0, "scripting")
def function_load(e, c, argv):
    from .scripting import ScriptError, parse_library_metadata

    replace = False
    if len(argv) == 4:
        if argv[2].lower() != b"replace":
            return err("ERR Unknown option given: %s" % argv[2].decode("utf-8", "replace"))
        replace = True
    elif len(argv) > 4:
        return SYNTAX
    code = argv[-1]
    st = _scripting(e)
    try:
        _, name, skip = parse_library_metadata(code)
        if name in e.functions and not replace:
            return err("ERR Library '%s' already exists" % name.decode("utf-8", "replace"))
        lib = st._compile_body(name, code, skip)
    except ScriptError as x:
        return x.reply
    for f in lib.functions:
        owner = st.functions.get(f.name)
        if owner is not None and owner[0].name != name:
            return err("ERR Function %s already exists" % f.name.decode("utf-8", "replace"))
    e.functions[name] = code
    e.dirty += 1
    st.adopt(lib)
    return name


@command("function|delete", 3, "write noscript", 0, 0, 0, "scripting")
def function_delete(e, c, argv):
    if argv[2] not in e.functions:
        return err("ERR Library not found")
    del e.functions[argv[2]]
    e.dirty += 1
    return OK


@command("function|flush", -2, "write noscript", 0, 0, 0, "scripting")
def function_flush(e, c, argv):
    if len(argv) == 3 and argv[2].lower() not in (b"async", b"sync"):
        return err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    if len(argv) > 3:
        return SYNTAX
    e.functions.clear()
    e.dirty += 1
    return OK


@command("function|list", -2, "noscript", 0, 0, 0, "scripting")
def function_list(e, c, argv):
    withcode = False
    pattern = None
    i = 2
    while i < len(argv):
        o = argv[i].lower()
        if o == b"withcode" and not withcode:
            withcode = True
        elif o == b"libraryname" and i + 1 < len(argv) and pattern is None:
            pattern = argv[i + 1]
            i += 1
        else:
            return err("ERR Unknown argument %s" % argv[i].decode("utf-8", "replace"))
        i += 1
    out = []
    libs = _scripting(e).libraries
    for lib, code in sorted(e.functions.items()):
        if pattern is not None and not glob_match(pattern, lib):
            continue
        compiled = libs.get(lib)
        funcs = compiled.functions if compiled is not None else []
        entry = [(b"library_name", lib), (b"engine", b"LUA"),
                 (b"functions", [Map([(b"name", f.name), (b"description", f.desc),
                                      (b"flags", RSetList([Simple(x.encode())
                                                           for x in f.flags]))])
                                 for f in funcs])]
        if withcode:
            entry.append((b"library_code", code))
        out.append(Map(entry))
    return out


class RSetList(list):
    pass


def _rsetlist_fix():
    from .proto import RSetReply

    global RSetList
    RSetList = RSetReply


_rsetlist_fix()


@command("function|dump", 2, "noscript", 0, 0, 0, "scripting")
def function_dump(e, c, argv):
    from rdbtools import constants as C
    from rdbtools._crc import crc64
    from rdbtools.writer import RdbWriter

    w = RdbWriter(10, checksum=False)
    body = b"".join(w.function(code) for code in e.functions.values()) + C.U16.pack(10)
    return body + C.U64.pack(crc64(body))


@command("function|restore", -3, "write denyoom noscript", 0, 0, 0, "scripting")
def function_restore(e, c, argv):
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            return err("ERR Wrong restore policy given, value should be either FLUSH, APPEND "
                       "or REPLACE.")
    elif len(argv) > 4:
        return SYNTAX
    data = argv[2]
    from rdbtools import constants as C
    from rdbtools._crc import crc64

    if len(data) < 10 or C.U64.unpack_from(data, len(data) - 8)[0] != crc64(data[:-8]) \
            or C.U16.unpack_from(data, len(data) - 10)[0] > 10:
        return err("ERR DUMP payload version or checksum are wrong")
    libs = _parse_function_payload(data[:-10])
    if libs is None:
        return err("ERR given type is not a function")
    from .scripting import ScriptError

    st = _scripting(e)
    new = {}
    for code in libs:
        try:
            lib = st.compile_library(code)
        except ScriptError as x:
            return x.reply
        if lib.name in new:
            return err("ERR Library '%s' already exists" % lib.name.decode("utf-8", "replace"))
        new[lib.name] = lib
    if policy != b"flush":
        for name in new:
            if name in e.functions and policy == b"append":
                return err("ERR Library %s already exists" % name.decode("utf-8", "replace"))
        kept = {f for f, (lib, _) in st.functions.items() if lib.name not in new}
        for lib in new.values():
            for f in lib.functions:
                if f.name in kept:
                    return err("ERR Function %s already exists"
                               % f.name.decode("utf-8", "replace"))
    else:
        e.functions.clear()
    for name, lib in new.items():
        e.functions[name] = lib.code
    e.dirty += 1
    st.sync()
    return OK


def _parse_function_payload(data: bytes):
    from rdbtools.parser import NEED_DATA, RdbParser
    from rdbtools.records import Function

    libs = []
    p = RdbParser(verify_checksum=False)
    try:
        p.feed(b"REDIS0010" + data + b"\xff" + bytes(8))
        p.feed_eof()
        while True:
            ev = p.next_event()
            if ev is NEED_DATA or type(ev).__name__ == "End" or ev is None:
                break
            if isinstance(ev, Function):
                libs.append(bytes(ev.code))
            elif type(ev).__name__ not in ("Header",):
                return None
    except Exception:
        return None
    return libs


@command("function|stats", 2, "noscript allow-busy", 0, 0, 0, "scripting")
def function_stats(e, c, argv):
    st = _scripting(e)
    nfuncs = len(st.functions)
    rs = st.running
    if rs is not None and rs.is_eval:   # as functionStatsCommand: not during an EVAL
        return err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                   "SHUTDOWN NOSAVE.")
    running = None if rs is None else Map([
        (b"name", rs.name.encode("utf-8", "surrogateescape")),
        (b"command", list(rs.argv)), (b"duration_ms", rs.duration_ms())])
    return Map([(b"running_script", running),
                (b"engines", Map([(b"LUA", Map([(b"libraries_count", len(e.functions)),
                                                (b"functions_count", nfuncs)]))]))])


@command("function|kill", 2, "noscript allow-busy", 0, 0, 0, "scripting")
def function_kill(e, c, argv):
    from .scripting import Scripting

    return Scripting.of(e).kill(False) or OK


@command("function|help", 2, "loading stale", 0, 0, 0, "scripting")
def function_help(e, c, argv):
    return [Simple(s) for s in (
        b"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"LOAD [REPLACE] <FUNCTION CODE>", b"DELETE <LIBRARY NAME>",
        b"LIST [LIBRARYNAME PATTERN] [WITHCODE]", b"FLUSH [ASYNC|SYNC]", b"DUMP",
        b"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]", b"STATS", b"KILL", b"HELP")]


_ = (COMMANDS, NULL_ARRAY, RHash)


# -- small server commands clients probe ------------------------------------------------

@command("wait", 3, "noscript", 0, 0, 0, "generic", since="3.0.0")
def wait(e, c, argv):
    n = to_int(argv[1])
    t = to_int(argv[2], err("ERR timeout is not an integer or out of range"))
    if t < 0:
        return err("ERR timeout is negative")
    _ = n
    return 0  # no replicas: nothing to wait for


@command("role", 1, "noscript loading stale fast", 0, 0, 0, "server", since="2.8.12")
def role(e, c, argv):
    return [b"master", 0, []]


container("slowlog", "server", "2.2.12")


@command("slowlog|get", -2, "admin loading stale", 0, 0, 0, "server")
def slowlog_get(e, c, argv):
    if len(argv) == 3:
        n = to_int(argv[2], err("ERR count should be greater than or equal to -1"))
        if n < -1:
            return err("ERR count should be greater than or equal to -1")
    elif len(argv) > 3:
        return err("ERR wrong number of arguments for 'slowlog|get' command")
    return []  # commands are not timed


@command("slowlog|len", 2, "admin loading stale", 0, 0, 0, "server")
def slowlog_len(e, c, argv):
    return 0


@command("slowlog|reset", 2, "admin loading stale", 0, 0, 0, "server")
def slowlog_reset(e, c, argv):
    return OK


@command("slowlog|help", 2, "loading stale", 0, 0, 0, "server")
def slowlog_help(e, c, argv):
    return [Simple(b"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
            Simple(b"GET [<count>]"), Simple(b"LEN"), Simple(b"RESET"), Simple(b"HELP")]


# -- persistence commands (the work is server.persist's) --------------------------------

def _persist(e):
    if e.persist is None:
        raise CommandError(err("ERR persistence is not available in this server"))
    return e.persist


@command("save", 1, "admin noscript no-async-loading no-multi", 0, 0, 0, "server")
def save(e, c, argv):
    ok, msg = _persist(e).cmd_save()
    return OK if ok else err(msg)


@command("bgsave", -1, "admin noscript no-async-loading", 0, 0, 0, "server")
def bgsave(e, c, argv):
    schedule = False
    if len(argv) == 2:
        if argv[1].lower() != b"schedule":
            return SYNTAX
        schedule = True
    elif len(argv) > 2:
        return SYNTAX
    ok, msg = _persist(e).cmd_bgsave(schedule)
    return Simple(msg.encode()) if ok else err(msg)


@command("bgrewriteaof", 1, "admin noscript no-async-loading", 0, 0, 0, "server")
def bgrewriteaof(e, c, argv):
    ok, msg = _persist(e).cmd_bgrewriteaof()
    return Simple(msg.encode()) if ok else err(msg)


@command("monitor", 1, "admin noscript loading stale", 0, 0, 0, "server", since="1.0.0")
def monitor(e, c, argv):
    if c not in e.monitors:
        e.monitors.append(c)
    return OK
