"""The DuckDB engine gives the pandas engine's sums and result tables.

Every test runs the same plan through :class:`PandasEngine` (on a DataFrame)
and :class:`DuckDBEngine` (on the same DataFrame, or the same data written
to Parquet or CSV, or as an Arrow table) and compares:

- the :class:`Sums` themselves: cell keys (same order, same codes), totals,
  unit totals, replicate totals, replicate patterns, row requests, stage
  tables (values to 1e-9 relative);
- the result tables of the estimates (values, SEs, intervals, df, n; 1e-9
  relative).

Designs: none (a census), stratified with fpc (``apistrat``), two-stage with
fpcs at both stages and weights derived from them (``apiclus2``), one-stage
cluster (``apiclus1``), replicate weights (JK1 and bootstrap on
``apiclus1``), and designs whose records are their own units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import migprofile as mp
from migprofile.catalog.filters import FilterTypeError, UnknownColumnError, parse_filter
from migprofile.compute import (
    Breakdown,
    Design,
    DesignError,
    Plan,
    Request,
    Sums,
    UnmappedCodeError,
    estimate_item,
    estimate_many,
    get_engine,
    make_plan,
    result_table,
)
from migprofile.compute.engine import PandasEngine
from migprofile.compute.engine_duckdb import DuckDBEngine

pytest.importorskip("duckdb")

DATA = Path(__file__).parent / "data" / "r_survey"
CENSUS = Path(__file__).parent / "data" / "census" / "mapping.yaml"
REL = 1e-9
NUMERIC = ["value", "se", "ci_lower", "ci_upper", "cv", "df", "n"]


# --------------------------------------------------------------------------- data


@cache
def _api(file: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / file)
    frame.columns = [c.replace(".", "_") for c in frame.columns]
    # a breakdown with missing values and the code _U (both form the cell _U),
    # and a value with missing values
    rng = np.random.default_rng(len(frame))
    band = np.where(frame["enroll"] < 300, "small", np.where(frame["enroll"] < 700, "mid", "big"))
    band = np.where(rng.random(len(frame)) < 0.08, "_U", band).astype(object)
    band[rng.random(len(frame)) < 0.08] = None
    frame["band"] = pd.Series(band, dtype="str")
    frame["score"] = frame["api00"].where(rng.random(len(frame)) > 0.1)
    return frame


@cache
def _replicate(file: str) -> pd.DataFrame:
    reps = pd.read_csv(DATA / file)
    columns = [c for c in reps.columns if re.fullmatch(r"rep\d+", c)]
    return pd.concat(
        [_api("apiclus1.csv"), reps[["weight", *columns]].rename(columns={"weight": "rep_w"})],
        axis=1,
    )


def _design_data(name: str) -> tuple[Design | None, pd.DataFrame]:
    if name == "census":
        return None, _api("apistrat.csv")
    if name == "stratified_fpc":
        return Design(weights="pw", strata="stype", fpc="fpc"), _api("apistrat.csv")
    if name == "two_stage_fpc":  # weights derived from the fpcs, as R's dclus2
        return Design(psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]), _api("apiclus2.csv")
    if name == "cluster":
        return Design(weights="pw", psu="dnum", fpc="fpc"), _api("apiclus1.csv")
    if name == "records_are_units":
        return Design(weights="pw", strata="stype"), _api("apistrat.csv")
    if name == "records_derived_weights":
        return Design(strata="stype", fpc="fpc"), _api("apistrat.csv")
    if name == "jk1":
        design = Design(weights="rep_w", replicate_weights=r"^rep\d+$", replicate_method="JK1")
        return design, _replicate("repw_dclus1_jk1.csv")
    if name == "bootstrap":
        design = Design(
            weights="rep_w", replicate_weights=r"^rep\d+$", replicate_method="bootstrap"
        )
        return design, _replicate("repw_dclus1_boot.csv")
    raise KeyError(name)


DESIGNS = [
    "census",
    "stratified_fpc",
    "two_stage_fpc",
    "cluster",
    "records_are_units",
    "records_derived_weights",
    "jk1",
    "bootstrap",
]

LEVEL = Breakdown.of("stype", {"E": "EM", "M": "EM", "H": "H"}, name="level")

REQUESTS: list[dict[str, Any]] = [
    {"kind": "mean", "y": "api00", "by": "stype", "label": "mean"},
    {"kind": "total", "y": "enroll", "by": ["stype", "band"], "label": "total"},
    {"kind": "share", "y": "sch_wide == 'Yes'", "where": "enroll > 400", "label": "share"},
    {"kind": "share", "y": "sch_wide == 'Yes'", "by": "band", "label": "share_band"},
    {"kind": "ratio", "y": "api_stu", "x": "enroll", "by": LEVEL, "label": "ratio"},
    {"kind": "count", "by": [LEVEL, "band"], "label": "count"},
    {"kind": "count", "y": "api00 > 700 or api99 < 500", "label": "count_if"},
    {"kind": "mean", "y": "score", "by": "band", "where": "stype != 'H'", "label": "missing_y"},
    {"kind": "quantile", "y": "api00", "prob": 0.25, "by": "stype", "label": "q25"},
    {"kind": "quantile", "y": "score", "prob": 0.5, "by": LEVEL, "label": "median"},
]


def _requests(frame: pd.DataFrame, specs: Sequence[Mapping[str, Any]]) -> list[Request]:
    """The Request objects estimate_many builds from the dicts (to plan by hand)."""
    from migprofile.compute.estimate import _request

    return [
        _request(
            frame,
            str(s["kind"]),
            s.get("y"),
            s.get("x"),
            s.get("by"),
            s.get("where"),
            float(s.get("multiplier", 1.0)),
            s.get("prob"),
            s.get("label"),
        )
        for s in specs
    ]


# --------------------------------------------------------------------------- comparisons


def _same_frame(a: pd.DataFrame | None, b: pd.DataFrame | None, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True),
        b.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        rtol=REL,
        atol=1e-12,
        obj=what,
    )


def assert_same_sums(a: Sums, b: Sums) -> None:
    """The two engines' sums agree: same cells in the same order, same codes,
    sums to 1e-9 relative."""
    assert len(a.groupings) == len(b.groupings)
    for i, (x, y) in enumerate(zip(a.groupings, b.groupings, strict=True)):
        pd.testing.assert_frame_equal(x.keys, y.keys, obj=f"keys of g{i}")
        for part in ("totals", "units", "replicates", "patterns"):
            _same_frame(getattr(x, part), getattr(y, part), f"{part} of g{i}")
    assert len(a.rows) == len(b.rows)
    for i, (x, y) in enumerate(zip(a.rows, b.rows, strict=True)):
        _same_frame(x, y, f"rows of q{i}")
    assert len(a.stages) == len(b.stages)
    for x, y in zip(a.stages, b.stages, strict=True):
        pd.testing.assert_frame_equal(x.units, y.units, obj=f"units of stage {x.stage}")
        pd.testing.assert_frame_equal(x.strata, y.strata, obj=f"strata of stage {x.stage}")
    _same_frame(a.patterns, b.patterns, "patterns")
    assert a.replicate_columns == b.replicate_columns
    assert a.n_records == b.n_records


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Two result tables agree: same rows and keys, numbers to 1e-9 relative."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    other = [c for c in a.columns if c not in NUMERIC]
    pd.testing.assert_frame_equal(a[other], b[other], check_dtype=False)
    for col in NUMERIC:
        x = a[col].to_numpy(dtype=np.float64)
        y = b[col].to_numpy(dtype=np.float64)
        np.testing.assert_allclose(y, x, rtol=REL, atol=0, equal_nan=True, err_msg=col)


def _table(plan: Plan, sums: Sums) -> pd.DataFrame:
    return result_table([estimate_item(item, sums) for item in plan.items])


def _plan(name: str, specs: Sequence[Mapping[str, Any]] = REQUESTS) -> tuple[Plan, pd.DataFrame]:
    design, frame = _design_data(name)
    return make_plan(_requests(frame, specs), design), frame


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize("name", DESIGNS)
def test_result_tables_equal_on_a_dataframe(name: str) -> None:
    design, frame = _design_data(name)
    expected = estimate_many(frame, REQUESTS, design, engine="pandas")
    got = estimate_many(frame, REQUESTS, design, engine=DuckDBEngine())
    assert len(expected) > 20
    assert_same_table(expected, got)
    if design is not None:
        assert (expected["se"] > 0).any()


@pytest.mark.parametrize("name", DESIGNS)
def test_sums_equal_on_a_parquet_file(name: str, tmp_path: Path) -> None:
    plan, frame = _plan(name)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    expected = PandasEngine().run(plan, frame)
    got = DuckDBEngine(memory_limit="256MB", threads=2).run(plan, path)
    assert_same_sums(expected, got)
    assert_same_table(_table(plan, expected), _table(plan, got))


@pytest.mark.parametrize("name", ["stratified_fpc", "two_stage_fpc", "jk1"])
def test_sums_equal_on_a_dataframe_an_arrow_table_and_several_files(
    name: str, tmp_path: Path
) -> None:
    plan, frame = _plan(name)
    expected = PandasEngine().run(plan, frame)
    engine = DuckDBEngine()
    assert_same_sums(expected, engine.run(plan, frame))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert_same_sums(expected, engine.run(plan, table))
    # three files: one table, in file order (data order for row requests)
    cuts = [0, len(frame) // 3, 2 * len(frame) // 3, len(frame)]
    for i in range(3):
        pq.write_table(table.slice(cuts[i], cuts[i + 1] - cuts[i]), tmp_path / f"part{i}.parquet")
    assert_same_sums(expected, engine.run(plan, tmp_path))
    assert_same_sums(expected, engine.run(plan, str(tmp_path / "part*.parquet")))
    files = [tmp_path / f"part{i}.parquet" for i in range(3)]
    assert_same_sums(expected, engine.run(plan, files))


def test_sums_equal_on_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    _api("apistrat.csv").to_csv(path, index=False)
    frame = pd.read_csv(path)
    plan = make_plan(_requests(frame, REQUESTS), Design(weights="pw", strata="stype", fpc="fpc"))
    # DuckDB's CSV sniffer reads Yes/No as booleans, pandas as text: say which
    engine = DuckDBEngine(csv_options={"dtype": {"sch_wide": "VARCHAR"}})
    assert_same_sums(PandasEngine().run(plan, frame), engine.run(plan, path))


def test_nan_in_a_parquet_file_is_missing(tmp_path: Path) -> None:
    # pyarrow writes NaN (not null) for a float column built with nan_to_null=False
    values = np.array([1.0, np.nan, 3.0, 4.0])
    table = pa.table({"y": pa.array(values, from_pandas=False), "g": ["a", "b", "a", "b"]})
    path = tmp_path / "nan.parquet"
    pq.write_table(table, path)
    frame = pd.DataFrame({"y": values, "g": ["a", "b", "a", "b"]})
    plan = make_plan(_requests(frame, [{"kind": "mean", "y": "y", "by": "g"}]))
    assert_same_sums(PandasEngine().run(plan, frame), DuckDBEngine().run(plan, path))


def test_lonely_psu_policies_give_the_same_table() -> None:
    frame = pd.read_csv(DATA / "apistrat_lonely.csv")
    frame.columns = [c.replace(".", "_") for c in frame.columns]
    specs = [{"kind": "mean", "y": "api00", "by": "stype"}, {"kind": "total", "y": "enroll"}]
    for policy in ("remove", "adjust", "average", "certainty"):
        design = Design(weights="pw", strata="stype", psu="snum", lonely_psu=policy)
        expected = estimate_many(frame, specs, design, engine="pandas")
        assert_same_table(expected, estimate_many(frame, specs, design, engine=DuckDBEngine()))


def test_an_empty_domain_and_empty_data() -> None:
    frame = _api("apistrat.csv")
    specs = [{"kind": "mean", "y": "api00", "by": "stype", "where": "api00 > 10000"}]
    design = Design(weights="pw", strata="stype", fpc="fpc")
    plan = make_plan(_requests(frame, specs), design)
    assert_same_sums(PandasEngine().run(plan, frame), DuckDBEngine().run(plan, frame))
    empty = frame.iloc[:0]
    plan = make_plan(_requests(empty, [{"kind": "total", "y": "api00"}]))
    assert_same_sums(PandasEngine().run(plan, empty), DuckDBEngine().run(plan, empty))


def test_catalogue_indicators_through_compute() -> None:
    # compute() builds its frames in pandas (harmonised tables, age groups)
    # and hands them to the engine, which scans them in place.
    census = mp.read_source(CENSUS)
    engine: Any = DuckDBEngine()  # compute() is annotated engine: str
    cases: list[tuple[list[str], list[str]]] = [
        (["IMM_STOCK", "IMM_STOCK_SHARE"], ["sex"]),
        (["IMM_STOCK"], ["country_of_birth:subregion", "age:broad_3"]),
        (["IMM_MEDIAN_AGE"], ["sex"]),
    ]
    for indicators, by in cases:
        expected = mp.compute(census, indicators, by=by)
        got = mp.compute(census, indicators, by=by, engine=engine)
        pd.testing.assert_frame_equal(expected, got, check_dtype=False, rtol=REL)


def _scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements of DuckDB runs that read the data (the ``__mp_src`` views)."""
    from migprofile.compute import engine_duckdb

    seen: list[str] = []
    fetch, run_sql = engine_duckdb._Run.fetch, engine_duckdb._Run.run_sql

    def spy_fetch(self: Any, sql: str, params: Sequence[object] = ()) -> Any:
        seen.append(sql)
        return fetch(self, sql, params)

    def spy_run(self: Any, sql: str, params: Sequence[object] = ()) -> None:
        seen.append(sql)
        run_sql(self, sql, params)

    monkeypatch.setattr(engine_duckdb._Run, "fetch", spy_fetch)
    monkeypatch.setattr(engine_duckdb._Run, "run_sql", spy_run)
    return seen


