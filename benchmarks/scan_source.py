"""scan_source at scale: a raw-coded census harmonised in DuckDB, then computed.

    python benchmarks/scan_source.py generate --persons 10000000 --out /tmp/rawcensus
    /usr/bin/time -v python benchmarks/scan_source.py scan /tmp/rawcensus/mapping.yaml
    /usr/bin/time -v python benchmarks/scan_source.py read /tmp/rawcensus/mapping.yaml

``generate`` writes a seeded synthetic census *as a national office delivers
it*: numeric source codes (sex 1/2, countries 1-9 with an unmapped 77 now and
then, education 1-9, activity 1-3, urban 1/2, remittances 1/2), households,
persons with their parents' line numbers and the roster of members abroad,
as Parquet (default) or CSV (``--format csv``), with ``mapping.yaml``: its
inline crosswalks recode the codes, and it asks for the census derivations
(parent_location, migrant_status, years_since_arrival, age_group,
n_members_abroad). Files are written in chunks of ``--chunk`` persons, so
the generator's memory does not grow with the census; the same seed gives
the same files.

``scan`` runs ``scan_source`` (DuckDB, out of core) and computes
:data:`INDICATORS` by sex and five-year age group with ``engine="duckdb"``;
``read`` does the same through ``read_source`` and the pandas engine, for
comparison. Both print their wall times, the rows read and kept and the
size of the result table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

#: Indicators computed by ``scan`` and ``read`` (by sex and five-year age group).
INDICATORS = [
    "POP_RESIDENT",
    "IMM_STOCK",
    "IMM_STOCK_SHARE",
    "IMM_RECENT_SHARE",
    "FOREIGN_BORN_CIT_SHARE",
    "TERTIARY_SHARE_25PLUS",
    "EPR_BY_MIG",
    "UR_BY_MIG",
    "CLB_ANY_PARENT_ABROAD",
]
BY = ["sex", "age:five_year"]

MAPPING = """\
# A synthetic census with raw numeric codes (benchmarks/scan_source.py).
source:
  id: raw_census_bench
  name: Raw-coded synthetic census (benchmark)
  kind: census
  reference_period: 2024
  reference_date: 2024-10-01
  residence_rule: AT_LEAST_12M
  migrant_basis_available: [COB, CIT]
  parameters: {reporting_country: MDA, migrant_basis: COB, age_groups: five_year}
  crosswalks:
    - {id: b_sex, name: Sex, target: sex, map: [{from: 1, to: M}, {from: 2, to: F}]}
    - id: b_country
      name: Countries
      target: geo
      map:
        - {from: 1, to: MDA}
        - {from: 2, to: ROU}
        - {from: 3, to: UKR}
        - {from: 4, to: RUS}
        - {from: 5, to: ITA}
        - {from: 6, to: DEU}
        - {from: 7, to: BGR}
        - {from: 8, to: TUR}
        - {from: 9, to: _U}
      unknown_code: _U
    - id: b_edu
      name: Education
      target: isced
      map: [{from: 1, to: ED0}, {from: 2, to: ED1}, {from: 3, to: ED2}, {from: 4, to: ED3},
            {from: 5, to: ED4}, {from: 6, to: ED5}, {from: 7, to: ED6}, {from: 8, to: ED7},
            {from: 9, to: ED8}]
    - {id: b_lf, name: Activity, target: lf_status,
       map: [{from: 1, to: EMP}, {from: 2, to: UNE}, {from: 3, to: OLF}]}
    - {id: b_urban, name: Urban, target: urbanisation,
       map: [{from: 1, to: URB}, {from: 2, to: RUR}]}
  tables:
    households:
      files: [{path: households.EXT}]
      key: [hh_id]
      required: [hh_id]
      columns:
        hh_id: HH
        urbanisation: {source: URBAN, crosswalk: b_urban}
        received_remittances: {source: REMIT, true_values: ["1"], false_values: ["2"]}
        weight: {value: 1}
    persons:
      files: [{path: persons.EXT}]
      key: [hh_id, line_no]
      required: [hh_id, line_no]
      columns:
        hh_id: HH
        line_no: LINE
        sex: {source: SEX, crosswalk: b_sex}
        age: AGE
        country_of_birth: {source: COB, crosswalk: b_country}
        citizenship: {source: CIT, crosswalk: b_country}
        year_of_arrival: YARR
        education: {source: EDU, crosswalk: b_edu}
        lf_status: {source: LF, crosswalk: b_lf}
        mother_line: MOTHER
        father_line: FATHER
        usual_resident: {value: true}
        weight: {value: 1}
    absent:
      files: [{path: absent.EXT}]
      key: [hh_id, line_no]
      columns:
        hh_id: HH
        line_no: LINE
        sex: {source: SEX, crosswalk: b_sex}
        age: AGE
        destination_country: {source: DEST, crosswalk: b_country}
        weight: {value: 1}
  derive: [parent_location, migrant_status, years_since_arrival, age_group, n_members_abroad]
