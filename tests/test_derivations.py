"""Derived dimensions, replicate weights, the same harmonised frame from every
file format, and streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import migprofile as mp
from conftest import TESTS
from migprofile.catalog.age import AgeCodeError, bin_ages
from migprofile.sources import iter_source, load_mapping, mapping_from_dict, read_source

SURVEY = TESTS / "data" / "survey" / "mapping.yaml"
FORMATS = TESTS / "data" / "formats"


@pytest.fixture(scope="module")
def survey() -> mp.Dataset:
    return read_source(SURVEY)


def test_migrant_status_on_citizenship_basis(survey: mp.Dataset) -> None:
    # migrant_basis CIT: MDA citizens NAT, others FC, stateless STL
    got = survey.frame.set_index("person_id")["migrant_status"].astype(str).to_dict()
    assert got == {"1": "NAT", "2": "NAT", "3": "FC", "4": "STL", "5": "FC", "6": "NAT", "7": "NAT"}


def test_age_groups_from_a_named_set(survey: mp.Dataset) -> None:
    # age_groups: broad_3 = Y_LT15, Y15T64, Y_GE65
    groups = survey.frame.set_index("person_id")["age_group"].astype(str)
    assert groups.to_dict() == {
        "1": "Y15T64",
        "2": "Y_LT15",
        "3": "Y15T64",
        "4": "Y15T64",
        "5": "Y15T64",
        "6": "Y15T64",
        "7": "Y_GE65",
    }


def test_recent_immigrants_from_residence_one_year_earlier(survey: mp.Dataset) -> None:
    recent = survey.frame.set_index("person_id")["recent_immigrant"]
    # 1 and 7 lived in MDA; 2 is under one year (unknown); 3-6 lived abroad
    assert recent.tolist() == [False, pd.NA, True, True, True, True, False]


def test_replicate_weights_are_carried_and_checked(survey: mp.Dataset) -> None:
    frame = survey.frame
    assert [c for c in frame.columns if c.startswith("repw_")] == [
        "repw_1",
        "repw_2",
        "repw_3",
        "repw_4",
    ]
    assert frame["repw_2"].tolist() == [110, 110, 75, 110, 110, 100, 100]
    assert pd.isna(frame["repw_4"].iloc[6])  # 'x' on record 7
    col = survey.report.column("persons", "replicate_weights")
    assert [(v.value, v.records) for v in col.invalid] == [("x", (7,))]
    assert survey.mapping.design is not None
    assert survey.mapping.design.replicate_method == "JK1"


def test_bin_ages_codes_each_age_once() -> None:
    ages = pd.Series([0, 4.9, 5, 17, 18, None, 120])
    got = bin_ages(ages, ["Y0T4", "Y5T9", "Y10T14", "Y15T17", "Y_GE18"])
    assert got.tolist() == ["Y0T4", "Y0T4", "Y5T9", "Y15T17", "Y_GE18", None, "Y_GE18"]
    with pytest.raises(AgeCodeError, match="overlap"):
        bin_ages(ages, ["Y0T9", "Y5T14"])
    with pytest.raises(AgeCodeError, match="none of these groups"):
        bin_ages(pd.Series([70]), ["Y0T4", "Y5T64"])


# ----------------------------------------------------------------- one oracle, every format


def _persons_mapping(file: dict[str, Any]) -> mp.sources.SourceMapping:
    return mapping_from_dict(
        {
            "id": "formats",
            "name": "the persons extract",
            "kind": "census",
            "reference_period": "2024",
            "crosswalks": [
                {
                    "id": "s12",
                    "name": "sex",
                    "target": "sex",
                    "map": [{"from": 1, "to": "M"}, {"from": 2, "to": "F"}],
                }
            ],
            "tables": {
                "persons": {
                    "files": [file],
                    "key": ["person_id"],
                    "columns": {
                        "person_id": "person_id",
                        "hh_id": "hh_id",
                        "line_no": "line_no",
                        "sex": {"source": "sex", "crosswalk": "s12"},
                        "age": "age",
                        "country_of_birth": {"source": "country_of_birth", "crosswalk": "geo.m49"},
                        "weight": "weight",
                    },
                }
            },
        }
    )


def _layout() -> dict[str, Any]:
    layout = yaml.safe_load((FORMATS / "persons_layout.yaml").read_text(encoding="utf-8"))
    return {"path": "persons.dat", "columns": layout["columns"]}


FILES = {
    "csv": {"path": "persons.csv"},
    "csv-latin1": {"path": "persons_latin1.csv", "encoding": "latin-1"},
    "parquet": {"path": "persons.parquet"},
    "stata": {"path": "persons.dta"},
    "spss": {"path": "persons.sav"},
    "fixed_width": None,  # from persons_layout.yaml
    "excel": {"path": "persons.xlsx"},
}

EXPECTED = pd.DataFrame(
    {
        "person_id": [str(i) for i in range(1, 13)],
        "hh_id": [
            "101",
            "101",
            "101",
            "102",
            "102",
            "103",
            "104",
            "104",
            "104",
            "105",
            "106",
            "106",
        ],
        "sex": ["M", "F", "F", "M", "F", "F", "M", "F", "M", "M", "F", "M"],
        "age": [34, 31, 4, 52, None, 27, 45, 44, 12, 61, 23, 0],
        "country_of_birth": [
            "MDA",
            "ROU",
            "MDA",
            "ALB",
            "ALB",
            "COL",
            "DEU",
            "CHE",
            "DEU",
            "BRA",
            "USA",
            "UKR",
        ],
        "weight": [1.25, 1.25, 1.25, 0.875, 0.875, 2.5, 1.5, 1.5, 1.5, 3.125, 0.625, 0.625],
    }
)


def assert_persons_harmonised(frame: pd.DataFrame) -> None:
    """The oracle: the same harmonised persons from every format."""
    assert len(frame) == 12
    got = pd.DataFrame(
        {
            "person_id": frame["person_id"].astype(str).str.replace(r"\.0$", "", regex=True),
            "hh_id": frame["hh_id"].astype(str).str.replace(r"\.0$", "", regex=True),
            "sex": frame["sex"].astype(str),
            "age": frame["age"].astype(float),
            "country_of_birth": frame["country_of_birth"].astype(str),
            "weight": frame["weight"].astype(float),
        }
    )
    expected = EXPECTED.assign(age=EXPECTED["age"].astype(float))
    pd.testing.assert_frame_equal(got, expected)
    assert frame["line_no"].tolist() == [1, 2, 3, 1, 2, 1, 1, 2, 3, 1, 1, 2]
    assert isinstance(frame["country_of_birth"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_every_format_gives_the_same_harmonised_frame(fmt: str) -> None:
    if fmt in ("stata", "spss"):
        pytest.importorskip("pyreadstat")
    if fmt == "excel":
        pytest.importorskip("openpyxl")
    file = FILES[fmt] or _layout()
    dataset = read_source(_persons_mapping(file), base=FORMATS)
    assert_persons_harmonised(dataset.frame)
    assert dataset.report.balanced()
    assert dataset.report.ok


def test_streamed_chunks_equal_one_read() -> None:
    mapping = _persons_mapping({"path": "persons.parquet"})
    whole = read_source(mapping, base=FORMATS).frame
    chunks = list(iter_source(mapping, "persons", base=FORMATS, chunksize=5))
    assert len(chunks) >= 3 and all(len(c) <= 5 for c in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_mapping_round_trips_through_yaml(tmp_path: Path) -> None:
    mapping, _ = load_mapping(SURVEY)
    dumped = mapping.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    (tmp_path / "again.yaml").write_text(yaml.safe_dump({"source": dumped}), encoding="utf-8")
    again, _ = load_mapping(tmp_path / "again.yaml")
    assert again == mapping
