"""Flows, return and social-outcome indicators (indicators/flows.yaml,
return.yaml, social.yaml) on tiny hand-written tables. Every expected value is
worked out by hand in the comment next to it; every result's unit must be its
indicator's unit."""

from __future__ import annotations

import pandas as pd
import pytest

import migprofile as mp
from conftest import cell_value as _value
from conftest import indicator_ids

PARAMS = {"reporting_country": "MDA", "ref_year": 2024}
FILES = ("flows.yaml", "return.yaml", "social.yaml")


def _compute(
    catalog: mp.Catalog,
    tables: dict[str, pd.DataFrame],
    indicator: str,
    by: list[str] | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    table = mp.compute(tables, indicator, by=by or [], where=where, params=PARAMS, catalog=catalog)
    assert not table.empty
    assert (table["unit"] == catalog.indicator(indicator).unit).all()
    return table


# --------------------------------------------------------------------------- events
# One row per event, no weight column (each row counts once). Row 15 has no
# event type and is in no indicator.
EVENTS = pd.DataFrame(
    [
        # event_type,      sex,  age, citizenship, from,  to,    reason,          date
        ("IMMIGRATION", "F", 30, "ROU", "ROU", None, "WORK", "2024-02-01"),
        ("IMMIGRATION", "M", 40, "UKR", "UKR", None, "FAMILY", "2024-03-01"),
        ("RETURN", "M", 35, "MDA", "ITA", None, "RETURN", "2024-04-01"),
        ("RETURN", "F", 29, "MDA", "RUS", None, "RETURN", "2023-12-31"),
        ("IMMIGRATION", None, 50, "UKR", "UKR", None, None, "2024-05-01"),
        ("EMIGRATION", "F", 28, "MDA", None, "ITA", "WORK", "2024-06-01"),
        ("EMIGRATION", "M", 33, "MDA", None, "RUS", "WORK", "2024-07-01"),
        ("EMIGRATION", "F", 45, "MDA", None, "DEU", "FAMILY", "2024-08-01"),
        ("NATURALISATION", "F", 40, "ROU", None, None, None, "2024-09-01"),
        ("NATURALISATION", "M", 38, "UKR", None, None, None, "2024-10-01"),
        ("NATURALISATION", "M", 60, None, None, None, None, "2024-11-01"),
        ("FIRST_PERMIT", "F", 25, "UKR", None, None, "WORK_SEASONAL", "2024-01-15"),
        ("FIRST_PERMIT", "M", 31, "UKR", None, None, "WORK", "2024-01-16"),
        ("FIRST_PERMIT", "F", 27, "TUR", None, None, "FAMILY", "2024-01-17"),
        ("FIRST_PERMIT", "M", 44, "TUR", None, None, None, "2024-01-18"),
        (None, "M", 20, "UKR", None, None, None, "2024-01-19"),
    ],
    columns=[
        "event_type",
        "sex",
        "age",
        "citizenship",
        "country_from",
        "country_to",
        "reason_migration",
        "event_date",
    ],
).assign(event_date=lambda f: pd.to_datetime(f["event_date"]))

# Mid-year population of MDA by sex: F 1600 + M 1400 = 3000. The both-sexes row
# (3000) must not be added again; other years, other countries and a row in
# thousands (unit 1e3 person) are left out.
SERIES = pd.DataFrame(
    {
        "series_id": ["POPULATION"] * 7,
        "ref_area": ["MDA", "MDA", "MDA", "MDA", "MDA", "ROU", "MDA"],
        "sex": ["_T", "F", "M", "F", "M", "F", "F"],
        "time_period": [2024, 2024, 2024, 2023, 2023, 2024, 2024],
        "unit": ["person", "person", None, "person", "person", "person", "1e3 person"],
        "value": [3000.0, 1600.0, 1400.0, 1500.0, 1500.0, 9000.0, 1.6],
    }
)


def test_immigration_flow_counts_immigration_and_return_events(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "IMMIGRATION_FLOW", by=["sex"])
    # IMMIGRATION rows 1, 2, 5 and RETURN rows 3, 4: 5 immigrations
    assert _value(table, sex="_T") == 5
    assert _value(table, sex="F") == 2  # rows 1 and 4
    assert _value(table, sex="M") == 2  # rows 2 and 3
    assert _value(table, sex="_U") == 1  # row 5, sex missing
    # restricting to the calendar year by the event date drops row 4 (2023-12-31)
    year = _compute(
        catalog,
        {"events": EVENTS},
        "IMMIGRATION_FLOW",
        where="event_date >= '2024-01-01' and event_date <= '2024-12-31'",
    )
    assert _value(year) == 4


def test_emigration_flow(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "EMIGRATION_FLOW", by=["country_to"])
    # rows 6, 7, 8: one each to ITA, RUS, DEU
    assert _value(table, country_to="_T") == 3
    assert _value(table, country_to="ITA") == 1


def test_crude_immigration_rate_divides_by_the_population_series(catalog: mp.Catalog) -> None:
    tables = {"events": EVENTS, "series": SERIES}
    table = _compute(catalog, tables, "CRUDE_IMM_RATE", by=["sex"])
    # 5 immigrations / (1600 + 1400) x 1000
    assert _value(table, sex="_T") == pytest.approx(5 / 3000 * 1000)
    # women: 2 / 1600 x 1000 = 1.25; men: 2 / 1400 x 1000
    assert _value(table, sex="F") == pytest.approx(1.25)
    assert _value(table, sex="M") == pytest.approx(2 / 1400 * 1000)
    assert "CROSS_TABLE" in table["findings"].iloc[0]
    assert table["parameters"].str.contains("ref_year=2024").all()


def test_crude_rate_needs_the_population_by_sex(catalog: mp.Catalog) -> None:
    # a population series with the both-sexes row only selects nothing: no value
    both_only = SERIES[SERIES["sex"] == "_T"]
    table = _compute(catalog, {"events": EVENTS, "series": both_only}, "CRUDE_IMM_RATE")
    assert table["value"].isna().all()


def test_crude_emigration_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS, "series": SERIES}, "CRUDE_EMIG_RATE", by=["sex"])
    # 3 emigrations / 3000 x 1000 = 1.0; women 2 / 1600 x 1000 = 1.25
    assert _value(table, sex="_T") == pytest.approx(1.0)
    assert _value(table, sex="F") == pytest.approx(1.25)
    assert _value(table, sex="M") == pytest.approx(1 / 1400 * 1000)


