"""Exceptions raised by migprofile.

Every exception has two parents: :class:`MigprofileError`, so that a caller can
catch anything the library raises, and the built-in exception it specialises
(``ValueError``, ``KeyError``, ...), so that generic code keeps working.
Exceptions carry structured fields that a program can read, not only a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CatalogError",
    "FilterSyntaxError",
    "MigprofileError",
    "Problem",
    "ProblemsError",
    "UnitError",
    "UnknownCodeError",
]


class MigprofileError(Exception):
    """Base class of every error raised by migprofile."""


@dataclass(frozen=True)
class Problem:
    """One problem found while reading or checking a file.

    ``file`` and ``line`` locate it (line numbers start at 1; ``None`` when not
    known), ``id`` names the definition it belongs to, ``field`` the field of
    that definition, ``value`` the offending value and ``expected`` what would
    have been accepted. ``code`` is a short stable reason code a program can
    test (``unknown_codelist``, ``duplicate_id``, ``bad_unit``, ...).
    """

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    id: str | None = None
    field: str | None = None
    value: str | None = None
    expected: str | None = None

    def location(self) -> str:
        where = self.file or "<unknown file>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return where

    def __str__(self) -> str:
        parts = [f"{self.location()}:"]
        if self.id is not None:
            parts.append(f"[{self.id}]")
        if self.field is not None:
            parts.append(f"{self.field}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.value is not None:
            text += f" (got {self.value!r}"
            text += f"; expected {self.expected})" if self.expected else ")"
        elif self.expected is not None:
            text += f" (expected {self.expected})"
        return f"{text} [{self.code}]"


class ProblemsError(ValueError, MigprofileError):
    """Several problems found at once (collect, then raise): ``problems`` lists
    every one of them, each with its file, line, id, field and value."""

    #: what the problems are about, for the default headline
    about = "the input"

    def __init__(self, problems: Iterable[Problem], summary: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        files = sorted({p.file for p in self.problems if p.file})
        head = summary or self.headline(files)
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))

    def headline(self, files: list[str]) -> str:
        return f"{len(self.problems)} problem(s) in {len(files)} file(s) of {self.about}"

    def codes(self) -> list[str]:
        """The reason codes of all problems, in order."""
        return [p.code for p in self.problems]


class CatalogError(ProblemsError):
    """A catalogue folder has problems; ``problems`` lists every one of them."""

    about = "the catalogue"


class FilterSyntaxError(ValueError, MigprofileError):
    """A population filter is not part of the filter language.

    ``text`` is the expression, ``offset`` the 0-based character position of
    the problem within it, ``length`` how many characters are marked, and
    ``reason`` the message without the excerpt.
    """

    def __init__(self, reason: str, text: str, offset: int, length: int = 1) -> None:
        self.reason = reason
        self.text = text
        self.offset = max(0, min(offset, len(text)))
        self.length = max(1, length)
        super().__init__(self._render())

    def _render(self) -> str:
        # Show the line containing the offset with a caret underneath.
        start = self.text.rfind("\n", 0, self.offset) + 1
        end = self.text.find("\n", self.offset)
        end = len(self.text) if end == -1 else end
        line = self.text[start:end]
        col = self.offset - start
        marker = " " * col + "^" * max(1, min(self.length, len(line) - col or 1))
        return f"{self.reason} at position {self.offset}:\n    {line}\n    {marker}"


class UnitError(ValueError, MigprofileError):
    """A unit string is not understood, or two units are not compatible."""

    def __init__(self, message: str, unit: str | None = None) -> None:
        self.unit = unit
        super().__init__(message)


class UnknownCodeError(KeyError, MigprofileError):
    """A code is not in the codelist it should belong to."""

    def __init__(self, code: str, codelist: str, hint: str | None = None) -> None:
        self.code = code
        self.codelist = codelist
        self.hint = hint
        super().__init__(code)

    def __str__(self) -> str:
        text = f"code {self.code!r} is not in codelist {self.codelist!r}"
        return f"{text}; {self.hint}" if self.hint else text
