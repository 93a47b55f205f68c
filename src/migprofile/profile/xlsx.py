"""The Excel workbook of a profile.

:func:`write_workbook` writes one ``.xlsx`` file: a contents sheet listing the
sections and their tables (each linked to its sheet) and the indicators that
could not be produced, one sheet per table, and a metadata sheet (the
profile, its sources with their checksums, the disclosure rules and the
parameters). Every header and label is in the profile's language
(:attr:`Profile.labels`).

Two safety rules hold for every cell:

* text is always stored as text. openpyxl would store a string starting with
  ``=`` as a formula (and one such as ``#N/A`` as an error value); a label or
  note coming from a user's file could then run when the workbook is opened
  (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``). Each text cell is forced to
  the string type, and text starting with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return also gets Excel's "quote prefix", so that editing the
  cell in Excel does not turn it into a formula either. Characters XML cannot
  hold are replaced by U+FFFD.
* the bytes are reproducible: the document properties carry a fixed date, and
  the zip archive is rewritten with its entries in a fixed order and a fixed
  time stamp, so that writing the same profile twice gives the same file.
"""

from __future__ import annotations

import io
import math
import numbers
import re
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from migprofile.profile._io import write_atomically
from migprofile.profile.model import Profile, ProfileTable

try:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
    from openpyxl.worksheet.hyperlink import Hyperlink  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "writing Excel workbooks needs openpyxl: pip install 'migprofile[excel]'"
    ) from exc

__all__ = ["FORMULA_PREFIXES", "write_workbook"]

#: Text starting with one of these could be read as a formula by a spreadsheet.
FORMULA_PREFIXES: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")

#: The date written as the workbook's creation and modification time: a
#: constant, so that the file does not depend on when it was written.
FIXED_DATE: Final = datetime(2000, 1, 1, 0, 0, 0)
_ZIP_DATE: Final = (2000, 1, 1, 0, 0, 0)

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX: Final = 31
# Excel reserves this sheet name.
_RESERVED_SHEETS: Final = frozenset({"history"})
_CORE_DATES = re.compile(
    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:(created|modified)>)"
)
_FIXED_W3CDTF: Final = b"2000-01-01T00:00:00Z"

_HEADER_ROW: Final = 2
_MAX_WIDTH: Final = 60

# Flags of a cell (also explained in each sheet's footnotes).
FLAG_SUPPRESSED: Final = "c"
FLAG_SECONDARY: Final = "d"
FLAG_UNRELIABLE: Final = "u"
_PUBLISHED_CONF: Final = frozenset({"", "F", "nan", "None", "<NA>"})


# --------------------------------------------------------------------------- cells


def _illegal_characters() -> re.Pattern[str]:
    pattern: re.Pattern[str] = ILLEGAL_CHARACTERS_RE
    return pattern


class _Writer:
    """Writes cells of one workbook, applying the safety rules."""

    def __init__(self) -> None:

        self.illegal = _illegal_characters()
        self.bold = Font(bold=True)
        self.title = Font(bold=True, size=14)
        self.link_font = Font(color="0563C1", underline="single")
        self.wrap = Alignment(wrap_text=True, vertical="top")

    def put(
        self,
        ws: Any,
        row: int,
        column: int,
        value: object,
        *,
        font: Any = None,
        number_format: str | None = None,
    ) -> Any:
        cell = ws.cell(row=row, column=column)
        cell.value = self.clean(value)
        if isinstance(cell.value, str):
            # Always text: never a formula ("=..."), nor an error value ("#N/A").
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_PREFIXES):
                cell.quotePrefix = True
        if font is not None:
            cell.font = font
        if number_format is not None and not isinstance(cell.value, str):
            cell.number_format = number_format
        return cell

    def clean(self, value: object) -> str | int | float | None:
        """The value as Excel stores it: text, a finite number, or empty."""
        if value is None:
            return None
        if isinstance(value, bool | np.bool_):
            return "true" if value else "false"
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            number = float(value)
            return number if math.isfinite(number) else None
        if value is pd.NA or value is pd.NaT:
            return None
        return self.text(str(value))

    def text(self, value: str) -> str:
        return self.illegal.sub("\ufffd", value)

    def link(self, ws: Any, row: int, column: int, text: str, sheet: str) -> Any:

        cell = self.put(ws, row, column, text, font=self.link_font)
        quoted = sheet.replace("'", "''")
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{quoted}'!A1")
        return cell