def test_first_permits_by_reason_roll_up_to_work(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "FIRST_PERMITS", by=["reason_migration"])
    # rows 12-15: WORK_SEASONAL, WORK, FAMILY, missing
    assert _value(table, reason_migration="_T") == 4
    assert _value(table, reason_migration="WORK_SEASONAL") == 1
    assert _value(table, reason_migration="FAMILY") == 1
    # at the level "reason", seasonal work rolls up into WORK: 2
    rolled = _compute(catalog, {"events": EVENTS}, "FIRST_PERMITS", by=["reason_migration:reason"])
    assert _value(rolled, reason_migration="WORK") == 2


def test_first_permits_work_share_keeps_unknown_reasons_in_the_denominator(
    catalog: mp.Catalog,
) -> None:
    table = _compute(catalog, {"events": EVENTS}, "FIRST_PERMITS_WORK_SHARE", by=["citizenship"])
    # work (WORK_SEASONAL, WORK) 2 of 4 first permits, the missing reason included
    assert _value(table, citizenship="_T") == pytest.approx(50.0)
    assert _value(table, citizenship="UKR") == pytest.approx(100.0)  # 2 of 2
    assert _value(table, citizenship="TUR") == pytest.approx(0.0)  # FAMILY, missing


def test_naturalisations(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "NATURALISATIONS", by=["citizenship"])
    # rows 9-11; row 11 (stateless) has no former citizenship
    assert _value(table, citizenship="_T") == 3
    assert _value(table, citizenship="ROU") == 1


# Residents for the naturalisation rate: non-nationals are p1-p5 (p5 stateless).
NON_NATIONALS = pd.DataFrame(
    {
        "usual_resident": [True, True, True, True, True, True, True, False, True],
        "citizenship": ["ROU", "ROU", "UKR", "UKR", None, "MDA", None, "ROU", "_U"],
        "stateless": [False, False, False, False, True, False, None, False, False],
        "sex": ["F", "M", "M", "F", "M", "F", "M", "F", "M"],
    }
)


