"""server: rdbkit's reference server speaking RESP, with real persistence."""
