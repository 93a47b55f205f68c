"""Readers: a :class:`~migprofile.sources.files.FileSpec` in, raw tables out.

A reader turns one source file into a :class:`RawTable`: the file's columns as
they are, with where each record came from (file, record number, file line)
and notes on everything the reader normalised. Readers do not recode, rename
or convert values to their harmonised types; that is the mapping's job. They
refuse bad input with a :class:`SourceReadError` that lists every problem found
(file, line or record, column, value, what was expected), and they never
execute anything found in a file.

Type rules
==========

*Text formats read text.* Every column of a **csv** or **fixed-width** file is
read as text, pandas dtype ``"string"`` (``pd.StringDtype()``, missing =
``pd.NA``), so that codes such as ``007`` keep their zeros. Missing are the
empty cells (csv), the blank fields (fixed width: a field of spaces) and the
values listed in ``na_values``; nothing else (a cell holding one space stays
``" "`` in csv, while fixed-width fields are stripped of surrounding spaces).
Conversion to numbers (with ``decimal``) is left to the mapping.

*Binary formats keep their types.* **parquet** columns keep the file's types,
as pandas nullable dtypes where pandas has one (integers ``Int64`` & co., so
that a missing value does not turn integers into floats; ``boolean``; text
``"string"``), ``float64`` for floats (missing = NaN), ``datetime64`` for
timestamps, categoricals for dictionary columns. **stata** and **spss** columns
are what pyreadstat reads: numbers ``float64`` (Stata and SPSS store most
numbers as doubles; missing = NaN), text ``"string"`` where the empty string
(Stata's and SPSS's missing text) becomes ``pd.NA``, dates as pyreadstat
converts them. Codes are read, not labels (``apply_value_formats=False``); the
value and variable labels are returned beside the frame
(:attr:`RawTable.value_labels`, :attr:`RawTable.column_labels`). Special
missing values become NaN *with a note* counting them per column: SPSS
user-defined missing values (e.g. ``999`` declared missing) and Stata extended
missing values (``.a`` to ``.z``). ``na_values`` apply to the text columns of
these formats too, with a note.

*Excel published tables mix both.* Numbers stay numbers and text stays text:
a column whose cells are all integers is ``Int64``, all numbers ``float64``,
all text ``"string"``, all booleans ``boolean``; a mixed column is ``object``
(missing = ``pd.NA``). Text cells are stripped of surrounding spaces
(counted in a note: published tables indent names to show a hierarchy). The
conventional "not available" marks :data:`MISSING_TOKENS` and Excel error
values :data:`EXCEL_ERRORS` are read as missing, with a note counting them per
column. The letter ``x`` (confidential, in some offices) is *not* in the list,
as it is a legitimate code elsewhere: declare it in ``na_values`` where it
means missing. Footnote marks (``footnote_marks``) at the end of a text cell
are removed, with a note. Formulas are read as the values the workbook cached
when it was last calculated; a formula without a cached value (a workbook
written by a program and never recalculated) is an error rather than an
empty cell. See :func:`read_file` for the header, footnote and empty-row
rules.

*Missing values*, in short: ``pd.NA`` in ``string``, nullable integer,
``boolean`` and ``object`` columns; NaN in ``float64`` columns.

Records and lines
=================

Record numbers start at 1 with the first data record of the file and continue
across the chunks of :func:`iter_file`. For text files, the file line of a
record is ``record + line_offset`` while every record takes one line; a blank
line skipped or a quoted field spanning lines breaks that, and the table then
carries the explicit line of each row (:attr:`RawTable.lines`).
:meth:`RawTable.line_of` always gives the right line, and for Excel it gives
the worksheet row. Notes that concern the whole file come with the first chunk.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import importlib
import itertools
import math
import sys
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from migprofile.errors import MigprofileError, Problem, ProblemsError
from migprofile.sources.files import FileFormat, FileSpec

__all__ = [
    "CSV_DELIMITERS",
    "EXCEL_ERRORS",
    "FOOTNOTE_PREFIXES",
    "MAX_LISTED",
    "MISSING_TOKENS",
    "MissingExtraError",
    "RawTable",
    "SourceReadError",
    "file_checksum",
    "iter_file",
    "list_columns",
    "read_file",
]

#: Delimiters tried, in this order of preference, when a csv file does not
#: declare one: the one found most often in the header line (outside quotes)
#: wins; a header with none of them is a one-column file.
CSV_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")

#: Cells of an Excel table read as missing (after stripping spaces): the
#: "not available" marks of published tables. ``x`` is deliberately absent.
MISSING_TOKENS: tuple[str, ...] = ("..", "...", "…", "-", "–", "—")

#: Excel error values (as cached in the workbook), read as missing with a note.
EXCEL_ERRORS: tuple[str, ...] = (
    "#N/A",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
)

#: A row below an Excel table whose first non-empty cell starts with one of
#: these (case-insensitive), or with a footnote mark, and that holds no number,
#: starts the footnotes: it and every row after it are dropped (with a note).
FOOTNOTE_PREFIXES: tuple[str, ...] = ("note", "source")

#: How many problems of one kind are listed before the rest are only counted.
MAX_LISTED = 20

_BLOCK = 1 << 20  # bytes read at a time
_LOOKAHEAD = 5  # non-empty rows looked at below a candidate Excel data row
_NOTE_CELLS = 100  # cells listed one by one in a note


# --------------------------------------------------------------------------
# Results and errors
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RawTable:
    """A table as read from a source file, before any mapping.

    ``frame`` holds the source columns (types: see the module docstring) with
    a RangeIndex from 0. ``file`` is the path as given to the reader, for
    messages. ``first_record`` is the 1-based record number of row 0 (chunks
    continue the count). ``line_offset`` (text files) gives the file line of
    record ``r`` as ``r + line_offset`` while records take one line each;
    ``None`` for binary formats. ``lines``, when not ``None``, gives the file
    line (text) or worksheet row (Excel) of each row explicitly; it is set
    whenever the line does not follow from ``line_offset``. ``value_labels`` and
    ``column_labels`` are the Stata/SPSS labels of the columns read (empty for
    other formats). ``notes`` says what the reader normalised.
    """

    frame: pd.DataFrame
    file: str
    format: FileFormat
    first_record: int = 1
    line_offset: int | None = None
    value_labels: Mapping[str, Mapping[object, str]] = field(default_factory=dict)
    column_labels: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    lines: tuple[int, ...] | None = None

    def record_of(self, i: int) -> int:
        """The 1-based record number of frame row ``i``."""
        if not 0 <= i < len(self.frame):
            raise IndexError(f"row {i} is not in a table of {len(self.frame)} row(s)")
        return self.first_record + i

    def line_of(self, i: int) -> int | None:
        """The file line (text files) or worksheet row (Excel) of frame row ``i``;
        ``None`` for parquet, Stata and SPSS files."""
        record = self.record_of(i)
        if self.lines is not None:
            return self.lines[i]
        if self.line_offset is None:
            return None
        return record + self.line_offset


class SourceReadError(ProblemsError):
    """A source file cannot be read as declared; ``problems`` lists every
    problem found (file, line or record, column, value, expectation)."""

    def headline(self, files: list[str]) -> str:
        return f"{len(self.problems)} problem(s) reading {', '.join(files) or 'a source file'}"


class MissingExtraError(ImportError, MigprofileError):
    """A reader needs an optional dependency that is not installed; ``extra``
    names the extra of migprofile that brings it."""

    def __init__(self, module: str, extra: str, what: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"reading {what} needs the package {module!r}, which is not installed: "
            f'pip install "migprofile[{extra}]"',
            name=module,
        )


def _fail(file: str, code: str, message: str, **fields: Any) -> SourceReadError:
    return SourceReadError([Problem(code=code, message=message, file=file, **fields)])


def _import_extra(module: str, extra: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra, what) from exc


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------


def file_checksum(path: Path) -> str:
    """The SHA-256 checksum of a file as ``"sha256:<hex>"``, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def list_columns(spec: FileSpec, base: Path = Path(".")) -> tuple[str, ...]:
    """The column names of a file, read cheaply: the header line (csv), the
    schema (parquet), the metadata (Stata, SPSS), the layout (fixed width).
    For Excel the sheet is read to find its header (published tables are
    small)."""
    path, display, fmt = _open(spec, base)
    if fmt == "csv":
        return _csv_header(spec, path, display).names
    if fmt == "fixed_width":
        return _fw_names(spec, display)
    if fmt == "parquet":
        return tuple(_parquet_file(path, display).schema_arrow.names)
    if fmt in ("stata", "spss"):
        return tuple(_readstat_meta(fmt, path, display).column_names)
    return _excel_table(spec, path, display).names


