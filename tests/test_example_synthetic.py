"""The bundled synthetic example (examples/synthetic/): the generator
reproduces the committed files byte for byte, every mapping reads without
errors and accounts for every record, and a few facts of the data can be
checked by hand."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import migprofile as mp

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "synthetic"
SOURCES = EXAMPLE / "sources"
MAPPINGS = sorted(SOURCES.glob("*/mapping.yaml"))


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.csv"))
    }


def test_the_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(EXAMPLE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = _digests(tmp_path / "sources")
    committed = _digests(SOURCES)
    assert fresh == committed


def test_the_example_stays_small() -> None:
    size = sum(p.stat().st_size for p in EXAMPLE.rglob("*") if p.is_file())
    assert size < 5_000_000


@pytest.fixture(scope="module")
def datasets() -> dict[str, mp.Dataset]:
    return {m.parent.name: mp.read_source(m) for m in MAPPINGS}


def test_every_source_folder_has_a_mapping() -> None:
    folders = {p.name for p in SOURCES.iterdir() if p.is_dir()}
    assert folders == {m.parent.name for m in MAPPINGS}
    assert len(MAPPINGS) >= 12


def test_every_mapping_reads_without_errors_and_loses_nothing(
    datasets: dict[str, mp.Dataset],
) -> None:
    for name, ds in datasets.items():
        errors = [f for f in ds.report.findings if f.severity == "error"]
        assert not errors, (name, errors)
        warnings = [f for f in ds.report.findings if f.severity == "warning"]
        assert not warnings, (name, warnings)
        for table in ds.report.tables:
            rejected = sum(r.count for r in table.rejected)
            assert table.rows_read == table.rows_kept + rejected, (name, table.table)
            assert table.rows_read > 0, (name, table.table)


def test_every_source_kind_is_exercised(datasets: dict[str, mp.Dataset]) -> None:
    kinds = {ds.mapping.kind for ds in datasets.values()}
    assert kinds == set(mp.catalog.models.SOURCE_KINDS)


def test_census_weighted_total_is_the_generated_count(datasets: dict[str, mp.Dataset]) -> None:
    census = datasets["census"]
    persons = census["persons"]
    lines = (SOURCES / "census" / "persons.csv").read_text(encoding="utf-8").count("\n") - 1
    absent = (SOURCES / "census" / "absent.csv").read_text(encoding="utf-8").count("\n") - 1
    residents = persons[persons["usual_resident"].fillna(False).astype(bool)]
    assert len(residents) == lines
    assert residents["weight"].sum() == 100 * lines
    assert int(persons["absent_abroad"].fillna(False).astype(bool).sum()) == absent
    # POP_RESIDENT counts the same persons
    table = mp.compute(census, "POP_RESIDENT")
    assert table["value"].iloc[0] == 100 * lines


def test_the_published_population_matches_the_census(datasets: dict[str, mp.Dataset]) -> None:
    series = datasets["population"]["series"]
    both = series[(series["time_period"] == 2024) & (series["sex"] == "_T")]
    lines = (SOURCES / "census" / "persons.csv").read_text(encoding="utf-8").count("\n") - 1
    assert both["value"].tolist() == [100 * lines]
    by_sex = series[(series["time_period"] == 2024) & series["sex"].isin(["F", "M"])]
    assert by_sex["value"].sum() == 100 * lines


def test_parents_abroad_are_members_of_the_absent_roster(datasets: dict[str, mp.Dataset]) -> None:
    persons = datasets["census"]["persons"]
    children = persons[(persons["age"] <= 17) & persons["usual_resident"].fillna(False)]
    # whereabouts come from the line numbers (HOUSEHOLD / ABROAD) or, without a
    # line, from the MICS6-style question; no pointer is broken
    assert {"HOUSEHOLD", "ABROAD"} <= set(children["mother_loc"].dropna().astype(str))
    codes = {f.code for f in datasets["census"].report.findings}
    assert "broken_parent_pointer" not in codes


def test_register_counts(datasets: dict[str, mp.Dataset]) -> None:
    events = pd.read_csv(SOURCES / "register" / "events.csv", dtype=str)
    counts = events["EVTYPE"].value_counts().to_dict()
    table = mp.compute(datasets["register"], "EMIGRATION_FLOW")
    assert table["value"].iloc[0] == counts["2"]
    # immigration counts immigrations (1) and returns (3)
    table = mp.compute(datasets["register"], "IMMIGRATION_FLOW")
    assert table["value"].iloc[0] == counts["1"] + counts["3"]


def test_the_survey_has_a_replicate_design(datasets: dict[str, mp.Dataset]) -> None:
    lfs = datasets["lfs"]
    assert lfs.design is not None and lfs.design.replicate_method == "JK1"
    persons = lfs["persons"]
    replicates = [c for c in persons.columns if c.startswith("repw_")]
    assert len(replicates) == 16
    table = mp.compute(lfs, "UR_BY_MIG", by=["migrant_status"])
    assert table["se"].notna().all()
