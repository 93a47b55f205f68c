"""The reconciliation report: what happened to every record of a source.

Reading a source accounts for every record: rows read = rows kept + rows
rejected (each rejection with its reason); for every column, the source codes
that no crosswalk mapped (with counts and example record numbers), invalid
values and missing values; and the findings of the validation checks, each
with a code, a severity and a reason. The report renders as text, as a
DataFrame and as JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

import pandas as pd

from migprofile.errors import Problem

__all__ = [
    "ColumnReport",
    "FileReport",
    "Finding",
    "ReconciliationReport",
    "Rejection",
    "Severity",
    "TableReport",
    "ValueCount",
]

Severity: TypeAlias = Literal["error", "warning", "info"]
EXAMPLES = 5  # example record numbers kept per value or finding


@dataclass(frozen=True)
class ValueCount:
    """A source value, how many rows had it, and the first record numbers."""

    value: str
    count: int
    records: tuple[int, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One result of a validation check: data, not an exception."""

    code: str
    severity: Severity
    message: str
    table: str | None = None
    column: str | None = None
    count: int = 1
    value: str | None = None
    expected: str | None = None
    records: tuple[int, ...] = ()
    file: str | None = None

    def __str__(self) -> str:
        where = ".".join(x for x in (self.table, self.column) if x)
        if self.file:
            where = f"{self.file} ({where})" if where else self.file
        text = f"{self.severity}: [{self.code}] {where + ': ' if where else ''}{self.message}"
        if self.value is not None:
            text += f" (value {self.value!r}"
            text += f"; expected {self.expected})" if self.expected else ")"
        elif self.expected is not None:
            text += f" (expected {self.expected})"
        if self.count > 1:
            text += f"; {self.count} rows"
        if self.records:
            text += f"; records {', '.join(map(str, self.records))}"
            if self.count > len(self.records):
                text += ", ..."
        return text

    @classmethod
    def from_problem(
        cls, problem: Problem, table: str | None = None, severity: Severity = "error"
    ) -> Finding:
        """A reader's or loader's problem as a finding of ``table``."""
        return cls(
            problem.code,
            severity,
            problem.message,
            table=table,
            column=problem.field,
            value=problem.value,
            expected=problem.expected,
            file=problem.file,
            records=(problem.line,) if problem.line else (),
        )

    def problem(self) -> Problem:
        return Problem(
            code=self.code,
            message=self.message,
            file=self.file,
            line=self.records[0] if self.records else None,
            id=self.table,
            field=self.column,
            value=self.value,
            expected=self.expected,
        )


@dataclass(frozen=True)
class ColumnReport:
    """What happened to one harmonised column."""

    table: str
    column: str
    source: str | None
    kind: str
    missing: int = 0
    unmapped: tuple[ValueCount, ...] = ()
    invalid: tuple[ValueCount, ...] = ()
    to_unknown: int = 0


@dataclass(frozen=True)
class Rejection:
    reason: str
    count: int
    records: tuple[int, ...] = ()


@dataclass(frozen=True)
class FileReport:
    path: str
    format: str
    checksum: str
    records: int


@dataclass(frozen=True)
class TableReport:
    table: str
    files: tuple[FileReport, ...]
    rows_read: int
    rows_kept: int
    rejected: tuple[Rejection, ...] = ()

    @property
    def rows_rejected(self) -> int:
        return sum(r.count for r in self.rejected)


