"""Helpers for a statistics office's own CI: check a catalogue folder.

In a test suite::

    from migprofile.testing import assert_catalog_valid

    def test_our_catalogue():
        assert_catalog_valid("catalog/")

or in a shell step: ``migprofile catalog validate catalog/`` (exit status 1 with
the full report when something is wrong).
"""

from __future__ import annotations

from collections.abc import Iterable

from migprofile.catalog.loader import Catalog, PathLike, catalog_problems, load_catalog
from migprofile.docs import render_reference
from migprofile.errors import CatalogError, Problem

__all__ = [
    "assert_catalog_invalid",
    "assert_catalog_valid",
    "assert_reference_current",
    "catalog_problems",
]


def assert_catalog_valid(*folders: PathLike, include_bundled: bool = True) -> Catalog:
    """Fail (``AssertionError`` with every problem listed) unless the bundled
    catalogue plus ``folders`` is valid; return the loaded catalogue."""
    problems = catalog_problems(*folders, include_bundled=include_bundled)
    if problems:
        raise AssertionError(str(CatalogError(problems)))
    return load_catalog(*folders, include_bundled=include_bundled)


def assert_catalog_invalid(
    *folders: PathLike, codes: Iterable[str] = (), include_bundled: bool = True
) -> list[Problem]:
    """Fail unless loading reports problems, among them one of each reason
    code in ``codes`` (``unknown_codelist``, ``bad_unit``, ``duplicate_id``...).
    Useful to keep fixtures of broken definitions honest."""
    problems = catalog_problems(*folders, include_bundled=include_bundled)
    if not problems:
        raise AssertionError(f"expected problems in {[str(f) for f in folders]}, found none")
    found = {p.code for p in problems}
    missing = [c for c in codes if c not in found]
    if missing:
        raise AssertionError(
            f"expected problem codes {missing} not reported; got:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return problems


def assert_reference_current(catalog: Catalog, folder: PathLike) -> None:
    """Fail if the Markdown reference in ``folder`` differs from what
    ``migprofile catalog docs`` would write now (stale or hand-edited pages)."""
    from pathlib import Path

    root = Path(str(folder))
    stale: list[str] = []
    for rel, text in render_reference(catalog).items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(rel)
    extra = (
        sorted(
            str(p.relative_to(root))
            for sub in ("indicators", "codelists")
            for p in (root / sub).glob("*.md")
            if str(p.relative_to(root)) not in render_reference(catalog)
        )
        if root.is_dir()
        else []
    )
    if stale or extra:
        raise AssertionError(
            f"the reference in {root} is stale ({len(stale)} page(s) differ, "
            f"{len(extra)} left over): run `migprofile catalog docs {root}`\n"
            + "\n".join(f"  - {p}" for p in [*stale, *extra][:20])
        )
