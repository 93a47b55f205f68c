"""``scan_source``: a source harmonised inside DuckDB, written as Parquet.

:func:`scan_source` does what :func:`~migprofile.sources.read.read_source`
does -- column renames and constants, crosswalk recodes, the codelist
validity check, exclusions, the census derivations and the validation
checks -- but inside DuckDB, streaming the source files, so that no record is
ever held in pandas. Each harmonised table is written as one Parquet file;
the :class:`ScannedDataset` returned holds their paths (and the temporary
folder they live in, when no ``out_dir`` was given) and the same
reconciliation report as ``read_source`` gives, computed by SQL aggregates.
``migprofile.compute(scanned, ..., engine="duckdb")`` then computes
indicators from the files out of core.

How each step is translated:

- files: CSV through DuckDB's ``read_csv`` (every column as text, with the
  header and delimiter found as ``read_source`` finds them), Parquet through
  ``read_parquet`` (native types); ``rename``, ``assign`` and ``na_values``
  as column expressions; floating-point ``NaN`` as missing;
- coded columns: the distinct source values of every coded column are
  fetched in one scan, each is recoded in Python exactly as ``read_source``
  recodes it (crosswalk lookup or codelist check, the unknown code), and the
  recode runs in DuckDB as a lookup in a ``MAP`` built from these few values
  (bound parameters); unmapped codes go to the unknown code or reject the row
  (the mapping's ``unmapped`` policy), and are counted per value;
- numbers, booleans, dates and text: ``TRY_CAST``-style SQL expressions,
  invalid values counted per value and read as missing;
- exclusions: ``source_where`` and ``where`` filters rendered by
  :func:`~migprofile.catalog.filters.to_sql` (values bound), required
  columns, a row rejected once for the first reason that applies;
- the absent roster appended to persons (one ``read_parquet`` of both
  staging files); the derivations (``parent_location`` by one join on the
  household with a small file of each household's line numbers, those
  abroad and the others, written first; ``migrant_status``, ``age_group``,
  ``years_since_arrival``, ``recent_immigrant``, ``n_members_abroad`` by a
  join with the counts of the absent roster) as SQL expressions;
- the checks (duplicate keys, ages, weights, single-PSU strata, households
  and members, future dates) as SQL aggregates over the kept records of the
  staging files, so that each table is written twice in all: its staging
  file and, once, its final file (without helper columns).

What cannot be translated -- files other than CSV (UTF-8) and Parquet,
``unpivot``, replicate weights whose pattern matches a different number of
columns in the files of one table -- raises :class:`ScanUnsupportedError`
naming the mapping, the table and the feature: use ``read_source`` for such
a source.

Every harmonised table also gets the column ``_one`` (1.0), which
``compute()`` uses for counts and shares of file tables.
"""

# Every SQL text here is built from identifiers quoted by quote_identifier and
# from the module's own fixed SQL; every value (codes, filter literals,
# parameters, file paths) is a bound parameter. Hence S608 is silenced for
# the whole module.
# ruff: noqa: S608

from __future__ import annotations

import codecs
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from migprofile.catalog.filters import columns as filter_columns
from migprofile.catalog.filters import parse_filter, quote_identifier, to_sql
from migprofile.catalog.loader import Catalog
from migprofile.catalog.models import Codelist, Crosswalk
from migprofile.errors import MigprofileError
from migprofile.sources.harmonise import _FALSE, _TRUE, _unknown_code, source_text
from migprofile.sources.mapping import SourceMapping, TableMapping, load_mapping
from migprofile.sources.read import (
    HarmonisedTables,
    SourceError,
    _column_findings,
    _context,
    _file_columns,
    _locate,
    _preflight,
)
from migprofile.sources.readers import SourceReadError, _csv_header, file_checksum
from migprofile.sources.report import (
    EXAMPLES,
    ColumnReport,
    FileReport,
    Finding,
    ReconciliationReport,
    TableReport,
    ValueTally,
)

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

__all__ = ["ONE", "ScanUnsupportedError", "ScannedDataset", "scan_source"]

#: The constant column (1.0) written into every scanned table for compute().
ONE = "_one"

_q = quote_identifier
_REC, _FILE, _SW, _RJ, _POS = "_mp_rec", "_mp_file", "_mp_sw", "_mp_rj", "_mp_pos"
_HELPERS = (_REC, _FILE, _SW, _RJ, _POS)
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")

Sql = tuple[str, list[Any]]


class ScanUnsupportedError(ValueError, MigprofileError):
    """The mapping uses something :func:`scan_source` cannot run inside
    DuckDB; the message names the mapping, the table and the feature. Read
    such a source with :func:`~migprofile.sources.read.read_source`."""

    def __init__(self, mapping: str, table: str | None, feature: str) -> None:
        self.mapping = mapping
        self.table = table
        self.feature = feature
        where = f"source {mapping!r}" + (f", table {table!r}" if table else "")
        super().__init__(
            f"scan_source cannot translate {where}: {feature}; read this source with "
            "read_source (in memory) instead"
        )


