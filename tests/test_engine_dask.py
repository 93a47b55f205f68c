"""The Dask engine gives the pandas engine's sums and result tables, on a
real local cluster (two worker processes).

The cluster is started once for the module. Each test runs the same plan
through :class:`PandasEngine` and :class:`DaskEngine` (a DataFrame split into
partitions, or Parquet files) and compares every table of the sums and the
result tables (values and SEs to 1e-9 relative), with the helpers of
``test_engine_duckdb``: the designs of the R survey fixtures (census, fpc,
two-stage, cluster, records as units, JK1, bootstrap), the census and
survey source fixtures through ``compute()``, and the synthetic census of
``benchmarks/synthetic.py`` (20,000 persons) with Taylor and replicate SEs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import migprofile as mp
from migprofile.catalog.filters import FilterTypeError, UnknownColumnError, parse_filter
from migprofile.compute import (
    Breakdown,
    Design,
    DesignError,
    Plan,
    Request,
    UnmappedCodeError,
    estimate_many,
    get_engine,
    make_plan,
    report_progress,
)
from migprofile.compute.engine import PandasEngine

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from migprofile.compute.engine_dask import DaskEngine  # noqa: E402
from test_engine_duckdb import (  # noqa: E402
    DESIGNS,
    REQUESTS,
    _design_data,
    _plan,
    _requests,
    _table,
    assert_same_sums,
    assert_same_table,
)

TESTS = Path(__file__).parent
CENSUS = TESTS / "data" / "census" / "mapping.yaml"
SURVEY = TESTS / "data" / "survey" / "mapping.yaml"
SYNTHETIC = TESTS.parent / "benchmarks" / "synthetic.py"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A real local cluster: two worker processes of one thread each."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,  # errors only
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    """20,000 synthetic persons (benchmarks/synthetic.py) with 20 grouped
    jackknife replicate weights over the PSUs."""
    spec = importlib.util.spec_from_file_location("mp_synthetic", SYNTHETIC)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mp_synthetic"] = module
    spec.loader.exec_module(module)
    persons: pd.DataFrame = module.synthetic_census(20_000, seed=7)["persons"]
    groups = pd.factorize(persons["psu"])[0] % 20
    weight = persons["weight"].to_numpy()
    for r in range(20):
        persons[f"jk{r}"] = np.where(groups == r, 0.0, weight * 20 / 19)
    return persons


SYNTHETIC_REQUESTS: list[dict[str, Any]] = [
    {"kind": "count", "where": "country_of_birth != 'MDA' and country_of_birth != '_U'",
     "by": ["sex", "region"], "label": "foreign_born"},
    {"kind": "share", "y": "country_of_birth != 'MDA'", "where": "country_of_birth != '_U'",
     "by": ["sex", Breakdown.of("age", {a: "Y15-64" if 15 <= a < 65 else "other"
                                         for a in range(100)}, name="age_group")],
     "label": "foreign_share"},
    {"kind": "share", "y": "lf_status == 'UNE'", "where": "lf_status in ['EMP', 'UNE']",
     "by": ["sex"], "label": "unemployment"},
    {"kind": "mean", "y": "age", "by": ["region"], "label": "mean_age"},
    {"kind": "count", "by": ["lf_status", "sex"], "label": "labour_status"},
    {"kind": "quantile", "y": "age", "by": ["sex"], "label": "median_age"},
]  # fmt: skip


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize("name", DESIGNS)
def test_sums_equal_on_a_dataframe(name: str, client: Any) -> None:
    plan, frame = _plan(name)
    expected = PandasEngine().run(plan, frame)
    got = DaskEngine(client=client, npartitions=3).run(plan, frame)
    assert_same_sums(expected, got)
    assert_same_table(_table(plan, expected), _table(plan, got))


@pytest.mark.parametrize("name", ["census", "two_stage_fpc", "records_are_units", "jk1"])
def test_sums_equal_on_parquet_files(name: str, client: Any, tmp_path: Path) -> None:
    plan, frame = _plan(name)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    cuts = [0, len(frame) // 3, 2 * len(frame) // 3, len(frame)]
    for i in range(3):
        pq.write_table(table.slice(cuts[i], cuts[i + 1] - cuts[i]), tmp_path / f"p{i}.parquet")
    expected = PandasEngine().run(plan, str(tmp_path / "p*.parquet"))
    assert_same_sums(PandasEngine().run(plan, frame), expected)
    got = DaskEngine(client=client).run(plan, str(tmp_path / "p*.parquet"))
    assert_same_sums(expected, got)


def test_estimate_many_by_name_uses_the_active_client(client: Any) -> None:
    design, frame = _design_data("stratified_fpc")
    expected = estimate_many(frame, REQUESTS, design, engine="pandas")
    got = estimate_many(frame, REQUESTS, design, engine="dask")
    assert_same_table(expected, got)
    assert (expected["se"] > 0).any()


@pytest.mark.parametrize("design_name", ["taylor", "replicate", "census"])
def test_synthetic_census(design_name: str, synthetic: pd.DataFrame, client: Any) -> None:
    design = {
        "taylor": Design(weights="weight", strata="stratum", psu="psu"),
        "replicate": Design(weights="weight", replicate_weights=r"^jk\d+$",
                            replicate_method="JK1"),
        "census": None,
    }[design_name]  # fmt: skip
    expected = estimate_many(synthetic, SYNTHETIC_REQUESTS, design, engine="pandas")
    got = estimate_many(
        synthetic, SYNTHETIC_REQUESTS, design, engine=DaskEngine(client=client, npartitions=4)
    )
    assert len(expected) > 40
    assert_same_table(expected, got)
    if design is not None:
        assert (expected["se"] > 0).all()


def test_catalogue_indicators_through_compute(client: Any) -> None:
    engine: Any = DaskEngine(client=client, npartitions=2)
    census = mp.read_source(CENSUS)
    for indicators, by in [
        (["IMM_STOCK", "IMM_STOCK_SHARE"], ["sex"]),
        (["IMM_STOCK"], ["country_of_birth:subregion", "age:broad_3"]),
        (["IMM_MEDIAN_AGE"], ["sex"]),
    ]:
        expected = mp.compute(census, indicators, by=by)
        got = mp.compute(census, indicators, by=by, engine=engine)
        assert_same_table(expected, got)
    survey = mp.read_source(SURVEY)
    # the fixture has a record with a missing replicate weight: both engines refuse it
    with pytest.raises(DesignError) as refused:
        mp.compute(survey, ["IMM_STOCK"], by=["sex"])
    with pytest.raises(DesignError) as also:
        mp.compute(survey, ["IMM_STOCK"], by=["sex"], engine=engine)
    assert str(also.value) == str(refused.value)
    persons = survey.tables["persons"]
    complete = persons[persons.filter(like="repw_").notna().all(axis=1)].reset_index(drop=True)
    survey = dataclasses.replace(survey, tables={**survey.tables, "persons": complete})
    expected = mp.compute(survey, ["IMM_STOCK", "IMM_STOCK_SHARE"], by=["sex"])
    got = mp.compute(survey, ["IMM_STOCK", "IMM_STOCK_SHARE"], by=["sex"], engine=engine)
    assert (expected["se"] > 0).any()
    assert_same_table(expected, got)


def test_empty_partitions_and_empty_data(client: Any) -> None:
    design, frame = _design_data("stratified_fpc")
    specs = [{"kind": "mean", "y": "api00", "by": "stype", "where": "api00 > 10000"}]
    plan = make_plan(_requests(frame, specs), design)
    engine = DaskEngine(client=client, npartitions=4)
    assert_same_sums(PandasEngine().run(plan, frame), engine.run(plan, frame))
    empty = frame.iloc[:0]
    plan = make_plan(_requests(empty, [{"kind": "total", "y": "api00", "by": "stype"}]))
    assert_same_sums(PandasEngine().run(plan, empty), engine.run(plan, empty))


# --------------------------------------------------------------------------- errors


def test_errors_match_the_pandas_engine(client: Any) -> None:
    _, frame = _design_data("census")
    dask_engine = DaskEngine(client=client, npartitions=3)

    def both(plan: Plan, data: pd.DataFrame, error: type[Exception]) -> None:
        with pytest.raises(error) as expected:
            PandasEngine().run(plan, data)
        with pytest.raises(error) as got:
            dask_engine.run(plan, data)
        assert str(got.value) == str(expected.value)

    both(make_plan(_requests(frame, [{"kind": "total", "y": "nope"}])), frame, UnknownColumnError)
    # a missing stratum in the last partition: the row number is the data's
    bad_strata = frame.assign(stype=frame["stype"].where(frame.index != len(frame) - 3))
    design = Design(weights="pw", strata="stype")
    both(
        make_plan(_requests(frame, [{"kind": "total", "y": "api00"}]), design),
        bad_strata,
        DesignError,
    )
    varying = frame.assign(fpc=frame["fpc"] + (frame.index == 3))
    design = Design(weights="pw", strata="stype", fpc="fpc")
    both(
        make_plan(_requests(frame, [{"kind": "total", "y": "api00"}]), design), varying, DesignError
    )
    unmapped = Breakdown.of("stype", {"E": "EM"})
    both(make_plan([Request("count", by=(unmapped,))]), frame, UnmappedCodeError)
    both(make_plan([Request("count", where=parse_filter("stype > 3"))]), frame, FilterTypeError)
    with pytest.raises(TypeError):
        dask_engine.run(make_plan([Request("count")]), {"not": "data"})
    with pytest.raises(ValueError, match="npartitions"):
        DaskEngine(npartitions=0)


# --------------------------------------------------------------------------- progress, names


def test_progress_counts_partitions(client: Any) -> None:
    plan, frame = _plan("cluster")
    calls: list[tuple[int, int | None]] = []
    DaskEngine(client=client, npartitions=3, progress=lambda d, t: calls.append((d, t))).run(
        plan, frame
    )
    assert calls[0] == (0, 6)  # two passes over three partitions
    assert calls[-1] == (6, 6)
    assert [d for d, _ in calls] == list(range(7))
    # the context's callback reaches an engine created by name
    seen: list[tuple[int, int | None]] = []
    with report_progress(lambda d, t: seen.append((d, t))):
        get_engine("dask").run(plan, frame)
    assert seen and seen[-1][0] == seen[-1][1]


def test_local_threads_without_a_client() -> None:
    # Dask's local threaded scheduler, even with a client active
    plan, frame = _plan("jk1")
    calls: list[int] = []
    engine = DaskEngine(client="threads", npartitions=2, progress=lambda d, t: calls.append(d))
    assert_same_sums(PandasEngine().run(plan, frame), engine.run(plan, frame))
    assert calls == [0, 1, 2, 3, 4]


def test_registered_and_auto() -> None:
    assert get_engine("dask").name == "dask"
    assert mp.compute is not None
    frame = pd.DataFrame({"x": [1.0]})
    assert get_engine("auto", data=frame).name == "pandas"
    import dask.dataframe as dd

    assert get_engine("auto", data=dd.from_pandas(frame, npartitions=1)).name == "dask"
