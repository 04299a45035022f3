"""Reproducible benchmarks: rdbkit against the real Redis tools, side by side, as ratios."""
