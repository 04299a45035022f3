"""Persistence for the reference server: RDB snapshots, BGSAVE, the AOF, boot loading.

Library modules only: the network loop calls into them (`poll()`, `flush_before_replies()`)
but nothing here owns a socket.
"""

from .snapshot import LoadStats, load_rdb, save_rdb, snapshot_bytes, write_snapshot

__all__ = ["LoadStats", "load_rdb", "save_rdb", "snapshot_bytes", "write_snapshot"]
