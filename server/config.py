"""Server configuration: redis.conf parsing with Redis's quoting rules, CONFIG GET/SET.

Sans-I/O apart from `load_file` (and `include`): the engine only sees a `Config`.
"""

from __future__ import annotations

import fnmatch
import os
import re

from rdbtools.sds import repr_bytes
from rdbtools.sds import split_args as _split

from ._config_table import ALIASES, DIRECTIVES


class ConfigError(Exception):
    """A bad directive; `str()` is the message Redis prints (file and line included)."""


class SplitError(ValueError):
    """Unbalanced quotes (sdssplitargs returned NULL)."""


def split_args(line: bytes) -> list[bytes]:
    """Split like Redis's `sdssplitargs`; SplitError where it returns NULL."""
    argv = _split(line)
    if argv is None:
        raise SplitError("unbalanced quotes")
    return argv


def quote_arg(arg: str) -> str:
    """Quote one value the way Redis's `sdscatrepr` does when it rebuilds argv lines."""
    return repr_bytes(arg.encode("utf-8", "surrogateescape")).decode("ascii")


_ENUMS = {
    "appendfsync": ("everysec", "always", "no"),
    "loglevel": ("debug", "verbose", "notice", "warning"),
    "maxmemory-policy": ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                         "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"),
    "sanitize-dump-payload": ("no", "yes", "clients"),
    "enable-debug-command": ("no", "yes", "local"),
    "enable-protected-configs": ("no", "yes", "local"),
    "enable-module-command": ("no", "yes", "local"),
    "supervised": ("upstart", "systemd", "auto", "no"),
    "repl-diskless-load": ("disabled", "on-empty-db", "swapdb"),
    "cluster-preferred-endpoint-type": ("ip", "hostname", "unknown-endpoint"),
    "propagation-error-behavior": ("ignore", "panic", "panic-on-replicas"),
    "shutdown-on-sigint": ("default", "save", "nosave", "now", "force"),
    "shutdown-on-sigterm": ("default", "save", "nosave", "now", "force"),
    "acl-pubsub-default": ("allchannels", "resetchannels"),
    "oom-score-adj": ("no", "yes", "relative", "absolute"),
    "syslog-facility": ("user", "local0", "local1", "local2", "local3", "local4", "local5",
                        "local6", "local7"),
    "tls-auth-clients": ("no", "yes", "optional"),
}

#: directives taking several arguments on one line (the rest take exactly one)
#: integer directives that take memory units (1gb, 64mb, ...)
_MEMORY = {"active-defrag-ignore-bytes", "auto-aof-rewrite-min-size", "client-query-buffer-limit",
           "cluster-link-sendbuf-limit", "hash-max-listpack-value", "hll-sparse-max-bytes",
           "maxmemory", "proto-max-bulk-len", "repl-backlog-size", "stream-node-max-bytes",
           "zset-max-listpack-value", "set-max-listpack-value"}

_MULTI_ARG = {"save", "bind", "client-output-buffer-limit", "oom-score-adj-values",
              "rename-command", "user", "loadmodule", "include", "sentinel"}
#: accepted in files and on the command line, but not CONFIG-visible
_FILE_ONLY = {"include", "rename-command", "user", "loadmodule", "sentinel"}

_MEM_UNITS = {"": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
              "g": 1000 ** 3, "gb": 1024 ** 3}
_MEM_RE = re.compile(r"(-?\d+)([kmg]b?)?\Z", re.I)


def parse_memory(text: str) -> int | None:
    m = _MEM_RE.match(text)
    if not m:
        return None
    return int(m.group(1)) * _MEM_UNITS[(m.group(2) or "").lower()]


