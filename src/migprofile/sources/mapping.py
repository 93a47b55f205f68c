"""Source mappings: how one national file becomes a harmonised dataset.

A mapping is YAML read into these frozen models. It names the source kind,
its reference period and residence rule, and for each harmonised table
(``persons``, ``households``, ``events``, ``series``, plus ``absent`` for a
census roster of household members living abroad) the files, how their
columns become dimensions (renaming, crosswalks, constants), which rows are
excluded and why, and the survey design.

See ``docs/sources.md`` for the format with examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from migprofile.catalog.filters import parse_filter
from migprofile.catalog.models import Crosswalk, SourceKind
from migprofile.errors import Problem, ProblemsError
from migprofile.sources.files import FileSpec

__all__ = [
    "ColumnMap",
    "DesignSpec",
    "Exclusion",
    "MappingError",
    "Replicates",
    "SourceMapping",
    "TableMapping",
    "TableName",
    "Unpivot",
    "load_mapping",
    "mapping_from_dict",
]

TableName: TypeAlias = Literal["persons", "households", "events", "series", "absent"]
Unmapped: TypeAlias = Literal["unknown", "fail"]


class MappingError(ProblemsError):
    """A source mapping file cannot be read; ``problems`` lists every problem."""

    about = "the source mapping"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class ColumnMap(_Model):
    """How one harmonised column is made.

    Exactly one of ``source`` (a column of the file) and ``value`` (a constant
    for every row, e.g. ``usual_resident: {value: true}``).
    ``crosswalk`` names a crosswalk (of the catalogue or of the mapping) for
    coded dimensions; without one, source values must already be standard
    codes. ``true_values``/``false_values`` read boolean columns.
    ``unmapped`` overrides the table's policy for this column. ``scale``
    multiplies a numeric column's values: a table published in thousands of
    persons is read in persons with ``scale: 1000``, US$ millions in US$ with
    ``scale: 1e6`` (the unit column then names the base unit).
    """

    source: str | None = None
    value: str | int | float | bool | None = None
    crosswalk: str | None = None
    unmapped: Unmapped | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    date_format: str | None = None
    scale: float | None = None

    _norm = field_validator("true_values", "false_values", mode="before")(_tuple)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `sex: SEX` is short for `sex: {source: SEX}`
        if isinstance(data, str):
            return {"source": data}
        return data

    @model_validator(mode="after")
    def _check(self) -> ColumnMap:
        if (self.source is None) == (self.value is None):
            raise ValueError("give exactly one of 'source' (a column) and 'value' (a constant)")
        if self.value is not None and self.crosswalk is not None:
            raise ValueError("a constant is written as a standard code; it takes no crosswalk")
        overlap = set(self.true_values) & set(self.false_values)
        if overlap:
            raise ValueError(f"values {sorted(overlap)} are both true and false")
        if self.scale is not None:
            if self.source is None:
                raise ValueError("'scale' applies to a source column, not to a constant")
            if not (self.scale > 0 and self.scale < float("inf")):
                raise ValueError(f"'scale' must be a positive number, not {self.scale!r}")
        return self


class Exclusion(_Model):
    """Rows of the source deliberately left out, with the reason reported for
    them. ``where`` is a filter over the harmonised columns; ``source_where``
    a filter over the file's own columns, applied before any recoding (for
    rows that are not of the table's kind at all, such as the aggregate rows
    of a published table). Both use the filter language of populations."""

    where: str | None = None
    source_where: str | None = None
    reason: str = Field(min_length=3)

    @field_validator("where", "source_where")
    @classmethod
    def _parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_filter(value)
        return value

    @model_validator(mode="after")
    def _one(self) -> Exclusion:
        if (self.where is None) == (self.source_where is None):
            raise ValueError("give exactly one of 'where' and 'source_where'")
        return self


class Unpivot(_Model):
    """Wide published tables to long form.

    Every source column whose name matches ``columns`` (a regular expression
    with named groups) becomes rows: each named group becomes a source column
    holding the matched text (``sex`` = ``both``, ``time_period`` = ``2020``)
    and the cell goes to ``value``. Columns that do not match are kept as
    identifiers.
    """

    columns: str
    value: str = "value"

    @field_validator("columns")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if not compiled.groupindex:
            raise ValueError("the pattern needs named groups, e.g. (?P<time_period>\\d{4})")
        return value


class Replicates(_Model):
    """Replicate weights carried into the harmonised table: every source
    column matching ``source`` (a regular expression), in file order, becomes
    a numeric column ``<prefix>1``, ``<prefix>2``, ..."""

    source: str
    prefix: str = Field(default="repw_", pattern=r"^[a-z][a-z0-9_]*$")

    @field_validator("source")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def matching(self, names: Iterable[str]) -> list[str]:
        pattern = re.compile(self.source)
        return [n for n in names if pattern.fullmatch(n)]


class TableMapping(_Model):
    """One harmonised table of a source: its files and column mapping."""

    files: tuple[FileSpec, ...] = Field(min_length=1)
    columns: dict[str, ColumnMap]
    key: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    unmapped: Unmapped = "unknown"
    unpivot: Unpivot | None = None
    exclude: tuple[Exclusion, ...] = ()
    replicates: Replicates | None = None

    _norm = field_validator("files", "key", "required", "exclude", mode="before")(_tuple)

    @field_validator("columns", mode="before")
    @classmethod
    def _columns(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                k: (ColumnMap.model_validate(v) if isinstance(v, str) else v)
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _check(self) -> TableMapping:
        for name in (*self.key, *self.required):
            if name not in self.columns:
                raise ValueError(f"{name!r} is in key/required but not among the columns")
        return self


class DesignSpec(_Model):
    """The sample design as declared in the mapping (harmonised column names).

    Its fields mirror :class:`migprofile.Design` (estimation), which is built
    from it; a census or register has weights of 1 and no design.
    """

    weights: str | None = None
    strata: str | None = None
    psu: tuple[str, ...] = ()
    fpc: tuple[str, ...] = ()
    replicate_weights: tuple[str, ...] | str | None = None
    replicate_method: (
        Literal["JK1", "JKn", "BRR", "Fay", "bootstrap", "SDR", "ACS", "other"] | None
    ) = None
    replicate_scale: float | None = None
    fay_rho: float | None = None
    mse: bool = False
    lonely_psu: Literal["fail", "remove", "adjust", "average", "certainty"] = "fail"

    @field_validator("psu", "fpc", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return _tuple(value)

    @field_validator("replicate_weights", mode="before")
    @classmethod
    def _replicates(cls, value: Any) -> Any:
        return _tuple(value)

    @model_validator(mode="after")
    def _check(self) -> DesignSpec:
        if self.fpc and len(self.fpc) != max(len(self.psu), 1):
            raise ValueError("give one fpc column per sampling stage (psu)")
        if (self.replicate_weights is None) != (self.replicate_method is None):
            raise ValueError("replicate_weights and replicate_method go together")
        if self.replicate_weights is not None and (self.psu or self.strata):
            raise ValueError("a replicate-weight design has no strata or psu")
        return self

    def columns(self) -> tuple[str, ...]:
        """Every harmonised column the design names (not a replicate regex)."""
        cols = [c for c in (self.weights, self.strata) if c]
        cols += [*self.psu, *self.fpc]
        if isinstance(self.replicate_weights, tuple):
            cols += list(self.replicate_weights)
        return tuple(cols)


ResidenceRule: TypeAlias = Literal["MOST_OF_12M", "AT_LEAST_12M", "REGISTER_RULE", "DE_FACTO"]


class SourceMapping(_Model):
    """A national source mapped to the harmonised tables."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    name: str
    kind: SourceKind
    reference_period: str = Field(pattern=r"^\d{4}(-(Q[1-4]|\d{2}(-\d{2})?))?$")
    reference_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    residence_rule: ResidenceRule | None = None
    migrant_basis_available: tuple[Literal["COB", "CIT"], ...] = ()
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    catalog: tuple[str, ...] = ()
    crosswalks: tuple[Crosswalk, ...] = ()
    tables: dict[TableName, TableMapping]
    derive: tuple[str, ...] = ()
    design: DesignSpec | None = None
    strict: bool = False
    provider: str | None = None
    licence: str | None = None
    notes: str | None = None

    _norm = field_validator(
        "catalog", "crosswalks", "derive", "migrant_basis_available", mode="before"
    )(_tuple)

    @field_validator("reference_period", "reference_date", mode="before")
    @classmethod
    def _dates_as_text(cls, value: Any) -> Any:
        # YAML reads 2024 as an integer and 2024-04-01 as a date: accept both.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if hasattr(value, "isoformat"):
            return str(value.isoformat())
        return value

    @model_validator(mode="after")
    def _check(self) -> SourceMapping:
        if not self.tables:
            raise ValueError("a mapping has at least one table")
        if "absent" in self.tables and "persons" not in self.tables:
            raise ValueError("an 'absent' roster is joined to a 'persons' table")
        ids = [c.id for c in self.crosswalks]
        if len(set(ids)) != len(ids):
            raise ValueError("two inline crosswalks have the same id")
        return self

    @property
    def year(self) -> int:
        return int(self.reference_period[:4])


