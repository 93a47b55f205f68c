"""Tests of migprofile.sources.readers.

One oracle, many readers: the same census-like person extract is committed in
every format (``tests/data/formats/``, written by ``make_fixtures.py``) and
:func:`assert_persons_extract` checks every reader against the same expected
values. Then the bad-input corpus (``tests/data/bad/``: ``error_*`` files must
fail, ``valid_*`` files must load) and a real published workbook (UN DESA
International Migrant Stock 2020, ``tests/data/un_ims2020/``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import sys
import tempfile
from collections.abc import Callable
from numbers import Integral, Real
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from migprofile.errors import MigprofileError
from migprofile.sources.files import FileSpec
from migprofile.sources.readers import (
    MAX_LISTED,
    MissingExtraError,
    RawTable,
    SourceReadError,
    file_checksum,
    iter_file,
    list_columns,
    read_file,
)

DATA = Path(__file__).parent / "data"
FORMATS = DATA / "formats"
BAD = DATA / "bad"
UN = DATA / "un_ims2020"

# --------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------

COLUMNS = (
    "person_id",
    "hh_id",
    "line_no",
    "sex",
    "age",
    "country_of_birth",
    "birthplace",
    "weight",
)
# The extract as text (see as_text): independent of make_fixtures.py on purpose.
EXPECTED: tuple[tuple[str | None, ...], ...] = (
    ("1", "101", "1", "1", "34", "498", "Chisinau", "1.25"),
    ("2", "101", "2", "2", "31", "642", "Bucharest", "1.25"),
    ("3", "101", "3", "2", "4", "498", "Chisinau", "1.25"),
    ("4", "102", "1", "1", "52", "008", "Tirana", "0.875"),
    ("5", "102", "2", "2", None, "008", "Durrës", "0.875"),
    ("6", "103", "1", "2", "27", "170", "Bogotá", "2.5"),
    ("7", "104", "1", "1", "45", "276", "Köln", "1.5"),
    ("8", "104", "2", "2", "44", "756", "Zürich", "1.5"),
    ("9", "104", "3", "1", "12", "276", "Köln", "1.5"),
    ("10", "105", "1", "1", "61", "076", "São Paulo", "3.125"),
    ("11", "106", "1", "2", "23", "840", "Washington, D.C.", "0.625"),
    ("12", "106", "2", "1", "0", "804", "Kyiv", "0.625"),
)
TEXT_FORMATS = ("csv", "fixed_width")
# file line (or worksheet row) of record 1; None: the format has no lines
FIRST_LINE = {"csv": 2, "fixed_width": 1, "excel": 4}


def layout_spec(path: str = "persons.dat") -> FileSpec:
    """The fixed-width layout of persons.dat, as a mapping would declare it."""
    data = yaml.safe_load((FORMATS / "persons_layout.yaml").read_text(encoding="utf-8"))
    data["path"] = path
    return FileSpec(**data)


SPECS: dict[str, Callable[[], FileSpec]] = {
    "csv": lambda: FileSpec(path="persons.csv"),
    "csv_latin1": lambda: FileSpec(path="persons_latin1.csv", encoding="latin-1"),
    "parquet": lambda: FileSpec(path="persons.parquet"),
    "stata": lambda: FileSpec(path="persons.dta"),
    "spss": lambda: FileSpec(path="persons.sav"),
    "fixed_width": layout_spec,
    "excel": lambda: FileSpec(path="persons.xlsx"),
}
NEEDS = {"stata": "pyreadstat", "spss": "pyreadstat", "excel": "openpyxl"}


def spec_for(name: str) -> FileSpec:
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    return SPECS[name]()


def as_text(value: object) -> str | None:
    """The documented normalisation of the oracle: missing (None, pd.NA, NaN)
    -> None; whole numbers as integers (Stata and SPSS store codes as doubles:
    1.0 -> "1"); other numbers in their shortest round-trip form (0.875 ->
    "0.875"); text as is."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise AssertionError(f"unexpected boolean {value!r}")
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    raise AssertionError(f"unexpected value {value!r} of type {type(value).__name__}")