@dataclass(frozen=True)
class ScannedDataset(HarmonisedTables[str]):
    """A harmonised dataset as Parquet files: ``tables`` maps each table name
    to its file's path. Holds the mapping, the catalogue, the reconciliation
    report and the provenance, like :class:`~migprofile.sources.read.Dataset`.
    When :func:`scan_source` wrote to a temporary folder, the object keeps it
    alive: the files are removed when the object is garbage-collected."""

    tables: Mapping[str, str]
    mapping: SourceMapping
    catalog: Catalog = field(repr=False)
    report: ReconciliationReport = field(repr=False)
    provenance: Mapping[str, str] = field(default_factory=dict)
    folder: Path = Path(".")
    _keep: Any = field(default=None, repr=False, compare=False)

    def columns(self, table: str) -> tuple[str, ...]:
        """The column names of a table, from its Parquet schema."""
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        return tuple(pq.read_schema(self[table]).names)

    def read(self, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A table (or some of its columns) read into pandas -- for small data."""
        import pyarrow.parquet as pq

        frame: pd.DataFrame = pq.read_table(
            self[table], columns=list(columns) if columns is not None else None
        ).to_pandas()
        return frame


# ------------------------------------------------------------------------ SQL helpers


def _join(parts: Sequence[Sql], sep: str) -> Sql:
    text = sep.join(p[0] for p in parts)
    params: list[object] = []
    for p in parts:
        params.extend(p[1])
    return text, params


def _fetch(con: duckdb.DuckDBPyConnection, sql: Sql) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql[0], sql[1]).fetchall()
    return rows


def _copy(con: duckdb.DuckDBPyConnection, select: Sql, path: Path) -> None:
    con.execute(
        f"COPY ({select[0]}) TO ? (FORMAT parquet, COMPRESSION zstd)", [*select[1], str(path)]
    )


def _is_float(dtype: str) -> bool:
    return dtype.upper() in _FLOAT_TYPES


def _is_numeric(dtype: str) -> bool:
    upper = dtype.upper()
    return (
        upper in _NUMERIC_TYPES
        or (upper.startswith(("DECIMAL", "U")) and "INT" in upper)
        or (upper.startswith("DECIMAL"))
    )


def _text_of(column: str, dtype: str) -> str:
    """SQL text of a source value as :func:`source_text` shows it."""
    c = _q(column)
    upper = dtype.upper()
    if upper == "VARCHAR":
        return c
    if upper == "BOOLEAN":
        return f"CASE WHEN {c} THEN 'True' WHEN NOT {c} THEN 'False' END"
    if _is_float(upper) or upper.startswith("DECIMAL"):
        return (
            f"CASE WHEN {c} = floor({c}) AND abs({c}) < 1e18 "
            f"THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END"
        )
    return f"CAST({c} AS VARCHAR)"


# ---------------------------------------------------------------------- table plans


@dataclass
class _Col:
    """One harmonised column of the staging select."""

    name: str
    expr: Sql
    kind: str
    source: str | None
    flag: Sql | None = None  # source text of an unmapped or invalid value, else NULL
    unmapped: bool = False  # the flag marks unmapped codes (else invalid values)
    reject: bool = False  # flagged rows are rejected


@dataclass
class _TableScan:
    name: str
    tm: TableMapping
    base: Sql  # SELECT of the raw columns, one row per record, with _mp_file, _mp_rec
    types: dict[str, str]  # source column -> DuckDB type
    files: list[FileReport]
    notes: list[tuple[str, str]]  # reader notes and their file
    replicate_sources: list[str]


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


def _file_relation(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    name: str,
    index: int,
    spec: Any,
    folder: Path,
    wanted: list[str] | None,
) -> tuple[str, dict[str, str], list[tuple[str, str]], list[str]]:
    """Register one file as a view; its view name, its columns' types (after
    ``rename``), reader notes and the file's column names after rename."""
    fmt = spec.resolved_format()
    path = spec.resolve(folder)
    view = f"_mp_raw_{name}_{index}"
    notes: list[tuple[str, str]] = []
    if fmt == "csv":
        if _codec_name(spec.encoding) != "utf-8":
            raise ScanUnsupportedError(
                mapping.id,
                name,
                f"file {spec.path}: encoding {spec.encoding!r} (DuckDB "
                "reads UTF-8 only); convert the file to UTF-8",
            )
        head = _csv_header(spec, path, str(path))
        notes.extend((note, str(path)) for note in head.notes)
        rel = con.read_csv(
            str(path),
            header=False,
            skiprows=head.header_line,
            delimiter=head.delimiter,
            columns=dict.fromkeys(head.names, "VARCHAR"),
            quotechar='"',
            escapechar='"',
            auto_detect=False,
            strict_mode=True,
        )
    elif fmt == "parquet":
        rel = con.read_parquet(str(path))
    else:
        raise ScanUnsupportedError(
            mapping.id,
            name,
            f"file {spec.path}: the {fmt} format (scan_source reads CSV and Parquet)",
        )
    rel.create_view(view)
    types = {str(c): str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
    renamed = {spec.rename.get(c, c): t for c, t in types.items()}
    return view, renamed, notes, list(renamed)


def _plan_table(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    name: str,
    tm: TableMapping,
    folder: Path,
) -> _TableScan:
    if tm.unpivot is not None:
        raise ScanUnsupportedError(mapping.id, name, "unpivot (wide published tables)")
    sources = sorted({s.source for s in tm.columns.values() if s.source is not None})
    for rule in tm.exclude:
        if rule.source_where is not None:
            sources = sorted({*sources, *filter_columns(parse_filter(rule.source_where))})
    selects: list[Sql] = []
    all_types: dict[str, str] = {}
    notes: list[tuple[str, str]] = []
    files: list[FileReport] = []
    replicate_sources: list[str] = []
    replicate_count: int | None = None
    for index, spec in enumerate(tm.files):
        wanted = _file_columns(spec, sources)
        view, types, file_notes, names = _file_relation(
            con, mapping, name, index, spec, folder, wanted
        )
        notes.extend(file_notes)
        needed = [s for s in sources if s not in spec.assign]
        if tm.replicates is not None:
            matched = tm.replicates.matching(names)
            if replicate_count is not None and len(matched) != replicate_count:
                raise ScanUnsupportedError(
                    mapping.id,
                    name,
                    "replicate weights matching a different number of columns "
                    "in the files of one table",
                )
            replicate_count = len(matched)
            if index == 0:
                replicate_sources = matched
            # later files: their own matching columns, under the first file's names
            pairs = list(zip(replicate_sources, matched, strict=True))
        else:
            pairs = []
        original = {new: old for old, new in spec.rename.items()}
        parts: list[Sql] = [
            (f"{index} AS {_q(_FILE)}", []),
            (f"row_number() OVER () AS {_q(_REC)}", []),
        ]
        for source in needed:
            parts.append(_raw_expr(_q(original.get(source, source)), types[source], spec, source))
            all_types.setdefault(source, types[source])
        for first_name, own in pairs:
            if first_name in needed:
                continue
            parts.append(_raw_expr(_q(original.get(own, own)), types[own], spec, first_name))
            all_types.setdefault(first_name, types[own])
        for column, value in spec.assign.items():
            if column in types:
                raise SourceError(
                    ReconciliationReport(
                        mapping.id,
                        (),
                        (),
                        (
                            Finding(
                                "assign_clash",
                                "error",
                                "'assign' would overwrite a column of the file",
                                table=name,
                                column=column,
                                file=spec.path,
                            ),
                        ),
                    ),
                    f"source {mapping.id!r}: the mapping does not fit the data",
                )
            parts.append((f"CAST(? AS VARCHAR) AS {_q(column)}", [value]))
            all_types.setdefault(column, "VARCHAR")
        select = _join(parts, ", ")
        selects.append((f"SELECT {select[0]} FROM {_q(view)}", select[1]))
        path = spec.resolve(folder)
        files.append(
            FileReport(str(spec.path), spec.resolved_format() or "", file_checksum(path), 0)
        )
    base = _join(selects, " UNION ALL BY NAME ")
    return _TableScan(name, tm, base, all_types, files, notes, replicate_sources)


def _raw_expr(column: str, dtype: str, spec: Any, alias: str) -> Sql:
    """A raw source column with the reader's missing values as NULL."""
    upper = dtype.upper()
    na = list(spec.na_values)
    if upper == "VARCHAR":
        if spec.resolved_format() == "csv":
            na = ["", *na]
        if na:
            return (
                f"CASE WHEN list_contains(?::VARCHAR[], {column}) THEN NULL ELSE {column} END "
                f"AS {_q(alias)}",
                [na],
            )
        return f"{column} AS {_q(alias)}", []
    if _is_float(upper):
        return f"CASE WHEN isnan({column}) THEN NULL ELSE {column} END AS {_q(alias)}", []
    return f"{column} AS {_q(alias)}", []


# ------------------------------------------------------------------- harmonisation


def _coded_map(
    values: Sequence[object],
    column: str,
    codelist: Codelist,
    crosswalk: Crosswalk | None,
    spec_crosswalk: str | None,
    to_unknown: bool,
    unknown: str | None,
) -> tuple[list[object], list[str], list[object], list[str]]:
    """Targets of the distinct source values, decided as harmonise does:
    (mapped keys, their codes, unmapped keys, their source texts)."""
    keys: list[object] = []
    codes: list[str] = []
    bad_keys: list[object] = []
    bad_text: list[str] = []
    wrong: set[str] = set()
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if crosswalk is not None:
            target = crosswalk.lookup(value)
        else:
            text = source_text(value)
            target = text if text in codelist else None
        if target is not None and target not in codelist:
            wrong.add(target)
        if target is None:
            bad_keys.append(value)
            bad_text.append(source_text(value))
            if to_unknown and unknown:
                keys.append(value)
                codes.append(unknown)
        else:
            keys.append(value)
            codes.append(target)
    if wrong:
        raise ValueError(
            f"crosswalk {spec_crosswalk!r} maps to {sorted(wrong)}, not codes of {codelist.id!r}"
        )
    return keys, codes, bad_keys, bad_text


def _key_type(dtype: str) -> str:
    upper = dtype.upper()
    allowed = (
        "VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT",
        "DOUBLE", "DATE", "TIMESTAMP", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    )  # fmt: skip
    return upper if upper in allowed else "VARCHAR"


def _columns(
    scan: _TableScan, ctx_catalog: Catalog, crosswalks: Mapping[str, Crosswalk],
    distinct: Mapping[str, list[object]],
) -> list[_Col]:  # fmt: skip
    tm = scan.tm
    out: list[_Col] = []
    for column, spec in tm.columns.items():
        dim = ctx_catalog.dimension(column)
        if spec.value is not None:
            out.append(_Col(column, _constant(spec.value, dim, ctx_catalog), dim.kind, None))
            continue
        source = spec.source or ""
        dtype = scan.types[source]
        c = _q(source)
        if dim.kind == "coded":
            codelist = ctx_catalog.codelist(dim.codelist or "")
            crosswalk = crosswalks.get(spec.crosswalk) if spec.crosswalk else None
            policy = spec.unmapped or tm.unmapped
            unknown = _unknown_code(codelist, crosswalk)
            to_unknown = policy == "unknown" and unknown is not None
            keys, codes, bad, bad_text = _coded_map(
                distinct[source], column, codelist, crosswalk, spec.crosswalk, to_unknown, unknown
            )
            kt = _key_type(dtype)
            key = c if kt != "VARCHAR" or dtype.upper() == "VARCHAR" else f"CAST({c} AS VARCHAR)"
            if kt == "VARCHAR" and dtype.upper() != "VARCHAR":
                keys = [str(k) for k in keys]
                bad = [str(k) for k in bad]
            expr: Sql = (
                (
                    f"map_extract_value(MAP(?::{kt}[], ?::VARCHAR[]), {key})",
                    [keys, codes],
                )
                if keys
                else ("CAST(NULL AS VARCHAR)", [])
            )
            flag: Sql | None = (
                (f"map_extract_value(MAP(?::{kt}[], ?::VARCHAR[]), {key})", [bad, bad_text])
                if bad
                else None
            )
            out.append(
                _Col(column, expr, "coded", source, flag, unmapped=True, reject=not to_unknown)
            )
        elif dim.kind == "numeric":
            out.append(_numeric(column, source, dtype, spec.scale))
        elif dim.kind == "boolean":
            true_values = sorted({v.lower() for v in spec.true_values} or _TRUE)
            false_values = sorted({v.lower() for v in spec.false_values} or _FALSE)
            if dtype.upper() == "BOOLEAN":
                out.append(_Col(column, (c, []), "boolean", source))
                continue
            text = f"lower(trim({_text_of(source, dtype)}))"
            expr = (
                f"CASE WHEN list_contains(?::VARCHAR[], {text}) THEN TRUE "
                f"WHEN list_contains(?::VARCHAR[], {text}) THEN FALSE END",
                [true_values, false_values],
            )
            flag = (
                f"CASE WHEN {c} IS NOT NULL AND NOT list_contains(?::VARCHAR[], {text}) "
                f"THEN {_text_of(source, dtype)} END",
                [true_values + false_values],
            )
            out.append(_Col(column, expr, "boolean", source, flag))
        elif dim.kind == "date":
            upper = dtype.upper()
            if upper.startswith(("TIMESTAMP", "DATE")):
                out.append(_Col(column, (f"CAST({c} AS TIMESTAMP)", []), "date", source))
                continue
            text = _text_of(source, dtype)
            if spec.date_format:
                value: Sql = (f"try_strptime({text}, ?)", [spec.date_format])
            else:
                value = (f"TRY_CAST({text} AS TIMESTAMP)", [])
            flag = (
                f"CASE WHEN {c} IS NOT NULL AND ({value[0]}) IS NULL THEN {text} END",
                list(value[1]),
            )
            out.append(_Col(column, value, "date", source, flag))
        else:
            out.append(_Col(column, (f"{_text_of(source, dtype)}", []), dim.kind, source))
    for i, source in enumerate(scan.replicate_sources, start=1):
        prefix = tm.replicates.prefix if tm.replicates is not None else "repw_"
        col = _numeric(f"{prefix}{i}", source, scan.types[source])
        out.append(col)
    return out


def _numeric(column: str, source: str, dtype: str, scale: float | None = None) -> _Col:
    """A numeric column; ``scale`` (the mapping's) multiplies its values."""
    c = _q(source)
    upper = dtype.upper()
    factor: Sql = (" * ?", [float(scale)]) if scale is not None else ("", [])
    if upper == "BOOLEAN" or _is_numeric(upper):
        return _Col(column, (f"CAST({c} AS DOUBLE){factor[0]}", factor[1]), "numeric", source)
    text = _text_of(source, dtype)
    number = f"TRY_CAST(trim({text}) AS DOUBLE)"
    expr = f"CASE WHEN isnan({number}) THEN NULL ELSE {number} END"
    flag = f"CASE WHEN {c} IS NOT NULL AND ({expr}) IS NULL THEN {text} END"
    return _Col(column, (f"({expr}){factor[0]}", factor[1]), "numeric", source, (flag, []))


def _constant(value: object, dim: Any, catalog: Catalog) -> Sql:
    if dim.kind == "coded":
        codelist = catalog.codelist(dim.codelist or "")
        if not isinstance(value, str) or value not in codelist:
            raise ValueError(f"constant {value!r} is not a code of {codelist.id!r}")
        return "CAST(? AS VARCHAR)", [value]
    if dim.kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"constant {value!r} for boolean {dim.id!r} is not true or false")
        return "CAST(? AS BOOLEAN)", [value]
    if dim.kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"constant {value!r} for numeric {dim.id!r} is not a number")
        return "CAST(? AS DOUBLE)", [float(value)]
    return "CAST(? AS VARCHAR)", [str(value)]


