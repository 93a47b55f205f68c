from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import settings

import migprofile as mp

TESTS = Path(__file__).parent
REPO = TESTS.parent
CATALOGS = TESTS / "catalogs"


def indicator_ids(*files: str) -> set[str]:
    """The ids of the indicators defined in these files of indicators/."""
    ids: set[str] = set()
    for name in files:
        data = yaml.safe_load((REPO / "indicators" / name).read_text(encoding="utf-8"))
        ids |= {ind["id"] for ind in data["indicators"]}
    return ids


def cell_value(table: pd.DataFrame, indicator: str | None = None, **cell: str) -> float:
    """The value of the one row of a result table with these codes."""
    rows = table if indicator is None else table[table["indicator"] == indicator]
    for dim, code in cell.items():
        rows = rows[rows[dim] == code]
    assert len(rows) == 1, rows
    return float(rows["value"].iloc[0])


@pytest.fixture(scope="session")
def catalog() -> mp.Catalog:
    """The bundled catalogue, loaded once."""
    return mp.load_catalog()


# Shared machines are noisy: property tests are judged on their examples, not
# on how long one example took.
settings.register_profile("migprofile", deadline=None, max_examples=100)
settings.load_profile("migprofile")
