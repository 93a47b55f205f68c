"""compute(): catalogue indicators on harmonised data. Every expected value is
worked out by hand from tests/data/census/*.csv (see the comments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import migprofile as mp
from conftest import TESTS
from conftest import cell_value as _value
from migprofile.cli import cli
from migprofile.compute.disclosure import DisclosureRules

CENSUS = TESTS / "data" / "census" / "mapping.yaml"
SURVEY = TESTS / "data" / "survey" / "mapping.yaml"


@pytest.fixture(scope="module")
def census() -> mp.Dataset:
    return mp.read_source(CENSUS)


def test_counts_and_shares_by_sex_with_margins(census: mp.Dataset) -> None:
    table = mp.compute(census, ["IMM_STOCK", "IMM_STOCK_SHARE"], by=["sex"])
    # foreign-born residents: H2/1 (F, born ROU) and H3/1 (M, born RUS)
    assert _value(table, "IMM_STOCK", sex="F") == 1
    assert _value(table, "IMM_STOCK", sex="M") == 1
    assert _value(table, "IMM_STOCK", sex="_T") == 2
    # 10 residents, 5 women and 5 men; H3/3's unknown birthplace stays in the denominator
    assert _value(table, "IMM_STOCK_SHARE", sex="_T") == pytest.approx(20.0)
    assert _value(table, "IMM_STOCK_SHARE", sex="F") == pytest.approx(100 * 1 / 5)
    # a census: complete enumeration, no sampling error, and it says so
    assert table["se"].isna().all() and table["ci_lower"].isna().all()
    assert table["findings"].str.contains("NO_SAMPLING_ERROR").all()
    assert set(table["unit"]) == {"person", "percent"}
    assert set(table["ref_area"]) == {"MDA"}
    assert set(table["ref_period"]) == {"2024"}
    assert set(table["source"]) == {"tiny_census_2024"}
    assert table["parameters"].str.contains("reporting_country=MDA").all()


def test_children_left_behind_keep_unknown_whereabouts_in_the_denominator(
    census: mp.Dataset,
) -> None:
    table = mp.compute(
        census,
        [
            "CLB_ANY_PARENT_ABROAD",
            "CLB_BOTH_PARENTS_ABROAD",
            "CLB_MOTHER_ONLY_ABROAD",
            "CLB_FATHER_ONLY_ABROAD",
        ],
    )
    # resident children: H1/2, H1/4 (mother abroad, father home), H2/3 (both home),
    # H3/2 (mother pointer broken: unknown) -> 4 in the denominator
    assert _value(table, "CLB_ANY_PARENT_ABROAD") == pytest.approx(50.0)
    assert _value(table, "CLB_MOTHER_ONLY_ABROAD") == pytest.approx(50.0)
    assert _value(table, "CLB_BOTH_PARENTS_ABROAD") == 0
    assert _value(table, "CLB_FATHER_ONLY_ABROAD") == 0
    assert set(table["n"]) == {4}


def test_household_and_absent_member_indicators(census: mp.Dataset) -> None:
    table = mp.compute(
        census,
        ["HH_MEMBER_ABROAD_SHARE", "ABSENT_POP", "ABSENT_POP_SHARE", "HH_REMIT_RECEIPT_SHARE"],
    )
    # households H1, H2 and H4 have a member abroad
    assert _value(table, "HH_MEMBER_ABROAD_SHARE") == pytest.approx(75.0)
    # absent 12 months or more: H1/3 (24) and H4/2 (36); H2/4 (6 months) is not
    assert _value(table, "ABSENT_POP") == 2
    assert _value(table, "ABSENT_POP_SHARE") == pytest.approx(100 * 2 / (10 + 2))
    # H1 and H4 received remittances
    assert _value(table, "HH_REMIT_RECEIPT_SHARE") == pytest.approx(50.0)


def test_median_sex_ratio_and_labour(census: mp.Dataset) -> None:
    table = mp.compute(
        census, ["IMM_MEDIAN_AGE", "IMM_SEX_RATIO", "IMM_FEMALE_SHARE", "LFPR_BY_MIG", "UR_BY_MIG"]
    )
    assert _value(table, "IMM_MEDIAN_AGE") == 38  # ages 38 and 70: the lower median
    assert _value(table, "IMM_SEX_RATIO") == pytest.approx(100.0)
    assert _value(table, "IMM_FEMALE_SHARE") == pytest.approx(50.0)
    # working age 15+: 6 residents of known age; labour force: 3 EMP + 1 UNE
    assert _value(table, "LFPR_BY_MIG") == pytest.approx(100 * 4 / 6)
    assert _value(table, "UR_BY_MIG") == pytest.approx(100 * 1 / 4)


def test_breakdowns_at_codelist_levels(census: mp.Dataset) -> None:
    table = mp.compute(census, "IMM_STOCK", by=["country_of_birth:subregion"], margins=False)
    # ROU and RUS are both in Eastern Europe (151)
    assert table[["country_of_birth", "value"]].values.tolist() == [["151", 2.0]]
    ages = mp.compute(census, "IMM_STOCK", by=["age:broad_3"], margins=False)
    assert dict(zip(ages["age"], ages["value"], strict=True)) == {"Y15T64": 1.0, "Y_GE65": 1.0}


def test_margins_are_a_cube_and_cells_add_up(census: mp.Dataset) -> None:
    table = mp.compute(census, "IMM_STOCK_SHARE", by=["sex", "education:aggregate"])
    groupings = {
        (s == "_T", e == "_T") for s, e in zip(table["sex"], table["education"], strict=True)
    }
    assert groupings == {(False, False), (True, False), (False, True), (True, True)}
    counts = mp.compute(census, "IMM_STOCK", by=["sex", "education"])
    cells = counts[(counts["sex"] != "_T") & (counts["education"] != "_T")]["value"].sum()
    assert cells == _value(counts, "IMM_STOCK", sex="_T", education="_T")
    # H2/1 has ED6 (tertiary, high), H3/1 ED3 (medium)
    shares = table[(table["sex"] == "_T") & (table["education"] != "_T")]
    assert dict(zip(shares["education"], shares["n"], strict=True))["ED5-8"] == 2


def test_breakdown_not_allowed_is_an_error(census: mp.Dataset) -> None:
    with pytest.raises(mp.ComputeError, match="cannot be broken down by"):
        mp.compute(census, "HH_MEMBER_ABROAD_SHARE", by=["sex"])
    with pytest.raises(mp.ComputeError, match="numeric; name the groups"):
        mp.compute(census, "IMM_STOCK", by=["age"])


def test_missing_table_is_an_error(census: mp.Dataset) -> None:
    with pytest.raises(mp.ComputeError, match="needs the series table"):
        mp.compute(census, "EMIG_STOCK")


def test_survey_design_gives_replicate_standard_errors() -> None:
    survey = mp.read_source(SURVEY)
    assert survey.design is not None
    # record 7 has an invalid replicate weight ('x'): give it one for this test
    frame = survey.frame.assign(repw_4=survey.frame["repw_4"].fillna(93.0))
    table = mp.compute(
        frame,
        "FOREIGN_CIT_STOCK",
        margins=False,
        design=mp.Design.from_spec(survey.design),
        params={"reporting_country": "MDA", "migrant_basis": "CIT"},
    )
    # migrant_basis is CIT in this survey; foreign citizens: persons 3 (ROU) and 5 (UKR);
    # person 4 is stateless and not a foreign citizen
    assert _value(table, "FOREIGN_CIT_STOCK") == pytest.approx(80 + 120)
    # JK1 by hand: scale (R-1)/R, centred on the mean of the replicates
    reps = np.array([85 + 130, 75 + 110, 82 + 125, 78 + 115], dtype=float)
    se = np.sqrt((4 - 1) / 4 * ((reps - reps.mean()) ** 2).sum())
    assert float(table["se"].iloc[0]) == pytest.approx(se, rel=1e-12)


def test_cross_table_ratio_combines_two_totals(census: mp.Dataset) -> None:
    catalog = census.catalog
    series = pd.DataFrame(
        {
            "series_id": ["MIGRANT_STOCK"] * 3,
            "origin": pd.Categorical(["MDA", "MDA", "ROU"]),
            "ref_area": pd.Categorical(["ITA", "RUS", "ITA"]),
            "sex": pd.Categorical(["_T", "_T", "_T"]),
            "time_period": [2024.0, 2024.0, 2024.0],
            "value": [30.0, 10.0, 99.0],
        }
    )
    ind = mp.Indicator.model_validate(
        {
            "id": "EMIGRANTS_PER_RESIDENT",
            "name": "Emigrants abroad per 100 residents",
            "domain": "emigration",
            "definition": "test",
            "measure": "ratio",
            "numerator": {"population": "emigrant_stock_abroad", "variable": "value"},
            "denominator": {"population": "usual_residents"},
            "multiplier": 100,
            "unit": "percent",
            "source_kinds": ["mirror_statistics", "census"],
            "standard": "none",
            "comparability": "test",
            "parameters": ["reporting_country", "ref_year"],
        }
    )
    table = mp.compute(
        {"persons": census["persons"], "series": series},
        ind,
        catalog=catalog,
        params={"reporting_country": "MDA", "ref_year": 2024},
    )
    # emigrants born in MDA: 30 + 10; residents: 10
    assert _value(table, "EMIGRANTS_PER_RESIDENT") == pytest.approx(100 * 40 / 10)
    assert "CROSS_TABLE" in table["findings"].iloc[0]
    # regression: the combined row keeps the parts' codes (both are censuses)
    assert "NO_SAMPLING_ERROR" in table["findings"].iloc[0]


def test_disclosure_rules_apply_to_computed_tables(census: mp.Dataset) -> None:
    rules = DisclosureRules(min_n=2)
    table = mp.compute(census, "IMM_STOCK", by=["sex"], disclosure=rules)
    # each sex has n = 1: both suppressed; the total (n = 2) is published
    assert table.loc[table["sex"] != "_T", "value"].isna().all()
    assert _value(table, "IMM_STOCK", sex="_T") == 2


def test_cli_compute(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(
        cli, ["compute", str(CENSUS), "-i", "CLB_ANY_PARENT_ABROAD", "--by", "sex"]
    )
    assert shown.exit_code == 0, shown.output
    # girls: H1/4 (mother abroad), H2/3, H3/2 -> 1 of 3; the boy H1/2 -> 1 of 1
    lines = {tuple(line.split()[:3]) for line in shown.output.splitlines()[1:]}
    assert ("CLB_ANY_PARENT_ABROAD", "F", "33.333333") in lines
    assert ("CLB_ANY_PARENT_ABROAD", "M", "100.000000") in lines
    out = tmp_path / "result.csv"
    written = runner.invoke(
        cli, ["compute", str(CENSUS), "-i", "IMM_STOCK", "--by", "age:broad_3", "--out", str(out)]
    )
    assert written.exit_code == 0, written.output
    assert set(pd.read_csv(out)["age"]) == {"Y15T64", "Y_GE65", "_T"}
    bad = runner.invoke(cli, ["compute", str(CENSUS), "-i", "IMM_STOCK", "--by", "shoe"])
    assert bad.exit_code == 1 and "no dimension 'shoe'" in bad.output


@pytest.mark.parametrize(
    "indicators",
    [
        ["IMM_STOCK", "IMM_STOCK_SHARE", "IMM_MEDIAN_AGE", "LFPR_BY_MIG", "UR_BY_MIG"],
        ["CLB_ANY_PARENT_ABROAD", "CLB_MOTHER_ONLY_ABROAD", "ABSENT_POP_SHARE"],
        ["HH_MEMBER_ABROAD_SHARE", "HH_REMIT_RECEIPT_SHARE"],
    ],
)
def test_engines_give_the_same_table(census: mp.Dataset, indicators: list[str]) -> None:
    pytest.importorskip("duckdb")
    by = [] if indicators[0].startswith("HH_") else ["sex"]
    pandas_table = mp.compute(census, indicators, by=by)
    duckdb_table = mp.compute(census, indicators, by=by, engine="duckdb")
    pd.testing.assert_frame_equal(pandas_table, duckdb_table, rtol=1e-9)
