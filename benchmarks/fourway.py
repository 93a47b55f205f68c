"""Benchmark: the same census tabulations four ways, each in its own process.

    python benchmarks/synthetic.py --persons 10000000 --chunk 2000000 --out /tmp/c10m
    python benchmarks/fourway.py --data /tmp/c10m --out /tmp/c10m/fourway

The tabulations (a census: no sampling design, no standard errors):

- T1 foreign-born persons by sex x five-year age group x region (a count);
- T2 the foreign-born share of the persons of known country of birth, by
  sex x age group x region;
- T3 persons aged 15 or more by labour-force status x migrant status
  (foreign-born, native, unknown);
- T4 households with a member abroad by region, and T4S their share of the
  households;
- T5 absent members (the roster of members abroad) by destination x sex.

Variants, each run as ``/usr/bin/time -v python fourway.py --variant V``:

- ``mp-pandas``: migprofile's ``estimate_many`` with the pandas engine, given
  the Parquet paths (the engine reads the columns the plan needs);
- ``mp-duckdb``: the same calls with ``DuckDBEngine`` (out of core: the data
  never enter pandas);
- ``sql``: a hand-written DuckDB SQL script, one ``GROUP BY`` query per
  tabulation on ``read_parquet``;
- ``pandas``: a hand-written pandas script, ``read_parquet`` of the needed
  columns and one ``groupby`` per tabulation.

Each writes its numbers as a long table (tabulation, three key columns,
value) and its times (the imports of the modules it needs, then the
computation); the driver checks that the four agree (same cells, values to 1e-9
relative) and prints wall time and peak resident memory from
``/usr/bin/time -v``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VARIANTS = ("mp-pandas", "mp-duckdb", "sql", "pandas")
KEYS = ("k1", "k2", "k3")
FOREIGN = "country_of_birth != 'MDA' and country_of_birth != '_U'"


def _age_group(age: int) -> str:
    return f"Y{min(age // 5 * 5, 75):02d}"


# --------------------------------------------------------------------------- migprofile


def _mp_requests() -> dict[str, list[dict[str, Any]]]:
    from migprofile.compute import Breakdown

    age = Breakdown.of("age", {a: _age_group(a) for a in range(0, 130)}, name="age_group")
    migrant = Breakdown.of(
        "country_of_birth",
        {c: "NAT" if c == "MDA" else "FB" for c in
         ["MDA", "ROU", "UKR", "RUS", "ITA", "DEU", "BGR", "TUR"]},
        name="migrant",
    )  # fmt: skip
    return {
        "persons": [
            {"kind": "count", "where": FOREIGN, "by": ["sex", age, "region"], "label": "T1"},
            {"kind": "share", "y": "country_of_birth != 'MDA'",
             "where": "country_of_birth != '_U'", "by": ["sex", age, "region"], "label": "T2"},
            {"kind": "count", "where": "age >= 15", "by": ["lf_status", migrant], "label": "T3"},
        ],
        "households": [
            {"kind": "count", "where": "n_members_abroad > 0", "by": ["region"], "label": "T4"},
            {"kind": "share", "y": "n_members_abroad > 0", "by": ["region"], "label": "T4S"},
        ],
        "absent": [
            {"kind": "count", "by": ["destination_country", "sex"], "label": "T5"},
        ],
    }  # fmt: skip


_MP_KEYS = {
    "T1": ["sex", "age_group", "region"],
    "T2": ["sex", "age_group", "region"],
    "T3": ["lf_status", "migrant"],
    "T4": ["region"],
    "T4S": ["region"],
    "T5": ["destination_country", "sex"],
}


def run_migprofile(data: Path, engine_name: str) -> Any:
    import pandas as pd

    from migprofile.compute import estimate_many

    engine: Any = "pandas"
    if engine_name == "duckdb":
        from migprofile.compute.engine_duckdb import DuckDBEngine

        engine = DuckDBEngine(memory_limit="500MB")
    parts = []
    for table, requests in _mp_requests().items():
        result = estimate_many(str(data / f"{table}.parquet"), requests, engine=engine)
        for label, keys in _MP_KEYS.items():
            rows = result[result["indicator"] == label]
            if rows.empty:
                continue
            long = pd.DataFrame({"tab": label, "value": rows["value"].to_numpy()})
            for i, k in enumerate(KEYS):
                long[k] = rows[keys[i]].astype(str).to_numpy() if i < len(keys) else ""
            parts.append(long)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- SQL

SQL = {
    "T1": """
        SELECT sex AS k1, {age} AS k2, region AS k3, count(*)::DOUBLE AS value
        FROM read_parquet('{persons}')
        WHERE country_of_birth <> 'MDA' AND country_of_birth <> '_U'
        GROUP BY ALL""",
    "T2": """
        SELECT sex AS k1, {age} AS k2, region AS k3,
               avg(CASE WHEN country_of_birth <> 'MDA' THEN 1.0 ELSE 0.0 END) AS value
        FROM read_parquet('{persons}')
        WHERE country_of_birth <> '_U'
        GROUP BY ALL""",
    "T3": """
        SELECT coalesce(lf_status, '_U') AS k1,
               CASE WHEN country_of_birth = 'MDA' THEN 'NAT'
                    WHEN country_of_birth = '_U' THEN '_U' ELSE 'FB' END AS k2,
               '' AS k3, count(*)::DOUBLE AS value
        FROM read_parquet('{persons}')
        WHERE age >= 15
        GROUP BY ALL""",
    "T4": """
        SELECT region AS k1, '' AS k2, '' AS k3, count(*)::DOUBLE AS value
        FROM read_parquet('{households}') WHERE n_members_abroad > 0 GROUP BY ALL""",
    "T4S": """
        SELECT region AS k1, '' AS k2, '' AS k3,
               avg(CASE WHEN n_members_abroad > 0 THEN 1.0 ELSE 0.0 END) AS value
        FROM read_parquet('{households}') GROUP BY ALL""",
    "T5": """
        SELECT destination_country AS k1, sex AS k2, '' AS k3, count(*)::DOUBLE AS value
        FROM read_parquet('{absent}') GROUP BY ALL""",
}
_SQL_AGE = (
    "CASE WHEN age >= 75 THEN 'Y75' "
    "ELSE 'Y' || lpad(CAST(CAST(floor(age / 5) * 5 AS INTEGER) AS VARCHAR), 2, '0') END"
)


def run_sql(data: Path) -> Any:
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    names = {t: str(data / f"{t}.parquet") for t in ("persons", "households", "absent")}
    parts = []
    for tab, text in SQL.items():
        frame = con.sql(text.format(age=_SQL_AGE, **names)).df()
        frame.insert(0, "tab", tab)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- pandas


def run_pandas(data: Path) -> Any:
    import numpy as np
    import pandas as pd

    def long(tab: str, series: Any) -> Any:
        frame = series.rename("value").reset_index()
        keys = [c for c in frame.columns if c != "value"]
        out = pd.DataFrame({"tab": tab, "value": frame["value"].astype(float)})
        for i, k in enumerate(KEYS):
            out[k] = frame[keys[i]].astype(str).to_numpy() if i < len(keys) else ""
        return out

    persons = pd.read_parquet(
        data / "persons.parquet",
        columns=["sex", "age", "region", "country_of_birth", "lf_status"],
    )
    bins = np.minimum(persons["age"].to_numpy() // 5 * 5, 75).astype(int)
    persons["age_group"] = pd.Categorical.from_codes(
        bins // 5, [f"Y{a:02d}" for a in range(0, 80, 5)]
    )
    cob = persons["country_of_birth"]
    known = persons[cob != "_U"]
    foreign = known["country_of_birth"] != "MDA"
    by = ["sex", "age_group", "region"]
    parts = [
        long("T1", known[foreign].groupby(by, observed=True).size()),
        long("T2", foreign.groupby([known[c] for c in by], observed=True).mean()),
    ]
    adults = persons[persons["age"] >= 15]
    migrant = np.where(
        adults["country_of_birth"] == "MDA", "NAT",
        np.where(adults["country_of_birth"] == "_U", "_U", "FB"),
    )  # fmt: skip
    status = adults["lf_status"].fillna("_U")
    parts.append(long("T3", adults.groupby([status, migrant], observed=True).size()))
    households = pd.read_parquet(
        data / "households.parquet", columns=["region", "n_members_abroad"]
    )
    abroad = households["n_members_abroad"] > 0
    parts.append(long("T4", households[abroad].groupby("region", observed=True).size()))
    parts.append(long("T4S", abroad.groupby(households["region"], observed=True).mean()))
    absent = pd.read_parquet(data / "absent.parquet", columns=["destination_country", "sex"])
    parts.append(long("T5", absent.groupby(["destination_country", "sex"]).size()))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- driver


#: The modules each variant imports (timed apart from the work).
IMPORTS = {
    "mp-pandas": ("pandas", "migprofile.compute"),
    "mp-duckdb": ("pandas", "migprofile.compute", "migprofile.compute.engine_duckdb"),
    "sql": ("pandas", "duckdb"),
    "pandas": ("pandas", "numpy", "pyarrow.parquet"),
}


def child(variant: str, data: Path, result: Path) -> None:
    import importlib

    start = time.perf_counter()
    for module in IMPORTS[variant]:
        importlib.import_module(module)
    imported = time.perf_counter()
    if variant == "mp-pandas":
        table = run_migprofile(data, "pandas")
    elif variant == "mp-duckdb":
        table = run_migprofile(data, "duckdb")
    elif variant == "sql":
        table = run_sql(data)
    else:
        table = run_pandas(data)
    done = time.perf_counter()
    table = table[["tab", *KEYS, "value"]].sort_values(["tab", *KEYS], ignore_index=True)
    table.to_parquet(result, index=False)
    times = {"seconds": done - start, "imports": imported - start, "compute": done - imported}
    result.with_suffix(".json").write_text(json.dumps(times), encoding="utf-8")


def _time_v(text: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) from ``/usr/bin/time -v`` output."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if wall is None or rss is None:
        raise SystemExit(f"cannot read /usr/bin/time -v output:\n{text}")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return seconds, int(rss.group(1)) / 1024


def compare(out: Path, variants: Any = VARIANTS) -> str:
    import numpy as np
    import pandas as pd

    tables = {v: pd.read_parquet(out / f"{v}.parquet") for v in variants}
    reference = tables["sql"]
    lines = []
    for v, table in tables.items():
        merged = reference.merge(table, on=["tab", *KEYS], how="outer", indicator=True)
        unmatched = int((merged["_merge"] != "both").sum())
        a = merged["value_x"].to_numpy(dtype=float)
        b = merged["value_y"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(a - b) / np.abs(a)
        worst = float(np.nanmax(rel)) if len(rel) else 0.0
        lines.append(f"{v}: {len(table)} cells, {unmatched} unmatched, max rel diff {worst:.1e}")
        if unmatched or worst > 1e-9:
            raise SystemExit("the variants disagree:\n" + "\n".join(lines))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--result", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS),
        help="comma-separated variants to run (the numbers are compared when 'sql' is one)",
    )
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {sorted(unknown)}")
    if args.variant:
        child(args.variant, args.data, args.result)
        return
    out = args.out or args.data / "fourway"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in range(1, args.repeat + 1):
        for v in variants:
            done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
                ["/usr/bin/time", "-v", sys.executable, __file__, "--variant", v,
                 "--data", str(args.data), "--result", str(out / f"{v}.parquet")],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode:
                raise SystemExit(f"{v} failed:\n{done.stderr}")
            wall, rss = _time_v(done.stderr)
            times = json.loads((out / f"{v}.json").read_text(encoding="utf-8"))
            inner = times["seconds"]
            rows.append((run, v, wall, inner, rss))
            print(f"run {run} {v:10} wall {wall:7.2f} s  (work {inner:6.2f} s = imports "
                  f"{times['imports']:5.2f} s + compute {times['compute']:5.2f} s)  "
                  f"peak {rss:8.0f} MB", flush=True)  # fmt: skip
        if "sql" in variants:
            print(compare(out, variants), flush=True)


if __name__ == "__main__":
    main()
