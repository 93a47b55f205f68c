"""How a source file is read: its format and reader options.

A :class:`FileSpec` is inert data, part of a source mapping. The readers in
:mod:`migprofile.sources.readers` turn it into raw tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["FORMATS", "FileFormat", "FileSpec", "FixedWidthColumn", "format_of"]

FileFormat: TypeAlias = Literal["csv", "parquet", "stata", "spss", "fixed_width", "excel"]
FORMATS: tuple[FileFormat, ...] = ("csv", "parquet", "stata", "spss", "fixed_width", "excel")

_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".dta": "stata",
    ".sav": "spss",
    ".zsav": "spss",
    ".dat": "fixed_width",
    ".xlsx": "excel",
    ".xlsm": "excel",
}


def format_of(path: str | Path) -> FileFormat | None:
    """The format a file name suggests, or ``None``."""
    return _SUFFIXES.get(Path(path).suffix.lower())


class FixedWidthColumn(BaseModel):
    """One column of a fixed-width file: 1-based first and last character
    positions, inclusive (the convention of census record layouts)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    name: str = Field(min_length=1)
    start: int = Field(ge=1)
    end: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> FixedWidthColumn:
        if self.end < self.start:
            raise ValueError(f"column {self.name!r} ends ({self.end}) before it starts")
        return self


class FileSpec(BaseModel):
    """A file of a source and how to read it.

    ``path`` is relative to the mapping file that names it (or absolute).
    ``format`` defaults to what the file name suggests. Options that do not
    apply to the format are refused, so that a misplaced option is noticed.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    path: str = Field(min_length=1)
    format: FileFormat | None = None
    # text files (csv, fixed_width)
    encoding: str = "utf-8"
    delimiter: str | None = None
    decimal: str = "."
    # values read as missing, in addition to empty cells
    na_values: tuple[str, ...] = ()
    # fixed width
    columns: tuple[FixedWidthColumn, ...] = ()
    # excel published tables
    sheet: str | int | None = None
    header_row: int | None = Field(default=None, ge=1)
    footnote_marks: str = "*†‡§¶"
    # rows of the file to skip before the header (csv)
    skip_rows: int = Field(default=0, ge=0)
    # constant source columns added to every record of this file, to tell
    # apart files of one table (e.g. {SERIES: MIGRANT_STOCK} on one sheet,
    # {SERIES: POPULATION} on another); they may not shadow a file column
    assign: dict[str, str] = Field(default_factory=dict)
    # source columns renamed as they are read ({"Location code": CODE}), so that
    # headers of published tables can be named in mappings and filters
    rename: dict[str, str] = Field(default_factory=dict)

    @field_validator("na_values", "columns", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _check(self) -> FileSpec:
        fmt = self.resolved_format()
        if fmt is None:
            raise ValueError(
                f"cannot tell the format of {self.path!r} from its name; "
                f"give 'format' (one of {', '.join(FORMATS)})"
            )
        if fmt == "fixed_width" and not self.columns:
            raise ValueError("a fixed-width file needs 'columns' (name, start, end)")
        if fmt != "fixed_width" and self.columns:
            raise ValueError("'columns' (positions) apply to fixed-width files only")
        if fmt not in ("csv", "fixed_width") and (
            self.encoding != "utf-8" or self.delimiter is not None or self.skip_rows
        ):
            raise ValueError(f"encoding, delimiter and skip_rows do not apply to {fmt} files")
        if fmt != "excel" and (self.sheet is not None or self.header_row is not None):
            raise ValueError("'sheet' and 'header_row' apply to Excel files only")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"the delimiter is one character, not {self.delimiter!r}")
        return self

    def resolved_format(self) -> FileFormat | None:
        return self.format or format_of(self.path)

    def resolve(self, base: Path) -> Path:
        """The file's path, relative paths taken from ``base`` (the mapping's folder)."""
        path = Path(self.path)
        return path if path.is_absolute() else base / path
