"""Lua scripting (EVAL, EVALSHA, SCRIPT, FCALL, FUNCTION libraries) against Redis 7.0.

The same commands go to real Redis 7.0 and rdbkit-server (both with an AOF); raw replies,
DEBUG DIGEST and the AOF bytes each batch appended must be equal.
"""

from __future__ import annotations

import shutil

import pytest

from server.app import ServerThread
from tests.support.realredis import RealRedis, need_binary

from ._pair import SERVER_OPTS as _OPTS, pair_fixture
from ._inproc import engine_with_log
from ._resp import NULL_ARRAY, Err, RawClient



def _register():
    # Registers the commands until server/engine.py imports the module itself.
    import server.cmd_scripting  # noqa: F401


@pytest.fixture(autouse=True, scope="module")
def _scripting_commands_only_here():
    """Until server/engine.py imports server.cmd_scripting, its commands exist only while
    this module runs, so other tests keep seeing the command table they were written
    for whatever the order. (Once engine.py imports it, this restores the same table.)"""
    from server import engine

    engine._load_command_modules()
    saved = dict(engine.COMMANDS)
    yield
    engine.COMMANDS.clear()
    engine.COMMANDS.update(saved)


def test_in_process_effects_replication_and_conversions():
    _register()
    e, c, prop, x = engine_with_log()

    body = "redis.call('set', KEYS[1], ARGV[1]); redis.call('incr', KEYS[1]); " \
           "return redis.call('get', KEYS[1])"
    assert x("EVAL", body, "1", "k", "5") == b"6"
    assert prop == [[b"MULTI"], [b"set", b"k", b"5"], [b"incr", b"k"], [b"EXEC"]]
    assert x("EVAL", "return {1, 2.9, -2.9, 'a', {true, false}, nil, 5}", "0") == \
        [1, 2, -2, b"a", [1, None]]
    assert x("EVAL", "return 1e300", "0") == -(1 << 63)
    assert x("EVAL", "x = 1", "0").startswith(
        b"ERR user_script:1: Attempt to modify a readonly table script: ")
    assert x("EVAL", "return os", "0").startswith(
        b"ERR user_script:1: Script attempted to access nonexistent global variable 'os'")


def test_self_referencing_reply_is_bounded():
    _register()
    from server.engine import Engine

    e = Engine()
    c = e.new_client()
    r = e.execute(c, [b"EVAL", b"local t = {} t[1] = t return t", b"0"])
    depth = 0
    while isinstance(r, list):
        r, depth = r[0], depth + 1
    assert r == b"ERR reached lua stack limit" and 100 < depth < 1000


def test_busy_script_is_killed_through_busy_tick():
    """Past busy-reply-threshold a script hands the network layer turns
    (`engine.busy_tick`); SCRIPT KILL / FUNCTION KILL answer there as Redis's scriptKill."""
    _register()
    from server.engine import Engine

    e = Engine()
    c, other = e.new_client(), e.new_client()
    assert e.execute(other, [b"SCRIPT", b"KILL"]) == b"NOTBUSY No scripts in execution right now."
    e.execute(c, [b"CONFIG", b"SET", b"busy-reply-threshold", b"1"])
    seen = []

    def tick():
        if not seen:
            seen.append(e.execute(other, [b"FUNCTION", b"STATS"]))
            seen.append(e.execute(other, [b"FUNCTION", b"KILL"]))
            seen.append(e.execute(other, [b"SCRIPT", b"KILL"]))

    e.busy_tick = tick
    spin = b"local i = 0\nwhile true do i = i + 1 end"
    reply = e.execute(c, [b"EVAL", spin, b"0"])
    assert reply.startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
    assert reply.endswith(b", on @user_script:2.")
    # Redis 7.0's FUNCTION STATS refuses to answer while an EVAL script is busy (it does
    # answer during FCALL: tests/server/test_busy_script.py compares both with Redis)
    assert seen[0].startswith(b"BUSY Redis is busy running a script. You can only call SCRIPT")
    assert seen[1].startswith(b"BUSY Redis is busy running a script. You can only call SCRIPT")
    assert seen[2] == b"+OK\r\n"
    seen.clear()
    writes = b"redis.call('set', 'x', 1) local n = 0 while n < 2e6 do n = n + 1 end return n"
    assert e.execute(c, [b"EVAL", writes, b"0"]) == 2000000
    assert seen[2].startswith(b"UNKILLABLE Sorry the script already executed write commands")
    seen.clear()
    e.execute(c, [b"FUNCTION", b"LOAD", b"#!lua name=l\n"
                  b"redis.register_function('spin', function() while true do end end)"])
    reply = e.execute(c, [b"FCALL", b"spin", b"0"])
    assert reply == b"ERR Script killed by user with SCRIPT KILL... script: spin, " \
                    b"on @user_function:2."
    assert seen[1] == b"+OK\r\n"
    assert seen[2].startswith(b"BUSY Redis is busy running a script. You can only call FUNCTION")


def test_redis_log_honours_loglevel():
    _register()
    from server.engine import Engine

    e = Engine()
    c = e.new_client()
    logs = []
    e.log = lambda msg, mark="*": logs.append((mark, msg))
    body = b"redis.log(redis.LOG_DEBUG, 'dbg') redis.log(redis.LOG_WARNING, 'warn', 1, 2.5)"
    e.execute(c, [b"EVAL", body, b"0"])
    e.execute(c, [b"CONFIG", b"SET", b"loglevel", b"debug"])
    e.execute(c, [b"EVAL", b"redis.log(redis.LOG_DEBUG, 'dbg')", b"0"])
    assert logs == [("#", "warn 1 2.5"), (".", "dbg")]


