"""The Lua side of scripting: a sandboxed Lua 5.1 runtime (lupa) and Redis 7.0's
conversions between RESP replies and Lua values. No sockets and no engine here: a
runtime calls back through `LuaRuntimeBox.command` (set by server.cmd_scripting).

Why the shapes below: Redis finds the line of a failing `redis.call` by looking one C
frame up from the error, so `redis.call`/`redis.pcall`/`pcall` are C-level callables
(Python functions, which lupa calls through a C metamethod): a Lua wrapper would be lost
to a tail call (`return redis.call(...)`). Their errors travel as a `ScriptRaise`
exception that the error handler turns back into Redis's `{err=...}` table. Globals are
read-only as in 7.0 (Redis's patched Lua makes tables read-only; here proxies do it).

Past busy-reply-threshold a running script lets the network layer take turns
(`engine.busy_tick()`, server/net.py): other clients get -BUSY, and SCRIPT KILL /
FUNCTION KILL can stop it. Library code at FUNCTION LOAD gets Redis's 500 ms.
"""

from __future__ import annotations

import hashlib
import math
import re
import time

try:
    from lupa import lua51 as _lupa

    LUA_FALLBACK = False
except ImportError:  # pragma: no cover - a lupa build without its Lua 5.1 module
    import lupa as _lupa

    LUA_FALLBACK = True  # lupa's default Lua: scripts may behave unlike Redis's 5.1

from .proto import Error, Map, Raw, RSetReply, Simple, Verbatim

lua_type = _lupa.lua_type

INT64_MIN = -(1 << 63)
LUA_MAX_MEMORY = 1 << 30  # per Lua state; past it allocations fail ("not enough memory")
MAX_REPLY_DEPTH = 400  # nesting of a script's reply (Redis's limit is its Lua C stack)

#: shebang flags (script and function flags), Redis 7.0's names
SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster",
                "allow-cross-slot-keys")

LL_DEBUG, LL_VERBOSE, LL_NOTICE, LL_WARNING = 0, 1, 2, 3
REPL_AOF, REPL_ALL = 1, 3
_LOGLEVELS = {"debug": LL_DEBUG, "verbose": LL_VERBOSE, "notice": LL_NOTICE,
              "warning": LL_WARNING}
REDIS_VERSION = "7.0.15"
REDIS_VERSION_NUM = 0x07000F

# Builtins Redis leaves to scripts (its allow lists; of the C libraries it links in,
# cjson, bit, cmsgpack and struct come from server._lualibs).
_BUILTINS = ("xpcall", "tostring", "getfenv", "setmetatable", "next", "assert", "tonumber",
             "rawequal", "collectgarbage", "getmetatable", "rawset", "coroutine", "type",
             "select", "unpack", "gcinfo", "pairs", "rawget", "ipairs", "_VERSION",
             "setfenv", "error", "newproxy", "string", "math", "table")