def _reads_data(sql: str) -> bool:
    return re.search(r"FROM __mp_src(pos)?\b", sql) is not None and not sql.startswith(
        "CREATE TEMP VIEW"
    )


@pytest.mark.parametrize("name", ["census", "jk1", "records_are_units", "two_stage_fpc"])
def test_mapped_breakdowns_coded_after_the_aggregation(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # several raw values per code (age groups), two mappings of one column,
    # missing values and _U in mapped and unmapped columns, the same sum asked
    # twice; without sums per unit the records are grouped by their raw
    # values in the one main scan and coded afterwards
    design, frame = _design_data(name)
    frame = frame.copy()
    ages = frame["api00"].where(frame["api00"] % 7 != 0)  # some missing
    frame["age"] = ages.to_numpy(dtype=np.float64) // 10
    groups = Breakdown.of("age", {a: f"Y{int(a) // 10}" for a in range(0, 100)}, name="ageg")
    broad = Breakdown.of("age", {a: "A" if a < 60 else "B" for a in range(0, 100)}, name="broad")
    specs: list[dict[str, Any]] = [
        {"kind": "count", "by": ["stype", groups], "label": "c1"},
        {"kind": "count", "by": ["stype", groups], "where": "enroll > 300", "label": "c2"},
        {"kind": "total", "y": "enroll", "by": [groups, broad, "band"], "label": "t"},
        {"kind": "share", "y": "sch_wide == 'Yes'", "by": [broad, "stype"], "label": "s"},
        {"kind": "mean", "y": "score", "by": LEVEL, "label": "m"},
        {"kind": "quantile", "y": "api00", "prob": 0.5, "by": groups, "label": "q"},
    ]
    plan = make_plan(_requests(frame, specs), design)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    expected = PandasEngine().run(plan, frame)
    seen = _scans(monkeypatch)
    got = DuckDBEngine(threads=2).run(plan, path)
    assert_same_sums(expected, got)
    assert_same_table(_table(plan, expected), _table(plan, got))
    assert not any("list(DISTINCT" in sql for sql in seen)  # no scan for the values
    main = [sql for sql in seen if sql.startswith("CREATE TEMP TABLE __mp_agg")]
    assert len(main) == 1 and "__mp_lk" not in main[0]  # raw values, no lookup join


def test_sums_per_unit_still_code_the_records(monkeypatch: pytest.MonkeyPatch) -> None:
    # Taylor designs with sampling units sum per cell x unit: the records are
    # coded (lookup joins) before the aggregation, as before
    plan, frame = _plan("cluster")
    seen = _scans(monkeypatch)
    assert_same_sums(PandasEngine().run(plan, frame), DuckDBEngine().run(plan, frame))
    assert any("list(DISTINCT" in sql for sql in seen)
    assert any("LEFT JOIN __mp_lk" in sql for sql in seen)
    assert not any(sql.startswith("CREATE TEMP TABLE __mp_agg") for sql in seen)


@pytest.mark.parametrize("name", ["census", "cluster", "jk1", "records_are_units"])
def test_progress_counts_every_query_step(name: str) -> None:
    plan, frame = _plan(name)
    calls: list[tuple[int, int | None]] = []
    DuckDBEngine(progress=lambda done, total: calls.append((done, total))).run(plan, frame)
    # one step per planned query: 0, 1, ..., total, the total never revised
    total = calls[0][1]
    assert total is not None
    assert calls == [(done, total) for done in range(total + 1)]


def test_a_census_plan_reads_the_data_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    # the profile (number of records, design checks) and the main scan
    plan, frame = _plan("census", [s for s in REQUESTS if s["kind"] != "quantile"])
    seen = _scans(monkeypatch)
    assert_same_sums(PandasEngine().run(plan, frame), DuckDBEngine().run(plan, frame))
    assert len([sql for sql in seen if _reads_data(sql)]) == 2


# --------------------------------------------------------------------------- errors


def test_errors_match_the_pandas_engine(tmp_path: Path) -> None:
    frame = _api("apistrat.csv")
    duck = DuckDBEngine()

    def both(plan: Plan, data: pd.DataFrame, error: type[Exception]) -> None:
        with pytest.raises(error) as expected:
            PandasEngine().run(plan, data)
        with pytest.raises(error) as got:
            duck.run(plan, data)
        assert str(got.value) == str(expected.value)

    both(make_plan(_requests(frame, [{"kind": "total", "y": "nope"}])), frame, UnknownColumnError)
    bad_strata = frame.assign(stype=frame["stype"].where(frame.index != 7))
    design = Design(weights="pw", strata="stype")
    both(make_plan(_requests(frame, [{"kind": "total", "y": "api00"}]), design), bad_strata,
         DesignError)
    varying = frame.assign(fpc=frame["fpc"] + (frame.index == 3))
    design = Design(weights="pw", strata="stype", fpc="fpc")
    both(make_plan(_requests(frame, [{"kind": "total", "y": "api00"}]), design), varying,
         DesignError)
    unmapped = Breakdown.of("stype", {"E": "EM"})
    both(make_plan([Request("count", by=(unmapped,))]), frame, UnmappedCodeError)
    with pytest.raises(FilterTypeError):
        duck.run(make_plan([Request("count", where=parse_filter("stype > 3"))]), frame)
    with pytest.raises(FileNotFoundError):
        duck.run(make_plan([Request("count")]), tmp_path / "missing.parquet")
    with pytest.raises(TypeError):
        duck.run(make_plan([Request("count")]), {"not": "data"})


def test_settings_reach_duckdb(tmp_path: Path) -> None:
    engine = DuckDBEngine(memory_limit="300MB", threads=1, temp_directory=tmp_path / "spill")
    with engine.connect() as con:
        limit, threads, temp = con.sql(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchall()[0]
    assert "MiB" in str(limit) or "MB" in str(limit)
    assert int(threads) == 1
    assert str(temp) == str(tmp_path / "spill")
    assert get_engine(engine) is engine
    assert DuckDBEngine.name == "duckdb"
    with pytest.raises(ValueError, match="threads"):
        DuckDBEngine(threads=0)


# --------------------------------------------------------------------------- property


CODES = ["a", "b", "c", "_U"]


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 30))
    rows = st.tuples(
        st.one_of(st.none(), st.sampled_from(CODES)),  # g: text with missing and _U
        st.sampled_from([1, 2, 3]),  # k: integer codes
        st.one_of(st.none(), st.sampled_from(["X", "M", "F"])),  # cat: categorical
        st.one_of(st.none(), st.sampled_from([-1.5, 0.0, 1.0, 2.5, 7.0])),  # y
        st.sampled_from([0.0, 1.0, 2.0, 3.5]),  # w, zero weights included
        st.booleans(),  # flag
        st.sampled_from(["s1", "s2"]),  # stratum
        st.integers(0, 3),  # psu within stratum
    )
    data = draw(st.lists(rows, min_size=n, max_size=n))
    g, k, cat, y, w, flag, stratum, psu = (
        (list(c) for c in zip(*data, strict=True)) if data else ([] for _ in range(8))
    )
    return pd.DataFrame(
        {
            "g": pd.Series(g, dtype="str"),
            "k": pd.Series(k, dtype="int64"),
            "cat": pd.Series(pd.Categorical(cat, categories=["X", "M", "F"])),
            "y": pd.Series(y, dtype="float64"),
            "w": pd.Series(w, dtype="float64"),
            "flag": pd.Series(flag, dtype="bool"),
            "stratum": pd.Series(stratum, dtype="str"),
            "psu": pd.Series(psu, dtype="int64"),
            "r1": pd.Series(w, dtype="float64") * 1.1,
            "r2": pd.Series(w, dtype="float64") * np.resize([0.5, 1.5], len(data)),
        }
    )


