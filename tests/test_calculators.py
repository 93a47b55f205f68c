"""Derived indicators (measure: derived) and their calculators, on tiny
hand-written tables. Every expected value is worked out by hand in the comment
next to it; every result's unit must be its indicator's unit. Also the
catalogue loader's checks of derived indicators."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migprofile as mp
from conftest import cell_value as _value
from migprofile.compute.calculators import CALCULATORS, get_calculator
from migprofile.errors import CatalogError

PARAMS = {"reporting_country": "MDA", "ref_year": 2024}


def _compute(
    catalog: mp.Catalog,
    tables: dict[str, pd.DataFrame],
    indicator: str,
    by: list[str] | None = None,
    params: dict[str, object] | None = None,
    margins: bool = True,
) -> pd.DataFrame:
    table = mp.compute(
        tables,
        indicator,
        by=by or [],
        margins=margins,
        params={**PARAMS, **(params or {})},
        catalog=catalog,
    )
    assert not table.empty
    assert (table["indicator"] == indicator).all()
    assert (table["unit"] == catalog.indicator(indicator).unit).all()
    return table


# --------------------------------------------------------------------------- flows
# fmt: off
EVENTS = pd.DataFrame(
    [
        ("IMMIGRATION", "F"), ("IMMIGRATION", "M"), ("RETURN", "M"),
        ("EMIGRATION", "F"), ("EMIGRATION", "F"), ("EMIGRATION", "M"), ("EMIGRATION", "M"),
        ("NATURALISATION", "F"),
    ],
    columns=["event_type", "sex"],
)
SERIES = pd.DataFrame(
    [
        # series_id,             origin, ref_area, sex, time, education, unit,    value
        ("POPULATION",           None,  "MDA", "F",  2024, None,    "person", 500.0),
        ("POPULATION",           None,  "MDA", "M",  2024, None,    "person", 500.0),
        ("MIGRANT_STOCK",        "MDA", "ITA", "_T", 2024, None,    "person",  30.0),
        ("MIGRANT_STOCK",        "MDA", "RUS", "_T", 2024, None,    "person",  50.0),
        ("MIGRANT_STOCK",        "MDA", "DEU", "_T", 2024, None,    "person",   5.0),
        ("MIGRANT_STOCK",        "MDA", "ITA", "_T", 2023, None,    "person",  25.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "ITA", "_T", 2024, "ED5-8", "person",  12.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "ITA", "_T", 2024, "ED3_4", "person",  10.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "ITA", "_T", 2024, "ED0-2", "person",   8.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "ITA", "_T", 2024, "_U",    "person",   2.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "RUS", "_T", 2024, "ED5-8", "person",   6.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "RUS", "_T", 2024, "ED3_4", "person",  20.0),
        ("MIGRANT_STOCK_25PLUS", "MDA", "RUS", "_T", 2024, "ED0-2", "person",  14.0),
    ],
    columns=["series_id", "origin", "ref_area", "sex", "time_period", "education", "unit",
             "value"],
)
# fmt: on


def test_net_migration(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "NET_MIGRATION", by=["sex"])
    # immigration (IMMIGRATION + RETURN): F 1, M 2, total 3; emigration: F 2, M 2, total 4
    assert _value(table, sex="_T") == -1  # 3 - 4
    assert _value(table, sex="F") == -1  # 1 - 2
    assert _value(table, sex="M") == 0  # 2 - 2
    # register counts: no sampling error, and the rows say so
    assert table["se"].isna().all()
    assert table["findings"].str.contains("NO_SAMPLING_ERROR").all()
    assert table["findings"].str.contains("DERIVED").all()


def test_crude_net_migration_rate(catalog: mp.Catalog) -> None:
    tables = {"events": EVENTS, "series": SERIES}
    table = _compute(catalog, tables, "CNMR", by=["sex"])
    # (3 - 4) / (500 + 500) x 1000 = -1
    assert _value(table, sex="_T") == pytest.approx(-1.0)
    # women: (1 - 2) / 500 x 1000 = -2; men: (2 - 2) / 500 x 1000 = 0
    assert _value(table, sex="F") == pytest.approx(-2.0)
    assert _value(table, sex="M") == pytest.approx(0.0)


# --------------------------------------------------------------------------- emigration rates
# Reporting country MDA. Row 4 is under 25, row 5 has no attainment, row 6 is
# not a usual resident.
# fmt: off
RESIDENTS = pd.DataFrame(
    [
        # ur,    age, cob,   edu,   w
        (True,   30, "MDA", "ED6",  10),  # 1
        (True,   40, "MDA", "ED3",  20),  # 2
        (True,   50, "ROU", "ED7",   5),  # 3
        (True,   20, "MDA", "ED3",   5),  # 4
        (True,   60, "MDA", None,   10),  # 5
        (False,  35, "MDA", "ED6", 100),  # 6
    ],
    columns=["usual_resident", "age", "country_of_birth", "education", "weight"],
)
# fmt: on
MIRROR_AND_RESIDENTS = {"series": SERIES, "persons": RESIDENTS}


def test_emigration_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, MIRROR_AND_RESIDENTS, "EMIG_RATE")
    # E = ITA 30 + RUS 50 + DEU 5 = 85 (2024, both sexes); N = native-born
    # residents 1, 2, 4, 5 = 10 + 20 + 5 + 10 = 45; E / (E + N) = 85 / 130
    assert _value(table) == pytest.approx(100 * 85 / 130)


def test_tertiary_emigration_rate_follows_its_denominator_parameter(
    catalog: mp.Catalog,
) -> None:
    table = _compute(catalog, MIRROR_AND_RESIDENTS, "EMIG_RATE_TERTIARY")
    # tertiary emigrants 25+: ITA 12 + RUS 6 = 18; ALL_RESIDENTS (default):
    # tertiary residents 25+ rows 1 (10) and 3 (5) = 15 -> 18 / 33
    assert _value(table) == pytest.approx(100 * 18 / 33)
    assert "tertiary_denominator=ALL_RESIDENTS" in table["parameters"].iloc[0]
    native = _compute(
        catalog,
        MIRROR_AND_RESIDENTS,
        "EMIG_RATE_TERTIARY",
        params={"tertiary_denominator": "NATIVE_BORN"},
    )
    # native-born tertiary residents 25+: row 1 (10) -> 18 / 28
    assert _value(native) == pytest.approx(100 * 18 / 28)
    assert "tertiary_denominator=NATIVE_BORN" in native["parameters"].iloc[0]
    with pytest.raises(mp.ComputeError, match="tertiary_denominator"):
        _compute(
            catalog, MIRROR_AND_RESIDENTS, "EMIG_RATE_TERTIARY",
            params={"tertiary_denominator": "NOBODY"},
        )  # fmt: skip


def test_emigrants_25plus_per_residents_25plus(catalog: mp.Catalog) -> None:
    # emigrants 25+ of known attainment: ITA 12 + 10 + 8 = 30, RUS 6 + 20 + 14 = 40,
    # 70 in all (the _U row is left out)
    all_res = _compute(catalog, MIRROR_AND_RESIDENTS, "EMIG_25PLUS_PER_RESIDENT_25PLUS")
    # residents 25+ of known attainment: rows 1 (10), 2 (20), 3 (5) = 35
    assert _value(all_res) == pytest.approx(100 * 70 / 35)
    native = _compute(catalog, MIRROR_AND_RESIDENTS, "EMIG_25PLUS_PER_NATIVE_25PLUS")
    # native-born: rows 1 and 2 = 30
    assert _value(native) == pytest.approx(100 * 70 / 30)


def test_emigration_rate_25plus_and_selectivity(catalog: mp.Catalog) -> None:
    rate = _compute(catalog, MIRROR_AND_RESIDENTS, "EMIG_RATE_25PLUS")
    # 70 / (70 + 35)
    assert _value(rate) == pytest.approx(100 * 70 / 105)
    selectivity = _compute(catalog, MIRROR_AND_RESIDENTS, "EMIG_SELECTIVITY")
    # (18 / 33) / (70 / 105) = 0.5454... / 0.6666... = 0.81818...
    assert _value(selectivity) == pytest.approx((18 / 33) / (70 / 105))
    native = _compute(
        catalog,
        MIRROR_AND_RESIDENTS,
        "EMIG_SELECTIVITY",
        params={"tertiary_denominator": "NATIVE_BORN"},
    )
    # (18 / 28) / (70 / 100) = 0.642857 / 0.7 = 0.918367
    assert _value(native) == pytest.approx((18 / 28) / 0.7)


# seven destinations: 40, 20, 10, 10, 8, 7, 5 (sum 100); a female row and an
# aggregate (150, Europe) that EMIG_STOCK leaves out
DIASPORA = pd.DataFrame(
    {
        "series_id": "MIGRANT_STOCK",
        "origin": "MDA",
        "ref_area": ["RUS", "ROU", "ITA", "UKR", "USA", "DEU", "FRA", "ITA", "150"],
        "sex": ["_T"] * 7 + ["F", "_T"],
        "time_period": 2024,
        "value": [40.0, 20.0, 10.0, 10.0, 8.0, 7.0, 5.0, 6.0, 99.0],
    }
)


def test_diaspora_top5_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": DIASPORA}, "DIASPORA_TOP5_SHARE")
    # 40 + 20 + 10 + 10 + 8 = 88 of 100
    assert _value(table) == pytest.approx(88.0)
    assert "SE_NOT_DERIVED_RANKING" in table["findings"].iloc[0]


def test_diaspora_herfindahl(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": DIASPORA}, "DIASPORA_HHI")
    # 0.4² + 0.2² + 0.1² + 0.1² + 0.08² + 0.07² + 0.05²
    # = 0.16 + 0.04 + 0.01 + 0.01 + 0.0064 + 0.0049 + 0.0025 = 0.2338
    assert _value(table) == pytest.approx(0.2338)


# --------------------------------------------------------------------------- labour
# Working-age residents. Foreign-born (ROU): F EMP, M EMP, F UNE, M INA;
# native-born (MDA): F EMP, M EMP, M EMP, F UNE, F INA. A child (10) and a
# person of unknown status are in neither group.
# fmt: off
WORKERS = pd.DataFrame(
    [
        # status, cob,   sex, age, lf,    edu,   occ
        ("FB", "ROU", "F", 30, "EMP", "ED6", "OC5"),
        ("FB", "ROU", "M", 40, "EMP", "ED6", "OC2"),
        ("FB", "ROU", "F", 35, "UNE", "ED3", None),
        ("FB", "ROU", "M", 50, "INA", "ED3", None),
        ("NB", "MDA", "F", 30, "EMP", "ED7", "OC2"),
        ("NB", "MDA", "M", 45, "EMP", "ED6", "OC2"),
        ("NB", "MDA", "M", 55, "EMP", "ED3", "OC9"),
        ("NB", "MDA", "F", 25, "UNE", "ED3", None),
        ("NB", "MDA", "F", 60, "INA", "ED2", None),
        ("NB", "MDA", "M", 10, None,  "ED1", None),
        ("_U", None,  "F", 33, "EMP", "ED6", "OC5"),
    ],
    columns=["migrant_status", "country_of_birth", "sex", "age", "lf_status", "education",
             "occupation"],
).assign(usual_resident=True)
# fmt: on


def test_labour_market_gaps(catalog: mp.Catalog) -> None:
    lfpr = _compute(catalog, {"persons": WORKERS}, "LFPR_GAP_FB_NB", by=["sex"])
    # FB: 3 in the labour force of 4 = 75 %; NB: 4 of 5 = 80 % -> -5 points
    assert _value(lfpr, sex="_T") == pytest.approx(-5.0)
    # women: FB 2 of 2 = 100 %, NB 2 of 3 = 66.67 % -> +33.33 points
    assert _value(lfpr, sex="F") == pytest.approx(100 - 200 / 3)
    epr = _compute(catalog, {"persons": WORKERS}, "EPR_GAP_FB_NB")
    # FB 2 of 4 = 50 %, NB 3 of 5 = 60 %
    assert _value(epr) == pytest.approx(-10.0)
    ur = _compute(catalog, {"persons": WORKERS}, "UR_GAP_FB_NB")
    # FB 1 of 3 = 33.33 %, NB 1 of 4 = 25 %
    assert _value(ur) == pytest.approx(100 / 3 - 25)
    overqual = _compute(catalog, {"persons": WORKERS}, "OVERQUAL_GAP_FB_NB")
    # tertiary employed 20-64: FB OC5 (over-qualified) and OC2 = 50 %; NB OC2, OC2 = 0 %
    assert _value(overqual) == pytest.approx(50.0)


def test_gap_of_a_survey_has_an_independence_standard_error(catalog: mp.Catalog) -> None:
    weighted = WORKERS.assign(weight=[2.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    table = mp.compute(weighted, "EPR_GAP_FB_NB", params=PARAMS, catalog=catalog, margins=False)
    parts = [
        mp.compute(
            weighted, "EPR_BY_MIG", by=["migrant_status"], params=PARAMS, catalog=catalog,
            margins=False,
        ).set_index("migrant_status").loc[status]
        for status in ("FB", "NB")
    ]  # fmt: skip
    # FB weighted: employed 2 + 1 = 3 of 2 + 1 + 1 + 1 = 5 -> 60 %; NB 60 % -> 0
    assert float(table["value"].iloc[0]) == pytest.approx(0.0)
    expected = math.sqrt(float(parts[0]["se"]) ** 2 + float(parts[1]["se"]) ** 2)
    assert float(table["se"].iloc[0]) == pytest.approx(expected)
    assert "SE_ASSUMES_INDEPENDENCE" in table["findings"].iloc[0]


def test_occupational_location_quotient(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": WORKERS}, "OCC_CONCENTRATION_MIG")
    # employed: FB OC5, OC2; NB OC2, OC2, OC9; unknown-status OC5 (not foreign-born
    # by country of birth: missing) -> 6 employed, 2 foreign-born: 33.33 %
    # OC2: 1 of 3 = 33.33 % -> 1.0; OC5: 1 of 2 = 50 % -> 1.5; OC9: 0 of 1 -> 0
    assert set(table["occupation"]) == {"OC2", "OC5", "OC9"}
    assert _value(table, occupation="OC2") == pytest.approx(1.0)
    assert _value(table, occupation="OC5") == pytest.approx(1.5)
    assert _value(table, occupation="OC9") == pytest.approx(0.0)


# --------------------------------------------------------------------------- children
# fmt: off
CHILDREN = pd.DataFrame(
    [
        # age, mother,     father,     attends
        (8,  "ABROAD",    "HOUSEHOLD", True),
        (12, "HOUSEHOLD", "ABROAD",    False),
        (15, "ABROAD",    "ABROAD",    True),
        (7,  "HOUSEHOLD", "HOUSEHOLD", True),
        (10, "DK",        "HOUSEHOLD", True),
        (16, None,        None,        True),
        (9,  "HOUSEHOLD", "DEAD",      True),
        (4,  "ABROAD",    "HOUSEHOLD", False),  # too young
    ],
    columns=["age", "mother_loc", "father_loc", "attends_school"],
).assign(usual_resident=True)
# fmt: on


def test_school_attendance_gap_of_children_left_behind(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": CHILDREN}, "SCHOOL_ATT_GAP_CLB")
    # 6-17 with a parent abroad: ages 8, 12, 15 -> 2 of 3 attend (66.67 %);
    # no parent abroad (DK and missing included): 7, 10, 16, 9 -> 4 of 4 (100 %)
    assert _value(table) == pytest.approx(200 / 3 - 100)


# --------------------------------------------------------------------------- return
def test_return_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS, "series": SERIES}, "RETURN_RATE")
    # returns in 2024: 1; emigrants abroad in 2023 (ref_year - 1): ITA 25
    assert _value(table) == pytest.approx(100 * 1 / 25)
    assert "ref_year=2024" in table["parameters"].iloc[0]


# fmt: off
RETURNEES = pd.DataFrame(
    [
        # cit,   abroad, year, sex, w
        ("MDA", True,  2020, "F", 2),
        ("MDA", True,  2019, "M", 1),
        ("MDA", True,  2018, "M", 1),
        ("MDA", True,  None, "F", 1),
        ("MDA", False, 2022, "F", 1),
        ("ROU", True,  2021, "M", 1),
    ],
    columns=["citizenship", "lived_abroad_12m", "year_of_return", "sex", "weight"],
).assign(usual_resident=True)
# fmt: on


def test_recent_return_migrants(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": RETURNEES}, "RECENT_RETURN_MIGRANT_STOCK", by=["sex"])
    # since 2024 - 5 = 2019: 2020 (2) and 2019 (1); 2018, missing, not abroad and
    # the ROU citizen are not counted
    assert _value(table, sex="_T") == 3
    assert _value(table, sex="F") == 2
    assert "recent_since_year=2019" in table["parameters"].iloc[0]
    ten = _compute(catalog, {"persons": RETURNEES}, "RECENT_RETURN_MIGRANT_STOCK",
                   params={"recent_years": 10})  # fmt: skip
    # since 2014: 2 + 1 + 1
    assert _value(ten) == 4


# --------------------------------------------------------------------------- stocks
# fmt: off
FAMILIES = pd.DataFrame(
    [
        # ur,    sex, age, cob,   mother, father, w
        (True,  "F", 10, "MDA", "ROU", "ROU", 1),
        (True,  "M", 12, "MDA", "ROU", "MDA", 1),
        (True,  "F", 40, "MDA", "MDA", "MDA", 1),
        (True,  "M", 42, "MDA", "MDA", "MDA", 1),
        (True,  "F", 38, "ROU", "ROU", "ROU", 2),
        (False, "M", 30, "MDA", "MDA", "MDA", 5),
    ],
    columns=["usual_resident", "sex", "age", "country_of_birth", "mother_cob", "father_cob",
             "weight"],
)
# fmt: on


def test_resident_population(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": FAMILIES}, "POP_RESIDENT", by=["sex", "age:broad_3"])
    # usual residents: 1 + 1 + 1 + 1 + 2 = 6 (the non-resident's 5 left out)
    assert _value(table, sex="_T", age="_T") == 6
    # women: 1 + 1 + 2 = 4; children under 15: 2; boys under 15: 1
    assert _value(table, sex="F", age="_T") == 4
    assert _value(table, sex="_T", age="Y_LT15") == 2
    assert _value(table, sex="M", age="Y_LT15") == 1


def test_second_generation_follows_the_parent_rule(catalog: mp.Catalog) -> None:
    default = _compute(catalog, {"persons": FAMILIES}, "SECOND_GEN_SHARE")
    # residents 6; native-born with a foreign-born parent: rows 1, 2 -> 2 of 6
    assert _value(default) == pytest.approx(100 * 2 / 6)
    assert "parent_rule=ANY" in default["parameters"].iloc[0]
    both = _compute(catalog, {"persons": FAMILIES}, "SECOND_GEN_SHARE",
                    params={"parent_rule": "BOTH"})  # fmt: skip
    # both parents foreign-born: row 1 -> 1 of 6
    assert _value(both) == pytest.approx(100 * 1 / 6)


# Destination table: three countries and an M49 region (150) that the
# published populations leave out; a population in thousands is excluded.
# fmt: off
DESTINATIONS = pd.DataFrame(
    [
        # series,          area,  sex,  year, unit,          value
        ("MIGRANT_STOCK", "DEU", "_T", 2020, "person",        150.0),
        ("MIGRANT_STOCK", "DEU", "F",  2020, "person",         70.0),
        ("MIGRANT_STOCK", "DEU", "M",  2020, "person",         80.0),
        ("MIGRANT_STOCK", "FRA", "_T", 2020, "person",         60.0),
        ("MIGRANT_STOCK", "FRA", "F",  2020, "person",         30.0),
        ("MIGRANT_STOCK", "FRA", "M",  2020, "person",         30.0),
        ("MIGRANT_STOCK", "MDA", "_T", 2020, "person",         10.0),
        ("MIGRANT_STOCK", "150", "_T", 2020, "person",        210.0),
        ("MIGRANT_STOCK", "DEU", "_T", 2015, "person",        100.0),
        ("MIGRANT_STOCK", "FRA", "_T", 2015, "person",         60.0),
        ("POPULATION",    "DEU", "_T", 2020, "person",       1000.0),
        ("POPULATION",    "FRA", "_T", 2020, "person",        500.0),
        ("POPULATION",    "MDA", "_T", 2020, "1e3 person",      4.0),
    ],
    columns=["series_id", "ref_area", "sex", "time_period", "unit", "value"],
)
# fmt: on
Y2020 = {"ref_year": 2020}


def test_published_stock_by_country_and_its_total(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": DESTINATIONS}, "IMM_STOCK_PUBLISHED",
                     by=["ref_area"], params=Y2020)  # fmt: skip
    assert _value(table, ref_area="DEU") == 150
    # all countries of the table: 150 + 60 + 10 (the region 150 is left out),
    # labelled _T: it is not the reporting country's figure
    assert _value(table, ref_area="_T") == 220


def test_published_stock_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": DESTINATIONS}, "IMM_STOCK_SHARE_PUBLISHED",
                     by=["ref_area"], params=Y2020)  # fmt: skip
    assert _value(table, ref_area="DEU") == pytest.approx(15.0)  # 150 / 1000
    # MDA's population is in thousands: excluded, so MDA has no denominator
    assert np.isnan(_value(table, ref_area="MDA"))
    # margin: (150 + 60 + 10) / (1000 + 500)
    assert _value(table, ref_area="_T") == pytest.approx(100 * 220 / 1500)


def test_published_female_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": DESTINATIONS}, "IMM_FEMALE_SHARE_PUBLISHED",
                     by=["ref_area"], params=Y2020)  # fmt: skip
    assert _value(table, ref_area="DEU") == pytest.approx(100 * 70 / 150)
    # MDA has no sex detail: in neither term; (70 + 30) / (150 + 60)
    assert _value(table, ref_area="_T") == pytest.approx(100 * 100 / 210)


def test_annual_rate_of_change_of_the_stock(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": DESTINATIONS}, "IMM_STOCK_CHANGE_RATE",
                     by=["ref_area"], params=Y2020)  # fmt: skip
    # DEU: 100 ln(150 / 100) / 5 = 8.1093 % a year; FRA unchanged: 0
    assert _value(table, ref_area="DEU") == pytest.approx(100 * math.log(1.5) / 5)
    assert _value(table, ref_area="FRA") == pytest.approx(0.0)
    # MDA has no 2015 figure: no value
    assert np.isnan(_value(table, ref_area="MDA"))
    # margin: the 2015 total (160) lacks MDA: 100 ln(220 / 160) / 5
    assert _value(table, ref_area="_T") == pytest.approx(100 * math.log(220 / 160) / 5)


def test_rate_of_change_when_the_earlier_year_is_absent_everywhere(catalog: mp.Catalog) -> None:
    # 2015 is the earliest year of the fixture: 2010 has no row at all, so the
    # earlier input is empty; every cell has no value and says why.
    table = _compute(catalog, {"series": DESTINATIONS}, "IMM_STOCK_CHANGE_RATE",
                     by=["ref_area"], params={**Y2020, "ref_year": 2015})  # fmt: skip
    assert len(table) > 0
    assert table["value"].isna().all()
    assert table["findings"].str.contains("INPUT_MISSING").all()


# --------------------------------------------------------------------------- the loader


def _write(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "office"
    folder.mkdir()
    (folder / "derived.yaml").write_text(body, encoding="utf-8")
    return folder


_DERIVED = """\
indicators:
  - id: MY_GAP
    name: A gap
    domain: labour
    definition: test
    measure: derived
    calculator: {calculator}
    inputs:
{inputs}
    unit: {unit}
    breakdowns: [sex]
    source_kinds: [survey]
    standard: none
    comparability: test
    sectors: [labour]