def test_naturalisation_rate_over_non_national_residents(catalog: mp.Catalog) -> None:
    tables = {"events": EVENTS, "persons": NON_NATIONALS}
    table = _compute(catalog, tables, "NATURALISATION_RATE", by=["sex"])
    # 3 acquisitions / 5 non-nationals (p1-p4 foreign, p5 stateless) x 100
    # (p6 national, p7 citizenship missing, p8 non-resident, p9 special code: out)
    assert _value(table, sex="_T") == pytest.approx(60.0)
    # women: 1 acquisition / 2 (p1, p4); men: 2 / 3 (p2, p3, p5)
    assert _value(table, sex="F") == pytest.approx(50.0)
    assert _value(table, sex="M") == pytest.approx(200 / 3)
    by_cit = _compute(catalog, tables, "NATURALISATION_RATE", by=["citizenship"])
    assert _value(by_cit, citizenship="UKR") == pytest.approx(50.0)  # 1 / 2


def test_immigration_flow_census_excludes_infants(catalog: mp.Catalog) -> None:
    persons = pd.DataFrame(
        {
            "usual_resident": [True, True, True, True, False, True, True],
            "recent_immigrant": [True, True, False, None, True, True, True],
            "age": [30, 0, 40, 20, 25, 1, None],
            "sex": ["F", "M", "F", "M", "F", "M", "F"],
            "region": ["R1", "R1", "R1", "R2", "R2", "R2", "R1"],
        }
    )
    table = _compute(catalog, {"persons": persons}, "IMMIGRATION_FLOW_CENSUS", by=["region"])
    # abroad a year earlier, resident, aged 1+: rows 1 (30, R1) and 6 (1, R2);
    # row 2 is under one, row 4 unknown, row 5 non-resident, row 7 age missing
    assert _value(table, region="_T") == 2
    assert _value(table, region="R2") == 1


# --------------------------------------------------------------------------- return
RETURN_PERSONS = pd.DataFrame(
    {
        "usual_resident": [True, True, True, True, True, False, True, True],
        "citizenship": ["MDA", "MDA", "MDA", "ROU", "MDA", "MDA", "MDA", "MDA"],
        "lived_abroad_12m": [True, True, False, True, None, True, True, True],
        "age": [35, 14, 40, 30, 50, 30, 60, None],
        "sex": ["F", "M", "M", "F", "F", "M", "M", "F"],
        "weight": [100.0, 50.0, 200.0, 150.0, 100.0, 80.0, 120.0, 70.0],
    }
)


