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


# ------------------------------------------------------------------ through the catalogue
# The published figures reproduced by mp.compute with the catalogue's
# indicators, from the repository's copies of the files. The UN population
# (Table 2) is in thousands and the World Bank remittances in US$ millions:
# the catalogue's populations refuse rows in another unit than persons / USD,
# so the tests first convert them with the unit registry (the conversion a
# source mapping would make), never the indicators' arithmetic.
WB = PUBLISHED / "wb_remittances.yaml"


def _to_base_unit(series: pd.DataFrame, base: str) -> pd.DataFrame:
    """Rows in a scaled unit (``1e3 person``, ``1e6 USD``) rewritten in ``base``."""
    from migprofile import units

    out = series.copy()
    unit = out["unit"].astype(str)
    for text in sorted(set(unit) - {base}):
        power = units.unit_multiplier(text)
        if units.canonical_unit(f"1e{power} {base}") == units.canonical_unit(text):
            rows = unit == text
            out.loc[rows, "value"] = out.loc[rows, "value"] * 10.0**power
            out.loc[rows, "unit"] = base
    return out


def _published_table(cell: str, sheet: str, column: int) -> float:
    """A figure of UN DESA Tables 3-5 read straight from the workbook."""
    frame = pd.read_excel(
        TESTS / "data" / "un_ims2020" / "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx",
        sheet_name=sheet,
        header=None,
    )
    code = {"WORLD": 900, "DEU": 276, "MDA": 498}[cell]
    row = frame[frame[3] == code].iloc[0]
    return float(row[column])


@pytest.fixture(scope="module")
def destination_in_persons(destination: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {"series": _to_base_unit(destination, "person")}


def test_un_stock_share_of_population_for_the_world_and_germany(
    destination_in_persons: dict[str, pd.DataFrame],
) -> None:
    table = mp.compute(
        destination_in_persons, "IMM_STOCK_SHARE_PUBLISHED", by=["ref_area"],
        params={"ref_year": 2020},
    )  # fmt: skip
    germany = float(table.loc[table["ref_area"] == "DEU", "value"].iloc[0])
    world = float(table.loc[table["ref_area"] == "_T", "value"].iloc[0])
    # Table 3, 2020, both sexes (column 11): Germany 18.813219 %, world 3.599812 %
    assert germany == pytest.approx(18.813219, abs=5e-7)
    assert germany == pytest.approx(_published_table("DEU", "Table 3", 11), rel=1e-12)
    # the world is the sum over the 232 countries and areas of the table
    assert world == pytest.approx(3.599812, abs=5e-7)
    assert world == pytest.approx(_published_table("WORLD", "Table 3", 11), rel=1e-9)


def test_un_stock_through_the_catalogue(destination: pd.DataFrame) -> None:
    table = mp.compute(
        {"series": destination}, "IMM_STOCK_PUBLISHED", by=["ref_area"],
        params={"ref_year": 2020},
    )  # fmt: skip
    assert float(table.loc[table["ref_area"] == "_T", "value"].iloc[0]) == WORLD_2020
    assert float(table.loc[table["ref_area"] == "DEU", "value"].iloc[0]) == 15_762_457


def test_un_female_share_of_migrants(destination: pd.DataFrame) -> None:
    table = mp.compute(
        {"series": destination}, "IMM_FEMALE_SHARE_PUBLISHED", by=["ref_area"],
        params={"ref_year": 2020},
    )  # fmt: skip
    for area in ("DEU", "MDA"):
        value = float(table.loc[table["ref_area"] == area, "value"].iloc[0])
        # Table 4, 2020 (column 11): Germany 49.933979 %, Moldova 59.073326 %
        assert value == pytest.approx(_published_table(area, "Table 4", 11), rel=1e-12)
    germany = float(table.loc[table["ref_area"] == "DEU", "value"].iloc[0])
    assert germany == pytest.approx(100 * 7_870_822 / 15_762_457)


def test_un_annual_rate_of_change_of_the_stock(destination: pd.DataFrame) -> None:
    table = mp.compute(
        {"series": destination}, "IMM_STOCK_CHANGE_RATE", by=["ref_area"],
        params={"ref_year": 2020},
    )  # fmt: skip
    for area in ("DEU", "MDA"):
        value = float(table.loc[table["ref_area"] == area, "value"].iloc[0])
        # Table 5, both sexes 2015-2020 (column 10): Germany 8.66487, Moldova -0.367352
        assert value == pytest.approx(_published_table(area, "Table 5", 10), rel=1e-12)
    world = float(table.loc[table["ref_area"] == "_T", "value"].iloc[0])
    # the world row of Table 5: 2.473229 % a year (280,598,105 over 247,958,644)
    assert world == pytest.approx(_published_table("WORLD", "Table 5", 10), rel=1e-9)


def test_persons_born_in_moldova_abroad_through_emig_stock(bilateral: mp.Dataset) -> None:
    table = mp.compute(
        bilateral, "EMIG_STOCK", params={"reporting_country": "MDA", "ref_year": 2020}
    )
    assert float(table["value"].iloc[0]) == 1_159_443
    top5 = mp.compute(
        bilateral, "DIASPORA_TOP5_SHARE", params={"reporting_country": "MDA", "ref_year": 2020}
    )
    # RUS 294,152 + ROU 285,364 + ITA 194,480 + UKR 152,249 + USA 45,713 = 971,958
    assert float(top5["value"].iloc[0]) == pytest.approx(100 * 971_958 / 1_159_443)


def test_world_bank_remittance_inflows_of_moldova() -> None:
    knomad = read_source(WB)
    params = {"reporting_country": "MDA", "ref_year": 2017}
    # in US$ millions as published: the US$ indicator refuses them
    raw = mp.compute(knomad, "REMIT_INFLOW_USD", params=params)
    assert raw.empty or not raw["value"].notna().any()
    in_usd = {"series": _to_base_unit(knomad["series"], "USD")}
    table = mp.compute(in_usd, "REMIT_INFLOW_USD", params=params)
    # 1,639.659968 US$ million in 2017
    assert float(table["value"].iloc[0]) == pytest.approx(1_639.659968e6, rel=1e-12)
    assert (table["unit"] == "USD").all()
    # the 2018e estimate and the share column (a fraction) are not read as years
    assert set(knomad["series"]["time_period"].dropna().astype(int)) == set(range(1970, 2018))
