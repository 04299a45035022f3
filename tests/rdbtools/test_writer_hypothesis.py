"""Property: any dataset -> write_rdb (any version 6-12) -> reader -> the same data.

Binary keys, every kind, TTLs, tiny and large values; what a version cannot hold is
dropped (lossy=True) and must be exactly what the report lists.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rdbtools import reader
from rdbtools.constants import Kind, RdbType
from rdbtools.payload import create_payload, parse_payload
from rdbtools.records import (Consumer, ConsumerGroup, Dataset, KeyRecord, PendingEntry, Stream,
                              StreamEntry)
from rdbtools.writer import write_rdb
from tests.rdbtools.test_writer import _expected_after, norm_dataset, norm_value

ints_as_text = st.integers(-2**63, 2**63 - 1).map(lambda i: b"%d" % i)
small_bytes = st.one_of(st.binary(max_size=12), ints_as_text,
                        st.sampled_from([b"", b"0", b"-0", b"007", b"+1", b"a" * 21]))
any_bytes = st.one_of(small_bytes, st.binary(min_size=60, max_size=70),
                      st.sampled_from([b"z" * 5000, b"y" * 9000]),
                      st.binary(min_size=300, max_size=600))
scores = st.one_of(st.floats(allow_nan=False), st.integers(-2**53, 2**53).map(float),
                   st.sampled_from([0.0, -0.0, float("inf"), float("-inf"), 0.1, 2.0 ** 62]))
# Within a node the reader adds int64 deltas; the wrap-around case has its own test.
ids = st.tuples(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))


@st.composite
def streams(draw):
    id_list = sorted(draw(st.sets(ids, max_size=12)))
    entries = tuple(StreamEntry(i, tuple(draw(st.lists(st.tuples(small_bytes, small_bytes),
                                                       min_size=1, max_size=3))))
                    for i in id_list)
    n = len(entries)
    last = id_list[-1] if id_list else draw(ids)
    groups = []
    for name in draw(st.sets(st.binary(min_size=1, max_size=6), max_size=2)):
        owned = draw(st.lists(st.sampled_from(id_list), unique=True)) if id_list else []
        pel = tuple(PendingEntry(i, draw(st.integers(0, 2**50)), draw(st.integers(1, 9)))
                    for i in sorted(owned))
        seen = draw(st.integers(0, 2**50))
        consumers = (Consumer(b"c1", seen, draw(st.sampled_from([seen, seen + 5])), tuple(sorted(owned))),)
        groups.append(ConsumerGroup(name, draw(ids), draw(st.sampled_from([-1, 0, n])), pel,
                                    consumers if draw(st.booleans()) or owned else ()))
    return Stream(entries=entries, length=n, last_id=last,
                  first_id=id_list[0] if id_list else (0, 0),
                  max_deleted_id=draw(st.sampled_from([(0, 0), (1, 1)])),
                  entries_added=n + draw(st.integers(0, 3)), groups=tuple(groups))


def _uniq_pairs(keys, vals):
    return st.lists(st.tuples(keys, vals), max_size=20, unique_by=lambda p: p[0])


values = st.one_of(
    st.tuples(st.just(RdbType.STRING), any_bytes),
    st.tuples(st.just(RdbType.LIST), st.lists(any_bytes, min_size=1, max_size=12)),
    st.tuples(st.just(RdbType.LIST), st.lists(small_bytes, min_size=1, max_size=600)),
    st.tuples(st.just(RdbType.SET), st.lists(small_bytes, min_size=1, max_size=30, unique=True)),
    st.tuples(st.just(RdbType.SET), st.lists(ints_as_text, min_size=1, max_size=30, unique=True)),
    st.tuples(st.just(RdbType.ZSET_2), _uniq_pairs(any_bytes, scores).filter(bool)),
    st.tuples(st.just(RdbType.HASH), _uniq_pairs(any_bytes, any_bytes).filter(bool)),
    st.tuples(st.just(RdbType.STREAM_LISTPACKS_3), streams()),
)


@st.composite
def datasets(draw):
    keys = []
    for db in draw(st.sets(st.integers(0, 3), min_size=1, max_size=2)):
        names = draw(st.lists(st.binary(max_size=16), min_size=1, max_size=5, unique=True))
        for name in names:
            rtype, value = draw(values)
            expire = draw(st.one_of(st.none(), st.integers(0, 2**48)))
            fexp = None
            if rtype is RdbType.HASH and value and draw(st.booleans()):
                fexp = {value[0][0]: draw(st.integers(1, 2**48 - 1))}
            keys.append(KeyRecord(db, name, rtype, value, expire_ms=expire, field_expires=fexp))
    return Dataset(keys=keys)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(ds=datasets(), version=st.integers(6, 12))
def test_dataset_round_trip(tmp_path, ds, version):
    out = tmp_path / "h.rdb"
    rep = write_rdb(out, ds, version=version, lossy=True)
    back = reader.load(out)
    assert norm_dataset(back, version) == _expected_after(ds, version)
    dropped_keys = {(x.db, x.key) for x in rep.dropped if x.key is not None}
    for rec in ds.keys:
        lost = ((rec.kind is Kind.STREAM and version < 9)
                or bool(rec.field_expires and version < 12))
        if lost:
            assert (rec.db, rec.key) in dropped_keys
        elif rec.kind is not Kind.STREAM:  # stream bookkeeping losses depend on the data
            assert (rec.db, rec.key) not in dropped_keys


@settings(max_examples=40, deadline=None)
@given(v=values, version=st.integers(9, 12))
def test_payload_round_trip(v, version):
    rtype, value = v
    kind = {RdbType.STRING: Kind.STRING, RdbType.LIST: Kind.LIST, RdbType.SET: Kind.SET,
            RdbType.ZSET_2: Kind.ZSET, RdbType.HASH: Kind.HASH,
            RdbType.STREAM_LISTPACKS_3: Kind.STREAM}[rtype]
    _, back, _ = parse_payload(create_payload(kind, value, version=version))
    assert norm_value(kind, back, version) == norm_value(kind, value, version)


def test_stream_id_delta_wraps_modulo_2_64():
    """Node deltas are uint64 differences stored as int64 (streamAppendItem)."""
    # The same IDs XADDed into Redis 7.0 DUMP to exactly these bytes (see test_payload).
    entries = (StreamEntry((0, 1), ((b"f", b"v"),)), StreamEntry((0, 2**63 + 1), ((b"f", b"v"),)),
               StreamEntry((2**64 - 1, 2**64 - 2), ((b"f", b"v"),)))
    s = Stream(entries=entries, length=3, last_id=entries[-1].id, first_id=(0, 1), entries_added=3)
    _, back, _ = parse_payload(create_payload(Kind.STREAM, s))
    assert back.entries == entries


@pytest.mark.slow
@pytest.mark.interop
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(ds=datasets(), version=st.sampled_from([6, 7, 8, 9, 10]))
def test_redis_70_loads_what_we_write(tmp_path_factory, ds, version):
    """Real 7.0 agrees with the offline digest of the data we meant to write."""
    from dataclasses import replace

    from rdbtools.digest import digest_records
    from tests.support.realredis import load_rdb_in_redis

    tmp = tmp_path_factory.mktemp("h")
    out = tmp / "h.rdb"
    write_rdb(out, ds, version=version, lossy=True)
    kept = [replace(k, field_expires=None) for k in reader.load(out).keys]
    srv = load_rdb_in_redis(out, tmp / "srv")
    try:
        got = srv.command("DEBUG", "DIGEST").decode()
    finally:
        srv.stop()
    assert got == digest_records(kept)
