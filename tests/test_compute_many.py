"""compute_many: several tabulations of one dataset equal separate compute()
calls, from one engine pass per table and parameter set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import migprofile as mp
from migprofile.compute.engine import PandasEngine
from migprofile.compute.indicators import Tabulation, compute_many

HERE = Path(__file__).parent


class CountingEngine(PandasEngine):
    """The pandas engine, counting its passes over the data."""

    def __init__(self) -> None:
        super().__init__()
        self.passes = 0

    def run(self, plan: Any, data: Any) -> Any:
        self.passes += 1
        return super().run(plan, data)


@pytest.fixture(scope="module")
def census() -> mp.Dataset:
    return mp.read_source(HERE / "data" / "census" / "mapping.yaml")


TABS = [
    Tabulation.of(["IMM_STOCK", "IMM_STOCK_SHARE"], by=["sex"]),
    Tabulation.of("IMM_STOCK", by=["age:broad_3", "sex"], margins=[["sex"]]),
    Tabulation.of("IMM_STOCK", by=["country_of_birth"]),
    Tabulation.of("IMM_STOCK", by=["age:five_year"], margins=False),
    Tabulation.of("POP_RESIDENT", by=["sex"], where="age >= 18"),
]


def test_equal_to_separate_computations(census: mp.Dataset) -> None:
    together = compute_many(census, TABS)
    assert len(together) == len(TABS)
    for tab, table in zip(TABS, together, strict=True):
        alone = mp.compute(
            census, list(tab.indicators), by=list(tab.by), margins=tab.margins, where=tab.where
        )
        pd.testing.assert_frame_equal(table, alone)
        assert not table.empty


def test_one_pass_per_table(census: mp.Dataset) -> None:
    engine = CountingEngine()
    compute_many(census, TABS, engine=engine)
    # all five tabulations read the persons table with the same parameters
    assert engine.passes == 1
    separate = CountingEngine()
    for tab in TABS:
        mp.compute(census, list(tab.indicators), by=list(tab.by), margins=tab.margins,
                   where=tab.where, engine=separate)  # fmt: skip
    assert separate.passes == len(TABS)


def test_different_parameters_make_separate_passes(census: mp.Dataset) -> None:
    engine = CountingEngine()
    tabs = [
        Tabulation.of("IMM_STOCK", by=["sex"]),
        Tabulation.of("IMM_STOCK", by=["sex"], params={"reporting_country": "ROU"}),
    ]
    first, second = compute_many(census, tabs, engine=engine)
    assert engine.passes == 2
    assert second["parameters"].str.contains("reporting_country=ROU").all()
    assert not first["parameters"].str.contains("reporting_country=ROU").any()
    assert not first["value"].equals(second["value"])
