"""Benchmark: read_source throughput on a synthetic census (CSV and Parquet).

    python benchmarks/read_source.py --persons 1000000

Writes the synthetic files to a temporary folder (seeded), reads them through
a source mapping (crosswalks for sex, country of birth and education, a
derived migrant status), once in one piece and once in chunks, and prints
seconds and rows per second. A script, not a test: timings are recorded in
benchmarks/RESULTS.md with the command and the machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import migprofile as mp
from migprofile.sources import mapping_from_dict


def synthetic_persons(n: int, seed: int = 20261128) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    countries = np.array(["498", "642", "804", "643", "380", "276", "99"])
    return pd.DataFrame(
        {
            "PID": np.arange(1, n + 1),
            "HH": rng.integers(1, n // 3 + 2, n),
            "SEX": rng.integers(1, 3, n),
            "AGE": rng.integers(0, 100, n),
            "COB": rng.choice(countries, n, p=[0.85, 0.04, 0.04, 0.03, 0.02, 0.01, 0.01]),
            "EDU": rng.integers(0, 9, n),
            "W": np.round(rng.uniform(0.5, 3.0, n), 3),
        }
    )


def mapping(path: str) -> mp.sources.SourceMapping:
    return mapping_from_dict(
        {
            "id": "bench",
            "name": "synthetic census",
            "kind": "census",
            "reference_period": "2024",
            "parameters": {"reporting_country": "MDA"},
            "crosswalks": [
                {
                    "id": "s",
                    "name": "sex",
                    "target": "sex",
                    "map": [{"from": 1, "to": "M"}, {"from": 2, "to": "F"}],
                },
                {
                    "id": "e",
                    "name": "isced",
                    "target": "isced",
                    "map": [{"from": i, "to": f"ED{i}"} for i in range(9)],
                },
            ],
            "tables": {
                "persons": {
                    "files": [{"path": path}],
                    "columns": {
                        "person_id": "PID",
                        "hh_id": "HH",
                        "sex": {"source": "SEX", "crosswalk": "s"},
                        "age": "AGE",
                        "country_of_birth": {"source": "COB", "crosswalk": "geo.m49"},
                        "education": {"source": "EDU", "crosswalk": "e"},
                        "weight": "W",
                    },
                }
            },
            "derive": ["migrant_status"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--chunksize", type=int, default=250_000)
    args = parser.parse_args()
    frame = synthetic_persons(args.persons)
    catalog = mp.load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame.to_csv(folder / "persons.csv", index=False)
        frame.to_parquet(folder / "persons.parquet", index=False)
        for name in ("persons.csv", "persons.parquet"):
            for chunk in (None, args.chunksize):
                start = time.perf_counter()
                ds = mp.read_source(mapping(name), base=folder, catalog=catalog, chunksize=chunk)
                seconds = time.perf_counter() - start
                if len(ds.frame) != args.persons or not ds.report.balanced():
                    raise SystemExit(f"{name}: rows lost ({len(ds.frame)} of {args.persons})")
                print(
                    f"{name:16} chunks={chunk!s:>7}  {seconds:6.2f} s  "
                    f"{args.persons / seconds:12,.0f} rows/s"
                )


if __name__ == "__main__":
    main()