_SETUP = r"""
local pycall, pypcall, pyunwrap, pylog, pysetresp, pysetrepl, pysha1, pyregister,
      builtins, version, version_num, function_mode, ext = ...
local G = _G
local SELF = debug.getinfo(1, "S").source
local dbg = debug
local rawget, rawset, setmetatable, type, tostring, error, select, unpack, pairs =
      rawget, rawset, setmetatable, type, tostring, error, select, unpack, pairs
local tonumber, ssub, sfind, sgsub, sformat = tonumber, string.sub, string.find,
      string.gsub, string.format
local realpcall, xpcall, loadstring, setfenv = pcall, xpcall, loadstring, setfenv

local function readonly_error()
  error("Attempt to modify a readonly table", 2)
end

-- A read-only view of `store`; `strict` makes a missing name an error (globals).
local proxied = setmetatable({}, {__mode = "k"})  -- read-only view -> what it shows

local function protect(store, strict)
  local mt = {__newindex = readonly_error, __metatable = false}
  if strict then
    mt.__index = function(_, k)
      local v = store[k]
      if v == nil then
        error(sformat("Script attempted to access nonexistent global variable '%s'",
                      tostring(k)), 2)
      end
      return v
    end
  else
    mt.__index = store
  end
  local view = setmetatable({}, mt)
  proxied[view] = store
  return view
end

local function err_table(msg)
  local code, text
  if ssub(msg, 1, 1) == "-" then
    local sp = sfind(msg, " ", 1, true)
    if sp then code, text = ssub(msg, 2, sp - 1), ssub(msg, sp + 1)
    else code, text = "ERR", ssub(msg, 2) end
  else
    code, text = "ERR", msg
  end
  text = sgsub(sgsub(text, "^[\r\n]+", ""), "[\r\n]+$", "")
  return {err = code .. " " .. text}
end

-- RESP (2 or 3) -> Lua, as Redis's redisProtocolToLuaType.
local parse
local function header(s, pos)
  local e = sfind(s, "\r\n", pos, true)
  return ssub(s, pos + 1, e - 1), e + 2
end
parse = function(s, pos)
  local t = ssub(s, pos, pos)
  local body, nxt = header(s, pos)
  if t == "$" then
    local n = tonumber(body)
    if n < 0 then return false, nxt end
    return ssub(s, nxt, nxt + n - 1), nxt + n + 2
  elseif t == ":" then return tonumber(body), nxt
  elseif t == "+" then return {ok = body}, nxt
  elseif t == "-" then
    local e = err_table("-" .. body)
    e.ignore_error_stats_update = true
    return e, nxt
  elseif t == "*" or t == ">" then
    local n = tonumber(body)
    if n < 0 then return false, nxt end
    local r = {}
    for i = 1, n do r[i], nxt = parse(s, nxt) end
    return r, nxt
  elseif t == "%" then
    local m = {}
    for _ = 1, tonumber(body) do
      local k, v
      k, nxt = parse(s, nxt)
      v, nxt = parse(s, nxt)
      m[k] = v
    end
    return {map = m}, nxt
  elseif t == "~" then
    local m = {}
    for _ = 1, tonumber(body) do
      local k
      k, nxt = parse(s, nxt)
      m[k] = true
    end
    return {set = m}, nxt
  elseif t == "_" then return nil, nxt
  elseif t == "#" then return body == "t", nxt
  elseif t == "," then return {double = tonumber(body)}, nxt
  elseif t == "(" then return {big_number = body}, nxt
  elseif t == "=" then
    local n = tonumber(body)
    local str = ssub(s, nxt, nxt + n - 1)
    return {verbatim_string = {format = ssub(str, 1, 3), string = ssub(str, 5)}}, nxt + n + 2
  elseif t == "|" then
    for _ = 1, 2 * tonumber(body) do local _v; _v, nxt = parse(s, nxt) end
    return parse(s, nxt)
  end
  error("rdbkit: unknown reply type " .. t)
end
local function parse_reply(s)
  return (parse(s, 1))
end

local function handler(e)
  if type(e) == "userdata" then
    local t = pyunwrap(e)
    if t ~= nil then e = t end
  end
  local i = dbg.getinfo(2, "nSl")
  local level = 2
  if i and i.what == "C" then level = 3; i = dbg.getinfo(3, "nSl") end
  while i and i.source == SELF do level = level + 1; i = dbg.getinfo(level, "nSl") end
  if type(e) ~= "table" then e = {err = "ERR " .. tostring(e)} end
  if i then
    e.source = i.source
    e.line = i.currentline
  end
  return e
end

-- Redis 7's pcall: an error table caught by pcall reads as its message.
local function redis_pcall_builtin(f, ...)
  local r = {realpcall(f, ...)}
  if not r[1] then
    local e = r[2]
    if type(e) == "userdata" then
      local t = pyunwrap(e)
      if t ~= nil then e = t end
    end
    if type(e) == "table" and type(e.err) == "string" then e = e.err end
    return false, e
  end
  return unpack(r, 1, table.maxn(r))
end

-- Python functions are userdata to Lua; scripts see them as the C functions they
-- stand for.
local pyfuncs = setmetatable({}, {__mode = "k"})
for _, f in pairs({pycall, pypcall, pylog, pysetresp, pysetrepl, pysha1, pyregister}) do
  pyfuncs[f] = true
end
for _, f in pairs(ext) do pyfuncs[f] = true end
local realtype = type
local function script_type(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'type' (value expected)", 2) end
  local v = ...
  local t = realtype(v)
  if t == "userdata" and pyfuncs[v] then return "function" end
  return t
end

local store = {}
for _, name in pairs(builtins) do store[name] = G[name] end
store.type = script_type
store.pcall = redis_pcall_builtin
-- Errors from Python-backed functions reach Lua code as the values Redis's would be.
local function unwrapped(e)
  if type(e) == "userdata" then
    local t = pyunwrap(e)
    if t ~= nil then return t end
  end
  return e
end
store.xpcall = function(f, h)
  return xpcall(f, function(e) return h(unwrapped(e)) end)
end
local coro = {}
for k, v in pairs(G.coroutine) do coro[k] = v end
local resume = coro.resume
coro.resume = function(co, ...)
  local r = {resume(co, ...)}
  if not r[1] then r[2] = unwrapped(r[2]) end
  return unpack(r, 1, table.maxn(r))
end
G.coroutine = coro
local NULL = newproxy()
local mathlib = {}
for k, v in pairs(G.math) do mathlib[k] = v end
mathlib.random, mathlib.randomseed = ext.random, ext.randomseed
G.math = mathlib
G.cjson = {encode = ext.cjson_encode, decode = ext.cjson_decode, null = NULL,
           new = ext.cjson_new, _NAME = "cjson", _VERSION = "2.1.0"}
for _, k in pairs({"encode_sparse_array", "encode_max_depth", "decode_max_depth",
                   "encode_number_precision", "encode_keep_buffer", "encode_invalid_numbers",
                   "decode_invalid_numbers"}) do
  G.cjson[k] = ext["cjson_" .. k]
end
G.bit = {}
for _, k in pairs({"tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift",
                   "arshift", "rol", "ror", "bswap"}) do
  G.bit[k] = ext["bit_" .. k]
end
G.cmsgpack = {pack = ext.mp_pack, unpack = ext.mp_unpack, unpack_one = ext.mp_unpack_one,
              unpack_limit = ext.mp_unpack_limit, _NAME = "cmsgpack",
              _VERSION = "lua-cmsgpack 0.4.0",
              _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
              _DESCRIPTION = "MessagePack C implementation for Lua"}
G.struct = {pack = ext.st_pack, unpack = ext.st_unpack, size = ext.st_size}
store.cjson, store.bit, store.cmsgpack, store.struct = G.cjson, G.bit, G.cmsgpack, G.struct
for _, lib in pairs({"string", "math", "table", "coroutine", "cjson", "bit", "cmsgpack",
                     "struct"}) do
  store[lib] = protect(G[lib], false)
end
local function loader(f)
  return function(s, name)
    local fn, e = f(s, name)
    if fn then setfenv(fn, store._G) end
    return fn, e
  end
end
store.loadstring = loader(loadstring)
store.load = loader(load)

local function add_log(r)
  r.log = pylog
  r.LOG_DEBUG, r.LOG_VERBOSE, r.LOG_NOTICE, r.LOG_WARNING = 0, 1, 2, 3
  r.REDIS_VERSION, r.REDIS_VERSION_NUM = version, version_num
end
local redis = {call = pycall, pcall = pypcall, setresp = pysetresp, sha1hex = pysha1,
               set_repl = pysetrepl, acl_check_cmd = ext.acl_check_cmd,
               REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3}
if not function_mode then
  -- EVAL's extras: effects replication is always on (7.0); there is no debugger.
  redis.replicate_commands = function() return true end
  redis.breakpoint = function() return false end
  redis.debug = function() end
end
redis.error_reply = function(msg)
  if select("#", msg) ~= 1 or type(msg) ~= "string" then
    return err_table("wrong number or type of arguments")
  end
  if ssub(msg, 1, 1) ~= "-" then msg = "-" .. msg end
  return err_table(msg)
end
redis.status_reply = function(msg)
  if type(msg) ~= "string" then return err_table("wrong number or type of arguments") end
  return {ok = msg}
end
add_log(redis)
store.redis = protect(redis, false)

-- Library loading sees only redis.register_function/log/versions (strict, as Redis).
local libapi = {}
local libredis = {register_function = pyregister}
add_log(libredis)
libapi.redis = protect(libredis, true)

local mode = store
local globals = setmetatable({}, {
  __newindex = readonly_error, __metatable = false,
  __index = function(_, k)
    local v = mode[k]
    if v == nil then
      error(sformat("Script attempted to access nonexistent global variable '%s'",
                    tostring(k)), 2)
    end
    return v
  end})
store._G = globals
proxied[globals] = store

-- pairs/next/rawget/rawset see through the read-only views (never handing out the
-- table behind one); ("x"):upper() goes through the string view.
local realnext, realrawget = next, rawget
store.next = function(t, k)
  local s = proxied[t]
  if s then return realnext(s, k) end
  return realnext(t, k)
end
store.pairs = function(t)
  local s = proxied[t]
  if s then
    local k
    return function()
      local v
      k, v = realnext(s, k)
      return k, v
    end, t, nil
  end
  return pairs(t)
end
store.rawget = function(t, k)
  local s = proxied[t]
  if s then return realrawget(s, k) end
  return realrawget(t, k)
end
store.rawset = function(t, k, v)
  if proxied[t] then error("Attempt to modify a readonly table", 2) end
  return rawset(t, k, v)
end
local strmeta = getmetatable("")
strmeta.__index = store.string
local strmeta_view = protect(strmeta, false)
local realgetmetatable, realsetmetatable = getmetatable, setmetatable
store.getmetatable = function(v)
  if realtype(v) == "string" then return strmeta_view end
  return realgetmetatable(v)
end
store.setmetatable = function(t, mt)
  if proxied[t] then error("Attempt to modify a readonly table", 0) end
  return realsetmetatable(t, mt)
end

-- What getfenv(<builtin>) could reach: no os/io/package/file loading, and the real
-- environment never shows (lupa itself keeps using the thread's globals).
for _, k in pairs({"os", "io", "package", "require", "module", "dofile", "loadfile",
                   "print"}) do
  G[k] = nil
end
local realgetfenv, realsetfenv = getfenv, setfenv
store.getfenv = function(f)
  if f == nil then f = 1 end
  if type(f) == "number" then
    if f == 0 then return globals end
    f = f + 1
  end
  local r = realgetfenv(f)
  if r == G then return globals end
  return r
end
store.setfenv = function(f, t)
  if type(f) == "number" then
    if f == 0 then error("rdbkit: setfenv(0) is not allowed", 2) end
    f = f + 1
  end
  return realsetfenv(f, t)
end

local api = {}
function api.compile(code, chunkname)
  local fn, e = loadstring(code, chunkname)
  if fn then setfenv(fn, globals) end
  return fn, e
end
function api.set_argv(keys, args)
  rawset(store, "KEYS", keys)
  rawset(store, "ARGV", args)
end
local KILLED = "Script killed by user with SCRIPT KILL..."
function api.run(fn, keys, args, interrupt)
  -- Every 100000 instructions `interrupt` may serve other clients (busy script) and
  -- says whether SCRIPT/FUNCTION KILL asked for the end; then every line fails.
  dbg.sethook(function()
    if interrupt() then
      dbg.sethook(function()
        if dbg.getinfo(2, "S").source ~= SELF then error(err_table(KILLED)) end
      end, "l")
      error(err_table(KILLED))
    end
  end, "", 100000)
  local ok, r
  if function_mode then
    ok, r = xpcall(function() return fn(keys, args) end, handler)
  else
    ok, r = xpcall(fn, handler)
  end
  dbg.sethook()
  return ok, r
end
local LOAD_TIMEOUT = 0.5  -- seconds, Redis's LOAD_TIMEOUT_MS
function api.load_library(fn)
  mode = libapi
  local start = ext.monotonic()
  dbg.sethook(function()
    if ext.monotonic() - start > LOAD_TIMEOUT then
      -- from now on every line of the library fails (a pcall cannot swallow it)
      dbg.sethook(function()
        if dbg.getinfo(2, "S").source ~= SELF then error(err_table("FUNCTION LOAD timeout")) end
      end, "l")
      error(err_table("FUNCTION LOAD timeout"))
    end
  end, "", 100000)
  local ok, e = realpcall(fn)
  dbg.sethook()
  mode = store
  if not ok and type(e) == "userdata" then
    local t = pyunwrap(e)
    if t ~= nil then e = t end
  end
  return ok, e
end
api.parse_reply = parse_reply
api.null = NULL
function api.mark_pyfunc(f) pyfuncs[f] = true end
function api.isnull(v) return rawequal(v, NULL) end
-- luaL_where(L, 1) as seen from a Python function called by Lua.
function api.where()
  local i = dbg.getinfo(3, "Sl")
  if i and i.currentline > 0 then return i.short_src .. ":" .. i.currentline .. ": " end
  return ""
end
function api.newtable() return {} end
api.err_table = err_table
api.rawget = rawget
return api
"""


