"""Published and mirror tables: the official UN DESA workbook and the
bilateral file, read through mappings, reproduce the published figures
(../shared/data/SOURCES.md; DOMAIN.md 6.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import migprofile as mp
from conftest import TESTS
from migprofile.sources import read_source

PUBLISHED = TESTS / "data" / "published"
WORLD_2020 = 280_598_105  # UN DESA IMS 2020, Table 1, WORLD, both sexes, 2020


@pytest.fixture(scope="module")
def destination() -> pd.DataFrame:
    return read_source(PUBLISHED / "un_ims2020_destination.yaml")["series"]


@pytest.fixture(scope="module")
def bilateral() -> mp.Dataset:
    return read_source(PUBLISHED / "un_ims2020_bilateral.yaml")


def _cell(frame: pd.DataFrame, series: str, sex: str = "_T", year: int = 2020) -> pd.Series:
    sel = frame[(frame.series_id == series) & (frame.sex == sex) & (frame.time_period == year)]
    return sel.set_index(sel["ref_area"].astype(str))["value"]


def test_countries_of_the_workbook_add_up_to_the_published_world_total(
    destination: pd.DataFrame,
) -> None:
    stock = _cell(destination, "MIGRANT_STOCK")
    assert stock.sum() == WORLD_2020
    # by sex, a few areas publish no breakdown: their cells are missing, not zero
    male = _cell(destination, "MIGRANT_STOCK", "M")
    assert male.isna().sum() == 4  # as in the CSV conversion of Table 1
    assert male.sum() < 145_655_844  # the published world figure includes them
    assert stock["DEU"] == 15_762_457
    assert stock["MDA"] == 104_438


def test_table3_is_table1_over_table2(destination: pd.DataFrame) -> None:
    for sex in ("_T", "M", "F"):
        stock = _cell(destination, "MIGRANT_STOCK", sex)
        pop = _cell(destination, "POPULATION", sex)  # thousands
        pct = _cell(destination, "MIGRANT_STOCK_PCT_POP", sex)
        both = pd.concat({"s": stock, "p": pop, "pct": pct}, axis=1).dropna()
        assert len(both) >= 200
        np.testing.assert_allclose(both["pct"], 100 * both["s"] / (both["p"] * 1000), rtol=1e-12)


def test_aggregates_are_excluded_with_their_reason_and_nothing_is_lost() -> None:
    report = read_source(PUBLISHED / "un_ims2020_destination.yaml").report
    table = report.table("series")
    assert table.rows_read == table.rows_kept + table.rows_rejected
    (rejection,) = table.rejected
    assert "900-series" in rejection.reason
    # 3 sheets x 21 value columns x the aggregate rows of each sheet
    assert rejection.count % 63 == 0
    assert table.rows_read == 3 * 283 * 21


def test_world_total_from_the_bilateral_file(bilateral: mp.Dataset) -> None:
    s = bilateral["series"]
    total = s[(s.sex == "_T") & (s.time_period == 2020)]["value"].sum()
    assert total == WORLD_2020


def test_persons_born_in_moldova_living_abroad(bilateral: mp.Dataset) -> None:
    s = bilateral["series"]
    mda = s[(s.origin == "MDA") & (s.time_period == 2020)]
    by_sex = mda.groupby("sex", observed=True)["value"].sum()
    assert by_sex["_T"] == 1_159_443
    assert by_sex["F"] == 605_123
    assert by_sex["M"] == 554_320
    top = mda[mda.sex == "_T"].set_index(mda.loc[mda.sex == "_T", "ref_area"].astype(str))
    assert top["value"].nlargest(6).to_dict() == {
        "RUS": 294_152,
        "ROU": 285_364,
        "ITA": 194_480,
        "UKR": 152_249,
        "USA": 45_713,
        "DEU": 25_733,
    }


def test_channel_islands_code_is_reported_not_dropped(bilateral: mp.Dataset) -> None:
    col = bilateral.report.column("series", "origin")
    assert [v.value for v in col.unmapped] == ["CHA"]
    assert col.to_unknown == col.unmapped[0].count
