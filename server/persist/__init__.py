"""Persistence for the reference server: RDB snapshots, BGSAVE, the AOF, boot loading.

Library modules only: the network loop calls into them (`Persistence.before_sleep()`,
`Persistence.cron()`) but nothing here owns a socket. See docs/persistence.md.
"""

from .aof import AofManager
from .bgsave import RdbState, parse_save_params
from .load import AofLoadError, LoadProgress, boot
from .manager import Persistence
from .snapshot import LoadStats, load_rdb, save_rdb, snapshot_bytes, write_snapshot

__all__ = ["AofLoadError", "AofManager", "LoadProgress", "LoadStats", "Persistence",
           "RdbState", "boot", "load_rdb", "parse_save_params", "save_rdb",
           "snapshot_bytes", "write_snapshot"]
