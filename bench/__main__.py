"""`python3 -m bench`: run every benchmark module that exists, one after another."""

from __future__ import annotations

import importlib
import sys

BENCHES = ["bench.check_rdb", "bench.dump_jsonl", "bench.check_aof", "bench.server_bench",
           "bench.replay", "bench.persistence"]


def main() -> int:
    for name in BENCHES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        print(f"== {name}")
        module.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
