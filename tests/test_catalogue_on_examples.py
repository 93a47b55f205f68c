"""Every indicator of the bundled catalogue computes on the synthetic example
(issue #5).

For each indicator, the example's sources whose kind the indicator accepts and
whose data has the tables it needs are tried in turn; at least one must give a
non-empty result with a finite, non-zero value, and every result's rows carry
the indicator's unit. The few indicators the example cannot hold are listed in
FIXTURES with the reason and computed on a named test fixture instead. A new
indicator that neither covers makes the test fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migprofile as mp

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "synthetic"
PARAMS = {"reporting_country": "XFL", "ref_year": 2024}

# Indicators the example cannot hold: id -> (fixture mapping, parameters, reason).
FIXTURES: dict[str, tuple[Path, dict[str, object], str]] = {}


@pytest.fixture(scope="module")
def catalog() -> mp.Catalog:
    return mp.load_catalog(EXAMPLE / "catalog")


@pytest.fixture(scope="module")
def datasets() -> dict[str, mp.Dataset]:
    return {
        m.parent.name: mp.read_source(m) for m in sorted(EXAMPLE.glob("sources/*/mapping.yaml"))
    }


def _candidates(
    indicator: mp.Indicator, datasets: dict[str, mp.Dataset], catalog: mp.Catalog
) -> list[str]:
    needed = {catalog.table_of(t) for t in indicator.terms()}
    names = [
        name
        for name, ds in datasets.items()
        if ds.mapping.kind in indicator.source_kinds and (not needed or needed <= set(ds.tables))
    ]
    # the most specific source first: fewest tables, then by name
    return sorted(names, key=lambda n: (len(datasets[n].tables), n))


def _holds(table: pd.DataFrame, indicator: mp.Indicator) -> bool:
    if table.empty:
        return False
    assert (table["unit"] == indicator.unit).all(), (indicator.id, set(table["unit"]))
    values = table["value"].to_numpy(dtype=float)
    return bool((np.isfinite(values) & (values != 0)).any())


def test_every_indicator_computes_on_the_example_or_a_named_fixture(
    catalog: mp.Catalog, datasets: dict[str, mp.Dataset]
) -> None:
    not_held: dict[str, list[str]] = {}
    held_by: dict[str, str] = {}
    for indicator in catalog.indicators.values():
        if indicator.id in FIXTURES:
            continue
        tried = []
        for name in _candidates(indicator, datasets, catalog):
            try:
                table = mp.compute(datasets[name], indicator.id, params=PARAMS, catalog=catalog)
            except mp.errors.MigprofileError as exc:
                tried.append(f"{name}: {exc}")
                continue
            if _holds(table, indicator):
                held_by[indicator.id] = name
                break
            tried.append(f"{name}: empty or zero")
        else:
            not_held[indicator.id] = tried or ["no source of an accepted kind with its tables"]
    assert not not_held, not_held
    # every source of the example serves some indicator
    assert set(held_by.values()) >= set(datasets) - {"population", "national_accounts"}


def test_indicators_the_example_cannot_hold_compute_on_their_fixture(catalog: mp.Catalog) -> None:
    for indicator, (mapping, params, reason) in FIXTURES.items():
        assert len(reason) > 10
        table = mp.compute(mp.read_source(mapping), indicator, params=params)
        assert _holds(table, catalog.indicator(indicator)), indicator


def test_fixture_exceptions_are_still_indicators(catalog: mp.Catalog) -> None:
    assert set(FIXTURES) <= set(catalog.indicators)