class ScriptRaise(Exception):
    """Carries a Lua error table out of a Python-implemented `redis.*` function."""

    def __init__(self, table) -> None:
        super().__init__("script error")
        self.table = table


def _deny_attributes(obj, name, is_setting):
    raise AttributeError("not accessible from Lua")


def sha1hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class LuaRuntimeBox:
    """One Lua state: EVAL scripts (`function_mode=False`) or function libraries.

    The runner installs `command(argv) -> (kind, payload)` for the length of a call:
    kind 0 = the command's RESP reply bytes, else a refusal text (the command did not
    run: unknown, wrong arity, not allowed from scripts, a write in a read-only script).
    """

    lua_type = staticmethod(lua_type)

    def __init__(self, *, function_mode: bool, log=None, rand=None) -> None:
        self.lua = _lupa.LuaRuntime(encoding=None, register_eval=False,
                                    register_builtins=False, unpack_returned_tuples=True,
                                    attribute_filter=_deny_attributes,
                                    max_memory=LUA_MAX_MEMORY)
        self.function_mode = function_mode
        self.log = log or (lambda level, msg: None)
        self.command = None          # set by the runner for the current call
        self.resp = 2                # redis.setresp
        self.repl = REPL_ALL         # redis.set_repl
        self.running = False
        self.registering = None      # list while a library loads
        self.rand = rand or Rand48()
        self.lookup = None           # argv -> command or None (set by the runner)
        self.api = self.lua.execute(
            _SETUP, self._call, self._pcall, self._unwrap, self._log, self._setresp,
            self._setrepl, self._sha1, self._register,
            self.lua.table_from([b.encode() for b in _BUILTINS]),
            REDIS_VERSION.encode(), REDIS_VERSION_NUM, function_mode,
            self.lua.table_from(self._ext_functions()))
        self._parse = self.api[b"parse_reply"]
        self._err = self.api[b"err_table"]
        self._rawget = self.api[b"rawget"]
        self._where = self.api[b"where"]
        self.null = self.api[b"null"]
        self._newtable = self.api[b"newtable"]
        self.isnull = self.api[b"isnull"]
        self.mark_pyfunc = self.api[b"mark_pyfunc"]

    def _ext_functions(self) -> dict:
        from . import _lualibs

        out = {b"random": self._random, b"randomseed": self._randomseed,
               b"acl_check_cmd": self._acl_check_cmd, b"monotonic": time.monotonic,
               b"cjson_encode": lambda *a: _lualibs.cjson_encode(self, a),
               b"cjson_decode": lambda *a: _lualibs.cjson_decode(self, a),
               b"cjson_new": lambda *a: _lualibs.cjson_new(self, a),
               b"mp_pack": lambda *a: _lualibs.cmsgpack_pack(self, a),
               b"mp_unpack": lambda *a: _lualibs.cmsgpack_unpack(self, a),
               b"mp_unpack_one": lambda *a: _lualibs.cmsgpack_unpack_one(self, a),
               b"mp_unpack_limit": lambda *a: _lualibs.cmsgpack_unpack_limit(self, a),
               b"st_pack": lambda *a: _lualibs.struct_pack(self, a),
               b"st_unpack": lambda *a: _lualibs.struct_unpack(self, a),
               b"st_size": lambda *a: _lualibs.struct_size(self, a)}
        for name in _lualibs.CJSON_CONFIG:
            out[b"cjson_" + name.encode()] = (
                lambda name: lambda *a: _lualibs.cjson_config(self, name, a))(name)
        for name in _lualibs.BIT_FUNCTIONS:
            out[b"bit_" + name.encode()] = _lualibs.bit_function(self, name)
        return out

    def raise_c_error(self, msg: str):
        """luaL_error from a Python-implemented library function: the caller's position
        first, the message as a plain string (not an error table)."""
        raise ScriptRaise(self._where() + msg.encode("utf-8", "surrogateescape"))

    def check_number(self, args, i: int, fname: str):
        """luaL_checknumber of argument i (0-based)."""
        v = args[i] if i < len(args) else None
        if type(v) in (int, float):
            return v
        if type(v) is bytes:
            n = _lua_str2number(v)
            if n is not None:
                return n
        got = "no value" if i >= len(args) else (lua_type(v) or "nil")
        if type(v) is bytes:
            got = "string"
        elif type(v) is bool:
            got = "boolean"
        self.raise_c_error("bad argument #%d to '%s' (number expected, got %s)"
                           % (i + 1, fname, got))

    def check_int(self, args, i: int, fname: str) -> int:
        v = self.check_number(args, i, fname)
        return _c_int(v)

    def _acl_check_cmd(self, *args):
        """redis.acl_check_cmd: every user may run every command here (no ACL rules)."""
        if not self.running:
            raise ScriptRaise(self._error("redis.acl_check_cmd can only be called inside a "
                                          "script invocation"))
        argv, problem = self._args(args)
        if argv is None:
            raise ScriptRaise(self._error(problem))
        if self.lookup is None or self.lookup(argv) is None:
            raise ScriptRaise(self._error("Invalid command passed to redis.acl_check_cmd()"))
        return True

    # math.random / math.randomseed on Redis's lrand48, as Redis replaces them
    def _random(self, *args):
        if not self.running:
            self.raise_c_error("math.random can only be called inside a script invocation")
        r = (self.rand.next() % 0x7FFFFFFF) / 0x7FFFFFFF
        if len(args) == 0:
            return r
        if len(args) == 1:
            u = self.check_int(args, 0, "random")
            if u < 1:
                self.raise_c_error("bad argument #1 to 'random' (interval is empty)")
            return float(math.floor(r * u) + 1)
        if len(args) == 2:
            lo = self.check_int(args, 0, "random")
            u = self.check_int(args, 1, "random")
            if lo > u:
                self.raise_c_error("bad argument #2 to 'random' (interval is empty)")
            return float(math.floor(r * (u - lo + 1)) + lo)
        self.raise_c_error("wrong number of arguments")

    def _randomseed(self, *args):
        if not self.running:
            self.raise_c_error("math.randomseed can only be called inside a script "
                               "invocation")
        self.rand.seed(self.check_int(args, 0, "randomseed"))

    # -- the redis.* functions implemented in Python -----------------------------------
    def _error(self, text: str):
        return self._err(text.encode())

    def _args(self, args):
        if not args:
            return None, "Please specify at least one argument for this redis lib call"
        argv = []
        for a in args:
            t = type(a)
            if t is bytes:
                argv.append(a)
            elif t is float or (t is int):
                argv.append(_g17(a))
            else:
                return None, "Lua redis lib command arguments must be strings or integers"
        return argv, None

    def _generic(self, args, raise_error: bool):
        if not self.running:
            table = self._error("redis.call/pcall can only be called inside a script invocation")
            raise ScriptRaise(table)
        argv, problem = self._args(args)
        if argv is None:
            table = self._error(problem)
            if raise_error:
                raise ScriptRaise(table)
            return table
        kind, payload = self.command(argv)
        if kind == 0:
            value = self._parse(payload)
            if raise_error and payload[:1] == b"-":
                raise ScriptRaise(value)
            return value
        table = self._error(payload)
        table[b"ignore_error_stats_update"] = True
        if raise_error:
            raise ScriptRaise(table)
        return table

    def _call(self, *args):
        return self._generic(args, True)

    def _pcall(self, *args):
        return self._generic(args, False)

    @staticmethod
    def _unwrap(e):
        """The Lua error value a `ScriptRaise` carries (an error table, or a library
        function's message); None for anything else."""
        return e.table if isinstance(e, ScriptRaise) else None

    def _log(self, *args):
        if len(args) < 2:
            raise ScriptRaise(self._error("redis.log() requires two arguments or more."))
        level = args[0]
        if type(level) is bytes:
            try:
                level = float(level)
            except ValueError:
                level = None
        if type(level) not in (int, float):
            raise ScriptRaise(self._error("First argument must be a number (log level)."))
        level = int(level)
        if level < LL_DEBUG or level > LL_WARNING:
            raise ScriptRaise(self._error("Invalid debug level."))
        parts = []
        for a in args[1:]:
            if type(a) is bytes:
                parts.append(a)
            elif type(a) in (int, float):
                parts.append(_lua_tostring_number(a))
        self.log(level, b" ".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args):
        if not self.running:
            raise ScriptRaise(self._error("redis.setresp can only be called inside a script "
                                          "invocation"))
        if len(args) != 1:
            raise ScriptRaise(self._error("redis.setresp() requires one argument."))
        v = _to_number(args[0])
        if v not in (2, 3):
            raise ScriptRaise(self._error("RESP version must be 2 or 3."))
        self.resp = int(v)

    def _setrepl(self, *args):
        if not self.running:
            raise ScriptRaise(self._error("redis.set_repl can only be called inside a script "
                                          "invocation"))
        if len(args) != 1:
            raise ScriptRaise(self._error("redis.set_repl() requires two arguments."))
        v = _to_number(args[0])
        if v is None or v != int(v) or int(v) & ~3:
            raise ScriptRaise(self._error("Invalid replication flags. Use REPL_AOF, "
                                          "REPL_REPLICA, REPL_ALL or REPL_NONE."))
        self.repl = int(v)  # only the AOF bit matters here: there are no replicas

    def _sha1(self, *args):
        if len(args) != 1:
            raise ScriptRaise(self._error("wrong number of arguments"))
        a = args[0]
        if type(a) in (int, float):
            a = _lua_tostring_number(a)
        elif type(a) is not bytes:
            a = b""
        return sha1hex(a).encode()

    def _register(self, *args):
        if self.registering is None:
            raise ScriptRaise(self._error("redis.register_function can only be called on "
                                          "FUNCTION LOAD command"))
        try:
            name, desc, fn, flags = self._register_args(args)
        except _RegisterError as e:
            raise ScriptRaise(self._error(str(e))) from None
        if not _valid_name(name):
            raise ScriptRaise(self._error(
                "Library names can only contain letters, numbers, or underscores(_) and "
                "must be at least one character long"))
        if any(f.name == name for f in self.registering):
            raise ScriptRaise(self._error("Function already exists in the library"))
        self.registering.append(LuaFunction(name, fn, desc, flags))

    def _register_args(self, args):
        if len(args) < 1 or len(args) > 2:
            raise _RegisterError("wrong number of arguments to redis.register_function")
        if len(args) == 2:
            name = _lua_string(args[0])
            if name is None:
                raise _RegisterError("first argument to redis.register_function must be a "
                                     "string")
            if lua_type(args[1]) != "function":
                raise _RegisterError("second argument to redis.register_function must be a "
                                     "function")
            return name, None, args[1], ()
        t = args[0]
        if lua_type(t) != "table":
            raise _RegisterError("calling redis.register_function with a single argument is "
                                 "only applicable to Lua table (representing named "
                                 "arguments).")
        name = desc = fn = None
        flags: list[str] = []
        for k, v in t.items():
            if type(k) is not bytes and type(k) not in (int, float):
                raise _RegisterError("named argument key given to redis.register_function "
                                     "is not a string")
            key = _lua_string(k).lower()
            if key == b"function_name":
                name = _lua_string(v)
                if name is None:
                    raise _RegisterError("function_name argument given to "
                                         "redis.register_function must be a string")
            elif key == b"description":
                desc = _lua_string(v)
                if desc is None:
                    raise _RegisterError("description argument given to "
                                         "redis.register_function must be a string")
            elif key == b"callback":
                if lua_type(v) != "function":
                    raise _RegisterError("callback argument given to "
                                         "redis.register_function must be a function")
                fn = v
            elif key == b"flags":
                if lua_type(v) != "table":
                    raise _RegisterError("flags argument to redis.register_function must be "
                                         "a table representing function flags")
                flags = self._read_flags(v)
            else:
                raise _RegisterError("unknown argument given to redis.register_function")
        if name is None:
            raise _RegisterError("redis.register_function must get a function name argument")
        if fn is None:
            raise _RegisterError("redis.register_function must get a callback argument")
        return name, desc, fn, tuple(flags)

    def _read_flags(self, t):
        out = []
        j = 1
        while True:
            v = t[j]
            if v is None:  # listed in Redis's table order, as FUNCTION LIST shows them
                return sorted(out, key=SCRIPT_FLAGS.index)
            s = _lua_string(v)
            if s is None:
                raise _RegisterError("unknown flag given")
            for f in SCRIPT_FLAGS:
                if s.lower() == f.encode():
                    if f not in out:
                        out.append(f)
                    break
            else:
                raise _RegisterError("unknown flag given")
            j += 1

    # -- compiling and running ---------------------------------------------------------
    def compile(self, code: bytes, chunkname: bytes):
        """(function, None) or (None, Lua's error message)."""
        fn, e = self.api[b"compile"](code, chunkname)
        if fn is None:
            return None, e if type(e) is bytes else str(e).encode()
        return fn, None

    def load_library(self, fn) -> tuple[list | None, str | None]:
        """Run a library's body; (functions, None) or (None, Redis's error text)."""
        self.registering = []
        try:
            ok, e = self.api[b"load_library"](fn)
        finally:
            funcs, self.registering = self.registering, None
        if ok:
            return funcs, None
        return None, "Error registering functions: " + self._error_message(e)

    def _error_message(self, e) -> str:
        if type(e) is bytes:
            return "ERR " + e.decode("utf-8", "replace")
        if type(e) in (int, float):
            return "ERR " + _lua_tostring_number(e).decode()
        if lua_type(e) == "table":
            m = self._rawget(e, b"err")
            if type(m) is bytes:
                return m.decode("utf-8", "replace")
            if type(m) in (int, float):
                return _lua_tostring_number(m).decode()
        if isinstance(e, BaseException):
            return "ERR " + str(e)
        return "(null)"

    def run(self, fn, name: str, keys: list[bytes], args: list[bytes], command, caller_resp,
            interrupt=lambda: False):
        """Call a script or function; returns the reply for the caller."""
        lua = self.lua
        kt, at = lua.table_from(keys), lua.table_from(args)
        if not self.function_mode:
            self.api[b"set_argv"](kt, at)
        self.command = command
        self.resp = 2
        self.repl = REPL_ALL
        self.running = True
        try:
            ok, value = self.api[b"run"](fn, kt, at, interrupt)
            if not ok:
                return self._script_error(value, name)
            return self.to_redis(value, caller_resp, 0)
        finally:
            self.running = False
            self.command = None

    def _script_error(self, e, name: str) -> Error:
        if lua_type(e) != "table":
            msg = e.decode("utf-8", "replace") if type(e) is bytes else "execution failure"
            return Error(_one_line(("ERR Error running script %s, %.100s" % (name, msg))
                                   .encode("utf-8", "surrogateescape")))
        raw = self._rawget
        m = raw(e, b"err")
        msg = m if type(m) is bytes else (_lua_tostring_number(m) if type(m) in (int, float)
                                          else b"(null)")
        out = msg
        src, line = raw(e, b"source"), raw(e, b"line")
        src = _lua_string(src)
        line = _lua_string(line)
        if src is not None and line is not None:
            out += b" script: %s, on %s:%s." % (name.encode(), src, line)
        return Error(out.replace(b"\r", b" ").replace(b"\n", b" "))

    # -- Lua -> RESP ------------------------------------------------------------------
    def to_redis(self, v, caller_resp: int, depth: int):
        t = type(v)
        if t is bytes:
            return v
        if t is bool:
            if self.resp == 2:
                return 1 if v else None
            return v
        if t is int or t is float:
            return _to_long_long(v)
        if lua_type(v) != "table":
            return None
        if depth > MAX_REPLY_DEPTH:  # the reply encoder recurses too
            return Error(b"ERR reached lua stack limit")
        raw = self._rawget
        e = raw(v, b"err")
        if type(e) is bytes:
            return Error(_one_line(e))
        s = raw(v, b"ok")
        if type(s) is bytes:
            return Simple(s.split(b"\0", 1)[0].replace(b"\r", b" ").replace(b"\n", b" "))
        d = raw(v, b"double")
        if type(d) in (int, float):
            return float(d)
        b = raw(v, b"big_number")
        if type(b) is bytes:
            b = b.replace(b"\r", b" ").replace(b"\n", b" ")
            return Raw(b"(%s\r\n" % b) if caller_resp == 3 else b
        vs = raw(v, b"verbatim_string")
        if lua_type(vs) == "table":
            fmt, s = _lua_string(raw(vs, b"format")), raw(vs, b"string")
            if fmt is not None and type(s) is bytes:
                if caller_resp == 3:
                    return Raw(b"=%d\r\n%s:%s\r\n" % (len(s) + 4, fmt[:3].ljust(3), s))
                return s if fmt[:3] != b"txt" else Verbatim(s)
        m = raw(v, b"map")
        if lua_type(m) == "table":
            return Map([(self.to_redis(k, caller_resp, depth + 1),
                         self.to_redis(x, caller_resp, depth + 1)) for k, x in m.items()])
        st = raw(v, b"set")
        if lua_type(st) == "table":
            return RSetReply([self.to_redis(k, caller_resp, depth + 1) for k, _ in st.items()])
        out = []
        j = 1
        while True:
            x = raw(v, j)
            if x is None:
                return out
            out.append(self.to_redis(x, caller_resp, depth + 1))
            j += 1


