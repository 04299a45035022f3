"""Restore drill: boot a throwaway server from a backup and prove it holds what the file says.

A backup is only as good as the last time it was loaded. The drill copies the backup
into a temporary directory, starts a server there (real `redis-server` or
`rdbkit-server`) on a free loopback port, waits for the load to finish, and compares
the server's `DEBUG DIGEST`, per-database digests and key counts with a *reference*:

* an RDB (or rdbkit JSON, converted first): the offline digest `rdbkit digest` computes
  and the key counts the reader sees, with the loader's rules (expired keys dropped);
* an AOF: there is no offline AOF engine yet (issue 6), so the reference is
  `--expect-digest`, or a second throwaway real Redis loading the same files.

Per-database digests of a server come from the throwaway server itself: `DEBUG DIGEST`
chains databases in ascending order (`F = SHA1(F ^ SHA1(be32 db)) ^ D_db`), so flushing
databases from the highest down and taking the digest after each step recovers every
`D_db`. Whatever happens, the server is stopped and the directory removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rdbtools import fileio
from rdbtools.errors import FormatError, RdbkitError

from ._client import (Connection, ConnectionLost, ReplyError, Target, TargetError,
                      info_fields, keyspace_counts)

__all__ = ["DrillError", "DrillReport", "DbRow", "drill", "Expectation", "parse_expectation"]

ZERO = "0" * 40
#: How long a server may take to start and load, by default.
DEFAULT_LOAD_TIMEOUT = 600.0
_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")


class DrillError(RdbkitError):
    """The drill could not be set up (unreadable backup, bad expectation, no server)."""


@dataclass
class Expectation:
    """What a backup should hold, as given by the user: whole digest and maybe per db."""

    digest: str | None = None
    dbs: dict[int, dict] = field(default_factory=dict)   # db -> {"digest": hex, "keys": n}
    source: str = ""


def parse_expectation(value: str) -> Expectation:
    """`--expect-digest`: 40 hex, or a file holding `rdbkit digest` output (first 40-hex
    token) or the JSON of an earlier `rdbkit drill --json` (per-database digests)."""
    value = value.strip()
    if _HEX40.match(value):
        return Expectation(value.lower(), source="--expect-digest")
    try:
        text = Path(value).read_text()
    except OSError as e:
        raise DrillError(f"--expect-digest: neither 40 hex digits nor a readable file "
                         f"({value}: {e.strerror or e})") from e
    try:
        obj = json.loads(text)
    except ValueError:
        token = text.split()[0] if text.split() else ""
        if _HEX40.match(token):
            return Expectation(token.lower(), source=value)
        raise DrillError(f"--expect-digest {value}: no 40-hex digest in it") from None
    exp = Expectation(source=value)
    if isinstance(obj, dict) and isinstance(obj.get("digest"), dict):      # drill --json
        exp.digest = obj["digest"].get("server") or obj["digest"].get("reference")
        for row in obj.get("dbs", []):
            exp.dbs[int(row["db"])] = {"digest": row["digest"].get("server"),
                                       "keys": row["keys"].get("server")}
    elif isinstance(obj, dict) and isinstance(obj.get("digest"), str):     # plain form
        exp.digest = obj["digest"]
        for db, row in (obj.get("dbs") or {}).items():
            exp.dbs[int(db)] = {"digest": row.get("digest"), "keys": row.get("keys")}
    else:
        raise DrillError(f"--expect-digest {value}: not a digest or drill JSON")
    if exp.digest is None or not _HEX40.match(exp.digest):
        raise DrillError(f"--expect-digest {value}: no 40-hex dataset digest in it")
    exp.digest = exp.digest.lower()
    return exp


@dataclass
class DbRow:
    db: int
    server_keys: int = 0
    reference_keys: int | None = None
    server_digest: str = ZERO
    reference_digest: str | None = None
    expected_keys: int | None = None
    expected_digest: str | None = None

    @property
    def ok(self) -> bool:
        checks = [(self.server_keys, self.reference_keys), (self.server_digest, self.reference_digest),
                  (self.server_keys, self.expected_keys), (self.server_digest, self.expected_digest)]
        return all(want is None or got == want for got, want in checks)


@dataclass
class DrillReport:
    backup: str
    kind: str = ""               # rdb, json, aof
    server: str = ""
    server_version: str | None = None
    reference: str = ""          # which reference the comparison used, in words
    server_digest: str | None = None
    reference_digest: str | None = None
    expected_digest: str | None = None
    server_functions: int | None = None
    reference_functions: int | None = None
    dbs: list[DbRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    load_seconds: float = 0.0
    log_tail: str = ""
    port: int | None = None      # where the throwaway server listened

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def differing_dbs(self) -> list[int]:
        return [r.db for r in self.dbs if not r.ok]

    def as_dict(self) -> dict:
        return {
            "ok": self.ok, "backup": self.backup, "kind": self.kind, "server": self.server,
            "server_version": self.server_version, "reference": self.reference,
            "digest": {"server": self.server_digest, "reference": self.reference_digest,
                       "expected": self.expected_digest},
            "functions": {"server": self.server_functions,
                          "reference": self.reference_functions},
            "dbs": [{"db": r.db, "ok": r.ok,
                     "keys": {"server": r.server_keys, "reference": r.reference_keys,
                              "expected": r.expected_keys},
                     "digest": {"server": r.server_digest, "reference": r.reference_digest,
                                "expected": r.expected_digest}} for r in self.dbs],
            "differing_dbs": self.differing_dbs,
            "problems": self.problems, "load_seconds": round(self.load_seconds, 3),
        }


# ---------------------------------------------------------------------------------------
# Digest arithmetic (formats.md §7.1, §7.3)

def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(20, "big")


def _mix(state: bytes, data: bytes) -> bytes:
    return _sha1(_xor(state, _sha1(data)))


def _db_tag(db: int) -> bytes:
    return db.to_bytes(4, "big")


def split_digests(chain: list[tuple[int, str]]) -> dict[int, str]:
    """Per-db digests from prefix digests.

    `chain` is [(db, DEBUG DIGEST while dbs up to and including this one are present)]
    in ascending db order. Returns {db: digest of a dataset holding only that db}."""
    out = {}
    prev = bytes(20)
    for db, hexd in chain:
        cur = bytes.fromhex(hexd)
        d_db = _xor(cur, _mix(prev, _db_tag(db)))
        out[db] = _xor(_mix(bytes(20), _db_tag(db)), d_db).hex()
        prev = cur
    return out


# ---------------------------------------------------------------------------------------
# The backup

@dataclass
class _Backup:
    kind: str            # rdb, json, aof-dir, aof-file
    path: str
    dirname: str = ""    # appenddirname for aof-dir
    filename: str = ""   # appendfilename


def classify(path: str) -> _Backup:
    if os.path.isdir(path) or _looks_like_manifest(path):
        from aofcheck import layout

        try:
            lay = layout.detect(path)
        except layout.LayoutError as e:
            raise DrillError(str(e)) from e
        if lay.kind != layout.MULTI_PART:
            return _Backup("aof-file", lay.path, filename="appendonly.aof")
        manifest = os.path.basename(lay.path)
        return _Backup("aof-dir", os.path.abspath(lay.dirpath),
                       dirname=os.path.basename(os.path.abspath(lay.dirpath)),
                       filename=manifest[:-len(".manifest")])
    with fileio.open_input(path) as f:
        head = f.read(64)
    from rdbtools.convert import sniff

    kind = sniff(head)
    name = os.path.basename(path)
    if name.endswith(".lz4"):
        name = name[:-4]
    if kind == "resp" or (kind == "rdb" and ".aof" in name):
        return _Backup("aof-file", path, filename="appendonly.aof")
    if kind in ("rdb", "json"):
        return _Backup(kind, path)
    raise DrillError(f"{path}: neither an RDB, an AOF nor rdbkit JSON")


def _looks_like_manifest(path: str) -> bool:
    from aofcheck.layout import is_manifest_file

    return is_manifest_file(path)


def _binary_version(prefix: list[str]) -> str | None:
    """`x.y.z` from `redis-server --version` (None for rdbkit-server or when unknown)."""
    if len(prefix) != 1:
        return None
    try:
        out = subprocess.run(prefix + ["--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"v=(\d+\.\d+\.\d+)", out)
    return m.group(1) if m else None


def _binary_rdb_version(prefix: list[str]) -> int:
    """RDB version to convert JSON backups to: what the server binary writes (10 when
    it cannot be told, as for rdbkit-server, which speaks 7.0)."""
    from rdbtools.writer import WRITE_VERSION_MAX

    from .replay import rdb_version_for

    release = _binary_version(prefix)
    version = rdb_version_for(release) if release else None
    if version is not None:
        return max(6, min(version, WRITE_VERSION_MAX))
    return 10


def _stage(backup: _Backup, workdir: Path, prefix: list[str]) -> list[str]:
    """Copy the backup into `workdir`; returns the server arguments that load it."""
    if backup.kind == "rdb":
        _copy_plain(backup.path, workdir / "dump.rdb")
        return ["--dbfilename", "dump.rdb", "--appendonly", "no"]
    if backup.kind == "json":
        from rdbtools.convert import convert

        convert(backup.path, workdir / "dump.rdb", to="rdb",
                rdb_version=_binary_rdb_version(prefix))
        return ["--dbfilename", "dump.rdb", "--appendonly", "no"]
    if backup.kind == "aof-dir":
        shutil.copytree(backup.path, workdir / backup.dirname)
        return ["--appendonly", "yes", "--appenddirname", backup.dirname,
                "--appendfilename", backup.filename, "--dbfilename", "dump.rdb"]
    _copy_plain(backup.path, workdir / backup.filename)
    return ["--appendonly", "yes", "--appendfilename", backup.filename,
            "--dbfilename", "dump.rdb"]


def _copy_plain(src: str, dst: Path) -> None:
    """Copy, decompressing LZ4 frames on the way."""
    with fileio.open_input(src) as f, open(dst, "wb") as out:
        shutil.copyfileobj(f, out, 1 << 20)


class _Background:
    """Run fn(*args) on a thread; `result()` waits and returns or raises what it did."""

    def __init__(self, fn, *args) -> None:
        self._out = None
        self._err: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True,
                                        name="drill-reference")
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._out = fn(*args)
        except BaseException as e:   # handed to the caller by result()
            self._err = e

    def result(self):
        self._thread.join()
        if self._err is not None:
            raise self._err
        return self._out


def _offline_reference(path: str, now_ms: int) -> tuple[dict[int, tuple[int, str]], int]:
    """{db: (keys, digest of that db alone)} and the number of function libraries."""
    from rdbtools.convert import open_records
    from rdbtools.digest import LoadRules, format_score, loaded_digest
    from rdbtools.records import Function

    counts: dict[int, int] = {}
    functions = 0

    def other(rec) -> None:
        nonlocal functions
        if type(rec) is Function:
            functions += 1

    _fmt, records, close = open_records(path)
    try:
        # scores as Redis 7.0 (and rdbkit-server) print them in DEBUG DIGEST, whatever
        # the file's version
        acc = loaded_digest(records, now_ms=now_ms, counts=counts, on_other=other,
                            rules=LoadRules(score_format=format_score))
    finally:
        close()
    return {db: (counts.get(db, 0), acc.db_hexdigest(db)) for db in acc.databases()}, functions


def _combine(per_db: dict[int, str]) -> str:
    """Whole-dataset digest from per-db digests (each of a dataset holding that db only)."""
    final = bytes(20)
    for db in sorted(per_db):
        d_db = _xor(bytes.fromhex(per_db[db]), _mix(bytes(20), _db_tag(db)))
        final = _xor(_mix(final, _db_tag(db)), d_db)
    return final.hex()


# ---------------------------------------------------------------------------------------
# The throwaway server

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_argv(server: str) -> tuple[list[str], dict | None, str]:
    """(argv prefix, env, label) for `rdbkit`, `redis` or a path to a redis-server."""
    if server == "rdbkit":
        found = shutil.which("rdbkit-server")
        if found:
            return [found], None, "rdbkit-server"
        import server as pkg

        env = dict(os.environ)
        root = str(Path(pkg.__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = "import sys; sys.argv[0] = 'rdbkit-server'; from server.cli import main; main()"
        return [sys.executable, "-c", code], env, "rdbkit-server"
    binary = shutil.which(server) if server == "redis-server" or os.sep not in server else server
    if binary is None or not os.path.exists(binary):
        raise DrillError(f"server binary not found: {server}")
    return [binary], None, binary


class _Throwaway:
    """A server child on 127.0.0.1:<free port> in `workdir`; always stopped on exit."""

    def __init__(self, server: str, workdir: Path, load_args: list[str], timeout: float):
        self.prefix, self.env, self.label = server_argv(server)
        self.workdir = workdir
        self.port = _free_port()
        self.log = workdir / "server.log"
        release = _binary_version(self.prefix)
        older = release is not None and tuple(map(int, release.split(".")[:2])) < (7, 0)
        # before 7.0 DEBUG needs no switch, and the directive does not exist
        debug = [] if older else ["--enable-debug-command", "yes"]
        self.args = self.prefix + [
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", *debug, "--logfile", str(self.log),
            "--daemonize", "no", *load_args]
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "_Throwaway":
        self.proc = subprocess.Popen(self.args, cwd=self.workdir, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            self._stderr = proc.stderr.read().decode("utf-8", "replace")[-2000:]
            proc.stderr.close()

    def log_tail(self, lines: int = 15) -> str:
        text = ""
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace")
        text += getattr(self, "_stderr", "")
        return "\n".join(text.strip().splitlines()[-lines:])

    def wait_loaded(self) -> Connection:
        """Connect once the server answers, then wait until it has finished loading."""
        deadline = time.monotonic() + self.timeout
        target = Target("127.0.0.1", self.port)
        conn = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                if self.proc.stderr is not None:
                    self._stderr = self.proc.stderr.read().decode("utf-8", "replace")[-2000:]
                raise DrillError(f"the server exited with status {self.proc.returncode} "
                                 f"before it was ready:\n{self.log_tail()}")
            try:
                if conn is None:
                    conn = Connection(target, timeout=30)
                reply = conn.call("PING")
                if reply == b"PONG":
                    info = conn.call("INFO", "persistence")
                    if isinstance(info, ReplyError) or \
                            info_fields(info).get("loading", "0") == "0":
                        return conn
            except (TargetError, ConnectionLost):
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.05)
        if conn is not None:
            conn.close()
        raise DrillError(f"the server did not finish loading within {self.timeout:.0f}s:\n"
                         f"{self.log_tail()}")


def _measure(conn: Connection) -> tuple[str, dict[int, int], dict[int, str], int | None]:
    """(DEBUG DIGEST, keys per db, digest per db, function libraries). Flushes the
    server's databases to split the digest: call last."""
    total = _checked(conn, "DEBUG", "DIGEST").decode()
    counts = keyspace_counts(_checked(conn, "INFO", "keyspace"))
    funcs = conn.call("FUNCTION", "LIST")
    n_funcs = len(funcs) if isinstance(funcs, list) else None
    nonempty = sorted(db for db, n in counts.items() if n)
    chain = []
    digest = total
    for db in reversed(nonempty):
        chain.append((db, digest))
        _checked(conn, "SELECT", db)
        _checked(conn, "FLUSHDB")
        digest = _checked(conn, "DEBUG", "DIGEST").decode()
    chain.reverse()
    per_db = split_digests(chain) if nonempty else {}
    return total, counts, per_db, n_funcs


