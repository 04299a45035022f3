"""Opening inputs and writing outputs safely: transparent `.lz4`, atomic replace.

Outputs go to a temp name in the target directory, are fsynced, renamed over the
target, and the directory is fsynced, so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"

#: Default read size for streaming readers.
CHUNK_SIZE = 1 << 20


def is_lz4(path: str | os.PathLike) -> bool:
    if str(path).endswith(".lz4"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == LZ4_FRAME_MAGIC
    except OSError:
        return False


def open_input(path: str | os.PathLike) -> BinaryIO:
    """Open for binary reading; `-` is stdin; LZ4 frames are decompressed on the fly."""
    if str(path) == "-":
        raw = sys.stdin.buffer
        head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
        if head == LZ4_FRAME_MAGIC:
            import lz4.frame

            return lz4.frame.LZ4FrameFile(raw, "rb")
        return raw
    f = open(path, "rb")
    if f.read(4) == LZ4_FRAME_MAGIC:
        f.close()
        import lz4.frame

        return lz4.frame.open(path, "rb")
    f.seek(0)
    return f


def fsync_dir(directory: str | os.PathLike) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, compress: bool | None = None,
                  inputs: tuple = ()) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it atomically replaces `path`.

    `compress=None` means: LZ4-frame compress when the name ends in `.lz4`. `inputs`
    are paths that must never be overwritten (refused before anything is written).
    `-` writes to stdout.
    """
    if str(path) == "-":
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    path = Path(path)
    for src in inputs:
        if str(src) != "-" and same_file(src, path):
            raise FileExistsError(f"refusing to overwrite the input file {path}")
    if compress is None:
        compress = path.name.endswith(".lz4")
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    raw = os.fdopen(fd, "wb")
    ok = False
    try:
        if compress:
            import lz4.frame

            with lz4.frame.LZ4FrameFile(raw, "wb") as zf:
                yield zf
        else:
            yield raw
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()
        os.replace(tmp, path)
        fsync_dir(directory)
        ok = True
    finally:
        if not ok:
            raw.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_file_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output(path, compress=False) as f:
        f.write(data)


def read_all(path: str | os.PathLike) -> bytes:
    with open_input(path) as f:
        return f.read()


class CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts bytes handed out (for progress bars)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n
