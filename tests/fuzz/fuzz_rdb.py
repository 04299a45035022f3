"""Fuzz target for the RDB reader: any input either parses or raises FormatError.

    python3 -m tests.fuzz.fuzz_rdb [libFuzzer options] [corpus dirs]

With no corpus directory the seeds are fixtures/rdb/*.rdb (copied into a temporary
directory so libFuzzer's additions never land in the repo). Checksums are off so the
fuzzer explores the parser instead of the CRC. Crashes are written where
`-artifact_prefix=` says; turn each into a regression fixture.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import atheris
except ImportError:  # pragma: no cover - the CI test falls back to a mutation loop
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["rdbtools"]):
        from rdbtools.errors import FormatError
        from rdbtools.parser import DONE, NEED_DATA, RdbParser
        from rdbtools.reader import decode_value
else:
    from rdbtools.errors import FormatError
    from rdbtools.parser import DONE, NEED_DATA, RdbParser
    from rdbtools.reader import decode_value


def one_input(data: bytes) -> None:
    """The property under test; raises anything that is not a FormatError."""
    parser = RdbParser(verify_checksum=False)
    try:
        # Feed in two pieces so the resumable (NEED_DATA) path is exercised too.
        cut = len(data) // 3
        parser.feed(data[:cut])
        ev = parser.next_event()
        while ev is not NEED_DATA and ev is not DONE:
            ev = parser.next_event()
        if ev is NEED_DATA:
            parser.feed(data[cut:])
            parser.feed_eof()
            while parser.next_event() is not DONE:
                pass
    except FormatError as e:
        _check_strict(e)
    if len(data) > 1:
        try:
            decode_value(data[0] % 30, data[1:], valkey=bool(data[0] & 0x80))
        except FormatError as e:
            _check_strict(e)


#: RDB_FUZZ_STRICT=1: also fail on a FormatError the parser made out of an unexpected
#: Python exception (its reason says "malformed"): that means a missing bounds check.
STRICT = os.environ.get("RDB_FUZZ_STRICT") == "1"


class InternalError(AssertionError):
    pass


def _check_strict(e: FormatError) -> None:
    if STRICT and ("malformed input (" in e.reason or ": malformed (" in e.reason):
        raise InternalError(str(e)) from e


def TestOneInput(data: bytes) -> None:  # noqa: N802 - atheris's name
    try:
        one_input(data)
    except FormatError as e:
        _check_strict(e)


def seed_dir() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="rdbfuzz-"))
    for p in sorted((ROOT / "fixtures" / "rdb").glob("*.rdb")):
        shutil.copyfile(p, tmp / p.name)
    for i, data in enumerate(exotic_seeds()):
        (tmp / f"exotic{i}.rdb").write_bytes(data)
    return tmp


def exotic_seeds() -> list[bytes]:
    """Hand-made files with the record kinds the real fixtures lack (modules, HFE,
    v1 streams, Valkey...), from the truncation tests."""
    try:
        from tests.rdbtools.test_truncation import _exotic_files
    except ImportError:  # pragma: no cover - pytest not installed
        return []
    return _exotic_files()


def main(argv: list[str]) -> None:
    if atheris is None:
        raise SystemExit("atheris is not installed (pip install atheris)")
    args = list(argv)
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(str(seed_dir()))
    atheris.Setup(args, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
