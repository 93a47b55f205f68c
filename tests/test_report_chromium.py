"""The HTML report in a real browser: headless Chromium loads it offline,
without a console error, an exception or a single request other than the file
itself, and takes a non-empty PNG screenshot of it.

How the browser is watched: Chromium's own log on stderr is noisy and its
format changes between versions (and headless mode does not always echo page
console messages there), so the page is loaded through the DevTools protocol
over ``--remote-debugging-pipe`` (no port opened) by the client in
``docs/report_screenshots.py``. It listens to the ``Runtime`` (console calls,
uncaught exceptions), ``Log`` (browser-side errors such as blocked loads or
CSP violations) and ``Network`` (every request) domains while the page loads,
then asks the page for its script, image and SVG counts. The screenshot is
also taken the plain way, with ``--screenshot``, to check the command-line
route users will try first.

Skipped when no ``chromium`` is on the PATH.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from migprofile.profile.html import render_html
from test_report_html import SCRIPT, sample_profile

CHROMIUM = shutil.which("chromium")
DOCS = Path(__file__).parent.parent / "docs"
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _screenshots_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "report_screenshots", DOCS / "report_screenshots.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.en.html"
    path.write_text(render_html(sample_profile()), encoding="utf-8")
    return path


def test_chromium_loads_the_report_without_errors_or_requests(report: Path, tmp_path: Path) -> None:
    shots = _screenshots_module()
    page, files = shots.inspect_report(report, tmp_path / "shots", chromium=CHROMIUM)
    assert page.console_errors == []
    assert page.exceptions == []
    assert page.requests == [], "the report must not fetch anything"
    facts = page.facts
    assert facts["lang"] == "en"
    assert facts["scripts"] == 0 and facts["images"] == 0
    assert facts["svgs"] == 3
    assert facts["tables"] >= 4
    assert SCRIPT in facts["title"], "the hostile title is text, not markup"
    assert [f.name for f in files] == [
        "report.en.full.png",
        "report.en.900.png",
        "report.en.1600.png",
        "report.en.print.png",
    ]
    for file in files:
        assert file.read_bytes().startswith(PNG) and file.stat().st_size > 10_000


def test_chromium_screenshot_from_the_command_line(report: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,1800",
            f"--screenshot={shot}",
            report.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    data = shot.read_bytes()
    assert data.startswith(PNG)
    assert len(data) > 10_000, "a blank page would compress to almost nothing"
