"""Labour-market and education indicators (indicators/labour.yaml,
education.yaml) on tiny hand-written tables. Every expected value is worked
out by hand in the comment next to it; every result's unit must be its
indicator's unit. The migrant_status column is given (FB, NB, _U), as the
source derivation would give it on the country-of-birth basis.

Weights: a frame with a weight column other than 1 is read as a weighted
sample, so the expected values are weighted sums (Σw)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import migprofile as mp
from conftest import REPO, indicator_ids
from conftest import cell_value as _value

PARAMS = {"reporting_country": "MDA", "ref_year": 2024}
FILES = ("labour.yaml", "education.yaml")


def _compute(
    catalog: mp.Catalog,
    tables: dict[str, pd.DataFrame],
    indicator: str,
    by: list[str] | None = None,
    params: dict[str, object] | None = None,
) -> pd.DataFrame:
    table = mp.compute(
        tables, indicator, by=by or [], params={**PARAMS, **(params or {})}, catalog=catalog
    )
    assert not table.empty
    assert (table["unit"] == catalog.indicator(indicator).unit).all()
    return table


# --------------------------------------------------------------------------- labour
# Reporting country MDA, working age 15+. p12 is not a usual resident (gone
# abroad to work); p13 is a resident who also works abroad; p14 is a child.
# p7 is in the armed forces (OC0), p8's occupation is missing, p9 is 70,
# p10's country of birth is missing, p11's labour status is missing.
# fmt: off
LABOUR = pd.DataFrame(
    [
        # id,    ur,   age, sex, cob,   mig,  lf,    occ,    edu,   abroad, w
        ("p1",  True,  30, "F", "ROU", "FB", "EMP", "OC2",  "ED7", False, 1),
        ("p2",  True,  40, "M", "ROU", "FB", "EMP", "OC9",  "ED6", False, 2),
        ("p3",  True,  50, "F", "MDA", "NB", "EMP", "OC41", "ED5", False, 1),
        ("p4",  True,  35, "M", "MDA", "NB", "EMP", "OC3",  "ED3", False, 3),
        ("p5",  True,  25, "F", "MDA", "NB", "UNE", None,   "ED6", False, 1),
        ("p6",  True,  60, "M", "UKR", "FB", "OLF", None,   "ED2", False, 1),
        ("p7",  True,  45, "M", "MDA", "NB", "EMP", "OC0",  "ED6", False, 1),
        ("p8",  True,  22, "F", "MDA", "NB", "EMP", None,   "ED5", False, 1),
        ("p9",  True,  70, "M", "MDA", "NB", "EMP", "OC6",  "ED7", False, 1),
        ("p10", True,  18, "M", None,  "_U", "EMP", "OC5",  "ED3", False, 1),
        ("p11", True,  16, "F", "MDA", "NB", None,  None,   "ED2", None,  1),
        ("p12", False, 33, "M", "MDA", "NB", None,  None,   "ED3", True,  2),
        ("p13", True,  28, "M", "MDA", "NB", "EMP", "OC7",  "ED3", True,  1),
        ("p14", True,  12, "F", "MDA", "NB", None,  None,   "ED1", None,  1),
        ("p15", True,  38, "F", "MDA", "NB", "EMP", "OC21", "ED7", False, 3),
    ],
    columns=["person_id", "usual_resident", "age", "sex", "country_of_birth",
             "migrant_status", "lf_status", "occupation", "education", "works_abroad",
             "weight"],
)
# fmt: on
# working age (resident, 15+): p1-p11, p13, p15 = 1+2+1+3+1+1+1+1+1+1+1+1+3 = 18
#   FB p1, p2 (2), p6 = 4; NB p3, p4 (3), p5, p7, p8, p9, p11, p13, p15 (3) = 13
# labour force: all but p6, p11 = 16 (FB 3, NB 12); employed: 16 - p5 = 15 (FB 3, NB 11)


def test_labour_force_participation_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "LFPR_BY_MIG", by=["migrant_status"])
    assert _value(table, migrant_status="_T") == pytest.approx(100 * 16 / 18)
    assert _value(table, migrant_status="FB") == pytest.approx(75.0)  # 3 / 4
    # NB: p11's missing status stays in the denominator: 12 / 13
    assert _value(table, migrant_status="NB") == pytest.approx(100 * 12 / 13)
    assert _value(table, migrant_status="_U") == pytest.approx(100.0)  # p10


def test_employment_to_population_ratio(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "EPR_BY_MIG", by=["migrant_status", "sex"])
    assert _value(table, migrant_status="_T", sex="_T") == pytest.approx(100 * 15 / 18)
    assert _value(table, migrant_status="NB", sex="_T") == pytest.approx(100 * 11 / 13)
    # NB women: p3, p5, p8, p11, p15 (3) = 7 of working age, employed p3, p8, p15 (3) = 5
    assert _value(table, migrant_status="NB", sex="F") == pytest.approx(100 * 5 / 7)


def test_unemployment_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "UR_BY_MIG", by=["migrant_status"])
    assert _value(table, migrant_status="_T") == pytest.approx(100 * 1 / 16)  # p5
    assert _value(table, migrant_status="FB") == 0
    assert _value(table, migrant_status="NB") == pytest.approx(100 * 1 / 12)


def test_migrant_workers_in_the_labour_force(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "MIG_WORKER_SHARE_LF", by=["sex"])
    # p1, p2 (2) of 16; p10 (birthplace missing) stays in the denominator
    assert _value(table, sex="_T") == pytest.approx(100 * 3 / 16)
    # men in the labour force: p2 (2), p4 (3), p7, p9, p10, p13 = 9
    assert _value(table, sex="M") == pytest.approx(100 * 2 / 9)


def test_migrants_share_of_employment_by_occupation(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "MIG_SHARE_OCC", by=["occupation:major"])
    # all employment: foreign-born p1, p2 (2) = 3 of 15
    assert _value(table, occupation="_T") == pytest.approx(20.0)
    # OC2: p1 (FB) and p15 (OC21 rolled up to OC2, NB, 3) -> 1 / 4
    assert _value(table, occupation="OC2") == pytest.approx(25.0)
    assert _value(table, occupation="OC9") == pytest.approx(100.0)  # p2
    assert _value(table, occupation="OC4") == 0  # p3 (OC41)


def test_high_skill_occupation_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "HIGH_SKILL_OCC_SHARE", by=["migrant_status"])
    # ISCO 1-3: p1, p4 (3), p15 (3) = 7 of 15 employed; armed forces (p7) and the
    # missing occupation (p8) stay in the denominator
    assert _value(table, migrant_status="_T") == pytest.approx(100 * 7 / 15)
    assert _value(table, migrant_status="FB") == pytest.approx(100 * 1 / 3)  # p1 of p1, p2 (2)
    # NB: p4 (3), p15 (3) of p3, p4 (3), p7, p8, p9, p13, p15 (3) = 11
    assert _value(table, migrant_status="NB") == pytest.approx(100 * 6 / 11)


def test_over_qualification_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "OVERQUAL_RATE", by=["migrant_status"])
    # employed 20-64, tertiary, ISCO 1-9: p1, p2 (2), p3, p15 (3) = 7 (p7 armed
    # forces, p8 occupation missing and p9 aged 70 are out); in ISCO 4-9: p2 (2), p3
    assert _value(table, migrant_status="_T") == pytest.approx(100 * 3 / 7)
    assert _value(table, migrant_status="FB") == pytest.approx(100 * 2 / 3)
    assert _value(table, migrant_status="NB") == pytest.approx(25.0)  # p3 of p3, p15 (3)


def test_working_abroad_share(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"persons": LABOUR}, "WORKING_ABROAD_SHARE", by=["sex"])
    # working abroad: p12 (2, not resident), p13 (resident, also employed) = 3;
    # labour force 16 + p12 (2) = 18, p13 counted once
    assert _value(table, sex="_T") == pytest.approx(100 * 3 / 18)
    # men: p12 (2), p13 of p2 (2), p4 (3), p7, p9, p10, p12 (2), p13 = 11
    assert _value(table, sex="M") == pytest.approx(100 * 3 / 11)


# --------------------------------------------------------------------------- education
# e4 is coded at the aggregate level (ED5-8); e6 _U, e7 missing, e8 ED9 are of
# unknown attainment; e12's attendance is missing; e14 is not resident.
# fmt: off
EDUCATION = pd.DataFrame(
    [
        # id,    ur,   age, sex, mig,  edu,     attends, w
        ("e1",  True,  30, "F", "FB", "ED6",   False, 2),
        ("e2",  True,  40, "M", "FB", "ED3",   False, 1),
        ("e3",  True,  50, "F", "NB", "ED1",   False, 1),
        ("e4",  True,  26, "M", "NB", "ED5-8", False, 1),
        ("e5",  True,  60, "F", "NB", "ED4",   False, 1),
        ("e6",  True,  35, "M", "NB", "_U",    False, 1),
        ("e7",  True,  45, "F", "FB", None,    False, 1),
        ("e8",  True,  70, "M", "NB", "ED9",   False, 1),
        ("e9",  True,  20, "F", "NB", "ED2",   False, 1),
        ("e10", True,  19, "M", "NB", "ED3",   False, 1),
        ("e11", True,  22, "F", "FB", "ED2",   True,  1),
        ("e12", True,  24, "M", "FB", "ED1",   None,  1),
        ("e13", True,  18, "M", "NB", "ED0",   False, 2),
        ("e14", False, 30, "F", "FB", "ED6",   False, 1),
    ],
    columns=["person_id", "usual_resident", "age", "sex", "migrant_status", "education",
             "attends_school", "weight"],
)
# fmt: on
# 25+ of known attainment: e1 (2), e2, e3, e4, e5 = 6 (FB e1 (2), e2 = 3; NB e3, e4, e5 = 3)


def test_attainment_distribution_of_persons_25_plus(catalog: mp.Catalog) -> None:
    tables = {"persons": EDUCATION}
    by = ["migrant_status"]
    high = _compute(catalog, tables, "TERTIARY_SHARE_25PLUS", by=by)
    medium = _compute(catalog, tables, "MEDIUM_EDU_SHARE_25PLUS", by=by)
    low = _compute(catalog, tables, "LOW_EDU_SHARE_25PLUS", by=by)
    # tertiary e1 (2), e4 (aggregate code) = 3 of 6; medium e2, e5 = 2; low e3 = 1
    assert _value(high, migrant_status="_T") == pytest.approx(50.0)
    assert _value(medium, migrant_status="_T") == pytest.approx(100 * 2 / 6)
    assert _value(low, migrant_status="_T") == pytest.approx(100 * 1 / 6)
    # foreign-born: tertiary e1 (2) of 3, medium e2, low none
    assert _value(high, migrant_status="FB") == pytest.approx(100 * 2 / 3)
    assert _value(medium, migrant_status="FB") == pytest.approx(100 * 1 / 3)
    assert _value(low, migrant_status="FB") == 0
    # the three add up to 100 in every cell
    for status in ("_T", "FB", "NB"):
        total = sum(_value(t, migrant_status=status) for t in (high, medium, low))
        assert total == pytest.approx(100.0)


def test_early_leavers_from_formal_education(catalog: mp.Catalog) -> None:
    table = _compute(
        catalog, {"persons": EDUCATION}, "EARLY_LEAVERS_FORMAL_18_24", by=["migrant_status"]
    )
    # 18-24 with attainment and attendance recorded: e9, e10, e11, e13 (2) = 5 (e12's
    # attendance is missing); at most ISCED 2 and not attending: e9, e13 (2) = 3
    assert _value(table, migrant_status="_T") == pytest.approx(60.0)
    assert _value(table, migrant_status="FB") == 0  # e11 attends school
    assert _value(table, migrant_status="NB") == pytest.approx(75.0)  # 3 of e9, e10, e13 (2)


# Emigrants aged 25+ by attainment (series MIGRANT_STOCK_25PLUS); the all-levels
# total (_T), the unknown row, the female row and the other year are left out.
# fmt: off
EMIGRANTS_25PLUS = pd.DataFrame(
    [
        # origin, ref_area, sex,  year, education, value
        ("MDA", "ITA", "_T", 2024, "ED5-8", 12.0),
        ("MDA", "ITA", "_T", 2024, "ED3_4", 10.0),
        ("MDA", "ITA", "_T", 2024, "ED0-2",  8.0),
        ("MDA", "ITA", "_T", 2024, "_T",    30.0),
        ("MDA", "ITA", "_T", 2024, "_U",     2.0),
        ("MDA", "RUS", "_T", 2024, "ED5-8",  6.0),
        ("MDA", "RUS", "_T", 2024, "ED3_4", 20.0),
        ("MDA", "RUS", "_T", 2024, "ED0-2", 14.0),
        ("MDA", "RUS", "F",  2024, "ED5-8",  4.0),
        ("MDA", "RUS", "_T", 2023, "ED5-8", 99.0),
    ],
    columns=["origin", "ref_area", "sex", "time_period", "education", "value"],
).assign(series_id="MIGRANT_STOCK_25PLUS")
# fmt: on


def test_tertiary_share_of_emigrants(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"series": EMIGRANTS_25PLUS}, "EMIG_TERTIARY_SHARE_25PLUS")
    # tertiary 12 + 6 = 18 over known attainment 12 + 10 + 8 + 6 + 20 + 14 = 70
    assert _value(table) == pytest.approx(100 * 18 / 70)


# --------------------------------------------------------------------------- coverage
TESTED = {
    # labour.yaml
    "LFPR_BY_MIG", "EPR_BY_MIG", "UR_BY_MIG", "MIG_WORKER_SHARE_LF", "MIG_SHARE_OCC",
    "HIGH_SKILL_OCC_SHARE", "OVERQUAL_RATE", "WORKING_ABROAD_SHARE",
    # education.yaml
    "TERTIARY_SHARE_25PLUS", "MEDIUM_EDU_SHARE_25PLUS", "LOW_EDU_SHARE_25PLUS",
    "EARLY_LEAVERS_FORMAL_18_24", "EMIG_TERTIARY_SHARE_25PLUS",
}  # fmt: skip

# The indicators of these files whose hand-computed tests are in
# tests/test_calculators.py (derived indicators and the POP_RESIDENT and
# published-table indicators added with them).
CALCULATOR_TESTS = {
    "LFPR_GAP_FB_NB", "EPR_GAP_FB_NB", "UR_GAP_FB_NB", "OVERQUAL_GAP_FB_NB",
    "OCC_CONCENTRATION_MIG",
}  # fmt: skip


def test_every_indicator_of_these_files_has_a_hand_computed_test() -> None:
    assert indicator_ids(*FILES) == TESTED | CALCULATOR_TESTS


def test_person_level_indicators_allow_sex_and_region(catalog: mp.Catalog) -> None:
    # issue 5: sex and region for every person-level indicator, and education
    # except for the attainment indicators themselves (a breakdown by
    # attainment would put each cell at 0 or 100)
    by_education = {
        "TERTIARY_SHARE_25PLUS", "MEDIUM_EDU_SHARE_25PLUS", "LOW_EDU_SHARE_25PLUS",
        "EARLY_LEAVERS_FORMAL_18_24",
    }  # fmt: skip
    for name in FILES:
        data = yaml.safe_load(Path(REPO / "indicators" / name).read_text(encoding="utf-8"))
        for entry in data["indicators"]:
            ind = catalog.indicator(entry["id"])
            if ind.is_derived or any(catalog.table_of(t) != "persons" for t in ind.terms()):
                continue
            wanted = {"sex", "region"} | (set() if ind.id in by_education else {"education"})
            assert wanted <= set(ind.breakdowns), ind.id