def read_file(
    spec: FileSpec, base: Path = Path("."), columns: Sequence[str] | None = None
) -> RawTable:
    """Read a whole file (or the requested ``columns``, in that order).

    Per format:

    * **csv** -- every column as text. ``delimiter`` ``None`` means sniffed
      from the header line among :data:`CSV_DELIMITERS`. ``skip_rows`` lines
      are skipped before the header; blank lines are skipped with a note. A
      UTF-8 byte-order mark is removed. Errors: undecodable bytes (byte offset,
      line and an encoding hint), a record with more or fewer fields than the
      header, a quoted field never closed (a truncated file), a malformed
      quote, duplicate header names, an empty file. A header without records
      is a table of 0 rows. A header cell that is empty is named
      ``column_<position>`` (1-based), with a note.
    * **fixed_width** -- ``spec.columns`` gives 1-based, inclusive character
      positions (characters, not bytes, after decoding). Values are stripped
      of surrounding spaces; blank means missing. Characters outside every
      column are ignored. A line shorter than the end of the last column is an
      error (a truncated record); blank lines are skipped with a note.
    * **parquet** -- through pyarrow, only the requested columns are read.
    * **stata**, **spss** -- through pyreadstat (the ``stata`` extra): codes,
      value labels and variable labels.
    * **excel** -- through openpyxl (the ``excel`` extra), a published table
      on one sheet (``sheet``: name or 0-based index; default the first). The
      header row is ``header_row`` (1-based) or, when not given, detected: the
      *first data row* is the first non-empty row in which at least half of
      the non-empty cells (not counting "not available" marks) are numbers and
      no text cell stands above a column that holds numbers in the next
      non-empty rows (that is how a row of years under labels such as
      "Location code" is told from data); the header is the non-empty row just
      above it. A header whose labels are *all* numbers over numeric columns
      cannot be told from data: give ``header_row``. When the row just above
      the header holds labels merged across several columns (such as "both
      sexes" over a row of years), each column is named ``"<upper> <lower>"``,
      unless such a merged label also covers the first column of the table (a
      title, not a group label); unmerged group labels are not recognised. A
      column with data and no header is named ``column_<letter>``; empty
      columns and empty rows are dropped, and a footnote block below the table
      (see :data:`FOOTNOTE_PREFIXES`) is dropped, each with a note listing
      the rows. Duplicate column names are an error.

    Requested columns missing from the file are an error that lists them, the
    available columns and a close match.
    """
    path, display, fmt = _open(spec, base)
    wanted = _unique(columns)
    if fmt == "csv":
        return _single(_csv_tables(spec, path, display, wanted, sys.maxsize))
    if fmt == "fixed_width":
        return _single(_fw_tables(spec, path, display, wanted, sys.maxsize))
    if fmt == "parquet":
        return _parquet_read(spec, path, display, wanted)
    if fmt in ("stata", "spss"):
        return _readstat_read(spec, fmt, path, display, wanted)
    return _excel_read(spec, path, display, wanted)


def iter_file(
    spec: FileSpec,
    base: Path = Path("."),
    columns: Sequence[str] | None = None,
    chunksize: int = 100_000,
) -> Iterator[RawTable]:
    """Read a file in chunks of at most ``chunksize`` records.

    Chunks continue the record count (``first_record``) and carry their own
    lines; at least one chunk is yielded (an empty one for a file without
    records), and notes about the whole file come with the first chunk.

    Text files are checked for undecodable bytes over the whole file (in
    blocks) before the first chunk is yielded. A record with the wrong number
    of fields stops the reading: the rest of the file is scanned for further
    problems, and one :class:`SourceReadError` lists them all; chunks before
    the first bad record have been yielded by then. Parquet files are read by
    record batches and Stata/SPSS files by pyreadstat chunks, never whole.
    Excel sheets are read whole (published tables are small) and cut into
    chunks.
    """
    if chunksize < 1:
        raise ValueError(f"chunksize must be at least 1, not {chunksize}")
    path, display, fmt = _open(spec, base)
    wanted = _unique(columns)
    if fmt == "csv":
        _check_encoding(path, display, _codec(spec, display))
        yield from _csv_tables(spec, path, display, wanted, chunksize)
    elif fmt == "fixed_width":
        _check_encoding(path, display, _codec(spec, display))
        yield from _fw_tables(spec, path, display, wanted, chunksize)
    elif fmt == "parquet":
        yield from _parquet_iter(spec, path, display, wanted, chunksize)
    elif fmt in ("stata", "spss"):
        yield from _readstat_iter(spec, fmt, path, display, wanted, chunksize)
    else:
        whole = _excel_read(spec, path, display, wanted)
        yield from _slices(whole, chunksize)


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def _open(spec: FileSpec, base: Path) -> tuple[Path, str, FileFormat]:
    path = spec.resolve(base)
    display = str(path)
    fmt = spec.resolved_format()
    if fmt is None:  # pragma: no cover - FileSpec refuses it
        raise _fail(display, "unknown_format", "cannot tell the format of the file")
    if not path.exists():
        raise _fail(display, "file_not_found", "no such file")
    if not path.is_file():
        raise _fail(display, "not_a_file", "not a regular file")
    return path, display, fmt


