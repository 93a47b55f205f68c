"""build_profile on a small spec over the tiny census and survey fixtures:
every output written, the manifest true to the files, rebuilds byte-identical,
data gaps reported, the CLI's build verb and its terminal behaviour."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import migprofile as mp
from migprofile.cli import cli
from migprofile.profile import BuildError, build_profile

HERE = Path(__file__).parent
SPEC = HERE / "data" / "profile" / "spec.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, mp.profile.BuildResult]:
    out = tmp_path_factory.mktemp("tiny")
    return out, build_profile(SPEC, out)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_every_output_is_written(built: tuple[Path, mp.profile.BuildResult]) -> None:
    out, result = built
    names = {p.as_posix() for p in result.paths}
    for expected in (
        "manifest.json",
        "profile.sdmx.csv",
        "profile.en.xlsx",
        "profile.fr.xlsx",
        "report.en.html",
        "report.fr.html",
        "tables/data_gaps.csv",
    ):
        assert expected in names
    for table_id in result.tables:
        assert f"tables/{table_id}.csv" in names
        assert f"tables/{table_id}.parquet" in names
    assert set(_files(out)) == names


def test_tables_match_a_direct_computation(built: tuple[Path, mp.profile.BuildResult]) -> None:
    out, result = built
    # The overview's first table: IMM_STOCK by sex from the census. The tiny
    # census has two foreign-born residents (H2 line 1, a woman born in
    # Romania; H3 line 1, a man born in Ukraine): F 1, M 1, total 2.
    table = result.tables["overview-01-imm-stock-sex"]
    values = dict(zip(table["sex"], table["value"], strict=True))
    assert values == {"F": 1.0, "M": 1.0, "_T": 2.0}
    on_disk = pd.read_csv(out / "tables" / "overview-01-imm-stock-sex.csv")
    assert on_disk["value"].tolist() == table["value"].tolist()
    parquet = pd.read_parquet(out / "tables" / "overview-01-imm-stock-sex.parquet")
    assert parquet["value"].tolist() == table["value"].tolist()
    direct = mp.compute(
        mp.read_source(HERE / "data" / "census" / "mapping.yaml"), "IMM_STOCK", by=["sex"]
    )
    assert direct["value"].tolist() == table["value"].tolist()


def test_data_gaps(built: tuple[Path, mp.profile.BuildResult]) -> None:
    out, result = built
    gaps = {(g.section, g.indicator) for g in result.gaps}
    # No register source: the immigration flow cannot be supplied.
    assert ("flows", "IMMIGRATION_FLOW") in gaps
    frame = pd.read_csv(out / "tables" / "data_gaps.csv")
    assert ("flows", "IMMIGRATION_FLOW") in set(
        zip(frame["section"], frame["indicator"], strict=True)
    )
    assert frame["reason"].str.len().min() > 10


def test_manifest_is_true_to_the_files(built: tuple[Path, mp.profile.BuildResult]) -> None:
    out, _ = built
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["migprofile_version"] == mp.__version__
    listed = {o["path"]: o["sha256"] for o in manifest["outputs"]}
    on_disk = _files(out)
    assert set(listed) == set(on_disk) - {"manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256(on_disk[path]).hexdigest() == digest
    inputs = {(i["role"], i["path"]): i["sha256"] for i in manifest["inputs"]}
    persons = HERE / "data" / "census" / "persons.csv"
    assert (
        inputs[("data:census", "../census/persons.csv")]
        == hashlib.sha256(persons.read_bytes()).hexdigest()
    )
    assert ("spec", "spec.yaml") in inputs
    assert len(manifest["spec_sha256"]) == 64


def test_rebuild_is_byte_identical(
    built: tuple[Path, mp.profile.BuildResult], tmp_path: Path
) -> None:
    out, _ = built
    build_profile(SPEC, tmp_path)
    assert _files(tmp_path) == _files(out)


def test_one_language(tmp_path: Path) -> None:
    result = build_profile(SPEC, tmp_path, languages=["fr"])
    names = {p.as_posix() for p in result.paths}
    assert "report.fr.html" in names
    assert "report.en.html" not in names
    assert set(result.profiles) == {"fr"}
    assert result.profiles["fr"].sections[0].title != result.profiles["fr"].sections[0].id


def test_unknown_language_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(mp.profile.SpecError, match="de"):
        build_profile(SPEC, tmp_path, languages=["de"])


def test_cli_build_plain_lines_and_quiet(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["build", str(SPEC), "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "built " in result.output
    assert "[1/" in result.output  # plain progress lines when not on a terminal
    quiet = runner.invoke(cli, ["build", str(SPEC), "--out", str(tmp_path / "b"), "-q"])
    assert quiet.exit_code == 0
    assert quiet.output == ""
    verbose = runner.invoke(cli, ["build", str(SPEC), "--out", str(tmp_path / "c"), "-v"])
    assert "data gap: flows/IMMIGRATION_FLOW" in verbose.output


def test_a_failing_indicator_names_spec_section_and_indicator(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8").replace(
        "- {id: ABSENT_POP, by: [sex]}",
        "- {id: ABSENT_POP, by: [sex], where: 'age >= @no_such_parameter'}",
    )
    spec = SPEC.parent / "_failing_spec.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        with pytest.raises(BuildError) as err:
            build_profile(spec, tmp_path)
        message = str(err.value)
        assert "_failing_spec.yaml" in message
        assert "emigration/ABSENT_POP" in message
    finally:
        spec.unlink()


@pytest.mark.parametrize("engine", ["duckdb", "auto"])
def test_another_engine_builds_the_same_files(
    built: tuple[Path, mp.profile.BuildResult], tmp_path: Path, engine: str
) -> None:
    out, _ = built
    build_profile(SPEC, tmp_path, engine=engine)
    assert _files(tmp_path) == _files(out)


def test_conflicting_sdmx_observations_name_the_spec_and_tables(tmp_path: Path) -> None:
    # The same observation (IMM_STOCK by sex) from two sources with different
    # values cannot go into one SDMX dataset: the build says which tables.
    text = SPEC.read_text(encoding="utf-8").replace(
        "        - {id: IMM_STOCK_SHARE, by: [sex]}",
        "        - {id: IMM_STOCK_SHARE, by: [sex]}\n"
        "        - {id: IMM_STOCK, by: [sex], source: census, where: 'age >= 40'}",
    )
    spec = SPEC.parent / "_conflict_spec.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        with pytest.raises(BuildError) as err:
            build_profile(spec, tmp_path)
        message = str(err.value)
        assert "_conflict_spec.yaml" in message
        assert "overview-01-imm-stock-sex" in message
        assert "sdmx: false" in message
        # Kept out of the dataflow, the restricted table builds everywhere else.
        spec.write_text(text.replace("where: 'age >= 40'}", "where: 'age >= 40', sdmx: false}"),
                        encoding="utf-8")  # fmt: skip
        result = build_profile(spec, tmp_path / "ok")
        assert "overview-03-imm-stock-sex" in result.tables
        sdmx = (tmp_path / "ok" / "profile.sdmx.csv").read_text(encoding="utf-8")
        # the women of the by-sex table and of the age-by-sex table's age
        # total are one observation, written once
        assert sdmx.count(",IMM_STOCK,MDA,2024,F,_T,_T,") == 1
    finally:
        spec.unlink()


def test_scanned_sources_build_the_same_files(
    built: tuple[Path, mp.profile.BuildResult], tmp_path: Path
) -> None:
    # scan: true harmonises the sources inside DuckDB (out of core) and
    # computes with the DuckDB engine: the same profile, byte for byte.
    out, _ = built
    text = SPEC.read_text(encoding="utf-8")
    text = text.replace(
        "census: {mapping: ../census/mapping.yaml}",
        "census: {mapping: ../census/mapping.yaml, scan: true}",
    ).replace(
        "lfs: {mapping: ../survey/mapping.yaml}",
        "lfs: {mapping: ../survey/mapping.yaml, scan: true}",
    )
    spec = SPEC.parent / "_scan_spec.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        build_profile(spec, tmp_path)
    finally:
        spec.unlink()
    ours, theirs = _files(tmp_path), _files(out)
    assert set(ours) == set(theirs)
    different = sorted(name for name in ours if ours[name] != theirs[name])
    # only the manifest differs: it records the spec file and its hash
    assert different == ["manifest.json"]


def test_a_bad_parameter_value_stops_the_build(tmp_path: Path) -> None:
    # A parameter value the indicator cannot use is the spec's fault, not a
    # lack of data: the build stops (it is not reported as a data gap).
    text = SPEC.read_text(encoding="utf-8").replace(
        "- {id: ABSENT_POP, by: [sex]}",
        "- {id: ABSENT_POP, by: [sex]}\n"
        "        - {id: SECOND_GEN_SHARE, source: census, params: {parent_rule: BOGUS}}",
    )
    spec = SPEC.parent / "_bad_param_spec.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        with pytest.raises(BuildError) as err:
            build_profile(spec, tmp_path)
        message = str(err.value)
        assert "_bad_param_spec.yaml" in message
        assert "emigration/SECOND_GEN_SHARE: " in message
        assert "'BOGUS'" in message
        assert "ABSENT_POP" not in message  # the item at fault, not its whole source
    finally:
        spec.unlink()