def test_info_memory_fields_count_scripts_and_functions():
    _register()
    from server.engine import Engine
    from server.scripting import info_memory_fields

    e = Engine()
    c = e.new_client()
    assert dict(info_memory_fields(e))["number_of_cached_scripts"] == 0
    e.execute(c, [b"EVAL", b"return 1", b"0"])
    e.execute(c, [b"FUNCTION", b"LOAD", LIB.encode()])
    info = dict(info_memory_fields(e))
    assert (info["number_of_cached_scripts"], info["number_of_functions"],
            info["number_of_libraries"]) == (1, 3, 1)
    assert info["used_memory_scripts"] == len(b"return 1") + len(LIB) > 0
    assert info["used_memory_vm_eval"] > 0 and info["used_memory_vm_functions"] > 0


def test_monitor_sees_the_script_before_its_commands():
    _register()
    from server.engine import Engine

    e = Engine()
    c, m = e.new_client("127.0.0.1:5555"), e.new_client("127.0.0.1:6666")
    e.execute(m, [b"MONITOR"])
    e.execute(c, [b"EVAL", b"redis.call('set', 'k', 'v') return 1", b"0"])
    e.execute(c, [b"FCALL", b"nope", b"0"])
    lines = [bytes(p).split(b"] ", 1) for p in m.pushed]
    assert [(where.split(b"[")[1], rest) for where, rest in lines] == [
        (b"0 127.0.0.1:5555", b'"EVAL" "redis.call(\'set\', \'k\', \'v\') return 1" "0"'),
        (b"0 lua", b'"set" "k" "v"'), (b"0 127.0.0.1:5555", b'"FCALL" "nope" "0"')]


# -- against real Redis ----------------------------------------------------------------

_RESET = (("FUNCTION", "FLUSH"), ("SCRIPT", "FLUSH"))


# scripts' effects are checked by DEBUG DIGEST and the AOF
pair = pair_fixture("lua", per_key=False)


def _ev(body, *args):
    return ("EVAL", body, *args) if args else ("EVAL", body, "0")


@pytest.mark.interop
def test_lua_to_redis_conversions(pair):
    pair.reset(*_RESET)
    cases = [
        "return {1, 2, {3, 'x', nil, 5}, false, true, 3.99, -2.5, {ok='fine'}, "
        "{err='MYERR bad'}}",
        "return nil", "return true", "return false", "return 'str'", "return ''",
        "return 3.7", "return -3.7", "return 1e20", "return -1e20", "return 0/0",
        "return 2^53 + 1", "return {}", "return {nil, 1}", "return {1, nil, 3}",
        "return {ok='status'}", "return {err='ERR custom'}", "return {err='nocode'}",
        "return {ok='a\\r\\nb'}", "return {err='E1 line\\nnext'}", "return {foo='bar'}",
        "return redis.error_reply('MY thing')", "return redis.error_reply('-X y')",
        "return redis.error_reply('plain')", "return redis.status_reply('PONG')",
        "return {{{{{1}}}}}", "return {1, {2, {3, {ok='deep'}}}, {err='E x'}}",
        "return {double=1.5}", "return {map={a=1}}", "return {set={a=true}}",
        "return {big_number='123'}", "return {verbatim_string={format='txt', string='v'}}",
        "redis.setresp(3); return {true, false}", "redis.setresp(3); return false",
        "redis.setresp(3); return {double=3.25}", "return function() end",
        "return tostring(1/3)", "return {math.huge}", "return string.format('%5.2f', 3.14159)",
        "return redis.sha1hex('abc')", "return redis.REDIS_VERSION",
        "return redis.REDIS_VERSION_NUM",
        "return #KEYS + #ARGV",
        "local t = {} for i = 1, 300 do t[i] = i * 1.5 end return t",
        "return {1, 2, 3, n=4}", "return unpack({1, 2})", "return pcall(error, 'x')",
        "return select('#', pcall(error, {err='E y'}))",
        "return {pcall(error, {err='E y'})}", "return {pcall(error, 'plain')}",
        "return tonumber('0x10')", "return string.rep('ab', 3)", "return table.concat({1, 2}, '-')",
    ]
    pair.run([_ev(b) for b in cases])
    # RESP3 callers
    for cl in pair.clients:
        cl.call("HELLO", "3")
    try:
        pair.run([_ev(b) for b in (
            "return {double=1.5}", "return {map={a=1, b={1, 2}}}", "return {set={x=true}}",
            "return false", "return true",
            "redis.setresp(3); return true", "redis.setresp(3); return false", "return nil",
            "return {verbatim_string={format='txt', string='hello'}}")])
    finally:
        for cl in pair.clients:
            cl.call("HELLO", "2")


_ATOMS = ("nil", "true", "false", "0", "-1", "1.5", "-2.75", "1e16", "3e-5", "2^62", "-2^63",
          "2^64", "0/0", "1/0", "-1/0", "'s'", "''", "'a\\0b'", "{}", "{ok='st'}",
          "{err='E r'}", "{double=0.5}", "{double=1/0}", "{1, nil, 2}",
          "redis.status_reply('x')", "redis.error_reply('y z')", "{map={k=1}}",
          "{set={q=true}}", "'%'")