"""

COUNTRY_P = np.array([0.86, 0.04, 0.03, 0.03, 0.01, 0.01, 0.01, 0.005, 0.004, 0.001])
COUNTRY_CODES = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 77])  # 77: unmapped, to _U


def raw_chunk(
    n_persons: int, seed: int, first_household: int
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Households, persons and the absent roster of about ``n_persons``
    persons, with raw numeric codes."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=n_persons // 3 + 1)
    sizes = sizes[np.cumsum(sizes) <= n_persons]
    n_hh = len(sizes)
    hh_numbers = np.arange(first_household + 1, first_household + n_hh + 1)
    hh_text = np.array([f"H{k:09d}" for k in hh_numbers.tolist()], dtype=object)
    as_text = pa.string()
    hh = np.repeat(hh_text, sizes)
    n = len(hh)
    line = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    first_two = line <= 2
    age = np.where(first_two, rng.integers(20, 80, n), rng.integers(0, 30, n))
    sex = np.where(line == 1, 1, np.where(line == 2, 2, rng.integers(1, 3, n)))
    child = (~first_two) & (age < 18)
    mother = np.where(child & np.repeat(sizes >= 2, sizes), 2, -1)
    # about 8 % of households have a member abroad, on the line after their
    # residents; in half of them the children's mother is that member
    abroad = rng.random(n_hh) < 0.08
    mother_abroad = np.repeat(np.where(abroad & (rng.random(n_hh) < 0.5), sizes + 1, -1), sizes)
    mother = np.where(child & (mother_abroad > 0), mother_abroad, mother)
    father = np.where(child, 1, -1)
    cob = rng.choice(COUNTRY_CODES, n, p=COUNTRY_P)
    cit = np.where(rng.random(n) < 0.7, cob, 1)
    yarr = np.where(cob != 1, 2024 - rng.integers(0, 40, n), -1)
    persons = pa.table(
        {
            "HH": pa.array(hh, type=as_text),
            "LINE": line.astype(np.int64),
            "SEX": sex.astype(np.int64),
            "AGE": age.astype(np.int64),
            "COB": cob.astype(np.int64),
            "CIT": cit.astype(np.int64),
            "YARR": pa.array(yarr, mask=yarr < 0),
            "EDU": rng.integers(1, 10, n).astype(np.int64),
            "LF": pa.array(rng.integers(1, 4, n), mask=age < 15),
            "MOTHER": pa.array(mother, mask=mother < 0),
            "FATHER": pa.array(father, mask=father < 0),
        }
    )
    households = pa.table(
        {
            "HH": pa.array(hh_text, type=as_text),
            "URBAN": rng.integers(1, 3, n_hh).astype(np.int64),
            "REMIT": rng.integers(1, 3, n_hh).astype(np.int64),
        }
    )
    a_hh = hh_text[abroad]
    a_line = sizes[abroad] + 1
    m = len(a_hh)
    absent = pa.table(
        {
            "HH": pa.array(a_hh, type=as_text),
            "LINE": a_line.astype(np.int64),
            "SEX": rng.integers(1, 3, m).astype(np.int64),
            "AGE": rng.integers(18, 60, m).astype(np.int64),
            "DEST": rng.choice(COUNTRY_CODES[1:9], m).astype(np.int64),
        }
    )
    return households, persons, absent


def generate(n_persons: int, out: Path, fmt: str, chunk: int, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if fmt == "parquet" else "csv"
    (out / "mapping.yaml").write_text(MAPPING.replace(".EXT", f".{ext}"), encoding="utf-8")
    writers: dict[str, object] = {}
    done = households_done = 0
    i = 0
    counts = dict.fromkeys(("households", "persons", "absent"), 0)
    try:
        while done < n_persons:
            size = min(chunk, n_persons - done)
            parts = raw_chunk(max(size, 7), seed + i, households_done)
            for name, table in zip(("households", "persons", "absent"), parts, strict=True):
                path = out / f"{name}.{ext}"
                if name not in writers:
                    writers[name] = (
                        pq.ParquetWriter(path, table.schema, compression="zstd")
                        if fmt == "parquet"
                        else pacsv.CSVWriter(path, table.schema)
                    )
                writers[name].write_table(table)  # type: ignore[attr-defined]
                counts[name] += table.num_rows
            done += parts[1].num_rows
            households_done += parts[0].num_rows
            i += 1
            if parts[1].num_rows == 0:
                break
    finally:
        for w in writers.values():
            w.close()  # type: ignore[attr-defined]
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    print(f"wrote {counts} to {out} ({fmt}); bytes {sizes}")


def run_scan(mapping: Path, memory_limit: str, threads: int | None) -> None:
    import migprofile as mp
    from migprofile.compute.engine_duckdb import DuckDBEngine
    from migprofile.sources import scan_source

    t0 = time.perf_counter()
    scanned = scan_source(mapping, memory_limit=memory_limit, threads=threads)
    t1 = time.perf_counter()
    engine = DuckDBEngine(memory_limit=memory_limit, threads=threads)
    table = mp.compute(scanned, INDICATORS, by=BY, engine=engine)
    t2 = time.perf_counter()
    _summary("scan_source", scanned.report, table, t1 - t0, t2 - t1)


def run_read(mapping: Path) -> None:
    import migprofile as mp

    t0 = time.perf_counter()
    dataset = mp.read_source(mapping)
    t1 = time.perf_counter()
    table = mp.compute(dataset, INDICATORS, by=BY)
    t2 = time.perf_counter()
    _summary("read_source", dataset.report, table, t1 - t0, t2 - t1)


def _summary(what: str, report: object, table: pd.DataFrame, t_read: float, t_comp: float) -> None:
    rows = [(t.table, t.rows_read, t.rows_kept) for t in report.tables]  # type: ignore[attr-defined]
    print(f"{what}: {t_read:.1f} s; compute: {t_comp:.1f} s; tables {rows}")
    print(f"result rows {len(table)}; first values:")
    print(table[["indicator", *[b.partition(":")[0] for b in BY], "value"]].head(4).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--persons", type=int, default=1_000_000)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    g.add_argument("--chunk", type=int, default=1_000_000)
    g.add_argument("--seed", type=int, default=20261128)
    s = sub.add_parser("scan")
    s.add_argument("mapping", type=Path)
    s.add_argument("--memory-limit", default="1GB")
    s.add_argument("--threads", type=int, default=None)
    r = sub.add_parser("read")
    r.add_argument("mapping", type=Path)
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.persons, args.out, args.format, args.chunk, args.seed)
    elif args.command == "scan":
        run_scan(args.mapping, args.memory_limit, args.threads)
    else:
        run_read(args.mapping)


if __name__ == "__main__":
    main()