def assert_persons_extract(raw: RawTable) -> None:
    """The one oracle every reader of the person extract must satisfy."""
    frame = raw.frame
    assert tuple(frame.columns) == COLUMNS
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame.index.start == 0
    assert len(frame) == len(EXPECTED)
    rows = [tuple(as_text(v) for v in row) for row in frame.itertuples(index=False)]
    assert rows == list(EXPECTED)
    # types: text formats read text, the others keep numbers numeric ...
    if raw.format in TEXT_FORMATS:
        assert all(frame[c].dtype == "string" for c in COLUMNS)
    else:
        for column in ("person_id", "hh_id", "sex", "age", "weight"):
            assert pd.api.types.is_numeric_dtype(frame[column].dtype), column
        assert pd.api.types.is_float_dtype(frame["weight"].dtype)
    # ... and every reader keeps codes with leading zeros as text
    assert frame["country_of_birth"].dtype == "string"
    assert frame["birthplace"].dtype == "string"
    # where each record came from
    assert raw.first_record == 1
    assert [raw.record_of(i) for i in range(len(frame))] == list(range(1, 13))
    first = FIRST_LINE.get(raw.format)
    expected_lines = [None] * 12 if first is None else list(range(first, first + 12))
    assert [raw.line_of(i) for i in range(len(frame))] == expected_lines
    # labels (Stata, SPSS) and nothing else
    if raw.format in ("stata", "spss"):
        assert {int(k): v for k, v in raw.value_labels["sex"].items()} == {
            1: "Male",
            2: "Female",
        }
        assert set(raw.value_labels) == {"sex"}
        assert raw.column_labels["age"] == "Age in completed years"
        assert raw.column_labels["birthplace"] == "Lieu de naissance (localité)"
    else:
        assert raw.value_labels == {}
        assert raw.column_labels == {}


# --------------------------------------------------------------------------
# Every reader against the oracle
# --------------------------------------------------------------------------


def test_fixture_files_exist_and_are_small() -> None:
    names = [
        "persons.csv",
        "persons_latin1.csv",
        "persons.parquet",
        "persons.dta",
        "persons.sav",
        "persons.dat",
        "persons_layout.yaml",
        "persons.xlsx",
        "make_fixtures.py",
    ]
    for name in names:
        path = FORMATS / name
        assert path.is_file(), name
        assert path.stat().st_size < 50_000, name


@pytest.mark.parametrize("name", list(SPECS))
def test_every_reader_reads_the_extract(name: str) -> None:
    raw = read_file(spec_for(name), FORMATS)
    assert_persons_extract(raw)
    assert raw.file == str(FORMATS / spec_for(name).path)


