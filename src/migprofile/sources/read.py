"""``read_source``: a source mapping in, a harmonised :class:`Dataset` out.

Every record is accounted for in the dataset's
:class:`~migprofile.sources.report.ReconciliationReport`. By default an
unmapped code goes to the dimension's unknown code and is reported; with
``strict`` the read fails with the full report when any error or warning was
found. Problems with the mapping itself (unknown dimensions, crosswalks,
columns missing from the files) are all collected before anything is raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Generic, TypeVar

import pandas as pd

from migprofile.catalog.loader import Catalog, load_catalog
from migprofile.catalog.models import Crosswalk
from migprofile.errors import MigprofileError, Problem
from migprofile.sources.files import FileSpec
from migprofile.sources.harmonise import RECORD, Context, TableTally, harmonise_chunk
from migprofile.sources.mapping import (
    DesignSpec,
    SourceMapping,
    TableMapping,
    TableName,
    load_mapping,
)
from migprofile.sources.readers import (
    RawTable,
    SourceReadError,
    file_checksum,
    iter_file,
    list_columns,
    read_file,
)
from migprofile.sources.report import (
    ColumnReport,
    FileReport,
    Finding,
    ReconciliationReport,
    TableReport,
)

__all__ = ["Dataset", "SourceError", "iter_source", "read_source"]

# The harmonised grain of each table of a mapping.
GRAIN = {
    "persons": "persons",
    "absent": "persons",
    "households": "households",
    "events": "events",
    "series": "series",
}


class SourceError(ValueError, MigprofileError):
    """A source could not be read as mapped; ``report`` says everything found."""

    def __init__(self, report: ReconciliationReport, headline: str) -> None:
        self.report = report
        super().__init__(f"{headline}\n{report.to_text()}")


T = TypeVar("T")


class HarmonisedTables(Generic[T]):
    """What a harmonised dataset offers whatever holds its tables (data frames
    in memory, or Parquet files for :func:`~migprofile.sources.scan_source`):
    the main table, the source id, the declared design, tables by name."""

    tables: Mapping[str, T]
    mapping: SourceMapping

    @property
    def frame(self) -> T:
        """The main table: persons when there is one, else the only/first table."""
        if "persons" in self.tables:
            return self.tables["persons"]
        return next(iter(self.tables.values()))

    @property
    def source(self) -> str:
        return self.mapping.id

    @property
    def design(self) -> DesignSpec | None:
        """The sample design the mapping declares (``None`` for a census or register)."""
        return self.mapping.design

    def __getitem__(self, table: str) -> T:
        try:
            return self.tables[table]
        except KeyError:
            raise KeyError(
                f"source {self.mapping.id!r} has no table {table!r}; it has {sorted(self.tables)}"
            ) from None

    def __contains__(self, table: object) -> bool:
        return table in self.tables


@dataclass(frozen=True)
class Dataset(HarmonisedTables[pd.DataFrame]):
    """A harmonised dataset: its tables, the mapping and catalogue that made
    them, the provenance of its files and the reconciliation report."""

    tables: Mapping[str, pd.DataFrame]
    mapping: SourceMapping
    catalog: Catalog = field(repr=False)
    report: ReconciliationReport = field(repr=False)
    provenance: Mapping[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ the mapping vs the catalogue


def _crosswalks(mapping: SourceMapping, catalog: Catalog) -> dict[str, Crosswalk]:
    """The catalogue's crosswalks, the mapping's own, and the attribute
    crosswalks (``geo.m49``, ``geo.alpha2``) that the mapping names."""
    out = dict(catalog.crosswalks)
    out.update({c.id: c for c in mapping.crosswalks})
    for tm in mapping.tables.values():
        for spec in tm.columns.values():
            name = spec.crosswalk
            if name is None or name in out or "." not in name:
                continue
            codelist_id, _, attribute = name.partition(".")
            codelist = catalog.codelists.get(codelist_id)
            if codelist is None:
                continue
            try:
                out[name] = codelist.attribute_crosswalk(attribute)
            except KeyError:
                continue  # reported as an unknown crosswalk by the preflight
    return out


def _preflight(
    mapping: SourceMapping, base: Path, catalog: Catalog, crosswalks: Mapping[str, Crosswalk]
) -> list[Finding]:
    """Everything that can be checked without reading the data."""
    found: list[Finding] = []
    for name, tm in mapping.tables.items():
        grain = GRAIN[name]
        for column, spec in tm.columns.items():
            dim = catalog.dimensions.get(column)
            if dim is None:
                found.append(
                    Finding(
                        "unknown_dimension",
                        "error",
                        "not a dimension of the catalogue",
                        table=name,
                        column=column,
                    )
                )
                continue
            if grain not in dim.tables:
                found.append(
                    Finding(
                        "column_not_in_table",
                        "error",
                        f"{column!r} is not a column of the {grain} table",
                        table=name,
                        column=column,
                        expected=", ".join(dim.tables),
                    )
                )
            if spec.crosswalk is not None:
                cw = crosswalks.get(spec.crosswalk)
                if cw is None:
                    found.append(
                        Finding(
                            "unknown_crosswalk",
                            "error",
                            "no such crosswalk",
                            table=name,
                            column=column,
                            value=spec.crosswalk,
                        )
                    )
                elif dim.codelist is not None and cw.target != dim.codelist:
                    found.append(
                        Finding(
                            "crosswalk_mismatch",
                            "error",
                            f"crosswalk {cw.id!r} gives codes of {cw.target!r}; "
                            f"{column!r} takes codes of {dim.codelist!r}",
                            table=name,
                            column=column,
                            value=cw.id,
                        )
                    )
                elif dim.kind != "coded":
                    found.append(
                        Finding(
                            "crosswalk_on_uncoded",
                            "error",
                            f"{column!r} is {dim.kind}; crosswalks recode coded dimensions",
                            table=name,
                            column=column,
                        )
                    )
            if spec.scale is not None and dim.kind != "numeric":
                found.append(
                    Finding(
                        "scale_on_non_numeric",
                        "error",
                        f"{column!r} is {dim.kind}; 'scale' multiplies numeric columns",
                        table=name,
                        column=column,
                        value=str(spec.scale),
                    )
                )
        if tm.unpivot is None:
            sources = sorted({s.source for s in tm.columns.values() if s.source is not None})
            for file_spec in tm.files:
                wanted = _file_columns(file_spec, sources) or []
                found.extend(_missing_columns(file_spec, base, name, wanted))
        for file_spec in tm.files:
            if not file_spec.resolve(base).is_file():
                found.append(
                    Finding(
                        "missing_file",
                        "error",
                        "no such file",
                        table=name,
                        file=str(file_spec.resolve(base)),
                    )
                )
    for name, tm in mapping.tables.items():
        if tm.replicates is None:
            continue
        for file_spec in tm.files:
            if not file_spec.resolve(base).is_file():
                continue
            try:
                found_names = tm.replicates.matching(list_columns(file_spec, base))
            except SourceReadError:
                continue  # reported by the column check above
            if len(found_names) < 2:
                found.append(
                    Finding(
                        "missing_replicates",
                        "error",
                        "fewer than two columns match the replicate-weight pattern",
                        table=name,
                        file=file_spec.path,
                        value=tm.replicates.source,
                    )
                )
    if mapping.design is not None:
        persons_like = {c for n, tm in mapping.tables.items() for c in tm.columns}
        prefixes = tuple(
            tm.replicates.prefix for tm in mapping.tables.values() if tm.replicates is not None
        )
        for column in mapping.design.columns():
            if column not in persons_like and not (prefixes and column.startswith(prefixes)):
                found.append(
                    Finding(
                        "unknown_design_column",
                        "error",
                        "the design names a column the mapping does not make",
                        column=column,
                    )
                )
    return found


def _missing_columns(spec: FileSpec, base: Path, table: str, wanted: list[str]) -> list[Finding]:
    path = spec.resolve(base)
    if not path.is_file():
        return []
    try:
        available = set(list_columns(spec, base))
    except SourceReadError as exc:
        return [Finding.from_problem(p, table) for p in exc.problems]
    return [
        Finding(
            "missing_column",
            "error",
            "the file has no such column",
            table=table,
            column=column,
            file=spec.path,
            expected="one of " + ", ".join(sorted(available)),
        )
        for column in wanted
        if column not in available
    ]


# --------------------------------------------------------------------------- reading


def _raw_chunks(
    spec: FileSpec, base: Path, columns: list[str] | None, chunksize: int | None
) -> Iterator[RawTable]:
    if chunksize is None:
        yield read_file(spec, base, columns=columns)
    else:
        yield from iter_file(spec, base, columns=columns, chunksize=chunksize)


def _file_columns(spec: FileSpec, columns: list[str] | None) -> list[str] | None:
    """The file's own names of the source columns a mapping uses."""
    if columns is None:
        return None
    original = {new: old for old, new in spec.rename.items()}
    return [original.get(c, c) for c in columns if c not in spec.assign]


