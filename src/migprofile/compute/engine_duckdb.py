"""The out-of-core engine: the same plan as :class:`PandasEngine`, run in DuckDB.

:class:`DuckDBEngine` (registered name ``"duckdb"``) evaluates a
:class:`~migprofile.compute.plan.Plan` on data that need not fit in memory:
Parquet or CSV files (a path, a glob, a directory of Parquet files or a list
of them), a ``pyarrow`` table or dataset, or a ``pandas.DataFrame`` (scanned
in place by DuckDB, not copied). It returns the same
:class:`~migprofile.compute.engine.Sums` as the pandas engine: the same cells
in the same order with the same codes, the same unit codes and stage tables,
the same replicate patterns, and sums equal up to floating-point summation
order.

Everything that touches records runs in DuckDB: the domains (rendered by
:func:`~migprofile.catalog.filters.to_sql`, SQL three-valued logic, every
value a bound parameter), the measure columns ``weight x 1[domain] x value``,
the per-cell (or per-(cell, unit)) sums, the design's structure over the full
data, the replicate-weight sums (one ``SUM`` per measure and replicate) and
the replicate-weight patterns. All groupings computed from the data are
aggregated in one scan with ``GROUPING SETS``: by the raw values of the
breakdown columns, whose distinct values (few) are then coded, with the
codelist mappings, and the aggregated rows summed again per cell; only sums
per cell x unit (Taylor designs with sampling units) code the records first,
by joins with small lookup tables of the distinct values. Only small
aggregated tables reach pandas, where the cell codes, stage tables and
coarser groupings are derived with the pandas engine's own functions, so
that both engines follow one set of rules (sorting, the ``_U`` cell,
unmapped codes, fpc checks).

Exceptions to "only small tables" are those of the engine contract itself:
quantile row requests return the domain's records, and a Taylor design whose
records are their own units (no ``psu``) needs a units table and a stage
table with one row per record.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from migprofile.catalog import filters as flt
from migprofile.catalog.filters import (
    Expr,
    FilterTypeError,
    UnknownColumnError,
    quote_identifier,
    to_sql,
)
from migprofile.compute.design import Design, DesignError
from migprofile.compute.engine import (
    CellSums,
    ProgressCallback,
    StageTable,
    Sums,
    _check_design_columns,
    _combine,
    _derive_keys,
    _derive_sums,
    _factorize,
    _group_sum,
    _object_array,
    _Progress,
    _stage_tables,
    _weights,
)
from migprofile.compute.plan import EstimateError, Measure, Plan

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

__all__ = ["DuckDBEngine", "FileFormat"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: The file formats the engine reads.
FileFormat = Literal["parquet", "csv"]

_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.zst")
#: Prefix of the engine's own relation and column names.
_PREFIX = "__mp_"
_INTEGER_TYPES = frozenset(
    {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
        "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
    }
)
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})
_ORDERING_OPS = frozenset({"<", "<=", ">", ">="})

_q = quote_identifier


class DuckDBEngine:
    """Runs a plan in DuckDB, on files, Arrow data or a pandas DataFrame.

    ``data`` (the argument of :meth:`run`) is:

    - a path (``str`` or :class:`pathlib.Path`) or a list of paths to Parquet
      or CSV files; a glob (``"census/*.parquet"``); a directory (all its
      ``*.parquet`` files, recursively, in sorted order). The format comes
      from the suffix, or from ``file_format``. Several files are one table,
      in the order given (globs and directories sorted);
    - a ``pyarrow.Table``, ``RecordBatch`` or ``pyarrow.dataset.Dataset``;
    - a ``pandas.DataFrame``, registered as a DuckDB view (scanned in place).

    "Data order" (the order of the records of a quantile's row request, and
    of the unit codes when records are units) is the order of the rows in
    the files, in file order; a dataset's order is DuckDB's scan order.

    Settings: ``memory_limit`` (DuckDB's, e.g. ``"2GB"``; operators spill to
    disk beyond it), ``threads`` (``None``: DuckDB's default, the number of
    cores), ``temp_directory`` (where DuckDB spills; ``None``: a fresh
    directory under the system's temporary directory, removed after the
    run), ``file_format`` and ``csv_options`` (keyword arguments of
    ``duckdb.read_csv``: ``delimiter``, ``dtype``, ``all_varchar``, ...).
    ``progress`` (see :data:`~migprofile.compute.engine.ProgressCallback`)
    counts the engine's queries (each a scan of the data, or a step on the
    small tables), the main aggregation scan being one of them.
    """

    name: ClassVar[str] = "duckdb"

    def __init__(
        self,
        memory_limit: str = "2GB",
        threads: int | None = None,
        temp_directory: str | os.PathLike[str] | None = None,
        file_format: FileFormat | None = None,
        csv_options: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if not isinstance(memory_limit, str) or not memory_limit.strip():
            raise EstimateError(
                f"memory_limit must be a size such as '2GB', got {memory_limit!r}", "engine"
            )
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise EstimateError(f"threads must be a positive integer, got {threads!r}", "engine")
        if file_format not in (None, "parquet", "csv"):
            raise EstimateError(
                f"file_format must be 'parquet' or 'csv', got {file_format!r}", "engine"
            )
        self.memory_limit = memory_limit
        self.threads = threads
        self.temp_directory = None if temp_directory is None else Path(temp_directory)
        self.file_format: FileFormat | None = file_format
        self.csv_options: dict[str, Any] = dict(csv_options or {})
        self.progress = progress

    def __repr__(self) -> str:
        return (
            f"DuckDBEngine(memory_limit={self.memory_limit!r}, threads={self.threads!r}, "
            f"temp_directory={self.temp_directory!r}, file_format={self.file_format!r})"
        )

    def run(self, plan: Plan, data: Any) -> Sums:
        """The sums of ``plan`` over ``data`` (see the class for the inputs)."""
        variance = plan.variance
        steps = 3 + len(plan.rows) + (1 if variance == "taylor" else 0)
        steps += 2 if variance == "replicate" else 0
        if variance == "taylor" and plan.design is not None and not plan.design.psu:
            steps += 1  # the records as units
        progress = _Progress(self.progress, steps)
        with self.connect() as con:
            frame = self._register(con, data)
            sums = _Run(con, plan, frame, progress).run()
        progress.finish()
        return sums

    # ------------------------------------------------------------------ set-up

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh in-memory DuckDB connection with the engine's settings
        (closed, and its spill directory removed, on exit)."""
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - duckdb is an optional dependency
            raise ImportError(
                "the duckdb engine needs the duckdb package: pip install duckdb"
            ) from exc
        own_temp = self.temp_directory is None
        temp = (
            Path(tempfile.mkdtemp(prefix="migprofile-duckdb-"))
            if self.temp_directory is None
            else self.temp_directory
        )
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": self.memory_limit,
            "temp_directory": str(temp),
            # Parquet min/max statistics leave NaN out; with them DuckDB folds
            # isnan(x) and x = 'NaN' to false, so NaN would not become missing
            "disabled_optimizers": "statistics_propagation",
        }
        if self.threads is not None:
            config["threads"] = self.threads
        con = duckdb.connect(":memory:", config=config)
        try:
            yield con
        finally:
            con.close()
            if own_temp:
                shutil.rmtree(temp, ignore_errors=True)

    def _register(self, con: duckdb.DuckDBPyConnection, data: Any) -> pd.DataFrame | None:
        """Make ``data`` the view ``__mp_raw``; the DataFrame when it is one."""
        raw = f"{_PREFIX}raw"
        if isinstance(data, pd.DataFrame):
            bad = [c for c in data.columns if not isinstance(c, str)]
            if bad:
                raise EstimateError(
                    f"the duckdb engine needs string column names, got {bad[:5]!r}", "data"
                )
            con.register(raw, data)
            return data
        if isinstance(data, str | os.PathLike) or (
            isinstance(data, Sequence)
            and not isinstance(data, str | bytes)
            and all(isinstance(p, str | os.PathLike) for p in data)
        ):
            paths = [data] if isinstance(data, str | os.PathLike) else list(data)
            files = _expand(paths)
            fmt = self.file_format or _format_of(files)
            if fmt == "parquet":
                relation = con.read_parquet(files)
            else:
                relation = con.read_csv(files, **self.csv_options)
            con.register(raw, relation)
            return None
        import pyarrow.dataset as pads  # type: ignore[import-untyped]

        # a RecordBatchReader is refused: it can be read once, the engine scans
        # the data several times
        if isinstance(data, pa.Table | pa.RecordBatch | pads.Dataset):
            con.register(raw, data)
            return None
        raise TypeError(
            "the duckdb engine runs on Parquet or CSV paths, a pyarrow Table, RecordBatch or "
            f"Dataset, or a pandas.DataFrame; got {type(data).__name__}"
        )