def _unique(columns: Sequence[str] | None) -> tuple[str, ...] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        raise TypeError("columns is a sequence of column names, not one string")
    return tuple(dict.fromkeys(columns))


def _single(tables: Iterator[RawTable]) -> RawTable:
    return next(tables)


def _check_columns(
    wanted: Sequence[str] | None, available: Sequence[str], display: str
) -> tuple[str, ...]:
    """The columns to read, in order; an error listing every missing one."""
    if wanted is None:
        return tuple(available)
    present = set(available)
    problems = []
    for name in wanted:
        if name in present:
            continue
        close = difflib.get_close_matches(name, list(available), n=1)
        folded = [a for a in available if a.casefold() == name.casefold()]
        hint = folded or close
        message = f"column {name!r} is not in the file"
        if hint:
            message += f"; did you mean {hint[0]!r}?"
        problems.append(
            Problem(
                code="missing_column",
                message=message,
                file=display,
                field=name,
                value=name,
                expected=f"one of the file's columns: {', '.join(map(repr, available))}",
            )
        )
    if problems:
        raise SourceReadError(problems)
    return tuple(wanted)


def _slices(table: RawTable, chunksize: int) -> Iterator[RawTable]:
    n = len(table.frame)
    for start in range(0, max(n, 1), chunksize):
        part = table.frame.iloc[start : start + chunksize].reset_index(drop=True)
        yield RawTable(
            frame=part,
            file=table.file,
            format=table.format,
            first_record=table.first_record + start,
            line_offset=table.line_offset,
            value_labels=table.value_labels,
            column_labels=table.column_labels,
            notes=table.notes if start == 0 else (),
            lines=None if table.lines is None else table.lines[start : start + chunksize],
        )


def _excerpt(text: str, width: int = 80) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def _ranges(numbers: Sequence[int]) -> str:
    """``1, 2, 3, 7`` as ``"1-3, 7"``."""
    parts: list[str] = []
    for _, group in itertools.groupby(enumerate(numbers), lambda p: p[1] - p[0]):
        run = [n for _, n in group]
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


def _line_layout(
    lines: Sequence[int], first_record: int, default_offset: int
) -> tuple[int, tuple[int, ...] | None]:
    """``line_offset`` and, when records do not take one line each, ``lines``."""
    if not lines:
        return default_offset, None
    offset = lines[0] - first_record
    regular = all(line == first_record + i + offset for i, line in enumerate(lines))
    return offset, None if regular else tuple(lines)


class _TextRows:
    """The records of a chunk of a text file, gathered into Arrow string arrays
    every few thousand records (so that few Python lists stay alive).
    ``picks`` are (column name, field index) pairs."""

    _BATCH = 8192

    def __init__(self, picks: Sequence[tuple[str, int]], na: frozenset[str]) -> None:
        self.picks = tuple(picks)
        self.missing = pa.array(sorted(na), type=pa.string())
        self.pending: list[Sequence[str]] = []
        self.tables: list[Any] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, row: Sequence[str]) -> None:
        self.pending.append(row)
        self.count += 1
        if len(self.pending) >= self._BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        null = pa.scalar(None, type=pa.string())
        arrays = {}
        for name, j in self.picks:
            column = pa.array([row[j] for row in self.pending], type=pa.string())
            arrays[name] = pc.if_else(pc.is_in(column, value_set=self.missing), null, column)
        self.tables.append(pa.table(arrays))
        self.pending = []

    def frame(self) -> pd.DataFrame:
        """The records as a frame of ``"string"`` columns, missing = ``pd.NA``."""
        if not self.picks:
            return pd.DataFrame(index=pd.RangeIndex(self.count))
        self._flush()
        if self.tables:
            table = pa.concat_tables(self.tables)
        else:
            table = pa.table({name: pa.array([], type=pa.string()) for name, _ in self.picks})
        frame: pd.DataFrame = table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
        return frame


# --------------------------------------------------------------------------
# Text decoding
# --------------------------------------------------------------------------


def _codec(spec: FileSpec, display: str) -> str:
    try:
        return codecs.lookup(spec.encoding).name
    except LookupError:
        raise _fail(
            display,
            "unknown_encoding",
            "unknown encoding",
            field="encoding",
            value=spec.encoding,
            expected="a Python codec name such as utf-8, latin-1, cp1252",
        ) from None


def _buffered(decoder: codecs.IncrementalDecoder) -> int:
    state = decoder.getstate()
    pending = state[0] if isinstance(state, tuple) and state else b""
    return len(pending) if isinstance(pending, bytes) else 0


def _check_encoding(path: Path, display: str, codec: str) -> None:
    """Decode the whole file in blocks; raise on the first undecodable byte."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    position = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            held = _buffered(decoder)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                offset = position - held + exc.start
                raise _encoding_error(path, display, codec, offset, exc.end - exc.start) from None
            position += len(block)
            if not block:
                return


def _decoded_lines(path: Path, display: str, codec: str) -> Generator[str, None, None]:
    """The lines of a text file, ``"\\n"`` kept, a UTF-8 byte-order mark removed."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    position = 0
    pending = ""
    first = True
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            held = _buffered(decoder)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                offset = position - held + exc.start
                raise _encoding_error(path, display, codec, offset, exc.end - exc.start) from None
            position += len(block)
            if first and text:
                first = False
                if codec == "utf-8" and text.startswith("\ufeff"):
                    text = text[1:]
            parts = (pending + text).split("\n")
            pending = parts.pop()
            for part in parts:
                yield part + "\n"
            if not block:
                break
    if pending:
        yield pending


def _encoding_error(
    path: Path, display: str, codec: str, offset: int, length: int
) -> SourceReadError:
    """Name the byte offset, line and bytes of an undecodable byte, with a hint."""
    newlines = 0
    line_start = 0
    position = 0
    with open(path, "rb") as fh:
        while position < offset:
            block = fh.read(min(_BLOCK, offset - position))
            if not block:
                break
            newlines += block.count(b"\n")
            last = block.rfind(b"\n")
            if last >= 0:
                line_start = position + last + 1
            position += len(block)
        fh.seek(line_start)
        raw = fh.read(offset - line_start + 200)
    line_bytes = raw.split(b"\n", 1)[0].rstrip(b"\r")
    bad = raw[offset - line_start : offset - line_start + max(1, min(length, 4))]
    shown = " ".join(f"0x{b:02x}" for b in bad)
    as_read = line_bytes.decode(codec, errors="backslashreplace")
    message = (
        f"cannot decode byte(s) {shown} at byte offset {offset} "
        f"(line {newlines + 1}, byte {offset - line_start + 1} of the line) as {codec}; "
        f"the line reads {_excerpt(as_read, 100)!r}"
    )
    if codec != "cp1252":
        try:
            guess = line_bytes.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            message += f"; as cp1252 it would read {_excerpt(guess, 100)!r}"
    return _fail(
        display,
        "encoding",
        message,
        line=newlines + 1,
        field="encoding",
        value=shown,
        expected=(
            f"text encoded in {codec}; if the file uses another encoding, declare it in "
            "the mapping, e.g. 'encoding: latin-1' or 'encoding: cp1252' (Western "
            "European), 'encoding: cp1251' (Cyrillic), 'encoding: utf-16'"
        ),
    )


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvHeader:
    names: tuple[str, ...]
    delimiter: str
    header_line: int  # file line where the header starts
    text: str  # the header line
    notes: tuple[str, ...]