class _SheetNames:
    """Sheet names Excel accepts: at most 31 characters, none of ``[]:*?/\\``,
    not starting or ending with an apostrophe, unique ignoring case."""

    def __init__(self) -> None:
        self.used: set[str] = set(_RESERVED_SHEETS)

    def add(self, wanted: str) -> str:
        base = _SHEET_FORBIDDEN.sub("_", wanted).strip().strip("'") or "Sheet"
        name = base[:_SHEET_MAX]
        number = 1
        while name.lower() in self.used:
            number += 1
            suffix = f"~{number}"
            name = base[: _SHEET_MAX - len(suffix)] + suffix
        self.used.add(name.lower())
        return name


def _width(values: Sequence[object]) -> float:
    longest = max((len(str(v)) for v in values if v is not None), default=8)
    return float(min(max(longest + 2, 8), _MAX_WIDTH))


# --------------------------------------------------------------------------- tables


def _text_of(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _flags(row: Mapping[Any, Any]) -> str:
    conf = _text_of(row.get("conf_status"))
    obs = _text_of(row.get("obs_status"))
    flags = []
    if conf == "D":
        flags.append(FLAG_SECONDARY)
    elif conf not in _PUBLISHED_CONF:
        flags.append(FLAG_SUPPRESSED)
    if obs == "U":
        flags.append(FLAG_UNRELIABLE)
    return " ".join(flags)


def _number_format(values: pd.Series) -> str:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    numbers = numbers[numbers.map(math.isfinite)]
    if len(numbers) and bool((numbers == numbers.round()).all()):
        return "#,##0"
    return "#,##0.0"


def _source_text(profile: Profile, table: ProfileTable) -> str:
    source = profile.sources.get(table.source)
    if source is None:
        return table.source
    return f"{source.name} ({source.reference_period})"


def _table_title(profile: Profile, table: ProfileTable) -> str:
    labels = profile.labels
    if table.title:
        return table.title
    name = labels.indicator_name(table.indicator)
    if not table.breakdowns:
        return name
    return f"{name} — {', '.join(labels.dimension(b) for b in table.breakdowns)}"


def _write_table(
    writer: _Writer, ws: Any, profile: Profile, table: ProfileTable, contents: str
) -> None:
    labels = profile.labels
    data = table.data.reset_index(drop=True)
    records: list[dict[Any, Any]] = data.to_dict("records")
    periods = sorted({_text_of(r.get("ref_period")) for r in records})
    areas = sorted({_text_of(r.get("ref_area")) for r in records})
    units = sorted({_text_of(r.get("unit")) for r in records} - {""}) or [table.indicator.unit]

    # (header, value of a row, number format)
    columns: list[tuple[str, Any, str | None]] = []
    if periods != [profile.reference_period] and len(periods) > 0:
        columns.append(
            (labels.text("table.reference_period"), lambda r: _text_of(r.get("ref_period")), None)
        )
    if "ref_area" not in table.breakdowns and areas != [profile.country] and len(areas) > 0:
        columns.append(
            (
                labels.text("table.reference_area"),
                lambda r: labels.country(_text_of(r.get("ref_area"))),
                None,
            )
        )
    for dim in table.breakdowns:
        columns.append(
            (labels.dimension(dim), lambda r, d=dim: labels.code(d, _text_of(r.get(d))), None)
        )
    value_format = _number_format(data["value"]) if "value" in data else "#,##0.0"
    value_header = (
        labels.text("table.value_unit", unit=labels.unit(units[0]))
        if len(units) == 1
        else labels.text("table.value")
    )

    def number(name: str) -> Any:
        return lambda r: r.get(name)

    columns += [
        (value_header, number("value"), value_format),
        (
            labels.text("report.unit"),
            lambda r: labels.unit(_text_of(r.get("unit")) or units[0]),
            None,
        ),
        (labels.text("table.se"), number("se"), "#,##0.0##"),
        (labels.text("table.ci_lower"), number("ci_lower"), value_format),
        (labels.text("table.ci_upper"), number("ci_upper"), value_format),
        (labels.text("table.cv"), number("cv"), "0.0%"),
        (labels.text("table.n"), number("n"), "#,##0"),
        (labels.text("table.flags"), _flags, None),
    ]

    writer.put(ws, 1, 1, _table_title(profile, table), font=writer.title)
    for col, (header, _get, _fmt) in enumerate(columns, start=1):
        writer.put(ws, _HEADER_ROW, col, header, font=writer.bold)
    cells: list[list[object]] = [[header] for header, _g, _f in columns]
    row_no = _HEADER_ROW
    for record in records:
        row_no += 1
        withheld = _flags(record).startswith((FLAG_SUPPRESSED, FLAG_SECONDARY))
        for col, (_header, get, fmt) in enumerate(columns, start=1):
            value = get(record)
            if withheld and fmt is not None:
                value = None  # a withheld cell shows no number at all
            cell = writer.put(ws, row_no, col, value, number_format=fmt)
            cells[col - 1].append(cell.value)
    ws.freeze_panes = ws.cell(row=_HEADER_ROW + 1, column=1).coordinate

    # footnotes
    row_no += 2
    writer.put(ws, row_no, 1, labels.text("workbook.footnotes"), font=writer.bold)
    notes = [
        labels.text("report.source_note", source=_source_text(profile, table)),
        labels.text(
            "report.definition_note", definition=labels.indicator_definition(table.indicator)
        ),
        *table.notes,
        labels.text("flag.legend"),
        *(
            labels.text("workbook.pair", label=flag, value=labels.text(f"flag.{key}"))
            for flag, key in (
                (FLAG_SUPPRESSED, "suppressed"),
                (FLAG_SECONDARY, "secondary"),
                (FLAG_UNRELIABLE, "unreliable"),
            )
        ),
    ]
    for note in notes:
        row_no += 1
        writer.put(ws, row_no, 1, note)
    row_no += 2
    writer.link(ws, row_no, 1, labels.text("report.back_to_contents"), contents)

    for col, values in enumerate(cells, start=1):
        ws.column_dimensions[get_column_letter(col)].width = _width(values)


# --------------------------------------------------------------------------- contents


def _write_contents(
    writer: _Writer,
    ws: Any,
    profile: Profile,
    sheets: dict[str, str],
    metadata: str,
) -> None:
    labels = profile.labels
    writer.put(ws, 1, 1, profile.title, font=writer.title)
    rows: list[tuple[str, str]] = [
        (labels.text("report.country"), f"{labels.country(profile.country)} ({profile.country})"),
        (labels.text("report.reference_period"), profile.reference_period),
        (labels.text("report.language"), labels.name),
        ("", labels.text("report.version", version=profile.version)),
    ]
    row_no = 1
    for key, value in rows:
        row_no += 1
        writer.put(ws, row_no, 1, key, font=writer.bold)
        writer.put(ws, row_no, 2, value)
    row_no += 1
    writer.link(ws, row_no, 2, labels.text("workbook.metadata"), metadata)

    row_no += 2
    header_row = row_no
    headers = [
        labels.text("report.section"),
        labels.text("workbook.sheet"),
        labels.text("workbook.table"),
        labels.text("workbook.breakdowns"),
        labels.text("report.source"),
    ]
    widths: list[list[object]] = [[h] for h in headers]
    for col, header in enumerate(headers, start=1):
        writer.put(ws, header_row, col, header, font=writer.bold)
    for section in profile.sections:
        for table in section.tables:
            row_no += 1
            sheet = sheets[table.id]
            breakdowns = ", ".join(labels.dimension(b) for b in table.breakdowns) or labels.text(
                "workbook.none"
            )
            texts = [
                section.title,
                sheet,
                labels.indicator_name(table.indicator),
                breakdowns,
                _source_text(profile, table),
            ]
            for col, value in enumerate(texts, start=1):
                if col == 2:
                    writer.link(ws, row_no, col, value, sheet)
                else:
                    writer.put(ws, row_no, col, value)
                widths[col - 1].append(value)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1).coordinate

    if profile.gaps:
        row_no += 2
        writer.put(ws, row_no, 1, labels.text("workbook.gaps"), font=writer.bold)
        titles = {s.id: s.title for s in profile.sections}
        for gap in profile.gaps:
            row_no += 1
            name = gap.indicator
            if gap.indicator in profile.catalog.indicators:
                name = labels.indicator_name(profile.catalog.indicator(gap.indicator))
            gap_row = [titles.get(gap.section, gap.section), gap.indicator, name, gap.reason]
            for col, text in enumerate(gap_row, start=1):
                writer.put(ws, row_no, col, text)

    for col, values in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = _width(values)