def _checked(conn: Connection, *args):
    reply = conn.call(*args)
    if isinstance(reply, ReplyError):
        raise DrillError(f"{' '.join(map(str, args))} failed on the throwaway server: {reply}")
    return reply


def _boot_and_measure(server: str, backup: _Backup, timeout: float, report: DrillReport | None):
    workdir = Path(tempfile.mkdtemp(prefix="rdbkit-drill-"))
    try:
        load_args = _stage(backup, workdir, server_argv(server)[0])
        with _Throwaway(server, workdir, load_args, timeout) as srv:
            if report is not None:
                report.server, report.port = srv.label, srv.port
            start = time.perf_counter()
            conn = srv.wait_loaded()
            try:
                if report is not None:
                    report.load_seconds = time.perf_counter() - start
                    version = conn.call("INFO", "server")
                    if not isinstance(version, ReplyError):
                        report.server_version = info_fields(version).get("redis_version")
                measured = _measure(conn)
            finally:
                conn.close()
            if report is not None:
                report.log_tail = srv.log_tail()
            return measured
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------

def drill(backup_path: str, *, server: str = "redis-server", expect: Expectation | None = None,
          timeout: float = DEFAULT_LOAD_TIMEOUT, now_ms: int | None = None) -> DrillReport:
    """Run one drill; the report's `problems` is empty exactly when everything matched.

    Setup errors (missing backup, no server binary) raise `DrillError`; a server that
    cannot load the backup is a problem in the report, not an exception."""
    backup_path = str(backup_path)
    if not os.path.exists(backup_path):
        raise FileNotFoundError(2, "No such file or directory", backup_path)
    backup = classify(backup_path)
    report = DrillReport(backup_path, kind="aof" if backup.kind.startswith("aof") else backup.kind)
    server_argv(server)  # fail early on a missing binary
    ref_per_db: dict[int, tuple[int, str]] | None = None
    reference = None
    if backup.kind in ("rdb", "json"):
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        report.reference = "offline digest of the file (rdbkit digest) and the reader's key counts"
        # computed while the server loads the backup: the server is another process, and
        # this thread's waits for it release the interpreter
        reference = _Background(_offline_reference, backup_path, now)
    boot_error = None
    try:
        total, counts, per_db, n_funcs = _boot_and_measure(server, backup, timeout, report)
    except DrillError as e:
        boot_error = e
    if reference is not None:
        try:
            ref_per_db, report.reference_functions = reference.result()
        except FormatError as e:
            report.problems.append(f"the reader refuses the file: {e}")
            ref_per_db = {}
        else:
            report.reference_digest = _combine({db: d for db, (_n, d) in ref_per_db.items()})
    if boot_error is not None:
        report.problems.append(f"the server did not load the backup: {boot_error}")
        return report
    report.server_digest = total
    report.server_functions = n_funcs
    if ref_per_db is None:
        if expect is not None:
            report.reference = f"the expected digest ({expect.source})"
        else:
            ref_server = server if server != "rdbkit" else "redis-server"
            if server == "rdbkit" and shutil.which("redis-server") is None:
                report.problems.append(
                    "no reference for an AOF backup: pass --expect-digest (there is no "
                    "offline AOF digest yet, and no redis-server to load it a second time)")
                return report
            report.reference = (f"a second throwaway {ref_server} loading the same AOF "
                                "(no offline AOF digest yet)")
            try:
                r_total, r_counts, r_per_db, r_funcs = _boot_and_measure(
                    ref_server, backup, timeout, None)
            except DrillError as e:
                report.problems.append(f"the reference server did not load the backup: {e}")
                return report
            ref_per_db = {db: (r_counts.get(db, 0), d) for db, d in r_per_db.items()}
            report.reference_digest = r_total
            report.reference_functions = r_funcs
    _compare(report, counts, per_db, ref_per_db, expect)
    return report


