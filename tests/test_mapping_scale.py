"""``scale`` on a numeric column: a table published in thousands (or US$
millions) is read in base units, by read_source and by scan_source alike."""

from __future__ import annotations

from pathlib import Path

import pytest

import migprofile as mp
from migprofile.sources import MappingError, SourceError
from migprofile.sources.mapping import mapping_from_dict

CSV = "area,year,thousands\nMDA,2020,-14.278\nROU,2020,2.5\nUKR,2020,\n"


def _mapping(value: object, unit: str = "person") -> dict[str, object]:
    return {
        "id": "scaled",
        "name": "A table in thousands",
        "kind": "published_table",
        "reference_period": 2020,
        "tables": {
            "series": {
                "files": [{"path": "t.csv", "assign": {"SERIES": "NET_MIGRATION", "UNIT": unit}}],
                "columns": {
                    "series_id": "SERIES",
                    "unit": "UNIT",
                    "ref_area": "area",
                    "time_period": "year",
                    "value": value,
                },
            }
        },
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "t.csv").write_text(CSV, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("reader", ["read_source", "scan_source"])
def test_values_are_read_in_base_units(folder: Path, reader: str) -> None:
    mapping = mapping_from_dict(_mapping({"source": "thousands", "scale": 1000}))
    read = getattr(mp, reader)
    dataset = read(mapping, base=folder)
    series = dataset["series"]
    if isinstance(series, str):  # scan_source: a Parquet file
        import pandas as pd

        series = pd.read_parquet(series)
    values = dict(zip(series["ref_area"].astype(str), series["value"], strict=True))
    # -14.278 thousand = -14,278 persons; 2.5 thousand = 2,500; a missing value stays missing
    assert values["MDA"] == pytest.approx(-14_278.0)
    assert values["ROU"] == pytest.approx(2_500.0)
    assert values["UKR"] != values["UKR"]  # NaN
    assert dataset.report.tables[0].rows_kept == 3


def test_scale_must_be_positive_and_on_a_source_column() -> None:
    with pytest.raises((MappingError, ValueError), match="positive"):
        mapping_from_dict(_mapping({"source": "thousands", "scale": -1}))
    with pytest.raises((MappingError, ValueError), match="constant"):
        mapping_from_dict(_mapping({"value": 3, "scale": 1000}))


def test_scale_on_a_coded_column_is_an_error(folder: Path) -> None:
    body = _mapping({"source": "thousands", "scale": 1000})
    body["tables"]["series"]["columns"]["ref_area"] = {  # type: ignore[index]
        "source": "area",
        "scale": 10,
    }
    with pytest.raises(SourceError) as err:
        mp.read_source(mapping_from_dict(body), base=folder)
    assert "scale_on_non_numeric" in err.value.report.to_text()