def _assign(raw: RawTable, spec: FileSpec) -> RawTable:
    frame = raw.frame.rename(columns=spec.rename) if spec.rename else raw.frame
    clash = sorted(set(spec.assign) & set(frame.columns))
    if clash:
        raise SourceReadError(
            [
                Problem(
                    "assign_clash",
                    "'assign' would overwrite a column of the file",
                    file=raw.file,
                    field=", ".join(clash),
                )
            ]
        )
    return replace(raw, frame=frame.assign(**spec.assign))


def _read_table(
    name: str,
    tm: TableMapping,
    base: Path,
    ctx: Context,
    chunksize: int | None,
) -> tuple[Iterator[pd.DataFrame], TableTally, list[FileReport]]:
    tally = TableTally(name)
    files: list[FileReport] = []
    columns = (
        None
        if tm.unpivot is not None
        else sorted({s.source for s in tm.columns.values() if s.source is not None})
    )
    if columns is not None and tm.replicates is not None:
        # replicate columns are found by pattern in each file: read them all
        columns = (
            None
            if len(tm.files) > 1
            else [*columns, *tm.replicates.matching(list_columns(tm.files[0], base))]
        )

    def chunks() -> Iterator[pd.DataFrame]:
        for spec in tm.files:
            records = 0
            for raw in _raw_chunks(spec, base, _file_columns(spec, columns), chunksize):
                if spec.assign or spec.rename:
                    raw = _assign(raw, spec)
                records += len(raw.frame)
                yield harmonise_chunk(raw, name, tm, ctx, tally)
                if raw.notes:
                    tally.findings.extend(
                        Finding("reader_note", "info", note, table=name, file=raw.file)
                        for note in raw.notes
                    )
            path = spec.resolve(base)
            files.append(
                FileReport(
                    str(spec.path) + (f" [{spec.sheet}]" if spec.sheet is not None else ""),
                    spec.resolved_format() or "",
                    file_checksum(path),
                    records,
                )
            )

    return chunks(), tally, files