class Config:
    """Current values by canonical name, as strings (what CONFIG GET shows)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {k: v[0] for k, v in DIRECTIVES.items()}
        self.values["dir"] = os.getcwd()
        self.renames: dict[str, str] = {}
        self.listeners: list = []  # callables(name) notified after a change
        self._cache_ints()

    # -- typed access ----------------------------------------------------------------
    def _cache_ints(self) -> None:
        v = self.values
        self.databases = int(v["databases"])
        self.port = int(v["port"])
        self.hash_max_entries = int(v["hash-max-listpack-entries"])
        self.hash_max_value = int(v["hash-max-listpack-value"])
        self.zset_max_entries = int(v["zset-max-listpack-entries"])
        self.zset_max_value = int(v["zset-max-listpack-value"])
        self.set_max_intset = int(v["set-max-intset-entries"])
        self.proto_max_bulk_len = int(v["proto-max-bulk-len"])
        self.query_buffer_limit = int(v["client-query-buffer-limit"])
        self.maxclients = int(v["maxclients"])
        self.requirepass = v["requirepass"]
        self.hz = max(1, min(500, int(v["hz"])))
        self.debug = v["enable-debug-command"]
        self.stream_node_max_entries = int(v["stream-node-max-entries"])
        self.protected_mode = v["protected-mode"] == "yes"
        self.timeout = int(v["timeout"])
        self.obuf = _parse_obuf(v["client-output-buffer-limit"])
        self.lua_time_limit = int(v["busy-reply-threshold"])

    def get(self, name: str) -> str:
        return self.values[ALIASES.get(name, name)]

    # -- setting -----------------------------------------------------------------------
    def set(self, name: str, args: list[str], *, runtime: bool) -> None:
        """Validate and set one directive; raise ConfigError(reason) when invalid."""
        canon = ALIASES.get(name, name)
        if canon not in DIRECTIVES:
            raise ConfigError("Bad directive or wrong number of arguments")
        default, kind, flag = DIRECTIVES[canon]
        if runtime and flag == "immutable":
            raise ConfigError("can't set immutable config")
        if runtime and flag == "protected":
            raise ConfigError("can't set protected config")
        if canon in _MULTI_ARG:
            value = self._multi(canon, args, runtime)
        else:
            if len(args) != 1:
                raise ConfigError("wrong number of arguments")
            value = self._single(canon, kind, args[0])
        self.values[canon] = value
        self._cache_ints()
        for cb in self.listeners:
            cb(canon)

    def _single(self, name: str, kind: str, raw: str) -> str:
        if name in _ENUMS:
            choices = _ENUMS[name]
            low = raw.lower()
            if low not in choices:
                raise ConfigError("argument(s) must be one of the following: "
                                  + ", ".join(choices))
            return low
        if kind == "bool":
            low = raw.lower()
            if low not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            return low
        if name == "maxmemory-clients":
            if raw.endswith("%") and raw[:-1].isdigit():
                return raw
            n = parse_memory(raw)
            if n is None:
                raise ConfigError("argument must be a memory or percent value")
            return str(n)
        if kind == "int":
            if name in _MEMORY:
                n = parse_memory(raw)
                if n is None or raw.startswith("-"):   # memtoull refuses a sign
                    raise ConfigError("argument must be a memory value")
                if n > 9223372036854775807 and name != "maxmemory":   # ULLONG in Redis
                    raise ConfigError(
                        "argument must be between 0 and 9223372036854775807 inclusive")
            else:
                n = int(raw) if re.fullmatch(r"-?\d+", raw) else None
                if n is None:
                    raise ConfigError("argument couldn't be parsed into an integer")
            if name == "databases" and n < 1:
                raise ConfigError("argument must be between 1 and 2147483647 inclusive")
            if name == "port" and not 0 <= n <= 65535:
                raise ConfigError("argument must be between 0 and 65535 inclusive")
            if name == "maxclients" and n < 1:
                raise ConfigError("argument must be between 1 and 2147483647 inclusive")
            if name == "hz" and n < 0:
                raise ConfigError("argument must be between 0 and 2147483647 inclusive")
            return str(n)
        if name == "dir":
            if not os.path.isdir(raw):
                raise ConfigError(f"No such file or directory")
            return os.path.abspath(raw)
        return raw

    def _multi(self, name: str, args: list[str], runtime: bool) -> str:
        if len(args) == 1 and args[0]:
            args = args[0].split()  # Redis splits a lone multi-arg value on spaces
        if name == "save":
            if args == [""] or not args:
                return ""
            if len(args) % 2 or not all(a.isdigit() for a in args):
                raise ConfigError("Invalid save parameters")
            return " ".join(args)
        if name == "bind":
            if not args or len(args) > 16:
                raise ConfigError("Too many bind addresses specified.")
            return " ".join(args)
        if name == "client-output-buffer-limit":
            if len(args) % 4:
                raise ConfigError("Wrong number of arguments in buffer limit configuration.")
            cur = _parse_obuf(self.values[name])
            for i in range(0, len(args), 4):
                cls = args[i].lower()
                if cls == "slave":
                    cls = "replica"
                if cls not in ("normal", "replica", "pubsub"):
                    raise ConfigError("Invalid client class specified in buffer limit "
                                      "configuration.")
                hard, soft = parse_memory(args[i + 1]), parse_memory(args[i + 2])
                secs = parse_memory(args[i + 3])
                if hard is None or soft is None or secs is None or min(hard, soft, secs) < 0:
                    raise ConfigError("Error in hard, soft or soft_seconds setting in buffer "
                                      "limit configuration.")
                cur[cls] = (hard, soft, secs)
            return " ".join(f"{'slave' if c == 'replica' else c} {h} {s} {t}"
                            for c, (h, s, t) in cur.items())
        if name == "oom-score-adj-values":
            if len(args) != 3 or not all(re.fullmatch(r"-?\d+", a) for a in args):
                raise ConfigError("Invalid oom-score-adj-values")
            return " ".join(args)
        return " ".join(args)

    # -- CONFIG GET ------------------------------------------------------------------
    def matching(self, pattern: str) -> list[tuple[str, str]]:
        pat = pattern.lower()
        names = list(self.values) + list(ALIASES)
        if not any(c in pat for c in "*?["):
            if pat in self.values or pat in ALIASES:
                return [(pat, self.get(pat))]
            return []
        return [(n, self.get(n)) for n in names if fnmatch.fnmatchcase(n, pat)]


def _parse_obuf(text: str) -> dict[str, tuple[int, int, int]]:
    parts = text.split()
    out = {}
    for i in range(0, len(parts) - 3, 4):
        cls = "replica" if parts[i] == "slave" else parts[i]
        out[cls] = (int(parts[i + 1]), int(parts[i + 2]), int(parts[i + 3]))
    return out


# -- files and command lines -----------------------------------------------------------

def apply_text(cfg: Config, text: bytes, *, source: str, depth: int = 0) -> None:
    """Apply redis.conf-style lines; errors name the source and line as Redis does."""
    for lineno, raw in enumerate(text.split(b"\n"), 1):
        line = raw.strip(b" \t\r\n")
        if not line or line.startswith(b"#"):
            continue
        try:
            argv = split_args(line)
        except SplitError:
            raise ConfigError(_fatal(source, lineno, line, "Unbalanced quotes in configuration line"))
        if not argv:
            continue
        name = argv[0].decode("utf-8", "surrogateescape").lower()
        args = [a.decode("utf-8", "surrogateescape") for a in argv[1:]]
        try:
            if name == "include":
                if len(args) != 1:
                    raise ConfigError("Bad directive or wrong number of arguments")
                if depth > 16:
                    raise ConfigError("include nesting too deep")
                load_file(cfg, args[0], depth=depth + 1)
                continue
            if name == "rename-command":
                if len(args) != 2:
                    raise ConfigError("Bad directive or wrong number of arguments")
                cfg.renames[args[0].lower()] = args[1]
                continue
            if name in ("user", "loadmodule", "sentinel"):
                raise ConfigError(f"'{name}' is not supported by rdbkit-server")
            if (ALIASES.get(name, name) not in DIRECTIVES
                    or (name not in _MULTI_ARG and ALIASES.get(name, name) not in _MULTI_ARG
                        and len(args) != 1)):
                raise ConfigError("Bad directive or wrong number of arguments")
            cfg.set(name, args, runtime=False)
        except ConfigError as e:
            if str(e).startswith("\n*** FATAL"):
                raise
            raise ConfigError(_fatal(source, lineno, line, str(e))) from None


def _fatal(source: str, lineno: int, line: bytes, reason: str) -> str:
    shown = line.decode("utf-8", "backslashreplace")
    return (f"\n*** FATAL CONFIG FILE ERROR (rdbkit-server) ***\n"
            f"Reading the configuration file {source}, at line {lineno}\n"
            f">>> '{shown}'\n{reason}")


def load_file(cfg: Config, path: str, *, depth: int = 0) -> None:
    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise ConfigError(f"Fatal error, can't open config file '{path}': {e.strerror}") from None
    apply_text(cfg, data, source=path if path != "-" else "(stdin)", depth=depth)


def options_to_text(options: list[str]) -> bytes:
    """`--port 7000 --save ""` -> the config lines Redis builds from its argv."""
    lines: list[str] = []
    for i, arg in enumerate(options):
        if arg.startswith("--") and len(arg) > 2:
            lines.append(arg[2:])
            if arg == "--save" and (i + 1 == len(options) or options[i + 1].startswith("--")):
                lines[-1] += ' ""'  # a bare --save means no save points, as redis-server
        elif not lines:
            raise ConfigError(f"Invalid option '{arg}': options must start with --")
        else:
            lines[-1] += " " + quote_arg(arg)
    return "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"


def from_argv(argv: list[str]) -> Config:
    """Build a Config from redis-server-style arguments: `[file] [--name value ...]`."""
    cfg = Config()
    rest = list(argv)
    if rest and not rest[0].startswith("--"):
        load_file(cfg, rest.pop(0))
    if rest:
        apply_text(cfg, options_to_text(rest), source="(command line)")
    return cfg