def _expand(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """File names from paths, globs and directories (directories: their
    Parquet files, recursively, sorted; globs: sorted)."""
    import glob

    out: list[str] = []
    for p in paths:
        text = os.fspath(p)
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text, recursive=True))
            if not found:
                raise FileNotFoundError(f"no file matches {text!r}")
            out += found
        elif Path(text).is_dir():
            found = sorted(
                str(f)
                for f in Path(text).rglob("*")
                if f.is_file() and f.name.lower().endswith(_PARQUET_SUFFIXES)
            )
            if not found:
                raise FileNotFoundError(f"directory {text!r} holds no Parquet file")
            out += found
        elif Path(text).is_file():
            out.append(text)
        else:
            raise FileNotFoundError(f"no such file: {text!r}")
    if not out:
        raise FileNotFoundError("no input file given")
    return out


def _format_of(files: Sequence[str]) -> FileFormat:
    """The format of the files, from their names (one format for all)."""
    kinds: set[FileFormat] = set()
    for f in files:
        name = f.lower()
        if name.endswith(_PARQUET_SUFFIXES):
            kinds.add("parquet")
        elif name.endswith(_CSV_SUFFIXES):
            kinds.add("csv")
        else:
            raise EstimateError(
                f"cannot tell the format of {f!r} from its name; give "
                "DuckDBEngine(file_format='parquet' or 'csv')",
                "data",
            )
    if len(kinds) > 1:
        raise EstimateError("the input mixes Parquet and CSV files", "data")
    return kinds.pop()


# --------------------------------------------------------------------------- column kinds


def _kind(sql_type: str) -> str:
    """The filter language's kind of a DuckDB type (as the pandas evaluator's)."""
    t = sql_type.upper()
    if t == "BOOLEAN":
        return "boolean"
    if t in _INTEGER_TYPES or t in _FLOAT_TYPES or t.startswith("DECIMAL"):
        return "number"
    if t == "VARCHAR":
        return "string"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return "datetime"
    if t in ('"NULL"', "NULL"):
        return "empty"
    return "other"


