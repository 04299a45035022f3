"""Sending: units packed into pipelined windows over one or more connections, and every
item judged from its replies (written, skipped, expired, failed)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

from rdbtools.constants import TYPE_KIND
from rdbtools.errors import FormatError

from .._client import Connection, ConnectionLost, ReplyError, encode, info_fields
from .options import Failure, ReplayOptions, ReplayReport
from .units import (_COLLECTIONS, J_BULK, J_EXPIRED, J_FUNCTION, J_RESTORE, J_SET, J_TMP,
                    J_TMP_NX, Unit)

class _Stop(Exception):
    pass


@dataclass(slots=True)
class _Window:
    units: list
    spans: list               # per unit: (first reply index, count)
    n_replies: int
    conn: Connection


class _Sender:
    #: Windows of keys in flight per connection (AOF windows go one at a time): enough
    #: to keep the server busy across scheduling hiccups on a loaded machine.
    depth = 4

    def __init__(self, conns: list[Connection], opts: ReplayOptions, report: ReplayReport,
                 on_progress: Callable[[ReplayReport], None] | None) -> None:
        self.conns = conns
        self.opts = opts
        self.report = report
        self.on_progress = on_progress
        self.inflight: dict[int, deque] = {i: deque() for i in range(len(conns))}
        self.next_conn = 0
        self.failure: Failure | None = None
        self.ordered = len(conns) == 1

    # -- outcomes -----------------------------------------------------------------
    def count(self, unit: Unit, outcome: str, error: str | None = None) -> None:
        r = self.report
        r.items += unit.last - unit.number + 1
        r.last_number = max(r.last_number, unit.last)
        if unit.kind == "key":
            if outcome == "written":
                r.keys_written += 1
            elif outcome == "skipped":
                r.keys_skipped += 1
            elif outcome == "expired":
                r.keys_expired += 1
            elif outcome == "filtered":
                r.keys_filtered += 1
            else:
                r.keys_failed += 1
        elif unit.kind == "function":
            if outcome == "written":
                r.functions_written += 1
            elif outcome == "skipped":
                r.functions_skipped += 1
            else:
                r.keys_failed += 1
        else:
            if outcome in ("applied", "written"):
                r.commands_applied += unit.last - unit.number + 1
            elif outcome == "filtered":
                pass
            else:
                r.commands_failed += 1
        if outcome == "failed" and self.failure is None:
            self.failure = Failure(unit.number, unit.number, error or "failed", unit.key,
                                   unit.db)

    def judge(self, unit: Unit, replies: list) -> tuple[str, str | None]:
        errors = [r for r in replies if isinstance(r, ReplyError)]
        j = unit.judge
        on_existing = self.opts.on_existing
        if j == J_SET:
            reply = replies[0]
            if reply is None:           # SET ... NX found the key
                if on_existing == "skip":
                    return "skipped", None
                return "failed", "key exists on the target (--on-existing fail)"
            if errors:
                return "failed", str(errors[0])
            return "written", None
        if j == J_RESTORE:
            if errors:
                e = errors[0]
                if e.code == "BUSYKEY":
                    if on_existing == "skip":
                        return "skipped", None
                    return "failed", "key exists on the target (--on-existing fail)"
                return "failed", str(e)
            return "written", None
        if j in (J_TMP, J_TMP_NX):
            rename = replies[-1] if j == J_TMP else replies[-2]
            build_errors = [r for r in replies[:-1 if j == J_TMP else -2]
                            if isinstance(r, ReplyError)]
            if build_errors:
                return "failed", str(build_errors[0])
            if isinstance(rename, ReplyError):
                if "no such key" in str(rename):
                    return "expired", None   # its TTL ran out while it was being built
                return "failed", str(rename)
            if j == J_TMP_NX and rename == 0:
                if on_existing == "skip":
                    return "skipped", None
                return "failed", "key exists on the target (--on-existing fail)"
            return "written", None
        if j == J_EXPIRED:
            return ("failed", str(errors[0])) if errors else ("expired", None)
        if j == J_FUNCTION:
            if errors:
                if on_existing == "skip" and "already exists" in str(errors[0]):
                    return "skipped", None
                return "failed", str(errors[0])
            return "written", None
        # AOF command or MULTI block: an EXEC reply may hold errors of its own
        for r in replies:
            if isinstance(r, list):
                errors += [x for x in r if isinstance(x, ReplyError)]
        if errors:
            return "failed", str(errors[0])
        return "applied", None

    # -- windows --------------------------------------------------------------------
    def dispatch(self, units: list[Unit]) -> None:
        """Send one window (after settling whatever occupies the next connection)."""
        if not self.ordered and any(u.kind == "aof" for u in units):
            # AOF commands depend on their order: from here on, one connection only,
            # once everything sent over the others has been answered
            self.settle_all()
            self.ordered = True
            self.next_conn = 0
        conn_i = self.next_conn
        if not self.ordered:
            self.next_conn = (self.next_conn + 1) % len(self.conns)
        conn = self.conns[conn_i]
        queue = self.inflight[conn_i]
        keys_only = all(u.kind != "aof" for u in units)
        if not keys_only:
            self.settle_all()   # AOF commands are not idempotent: one window at a time
        while queue and (len(queue) >= self.depth or not keys_only):
            self.settle(conn_i)
        if self.failure is not None:
            raise _Stop
        # outcomes decided without the server, and a stop at a local failure
        todo = []
        for u in units:
            if u.outcome is not None and not u.cmds:
                if u.outcome == "failed":
                    self.send_units(conn_i, todo)
                    self.settle_all()
                    if self.failure is None:
                        self.count(u, "failed", u.error)
                    raise _Stop
                self.count(u, u.outcome)
                continue
            todo.append(u)
        if self.opts.on_existing == "fail" and todo:
            todo = self.precheck(conn, todo)
        self.send_units(conn_i, todo)
        if self.failure is not None:
            self.settle_all()
            raise _Stop

    def precheck(self, conn: Connection, units: list[Unit]) -> list[Unit]:
        """Cut the window before the first key that already exists on the target."""
        checks = [u for u in units if u.check_exists]
        if not checks:
            return units
        if any(self.inflight.values()):
            self.settle_all()   # a key may repeat one sent in a window still in flight
            if self.failure is not None:
                return []
        parts = []
        expected = 0
        db = conn.db
        for u in checks:
            if u.db is not None and u.db != db:
                parts.append(encode(b"SELECT", b"%d" % u.db))
                db = u.db
                expected += 1
            parts.append(encode(b"EXISTS", u.key))
            expected += 1
        if db != conn.db:
            parts.append(encode(b"SELECT", b"%d" % conn.db))
            expected += 1
        self.report.wire_commands += expected
        try:
            conn.send(b"".join(parts))
            replies = conn.collect(expected)
        except ConnectionLost as e:
            u = units[0]
            self.failure = Failure(u.number, u.number, str(e), u.key, u.db)
            return []
        answers = [r for r in replies if type(r) is int]
        exists = {id(u) for u, a in zip(checks, answers) if a == 1}
        for i, u in enumerate(units):
            if id(u) in exists:
                self.failure = Failure(u.number, u.number,
                                       "key exists on the target (--on-existing fail)",
                                       u.key, u.db)
                self.report.keys_failed += 1
                return units[:i]
        return units

    def send_units(self, conn_i: int, units: list[Unit]) -> None:
        if not units:
            return
        conn = self.conns[conn_i]
        parts = []
        spans = []
        idx = 0
        for u in units:
            if u.db is not None and u.db != conn.db:
                parts.append(encode(b"SELECT", b"%d" % u.db))
                idx += 1
                conn.db = u.db
            parts.extend(u.cmds)
            spans.append((idx, len(u.cmds)))
            idx += len(u.cmds)
            if u.end_db is not None:
                conn.db = u.end_db
        self.report.wire_commands += idx
        window = _Window(units, spans, idx, conn)
        queue = self.inflight[conn_i]
        queue.append(window)
        try:
            conn.send(b"".join(parts))
        except ConnectionLost as e:
            self.lost_connection(conn_i, e)

    def settle(self, conn_i: int) -> None:
        """Judge the oldest window in flight on connection `conn_i`."""
        queue = self.inflight[conn_i]
        window = queue[0]
        oks = all(u.judge in _OK_JUDGES for u in window.units)
        try:
            if oks:  # every reply should be +OK: check the bytes, parse only if not
                replies = window.conn.collect_ok(window.n_replies)
            else:
                replies = window.conn.collect(window.n_replies)
        except ConnectionLost as e:
            self.lost_connection(conn_i, e)
            return
        queue.popleft()
        if replies is None:
            self.all_written(window)
        else:
            self.judge_window(window, replies)

    def all_written(self, window: _Window) -> None:
        r = self.report
        n = 0
        for u in window.units:
            n += u.last - u.number + 1
        r.keys_written += n
        r.items += n
        r.last_number = max(r.last_number, window.units[-1].last)
        if self.failure is not None:
            self.failure.sent_after += sum(
                u.last - max(u.number - 1, self.failure.number) for u in window.units
                if u.last > self.failure.number)
        if self.on_progress is not None:
            self.on_progress(r)

    def settle_all(self) -> None:
        for conn_i, queue in self.inflight.items():
            while queue:
                self.settle(conn_i)

    def lost_connection(self, conn_i: int, e: ConnectionLost) -> None:
        """The connection broke: the replies that did arrive judge the windows in flight
        on it, oldest first; the first unanswered unit is where a resume starts."""
        queue = self.inflight[conn_i]
        got = e.replies
        while queue:
            window = queue.popleft()
            if len(got) >= window.n_replies:
                self.judge_window(window, got[:window.n_replies])
                got = got[window.n_replies:]
                continue
            self.lost(window, ConnectionLost(str(e), got))
            got = []
            queue.clear()

    def judge_window(self, window: _Window, replies: list) -> None:
        prev = 0
        written = 0
        last = 0
        for u, (start, count) in zip(window.units, window.spans):
            if start == prev and u.judge in _ONE_OK and replies[start] == b"OK" \
                    and self.failure is None:
                written += 1        # the common case, kept out of judge()/count()
                last = u.last
                prev = start + 1
                continue
            if self.failure is not None and u.number > self.failure.number \
                    and u.judge != J_BULK:      # judge_bulk counts its own items
                self.failure.sent_after += 1
            bad_select = [r for r in replies[prev:start] if isinstance(r, ReplyError)]
            prev = start + count
            if bad_select:   # the SELECT put in front of the unit was refused
                self.count(u, "failed", f"SELECT {u.db}: {bad_select[0]}")
                continue
            if u.judge == J_BULK:
                self.judge_bulk(u, replies[start:start + count])
                continue
            outcome, error = self.judge(u, replies[start:start + count])
            self.count(u, outcome, error)
        r = self.report
        r.keys_written += written
        r.items += written
        if last > r.last_number:
            r.last_number = last
        if self.on_progress is not None:
            self.on_progress(self.report)

    def judge_bulk(self, u: Unit, replies: list) -> None:
        """One RESTORE or SET per item; only the replies that are not +OK need a look."""
        r = self.report
        if replies.count(b"OK") == len(replies) and self.failure is None:
            r.keys_written += len(replies)
            r.items += len(replies)
            r.last_number = max(r.last_number, u.number + len(replies) - 1)
            return
        for i, reply in enumerate(replies):
            number = u.number + i
            if self.failure is not None and number > self.failure.number:
                self.failure.sent_after += 1
            r.items += 1
            r.last_number = max(r.last_number, number)
            if reply == b"OK":
                r.keys_written += 1
            elif reply is None and self.opts.on_existing == "skip":
                r.keys_skipped += 1      # SET ... NX: the key is there
            elif isinstance(reply, ReplyError) and reply.code == "BUSYKEY" \
                    and self.opts.on_existing == "skip":
                r.keys_skipped += 1
            elif isinstance(reply, ReplyError) and "Bad data format" in str(reply) \
                    and _empty_collection(u.cmds[i]):
                r.keys_filtered += 1     # an empty collection: loaders skip those too
            else:
                r.keys_failed += 1
                if self.failure is None:
                    error = str(reply) if reply is not None else "key exists on the target"
                    self.failure = Failure(number, number, error, u.item_key(i), u.db)

    def lost(self, window: _Window, e: ConnectionLost) -> None:
        got = e.replies
        for u, (start, count) in zip(window.units, window.spans):
            if start + count <= len(got):
                if u.judge == J_BULK:
                    self.judge_bulk(u, got[start:start + count])
                    continue
                outcome, error = self.judge(u, got[start:start + count])
                self.count(u, outcome, error)
                continue
            if u.judge == J_BULK and start < len(got):
                part = got[start:]
                self.judge_bulk(u, part)
                number = u.number + len(part)
                if self.failure is None or number < self.failure.resume_from:
                    self.failure = Failure(number, number, str(e), u.item_key(len(part)),
                                           u.db)
                break
            if self.failure is None or u.number < self.failure.resume_from:
                self.failure = Failure(u.number, u.number, str(e), u.key, u.db)
            break


_OK_JUDGES = frozenset((J_BULK, J_RESTORE, J_SET))
_ONE_OK = frozenset((J_RESTORE, J_SET))


def _empty_collection(restore_cmd: bytes) -> bool:
    """Is the payload of this RESTORE an empty list/set/zset/hash (stored as is)?"""
    from aofcheck.resp import iter_events
    from rdbtools.payload import parse_payload

    if not restore_cmd.startswith(b"*", 0) or b"RESTORE" not in restore_cmd[:24]:
        return False
    try:
        payload = next(iter_events(restore_cmd)).args[3]
        rtype, value, _fexp = parse_payload(payload)
    except (FormatError, StopIteration, IndexError):
        return False
    return TYPE_KIND.get(rtype) in _COLLECTIONS and not value


def _server_version(conn: Connection) -> str | None:
    reply = conn.call("INFO", "server")
    if isinstance(reply, ReplyError) and reply.code == "NOAUTH":
        from .._client import TargetError

        raise TargetError(f"{conn.target.host}:{conn.target.port} requires AUTH: give the "
                          "password in the URL (redis://[user]:password@host:port)")
    if isinstance(reply, ReplyError) or not isinstance(reply, bytes):
        return None
    return info_fields(reply).get("redis_version")
