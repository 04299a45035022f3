"""aofcheck: the AOF side of rdbkit (RESP log reader, preambles, multi-part AOF, check and repair)."""