"""
_GAP_INPUTS = """\
      minuend: {indicator: LFPR_BY_MIG, where: "migrant_status == 'FB'"}
      subtrahend: {indicator: LFPR_BY_MIG, where: "migrant_status == 'NB'"}"""


def test_unknown_calculator_is_a_catalog_error_with_file_and_line(tmp_path: Path) -> None:
    folder = _write(
        tmp_path,
        _DERIVED.format(calculator="gapp", inputs=_GAP_INPUTS, unit="percentage_point"),
    )
    with pytest.raises(CatalogError) as info:
        mp.load_catalog(folder)
    (problem,) = [p for p in info.value.problems if p.code == "unknown_calculator"]
    assert problem.file is not None and problem.file.endswith("derived.yaml")
    assert problem.line == 2
    assert problem.id == "MY_GAP" and problem.value == "gapp"
    assert "difference" in problem.message  # names the registered ones


def test_derived_indicator_checks(tmp_path: Path) -> None:
    folder = _write(
        tmp_path,
        _DERIVED.format(calculator="difference", inputs=_GAP_INPUTS, unit="percent")
        + """
  - id: LOOP_A
    name: loop
    domain: labour
    definition: test
    measure: derived
    calculator: select
    inputs: {input: {indicator: LOOP_B}}
    unit: percent
    source_kinds: [survey]
    standard: none
    comparability: test
    sectors: [labour]
  - id: LOOP_B
    name: loop
    domain: labour
    definition: test
    measure: derived
    calculator: select
    inputs: {input: {indicator: LOOP_A}, extra: {indicator: NOWHERE}}
    unit: percent
    source_kinds: [survey]
    standard: none
    comparability: test
    sectors: [labour]
