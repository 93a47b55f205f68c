"""The analyst walkthrough notebook (examples/notebook/walkthrough.ipynb) runs
from its own folder and prints the published Moldova figures; it is committed
without outputs and writes only to the folder it is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOK = REPO / "examples" / "notebook" / "walkthrough.ipynb"


def _text(nb: object) -> str:
    """Every stream and text output of the executed notebook."""
    parts: list[str] = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_committed_without_outputs() -> None:
    raw = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_walkthrough_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("MIGPROFILE_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    text = _text(nb)
    assert "EMIGRANTS_2020=1159443" in text
    assert f"FEMALE_SHARE_2020={100 * 605_123 / 1_159_443:.2f}" in text
    for name in (
        "emigrants_by_destination.png",
        "emigrants_trend.png",
        "emigrants_by_destination.csv",
        "emigrants_by_destination.parquet",
        "emigrants_trend.csv",
    ):
        assert (out / name).is_file(), name
    # nothing was written beside the notebook
    assert not (NOTEBOOK.parent / "out").exists()
