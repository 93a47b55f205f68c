from __future__ import annotations

from pathlib import Path

import pytest

import migprofile as mp

TESTS = Path(__file__).parent
REPO = TESTS.parent
CATALOGS = TESTS / "catalogs"


@pytest.fixture(scope="session")
def catalog() -> mp.Catalog:
    """The bundled catalogue, loaded once."""
    return mp.load_catalog()