def _sniff(line: str) -> str:
    counts = dict.fromkeys(CSV_DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])  # first of the ties
    return best if counts[best] else ","


def _first_lines(spec: FileSpec, display: str, lines: Iterator[str]) -> tuple[str, int, list[str]]:
    """Skip ``skip_rows`` and leading blank lines; the header line, its number, notes."""
    number = 0
    seen_text = False
    for number in range(1, spec.skip_rows + 1):
        line = next(lines, None)
        if line is None:
            if not seen_text:
                raise _fail(display, "empty_file", "file is empty")
            raise _fail(
                display,
                "no_header",
                f"the file has only {number - 1} line(s); nothing is left after "
                f"skipping {spec.skip_rows}",
                field="skip_rows",
                value=str(spec.skip_rows),
            )
        seen_text = seen_text or bool(line.strip())
    blank: list[int] = []
    for line in lines:
        number += 1
        if line.strip():
            notes = [f"blank line(s) before the header skipped: {_ranges(blank)}"] if blank else []
            return line, number, notes
        blank.append(number)
    if not seen_text:
        raise _fail(display, "empty_file", "file is empty", expected="a header line")
    raise _fail(
        display,
        "no_header",
        f"no header line after skipping {spec.skip_rows} line(s)",
        field="skip_rows",
        value=str(spec.skip_rows),
    )


def _header_names(raw: Sequence[str], display: str, line: int) -> tuple[tuple[str, ...], list[str]]:
    names: list[str] = []
    notes: list[str] = []
    stripped = 0
    for position, cell in enumerate(raw, start=1):
        name = cell.strip()
        if name != cell:
            stripped += 1
        if not name:
            name = f"column_{position}"
            notes.append(f"header cell {position} is empty: the column is named {name!r}")
        names.append(name)
    if stripped:
        notes.append(f"spaces around {stripped} header name(s) removed")
    _check_duplicates(names, display, line, [str(i) for i in range(1, len(names) + 1)])
    return tuple(names), notes


def _check_duplicates(
    names: Sequence[str], display: str, line: int | None, where: Sequence[str]
) -> None:
    positions: dict[str, list[str]] = {}
    for name, pos in zip(names, where, strict=True):
        positions.setdefault(name, []).append(pos)
    problems = [
        Problem(
            code="duplicate_column",
            message=f"column name {name!r} appears {len(pos)} times (columns {', '.join(pos)})",
            file=display,
            line=line,
            field=name,
            value=name,
            expected="unique column names",
        )
        for name, pos in positions.items()
        if len(pos) > 1
    ]
    if problems:
        raise SourceReadError(problems)


def _csv_header(spec: FileSpec, path: Path, display: str) -> _CsvHeader:
    codec = _codec(spec, display)
    lines = _decoded_lines(path, display, codec)
    try:
        text, number, notes = _first_lines(spec, display, lines)
        delimiter = spec.delimiter or _sniff(text)
        if spec.delimiter is None:
            notes.append(f"delimiter {delimiter!r} detected from the header line")
        reader = csv.reader(itertools.chain([text], lines), delimiter=delimiter, strict=True)
        try:
            raw = next(reader)
        except csv.Error as exc:
            raise _fail(
                display, "malformed_record", f"cannot read the header: {exc}", line=number
            ) from None
    finally:
        lines.close()
    names, more = _header_names(raw, display, number)
    return _CsvHeader(names, delimiter, number, text, tuple(notes + more))


def _quote_start(path: Path, display: str, codec: str, start: int) -> int:
    """The line where the unclosed quoted field of the record at ``start`` opens."""
    opened = start
    previous_open = start
    quoted = False
    last_was_quote = False
    lines = _decoded_lines(path, display, codec)
    for number, line in enumerate(lines, start=1):
        if number < start:
            continue
        for ch in line:
            if ch == '"':
                quoted = not quoted
                if quoted:
                    if last_was_quote:  # a doubled quote inside a quoted field
                        opened = previous_open
                    else:
                        previous_open, opened = opened, number
                last_was_quote = True
            else:
                last_was_quote = False
    return opened


def _csv_tables(
    spec: FileSpec,
    path: Path,
    display: str,
    wanted: Sequence[str] | None,
    chunksize: int,
) -> Iterator[RawTable]:
    codec = _codec(spec, display)
    head = _csv_header(spec, path, display)
    names = head.names
    selected = _check_columns(wanted, names, display)
    index = {name: i for i, name in enumerate(names)}
    picks = [(name, index[name]) for name in selected]
    na = frozenset({"", *spec.na_values})
    ncols = len(names)

    lines = _decoded_lines(path, display, codec)
    for _ in range(head.header_line):
        next(lines)
    reader = csv.reader(itertools.chain([head.text], lines), delimiter=head.delimiter, strict=True)
    base = head.header_line - 1  # file line = base + reader.line_num
    problems: list[Problem] = []
    unlisted = 0
    rows = _TextRows(picks, na)
    row_lines: list[int] = []
    blank: list[int] = []
    notes: list[str] = list(head.notes)
    record = 0
    first_record = 1
    yielded = False

    def chunk() -> RawTable:
        frame = rows.frame()
        if blank:
            notes.append(f"blank line(s) skipped: {_ranges(blank)}")
        offset, explicit = _line_layout(row_lines, first_record, base + 1)
        return RawTable(
            frame=frame,
            file=display,
            format="csv",
            first_record=first_record,
            line_offset=offset,
            notes=tuple(notes),
            lines=explicit,
        )

    def problem(
        code: str, message: str, line: int, value: str | None, expected: str | None
    ) -> None:
        nonlocal unlisted
        if len(problems) >= MAX_LISTED:
            unlisted += 1
            return
        problems.append(
            Problem(
                code=code,
                message=message,
                file=display,
                line=line,
                value=value,
                expected=expected,
            )
        )

    try:
        next(reader)  # the header, already parsed
        before = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                start = base + before + 1
                if "unexpected end of data" in str(exc):
                    opened = _quote_start(path, display, codec, start)
                    problem(
                        "unterminated_quote",
                        f"a quoted field opened on line {opened} is never closed: the file "
                        f"ends inside it (truncated file?); the record starts on line {start}",
                        opened,
                        '"',
                        'a closing quote (")',
                    )
                    break
                line = base + reader.line_num
                problem("malformed_record", f"malformed record: {exc}", line, None, None)
                before = reader.line_num
                continue
            start = base + before + 1
            before = reader.line_num
            if not row:
                blank.append(start)
                continue
            if len(row) != ncols:
                more = len(row) > ncols
                problem(
                    "too_many_fields" if more else "too_few_fields",
                    f"the record has {len(row)} field(s), the header has {ncols}"
                    + ("" if more else " (a truncated record?)"),
                    start,
                    _excerpt(head.delimiter.join(row)),
                    f"{ncols} fields separated by {head.delimiter!r}",
                )
                continue
            if problems:
                continue  # only scanning for further problems now
            record += 1
            rows.append(row)
            row_lines.append(start)
            if len(rows) == chunksize:
                yield chunk()
                yielded = True
                first_record = record + 1
                rows, row_lines, blank, notes = _TextRows(picks, na), [], [], []
    except SourceReadError as exc:  # an undecodable byte further down
        raise SourceReadError([*problems, *exc.problems]) from None
    finally:
        lines.close()
    if problems:
        if unlisted:
            problems.append(
                Problem(
                    code="more_problems",
                    message=f"{unlisted} more record(s) with problems, not listed",
                    file=display,
                )
            )
        raise SourceReadError(problems)
    if len(rows) or not yielded or blank:
        yield chunk()


