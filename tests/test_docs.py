"""The generated Markdown reference: current, complete, and inert."""

from __future__ import annotations

from pathlib import Path

import pytest

import migprofile as mp
from conftest import CATALOGS, REPO
from migprofile.docs import codelist_page, render_reference, write_reference
from migprofile.testing import assert_reference_current


def test_committed_reference_is_current(catalog: mp.Catalog) -> None:
    """Fails when docs/reference/ is stale: run `migprofile catalog docs docs/reference`."""
    assert_reference_current(catalog, REPO / "docs" / "reference")


def test_reference_has_a_page_per_indicator_and_codelist(catalog: mp.Catalog) -> None:
    pages = render_reference(catalog)
    assert {f"indicators/{i}.md" for i in catalog.indicators} <= set(pages)
    assert {f"codelists/{c}.md" for c in catalog.codelists} <= set(pages)
    for ident in catalog.indicators:
        assert f"({'indicators/' + ident + '.md'})" in pages["index.md"]


def test_stale_detection_fails_on_an_edited_page(catalog: mp.Catalog, tmp_path: Path) -> None:
    write_reference(catalog, tmp_path)
    assert_reference_current(catalog, tmp_path)
    page = tmp_path / "indicators" / f"{sorted(catalog.indicators)[0]}.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="stale"):
        assert_reference_current(catalog, tmp_path)


def test_write_removes_pages_of_deleted_definitions(catalog: mp.Catalog, tmp_path: Path) -> None:
    write_reference(catalog, tmp_path)
    old = tmp_path / "indicators" / "GONE.md"
    old.write_text((tmp_path / "index.md").read_text(encoding="utf-8"), encoding="utf-8")
    mine = tmp_path / "indicators" / "NOTES.md"
    mine.write_text("hand-written, not generated\n", encoding="utf-8")
    write_reference(catalog, tmp_path)
    assert not old.exists()
    assert mine.exists()


def test_user_text_is_escaped() -> None:
    cat = mp.load_catalog(CATALOGS / "valid_office")
    page = codelist_page(cat.codelist("region"))
    assert "<b>" not in page
    assert "Lake \\<b\\>&amp; Shore" in page
