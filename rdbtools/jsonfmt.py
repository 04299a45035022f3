"""Records <-> rdbkit JSON (docs/json-format.md): a lossless, jq-friendly text form.

Bytes that are valid UTF-8 become plain JSON strings so the common case stays readable;
anything else becomes `{"base64": ...}` (`{"hex": ...}` is accepted on input too), so a
round trip gives back the exact bytes. Control characters are escaped by the JSON
encoder, so every line parses with `jq`. Zset scores are JSON numbers except the four
values JSON has no number for (`"inf"`, `"-inf"`, `"nan"`, `"-0"`).

Encoding is streaming: `JsonEncoder.feed(record)` returns the objects to write now (the
header is held back until the leading AUX fields are known). Decoding reads JSON arrays,
JSONL, or any whitespace-separated sequence of records, chunk by chunk.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import math
import operator
from itertools import chain, compress, islice, repeat
from typing import Any, BinaryIO, Iterator

from .constants import TYPE_KIND, Kind, RdbType
from .errors import CorruptError, TruncatedError
from .records import (
    Aux, Consumer, ConsumerGroup, End, Function, Header, KeyRecord, ModuleAux, ModuleValue,
    PendingEntry, Record, ResizeDb, SelectDb, SlotInfo, Stream, StreamEntry, module_id,
    module_name,
)

FORMAT_NAME = "rdbkit-json"
FORMAT_VERSION = 1

#: JSON `type` names, by kind (what `TYPE key` answers, except `module`).
KIND_NAMES = {
    Kind.STRING: "string", Kind.LIST: "list", Kind.SET: "set", Kind.ZSET: "zset",
    Kind.HASH: "hash", Kind.STREAM: "stream", Kind.MODULE: "module",
}
NAME_KINDS = {v: k for k, v in KIND_NAMES.items()}

#: The RDB type a decoded key record gets: one that can hold every value of the kind.
#: The writer picks the real on-disk encoding itself.
KIND_TYPES = {
    Kind.STRING: RdbType.STRING, Kind.LIST: RdbType.LIST_QUICKLIST_2, Kind.SET: RdbType.SET,
    Kind.ZSET: RdbType.ZSET_2, Kind.HASH: RdbType.HASH, Kind.STREAM: RdbType.STREAM_LISTPACKS_3,
    Kind.MODULE: RdbType.MODULE_2,
}

#: Largest chunk of JSON text a single record may need before we give up (hostile input).
MAX_RECORD_TEXT = 1 << 31

_SPECIAL_SCORES = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "nan": math.nan,
                   "-0": -0.0}


class JsonFormatError(CorruptError):
    """The JSON text is not a valid rdbkit JSON document."""


# ---------------------------------------------------------------------------------------
# scalars


def enc_bytes(b: bytes) -> Any:
    """Plain string when the bytes are UTF-8 (Python's codec already refuses surrogates)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(b).decode("ascii")}


def dec_bytes(obj: Any, what: str = "string") -> bytes:
    if type(obj) is str:
        try:
            return obj.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{what}: lone surrogate in a JSON string (use base64)") from e
    if isinstance(obj, dict) and len(obj) == 1:
        if "base64" in obj and isinstance(obj["base64"], str):
            try:
                return base64.b64decode(obj["base64"], validate=True)
            except (binascii.Error, ValueError) as e:
                raise ValueError(f"{what}: bad base64") from e
        if "hex" in obj and isinstance(obj["hex"], str):
            try:
                return bytes.fromhex(obj["hex"])
            except ValueError as e:
                raise ValueError(f"{what}: bad hex") from e
    raise ValueError(f"{what}: expected a string, {{\"base64\": ...}} or {{\"hex\": ...}}")


def enc_score(x: float) -> Any:
    if x != x:
        return "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    if x == 0.0 and math.copysign(1.0, x) < 0:
        return "-0"
    return x


def dec_score(obj: Any) -> float:
    if type(obj) is float:
        return obj
    if type(obj) is int:
        return float(obj)
    if isinstance(obj, str):
        special = _SPECIAL_SCORES.get(obj.lower())
        if special is not None:
            return special
        try:
            return float(obj)
        except ValueError:
            pass
    raise ValueError(f"bad score {obj!r}")


def enc_id(i: tuple[int, int]) -> str:
    return f"{i[0]}-{i[1]}"


def dec_id(obj: Any) -> tuple[int, int]:
    if isinstance(obj, str):
        ms, sep, seq = obj.partition("-")
        if sep and ms.isdigit() and seq.isdigit():
            a, b = int(ms), int(seq)
            if a < 1 << 64 and b < 1 << 64:
                return (a, b)
    raise ValueError(f"bad stream id {obj!r} (expected \"<ms>-<seq>\")")


_I64 = (-(1 << 63), (1 << 63) - 1)


def _int(obj: Any, what: str, lo: int = 0, hi: int = (1 << 64) - 1) -> int:
    if type(obj) is not int or not lo <= obj <= hi:
        raise ValueError(f"{what}: expected an integer in [{lo}, {hi}], got {obj!r}")
    return obj


# ---------------------------------------------------------------------------------------
# values


def encode_value(kind: Kind, value: Any, field_expires: dict | None = None) -> Any:
    if kind == Kind.STRING:
        return enc_bytes(value)
    if kind in (Kind.LIST, Kind.SET):
        return [enc_bytes(e) for e in value]
    if kind == Kind.ZSET:
        return [[enc_bytes(m), enc_score(s)] for m, s in value]
    if kind == Kind.HASH:
        if field_expires:
            out = []
            for f, v in value:
                ms = field_expires.get(f)
                out.append([enc_bytes(f), enc_bytes(v)] if ms is None
                           else [enc_bytes(f), enc_bytes(v), ms])
            return out
        return [[enc_bytes(f), enc_bytes(v)] for f, v in value]
    if kind == Kind.STREAM:
        return encode_stream(value)
    if kind == Kind.MODULE:
        return {"module": value.name, "encver": value.encver, "raw": enc_bytes(value.raw)}
    raise ValueError(f"unknown kind {kind!r}")


def encode_stream(s: Stream) -> dict:
    return {
        "length": s.length,
        "last_id": enc_id(s.last_id),
        "first_id": enc_id(s.first_id),
        "max_deleted_id": enc_id(s.max_deleted_id),
        "entries_added": s.entries_added,
        "entries": [[enc_id(e.id), [[enc_bytes(f), enc_bytes(v)] for f, v in e.fields]]
                    for e in s.entries],
        "groups": [
            {
                "name": enc_bytes(g.name),
                "last_id": enc_id(g.last_id),
                "entries_read": None if g.entries_read < 0 else g.entries_read,
                "pending": [{"id": enc_id(p.id), "delivery_time": p.delivery_time,
                             "delivery_count": p.delivery_count} for p in g.pending],
                "consumers": [{"name": enc_bytes(c.name), "seen_time": c.seen_time,
                               "active_time": c.active_time,
                               "pending": [enc_id(i) for i in c.pending]}
                              for c in g.consumers],
            }
            for g in s.groups
        ],
    }


def _pairs(obj: Any, what: str) -> Iterator[list]:
    if not isinstance(obj, list):
        raise ValueError(f"{what}: expected a list")
    for item in obj:
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise ValueError(f"{what}: expected [name, value] pairs")
        yield item


def decode_value(kind: Kind, obj: Any) -> tuple[Any, dict | None]:
    """JSON value -> (record value, field_expires)."""
    if kind == Kind.STRING:
        return dec_bytes(obj, "value"), None
    if kind in (Kind.LIST, Kind.SET):
        if not isinstance(obj, list):
            raise ValueError(f"{KIND_NAMES[kind]} value: expected a list")
        return [dec_bytes(e, "element") for e in obj], None
    if kind == Kind.ZSET:
        out = []
        for item in _pairs(obj, "zset value"):
            if len(item) != 2:
                raise ValueError("zset value: expected [member, score] pairs")
            out.append((dec_bytes(item[0], "member"), dec_score(item[1])))
        return out, None
    if kind == Kind.HASH:
        out, fe = [], {}
        for item in _pairs(obj, "hash value"):
            f = dec_bytes(item[0], "field")
            out.append((f, dec_bytes(item[1], "value")))
            if len(item) == 3 and item[2] is not None:
                fe[f] = _int(item[2], "field expiry", 0, (1 << 63) - 1)
        return out, (fe or None)
    if kind == Kind.STREAM:
        return decode_stream(obj), None
    if kind == Kind.MODULE:
        if not isinstance(obj, dict):
            raise ValueError("module value: expected an object")
        name = obj.get("module")
        if not isinstance(name, str) or len(name) != 9:
            raise ValueError("module value: \"module\" must be the 9-character type name")
        encver = _int(obj.get("encver"), "module encver", 0, 1023)
        try:
            mid = module_id(name, encver)
        except ValueError as e:
            raise ValueError(f"module value: {e}") from e
        return ModuleValue(mid, dec_bytes(obj.get("raw"), "module raw")), None
    raise ValueError(f"unknown kind {kind!r}")


def decode_stream(obj: Any) -> Stream:
    if not isinstance(obj, dict):
        raise ValueError("stream value: expected an object")
    entries = []
    for item in obj.get("entries", []):
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError("stream entries: expected [id, [[field, value], ...]]")
        fields = tuple((dec_bytes(p[0], "field"), dec_bytes(p[1], "value"))
                       for p in _pairs(item[1], "stream entry fields"))
        entries.append(StreamEntry(dec_id(item[0]), fields))
    last_default = entries[-1].id if entries else (0, 0)
    first_default = entries[0].id if entries else (0, 0)
    groups = []
    for g in obj.get("groups", []):
        if not isinstance(g, dict):
            raise ValueError("stream groups: expected objects")
        er = g.get("entries_read")
        pending = tuple(
            PendingEntry(dec_id(p["id"]), _int(p.get("delivery_time", 0), "delivery_time", *_I64),
                         _int(p.get("delivery_count", 1), "delivery_count"))
            for p in g.get("pending", []))
        consumers = tuple(
            Consumer(dec_bytes(c["name"], "consumer name"),
                     _int(c.get("seen_time", 0), "seen_time", *_I64),
                     _int(c.get("active_time", c.get("seen_time", 0)), "active_time", *_I64),
                     tuple(dec_id(i) for i in c.get("pending", [])))
            for c in g.get("consumers", []))
        groups.append(ConsumerGroup(
            dec_bytes(g["name"], "group name"), dec_id(g.get("last_id", "0-0")),
            -1 if er is None else _int(er, "entries_read"), pending, consumers))
    return Stream(
        entries=tuple(entries),
        length=_int(obj.get("length", len(entries)), "length"),
        last_id=dec_id(obj["last_id"]) if "last_id" in obj else last_default,
        first_id=dec_id(obj["first_id"]) if "first_id" in obj else first_default,
        max_deleted_id=dec_id(obj.get("max_deleted_id", "0-0")),
        entries_added=_int(obj.get("entries_added", len(entries)), "entries_added"),
        groups=tuple(groups),
    )


# ---------------------------------------------------------------------------------------
# records


def key_to_obj(rec: KeyRecord) -> dict:
    kind = rec.kind
    d = {"db": rec.db, "key": enc_bytes(rec.key), "type": KIND_NAMES[kind],
         "expire_ms": rec.expire_ms,
         "value": encode_value(kind, rec.value, rec.field_expires)}
    if rec.idle is not None:
        d["idle"] = rec.idle
    if rec.freq is not None:
        d["freq"] = rec.freq
    return d


def record_to_obj(rec: Record) -> dict | None:
    """One non-header record as a JSON object; None for records JSON does not keep."""
    if type(rec) is KeyRecord:
        return key_to_obj(rec)
    if isinstance(rec, Aux):
        return {"record": "aux", "key": enc_bytes(rec.key), "value": enc_bytes(rec.value)}
    if isinstance(rec, Function):
        lib = rec.library_name
        return {"record": "function", "library": None if lib is None else enc_bytes(lib),
                "code": enc_bytes(rec.code)}
    if isinstance(rec, ModuleAux):
        return {"record": "module_aux", "module": module_name(rec.module_id),
                "encver": rec.module_id & 1023, "when": rec.when, "raw": enc_bytes(rec.raw)}
    if isinstance(rec, SlotInfo):
        return {"record": "slot_info", "slot": rec.slot, "keys": rec.slot_size,
                "expires": rec.expires_slot_size}
    return None  # SelectDb, ResizeDb: implied by `db`; End: written by the encoder


class JsonEncoder:
    """Records in, JSON objects out; holds the header until the leading AUX run ends."""

    def __init__(self) -> None:
        self._header: dict | None = None
        self._leading = True
        self.keys = 0

    def feed(self, rec: Record) -> list[dict]:
        if type(rec) is KeyRecord:
            self.keys += 1
            out = self._flush()
            out.append(key_to_obj(rec))
            return out
        if isinstance(rec, Header):
            self._header = {"record": "header", "format": FORMAT_NAME,
                            "format_version": FORMAT_VERSION,
                            "magic": rec.magic.decode("ascii", "replace"),
                            "rdb_version": rec.version, "aux": []}
            self._leading = True
            return []
        if isinstance(rec, Aux) and self._leading and self._header is not None:
            self._header["aux"].append([enc_bytes(rec.key), enc_bytes(rec.value)])
            return []
        if isinstance(rec, (SelectDb, ResizeDb)):
            return []
        if isinstance(rec, End):
            return self._flush()
        out = self._flush()
        obj = record_to_obj(rec)
        if obj is not None:
            out.append(obj)
        return out

    def _flush(self) -> list[dict]:
        self._leading = False
        if self._header is None:
            return []
        h, self._header = self._header, None
        return [h]

    def finish(self) -> list[dict]:
        out = self._flush()
        out.append({"record": "end", "keys": self.keys})
        return out


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_QUOTE = json.encoder.encode_basestring  # C-accelerated; escapes controls, keeps UTF-8


def dumps(obj: dict) -> bytes:
    return _ENCODE(obj).encode("utf-8")


def _text(b: bytes) -> str:
    """A byte string as JSON text (the fast-path twin of `enc_bytes` + encoding)."""
    try:
        return _QUOTE(b.decode("utf-8"))
    except UnicodeDecodeError:
        return '{"base64":"%s"}' % base64.b64encode(b).decode("ascii")


def _plain_string_line(rec: KeyRecord) -> bytes:
    """The JSON of a plain string key without building a dict (most keys are these)."""
    exp = "null" if rec.expire_ms is None else str(rec.expire_ms)
    return ('{"db":%d,"key":%s,"type":"string","expire_ms":%s,"value":%s}'
            % (rec.db, _text(rec.key), exp, _text(rec.value))).encode("utf-8")


# Batch rendering: the same text as `dumps(key_to_obj(rec))`, built by C-level maps
# over whole runs of keys instead of a dict and an encoder walk per key. Anything the
# fast forms do not cover (non-UTF-8 bytes, special scores, field TTLs, idle/freq)
# goes through the general path.

_DECODE = bytes.decode
_STRING_LINE = '{"db":%d,"key":%s,"type":"string","expire_ms":%s,"value":%s}'
_NO_EXPIRE_VALUE = ',"type":"string","expire_ms":null,"value":'
_KEY_LINE = '{"db":%d,"key":%s,"type":"%s","expire_ms":%s,"value":%s}'
_PAIR = "[%s,%s]".__mod__


def _string_lines(run: list) -> list[str]:
    """JSON lines of `(db, key, value, expire_ms)` tuples (plain string keys)."""
    dbs, keys, vals, exps = zip(*run)
    n = len(run)
    try:
        kq = map(_QUOTE, map(_DECODE, keys))
        vq = map(_QUOTE, map(_DECODE, vals))
        if exps.count(None) == n and dbs.count(dbs[0]) == n:
            # The usual case: joining constant pieces beats a format per line.
            head = '{"db":%d,"key":' % dbs[0]
            return list(map("".join, zip(repeat(head), kq, repeat(_NO_EXPIRE_VALUE), vq,
                                         repeat("}"))))
        et = ["null" if e is None else str(e) for e in exps]
        return list(map(_STRING_LINE.__mod__, zip(dbs, kq, et, vq)))
    except UnicodeDecodeError:
        return [_STRING_LINE % (db, _text(k), "null" if e is None else str(e), _text(v))
                for db, k, v, e in run]


def _array_text(items) -> str:
    return "[" + ",".join(map(_QUOTE, map(_DECODE, items))) + "]"


def _pairs_text(pairs) -> str:
    if not pairs:
        return "[]"
    fs, vs = zip(*pairs)
    return "[" + ",".join(map(_PAIR, zip(map(_QUOTE, map(_DECODE, fs)),
                                          map(_QUOTE, map(_DECODE, vs))))) + "]"


def _zset_text(pairs) -> str | None:
    if not pairs:
        return "[]"
    ms, ss = zip(*pairs)
    if not all(map(math.isfinite, ss)):
        return None
    texts = list(map(float.__repr__, ss))  # what the JSON encoder writes for a float
    if "-0.0" in texts:  # JSON has no negative zero: the general path writes "-0"
        return None
    return "[" + ",".join(map(_PAIR, zip(map(_QUOTE, map(_DECODE, ms)), texts))) + "]"


def _hash_text(rec: KeyRecord) -> str | None:
    return None if rec.field_expires else _pairs_text(rec.value)


def _array_rec_text(rec: KeyRecord) -> str:
    return _array_text(rec.value)


def _zset_rec_text(rec: KeyRecord) -> str | None:
    return _zset_text(rec.value)


_KIND_TEXT = {Kind.HASH: _hash_text, Kind.LIST: _array_rec_text, Kind.SET: _array_rec_text,
              Kind.ZSET: _zset_rec_text}
#: On-disk type -> (JSON type name, value text or None) for the kinds with fast forms.
_FAST_TYPES = {t: (KIND_NAMES[TYPE_KIND[t]], _KIND_TEXT[TYPE_KIND[t]])
               for t in RdbType if TYPE_KIND.get(t) in _KIND_TEXT}


_KIND_GROUP = {t: KIND_NAMES[TYPE_KIND[t]] for t in _FAST_TYPES}


def _group_texts(kind: str, values: list) -> list[str] | None:
    """Value texts of many keys of one kind at once: every element of the group goes
    through one chain of C-level maps; None when some element needs the general path
    (the caller then renders that group key by key)."""
    if kind == "hash":
        counts = list(map(len, values))
        flat = list(chain.from_iterable(chain.from_iterable(values)))
        try:
            q = iter(list(map(_QUOTE, map(_DECODE, flat))))
        except UnicodeDecodeError:
            return None
        items = iter(list(map(_PAIR, zip(q, q))))
    elif kind == "zset":
        counts = list(map(len, values))
        pairs = list(chain.from_iterable(values))
        if not pairs:
            return ["[]"] * len(values)
        ms, ss = zip(*pairs)
        if not all(map(math.isfinite, ss)):
            return None
        texts = list(map(float.__repr__, ss))
        if "-0.0" in texts:
            return None
        try:
            items = iter(list(map(_PAIR, zip(map(_QUOTE, map(_DECODE, ms)), texts))))
        except UnicodeDecodeError:
            return None
    else:
        counts = list(map(len, values))
        try:
            items = iter(list(map(_QUOTE, map(_DECODE, chain.from_iterable(values)))))
        except UnicodeDecodeError:
            return None
    join = ",".join
    return ["[" + join(islice(items, c)) + "]" for c in counts]


def _batch_key_lines(recs: list) -> list:
    """JSON lines of the list/set/hash/zset keys among `recs` (None for the others),
    rendered kind by kind."""
    lines = [None] * len(recs)
    groups: dict[str, list[int]] = {}
    kind_of = _KIND_GROUP.get
    for i, rec in enumerate(recs):
        if rec.__class__ is KeyRecord and rec.idle is None and rec.freq is None:
            kind = kind_of(rec.type)
            if kind is not None and not (kind == "hash" and rec.field_expires):
                if kind in groups:
                    groups[kind].append(i)
                else:
                    groups[kind] = [i]
    for kind, idx in groups.items():
        group = [recs[i] for i in idx]
        texts = _group_texts(kind, [r.value for r in group])
        if texts is None:
            for i, rec in zip(idx, group):
                lines[i] = _fast_key_line(rec)
            continue
        for i, rec, text in zip(idx, group, texts):
            lines[i] = _KEY_LINE % (rec.db, _text(rec.key), kind,
                                    "null" if rec.expire_ms is None else str(rec.expire_ms),
                                    text)
    return lines


def _fast_key_line(rec: KeyRecord) -> str | None:
    """The JSON line of a list/set/hash/zset key, or None for the general path."""
    fast = _FAST_TYPES.get(rec.type)
    if fast is None or rec.idle is not None or rec.freq is not None:
        return None
    try:
        text = fast[1](rec)
    except UnicodeDecodeError:
        return None
    if text is None:
        return None
    return _KEY_LINE % (rec.db, _text(rec.key), fast[0],
                        "null" if rec.expire_ms is None else str(rec.expire_ms), text)


class JsonWriter:
    """Streams records to a binary file as a JSON array (`jsonl=False`) or JSON Lines."""

    #: Lines are gathered and written in batches of this many.
    BATCH = 512

    def __init__(self, out: BinaryIO, *, jsonl: bool = False) -> None:
        self.out = out
        self.jsonl = jsonl
        self._sep = "\n" if jsonl else ",\n"
        self.enc = JsonEncoder()
        self._lines: list[bytes] = []
        self._any = False
        if not jsonl:
            out.write(b"[\n")

    @classmethod
    def continuing(cls, out: BinaryIO, *, jsonl: bool = False) -> "JsonWriter":
        """A writer for text that another writer will `splice` in after lines of its
        own: no opening bracket, header and leading AUX fields already written."""
        w = cls.__new__(cls)
        w.out, w.jsonl, w._sep = out, jsonl, "\n" if jsonl else ",\n"
        w.enc = JsonEncoder()
        w.enc._leading = False
        w._lines = []
        w._any = True
        return w

    def can_splice(self) -> bool:
        """Would text from a `continuing` writer fit after what was written so far?"""
        return (self.enc._header is None and not self.enc._leading
                and (self._any or bool(self._lines)))

    def splice(self, text: bytes, keys: int) -> None:
        """Write a `continuing` writer's text (holding `keys` keys) after our own lines."""
        self._flush()
        if text:
            self.out.write(text)
        self.enc.keys += keys

    def flush(self) -> None:
        self._flush()

    def _emit(self, objs: list[dict]) -> None:
        for obj in objs:
            self._lines.append(dumps(obj))
        if len(self._lines) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        lines = self._lines
        if not lines:
            return
        if self.jsonl:
            lines.append(b"")
            self.out.write(b"\n".join(lines))
        else:
            self.out.write((b",\n" if self._any else b"") + b",\n".join(lines))
        self._any = True
        self._lines = []

    @property
    def keys(self) -> int:
        return self.enc.keys

    def write(self, rec: Record) -> None:
        enc = self.enc
        if (type(rec) is KeyRecord and rec.type == RdbType.STRING and rec.idle is None
                and rec.freq is None and enc._header is None):
            enc.keys += 1
            enc._leading = False
            self._lines.append(_plain_string_line(rec))
            if len(self._lines) >= self.BATCH:
                self._flush()
            return
        self._emit(enc.feed(rec))

    def write_batch(self, recs: list) -> None:
        """Write a batch of records; plain string keys may be `(db, key, value,
        expire_ms)` tuples (`RecordIterator.batches(raw_strings=True)`).

        The tuples' lines are made in one go; only the other records are visited one
        by one, and the tuples' lines are spliced in between them by slices."""
        enc = self.enc
        if enc._leading:
            # The first batch: header, leading AUX fields; the first key releases them.
            for done, rec in enumerate(recs):
                if rec.__class__ is tuple or rec.__class__ is KeyRecord:
                    self._emit(enc._flush())
                    break
                self.write(rec)
                if not enc._leading:
                    done += 1
                    break
            else:
                self._flush()
                return
            recs = recs[done:]
        types = list(map(type, recs))
        strs = list(compress(recs, map(operator.is_, types, repeat(tuple))))
        if not strs:
            for rec in recs:
                self._write_one(rec, None)
            self._flush()
            return
        enc.keys += len(strs)
        lines = _string_lines(strs)
        if len(strs) == len(recs):
            self._lines.append(self._sep.join(lines).encode("utf-8"))
            self._flush()
            return
        out: list[str] = []
        prev = 0
        where = list(compress(range(len(recs)), map(operator.is_not, types, repeat(tuple))))
        others = [recs[i] for i in where]
        for k, (i, rec, line) in enumerate(zip(where, others, _batch_key_lines(others))):
            j = i - k  # string lines before recs[i]
            if j > prev:
                out.extend(lines[prev:j])
                prev = j
            if line is not None:
                enc.keys += 1
                out.append(line)
            else:
                self._write_one(rec, out)
        out.extend(lines[prev:])
        if out:
            self._lines.append(self._sep.join(out).encode("utf-8"))
        self._flush()  # one write per batch: a parser batch is a few hundred KB of text

    def _write_one(self, rec, out: list | None) -> None:
        """One record of a batch: its line into `out` when it has a fast form, else
        `out` is moved to the pending lines and the record takes the general path."""
        if rec.__class__ is KeyRecord:
            line = _fast_key_line(rec)
            if line is not None:
                self.enc.keys += 1
                if out is None:
                    self._lines.append(line.encode("utf-8"))
                else:
                    out.append(line)
                return
        if out:
            self._lines.append(self._sep.join(out).encode("utf-8"))
            out.clear()
        self.write(rec)

    def close(self) -> None:
        self._emit(self.enc.finish())
        self._flush()
        if not self.jsonl:
            self.out.write(b"\n]\n")


def obj_to_records(obj: Any) -> list[Record]:
    """One JSON object -> the records it stands for (a header gives Header + its AUX)."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object per record")
    kind_name = obj.get("record")
    if kind_name is None:
        return [obj_to_key(obj)]
    if kind_name == "header":
        fmt = obj.get("format", FORMAT_NAME)
        if fmt != FORMAT_NAME:
            raise ValueError(f"not an rdbkit JSON document (format {fmt!r})")
        ver = obj.get("format_version", FORMAT_VERSION)
        if type(ver) is not int or ver > FORMAT_VERSION:
            raise ValueError(f"unsupported rdbkit JSON format_version {ver!r}")
        magic = obj.get("magic", "REDIS")
        if magic not in ("REDIS", "VALKEY"):
            raise ValueError(f"bad magic {magic!r}")
        out: list[Record] = [Header(_int(obj.get("rdb_version", 10), "rdb_version", 1, 999),
                                    magic.encode())]
        for pair in _pairs(obj.get("aux", []), "header aux"):
            out.append(Aux(dec_bytes(pair[0], "aux key"), dec_bytes(pair[1], "aux value")))
        return out
    if kind_name == "aux":
        return [Aux(dec_bytes(obj.get("key"), "aux key"), dec_bytes(obj.get("value"), "aux value"))]
    if kind_name == "function":
        return [Function(dec_bytes(obj.get("code"), "function code"))]
    if kind_name == "module_aux":
        name = obj.get("module")
        if not isinstance(name, str) or len(name) != 9:
            raise ValueError("module_aux: \"module\" must be the 9-character type name")
        mid = module_id(name, _int(obj.get("encver"), "encver", 0, 1023))
        return [ModuleAux(mid, _int(obj.get("when"), "when", 0, 3), dec_bytes(obj.get("raw"), "raw"))]
    if kind_name == "slot_info":
        return [SlotInfo(_int(obj.get("slot"), "slot"), _int(obj.get("keys", 0), "keys"),
                         _int(obj.get("expires", 0), "expires"))]
    if kind_name == "end":
        return [End(checksum=None, computed=None)]
    raise ValueError(f"unknown record kind {kind_name!r}")


_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_DB_MAX = (1 << 32) - 1


def plain_string_key(obj: dict) -> KeyRecord | None:
    """The common record, a plain string key as rdb-dump writes it (str key and value,
    int db, expire_ms null or int, no other field), built without the general
    decoder's dispatch; None for anything else, which takes `obj_to_key`."""
    n = len(obj)
    if n != 4 and (n != 5 or "expire_ms" not in obj):
        return None
    key = obj.get("key")
    value = obj.get("value")
    db = obj.get("db")
    expire = obj.get("expire_ms")
    if (type(key) is not str or type(value) is not str or type(db) is not int
            or obj.get("type") != "string" or not 0 <= db <= _DB_MAX):
        return None
    if expire is not None and (type(expire) is not int or not _I64_MIN <= expire <= _I64_MAX):
        return None
    try:
        return KeyRecord(db, key.encode(), RdbType.STRING, value.encode(), expire)
    except UnicodeEncodeError:
        return None  # a lone surrogate: the general path reports it


def obj_to_key(obj: dict) -> KeyRecord:
    if "key" not in obj:
        raise ValueError("key record without \"key\"")
    key = dec_bytes(obj["key"], "key")
    try:
        tname = obj.get("type")
        kind = NAME_KINDS.get(tname)
        if kind is None:
            raise ValueError(f"unknown type {tname!r}")
        if "value" not in obj:
            raise ValueError("key record without \"value\"")
        value, fe = decode_value(kind, obj["value"])
        expire = obj.get("expire_ms")
        if expire is not None:
            expire = _int(expire, "expire_ms", -(1 << 63), (1 << 63) - 1)
        idle = obj.get("idle")
        freq = obj.get("freq")
        rtype = KIND_TYPES[kind]
        if fe and kind == Kind.HASH:
            rtype = RdbType.HASH_METADATA
        return KeyRecord(
            db=_int(obj.get("db", 0), "db", 0, (1 << 32) - 1), key=key, type=rtype,
            value=value, expire_ms=expire,
            idle=None if idle is None else _int(idle, "idle"),
            freq=None if freq is None else _int(freq, "freq", 0, 255),
            field_expires=fe)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise _KeyError(str(e), key) from e


class _KeyError(ValueError):
    def __init__(self, msg: str, key: bytes) -> None:
        super().__init__(msg)
        self.key = key


# ---------------------------------------------------------------------------------------
# streaming decoder


_WS = " \t\r\n"


class _TextStream:
    """Incrementally decoded UTF-8 text that knows the byte offset of any position.

    Offsets are computed incrementally from the last one asked for (records are asked
    in order), so the cost is linear in the input, not per record in the buffer."""

    def __init__(self, f: BinaryIO, chunk: int) -> None:
        self.f = f
        self.chunk = chunk
        self.dec = codecs.getincrementaldecoder("utf-8")("strict")
        self.buf = ""
        self.pos = 0
        self._mark = 0       # a buffer index ...
        self._mark_off = 0   # ... and its absolute byte offset
        self.eof = False

    def more(self, at_least: int = 0) -> bool:
        if self.eof:
            return False
        if self.pos:
            self._mark_off = self.offset(self.pos)
            self.buf = self.buf[self.pos:]
            self.pos = self._mark = 0
        want = max(self.chunk, at_least)
        data = self.f.read(want)
        try:
            if not data:
                self.eof = True
                self.buf += self.dec.decode(b"", final=True)
                return False
            self.buf += self.dec.decode(data)
        except UnicodeDecodeError as e:
            raise JsonFormatError("input is not UTF-8 text", self.offset(len(self.buf)),
                                  phase="read-json") from e
        return True

    def offset(self, idx: int | None = None) -> int:
        idx = self.pos if idx is None else idx
        if self.buf.isascii():  # O(1) (a flag of the str): characters are bytes
            return self._mark_off + (idx - self._mark)
        if idx < self._mark:
            return self._mark_off - len(self.buf[idx:self._mark].encode("utf-8", "surrogatepass"))
        off = self._mark_off + len(self.buf[self._mark:idx].encode("utf-8", "surrogatepass"))
        self._mark, self._mark_off = idx, off
        return off

    def skip_ws(self) -> str:
        """Next non-blank character ('' at EOF) without consuming it."""
        while True:
            buf, n, i = self.buf, len(self.buf), self.pos
            while i < n and buf[i] in _WS:
                i += 1
            self.pos = i
            if i < n:
                return buf[i]
            if not self.more():
                return ""

def iter_json_objects(f: BinaryIO, chunk: int = 1 << 20) -> Iterator[tuple[int, Any]]:
    """(byte offset, object) for a JSON array of objects or a sequence of objects."""
    ts = _TextStream(f, chunk)
    raw = json.JSONDecoder().raw_decode
    first = ts.skip_ws()
    if first == "\ufeff":
        ts.pos += 1
        first = ts.skip_ws()
    if first == "":
        raise TruncatedError("empty input: no JSON document", 0, phase="read-json",
                             valid_up_to=0)
    array = first == "["
    if array:
        ts.pos += 1
    expect_value = True
    while True:
        c = ts.skip_ws()
        if c == "":
            if array:
                raise TruncatedError("JSON array not closed", ts.offset(), phase="read-json",
                                     valid_up_to=ts.offset())
            return
        if array:
            if c == "]" and expect_value is None:
                raise JsonFormatError("trailing ',' before ']'", ts.offset(), phase="read-json")
            if c == "]":
                ts.pos += 1
                if ts.skip_ws() != "":
                    raise JsonFormatError("text after the closing ']'", ts.offset(),
                                          phase="read-json")
                return
            if expect_value is False:
                if c != ",":
                    raise JsonFormatError(f"expected ',' or ']' between records, got {c!r}",
                                          ts.offset(), phase="read-json")
                ts.pos += 1
                expect_value = None  # a value must follow a comma
                continue
        start = ts.offset()
        while True:
            try:
                obj, end = raw(ts.buf, ts.pos)
            except RecursionError as e:
                raise JsonFormatError("JSON nested too deeply", start, phase="read-json") from e
            except ValueError as e:
                if not isinstance(e, json.JSONDecodeError):  # e.g. a 10,000-digit integer
                    raise JsonFormatError(f"bad JSON: {e}", start, phase="read-json") from e
                if len(ts.buf) - ts.pos > MAX_RECORD_TEXT:
                    raise JsonFormatError("record too large", start, phase="read-json") from e
                if ts.more(len(ts.buf)):
                    continue
                if e.pos >= len(ts.buf) - 1 or "Unterminated" in e.msg:
                    raise TruncatedError(f"JSON ends inside a record: {e.msg}", start,
                                         phase="read-json", valid_up_to=start) from e
                raise JsonFormatError(f"bad JSON: {e.msg}", ts.offset(e.pos),
                                      phase="read-json") from e
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(ts.buf) and not isinstance(obj, (dict, list, str)) and ts.more():
                continue
            break
        ts.pos = end
        expect_value = False
        yield start, obj


def iter_records(f: BinaryIO, *, chunk: int = 1 << 20, require_end: bool | None = None
                 ) -> Iterator[Record]:
    """Records from rdbkit JSON/JSONL. A document that starts with a header must end with
    the `end` record (so a cut-short JSONL file is an error, not a smaller dataset)."""
    saw_header = saw_end = False
    n = 0
    plain = plain_string_key
    for offset, obj in iter_json_objects(f, chunk):
        n += 1
        if saw_end:
            raise JsonFormatError("record after the end record", offset, phase="read-json")
        if type(obj) is dict:
            rec = plain(obj)
            if rec is not None:
                yield rec
                continue
        try:
            recs = obj_to_records(obj)
        except _KeyError as e:
            raise JsonFormatError(str(e), offset, phase="read-json", key=e.key) from e
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise JsonFormatError(f"record {n}: {e}", offset, phase="read-json") from e
        for rec in recs:
            if isinstance(rec, Header):
                if n != 1:
                    raise JsonFormatError("header is not the first record", offset,
                                          phase="read-json")
                saw_header = True
            elif isinstance(rec, End):
                saw_end = True
                continue
            yield rec
    need_end = saw_header if require_end is None else require_end
    if need_end and not saw_end:
        raise TruncatedError("JSON document has no end record (cut short?)", None,
                             phase="read-json")
    yield End(checksum=None, computed=None)


def looks_like_json(head: bytes) -> bool:
    s = head.lstrip(b" \t\r\n")
    if s.startswith(b"\xef\xbb\xbf"):
        s = s[3:].lstrip()
    return s[:1] in (b"[", b"{")