# --------------------------------------------------------------------------
# Fixed width
# --------------------------------------------------------------------------


def _fw_names(spec: FileSpec, display: str) -> tuple[str, ...]:
    names = tuple(c.name for c in spec.columns)
    _check_duplicates(names, display, None, [f"{c.start}-{c.end}" for c in spec.columns])
    return names


def _fw_tables(
    spec: FileSpec,
    path: Path,
    display: str,
    wanted: Sequence[str] | None,
    chunksize: int,
) -> Iterator[RawTable]:
    codec = _codec(spec, display)
    names = _fw_names(spec, display)
    selected = _check_columns(wanted, names, display)
    by_name = {c.name: c for c in spec.columns}
    slices = [(name, by_name[name].start - 1, by_name[name].end) for name in selected]
    picks = [(name, j) for j, name in enumerate(selected)]
    width = max(c.end for c in spec.columns)
    na = frozenset({"", *spec.na_values})

    problems: list[Problem] = []
    unlisted = 0
    rows = _TextRows(picks, na)
    row_lines: list[int] = []
    blank: list[int] = []
    notes: list[str] = []
    record = 0
    first_record = 1
    yielded = False
    seen_text = False

    def chunk() -> RawTable:
        if blank:
            notes.append(f"blank line(s) skipped: {_ranges(blank)}")
        offset, explicit = _line_layout(row_lines, first_record, spec.skip_rows)
        return RawTable(
            frame=rows.frame(),
            file=display,
            format="fixed_width",
            first_record=first_record,
            line_offset=offset,
            notes=tuple(notes),
            lines=explicit,
        )

    lines = _decoded_lines(path, display, codec)
    try:
        for number, raw in enumerate(lines, start=1):
            if number <= spec.skip_rows:
                seen_text = seen_text or bool(raw.strip())
                continue
            line = raw.rstrip("\r\n")
            if not line.strip():
                blank.append(number)
                continue
            seen_text = True
            if len(line) < width:
                if len(problems) < MAX_LISTED:
                    problems.append(
                        Problem(
                            code="short_line",
                            message=(
                                f"the line has {len(line)} character(s), the layout needs "
                                f"{width} (a truncated record?)"
                            ),
                            file=display,
                            line=number,
                            value=_excerpt(line),
                            expected=f"at least {width} characters (the last column ends "
                            f"at position {width})",
                        )
                    )
                else:
                    unlisted += 1
                continue
            if problems:
                continue
            record += 1
            rows.append([line[a:b].strip() for _, a, b in slices])
            row_lines.append(number)
            if len(rows) == chunksize:
                yield chunk()
                yielded = True
                first_record = record + 1
                rows, row_lines, blank, notes = _TextRows(picks, na), [], [], []
    except SourceReadError as exc:
        raise SourceReadError([*problems, *exc.problems]) from None
    finally:
        lines.close()
    if not seen_text and not problems:
        raise _fail(display, "empty_file", "file is empty", expected="fixed-width records")
    if problems:
        if unlisted:
            problems.append(
                Problem(
                    code="more_problems",
                    message=f"{unlisted} more short line(s), not listed",
                    file=display,
                )
            )
        raise SourceReadError(problems)
    if len(rows) or not yielded or blank:
        yield chunk()


# --------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------

_ARROW_TO_PANDAS: dict[pa.DataType, Any] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def _corrupt(display: str, what: str, exc: BaseException) -> SourceReadError:
    return _fail(
        display,
        "corrupt_file",
        f"cannot read the file as {what} (truncated or corrupt?): {exc}",
        expected=f"a complete {what} file",
    )


def _parquet_file(path: Path, display: str) -> pq.ParquetFile:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _corrupt(display, "parquet", exc) from None
    names = pf.schema_arrow.names
    _check_duplicates(names, display, None, [str(i) for i in range(1, len(names) + 1)])
    return pf


def _arrow_frame(table: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
    return frame.reset_index(drop=True)


def _native_text_na(frame: pd.DataFrame, na_values: Sequence[str]) -> list[str]:
    """Apply ``na_values`` to the text columns of a native-typed frame."""
    notes: list[str] = []
    if not na_values:
        return notes
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.StringDtype):
            mask = column.isin(list(na_values))
            if mask.any():
                frame[name] = column.mask(mask)
                notes.append(
                    f"column {name!r}: {int(mask.sum())} cell(s) listed in na_values read "
                    "as missing"
                )
    return notes


def _parquet_read(
    spec: FileSpec, path: Path, display: str, wanted: Sequence[str] | None
) -> RawTable:
    pf = _parquet_file(path, display)
    selected = _check_columns(wanted, pf.schema_arrow.names, display)
    try:
        frame = _arrow_frame(pf.read(columns=list(selected)))
    except (pa.ArrowException, OSError) as exc:
        raise _corrupt(display, "parquet", exc) from None
    notes = _native_text_na(frame, spec.na_values)
    return RawTable(frame=frame, file=display, format="parquet", notes=tuple(notes))


