"""Every engine gives the pandas engine's result table over the catalogue.

For each source of the example data (``examples/synthetic/sources/*/
mapping.yaml`` when the bundled synthetic example is present, and the test
fixtures ``tests/data/census`` and ``tests/data/survey``), every catalogue
indicator the pandas engine computes on it is computed by each engine with
a breakdown by sex and one more breakdown where the indicator allows them
(with every margin), and the result tables must be equal: the same rows in
the same order, values, SEs, intervals, df and n to 1e-9 relative.

The Dask engine runs on a real local cluster (two worker processes),
started once for the module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import migprofile as mp
from migprofile.errors import MigprofileError
from test_engine_duckdb import assert_same_table

TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples" / "synthetic" / "sources"
ENGINE_NAMES = ["pandas", "duckdb", "dask"]


def _sources() -> list[tuple[str, Path]]:
    found = [(f"example:{p.parent.name}", p) for p in sorted(EXAMPLES.glob("*/mapping.yaml"))]
    found += [
        ("fixture:census", TESTS / "data" / "census" / "mapping.yaml"),
        ("fixture:survey", TESTS / "data" / "survey" / "mapping.yaml"),
    ]
    return found


SOURCES = _sources()


@cache
def _dataset(name: str) -> Any:
    """The harmonised source (``None`` when an example source cannot be read:
    the example is being written; the fixtures must read)."""
    path = dict(SOURCES)[name]
    try:
        dataset = mp.read_source(path)
    except (MigprofileError, ValueError):
        if name.startswith("fixture:"):
            raise
        return None
    if name == "fixture:survey":
        # one record has a missing replicate weight (refused by every engine)
        persons = dataset.tables["persons"]
        complete = persons[persons.filter(like="repw_").notna().all(axis=1)]
        tables = {**dataset.tables, "persons": complete.reset_index(drop=True)}
        dataset = dataclasses.replace(dataset, tables=tables)
    return dataset


def _works(dataset: Any, indicator: str, by: list[str]) -> bool:
    try:
        table = mp.compute(dataset, [indicator], by=by, margins=False)
    except MigprofileError:
        return False
    return not table.empty


def _breakdown_names(catalog: mp.Catalog, dimension: str) -> list[str]:
    """How to name a breakdown by ``dimension``: itself, or for a numeric
    dimension its codelist's first set or level."""
    dim = catalog.dimensions.get(dimension)
    if dim is None or dim.codelist is None:
        return []
    if dim.kind != "numeric":
        return [dimension]
    codelist = catalog.codelist(dim.codelist)
    names = [*codelist.sets, *(lv.id for lv in codelist.levels)]
    return [f"{dimension}:{names[0]}"] if names else []


@cache
def _cases(name: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(indicators, breakdowns) computed together on source ``name``: every
    indicator the pandas engine computes, by sex and one more breakdown where
    it allows them (its first other breakdown that works), else by sex, else
    unbroken."""
    catalog = mp.load_catalog()
    dataset = _dataset(name)
    if dataset is None:
        return ()
    groups: dict[tuple[str, ...], list[str]] = {}
    for ind_id, indicator in catalog.indicators.items():
        sex = ["sex"] if "sex" in indicator.breakdowns else []
        others = [
            c
            for other in indicator.breakdowns
            if other != "sex"
            for c in _breakdown_names(catalog, other)
        ]
        # the richest first: most indicators compute with their first choice
        tries = [[*sex, c] for c in others[:3]] + ([sex] if sex else []) + [[]]
        chosen = next((by for by in tries if _works(dataset, ind_id, by)), None)
        if chosen is not None:
            groups.setdefault(tuple(chosen), []).append(ind_id)
    return tuple((tuple(ids), by) for by, ids in groups.items())


@cache
def _expected(name: str, indicators: tuple[str, ...], by: tuple[str, ...]) -> pd.DataFrame:
    return mp.compute(_dataset(name), list(indicators), by=list(by))


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, Any]]:
    """The engines by name; the Dask engine on a real two-process cluster."""
    pytest.importorskip("duckdb")
    distributed = pytest.importorskip("distributed")
    from migprofile.compute.engine_dask import DaskEngine
    from migprofile.compute.engine_duckdb import DuckDBEngine

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40,
    )  # fmt: skip
    with distributed.Client(cluster) as client:
        yield {
            "pandas": "pandas",
            "duckdb": DuckDBEngine(threads=2),
            "dask": DaskEngine(client=client, npartitions=2),
        }
    cluster.close()


def test_the_catalogue_is_covered() -> None:
    # the sources together compute a good part of the catalogue
    covered = {i for name, _ in SOURCES for ids, _ in _cases(name) for i in ids}
    assert len(covered) >= 25, sorted(covered)
    assert any(by for name, _ in SOURCES for _, by in _cases(name) if "sex" in by)


@pytest.mark.parametrize("engine_name", ENGINE_NAMES)
@pytest.mark.parametrize("source", [name for name, _ in SOURCES])
def test_engine_gives_the_pandas_table(
    source: str, engine_name: str, engines: dict[str, Any]
) -> None:
    dataset = _dataset(source)
    if dataset is None:
        pytest.skip(f"{source} cannot be read")
    cases = _cases(source)
    if not cases:
        pytest.skip(f"no catalogue indicator is computable on {source}")
    for indicators, by in cases:
        expected = _expected(source, indicators, by)
        got = mp.compute(dataset, list(indicators), by=list(by), engine=engines[engine_name])
        assert isinstance(got, pd.DataFrame)
        try:
            assert_same_table(expected, got)
        except AssertionError as exc:
            raise AssertionError(f"{source}: {list(indicators)} by {list(by)}: {exc}") from exc
