"""``scan_source``: a source harmonised inside DuckDB gives read_source's dataset.

On the synthetic census and labour-force survey and on the two test fixtures:
the Parquet tables equal read_source's harmonised tables (after sorting,
whatever the dtypes), the reconciliation reports agree (rows read, kept,
rejected with reasons and example records, per-column missing, unmapped and
invalid values, findings), and ``compute(scanned, ..., engine="duckdb")``
gives ``compute(read_source(...))``'s table for every catalogue indicator
computable on the source, by sex and one more breakdown (an age-group one
included).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import migprofile as mp
from migprofile.errors import MigprofileError
from test_engine_duckdb import assert_same_table

pytest.importorskip("duckdb")

from migprofile.sources import (
    ScannedDataset,
    ScanUnsupportedError,
    SourceError,
    load_mapping,
    mapping_from_dict,
    scan_source,
)

TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples" / "synthetic" / "sources"
MAPPINGS = {
    "example:census": EXAMPLES / "census" / "mapping.yaml",
    "example:lfs": EXAMPLES / "lfs" / "mapping.yaml",
    "fixture:census": TESTS / "data" / "census" / "mapping.yaml",
    "fixture:survey": TESTS / "data" / "survey" / "mapping.yaml",
}


@cache
def _read(name: str) -> Any:
    return mp.read_source(MAPPINGS[name])


@cache
def _scan(name: str) -> ScannedDataset:
    return scan_source(MAPPINGS[name], threads=2, memory_limit="1GB")


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    """Values without their dtypes: text and codes as objects (None missing),
    booleans as objects, numbers as float64; columns and rows sorted."""
    out = {}
    for column in sorted(frame.columns):
        s = frame[column]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[column] = pd.to_datetime(s).astype("datetime64[ns]")
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            out[column] = s.astype("float64")
        else:
            out[column] = s.astype(object).where(s.notna(), None)
    normal = pd.DataFrame(out)
    return normal.sort_values(
        list(normal.columns), key=lambda s: s.astype(str), na_position="last"
    ).reset_index(drop=True)


@pytest.mark.parametrize("name", list(MAPPINGS))
def test_scanned_tables_equal_read_source(name: str) -> None:
    expected, scanned = _read(name), _scan(name)
    assert set(scanned.tables) == set(expected.tables)
    for table, frame in expected.tables.items():
        got = scanned.read(table)
        assert (got["_one"] == 1.0).all()
        pd.testing.assert_frame_equal(
            _normal(frame), _normal(got.drop(columns="_one")), check_dtype=False
        )


@pytest.mark.parametrize("name", list(MAPPINGS))
def test_the_reports_agree(name: str) -> None:
    expected, got = _read(name).report, _scan(name).report
    assert got.balanced()
    assert [
        (t.table, t.rows_read, t.rows_kept, t.rejected, [(f.path, f.records) for f in t.files])
        for t in got.tables
    ] == [
        (t.table, t.rows_read, t.rows_kept, t.rejected, [(f.path, f.records) for f in t.files])
        for t in expected.tables
    ]
    assert {(c.table, c.column): c for c in got.columns} == {
        (c.table, c.column): c for c in expected.columns
    }
    assert sorted(map(str, got.findings)) == sorted(map(str, expected.findings))
    assert got.ok and dict(_scan(name).provenance) == dict(_read(name).provenance)


def test_unmapped_codes_rejected_are_counted_like_read_source(tmp_path: Path) -> None:
    # the fixture census with the 'fail' policy: the unmapped country code
    # rejects its row; both readers fail with the same report
    mapping, folder = load_mapping(MAPPINGS["fixture:census"])
    persons = mapping.tables["persons"].model_copy(update={"unmapped": "fail"})
    tables = {**mapping.tables, "persons": persons}
    failing = mapping.model_copy(update={"tables": tables})
    with pytest.raises(SourceError) as read_exc:
        mp.read_source(failing, base=folder)
    with pytest.raises(SourceError) as scan_exc:
        scan_source(failing, base=folder, out_dir=tmp_path)
    expected, got = read_exc.value.report, scan_exc.value.report
    assert got.table("persons") == expected.table("persons")
    assert got.table("persons").rows_read == 10
    assert got.table("persons").rows_kept == 9
    assert got.column("persons", "country_of_birth") == expected.column(
        "persons", "country_of_birth"
    )
    assert sorted(map(str, got.findings)) == sorted(map(str, expected.findings))


def test_exclusions_run_in_sql(tmp_path: Path) -> None:
    mapping, folder = load_mapping(MAPPINGS["fixture:census"])
    data = mapping.model_dump(mode="python", exclude_none=True)
    data["tables"]["persons"]["exclude"] = [
        {"where": "age < 10", "reason": "children left out"},
        {"source_where": "LINE >= 5", "reason": "late lines"},
    ]
    for tm in data["tables"].values():
        for spec in tm["files"]:
            spec["path"] = str(folder / spec["path"])
    data["catalog"] = [str(folder / c) for c in data["catalog"]]
    excluding = mapping_from_dict(data)
    expected = mp.read_source(excluding)
    got = scan_source(excluding, out_dir=tmp_path)
    assert got.report.table("persons") == expected.report.table("persons")
    assert got.report.table("persons").rows_rejected > 0
    pd.testing.assert_frame_equal(
        _normal(expected["persons"]),
        _normal(got.read("persons").drop(columns="_one")),
        check_dtype=False,
    )


def test_out_dir_and_temporary_folder(tmp_path: Path) -> None:
    kept = scan_source(MAPPINGS["fixture:census"], out_dir=tmp_path / "out")
    assert kept.tables["persons"] == str(tmp_path / "out" / "persons.parquet")
    assert Path(kept.tables["households"]).is_file()
    assert "n_members_abroad" in kept.columns("households")
    temporary = scan_source(MAPPINGS["fixture:census"])
    folder = Path(temporary.frame).parent
    assert folder.is_dir()
    del temporary
    import gc

    gc.collect()
    assert not folder.exists()


@pytest.mark.parametrize(
    ("change", "feature"),
    [
        ({"files": [{"path": "persons.dta"}]}, "the stata format"),
        ({"unpivot": {"columns": "(?P<YEAR>\\d{4})"}}, "unpivot"),
        ({"files": [{"path": "persons.csv", "encoding": "latin-1"}]}, "encoding 'latin-1'"),
    ],
)
def test_what_cannot_be_translated_is_named(change: dict[str, Any], feature: str) -> None:
    mapping, folder = load_mapping(MAPPINGS["fixture:census"])
    persons = mapping.tables["persons"].model_dump(mode="python", exclude_none=True)
    persons.update(change)
    data = mapping.model_dump(mode="python", exclude_none=True)
    data["tables"]["persons"] = persons
    with pytest.raises(ScanUnsupportedError) as exc:
        scan_source(mapping_from_dict(data), base=folder)
    message = str(exc.value)
    assert "'tiny_census_2024'" in message and "table 'persons'" in message
    assert feature in message and "read_source" in message
    assert exc.value.table == "persons"


# ------------------------------------------------------------------ compute


def _complete(dataset: Any, scanned: ScannedDataset, tmp: Path) -> tuple[Any, ScannedDataset]:
    """The survey fixture without its record missing a replicate weight
    (which every engine refuses), in both forms."""
    persons = dataset.tables["persons"]
    complete = persons.filter(like="repw_").notna().all(axis=1)
    dataset = dataclasses.replace(
        dataset, tables={"persons": persons[complete].reset_index(drop=True)}
    )
    frame = scanned.read("persons")
    frame = frame[frame.filter(like="repw_").notna().all(axis=1)]
    path = tmp / "persons.parquet"
    frame.to_parquet(path, index=False)
    return dataset, dataclasses.replace(scanned, tables={"persons": str(path)})


def _breakdowns(catalog: mp.Catalog, dimension: str) -> list[str]:
    dim = catalog.dimensions.get(dimension)
    if dim is None or dim.codelist is None:
        return []
    if dim.kind != "numeric":
        return [dimension]
    codelist = catalog.codelist(dim.codelist)
    names = [*codelist.sets, *(lv.id for lv in codelist.levels)]
    return [f"{dimension}:{n}" for n in names[:1]]


def _cases(dataset: Any) -> dict[tuple[str, ...], list[str]]:
    """Every catalogue indicator computable on the dataset, grouped by the
    breakdowns it is computed with: sex and its first other breakdown that
    works (age groups first where allowed), else sex, else none."""
    catalog = mp.load_catalog()
    groups: dict[tuple[str, ...], list[str]] = {}
    for ind_id, indicator in catalog.indicators.items():
        sex = ["sex"] if "sex" in indicator.breakdowns else []
        others = [
            c
            for other in sorted(indicator.breakdowns, key=lambda d: d != "age")
            if other != "sex"
            for c in _breakdowns(catalog, other)
        ]
        for by in [*([*sex, c] for c in others[:3]), sex]:
            try:
                table = mp.compute(dataset, [ind_id], by=by, margins=False)
            except MigprofileError:
                continue
            if not table.empty:
                groups.setdefault(tuple(by), []).append(ind_id)
                break
    return groups


@pytest.mark.parametrize("name", list(MAPPINGS))
def test_compute_on_scanned_files_equals_read_source(name: str, tmp_path: Path) -> None:
    dataset, scanned = _read(name), _scan(name)
    if name == "fixture:survey":
        dataset, scanned = _complete(dataset, scanned, tmp_path)
    cases = _cases(dataset)
    assert cases, name
    assert any(len(by) == 2 and by[0] == "sex" for by in cases), cases
    if name != "fixture:survey":  # it has no age-group breakdown an indicator allows
        assert any(any(b.startswith("age:") for b in by) for by in cases), cases
    from migprofile.compute.engine_duckdb import DuckDBEngine

    engine = DuckDBEngine(threads=2)
    for by, indicators in cases.items():
        expected = mp.compute(dataset, indicators, by=list(by))
        got = mp.compute(scanned, indicators, by=list(by), engine=engine)
        try:
            assert_same_table(expected, got)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {indicators} by {list(by)}: {exc}") from exc


def test_compute_on_scanned_files_with_auto_and_named_duckdb() -> None:
    dataset, scanned = _read("example:census"), _scan("example:census")
    ids = ["RETURN_MIGRANT_STOCK", "RETURN_MIGRANT_SHARE", "FOREIGN_CIT_SHARE"]
    by = ["sex", "age:five_year"]
    expected = mp.compute(dataset, ids, by=by)
    assert not expected.empty
    for engine in ("duckdb", "auto"):
        assert_same_table(expected, mp.compute(scanned, ids, by=by, engine=engine))


def test_a_file_table_without_the_constant_column_is_refused(tmp_path: Path) -> None:
    scanned = _scan("fixture:census")
    frame = scanned.read("persons").drop(columns="_one")
    path = tmp_path / "persons.parquet"
    frame.to_parquet(path, index=False)
    bare = dataclasses.replace(scanned, tables={**scanned.tables, "persons": str(path)})
    with pytest.raises(mp.ComputeError, match="_one"):
        mp.compute(bare, ["FOREIGN_CIT_SHARE"], by=["sex"], engine="duckdb")


@pytest.mark.parametrize("keyed", [True, False])
def test_parent_location_with_a_line_held_twice(tmp_path: Path, keyed: bool) -> None:
    # The fixture census with its H2 line 1 (the mother of H2 line 3) also on
    # the absent roster: the line is held twice, so the child's mother_loc is
    # missing (a broken pointer), as in read_source; H1's mother abroad and
    # H3's pointer at no member stay as they are. With the keys declared the
    # duplicate is an error in both readers, with the same report.
    mapping, folder = load_mapping(MAPPINGS["fixture:census"])
    data = mapping.model_dump(mode="python", exclude_none=True)
    for name in ("households", "persons", "absent"):
        text = (folder / f"{name}.csv").read_text(encoding="utf-8")
        if name == "absent":
            text = text.rstrip("\n") + "\nH2,1,2,38,ITA,12\n"
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    for tm in data["tables"].values():
        for spec in tm["files"]:
            spec["path"] = str(tmp_path / spec["path"])
        if not keyed:
            tm.pop("key", None)
    data["catalog"] = [str(folder / c) for c in data["catalog"]]
    twice = mapping_from_dict(data)
    if keyed:
        with pytest.raises(SourceError) as read_exc:
            mp.read_source(twice)
        with pytest.raises(SourceError) as scan_exc:
            scan_source(twice, out_dir=tmp_path / "out")
        expected, got = read_exc.value.report, scan_exc.value.report
        assert "duplicate_key" in {f.code for f in got.findings}
        assert sorted(map(str, got.findings)) == sorted(map(str, expected.findings))
        return
    read = mp.read_source(twice)
    scanned = scan_source(twice, out_dir=tmp_path / "out")
    persons = scanned.read("persons").drop(columns="_one")
    pd.testing.assert_frame_equal(_normal(read["persons"]), _normal(persons), check_dtype=False)
    child = persons[(persons["hh_id"] == "H2") & (persons["line_no"] == 3)]
    assert child["mother_loc"].isna().all()
    assert set(persons["mother_loc"].dropna()) == {"ABROAD"}
    assert set(persons["father_loc"].dropna()) == {"HOUSEHOLD"}
    broken = [f for f in scanned.report.findings if f.code == "broken_parent_pointer"]
    assert broken and broken == [
        f for f in read.report.findings if f.code == "broken_parent_pointer"
    ]
    assert sorted(map(str, scanned.report.findings)) == sorted(map(str, read.report.findings))