def test_return_migrant_stock_is_weighted(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": RETURN_PERSONS}, "RETURN_MIGRANT_STOCK", by=["sex"])
    # resident MDA citizens who lived abroad 12m+: rows 1, 2, 7, 8 (row 4 is
    # foreign, row 5 unknown, row 6 non-resident): 100 + 50 + 120 + 70
    assert _value(table, sex="_T") == pytest.approx(340.0)
    assert _value(table, sex="F") == pytest.approx(170.0)  # rows 1 and 8


def test_return_migrant_share_of_the_population_aged_15_and_over(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": RETURN_PERSONS}, "RETURN_MIGRANT_SHARE", by=["sex"])
    # returnees 15+: rows 1 (100) and 7 (120) = 220; residents 15+: rows 1, 3,
    # 4, 5, 7 = 100 + 200 + 150 + 100 + 120 = 670 (row 8's age is missing)
    assert _value(table, sex="_T") == pytest.approx(100 * 220 / 670)
    # women: 100 / (100 + 150 + 100); men: 120 / (200 + 120)
    assert _value(table, sex="F") == pytest.approx(100 * 100 / 350)
    assert _value(table, sex="M") == pytest.approx(37.5)


def test_return_flow(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "RETURN_FLOW", by=["country_from"])
    # rows 3 (from ITA) and 4 (from RUS)
    assert _value(table, country_from="_T") == 2
    assert _value(table, country_from="ITA") == 1


def test_temporary_mobility_out_is_3_to_11_months(catalog: mp.Catalog) -> None:
    persons = pd.DataFrame(
        {
            "absent_abroad": [True, True, True, True, True, False, True],
            "absent_months": [3, 11, 12, 2, None, 5, 6],
            "usual_resident": [True, False, False, True, True, True, True],
            "sex": ["F", "M", "M", "F", "F", "M", "F"],
        }
    )
    table = _compute(catalog, {"persons": persons}, "TEMP_MOBILITY_OUT", by=["sex"])
    # rows 1 (3 months), 2 (11 months, not a usual resident any more) and 7 (6)
    assert _value(table, sex="_T") == 3
    assert _value(table, sex="F") == 2


# --------------------------------------------------------------------------- social
SCHOOL = pd.DataFrame(
    {
        "usual_resident": [True, True, True, True, True, True, False, True],
        "age": [6, 10, 17, 12, 5, 18, 10, 9],
        "attends_school": [True, False, True, None, True, True, True, True],
        "migrant_status": ["FB", "NB", "NB", "NB", "NB", "FB", "FB", "FB"],
        "sex": ["F", "M", "F", "M", "F", "M", "F", "M"],
        "mother_loc": [
            "ABROAD",
            "HOUSEHOLD",
            "HOUSEHOLD",
            "DK",
            "ABROAD",
            "ABROAD",
            "ABROAD",
            None,
        ],
        "father_loc": ["HOUSEHOLD", "ABROAD", "HOUSEHOLD", "HOUSEHOLD", None, None, None, None],
    }
)


def test_school_attendance_by_migrant_status(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": SCHOOL}, "SCHOOL_ATTENDANCE", by=["migrant_status"])
    # residents aged 6-17: rows 1, 2, 3, 4, 8; attending: 1, 3, 8 (row 4's
    # missing answer stays in the denominator)
    assert _value(table, migrant_status="_T") == pytest.approx(60.0)
    assert _value(table, migrant_status="FB") == pytest.approx(100.0)  # rows 1, 8
    assert _value(table, migrant_status="NB") == pytest.approx(100 / 3)  # row 3 of 2, 3, 4


def test_school_attendance_of_children_with_and_without_a_parent_abroad(
    catalog: mp.Catalog,
) -> None:
    with_parent = _compute(catalog, {"persons": SCHOOL}, "SCHOOL_ATTENDANCE_PARENT_ABROAD")
    # parent abroad, aged 6-17, resident: rows 1 (mother) and 2 (father); row 1 attends
    assert _value(with_parent) == pytest.approx(50.0)
    without = _compute(
        catalog, {"persons": SCHOOL}, "SCHOOL_ATTENDANCE_NO_PARENT_ABROAD", by=["sex"]
    )
    # rows 3, 4 (mother DK), 8 (both missing); rows 3 and 8 attend
    assert _value(without, sex="_T") == pytest.approx(200 / 3)
    assert _value(without, sex="M") == pytest.approx(50.0)  # rows 4 and 8


def test_school_age_bounds_are_parameters(catalog: mp.Catalog) -> None:
    # defaults 6 and 17 are recorded on every row
    default = _compute(catalog, {"persons": SCHOOL}, "SCHOOL_ATTENDANCE")
    assert default["parameters"].str.contains("school_age_min=6").all()
    assert default["parameters"].str.contains("school_age_max=17").all()
    # ages 5 to 18: residents rows 1, 2, 3, 4, 5 (age 5), 6 (age 18), 8;
    # attending rows 1, 3, 5, 6, 8: 5 / 7 x 100
    wider = mp.compute(
        {"persons": SCHOOL}, "SCHOOL_ATTENDANCE",
        params={**PARAMS, "school_age_min": 5, "school_age_max": 18}, catalog=catalog,
    )  # fmt: skip
    assert _value(wider) == pytest.approx(500 / 7)
    # ages 7 to 15: residents rows 2 (10), 4 (12), 8 (9); attending row 8: 1 / 3
    narrower = mp.compute(
        {"persons": SCHOOL}, "SCHOOL_ATTENDANCE_NO_PARENT_ABROAD",
        params={**PARAMS, "school_age_min": 7, "school_age_max": 15}, catalog=catalog,
    )  # fmt: skip
    # with no parent abroad among them: rows 4 (mother DK) and 8 (both
    # missing); row 2's father is abroad. Attending: row 8: 1 / 2
    assert _value(narrower) == pytest.approx(50.0)


# ------------------------------------------------------------ health, social protection
# Six residents and one non-resident (row 7). Migrant status COB: rows 1-3
# foreign-born, rows 4-6 native-born. Weights 1 except row 2 (2).
# fmt: off
HEALTH = pd.DataFrame(
    {
        "usual_resident":          [True, True, True, True, True, True, False],
        "country_of_birth":        ["ROU", "UKR", "RUS", "MDA", "MDA", "MDA", "ITA"],
        "migrant_status":          ["FB", "FB", "FB", "NB", "NB", "NB", "FB"],
        "sex":                     ["F", "M", "F", "M", "F", "M", "F"],
        "age":                     [30.0, 15.0, 70.0, 40.0, 16.0, 8.0, 35.0],
        "has_health_insurance":    [True, False, None, True, True, True, True],
        "unmet_medical_need":      [True, False, True, None, False, None, True],
        "receives_social_benefit": [False, True, True, False, None, True, True],
        "weight":                  [1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    }
).astype({"has_health_insurance": "boolean", "unmet_medical_need": "boolean",
          "receives_social_benefit": "boolean"})
# fmt: on


def test_health_insurance_coverage(catalog: mp.Catalog) -> None:
    table = _compute(
        catalog, {"persons": HEALTH}, "HEALTH_INSURANCE_COVERAGE", by=["migrant_status"]
    )
    # residents' weights: FB 1 + 2 + 1 = 4, NB 3; covered: FB row 1 (1; row 3 missing
    # stays in the denominator), NB rows 4-6 (3); row 7 is not a resident
    assert _value(table, migrant_status="FB") == pytest.approx(100 * 1 / 4)
    assert _value(table, migrant_status="NB") == pytest.approx(100.0)
    assert _value(table, migrant_status="_T") == pytest.approx(100 * 4 / 7)


def test_unmet_medical_need(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": HEALTH}, "UNMET_MEDICAL_NEED", by=["migrant_status"])
    # residents 16+: rows 1 (1), 3 (1), 4 (1), 5 (1); row 2 is 15, row 6 is 8
    # unmet: rows 1 and 3 (FB); row 4's missing answer stays in the denominator
    assert _value(table, migrant_status="FB") == pytest.approx(100.0)
    assert _value(table, migrant_status="NB") == 0
    assert _value(table, migrant_status="_T") == pytest.approx(50.0)


def test_social_benefit_receipt(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": HEALTH}, "SOCIAL_BENEFIT_RECEIPT", by=["sex"])
    # residents: F rows 1, 3, 5 (3), M rows 2 (2), 4, 6 (4); receiving: row 3 (F),
    # rows 2 (2) and 6 (M); row 5's missing answer stays in the denominator
    assert _value(table, sex="F") == pytest.approx(100 * 1 / 3)
    assert _value(table, sex="M") == pytest.approx(100 * 3 / 4)
    assert _value(table, sex="_T") == pytest.approx(100 * 4 / 7)


# --------------------------------------------------------------------------- coverage
TESTED = {
    "HEALTH_INSURANCE_COVERAGE",
    "UNMET_MEDICAL_NEED",
    "SOCIAL_BENEFIT_RECEIPT",
    "IMMIGRATION_FLOW",
    "EMIGRATION_FLOW",
    "CRUDE_IMM_RATE",
    "CRUDE_EMIG_RATE",
    "FIRST_PERMITS",
    "FIRST_PERMITS_WORK_SHARE",
    "NATURALISATIONS",
    "NATURALISATION_RATE",
    "IMMIGRATION_FLOW_CENSUS",
    "RETURN_MIGRANT_STOCK",
    "RETURN_MIGRANT_SHARE",
    "RETURN_FLOW",
    "TEMP_MOBILITY_OUT",
    "SCHOOL_ATTENDANCE",
    "SCHOOL_ATTENDANCE_PARENT_ABROAD",
    "SCHOOL_ATTENDANCE_NO_PARENT_ABROAD",
}

# The indicators of these files whose hand-computed tests are in
# tests/test_calculators.py (derived indicators and the POP_RESIDENT and
# published-table indicators added with them).
CALCULATOR_TESTS = {
    "NET_MIGRATION", "CNMR", "RETURN_RATE", "RECENT_RETURN_MIGRANT_STOCK", "SCHOOL_ATT_GAP_CLB",
    "FIRST_PERMITS_REASON_DIST",
}  # fmt: skip


def test_every_indicator_of_these_files_has_a_hand_computed_test() -> None:
    assert indicator_ids(*FILES) == TESTED | CALCULATOR_TESTS