def _compare(report: DrillReport, counts: dict[int, int], per_db: dict[int, str],
             ref: dict[int, tuple[int, str]] | None, expect: Expectation | None) -> None:
    dbs = set(db for db, n in counts.items() if n) | set(ref or {})
    if expect is not None:
        dbs |= set(expect.dbs)
    rows = []
    for db in sorted(dbs):
        row = DbRow(db, counts.get(db, 0), server_digest=per_db.get(db, ZERO))
        if ref is not None:
            row.reference_keys, row.reference_digest = ref.get(db, (0, ZERO))
        if expect is not None and expect.dbs:
            e = expect.dbs.get(db, {"keys": 0, "digest": ZERO})
            row.expected_keys, row.expected_digest = e.get("keys"), e.get("digest")
        rows.append(row)
    report.dbs = rows
    if ref is not None and report.reference_digest is not None and \
            report.server_digest != report.reference_digest:
        report.problems.append(f"DEBUG DIGEST {report.server_digest} differs from the "
                               f"reference {report.reference_digest}")
    if expect is not None:
        report.expected_digest = expect.digest
        if report.server_digest != expect.digest:
            report.problems.append(f"DEBUG DIGEST {report.server_digest} differs from the "
                                   f"expected {expect.digest} ({expect.source})")
    bad = report.differing_dbs
    if bad:
        report.problems.append("databases that differ: " + ", ".join(map(str, bad)))
    elif report.problems and expect is not None and not expect.dbs:
        report.problems.append("the expectation has no per-database digests, so the "
                               "differing databases cannot be named")
    if report.reference_functions is not None and report.server_functions is not None \
            and report.server_functions != report.reference_functions:
        report.problems.append(f"{report.server_functions} function libraries loaded, "
                               f"the reference has {report.reference_functions}")