class Rand48:
    """Redis's redisLrand48 (rand.c): the 48-bit LCG, one state per server."""

    def __init__(self) -> None:
        self.x = 0x1234ABCD330E

    def next(self) -> int:
        self.x = (0x5DEECE66D * self.x + 0xB) & 0xFFFFFFFFFFFF
        return self.x >> 17

    def seed(self, v: int) -> None:
        self.x = ((v & 0xFFFFFFFF) << 16) | 0x330E


def _c_int(v) -> int:
    """(int) of a lua_Number as luaL_checkint does it (truncation, 32-bit wrap)."""
    if type(v) is float:
        if math.isnan(v) or math.isinf(v):
            return -(1 << 31)
        v = int(v)
    v &= 0xFFFFFFFFFFFFFFFF
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _lua_str2number(b: bytes):
    """lua_isnumber on a string: strtod or a hex integer, whole string but spaces."""
    t = b.strip(b" \t\n\r\f\v")
    if not t:
        return None
    try:
        if t[:2].lower() == b"0x":
            return float(int(t[2:], 16))
        if not _NUM_RE.fullmatch(t):
            return None
        return float(t)
    except ValueError:
        return None


_NUM_RE = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf(?:inity)?|nan)",
                     re.I)


class _RegisterError(Exception):
    pass


