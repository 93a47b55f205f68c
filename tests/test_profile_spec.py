"""The profile spec: its structure and its checks against the catalogue, the
mapping files and the charts (``migprofile validate SPEC``), with no data read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from migprofile.cli import cli
from migprofile.profile import SpecError, load_spec, validate_spec

HERE = Path(__file__).parent
SPEC = HERE / "data" / "profile" / "spec.yaml"


def _variant(
    tmp_path: Path, change: dict[str, object] | None = None, text: str | None = None
) -> Path:
    """A copy of the fixture spec next to the fixtures (relative paths hold),
    with ``change`` merged into its ``profile:`` mapping."""
    folder = tmp_path / "data" / "profile"
    folder.mkdir(parents=True)
    for name in ("census", "survey"):
        shutil.copytree(HERE / "data" / name, tmp_path / "data" / name)
    shutil.copytree(HERE / "catalogs" / "valid_office", tmp_path / "catalogs" / "valid_office")
    path = folder / "spec.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
        return path
    body = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    body["profile"].update(change or {})
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def test_fixture_spec_is_valid() -> None:
    spec = validate_spec(SPEC)
    assert spec.country == "MDA"
    assert [s.id for s in spec.sections] == ["overview", "immigration", "flows", "emigration"]
    # A bare id is an item with the indicator's default breakdowns.
    flows = spec.sections[2].indicators[0]
    assert flows.id == "IMMIGRATION_FLOW"
    assert flows.by is None


def test_cli_validate_ok() -> None:
    result = CliRunner().invoke(cli, ["validate", str(SPEC)])
    assert result.exit_code == 0, result.output
    assert "valid (4 sections" in result.output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    body = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["profile"]
    sections = body["sections"]
    sections[0]["indicators"] = [
        {"id": "IMM_STOCKK"},  # unknown indicator
        {"id": "IMM_STOCK", "by": ["colour"]},  # unknown dimension
        {"id": "IMM_STOCK", "by": ["sex"], "source": "registers"},  # unknown source
        {"id": "IMM_STOCK", "by": ["country_of_birth"], "chart": "pyramid"},  # no age × sex
        {"id": "IMM_STOCK", "by": ["sex"], "where": "__import__('os')"},  # not a filter
        {"id": "IMM_STOCK", "by": ["sex"], "chart": "line"},  # a trend without periods
    ]
    path = _variant(tmp_path, {"sections": sections})
    with pytest.raises(SpecError) as err:
        validate_spec(path)
    problems = err.value.problems
    text = str(err.value)
    assert str(path) in text
    assert len(problems) == 6, text
    assert "did you mean IMM_STOCK" in text
    assert "colour" in text
    assert "registers" in text
    assert "pyramid needs breakdowns by age and sex" in text
    assert "periods" in text
    # Every problem names the section and the indicator.
    assert all(p[0].startswith("sections.overview.indicators[") for p in problems)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert "6 problem(s)" in result.output


def test_structural_errors_name_the_field(tmp_path: Path) -> None:
    path = _variant(tmp_path, {"country": "Moldova", "languages": ["en", "en"], "outputs": ["pdf"]})
    with pytest.raises(SpecError) as err:
        load_spec(path)
    where = {p[0] for p in err.value.problems}
    assert {"country", "languages", "outputs.0"} <= where


def test_unknown_field_is_an_error(tmp_path: Path) -> None:
    path = _variant(tmp_path, {"colour": "blue"})
    with pytest.raises(SpecError, match="colour"):
        load_spec(path)


def test_missing_mapping_file(tmp_path: Path) -> None:
    path = _variant(tmp_path, {"sources": {"census": {"mapping": "nowhere.yaml"}}})
    with pytest.raises(SpecError, match=r"sources\.census\.mapping"):
        validate_spec(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("profile: [1, 2", "line"),
        ("!!python/object/apply:os.system ['true']", "yaml"),
        ("title: x\n", "profile"),
    ],
)
def test_unsafe_or_malformed_yaml(tmp_path: Path, text: str, expected: str) -> None:
    path = _variant(tmp_path, text=text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert expected in str(err.value)


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "none.yaml")