def _random_value(rng, depth=0) -> str:
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(_ATOMS)
    items = [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if rng.random() < 0.2:
        items.append("k%d=%s" % (rng.randrange(3), _random_value(rng, depth + 1)))
    return "{" + ", ".join(items) + "}"


@pytest.mark.interop
@pytest.mark.parametrize("resp", ["2", "3"])
def test_random_script_replies(pair, resp):
    """Random nested return values (holes, floats, status/error/double/map/set tables,
    RESP2 and RESP3 scripts) convert to the same replies for RESP2 and RESP3 callers."""
    import random

    rng = random.Random(7)
    cases = [rng.choice(("", "redis.setresp(3) ")) + "return " + _random_value(rng)
             for _ in range(300)]
    for cl in pair.clients:
        cl.call("HELLO", resp)
    try:
        pair.run([_ev(b) for b in cases], compare_state=False)
    finally:
        for cl in pair.clients:
            cl.call("HELLO", "2")


_CALLS = (
    "'set', K, V", "'incr', K", "'append', K, V", "'lpush', K, V, V", "'rpop', K",
    "'sadd', K, V", "'srem', K, V", "'hset', K, V, V", "'hdel', K, V", "'zadd', K, 1, V",
    "'zincrby', K, 2.5, V", "'del', K", "'expireat', K, 4102444800", "'persist', K",
    "'getset', K, V", "'lrange', K, 0, -1", "'smembers', K", "'hgetall', K",
    "'zrange', K, 0, -1, 'withscores'", "'type', K", "'exists', K", "'get', K",
    "'rename', K, K", "'copy', K, K", "'incrbyfloat', K, 0.1", "'setrange', K, 2, V",
)


@pytest.mark.interop
def test_random_scripts_of_calls(pair):
    """Scripts of random redis.call/pcall sequences: same replies, same data, same AOF
    (effects in MULTI/EXEC blocks), against Redis."""
    import random

    pair.reset(*_RESET)
    rng = random.Random(11)
    scripts = []
    for _ in range(150):
        lines = []
        for _ in range(rng.randrange(1, 5)):
            call = rng.choice(_CALLS)
            while "K" in call or "V" in call:
                call = call.replace("K", "'k%d'" % rng.randrange(4), 1) if "K" in call \
                    else call.replace("V", "'%s'" % rng.choice("abc12"), 1)
            fn = rng.choice(("call", "pcall", "pcall"))
            lines.append("r[#r + 1] = redis.%s(%s)" % (fn, call))
        scripts.append("local r = {} " + " ".join(lines) + " return r")
    pair.run([_ev(b) for b in scripts])


@pytest.mark.interop
def test_cjson_bit_and_math_random(pair):
    pair.reset(*_RESET)
    cases = _LIB_CASES.strip().splitlines()
    pair.run([_ev(b) for b in cases])


_LIB_CASES = r"""
return cjson.encode({1, 2, {a=1}, "x/y\n", 1.5, 1e20, 0.1, true})
return cjson.encode({})
return cjson.encode({[1]=1, [3]=3})
return cjson.encode({[1]=1, [30]=3})
return cjson.encode({[0]=1})
return cjson.encode(0/0)
return cjson.encode(function() end)
return cjson.encode()
return cjson.encode({a={b={c="d"}}, [2]=3})
return cjson.encode({["k"]={1, 2}, [true]=1})
return cjson.encode("\127\0\31\200 q\"\\")
return cjson.encode(cjson.decode('{"x":[1,2,3],"y":{"z":null},"w":"\\ud83d\\ude00"}'))
return cjson.encode(cjson.null)
return cjson.decode("0x10")
return cjson.decode("[1,2")
return cjson.decode("bad")
return cjson.decode("")
return cjson.decode("  [ ]  ")
return cjson.decode('{"a":1}}')
return cjson.decode('"\\x"')
return cjson.decode('"\\ud800"')
return cjson.decode('{1:2}')
return cjson.decode('{"a" 2}')
return cjson.decode('[1e5, -0.5, 1E-2, "a\\tb", true, false]')
return cjson.decode({})
return cjson.decode(12)
local t = cjson.decode('{"a":[1,2,null,"\\u00e9"]}') return {t.a[1], t.a[3] == cjson.null, t.a[4]}
return cjson.decode('[null]')[1] == cjson.null
return bit.band(0xff, 0x0f, 3)
return bit.tohex(-1)
return bit.tohex(255, -4)
return bit.tohex(255, 2)
return bit.lshift(1, 40)
return {bit.rol(0x12345678, 8), bit.ror(1, 1), bit.arshift(-256, 4), bit.bswap(0x12345678)}
return {bit.bnot(0), bit.tobit(2^32+5), bit.tobit(2.5), bit.tobit(3.5), bit.bor(1, 2, 4)}
return {bit.rshift(-1, 28), bit.bxor(5, 3)}
return bit.band("a")
return bit.band("12", 4)
return {math.random(), math.random(10), math.random(5, 7)}
return tostring(math.random())
math.randomseed(42) return {tostring(math.random()), math.random(100)}
return math.random(0)
return math.random(3, 1)
return math.random(1, 2, 3)
return math.random("x")
return cjson.decode(string.rep('[', 1100))
return #cjson.encode(cjson.decode(string.rep('[', 999) .. string.rep(']', 999)))
local t = {} local c = t for i = 1, 1005 do c[1] = {} c = c[1] end return cjson.encode(t)
local t = {} local c = t for i = 1, 300 do c[1] = {i} c = c[1] end return t
return cmsgpack.pack({1, 2, 3})
return cmsgpack.pack({a=1, b={true, false}})
return cmsgpack.pack(1.5, 0.1, -1, -33, -200, 70000, 5000000000, -5000000000, 1e300, 2^63)
return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300), '')
return cmsgpack.pack({})
return cmsgpack.pack()
return cmsgpack.pack({[1]=1, [3]=3})
return cmsgpack.pack(function() end, nil, 1)
return {cmsgpack.unpack(cmsgpack.pack({1, 2, {x='y'}}, 'z', 3.25))}
return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}
return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}
return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}
return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}
return cmsgpack.unpack('\145')
return cmsgpack.unpack('\193')
return cmsgpack.unpack()
return cmsgpack.unpack_one('\1', 5)
return cmsgpack.unpack_one('\1', -1)
return {cmsgpack.unpack('\205\1\0', '\209\255\0', '\202\63\192\0\0')}
return cmsgpack.unpack('\205\1\0\209\255\0\202\63\192\0\0\207\0\0\0\1\0\0\0\0')
local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)
return cmsgpack.pack(0/0, 1/0, -1/0)
return cmsgpack.unpack(cmsgpack.pack(string.rep('a', 70000))) == string.rep('a', 70000)
return cmsgpack.pack({[1.5]=1})
return struct.pack('>I2', 258)
return struct.pack('<i', -2)
return struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 4, 5, -6, 7)
return struct.pack('!4 b i', 1, 2)
return struct.pack('>d f', 1.5, 0.1)
return struct.pack('c3 s', 'abcdef', 'zz')
return struct.pack('c0', 'hello')
return struct.pack('c5', 'hi')
return struct.pack('z', 1)
return struct.pack('!3i', 1)
return struct.pack('i40', 1)
return struct.pack('>i3', 2^40 + 5)
return struct.pack('<I10', -1)
return struct.pack()
return struct.pack('i')
return {struct.unpack('>I2', '\1\2')}
return {struct.unpack('<i', struct.pack('<i', -7))}
return {struct.unpack('>bBhH', '\255\255\255\254\0\1')}
return {struct.unpack('s', 'abc\0def')}
return {struct.unpack('s', 'abc')}
return {struct.unpack('b c0', '\3xyz')}
return {struct.unpack('c0', 'xyz')}
return {struct.unpack('>d', struct.pack('>d', 3.25))}
return {struct.unpack('i', 'ab')}
return {struct.unpack('B', 'ab', 2)}
return {struct.unpack('B', 'ab', 0)}
return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}
return struct.size('!4 b i d')
return struct.size('s')
return struct.size('c0')
return struct.size('>i3 c5 x')
return struct.pack('i i', 1)
getmetatable('').__index = 1 return 1
return ('a'):upper()
return type(getmetatable(''))
return type(getmetatable('').__index)
return getmetatable(_G) == nil
setmetatable(_G, nil) return 1
return {pcall(setmetatable, string, {})}
local t = setmetatable({}, {__index = function() return 5 end}) return t.x
return getmetatable(setmetatable({}, {__metatable = 'locked'}))
local n = 0 for k in pairs(cjson) do n = n + 1 end return n
local j = cjson return {j.encode_max_depth(), j.decode_max_depth(), j.encode_keep_buffer()}
return cjson.encode_number_precision()
return {cjson.encode_sparse_array()}
return {cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()}
local j = cjson.new() j.encode_number_precision(3) return {j.encode(math.pi), cjson.encode(math.pi)}
local j = cjson.new() j.encode_sparse_array(true) return j.encode({[1]=1, [30]=3})
local j = cjson.new() j.encode_sparse_array(false, 0) return j.encode({[1]=1, [30]=3})
local j = cjson.new() j.encode_invalid_numbers('null') return j.encode({0/0, 1/0})
local j = cjson.new() j.encode_invalid_numbers(true) return j.encode({0/0, 1/0, -1/0})
local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('0x10')
local j = cjson.new() j.decode_invalid_numbers(false) return j.decode('[01]')
local j = cjson.new() return {j.decode_invalid_numbers(false), j.decode('-5')}
local j = cjson.new() j.encode_max_depth(2) return j.encode({{{1}}})
local j = cjson.new() j.decode_max_depth(2) return j.decode('[[[1]]]')
return cjson.encode_max_depth(0)
return cjson.encode_number_precision(15)
return cjson.encode_invalid_numbers('maybe')
return cjson.encode_max_depth(1, 2)
return cjson.encode_max_depth('x')
return type(cjson.new().encode)
local n = 0 for k in pairs(cjson.new()) do n = n + 1 end return n
return cjson.decode('[nan]')[1] ~= cjson.decode('[nan]')[1]
return cjson.decode('Infinity')
return cjson.decode('-inf')
return cjson.decode('+1')
local n = 0 for k in pairs(string) do n = n + 1 end return n
local n = 0 for k in pairs(math) do n = n + 1 end return n
local n = 0 for k in pairs(table) do n = n + 1 end return n
local n = 0 for k in pairs(redis) do n = n + 1 end return n
local n = 0 for k in pairs(cjson) do n = n + 1 end return n
return rawget(_G, 'redis') ~= nil
return rawget(string, 'rep') ~= nil
return {pcall(rawset, _G, 'x', 1)}
return {pcall(rawset, string, 'x', 1)}
return next(string) ~= nil
return ('abc'):upper()
return ('x'):rep(3)
return {pcall(function() getmetatable('').__index.rep = nil end)}
local t = {} for k, v in pairs({a=1}) do t[#t + 1] = k end return t
return next({})
"""


@pytest.mark.interop
def test_redis_call_on_every_type(pair):
    pair.reset(*_RESET)
    calls = [
        _ev("return redis.call('set', KEYS[1], ARGV[1])", "1", "s", "v"),
        _ev("return redis.call('get', 's')"), _ev("return redis.call('get', 'nope')"),
        _ev("return redis.call('incrby', 'n', 5)"),
        _ev("return redis.call('incrbyfloat', 'f', 1.5)"),
        _ev("return redis.call('set', 'num', 3.0)"), _ev("return redis.call('get', 'num')"),
        _ev("return redis.call('set', 'num2', 0.1)"), _ev("return redis.call('get', 'num2')"),
        _ev("redis.call('rpush', 'l', 'a', 'b', 'c'); return redis.call('lrange', 'l', 0, -1)"),
        _ev("return redis.call('lpop', 'l')"), _ev("return redis.call('lpop', 'nolist')"),
        _ev("redis.call('hset', 'h', 'f1', 'v1', 'f2', 'v2'); "
            "return redis.call('hgetall', 'h')"),
        _ev("return redis.call('hget', 'h', 'zz')"),
        _ev("redis.call('sadd', 'st', 'x', 'y'); return redis.call('scard', 'st')"),
        _ev("redis.call('srem', 'st', 'y'); return redis.call('spop', 'st')"),
        _ev("redis.call('zadd', 'z', 1, 'a', 2.5, 'b'); "
            "return redis.call('zrange', 'z', 0, -1, 'withscores')"),
        _ev("return redis.call('zscore', 'z', 'b')"),
        _ev("return redis.call('xadd', 'x', '1-1', 'f', 'v')"),
        _ev("return redis.call('xrange', 'x', '-', '+')"),
        _ev("return redis.call('expireat', 's', 4102444800)"),
        _ev("return redis.call('ttl', 's') > 0"),
        _ev("return redis.call('type', 'z')"), _ev("return redis.call('ping')"),
        _ev("return redis.call('del', 'nothing')"),
        _ev("redis.setresp(3); return redis.call('hgetall', 'h')"),
        _ev("redis.setresp(3); return redis.call('zscore', 'z', 'b')"),
        _ev("redis.setresp(3); return redis.call('smembers', 'st')"),
        _ev("redis.setresp(3); return redis.call('get', 'nope')"),
        _ev("redis.call('select', 3); redis.call('set', 'in3', 1); return redis.call('dbsize')"),
        _ev("return redis.call('exists', 'in3')"),
        _ev("local r = redis.call('hgetall', 'h') return #r"),
        _ev("return redis.call('blpop', 'nolist', 0)"),
        _ev("return redis.call('blmpop', 0, 1, 'nolist', 'left')"),
        _ev("return redis.call('lmove', 'l', 'l2', 'left', 'right')"),
        _ev("redis.setresp(3); local r = redis.call('info', 'keyspace'); "
            "return {r.verbatim_string.format, type(r.verbatim_string.string)}"),
        _ev("redis.setresp(3); return redis.call('zadd', 'z', 'incr', 1, 'a')"),
        _ev("redis.setresp(3); return redis.call('zadd', 'z', 'nx', 'incr', 1, 'a')"),
        _ev("redis.setresp(3); return redis.call('xinfo', 'stream', 'x')"),
        _ev("return redis.call('xinfo', 'stream', 'x')"),
        _ev("redis.setresp(3); return redis.call('zrange', 'z', 0, 0, 'withscores')"),
        _ev("redis.setresp(3); return redis.call('object', 'encoding', 'h')"),
        _ev("redis.setresp(3); return redis.call('lpos', 'l2', 'a')"),
        _ev("redis.setresp(3); return redis.call('lpos', 'l2', 'nope')"),
        _ev("redis.setresp(3); return redis.call('sismember', 'st', 'x')"),
        _ev("redis.setresp(3); return redis.call('smismember', 'st', 'x', 'q')"),
        _ev("redis.setresp(3); return redis.call('geoadd', 'g', 13.361389, 38.115556, 'P')"),
        _ev("redis.setresp(3); return redis.call('geopos', 'g', 'P', 'Q')"),
        _ev("return redis.call('geopos', 'g', 'P', 'Q')"),
        _ev("redis.setresp(3); return redis.call('geodist', 'g', 'P', 'P')"),
        _ev("return redis.call('pfadd', 'hll', 'a', 'b')"),
        _ev("return redis.call('pfcount', 'hll')"),
        _ev("return redis.call('memory', 'usage', 'nope')"),
        _ev("return redis.call('object', 'freq', 'nope')"),
        _ev("return redis.call('sort', 'l2', 'alpha')"),
        _ev("return redis.call('publish', 'ch', 'msg')"),
        _ev("return redis.call('time')[3]"), _ev("return #redis.call('time')"),
        ("EVAL_RO", "return redis.call('publish', 'ch', 'msg')", "0"),
        ("EVAL_RO", "return redis.call('pfcount', 'hll')", "0"),
    ]
    pair.run(calls)


# xpcall handlers and coroutine.resume see Redis's error values (tables for redis.call)
_CAUGHT_ERRORS = r"""
return {xpcall(function() return redis.call('incr', 'str') end, function(e) return e.err end)}

return {xpcall(function() error('plain') end, function(e) return e end)}

return {xpcall(function() error({err='T x'}) end, function(e) return e.err end)}

return {xpcall(function() return cjson.decode('x') end, function(e) return e end)}

local C, f = coroutine, function() return redis.call('incr', 'str') end
return ({C.resume(C.create(f))})[2].err

local co = coroutine.create(function() error('in co') end) return {coroutine.resume(co)}

local C = coroutine local co = C.create(function() C.yield(1, 2) return 3 end)
return {C.resume(co), C.resume(co)}

return coroutine.wrap(function() error('x') end)()

return coroutine.wrap(function() return redis.call('incr', 'str') end)()

return {pcall(coroutine.wrap(function() return redis.call('incr', 'str') end))}

return coroutine.status(coroutine.create(function() end))
"""


@pytest.mark.interop
def test_pcall_and_error_messages(pair):
    pair.reset(*_RESET)
    pair.run([("SET", "str", "text")], compare_state=False)
    pair.run([
        _ev("return redis.pcall('incr', 'str')"),
        _ev("local r = redis.pcall('incr', 'str'); return r.err"),
        _ev("local r = redis.pcall('nosuchcmd'); return r"),
        _ev("local ok, e = pcall(redis.call, 'incr', 'str'); return {tostring(ok), e}"),
        _ev("return redis.call('incr', 'str')"),
        _ev("redis.call('set', 'w', 1); return redis.call('incr', 'str')"),
        _ev("return 1 +"), _ev("error('boom')"), _ev("error({err='CUSTOM x'})"),
        _ev("local t = nil; return t.x"), _ev("x = 5"), _ev("return undefined_var"),
        _ev("string.foo = 1"), _ev("redis.call = nil"),
        _ev("return redis.call('nosuch')"), _ev("return redis.call('get')"),
        _ev("return redis.call('get', 'a', 'b')"), _ev("return redis.call()"),
        _ev("return redis.call('get', {})"), _ev("return redis.call('get', nil)"),
        _ev("return redis.call('eval', 'return 1', 0)"), _ev("return redis.call('multi')"),
        _ev("return redis.call('config', 'get', 'maxmemory')"),
        _ev("return redis.call('client', 'nosub')"), _ev("return redis.call('config')"),
        ("EVAL_RO", "return redis.call('set', 'a', 1)", "0"),
        ("EVAL_RO", "return redis.call('get', 'str')", "0"),
        _ev("#!lua flags=no-writes\nreturn redis.call('set', 'a', 1)"),
        _ev("#!lua flags=no-writes\nreturn redis.call('get', 'str')"),
        ("EVAL_RO", "#!lua\nreturn 1", "0"), ("EVAL_RO", "#!lua flags=no-writes\nreturn 2", "0"),
        _ev("#!lua flags=bogus\nreturn 1"), _ev("#!py\nreturn 1"), _ev("#!lua foo=bar\nreturn 1"),
        _ev("#!lua"), _ev("#!lua\nreturn redis.call('set', 'shebang', 1)"),
        ("EVAL", "return 1", "2", "a"), ("EVAL", "return 1", "-1"), ("EVAL", "return 1", "x"),
        ("EVAL", "return 1"),
        _ev("return redis.setresp(4)"), _ev("redis.log(redis.LOG_WARNING, 'from a script')"),
        _ev("redis.log(99, 'x')"), _ev("redis.log('x')"),
        _ev("redis.set_repl(redis.REPL_ALL); return 1"), _ev("redis.set_repl(99)"),
        _ev("return redis.replicate_commands()"),
        _ev("return redis.sha1hex()"), _ev("return redis.error_reply(1)"),
        _ev("return tostring(print)"), _ev("return loadstring('return 1')()"),
        _ev("local f = loadstring('x = 1'); return f()"),
        _ev("return coroutine.wrap(function() return redis.call('get', 'str') end)()"),
        _ev("error('a\\nb')"), _ev("error('tail\\r\\n')"), _ev("error({err='E a\\nb'})"),
        _ev("return {err='x\\ny\\r\\n'}"), _ev("return redis.error_reply('E1 a\\nb')"),
        *[_ev(b) for b in _CAUGHT_ERRORS.strip().split("\n\n")],
        _ev("return redis.acl_check_cmd('get', 'a')"), _ev("return redis.acl_check_cmd('nosuch')"),
        _ev("return redis.acl_check_cmd()"), _ev("return redis.acl_check_cmd('config', 'x')"),
        _ev("return {redis.breakpoint(), redis.debug('x'), 1}"),
        _ev("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "1", "k1", "a1", "a2"),
    ])


@pytest.mark.interop
def test_evalsha_and_script_cache(pair):
    pair.reset(*_RESET)
    body = "return redis.call('incr', KEYS[1]) + tonumber(ARGV[1])"
    pair.run([
        ("SCRIPT", "LOAD", body), ("SCRIPT", "LOAD", "return +"),
        ("EVALSHA", "d8f2b0b8e1e5d1c4b5b0c1f2e3a4b5c6d7e8f9a0", "0"),
        ("EVALSHA", "abc", "0"), ("SCRIPT", "EXISTS", "x", "y"),
        ("EVAL", "return 'cached'", "0"), ("SCRIPT", "HELP"), ("SCRIPT", "KILL"),
        ("SCRIPT", "FLUSH", "bad"), ("SCRIPT", "NOPE"),
    ])
    sha = pair.run([("SCRIPT", "LOAD", body)])[0].decode()
    cached = pair.run([("SCRIPT", "LOAD", "return 'cached'")])[0].decode()
    pair.run([
        ("EVALSHA", sha, "1", "cnt", "10"), ("EVALSHA", sha.upper(), "1", "cnt", "10"),
        ("EVALSHA_RO", sha, "1", "cnt", "10"), ("SCRIPT", "EXISTS", sha, cached, "nope"),
        ("SCRIPT", "FLUSH"), ("SCRIPT", "EXISTS", sha), ("EVALSHA", sha, "1", "cnt", "1"),
        ("EVAL", body, "1", "cnt", "1"), ("EVALSHA", sha, "1", "cnt", "1"),
        ("SCRIPT", "FLUSH", "ASYNC"),
    ])


@pytest.mark.interop
def test_eval_in_multi_and_watch(pair):
    pair.reset(*_RESET)
    pair.run([
        ("MULTI",), ("SET", "m", "1"),
        _ev("redis.call('incr', 'm'); redis.call('incr', 'm'); return 1"),
        _ev("return redis.call('get', 'm')"), ("EXEC",),
        _ev("redis.call('set', 'single', 'x'); return redis.call('get', 'missing')"),
        _ev("redis.call('set', 'e1', 1); redis.call('del', 'e1'); redis.call('lpush', 'e2', 1); "
            "return 1"),
        _ev("redis.call('set', 'boom', 1); return redis.call('nosuch')"),
        _ev("redis.call('expireat', 'single', 4102444800); redis.call('persist', 'single')"),
        _ev("redis.set_repl(redis.REPL_NONE) redis.call('set', 'norepl', '1') "
            "redis.set_repl(redis.REPL_AOF) redis.call('set', 'aofonly', '1') "
            "redis.set_repl(redis.REPL_REPLICA) redis.call('set', 'replonly', '1') "
            "redis.set_repl(redis.REPL_ALL) redis.call('set', 'all', '1')"),
        _ev("redis.set_repl(redis.REPL_NONE) redis.call('set', 'quiet', '1')"),
    ])


@pytest.mark.interop
def test_watch_lazy_expiry_and_readonly_calls(pair):
    """A script's write breaks another client's WATCH; a key that expired is deleted
    (DEL) inside the script's block; read-only scripts propagate nothing."""
    import time

    pair.reset(*_RESET)
    # no active expiry meanwhile: the key must still be there for the script to expire
    pair.run([("DEBUG", "SET-ACTIVE-EXPIRE", "0")], compare_state=False)
    soon = str(int(time.time() * 1000) + 30)  # absolute, so both AOFs carry the same
    pair.run([("SET", "w", "1"), ("SET", "gone", "x", "PXAT", soon), ("SET", "r", "v")])
    watchers = [RawClient(pair.real.port), RawClient(pair.ours.port)]
    try:
        for cl in watchers:
            assert cl.call("WATCH", "w") == "OK"
        pair.run([_ev("return redis.call('incr', 'w')")])
        got = [[cl.call("MULTI"), cl.call("GET", "w"), cl.call("EXEC")] for cl in watchers]
        assert got[0] == got[1] and got[0][2] == NULL_ARRAY
    finally:
        for cl in watchers:
            cl.close()
    time.sleep(0.1)
    pair.run([_ev("local v = redis.call('get', 'gone') redis.call('set', 'after', 1) "
                  "return {v, redis.call('exists', 'gone')}"),
              ("EVAL_RO", "return redis.call('get', 'r')", "0"),
              _ev("#!lua flags=no-writes\nreturn redis.call('get', 'r')"),
              ("DBSIZE",)])
    pair.run([("DEBUG", "SET-ACTIVE-EXPIRE", "1")], compare_state=False)


LIB = """#!lua name=mylib
local function setter(keys, args)
  return redis.call('set', keys[1], args[1])
end
redis.register_function('myset', setter)
redis.register_function{function_name='myget', callback=function(keys, args)
  return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}
redis.register_function{function_name='myerr', callback=function(keys, args)
  return nosuch end}
"""


@pytest.mark.interop
def test_function_libraries(pair):
    pair.reset(*_RESET)
    pair.run([
        ("FUNCTION", "LOAD", LIB), ("FCALL", "myset", "1", "fk", "fv"),
        ("FCALL", "myget", "1", "fk"), ("FCALL_RO", "myget", "1", "fk"),
        ("FCALL_RO", "myset", "1", "fk", "x"), ("FCALL", "myerr", "0"),
        ("FCALL", "nosuch", "0"), ("FCALL", "myset", "x"), ("FCALL", "myset", "3", "a"),
        ("FCALL", "myset", "-1"), ("FCALL", "myset", "0"), ("FUNCTION", "STATS"),
        ("FUNCTION", "LOAD", LIB),
        ("FUNCTION", "LOAD", "#!lua name=bad\nreturn 1 +"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nerror('boom')"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.call('get', 'x')"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nlocal x = string.format('%d', 1)"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nx = 1"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nlocal a = 1"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('a', 1)"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function(1)"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('a b', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function{function_name='a', "
                             "callback=function() end, flags={'bogus'}}"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function{function_name='a'}"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function{callback=function() end}"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function{function_name='a', "
                             "callback=function() end, other=1}"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('a', function() end)\n"
                             "redis.register_function('a', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('myset', function() end)"),
        ("FUNCTION", "LOAD", "#!lua name=bad name=x\nreturn"),
        ("FUNCTION", "LOAD", "#!lua name=slow\nwhile true do end"),
        ("FUNCTION", "LOAD", "#!lua name=bad\nredis.setresp(3)"),
        ("FUNCTION", "LOAD", "#!lua name=logs\nredis.log(redis.LOG_DEBUG, 'loading') "
                             "local v = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM\n"
                             "redis.register_function('fx', function() return v end)"),
        ("FCALL", "fx", "0"), ("FUNCTION", "DELETE", "logs"),
        ("FUNCTION", "LOAD", "REPLACE", LIB.replace("'fk'", "'fk'")),
        ("FCALL", "myget", "1", "fk"), ("FUNCTION", "DELETE", "mylib"),
        ("FCALL", "myget", "1", "fk"),
        ("FUNCTION", "LOAD", "#!lua name=probe\nredis.register_function('p1', function(k, a) "
                             "return {type(redis.replicate_commands), type(redis.breakpoint), "
                             "type(redis.acl_check_cmd), type(redis.set_repl), #k, #a} end)\n"
                             "redis.register_function('p2', function() return KEYS end)"),
        ("FCALL", "p1", "2", "a", "b", "c"), ("FCALL", "p2", "0"),
    ])


def _payload(body: bytes) -> bytes:
    from rdbtools._crc import crc64

    body += (10).to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def _listing(pair, *args):
    """FUNCTION LIST of both servers with each library's functions in name order (Redis
    lists them in its dict's hash order)."""
    out = []
    for cl in pair.clients:
        libs = cl.call("FUNCTION", "LIST", *args)
        for lib in libs:
            i = lib.index(b"functions") + 1
            lib[i] = sorted(lib[i], key=lambda f: f[1])
        out.append(sorted(libs, key=lambda lib: lib[1]))
    assert out[0] == out[1]
    return out[0]


@pytest.mark.interop
def test_function_list_names_descriptions_flags(pair):
    pair.reset(*_RESET)
    pair.run([("FUNCTION", "LOAD", LIB),
              ("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function{function_name="
                                   "'o1', callback=function() return 1 end, flags={'allow-oom', "
                                   "'NO-WRITES', 'allow-stale', 'no-cluster', "
                                   "'allow-cross-slot-keys'}}")])
    libs = _listing(pair)
    assert [lib[1] for lib in libs] == [b"mylib", b"other"]
    assert _listing(pair, "WITHCODE", "LIBRARYNAME", "my*")[0][-1] == LIB.encode()


@pytest.mark.interop
def test_function_restore_of_redis_dump_then_fcall(pair):
    pair.reset(*_RESET)
    pair.run([("FUNCTION", "LOAD", LIB)])
    dump = pair.clients[0].call("FUNCTION", "DUMP")
    pair.run([("FUNCTION", "FLUSH"), ("FUNCTION", "RESTORE", dump),
              ("FCALL", "myset", "1", "rk", "rv"), ("FCALL_RO", "myget", "1", "rk"),
              ("FUNCTION", "RESTORE", dump), ("FUNCTION", "RESTORE", dump, "REPLACE"),
              ("FCALL", "myget", "1", "rk")])
    assert len(_listing(pair, "WITHCODE")) == 1
    lib = "#!lua name=%s\nredis.register_function('%s', function() return %d end)"
    pair.run([("FUNCTION", "FLUSH"), ("FUNCTION", "LOAD", lib % ("la", "fa", 1)),
              ("FUNCTION", "LOAD", lib % ("lb", "fb", 2))])
    dump = pair.clients[0].call("FUNCTION", "DUMP")
    pair.run([("FUNCTION", "DELETE", "lb"), ("FUNCTION", "LOAD", lib % ("lc", "fb", 3)),
              ("FUNCTION", "RESTORE", dump), ("FUNCTION", "RESTORE", dump, "REPLACE"),
              ("FCALL", "fb", "0"), ("FUNCTION", "RESTORE", dump, "FLUSH"), ("FCALL", "fb", "0"),
              ("FCALL", "fa", "0"), ("FUNCTION", "RESTORE", dump[:-1] + b"x"),
              ("FUNCTION", "RESTORE", "garbage"), ("FUNCTION", "RESTORE", dump, "BAD"),
              ("FUNCTION", "RESTORE", _payload(b"\x00\x01a\x01b")),
              ("FUNCTION", "STATS")])
    assert [lib[1] for lib in _listing(pair)] == [b"la", b"lb"]


@pytest.mark.interop
def test_redis_aof_with_scripts_and_functions_replays(pair, tmp_path):
    """Redis's AOF (FUNCTION LOAD, script effects in MULTI blocks) loads into rdbkit-server
    as into Redis, and the functions it loads can be called."""
    pair.reset(*_RESET)
    pair.run([("FUNCTION", "LOAD", LIB), ("FCALL", "myset", "1", "ak", "av"),
              _ev("redis.call('rpush', 'al', 1, 2); redis.call('lpop', 'al'); return 1")])
    for sub in ("real", "ours"):
        shutil.copytree(pair.real.dir / "appendonlydir", tmp_path / sub / "appendonlydir")
    with RealRedis(tmp_path / "real", extra=_OPTS) as real, RawClient(real.port) as cl:
        want = [cl.call("DEBUG", "DIGEST"), cl.call("FCALL", "myget", "1", "ak")]
    with ServerThread("--dir", str(tmp_path / "ours"), *_OPTS) as srv, \
            RawClient(srv.port) as cl:
        got = [cl.call("DEBUG", "DIGEST"), cl.call("FCALL", "myget", "1", "ak")]
    assert got == want and want[1] == b"av"


@pytest.mark.interop
def test_boot_from_redis_rdb_with_a_library(tmp_path):
    need_binary("redis-server")
    _register()
    real_dir = tmp_path / "real"
    with RealRedis(real_dir) as real:
        assert real.command("FUNCTION", "LOAD", LIB) == b"mylib"
        real.command("SET", "bk", "bv")
        with RawClient(real.port) as rc:
            want_err = rc.call("FCALL", "myerr", "0")
        real.command("SAVE")
    ours_dir = tmp_path / "ours"
    ours_dir.mkdir()
    shutil.copy(real_dir / "dump.rdb", ours_dir / "dump.rdb")
    with ServerThread("--dir", str(ours_dir)) as srv, RawClient(srv.port) as cl:
        assert cl.call("FCALL", "myget", "1", "bk") == b"bv"
        assert cl.call("FCALL", "myset", "1", "bk", "new") == "OK"
        assert cl.call("GET", "bk") == b"new"
        got = cl.call("FCALL", "myerr", "0")
        assert isinstance(got, Err) and got == want_err
        assert "user_function:9: Script attempted to access nonexistent global" in got
