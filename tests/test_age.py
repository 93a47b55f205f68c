"""Tests of the SDMX age-code grammar (migprofile.catalog.age) and of age.yaml."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
try:
    from migprofile.catalog import age as agemod
    from migprofile.errors import MigprofileError
except ImportError:  # package not installed: run from the source tree
    sys.path.insert(0, str(ROOT / "src"))
    from migprofile.catalog import age as agemod
    from migprofile.errors import MigprofileError

AgeCodeError = agemod.AgeCodeError
AgeInterval = agemod.AgeInterval

CODELISTS = ROOT / "metadata" / "codelists"


def load_codelist(name: str) -> dict:
    with (CODELISTS / f"{name}.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)["codelists"][0]


# --------------------------------------------------------------------------- parsing

VALID = [
    ("_T", 0, None),
    ("Y0", 0, 0),
    ("Y1", 1, 1),
    ("Y99", 99, 99),
    ("Y150", 150, 150),
    ("Y0T4", 0, 4),
    ("Y15T64", 15, 64),
    ("Y95T99", 95, 99),
    ("Y_LT1", 0, 0),
    ("Y_LT15", 0, 14),
    ("Y_LT18", 0, 17),
    ("Y_GE0", 0, None),
    ("Y_GE15", 15, None),
    ("Y_GE65", 65, None),
    ("Y_GE100", 100, None),
]


@pytest.mark.parametrize(("code", "lo", "hi"), VALID)
def test_parse_valid(code: str, lo: int, hi: int | None) -> None:
    interval = agemod.parse_age_code(code)
    assert interval == AgeInterval(lo, hi)
    assert (interval.lo, interval.hi) == (lo, hi)
    assert interval.is_open is (hi is None)
    assert agemod.is_age_code(code)


INVALID = [
    ("_U", "special code"),
    ("_Z", "special code"),
    ("TOTAL", "expected"),
    ("Y15-64", "expected"),
    ("Y5T5", "write Y5"),
    ("Y9T5", "a < b"),
    ("Y05", "expected"),
    ("Y0T04", "expected"),
    ("Y_LT0", "empty"),
    ("Y_LT", "expected"),
    ("Y_GE", "expected"),
    ("Y", "expected"),
    ("y15", "expected"),
    (" Y15", "expected"),
    ("Y15 ", "expected"),
    ("Y-1", "expected"),
    ("Y1564", "above the maximum"),
    ("Y_GE200", "above the maximum"),
    ("Y15T64T70", "expected"),
    ("Y_LE15", "expected"),
    ("", "expected"),
    (15, "expected a string"),
    (None, "expected a string"),
]


@pytest.mark.parametrize(("code", "reason"), INVALID)
def test_parse_invalid(code: object, reason: str) -> None:
    with pytest.raises(AgeCodeError) as info:
        agemod.parse_age_code(code)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, MigprofileError)
    assert err.code == code
    assert reason in err.reason
    assert not agemod.is_age_code(code)


# --------------------------------------------------------------------------- building

BUILD = [
    ((0, None), {}, "_T"),
    ((15, None), {}, "Y_GE15"),
    ((7, 7), {}, "Y7"),
    ((15, 64), {}, "Y15T64"),
    ((0, 14), {}, "Y0T14"),
    ((0, 14), {"lt": True}, "Y_LT15"),
    ((0, 0), {"lt": True}, "Y0"),
    ((5, 9), {"lt": True}, "Y5T9"),
]


@pytest.mark.parametrize(("args", "kwargs", "expected"), BUILD)
def test_age_code(args: tuple, kwargs: dict, expected: str) -> None:
    assert agemod.age_code(*args, **kwargs) == expected
    assert agemod.parse_age_code(expected) == AgeInterval(*args)


@pytest.mark.parametrize(
    ("lo", "hi"), [(-1, 4), (5, 4), (0, 151), (1.5, 4), (True, 4), ("0", 4), (0, "4")]
)
def test_bad_interval(lo: object, hi: object) -> None:
    with pytest.raises(AgeCodeError):
        AgeInterval(lo, hi)  # type: ignore[arg-type]
    with pytest.raises(AgeCodeError):
        agemod.age_code(lo, hi)  # type: ignore[arg-type]


def test_interval_is_frozen_and_ordered() -> None:
    interval = AgeInterval(15, 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        interval.lo = 0  # type: ignore[misc]
    assert sorted([AgeInterval(65), AgeInterval(0, 14), AgeInterval(15, 64)])[0] == AgeInterval(
        0, 14
    )
    assert interval.code == "Y15T64"
    assert str(interval) == "ages 15 to 64"
    assert AgeInterval(5, 5).describe() == "age 5"
    assert AgeInterval(65).describe() == "ages 65 and over"


@pytest.mark.parametrize(
    ("code", "age", "inside"),
    [
        ("Y15T64", 15, True),
        ("Y15T64", 64, True),
        ("Y15T64", 64.99, True),
        ("Y15T64", 65, False),
        ("Y15T64", 14, False),
        ("Y15T64", 14.99, False),
        ("Y_LT15", 0, True),
        ("Y_LT15", 15, False),
        ("Y_GE65", 120, True),
        ("Y_GE65", 64, False),
        ("Y5", 5.5, True),
        ("Y5", 6, False),
        ("_T", 0, True),
        ("_T", -1, False),
        ("_T", math.nan, False),
        ("_T", None, False),
        ("_T", True, False),
    ],
)
def test_contains(code: str, age: object, inside: bool) -> None:
    assert agemod.parse_age_code(code).contains(age) is inside  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "alias"),
    [
        ("Y15T64", "Y15-64"),
        ("Y0T4", "Y0-4"),
        ("Y_GE65", "Y_GE65"),
        ("Y_LT15", "Y_LT15"),
        ("Y7", "Y7"),
        ("_T", "TOTAL"),
        ("_U", "UNK"),
    ],
)
def test_eurostat_alias(code: str, alias: str) -> None:
    assert agemod.eurostat_alias(code) == alias


def test_eurostat_alias_rejects_bad_codes() -> None:
    with pytest.raises(AgeCodeError):
        agemod.eurostat_alias("Y15-64")


# --------------------------------------------------------------------------- partitions

PARTITION = [
    (["Y_LT15", "Y15T64", "Y_GE65"], 0, None, True),
    (["Y0T4", "Y5T9", "Y10T14", "Y15T17"], 0, 17, True),
    (["Y0T4", "Y5T9", "Y10T14", "Y15T17"], 0, None, False),
    (["Y15T24", "Y25T54", "Y55T64"], 15, 64, True),
    (["Y15T24", "Y25T54", "Y55T64"], 0, 64, False),
    (["_T"], 0, None, True),
    (["Y0", "Y1", "Y2T4", "Y_GE5"], 0, None, True),
    (["Y_GE5", "Y2T4", "Y0", "Y1"], 0, None, True),  # order does not matter
    (["Y_LT15", "Y15T64"], 0, None, False),
    (["Y_LT15", "Y_GE15", "Y15T64"], 0, None, False),
    (["Y_LT15", "Y16T64", "Y_GE65"], 0, None, False),
    (["Y_LT15", "Y15T64", "Y_GE65", "_U"], 0, None, False),
    ([], 0, None, False),
]


@pytest.mark.parametrize(("codes", "lo", "hi", "expected"), PARTITION)
def test_is_partition(codes: list[str], lo: int, hi: int | None, expected: bool) -> None:
    assert agemod.is_partition(codes, lo, hi) is expected


PROBLEMS = [
    (["Y_LT15", "Y15T64", "Y_GE65"], None, []),
    (["Y5T9", "Y10T14"], None, []),
    (["Y0T4", "Y10T14"], None, ["gap: ages 5 to 9 are in no group (between Y0T4 and Y10T14)"]),
    (["Y0T4", "Y6T9"], None, ["gap: age 5 is in no group (between Y0T4 and Y6T9)"]),
    (
        ["Y_LT18", "Y15T64"],
        None,
        ["overlap: ages 15 to 17 are in both Y_LT18 and Y15T64"],
    ),
    (["Y_GE15", "Y20T24"], None, ["overlap: ages 20 to 24 are in both Y_GE15 and Y20T24"]),
    (["Y5", "Y5"], None, ["Y5 is listed twice"]),
    (["Y15-64"], None, ["'Y15-64' is not an age group"]),
    (
        ["Y5T9", "Y10T14"],
        AgeInterval(0, None),
        [
            "gap: ages 0 to 4 are in no group (before Y5T9)",
            "gap: ages 15 and over are in no group (after Y10T14)",
        ],
    ),
    (["Y_LT15", "Y_GE15"], AgeInterval(0, 64), ["Y_GE15 is open-ended"]),
    (["Y_LT15", "Y15T74"], AgeInterval(0, 64), ["Y15T74 ends at age 74"]),
    (
        ["Y5T9"],
        AgeInterval(10, 19),
        [
            "Y5T9 starts at age 5, below the range (ages 10 to 19)",
            "gap: ages 10 to 19 are in no group (after Y5T9)",
        ],
    ),
]


@pytest.mark.parametrize(("codes", "span", "expected"), PROBLEMS)
def test_partition_problems(
    codes: list[str], span: AgeInterval | None, expected: list[str]
) -> None:
    problems = agemod.partition_problems(codes, span)
    assert len(problems) == len(expected), problems
    for text, problem in zip(expected, problems, strict=True):
        assert problem.startswith(text), (problem, text)


def test_partition_problems_accepts_intervals() -> None:
    assert agemod.partition_problems([AgeInterval(0, 14), "Y15T64", AgeInterval(65)]) == []


# --------------------------------------------------------------------------- age.yaml

AGE = load_codelist("age")
AGE_CODES = {c["id"]: c for c in AGE["codes"]}


@pytest.mark.parametrize("code", sorted(AGE_CODES))
def test_every_age_code_parses(code: str) -> None:
    if code in agemod.NON_INTERVAL_CODES:
        with pytest.raises(AgeCodeError):
            agemod.parse_age_code(code)
        return
    agemod.parse_age_code(code)


def test_only_unknown_is_not_an_interval() -> None:
    assert {c for c in AGE_CODES if not agemod.is_age_code(c)} == {"_U"}


@pytest.mark.parametrize("level", ["five_year", "single"])
def test_level_partitions_all_ages(level: str) -> None:
    codes = [c["id"] for c in AGE["codes"] if c.get("level") == level]
    assert agemod.partition_problems(codes, AgeInterval(0, None)) == []


def test_five_year_level_is_the_standard_classification() -> None:
    codes = [c["id"] for c in AGE["codes"] if c.get("level") == "five_year"]
    assert codes == [f"Y{a}T{a + 4}" for a in range(0, 85, 5)] + ["Y_GE85"]


def test_children_partition_their_parent() -> None:
    children: dict[str, list[str]] = {}
    for code in AGE["codes"]:
        if "parent" in code and code["id"] not in agemod.NON_INTERVAL_CODES:
            children.setdefault(code["parent"], []).append(code["id"])
    assert set(children) >= {"_T", "Y_GE85", "Y0T4", "Y85T89"}
    for parent, kids in children.items():
        span = agemod.parse_age_code(parent)
        assert agemod.partition_problems(kids, span) == [], parent


def test_broad_groups_have_no_parent() -> None:
    broad = [c for c in AGE["codes"] if c.get("level") == "broad"]
    assert broad
    assert all("parent" not in c for c in broad)
    required = {
        "Y_LT15", "Y15T64", "Y_GE65", "Y15T24", "Y25T54", "Y55T64", "Y25T64", "Y_GE15",
        "Y_GE25", "Y20T64", "Y15T74", "Y20T34", "Y35T64", "Y_LT18", "Y0T17", "Y15T17",
    }  # fmt: skip
    assert required <= {c["id"] for c in broad}


@pytest.mark.parametrize("name", sorted(AGE.get("sets", {})))
def test_every_age_set_is_a_partition(name: str) -> None:
    """The description of age.yaml says: every named set is disjoint and without gap."""
    assert agemod.partition_problems(AGE["sets"][name]) == [], name


COMPLETE_SETS = {
    "broad_3": (0, None),
    "lfs_5": (0, None),
    "children_adults": (0, None),
    "five_year_to_100": (0, None),
    "undesa_ims": (0, None),
    "working_age_15_64": (15, 64),
    "mics_child_groups": (0, 17),
}


@pytest.mark.parametrize(("name", "span"), sorted(COMPLETE_SETS.items()))
def test_age_set_covers_its_range(name: str, span: tuple[int, int | None]) -> None:
    assert agemod.is_partition(AGE["sets"][name], *span), agemod.partition_problems(
        AGE["sets"][name], AgeInterval(*span)
    )


def test_mics_child_groups() -> None:
    assert AGE["sets"]["mics_child_groups"] == ["Y0T4", "Y5T9", "Y10T14", "Y15T17"]


def test_years_since_arrival_bins_partition() -> None:
    """years_since_arrival uses the same grammar; its bins cover 0 and over."""
    codes = load_codelist("years_since_arrival")
    bins = [c["id"] for c in codes["codes"] if c.get("level") == "duration"]
    assert agemod.is_partition(bins)
    assert agemod.is_partition(codes["sets"]["recent"], 0, 4)