# ---------------------------------------------------------------------- the scan


@dataclass
class _Staged:
    name: str
    path: Path
    columns: list[_Col]
    reasons: list[str]
    source_reasons: list[str]
    report: TableReport | None = None
    column_reports: list[ColumnReport] = field(default_factory=list)


def _distinct_values(
    con: duckdb.DuckDBPyConnection, scan: _TableScan, wanted: list[str]
) -> dict[str, list[object]]:
    if not wanted:
        return {}
    items = ", ".join(f"list(DISTINCT {_q(s)})" for s in wanted)
    (row,) = _fetch(con, (f"SELECT {items} FROM ({scan.base[0]})", list(scan.base[1])))
    return {s: list(v or []) for s, v in zip(wanted, row, strict=True)}


def _source_where(
    con: duckdb.DuckDBPyConnection, scan: _TableScan, params: Mapping[str, object],
    catalog: Catalog,
) -> tuple[Sql, list[str]]:  # fmt: skip
    """The rule index (SQL) that excludes a record by its raw columns, applied
    in order; source columns of a rule compared as numbers when every value
    of the remaining records is one (as read_source's numeric view)."""
    rules = [r for r in scan.tm.exclude if r.source_where is not None]
    if not rules:
        return ("CAST(NULL AS INTEGER)", []), []
    branches: list[Sql] = []
    reasons: list[str] = []
    for k, rule in enumerate(rules):
        expr = parse_filter(rule.source_where or "")
        texts = [
            c for c in sorted(filter_columns(expr)) if scan.types.get(c, "").upper() == "VARCHAR"
        ]
        numeric: set[str] = set()
        if texts:
            prior = _join(branches, " ") if branches else ("", [])
            alive = f"WHERE (CASE {prior[0]} END) IS NULL" if branches else ""
            checks = ", ".join(
                f"coalesce(bool_and(TRY_CAST(trim({_q(c)}) AS DOUBLE) IS NOT NULL) "
                f"FILTER (WHERE {_q(c)} IS NOT NULL), TRUE)"
                for c in texts
            )
            (row,) = _fetch(
                con, (f"SELECT {checks} FROM ({scan.base[0]}) {alive}", [*scan.base[1], *prior[1]])
            )
            numeric = {c for c, ok in zip(texts, row, strict=True) if ok}

        def ident(name: str, numeric: set[str] = numeric) -> str:
            return f"TRY_CAST(trim({_q(name)}) AS DOUBLE)" if name in numeric else _q(name)

        text, values = to_sql(expr, params=params, resolve=catalog.resolve, quote_ident=ident)
        branches.append((f"WHEN {text} THEN {k}", list(values)))
        reasons.append(f"excluded: {rule.reason}")
    case = _join(branches, " ")
    return (f"CASE {case[0]} END", case[1]), reasons


