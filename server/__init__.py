"""server: rdbkit's reference server speaking RESP, with real persistence.

The command engine (`Engine`) is sans-I/O and usable on its own (AOF replay, tests);
`Server` is the network loop around it; `ServerThread` runs one in-process.
Names are imported lazily so that `import server` stays cheap for the CLI group.
"""

from __future__ import annotations

__all__ = ["Engine", "Client", "Config", "Server", "ServerThread", "to_record", "from_record"]

_WHERE = {
    "Engine": "engine", "Client": "engine", "Config": "config", "Server": "net",
    "ServerThread": "app", "to_record": "objects", "from_record": "objects",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'server' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)