def _parquet_iter(
    spec: FileSpec, path: Path, display: str, wanted: Sequence[str] | None, chunksize: int
) -> Iterator[RawTable]:
    pf = _parquet_file(path, display)
    selected = _check_columns(wanted, pf.schema_arrow.names, display)
    first = 1
    batches = pf.iter_batches(batch_size=chunksize, columns=list(selected))
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            raise _corrupt(display, "parquet", exc) from None
        if batch is None:
            break
        if batch.num_rows == 0:
            continue
        frame = _arrow_frame(batch)
        notes = _native_text_na(frame, spec.na_values)
        yield RawTable(
            frame=frame, file=display, format="parquet", first_record=first, notes=tuple(notes)
        )
        first += len(frame)
    if first == 1:
        try:
            empty = pf.schema_arrow.empty_table().select(list(selected))
        except (pa.ArrowException, OSError) as exc:  # pragma: no cover
            raise _corrupt(display, "parquet", exc) from None
        yield RawTable(frame=_arrow_frame(empty), file=display, format="parquet")


# --------------------------------------------------------------------------
# Stata and SPSS
# --------------------------------------------------------------------------

_READSTAT = {"stata": ("read_dta", "Stata"), "spss": ("read_sav", "SPSS")}


def _readstat(fmt: str) -> tuple[ModuleType, Any, str]:
    module = _import_extra("pyreadstat", "stata", "Stata and SPSS files")
    function, what = _READSTAT[fmt]
    return module, getattr(module, function), what


