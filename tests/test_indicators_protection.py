"""Protection indicators (indicators/protection.yaml) on tiny hand-written
tables. Every expected value is worked out by hand in the comment next to it;
every result's unit must be its indicator's unit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import migprofile as mp
from conftest import REPO
from conftest import cell_value as _value

PARAMS = {"reporting_country": "AFG", "ref_year": 2024}


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


# One row per event, no weight column. Decisions carry their instance: first
# instance (I1) or final on appeal or review (F); applications and other
# events have none.
I1, F = "FIRST_INSTANCE", "FINAL_ON_APPEAL"
EVENTS = pd.DataFrame(
    [
        # event_type,        citizenship, sex, age, outcome, instance
        ("ASYLUM_APP_FIRST", "SYR", "M", 25, None, None),  # a1
        ("ASYLUM_APP_FIRST", "SYR", "F", 22, None, None),  # a2
        ("ASYLUM_APP_FIRST", "AFG", "M", 30, None, None),  # a3
        ("ASYLUM_APP", "SYR", "M", 25, None, None),  # a4 subsequent
        ("ASYLUM_DECISION", "SYR", "M", 25, "REFUGEE_STATUS", I1),  # d1
        ("ASYLUM_DECISION", "SYR", "F", 22, "SUBSIDIARY", I1),  # d2
        ("ASYLUM_DECISION", "SYR", "M", 41, "REJECTED", I1),  # d3
        ("ASYLUM_DECISION", "AFG", "M", 30, "HUMANITARIAN", I1),  # d4
        ("ASYLUM_DECISION", "AFG", "F", 35, "REJECTED", I1),  # d5
        ("ASYLUM_DECISION", "AFG", "M", 19, "REJECTED", I1),  # d6
        ("ASYLUM_DECISION", "AFG", "M", 50, "OTHER_CLOSED", I1),  # d7 withdrawn
        ("ASYLUM_DECISION", "SYR", "F", 33, None, I1),  # d8 outcome missing
        ("ASYLUM_DECISION", "SYR", "M", 41, "SUBSIDIARY", F),  # f1 d3 wins on appeal
        ("ASYLUM_DECISION", "AFG", "F", 35, "REJECTED", F),  # f2 d5 loses on appeal
        ("ASYLUM_DECISION", "AFG", "M", 19, "REJECTED", F),  # f3 d6 loses on appeal
        ("ASYLUM_DECISION", "AFG", "M", 44, "OTHER_CLOSED", F),  # f4 appeal withdrawn
        ("ASYLUM_DECISION", "SYR", "M", 28, "REFUGEE_STATUS", None),  # u1 instance missing
        ("REFUSAL_OF_ENTRY", "UKR", "M", 40, None, None),  # r1
        ("REFUSAL_OF_ENTRY", "UKR", "M", 40, None, None),  # r2 same person again
        ("REFUSAL_OF_ENTRY", "TUR", "F", 28, None, None),  # r3
        ("APPREHENSION", "PAK", "M", 24, None, None),  # p1
        ("APPREHENSION", "IRQ", "M", 31, None, None),  # p2
        (None, "SYR", "M", 20, None, None),  # no type
    ],
    columns=["event_type", "citizenship", "sex", "age", "decision_outcome", "decision_instance"],
)
FINAL = {**PARAMS, "asylum_instance": F}


def test_asylum_apps_are_first_time_applications(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "ASYLUM_APPS", by=["citizenship"])
    # a1, a2, a3; the subsequent application a4 is not counted
    assert _value(table, citizenship="_T") == 3
    assert _value(table, citizenship="SYR") == 2


def test_asylum_decisions_are_the_eurostat_total(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "ASYLUM_DECISIONS", by=["decision_outcome"])
    # d1-d6; d7 (otherwise closed) and d8 (outcome missing) are not decisions on substance
    assert _value(table, decision_outcome="_T") == 6
    assert _value(table, decision_outcome="REJECTED") == 3  # d3, d5, d6
    assert _value(table, decision_outcome="REFUGEE_STATUS") == 1
    # at the level "outcome" the cells add up to the total
    cells = table[table["decision_outcome"] != "_T"]["value"].sum()
    assert cells == 6


def test_recognition_rate(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "RECOGNITION_RATE", by=["citizenship"])
    # first instance (the default): positive d1, d2, d4 of d1-d6: 3 / 6; the
    # final decisions f1-f4 and u1 (instance missing) are in neither term
    assert _value(table, citizenship="_T") == pytest.approx(50.0)
    # SYR: d1, d2 positive of d1, d2, d3; AFG: d4 of d4, d5, d6
    assert _value(table, citizenship="SYR") == pytest.approx(200 / 3)
    assert _value(table, citizenship="AFG") == pytest.approx(100 / 3)
    assert table["parameters"].str.contains("asylum_instance=FIRST_INSTANCE").all()


def test_decisions_and_recognition_rate_on_appeal(catalog: mp.Catalog) -> None:
    decisions = mp.compute(
        {"events": EVENTS}, "ASYLUM_DECISIONS", by=["decision_outcome"], params=FINAL,
        catalog=catalog,
    )  # fmt: skip
    # final decisions on substance: f1, f2, f3 (f4 withdrawn is not one)
    assert _value(decisions, decision_outcome="_T") == 3
    assert _value(decisions, decision_outcome="REJECTED") == 2  # f2, f3
    assert _value(decisions, decision_outcome="SUBSIDIARY") == 1  # f1
    rate = mp.compute(
        {"events": EVENTS}, "RECOGNITION_RATE", by=["citizenship"], params=FINAL,
        catalog=catalog,
    )  # fmt: skip
    # f1 positive of f1, f2, f3: 1 / 3 x 100; SYR 1 / 1, AFG 0 / 2
    assert _value(rate, citizenship="_T") == pytest.approx(100 / 3)
    assert _value(rate, citizenship="SYR") == pytest.approx(100.0)
    assert _value(rate, citizenship="AFG") == pytest.approx(0.0)
    assert (rate["unit"] == "percent").all()
    assert rate["parameters"].str.contains("asylum_instance=FINAL_ON_APPEAL").all()


def test_asylum_decisions_need_the_instance_column(catalog: mp.Catalog) -> None:
    # a source without the column must say which instance it holds (a
    # constant in its mapping): the filter does not guess
    with pytest.raises(KeyError, match="decision_instance"):
        mp.compute(
            {"events": EVENTS.drop(columns="decision_instance")}, "ASYLUM_DECISIONS",
            params=PARAMS, catalog=catalog,
        )  # fmt: skip


def test_refusals_of_entry_are_events(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "REFUSALS_OF_ENTRY", by=["citizenship"])
    # r1, r2 (the same person twice: two events) and r3
    assert _value(table, citizenship="_T") == 3
    assert _value(table, citizenship="UKR") == 2
    assert set(table["unit"]) == {"event"}


def test_apprehensions(catalog: mp.Catalog) -> None:
    table = _compute(catalog, {"events": EVENTS}, "APPREHENSIONS", by=["citizenship"])
    # p1 and p2
    assert _value(table, citizenship="_T") == 2
    assert _value(table, citizenship="PAK") == 1


def test_migrant_deaths_weight_incidents_by_their_dead_and_missing(
    catalog: mp.Catalog,
) -> None:
    incidents = pd.DataFrame(
        {
            "event_type": [
                "DEATH_IN_TRANSIT",
                "DEATH_IN_TRANSIT",
                "DEATH_IN_TRANSIT",
                "APPREHENSION",
            ],
            "sex": [None, "F", "M", "M"],
            "weight": [12.0, 1.0, 3.0, 5.0],
        }
    )
    table = _compute(catalog, {"events": incidents}, "MIGRANT_DEATHS", by=["sex"])
    # 12 + 1 + 3 dead and missing; the apprehension row (weight 5) is not a death
    assert _value(table, sex="_T") == pytest.approx(16.0)
    assert _value(table, sex="M") == pytest.approx(3.0)
    assert _value(table, sex="_U") == pytest.approx(12.0)


def test_refugees_per_100k_of_the_population_of_origin_plus_refugees(
    catalog: mp.Catalog,
) -> None:
    series = pd.DataFrame(
        [
            # series_id,   ref_area, origin, sex,  year, value
            ("REFUGEES", "PAK", "AFG", "_T", 2024, 1500.0),
            ("REFUGEES", "IRN", "AFG", None, 2024, 500.0),
            ("REFUGEES", "DEU", "AFG", "F", 2024, 100.0),  # one sex: out
            ("REFUGEES", "001", "AFG", "_T", 2024, 2000.0),  # world total: out
            ("REFUGEES", "PAK", "AFG", "_T", 2023, 9999.0),  # other year: out
            ("REFUGEES", "TUR", "SYR", "_T", 2024, 3000.0),  # other origin: out
            ("POPULATION", "AFG", None, "_T", 2024, 98000.0),
            ("POPULATION", "AFG", None, "F", 2024, 49000.0),  # one sex: out
            ("POPULATION", "PAK", None, "_T", 2024, 5000.0),  # other country: out
        ],
        columns=["series_id", "ref_area", "origin", "sex", "time_period", "value"],
    ).assign(unit="person")
    # the same population published in thousands is left out, not added
    thousands = series.iloc[[6]].assign(unit="1e3 person", value=98.0)
    series = pd.concat([series, thousands], ignore_index=True)
    table = _compute(catalog, {"series": series}, "REFUGEES_PER_100K_ORIGIN")
    # 2000 refugees / (98000 + 2000) x 100 000 = 2000 per 100 000
    assert _value(table) == pytest.approx(2000.0)
    assert table["parameters"].str.contains("reporting_country=AFG").all()


TESTED = {
    "ASYLUM_APPS",
    "ASYLUM_DECISIONS",
    "RECOGNITION_RATE",
    "REFUGEES_PER_100K_ORIGIN",
    "MIGRANT_DEATHS",
    "REFUSALS_OF_ENTRY",
    "APPREHENSIONS",
}


def test_every_protection_indicator_has_a_hand_computed_test() -> None:
    data = yaml.safe_load(Path(REPO / "indicators" / "protection.yaml").read_text(encoding="utf-8"))
    assert {ind["id"] for ind in data["indicators"]} == TESTED