@dataclass(frozen=True)
class ReconciliationReport:
    """Every record of a source, accounted for."""

    source: str
    tables: tuple[TableReport, ...]
    columns: tuple[ColumnReport, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No finding of severity ``error``."""
        return not any(f.severity == "error" for f in self.findings)

    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def table(self, name: str) -> TableReport:
        for t in self.tables:
            if t.table == name:
                return t
        raise KeyError(f"no table {name!r} in the report of {self.source!r}")

    def column(self, table: str, column: str) -> ColumnReport:
        for c in self.columns:
            if c.table == table and c.column == column:
                return c
        raise KeyError(f"no column {table}.{column} in the report of {self.source!r}")

    def balanced(self) -> bool:
        """Rows read equal rows kept plus rows rejected, in every table."""
        return all(t.rows_read == t.rows_kept + t.rows_rejected for t in self.tables)

    # -- renderings

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "tables": [{**asdict(t), "rows_rejected": t.rows_rejected} for t in self.tables],
            "columns": [asdict(c) for c in self.columns],
            "findings": [asdict(f) for f in self.findings],
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, sort_keys=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per fact: rows read/kept/rejected, unmapped and invalid
        values, missing counts, findings. Columns: ``section, table, column,
        item, value, count, severity, records``."""
        rows: list[dict[str, Any]] = []
        for t in self.tables:
            rows.append(_row("rows", t.table, None, "read", None, t.rows_read))
            rows.append(_row("rows", t.table, None, "kept", None, t.rows_kept))
            for r in t.rejected:
                rows.append(_row("rejected", t.table, None, r.reason, None, r.count, r.records))
        for c in self.columns:
            if c.missing:
                rows.append(_row("missing", c.table, c.column, "missing", None, c.missing))
            for v in c.unmapped:
                rows.append(
                    _row("unmapped", c.table, c.column, "unmapped", v.value, v.count, v.records)
                )
            for v in c.invalid:
                rows.append(
                    _row("invalid", c.table, c.column, "invalid", v.value, v.count, v.records)
                )
        for f in self.findings:
            rows.append(
                _row("finding", f.table, f.column, f.code, f.value, f.count, f.records, f.severity)
            )
        return pd.DataFrame(
            rows,
            columns=["section", "table", "column", "item", "value", "count", "severity", "records"],
        )

    def to_text(self) -> str:
        out = [f"Reconciliation report: {self.source}"]
        for t in self.tables:
            out.append(
                f"  {t.table}: {t.rows_read} rows read, {t.rows_kept} kept, "
                f"{t.rows_rejected} rejected"
            )
            for f in t.files:
                out.append(f"    file {f.path} ({f.format}, {f.records} records, {f.checksum})")
            for r in t.rejected:
                examples = f" (records {', '.join(map(str, r.records))})" if r.records else ""
                out.append(f"    rejected {r.count}: {r.reason}{examples}")
        issues = [c for c in self.columns if c.missing or c.unmapped or c.invalid]
        if issues:
            out.append("  columns:")
        for c in issues:
            src = f" <- {c.source}" if c.source else ""
            out.append(f"    {c.table}.{c.column}{src}: {c.missing} missing")
            for v in c.unmapped:
                out.append(
                    f"      unmapped {v.value!r}: {v.count} row(s), records "
                    f"{', '.join(map(str, v.records))}"
                    + (f" -> {(c.to_unknown and 'unknown code') or 'rejected'}")
                )
            for v in c.invalid:
                out.append(
                    f"      invalid {v.value!r}: {v.count} row(s), records "
                    f"{', '.join(map(str, v.records))}"
                )
        if self.findings:
            out.append("  findings:")
            out += [f"    {f}" for f in self.findings]
        if self.notes:
            out.append("  notes:")
            out += [f"    {n}" for n in self.notes]
        out.append("  status: " + ("OK" if self.ok else f"{len(self.errors())} error(s)"))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()


def _row(
    section: str,
    table: str | None,
    column: str | None,
    item: str,
    value: str | None,
    count: int,
    records: Iterable[int] = (),
    severity: str | None = None,
) -> dict[str, Any]:
    return {
        "section": section,
        "table": table,
        "column": column,
        "item": item,
        "value": value,
        "count": count,
        "severity": severity,
        "records": " ".join(map(str, records)),
    }


@dataclass
class ValueTally:
    """Mutable tally of values with example records, merged across chunks."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, value: str, count: int, records: Iterable[int]) -> None:
        self.counts[value] += count
        kept = self.examples.setdefault(value, [])
        for r in records:
            if len(kept) >= EXAMPLES:
                break
            kept.append(int(r))

    def freeze(self) -> tuple[ValueCount, ...]:
        return tuple(
            ValueCount(value=v, count=n, records=tuple(self.examples.get(v, ())))
            for v, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