def _value_kind(value: object) -> str:
    """The filter language's kind of a literal or parameter value."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


@dataclass(frozen=True)
class _Component:
    """A breakdown column with its mapping: one code column of the records."""

    index: int
    column: str
    mapping: tuple[tuple[Hashable, Hashable], ...] | None


@dataclass
class _Cells:
    """The cells of a grouping computed from the data: the component codes of
    each breakdown, their sizes, and the sorted combined keys of the cells."""

    components: tuple[int, ...]
    sizes: tuple[int, ...]
    keys: IntArray  # combined key of each cell, sorted (cell code = position)

    def combined(self, codes: Sequence[IntArray], n: int) -> IntArray:
        """One integer per row for its component codes, ordered as the codes."""
        out = np.zeros(n, dtype=np.int64)
        for c, size in zip(codes, self.sizes, strict=True):
            out = out * max(size, 1) + c
        return out

    def cell_of(self, codes: Sequence[IntArray], n: int) -> IntArray:
        """The cell code of rows with the given component codes."""
        if not self.components:
            return np.zeros(n, dtype=np.int64)
        return np.searchsorted(self.keys, self.combined(codes, n)).astype(np.int64)


def _column(table: Any, name: str) -> npt.NDArray[Any]:
    """A column of a pyarrow table as a numpy array."""
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def _ints(table: Any, name: str) -> IntArray:
    """An integer column of a pyarrow table as int64."""
    return np.asarray(_column(table, name), dtype=np.int64)


def _floats(table: Any, name: str) -> FloatArray:
    """A numeric column of a pyarrow table as float64, NULL (an empty sum) as 0."""
    column = pc.fill_null(table.column(name).cast("float64"), 0.0)
    return np.asarray(column.to_numpy(), dtype=np.float64)


class _Run:
    """One run of a plan over the registered view ``__mp_raw``."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        plan: Plan,
        frame: pd.DataFrame | None,
        progress: _Progress | None = None,
    ) -> None:
        self.con = con
        self.progress = progress if progress is not None else _Progress(None, None)
        self.plan = plan
        self.design: Design | None = plan.design
        self.variance = plan.variance
        self.frame = frame
        self.params = dict(plan.params)
        self.registered = 0
        self.n = 0
        self.available: list[str] = []
        self.types: dict[str, str] = {}
        self.rep_columns: tuple[str, ...] = ()
        # the design's structure (Taylor)
        self.stages: tuple[StageTable, ...] = ()
        self.unit_sql: str | None = None  # a record's unit code: "d.u" or "i.__pos"
        self.design_join: tuple[str, list[str]] | None = None  # lookup table, conditions
        self.design_keys: list[str] = []  # the data columns joined with it
        self.rows_are_units = False
        self.n_units = 0
        # the weight of a record: 1, a column, or derived from the fpcs per
        # stratum (a bound constant, or joined with the design's lookup table)
        self.weight_sql = "CAST(1.0 AS DOUBLE)"
        self.weight_params: list[object] = []
        self.weight_joined = False
        # breakdowns
        self.components: list[_Component] = []
        self.labels: dict[int, list[object]] = {}
        self.lookup_names: dict[str, str] = {}

    # ------------------------------------------------------------------ SQL helpers

    def fetch(self, sql: str, params: Sequence[object] = ()) -> Any:
        """The result of ``sql`` as a pyarrow Table."""
        relation = self.con.sql(sql, params=list(params) if params else None)
        # to_arrow_table (DuckDB >= 1.4); fetch_arrow_table before
        fetch = getattr(relation, "to_arrow_table", None) or getattr(
            relation, "fetch_arrow_table", None
        )
        result = fetch() if fetch is not None else None
        if result is None:  # pragma: no cover - a SELECT always gives a table
            raise RuntimeError("DuckDB returned no result")
        return result

    def run_sql(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run a statement that returns nothing (views, temporary tables)."""
        self.con.execute(sql, list(params) if params else None)

    def register(self, table: Any) -> str:
        """Register a small pyarrow table; its view name."""
        name = f"{_PREFIX}arrow{self.registered}"
        self.registered += 1
        self.con.register(name, table)
        return name

    def to_pandas(self, table: Any, name: str, source: str) -> pd.Series[Any]:
        """Column ``name`` of a small result as pandas would hold the data's
        column ``source``: the DataFrame's own dtype, or Arrow's conversion
        (as ``pandas.read_parquet``)."""
        column = table.column(name)
        if self.frame is not None and source in self.frame.columns:
            values = pd.Series(column.to_pylist(), dtype=object)
            try:
                return values.astype(self.frame[source].dtype)
            except (TypeError, ValueError):  # pragma: no cover - keep the plain values
                return values
        series: pd.Series[Any] = column.to_pandas()
        return series.reset_index(drop=True)

    # ------------------------------------------------------------------ the run

    def run(self) -> Sums:
        """Checks, design structure, breakdown lookups, then the aggregates."""
        plan = self.plan
        design = self.design
        variance = self.variance
        self.describe()
        self.check_columns()
        self.n = n = self.profile()
        self.progress.step()
        if design is not None and variance == "taylor":
            self.taylor_structure(design)
            self.progress.step()
        if design is not None and design.weights is not None:
            self.weight_sql = f"CAST({_q(design.weights)} AS DOUBLE)"
        self.check_filters()

        bases = plan.bases()
        base_ids = [gi for gi in range(len(plan.groupings)) if bases[gi] == gi]
        comps = self.components_of(base_ids)

        stages = self.stages
        deepest = len(stages[-1].units) if stages else n
        self.rows_are_units = variance == "taylor" and (
            not (design is not None and design.psu) or deepest == n
        )
        self.n_units = deepest
        if variance == "taylor" and not self.rows_are_units:
            # sums per cell x unit: the records need their codes (joins with
            # lookup tables of the distinct values, found by a first scan)
            self.lookups()
            self.progress.step()
            main = self.main_query(base_ids, comps)
        else:
            # sums per raw breakdown values, coded afterwards on the small result
            main = self.main_query_raw(base_ids, comps)
        self.progress.step()
        records = None
        if variance == "taylor" and self.rows_are_units:
            records = self.record_units(base_ids, comps)
            self.progress.step()
        patterns = None
        if variance == "replicate":
            patterns = self.patterns()
            self.progress.step()
        cells: dict[int, _Cells] = {}
        results: dict[int, CellSums] = {}
        for gi in base_ids:
            part = main.pop(gi)  # released once summed
            cells[gi], results[gi] = self.base_sums(gi, comps[gi], part, records)
            del part
        if variance == "replicate":
            pairs = self.pattern_pairs(base_ids, comps, cells)
            self.progress.step()
            for gi in base_ids:
                results[gi] = dataclasses.replace(results[gi], patterns=pairs[gi])

        derived: dict[int, IntArray] = {}
        for gi, grouping in enumerate(plan.groupings):
            base = bases[gi]
            if base == gi:
                continue
            mapping, keys = _derive_keys(plan.groupings[base], results[base].keys, grouping)
            derived[gi] = mapping
            results[gi] = _derive_sums(
                results[base], mapping, keys, self.n_units, self.rows_are_units
            )

        rows: list[pd.DataFrame] = []
        for req in plan.rows:
            rows.append(
                self.row_request(
                    req.index, comps[bases[req.grouping]], cells[bases[req.grouping]],
                    derived.get(req.grouping),
                )
            )
            self.progress.step()
        return Sums(
            plan=plan,
            groupings=tuple(results[i] for i in range(len(plan.groupings))),
            rows=tuple(rows),
            stages=stages,
            patterns=patterns,
            replicate_columns=self.rep_columns,
            n_records=n,
        )

    def components_of(self, base_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        """The components (column x mapping) of every breakdown of the
        groupings computed from the data, in breakdown order."""
        index: dict[tuple[str, object], int] = {}
        out: dict[int, tuple[int, ...]] = {}
        for gi in base_ids:
            comps: list[int] = []
            for b in self.plan.groupings[gi].breakdowns:
                key = (b.column, b.mapping)
                if key not in index:
                    index[key] = len(self.components)
                    self.components.append(_Component(len(self.components), b.column, b.mapping))
                comps.append(index[key])
            out[gi] = tuple(comps)
        return out

    def base_sums(
        self, gi: int, comps: tuple[int, ...], part: Any, records: Any
    ) -> tuple[_Cells, CellSums]:
        """The :class:`CellSums` of a grouping computed from the data, from its
        rows of the main query (and the records, when records are units)."""
        plan = self.plan
        names = [m.name for m in plan.measures]
        nrows = part.num_rows
        codes = [_ints(part, f"k{c}") for c in comps]
        sizes = tuple(len(self.labels[c]) for c in comps)
        cell_rows, parts = _combine(codes, sizes, nrows)
        ncells = len(parts[0]) if parts else (1 if self.n else 0)
        cells = _Cells(comps, sizes, np.zeros(0, dtype=np.int64))
        if comps:
            cells.keys = np.unique(cells.combined(codes, nrows)).astype(np.int64)
        keys = pd.DataFrame(
            {
                b.name: pd.Series(_object_array(self.labels[c])[p], dtype="object")
                for b, c, p in zip(plan.groupings[gi].breakdowns, comps, parts, strict=True)
            },
            index=pd.RangeIndex(ncells),
        )
        units: pd.DataFrame | None = None
        if self.variance == "taylor":
            if records is not None:  # one row per active record, in data order
                u_cell = cells.cell_of(
                    [_ints(records, f"k{c}") for c in comps], records.num_rows
                )
                u_unit = _ints(records, "__u")
                unit_sums = self.measure_matrix(records, "t")
            else:  # per cell x unit with an active record, sorted
                active = np.flatnonzero(np.asarray(_column(part, "__any"), dtype=bool))
                unit = _ints(part, "__u")
                key = cell_rows[active] * max(self.n_units, 1) + unit[active]
                rows = active[np.argsort(key, kind="stable")]
                u_cell, u_unit = cell_rows[rows], unit[rows]
                unit_sums = self.measure_matrix(part, "s", rows)
            units = pd.DataFrame(unit_sums, columns=names, copy=False)
            units.insert(0, "unit", u_unit)
            units.insert(0, "cell", u_cell)
            totals = _group_sum(u_cell, unit_sums, ncells)
        else:
            totals = np.zeros((ncells, len(names)), dtype=np.float64)
            if nrows and ncells:
                totals[cell_rows] = self.measure_matrix(part, "s")
        replicates: pd.DataFrame | None = None
        if self.variance == "replicate":
            r = len(self.rep_columns)
            weighted = [(j, m.name) for j, m in enumerate(plan.measures) if m.weighted]
            out = np.zeros((ncells, len(weighted) * r), dtype=np.float64)
            if nrows and ncells and weighted:
                out[cell_rows] = np.column_stack(
                    [_floats(part, f"q{j}_{i}") for j, _ in weighted for i in range(r)]
                )
            columns = pd.MultiIndex.from_product(
                [[name for _, name in weighted], range(r)], names=["measure", "replicate"]
            )
            replicates = pd.DataFrame(out, columns=columns, copy=False)
        return cells, CellSums(
            keys=keys,
            totals=pd.DataFrame(totals, columns=names, copy=False),
            units=units,
            replicates=replicates,
        )

    # ------------------------------------------------------------------ checks

    def describe(self) -> None:
        """The data's columns and types; the normalised views ``__mp_src``
        (NaN as NULL, enumerations as text) and ``__mp_srcpos`` (with the
        record's position in data order)."""
        described = self.fetch(f"DESCRIBE {_PREFIX}raw")
        raw_names = [str(v) for v in described.column("column_name").to_pylist()]
        raw_types = [str(v) for v in described.column("column_type").to_pylist()]
        clash = [c for c in raw_names if c.startswith(_PREFIX)]
        if clash:
            raise EstimateError(
                f"column names starting with {_PREFIX!r} are reserved by the duckdb engine: "
                f"{clash[:5]}",
                "data",
            )
        select: list[str] = []
        for name, sql_type in zip(raw_names, raw_types, strict=True):
            if sql_type.upper() in _FLOAT_TYPES:
                select.append(f"NULLIF({_q(name)}, CAST('NaN' AS DOUBLE)) AS {_q(name)}")
            elif sql_type.upper().startswith("ENUM("):
                select.append(f"CAST({_q(name)} AS VARCHAR) AS {_q(name)}")
            else:
                select.append(_q(name))
        self.run_sql(
            f"CREATE TEMP VIEW {_PREFIX}src AS SELECT {', '.join(select)} "  # noqa: S608
            f"FROM {_PREFIX}raw"
        )
        self.run_sql(
            f"CREATE TEMP VIEW {_PREFIX}srcpos AS SELECT *, "  # noqa: S608
            f"CAST(row_number() OVER () - 1 AS BIGINT) AS {_PREFIX}pos FROM {_PREFIX}src"
        )
        described = self.fetch(f"DESCRIBE {_PREFIX}src")
        self.available = [str(v) for v in described.column("column_name").to_pylist()]
        types = [str(v) for v in described.column("column_type").to_pylist()]
        self.types = dict(zip(self.available, types, strict=True))

    def check_columns(self) -> None:
        """Design columns and the plan's columns exist (the pandas engine's checks,
        in its order); the replicate columns; numeric types."""
        design = self.design
        available = self.available
        present = set(available)
        if design is not None:
            _check_design_columns(design, available)
        for col in sorted(self.plan.columns()):
            if col not in present:
                raise UnknownColumnError(col, available)
        if design is not None and self.variance == "replicate":
            self.rep_columns = design.replicate_columns(available)

    def numeric(self, column: str, what: str) -> None:
        """Raise as the pandas engine does unless ``column`` is numeric (or boolean)."""
        kind = _kind(self.types[column])
        if kind not in ("number", "boolean"):
            raise EstimateError(
                f"{what} column {column!r} must be numeric, but it has type "
                f"{self.types[column]}",
                what,
            )

    def first_missing(self, column: str) -> int:
        """The position (data order) of the first record missing ``column``."""
        table = self.fetch(
            f"SELECT min({_PREFIX}pos) AS first FROM {_PREFIX}srcpos "  # noqa: S608
            f"WHERE {_q(column)} IS NULL"
        )
        return int(_column(table, "first")[0])

    def profile(self) -> int:
        """One scan: the number of records and the missing values (and fpc
        ranges) of the design columns; raise as the pandas engine would."""
        design = self.design
        aggregates = ["count(*) AS n"]
        null_cols: list[str] = []
        fpc_cols: list[str] = []
        if design is not None:
            if self.variance == "taylor":
                used = design.variance_stages
                fpc_cols = list(design.fpc[:used])
                for col in fpc_cols:
                    self.numeric(col, "fpc")
                null_cols += fpc_cols
                null_cols += list(design.strata[:used]) + list(design.psu[:used])
            if design.weights is not None:
                self.numeric(design.weights, "weights")
                null_cols.append(design.weights)
            for col in self.rep_columns:
                self.numeric(col, "replicate_weights")
            null_cols += list(self.rep_columns)
        null_cols = list(dict.fromkeys(null_cols))
        for i, col in enumerate(null_cols):
            aggregates.append(f"count(*) - count({_q(col)}) AS z{i}")
        for i, col in enumerate(fpc_cols):
            value = f"CAST({_q(col)} AS DOUBLE)"
            aggregates += [f"min({value}) AS lo{i}", f"max({value}) AS hi{i}"]
        table = self.fetch(f"SELECT {', '.join(aggregates)} FROM {_PREFIX}src")  # noqa: S608
        n = int(_column(table, "n")[0])
        missing = {col: int(_column(table, f"z{i}")[0]) for i, col in enumerate(null_cols)}
        if design is None:
            return n
        if self.variance == "taylor":
            lows: list[float] = []
            highs: list[float] = []
            for i, col in enumerate(fpc_cols):
                if missing[col]:
                    raise DesignError(f"the fpc column {col!r} has missing values", "fpc", col)
                lo = _column(table, f"lo{i}")[0]
                hi = _column(table, f"hi{i}")[0]
                lows.append(np.inf if lo is None else float(lo))
                highs.append(-np.inf if hi is None else float(hi))
                if lows[-1] < 0:
                    raise DesignError(f"the fpc column {col!r} has negative values", "fpc", col)
            if any(h > 1 for h in highs):
                for col, lo in zip(fpc_cols, lows, strict=True):
                    if lo < 1:
                        raise DesignError(
                            f"fpc values must all be population sizes (>= 1) or all sampling "
                            f"fractions (<= 1); column {col!r} mixes them",
                            "fpc",
                            col,
                        )
            for s in range(1, design.variance_stages + 1):
                stage_cols: list[tuple[str, str]] = []
                if len(design.strata) >= s:
                    stage_cols.append((design.strata[s - 1], "strata"))
                if design.psu:
                    stage_cols.append((design.psu[s - 1], "psu"))
                for col, field_name in stage_cols:
                    if missing[col]:
                        raise DesignError(
                            f"the design's {field_name} column {col!r} has {missing[col]} "
                            f"missing value(s) (first at row {self.first_missing(col)})",
                            field_name,
                            col,
                        )
        if design.weights is not None and missing[design.weights]:
            col = design.weights
            raise DesignError(
                f"the weights column {col!r} has {missing[col]} missing value(s) "
                f"(first at row {self.first_missing(col)})",
                "weights",
                col,
            )
        for col in self.rep_columns:
            if missing[col]:
                raise DesignError(
                    f"the replicate weight column {col!r} has missing values",
                    "replicate_weights",
                    col,
                )
        return n

    def check_filters(self) -> None:
        """Type checks of the domains and value columns, as the pandas engine's
        (DuckDB would otherwise cast silently or fail with its own message)."""
        exprs: list[Expr] = [m.domain for m in self.plan.measures if m.domain is not None]
        exprs += [r.domain for r in self.plan.rows if r.domain is not None]
        seen: set[Expr] = set()
        for expr in exprs:
            if expr not in seen:
                seen.add(expr)
                self.check_expr(expr)
        values = [m.value for m in self.plan.measures if m.value is not None]
        values += [r.value for r in self.plan.rows]
        for col in dict.fromkeys(values):
            self.numeric(col, "value")

    def check_expr(self, expr: Expr) -> None:
        """Check every comparison of a filter against the column types."""
        if isinstance(expr, flt.And | flt.Or):
            for item in expr.items:
                self.check_expr(item)
        elif isinstance(expr, flt.Not):
            self.check_expr(expr.item)
        elif isinstance(expr, flt.Compare):
            value = flt._operand_value(expr.operand, self.params)
            self.check_value(expr.column.name, value, expr.op)
        elif isinstance(expr, flt.IsTrue):
            self.check_value(expr.column.name, True, "==")
        elif isinstance(expr, flt.InSet):
            for value in flt._set_values(expr.values, self.params, None):
                self.check_value(expr.column.name, value, "==")

    def check_value(self, column: str, value: object, op: str) -> None:
        """Raise :class:`FilterTypeError` as the pandas evaluator does when
        ``column op value`` compares values of different kinds."""
        sql_type = self.types[column]
        kind = _kind(sql_type)
        vkind = _value_kind(value)
        if kind == "empty":
            return
        if kind == "other":
            raise FilterTypeError(
                f"column {column!r} has type {sql_type}, which filters cannot compare "
                "(only test it with is_missing)",
                column,
            )
        if kind == "datetime" and vkind == "string":
            return  # DuckDB casts the text to a date (and fails if it is not one)
        if kind != vkind:
            raise FilterTypeError(
                f"cannot compare column {column!r} ({kind}, dtype {sql_type}) with the "
                f"{vkind} value {value!r}",
                column,
            )
        if kind == "boolean" and op in _ORDERING_OPS:
            raise FilterTypeError(
                f"boolean column {column!r} can only be compared with == or !=", column
            )

    # ------------------------------------------------------------------ the design

    def distinct_table(self, name: str, columns: Sequence[str]) -> Any:
        """``CREATE TEMP TABLE name``: the distinct rows of ``columns`` (as
        ``c0, c1, ...``); returns them in ``rowid`` order."""
        select = ", ".join(f"{_q(c)} AS c{i}" for i, c in enumerate(columns))
        self.run_sql(
            f"CREATE TEMP TABLE {name} AS SELECT DISTINCT {select} FROM {_PREFIX}src"  # noqa: S608
        )
        cols = ", ".join(f"c{i}" for i in range(len(columns)))
        return self.fetch(f"SELECT {cols} FROM {name} ORDER BY rowid")  # noqa: S608

    def small_frame(self, table: Any, columns: Sequence[str]) -> pd.DataFrame:
        """A small result (columns ``c0, c1, ...``) as a DataFrame with the
        data's column names and pandas dtypes."""
        return pd.DataFrame(
            {col: self.to_pandas(table, f"c{i}", col) for i, col in enumerate(columns)},
            index=pd.RangeIndex(table.num_rows),
        )

    def lookup_table(
        self, name: str, distinct: str, width: int, values: Mapping[str, npt.NDArray[Any]]
    ) -> None:
        """``CREATE TEMP TABLE name``: the rows (``c0 ... c<width-1>``) of table
        ``distinct`` with the given values (arrays in ``rowid`` order, computed
        in Python), joined on ``rowid``: the values travel, never the keys."""
        rows = len(next(iter(values.values())))
        columns = {k: np.asarray(v) for k, v in values.items()}
        arrow = pa.table({"rid": np.arange(rows, dtype=np.int64), **columns})
        view = self.register(arrow)
        cols = ", ".join([*(f"d.c{i}" for i in range(width)), *(f"a.{k}" for k in values)])
        self.run_sql(
            f"CREATE TEMP TABLE {name} AS SELECT {cols} FROM {distinct} d "  # noqa: S608
            f"JOIN {view} a ON d.rowid = a.rid"
        )
        self.con.unregister(view)

    def taylor_structure(self, design: Design) -> None:
        """The stage tables over the full data, and how a record finds its
        unit code (and derived weight) in SQL.

        With sampling units, the stage tables are computed (by the pandas
        engine's own function) from the distinct rows of the design's
        columns, one per unit of the deepest variance stage: the structure
        does not depend on how many records a unit has. A record's unit code
        and derived weight come from a join with that small table. Without
        sampling units every record is a unit: the contract's stage table
        then has a row per record (fetched in data order), the unit code is
        the record's position.
        """
        used = design.variance_stages
        strata = list(design.strata[:used])
        fpc = list(design.fpc[:used])
        derive_weights = design.weights is None and bool(fpc)
        if design.psu:
            psu = list(design.psu[:used])
            columns = list(dict.fromkeys([*strata, *psu, *fpc]))
            keys = list(dict.fromkeys([*strata, *psu]))
            table = self.distinct_table(f"{_PREFIX}dz", columns)
            small = self.small_frame(table, columns)
            stages, finest, stratum_rows = _stage_tables(small, design)
            values: dict[str, npt.NDArray[Any]] = {"u": finest.astype(np.int64)}
            if derive_weights:
                values["w"] = _weights(small, design, stages, stratum_rows)
            # fpc is constant within a unit (else _stage_tables raised): one row per unit
            key_pos = [columns.index(k) for k in keys]
            self.lookup_table(f"{_PREFIX}dk", f"{_PREFIX}dz", len(columns), values)
            self.design_join = (
                f"{_PREFIX}dk",
                [f"i.z{j} = d.c{p}" for j, p in enumerate(key_pos)],
            )
            self.design_keys = keys
            self.unit_sql = "d.u"
            self.weight_joined = derive_weights
            self.stages = stages
            return
        # every record is its own unit (one stage)
        columns = list(dict.fromkeys([*strata, *fpc]))
        if columns:
            table = self.fetch(
                f"SELECT {', '.join(f'{_q(c)} AS c{i}' for i, c in enumerate(columns))} "  # noqa: S608
                f"FROM {_PREFIX}srcpos ORDER BY {_PREFIX}pos"
            )
            small = self.small_frame(table, columns)
        else:
            small = pd.DataFrame(index=pd.RangeIndex(self.n))
        stages, _, stratum_rows = _stage_tables(small, design)
        self.stages = stages
        self.unit_sql = "i.__pos"
        self.design_keys = []
        if derive_weights:
            pop = stages[0].strata["popsize"].to_numpy(np.float64)
            samp = stages[0].strata["n_units"].to_numpy(np.float64)
            prob = np.ones(len(pop), dtype=np.float64) * (1.0 / (pop / samp))
            per_stratum = np.asarray(1.0 / prob, dtype=np.float64)
            if strata:
                table = self.distinct_table(f"{_PREFIX}dz", strata)
                codes, _ = _factorize(self.to_pandas(table, "c0", strata[0]))
                self.lookup_table(f"{_PREFIX}dk", f"{_PREFIX}dz", 1, {"w": per_stratum[codes]})
                self.design_join = (f"{_PREFIX}dk", ["i.z0 = d.c0"])
                self.design_keys = strata
                self.weight_joined = True
            elif len(per_stratum):
                self.weight_sql = "CAST(? AS DOUBLE)"
                self.weight_params = [float(per_stratum[0])]

    # ------------------------------------------------------------------ breakdowns

    def lookups(self, distinct_sql: Sequence[str] | None = None) -> None:
        """For each breakdown column, the table of its distinct values with the
        code of every component (column x mapping) using it, computed by the
        pandas engine's rules on the distinct values. The values come from one
        scan of the data for all columns, or, when given, from
        ``distinct_sql`` (per column, a query of its distinct values as
        ``c0``, on a small aggregated table)."""
        columns = list(dict.fromkeys(c.column for c in self.components))
        if not columns:
            return
        if distinct_sql is None:
            lists = ", ".join(f"list(DISTINCT {_q(c)}) AS l{i}" for i, c in enumerate(columns))
            self.run_sql(
                f"CREATE TEMP TABLE {_PREFIX}dv AS SELECT {lists} FROM {_PREFIX}src"  # noqa: S608
            )
        for i, col in enumerate(columns):
            distinct = f"{_PREFIX}dv{i}"
            select = (
                f"SELECT unnest(l{i}) AS c0 FROM {_PREFIX}dv"  # noqa: S608
                if distinct_sql is None
                else distinct_sql[i]
            )
            self.run_sql(f"CREATE TEMP TABLE {distinct} AS {select}")
            table = self.fetch(f"SELECT c0 FROM {distinct} ORDER BY rowid")  # noqa: S608
            values = self.to_pandas(table, "c0", col)
            codes: dict[str, npt.NDArray[Any]] = {}
            for comp in self.components:
                if comp.column != col:
                    continue
                mapping = None if comp.mapping is None else dict(comp.mapping)
                comp_codes, labels = _factorize(values, mapping, col)
                codes[f"k{comp.index}"] = comp_codes.astype(np.int64)
                self.labels[comp.index] = labels
            name = f"{_PREFIX}lk{i}"
            self.lookup_table(name, distinct, 1, codes)
            self.lookup_names[col] = name

    # ------------------------------------------------------------------ records

    def measure_case(self, m: Measure) -> tuple[str, list[object]]:
        """``1[domain] x value`` of a measure, for one record."""
        cond: list[str] = []
        params: list[object] = []
        if m.domain is not None:
            text, values = to_sql(m.domain, self.params)
            cond.append(f"({text})")
            params += values
        cond += [f"{_q(c)} IS NOT NULL" for c in m.nonmissing]
        value = "CAST(1.0 AS DOUBLE)" if m.value is None else f"CAST({_q(m.value)} AS DOUBLE)"
        return (
            f"CASE WHEN {' AND '.join(cond) or 'TRUE'} THEN {value} "
            "ELSE CAST(0.0 AS DOUBLE) END",
            params,
        )

    def records(
        self,
        *,
        comps: Sequence[int],
        position: bool = False,
        unit: bool = False,
        reps: Sequence[str] = (),
        row_request: int | None = None,
        measures: bool = True,
        raw: bool = False,
    ) -> tuple[str, list[object]]:
        """A subquery with one row per record: the component codes ``k<i>``
        (``raw``: instead, the breakdown columns' values ``b<i>``, one per
        column, in order of first use by ``comps``), the unit ``__u``, the
        weight ``__w``, every measure unweighted (``u<j>``) and weighted
        (``t<j>``), ``__act`` (the record has a non-zero measure), replicate
        weights ``r<i>``, ``__pos``, and for a row request its flag ``__sel``
        and value ``__val``."""
        plan = self.plan
        inner: list[str] = []
        params: list[object] = []
        if measures:
            for j, m in enumerate(plan.measures):
                text, values = self.measure_case(m)
                inner.append(f"{text} AS u{j}")
                params += values
        if row_request is not None:
            req = plan.rows[row_request]
            cond: list[str] = []
            if req.domain is not None:
                text, values = to_sql(req.domain, self.params)
                cond.append(f"({text})")
                params += values
            cond += [f"{_q(c)} IS NOT NULL" for c in req.nonmissing]
            inner.append(f"COALESCE({' AND '.join(cond) or 'TRUE'}, FALSE) AS __sel")
            inner.append(f"CAST({_q(req.value)} AS DOUBLE) AS __val")
        if not self.weight_joined:
            inner.append(f"{self.weight_sql} AS __w0")
            params += self.weight_params
        columns = list(dict.fromkeys(self.components[c].column for c in comps))
        inner += [f"{_q(col)} AS b{i}" for i, col in enumerate(columns)]
        join_design = self.design_join is not None and (
            self.weight_joined or (unit and self.unit_sql == "d.u")
        )
        if join_design:
            inner += [f"{_q(col)} AS z{j}" for j, col in enumerate(self.design_keys)]
        inner += [f"CAST({_q(c)} AS DOUBLE) AS r{i}" for i, c in enumerate(reps)]
        if position or (unit and self.unit_sql == "i.__pos"):
            source = f"{_PREFIX}srcpos"
            inner.append(f"{_PREFIX}pos AS __pos")
            position = True
        else:
            source = f"{_PREFIX}src"
        inner_sql = f"SELECT {', '.join(inner)} FROM {source}"  # noqa: S608

        mid: list[str] = []
        joins: list[str] = []
        for i, col in enumerate(columns):
            if raw:
                mid.append(f"i.b{i}")
                continue
            alias = f"l{i}"
            joins.append(
                f"LEFT JOIN {self.lookup_names[col]} {alias} ON i.b{i} IS NOT DISTINCT FROM "
                f"{alias}.c0"
            )
            mid += [
                f"{alias}.k{c} AS k{c}"
                for c in dict.fromkeys(comps)
                if self.components[c].column == col
            ]
        if join_design and self.design_join is not None:
            table, conditions = self.design_join
            joins.append(f"JOIN {table} d ON {' AND '.join(conditions)}")
        mid.append(f"{'d.w' if self.weight_joined else 'i.__w0'} AS __w")
        if unit and self.unit_sql is not None:
            mid.append(f"{self.unit_sql} AS __u")
        if measures:
            mid += [f"i.u{j}" for j in range(len(plan.measures))]
        mid += [f"i.r{i}" for i in range(len(reps))]
        if position:
            mid.append("i.__pos")
        if row_request is not None:
            mid += ["i.__sel", "i.__val"]
        mid_sql = f"SELECT {', '.join(mid)} FROM ({inner_sql}) i {' '.join(joins)}"  # noqa: S608

        if not measures:
            return mid_sql, params
        weighted: list[str] = []
        for j, m in enumerate(plan.measures):
            if self.unit_weight:  # every weight is 1: t = u
                weighted.append(f"m.u{j} AS t{j}")
            elif m.weighted:
                weighted.append(f"m.u{j} * m.__w AS t{j}")
            else:  # a record of weight 0 is not part of the sample: not counted
                weighted.append(
                    f"CASE WHEN m.__w = 0 THEN CAST(0.0 AS DOUBLE) ELSE m.u{j} END AS t{j}"
                )
        with_t = f"SELECT m.*, {', '.join(weighted)} FROM ({mid_sql}) m"  # noqa: S608
        if self.variance == "none" and not reps:
            return with_t, params  # no variance: whether a record is active does not matter
        active = " OR ".join(f"t{j} <> 0" for j in range(len(plan.measures))) or "FALSE"
        with_act = f"SELECT *, ({active}) AS __act FROM ({with_t}) t"  # noqa: S608
        if not reps:
            return with_act, params
        # the unweighted measures of active records, for the replicate sums
        masked = ", ".join(
            f"CASE WHEN __act THEN u{j} ELSE CAST(0.0 AS DOUBLE) END AS a{j}"
            for j, m in enumerate(plan.measures)
            if m.weighted
        )
        if not masked:
            return with_act, params
        return f"SELECT *, {masked} FROM ({with_act}) a", params  # noqa: S608

    def measure_matrix(self, table: Any, prefix: str, rows: IntArray | None = None) -> FloatArray:
        """The measures' columns ``<prefix><j>`` of a result as a matrix (only
        ``rows``, in their order, when given)."""
        count = len(self.plan.measures)
        out = np.empty((table.num_rows if rows is None else len(rows), count), dtype=np.float64)
        for j in range(count):
            column = _floats(table, f"{prefix}{j}")
            out[:, j] = column if rows is None else column[rows]
        return out

    # ------------------------------------------------------------------ aggregates

    def grouped(
        self,
        sub: str,
        params: Sequence[object],
        keys: Sequence[str],
        sets: Sequence[tuple[str, ...]],
        aggregates: Sequence[str],
    ) -> list[Any]:
        """``aggregates`` of the records subquery ``sub`` grouped by each of
        ``sets`` (subsets of ``keys``), in one scan (``GROUPING SETS``); one
        result table per set."""
        distinct = list(dict.fromkeys(sets))
        select = list(keys)
        if len(distinct) > 1:
            select.insert(0, f"GROUPING({', '.join(keys)}) AS __gid")
            group = "GROUP BY GROUPING SETS (" + ", ".join(
                "(" + ", ".join(s) + ")" for s in distinct
            ) + ")"
        elif distinct[0]:
            group = "GROUP BY " + ", ".join(distinct[0])
        else:
            group = ""
        table = self.fetch(
            f"SELECT {', '.join([*select, *aggregates])} FROM ({sub}) r {group}",  # noqa: S608
            params,
        )
        out: list[Any] = []
        for s in sets:
            part = table
            if len(distinct) > 1:
                # GROUPING(): one bit per key, the first the highest, set when
                # the key is not grouped by
                mask = sum(
                    1 << (len(keys) - 1 - k) for k, name in enumerate(keys) if name not in s
                )
                part = table.filter(_column(table, "__gid") == mask)
            if not s and self.n == 0:  # the total of no record: no cell
                part = part.slice(0, 0)
            out.append(part)
        return out

    @property
    def unit_weight(self) -> bool:
        """Every record has weight 1 (no weights column, no derived weight)."""
        return not self.weight_joined and self.weight_sql == "CAST(1.0 AS DOUBLE)"

    def measure_firsts(self) -> list[int]:
        """For each measure, the first measure whose summed column ``t<j>`` is
        the same expression (same domain, value and weighting): its sum is
        computed once."""
        seen: dict[tuple[str, tuple[str, ...], str], int] = {}
        out: list[int] = []
        for j, m in enumerate(self.plan.measures):
            text, values = self.measure_case(m)
            kind = "1" if self.unit_weight else ("w" if m.weighted else "c")
            key = (text, tuple(f"{type(v).__name__}:{v!r}" for v in values), kind)
            out.append(seen.setdefault(key, j))
        return out

    def aggregates(self, firsts: Sequence[int]) -> list[str]:
        """The main query's aggregates of the records: the sums of the measures
        (``s<j>``), whether a group has an active record (``__any``), the
        replicate sums (``q<j>_<i>``)."""
        out = [f"SUM(t{f}) AS s{j}" for j, f in enumerate(firsts)]
        if self.variance != "none":
            out.append("bool_or(__act) AS __any")
        for j, m in enumerate(self.plan.measures):
            if m.weighted:
                # a<j>: u<j> on active records, 0 elsewhere (cheaper than FILTER)
                out += [f"SUM(a{j} * r{i}) AS q{j}_{i}" for i in range(len(self.rep_columns))]
        return out

    def main_query(
        self, base_ids: Sequence[int], comps: Mapping[int, tuple[int, ...]]
    ) -> dict[int, Any]:
        """One scan for every grouping computed from the data, per cell and
        unit (Taylor designs whose units are not records; the records are
        coded by joins with the lookup tables): the sums of the measures
        (``s<j>``) and whether a record is active (``__any``)."""
        by_unit = self.variance == "taylor" and not self.rows_are_units
        all_comps = sorted({c for g in base_ids for c in comps[g]})
        sub, params = self.records(comps=all_comps, unit=by_unit, reps=self.rep_columns)
        keys = [f"k{c}" for c in all_comps] + (["__u"] if by_unit else [])
        sets = [
            (*(f"k{c}" for c in dict.fromkeys(comps[gi])), *(["__u"] if by_unit else []))
            for gi in base_ids
        ]
        aggregates = self.aggregates(self.measure_firsts())
        parts = self.grouped(sub, params, keys, sets, aggregates)
        return dict(zip(base_ids, parts, strict=True))

    def main_query_raw(
        self, base_ids: Sequence[int], comps: Mapping[int, tuple[int, ...]]
    ) -> dict[int, Any]:
        """One scan for every grouping computed from the data (when the sums
        are per cell, not per unit): the records are grouped by the raw values
        of the breakdown columns (``GROUPING SETS``, into the small table
        ``__mp_agg``), with no lookup join and no separate scan for the
        distinct values; these come from the aggregated table, are coded
        (mappings, ``_U``) by :meth:`lookups`, and the aggregated rows are
        summed again per cell. The result: per grouping, one row per cell with
        its component codes ``k<c>`` and the aggregates of :meth:`aggregates`."""
        all_comps = sorted({c for g in base_ids for c in comps[g]})
        columns = list(dict.fromkeys(self.components[c].column for c in all_comps))
        position = {col: i for i, col in enumerate(columns)}
        sub, params = self.records(comps=all_comps, reps=self.rep_columns, raw=True)
        keys = [f"b{i}" for i in range(len(columns))]
        raw_sets = {
            gi: tuple(sorted({position[self.components[c].column] for c in comps[gi]}))
            for gi in base_ids
        }
        distinct = list(dict.fromkeys(raw_sets.values()))
        firsts = self.measure_firsts()
        # each distinct sum once (the rest of the aggregates as the main query's)
        aggregates = [f"SUM(t{j}) AS s{j}" for j in sorted(set(firsts))]
        aggregates += self.aggregates(firsts)[len(firsts):]
        select = list(keys)
        several = len(distinct) > 1
        if several:
            select.insert(0, f"GROUPING({', '.join(keys)}) AS __gid")
            group = "GROUP BY GROUPING SETS (" + ", ".join(
                "(" + ", ".join(keys[i] for i in st) + ")" for st in distinct
            ) + ")"
        elif distinct[0]:
            group = "GROUP BY " + ", ".join(keys[i] for i in distinct[0])
        else:
            group = ""
        agg = f"{_PREFIX}agg"
        self.run_sql(
            f"CREATE TEMP TABLE {agg} AS SELECT {', '.join([*select, *aggregates])} "  # noqa: S608
            f"FROM ({sub}) r {group}",
            params,
        )

        def mask(st: tuple[int, ...]) -> int:
            # GROUPING(): one bit per key, the first the highest, set when the
            # key is not grouped by
            return sum(1 << (len(keys) - 1 - k) for k in range(len(keys)) if k not in st)

        def rows_of(sets: Sequence[tuple[int, ...]]) -> str:
            if not several:
                return "TRUE"
            return f"__gid IN ({', '.join(str(mask(st)) for st in sets)})"

        self.lookups(
            [
                f"SELECT DISTINCT b{i} AS c0 FROM {agg} "  # noqa: S608
                f"WHERE {rows_of([st for st in distinct if i in st])}"
                for i in range(len(columns))
            ]
        )
        self.progress.step()
        # the sums again, per cell: the aggregated rows joined to the codes
        again = [
            f"SUM(s{firsts[j]}) AS s{j}" for j in range(len(self.plan.measures))
        ]
        if self.variance != "none":
            again.append("bool_or(__any) AS __any")
        for j, m in enumerate(self.plan.measures):
            if m.weighted:
                again += [
                    f"SUM(q{j}_{i}) AS q{j}_{i}" for i in range(len(self.rep_columns))
                ]
        out: dict[int, Any] = {}
        for gi in base_ids:
            own = list(dict.fromkeys(comps[gi]))
            used = list(dict.fromkeys(position[self.components[c].column] for c in own))
            joins = " ".join(
                f"LEFT JOIN {self.lookup_names[columns[i]]} l{i} "
                f"ON a.b{i} IS NOT DISTINCT FROM l{i}.c0"
                for i in used
            )
            codes = [f"l{position[self.components[c].column]}.k{c} AS k{c}" for c in own]
            group_by = f"GROUP BY {', '.join(f'k{c}' for c in own)}" if own else ""
            part = self.fetch(
                f"SELECT {', '.join([*codes, *again])} FROM {agg} a {joins} "  # noqa: S608
                f"WHERE {rows_of([raw_sets[gi]])} {group_by}"
            )
            if not own and self.n == 0:  # the total of no record: no cell
                part = part.slice(0, 0)
            out[gi] = part
        return out

    def record_units(
        self, base_ids: Sequence[int], comps: Mapping[int, tuple[int, ...]]
    ) -> Any:
        """Taylor designs whose records are units: the active records in data
        order, with their components, unit and measures (the contract's
        ``units`` table has a row per record)."""
        all_comps = sorted({c for g in base_ids for c in comps[g]})
        sub, params = self.records(comps=all_comps, unit=True, position=True)
        select = [
            *(f"k{c}" for c in all_comps),
            "__u",
            *(f"t{j}" for j in range(len(self.plan.measures))),
        ]
        return self.fetch(
            f"SELECT {', '.join(select)} FROM ({sub}) r WHERE __act ORDER BY __pos",  # noqa: S608
            params,
        )

    def normalised(self, sub: str) -> str:
        """The active records' replicate weights divided by their sum (by their
        largest absolute value when the sum is 0; records of zero weights
        dropped), as the pandas engine's ``_replicate_patterns``: in double
        precision (``n<i>``), and the pattern's identity ``__h``, a 64-bit
        hash of the normalised weights rounded to single precision (the
        pandas engine also matches patterns by a 64-bit hash of those)."""
        reps = [f"r{i}" for i in range(len(self.rep_columns))]
        total = " + ".join(reps)
        largest = f"greatest({', '.join(f'abs({x})' for x in reps)})" if len(reps) > 1 else (
            f"abs({reps[0]})"
        )
        scaled = (
            f"SELECT *, CASE WHEN __s = 0 THEN {largest} ELSE __s END AS __sc "  # noqa: S608
            f"FROM (SELECT *, ({total}) AS __s FROM ({sub}) a WHERE __act) b"
        )
        inverse = (
            f"SELECT *, CAST(1.0 AS DOUBLE) / __sc AS __inv FROM ({scaled}) c "  # noqa: S608
            "WHERE __sc <> 0"
        )
        normal = ", ".join(f"{x} * __inv AS n{i}" for i, x in enumerate(reps))
        single = ", ".join(
            f"CASE WHEN CAST(n{i} AS FLOAT) = 0 THEN CAST(0.0 AS FLOAT) "
            f"ELSE CAST(n{i} AS FLOAT) END"
            for i in range(len(reps))
        )
        return (
            f"SELECT *, hash({single}) AS __h "  # noqa: S608
            f"FROM (SELECT *, {normal} FROM ({inverse}) d) e"
        )

    def patterns(self) -> pd.DataFrame:
        """The distinct replicate-weight patterns of the active records, in
        order of first appearance, each the first such record's weights
        divided by their sum (table ``__mp_pat`` keeps their codes)."""
        r = len(self.rep_columns)
        sub, params = self.records(comps=(), reps=self.rep_columns, position=True)
        firsts = ", ".join(f"arg_min(n{i}, __pos) AS n{i}" for i in range(r))
        self.run_sql(
            f"CREATE TEMP TABLE {_PREFIX}pat0 AS SELECT __h, min(__pos) AS __first, "  # noqa: S608
            f"{firsts} FROM ({self.normalised(sub)}) x GROUP BY __h",
            params,
        )
        self.run_sql(
            f"CREATE TEMP TABLE {_PREFIX}pat AS SELECT __h, "  # noqa: S608
            f"CAST(row_number() OVER (ORDER BY __first) - 1 AS BIGINT) AS code "
            f"FROM {_PREFIX}pat0"
        )
        table = self.fetch(
            f"SELECT {', '.join(f'n{i}' for i in range(r))} FROM {_PREFIX}pat0 "  # noqa: S608
            "ORDER BY __first"
        )
        normal = np.zeros((table.num_rows, r), dtype=np.float64)
        for i in range(r):
            normal[:, i] = _floats(table, f"n{i}")
        return pd.DataFrame(normal, copy=False)

    def pattern_pairs(
        self,
        base_ids: Sequence[int],
        comps: Mapping[int, tuple[int, ...]],
        cells: Mapping[int, _Cells],
    ) -> dict[int, pd.DataFrame]:
        """Per grouping: the distinct (cell, pattern) pairs of each count
        measure's records, each measure's in order of first appearance."""
        counts = [(j, m.name) for j, m in enumerate(self.plan.measures) if not m.weighted]
        all_comps = sorted({c for g in base_ids for c in comps[g]})
        sub, params = self.records(comps=all_comps, reps=self.rep_columns, position=True)
        joined = (
            f"SELECT x.*, p.code AS __pat FROM ({self.normalised(sub)}) x "  # noqa: S608
            f"JOIN {_PREFIX}pat p ON x.__h = p.__h"
        )
        keys = [*(f"k{c}" for c in all_comps), "__pat"]
        sets = [(*(f"k{c}" for c in dict.fromkeys(comps[gi])), "__pat") for gi in base_ids]
        firsts = [f"min(CASE WHEN t{j} > 0 THEN __pos END) AS first{j}" for j, _ in counts]
        parts = self.grouped(joined, params, keys, sets, firsts)
        out: dict[int, pd.DataFrame] = {}
        for gi, part in zip(base_ids, parts, strict=True):
            cell = cells[gi].cell_of([_ints(part, f"k{c}") for c in comps[gi]], part.num_rows)
            pattern = _ints(part, "__pat")
            pieces: list[pd.DataFrame] = []
            for j, name in counts:
                first = part.column(f"first{j}").to_pandas().to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                sel = np.flatnonzero(~np.isnan(first))
                sel = sel[np.argsort(first[sel], kind="stable")]
                pairs = pd.DataFrame({"cell": cell[sel], "pattern": pattern[sel]})
                pairs.insert(1, "measure", name)
                pieces.append(pairs)
            out[gi] = (
                pd.concat(pieces, ignore_index=True)
                if pieces
                else pd.DataFrame({"cell": [], "measure": [], "pattern": []})
            )
        return out

    def row_request(
        self,
        index: int,
        comps: tuple[int, ...],
        cells: _Cells,
        mapping: IntArray | None,
    ) -> pd.DataFrame:
        """The records of a row request (quantiles), in data order: cell, value,
        weight, and the unit (Taylor) or the replicate weights ``rep0 ...``."""
        taylor = self.variance == "taylor"
        reps = self.rep_columns
        sub, params = self.records(
            comps=comps, unit=taylor, reps=reps, position=True, row_request=index,
            measures=False,
        )
        select = [*(f"k{c}" for c in dict.fromkeys(comps)), "__val", "__w"]
        if taylor:
            select.append("__u")
        select += [f"r{i}" for i in range(len(reps))]
        table = self.fetch(
            f"SELECT {', '.join(select)} FROM ({sub}) r WHERE __sel ORDER BY __pos",  # noqa: S608
            params,
        )
        n = table.num_rows
        cell = cells.cell_of([_ints(table, f"k{c}") for c in comps], n)
        if mapping is not None:
            cell = mapping[cell]
        frame = pd.DataFrame(
            {"cell": cell, "value": _floats(table, "__val"), "weight": _floats(table, "__w")}
        )
        if taylor:
            frame["unit"] = _ints(table, "__u")
        elif reps:
            values = np.zeros((n, len(reps)), dtype=np.float64)
            for i in range(len(reps)):
                values[:, i] = _floats(table, f"r{i}")
            rep_part = pd.DataFrame(
                values, columns=[f"rep{i}" for i in range(len(reps))], copy=False
            )
            frame = pd.concat([frame, rep_part], axis=1)
        return frame