class LuaFunction:
    __slots__ = ("name", "fn", "desc", "flags")

    def __init__(self, name: bytes, fn, desc: bytes | None, flags: tuple) -> None:
        self.name, self.fn, self.desc, self.flags = name, fn, desc, flags


def _valid_name(name: bytes) -> bool:
    return _NAME_RE.fullmatch(name) is not None


_NAME_RE = re.compile(rb"[A-Za-z0-9_]+")


def _one_line(b: bytes) -> bytes:
    """addReplyErrorFormat's cleaning: no CR/LF inside, none trailing."""
    return b.rstrip(b"\r\n").replace(b"\r", b" ").replace(b"\n", b" ")


def _to_long_long(v) -> int:
    """C's (long long) cast of a Lua number as x86-64 does it (out of range -> INT64_MIN)."""
    if type(v) is float:
        if math.isnan(v) or math.isinf(v):
            return INT64_MIN
        v = int(v)
    if v < INT64_MIN or v >= 1 << 63:
        return INT64_MIN
    return v


def _g17(n) -> bytes:
    return (b"%.17g" % n) if type(n) is float else (b"%.17g" % float(n)
                                                     if abs(n) >= 1 << 53 else b"%d" % n)


def _lua_tostring_number(n) -> bytes:
    """Lua 5.1's number formatting (%.14g)."""
    if type(n) is int and abs(n) < 1 << 53:
        return b"%d" % n
    f = float(n)
    if math.isnan(f):
        return b"nan" if math.copysign(1, f) > 0 else b"-nan"
    if math.isinf(f):
        return b"inf" if f > 0 else b"-inf"
    return b"%.14g" % f


