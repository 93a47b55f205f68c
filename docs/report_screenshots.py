"""Screenshots of a profile's HTML report, taken with headless Chromium.

    python docs/report_screenshots.py REPORT.html [--out shots/]
    python docs/report_screenshots.py examples/synthetic/profile.yaml --out shots/

Given a report (``report.<lang>.html``), it writes into ``--out``:

- ``<name>.full.png``: the whole page, top to bottom;
- ``<name>.<height>.png``: the top of the page in a window ``--width`` wide and
  ``<height>`` high, for every ``--heights`` value (default 900 and 1600);
- ``<name>.print.png``: the top of the page with the print stylesheet.

Given a profile spec (``.yaml``), it first builds the profile into a temporary
folder with :func:`migprofile.profile.build_profile` and takes the screenshots
of every ``report.<lang>.html`` it wrote.

Chromium is driven through its DevTools protocol over a pipe
(``--remote-debugging-pipe``: no port is opened), offline: no network
service, no sync, no component updates, a throw-away profile folder. The same
session also reports what a reader's browser would complain about —
console errors, uncaught exceptions and any request that is not for the file
itself — which ``tests/test_report_chromium.py`` checks.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Flags of every Chromium run: headless, offline, no state kept.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
)


def _high(fd: int) -> int:
    """``fd`` moved to a number of 10 or more (close-on-exec)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on the PATH, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    """What the browser said while loading the page."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class DevTools:
    """A minimal DevTools-protocol client over ``--remote-debugging-pipe``.

    Chromium reads commands on its file descriptor 3 and writes replies and
    events on 4, each message a JSON text ended by a NUL byte.
    """

    def __init__(self, chromium: str, user_data_dir: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        # Our ends of the two pipes, and the child's ends moved above fd 9 so
        # that the dup2 onto 3 and 4 below never meets one of them there.
        to_child_r, self._write = (_high(fd) for fd in os.pipe())
        self._read, from_child_w = (_high(fd) for fd in os.pipe())
        argv = [
            chromium,
            *CHROMIUM_FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={user_data_dir}",
            "about:blank",
        ]
        # posix_spawn with file actions: every fd is close-on-exec except
        # stdin/out/err (to /dev/null) and the pipe on 3 and 4.
        self.pid = os.posix_spawn(
            chromium,
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, to_child_r, 3),
                (os.POSIX_SPAWN_DUP2, from_child_w, 4),
            ],
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close", session=False)
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def call(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply; events are kept."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session and self.session is not None:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, event: str) -> dict[str, Any]:
        """Wait for an event (or return it if it already came)."""
        for seen in self.events:
            if seen.get("method") == event:
                return seen
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    return message

    def open(self, url: str) -> None:
        """Open a tab, attach to it, enable the domains we listen to, load ``url``."""
        target = self.call("Target.createTarget", session=False, url="about:blank")
        attached = self.call(
            "Target.attachToTarget", session=False, targetId=target["targetId"], flatten=True
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, width: int, height: int, *, full: bool = False) -> Path:
        """A PNG of the page, ``width`` wide; the whole page when ``full``."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if full:
            height = int(self.evaluate("document.documentElement.scrollHeight") or height)
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=full,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def page_report(self, own_url: str) -> PageReport:
        """Console errors, exceptions and foreign requests seen so far."""
        report = PageReport()
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                report.console_errors.append(" ".join(str(a.get("value", "")) for a in args))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                report.console_errors.append(str(params["entry"].get("text", "")))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                report.exceptions.append(str(details.get("text", details)))
            elif method == "Network.requestWillBeSent":
                url = str(params.get("request", {}).get("url", ""))
                if url != own_url and not url.startswith("data:"):
                    report.requests.append(url)
        report.facts = dict(
            self.evaluate(
                "({title: document.title, lang: document.documentElement.lang,"
                " scripts: document.scripts.length, images: document.images.length,"
                " svgs: document.querySelectorAll('svg').length,"
                " tables: document.querySelectorAll('table').length,"
                " height: document.documentElement.scrollHeight})"
            )
            or {}
        )
        return report


def inspect_report(
    html: Path,
    out: Path | None = None,
    *,
    chromium: str | None = None,
    width: int = 1280,
    heights: Sequence[int] = (900, 1600),
) -> tuple[PageReport, list[Path]]:
    """Load ``html`` in headless Chromium; report what the browser said and,
    when ``out`` is given, write the screenshots there."""
    exe = chromium or find_chromium()
    if exe is None:
        raise RuntimeError("no Chromium or Chrome executable on the PATH")
    html = html.resolve()
    url = html.as_uri()
    shots: list[Path] = []
    with (
        tempfile.TemporaryDirectory(prefix="migprofile-chromium-") as profile_dir,
        DevTools(exe, Path(profile_dir)) as browser,
    ):
        browser.open(url)
        report = browser.page_report(url)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            stem = html.stem
            shots.append(browser.screenshot(out / f"{stem}.full.png", width, 900, full=True))
            for height in heights:
                shots.append(browser.screenshot(out / f"{stem}.{height}.png", width, height))
            browser.call("Emulation.setEmulatedMedia", media="print")
            shots.append(browser.screenshot(out / f"{stem}.print.png", 794, 1123))
            browser.call("Emulation.setEmulatedMedia", media="")
    return report, shots


def _reports_of(path: Path, work: Path) -> list[Path]:
    if path.suffix.lower() in (".html", ".htm"):
        return [path]
    from migprofile.profile import build_profile

    build_profile(path, work)
    found = sorted(work.rglob("report.*.html"))
    if not found:
        raise SystemExit(f"building {path} wrote no report.<lang>.html (is 'html' in outputs?)")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a report .html, or a profile spec .yaml")
    parser.add_argument("--out", type=Path, default=Path("report-screenshots"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--heights", type=int, nargs="+", default=[900, 1600])
    args = parser.parse_args(argv)
    status = 0
    with tempfile.TemporaryDirectory(prefix="migprofile-build-") as work:
        for html in _reports_of(args.source, Path(work)):
            report, shots = inspect_report(html, args.out, width=args.width, heights=args.heights)
            for shot in shots:
                print(shot)
            for problem in (*report.console_errors, *report.exceptions, *report.requests):
                print(f"{html.name}: {problem}", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
