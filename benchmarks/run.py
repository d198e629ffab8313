"""`make bench`: measure, print the table, write benchmarks/results.json (rendered by the 性能 appendix).

    python -m benchmarks.run                 # everything (a few minutes)
    python -m benchmarks.run --only sweep    # some groups; the other rows of results.json are kept
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import book, kernels
from .harness import machine, save, table

GROUPS = {**kernels.ALL, **book.ALL}
RESULTS = Path(__file__).resolve().parent / "results.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=sorted(GROUPS), help="run only these groups")
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = ap.parse_args(argv)
    rows = []
    for name in args.only or GROUPS:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        rows += GROUPS[name]()
    info = machine()
    print(f"\n{info['cpu']}, {info['cores']} cores, {info.get('memory_gib', '?')} GiB; {info['device']}; "
          f"jax {info['jax']}, numpy {info['numpy']}" + (f", torch {info['torch']}" if "torch" in info else ""))
    print(table(rows))
    for r in rows:
        if r.detail:
            print(f"  {r.key}: {r.detail}")
    save(args.out, rows, info)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