def _column_findings(tally: TableTally, strict_policy: Mapping[str, str]) -> list[Finding]:
    out: list[Finding] = []
    for col in tally.columns.values():
        for vc in col.unmapped.freeze():
            to_unknown = strict_policy.get(col.column) == "unknown"
            out.append(
                Finding(
                    "unmapped_code",
                    "warning" if to_unknown else "error",
                    "source code not in the crosswalk or codelist"
                    + ("; mapped to the unknown code" if to_unknown else "; rows rejected"),
                    table=tally.table,
                    column=col.column,
                    count=vc.count,
                    value=vc.value,
                    records=vc.records,
                )
            )
        for vc in col.invalid.freeze():
            out.append(
                Finding(
                    "invalid_value",
                    "warning",
                    f"not a valid {col.kind} value; read as missing",
                    table=tally.table,
                    column=col.column,
                    count=vc.count,
                    value=vc.value,
                    records=vc.records,
                )
            )
    return out


def _context(
    mapping: SourceMapping, base: Path, catalog: Catalog | None, params: Mapping[str, object] | None
) -> tuple[Catalog, dict[str, Crosswalk], dict[str, object]]:
    if catalog is None:
        catalog = load_catalog(*(base / p for p in mapping.catalog))
    crosswalks = _crosswalks(mapping, catalog)
    merged: dict[str, object] = {"ref_year": mapping.year}
    merged.update(mapping.parameters)
    merged.update(params or {})
    return catalog, crosswalks, merged


def _locate(finding: Finding, mapping: SourceMapping) -> Finding:
    """Name the file of a finding about a table that comes from one file."""
    if finding.file is not None or finding.table not in mapping.tables:
        return finding
    files = mapping.tables[finding.table].files
    if finding.table == "persons" and "absent" in mapping.tables:
        return finding  # persons joins two rosters: the records say which
    return replace(finding, file=files[0].path) if len(files) == 1 else finding