def _lua_string(v) -> bytes | None:
    """lua_tostring: strings and numbers; None for anything else."""
    if type(v) is bytes:
        return v
    if type(v) in (int, float) and type(v) is not bool:
        return _lua_tostring_number(v)
    return None


def _to_number(v):
    if type(v) in (int, float) and type(v) is not bool:
        return v
    if type(v) is bytes:
        try:
            return float(v)
        except ValueError:
            return 0
    return 0


# -- per-engine state: the EVAL cache, function libraries, running a script --------------

NOSCRIPT = Error(b"NOSCRIPT No matching script. Please use EVAL.")
RO_WRITE_FLAG = Error(b"ERR Can not execute a script with write flag using *_ro command.")

# Commands Redis 7.0 marks `noscript` that the command table does not flag (yet).
_NOSCRIPT_70 = frozenset({"auth", "blmove", "blpop", "brpop", "brpoplpush", "bzpopmax",
                          "bzpopmin", "hello", "quit", "reset"})
_NOSCRIPT_FLAGS = frozenset({"noscript", "no-script"})


class ScriptError(Exception):
    """A refusal before a script runs; `.reply` is the error reply."""

    def __init__(self, text: str) -> None:
        self.reply = Error(text.encode("utf-8", "surrogateescape"))


class Script:
    __slots__ = ("body", "flags", "compat", "fn")

    def __init__(self, body, flags, compat, fn) -> None:
        self.body, self.flags, self.compat, self.fn = body, flags, compat, fn


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes, functions: list) -> None:
        self.name, self.code, self.functions = name, code, functions


