"""The Excel workbook of a profile: labels, layout, no formulas, same bytes."""

from __future__ import annotations

import zipfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migprofile as mp
from conftest import TESTS
from migprofile.profile.i18n import load_labels
from migprofile.profile.model import Gap, Profile, ProfileTable, Section, SourceSummary
from migprofile.profile.spec import ProfileSpec

openpyxl = pytest.importorskip("openpyxl")

from migprofile.profile.xlsx import write_workbook  # noqa: E402

MALICIOUS_CODE = '=HYPERLINK("http://x")'
MALICIOUS_TEXT = "+cmd|' /C calc'!A0"


@cache
def _computed() -> pd.DataFrame:
    dataset = mp.read_source(TESTS / "data" / "census" / "mapping.yaml")
    return mp.compute(dataset, ["IMM_STOCK", "IMM_STOCK_SHARE"], by=["sex"])


def _results() -> pd.DataFrame:
    return _computed().copy()


def make_profile(language: str = "en", *, malicious: bool = False) -> Profile:
    """A small profile built by hand from real results: a count table with a
    primary and a secondary suppression, a share table with a flagged cell,
    and (``malicious``) text and codes that a spreadsheet would run."""
    catalog = mp.load_catalog()
    labels = load_labels(language, catalog)
    results = _results()
    counts = results[results["indicator"] == "IMM_STOCK"].reset_index(drop=True).copy()
    counts.loc[counts["sex"] == "F", ["value", "n"]] = np.nan
    counts.loc[counts["sex"] == "F", ["obs_status", "conf_status"]] = ["Q", "A"]
    counts.loc[counts["sex"] == "M", ["value", "n"]] = np.nan
    counts.loc[counts["sex"] == "M", ["obs_status", "conf_status"]] = ["Q", "D"]
    shares = results[results["indicator"] == "IMM_STOCK_SHARE"].reset_index(drop=True).copy()
    shares.loc[shares["sex"] == "F", ["se", "cv", "obs_status"]] = [3.25, 0.25, "U"]
    tables = [
        ProfileTable(
            id="immigration-01-imm-stock-sex",
            section="immigration",
            indicator=catalog.indicator("IMM_STOCK"),
            breakdowns=("sex",),
            data=counts,
            source="census",
            chart="bar",
        ),
        ProfileTable(
            id="immigration-02-imm-stock-share-sex-with-a-long-name",
            section="immigration",
            indicator=catalog.indicator("IMM_STOCK_SHARE"),
            breakdowns=("sex",),
            data=shares,
            source="census",
            notes=(MALICIOUS_TEXT,) if malicious else (),
        ),
    ]
    title = "Extended Migration Profile of Moldova 2024"
    if malicious:
        bad = shares.copy()
        bad.loc[0, "sex"] = MALICIOUS_CODE
        tables.append(
            ProfileTable(
                id="immigration-02-imm-stock-share-sex-with-a-long-name-2",
                section="immigration",
                indicator=catalog.indicator("IMM_STOCK_SHARE"),
                breakdowns=("sex",),
                data=bad,
                source="census",
            )
        )
        title = MALICIOUS_TEXT
    spec = ProfileSpec.model_validate(
        {
            "id": "moldova-2024",
            "title": {"en": title},
            "country": "MDA",
            "reference_period": "2024",
            "languages": ["en", "fr"],
            "parameters": {"reporting_country": "MDA"},
            "sources": {"census": {"mapping": "census/mapping.yaml"}},
            "sections": [{"id": "immigration"}, {"id": "labour"}],
        }
    )
    gap = Gap(
        section="labour",
        indicator="LF_PART_RATE",
        reason=labels.text("gap.reason.no_source", kinds="survey"),
    )
    sections = (
        Section(
            id="immigration",
            title=MALICIOUS_TEXT if malicious else labels.section_title("immigration"),
            intro=labels.section_intro("immigration"),
            tables=tuple(tables),
        ),
        Section(
            id="labour",
            title=labels.section_title("labour"),
            intro=labels.section_intro("labour"),
            tables=(),
            gaps=(gap,),
        ),
    )
    source = SourceSummary(
        id="census",
        name=MALICIOUS_CODE if malicious else "Tiny census 2024",
        kind="census",
        reference_period="2024",
        provider="National Bureau of Statistics",
        licence=None,
        files=(("census/persons.csv", "ab" * 32),),
        report=None,
    )
    return Profile(
        spec=spec,
        catalog=catalog,
        labels=labels,
        country="MDA",
        title=title,
        reference_period="2024",
        language=language,
        sections=sections,
        sources={"census": source},
        gaps=(gap,),
        version="0.1.0",
        notes=("Population estimates of 1 January 2024.",),
    )


def _header(ws: object) -> list[object]:
    return [c.value for c in ws[2]]  # type: ignore[index]


