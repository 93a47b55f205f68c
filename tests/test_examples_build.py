"""Both bundled examples build from the repository alone, and every output
holds what the issue promises: every section present, every table non-empty,
the workbook opens with a header on every sheet, the SDMX-CSV parses with
codes from the codelists, the HTML names every section and references no
network resource, the manifest lists every output, and a second build is
byte-identical."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from html import unescape
from pathlib import Path

import openpyxl
import pytest

import migprofile as mp
from migprofile.profile import BuildResult, build_profile, validate_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "synthetic": ROOT / "examples" / "synthetic" / "profile.yaml",
    "moldova": ROOT / "examples" / "moldova" / "profile.yaml",
}


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, BuildResult]:
    name = request.param
    out = tmp_path_factory.mktemp(name)
    return name, out, build_profile(EXAMPLES[name], out)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_every_section_is_present(built: tuple[str, Path, BuildResult]) -> None:
    name, out, result = built
    spec = validate_spec(EXAMPLES[name])
    for lang, profile in result.profiles.items():
        assert [s.id for s in profile.sections] == [s.id for s in spec.sections]
        html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
        headings = {
            unescape(m.group(2)).strip(): m.group(1)
            for m in re.finditer(r'<h2 id="([^"]+)">([^<]+)', html)
        }
        for section in profile.sections:
            assert f'<section class="profile-section" id="s-{section.id}"' in html
            assert headings.get(section.title) == f"s-{section.id}-h", (lang, section.id)


def test_every_table_is_non_empty(built: tuple[str, Path, BuildResult]) -> None:
    _, out, result = built
    assert result.tables
    for table_id, table in result.tables.items():
        assert len(table) > 0, table_id
        published = table[table["conf_status"].astype(str) == "F"]
        assert published["value"].notna().any(), table_id
        assert (out / "tables" / f"{table_id}.csv").stat().st_size > 0


def test_units_match_the_catalogue(built: tuple[str, Path, BuildResult]) -> None:
    _, _, result = built
    profile = next(iter(result.profiles.values()))
    for table in profile.tables:
        assert set(table.data["unit"]) == {table.indicator.unit}, table.id


def test_workbook_opens_with_headers(built: tuple[str, Path, BuildResult]) -> None:
    _, out, result = built
    for lang in result.profiles:
        book = openpyxl.load_workbook(out / f"profile.{lang}.xlsx", read_only=True)
        assert len(book.sheetnames) == len(result.tables) + 2  # contents + metadata
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
            assert rows, sheet.title
            header = [c for row in rows for c in row if c not in (None, "")]
            assert header, sheet.title
            for row in sheet.iter_rows(values_only=True):
                for cell in row:
                    assert not (isinstance(cell, str) and cell.startswith("=")), sheet.title
        book.close()


def test_sdmx_csv_parses_with_codes_from_the_codelists(
    built: tuple[str, Path, BuildResult],
) -> None:
    name, out, result = built
    profile = next(iter(result.profiles.values()))
    catalog = profile.catalog
    with (out / "profile.sdmx.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    header = list(rows[0])
    assert header[:3] == ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    dims = header[header.index("ACTION") + 1 : header.index("OBS_VALUE")]
    assert {r["INDICATOR"] for r in rows} == {t.indicator.id for t in profile.tables}
    for dim in dims:
        if dim in ("INDICATOR", "TIME_PERIOD"):
            continue
        dimension = catalog.dimensions.get(dim.lower())
        codelist_id = dimension.codelist if dimension is not None else None
        if dim == "REF_AREA":
            codelist_id = "geo"
        if codelist_id is None:
            continue
        codes = {c.id for c in catalog.codelist(codelist_id).codes} | {"_Z", "_T"}
        used = {r[dim] for r in rows}
        assert used <= codes, (name, dim, sorted(used - codes)[:5])
    statuses = {c.id for c in catalog.codelist("obs_status").codes}
    assert {r["OBS_STATUS"] for r in rows} <= statuses
    for row in rows:
        if row["CONF_STATUS"] in {"A", "C", "D", "N"}:
            assert row["OBS_VALUE"] == ""
        elif row["OBS_VALUE"]:
            float(row["OBS_VALUE"])


def test_html_is_offline(built: tuple[str, Path, BuildResult]) -> None:
    _, out, result = built
    for lang in result.profiles:
        html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
        assert "http://" not in html
        assert "https://" not in html
        assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html)
        assert "<svg" in html


def test_manifest_lists_every_output(built: tuple[str, Path, BuildResult]) -> None:
    _, out, _ = built
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    on_disk = _files(out)
    listed = {o["path"]: o["sha256"] for o in manifest["outputs"]}
    assert set(listed) == set(on_disk) - {"manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256(on_disk[path]).hexdigest() == digest
    assert manifest["migprofile_version"] == mp.__version__
    for entry in manifest["inputs"]:
        assert len(entry["sha256"]) == 64


def test_data_gaps_page(built: tuple[str, Path, BuildResult]) -> None:
    name, out, result = built
    html = (out / "report.en.html").read_text(encoding="utf-8")
    for gap in result.gaps:
        assert gap.indicator in html
    if name == "moldova":  # real international data cannot hold microdata indicators
        assert {g.section for g in result.gaps} >= {"labour", "children", "return"}


def test_second_build_is_byte_identical(
    built: tuple[str, Path, BuildResult], tmp_path: Path
) -> None:
    name, out, _ = built
    build_profile(EXAMPLES[name], tmp_path)
    assert _files(tmp_path) == _files(out)


def test_withheld_cells_are_reported(built: tuple[str, Path, BuildResult]) -> None:
    _, _, result = built
    for table_id, table in result.tables.items():
        withheld = int(table["conf_status"].isin(["A", "C", "D", "N"]).sum())
        noted = [f for f in result.findings if f.startswith(f"table {table_id}:")]
        assert bool(noted) == bool(withheld), table_id
        if withheld:
            assert f"{withheld} cell(s) withheld" in noted[0]
