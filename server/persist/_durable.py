"""temp -> fsync -> rename -> fsync dir, with the temp names Redis uses (so operators
recognise leftovers such as `temp-<pid>.rdb` after a crash)."""

from __future__ import annotations

import os

from rdbtools.fileio import fsync_dir

#: Bytes buffered before a write(2); big enough to amortise syscalls, small enough for COW.
WRITE_CHUNK = 1 << 20


class ChunkedWriter:
    """Collects small pieces and writes them to a raw fd in big blocks."""

    __slots__ = ("fd", "parts", "size", "total")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.parts: list[bytes] = []
        self.size = 0
        self.total = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.parts.append(data)
        self.size += len(data)
        if self.size >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            write_all(self.fd, b"".join(self.parts))
            self.total += self.size
            self.parts = []
            self.size = 0


def write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def fdatasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def replace_durably(tmp: str, final: str) -> None:
    """The temp file is already fsynced: rename it over `final` and fsync the directory."""
    os.replace(tmp, final)
    fsync_dir(os.path.dirname(os.path.abspath(final)))


def write_durably(final: str, data: bytes, *, tmp: str | None = None) -> None:
    """Whole-file replace that survives a crash at any point (old or new content)."""
    if tmp is None:
        tmp = os.path.join(os.path.dirname(final) or ".", "temp-%d-%s" % (os.getpid(),
                                                                          os.path.basename(final)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quiet(tmp)
        raise
    os.close(fd)
    try:
        replace_durably(tmp, final)
    except BaseException:
        _unlink_quiet(tmp)
        raise


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