def _stage_table(
    con: duckdb.DuckDBPyConnection,
    scan: _TableScan,
    catalog: Catalog,
    crosswalks: Mapping[str, Crosswalk],
    params: Mapping[str, object],
    work: Path,
) -> _Staged:
    """Harmonise one table into a staging Parquet file holding every record
    with the rule that excluded it, the first rejection reason, the
    harmonised columns and the source texts of unmapped/invalid values."""
    tm = scan.tm
    coded_sources = sorted(
        {
            s.source
            for c, s in tm.columns.items()
            if s.source is not None and catalog.dimension(c).kind == "coded"
        }
    )
    distinct = _distinct_values(con, scan, coded_sources)
    cols = _columns(scan, catalog, crosswalks, distinct)
    sw, source_reasons = _source_where(con, scan, params, catalog)
    inner: list[Sql] = [
        (f"{_q(_FILE)}, {_q(_REC)}", []),
        (f"{sw[0]} AS {_q(_SW)}", sw[1]),
    ]
    for i, col in enumerate(cols):
        inner.append((f"{col.expr[0]} AS {_q(col.name)}", col.expr[1]))
        if col.flag is not None:
            inner.append((f"{col.flag[0]} AS {_q(f'_mp_x{i}')}", col.flag[1]))
    # rejection reasons, in read_source's order
    branches: list[Sql] = []
    reasons: list[str] = []
    for i, col in enumerate(cols):
        if col.flag is not None and col.unmapped and col.reject:
            branches.append((f"WHEN {_q(f'_mp_x{i}')} IS NOT NULL THEN {len(reasons)}", []))
            reasons.append(f"unmapped code in {col.name} ({col.source})")
    for column in tm.required:
        branches.append((f"WHEN {_q(column)} IS NULL THEN {len(reasons)}", []))
        reasons.append(f"missing or invalid required {column}")
    for rule in tm.exclude:
        if rule.where is None:
            continue
        text, values = to_sql(parse_filter(rule.where), params=params, resolve=catalog.resolve)
        branches.append((f"WHEN {text} THEN {len(reasons)}", list(values)))
        reasons.append(f"excluded: {rule.reason}")
    inner_sql = _join(inner, ", ")
    if branches:
        case = _join(branches, " ")
        reject: Sql = (f"CASE {case[0]} END", case[1])
    else:
        reject = ("CAST(NULL AS INTEGER)", [])
    select = (
        f"SELECT *, {reject[0]} AS {_q(_RJ)} FROM (SELECT {inner_sql[0]} FROM ({scan.base[0]}))",
        [*reject[1], *inner_sql[1], *scan.base[1]],
    )
    path = work / f"stage_{scan.name}.parquet"
    _copy(con, select, path)
    return _Staged(scan.name, path, cols, reasons, source_reasons)


def _tally(con: duckdb.DuckDBPyConnection, staged: _Staged, scan: _TableScan) -> list[Finding]:
    """The table's report from aggregates over its staging file."""
    src = "read_parquet(?)"
    p = str(staged.path)
    examples = f"list({_q(_REC)} ORDER BY {_q(_FILE)}, {_q(_REC)})[1:{EXAMPLES}]"
    per_file = _fetch(con, (f"SELECT {_q(_FILE)}, count(*) FROM {src} GROUP BY 1 ORDER BY 1", [p]))
    counts = dict(per_file)
    files = [
        FileReport(f.path, f.format, f.checksum, int(counts.get(i, 0)))
        for i, f in enumerate(scan.files)
    ]
    rows_read = sum(int(v) for v in counts.values())
    rejected: dict[str, ValueTally] = {}
    for k, n, recs in _fetch(
        con,
        (
            f"SELECT {_q(_SW)}, count(*), {examples} FROM {src} WHERE {_q(_SW)} IS NOT NULL "
            "GROUP BY 1 ORDER BY 1",
            [p],
        ),
    ):
        reason = staged.source_reasons[int(k)]
        rejected.setdefault(reason, ValueTally()).add(reason, int(n), recs)
    for k, n, recs in _fetch(
        con,
        (
            f"SELECT {_q(_RJ)}, count(*), {examples} FROM {src} WHERE {_q(_SW)} IS NULL "
            f"AND {_q(_RJ)} IS NOT NULL GROUP BY 1 ORDER BY 1",
            [p],
        ),
    ):
        reason = staged.reasons[int(k)]
        rejected.setdefault(reason, ValueTally()).add(reason, int(n), recs)
    n_rejected = sum(sum(t.counts.values()) for t in rejected.values())
    # per column: missing values, unmapped codes and invalid values
    alive = f"{_q(_SW)} IS NULL"
    missing_items = []
    for i, col in enumerate(staged.columns):
        if col.source is None:
            missing_items.append("0")
        elif col.flag is None:
            missing_items.append(f"count(*) FILTER (WHERE {_q(col.name)} IS NULL)")
        else:
            missing_items.append(
                f"count(*) FILTER (WHERE {_q(col.name)} IS NULL AND {_q(f'_mp_x{i}')} IS NULL)"
            )
    (missing_row,) = _fetch(
        con, (f"SELECT {', '.join(missing_items) or '0'} FROM {src} WHERE {alive}", [p])
    )
    tallies: dict[str, dict[str, Any]] = {}
    replicate = scan.tm.replicates
    rep_names = (
        {f"{replicate.prefix}{i}" for i in range(1, len(scan.replicate_sources) + 1)}
        if replicate is not None
        else set()
    )
    for i, col in enumerate(staged.columns):
        key = "replicate_weights" if col.name in rep_names else col.name
        entry = tallies.setdefault(
            key,
            {
                "source": replicate.source
                if key == "replicate_weights" and replicate
                else col.source,
                "kind": "numeric" if key == "replicate_weights" else col.kind,
                "missing": 0,
                "unmapped": ValueTally(),
                "invalid": ValueTally(),
                "to_unknown": 0,
            },
        )
        entry["missing"] += int(missing_row[i]) if missing_row[i] is not None else 0
        if col.flag is None:
            continue
        flag = _q(f"_mp_x{i}")
        for value, n, recs in _fetch(
            con,
            (
                f"SELECT {flag}, count(*), {examples} FROM {src} WHERE {alive} AND {flag} "
                "IS NOT NULL GROUP BY 1 ORDER BY 1",
                [p],
            ),
        ):
            target = entry["unmapped"] if col.unmapped else entry["invalid"]
            target.add(str(value), int(n), recs)
            if col.unmapped and not col.reject:
                entry["to_unknown"] += int(n)
    staged.column_reports = [
        ColumnReport(
            table=scan.name,
            column=key,
            source=e["source"],
            kind=e["kind"],
            missing=e["missing"],
            unmapped=e["unmapped"].freeze(),
            invalid=e["invalid"].freeze(),
            to_unknown=e["to_unknown"],
        )
        for key, e in tallies.items()
    ]
    rejections = []
    from migprofile.sources.report import Rejection

    for reason, tally in rejected.items():
        (vc,) = tally.freeze()
        rejections.append(Rejection(reason=reason, count=vc.count, records=vc.records))
    staged.report = TableReport(
        scan.name, tuple(files), rows_read, rows_read - n_rejected, tuple(rejections)
    )
    findings = [
        Finding("reader_note", "info", note, table=scan.name, file=file)
        for note, file in scan.notes
    ]
    policies = {c: (s.unmapped or scan.tm.unmapped) for c, s in scan.tm.columns.items()}
    return findings + _column_report_findings(staged.column_reports, policies)