# --------------------------------------------------------------------------- metadata


def _metadata_rows(profile: Profile) -> list[tuple[str, str, bool]]:
    """(field, value, is a heading) rows of the metadata sheet."""
    labels = profile.labels
    spec = profile.spec
    rows: list[tuple[str, str, bool]] = [
        (labels.text("workbook.title"), profile.title, False),
        (
            labels.text("report.country"),
            f"{labels.country(profile.country)} ({profile.country})",
            False,
        ),
        (labels.text("report.reference_period"), profile.reference_period, False),
        (labels.text("report.language"), f"{labels.name} ({profile.language})", False),
        ("migprofile", profile.version, False),
        ("profile", spec.id, False),
    ]
    for note in profile.notes:
        rows.append((labels.text("report.notes"), note, False))

    rows.append((labels.text("report.sources"), "", True))
    for source_id in sorted(profile.sources):
        source = profile.sources[source_id]
        rows.append((labels.text("report.source"), f"{source.name} [{source.id}]", True))
        rows.append((labels.text("report.kind"), source.kind, False))
        rows.append((labels.text("report.reference_period"), source.reference_period, False))
        if source.provider:
            rows.append((labels.text("report.provider"), source.provider, False))
        if source.licence:
            rows.append((labels.text("report.licence"), source.licence, False))
        for file, checksum in source.files:
            rows.append((labels.text("report.file"), file, False))
            rows.append((labels.text("report.checksum"), checksum, False))
        if source.report is not None:
            for t in source.report.tables:
                rows.append(
                    (f"{labels.text('report.rows_read')} ({t.table})", str(t.rows_read), False)
                )
                rows.append(
                    (f"{labels.text('report.rows_kept')} ({t.table})", str(t.rows_kept), False)
                )
                rows.append(
                    (
                        f"{labels.text('report.rows_rejected')} ({t.table})",
                        str(t.rows_read - t.rows_kept),
                        False,
                    )
                )

    rows.append((labels.text("report.disclosure"), "", True))
    for name, value in spec.disclosure.model_dump().items():
        shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        rows.append((name, shown, False))

    rows.append((labels.text("report.parameters"), "", True))
    for name in sorted(spec.parameters):
        rows.append((name, str(spec.parameters[name]), False))

    rows.append((labels.text("report.suppressions"), "", True))
    for table in profile.tables:
        flags = [_flags(r).split() for r in table.data.to_dict("records")]
        counts = ", ".join(
            labels.text(
                "workbook.pair", label=labels.text(key), value=sum(flag in f for f in flags)
            )
            for flag, key in (
                (FLAG_SUPPRESSED, "report.primary"),
                (FLAG_SECONDARY, "report.secondary"),
                (FLAG_UNRELIABLE, "report.flagged"),
            )
        )
        rows.append((table.id, counts, False))
    return rows