def _all_cells(wb: object) -> list[object]:
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("language", "sex", "female", "value"),
    [("en", "Sex", "Female", "Value (persons)"), ("fr", "Sexe", "Femme", "Valeur (personnes)")],
)
def test_table_sheets_have_label_headers(
    tmp_path: Path, language: str, sex: str, female: str, value: str
) -> None:
    profile = make_profile(language)
    path = tmp_path / "profile.xlsx"
    write_workbook(profile, path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == profile.labels.text("workbook.contents")
    assert wb.sheetnames[-1] == profile.labels.text("workbook.metadata")
    assert len(wb.sheetnames) == 2 + len(profile.tables)
    ws = wb[wb.sheetnames[1]]
    header = _header(ws)
    assert header[:2] == [sex, value]
    assert profile.labels.text("table.se") in header
    assert profile.labels.text("table.flags") in header
    labels_column = [ws.cell(row=r, column=1).value for r in range(3, 6)]
    assert female in labels_column
    assert "Total" in labels_column
    for name in wb.sheetnames[1:-1]:
        sheet = wb[name]
        assert sheet.freeze_panes == "A3"
        assert _header(sheet)[0] == sex
        assert len(name) <= 31
    assert wb[wb.sheetnames[0]].freeze_panes is not None
    assert wb[wb.sheetnames[-1]].freeze_panes == "A2"


def test_withheld_cells_are_empty_and_flagged(tmp_path: Path) -> None:
    profile = make_profile("en")
    path = tmp_path / "profile.xlsx"
    write_workbook(profile, path)
    ws = openpyxl.load_workbook(path)[profile.tables[0].id]
    header = _header(ws)
    rows = {
        r[0]: dict(zip(header, r, strict=False))
        for r in ws.iter_rows(min_row=3, max_row=5, values_only=True)
    }
    assert rows["Female"]["Value (persons)"] is None
    assert rows["Female"]["Flags"] == "c"
    assert rows["Male"]["Value (persons)"] is None
    assert rows["Male"]["Flags"] == "d"
    assert rows["Total"]["Value (persons)"] == 2
    texts = [c.value for c in ws["A"] if isinstance(c.value, str)]
    assert any(t.startswith("Source: Tiny census 2024") for t in texts)
    assert any(t.startswith("Definition: ") for t in texts)
    assert any(t.startswith("c: Withheld") for t in texts)
    assert any(t.startswith("u: Low reliability") for t in texts)


def test_contents_links_to_every_table(tmp_path: Path) -> None:
    profile = make_profile("fr")
    path = tmp_path / "profile.xlsx"
    write_workbook(profile, path)
    wb = openpyxl.load_workbook(path)
    contents = wb["Sommaire"]
    links = {
        c.hyperlink.location
        for c in _all_cells(wb)
        if c.hyperlink is not None and c.parent is contents
    }
    for name in wb.sheetnames[1:]:
        assert f"'{name}'!A1" in links
    texts = [c.value for row in contents.iter_rows() for c in row]
    assert "Les immigrés dans le pays" in texts
    assert "LF_PART_RATE" in texts  # the gap
    meta = [c.value for row in wb["Métadonnées"].iter_rows() for c in row]
    assert "ab" * 32 in meta
    assert "census/persons.csv" in meta
    assert "min_n" in meta


def test_no_cell_is_a_formula(tmp_path: Path) -> None:
    profile = make_profile("en", malicious=True)
    path = tmp_path / "profile.xlsx"
    write_workbook(profile, path)
    wb = openpyxl.load_workbook(path)
    cells = _all_cells(wb)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    seen = {c.value for c in cells}
    assert MALICIOUS_CODE in seen and MALICIOUS_TEXT in seen
    for cell in cells:
        if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
            assert cell.data_type == "s"
            assert cell.quotePrefix
    # the raw XML holds no formula element at all
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name)
                assert b"<f " not in archive.read(name)


def test_sheet_names_are_valid_and_unique(tmp_path: Path) -> None:
    profile = make_profile("en", malicious=True)
    path = tmp_path / "profile.xlsx"
    write_workbook(profile, path)
    names = openpyxl.load_workbook(path).sheetnames
    assert len({n.lower() for n in names}) == len(names)
    for name in names:
        assert len(name) <= 31
        assert not set(name) & set("[]:*?/\\")


def test_second_write_is_byte_identical(tmp_path: Path) -> None:
    profile = make_profile("fr", malicious=True)
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_workbook(profile, first)
    write_workbook(make_profile("fr", malicious=True), second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
    assert infos[0].filename == "[Content_Types].xml"
    assert {info.date_time for info in infos} == {(2000, 1, 1, 0, 0, 0)}
    wb = openpyxl.load_workbook(first)
    assert wb.properties.created.year == 2000
    assert wb.properties.modified.year == 2000
