"""The SDMX-CSV file of a profile: header, codes, withheld cells, same bytes."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pandas as pd
import pytest

from migprofile.profile.model import Profile
from migprofile.profile.sdmx import (
    SdmxError,
    escape_text,
    format_number,
    structure_id,
    write_sdmx_csv,
)
from test_xlsx import MALICIOUS_CODE, make_profile

HEADER = [
    "STRUCTURE",
    "STRUCTURE_ID",
    "ACTION",
    "INDICATOR",
    "REF_AREA",
    "TIME_PERIOD",
    "SEX",
    "OBS_VALUE",
    "UNIT_MEASURE",
    "UNIT_MULT",
    "OBS_STATUS",
    "CONF_STATUS",
]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _with_total_table(profile: Profile) -> Profile:
    """``profile`` plus a table of IMM_STOCK without breakdowns (its SEX is
    _T: the indicator allows a breakdown by sex, and the figure is the total)."""
    first = profile.tables[0]
    total = first.data[first.data["sex"] == "_T"].drop(columns=["sex"]).reset_index(drop=True)
    table = dataclasses.replace(first, id="immigration-00-imm-stock", breakdowns=(), data=total)
    section = profile.sections[0]
    section = dataclasses.replace(section, tables=(table, *section.tables))
    return dataclasses.replace(profile, sections=(section, *profile.sections[1:]))


def test_header_and_rows(tmp_path: Path) -> None:
    profile = _with_total_table(make_profile("en"))
    path = tmp_path / "profile.sdmx.csv"
    write_sdmx_csv(profile, path)
    raw = path.read_bytes()
    assert b"\r" not in raw
    assert raw.endswith(b"\n")
    first_line = raw.decode("utf-8").split("\n", 1)[0]
    assert first_line.split(",") == HEADER
    rows = _read(path)
    # the table without breakdowns repeats the by-sex table's total (same
    # key, same value): written once
    assert len(rows) == sum(len(t.data) for t in profile.tables) - 1
    for row in rows:
        assert row["STRUCTURE"] == "dataflow"
        assert row["STRUCTURE_ID"] == "MIGPROFILE:DF_MOLDOVA_2024(1.0)"
        assert row["ACTION"] == "I"
        assert row["REF_AREA"] == "MDA"
        assert row["TIME_PERIOD"] == "2024"
    total = [r for r in rows if r["INDICATOR"] == "IMM_STOCK" and r["SEX"] == "_T"]
    assert len(total) == 1
    assert total[0]["OBS_VALUE"] == "2"
    assert not [r for r in rows if r["SEX"] == "_Z"]
    shares = [r for r in rows if r["INDICATOR"] == "IMM_STOCK_SHARE"]
    assert {r["UNIT_MEASURE"] for r in shares} == {"PT"}
    assert {r["OBS_VALUE"] for r in shares} == {"20"}
    counts = [r for r in rows if r["INDICATOR"] == "IMM_STOCK"]
    assert {r["UNIT_MEASURE"] for r in counts} == {"PS"}
    assert {r["UNIT_MULT"] for r in rows} == {"0"}


def test_every_code_is_in_its_codelist(tmp_path: Path) -> None:
    profile = _with_total_table(make_profile("fr"))
    path = tmp_path / "profile.sdmx.csv"
    write_sdmx_csv(profile, path)
    catalog = profile.catalog
    codelists = {
        "REF_AREA": "geo",
        "SEX": catalog.dimension("sex").codelist,
        "OBS_STATUS": "obs_status",
        "CONF_STATUS": "conf_status",
    }
    for row in _read(path):
        assert row["INDICATOR"] in catalog.indicators
        for column, codelist in codelists.items():
            assert codelist is not None
            assert row[column] in catalog.codelist(codelist), (column, row[column])


def test_withheld_cells_are_empty(tmp_path: Path) -> None:
    profile = make_profile("en")
    path = tmp_path / "profile.sdmx.csv"
    write_sdmx_csv(profile, path)
    rows = {(r["INDICATOR"], r["SEX"]): r for r in _read(path)}
    female, male = rows["IMM_STOCK", "F"], rows["IMM_STOCK", "M"]
    assert (female["OBS_VALUE"], female["CONF_STATUS"], female["OBS_STATUS"]) == ("", "A", "Q")
    assert (male["OBS_VALUE"], male["CONF_STATUS"]) == ("", "D")
    assert rows["IMM_STOCK", "_T"]["OBS_VALUE"] == "2"
    assert rows["IMM_STOCK_SHARE", "F"]["OBS_STATUS"] == "U"
    assert rows["IMM_STOCK_SHARE", "F"]["OBS_VALUE"] == "20"


def test_same_profile_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_sdmx_csv(make_profile("en"), first)
    write_sdmx_csv(make_profile("fr"), second)  # codes only: the language does not matter
    assert first.read_bytes() == second.read_bytes()


def test_formula_like_text_is_escaped(tmp_path: Path) -> None:
    profile = make_profile("en", malicious=True)
    path = tmp_path / "profile.sdmx.csv"
    write_sdmx_csv(profile, path)
    text = path.read_text(encoding="utf-8")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert MALICIOUS_CODE not in cells
    assert "'" + MALICIOUS_CODE in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]


def test_conflicting_observations_are_refused(tmp_path: Path) -> None:
    profile = make_profile("en")
    first = profile.tables[1]
    other = first.data.copy()
    other["value"] = other["value"] + 1
    clash = dataclasses.replace(first, id="immigration-09-clash", data=other)
    section = dataclasses.replace(profile.sections[0], tables=(*profile.sections[0].tables, clash))
    with pytest.raises(SdmxError, match="immigration-09-clash"):
        write_sdmx_csv(dataclasses.replace(profile, sections=(section,)), tmp_path / "x.csv")


def test_identical_observations_are_written_once(tmp_path: Path) -> None:
    profile = make_profile("en")
    again = dataclasses.replace(profile.tables[1], id="immigration-09-again")
    section = dataclasses.replace(profile.sections[0], tables=(*profile.sections[0].tables, again))
    path = tmp_path / "x.csv"
    write_sdmx_csv(dataclasses.replace(profile, sections=(section,)), path)
    assert len(_read(path)) == sum(len(t.data) for t in profile.tables)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2"),
        (20, "20"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (-5.5, "-5.5"),
        (float("nan"), ""),
        (float("inf"), ""),
        (None, ""),
        (pd.NA, ""),
        (1e20, "1e+20"),
    ],
)
def test_format_number(value: object, text: str) -> None:
    assert format_number(value) == text
    if text:
        assert float(text) == float(value)  # type: ignore[arg-type]


def test_structure_id_and_escaping() -> None:
    assert structure_id("fictland-2024") == "MIGPROFILE:DF_FICTLAND_2024(1.0)"
    assert structure_id("a.b c") == "MIGPROFILE:DF_A_B_C(1.0)"
    assert escape_text("=1+1") == "'=1+1"
    assert escape_text("-x") == "'-x"
    assert escape_text("MDA") == "MDA"


def test_a_dimension_the_indicator_does_not_have_is_not_applicable(tmp_path: Path) -> None:
    # A table of an indicator that cannot be broken down by sex (remittances
    # received) gets SEX=_Z in a profile whose other tables have sex.
    profile = make_profile("en")
    first = profile.tables[0]
    remit = profile.catalog.indicator("REMIT_INFLOW_USD")
    assert "sex" not in remit.breakdowns
    data = first.data[first.data["sex"] == "_T"].drop(columns=["sex"]).reset_index(drop=True)
    data = data.assign(indicator="REMIT_INFLOW_USD", unit="USD", value=1.5e9)
    table = dataclasses.replace(
        first, id="remittances-01", indicator=remit, breakdowns=(), data=data
    )
    section = dataclasses.replace(profile.sections[0], tables=(*profile.sections[0].tables, table))
    profile = dataclasses.replace(profile, sections=(section, *profile.sections[1:]))
    path = tmp_path / "profile.sdmx.csv"
    write_sdmx_csv(profile, path)
    remittances = [r for r in _read(path) if r["INDICATOR"] == "REMIT_INFLOW_USD"]
    assert [r["SEX"] for r in remittances] == ["_Z"]
    assert remittances[0]["OBS_VALUE"] == "1500000000"