@pytest.mark.parametrize("name", list(SPECS))
def test_chunks_give_the_same_rows_and_positions(name: str) -> None:
    spec = spec_for(name)
    whole = read_file(spec, FORMATS)
    chunks = list(iter_file(spec, FORMATS, chunksize=5))
    assert [len(c.frame) for c in chunks] == [5, 5, 2]
    assert [c.first_record for c in chunks] == [1, 6, 11]
    joined = pd.concat([c.frame for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole.frame)
    positions = [(c.record_of(i), c.line_of(i)) for c in chunks for i in range(len(c.frame))]
    assert positions == [(whole.record_of(i), whole.line_of(i)) for i in range(12)]
    assert_persons_extract(
        RawTable(
            frame=joined,
            file=whole.file,
            format=whole.format,
            line_offset=whole.line_offset,
            value_labels=chunks[0].value_labels,
            column_labels=chunks[0].column_labels,
            lines=whole.lines,
        )
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_requested_columns_only_in_the_order_asked(name: str) -> None:
    spec = spec_for(name)
    raw = read_file(spec, FORMATS, columns=["weight", "country_of_birth", "age"])
    assert list(raw.frame.columns) == ["weight", "country_of_birth", "age"]
    got = [tuple(as_text(v) for v in row) for row in raw.frame.itertuples(index=False)]
    assert got == [(r[7], r[5], r[4]) for r in EXPECTED]
    chunked = list(iter_file(spec, FORMATS, columns=["age"], chunksize=7))
    assert [list(c.frame.columns) for c in chunked] == [["age"], ["age"]]


@pytest.mark.parametrize("name", list(SPECS))
def test_list_columns(name: str) -> None:
    assert list_columns(spec_for(name), FORMATS) == COLUMNS


@pytest.mark.parametrize("name", list(SPECS))
def test_missing_requested_columns_are_listed(name: str) -> None:
    spec = spec_for(name)
    with pytest.raises(SourceReadError) as info:
        read_file(spec, FORMATS, columns=["person_id", "sexe", "Age", "nationality"])
    error = info.value
    assert error.codes() == ["missing_column"] * 3
    assert [p.field for p in error.problems] == ["sexe", "Age", "nationality"]
    text = str(error)
    assert str(FORMATS / spec.path) in text
    assert "did you mean 'sex'?" in text
    assert "did you mean 'age'?" in text
    assert "'country_of_birth'" in text  # the available columns are listed
    with pytest.raises(SourceReadError):
        next(iter_file(spec, FORMATS, columns=["sexe"]))


def test_csv_notes_say_what_was_sniffed() -> None:
    raw = read_file(SPECS["csv_latin1"](), FORMATS)
    assert raw.notes == ("delimiter ';' detected from the header line",)
    given_delimiter = FileSpec(path="persons_latin1.csv", encoding="latin-1", delimiter=";")
    assert read_file(given_delimiter, FORMATS).notes == ()


def test_spss_user_missing_values_are_missing_with_a_note() -> None:
    raw = read_file(spec_for("spss"), FORMATS)
    assert raw.notes == ("column 'age': 1 user-defined missing value(s) read as missing (999 ×1)",)
    chunks = list(iter_file(spec_for("spss"), FORMATS, chunksize=5))
    assert [c.notes for c in chunks] == [raw.notes, (), ()]


def test_excel_notes_list_everything_normalised() -> None:
    raw = read_file(spec_for("excel"), FORMATS)
    assert raw.notes == (
        "sheet 'P1': header detected on row 3",
        "row 17 dropped as a footnote below the table: "
        "'Note: * birthplace recorded before the boundary change.'",
        "row 18 dropped as a footnote below the table: "
        "'Source: migprofile test fixture, not real data.'",
        "empty row(s) 16 dropped",
        "column 'age': 1 cell(s) '..' read as missing (e.g. record 5, row 8)",
        "column 'birthplace': footnote mark '*' removed from 1 cell(s): record 7 (row 10) 'Köln*'",
    )


def test_excel_header_row_given_sheet_by_index() -> None:
    pytest.importorskip("openpyxl")
    detected = read_file(FileSpec(path="persons.xlsx"), FORMATS)
    given_row = read_file(FileSpec(path="persons.xlsx", sheet=0, header_row=3), FORMATS)
    pd.testing.assert_frame_equal(given_row.frame, detected.frame)
    assert given_row.notes == detected.notes[1:]  # no "header detected" note
    # a merged title just above the header covers the first column: not a group label
    assert not any("two rows" in n for n in detected.notes)


def test_excel_sheet_errors() -> None:
    pytest.importorskip("openpyxl")
    with pytest.raises(SourceReadError, match=r"did you mean 'Contents'\?") as info:
        read_file(FileSpec(path="persons.xlsx", sheet="contents"), FORMATS)
    assert info.value.codes() == ["sheet_not_found"]
    with pytest.raises(SourceReadError, match="no sheet number 5"):
        read_file(FileSpec(path="persons.xlsx", sheet=5), FORMATS)
    # a sheet without a row of numbers: the header cannot be detected
    with pytest.raises(SourceReadError, match="header_row") as info:
        read_file(FileSpec(path="persons.xlsx", sheet="Contents"), FORMATS)
    assert info.value.codes() == ["no_header"]
    with pytest.raises(SourceReadError, match="row 16 of sheet 'P1' is empty"):
        read_file(FileSpec(path="persons.xlsx", header_row=16), FORMATS)
    with pytest.raises(SourceReadError, match="row 40 of sheet 'P1' is empty"):
        read_file(FileSpec(path="persons.xlsx", header_row=40), FORMATS)


def test_excel_blank_header_duplicates_and_missing_tokens(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["A published table"])
    ws.append(["area", None, "2019", "2020", None])
    ws.append(["  Moldova†", 498, 10, "–", None])
    ws.append(["Romania", 642, "x", "#N/A", None])
    ws.append(["Ukraine", 804, 12.5, 14, None])
    ws.append(["a/ revised"])
    book.save(tmp_path / "t.xlsx")
    raw = read_file(FileSpec(path="t.xlsx", header_row=2, na_values=["x"]), tmp_path)
    assert list(raw.frame.columns) == ["area", "column_B", "2019", "2020"]
    assert raw.frame["area"].tolist() == ["Moldova", "Romania", "Ukraine", "a/ revised"]
    assert raw.frame["2019"].dtype == "float64"
    assert raw.frame["2020"].dtype == "Int64"
    assert raw.frame["2020"].isna().tolist() == [True, True, False, True]
    assert raw.lines == (3, 4, 5, 6)
    notes = "\n".join(raw.notes)
    assert "column(s) B hold data but have no header: named 'column_B'" in notes
    assert "column '2020': 1 cell(s) '–' read as missing" in notes
    assert "column '2020': 1 cell(s) '#N/A' read as missing" in notes
    assert "column '2019': 1 cell(s) 'x' read as missing" in notes
    assert "footnote mark '†' removed from 1 cell(s): record 1 (row 3) 'Moldova†'" in notes
    assert "column 'area': spaces around the text removed in 1 cell(s)" in notes
    ws["D2"] = "2019"
    book.save(tmp_path / "dup.xlsx")
    with pytest.raises(SourceReadError, match=r"'2019' appears 2 times \(columns C, D\)"):
        read_file(FileSpec(path="dup.xlsx", header_row=2), tmp_path)


def test_excel_formulas_without_values_are_refused(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["area", "n"])
    ws.append(["A", 1])
    ws.append(["B", "=B2*2"])  # openpyxl stores the formula, never its value
    book.save(tmp_path / "f.xlsx")
    with pytest.raises(SourceReadError, match="cell B3 of sheet 'Sheet' holds a formula") as info:
        read_file(FileSpec(path="f.xlsx"), tmp_path)
    assert info.value.codes() == ["uncomputed_formula"]
    assert info.value.problems[0].line == 3
    assert info.value.problems[0].value == "=B2*2"


# --------------------------------------------------------------------------
# The bad-input corpus
# --------------------------------------------------------------------------

LATIN1_OFFSET = (BAD / "error_encoding.csv").read_bytes().index(b"\xeb")

# file, FileSpec options, requested columns, codes, lines, text the message must hold
BAD_CASES: list[
    tuple[str, dict[str, object], list[str] | None, list[str], list[int | None], list[str]]
] = [
    (
        "error_encoding.csv",
        {},
        None,
        ["encoding"],
        [6],
        [f"byte offset {LATIN1_OFFSET}", "0xeb", "line 6", "encoding: latin-1", "Durrës"],
    ),
    (
        "error_too_many_fields.csv",
        {},
        None,
        ["too_many_fields", "too_many_fields"],
        [4, 8],
        ["the record has 9 field(s), the header has 8", "has 10 field(s)"],
    ),
    (
        "error_too_few_fields.csv",
        {},
        None,
        ["too_few_fields"],
        [5],
        ["the record has 5 field(s), the header has 8 (a truncated record?)"],
    ),
    (
        "error_unterminated_quote.csv",
        {},
        None,
        ["unterminated_quote"],
        [12],
        ["a quoted field opened on line 12 is never closed"],
    ),
    ("error_empty.csv", {}, None, ["empty_file"], [None], ["file is empty"]),
    ("error_blank.csv", {}, None, ["empty_file"], [None], ["file is empty"]),
    (
        "error_duplicate_header.csv",
        {},
        None,
        ["duplicate_column"],
        [1],
        ["column name 'sex' appears 2 times (columns 2, 4)"],
    ),
    ("error_truncated.parquet", {}, None, ["corrupt_file"], [None], ["truncated or corrupt"]),
    (
        "error_short_line.dat",
        {"layout": True},
        None,
        ["short_line"],
        [4],
        ["the line has 30 character(s), the layout needs 38"],
    ),
    (
        "../formats/persons.csv",
        {},
        ["age", "sexe"],
        ["missing_column"],
        [None],
        ["column 'sexe' is not in the file; did you mean 'sex'?"],
    ),
]


def bad_spec(name: str, options: dict[str, object]) -> FileSpec:
    if options.pop("layout", False):
        return layout_spec(name)
    return FileSpec(path=name, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "options", "columns", "codes", "lines", "fragments"),
    BAD_CASES,
    ids=[case[0] for case in BAD_CASES],
)
def test_bad_input_is_refused_with_its_location(
    name: str,
    options: dict[str, object],
    columns: list[str] | None,
    codes: list[str],
    lines: list[int | None],
    fragments: list[str],
) -> None:
    spec = bad_spec(name, dict(options))
    for read in (read_file, lambda *a, **k: list(iter_file(*a, **k, chunksize=2))):
        with pytest.raises(SourceReadError) as info:
            read(spec, BAD, columns=columns)
        error = info.value
        assert isinstance(error, ValueError)
        assert isinstance(error, MigprofileError)
        assert error.codes() == codes
        assert [p.line for p in error.problems] == lines
        text = str(error)
        path = str(BAD / name)
        assert all(p.file == path for p in error.problems)
        for line in lines:
            assert (f"{path}:{line}:" if line else f"{path}:") in text
        for fragment in fragments:
            assert fragment in text


def test_header_only_file_is_zero_records() -> None:
    spec = FileSpec(path="valid_header_only.csv")
    raw = read_file(spec, BAD)
    assert tuple(raw.frame.columns) == COLUMNS
    assert len(raw.frame) == 0
    assert all(raw.frame[c].dtype == "string" for c in COLUMNS)
    chunks = list(iter_file(spec, BAD))
    assert len(chunks) == 1
    assert len(chunks[0].frame) == 0


def test_bad_fixture_names_say_what_must_happen() -> None:
    for path in BAD.iterdir():
        assert path.name.startswith(("error_", "valid_")), path.name


def test_encoding_is_checked_over_the_whole_file_before_any_chunk(tmp_path: Path) -> None:
    body = "".join(f"{i},name {i}\n" for i in range(1, 2001))
    data = ("id,name\n" + body).encode() + "2001,Bogotá\n".encode("latin-1")
    (tmp_path / "big.csv").write_bytes(data)
    chunks = iter_file(FileSpec(path="big.csv"), tmp_path, chunksize=10)
    with pytest.raises(SourceReadError) as info:
        next(chunks)  # the bad byte is in the last line, far beyond the first chunk
    (problem,) = info.value.problems
    assert problem.line == 2002
    offset = data.index(b"\xe1")
    assert f"byte offset {offset}" in problem.message
    assert "as cp1252 it would read '2001,Bogotá'" in problem.message
    # declared right, it reads
    fine = read_file(FileSpec(path="big.csv", encoding="cp1252"), tmp_path)
    assert fine.frame["name"].iloc[-1] == "Bogotá"


def test_bom_blank_lines_and_multiline_fields_keep_lines_right(tmp_path: Path) -> None:
    text = 'id;note\n1;"two\nlines"\n\n2;plain\n3;""\n'
    (tmp_path / "t.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    raw = read_file(FileSpec(path="t.csv"), tmp_path)
    assert list(raw.frame.columns) == ["id", "note"]
    assert raw.frame["note"].tolist() == ["two\nlines", "plain", pd.NA]
    assert [raw.line_of(i) for i in range(3)] == [2, 5, 6]
    assert raw.lines == (2, 5, 6)
    assert "blank line(s) skipped: 4" in raw.notes
    chunks = list(iter_file(FileSpec(path="t.csv"), tmp_path, chunksize=1))
    assert [(c.first_record, c.line_of(0)) for c in chunks] == [(1, 2), (2, 5), (3, 6)]
    assert [c.line_offset for c in chunks] == [1, 3, 3]


@pytest.mark.parametrize(
    ("text", "opened", "start"),
    [
        ('a,b,c\n1,"x\ny","z\n', 3, 2),  # an earlier quoted field spans lines 2-3
        ('a,b\n1,"he said ""hi""\nand then', 2, 2),  # doubled quotes inside
        ('a,b\n1,2\n"3\n\n\n', 3, 3),
    ],
)
def test_unterminated_quote_names_the_line_where_it_opens(
    tmp_path: Path, text: str, opened: int, start: int
) -> None:
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SourceReadError) as info:
        read_file(FileSpec(path="t.csv"), tmp_path)
    (problem,) = info.value.problems
    assert problem.code == "unterminated_quote"
    assert problem.line == opened
    assert f"the record starts on line {start}" in problem.message


def test_skip_rows_na_values_and_empty_header_cells(tmp_path: Path) -> None:
    text = "Table 7. Persons\nsource: test\nid| name |\n001|-9|x\n002|Ana|\n"
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    spec = FileSpec(path="t.txt", skip_rows=2, na_values=["-9"])
    raw = read_file(spec, tmp_path)
    assert list(raw.frame.columns) == ["id", "name", "column_3"]
    assert raw.frame["id"].tolist() == ["001", "002"]
    assert raw.frame["name"].isna().tolist() == [True, False]
    assert raw.line_offset == 3
    assert raw.line_of(0) == 4
    assert "header cell 3 is empty: the column is named 'column_3'" in raw.notes
    assert "spaces around 1 header name(s) removed" in raw.notes
    with pytest.raises(SourceReadError, match="nothing is left after skipping 9"):
        read_file(FileSpec(path="t.txt", skip_rows=9), tmp_path)


def test_many_bad_records_are_listed_up_to_a_cap(tmp_path: Path) -> None:
    lines = ["a,b,c"] + [f"{i},x" for i in range(MAX_LISTED + 7)] + ["1,2,3"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SourceReadError) as info:
        read_file(FileSpec(path="t.csv"), tmp_path)
    codes = info.value.codes()
    assert codes == ["too_few_fields"] * MAX_LISTED + ["more_problems"]
    assert "7 more record(s) with problems, not listed" in str(info.value)
    assert info.value.problems[0].line == 2


def test_malformed_quoting_is_reported_for_every_record(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text('a,b\n"1"x,2\n3,4\n"5",6\n7,"8"y\n', encoding="utf-8")
    with pytest.raises(SourceReadError) as info:
        read_file(FileSpec(path="t.csv"), tmp_path)
    assert info.value.codes() == ["malformed_record", "malformed_record"]
    assert [p.line for p in info.value.problems] == [2, 5]


def test_fixed_width_blank_lines_and_skip_rows(tmp_path: Path) -> None:
    layout = layout_spec().model_dump()
    body = (FORMATS / "persons.dat").read_text(encoding="utf-8").splitlines()
    text = "HEADER LINE\n" + "\n".join(body[:3]) + "\n\n" + "\n".join(body[3:]) + "\n"
    (tmp_path / "p.dat").write_text(text, encoding="utf-8")
    spec = FileSpec(**{**layout, "path": "p.dat", "skip_rows": 1})
    raw = read_file(spec, tmp_path)
    assert [tuple(as_text(v) for v in r) for r in raw.frame.itertuples(index=False)] == list(
        EXPECTED
    )
    assert raw.line_of(0) == 2
    assert raw.line_of(3) == 6
    assert "blank line(s) skipped: 5" in raw.notes


def test_stata_extended_missing_values_are_noted(tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame({"age": [34.0, "a", 5.0, "b", "a"]}, dtype=object)
    pyreadstat.write_dta(frame, tmp_path / "x.dta", missing_user_values={"age": ["a", "b"]})
    raw = read_file(FileSpec(path="x.dta"), tmp_path)
    assert raw.frame["age"].dtype == "float64"
    assert raw.frame["age"].isna().tolist() == [False, True, False, True, True]
    assert raw.notes == (
        "column 'age': 3 Stata extended missing value(s) read as missing (.a ×2, .b ×1)",
    )


@pytest.mark.parametrize(
    ("fmt", "module", "extra"),
    [("dta", "pyreadstat", "stata"), ("sav", "pyreadstat", "stata"), ("xlsx", "openpyxl", "excel")],
)
def test_a_missing_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, fmt: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails
    with pytest.raises(MissingExtraError, match=rf'pip install "migprofile\[{extra}\]"') as info:
        read_file(FileSpec(path=f"persons.{fmt}"), FORMATS)
    assert isinstance(info.value, ImportError)
    assert info.value.extra == extra


def test_missing_file_and_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError, match="no such file") as info:
        read_file(FileSpec(path="nope.csv"), tmp_path)
    assert info.value.problems[0].file == str(tmp_path / "nope.csv")
    with pytest.raises(SourceReadError, match="unknown encoding"):
        read_file(FileSpec(path="persons.csv", encoding="klingon"), FORMATS)


def test_file_checksum_and_record_bounds() -> None:
    path = FORMATS / "persons.parquet"
    assert file_checksum(path) == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    raw = read_file(FileSpec(path="persons.csv"), FORMATS)
    with pytest.raises(IndexError):
        raw.record_of(12)
    with pytest.raises(ValueError, match="chunksize"):
        next(iter_file(FileSpec(path="persons.csv"), FORMATS, chunksize=0))


# Nothing is lost: any table written by a csv writer reads back cell for cell.
_cells = st.text(alphabet=st.sampled_from(list('ab 0,;|\t"\né…')), max_size=6)


@given(
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    ncols=st.integers(min_value=2, max_value=4),
    data=st.data(),
)
def test_csv_round_trip_property(delimiter: str, ncols: int, data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.lists(_cells, min_size=ncols, max_size=ncols), max_size=6))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow([f"c{i}" for i in range(ncols)])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "t.csv").write_text(out.getvalue(), encoding="utf-8", newline="")
        raw = read_file(FileSpec(path="t.csv"), Path(tmp))
    assert len(raw.frame) == len(rows)
    got = [[None if v is pd.NA else v for v in row] for row in raw.frame.itertuples(index=False)]
    assert got == [[v or None for v in row] for row in rows]


