"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL, FCALL_RO.

The Lua runtime and conversions are server.scripting's; FUNCTION LOAD/RESTORE/KILL/
STATS (in cmd_server) work on the same `Scripting` state. A script runs on the engine's
thread; SCRIPT KILL reaches it only through the network layer's `engine.busy_tick`.
"""

from __future__ import annotations

from . import cmd_server  # noqa: F401  (its FCALL/EVAL stand-ins first; these replace them)
from ._util import canonical_int
from .engine import CommandError, command, container
from .proto import OK, Simple, err
from .scripting import NOSCRIPT, RO_WRITE_FLAG, Scripting, ScriptError

_NOT_INT = err("ERR value is not an integer or out of range")


def _numkeys(argv, bad=_NOT_INT):
    n = canonical_int(argv[2])
    if n is None:
        raise CommandError(bad)
    if n > len(argv) - 3:
        raise CommandError(err("ERR Number of keys can't be greater than number of args"))
    if n < 0:
        raise CommandError(err("ERR Number of keys can't be negative"))
    return n


def _eval(e, c, argv, *, by_sha: bool, ro: bool):
    if e.monitors:  # before the commands the script runs, as Redis feeds it
        e._feed_monitors(c, argv)
    st = Scripting.of(e)
    if by_sha and len(argv[1]) != 40:
        return NOSCRIPT
    n = _numkeys(argv)
    if by_sha:
        script = st.scripts.get(argv[1].lower())
        if script is None:
            return NOSCRIPT
        sha = argv[1].lower()
    else:
        try:
            sha = st.create_script(argv[1])
        except ScriptError as x:
            return x.reply
        script = st.scripts[sha]
    if not script.compat and ro and "no-writes" not in script.flags:
        return RO_WRITE_FLAG
    read_only = ro or (not script.compat and "no-writes" in script.flags)
    return st.run(st.eval_box, script.fn, sha.decode(), c, argv[3:3 + n], argv[3 + n:],
                  read_only, argv)


_FLAGS = "noscript skip-monitor no-mandatory-keys stale"


@command("eval", -3, _FLAGS + " may-replicate", 0, 0, 0, "scripting", since="2.6.0")
def eval_(e, c, argv):
    return _eval(e, c, argv, by_sha=False, ro=False)


@command("evalsha", -3, _FLAGS + " may-replicate", 0, 0, 0, "scripting", since="2.6.0")
def evalsha(e, c, argv):
    return _eval(e, c, argv, by_sha=True, ro=False)


@command("eval_ro", -3, _FLAGS + " readonly", 0, 0, 0, "scripting", since="7.0.0")
def eval_ro(e, c, argv):
    return _eval(e, c, argv, by_sha=False, ro=True)


@command("evalsha_ro", -3, _FLAGS + " readonly", 0, 0, 0, "scripting", since="7.0.0")
def evalsha_ro(e, c, argv):
    return _eval(e, c, argv, by_sha=True, ro=True)


# -- FCALL ----------------------------------------------------------------------------

def _fcall(e, c, argv, ro: bool):
    if e.monitors:
        e._feed_monitors(c, argv)
    st = Scripting.of(e)
    st.sync()
    found = st.functions.get(argv[1])
    if found is None:
        return err("ERR Function not found")
    n = _numkeys(argv, err("ERR Bad number of keys provided"))
    f = found[1]
    if ro and "no-writes" not in f.flags:
        return RO_WRITE_FLAG
    return st.run(st.fn_box, f.fn, f.name.decode("utf-8", "replace"), c, argv[3:3 + n],
                  argv[3 + n:], ro or "no-writes" in f.flags, argv)


@command("fcall", -3, _FLAGS + " may-replicate", 0, 0, 0, "scripting", since="7.0.0")
def fcall(e, c, argv):
    return _fcall(e, c, argv, False)


@command("fcall_ro", -3, _FLAGS + " readonly", 0, 0, 0, "scripting", since="7.0.0")
def fcall_ro(e, c, argv):
    return _fcall(e, c, argv, True)


# -- SCRIPT ---------------------------------------------------------------------------

container("script", "scripting", "2.6.0")


@command("script|load", 3, "noscript stale", 0, 0, 0, "scripting", since="2.6.0")
def script_load(e, c, argv):
    try:
        return Scripting.of(e).create_script(argv[2])
    except ScriptError as x:
        return x.reply


@command("script|exists", -3, "noscript", 0, 0, 0, "scripting", since="2.6.0")
def script_exists(e, c, argv):
    scripts = Scripting.of(e).scripts
    return [1 if a.lower() in scripts and len(a) == 40 else 0 for a in argv[2:]]


@command("script|flush", -2, "noscript", 0, 0, 0, "scripting", since="2.6.0")
def script_flush(e, c, argv):
    if not (len(argv) == 2 or (len(argv) == 3 and argv[2].lower() in (b"sync", b"async"))):
        return err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    Scripting.of(e).flush_scripts()
    return OK


@command("script|kill", 2, "noscript allow-busy", 0, 0, 0, "scripting", since="2.6.0")
def script_kill(e, c, argv):
    return Scripting.of(e).kill(True) or OK


@command("script|debug", 3, "noscript", 0, 0, 0, "scripting", since="3.2.0")
def script_debug(e, c, argv):
    mode = argv[2].lower()
    if mode == b"no":
        return OK
    if mode in (b"yes", b"sync"):
        return err("ERR rdbkit-server has no Lua debugger (SCRIPT DEBUG YES/SYNC)")
    return err("ERR Use SCRIPT DEBUG YES/SYNC/NO")


_HELP = (
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
)


@command("script|help", 2, "loading stale", 0, 0, 0, "scripting", since="5.0.0")
def script_help(e, c, argv):
    lines = ("SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",) + _HELP + (
        "HELP", "    Prints this help.")
    return [Simple(s.encode()) for s in lines]