def _column_report_findings(
    reports: Sequence[ColumnReport], policies: Mapping[str, str]
) -> list[Finding]:
    """read_source's findings of unmapped and invalid values, from the reports."""
    from migprofile.sources.harmonise import ColumnTally, TableTally

    if not reports:
        return []
    tally = TableTally(reports[0].table)
    for r in reports:
        ct = ColumnTally(r.table, r.column, r.source, r.kind)
        for vc in r.unmapped:
            ct.unmapped.add(vc.value, vc.count, vc.records)
        for vc in r.invalid:
            ct.invalid.add(vc.value, vc.count, vc.records)
        tally.columns[r.column] = ct
    return _column_findings(tally, policies)


# ------------------------------------------------------- final tables and derivations


def _kept(staged: _Staged, extra: Sequence[Sql] = (), part: int = 0, negate: bool = False) -> Sql:
    names = [c.name for c in staged.columns]
    cols = ", ".join(_q(n) for n in names)
    rec = f"-{_q(_REC)}" if negate else _q(_REC)
    pos = f"({part} * 1000 + {_q(_FILE)}) * 1099511627776 + {_q(_REC)}"
    more = _join(extra, ", ") if extra else ("", [])
    sep = ", " if extra else ""
    return (
        f"SELECT {cols}{sep}{more[0]}, {rec} AS {_q(_REC)}, {pos} AS {_q(_POS)} "
        f"FROM read_parquet(?) WHERE {_q(_SW)} IS NULL AND {_q(_RJ)} IS NULL",
        [*more[1], str(staged.path)],
    )


def _schema(con: duckdb.DuckDBPyConnection, sql: Sql) -> dict[str, str]:
    rel = con.execute(f"DESCRIBE {sql[0]}", sql[1]).fetchall()
    return {str(r[0]): str(r[1]) for r in rel}


def _cannot(message: str, **fields: Any) -> list[Finding]:
    return [Finding("cannot_derive", "error", message, **fields)]


_ARRIVAL_BINS = ((0, 0, "Y_LT1"), (1, 4, "Y1T4"), (5, 9, "Y5T9"), (10, 19, "Y10T19"))


@dataclass
class _Derived:
    """Derivations of one table: extra select expressions (over ``t``, with
    joins), and findings."""

    exprs: dict[str, Sql] = field(default_factory=dict)
    joins: list[Sql] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    after: list[Any] = field(default_factory=list)  # checks run on the written table


def _records_of(con: duckdb.DuckDBPyConnection, source: Sql, cond: Sql) -> tuple[int, list[int]]:
    (row,) = _fetch(
        con,
        (
            f"SELECT count(*), list({_q(_REC)} ORDER BY {_q(_POS)})[1:{EXAMPLES}] FROM "
            f"({source[0]}) t WHERE {cond[0]}",
            [*source[1], *cond[1]],
        ),
    )
    return int(row[0]), [int(r) for r in (row[1] or [])]


def _derive_persons(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
    name: str,
    source: Sql,
    cols: dict[str, str],
    work: Path,
) -> _Derived:
    """SQL for the mapping's derivations on the persons (or events) table
    (``work``: the folder for the households' member lines, parent_location)."""
    out = _Derived()
    have = set(cols)

    def col(name: str) -> str:
        return f"t.{_q(name)}"

    for rule in mapping.derive:
        if rule == "parent_location":
            if name != "persons":
                continue
            if not {"hh_id", "line_no"} <= have:
                out.findings.append(
                    Finding(
                        "cannot_derive",
                        "error",
                        "parent_location needs hh_id and line_no in persons",
                        table="persons",
                        expected="columns hh_id, line_no",
                    )
                )
                continue
            abroad = "coalesce(absent_abroad, FALSE)" if "absent_abroad" in have else "FALSE"
            # One row per household: the line numbers held by exactly one
            # member, those abroad and the others -- a narrow file, written
            # first and joined once on hh_id (two joins with a table of every
            # member did not fit in 500 MB at 10 million persons). A line
            # held by two members gives no location, as a missing one does.
            members = work / "_mp_members.parquet"
            _copy(
                con,
                (
                    "SELECT hh_id, list(line_no) FILTER (WHERE _mp_n = 1 AND _mp_ab) AS away, "
                    "list(line_no) FILTER (WHERE _mp_n = 1 AND NOT _mp_ab) AS home FROM "
                    f"(SELECT hh_id, line_no, count(*) AS _mp_n, any_value({abroad}) AS _mp_ab "
                    f"FROM ({source[0]}) WHERE hh_id IS NOT NULL AND line_no IS NOT NULL "
                    "GROUP BY hh_id, line_no) GROUP BY hh_id",
                    list(source[1]),
                ),
                members,
            )
            out.joins.append(
                (
                    "LEFT JOIN read_parquet(?) _mp_members ON _mp_members.hh_id = t.hh_id",
                    [str(members)],
                )
            )
            parent_loc = list(catalog.codelist("parent_loc").ids)
            for parent in ("mother", "father"):
                line_col, loc_col = f"{parent}_line", f"{parent}_loc"
                if line_col not in have:
                    continue
                line = col(line_col)
                status = (
                    f"CASE WHEN list_contains(_mp_members.away, {line}) THEN ? "
                    f"WHEN list_contains(_mp_members.home, {line}) THEN ? END",
                    ["ABROAD", "HOUSEHOLD"],
                )
                mapped = col(loc_col) if loc_col in have else "CAST(NULL AS VARCHAR)"
                value: Sql = (
                    f"CASE WHEN {line} IS NOT NULL THEN {status[0]} ELSE {mapped} END",
                    status[1],
                )
                out.exprs[loc_col] = (
                    f"CASE WHEN list_contains(?::VARCHAR[], {value[0]}) THEN {value[0]} END",
                    [parent_loc, *value[1], *value[1]],
                )
                out.after.append(("broken", line_col, loc_col))
        elif rule == "migrant_status":
            if name != "persons":
                continue
            if "migrant_status" in have:
                out.findings.append(
                    Finding(
                        "derivation_skipped",
                        "info",
                        "migrant_status is mapped from the source; not derived",
                        table="persons",
                    )
                )
                continue
            country = params.get("reporting_country")
            if not isinstance(country, str):
                out.findings += _cannot(
                    "migrant_status needs the parameter reporting_country", table="persons"
                )
                continue
            basis = str(params.get("migrant_basis", "COB"))
            column = {"COB": "country_of_birth", "CIT": "citizenship"}.get(basis)
            if column is None or column not in have:
                out.findings.append(
                    Finding(
                        "cannot_derive",
                        "error",
                        "migrant_status is derived on the basis COB (country_of_birth: FB/NB) "
                        "or CIT (citizenship: FC/NAT, STL when stateless), from that column",
                        table="persons",
                        value=basis,
                        expected="COB or CIT, with its column mapped",
                    )
                )
                continue
            geo = catalog.codelist("geo")
            special = sorted(
                set(geo.sets.get("special", ())) | {c for c in geo.ids if c.startswith("_")}
            )
            native, foreign = ("NB", "FB") if column == "country_of_birth" else ("NAT", "FC")
            v = col(column)
            expr = (
                f"CASE WHEN {v} IS NULL OR list_contains(?::VARCHAR[], {v}) THEN ? "
                f"WHEN {v} = ? THEN ? ELSE ? END",
                [special, "_U", country, native, foreign],
            )
            if column == "citizenship" and "stateless" in have:
                expr = (
                    f"CASE WHEN coalesce({col('stateless')}, FALSE) THEN ? ELSE {expr[0]} END",
                    ["STL", *expr[1]],
                )
            out.exprs["migrant_status"] = expr
        elif rule == "age_group":
            from migprofile.catalog.age import AgeCodeError, bin_ages, parse_age_code

            ages = catalog.codelist("age")
            groups = str(params.get("age_groups", "five_year"))
            try:
                codes = ages.group_codes(groups)
            except KeyError:
                out.findings += _cannot(
                    "age_groups names no set or level of the age codelist", value=groups
                )
                continue
            if "age" not in have or "age_group" in have:
                continue
            try:
                bin_ages(pd.Series([], dtype="float64"), list(codes))  # the overlap check
            except AgeCodeError as exc:
                out.findings.append(
                    Finding(
                        "cannot_derive",
                        "error",
                        f"age groups {groups!r}: {exc.reason}",
                        table=name,
                        column="age",
                    )
                )
                continue
            branches: list[Sql] = []
            for code in codes:
                interval = parse_age_code(code)
                if interval.hi is None:
                    branches.append(("WHEN floor(t.age) >= ? THEN ?", [interval.lo, code]))
                else:
                    branches.append(
                        ("WHEN floor(t.age) >= ? AND floor(t.age) <= ? THEN ?",
                         [interval.lo, interval.hi, code])
                    )  # fmt: skip
            case = _join(branches, " ")
            expr = (f"CASE {case[0]} END", case[1])
            n, recs = _records_of(
                con, source, (f"t.age IS NOT NULL AND ({expr[0]}) IS NULL", expr[1])
            )
            if n:
                (first,) = _fetch(
                    con,
                    (
                        f"SELECT arg_min(t.age, {_q(_POS)}) FROM ({source[0]}) t "
                        f"WHERE t.age IS NOT NULL AND ({expr[0]}) IS NULL",
                        [*source[1], *expr[1]],
                    ),
                )[0]
                out.findings.append(
                    Finding(
                        "cannot_derive",
                        "error",
                        f"age groups {groups!r}: age {math.floor(first):g} is in none of these "
                        "groups",
                        table=name,
                        column="age",
                    )
                )
                continue
            out.exprs["age_group"] = expr
        elif rule == "recent_immigrant":
            if name != "persons":
                continue
            country = params.get("reporting_country")
            if "country_1y_ago" not in have or not isinstance(country, str):
                out.findings += _cannot(
                    "recent_immigrant needs persons.country_1y_ago and reporting_country",
                    table="persons",
                )
                continue
            if "recent_immigrant" in have:
                continue
            geo = catalog.codelist("geo")
            unknown = [c for c in geo.ids if c.startswith("_")]
            v = col("country_1y_ago")
            young = f" OR {col('age')} < 1" if "age" in have else ""
            out.exprs["recent_immigrant"] = (
                f"CASE WHEN {v} IS NULL OR list_contains(?::VARCHAR[], {v}){young} THEN NULL "
                f"ELSE {v} <> ? END",
                [unknown, country],
            )
        elif rule == "years_since_arrival":
            if name != "persons":
                continue
            if "year_of_arrival" not in have:
                out.findings += _cannot(
                    "years_since_arrival needs persons.year_of_arrival", table="persons"
                )
                continue
            if "years_since_arrival" in have:
                continue
            years = f"(? - {col('year_of_arrival')})"
            parts: list[Sql] = [(f"WHEN {col('year_of_arrival')} IS NULL THEN NULL", [])]
            parts.append((f"WHEN {years} < 0 THEN ?", [mapping.year, "_U"]))
            for lo, hi, code in _ARRIVAL_BINS:
                parts.append((f"WHEN {years} >= ? AND {years} <= ? THEN ?",
                              [mapping.year, lo, mapping.year, hi, code]))  # fmt: skip
            parts.append((f"WHEN {years} >= 20 THEN ?", [mapping.year, "Y_GE20"]))
            case = _join(parts, " ")
            out.exprs["years_since_arrival"] = (f"CASE {case[0]} ELSE ? END", [*case[1], "_U"])
            n, recs = _records_of(con, source, (f"{col('year_of_arrival')} > ?", [mapping.year]))
            if n:
                out.findings.append(
                    Finding(
                        "arrival_after_reference",
                        "warning",
                        "year of arrival after the reference year; coded unknown",
                        table="persons",
                        column="year_of_arrival",
                        count=n,
                        records=tuple(recs),
                    )
                )
        elif rule == "n_members_abroad":
            pass  # on households, after persons are written
        else:
            if name == "persons":
                from migprofile.sources.census import DERIVATIONS

                out.findings.append(
                    Finding(
                        "unknown_derivation",
                        "error",
                        "no such derivation",
                        value=rule,
                        expected="one of " + ", ".join(DERIVATIONS),
                    )
                )
    return out


