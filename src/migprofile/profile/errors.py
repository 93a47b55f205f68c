"""Errors of the profile spec and build: each names the spec file, and the
section and indicator where there is one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migprofile.errors import MigprofileError

__all__ = ["BuildError", "SpecError"]


class SpecError(ValueError, MigprofileError):
    """The spec is invalid; ``problems`` lists (where, kind, value, message)."""

    def __init__(self, path: Path | str | None, problems: Sequence[tuple[str, str, str, str]]):
        self.path = Path(path) if path is not None else None
        self.problems = list(problems)
        lines = [f"{self.path or '<spec>'}: {len(self.problems)} problem(s)"]
        for where, kind, value, message in self.problems:
            at = f" at {where}" if where else ""
            val = f" (value {value})" if value else ""
            lines.append(f"  - {message}{at}{val} [{kind}]")
        super().__init__("\n".join(lines))


class BuildError(RuntimeError, MigprofileError):
    """The build failed; the message names the spec, section and indicator."""