# --------------------------------------------------------------------------
# A real published table: UN DESA International Migrant Stock 2020, Table 1
# --------------------------------------------------------------------------

UN_WORKBOOK = "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"
AREA = "Region, development group, country or area"
CODE = "Location code"
STOCK_2020 = {
    "both_2020": "International migrant stock at mid-year, both sexes combined 2020",
    "male_2020": "International migrant stock at mid-year, males 2020",
    "female_2020": "International migrant stock at mid-year, females 2020",
}


@pytest.fixture(scope="module")
def un_table1() -> RawTable:
    pytest.importorskip("openpyxl")
    # no header_row: the header (row 11) and its merged group labels (rows 8-10)
    # are detected
    return read_file(FileSpec(path=UN_WORKBOOK, sheet="Table 1"), UN)


@pytest.fixture(scope="module")
def un_reference() -> pd.DataFrame:
    return pd.read_csv(UN / "ims2020_dest_table1_2020.csv", dtype={"area": str})


def test_un_header_is_detected_and_combined(un_table1: RawTable) -> None:
    columns = list(un_table1.frame.columns)
    assert columns[:5] == ["column_A", AREA, "Notes", CODE, "Type of data"]
    assert len(columns) == 26
    assert set(STOCK_2020.values()) <= set(columns)
    assert un_table1.notes[0] == "sheet 'Table 1': header detected on row 11"
    assert un_table1.notes[1].startswith(
        "header of two rows: the labels merged across columns just above row 11 "
        "(F8:L10 'International migrant stock at mid-year, both sexes combined'"
    )
    assert un_table1.line_of(0) == 12


