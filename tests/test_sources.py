"""read_source on a hand-made census: every expected value is worked out by
hand from tests/data/census/*.csv (see the comments)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import migprofile as mp
from conftest import TESTS
from migprofile.cli import cli
from migprofile.sources import load_mapping, read_source

CENSUS = TESTS / "data" / "census" / "mapping.yaml"


@pytest.fixture(scope="module")
def census() -> mp.Dataset:
    return read_source(CENSUS)


def _person(ds: mp.Dataset, hh: str, line: int) -> pd.Series:
    p = ds["persons"]
    row = p[(p["hh_id"] == hh) & (p["line_no"] == line)]
    assert len(row) == 1
    return row.iloc[0]


def test_every_record_is_accounted_for(census: mp.Dataset) -> None:
    report = census.report
    assert report.balanced()
    # 4 households, 10 enumerated persons and 3 members abroad; none rejected
    assert [(t.table, t.rows_read, t.rows_kept) for t in report.tables] == [
        ("households", 4, 4),
        ("persons", 10, 10),
        ("absent", 3, 3),
    ]
    # the roster joins the persons table
    assert len(census["persons"]) == 13
    assert "absent" not in census.tables
    assert census["persons"]["absent_abroad"].sum() == 3
    assert census["persons"]["usual_resident"].sum() == 10


def test_unmapped_code_goes_to_unknown_and_is_reported(census: mp.Dataset) -> None:
    col = census.report.column("persons", "country_of_birth")
    # COB 77 on record 9 (H3 line 3) is in no crosswalk
    assert [(v.value, v.count, v.records) for v in col.unmapped] == [("77", 1, (9,))]
    assert col.to_unknown == 1
    assert _person(census, "H3", 3)["country_of_birth"] == "_U"
    warning = [f for f in census.report.findings if f.code == "unmapped_code"]
    assert len(warning) == 1 and warning[0].severity == "warning"


def test_codes_become_categoricals_of_the_whole_codelist(
    census: mp.Dataset, catalog: mp.Catalog
) -> None:
    sex = census["persons"]["sex"]
    assert isinstance(sex.dtype, pd.CategoricalDtype)
    assert list(sex.cat.categories) == list(catalog.codelist("sex").ids)
    assert _person(census, "H2", 1)["sex"] == "F"
    assert _person(census, "H2", 1)["country_of_birth"] == "ROU"


def test_parent_whereabouts_from_line_numbers(census: mp.Dataset) -> None:
    # H1: children 2 and 4 have mother line 3 (in the absent roster) and father line 1
    for line in (2, 4):
        child = _person(census, "H1", line)
        assert (child["mother_loc"], child["father_loc"]) == ("ABROAD", "HOUSEHOLD")
    # H2 line 3: both parents (lines 1 and 2) live in the household
    child = _person(census, "H2", 3)
    assert (child["mother_loc"], child["father_loc"]) == ("HOUSEHOLD", "HOUSEHOLD")
    # H3 line 2: mother line 9 points at nobody: reported, left missing
    assert pd.isna(_person(census, "H3", 2)["mother_loc"])
    (broken,) = [f for f in census.report.findings if f.code == "broken_parent_pointer"]
    assert broken.column == "mother_line" and broken.records == (8,) and broken.count == 1


def test_derived_migrant_status_and_duration(census: mp.Dataset) -> None:
    status = {(r.hh_id, r.line_no): r.migrant_status for r in census["persons"].itertuples()}
    assert status[("H2", 1)] == "FB"  # born in Romania
    assert status[("H3", 1)] == "FB"  # born in Russia
    assert status[("H3", 3)] == "_U"  # unmapped birth country
    assert status[("H1", 3)] == "_U"  # absent member: country of birth not asked
    assert status[("H1", 1)] == "NB"
    # arrived 2015 -> 9 years before 2024; 1990 -> 34 years
    assert _person(census, "H2", 1)["years_since_arrival"] == "Y5T9"
    assert _person(census, "H3", 1)["years_since_arrival"] == "Y_GE20"
    assert _person(census, "H3", 3)["years_since_arrival"] == "Y1T4"


def test_households_count_members_abroad(census: mp.Dataset) -> None:
    hh = census["households"].set_index("hh_id")
    assert hh["n_members_abroad"].to_dict() == {"H1": 1.0, "H2": 1.0, "H3": 0.0, "H4": 1.0}
    assert hh["received_remittances"].tolist() == [True, False, False, True]


def test_missing_values_are_counted(census: mp.Dataset) -> None:
    age = census.report.column("persons", "age")
    assert age.missing == 1  # H4 line 1
    lf = census.report.column("persons", "lf_status")
    assert lf.missing == 3  # H1/2, H1/4, H3/2


def test_provenance_has_a_checksum_per_file(census: mp.Dataset) -> None:
    assert set(census.provenance) == {"households.csv", "persons.csv", "absent.csv"}
    assert all(v.startswith("sha256:") for v in census.provenance.values())


def test_report_renders_as_text_frame_and_json(census: mp.Dataset) -> None:
    text = census.report.to_text()
    assert "unmapped '77'" in text and "persons: 10 rows read" in text
    frame = census.report.to_frame()
    read = frame[(frame.section == "rows") & (frame["item"] == "read")]
    assert read["count"].sum() == 17
    data = json.loads(census.report.to_json())
    assert data["ok"] is True and data["source"] == "tiny_census_2024"


def test_strict_mode_fails_with_the_full_report() -> None:
    with pytest.raises(mp.SourceError) as info:
        read_source(CENSUS, strict=True)
    assert "77" in str(info.value)
    assert info.value.report.warnings() != ()


def test_chunked_read_gives_the_same_dataset(census: mp.Dataset) -> None:
    chunked = read_source(CENSUS, chunksize=2)
    for name, frame in census.tables.items():
        pd.testing.assert_frame_equal(frame, chunked[name])
    assert chunked.report.to_dict() == census.report.to_dict()


def test_cli_inspect(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["inspect", str(CENSUS)])
    assert ok.exit_code == 0, ok.output
    assert "tiny_census_2024" in ok.output and "status: OK" in ok.output
    strict = runner.invoke(cli, ["inspect", "--strict", str(CENSUS)])
    assert strict.exit_code == 1
    assert "unmapped_code" in strict.output


def test_load_mapping_resolves_relative_paths() -> None:
    mapping, base = load_mapping(CENSUS)
    assert base == CENSUS.parent
    assert mapping.year == 2024
    assert mapping.tables["persons"].columns["hh_id"].source == "HH"