def parse_shebang(body: bytes) -> tuple[frozenset, bool, int]:
    """EVAL's `#!lua flags=...` line: (flags, compat mode, length of the shebang)."""
    from rdbtools.sds import split_args

    if not body.startswith(b"#!"):
        return frozenset(), True, 0
    end = body.find(b"\n")
    if end < 0:
        raise ScriptError("ERR Invalid script shebang")
    parts = split_args(body[:end])
    if not parts:
        raise ScriptError("ERR Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise ScriptError("ERR Unexpected engine in script shebang: %s" % _s(parts[0]))
    flags = set()
    for p in parts[1:]:
        if p.startswith(b"flags="):
            for f in (p[6:].split(b",") if p[6:] else ()):
                if f.decode("latin-1") not in SCRIPT_FLAGS:
                    raise ScriptError("ERR Unexpected flag in script shebang: %s" % _s(f))
                flags.add(f.decode())
        else:
            raise ScriptError("ERR Unknown lua shebang option: %s" % _s(p))
    return frozenset(flags), False, end


def parse_library_metadata(code: bytes) -> tuple[bytes, bytes, int]:
    """(engine, library name, shebang length) as functionExtractLibMetaData and
    functionsCreateWithLibraryCtx check them, in Redis's order."""
    from rdbtools.sds import split_args

    if not code.startswith(b"#!"):
        raise ScriptError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise ScriptError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise ScriptError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for p in parts[1:]:
        if p[:5].lower() == b"name=":
            if name is not None:
                raise ScriptError("ERR Invalid metadata value, name argument was given "
                                  "multiple times")
            name = p[5:]
            continue
        raise ScriptError("ERR Invalid metadata value given: %s" % _s(p))
    if name is None:
        raise ScriptError("ERR Library name was not given")
    if not _valid_name(name):
        raise ScriptError("ERR Library names can only contain letters, numbers, or "
                          "underscores(_) and must be at least one character long")
    if engine.lower() != b"lua":
        raise ScriptError("ERR Engine '%s' not found" % _s(engine))
    return engine, name, end


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


class RunState:
    """What SCRIPT KILL, FUNCTION KILL and FUNCTION STATS see of a running script."""

    __slots__ = ("name", "is_eval", "argv", "start", "dirty", "killed", "timed_out")

    def __init__(self, name: str, is_eval: bool, argv) -> None:
        self.name, self.is_eval, self.argv = name, is_eval, argv
        self.start = time.monotonic()
        self.dirty = self.killed = self.timed_out = False

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)


