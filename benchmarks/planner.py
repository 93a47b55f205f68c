"""Benchmark: the one-scan aggregation planner against one ``groupby`` per
indicator x breakdown, on a synthetic census of 1,000,000 persons.

    python benchmarks/planner.py --persons 1000000 --repeat 5

Eight catalogue indicators of the persons table (IMM_STOCK, IMM_STOCK_SHARE,
FOREIGN_CIT_STOCK, FOREIGN_CIT_SHARE, LFPR_BY_MIG, EPR_BY_MIG, UR_BY_MIG,
MIG_WORKER_SHARE_LF), each broken down by sex x region with every margin
(sex x region, sex, region, total: 8 x 4 = 32 tables, 312 cells).

- (a) ``migprofile.compute(...)``: one aggregation plan, one engine pass;
- (b) a hand-written pandas script: the masks of each indicator written out,
  then one ``groupby(...).sum()`` per indicator x breakdown combination (the
  total row is a plain ``sum``). It computes values only: no standard errors,
  no counts of records, no intervals.

Two paths: a census (no ``weight`` column, no design: weights 1, no sampling
variance) and the same frame with its weights and a stratified cluster design
(``Design(weights="weight", strata="stratum", psu="psu")``, Taylor
linearisation) for migprofile, against the weighted hand-written script (which
still has no variance). The values of (a) and (b) must agree to 1e-9 relative
before any timing counts. Each timing is the median of ``--repeat`` runs (the
best is printed too). ``--profile`` prints where a compute() call spends its
time (cProfile, cumulative). A script, not a test: figures are recorded in
benchmarks/RESULTS.md with the command and the machine.

The synthetic census (benchmarks/synthetic.py) has no citizenship: a copy of
the frame gets ``citizenship`` (native-born: 99 % MDA; foreign-born: half
naturalised, half citizens of their country of birth) and ``stateless``
(False), drawn with a fixed seed; this is not timed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import synthetic_census

import migprofile
from migprofile.catalog.loader import Catalog, load_catalog
from migprofile.compute import Design

INDICATORS = (
    "IMM_STOCK",
    "IMM_STOCK_SHARE",
    "FOREIGN_CIT_STOCK",
    "FOREIGN_CIT_SHARE",
    "LFPR_BY_MIG",
    "EPR_BY_MIG",
    "UR_BY_MIG",
    "MIG_WORKER_SHARE_LF",
)
BY = ("sex", "region")
GROUPINGS: tuple[tuple[str, ...], ...] = (("sex", "region"), ("sex",), ("region",), ())
PARAMS = {"reporting_country": "MDA"}
DESIGN = Design(weights="weight", strata="stratum", psu="psu")
TOTAL = "_T"
TOLERANCE = 1e-9

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- data


def persons_frame(n_persons: int) -> pd.DataFrame:
    """The synthetic persons table, with citizenship and stateless added."""
    persons = synthetic_census(n_persons)["persons"]
    rng = np.random.default_rng(7)
    cob = persons["country_of_birth"].astype(str).to_numpy()
    draw = rng.random(len(persons))
    citizenship = np.where(
        cob == "MDA", np.where(draw < 0.01, "ROU", "MDA"), np.where(draw < 0.5, "MDA", cob)
    )
    return persons.assign(
        citizenship=pd.Categorical(citizenship),
        stateless=np.zeros(len(persons), dtype=bool),
    )


# --------------------------------------------------------------------------- (a) migprofile


def run_migprofile(frame: pd.DataFrame, catalog: Catalog, design: Design | None) -> pd.DataFrame:
    """All indicators, by sex x region with margins, in one compute() call."""
    return migprofile.compute(
        frame,
        list(INDICATORS),
        by=list(BY),
        margins=True,
        params=PARAMS,
        catalog=catalog,
        design=design,
    )


# --------------------------------------------------------------------------- (b) by hand

SPECIAL = ["_T", "_U", "_X", "_Z", "XXX"]  # geo.special


def _masks(df: pd.DataFrame) -> dict[str, tuple[BoolArray, BoolArray | None, float]]:
    """Numerator and denominator of every indicator, written out by hand
    (missing values are never selected, as in the catalogue's filters)."""
    resident = df["usual_resident"].fillna(False).to_numpy(dtype=bool)
    cob = df["country_of_birth"]
    foreign_born = resident & (cob.notna() & (cob != "MDA") & ~cob.isin(SPECIAL)).to_numpy(
        dtype=bool
    )
    cit = df["citizenship"]
    stateless = df["stateless"]
    foreign_cit = resident & (
        cit.notna() & (cit != "MDA") & ~cit.isin(SPECIAL) & (stateless.isna() | ~stateless)
    ).to_numpy(dtype=bool)
    working_age = resident & (df["age"] >= 15).to_numpy(dtype=bool)
    lf = df["lf_status"]
    labour_force = working_age & lf.isin(["EMP", "UNE"]).to_numpy(dtype=bool)
    employed = working_age & (lf == "EMP").to_numpy(dtype=bool)
    unemployed = working_age & (lf == "UNE").to_numpy(dtype=bool)
    return {
        "IMM_STOCK": (foreign_born, None, 1.0),
        "IMM_STOCK_SHARE": (foreign_born, resident, 100.0),
        "FOREIGN_CIT_STOCK": (foreign_cit, None, 1.0),
        "FOREIGN_CIT_SHARE": (foreign_cit, resident, 100.0),
        "LFPR_BY_MIG": (labour_force, working_age, 100.0),
        "EPR_BY_MIG": (employed, working_age, 100.0),
        "UR_BY_MIG": (unemployed, labour_force, 100.0),
        "MIG_WORKER_SHARE_LF": (labour_force & foreign_born, labour_force, 100.0),
    }


def run_by_hand(df: pd.DataFrame, weighted: bool) -> pd.DataFrame:
    """One groupby per indicator x breakdown combination; values only."""
    w: FloatArray = (
        df["weight"].to_numpy(dtype=np.float64) if weighted else np.ones(len(df), dtype=np.float64)
    )
    rows: list[pd.DataFrame] = []
    for ind, (num, den, multiplier) in _masks(df).items():
        sel = num if den is None else den
        part = df.loc[sel, list(BY)].assign(num=np.where(num, w, 0.0)[sel], den=w[sel])
        for keys in GROUPINGS:
            if keys:
                sums = part.groupby(list(keys), observed=True)[["num", "den"]].sum().reset_index()
            else:
                sums = part[["num", "den"]].sum().to_frame().T
            value = sums["num"] if den is None else sums["num"] / sums["den"] * multiplier
            table = pd.DataFrame({"indicator": ind, "value": value.to_numpy(dtype=np.float64)})
            for dim in BY:
                table[dim] = sums[dim].astype(str).to_numpy() if dim in keys else TOTAL
            rows.append(table)
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------- checks, timing


def max_relative_difference(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    """The largest relative difference of values between the two tables (same
    cells required)."""
    keys = ["indicator", *BY]
    a = ours[[*keys, "value"]].astype(dict.fromkeys(keys, str))
    b = theirs[[*keys, "value"]].astype(dict.fromkeys(keys, str))
    merged = a.merge(b, on=keys, how="outer", suffixes=("_mp", "_pd"), indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    if unmatched or len(a) != len(b):
        raise SystemExit(
            f"the tables differ in their cells: {len(a)} vs {len(b)} rows, {unmatched} unmatched"
        )
    x = merged["value_mp"].to_numpy(dtype=np.float64)
    y = merged["value_pd"].to_numpy(dtype=np.float64)
    scale = np.maximum(np.abs(x), np.abs(y))
    diff = np.abs(x - y)
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)
    return float(rel.max())


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, best) seconds of ``repeat`` calls."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), min(seconds)


def profile(fn: Callable[[], object], lines: int = 30) -> str:
    """The cumulative cProfile listing of one call."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile one compute() call")
    args = parser.parse_args()

    start = time.perf_counter()
    weighted = persons_frame(args.persons)
    census = weighted.drop(columns=["weight"])  # a census: weight 1, no design
    print(f"synthetic census: {len(weighted):,} persons ({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    catalog = load_catalog()
    catalog_seconds = time.perf_counter() - start
    print(f"load_catalog(): {catalog_seconds:.2f} s (once; passed to compute(catalog=...))")

    cases: list[tuple[str, Callable[[], pd.DataFrame], Callable[[], pd.DataFrame]]] = [
        (
            "census, no variance",
            lambda: run_migprofile(census, catalog, None),
            lambda: run_by_hand(census, weighted=False),
        ),
        (
            "weighted, Taylor (strata x PSU)",
            lambda: run_migprofile(weighted, catalog, DESIGN),
            lambda: run_by_hand(weighted, weighted=True),
        ),
    ]
    results: list[tuple[str, float, float, float, float, float, int]] = []
    for name, ours, theirs in cases:
        a, b = ours(), theirs()  # warm-up, and the check before any timing
        diff = max_relative_difference(a, b)
        if not diff <= TOLERANCE:
            raise SystemExit(f"{name}: values differ by {diff:.3g} relative (> {TOLERANCE:g})")
        if name.startswith("weighted") and not bool((a["se"] > 0).all()):
            raise SystemExit(f"{name}: expected a positive standard error in every cell")
        mp_median, mp_best = timed(ours, args.repeat)
        pd_median, pd_best = timed(theirs, args.repeat)
        results.append((name, mp_median, mp_best, pd_median, pd_best, diff, len(a)))
        if args.profile:
            print(f"\n--- cProfile, compute() {name}\n{profile(ours)}")

    print(
        f"\n{len(INDICATORS)} indicators x {len(GROUPINGS)} groupings (sex x region, margins); "
        f"median of {args.repeat} runs (best in brackets), seconds"
    )
    header = (
        f"{'path':34} {'cells':>5} {'migprofile':>15} {'one groupby each':>17} "
        f"{'ratio':>6} {'max rel diff':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, mp_median, mp_best, pd_median, pd_best, diff, cells in results:
        print(
            f"{name:34} {cells:>5} {mp_median:>7.3f} ({mp_best:.3f}) "
            f"{pd_median:>8.3f} ({pd_best:.3f}) {pd_median / mp_median:>6.2f} {diff:>12.2e}"
        )
    print("ratio = hand-written median / migprofile median (> 1: the planner is faster)")
    for (name, mp_median, _, pd_median, _, _, _), note in zip(
        results,
        ("values only: the fair comparison", "the hand-written script has no variance"),
        strict=True,
    ):
        speedup = pd_median / mp_median
        slower = "" if speedup >= 1 else f", i.e. {1 / speedup:.1f}x slower"
        print(f"{name}: planner speed-up {speedup:.2f}x{slower} ({note}; target 3x)")
    met = results[0][3] / results[0][1] >= 3.0
    print(f"target (planner >= 3x faster on values only): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