def _readstat_errors(module: ModuleType) -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, UnicodeError]
    for name in ("ReadstatError", "PyreadstatError"):
        kind = getattr(module, name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            errors.append(kind)
    return tuple(errors)


def _readstat_meta(fmt: str, path: Path, display: str) -> Any:
    module, reader, what = _readstat(fmt)
    try:
        _, meta = reader(str(path), metadataonly=True)
    except _readstat_errors(module) as exc:
        raise _corrupt(display, what, exc) from None
    return meta


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _counts(values: Iterable[object], prefix: str = "") -> str:
    counted = Counter(values)
    return ", ".join(f"{prefix}{_number(v)} ×{n}" for v, n in sorted(counted.items(), key=str))


def _readstat_finish(
    frame: pd.DataFrame, meta: Any, fmt: str, selected: Sequence[str], na_values: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Special missing values to NaN (noted), text to ``"string"``, column order."""
    notes: list[str] = []
    frame = frame.reset_index(drop=True)
    kinds: Mapping[str, str] = getattr(meta, "readstat_variable_types", {}) or {}
    if fmt == "spss":
        ranges: Mapping[str, Sequence[Mapping[str, Any]]] = meta.missing_ranges or {}
        for name, declared in ranges.items():
            if name not in frame.columns:
                continue
            column = frame[name]
            mask = pd.Series(False, index=frame.index)
            for r in declared:
                lo, hi = r["lo"], r["hi"]
                if isinstance(lo, str) or isinstance(hi, str):
                    mask |= column.astype("string").isin([lo, hi]).fillna(False).astype(bool)
                else:
                    mask |= ((column >= lo) & (column <= hi)).fillna(False).astype(bool)
            if mask.any():
                found = column[mask].tolist()
                frame[name] = column.mask(mask)
                notes.append(
                    f"column {name!r}: {len(found)} user-defined missing value(s) read as "
                    f"missing ({_counts(found)})"
                )
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and kinds.get(name, "string") != "string":
            letters = [v for v in column if isinstance(v, str)]
            if letters:
                notes.append(
                    f"column {name!r}: {len(letters)} Stata extended missing value(s) read as "
                    f"missing ({_counts(letters, prefix='.')})"
                )
            frame[name] = pd.to_numeric(
                column.map(lambda v: math.nan if isinstance(v, str) else v), errors="raise"
            )
        elif kinds.get(name) == "string" or pd.api.types.is_string_dtype(column.dtype):
            text = column.astype("string")
            frame[name] = text.mask(text == "")
    notes += _native_text_na(frame, na_values)
    return frame[list(selected)], notes


def _readstat_labels(
    meta: Any, selected: Sequence[str]
) -> tuple[dict[str, dict[object, str]], dict[str, str]]:
    values = {
        name: dict(labels)
        for name, labels in (meta.variable_value_labels or {}).items()
        if name in selected
    }
    columns = {
        name: label
        for name, label in (meta.column_names_to_labels or {}).items()
        if label and name in selected
    }
    return values, columns


def _readstat_read(
    spec: FileSpec, fmt: FileFormat, path: Path, display: str, wanted: Sequence[str] | None
) -> RawTable:
    return next(_readstat_iter(spec, fmt, path, display, wanted, None))


def _readstat_iter(
    spec: FileSpec,
    fmt: FileFormat,
    path: Path,
    display: str,
    wanted: Sequence[str] | None,
    chunksize: int | None,
) -> Iterator[RawTable]:
    module, reader, what = _readstat(fmt)
    errors = _readstat_errors(module)
    meta = _readstat_meta(fmt, path, display)
    selected = _check_columns(wanted, list(meta.column_names), display)
    values, labels = _readstat_labels(meta, selected)
    options: dict[str, Any] = {
        "usecols": list(selected),
        "apply_value_formats": False,
        "user_missing": True,
    }

    def produce() -> Iterator[tuple[pd.DataFrame, Any]]:
        if chunksize is None or not meta.number_rows:
            yield reader(str(path), **options)
        else:
            yield from module.read_file_in_chunks(reader, str(path), chunksize=chunksize, **options)

    chunks = produce()
    first = 1
    while True:
        try:
            item = next(chunks, None)
        except errors as exc:
            raise _corrupt(display, what, exc) from None
        if item is None:
            break
        frame, chunk_meta = item
        frame, notes = _readstat_finish(frame, chunk_meta, fmt, selected, spec.na_values)
        yield RawTable(
            frame=frame,
            file=display,
            format=fmt,
            first_record=first,
            value_labels=values,
            column_labels=labels,
            notes=tuple(notes),
        )
        first += len(frame)
    if first == 1 and chunksize is not None and meta.number_rows:  # pragma: no cover
        raise _fail(display, "corrupt_file", f"no records could be read from the {what} file")


# --------------------------------------------------------------------------
# Excel
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sheet:
    """The cells of one worksheet: ``grid[r][c]`` is row r+1, column c+1."""

    name: str
    grid: list[list[object]]
    merged: list[tuple[int, int, int, int]]  # 1-based min_row, min_col, max_row, max_col
    uncomputed: list[tuple[int, int, str]]  # 0-based row, column: formulas without a value


@dataclass(frozen=True)
class _ExcelTable:
    names: tuple[str, ...]
    columns: tuple[int, ...]  # 0-based sheet column of each name
    body: list[list[object]]  # kept rows, all sheet columns
    rows: tuple[int, ...]  # 1-based sheet row of each body row
    notes: tuple[str, ...]


def _letter(col: int) -> str:
    """Excel column letters of a 0-based column index."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _load_sheet(spec: FileSpec, path: Path, display: str) -> _Sheet:
    openpyxl = _import_extra("openpyxl", "excel", "Excel workbooks")
    try:
        # data_only: the values cached by Excel, never the formulas
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise _corrupt(display, "Excel workbook (.xlsx)", exc) from None
    try:
        names: list[str] = [str(w.title) for w in book.worksheets]
        sheet = spec.sheet
        if sheet is None:
            ws = book.worksheets[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(book.worksheets):
                raise _fail(
                    display,
                    "sheet_not_found",
                    f"the workbook has no sheet number {sheet} (0-based)",
                    field="sheet",
                    value=str(sheet),
                    expected=f"0 to {len(book.worksheets) - 1}: {', '.join(map(repr, names))}",
                )
            ws = book.worksheets[sheet]
        else:
            if sheet not in names:
                close = difflib.get_close_matches(sheet, names, n=1)
                raise _fail(
                    display,
                    "sheet_not_found",
                    "the workbook has no sheet of that name"
                    + (f"; did you mean {close[0]!r}?" if close else ""),
                    field="sheet",
                    value=sheet,
                    expected=f"one of {', '.join(map(repr, names))}",
                )
            ws = book[sheet]
        width = ws.max_column or 0
        grid = [list(row) + [None] * (width - len(row)) for row in ws.iter_rows(values_only=True)]
        merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
        title = str(ws.title)
    finally:
        book.close()
    return _Sheet(title, grid, merged, _uncomputed(openpyxl, path, title, grid))


def _uncomputed(
    openpyxl: ModuleType, path: Path, title: str, grid: list[list[object]]
) -> list[tuple[int, int, str]]:
    """Cells holding a formula for which the workbook has no cached value (a
    workbook written by a program and never recalculated): read with
    ``data_only`` they would look empty."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = []
        for r, row in enumerate(book[title].iter_rows(values_only=True)):
            for c, value in enumerate(row):
                if (
                    isinstance(value, str)
                    and value.startswith("=")
                    and (r >= len(grid) or c >= len(grid[r]) or grid[r][c] is None)
                ):
                    found.append((r, c, value))
        return found
    finally:
        book.close()


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _missing_tokens(spec: FileSpec) -> frozenset[str]:
    return frozenset({*MISSING_TOKENS, *EXCEL_ERRORS, *spec.na_values})


def _values(row: Sequence[object], tokens: frozenset[str]) -> list[tuple[int, object]]:
    """The non-empty cells of a row that are not "not available" marks."""
    return [
        (c, v)
        for c, v in enumerate(row)
        if not _blank(v) and not (isinstance(v, str) and v.strip() in tokens)
    ]


def _numeric_column(
    grid: list[list[object]], rows: Sequence[int], col: int, tokens: frozenset[str]
) -> bool:
    cells = [
        v
        for r in rows
        if col < len(grid[r])
        and not _blank(v := grid[r][col])
        and not (isinstance(v, str) and v.strip() in tokens)
    ]
    return bool(cells) and 2 * sum(map(_is_number, cells)) > len(cells)


def _detect_header(sheet: _Sheet, tokens: frozenset[str], display: str) -> int:
    """The 0-based index of the header row (see :func:`read_file` for the rule)."""
    filled = [r for r, row in enumerate(sheet.grid) if any(not _blank(v) for v in row)]
    for k, r in enumerate(filled):
        cells = _values(sheet.grid[r], tokens)
        numbers = sum(_is_number(v) for _, v in cells)
        if not numbers or 2 * numbers < len(cells):
            continue
        below = filled[k + 1 : k + 1 + _LOOKAHEAD]
        if any(_is_text(v) and _numeric_column(sheet.grid, below, c, tokens) for c, v in cells):
            continue  # labels above numbers: a header row such as a row of years
        if k == 0:
            break
        return filled[k - 1]
    raise _fail(
        display,
        "no_header",
        f"cannot find the header row of sheet {sheet.name!r}: no row of mostly numbers "
        "below a header row",
        field="header_row",
        expected="'header_row' (1-based row number of the header) in the mapping",
    )


def _label(value: object) -> str:
    """A header cell as a column name: spaces collapsed, numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return " ".join(str(value).split())


def _strip_marks(text: str, marks: str) -> tuple[str, str]:
    """``text`` without trailing footnote marks, and the marks removed."""
    if not marks:
        return text, ""
    kept = text.rstrip(marks)
    if not kept or kept == text:
        return text, ""
    return kept.rstrip(), text[len(kept) :].strip()


def _header(
    sheet: _Sheet, h: int, used: Sequence[int], spec: FileSpec, display: str
) -> tuple[dict[int, str], list[str]]:
    """Column names for the columns ``used`` (0-based), from header row ``h``."""
    notes: list[str] = []
    grid = sheet.grid
    row_no = h + 1  # 1-based
    # a header cell covered by a merge that starts above takes the merge's label
    lower: dict[int, str] = {}
    for c in used:
        value = grid[h][c] if c < len(grid[h]) else None
        if _blank(value):
            for r1, c1, r2, c2 in sheet.merged:
                if r1 < row_no <= r2 and c1 == c2 == c + 1:
                    value = grid[r1 - 1][c1 - 1]
        lower[c] = _label(value)
    # labels merged across columns just above the header: group labels
    groups = [
        (c1 - 1, c2 - 1, r1, _label(grid[r1 - 1][c1 - 1]))
        for r1, c1, r2, c2 in sheet.merged
        if r2 == row_no - 1 and c2 > c1 and not _blank(grid[r1 - 1][c1 - 1])
    ]
    upper: dict[int, str] = {}
    if groups and used and not any(a <= used[0] <= b for a, b, _, _ in groups):
        for a, b, _, text in groups:
            for c in range(a, b + 1):
                upper[c] = text
        described = "; ".join(
            f"{_letter(a)}{r}:{_letter(b)}{row_no - 1} {t!r}" for a, b, r, t in sorted(groups)
        )
        notes.append(
            f"header of two rows: the labels merged across columns just above row {row_no} "
            f"({described}) are combined with row {row_no} as '<upper> <lower>'"
        )
    names: dict[int, str] = {}
    marked: list[str] = []
    unnamed: list[str] = []
    for c in used:
        name = " ".join(p for p in (upper.get(c, ""), lower[c]) if p)
        clean, mark = _strip_marks(name, spec.footnote_marks)
        if mark:
            marked.append(f"{name!r}")
            name = clean
        if not name:
            name = f"column_{_letter(c)}"
            unnamed.append(_letter(c))
        names[c] = name
    if marked:
        notes.append(f"footnote marks removed from header name(s) {', '.join(marked)}")
    if unnamed:
        notes.append(
            f"column(s) {', '.join(unnamed)} hold data but have no header: named "
            f"{', '.join(repr(f'column_{u}') for u in unnamed)}"
        )
    _check_duplicates([names[c] for c in used], display, row_no, [_letter(c) for c in used])
    return names, notes


def _refuse_uncomputed(sheet: _Sheet, h: int, used: Sequence[int], display: str) -> None:
    columns = set(used)
    cells = [(r, c, f) for r, c, f in sheet.uncomputed if r >= h and c in columns]
    if not cells:
        return
    problems = [
        Problem(
            code="uncomputed_formula",
            message=(
                f"cell {_letter(c)}{r + 1} of sheet {sheet.name!r} holds a formula without "
                "a computed value (the workbook was written by a program and never "
                "recalculated); it would read as empty"
            ),
            file=display,
            line=r + 1,
            value=formula,
            expected="values, or a workbook recalculated and saved by a spreadsheet program",
        )
        for r, c, formula in cells[:MAX_LISTED]
    ]
    if len(cells) > MAX_LISTED:
        problems.append(
            Problem(
                code="more_problems",
                message=f"{len(cells) - MAX_LISTED} more such cell(s), not listed",
                file=display,
            )
        )
    raise SourceReadError(problems)


def _is_footnote(row: Sequence[object], marks: str) -> bool:
    cells = [v for v in row if not _blank(v)]
    if not cells or any(_is_number(v) for v in cells):
        return False
    first = cells[0]
    if not isinstance(first, str):
        return False
    text = first.strip()
    return text.casefold().startswith(FOOTNOTE_PREFIXES) or (bool(marks) and text[0] in marks)


def _excel_table(spec: FileSpec, path: Path, display: str) -> _ExcelTable:
    sheet = _load_sheet(spec, path, display)
    tokens = _missing_tokens(spec)
    notes: list[str] = []
    grid = sheet.grid
    if spec.header_row is not None:
        h = spec.header_row - 1
        if h >= len(grid) or all(_blank(v) for v in grid[h]):
            raise _fail(
                display,
                "no_header",
                f"row {spec.header_row} of sheet {sheet.name!r} is empty",
                line=spec.header_row,
                field="header_row",
                value=str(spec.header_row),
                expected="the row of the column headers",
            )
    else:
        h = _detect_header(sheet, tokens, display)
        notes.append(f"sheet {sheet.name!r}: header detected on row {h + 1}")
    body = grid[h + 1 :]
    width = max((len(row) for row in grid), default=0)
    used = [
        c
        for c in range(width)
        if not _blank(grid[h][c] if c < len(grid[h]) else None)
        or any(not _blank(row[c]) for row in body)
        or any(r1 - 1 <= h <= r2 - 1 and c1 == c2 == c + 1 for r1, c1, r2, c2 in sheet.merged)
    ]
    empty_cols = [c for c in range(width) if c not in set(used)]
    _refuse_uncomputed(sheet, h, used, display)
    names, header_notes = _header(sheet, h, used, spec, display)
    notes += header_notes
    if empty_cols and used and any(c > used[0] for c in empty_cols):
        inside = [c for c in empty_cols if c > used[0]]
        notes.append(f"empty column(s) {', '.join(map(_letter, inside))} dropped")

    # rows: drop empty rows and the footnote block below the table
    numbered = [(h + 2 + i, row) for i, row in enumerate(body)]
    last_number = max(
        (i for i, (_, row) in enumerate(numbered) if any(_is_number(v) for v in row)),
        default=-1,
    )
    cut = len(numbered)
    for i in range(last_number + 1, len(numbered)):
        if _is_footnote(numbered[i][1], spec.footnote_marks):
            cut = i
            break
    footnotes = [(n, row) for n, row in numbered[cut:] if any(not _blank(v) for v in row)]
    for n, row in footnotes:
        text = " ".join(_label(v) for v in row if not _blank(v))
        notes.append(f"row {n} dropped as a footnote below the table: {_excerpt(text)!r}")
    kept = [(n, row) for n, row in numbered[:cut] if any(not _blank(row[c]) for c in used)]
    empty_rows = [n for n, row in numbered[:cut] if not any(not _blank(row[c]) for c in used)]
    if empty_rows:
        notes.append(f"empty row(s) {_ranges(empty_rows)} dropped")
    return _ExcelTable(
        names=tuple(names[c] for c in used),
        columns=tuple(used),
        body=[row for _, row in kept],
        rows=tuple(n for n, _ in kept),
        notes=tuple(notes),
    )


def _excel_column(values: list[object]) -> Any:
    """The pandas column of cleaned cell values (``None`` = missing)."""
    present = [v for v in values if v is not None]
    cells: Any = values
    if present and all(isinstance(v, str) for v in present):
        return pd.array(cells, dtype="string")
    if present and all(isinstance(v, bool) for v in present):
        return pd.array(cells, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.array(cells, dtype="Int64")
    if present and all(_is_number(v) for v in present):
        return [math.nan if v is None else float(cast(float, v)) for v in values]
    return [pd.NA if v is None else v for v in values]


def _excel_read(spec: FileSpec, path: Path, display: str, wanted: Sequence[str] | None) -> RawTable:
    table = _excel_table(spec, path, display)
    selected = _check_columns(wanted, table.names, display)
    tokens = _missing_tokens(spec)
    where = dict(zip(table.names, table.columns, strict=True))
    notes = list(table.notes)
    data: dict[str, Any] = {}
    for name in selected:
        c = where[name]
        values: list[object] = []
        spaces = 0
        missing: dict[str, list[int]] = {}
        marks: dict[str, list[tuple[int, str]]] = {}
        for k, row in enumerate(table.body):
            v = row[c]
            if isinstance(v, str):
                s = v.strip()
                if s != v and s:
                    spaces += 1
                if not s:
                    v = None
                elif s in tokens:
                    missing.setdefault(s, []).append(k)
                    v = None
                else:
                    clean, mark = _strip_marks(s, spec.footnote_marks)
                    if mark:
                        marks.setdefault(mark, []).append((k, v))
                    v = clean
            elif isinstance(v, float) and math.isnan(v):
                v = None
            values.append(v)
        data[name] = _excel_column(values)
        if spaces:
            notes.append(f"column {name!r}: spaces around the text removed in {spaces} cell(s)")
        for token, where_k in missing.items():
            k = where_k[0]
            notes.append(
                f"column {name!r}: {len(where_k)} cell(s) {token!r} read as missing "
                f"(e.g. record {k + 1}, row {table.rows[k]})"
            )
        for mark, found in marks.items():
            listed = ", ".join(
                f"record {k + 1} (row {table.rows[k]}) {original.strip()!r}"
                for k, original in found[:_NOTE_CELLS]
            )
            if len(found) > _NOTE_CELLS:
                listed += f" and {len(found) - _NOTE_CELLS} more"
            notes.append(
                f"column {name!r}: footnote mark {mark!r} removed from {len(found)} cell(s): "
                + listed
            )
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(table.body)))
    return RawTable(
        frame=frame,
        file=display,
        format="excel",
        notes=tuple(notes),
        lines=table.rows,
    )
