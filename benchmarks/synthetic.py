"""A seeded synthetic census for benchmarks: households, persons with parents'
line numbers, the roster of members abroad, and a stratified cluster design.

    python benchmarks/synthetic.py --persons 1000000 --out /tmp/census

writes ``persons.parquet``, ``households.parquet`` and ``absent.parquet``
(harmonised column names and codes, so engines can be fed directly), and
prints what it wrote. The same seed gives the same files.

Large censuses (``--persons 50000000``) are generated and written in chunks
of ``--chunk`` persons (one Parquet row group each, household numbers and
enumeration areas continuing from chunk to chunk; chunk ``i`` is seeded with
``seed + i``), so the generator's memory does not grow with the census. A
census no larger than one chunk is exactly ``synthetic_census(n, seed)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

COUNTRIES = np.array(["MDA", "ROU", "UKR", "RUS", "ITA", "DEU", "BGR", "TUR", "_U"])
COUNTRY_P = np.array([0.86, 0.04, 0.03, 0.03, 0.01, 0.01, 0.01, 0.005, 0.005])
REGIONS = np.array([f"R{i:02d}" for i in range(1, 13)])
EDUCATION = np.array(["ED0", "ED1", "ED2", "ED3", "ED4", "ED5", "ED6", "ED7", "ED8"])
EDU_P = np.array([0.04, 0.12, 0.2, 0.3, 0.08, 0.04, 0.12, 0.08, 0.02])
OCCUPATIONS = np.array([f"OC{i}" for i in range(10)])


def synthetic_census(
    n_persons: int, seed: int = 20261128, first_household: int = 0, first_person: int = 0
) -> dict[str, pd.DataFrame]:
    """Households of 1-6 persons, numbered lines, children linked to parents,
    about 8 % of households with a member abroad; strata = regions, PSUs =
    enumeration areas of about 100 households. ``first_household`` and
    ``first_person`` offset the identifiers (for a census made of chunks)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=n_persons // 3 + 1)
    sizes = sizes[np.cumsum(sizes) <= n_persons]
    n_hh = len(sizes)
    hh_id = np.repeat(np.arange(1, n_hh + 1), sizes)
    n = len(hh_id)
    line_no = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    region = REGIONS[rng.integers(0, len(REGIONS), n_hh)]
    psu = np.array(
        [f"{r}-{i // 100:05d}" for i, r in enumerate(region, start=first_household)]
    )
    first_two = line_no <= 2
    age = np.where(first_two, rng.integers(20, 80, n), rng.integers(0, 30, n)).astype(float)
    sex = np.where(line_no == 1, "M", np.where(line_no == 2, "F", rng.choice(["M", "F"], n)))
    child = (~first_two) & (age < 18)
    hh_has_mother = np.repeat(sizes >= 2, sizes)
    mother_line = np.where(child & hh_has_mother, 2.0, np.nan)
    father_line = np.where(child, 1.0, np.nan)
    cob = rng.choice(COUNTRIES, n, p=COUNTRY_P)
    employed = rng.random(n)
    lf = np.where(
        age < 15, None, np.where(employed < 0.55, "EMP", np.where(employed < 0.6, "UNE", "OLF"))
    )
    weight = np.repeat(rng.uniform(20, 40, n_hh).round(3), sizes)
    persons = pd.DataFrame(
        {
            "person_id": np.arange(1, n + 1) + first_person,
            "hh_id": hh_id + first_household,
            "line_no": line_no.astype(float),
            "sex": pd.Categorical(sex, categories=["F", "M", "_U"]),
            "age": age,
            "country_of_birth": pd.Categorical(cob),
            "education": pd.Categorical(rng.choice(EDUCATION, n, p=EDU_P)),
            "lf_status": pd.Categorical(lf),
            "occupation": pd.Categorical(np.where(lf == "EMP", rng.choice(OCCUPATIONS, n), None)),
            "region": pd.Categorical(np.repeat(region, sizes)),
            "mother_line": mother_line,
            "father_line": father_line,
            "usual_resident": np.ones(n, dtype=bool),
            "stratum": np.repeat(region, sizes),
            "psu": np.repeat(psu, sizes),
            "weight": weight,
        }
    )
    abroad_hh = np.flatnonzero(rng.random(n_hh) < 0.08) + 1
    absent = pd.DataFrame(
        {
            "hh_id": abroad_hh + first_household,
            "line_no": (sizes[abroad_hh - 1] + 1).astype(float),
            "sex": pd.Categorical(rng.choice(["M", "F"], len(abroad_hh))),
            "age": rng.integers(18, 60, len(abroad_hh)).astype(float),
            "destination_country": pd.Categorical(
                rng.choice(["RUS", "ITA", "ROU", "DEU", "FRA", "ISR"], len(abroad_hh))
            ),
            "absent_months": rng.integers(3, 120, len(abroad_hh)).astype(float),
        }
    )
    households = pd.DataFrame(
        {
            "hh_id": np.arange(1, n_hh + 1) + first_household,
            "region": pd.Categorical(region),
            "n_members_abroad": np.isin(np.arange(1, n_hh + 1), abroad_hh).astype(float),
            "received_remittances": rng.random(n_hh) < 0.2,
            "stratum": region,
            "psu": psu,
            "weight": weight[np.cumsum(sizes) - sizes],
        }
    )
    return {"persons": persons, "households": households, "absent": absent}


#: The tables of the census (one Parquet file each).
TABLES = ("persons", "households", "absent")


def write_census(
    n_persons: int, out: Path, seed: int = 20261128, chunk: int = 2_000_000
) -> dict[str, int]:
    """Write the census to ``out/{persons,households,absent}.parquet`` in
    chunks of about ``chunk`` persons; the number of rows of each table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    schemas: dict[str, pa.Schema] = {}
    rows = dict.fromkeys(TABLES, 0)
    done, index = 0, 0
    try:
        while done < n_persons:
            size = min(chunk, n_persons - done)
            tables = synthetic_census(
                size, seed + index, first_household=rows["households"], first_person=done
            )
            for name in TABLES:
                frame = tables[name]
                for col in frame.columns:  # one schema for every chunk: plain text
                    if isinstance(frame[col].dtype, pd.CategoricalDtype):
                        frame[col] = frame[col].astype(str).where(frame[col].notna(), None)
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    schemas[name] = table.schema
                    writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema)
                writers[name].write_table(table.cast(schemas[name]))
                rows[name] += len(frame)
            done += len(tables["persons"])
            index += 1
            if len(tables["persons"]) == 0:  # pragma: no cover - a chunk below one household
                break
    finally:
        for writer in writers.values():
            writer.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--chunk", type=int, default=0,
        help="write in chunks of this many persons (plain-text columns instead of categoricals)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.chunk:
        for name, count in write_census(args.persons, args.out, args.seed, args.chunk).items():
            print(f"{args.out / name}.parquet: {count:,} rows")
        return
    for name, frame in synthetic_census(args.persons, args.seed).items():
        path = args.out / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        print(f"{path}: {len(frame):,} rows")


if __name__ == "__main__":
    main()
