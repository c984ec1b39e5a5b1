#!/usr/bin/env python3
"""Prints the latest criterion medians as ratios to governor, one table per group.

    cargo bench --bench direct && python3 scripts/bench_ratios.py

Every bench group that has a `governor` function is listed; each other function's
median is divided by governor's from the same run. `floor` lines are yardsticks
(the least work any limiter must do), so `floor` / `governor` is the best ratio any
design could reach on the machine; `floor_128` (keyed benches) is the same for a
design whose identity and state share one 128-bit word, as ratecell's do. On a
noisy machine run the bench a few times and compare the tables rather than trust
one.
"""

import json
import pathlib
import sys


def median_ns(path: pathlib.Path) -> float:
    with open(path / "new" / "estimates.json", encoding="utf-8") as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.2f} ns"


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    if not root.is_dir():
        print(f"no criterion results under {root}: run `cargo bench` first", file=sys.stderr)
        return 1
    for group in sorted(p for p in root.iterdir() if (p / "governor" / "new").is_dir()):
        gov = median_ns(group / "governor")
        print(f"\n{group.name}  (governor {fmt(gov)})")
        for fn in sorted(p for p in group.iterdir() if (p / "new").is_dir()):
            if fn.name == "governor":
                continue
            ns = median_ns(fn)
            print(f"  {fn.name:<20} {fmt(ns):>12}  {ns / gov:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
