"""The distributed engine: the same plan as :class:`PandasEngine`, run on Dask.

:class:`DaskEngine` (registered name ``"dask"``, extra ``dask``) evaluates a
:class:`~migprofile.compute.plan.Plan` on a Dask DataFrame, on a pandas
DataFrame split into partitions (``dask.dataframe.from_pandas``), or on
Parquet or CSV files (``dask.dataframe.read_parquet`` / ``read_csv``, only the
columns the plan and its design use). The tasks run on the
``distributed.Client`` given to the engine, else on the active client (a
``LocalCluster`` or a real cluster), else on Dask's local threads.

Two passes over the partitions, each partition a task that returns small
tables:

1. **structure**: the number of records, the missing values and fpc ranges of
   the design columns, the distinct values of every breakdown column and the
   distinct rows of the design's strata, PSU and fpc columns (all of them, in
   data order, when records are their own units);
2. **sums**: with the global codes computed on the client from pass 1 (cell
   codes of the breakdown values by the pandas engine's rules, unit codes and
   stage tables by its ``_stage_tables``), each partition evaluates the
   domains with the pandas engine's filter evaluator and measures
   (``_Measures``) and sums them per cell of its own, per cell x unit for
   Taylor designs and per cell x row of replicate weights for replicate
   designs, with the pandas engine's functions. It also returns its replicate
   rows of active records with their first position, the (cell, row) pairs
   of each count measure with their first position, and the records of the
   row requests.

The client merges the partitions' tables: cells are the union of the
partitions' cells (sorted, so numbered as the pandas engine numbers them),
sums are added, units tables merged by (cell, unit), replicate patterns and
(cell, pattern) pairs ordered by their first position in data order. The
result is the pandas engine's :class:`~migprofile.compute.engine.Sums`, sums
equal up to the order of floating-point additions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from migprofile.catalog.filters import UnknownColumnError
from migprofile.compute.design import Design, DesignError
from migprofile.compute.engine import (
    CellSums,
    PandasEngine,
    ProgressCallback,
    StageTable,
    Sums,
    _check_design_columns,
    _derive_keys,
    _derive_sums,
    _factorize,
    _first_seen,
    _is_paths,
    _Measures,
    _needed_columns,
    _numeric,
    _object_array,
    _Progress,
    _replicate_patterns,
    _replicate_values,
    _row_codes,
    _row_frames,
    _sorted_codes,
    _stage_tables,
    _sum_by,
    _weights,
    input_files,
)
from migprofile.compute.plan import EstimateError, Plan

__all__ = ["DaskEngine"]


def _module(name: str) -> Any:
    """A module of dask or distributed (untyped: used through ``Any``)."""
    import importlib

    return importlib.import_module(name)


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class DaskEngine:
    """Runs a plan on Dask: a Dask DataFrame, a pandas DataFrame (split into
    ``npartitions`` partitions) or Parquet / CSV files (a path, a glob, a
    directory of Parquet files, or a list of them).

    ``client``: the ``distributed.Client`` to run on (``None``: the active
    client if there is one, else Dask's local threaded scheduler;
    ``"threads"``: always the local threaded scheduler).
    ``npartitions``: partitions of a pandas DataFrame (``None``: two per
    worker of the client, at least 2). ``blocksize``: the size of the
    partitions read from files (``dask.dataframe.read_parquet``'s and
    ``read_csv``'s, ``None``: Dask's default). ``csv_options``: keyword
    arguments of ``dask.dataframe.read_csv``. ``progress`` (see
    :data:`~migprofile.compute.engine.ProgressCallback`) is called as the
    partitions' tasks finish: the total is twice the number of partitions
    (two passes).

    Data order (row requests, records as units, replicate patterns) is the
    order of the partitions, then of the rows within each.
    """

    name: ClassVar[str] = "dask"

    def __init__(
        self,
        client: Any = None,
        npartitions: int | None = None,
        blocksize: int | str | None = None,
        csv_options: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if npartitions is not None and (
            isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1
        ):
            raise EstimateError(
                f"npartitions must be a positive integer, got {npartitions!r}", "engine"
            )
        self.client = client
        self.npartitions = npartitions
        self.blocksize = blocksize
        self.csv_options: dict[str, Any] = dict(csv_options or {})
        self.progress = progress

    def __repr__(self) -> str:
        return f"DaskEngine(client={self.client!r}, npartitions={self.npartitions!r})"

    # ------------------------------------------------------------------ set-up

    def _client(self) -> Any:
        """The client to run on, or ``None`` (Dask's local scheduler)."""
        if isinstance(self.client, str) and self.client == "threads":
            return None
        if self.client is not None:
            return self.client
        try:
            get_client = _module("distributed").get_client
        except ImportError:  # pragma: no cover - distributed is part of the extra
            return None
        try:
            return get_client()
        except ValueError:  # no client is active
            return None

    def frame(self, data: Any, plan: Plan | None = None) -> Any:
        """``data`` as a Dask DataFrame."""
        try:
            dask = _module("dask")
            dd = _module("dask.dataframe")
        except ImportError as exc:  # pragma: no cover - dask is an optional dependency
            raise ImportError(
                "the dask engine needs dask[dataframe] and distributed: "
                "pip install 'dask[dataframe]' distributed"
            ) from exc
        if isinstance(data, dd.DataFrame):
            return data
        if isinstance(data, pd.DataFrame):
            bad = [c for c in data.columns if not isinstance(c, str)]
            if bad:
                raise EstimateError(
                    f"the dask engine needs string column names, got {bad[:5]!r}", "data"
                )
            parts = self.npartitions
            if parts is None:
                client = self._client()
                workers = len(client.scheduler_info().get("workers", {})) if client else 2
                parts = max(2 * workers, 2)
            parts = max(1, min(parts, len(data)))
            index = data.index
            plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
            frame = data if plain else data.reset_index(drop=True)
            # the frame's own dtypes: no conversion of text to Arrow strings
            with dask.config.set({"dataframe.convert-string": False}):
                return dd.from_pandas(frame, npartitions=parts, sort=False)
        if _is_paths(data):
            from migprofile.compute.engine_duckdb import _format_of

            files = input_files(data)
            fmt = _format_of(files)
            columns: list[str] | None = None
            if fmt == "parquet":
                import pyarrow.parquet as pq  # type: ignore[import-untyped]

                if plan is not None:
                    columns = _needed_columns(plan, list(pq.read_schema(files[0]).names))
                options: dict[str, Any] = {}
                if self.blocksize is not None:
                    options["blocksize"] = self.blocksize
                return dd.read_parquet(files, columns=columns, **options)
            options = dict(self.csv_options)
            if self.blocksize is not None:
                options.setdefault("blocksize", self.blocksize)
            if plan is not None:
                available = list(pd.read_csv(files[0], nrows=0).columns)
                options.setdefault("usecols", _needed_columns(plan, available))
            return dd.read_csv(files, **options)
        raise TypeError(
            "the dask engine runs on a Dask DataFrame, a pandas.DataFrame, or Parquet or CSV "
            f"paths; got {type(data).__name__}"
        )

    def _compute(self, tasks: Sequence[Any], progress: _Progress) -> list[Any]:
        """Compute delayed ``tasks`` (on the client, or locally), reporting
        each finished task; the results in task order."""
        client = self._client()
        if client is not None:
            futures = client.compute(list(tasks))
            for _ in _module("distributed").as_completed(futures):
                progress.step()
            return list(client.gather(futures))
        dask = _module("dask")
        callback = _module("dask.callbacks").Callback

        keys = {t.key for t in tasks}

        def finished(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if key in keys:
                progress.step()

        with callback(posttask=finished):
            return list(dask.compute(*tasks, scheduler="threads"))

    # ------------------------------------------------------------------ the run

    def run(self, plan: Plan, data: Any) -> Sums:
        """The sums of ``plan`` over ``data`` (see the class for the inputs)."""
        delayed = _module("dask").delayed
        frame = self.frame(data, plan)
        parts = frame.to_delayed()
        progress = _Progress(self.progress, 2 * len(parts))
        meta: pd.DataFrame = frame._meta
        setup = _Setup.checked(plan, meta)

        # pass 1: structure
        shared = delayed(setup, pure=True, traverse=False)
        structures: list[_Structure] = self._compute(
            [delayed(_structure)(p, shared) for p in parts], progress
        )
        context = setup.context(structures)

        # pass 2: sums
        shared_context = delayed(context, pure=True, traverse=False)
        offsets = np.concatenate([[0], np.cumsum([s.n for s in structures])]).astype(np.int64)
        tasks = [
            delayed(_partition_sums)(
                p, shared_context, int(offsets[i]), context.weight_slice(offsets, i)
            )
            for i, p in enumerate(parts)
        ]
        results: list[_Partial] = self._compute(tasks, progress)
        sums = context.merge(results)
        progress.finish()
        return sums


# --------------------------------------------------------------------------- pass 1


@dataclass
class _Structure:
    """What pass 1 returns for one partition."""

    n: int
    missing: dict[str, tuple[int, int]]  # column: (count, first local position)
    fpc_range: dict[str, tuple[float, float]]
    distinct: dict[str, pd.Series[Any]]  # breakdown column: its distinct values
    design_rows: pd.DataFrame | None  # distinct design rows (all rows: records are units)


@dataclass
class _Setup:
    """The run's plan and the columns pass 1 looks at (sent to the workers)."""

    plan: Plan
    columns: list[str]
    breakdown_columns: list[str]
    missing_columns: list[str]
    fpc_columns: list[str]
    design_columns: list[str]  # strata, psu and fpc of the variance stages
    rep_columns: tuple[str, ...]
    records_are_units: bool

    @classmethod
    def checked(cls, plan: Plan, meta: pd.DataFrame) -> _Setup:
        """The pandas engine's checks on the columns and types (from the
        Dask DataFrame's empty ``meta``), and what pass 1 must collect."""
        design = plan.design
        available = [str(c) for c in meta.columns]
        if design is not None:
            _check_design_columns(design, available)
        for col in sorted(plan.columns()):
            if col not in available:
                raise UnknownColumnError(col, available)
        missing: list[str] = []
        fpc: list[str] = []
        design_cols: list[str] = []
        rep: tuple[str, ...] = ()
        records_are_units = False
        if design is not None:
            if plan.variance == "taylor":
                used = design.variance_stages
                fpc = list(design.fpc[:used])
                missing += list(design.strata[:used]) + list(design.psu[:used]) + fpc
                design_cols = list(dict.fromkeys([*design.strata[:used], *design.psu[:used]]))
                design_cols = list(dict.fromkeys([*design_cols, *fpc]))
                records_are_units = not design.psu
            if design.weights is not None:
                missing.append(design.weights)
            if plan.variance == "replicate":
                rep = tuple(design.replicate_columns(available))
                missing += list(rep)
        breakdowns = list(
            dict.fromkeys(c for g in plan.groupings for b in g.breakdowns for c in [b.column])
        )
        # the filters' and value columns' type checks, on the empty meta
        _Measures(meta, plan, np.ones(len(meta), dtype=np.float64))
        for req in plan.rows:
            _numeric(meta[req.value], req.value, "value")
        return cls(
            plan=plan,
            columns=available,
            breakdown_columns=breakdowns,
            missing_columns=list(dict.fromkeys(missing)),
            fpc_columns=fpc,
            design_columns=design_cols,
            rep_columns=rep,
            records_are_units=records_are_units,
        )

    def context(self, structures: Sequence[_Structure]) -> _Context:
        """The global codes, from every partition's structure (raising as the
        pandas engine would on missing design values, fpcs, unmapped codes)."""
        plan = self.plan
        design = plan.design
        n = sum(s.n for s in structures)
        offsets = np.concatenate([[0], np.cumsum([s.n for s in structures])]).astype(np.int64)

        def missing(col: str) -> tuple[int, int]:
            count, first = 0, -1
            for s, offset in zip(structures, offsets, strict=False):
                c, f = s.missing.get(col, (0, -1))
                if c and first < 0:
                    first = int(offset) + f
                count += c
            return count, first

        stages: tuple[StageTable, ...] = ()
        lookup: pd.DataFrame | None = None
        derived_weights: FloatArray | None = None
        if design is not None and plan.variance == "taylor":
            self._check_fpc(design, structures, missing)
            used = design.variance_stages
            for s in range(1, used + 1):
                cols: list[tuple[str, str]] = []
                if len(design.strata) >= s:
                    cols.append((design.strata[s - 1], "strata"))
                if design.psu:
                    cols.append((design.psu[s - 1], "psu"))
                for col, field_name in cols:
                    count, first = missing(col)
                    if count:
                        raise DesignError(
                            f"the design's {field_name} column {col!r} has {count} missing "
                            f"value(s) (first at row {first})",
                            field_name,
                            col,
                        )
            rows = [s.design_rows for s in structures if s.design_rows is not None]
            small = (
                _concat(rows, self.design_columns)
                if self.design_columns
                else pd.DataFrame(index=pd.RangeIndex(n))
            )
            if design.psu:
                small = small.drop_duplicates(ignore_index=True)
            stages, finest, stratum_rows = _stage_tables(small, design)
            if design.psu:
                keys = list(dict.fromkeys([*design.strata[:used], *design.psu[:used]]))
                lookup = small[keys].assign(__mp_u=finest.astype(np.int64))
                if design.weights is None and design.fpc:
                    lookup["__mp_w"] = _weights(small, design, stages, stratum_rows)
                lookup = lookup.drop_duplicates(keys, ignore_index=True)
            elif design.weights is None and design.fpc:
                derived_weights = _weights(small, design, stages, stratum_rows)
        if design is not None and design.weights is not None:
            count, first = missing(design.weights)
            if count:
                raise DesignError(
                    f"the weights column {design.weights!r} has {count} missing value(s) "
                    f"(first at row {first})",
                    "weights",
                    design.weights,
                )
        for col in self.rep_columns:
            if missing(col)[0]:
                raise DesignError(
                    f"the replicate weight column {col!r} has missing values",
                    "replicate_weights",
                    col,
                )
        # the breakdowns: codes of the distinct values, by the pandas engine's rules
        components: dict[tuple[str, object], _Lookup] = {}
        bases = plan.bases()
        for gi, grouping in enumerate(plan.groupings):
            if bases[gi] != gi:
                continue
            for b in grouping.breakdowns:
                key = (b.column, b.mapping)
                if key not in components:
                    values = _concat_series([s.distinct[b.column] for s in structures])
                    components[key] = _Lookup.of(values, b.mapping_dict(), b.column)
        rows_are_units = plan.variance == "taylor" and (
            self.records_are_units or (bool(stages) and len(stages[-1].units) == n)
        )
        return _Context(
            setup=self,
            n=n,
            stages=stages,
            design_lookup=lookup,
            derived_weights=derived_weights,
            components=components,
            n_units=len(stages[-1].units) if stages else n,
            rows_are_units=rows_are_units,
        )

    def _check_fpc(self, design: Design, structures: Sequence[_Structure], missing: Any) -> None:
        """The pandas engine's checks of the fpc columns (missing, negative,
        population sizes and fractions mixed)."""
        lows: list[float] = []
        highs: list[float] = []
        for col in self.fpc_columns:
            if missing(col)[0]:
                raise DesignError(f"the fpc column {col!r} has missing values", "fpc", col)
            ranges = [s.fpc_range[col] for s in structures if col in s.fpc_range]
            lows.append(min((r[0] for r in ranges), default=np.inf))
            highs.append(max((r[1] for r in ranges), default=-np.inf))
            if lows[-1] < 0:
                raise DesignError(f"the fpc column {col!r} has negative values", "fpc", col)
        if any(h > 1 for h in highs):
            for col, lo in zip(self.fpc_columns, lows, strict=True):
                if lo < 1:
                    raise DesignError(
                        f"fpc values must all be population sizes (>= 1) or all sampling "
                        f"fractions (<= 1); column {col!r} mixes them",
                        "fpc",
                        col,
                    )


def _concat(frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(list(frames), ignore_index=True)


def _concat_series(parts: Sequence[pd.Series[Any]]) -> pd.Series[Any]:
    """The partitions' distinct values as one Series of distinct values, in
    order of first appearance (categoricals of one dtype stay categorical)."""
    values = pd.concat(list(parts), ignore_index=True) if parts else pd.Series(dtype=object)
    return values.drop_duplicates().reset_index(drop=True)


def _structure(part: pd.DataFrame, setup: _Setup) -> _Structure:
    """Pass 1 on one partition."""
    n = len(part)
    missing: dict[str, tuple[int, int]] = {}
    for col in setup.missing_columns:
        na = np.asarray(part[col].isna().to_numpy(), dtype=bool)
        if na.any():
            missing[col] = (int(na.sum()), int(np.argmax(na)))
    fpc_range: dict[str, tuple[float, float]] = {}
    for col in setup.fpc_columns:
        values = _numeric(part[col], col, "fpc")
        values = values[~np.isnan(values)]
        if len(values):
            fpc_range[col] = (float(values.min()), float(values.max()))
    distinct = {col: part[col].drop_duplicates() for col in setup.breakdown_columns}
    rows: pd.DataFrame | None = None
    if setup.design_columns:
        rows = part[setup.design_columns]
        if not setup.records_are_units:
            rows = rows.drop_duplicates()
        rows = rows.reset_index(drop=True)
    return _Structure(n, missing, fpc_range, distinct, rows)


# --------------------------------------------------------------------------- pass 2


@dataclass
class _Lookup:
    """The cell codes of a breakdown column's values (with its mapping)."""

    index: pd.Index[Any]  # the distinct values present (not missing)
    codes: IntArray  # the code of each of them
    missing_code: int  # the code of missing values (the _U cell)
    labels: list[object]

    @classmethod
    def of(cls, values: pd.Series[Any], mapping: Any, column: str) -> _Lookup:
        codes, labels = _factorize(values, mapping, column)
        present = np.asarray(values.notna().to_numpy(), dtype=bool)
        index = pd.Index(values[present].reset_index(drop=True))
        missing_code = int(codes[~present][0]) if (~present).any() else len(labels)
        return cls(index, np.asarray(codes[present], dtype=np.int64), missing_code, labels)

    def codes_of(self, series: pd.Series[Any]) -> IntArray:
        """The code of every value of ``series``."""
        if isinstance(series.dtype, pd.CategoricalDtype):
            cats = series.cat.categories
            position = np.asarray(self.index.get_indexer(cats), dtype=np.int64)
            table = np.where(position >= 0, self.codes[np.maximum(position, 0)], -1)
            raw = np.asarray(series.cat.codes.to_numpy(), dtype=np.int64)
            out = np.where(raw >= 0, table[np.maximum(raw, 0)], self.missing_code)
        else:
            na = np.asarray(series.isna().to_numpy(), dtype=bool)
            position = np.asarray(self.index.get_indexer(pd.Index(series)), dtype=np.int64)
            out = np.where(position >= 0, self.codes[np.maximum(position, 0)], -1)
            out[na] = self.missing_code
        if bool((out < 0).any()):  # pragma: no cover - every value was seen in pass 1
            raise RuntimeError("a breakdown value was not found in the partition structure")
        return np.asarray(out, dtype=np.int64)


@dataclass
class _GroupPart:
    """One partition's sums for one grouping computed from the data."""

    keys: IntArray  # the combined key of each local cell (sorted)
    totals: FloatArray  # local cells x measures
    units: pd.DataFrame | None
    replicates: FloatArray | None  # local cells x (weighted measures x R)
    pairs: dict[str, tuple[IntArray, IntArray, IntArray]] = field(default_factory=dict)


@dataclass
class _Partial:
    """What pass 2 returns for one partition."""

    groupings: dict[int, _GroupPart]
    rows: list[pd.DataFrame]  # row requests, with the local cell of their base grouping
    rep_rows: FloatArray | None  # distinct replicate rows of active records
    rep_first: IntArray | None  # their first position (global)
    rep_index: IntArray | None  # local row code -> position in rep_rows (-1: none)


@dataclass
class _Context:
    """The global codes (sent to the workers for pass 2) and the merge."""

    setup: _Setup
    n: int
    stages: tuple[StageTable, ...]
    design_lookup: pd.DataFrame | None
    derived_weights: FloatArray | None
    components: dict[tuple[str, object], _Lookup]
    n_units: int
    rows_are_units: bool

    def weight_slice(self, offsets: IntArray, i: int) -> FloatArray | None:
        if self.derived_weights is None:
            return None
        return self.derived_weights[int(offsets[i]) : int(offsets[i + 1])]

    def sizes(self, gi: int) -> list[int]:
        grouping = self.setup.plan.groupings[gi]
        return [len(self.components[(b.column, b.mapping)].labels) for b in grouping.breakdowns]

    def combined(self, part: pd.DataFrame, gi: int) -> IntArray:
        """The combined key (mixed radix of the breakdowns' codes) per record."""
        grouping = self.setup.plan.groupings[gi]
        sizes = self.sizes(gi)
        total = 1
        for size in sizes:
            total *= max(size, 1)
        if total >= 2**62:
            raise EstimateError(
                "the dask engine cannot code this many combinations of breakdown values", "by"
            )
        out = np.zeros(len(part), dtype=np.int64)
        for b, size in zip(grouping.breakdowns, sizes, strict=True):
            codes = self.components[(b.column, b.mapping)].codes_of(part[b.column])
            out = out * max(size, 1) + codes
        return out

    # ------------------------------------------------------------------ merge

    def merge(self, partials: Sequence[_Partial]) -> Sums:
        """The :class:`Sums` from every partition's :class:`_Partial`."""
        plan = self.setup.plan
        names = [m.name for m in plan.measures]
        bases = plan.bases()
        r = len(self.setup.rep_columns)
        weighted = [m.name for m in plan.measures if m.weighted]
        counts = [m.name for m in plan.measures if not m.weighted]

        # replicate patterns: the partitions' rows of active records, by first position
        patterns: pd.DataFrame | None = None
        row_pattern: IntArray | None = None  # pattern of each gathered row
        starts: list[int] = []
        if plan.variance == "replicate":
            gathered = [p.rep_rows for p in partials if p.rep_rows is not None]
            firsts = [p.rep_first for p in partials if p.rep_first is not None]
            rep_rows = np.concatenate(gathered) if gathered else np.zeros((0, r))
            first = np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)
            position = 0
            for p in partials:
                starts.append(position)
                position += 0 if p.rep_rows is None else len(p.rep_rows)
            order = np.argsort(first, kind="stable")
            coded = _row_codes(
                [np.ascontiguousarray(rep_rows[order, j]) for j in range(r)], len(order)
            )
            if coded is None:  # pragma: no cover - missing replicate weights raised in pass 1
                raise AssertionError("a missing replicate weight was not found")
            codes, distinct = coded
            of_distinct, patterns = _replicate_patterns(
                distinct, codes, np.arange(len(order), dtype=np.int64)
            )
            row_pattern = np.empty(len(order), dtype=np.int64)
            row_pattern[order] = of_distinct[codes] if len(order) else of_distinct[:0]

        results: dict[int, CellSums] = {}
        local_maps: dict[int, list[IntArray]] = {}
        for gi in range(len(plan.groupings)):
            if bases[gi] != gi:
                continue
            pieces = [p.groupings[gi] for p in partials]
            all_keys = [piece.keys for piece in pieces]
            keys = np.unique(np.concatenate(all_keys)) if all_keys else np.zeros(0, np.int64)
            keys = keys.astype(np.int64)
            maps = [np.searchsorted(keys, k).astype(np.int64) for k in all_keys]
            local_maps[gi] = maps
            ncells = len(keys)
            cell_keys = self.cell_keys(gi, keys)
            totals = np.zeros((ncells, len(names)), dtype=np.float64)
            for piece, mapping in zip(pieces, maps, strict=True):
                np.add.at(totals, mapping, piece.totals)
            units: pd.DataFrame | None = None
            if plan.variance == "taylor":
                units = self.merge_units(pieces, maps, names, ncells)
            replicates: pd.DataFrame | None = None
            pair_frame: pd.DataFrame | None = None
            if plan.variance == "replicate" and row_pattern is not None:
                reps = np.zeros((ncells, len(weighted) * r), dtype=np.float64)
                for piece, mapping in zip(pieces, maps, strict=True):
                    if piece.replicates is not None:
                        np.add.at(reps, mapping, piece.replicates)
                columns = pd.MultiIndex.from_product(
                    [weighted, range(r)], names=["measure", "replicate"]
                )
                replicates = pd.DataFrame(reps, columns=columns, copy=False)
                pair_frame = self.merge_pairs(
                    partials, gi, maps, starts, row_pattern, counts, ncells
                )
            results[gi] = CellSums(
                keys=cell_keys,
                totals=pd.DataFrame(totals, columns=names, copy=False),
                units=units,
                replicates=replicates,
                patterns=pair_frame,
            )
        derived: dict[int, IntArray] = {}
        same = _same_measures(plan)
        for gi, grouping in enumerate(plan.groupings):
            base = bases[gi]
            if base == gi:
                continue
            mapping, cell_keys = _derive_keys(plan.groupings[base], results[base].keys, grouping)
            derived[gi] = mapping
            results[gi] = _derive_sums(
                results[base], mapping, cell_keys, self.n_units, self.rows_are_units, same
            )

        rows: list[pd.DataFrame] = []
        for req in plan.rows:
            base = bases[req.grouping]
            frames: list[pd.DataFrame] = []
            for p, mapping in zip(partials, local_maps[base], strict=True):
                frame = p.rows[req.index]
                cell = mapping[frame["cell"].to_numpy(dtype=np.int64)]
                if req.grouping in derived:
                    cell = derived[req.grouping][cell]
                frames.append(frame.assign(cell=cell.astype(np.int64)))
            rows.append(pd.concat(frames, ignore_index=True))

        return Sums(
            plan=plan,
            groupings=tuple(results[i] for i in range(len(plan.groupings))),
            rows=tuple(rows),
            stages=self.stages,
            patterns=patterns,
            replicate_columns=self.setup.rep_columns,
            n_records=self.n,
        )

    def cell_keys(self, gi: int, keys: IntArray) -> pd.DataFrame:
        """The table of cell keys (labels) of the combined ``keys``."""
        grouping = self.setup.plan.groupings[gi]
        sizes = self.sizes(gi)
        columns: dict[str, pd.Series[Any]] = {}
        rest = keys.copy()
        parts: list[IntArray] = []
        for size in reversed(sizes):
            parts.append(rest % max(size, 1))
            rest = rest // max(size, 1)
        parts = parts[::-1]
        for b, part in zip(grouping.breakdowns, parts, strict=True):
            labels = self.components[(b.column, b.mapping)].labels
            columns[b.name] = pd.Series(_object_array(labels)[part], dtype=object)
        return pd.DataFrame(columns, index=pd.RangeIndex(len(keys)))

    def merge_units(
        self,
        pieces: Sequence[_GroupPart],
        maps: Sequence[IntArray],
        names: Sequence[str],
        ncells: int,
    ) -> pd.DataFrame:
        """The partitions' units tables with global cell codes: concatenated
        (records as units, data order) or summed per (cell, unit), sorted."""
        frames = []
        for piece, mapping in zip(pieces, maps, strict=True):
            if piece.units is not None and len(piece.units):
                cell = mapping[piece.units["cell"].to_numpy(dtype=np.int64)]
                frames.append(piece.units.assign(cell=cell))
        if not frames:
            empty = {"cell": np.zeros(0, np.int64), "unit": np.zeros(0, np.int64)}
            return pd.DataFrame({**empty, **{m: np.zeros(0) for m in names}})
        units = pd.concat(frames, ignore_index=True)
        if self.rows_are_units or len(frames) == 1:
            return units
        width = max(self.n_units, 1)
        key = units["cell"].to_numpy(dtype=np.int64) * width + units["unit"].to_numpy(
            dtype=np.int64
        )
        ids, found = _sorted_codes(key, ncells * width)
        out = np.empty((len(found), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            column = np.ascontiguousarray(units[name].to_numpy(dtype=np.float64))
            out[:, j] = _sum_by(ids, column, len(found))
        frame = pd.DataFrame(out, columns=list(names), copy=False)
        frame.insert(0, "unit", found % width)
        frame.insert(0, "cell", found // width)
        return frame

    def merge_pairs(
        self,
        partials: Sequence[_Partial],
        gi: int,
        maps: Sequence[IntArray],
        starts: Sequence[int],
        row_pattern: IntArray,
        counts: Sequence[str],
        ncells: int,
    ) -> pd.DataFrame:
        """Each count measure's distinct (cell, pattern) pairs, in order of
        first appearance in data order."""
        npat = max(int(row_pattern.max()) + 1 if len(row_pattern) else 0, 1)
        out: list[pd.DataFrame] = []
        for name in counts:
            cells: list[IntArray] = []
            pats: list[IntArray] = []
            firsts: list[IntArray] = []
            for p, mapping, start in zip(partials, maps, starts, strict=True):
                cell, row, first = p.groupings[gi].pairs[name]
                if p.rep_index is None or not len(cell):
                    continue
                gathered = p.rep_index[row]
                cells.append(mapping[cell])
                pats.append(row_pattern[start + gathered])
                firsts.append(first)
            if cells:
                cell_all = np.concatenate(cells)
                pat_all = np.concatenate(pats)
                order = np.argsort(np.concatenate(firsts), kind="stable")
                cell_all, pat_all = cell_all[order], pat_all[order]
                keep = pat_all >= 0
                pairs = _first_seen(cell_all[keep] * npat + pat_all[keep], ncells * npat)
            else:
                pairs = np.zeros(0, dtype=np.int64)
            frame = pd.DataFrame({"cell": pairs // npat, "pattern": pairs % npat})
            frame.insert(1, "measure", name)
            out.append(frame)
        if not out:
            return pd.DataFrame({"cell": [], "measure": [], "pattern": []})
        return pd.concat(out, ignore_index=True)


def _same_measures(plan: Plan) -> dict[str, str]:
    """For each measure, the first measure of the plan with the same
    definition (the pandas engine's ``same``, by definition only)."""
    first: dict[object, str] = {}
    return {m.name: first.setdefault(m.key(), m.name) for m in plan.measures}


def _partition_sums(
    part: pd.DataFrame, context: _Context, offset: int, derived: FloatArray | None
) -> _Partial:
    """Pass 2 on one partition: the plan's sums per local cell."""
    setup = context.setup
    plan = setup.plan
    design = plan.design
    variance = plan.variance
    part = part.reset_index(drop=True)
    n = len(part)

    # the unit of every record (Taylor) and the weights
    finest = offset + np.arange(n, dtype=np.int64)
    joined_weights: FloatArray | None = None
    if context.design_lookup is not None and design is not None:
        keys = [c for c in context.design_lookup.columns if not c.startswith("__mp_")]
        joined = part[keys].merge(context.design_lookup, on=keys, how="left", sort=False)
        finest = joined["__mp_u"].to_numpy(dtype=np.int64)
        if "__mp_w" in joined.columns:
            joined_weights = joined["__mp_w"].to_numpy(dtype=np.float64)
    if design is not None and design.weights is not None:
        weights = _numeric(part[design.weights], design.weights, "weights")
    elif joined_weights is not None:
        weights = joined_weights
    elif derived is not None:
        weights = np.asarray(derived, dtype=np.float64)
    else:
        weights = np.ones(n, dtype=np.float64)

    row_codes: IntArray | None = None
    distinct_rows: FloatArray | None = None
    rep_values: list[FloatArray] = []
    if variance == "replicate":
        rep_values = _replicate_values(part, setup.rep_columns)
        coded = _row_codes(rep_values, n)
        if coded is None:  # pragma: no cover - missing replicate weights raised in pass 1
            raise AssertionError("a missing replicate weight was not found")
        row_codes, distinct_rows = coded

    measures = _Measures(part, plan, weights)
    names = measures.names
    keys_of = measures.keys
    weighted_idx = [j for j, m in enumerate(plan.measures) if m.weighted]
    count_idx = [j for j, m in enumerate(plan.measures) if not m.weighted]
    active = measures.active() if variance != "none" and names else np.zeros(n, dtype=bool)
    active_rows = np.flatnonzero(active)

    rep_rows: FloatArray | None = None
    rep_first: IntArray | None = None
    rep_index: IntArray | None = None
    if row_codes is not None and distinct_rows is not None:
        k = len(distinct_rows)
        first = np.full(k, n, dtype=np.int64)
        np.minimum.at(first, row_codes[active_rows], active_rows)
        appear = np.flatnonzero(first < n)
        rep_rows = distinct_rows[appear]
        rep_first = first[appear] + offset
        rep_index = np.full(k, -1, dtype=np.int64)
        rep_index[appear] = np.arange(len(appear), dtype=np.int64)

    bases = plan.bases()
    groupings: dict[int, _GroupPart] = {}
    local_cells: dict[int, IntArray] = {}
    for gi in range(len(plan.groupings)):
        if bases[gi] != gi:
            continue
        combined = context.combined(part, gi)
        bound = 1
        for size in context.sizes(gi):
            bound *= max(size, 1)
        if n:
            cells, cell_keys = _sorted_codes(combined, max(bound, 1))
        else:
            cells, cell_keys = np.zeros(0, np.int64), np.zeros(0, np.int64)
        cells = np.asarray(cells, dtype=np.int64)
        local_cells[gi] = cells
        ncells = len(cell_keys)
        totals = np.empty((ncells, len(names)), dtype=np.float64)
        sums = {key: _sum_by(cells, measures.column(key), ncells) for key in measures.distinct()}
        for j, key in enumerate(keys_of):
            totals[:, j] = sums[key]
        units: pd.DataFrame | None = None
        if variance == "taylor":
            units, _, _ = PandasEngine._unit_sums(
                measures,
                cells,
                ncells,
                finest,
                context.n_units,
                active_rows,
                context.rows_are_units,
            )
        reps: FloatArray | None = None
        pairs: dict[str, tuple[IntArray, IntArray, IntArray]] = {}
        if row_codes is not None and distinct_rows is not None:
            frame = PandasEngine._replicate_totals(
                measures,
                cells,
                ncells,
                row_codes,
                distinct_rows,
                active,
                [keys_of[j] for j in weighted_idx],
                [names[j] for j in weighted_idx],
            )
            reps = frame.to_numpy(dtype=np.float64)
            k = max(len(distinct_rows), 1)
            found: dict[object, tuple[IntArray, IntArray, IntArray]] = {}
            for j in count_idx:
                key = keys_of[j]
                if key not in found:
                    column = measures.column(key)
                    counted = column if column.dtype == np.bool_ else column > 0
                    idx = np.flatnonzero(counted)
                    pair = cells[idx] * k + row_codes[idx]
                    uniq, at = np.unique(pair, return_index=True)
                    found[key] = (uniq // k, uniq % k, idx[at] + offset)
                pairs[names[j]] = found[key]
        groupings[gi] = _GroupPart(
            np.asarray(cell_keys, dtype=np.int64), totals, units, reps, pairs
        )

    rows = _row_frames(
        plan,
        measures,
        lambda g: local_cells[bases[g]],
        weights,
        variance,
        finest,
        row_codes is not None,
        rep_values,
    )
    return _Partial(groupings, rows, rep_rows, rep_first, rep_index)