def test_un_world_total(un_table1: RawTable) -> None:
    frame = un_table1.frame
    world = frame[frame[CODE] == 900]
    assert world[AREA].tolist() == ["WORLD"]
    assert world[STOCK_2020["both_2020"]].tolist() == [280_598_105]
    assert world[STOCK_2020["male_2020"]].tolist() == [145_655_844]


def test_un_moldova_without_its_footnote_mark(un_table1: RawTable) -> None:
    frame = un_table1.frame
    moldova = frame[frame[AREA] == "Republic of Moldova"]
    assert moldova[CODE].tolist() == [498]
    assert moldova[STOCK_2020["both_2020"]].tolist() == [104_438]
    assert not frame[AREA].str.endswith("*").any()
    (note,) = [n for n in un_table1.notes if "footnote mark '*'" in n]
    assert note.startswith(f"column {AREA!r}: footnote mark '*' removed from 62 cell(s): ")
    assert "record 150 (row 161) 'Republic of Moldova*'" in note


def test_un_rows_and_2020_values_match_the_csv_conversion(
    un_table1: RawTable, un_reference: pd.DataFrame
) -> None:
    frame = un_table1.frame
    assert len(frame) == len(un_reference) == 283
    assert sorted(frame[CODE].tolist()) == sorted(un_reference["code"].tolist())
    # join on the sort order (unnamed column A) and the code: code 927 appears twice
    merged = frame.merge(
        un_reference,
        left_on=["column_A", CODE],
        right_on=["sort_order", "code"],
        how="outer",
        indicator=True,
        validate="one_to_one",
    )
    assert (merged["_merge"] == "both").all()
    assert (merged[AREA] == merged["area"].str.rstrip("*")).all()
    for ours, theirs in STOCK_2020.items():
        got = merged[theirs].astype("Float64")
        expected = merged[ours].astype("Float64")
        assert got.isna().equals(expected.isna()), ours
        assert (got.dropna() == expected.dropna()).all(), ours
    # the three empty 2020 cells of the CSV are '..' in the workbook, noted
    assert f"column {STOCK_2020['both_2020']!r}: 3 cell(s) '..' read as missing" in "\n".join(
        un_table1.notes
    )
