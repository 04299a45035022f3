"""aofcheck: the AOF side of rdbkit (RESP log reader, preambles, multi-part AOF, check and repair).

Public API: the sans-I/O `RespParser` (shared by the server's AOF loader and the
checker), the manifest parser/writer, layout detection, and `check_aof`, which gives
redis-check-aof 7.0's verdicts and repairs through callbacks (it never prints).
"""

from .check import AofReport, CheckOptions, FileReport, check_aof
from .errors import AofError, ManifestError, RespCorrupt, RespTruncated
from .layout import MULTI_PART, PREAMBLE, RESP, Layout, LayoutError, detect
from .manifest import AofInfo, Manifest, format_line, parse_manifest
from .resp import DONE, NEED_DATA, Annotation, Command, RespParser, iter_events

__all__ = [
    "RespParser", "Command", "Annotation", "NEED_DATA", "DONE", "iter_events",
    "AofError", "RespCorrupt", "RespTruncated", "ManifestError",
    "AofInfo", "Manifest", "parse_manifest", "format_line",
    "Layout", "LayoutError", "detect", "RESP", "PREAMBLE", "MULTI_PART",
    "check_aof", "CheckOptions", "AofReport", "FileReport",
]
