"""The bad-input corpus (tests/data/bad_sources/): each case gives its clear
error or report line, and wherever a report exists rows read = kept + rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

import migprofile as mp
from conftest import TESTS
from migprofile.sources import MappingError, read_source

BAD = TESTS / "data" / "bad_sources"

# case -> (finding or problem code, words the message must contain)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing_column": ("missing_column", ("W", "persons.csv", "WEIGHT")),
    "unknown_codes": ("unmapped_code", ("sex", "'7'", "'X'")),
    "duplicate_keys": ("duplicate_key", ("hh_id", "A/1")),
    "negative_weights": ("weight_negative", ("weight", "-1")),
    "bad_ages": ("age_out_of_range", ("age", "130", "0 to 120")),
    "wrong_encoding": ("encoding", ("persons.csv", "byte offset 30", "line 3")),
    "truncated_file": ("unterminated_quote", ("persons.csv", "line 3")),
    "empty_file": ("empty_file", ("persons.csv", "empty")),
    "broken_households": ("broken_parent_pointer", ("mother_line",)),
    "design_problems": ("single_psu_stratum", ("stratum", "adjust")),
}


def test_every_case_is_listed() -> None:
    on_disk = {p.name for p in BAD.iterdir() if p.is_dir()}
    assert on_disk == set(CASES) | {"malformed_yaml", "python_tag"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_source_is_reported(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, words = CASES[case]
    monkeypatch.chdir(tmp_path)
    try:
        dataset = read_source(BAD / case / "mapping.yaml")
    except mp.SourceError as exc:
        report = exc.report
        text = str(exc)
    else:
        report = dataset.report
        text = report.to_text()
    codes = {f.code for f in report.findings}
    assert any(c == code or c.startswith(code) for c in codes), text
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"
    assert report.balanced(), text
    for t in report.tables:
        assert t.rows_read == t.rows_kept + t.rows_rejected


def test_unknown_codes_list_each_value_with_its_records() -> None:
    with pytest.raises(mp.SourceError) as info:
        read_source(BAD / "unknown_codes" / "mapping.yaml")
    col = info.value.report.column("persons", "sex")
    assert [(v.value, v.count, v.records) for v in col.unmapped] == [("7", 1, (2,)), ("X", 1, (3,))]


def test_weights_report_negative_zero_and_missing() -> None:
    with pytest.raises(mp.SourceError) as info:
        read_source(BAD / "negative_weights" / "mapping.yaml")
    found = {(f.code, f.records) for f in info.value.report.findings}
    assert {("weight_negative", (1,)), ("weight_zero", (2,)), ("weight_missing", (3,))} <= found


def test_households_without_members_are_reported() -> None:
    ds = read_source(BAD / "broken_households" / "mapping.yaml")
    (empty,) = [f for f in ds.report.findings if f.code == "household_without_members"]
    assert empty.value == "C" and empty.severity == "warning"


def test_malformed_mapping_names_the_line() -> None:
    with pytest.raises(MappingError) as info:
        read_source(BAD / "malformed_yaml" / "mapping.yaml")
    (problem,) = info.value.problems
    assert problem.code == "bad_yaml" and problem.line is not None
    assert "malformed_yaml/mapping.yaml" in str(info.value)


def test_python_tag_in_a_mapping_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MappingError) as info:
        read_source(BAD / "python_tag" / "mapping.yaml")
    assert info.value.problems[0].code == "forbidden_tag"
    assert not (tmp_path / "pwned_by_mapping").exists()