def _final_select(source: Sql, derived: _Derived, cols: Sequence[str], helpers: bool) -> Sql:
    """The final table's SELECT: every column of ``source`` (the helper
    columns only when ``helpers``), the derived ones and ``_one``."""
    items: list[Sql] = []
    for c in cols:
        if c in derived.exprs or (not helpers and c in _HELPERS):
            continue
        items.append((f"t.{_q(c)}", []))
    for c, expr in derived.exprs.items():
        items.append((f"{expr[0]} AS {_q(c)}", expr[1]))
    select = _join(items, ", ")
    joins = _join(derived.joins, " ") if derived.joins else ("", [])
    return (
        f"SELECT {select[0]}, CAST(1.0 AS DOUBLE) AS {_q(ONE)} FROM ({source[0]}) t {joins[0]}",
        [*select[1], *source[1], *joins[1]],
    )


def _write_final(
    con: duckdb.DuckDBPyConnection,
    source: Sql,
    derived: _Derived,
    cols: Sequence[str],
    path: Path,
) -> None:
    """The final table (every column and the derived ones, without the
    helpers: the checks read the staging files) into ``path``, in the
    order of ``source``."""
    _copy(con, _final_select(source, derived, cols, helpers=False), path)


# ----------------------------------------------------------------------- checks