""",
    )
    problems = mp.catalog_problems(folder)
    codes = {(p.id, p.code) for p in problems}
    # a difference of percentages is in percentage points
    assert ("MY_GAP", "bad_unit") in codes
    # its inputs use @reporting_country through migrant_status? no: the where
    # filters only name migrant_status, so no parameter is missing
    assert ("MY_GAP", "undeclared_parameter") not in codes
    assert ("LOOP_A", "input_cycle") in codes
    assert ("LOOP_B", "bad_inputs") in codes
    assert ("LOOP_B", "unknown_indicator") in codes


def test_a_derived_indicator_has_no_numerator() -> None:
    with pytest.raises(ValueError, match="no numerator or denominator"):
        mp.Indicator.model_validate(
            {
                "id": "X", "name": "x", "domain": "labour", "definition": "x",
                "measure": "derived", "calculator": "difference",
                "inputs": {"minuend": {"indicator": "A"}, "subtrahend": {"indicator": "B"}},
                "numerator": {"population": "usual_residents"},
                "unit": "person", "source_kinds": ["survey"], "standard": "none",
                "comparability": "x",
            }
        )  # fmt: skip


def test_every_calculator_is_used_and_documented(catalog: mp.Catalog) -> None:
    used = {ind.calculator for ind in catalog.indicators.values() if ind.is_derived}
    assert used == set(CALCULATORS)
    for name in CALCULATORS:
        assert get_calculator(name).summary
    with pytest.raises(KeyError, match="registered"):
        get_calculator("nope")


# ------------------------------------------------- distributions (relative_to_total)
# The fixtures are the hand-commented tables of the domain tests (reporting
# country MDA, as PARAMS here).


def _compute_with(
    catalog: mp.Catalog,
    tables: dict[str, pd.DataFrame],
    params: dict[str, object],
    indicator: str,
    by: list[str] | None = None,
) -> pd.DataFrame:
    table = mp.compute(tables, indicator, by=by or [], params=params, catalog=catalog)
    assert not table.empty
    assert (table["unit"] == catalog.indicator(indicator).unit).all()
    return table


def test_imm_origin_dist(catalog: mp.Catalog) -> None:
    from test_indicators_emigration import PERSONS

    persons = {"persons": PERSONS}
    table = _compute_with(catalog, persons, PARAMS, "IMM_ORIGIN_DIST")
    # foreign-born 7: ROU rows 1 (2) and 5 = 3, UKR rows 3 (2) and 4 = 3, RUS row 2 = 1
    assert _value(table, country_of_birth="ROU") == pytest.approx(100 * 3 / 7)
    assert _value(table, country_of_birth="UKR") == pytest.approx(100 * 3 / 7)
    assert _value(table, country_of_birth="RUS") == pytest.approx(100 * 1 / 7)
    assert "_T" not in set(table["country_of_birth"])
    # by M49 region: Romania, Russia and Ukraine are all in Europe (150): 7 / 7
    regions = _compute_with(
        catalog, persons, PARAMS, "IMM_ORIGIN_DIST", by=["country_of_birth:region"]
    )
    assert _value(regions, country_of_birth="150") == pytest.approx(100.0)
    # within sex F: rows 1 (ROU, 2) and 3 (UKR, 2): 50 % each
    by_sex = _compute_with(catalog, persons, PARAMS, "IMM_ORIGIN_DIST", by=["sex"])
    assert _value(by_sex, sex="F", country_of_birth="ROU") == pytest.approx(50.0)


def test_first_permits_reason_distribution(catalog: mp.Catalog) -> None:
    from test_indicators_flows import EVENTS

    events = {"events": EVENTS}
    table = _compute_with(catalog, events, PARAMS, "FIRST_PERMITS_REASON_DIST")
    # rows 12-15: WORK_SEASONAL, WORK, FAMILY, missing: each known reason 1 / 4
    assert _value(table, reason_migration="WORK_SEASONAL") == pytest.approx(25.0)
    assert _value(table, reason_migration="FAMILY") == pytest.approx(25.0)
    rolled = _compute_with(
        catalog, events, PARAMS, "FIRST_PERMITS_REASON_DIST", by=["reason_migration:reason"]
    )
    # WORK = WORK_SEASONAL + WORK = 2 / 4; the missing reason is the unknown
    # cell _U (1 / 4), so the cells add up to 100
    assert _value(rolled, reason_migration="WORK") == pytest.approx(50.0)
    assert _value(rolled, reason_migration="_U") == pytest.approx(25.0)
    assert rolled["value"].sum() == pytest.approx(100.0)
    # no permit at all (only immigration events): no row, and no error when
    # the breakdown names the calculator's own dimension
    others = {"events": EVENTS[EVENTS["event_type"] != "FIRST_PERMIT"]}
    none = mp.compute(others, "FIRST_PERMITS_REASON_DIST", by=["reason_migration"],
                      params=PARAMS, catalog=catalog)  # fmt: skip
    assert none.empty


TESTED = {
    "NET_MIGRATION", "CNMR", "EMIG_RATE", "EMIG_RATE_TERTIARY", "EMIG_RATE_25PLUS",
    "EMIG_25PLUS_PER_RESIDENT_25PLUS", "EMIG_25PLUS_PER_NATIVE_25PLUS", "EMIG_SELECTIVITY",
    "DIASPORA_TOP5_SHARE", "DIASPORA_HHI", "LFPR_GAP_FB_NB", "EPR_GAP_FB_NB", "UR_GAP_FB_NB",
    "OVERQUAL_GAP_FB_NB", "OCC_CONCENTRATION_MIG", "SCHOOL_ATT_GAP_CLB", "RETURN_RATE",
    "RECENT_RETURN_MIGRANT_STOCK", "POP_RESIDENT", "SECOND_GEN_SHARE", "IMM_STOCK_PUBLISHED",
    "IMM_STOCK_SHARE_PUBLISHED", "IMM_FEMALE_SHARE_PUBLISHED", "IMM_STOCK_CHANGE_RATE",
    "IMM_ORIGIN_DIST", "FIRST_PERMITS_REASON_DIST",
}  # fmt: skip


def test_every_derived_indicator_is_tested_here(catalog: mp.Catalog) -> None:
    derived = {i for i, ind in catalog.indicators.items() if ind.is_derived}
    assert derived <= TESTED


def test_person_level_derived_indicators_allow_sex_and_region(catalog: mp.Catalog) -> None:
    # issue 5: sex and region for every person-level indicator, derived ones
    # included (those whose inputs are all computed from the persons table)
    def person_level(ind: mp.Indicator) -> bool:
        if not ind.is_derived:
            return bool(ind.terms()) and all(
                catalog.table_of(t) == "persons" for t in ind.terms()
            )
        return all(
            person_level(catalog.indicator(target))
            for spec in ind.inputs.values()
            for target in spec.candidates()
        )

    checked = [i for i in catalog.indicators.values() if i.is_derived and person_level(i)]
    assert {i.id for i in checked} >= {"LFPR_GAP_FB_NB", "SCHOOL_ATT_GAP_CLB", "SECOND_GEN_SHARE"}
    for ind in checked:
        assert {"sex", "region"} <= set(ind.breakdowns), ind.id
