from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

import migprofile as mp

TESTS = Path(__file__).parent
REPO = TESTS.parent
CATALOGS = TESTS / "catalogs"


@pytest.fixture(scope="session")
def catalog() -> mp.Catalog:
    """The bundled catalogue, loaded once."""
    return mp.load_catalog()


# Shared machines are noisy: property tests are judged on their examples, not
# on how long one example took.
settings.register_profile("migprofile", deadline=None, max_examples=100)
settings.load_profile("migprofile")