class Scripting:
    """Scripting state of one engine (`Scripting.of(engine)`).

    A script that runs past busy-reply-threshold calls `engine.busy_tick()` (when the
    network layer provides one: a turn of the event loop answering -BUSY) every 100000
    Lua instructions, so SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE can reach it.
    """

    def __init__(self, engine) -> None:
        self.engine = engine
        self.scripts: dict[bytes, Script] = {}
        self._eval_box: LuaRuntimeBox | None = None
        self._fn_box: LuaRuntimeBox | None = None
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, tuple[Library, LuaFunction]] = {}
        self._client = None
        self.running: RunState | None = None  # the script or function being run
        self.rand = Rand48()  # shared by EVAL and functions, as Redis's one static state

    @classmethod
    def of(cls, engine) -> "Scripting":
        st = engine.__dict__.get("_scripting")
        if st is None:
            st = engine._scripting = cls(engine)
        return st

    def _log(self, level: int, msg: str) -> None:
        """redis.log: below the server's loglevel nothing is written, as Redis does."""
        e = self.engine
        if e is None:
            return
        try:
            verbosity = _LOGLEVELS.get(str(e.config.get("loglevel")).lower(), LL_NOTICE)
        except Exception:  # noqa: BLE001 - a config without loglevel
            verbosity = LL_NOTICE
        if level >= verbosity:
            e.log(msg, ".-*#"[level])

    def _warn_fallback(self) -> None:
        if LUA_FALLBACK and self.engine is not None:
            lua = _lupa.LuaRuntime().lua_implementation
            self.engine.log("lupa has no Lua 5.1 module (lupa.lua51): scripts run on %s, "
                            "not the Lua 5.1 Redis embeds" % lua, "#")

    @property
    def eval_box(self) -> LuaRuntimeBox:
        if self._eval_box is None:
            self._warn_fallback()
            self._eval_box = LuaRuntimeBox(function_mode=False, log=self._log,
                                           rand=self.rand)
        return self._eval_box

    @property
    def fn_box(self) -> LuaRuntimeBox:
        if self._fn_box is None:
            self._fn_box = LuaRuntimeBox(function_mode=True, log=self._log, rand=self.rand)
        return self._fn_box

    # -- EVAL scripts ------------------------------------------------------------------
    def create_script(self, body: bytes) -> bytes:
        sha = sha1hex(body).encode()
        if sha in self.scripts:
            return sha
        flags, compat, skip = parse_shebang(body)
        fn, e = self.eval_box.compile(body[skip:], b"@user_script")
        if fn is None:
            raise ScriptError("ERR Error compiling script (new function): %s" % _s(e))
        self.scripts[sha] = Script(body, flags, compat, fn)
        return sha

    def flush_scripts(self) -> None:
        self.scripts.clear()
        self._eval_box = None

    # -- function libraries ------------------------------------------------------------
    def compile_library(self, code: bytes) -> Library:
        """Run a library's code (FUNCTION LOAD's checks up to registering functions)."""
        _, name, skip = parse_library_metadata(code)
        return self._compile_body(name, code, skip)

    def _compile_body(self, name: bytes, code: bytes, skip: int) -> Library:
        box = self.fn_box
        fn, e = box.compile(code[skip:], b"@user_function")
        if fn is None:
            raise ScriptError("ERR Error compiling function: %s" % _s(e))
        funcs, problem = box.load_library(fn)
        if funcs is None:
            raise ScriptError("ERR " + problem)
        if not funcs:
            raise ScriptError("ERR No functions registered")
        return Library(name, code, funcs)

    def sync(self) -> None:
        """Compile what `engine.functions` holds that is not compiled yet (libraries from
        an RDB, an AOF or FUNCTION RESTORE) and forget the ones it dropped."""
        want = self.engine.functions
        libs = self.libraries
        if len(libs) == len(want) and all(
                (lib := libs.get(k)) is not None and lib.code is v for k, v in want.items()):
            return
        for k in list(libs):
            if k not in want or libs[k].code != want[k]:
                del libs[k]
        for k, code in want.items():
            if k in libs:
                libs[k].code = code
                continue
            try:
                libs[k] = self.compile_library(bytes(code))
            except ScriptError as e:
                self._cannot_load(k, _s(e.reply))
            except Exception as e:  # noqa: BLE001 - one bad library must not stop FCALL
                self._cannot_load(k, "%s: %s" % (type(e).__name__, e))
        self._index()

    def _cannot_load(self, name: bytes, why: str) -> None:
        if self.engine is not None:
            self.engine.log("Function library '%s' could not be loaded: %s"
                            % (_s(name), why), "#")

    def adopt(self, lib: Library) -> None:
        """A library FUNCTION LOAD just stored in engine.functions."""
        self.libraries[lib.name] = lib
        self.sync()
        self._index()

    def _index(self) -> None:
        self.functions = {f.name: (lib, f) for lib in self.libraries.values()
                          for f in lib.functions}

    # -- running -----------------------------------------------------------------------
    def _script_client(self, caller):
        from .engine import Client

        sc = self._client
        if sc is None:
            sc = self._client = Client(0, self.engine)
            sc.authenticated = True
        sc.db = caller.db
        sc.resp = 2
        return sc

    def kill(self, is_eval: bool) -> Error:
        """SCRIPT KILL (is_eval) / FUNCTION KILL, as scriptKill words its answers."""
        rs = self.running
        if rs is None:
            return Error(b"NOTBUSY No scripts in execution right now.")
        if rs.dirty:
            return Error(b"UNKILLABLE Sorry the script already executed write commands "
                         b"against the dataset. You can either wait the script termination "
                         b"or kill the server in a hard way using the SHUTDOWN NOSAVE "
                         b"command.")
        if is_eval and not rs.is_eval:
            return Error(b"BUSY Redis is busy running a script. You can only call FUNCTION "
                         b"KILL or SHUTDOWN NOSAVE.")
        if not is_eval and rs.is_eval:
            return Error(b"BUSY Redis is busy running a script. You can only call SCRIPT "
                         b"KILL or SHUTDOWN NOSAVE.")
        rs.killed = True
        return None

    def _interrupt(self) -> bool:
        rs = self.running
        if rs is None:
            return False
        e = self.engine
        if not rs.timed_out:
            threshold = getattr(e.config, "lua_time_limit", 5000)
            elapsed = rs.duration_ms()
            if threshold <= 0 or elapsed < threshold:
                return False
            rs.timed_out = True
            e.log("Slow script detected: still in execution after %d milliseconds. You can "
                  "try killing the script using the %s command. Script name is: %s."
                  % (elapsed, "SCRIPT KILL" if rs.is_eval else "FUNCTION KILL", rs.name), "#")
        tick = getattr(e, "busy_tick", None)
        if tick is not None:
            tick()
        if rs.killed:
            e.log("Lua script killed by user with SCRIPT KILL.", "#")
        # SHUTDOWN NOSAVE taken during a turn ends the script too, so the server can go
        return rs.killed or e.shutdown_requested is not None

    def run(self, box: LuaRuntimeBox, fn, name: str, caller, keys, args, read_only: bool,
            argv=()):
        from .blocking import Block
        from .proto import to_bytes

        e = self.engine
        sc = self._script_client(caller)
        commands = e.commands

        def lookup(argv):
            cmd = commands.get(argv[0].lower())
            if cmd is not None and cmd.subs is not None and len(argv) >= 2:
                cmd = cmd.subs.get(argv[1].lower())
            return cmd

        def command(argv):
            cmd = lookup(argv)
            if cmd is None:
                return 2, "Unknown Redis command called from script"
            n = len(argv)
            if (cmd.arity > 0 and cmd.arity != n) or n < -cmd.arity:
                return 2, "Wrong number of args calling Redis command from script"
            if cmd.flags & _NOSCRIPT_FLAGS or cmd.fullname in _NOSCRIPT_70:
                return 2, "This Redis command is not allowed from script"
            if read_only and (cmd.is_write or "may-replicate" in cmd.flags):
                return 2, "Write commands are not allowed from read-only scripts."
            if cmd.is_write:
                rs.dirty = True
            sc.resp = box.resp
            if box.repl & REPL_AOF:
                reply = e.call(sc, cmd, argv)
            else:  # redis.set_repl without REPL_AOF: the effect stays out of the AOF
                hooks_now, e.prop_hooks = e.prop_hooks, []
                try:
                    reply = e.call(sc, cmd, argv)
                finally:
                    e.prop_hooks = hooks_now
            if isinstance(reply, Block):  # scripts never block: the timeout answer
                reply = reply.timeout_reply
            return 0, to_bytes(reply, box.resp == 3)

        hooks = e.prop_hooks
        buffered: list = []
        if hooks and not e.in_exec:
            e.prop_hooks = [lambda db, a: buffered.append((db, a))]
        rs = self.running = RunState(name, not box.function_mode, argv)
        box.lookup = lookup
        try:
            reply = box.run(fn, name, keys, args, command, caller.resp, self._interrupt)
        finally:
            self.running = None
            box.lookup = None
            e.prop_hooks = hooks
        # The script itself never propagates, whatever the engine makes of its
        # `may-replicate` flag: an empty override replaces EVAL/FCALL's own argv.
        e._prop_override = []
        if buffered:
            # Redis 7.0 replicates effects: several writes go out as one MULTI/EXEC.
            e.propagate_block(buffered)
        return reply


def info_memory_fields(engine) -> list[tuple[str, object]]:
    """INFO memory's scripting lines (Redis 7.0 names, before `maxmemory`)."""
    st = engine.__dict__.get("_scripting")

    def used(box) -> int:
        if box is None:
            return 0
        try:
            return int(box.lua.get_memory_used() or 0)
        except Exception:  # noqa: BLE001 - a lupa build without memory accounting
            return 0

    vm_eval = used(st and st._eval_box) if st else 0
    vm_funcs = used(st and st._fn_box) if st else 0
    if st is not None:
        st.sync()
    scripts = sum(len(s.body) for s in st.scripts.values()) if st else 0
    funcs = sum(len(c) for c in engine.functions.values())

    def human(n: int) -> str:
        for unit in ("B", "K", "M", "G"):
            if n < 1024 or unit == "G":
                return ("%dB" % n) if unit == "B" else "%.2f%s" % (n, unit)
            n /= 1024
        return "%dB" % n

    return [("used_memory_lua", vm_eval), ("used_memory_vm_eval", vm_eval),
            ("used_memory_lua_human", human(vm_eval)), ("used_memory_scripts_eval", scripts),
            ("number_of_cached_scripts", len(st.scripts) if st else 0),
            ("number_of_functions", len(st.functions) if st else 0),
            ("number_of_libraries", len(engine.functions)),
            ("used_memory_vm_functions", vm_funcs), ("used_memory_vm_total", vm_eval + vm_funcs),
            ("used_memory_vm_total_human", human(vm_eval + vm_funcs)),
            ("used_memory_functions", funcs), ("used_memory_scripts", scripts + funcs),
            ("used_memory_scripts_human", human(scripts + funcs))]