def _checks(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    files: Mapping[str, Sql],
) -> list[Finding]:
    """read_source's validation checks, as SQL aggregates over the tables'
    kept records (``files``: each table's SELECT over its staging file, with
    the helper columns; the checks read no derived column)."""
    from migprofile.sources.checks import AGE_MAX, AGE_MIN

    schemas = {name: _schema(con, sql) for name, sql in files.items()}

    def table(name: str) -> Sql:
        return f"({files[name][0]})", list(files[name][1])

    def cols(name: str) -> set[str]:
        return set(schemas[name])

    def finding(
        code: str, severity: Any, message: str, name: str, cond: Sql, **kw: Any
    ) -> list[Finding]:
        src = table(name)
        n, recs = _records_of(con, (f"SELECT * FROM {src[0]}", src[1]), cond)
        if not n:
            return []
        return [Finding(code, severity, message, table=name, count=n, records=tuple(recs), **kw)]

    out: list[Finding] = []
    # duplicate keys
    for table_name, tm in mapping.tables.items():
        name: str = table_name
        if not tm.key or name not in files or name == "absent":
            continue
        key = ", ".join(f"t.{_q(k)}" for k in tm.key)
        notnull = " AND ".join(f"t.{_q(k)} IS NOT NULL" for k in tm.key)
        src = table(name)
        dup_sql = (
            f"SELECT * FROM (SELECT *, count(*) OVER (PARTITION BY {key}) AS _mp_n "
            f"FROM {src[0]} t) WHERE _mp_n > 1 AND {notnull.replace('t.', '')}",
            src[1],
        )
        n, recs = _records_of(con, dup_sql, ("TRUE", []))
        if n:
            texts = ", ".join(_text_of(k, "VARCHAR") for k in tm.key)
            first = _fetch(
                con,
                (
                    f"SELECT {', '.join(_q(k) for k in tm.key)} FROM ({dup_sql[0]}) "
                    f"ORDER BY {_q(_POS)} LIMIT 1",
                    dup_sql[1],
                ),
            )[0]
            del texts
            out.append(
                Finding(
                    "duplicate_key",
                    "error",
                    f"rows share the key ({', '.join(tm.key)})",
                    table=name,
                    column=",".join(tm.key),
                    count=n,
                    value="/".join(source_text(v) for v in first),
                    expected="a unique key",
                    records=tuple(recs),
                )
            )
    # ages
    for name in ("persons", "events"):
        if name not in files or "age" not in cols(name):
            continue
        cond: Sql = ("t.age IS NOT NULL AND (t.age < ? OR t.age > ?)", [AGE_MIN, AGE_MAX])
        src = table(name)
        found = finding("age_out_of_range", "error", "age outside the possible range", name, cond,
                        column="age", expected=f"{AGE_MIN} to {AGE_MAX}")  # fmt: skip
        if found:
            (first,) = _fetch(
                con,
                (f"SELECT arg_min(t.age, {_q(_POS)}) FROM {src[0]} t WHERE {cond[0]}",
                 [*src[1], *cond[1]]),
            )[0]  # fmt: skip
            found = [Finding(**{**found[0].__dict__, "value": source_text(first)})]
        out += found
    # weights
    design = mapping.design
    wcol = design.weights if design is not None and design.weights else "weight"
    for name in files:
        if wcol not in cols(name):
            continue
        w = f"t.{_q(wcol)}"
        out += finding(
            "weight_missing",
            "error",
            "row without a weight",
            name,
            (f"{w} IS NULL", []),
            column=wcol,
            expected="a positive number",
        )
        neg = finding("weight_negative", "error", "negative weight", name,
                      (f"{w} < 0", []), column=wcol, expected="a positive number")  # fmt: skip
        if neg:
            src = table(name)
            (first,) = _fetch(
                con,
                (f"SELECT arg_min({w}, {_q(_POS)}) FROM {src[0]} t WHERE {w} < 0", src[1]),
            )[0]
            neg = [Finding(**{**neg[0].__dict__, "value": source_text(first)})]
        out += neg
        out += finding("weight_zero", "warning", "zero weight: the row counts for nothing", name,
                       (f"{w} = 0", []), column=wcol)  # fmt: skip
    # single-PSU strata
    if design is not None and design.strata and design.psu:
        for name in files:
            have = cols(name)
            if design.strata not in have or design.psu[0] not in have:
                continue
            s, u = _q(design.strata), _q(design.psu[0])
            src = table(name)
            lonely = _fetch(
                con,
                (
                    f"SELECT {s} FROM {src[0]} GROUP BY {s} HAVING count(DISTINCT {u}) = 1 "
                    f"ORDER BY {s} NULLS LAST",
                    src[1],
                ),
            )
            if lonely:
                values = [r[0] for r in lonely]
                out += finding(
                    "single_psu_stratum",
                    "warning",
                    f"{len(values)} stratum/strata with a single PSU "
                    f"(e.g. {source_text(values[0])}); lonely_psu policy: {design.lonely_psu}",
                    name,
                    (f"t.{s} IN (SELECT {s} FROM {src[0]} GROUP BY {s} HAVING "
                     f"count(DISTINCT {u}) = 1)", src[1]),
                    column=design.strata,
                )  # fmt: skip
    # households and their members
    if (
        "persons" in files
        and "households" in files
        and "hh_id" in cols("persons")
        and "hh_id" in cols("households")
    ):
        p, h = table("persons"), table("households")
        empty = finding(
            "household_without_members", "warning", "no person belongs to this household",
            "households",
            (f"t.hh_id NOT IN (SELECT hh_id FROM {p[0]} WHERE hh_id IS NOT NULL)", p[1]),
            column="hh_id",
        )  # fmt: skip
        if empty:
            (first,) = _fetch(con, (
                f"SELECT arg_min(t.hh_id, {_q(_POS)}) FROM {h[0]} t WHERE t.hh_id NOT IN "
                f"(SELECT hh_id FROM {p[0]} WHERE hh_id IS NOT NULL)",
                [*h[1], *p[1]]))[0]  # fmt: skip
            empty = [Finding(**{**empty[0].__dict__, "value": source_text(first)})]
        out += empty
        orphan = finding(
            "person_without_household", "error",
            "the person's household is not in the households table", "persons",
            (f"t.hh_id IS NOT NULL AND t.hh_id NOT IN (SELECT hh_id FROM {h[0]} "
             "WHERE hh_id IS NOT NULL)", h[1]),
            column="hh_id",
        )  # fmt: skip
        if orphan:
            (first,) = _fetch(con, (
                f"SELECT arg_min(t.hh_id, {_q(_POS)}) FROM {p[0]} t WHERE t.hh_id IS NOT "
                f"NULL AND t.hh_id NOT IN (SELECT hh_id FROM {h[0]} WHERE hh_id IS NOT NULL)",
                [*p[1], *h[1]]))[0]  # fmt: skip
            orphan = [Finding(**{**orphan[0].__dict__, "value": source_text(first)})]
        out += orphan
    # future dates
    import datetime as dt

    limit_text = mapping.reference_date
    limit = pd.Timestamp(limit_text) if limit_text else pd.Timestamp(dt.date.today())
    for name in files:
        for column, dtype in schemas[name].items():
            if not dtype.upper().startswith("TIMESTAMP") or column in _HELPERS:
                continue
            c = f"t.{_q(column)}"
            late = finding(
                "future_date", "error",
                "date after the reference date" if limit_text else "date in the future",
                name, (f"{c} > ?", [limit.to_pydatetime()]), column=column,
                expected=f"on or before {limit.date()}",
            )  # fmt: skip
            if late:
                src = table(name)
                (first,) = _fetch(con, (
                    f"SELECT arg_min({c}, {_q(_POS)}) FROM {src[0]} t WHERE {c} > ?",
                    [*src[1], limit.to_pydatetime()]))[0]  # fmt: skip
                late = [Finding(**{**late[0].__dict__, "value": str(pd.Timestamp(first).date())})]
            out += late
    return out


# ------------------------------------------------------------------------ entry


def _check_supported(mapping: SourceMapping) -> None:
    for table_name, tm in mapping.tables.items():
        name: str = table_name
        if tm.unpivot is not None:
            raise ScanUnsupportedError(mapping.id, name, "unpivot (wide published tables)")
        for spec in tm.files:
            fmt = spec.resolved_format()
            if fmt not in ("csv", "parquet"):
                raise ScanUnsupportedError(
                    mapping.id, name,
                    f"file {spec.path}: the {fmt} format (scan_source reads CSV and Parquet)",
                )  # fmt: skip
            if fmt == "csv" and _codec_name(spec.encoding) != "utf-8":
                raise ScanUnsupportedError(
                    mapping.id, name,
                    f"file {spec.path}: encoding {spec.encoding!r} (DuckDB reads UTF-8 only); "
                    "convert the file to UTF-8",
                )  # fmt: skip


def _connect(work: Path, memory_limit: str, threads: int | None) -> duckdb.DuckDBPyConnection:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a declared extra
        from migprofile.sources.readers import MissingExtraError

        raise MissingExtraError("duckdb", "duckdb", "scan_source") from None
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": str(work / "spill"),
        "preserve_insertion_order": True,
    }
    if threads is not None:
        config["threads"] = threads
    return duckdb.connect(config=config)