def _write_metadata(writer: _Writer, ws: Any, profile: Profile, contents: str) -> None:
    labels = profile.labels
    writer.put(ws, 1, 1, labels.text("workbook.field"), font=writer.bold)
    writer.put(ws, 1, 2, labels.text("workbook.value"), font=writer.bold)
    ws.freeze_panes = "A2"
    rows = _metadata_rows(profile)
    row_no = 1
    for key, value, heading in rows:
        row_no += 1
        writer.put(ws, row_no, 1, key, font=writer.bold if heading else None)
        writer.put(ws, row_no, 2, value, font=writer.bold if heading else None)
    row_no += 2
    writer.link(ws, row_no, 1, labels.text("report.back_to_contents"), contents)
    ws.column_dimensions["A"].width = _width([labels.text("workbook.field"), *(r[0] for r in rows)])
    ws.column_dimensions["B"].width = _MAX_WIDTH + 20


# --------------------------------------------------------------------------- bytes


def _reproducible_zip(data: bytes) -> bytes:
    """The archive with fixed dates, a fixed entry order and fixed
    attributes (``[Content_Types].xml`` first, then the others by name)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {info.filename: source.read(info) for info in source.infolist()}
    order = sorted(entries, key=lambda name: (name != "[Content_Types].xml", name))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in order:
            content = entries[name]
            if name == "docProps/core.xml":
                content = _CORE_DATES.sub(rb"\g<1>" + _FIXED_W3CDTF + rb"\g<3>", content)
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0o644 << 16
            target.writestr(info, content, compresslevel=6)
    return out.getvalue()


def write_workbook(profile: Profile, path: Path) -> None:
    """Write the profile as an Excel workbook at ``path`` (see the module
    docstring). The same profile always gives the same bytes."""
    labels = profile.labels
    writer = _Writer()
    names = _SheetNames()
    contents = names.add(labels.text("workbook.contents"))
    metadata = names.add(labels.text("workbook.metadata"))
    sheets = {table.id: names.add(table.id) for table in profile.tables}

    wb = Workbook()
    ws = wb.active
    ws.title = contents
    _write_contents(writer, ws, profile, sheets, metadata)
    for table in profile.tables:
        _write_table(writer, wb.create_sheet(sheets[table.id]), profile, table, contents)
    _write_metadata(writer, wb.create_sheet(metadata), profile, contents)

    props = wb.properties
    props.creator = "migprofile"
    props.lastModifiedBy = None
    props.title = writer.text(profile.title)
    props.language = profile.language
    props.created = FIXED_DATE
    props.modified = FIXED_DATE

    buffer = io.BytesIO()
    wb.save(buffer)
    write_atomically(Path(path), _reproducible_zip(buffer.getvalue()))
