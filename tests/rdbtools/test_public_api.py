"""The package's public names all resolve, and the documented reading loop works."""

import rdbtools


def test_every_public_name_resolves():
    for name in rdbtools.__all__:
        assert getattr(rdbtools, name) is not None, name


def test_reading_loop_from_the_docstring(fixtures_dir):
    keys = [r for r in rdbtools.iter_records(fixtures_dir / "rdb" / "all-types.rdb")
            if isinstance(r, rdbtools.KeyRecord)]
    ds = rdbtools.load(fixtures_dir / "rdb" / "all-types.rdb")
    assert len(keys) == len(ds.keys) > 50
    assert rdbtools.digest_file(fixtures_dir / "rdb" / "empty.rdb") == "0" * 40