def read_source(
    mapping: SourceMapping | str | Path,
    *,
    base: str | Path | None = None,
    catalog: Catalog | None = None,
    params: Mapping[str, object] | None = None,
    strict: bool | None = None,
    chunksize: int | None = None,
) -> Dataset:
    """Read a source through its mapping into a harmonised :class:`Dataset`.

    ``mapping`` is a :class:`SourceMapping` or the path of its YAML file
    (relative file paths in it start from the file's folder, or from ``base``).
    ``catalog`` defaults to the bundled catalogue plus the mapping's own
    ``catalog`` folders. ``params`` override the mapping's parameters
    (``reporting_country``, ...). ``strict`` overrides the mapping's setting.
    ``chunksize`` streams each file in chunks of that many records (the
    result is the same as one read).
    """
    if isinstance(mapping, SourceMapping):
        folder = Path(base) if base is not None else Path(".")
    else:
        mapping, folder = load_mapping(mapping)
        folder = Path(base) if base is not None else folder
    cat, crosswalks, merged = _context(mapping, folder, catalog, params)
    strict = mapping.strict if strict is None else strict

    preflight = _preflight(mapping, folder, cat, crosswalks)
    if preflight:
        report = ReconciliationReport(mapping.id, (), (), tuple(preflight))
        raise SourceError(report, f"source {mapping.id!r}: the mapping does not fit the data")

    tables: dict[str, pd.DataFrame] = {}
    table_reports: list[TableReport] = []
    column_reports: list[ColumnReport] = []
    findings: list[Finding] = []
    provenance: dict[str, str] = {}
    for name, tm in mapping.tables.items():
        ctx = Context(cat, crosswalks, merged)
        chunks, tally, files = _read_table(name, tm, folder, ctx, chunksize)
        try:
            parts = list(chunks)
        except SourceReadError as exc:
            findings.extend(Finding.from_problem(p, name) for p in exc.problems)
            continue
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        tables[name] = frame
        policies = {c: (s.unmapped or tm.unmapped) for c, s in tm.columns.items()}
        findings.extend(tally.findings)
        findings.extend(_column_findings(tally, policies))
        table_reports.append(
            TableReport(name, tuple(files), tally.rows_read, tally.rows_kept, tally.rejections())
        )
        column_reports.extend(c.freeze() for c in tally.columns.values())
        for f in files:
            provenance[f.path] = f.checksum

    if not findings or all(f.severity != "error" for f in findings):
        from migprofile.sources.census import attach_absent, derive

        attach_absent(tables, mapping)
        findings.extend(derive(tables, mapping, cat, merged))
    partial = Dataset(
        MappingProxyType(tables),
        mapping,
        cat,
        ReconciliationReport(mapping.id, tuple(table_reports), tuple(column_reports), ()),
        MappingProxyType(provenance),
    )
    if all(f.severity != "error" for f in findings):
        from migprofile.sources.checks import run_checks

        findings.extend(run_checks(partial, merged))
    for table_name, frame in list(tables.items()):
        if RECORD in frame.columns:
            tables[table_name] = frame.drop(columns=RECORD)
    findings = [_locate(f, mapping) for f in findings]
    report = ReconciliationReport(
        mapping.id, tuple(table_reports), tuple(column_reports), tuple(findings)
    )
    dataset = Dataset(MappingProxyType(tables), mapping, cat, report, MappingProxyType(provenance))
    if not report.ok:
        raise SourceError(report, f"source {mapping.id!r} has errors")
    if strict and report.warnings():
        raise SourceError(report, f"source {mapping.id!r} failed strict checks")
    return dataset


def iter_source(
    mapping: SourceMapping,
    table: TableName,
    *,
    base: str | Path = ".",
    catalog: Catalog | None = None,
    params: Mapping[str, object] | None = None,
    chunksize: int = 100_000,
) -> Iterator[pd.DataFrame]:
    """Harmonised chunks of one table, for engines that never hold a whole
    file in memory. Cross-row checks and derivations are not applied here
    (they need the whole table); ``read_source`` applies them."""
    folder = Path(base)
    cat, crosswalks, merged = _context(mapping, folder, catalog, params)
    ctx = Context(cat, crosswalks, merged)
    chunks, _, _ = _read_table(table, mapping.tables[table], folder, ctx, chunksize)
    for chunk in chunks:
        yield chunk.drop(columns=RECORD)
