"""redis.conf parsing: Redis's quoting rules, errors that name file and line, CONFIG."""

from __future__ import annotations

import pytest

from server.config import Config, ConfigError, from_argv, options_to_text, split_args


@pytest.mark.parametrize("line,expected", [
    (b"set a b", [b"set", b"a", b"b"]),
    (b'  set "a b"  c ', [b"set", b"a b", b"c"]),
    (b'"\\x41\\n\\t\\"q"', [b"A\n\t\"q"]),
    (b"'it\\'s' x", [b"it's", b"x"]),
    (b"'a\\nb'", [b"a\\nb"]),
    (b'""', [b""]),
    (b"", []),
])
def test_split_args(line, expected):
    assert split_args(line) == expected


@pytest.mark.parametrize("line", [b'"abc', b"'abc", b'"a"b', b"'a'b"])
def test_split_args_unbalanced(line):
    with pytest.raises(ValueError):
        split_args(line)


def test_defaults_match_the_issue():
    cfg = Config()
    assert cfg.get("port") == "6379"
    assert cfg.get("bind") == "127.0.0.1 -::1"
    assert cfg.get("protected-mode") == "yes"
    assert cfg.get("databases") == "16"


def test_file_and_command_line(tmp_path):
    conf = tmp_path / "redis.conf"
    conf.write_text('# comment\nport 7000\n\nmaxmemory 10mb\nsave ""\n'
                    'hash-max-ziplist-entries 64\nrequirepass "p w"\n')
    cfg = from_argv([str(conf), "--port", "7001", "--maxmemory-policy", "allkeys-lru"])
    assert cfg.get("port") == "7001"
    assert cfg.get("maxmemory") == str(10 * 1024 * 1024)
    assert cfg.get("save") == ""
    assert cfg.get("hash-max-listpack-entries") == "64"
    assert cfg.requirepass == "p w"
    assert cfg.get("maxmemory-policy") == "allkeys-lru"


def test_include(tmp_path):
    (tmp_path / "inc.conf").write_text("databases 4\n")
    main = tmp_path / "main.conf"
    main.write_text(f"include {tmp_path / 'inc.conf'}\nport 1234\n")
    cfg = from_argv([str(main)])
    assert cfg.databases == 4 and cfg.port == 1234


@pytest.mark.parametrize("text,reason", [
    ("nosuchdirective 1\n", "Bad directive or wrong number of arguments"),
    ("port 1 2\n", "Bad directive or wrong number of arguments"),
    ("appendonly maybe\n", "argument must be 'yes' or 'no'"),
    ("maxmemory lots\n", "argument must be a memory value"),
    ("port 99999\n", "argument must be between 0 and 65535 inclusive"),
    ('requirepass "abc\n', "Unbalanced quotes in configuration line"),
])
def test_bad_directive_names_file_and_line(tmp_path, text, reason):
    conf = tmp_path / "bad.conf"
    conf.write_text("# ok\nport 7000\n" + text)
    with pytest.raises(ConfigError) as info:
        from_argv([str(conf)])
    msg = str(info.value)
    assert str(conf) in msg
    assert "at line 3" in msg
    assert reason in msg


def test_missing_file():
    with pytest.raises(ConfigError, match="can't open config file"):
        from_argv(["/nonexistent/redis.conf"])


def test_options_quoting_round_trips():
    text = options_to_text(["--requirepass", 'a "b" c', "--save", ""])
    cfg = Config()
    from server.config import apply_text

    apply_text(cfg, text, source="x")
    assert cfg.requirepass == 'a "b" c'
    assert cfg.get("save") == ""


def test_runtime_immutable():
    cfg = Config()
    with pytest.raises(ConfigError, match="immutable"):
        cfg.set("databases", ["4"], runtime=True)
    cfg.set("maxmemory", ["1gb"], runtime=True)
    assert cfg.get("maxmemory") == str(1 << 30)


def test_bare_save_option():
    cfg = from_argv(["--save", "--port", "7001"])
    assert cfg.get("save") == "" and cfg.port == 7001


def test_config_rewrite_round_trips(tmp_path):
    from server.app import ServerThread
    from server.config import Config, load_file

    conf = tmp_path / "redis.conf"
    conf.write_text("maxmemory 1mb\n")
    cfg = Config()
    load_file(cfg, str(conf))
    with ServerThread("--dir", str(tmp_path), config=cfg) as srv:
        srv.engine.config_file = str(conf)
        c = srv.client()
        c.config_set("maxmemory-policy", "allkeys-lru")
        assert c.config_rewrite()
    again = from_argv([str(conf)])
    assert again.get("maxmemory-policy") == "allkeys-lru"
    assert again.get("maxmemory") == str(1 << 20)