def load_mapping(path: str | Path) -> tuple[SourceMapping, Path]:
    """Read a mapping file; return the mapping and the folder its relative
    paths start from. Every problem is raised at once as :class:`MappingError`."""
    from migprofile.catalog.loader import _read_yaml, _validate_item

    file = Path(path)
    problems: list[Problem] = []
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError([Problem("missing_file", "no such file", file=str(file))]) from None
    except UnicodeDecodeError as exc:
        raise MappingError(
            [Problem("bad_encoding", f"not UTF-8 text (byte {exc.start})", file=str(file))]
        ) from None
    data = _read_yaml(text, str(file), problems)
    if problems:
        raise MappingError(problems)
    if not isinstance(data, dict) or set(data) != {"source"}:
        raise MappingError(
            [
                Problem(
                    "bad_structure",
                    "a source mapping is a mapping with the single key 'source'",
                    file=str(file),
                    line=1,
                )
            ]
        )
    entry = _validate_item("source", SourceMapping, data["source"], str(file), "", problems)
    if entry is None:
        raise MappingError(problems)
    mapping = entry.model
    if not isinstance(mapping, SourceMapping):  # pragma: no cover - _validate_item's contract
        raise TypeError("unexpected model")
    return mapping, file.parent


def mapping_from_dict(data: Mapping[str, Any]) -> SourceMapping:
    """Build a mapping from Python data (for notebooks); raises
    :class:`MappingError` naming each invalid field."""
    try:
        return SourceMapping.model_validate(_yaml_roundtrip(data))
    except ValidationError as exc:
        raise MappingError(
            [
                Problem(
                    "invalid",
                    str(err["msg"]).removeprefix("Value error, "),
                    field=".".join(str(p) for p in err["loc"]) or None,
                )
                for err in exc.errors()
            ]
        ) from None


def _yaml_roundtrip(data: Any) -> Any:
    """Python data as the YAML reader would give it (lists, not tuples)."""
    if isinstance(data, Mapping):
        return {k: _yaml_roundtrip(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_yaml_roundtrip(v) for v in data]
    return data
