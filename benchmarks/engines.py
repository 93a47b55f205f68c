"""Benchmark: the same plan through the pandas engine and the DuckDB engine.

    python benchmarks/engines.py --persons 10000000 --out /tmp/census10m

Writes the seeded synthetic census (benchmarks/synthetic.py) as Parquet once
(reused when present), then runs, each in a fresh subprocess so that peak
memory is its own: the pandas engine (reading the Parquet file into pandas
first, as a user would) and the DuckDB engine (given the file path: the data
never enter pandas). Both compute the same four estimates by sex × region
with a stratified cluster design (Taylor variance). Prints wall seconds and
peak resident memory (``ru_maxrss`` of the child) and checks that the two
result tables agree to 1e-9.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REQUESTS = [
    {"kind": "count", "where": "country_of_birth != 'MDA' and country_of_birth != '_U'",
     "by": ["sex", "region"], "label": "foreign_born"},
    {"kind": "share", "y": "lf_status == 'UNE'", "where": "lf_status in ['EMP', 'UNE']",
     "by": ["sex", "region"], "label": "unemployment"},
    {"kind": "mean", "y": "age", "by": ["sex", "region"], "label": "mean_age"},
    {"kind": "share", "y": "education in ['ED5', 'ED6', 'ED7', 'ED8']", "where": "age >= 25",
     "by": ["sex", "region"], "label": "tertiary_25plus"},
]  # fmt: skip


def child(engine: str, path: Path, out: Path) -> None:
    """Run one engine and write its result table and timings."""
    import pandas as pd

    import migprofile as mp
    from migprofile.compute import estimate_many

    design = mp.Design(weights="weight", strata="stratum", psu="psu")
    start = time.perf_counter()
    if engine == "pandas":
        data = pd.read_parquet(path)
        table = estimate_many(data, REQUESTS, design, engine="pandas")
    else:
        from migprofile.compute.engine_duckdb import DuckDBEngine
        from migprofile.compute.estimate import result_table
        from migprofile.compute.estimators import estimate_item
        from migprofile.compute.plan import Breakdown, Request, make_plan

        requests = [
            Request(
                r["kind"],  # type: ignore[arg-type]
                y=mp.parse_filter(r["y"]) if r["kind"] == "share" else r.get("y"),
                by=tuple(Breakdown(b) for b in r["by"]),
                where=mp.parse_filter(r["where"]) if "where" in r else None,
                label=r["label"],
            )
            for r in REQUESTS
        ]
        plan = make_plan(requests, design)
        sums = DuckDBEngine(memory_limit="4GB").run(plan, str(path))
        table = result_table([estimate_item(item, sums) for item in plan.items])
    seconds = time.perf_counter() - start
    table.to_parquet(out / f"result_{engine}.parquet")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (out / f"timing_{engine}.json").write_text(
        json.dumps({"seconds": seconds, "peak_mb": peak_mb}), encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--child", choices=["pandas", "duckdb"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "persons.parquet"
    if args.child:
        child(args.child, path, args.out)
        return
    if not path.exists():
        # in a subprocess of its own: a child's peak memory (ru_maxrss) survives
        # exec on Linux, so this process must stay small
        generator = Path(__file__).with_name("synthetic.py")
        subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(generator), "--persons", str(args.persons), "--out",
             str(args.out)],
            check=True,
        )  # fmt: skip
    import pandas as pd

    for engine in ("pandas", "duckdb"):
        subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, __file__, "--persons", str(args.persons), "--out",
             str(args.out), "--child", engine],
            check=True,
        )  # fmt: skip
        timing = json.loads((args.out / f"timing_{engine}.json").read_text(encoding="utf-8"))
        print(f"{engine:7} {timing['seconds']:7.2f} s  peak {timing['peak_mb']:8.0f} MB")
    a = pd.read_parquet(args.out / "result_pandas.parquet")
    b = pd.read_parquet(args.out / "result_duckdb.parquet")
    cols = ["value", "se"]
    diff = ((a[cols] - b[cols]).abs() / a[cols].abs().clip(lower=1e-300)).max().max()
    if diff > 1e-9:
        raise SystemExit(f"the engines disagree: max relative difference {diff:.2e}")
    print(f"results agree: max relative difference {diff:.1e} over {len(a)} rows")


if __name__ == "__main__":
    main()
