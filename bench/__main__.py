"""`python3 -m bench`: run every benchmark module that exists, one after another."""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHES = ["bench.check_rdb", "bench.dump_jsonl", "bench.convert", "bench.check_aof",
           "bench.server_bench", "bench.replay", "bench.persistence"]


def main() -> int:
    for name in BENCHES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        print(f"== {name}", flush=True)
        argv = []
        if name == "bench.server_bench" and importlib.util.find_spec("fakeredis"):
            argv = ["--fakeredis"]
        module.main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
