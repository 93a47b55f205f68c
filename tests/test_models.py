"""The catalogue models on their own, and the bundled codelists through them."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

import migprofile as mp
from migprofile.catalog import Crosswalk, Indicator, Parameter, Term
from migprofile.catalog.filters import to_pandas_mask


def _indicator(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "X_SHARE",
        "name": "x",
        "domain": "stocks",
        "definition": "x",
        "measure": "share",
        "numerator": {"filter": "sex == 'F'"},
        "denominator": {"filter": "usual_resident"},
        "multiplier": 100,
        "unit": "percent",
        "source_kinds": ["census"],
        "standard": "none",
        "comparability": "test",
    }
    base.update(changes)
    return base


def test_a_valid_indicator_is_frozen() -> None:
    ind = Indicator.model_validate(_indicator())
    assert ind.multiplier == 100.0
    with pytest.raises(ValidationError):
        ind.unit = "person"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"denominator": None}, "needs a denominator"),
        ({"measure": "count", "unit": "person"}, "has no denominator"),
        ({"unit": "person"}, "dimensionless"),
        ({"unit": "percentage_point"}, "percentage points"),
        ({"measure": "mean", "denominator": None}, "needs numerator.variable"),
        ({"multiplier": -1}, "positive"),
        ({"multiplier": 7}, "1, 100, 1000 or 100000"),
        ({"default_breakdowns": ["sex"]}, "not among breakdowns"),
        ({"standard": None}, "cite the standard"),
        ({"comparability": None}, "explains its own definition"),
        ({"sdg": ["10.7"]}, "SDG indicator number"),
        ({"name": {"fr": "seulement"}}, "English text"),
        ({"numerator": {"filter": "age.__class__"}}, "attribute"),
        ({"numerator": {"population": "p", "filter": "usual_resident"}}, "exactly one"),
        ({"id": "lower"}, "pattern"),
    ],
)
def test_indicator_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Indicator.model_validate(_indicator(**changes))


def test_models_are_strict() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        mp.catalog.Reference.model_validate({"document": "d", "year": "1998"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        Term.model_validate({"filter": "usual_resident", "weights": "w"})


def test_parameter_default_must_be_allowed_and_typed() -> None:
    with pytest.raises(ValidationError, match="not among"):
        Parameter.model_validate(
            {"id": "p", "name": "p", "type": "string", "default": "C", "allowed": ["A", "B"]}
        )
    with pytest.raises(ValidationError, match="not of type integer"):
        Parameter.model_validate({"id": "p", "name": "p", "type": "integer", "default": 1.5})


def test_codelist_rejects_cycles_unknown_parents_and_bad_sets() -> None:
    codes = [
        {"id": "A", "name": "A", "parent": "B"},
        {"id": "B", "name": "B", "parent": "A"},
        {"id": "C", "name": "C", "parent": "Z"},
    ]
    with pytest.raises(ValidationError) as info:
        mp.Codelist.model_validate(
            {"id": "c", "name": "c", "codes": codes, "sets": {"s": ["A", "Q"]}}
        )
    text = str(info.value)
    assert "cycle" in text and "'Z'" in text and "'Q'" in text


def test_crosswalk_ranges_and_conflicts() -> None:
    cw = Crosswalk.model_validate(
        {
            "id": "ages",
            "name": "age bands",
            "target": "age",
            "map": [
                {"from_range": [0, 4], "to": "Y0T4"},
                {"from_range": [5, 9.5], "to": "Y5T9"},
                {"from": "DK", "to": "_U"},
            ],
        }
    )
    assert [cw.lookup(v) for v in (0, 4, "4", 4.5, 9.5, 10, "DK", "x")] == [
        "Y0T4",
        "Y0T4",
        "Y0T4",
        None,
        "Y5T9",
        None,
        "_U",
        None,
    ]
    with pytest.raises(ValidationError, match="overlap"):
        Crosswalk.model_validate(
            {
                "id": "c",
                "name": "c",
                "target": "age",
                "map": [{"from_range": [0, 5], "to": "A"}, {"from_range": [5, 9], "to": "B"}],
            }
        )
    with pytest.raises(ValidationError, match="maps to both"):
        Crosswalk.model_validate(
            {
                "id": "c",
                "name": "c",
                "target": "sex",
                "map": [{"from": 1, "to": "M"}, {"from": "1", "to": "F"}],
            }
        )


# --------------------------------------------------------------------------- bundled codelists


def test_every_country_rolls_up_to_exactly_one_subregion(catalog: mp.Catalog) -> None:
    geo = catalog.codelist("geo")
    exceptions = set(geo.sets["no_m49_region"])
    assert exceptions == {"ATA"}
    # ISO 3166-1's 249 countries, plus the user-assigned codes (XKX Kosovo,
    # XFL the fictional country of the bundled example) at the same level.
    user_assigned = set(geo.sets["user_assigned"])
    assert user_assigned == {"XKX", "XFL"}
    countries = geo.at_level("country")
    assert len(countries) == 249 + len(user_assigned)
    for code in countries:
        subregions = [a for a in geo.ancestors(code) if geo.code(a).level == "subregion"]
        expected = 0 if code in exceptions or code == "XFL" else 1
        assert len(subregions) == expected, code
    assert geo.roll_up("MDA", "subregion") == "151"
    assert geo.roll_up("MDA", "region") == "150"
    assert geo.roll_up("BRA", "intermediate") == "005"
    assert geo.roll_up("BRA", "region") == "019"
    assert geo.roll_up("ATA", "region") is None
    assert geo.code("MDA").attributes["m49"] == "498"


@pytest.mark.parametrize("codelist_id", ["geo", "isced", "isco", "age", "sex", "lf_status"])
def test_hierarchy_has_no_gap_or_overlap(catalog: mp.Catalog, codelist_id: str) -> None:
    cl = catalog.codelist(codelist_id)
    for code in cl.ids:
        children = cl.children(code)
        if not children:
            continue
        leaf_sets = [set(cl.leaves(child)) for child in children]
        union: set[str] = set().union(*leaf_sets)
        assert sum(len(s) for s in leaf_sets) == len(union), f"overlap under {code}"
        assert union == set(cl.leaves(code)), f"gap under {code}"


def test_named_sets_include_the_codes_below_them(catalog: mp.Catalog) -> None:
    isco = catalog.codelist("isco")
    high = isco.resolve("skill_high")
    assert {"OC1", "OC2", "OC3", "OC22", "OC32"} <= high
    assert "OC4" not in high
    isced = catalog.codelist("isced")
    assert {"ED5", "ED6", "ED7", "ED8"} <= isced.resolve("tertiary")
    assert "ED4" not in isced.resolve("tertiary")


def test_population_filters_select_on_real_codes(catalog: mp.Catalog) -> None:
    """A bundled population evaluated with the catalogue's codelists and a
    hand-made frame: which rows must be selected is worked out by hand."""
    frame = pd.DataFrame(
        {
            "usual_resident": [True, True, True, True, False, None],
            "country_of_birth": ["MDA", "ROU", "_U", None, "UKR", "RUS"],
            "age": [30, 40, 50, 60, 25, 35],
        }
    )
    pop = catalog.population("foreign_born_residents")
    mask = to_pandas_mask(
        pop.expr, frame, params={"reporting_country": "MDA"}, resolve=catalog.resolve
    )
    # ROU only: MDA is native, _U unknown, missing birth country is not counted,
    # UKR is not a usual resident, a missing residence flag selects nothing.
    assert mask.tolist() == [False, True, False, False, False, False]


def test_group_codes_of_a_set_or_a_level(catalog: mp.Catalog) -> None:
    age = catalog.codelist("age")
    assert age.group_codes("broad_3") == ("Y_LT15", "Y15T64", "Y_GE65")  # a named set
    five = age.group_codes("five_year")  # a level: its codes only, not their children
    assert five[:2] == ("Y0T4", "Y5T9")
    assert "Y0" not in five
    with pytest.raises(KeyError, match="no level"):
        age.group_codes("decades")
