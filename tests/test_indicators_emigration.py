"""Stocks, emigration, remittances and children-left-behind indicators
(indicators/stocks.yaml, emigration.yaml, remittances.yaml, children.yaml) on
tiny hand-written tables. Every expected value is worked out by hand in the
comment next to it; every result's unit must be its indicator's unit.

Weights: a frame with a weight column other than 1 is read as a weighted
sample, so the expected values are weighted sums (Σw)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import migprofile as mp
from conftest import REPO, TESTS, indicator_ids
from conftest import cell_value as _value

PARAMS = {"reporting_country": "MDA", "ref_year": 2024}
FILES = ("stocks.yaml", "emigration.yaml", "remittances.yaml", "children.yaml")


def _compute(
    catalog: mp.Catalog,
    tables: dict[str, pd.DataFrame],
    indicator: str,
    by: list[str] | None = None,
    params: dict[str, object] | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    table = mp.compute(
        tables,
        indicator,
        by=by or [],
        where=where,
        params={**PARAMS, **(params or {})},
        catalog=catalog,
    )
    assert not table.empty
    assert (table["unit"] == catalog.indicator(indicator).unit).all()
    return table


# --------------------------------------------------------------------------- persons (stocks)
# Reporting country MDA. Row 11 is not a usual resident; row 10 has no country
# of birth; row 5 has sex _U and years since arrival _U; row 4 is stateless
# with no citizenship; row 9 has a missing stateless flag and father's
# birthplace; row 12's father was born in "XXX" (other/unknown, geo special).
# Weights: row 1 = 2, row 3 = 2, row 8 = 3, the others 1.
# fmt: off
PERSONS = pd.DataFrame(
    [
        # ur,   sex,  age, cob,   cit,   stateless, ysa,     mother, father, region, urb,   edu,   w
        (True,  "F",  30, "ROU", "ROU", False, "Y1T4",   "ROU", "ROU", "R1", "URB", "ED6", 2),  # 1
        (True,  "M",  45, "RUS", "MDA", False, "Y1T4",   "RUS", "RUS", "R1", "RUR", "ED3", 1),  # 2
        (True,  "F",  60, "UKR", "MDA", False, "Y10T19", "UKR", "UKR", "R2", "URB", "ED2", 2),  # 3
        (True,  "M",  25, "UKR", None,  True,  "Y_LT1",  "UKR", "UKR", "R2", "RUR", "ED5", 1),  # 4
        (True,  "_U", 33, "ROU", "ROU", False, "_U",     "ROU", "ROU", "R2", "URB", "ED3", 1),  # 5
        (True,  "M",  10, "MDA", "MDA", False, None,     "UKR", "MDA", "R1", "URB", "ED1", 1),  # 6
        (True,  "F",  12, "MDA", "MDA", False, None,     "ROU", "RUS", "R1", "URB", "ED1", 1),  # 7
        (True,  "M",  40, "MDA", "MDA", False, None,     "MDA", "MDA", "R2", "RUR", "ED7", 3),  # 8
        (True,  "F",   8, "MDA", "MDA", None,  None,     "UKR", None,  "R2", "RUR", "ED1", 1),  # 9
        (True,  "M",  50, None,  "MDA", False, None,     None,  None,  "R1", "URB", "ED3", 1),  # 10
        (False, "F",  35, "ITA", "ITA", False, "Y1T4",   "ITA", "ITA", "R1", "URB", "ED6", 1),  # 11
        (True,  "F",  20, "MDA", "ROU", False, None,     "MDA", "XXX", "R1", "URB", "ED3", 1),  # 12
    ],
    columns=[
        "usual_resident", "sex", "age", "country_of_birth", "citizenship", "stateless",
        "years_since_arrival", "mother_cob", "father_cob", "region", "urbanisation",
        "education", "weight",
    ],
)
# fmt: on
# usual residents: every row but 11, weights 2+1+2+1+1+1+1+3+1+1+1 = 15
# foreign-born residents: rows 1 (2), 2, 3 (2), 4, 5 = 7


def test_imm_stock(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": PERSONS}, "IMM_STOCK", by=["sex"])
    assert _value(table, sex="_T") == 7  # rows 1 (2), 2, 3 (2), 4, 5
    assert _value(table, sex="F") == 4  # rows 1 (2) and 3 (2)
    assert _value(table, sex="M") == 2  # rows 2 and 4
    assert _value(table, sex="_U") == 1  # row 5


def test_imm_stock_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": PERSONS}, "IMM_STOCK_SHARE", by=["region"])
    # 7 foreign-born / 15 residents; row 10 (birthplace missing) stays in the denominator
    assert _value(table, region="_T") == pytest.approx(100 * 7 / 15)
    # R1: residents 1 (2), 2, 6, 7, 10, 12 = 7, foreign-born 1 (2), 2 = 3
    assert _value(table, region="R1") == pytest.approx(100 * 3 / 7)
    # R2: residents 3 (2), 4, 5, 8 (3), 9 = 8, foreign-born 3 (2), 4, 5 = 4
    assert _value(table, region="R2") == pytest.approx(50.0)


def test_foreign_citizens_stock_and_share(catalog: mp.Catalog) -> None:
    stock = _compute(catalog, {"persons": PERSONS}, "FOREIGN_CIT_STOCK")
    # ROU citizens 1 (2), 5, 12; row 4 is stateless, row 11 not resident
    assert _value(stock) == 4
    share = _compute(catalog, {"persons": PERSONS}, "FOREIGN_CIT_SHARE", by=["sex"])
    assert _value(share, sex="_T") == pytest.approx(100 * 4 / 15)
    # women: residents 1 (2), 3 (2), 7, 9, 12 = 7; foreign citizens 1 (2), 12 = 3
    assert _value(share, sex="F") == pytest.approx(100 * 3 / 7)


def test_stateless_stock(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": PERSONS}, "STATELESS_STOCK", by=["sex"])
    # only row 4; row 9's missing flag is not statelessness
    assert _value(table, sex="_T") == 1
    assert _value(table, sex="M") == 1


def test_female_share_and_sex_ratio_of_immigrants(catalog: mp.Catalog) -> None:
    female = _compute(catalog, {"persons": PERSONS}, "IMM_FEMALE_SHARE")
    # women 1 (2) + 3 (2) = 4 over known sex 4 + men 2 = 6; row 5 (_U) in neither
    assert _value(female) == pytest.approx(100 * 4 / 6)
    ratio = _compute(catalog, {"persons": PERSONS}, "IMM_SEX_RATIO")
    # men 2 per women 4, x 100
    assert _value(ratio) == pytest.approx(50.0)


def test_median_age_of_immigrants(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": PERSONS}, "IMM_MEDIAN_AGE")
    # ages 25 (1), 30 (2), 33 (1), 45 (1), 60 (2): total weight 7, half 3.5;
    # cumulative 1, 3, 4 -> 33
    assert _value(table) == 33


def test_recent_immigrant_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": PERSONS}, "IMM_RECENT_SHARE", by=["sex"])
    # arrived < 5 years ago: 1 (2, Y1T4), 2 (Y1T4), 4 (Y_LT1) = 4 of 7;
    # row 5 (_U) stays in the denominator
    assert _value(table, sex="_T") == pytest.approx(100 * 4 / 7)
    # men: rows 2 and 4, both recent
    assert _value(table, sex="M") == pytest.approx(100.0)


def test_foreign_born_citizens_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": PERSONS}, "FOREIGN_BORN_CIT_SHARE")
    # citizens of MDA among the foreign-born: 2, 3 (2) = 3 of 7; row 4's missing
    # citizenship stays in the denominator
    assert _value(table) == pytest.approx(100 * 3 / 7)


def test_second_generation_any_and_both(catalog: mp.Catalog) -> None:
    any_ = _compute(catalog, {"persons": PERSONS}, "SECOND_GEN_ANY_SHARE", by=["sex"])
    # native-born with a foreign-born parent: 6 (mother UKR), 7 (both), 9 (mother
    # UKR, father missing) = 3 of 15; 12's father XXX is not foreign-born
    assert _value(any_, sex="_T") == pytest.approx(20.0)
    # women: 7, 9 of 1 (2), 3 (2), 7, 9, 12 = 7
    assert _value(any_, sex="F") == pytest.approx(100 * 2 / 7)
    both = _compute(catalog, {"persons": PERSONS}, "SECOND_GEN_BOTH_SHARE")
    # only row 7; row 9's father is missing
    assert _value(both) == pytest.approx(100 * 1 / 15)


# --------------------------------------------------------------------------- mirror series
# Emigrants from MDA, 2024. DEU publishes no sex detail; the MDA row (origin =
# destination), the 150 (Europe) aggregate, the UKR origin and the 2023 row
# are outside every emigration population.
# fmt: off
MIRROR = pd.DataFrame(
    [
        # series,                 origin, ref_area, sex,  year, education, value
        ("MIGRANT_STOCK",         "MDA", "ITA", "_T", 2024, None,    30.0),
        ("MIGRANT_STOCK",         "MDA", "ITA", "F",  2024, None,    21.0),
        ("MIGRANT_STOCK",         "MDA", "ITA", "M",  2024, None,     9.0),
        ("MIGRANT_STOCK",         "MDA", "RUS", "_T", 2024, None,    50.0),
        ("MIGRANT_STOCK",         "MDA", "RUS", "F",  2024, None,    20.0),
        ("MIGRANT_STOCK",         "MDA", "RUS", "M",  2024, None,    30.0),
        ("MIGRANT_STOCK",         "MDA", "DEU", "_T", 2024, None,     5.0),
        ("MIGRANT_STOCK",         "MDA", "MDA", "_T", 2024, None,    99.0),
        ("MIGRANT_STOCK",         "MDA", "150", "_T", 2024, None,    85.0),
        ("MIGRANT_STOCK",         "UKR", "ROU", "_T", 2024, None,  1000.0),
        ("MIGRANT_STOCK",         "MDA", "ITA", "_T", 2023, None,    25.0),
        # emigrants aged 25+ by attainment
        ("MIGRANT_STOCK_25PLUS",  "MDA", "ITA", "_T", 2024, "ED5-8", 12.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "ITA", "_T", 2024, "ED3_4", 10.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "ITA", "_T", 2024, "ED0-2",  8.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "ITA", "_T", 2024, "_T",    30.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "ITA", "_T", 2024, "_U",     2.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "RUS", "_T", 2024, "ED5-8",  6.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "RUS", "_T", 2024, "ED3_4", 20.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "RUS", "_T", 2024, "ED0-2", 14.0),
        ("MIGRANT_STOCK_25PLUS",  "MDA", "RUS", "F",  2024, "ED5-8",  4.0),
    ],
    columns=["series_id", "origin", "ref_area", "sex", "time_period", "education", "value"],
)
# fmt: on


def test_emig_stock_on_a_small_series(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": MIRROR}, "EMIG_STOCK")
    # both-sexes rows of current countries other than MDA: 30 + 50 + 5
    assert _value(table) == 85
    # one destination, as a domain (the ref_area breakdown: see the xfail below)
    italy = _compute(catalog, {"series": MIRROR}, "EMIG_STOCK", where="ref_area == 'ITA'")
    assert _value(italy) == 30


def test_breakdown_by_destination(catalog: mp.Catalog) -> None:
    # regression: the breakdown by destination (the series' ref_area) used to
    # collide with the result's ref_area column
    table = _compute(catalog, {"series": MIRROR}, "EMIG_STOCK", by=["ref_area"])
    assert _value(table, ref_area="ITA") == 30
    # the margin row keeps the reporting area
    assert _value(table, ref_area="MDA") == 85


def test_emig_stock_reproduces_moldova_2020_from_the_bilateral_file(
    catalog: mp.Catalog,
) -> None:
    bilateral = mp.read_source(TESTS / "data" / "published" / "un_ims2020_bilateral.yaml")
    params = {"reporting_country": "MDA", "ref_year": 2020}
    # the filter keeps the both-sexes rows (sex _T): UN DESA 2020, persons born in
    # Moldova living abroad
    stock = mp.compute(bilateral, "EMIG_STOCK", params=params)
    assert _value(stock) == 1_159_443
    assert (stock["unit"] == "person").all()
    by_sex = mp.compute(bilateral, "EMIG_STOCK_BY_SEX", by=["sex"], params=params)
    assert _value(by_sex, sex="F") == 605_123
    assert _value(by_sex, sex="M") == 554_320
    assert _value(by_sex, sex="_T") == 1_159_443
    female = mp.compute(bilateral, "EMIG_FEMALE_SHARE", params=params)
    # 605,123 women / (605,123 + 554,320) = 605,123 / 1,159,443
    assert _value(female) == pytest.approx(100 * 605_123 / 1_159_443)
    assert (female["unit"] == "percent").all()


def test_emig_stock_by_sex(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": MIRROR}, "EMIG_STOCK_BY_SEX", by=["sex"])
    # female rows 21 + 20, male rows 9 + 30; the total is their sum (DEU, with no
    # sex detail, is in no cell)
    assert _value(table, sex="F") == 41
    assert _value(table, sex="M") == 39
    assert _value(table, sex="_T") == 80


def test_emig_stock_25plus_by_education(catalog: mp.Catalog) -> None:
    table = _compute(
        catalog, {"series": MIRROR}, "EMIG_STOCK_25PLUS_BY_EDUCATION", by=["education:aggregate"]
    )
    # ED5-8 12 + 6, ED3_4 10 + 20, ED0-2 8 + 14; the _T and _U rows and the
    # female row are left out
    assert _value(table, education="ED5-8") == 18
    assert _value(table, education="ED3_4") == 30
    assert _value(table, education="ED0-2") == 22
    assert _value(table, education="_T") == 70


def test_emig_female_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": MIRROR}, "EMIG_FEMALE_SHARE")
    # women 21 + 20 over women and men 21 + 9 + 20 + 30 = 80; DEU has no sex rows
    # (a female / both-sexes share would give 41 / 85)
    assert _value(table) == pytest.approx(100 * 41 / 80)
    italy = _compute(catalog, {"series": MIRROR}, "EMIG_FEMALE_SHARE", where="ref_area == 'ITA'")
    assert _value(italy) == pytest.approx(70.0)  # 21 / 30


def test_emigrants_per_native_born_resident(catalog: mp.Catalog) -> None:
    tables = {"series": MIRROR, "persons": PERSONS}
    table = _compute(catalog, tables, "EMIG_TO_NATIVE_RATIO")
    # emigrants 85 / native-born residents 6, 7, 8 (3), 9, 12 = 7, x 100
    assert _value(table) == pytest.approx(100 * 85 / 7)
    assert "CROSS_TABLE" in table["findings"].iloc[0]
    # the OECD rate E / (E + N) follows from the ratio X: 100 X / (100 + X)
    x = _value(table)
    assert 100 * x / (100 + x) == pytest.approx(100 * 85 / (85 + 7))


def test_tertiary_emigrants_per_tertiary_residents(catalog: mp.Catalog) -> None:
    tables = {"series": MIRROR, "persons": PERSONS}
    all_res = _compute(catalog, tables, "EMIG_TERT_PER_RESIDENT_TERT")
    # tertiary emigrants 25+: ITA 12 + RUS 6 = 18 (the RUS female row is left out);
    # tertiary residents 25+: 1 (2, ED6), 4 (ED5), 8 (3, ED7) = 6
    assert _value(all_res) == pytest.approx(100 * 18 / 6)
    native = _compute(catalog, tables, "EMIG_TERT_PER_NATIVE_TERT")
    # native-born tertiary residents 25+: row 8 only (3)
    assert _value(native) == pytest.approx(100 * 18 / 3)


# --------------------------------------------------------------------------- absent members
# Rows a1-a6 are household members abroad, r1-r2 residents (weights 4 and 6).
# a2 has been abroad 6 months, a4's duration is missing, a5's sex is _U, a6 is
# still counted as a usual resident.
# fmt: off
ABSENT = pd.DataFrame(
    [
        # id,   ur,    absent, months, sex,  dest,  region, w
        ("a1", False, True,  24.0, "F",  "ITA", "R1", 1),
        ("a2", False, True,   6.0, "M",  "RUS", "R1", 1),
        ("a3", False, True,  36.0, "M",  "RUS", "R2", 3),
        ("a4", False, True,  None, "F",  "ITA", "R2", 1),
        ("a5", False, True,  14.0, "_U", "DEU", "R2", 1),
        ("a6", True,  True,  12.0, "F",  "ITA", "R1", 1),
        ("r1", True,  False, None, "F",  None,  "R1", 4),
        ("r2", True,  None,  None, "M",  None,  "R2", 6),
    ],
    columns=["person_id", "usual_resident", "absent_abroad", "absent_months", "sex",
             "destination_country", "region", "weight"],
)
# fmt: on


def test_absent_population(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": ABSENT}, "ABSENT_POP", by=["sex"])
    # 12 months or more: a1, a3 (3), a5, a6 = 6; a2 (6 months) and a4 (missing) not
    assert _value(table, sex="_T") == 6
    assert _value(table, sex="M") == 3
    # threshold 0: a2 joins; a4's missing duration still keeps it out
    zero = _compute(catalog, {"persons": ABSENT}, "ABSENT_POP", params={"min_months_abroad": 0})
    assert _value(zero) == 7
    assert zero["parameters"].str.contains("min_months_abroad=0").all()


def test_absent_population_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": ABSENT}, "ABSENT_POP_SHARE", by=["region"])
    # absent 6 over residents r1 (4), r2 (6), a6 (1, counted once) + absent a1, a3 (3), a5 = 16
    assert _value(table, region="_T") == pytest.approx(100 * 6 / 16)
    # R1: absent a1, a6 = 2 over r1 (4), a1, a6 = 6
    assert _value(table, region="R1") == pytest.approx(100 * 2 / 6)


def test_absent_female_share(catalog: mp.Catalog) -> None:
    table = _compute(
        catalog, {"persons": ABSENT}, "ABSENT_FEMALE_SHARE", by=["destination_country"]
    )
    # women a1, a6 = 2 over known sex a1, a3 (3), a6 = 5; a5 (_U) in neither
    assert _value(table, destination_country="_T") == pytest.approx(40.0)
    assert _value(table, destination_country="ITA") == pytest.approx(100.0)


# --------------------------------------------------------------------------- intention
# fmt: off
INTENTION = pd.DataFrame(
    [
        # ur,    age,  intends, sex, w
        (True,   20.0, True,  "F", 2),   # i1
        (True,   30.0, False, "M", 3),   # i2
        (True,   40.0, None,  "F", 5),   # i3: not asked
        (True,   14.0, True,  "M", 1),   # i4: under 15
        (False,  25.0, True,  "F", 1),   # i5: not resident
        (True,   50.0, True,  "M", 1),   # i6
        (True,   None, True,  "M", 1),   # i7: age missing
    ],
    columns=["usual_resident", "age", "intends_to_emigrate", "sex", "weight"],
)
# fmt: on


def test_emigration_intention_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": INTENTION}, "EMIG_INTENTION_RATE", by=["sex"])
    # intending i1 (2), i6 = 3 over answered i1 (2), i2 (3), i6 = 6; i3 not asked
    assert _value(table, sex="_T") == pytest.approx(50.0)
    assert _value(table, sex="F") == pytest.approx(100.0)  # i1 only
    assert _value(table, sex="M") == pytest.approx(25.0)  # i6 over i2 (3) + i6


# --------------------------------------------------------------------------- households
# fmt: off
HOUSEHOLDS = pd.DataFrame(
    [
        # hh,  w,  region, urb,   head, abroad, received, amount, income
        ("h1", 10, "R1", "URB", "F", 1.0,  True,  500.0,  2000.0),
        ("h2", 20, "R1", "RUR", "M", 0.0,  False, None,   3000.0),
        ("h3", 10, "R2", "RUR", "M", 2.0,  True,  1000.0, 5000.0),
        ("h4", 10, "R2", "RUR", "F", None, True,  None,   1500.0),
        ("h5", 50, "R2", "RUR", "M", 0.0,  None,  None,   None),
    ],
    columns=["hh_id", "weight", "region", "urbanisation", "head_sex", "n_members_abroad",
             "received_remittances", "remittance_amount", "total_income"],
)
# fmt: on


def test_households_with_a_member_abroad(catalog: mp.Catalog) -> None:
    table = _compute(
        catalog, {"households": HOUSEHOLDS}, "HH_MEMBER_ABROAD_SHARE", by=["urbanisation"]
    )
    # h1 (10) and h3 (10) of 100; h4's missing count stays in the denominator
    assert _value(table, urbanisation="_T") == pytest.approx(20.0)
    # rural: h3 (10) of h2, h3, h4, h5 = 90
    assert _value(table, urbanisation="RUR") == pytest.approx(100 * 10 / 90)


def test_households_receiving_remittances(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"households": HOUSEHOLDS}, "HH_REMIT_RECEIPT_SHARE")
    # h1, h3, h4 (30) of 100; h5's missing answer stays in the denominator
    assert _value(table) == pytest.approx(30.0)


def test_remittances_in_receiving_households_income(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"households": HOUSEHOLDS}, "REMIT_INCOME_SHARE", by=["urbanisation"])
    # h1 and h3 (h4's amount is missing): (10·500 + 10·1000) / (10·2000 + 10·5000)
    # = 15,000 / 70,000; the mean of the households' own shares would be 22.5
    assert _value(table, urbanisation="_T") == pytest.approx(100 * 15_000 / 70_000)
    assert _value(table, urbanisation="URB") == pytest.approx(25.0)  # 500 / 2000
    assert _value(table, urbanisation="RUR") == pytest.approx(20.0)  # 1000 / 5000


# --------------------------------------------------------------------------- macro series
# fmt: off
MACRO = pd.DataFrame(
    [
        # series,           ref_area, origin, sex,  year, unit,          value
        ("REMIT_INFLOW",   "MDA", None,  None, 2024, "USD",          1.5e9),
        ("REMIT_INFLOW",   "MDA", None,  None, 2023, "USD",          1.2e9),
        ("REMIT_INFLOW",   "ROU", None,  None, 2024, "USD",          9.0e9),
        ("REMIT_OUTFLOW",  "MDA", None,  None, 2024, "USD",          4.0e8),
        ("GDP_USD",        "MDA", None,  None, 2024, "USD",          1.5e10),
        ("POPULATION",     "MDA", None,  "_T", 2024, "person",       2.5e6),
        ("POPULATION",     "MDA", None,  "F",  2024, "person",       1.3e6),
        ("POPULATION",     "MDA", None,  "_T", 2024, "1e3 person",   2500.0),
        ("REMIT_COST_200", "MDA", "RUS", None, 2024, "percent",      2.0),
        ("REMIT_COST_200", "MDA", "ITA", None, 2024, "percent",      5.0),
        ("REMIT_COST_200", "MDA", "DEU", None, 2024, "percent",      4.0),
        ("REMIT_COST_200", "MDA", "FRA", None, 2024, "percent",      None),
        ("REMIT_COST_200", "MDA", "150", None, 2024, "percent",      9.9),
        ("REMIT_COST_200", "MDA", "ITA", None, 2023, "percent",      7.0),
        ("REMIT_COST_200", "ROU", "ITA", None, 2024, "percent",      6.0),
    ],
    columns=["series_id", "ref_area", "origin", "sex", "time_period", "unit", "value"],
)
# fmt: on


def test_remittance_inflows_and_outflows(catalog: mp.Catalog) -> None:
    inflow = _compute(catalog, {"series": MACRO}, "REMIT_INFLOW_USD")
    assert _value(inflow) == 1.5e9  # MDA 2024 only
    outflow = _compute(catalog, {"series": MACRO}, "REMIT_OUTFLOW_USD")
    assert _value(outflow) == 4.0e8


def test_remittances_share_of_gdp(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": MACRO}, "REMIT_GDP_PCT")
    # 1.5e9 / 1.5e10 x 100
    assert _value(table) == pytest.approx(10.0)


def test_remittances_per_capita(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": MACRO}, "REMIT_PER_CAPITA")
    # 1.5e9 US$ / 2.5e6 persons; the female row and the row in thousands are left out
    assert _value(table) == pytest.approx(600.0)
    # Moldova 2020, WDI: remittances received 1,876,620,000 US$, population 2,635,130
    wdi = pd.DataFrame(
        {
            "series_id": ["REMIT_INFLOW", "POPULATION"],
            "ref_area": ["MDA", "MDA"],
            "sex": [None, "_T"],
            "time_period": [2020, 2020],
            "unit": ["USD", "person"],
            "value": [1_876_620_000.0, 2_635_130.0],
        }
    )
    moldova = mp.compute(
        {"series": wdi}, "REMIT_PER_CAPITA", params={"reporting_country": "MDA", "ref_year": 2020}
    )
    assert _value(moldova) == pytest.approx(1_876_620_000 / 2_635_130)  # 712.15 US$


def test_population_in_thousands_gives_no_per_capita_value(catalog: mp.Catalog) -> None:
    thousands = MACRO[~((MACRO["series_id"] == "POPULATION") & (MACRO["unit"] == "person"))]
    table = _compute(catalog, {"series": thousands}, "REMIT_PER_CAPITA")
    # no finite value (compute() gives inf for a same-table ratio over an empty
    # denominator, NaN for a cross-table one), never 1.5e9 / 2500 = 600,000
    assert not np.isfinite(table["value"]).any()


def test_remittance_cost(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": MACRO}, "REMIT_COST_PCT", by=["origin"])
    # corridors into MDA in 2024 from countries: RUS 2, ITA 5, DEU 4 (FRA has no
    # value; 150 is a region; the 2023 row and the corridor into ROU are out)
    assert _value(table, origin="_T") == pytest.approx((2 + 5 + 4) / 3)
    assert _value(table, origin="ITA") == pytest.approx(5.0)


# --------------------------------------------------------------------------- children
# Household weights. c9 is an adult, c10's age is missing; c6's mother and c11's
# father have a missing location, c7's mother _U.
# fmt: off
CHILDREN = pd.DataFrame(
    [
        # id,    age,  sex, mother,        father,         region, urb,   w
        ("c1",   3.0, "F", "ABROAD",      "HOUSEHOLD",    "R1", "URB", 1),
        ("c2",   7.0, "M", "ABROAD",      "ABROAD",       "R1", "RUR", 2),
        ("c3",  12.0, "F", "HOUSEHOLD",   "ABROAD",       "R2", "RUR", 1),
        ("c4",  16.0, "M", "DEAD",        "OTHER_REGION", "R2", "URB", 1),
        ("c5",  15.0, "F", "DK",          "ABROAD",       "R2", "RUR", 1),
        ("c6",   9.0, "M", None,          "INSTITUTION",  "R1", "URB", 1),
        ("c7",   4.0, "F", "_U",          "HOUSEHOLD",    "R1", "URB", 1),
        ("c8",  10.0, "M", "HOUSEHOLD",   "HOUSEHOLD",    "R2", "URB", 3),
        ("c9",  20.0, "F", "ABROAD",      "ABROAD",       "R1", "URB", 1),
        ("c10", None, "M", "ABROAD",      "ABROAD",       "R1", "URB", 1),
        ("c11",  5.0, "F", "ABROAD",      None,           "R2", "RUR", 2),
    ],
    columns=["person_id", "age", "sex", "mother_loc", "father_loc", "region",
             "urbanisation", "weight"],
).assign(usual_resident=True)
# fmt: on
# children 0-17: c1-c8 and c11, weights 1+2+1+1+1+1+1+3+2 = 13


def test_mics_age_groups_on_a_roster_with_adults(catalog: mp.Catalog) -> None:
    # regression: the 0-17 groups used to fail on a roster with an adult (c9, 20)
    with_adult = _compute(
        catalog, {"persons": CHILDREN}, "CLB_ANY_PARENT_ABROAD", by=["age:mics_child_groups"]
    )
    kids = {"persons": CHILDREN[CHILDREN["person_id"] != "c9"]}
    without = _compute(catalog, kids, "CLB_ANY_PARENT_ABROAD", by=["age:mics_child_groups"])
    # the same cells and values (standard errors differ: the adult is a record
    # of the sample, which changes the with-replacement factor n/(n-1))
    cols = ["age", "value", "n"]
    pd.testing.assert_frame_equal(
        with_adult[cols].reset_index(drop=True), without[cols].reset_index(drop=True)
    )


def test_children_left_behind(catalog: mp.Catalog) -> None:
    tables = {"persons": CHILDREN}
    any_ = _compute(catalog, tables, "CLB_ANY_PARENT_ABROAD")
    # c1, c2 (2), c3, c5, c11 (2) = 7 of 13
    assert _value(any_) == pytest.approx(100 * 7 / 13)
    # by MICS age group, on the roster without the adult c9 (see the xfail above)
    kids = {"persons": CHILDREN[CHILDREN["person_id"] != "c9"]}
    any_ = _compute(catalog, kids, "CLB_ANY_PARENT_ABROAD", by=["age:mics_child_groups"])
    assert _value(any_, age="_T") == pytest.approx(100 * 7 / 13)
    # 0-4: c1 of c1, c7; 5-9: c2 (2), c11 (2) of c2, c6, c11 = 5
    assert _value(any_, age="Y0T4") == pytest.approx(50.0)
    assert _value(any_, age="Y5T9") == pytest.approx(80.0)
    # 10-14: c3 of c3, c8 (3); 15-17: c5 of c4, c5
    assert _value(any_, age="Y10T14") == pytest.approx(25.0)
    assert _value(any_, age="Y15T17") == pytest.approx(50.0)
    both = _compute(catalog, tables, "CLB_BOTH_PARENTS_ABROAD")
    assert _value(both) == pytest.approx(100 * 2 / 13)  # c2 (2)
    mother = _compute(catalog, tables, "CLB_MOTHER_ONLY_ABROAD")
    # c1 and c11 (2, father missing)
    assert _value(mother) == pytest.approx(100 * 3 / 13)
    father = _compute(catalog, tables, "CLB_FATHER_ONLY_ABROAD", by=["urbanisation"])
    # c3 and c5 (mother DK)
    assert _value(father, urbanisation="_T") == pytest.approx(100 * 2 / 13)
    # rural: c3, c5 of c2 (2), c3, c5, c11 (2) = 6
    assert _value(father, urbanisation="RUR") == pytest.approx(100 * 2 / 6)


def test_children_not_living_with_a_biological_parent(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": CHILDREN}, "CHILD_NO_BIO_PARENT", by=["sex", "region"])
    # c2 (2, both abroad), c4 (dead / other region), c5 (DK / abroad) = 4 of 13;
    # c6 and c11 have a missing parent location and stay in the denominator only
    assert _value(table, sex="_T", region="_T") == pytest.approx(100 * 4 / 13)
    # boys: c2 (2), c4 of c2 (2), c4, c6, c8 (3) = 7
    assert _value(table, sex="M", region="_T") == pytest.approx(100 * 3 / 7)
    # R2: c4, c5 of c3, c4, c5, c8 (3), c11 (2) = 8
    assert _value(table, sex="_T", region="R2") == pytest.approx(100 * 2 / 8)


# --------------------------------------------------------------------------- coverage
TESTED = {
    # stocks.yaml
    "IMM_STOCK", "IMM_STOCK_SHARE", "FOREIGN_CIT_STOCK", "FOREIGN_CIT_SHARE", "STATELESS_STOCK",
    "IMM_FEMALE_SHARE", "IMM_SEX_RATIO", "IMM_MEDIAN_AGE", "IMM_RECENT_SHARE",
    "FOREIGN_BORN_CIT_SHARE", "SECOND_GEN_ANY_SHARE", "SECOND_GEN_BOTH_SHARE",
    # emigration.yaml
    "EMIG_STOCK", "EMIG_STOCK_BY_SEX", "EMIG_STOCK_25PLUS_BY_EDUCATION", "EMIG_FEMALE_SHARE",
    "EMIG_TO_NATIVE_RATIO", "EMIG_TERT_PER_RESIDENT_TERT", "EMIG_TERT_PER_NATIVE_TERT",
    "ABSENT_POP", "ABSENT_POP_SHARE", "ABSENT_FEMALE_SHARE", "HH_MEMBER_ABROAD_SHARE",
    "EMIG_INTENTION_RATE",
    # remittances.yaml
    "REMIT_INFLOW_USD", "REMIT_OUTFLOW_USD", "REMIT_GDP_PCT", "REMIT_PER_CAPITA",
    "HH_REMIT_RECEIPT_SHARE", "REMIT_INCOME_SHARE", "REMIT_COST_PCT",
    # children.yaml
    "CLB_ANY_PARENT_ABROAD", "CLB_BOTH_PARENTS_ABROAD", "CLB_MOTHER_ONLY_ABROAD",
    "CLB_FATHER_ONLY_ABROAD", "CHILD_NO_BIO_PARENT",
}  # fmt: skip

# The indicators of these files whose hand-computed tests are in
# tests/test_calculators.py (derived indicators and the POP_RESIDENT and
# published-table indicators added with them).
CALCULATOR_TESTS = {
    "POP_RESIDENT", "SECOND_GEN_SHARE", "IMM_STOCK_PUBLISHED", "IMM_STOCK_SHARE_PUBLISHED",
    "IMM_FEMALE_SHARE_PUBLISHED", "IMM_STOCK_CHANGE_RATE", "EMIG_25PLUS_PER_RESIDENT_25PLUS",
    "EMIG_25PLUS_PER_NATIVE_25PLUS", "EMIG_RATE", "EMIG_RATE_TERTIARY", "EMIG_RATE_25PLUS",
    "EMIG_SELECTIVITY", "DIASPORA_TOP5_SHARE", "DIASPORA_HHI", "IMM_ORIGIN_DIST",
}  # fmt: skip


def test_every_indicator_of_these_files_has_a_hand_computed_test() -> None:
    assert indicator_ids(*FILES) == TESTED | CALCULATOR_TESTS


def test_person_level_indicators_allow_sex_region_and_education(catalog: mp.Catalog) -> None:
    # issue 5: every indicator computed from person-level data can be broken down
    # by sex and region, and by education; IMM_FEMALE_SHARE, IMM_SEX_RATIO and
    # ABSENT_FEMALE_SHARE are sex ratios and cannot be broken down by sex
    by_sex = {"IMM_FEMALE_SHARE", "IMM_SEX_RATIO", "ABSENT_FEMALE_SHARE"}
    for name in FILES:
        data = yaml.safe_load(Path(REPO / "indicators" / name).read_text(encoding="utf-8"))
        for entry in data["indicators"]:
            ind = catalog.indicator(entry["id"])
            if ind.is_derived or any(catalog.table_of(t) != "persons" for t in ind.terms()):
                continue
            wanted = {"region", "education"} | (set() if ind.id in by_sex else {"sex"})
            assert wanted <= set(ind.breakdowns), ind.id
