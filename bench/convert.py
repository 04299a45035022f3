"""`rdbkit convert` into RDB: rdbkit JSONL -> RDB 10 and RDB 10 -> RDB 9, same data.

    python3 -m bench.convert [--keys N] [--repeat N]

The dataset is written by real Redis 7.0 (`bench.common.populated_rdb`, mixed: 90%
short strings, 10% small lists/hashes/zsets/sets); its JSONL form is made once by
`rdb-dump --format jsonl` and cached beside it in bench/out. Each conversion runs
`--repeat` times (default 1); the fastest wall time is reported with that run's CPU
time (user+sys) and peak RSS, because the bench machine is shared. Every output must
have the source's `rdbkit digest` (exit status 1 otherwise). Target: under 5 s per 1M
keys for each conversion, peak RSS that does not grow with the key count beyond the
JSON path's duplicate-key check. Opt-in: not run by the test suite.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench.common import OUT, best_of, populated_rdb, rdbkit_script

TARGET_S_PER_MILLION = 5.0


def jsonl_copy(src: Path) -> Path:
    """The source as rdbkit JSONL (cached; remade when older than the source)."""
    target = OUT / f"{src.stem}.jsonl"
    if not target.exists() or target.stat().st_mtime < src.stat().st_mtime:
        tmp = target.with_suffix(".jsonl.tmp")
        with open(tmp, "wb") as out:
            subprocess.run([rdbkit_script("rdb-dump"), "--format", "jsonl", "--no-progress",
                            str(src)], stdout=out, check=True)
        tmp.replace(target)
    return target


def digest(path: Path) -> str:
    out = subprocess.run([rdbkit_script("rdbkit"), "digest", "--keep-expired", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)

    src = populated_rdb(args.keys)
    jsonl = jsonl_copy(src)
    want = digest(src)
    rdbkit = rdbkit_script("rdbkit")
    per_million = 1e6 / args.keys
    print(f"convert, {args.keys:,} keys: {src.name} {src.stat().st_size / 1e6:.1f} MB, "
          f"{jsonl.name} {jsonl.stat().st_size / 1e6:.1f} MB")
    failed = False
    with tempfile.TemporaryDirectory(dir=OUT, prefix="convert-") as tmp:
        jobs = [("jsonl -> rdb 10", jsonl, Path(tmp) / "from-jsonl.rdb", []),
                ("rdb 10 -> rdb 9", src, Path(tmp) / "v9.rdb", ["--rdb-version", "9"])]
        for label, source, target, extra in jobs:
            run, cpu = best_of(args.repeat, label, [rdbkit, "convert", "--no-progress", *extra,
                                                    str(source), str(target)])
            ok = run.returncode == 0 and digest(target) == want
            failed |= not ok
            cpu_per_m = cpu * per_million
            verdict = "ok" if cpu_per_m < TARGET_S_PER_MILLION else "MISSED"
            print(f"{label}: wall {run.seconds:.2f} s | cpu {cpu:.2f} s | peak RSS "
                  f"{run.peak_rss_mb:.0f} MB | {args.keys / run.seconds:,.0f} keys/s | "
                  f"digest {'ok' if ok else 'DIFFERS (or exit %d)' % run.returncode} | "
                  f"cpu per 1M keys {cpu_per_m:.2f} s, target < {TARGET_S_PER_MILLION:.0f} s: "
                  f"{verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
