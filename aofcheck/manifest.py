"""Redis 7 multi-part AOF manifests: parse exactly as the 7.0 server does, and write lines.

The server reads the manifest with `fgets` into a 1025-byte buffer, so a "line" here is
what one such call returns (at most 1024 bytes); comments and line numbers follow that.
Tokens are split with Redis' config splitter (`sdssplitargs`).  Every refusal carries
the reason string the server logs, so the checker can print the same block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdbtools.sds import repr_bytes, split_args

from .errors import ManifestError

__all__ = ["AofInfo", "Manifest", "parse_manifest", "split_args", "format_line",
           "MANIFEST_MAX_LINE", "BASE", "HISTORY", "INCR"]

MANIFEST_MAX_LINE = 1024
BASE, HISTORY, INCR = "b", "h", "i"

_C_SPACE = b" \t\n\v\f\r"


@dataclass(frozen=True, slots=True)
class AofInfo:
    name: bytes
    seq: int
    type: str          # "b", "h" or "i"
    line: int = 0

    @property
    def fsname(self) -> str:
        import os

        return os.fsdecode(self.name)


@dataclass(slots=True)
class Manifest:
    base: AofInfo | None = None
    history: list[AofInfo] = field(default_factory=list)
    incrs: list[AofInfo] = field(default_factory=list)

    def files_to_load(self) -> list[AofInfo]:
        """Base first (if any), then the incr files in manifest order; history is skipped."""
        return ([self.base] if self.base else []) + list(self.incrs)


def _c_string(b: bytes) -> bytes:
    nul = b.find(b"\0")
    return b if nul < 0 else b[:nul]


def _atoll(b: bytes) -> int:
    s = _c_string(b).lstrip(_C_SPACE)
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for i, c in enumerate(s):
        if not 48 <= c <= 57:
            s = s[:i]
            break
    if s:
        n = int(s)
    return max(-(2**63), min(2**63 - 1, sign * n))


def _fgets_lines(data: bytes):
    """What repeated `fgets(buf, 1025, fp)` returns."""
    p, n = 0, len(data)
    while p < n:
        nl = data.find(b"\n", p, p + MANIFEST_MAX_LINE)
        end = nl + 1 if nl >= 0 else min(p + MANIFEST_MAX_LINE, n)
        yield data[p:end]
        p = end


def parse_manifest(data: bytes, *, path: str | None = None) -> Manifest:
    """Parse manifest bytes; raise ManifestError with the server's reason and line."""
    am = Manifest()
    maxseq = 0
    linenum = 0
    for raw in _fgets_lines(data):
        linenum += 1
        if raw[:1] == b"#":
            continue
        cstr = _c_string(raw)
        if b"\n" not in cstr:
            raise ManifestError("The AOF manifest file contains too long line", path=path)
        line = cstr.strip(b" \t\r\n")

        def fail(reason: str) -> ManifestError:
            return ManifestError(reason, line=linenum, text=line.decode("utf-8", "surrogateescape"),
                                 path=path)

        if not line:
            raise fail("Invalid AOF manifest file format")
        argv = split_args(line)
        if argv is None or len(argv) < 6 or len(argv) % 2:
            raise fail("Invalid AOF manifest file format")
        name = None
        seq = 0
        ftype = 0
        for i in range(0, len(argv), 2):
            key = argv[i].lower()
            if key == b"file":
                name = _c_string(argv[i + 1])
                if b"/" in name or b"\\" in name:
                    raise fail("File can't be a path, just a filename")
            elif key == b"seq":
                seq = _atoll(argv[i + 1])
            elif key == b"type":
                ftype = argv[i + 1][0] if argv[i + 1] else 0
        if name is None or not seq or not ftype:
            raise fail("Invalid AOF manifest file format")
        kind = chr(ftype)
        info = AofInfo(name, seq, kind, linenum)
        if kind == BASE:
            if am.base is not None:
                raise fail("Found duplicate base file information")
            am.base = info
        elif kind == HISTORY:
            am.history.append(info)
        elif kind == INCR:
            if seq <= maxseq:
                raise fail("Found a non-monotonic sequence number")
            am.incrs.append(info)
            maxseq = seq
        else:
            raise fail("Unknown AOF file type")
    if linenum == 0:
        raise ManifestError("Found an empty AOF manifest", path=path)
    return am


def _needs_repr(name: bytes) -> bool:
    # Redis does not quote a name holding `'`, and then cannot read its own manifest
    # back (the splitter opens a single-quoted token); we quote it.
    return any(c in b" \"'\\" or c < 0x20 or c > 0x7E for c in name)


def format_line(info: AofInfo) -> bytes:
    """One manifest line as the 7.0 server writes it (names quoted when needed)."""
    name = info.name
    if _needs_repr(name):
        name = repr_bytes(name)
    return b"file %s seq %d type %s\n" % (name, info.seq, info.type.encode())