def _persons_source(staged: Mapping[str, _Staged], con: duckdb.DuckDBPyConnection) -> Sql:
    """Kept persons, with the absent roster appended (``absent_abroad`` true,
    ``usual_resident`` false unless mapped; record numbers negative).

    Both staging files are read by one ``read_parquet`` (columns by name),
    not a ``UNION ALL``: an aggregate over the union of two scans ran out
    of memory now and then at 500 MB, one scan over two files did not."""
    persons = staged["persons"]
    if "absent" not in staged:
        return _kept(persons)
    absent = staged["absent"]
    p_names = [c.name for c in persons.columns]
    a_names = [c.name for c in absent.columns]
    # the columns of ``persons UNION ALL BY NAME absent``, in its order
    names = [*p_names]
    if "absent_abroad" not in p_names:
        names.append("absent_abroad")
    extra = [n for n in a_names if n not in names]
    if "usual_resident" not in a_names and "usual_resident" not in names:
        extra.append("usual_resident")
    part = _q("_mp_part")
    items: list[str] = []
    for n in [*names, *extra]:
        c = _q(n)
        if n == "absent_abroad" and n not in a_names:
            value = f"CASE WHEN {part} = 1 THEN TRUE ELSE {c if n in p_names else 'FALSE'} END"
        elif n == "absent_abroad" and n not in p_names:
            value = f"CASE WHEN {part} = 0 THEN FALSE ELSE {c} END"
        elif n == "usual_resident" and n not in a_names:
            value = f"CASE WHEN {part} = 1 THEN FALSE ELSE {c if n in p_names else 'NULL'} END"
        else:
            value = c
        items.append(value if value == c else f"{value} AS {c}")
    rec, pos = _q(_REC), _q(_POS)
    return (
        f"SELECT {', '.join(items)}, CASE WHEN {part} = 1 THEN -{rec} ELSE {rec} END AS {rec}, "
        f"({part} * 1000 + {_q(_FILE)}) * 1099511627776 + {rec} AS {pos} "
        f"FROM (SELECT *, CAST(filename = ? AS INTEGER) AS {part} "
        f"FROM read_parquet(?, union_by_name = true)) "
        f"WHERE {_q(_SW)} IS NULL AND {_q(_RJ)} IS NULL",
        [str(absent.path), [str(persons.path), str(absent.path)]],
    )


def scan_source(
    mapping: SourceMapping | str | Path,
    *,
    out_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    params: Mapping[str, object] | None = None,
    base: str | Path | None = None,
    strict: bool | None = None,
    memory_limit: str = "2GB",
    threads: int | None = None,
) -> ScannedDataset:
    """Harmonise a source inside DuckDB and write each table as Parquet.

    The same dataset as :func:`~migprofile.sources.read.read_source` (and the
    same reconciliation report), without holding records in pandas: see the
    module's documentation for how each step is translated. ``out_dir`` is
    the folder the tables are written to (``<table>.parquet``); ``None``
    writes them to a temporary folder that lives as long as the returned
    :class:`ScannedDataset`. ``catalog``, ``params``, ``base`` and ``strict``
    are as in ``read_source``; ``memory_limit`` and ``threads`` are DuckDB's
    settings (operators spill to a temporary folder beyond the limit).

    Raises :class:`ScanUnsupportedError` when the mapping uses what cannot
    run in DuckDB, and :class:`~migprofile.sources.read.SourceError` (with
    the report) when the source has errors, as ``read_source`` does.
    """
    if isinstance(mapping, SourceMapping):
        folder = Path(base) if base is not None else Path(".")
    else:
        mapping, folder = load_mapping(mapping)
        folder = Path(base) if base is not None else folder
    _check_supported(mapping)
    cat, crosswalks, merged = _context(mapping, folder, catalog, params)
    strict = mapping.strict if strict is None else strict
    preflight = _preflight(mapping, folder, cat, crosswalks)
    if preflight:
        report = ReconciliationReport(mapping.id, (), (), tuple(preflight))
        raise SourceError(report, f"source {mapping.id!r}: the mapping does not fit the data")

    keep: tempfile.TemporaryDirectory[str] | None = None
    if out_dir is None:
        keep = tempfile.TemporaryDirectory(prefix="migprofile-scan-")
        out = Path(keep.name)
    else:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="migprofile-scan-work-") as work_name:
        work = Path(work_name)
        con = _connect(work, memory_limit, threads)
        try:
            tables, report = _scan(con, mapping, folder, cat, crosswalks, merged, work, out)
        finally:
            con.close()
    if not report.ok:
        raise SourceError(report, f"source {mapping.id!r} has errors")
    if strict and report.warnings():
        raise SourceError(report, f"source {mapping.id!r} failed strict checks")
    provenance = {f.path: f.checksum for t in report.tables for f in t.files}
    return ScannedDataset(
        MappingProxyType(tables),
        mapping,
        cat,
        report,
        MappingProxyType(provenance),
        out,
        keep,
    )


def _scan(
    con: duckdb.DuckDBPyConnection,
    mapping: SourceMapping,
    folder: Path,
    catalog: Catalog,
    crosswalks: Mapping[str, Crosswalk],
    params: Mapping[str, object],
    work: Path,
    out: Path,
) -> tuple[dict[str, str], ReconciliationReport]:
    import duckdb

    findings: list[Finding] = []
    table_reports: list[TableReport] = []
    column_reports: list[ColumnReport] = []
    staged: dict[str, _Staged] = {}
    for table_name, tm in mapping.tables.items():
        name: str = table_name
        try:
            scan = _plan_table(con, mapping, name, tm, folder)
            st = _stage_table(con, scan, catalog, crosswalks, params, work)
        except SourceReadError as exc:
            findings.extend(Finding.from_problem(p, name) for p in exc.problems)
            continue
        except duckdb.Error as exc:
            findings.append(
                Finding(
                    "read_error", "error", f"DuckDB could not read the table: {exc}", table=name
                )
            )
            continue
        findings.extend(_tally(con, st, scan))
        if st.report is not None:
            table_reports.append(st.report)
        column_reports.extend(st.column_reports)
        staged[name] = st
    # Each table is written once, straight into ``out``, without the helper
    # columns: the checks read the kept records of the staging files
    # (``sources``, with the helpers), never the written tables.
    tables: dict[str, str] = {}
    sources: dict[str, Sql] = {}
    if all(f.severity != "error" for f in findings):
        # persons first: the households' n_members_abroad counts its absent members
        order = sorted(staged, key=lambda n: n != "persons")
        for name in order:
            st = staged[name]
            if name == "absent":
                continue
            source = _persons_source(staged, con) if name == "persons" else _kept(st)
            sources[name] = source
            schema = _schema(con, source)
            cols = list(schema)
            derived = (
                _derive_persons(con, mapping, catalog, params, name, source, schema, work)
                if name in ("persons", "events")
                else _Derived()
            )
            if name == "households" and "n_members_abroad" in mapping.derive:
                persons = sources.get("persons")
                if persons is None or "absent_abroad" not in _schema(con, persons):
                    derived.findings += _cannot(
                        "n_members_abroad needs households and persons with absent_abroad",
                        table="households",
                    )
                elif "n_members_abroad" not in cols:
                    derived.joins.append(
                        (
                            f"LEFT JOIN (SELECT hh_id, count(*) AS n FROM ({persons[0]}) "
                            "WHERE coalesce(absent_abroad, FALSE) GROUP BY hh_id) _mp_abroad "
                            "ON _mp_abroad.hh_id = t.hh_id",
                            list(persons[1]),
                        )
                    )
                    derived.exprs["n_members_abroad"] = (
                        "CAST(coalesce(_mp_abroad.n, 0) AS DOUBLE)",
                        [],
                    )
            findings.extend(derived.findings)
            target = out / f"{name}.parquet"
            _write_final(con, source, derived, cols, target)
            tables[name] = str(target)
            for _kind, line_col, loc_col in (a for a in derived.after if a[0] == "broken"):
                broken: Sql = (f"t.{_q(line_col)} IS NOT NULL AND t.{_q(loc_col)} IS NULL", [])
                (row,) = _fetch(
                    con,
                    (f"SELECT count(*) FROM read_parquet(?) t WHERE {broken[0]}", [str(target)]),
                )
                if not row[0]:
                    continue
                # rare: the example records need the join again, with the helpers
                n, recs = _records_of(
                    con, _final_select(source, derived, cols, helpers=True), broken
                )
                findings.append(
                    Finding(
                        "broken_parent_pointer",
                        "warning",
                        f"{line_col} points at no member of the household; {loc_col} left missing",
                        table="persons",
                        column=line_col,
                        count=n,
                        records=tuple(recs),
                    )
                )
        if all(f.severity != "error" for f in findings):
            findings.extend(_checks(con, mapping, sources))
    findings = [_locate(f, mapping) for f in findings]
    report = ReconciliationReport(
        mapping.id, tuple(table_reports), tuple(column_reports), tuple(findings)
    )
    return tables, report
