"""An in-process engine for tests: a client, the propagated commands, and a call helper
that takes str or bytes arguments."""

from __future__ import annotations

from server.engine import Engine


def engine_with_log():
    """(engine, client, propagated argvs, x(*args) -> reply)."""
    e = Engine()
    c = e.new_client()
    prop: list = []
    e.prop_hooks.append(lambda db, argv: prop.append(argv))

    def x(*a):
        return e.execute(c, [s.encode() if isinstance(s, str) else s for s in a])

    return e, c, prop, x