FILTERS = [
    None,
    "y > 0",
    "g == 'a' or y <= 1",
    "not (g in ['a', 'b'])",
    "flag and not is_missing(y)",
    "cat != 'M'",
    "k >= 2 and (y < 2.5 or g == 'c')",
]
GROUPINGS: list[tuple[Breakdown, ...]] = [
    (),
    (Breakdown("g"),),
    (Breakdown("cat"), Breakdown("k")),
    (Breakdown.of("k", {1: "low", 2: "low", 3: "high"}, name="kk"), Breakdown("g")),
    (Breakdown("g"), Breakdown.of("k", {1: "low", 2: "low", 3: "high"}, name="kk")),
]
PROPERTY_DESIGNS = [
    None,
    Design(weights="w"),
    Design(weights="w", strata="stratum", psu="psu", lonely_psu="adjust"),
    Design(weights="w", replicate_weights=["r1", "r2"], replicate_method="BRR"),
]


@st.composite
def property_requests(draw: st.DrawFn) -> list[Request]:
    out: list[Request] = []
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(FILTERS))
        by = draw(st.sampled_from(GROUPINGS))
        kind = draw(st.sampled_from(["total", "mean", "share", "count", "ratio", "quantile"]))
        domain = parse_filter(where) if where else None
        if kind == "share":
            out.append(Request("share", y=parse_filter("y > 1"), by=by, where=domain))
        elif kind == "count":
            out.append(Request("count", by=by, where=domain))
        elif kind == "ratio":
            out.append(Request("ratio", y="y", x="w", by=by, where=domain))
        elif kind == "quantile":
            out.append(Request("quantile", y="y", by=by, where=domain, prob=0.5))
        else:
            out.append(Request(kind, y="y", by=by, where=domain))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), property_requests(), st.sampled_from(range(len(PROPERTY_DESIGNS))))
def test_random_frames_and_filters_give_the_same_sums(
    frame: pd.DataFrame, requests: list[Request], design_index: int
) -> None:
    plan = make_plan(requests, PROPERTY_DESIGNS[design_index])
    assert_same_sums(PandasEngine().run(plan, frame), DuckDBEngine(threads=1).run(plan, frame))


def test_relative_tolerance_is_meaningful() -> None:
    # the comparison helper would catch a difference well below a rounding of
    # the published figures
    a = pd.DataFrame({"value": [1.0], "se": [0.5]})
    b = pd.DataFrame({"value": [1.0 + 1e-7], "se": [0.5]})
    with pytest.raises(AssertionError):
        _same_frame(a, b, "values")
    assert math.isclose(1.0, 1.0 + 1e-10, rel_tol=REL)
