"""Engines: run an aggregation plan over data and return its sums.

An engine only filters (through the filter expression tree) and group-sums.
The contract (:class:`Engine`) is one method, ``run(plan, data) -> Sums``,
where :class:`Sums` holds small pandas DataFrames:

- per grouping (:class:`CellSums`): the cell keys; the total of every measure
  per cell; for Taylor linearisation, the measures summed per cell x sampling
  unit (of the deepest stage that enters the variance); for replicate
  weights, the measures summed per cell with every replicate weight, and the
  distinct replicate-weight patterns of each count measure's records (for
  the replicate degrees of freedom);
- the design's structure over the **full** data (:class:`StageTable`): for
  every stage, each unit's stratum and parent unit, each stratum's number of
  units and population size;
- for each row request (quantiles): the records of the domain with their
  cell, value, weight and unit (or replicate weights).

:class:`PandasEngine` computes everything in memory: one filter evaluator
for all the plan's domains, one ``numpy.bincount`` per distinct measure and
grouping computed from the data; coarser groupings are derived from those
sums. ``ENGINES`` registers engines by name; :func:`get_engine` resolves a
name, including ``"auto"`` (:func:`auto_engine_name`: pandas for data in
memory, the out-of-core DuckDB engine for files above
:data:`AUTO_SETTINGS`'s size threshold).

Long scans report progress through a callback ``progress(done, total)``
(:data:`ProgressCallback`), given to an engine (``DuckDBEngine(progress=...)``)
or set for a block of code with :func:`report_progress` (which reaches engines
created by name, as ``compute(..., engine="duckdb")`` does).
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from migprofile.catalog.filters import (
    Expr,
    MaskEvaluator,
    UnknownColumnError,
)
from migprofile.compute.design import Design, DesignColumnError, DesignError
from migprofile.compute.plan import Breakdown, EstimateError, Grouping, Measure, Plan
from migprofile.errors import MigprofileError

__all__ = [
    "AUTO_SETTINGS",
    "ENGINES",
    "UNKNOWN",
    "AutoSettings",
    "CellSums",
    "Engine",
    "PandasEngine",
    "ProgressCallback",
    "StageTable",
    "Sums",
    "UnmappedCodeError",
    "auto_engine_name",
    "get_engine",
    "report_progress",
]

#: The code of the cell of records whose breakdown value is missing.
UNKNOWN = "_U"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class UnmappedCodeError(KeyError, MigprofileError):
    """A breakdown's mapping (codelist level) has no parent for codes in the data."""

    def __init__(self, column: str, codes: Sequence[object]) -> None:
        self.column = column
        self.codes = tuple(codes)
        super().__init__(column)

    def __str__(self) -> str:
        shown = ", ".join(repr(c) for c in self.codes[:20])
        more = ", ..." if len(self.codes) > 20 else ""
        return (
            f"the breakdown of column {self.column!r} maps codes to a coarser level, but "
            f"{len(self.codes)} code(s) in the data have no parent: {shown}{more}"
        )


# --------------------------------------------------------------------------- progress

#: A progress callback: ``progress(done, total)``, the units of work done so
#: far and their number (``None`` when not known in advance). Units are an
#: engine's own: the DuckDB engine's scans, the Dask engine's partitions, the
#: pandas engine's groupings. It is called from the thread that runs the
#: engine, first with ``done = 0``, last with ``done == total``.
ProgressCallback = Callable[[int, int | None], None]

_PROGRESS: ContextVar[ProgressCallback | None] = ContextVar("migprofile_progress", default=None)


@contextmanager
def report_progress(callback: ProgressCallback | None) -> Iterator[None]:
    """Within the block, engines without a callback of their own report to
    ``callback`` (``None``: no reporting)::

        with report_progress(lambda done, total: print(done, total)):
            mp.compute(dataset, ["IMM_STOCK"], engine="duckdb")
    """
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


class _Progress:
    """The callback an engine run reports to (its own, else the context's),
    counting units of work."""

    def __init__(self, own: ProgressCallback | None, total: int | None) -> None:
        self.callback = own if own is not None else _PROGRESS.get()
        self.total = total
        self.done = 0
        if self.callback is not None:
            self.callback(0, total)

    def step(self, units: int = 1) -> None:
        self.done += units
        if self.total is not None and self.done > self.total:
            self.total = self.done  # an engine found more work than it planned
        if self.callback is not None:
            self.callback(self.done, self.total)

    def finish(self) -> None:
        if self.total is None:
            self.total = self.done
            if self.callback is not None:
                self.callback(self.done, self.total)
        elif self.done < self.total:
            self.step(self.total - self.done)


# --------------------------------------------------------------------------- contract


@dataclass(frozen=True, eq=False)
class StageTable:
    """Stage ``stage`` of a Taylor design, over the full data.

    ``units``: one row per unit (index = unit code), columns ``stratum`` (its
    stratum code at this stage), ``parent`` (its unit code at the stage above;
    0 at stage 1) and ``label``. ``strata``: one row per stratum (index =
    stratum code), columns ``n_units`` (units of the stratum in the data),
    ``popsize`` (population units; ``inf`` without fpc), ``parent`` (the unit
    of the stage above it is nested in; 0 at stage 1) and ``label``.
    """

    stage: int
    units: pd.DataFrame
    strata: pd.DataFrame


@dataclass(frozen=True, eq=False)
class CellSums:
    """The sums of one grouping.

    ``keys``: one row per cell (the cell code is the row position), one column
    per breakdown with the cell's code (``_U`` for missing values).
    ``totals``: one row per cell, one column per measure (weighted total, or
    count of records for an unweighted measure).
    ``units`` (Taylor): columns ``cell``, ``unit`` (code of the unit at the
    deepest variance stage) and one per measure, for every cell x unit with a
    record in some measure's domain.
    ``replicates`` (replicate weights): one row per cell; columns
    ``(measure, r)`` with the total of each weighted measure under replicate
    weight ``r``.
    ``patterns`` (replicate weights): columns ``cell``, ``measure`` (a count
    measure) and ``pattern``: the distinct replicate-weight patterns (rows of
    :attr:`Sums.patterns`) of the measure's records in the cell.
    """

    keys: pd.DataFrame
    totals: pd.DataFrame
    units: pd.DataFrame | None = None
    replicates: pd.DataFrame | None = None
    patterns: pd.DataFrame | None = None

    @property
    def ncells(self) -> int:
        return len(self.keys)


@dataclass(frozen=True, eq=False)
class Sums:
    """Everything an engine returns for a plan (small tables).

    ``groupings`` follows ``plan.groupings``; ``rows`` follows ``plan.rows``
    (columns ``cell``, ``value``, ``weight``, and ``unit`` for Taylor designs
    or ``rep0`` ... for replicate designs, one row per record of the domain,
    in data order). ``stages`` describes a Taylor design; ``patterns`` holds
    the distinct replicate-weight rows, each divided by its sum.
    ``replicate_columns`` names the replicate weights used.
    """

    plan: Plan
    groupings: tuple[CellSums, ...]
    rows: tuple[pd.DataFrame, ...] = ()
    stages: tuple[StageTable, ...] = ()
    patterns: pd.DataFrame | None = None
    replicate_columns: tuple[str, ...] = ()
    n_records: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """Runs a :class:`~migprofile.compute.plan.Plan` over data.

    An engine evaluates the plan's domains (filter expressions) and
    group-sums its measures; it returns :class:`Sums`. It must compute the
    design's stage tables over the full data (never over a domain: domains
    are estimated by zeroing weights) and give cells and units the codes
    described in :class:`CellSums`. See ``docs/estimation.md``.
    """

    name: ClassVar[str]

    def run(self, plan: Plan, data: Any) -> Sums:
        """The sums of ``plan`` over ``data``."""
        ...


# --------------------------------------------------------------------------- helpers


def _numeric(series: pd.Series[Any], column: str, what: str) -> FloatArray:
    """A column as float64 (booleans as 0/1, missing values as NaN)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        if pd.api.types.is_complex_dtype(dtype):
            raise EstimateError(f"{what} column {column!r} is complex", what)
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    if dtype == np.dtype(object):
        try:
            return np.asarray(
                pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan),
                dtype=np.float64,
            )
        except (TypeError, ValueError):
            pass
    raise EstimateError(
        f"{what} column {column!r} must be numeric, but it has type {series.dtype}", what
    )


def _raw_codes(values: pd.Series[Any] | npt.NDArray[Any]) -> tuple[IntArray, list[object]]:
    """Codes sorted by value (-1 for missing values) and their labels."""
    codes, labels, _ = _typed_codes(values)
    return codes, labels


def _typed_codes(
    values: pd.Series[Any] | npt.NDArray[Any],
) -> tuple[IntArray, list[object], bool]:
    """:func:`_raw_codes`, and whether the labels are all strings (values of
    a string dtype)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) and isinstance(
        dtype.categories.dtype, pd.StringDtype
    ):
        # as pandas.factorize(sort=True): the categories that occur, in the
        # categories' order, from the integer codes
        raw = np.asarray(typing.cast(pd.Categorical, series.array).codes)
        ncat = len(dtype.categories)
        if ncat <= 32:
            used = np.array([bool((raw == c).any()) for c in range(ncat)], dtype=bool)
        else:
            used = np.bincount(raw.astype(np.intp) + 1, minlength=ncat + 1)[1:] > 0
        rank = np.append(np.cumsum(used, dtype=np.int64) - 1, -1)  # the last: code -1
        names: list[object] = np.asarray(dtype.categories[used].to_numpy(dtype=object)).tolist()
        return np.asarray(rank[raw], dtype=np.int64), names, True
    try:
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
    except TypeError:  # values of several types that do not sort together
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    if isinstance(uniques.dtype, pd.StringDtype):
        # the same str objects as list(uniques), without iterating the array
        labels: list[object] = np.asarray(uniques.to_numpy(dtype=object)).tolist()
        return np.asarray(codes, dtype=np.int64), labels, True
    return np.asarray(codes, dtype=np.int64), list(uniques), False


def _factorize(
    values: pd.Series[Any] | npt.NDArray[Any],
    mapping: Mapping[Any, Any] | None = None,
    column: str = "",
) -> tuple[IntArray, list[object]]:
    """Cell codes of a breakdown column and their labels: codes sorted by
    value (after ``mapping``, when given), missing values and ``_U`` last,
    labelled ``_U``."""
    codes, labels, strings = _typed_codes(values)
    if mapping is not None:
        strings = False
        unmapped = [lab for lab in labels if lab not in mapping and not _unknown_label(lab)]
        if unmapped:
            raise UnmappedCodeError(column, unmapped)
        parents = np.empty(len(labels), dtype=object)
        parents[:] = [mapping.get(lab, lab) for lab in labels]
        pcodes, labels = _raw_codes(parents)
        codes = np.where(codes >= 0, np.append(pcodes, -1)[codes], -1)
    if strings:
        unknown = np.zeros(len(labels), dtype=bool)
        if UNKNOWN in labels:
            unknown[labels.index(UNKNOWN)] = True
    else:
        unknown = np.array([_unknown_label(lab) for lab in labels], dtype=bool)
    if unknown.any():
        keep = ~unknown
        remap = np.full(len(labels), -1, dtype=np.int64)
        remap[keep] = np.arange(int(keep.sum()))
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(UNKNOWN)
    return codes, labels


def _unknown_label(label: object) -> bool:
    if isinstance(label, str):
        return label == UNKNOWN
    return (
        label is None
        or label is pd.NA
        or label is pd.NaT
        or (isinstance(label, float) and label != label)
    )


def _combine(
    codes: Sequence[IntArray], sizes: Sequence[int], n: int
) -> tuple[IntArray, list[IntArray]]:
    """Compact codes (in lexicographic order) of the combinations of
    ``codes`` that occur, and each compact code's component codes."""
    if not codes:
        return np.zeros(n, dtype=np.int64), []
    if len(codes) == 1 and sizes[0] > 0:
        # one breakdown whose codes all occur: they are their own compact codes
        single = np.asarray(codes[0], dtype=np.int64)
        counts = np.bincount(single, minlength=sizes[0]) if n else np.zeros(0, dtype=np.int64)
        if len(counts) == sizes[0] and bool((counts > 0).all()):
            return single.copy(), [np.arange(sizes[0], dtype=np.int64)]
    total = 1
    for size in sizes:
        total *= max(size, 1)
    if total < 2**62:
        combined = np.array(codes[0], dtype=np.int64)
        for c, size in zip(codes[1:], sizes[1:], strict=True):
            combined = combined * max(size, 1) + c
        inverse, uniq = _sorted_codes(combined, total)
        parts: list[IntArray] = []
        rest = uniq.astype(np.int64)
        for size in reversed(sizes):
            parts.append(rest % max(size, 1))
            rest = rest // max(size, 1)
        return inverse.reshape(-1).astype(np.int64), parts[::-1]
    stacked = np.column_stack(codes)  # pragma: no cover - astronomically many combinations
    uniq2, inverse2 = np.unique(stacked, axis=0, return_inverse=True)
    return inverse2.reshape(-1).astype(np.int64), [uniq2[:, i] for i in range(len(codes))]


def _cells(
    columns: Sequence[pd.Series[Any] | npt.NDArray[Any]],
    breakdowns: Sequence[Breakdown],
    n: int,
    apply_mappings: bool = True,
) -> tuple[IntArray, pd.DataFrame]:
    """Per-record cell codes and the table of cell keys."""
    per_codes: list[IntArray] = []
    per_labels: list[list[object]] = []
    for values, b in zip(columns, breakdowns, strict=True):
        mapping = b.mapping_dict() if apply_mappings else None
        c, labels = _factorize(values, mapping, b.column)
        per_codes.append(c)
        per_labels.append(labels)
    cell, parts = _combine(per_codes, [len(lab) for lab in per_labels], n)
    ncells = len(parts[0]) if parts else (1 if n else 0)
    keys = pd.DataFrame(
        {
            b.name: pd.Series(_object_array(labels)[part], dtype=object)
            for b, labels, part in zip(breakdowns, per_labels, parts, strict=True)
        },
        index=pd.RangeIndex(ncells),
    )
    return cell, keys


def _object_array(values: Sequence[object]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _group_sum(codes: IntArray, values: FloatArray, ngroups: int) -> FloatArray:
    """Column sums of ``values`` per group code (one pass)."""
    out = np.zeros((ngroups, values.shape[1]), dtype=np.float64)
    if len(codes) == 0 or values.shape[1] == 0:
        return out
    summed = pd.DataFrame(values, copy=False).groupby(codes, sort=True).sum()
    out[summed.index.to_numpy(dtype=np.int64)] = summed.to_numpy(dtype=np.float64)
    return out


def _sum_by(codes: IntArray, column: _Column, size: int, skipna: bool = True) -> FloatArray:
    """``column`` summed by ``codes`` (``0 <= codes <= size``; code ``size``
    is dropped). With ``skipna``, missing values count as 0 (as
    ``groupby().sum()``)."""
    out = np.bincount(codes, weights=column, minlength=size + 1)[:size]
    if skipna and column.dtype != np.bool_ and bool(np.isnan(out).any()):
        out = np.bincount(
            codes, weights=np.where(np.isnan(column), 0.0, column), minlength=size + 1
        )[:size]
    return np.asarray(out, dtype=np.float64)


def _sorted_codes(key: IntArray, bound: int) -> tuple[IntArray, IntArray]:
    """The rank of each of ``key`` (``0 <= key < bound``) among the distinct
    values of ``key``, and those values (sorted)."""
    if bound <= max(4 * len(key), 1 << 20):
        present = np.zeros(bound, dtype=bool)
        present[key] = True
        values = np.flatnonzero(present).astype(np.int64)
        rank = np.cumsum(present, dtype=np.int64) - 1
        return rank[key], values
    values, inverse = np.unique(key, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), values.astype(np.int64)


def _first_seen(key: IntArray, bound: int) -> IntArray:
    """The distinct values of ``key`` (``0 <= key < bound``) in order of
    first appearance."""
    n = len(key)
    if bound <= max(4 * n, 1 << 20):
        first = np.full(bound, n, dtype=np.int64)
        np.minimum.at(first, key, np.arange(n, dtype=np.int64))
        at = np.zeros(n + 1, dtype=bool)
        at[first] = True  # the first position of each value (n: absent values)
        return np.asarray(key[np.flatnonzero(at[:n])], dtype=np.int64)
    return np.asarray(pd.unique(key), dtype=np.int64)


# --------------------------------------------------------------------------- the design


def _check_design_columns(design: Design, columns: Sequence[Hashable]) -> None:
    """Every column the design names is among ``columns`` (the data's)."""
    available = list(columns)
    present = set(available)
    fields: list[tuple[str, Sequence[str]]] = [
        ("weights", [design.weights] if design.weights else []),
        ("strata", design.strata),
        ("psu", design.psu),
        ("fpc", design.fpc),
    ]
    for name, cols in fields:
        for col in cols:
            if col not in present:
                raise DesignColumnError(col, name, available)


def _design_codes(
    data: pd.DataFrame, column: str, field_name: str
) -> tuple[IntArray, list[object]]:
    series = data[column]
    if series.isna().any():
        rows = np.flatnonzero(series.isna().to_numpy())
        raise DesignError(
            f"the design's {field_name} column {column!r} has {len(rows)} missing value(s) "
            f"(first at row {int(rows[0])})",
            field_name,
            column,
        )
    return _factorize(series)


def _stage_tables(
    data: pd.DataFrame, design: Design
) -> tuple[tuple[StageTable, ...], IntArray, list[IntArray]]:
    """The Taylor design's stages over the full data, the code of every
    record's unit at the deepest variance stage, and every record's stratum
    code at each stage."""
    n = len(data)
    stages_used = design.variance_stages
    fpc_values: list[FloatArray] = []
    for col in design.fpc[:stages_used]:
        values = _numeric(data[col], col, "fpc")
        if np.isnan(values).any():
            raise DesignError(f"the fpc column {col!r} has missing values", "fpc", col)
        if (values < 0).any():
            raise DesignError(f"the fpc column {col!r} has negative values", "fpc", col)
        fpc_values.append(values)
    population_sizes = bool(fpc_values) and any(bool((v > 1).any()) for v in fpc_values)
    if population_sizes:
        for col, v in zip(design.fpc, fpc_values, strict=False):
            if (v < 1).any():
                raise DesignError(
                    f"fpc values must all be population sizes (>= 1) or all sampling "
                    f"fractions (<= 1); column {col!r} mixes them",
                    "fpc",
                    col,
                )

    tables: list[StageTable] = []
    parent_unit = np.zeros(n, dtype=np.int64)
    parent_labels: list[str] = [""]
    stratum_rows: list[IntArray] = []
    for s in range(1, stages_used + 1):
        if len(design.strata) >= s:
            st_codes, st_labels = _design_codes(data, design.strata[s - 1], "strata")
            st_names = [str(x) for x in st_labels]
        else:
            st_codes, st_names = np.zeros(n, dtype=np.int64), ["1"]
        g_rows, (g_parent, g_st) = _combine(
            [parent_unit, st_codes], [len(parent_labels), len(st_names)], n
        )
        if s == 1:
            g_labels = [st_names[int(k)] for k in g_st]
        else:
            g_labels = [
                f"{st_names[int(k)]}.{parent_labels[int(p)]}"
                for k, p in zip(g_st, g_parent, strict=True)
            ]
        ng = len(g_parent)
        if design.psu:
            psu_col = design.psu[s - 1]
            p_codes, p_labels = _design_codes(data, psu_col, "psu")
            u_rows, (u_g, u_p) = _combine([g_rows, p_codes], [ng, len(p_labels)], n)
            if isinstance(data[psu_col].dtype, pd.StringDtype):
                unit_labels = _object_array(p_labels)[u_p].tolist()
            else:
                unit_labels = [str(p_labels[int(k)]) for k in u_p]
        else:
            u_rows = np.arange(n, dtype=np.int64)
            u_g = g_rows
            unit_labels = [str(i + 1) for i in range(n)]
        nu = len(u_g)
        unit_parent = np.zeros(nu, dtype=np.int64)
        unit_parent[u_rows] = parent_unit
        n_units = np.bincount(u_g, minlength=ng).astype(np.int64)
        if fpc_values:
            values = fpc_values[s - 1]
            lo = np.full(ng, np.inf)
            hi = np.full(ng, -np.inf)
            np.minimum.at(lo, g_rows, values)
            np.maximum.at(hi, g_rows, values)
            varying = np.flatnonzero(lo != hi)
            if len(varying):
                raise DesignError(
                    f"the fpc varies within stratum {g_labels[int(varying[0])]} at stage {s} "
                    f"(column {design.fpc[s - 1]!r})",
                    "fpc",
                    design.fpc[s - 1],
                )
            if population_sizes:
                popsize = lo
            else:
                with np.errstate(divide="ignore"):
                    popsize = n_units / lo
            too_big = np.flatnonzero(popsize < n_units)
            if len(too_big):
                g = int(too_big[0])
                raise DesignError(
                    f"the fpc implies more than 100% sampling in stratum {g_labels[g]} at "
                    f"stage {s}: population {popsize[g]:g} units, sample {n_units[g]} units",
                    "fpc",
                    design.fpc[s - 1],
                )
        else:
            popsize = np.full(ng, np.inf)
        tables.append(
            StageTable(
                stage=s,
                units=pd.DataFrame({"stratum": u_g, "parent": unit_parent, "label": unit_labels}),
                strata=pd.DataFrame(
                    {
                        "n_units": n_units,
                        "popsize": popsize.astype(np.float64),
                        "parent": g_parent.astype(np.int64),
                        "label": g_labels,
                    }
                ),
            )
        )
        stratum_rows.append(g_rows)
        parent_unit = u_rows
        parent_labels = unit_labels
    return tuple(tables), parent_unit, stratum_rows


def _weights(
    data: pd.DataFrame,
    design: Design | None,
    stages: Sequence[StageTable],
    stratum_rows: Sequence[IntArray],
) -> FloatArray:
    n = len(data)
    if design is None:
        return np.ones(n, dtype=np.float64)
    if design.weights is not None:
        w = _numeric(data[design.weights], design.weights, "weights")
        if np.isnan(w).any():
            rows = np.flatnonzero(np.isnan(w))
            raise DesignError(
                f"the weights column {design.weights!r} has {len(rows)} missing value(s) "
                f"(first at row {int(rows[0])})",
                "weights",
                design.weights,
            )
        return w
    if design.fpc and stages:
        # As R: probability = product over stages of 1 / (N / n); weight = 1 / probability.
        prob = np.ones(n, dtype=np.float64)
        for table, g_rows in zip(stages, stratum_rows, strict=True):
            pop = table.strata["popsize"].to_numpy(np.float64)[g_rows]
            samp = table.strata["n_units"].to_numpy(np.float64)[g_rows]
            prob = prob * (1.0 / (pop / samp))
        return np.asarray(1.0 / prob, dtype=np.float64)
    return np.ones(n, dtype=np.float64)


# --------------------------------------------------------------------------- replicate weights


def _replicate_values(data: pd.DataFrame, columns: Sequence[str]) -> list[FloatArray]:
    """The replicate weight columns as float64 arrays (views where possible:
    never written to). Missing values are found later, by :func:`_row_codes`;
    non-numeric columns raise here, after any missing value in an earlier
    column (the order in which the columns are checked)."""
    out: list[FloatArray] = []
    for c in columns:
        series = data[c]
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize == 8:
            out.append(np.asarray(series.to_numpy(), dtype=np.float64))
            continue
        try:
            out.append(_numeric(series, c, "replicate_weights"))
        except EstimateError:
            _check_missing_replicates(out, columns)
            raise
    return out


def _check_missing_replicates(values: Sequence[FloatArray], columns: Sequence[str]) -> None:
    """Raise for the first replicate column with a missing value."""
    for c, v in zip(columns, values, strict=False):
        if np.isnan(v).any():
            raise DesignError(
                f"the replicate weight column {c!r} has missing values",
                "replicate_weights",
                c,
            )


def _row_codes(columns: Sequence[FloatArray], n: int) -> tuple[IntArray, FloatArray] | None:
    """A code per record for its row of replicate weights, and the distinct
    rows (``k x r``; row ``c`` is the weights of the records of code ``c``).

    Records share a code only if their rows are equal (``==``, column by
    column); equal rows may get different codes (this only costs time). Files
    sorted by sampling unit hold the same row in runs of records: the runs are
    found exactly (one pass over the weights), and only their first rows are
    coded. ``None`` when a row holds a missing value.
    """
    r = len(columns)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, r), dtype=np.float64)
    if r == 0:
        return np.zeros(n, dtype=np.int64), np.zeros((1, 0), dtype=np.float64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    limit = max(n // 8, 1)
    for j, c in enumerate(columns):
        np.logical_or(change[1:], c[1:] != c[:-1], out=change[1:])
        if j & (j + 1) == 0 and np.count_nonzero(change) > limit:  # j = 0, 1, 3, 7, ...
            return _distinct_rows(columns, n)
    # a missing value is unequal to its predecessor: it starts a run
    starts = np.flatnonzero(change)
    coded = _distinct_rows([c[starts] for c in columns], len(starts))
    if coded is None:
        return None
    run_codes, distinct = coded
    lengths = np.diff(np.append(starts, n))
    return np.repeat(run_codes, lengths), distinct


def _distinct_rows(columns: Sequence[FloatArray], n: int) -> tuple[IntArray, FloatArray] | None:
    """:func:`_row_codes` on every record: the rows are hashed by a linear
    combination in double precision, and the codes checked exactly against
    the distinct rows (a collision falls back to sorting the rows)."""
    r = len(columns)
    coefficients = np.random.default_rng(20261128).uniform(1.0, 2.0, size=r)
    hashed = np.zeros(n, dtype=np.float64)
    for c, a in zip(columns, coefficients.tolist(), strict=True):
        hashed += c * a
    if bool(np.isnan(hashed).any()) and any(bool(np.isnan(c).any()) for c in columns):
        return None
    raw, _ = pd.factorize(hashed, use_na_sentinel=False)
    codes = np.asarray(raw, dtype=np.int64)
    k = int(codes.max()) + 1
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(n, dtype=np.int64))
    by_column = np.stack([c[first] for c in columns], axis=0)  # r x k
    if all(np.array_equal(c, by_column[j][codes]) for j, c in enumerate(columns)):
        return codes, np.ascontiguousarray(by_column.T)
    matrix = np.stack(columns, axis=1)
    distinct, inverse = np.unique(matrix, axis=0, return_inverse=True)
    return np.asarray(inverse.reshape(-1), dtype=np.int64), distinct


def _replicate_patterns(
    distinct: FloatArray, codes: IntArray, rows: IntArray
) -> tuple[IntArray, pd.DataFrame]:
    """The replicate-weight pattern of each distinct row of replicate weights
    (its weights divided by their sum; -1 for a row of zeros, and for rows
    none of ``rows`` has) and the table of patterns, in order of first
    appearance among ``rows``, each the first such record's weights divided
    by their sum. ``codes`` gives each record's row of ``distinct``.

    Proportional rows share a pattern, so the rank of a set of records'
    replicate weights is the rank of their distinct patterns. Patterns are
    matched on their values rounded to single precision: this only decides
    which rows are stored once, never the rank (near-duplicates that are kept
    apart add no rank). Everything is computed on the distinct rows, with the
    same operations, in the same order, as on each record's own row.
    """
    k, r = distinct.shape
    if len(rows) == 0 or r == 0:
        return np.full(k, -1, dtype=np.int64), pd.DataFrame(np.zeros((0, r)))
    scale = np.zeros(k, dtype=np.float64)
    for j in range(r):
        scale += distinct[:, j]
    zero_sum = scale == 0
    if zero_sum.any():
        scale[zero_sum] = np.abs(distinct[zero_sum]).max(axis=1)
    zero = scale == 0
    scale[zero] = 1.0
    inverse = 1.0 / scale
    # A linear hash, modulo 2**64 with fixed odd multipliers, of the bits of
    # the normalised weights in single precision.
    drawn = np.random.default_rng(20261128).integers(0, 2**62, size=r, dtype=np.uint64)
    multipliers = np.asarray(drawn * np.uint64(2) + np.uint64(1), dtype=np.uint64)
    hashed = np.zeros(k, dtype=np.uint64)
    for j in range(r):
        single = (distinct[:, j] * inverse).astype(np.float32)
        single[single == 0] = 0.0  # no negative zeros
        hashed += single.view(np.uint32).astype(np.uint64) * multipliers[j]
    raw, _ = pd.factorize(hashed)
    pattern_of_row = np.asarray(raw, dtype=np.int64)
    pattern_of_row[zero] = -1
    # distinct rows in order of first appearance among ``rows``, then their
    # patterns in that order
    seen = _first_seen(codes[rows], k)
    seen = seen[pattern_of_row[seen] >= 0]
    patterns, first = np.unique(pattern_of_row[seen], return_index=True)
    order = np.argsort(first, kind="stable")
    first_rows = seen[first[order]]
    remap = np.full(int(pattern_of_row.max()) + 1, -1, dtype=np.int64)
    remap[patterns[order]] = np.arange(len(first_rows), dtype=np.int64)
    out = np.full(k, -1, dtype=np.int64)
    appear = np.zeros(k, dtype=bool)
    appear[seen] = True
    out[appear] = remap[pattern_of_row[appear]]
    normal = np.empty((len(first_rows), r), dtype=np.float64)
    for j in range(r):
        normal[:, j] = distinct[first_rows, j] * inverse[first_rows]
    return out, pd.DataFrame(normal, copy=False)


def _product(sums: FloatArray, distinct: FloatArray) -> FloatArray:
    """``sums @ distinct`` without BLAS (small products; BLAS threads are slow
    to start and erratic on a loaded machine)."""
    return np.asarray(np.einsum("ck,kr->cr", sums, distinct), dtype=np.float64)


# --------------------------------------------------------------------------- measures


#: A record-level value summed by the engine: floats, or booleans for 0/1.
_Column = FloatArray | BoolArray
_Key = tuple[str, int, str | None]


class _Measures:
    """The record-level values of a plan's measures, each computed once and
    shared by the measures that are the same sum.

    Domains are evaluated by one :class:`MaskEvaluator` (columns read once,
    shared conditions evaluated once). Two measures are the same sum when
    their records are the same (domains that select the same rows, records
    with missing values dropped) and so is weight x value: a value column that
    is 1 everywhere is no value, and when every weight is 1 a count is the
    weighted sum of 1.
    """

    def __init__(self, data: pd.DataFrame, plan: Plan, weights: FloatArray) -> None:
        self.data = data
        self.n = len(data)
        self.weights = weights
        self.evaluator = MaskEvaluator(data, dict(plan.params))
        zero = weights == 0
        self.zero_weights: BoolArray | None = zero if bool(zero.any()) else None
        self.unit_weights = bool((weights == 1.0).all())
        self.masks: list[BoolArray] = []
        self._domains: dict[tuple[Expr | None, tuple[str, ...]], int] = {}
        self._by_count: dict[int, list[int]] = {}
        self._everyone: BoolArray | None = None
        self._present: dict[str, BoolArray | None] = {}
        self._values: dict[str, FloatArray] = {}
        self._ones: dict[str, bool] = {}
        self._columns: dict[_Key, _Column] = {}
        self.names = [m.name for m in plan.measures]
        self.keys: list[_Key] = []
        for m in plan.measures:
            self.keys.append(self._key(m))

    # ---- building blocks

    def domain(self, expr: Expr | None) -> BoolArray:
        if expr is not None:
            return self.evaluator.mask(expr)
        if self._everyone is None:
            self._everyone = np.ones(self.n, dtype=bool)
        return self._everyone

    def present(self, col: str) -> BoolArray | None:
        """Rows where ``col`` has a value (``None``: every row)."""
        if col not in self._present:
            found = ~np.asarray(self.data[col].isna().to_numpy(), dtype=bool)
            self._present[col] = None if bool(found.all()) else found
        return self._present[col]

    def value(self, col: str) -> FloatArray:
        if col not in self._values:
            values = _numeric(self.data[col], col, "value")
            self._values[col] = values
            self._ones[col] = bool((values == 1.0).all())
        return self._values[col]

    def record_mask(self, domain: Expr | None, nonmissing: Sequence[str]) -> BoolArray:
        """The records of ``domain`` where the ``nonmissing`` columns are present."""
        mask = self.domain(domain)
        for col in nonmissing:
            present = self.present(col)
            if present is not None:
                mask = mask & present
        return mask

    def mask_index(self, domain: Expr | None, nonmissing: tuple[str, ...]) -> int:
        """The index in :attr:`masks` of the records of a measure (equal masks
        share one index)."""
        key = (domain, nonmissing)
        if key not in self._domains:
            mask = self.record_mask(domain, nonmissing)
            count = int(np.count_nonzero(mask))
            same = self._by_count.setdefault(count, [])
            index = next((i for i in same if np.array_equal(self.masks[i], mask)), -1)
            if index < 0:
                index = len(self.masks)
                self.masks.append(mask)
                same.append(index)
            self._domains[key] = index
        return self._domains[key]

    def _key(self, m: Measure) -> _Key:
        index = self.mask_index(m.domain, m.nonmissing)
        value: str | None = None
        if m.value is not None:
            self.value(m.value)
            value = None if self._ones[m.value] else m.value
        kind = "w" if m.weighted or self.unit_weights else "c"
        return (kind, index, value)

    # ---- the values summed

    def column(self, key: _Key) -> _Column:
        """The record-level values of a sum: ``w`` (weighted), ``c`` (a count:
        records of weight 0 left out) or ``u`` (weighted, before the weight)."""
        if key not in self._columns:
            kind, index, value = key
            mask = self.masks[index]
            if kind == "c" and self.zero_weights is not None:
                mask = mask & ~self.zero_weights
            out: _Column
            if value is None:
                out = mask if kind != "w" or self.unit_weights else mask * self.weights
            else:
                out = np.where(mask, self._values[value], 0.0)
                if kind == "w" and not self.unit_weights:
                    out = out * self.weights
            self._columns[key] = out
        return self._columns[key]

    def unweighted(self, key: _Key) -> _Column:
        """The values of weighted sum ``key`` before the weight (replicate
        weights take its place)."""
        return self.column(("u", key[1], key[2]))

    def distinct(self, keys: Sequence[_Key] | None = None) -> list[_Key]:
        return list(dict.fromkeys(self.keys if keys is None else keys))

    def active(self) -> BoolArray:
        """The records that add something to some sum."""
        out = np.zeros(self.n, dtype=bool)
        # w x 1[D] (and a count of D) is non-zero where D holds and w != 0
        plain = np.zeros(self.n, dtype=bool)
        finite = bool(np.isfinite(self.weights).all())
        for key in self.distinct():
            if key[2] is None and finite:
                plain |= self.masks[key[1]]
                continue
            column = self.column(key)
            out |= column if column.dtype == np.bool_ else column != 0
        out |= plain if self.zero_weights is None else plain & ~self.zero_weights
        return out


# --------------------------------------------------------------------------- pandas


@dataclass
class _Base:
    """A grouping computed from the data, during one run."""

    cells: IntArray
    keys: pd.DataFrame


class PandasEngine:
    """The in-memory engine: the data is a ``pandas.DataFrame``.

    The plan's domains are evaluated by one filter evaluator; each distinct
    measure is summed per cell with ``numpy.bincount``, per cell x sampling
    unit for Taylor linearisation. With replicate weights, records are coded
    by their row of replicate weights: the measures are summed per cell x
    row, and multiplied by the (few) distinct rows. Groupings derived from
    another are computed from its sums.

    ``data`` may also be Parquet or CSV files (as for the DuckDB engine: a
    path, a glob, a directory of Parquet files, or a list of them): only the
    columns the plan and the design use are read, into one DataFrame.
    ``progress`` (see :data:`ProgressCallback`) counts the groupings computed
    from the data, after one unit for reading and preparing the data.
    """

    name: ClassVar[str] = "pandas"

    def __init__(self, progress: ProgressCallback | None = None) -> None:
        self.progress = progress

    def run(self, plan: Plan, data: Any) -> Sums:
        """The sums of ``plan`` over ``data`` (a ``pandas.DataFrame``, or files)."""
        if _is_paths(data):
            data = read_files(data, plan)
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"the pandas engine runs on a pandas.DataFrame, got {type(data).__name__}"
            )
        bases = plan.bases()
        progress = _Progress(
            self.progress, 1 + sum(1 for i in range(len(plan.groupings)) if bases[i] == i)
        )
        n = len(data)
        design = plan.design
        variance = plan.variance
        available = list(data.columns)
        if design is not None:
            _check_design_columns(design, list(data.columns))
        for col in sorted(plan.columns()):
            if col not in data.columns:
                raise UnknownColumnError(col, available)

        stages: tuple[StageTable, ...] = ()
        finest = np.arange(n, dtype=np.int64)
        stratum_rows: list[IntArray] = []
        if design is not None and variance == "taylor":
            stages, finest, stratum_rows = _stage_tables(data, design)
        weights = _weights(data, design, stages, stratum_rows)

        rep_columns: tuple[str, ...] = ()
        rep_values: list[FloatArray] = []
        row_codes: IntArray | None = None
        distinct_rows: FloatArray | None = None
        if design is not None and variance == "replicate":
            rep_columns = design.replicate_columns(available)
            rep_values = _replicate_values(data, rep_columns)
            coded = _row_codes(rep_values, n)
            if coded is None:
                _check_missing_replicates(rep_values, rep_columns)
                raise AssertionError("a missing replicate weight was not found")  # pragma: no cover
            row_codes, distinct_rows = coded

        # ---- measures: each distinct sum once
        measures = _Measures(data, plan, weights)
        names = [m.name for m in plan.measures]
        keys = measures.keys
        weighted_idx = [j for j, m in enumerate(plan.measures) if m.weighted]
        count_idx = [j for j, m in enumerate(plan.measures) if not m.weighted]
        need_active = variance != "none"
        active = measures.active() if need_active and names else np.zeros(n, dtype=bool)
        active_rows = np.flatnonzero(active)

        patterns: pd.DataFrame | None = None
        row_pattern: IntArray | None = None
        if row_codes is not None and distinct_rows is not None:
            row_pattern, patterns = _replicate_patterns(distinct_rows, row_codes, active_rows)

        rows_are_units = variance == "taylor" and (
            not (design and design.psu) or len(stages[-1].units) == n
        )
        n_units = len(stages[-1].units) if stages else n

        # ---- groupings
        first_of: dict[_Key, str] = {}
        same = {name: first_of.setdefault(key, name) for name, key in zip(names, keys, strict=True)}
        computed: dict[int, _Base] = {}
        results: dict[int, CellSums] = {}
        progress.step()
        for gi, grouping in enumerate(plan.groupings):
            if bases[gi] != gi:
                continue
            cells, cell_keys = _cells(
                [data[b.column] for b in grouping.breakdowns], grouping.breakdowns, n
            )
            computed[gi] = _Base(cells, cell_keys)
            ncells = len(cell_keys)
            units_frame: pd.DataFrame | None = None
            if variance == "taylor":
                # the cell totals from the unit totals (fewer rows than records)
                units_frame, unit_sums, unit_cells = self._unit_sums(
                    measures, cells, ncells, finest, n_units, active_rows, rows_are_units
                )
                sums = {
                    key: _sum_by(unit_cells, column, ncells) for key, column in unit_sums.items()
                }
            else:
                sums = {
                    key: _sum_by(cells, measures.column(key), ncells) for key in measures.distinct()
                }
            totals = np.empty((ncells, len(names)), dtype=np.float64)
            for j, key in enumerate(keys):
                totals[:, j] = sums[key]
            rep_frame: pd.DataFrame | None = None
            pat_frame: pd.DataFrame | None = None
            if row_codes is not None and distinct_rows is not None and row_pattern is not None:
                rep_frame = self._replicate_totals(
                    measures,
                    cells,
                    ncells,
                    row_codes,
                    distinct_rows,
                    active,
                    [keys[j] for j in weighted_idx],
                    [names[j] for j in weighted_idx],
                )
                pat_frame = self._pattern_pairs(
                    measures,
                    cells,
                    row_codes,
                    row_pattern,
                    [keys[j] for j in count_idx],
                    [names[j] for j in count_idx],
                )
            results[gi] = CellSums(
                keys=cell_keys,
                totals=pd.DataFrame(totals, columns=names, copy=False),
                units=units_frame,
                replicates=rep_frame,
                patterns=pat_frame,
            )
            progress.step()
        for gi, grouping in enumerate(plan.groupings):
            if bases[gi] == gi:
                continue
            base = bases[gi]
            mapping, cell_keys = _derive_keys(plan.groupings[base], results[base].keys, grouping)
            computed[gi] = _Base(mapping[computed[base].cells], cell_keys)
            results[gi] = _derive_sums(
                results[base], mapping, cell_keys, n_units, rows_are_units, same
            )

        # ---- row requests (quantiles)
        rows = _row_frames(
            plan,
            measures,
            lambda g: computed[g].cells,
            weights,
            variance,
            finest,
            row_codes is not None,
            rep_values,
        )

        progress.finish()
        return Sums(
            plan=plan,
            groupings=tuple(results[i] for i in range(len(plan.groupings))),
            rows=tuple(rows),
            stages=stages,
            patterns=patterns,
            replicate_columns=rep_columns,
            n_records=n,
        )

    @staticmethod
    def _unit_sums(
        measures: _Measures,
        cells: IntArray,
        ncells: int,
        finest: IntArray,
        n_units: int,
        active_rows: IntArray,
        rows_are_units: bool,
    ) -> tuple[pd.DataFrame, dict[_Key, FloatArray], IntArray]:
        """The measures summed per cell x unit (of the deepest variance stage),
        for every cell x unit with an active record, sorted by cell and unit;
        when every record is its own unit, the active records in data order.
        Also each distinct sum's unit totals, and each row's cell."""
        keys = measures.keys
        names = measures.names
        if rows_are_units:
            u_cell = cells[active_rows]
            u_unit = finest[active_rows]
            sums = {
                key: np.asarray(measures.column(key)[active_rows], dtype=np.float64)
                for key in measures.distinct()
            }
        else:
            width = max(n_units, 1)
            ids, found = _sorted_codes(
                cells[active_rows] * width + finest[active_rows], ncells * width
            )
            size = len(found)
            codes = np.full(measures.n, size, dtype=np.int64)
            codes[active_rows] = ids
            u_cell, u_unit = found // width, found % width
            sums = {key: _sum_by(codes, measures.column(key), size) for key in measures.distinct()}
        table = np.empty((len(u_cell), len(keys)), dtype=np.float64)
        for j, key in enumerate(keys):
            table[:, j] = sums[key]
        frame = pd.DataFrame(table, columns=names, copy=False)
        u_cell = u_cell.astype(np.int64)
        frame.insert(0, "unit", u_unit.astype(np.int64))
        frame.insert(0, "cell", u_cell)
        return frame, sums, u_cell

    @staticmethod
    def _replicate_totals(
        measures: _Measures,
        cells: IntArray,
        ncells: int,
        row_codes: IntArray,
        distinct_rows: FloatArray,
        active: BoolArray,
        keys: Sequence[_Key],
        names: Sequence[str],
    ) -> pd.DataFrame:
        """Totals of each weighted measure under each replicate weight, per
        cell: the measure (before the weight) summed per cell x row of
        replicate weights, times the distinct rows."""
        k, r = distinct_rows.shape
        out = np.zeros((ncells, len(names), r), dtype=np.float64)
        if names and ncells and k:
            rows = np.flatnonzero(active)
            dense = ncells * k <= max(len(rows), 1 << 16)
            if dense:  # one sum per cell x distinct row
                size = ncells * k
                codes = cells * k + row_codes
                if len(rows) < len(codes):
                    codes[~active] = size
            else:  # one sum per cell x distinct row that occurs
                ids, pairs = _sorted_codes(cells[rows] * k + row_codes[rows], ncells * k)
                size = len(pairs)
                codes = np.full(len(cells), size, dtype=np.int64)
                codes[rows] = ids
                pair_cell, pair_row = pairs // k, pairs % k
                bounds = np.searchsorted(pair_cell, np.arange(ncells + 1))
            products: dict[tuple[int, str | None], FloatArray] = {}
            for j, key in enumerate(keys):
                if key[1:] not in products:
                    summed = _sum_by(codes, measures.unweighted(key), size, skipna=False)
                    if dense:
                        product = _product(summed.reshape(ncells, k), distinct_rows)
                    else:
                        product = np.zeros((ncells, r), dtype=np.float64)
                        for c in range(ncells):
                            lo, hi = int(bounds[c]), int(bounds[c + 1])
                            product[c] = _product(
                                summed[None, lo:hi], distinct_rows[pair_row[lo:hi]]
                            )[0]
                    products[key[1:]] = product
                out[:, j, :] = products[key[1:]]
        columns = pd.MultiIndex.from_product(
            [list(names), range(r)], names=["measure", "replicate"]
        )
        return pd.DataFrame(out.reshape(ncells, len(names) * r), columns=columns, copy=False)

    @staticmethod
    def _pattern_pairs(
        measures: _Measures,
        cells: IntArray,
        row_codes: IntArray,
        row_pattern: IntArray,
        keys: Sequence[_Key],
        names: Sequence[str],
    ) -> pd.DataFrame:
        """For each count measure, the distinct (cell, pattern) pairs of its
        records, in order of first appearance."""
        parts: list[pd.DataFrame] = []
        npat = max(int(row_pattern.max()) + 1 if len(row_pattern) else 0, 1)
        ncells = int(cells.max()) + 1 if len(cells) else 0
        found: dict[_Key, tuple[IntArray, IntArray]] = {}
        for key, name in zip(keys, names, strict=True):
            if key not in found:
                column = measures.column(key)
                counted = column if column.dtype == np.bool_ else column > 0
                idx = np.flatnonzero(counted)
                pattern = row_pattern[row_codes[idx]]
                keep = pattern >= 0
                pairs = _first_seen(cells[idx[keep]] * npat + pattern[keep], ncells * npat)
                found[key] = (pairs // npat, pairs % npat)
            cell, pat = found[key]
            frame = pd.DataFrame({"cell": cell, "pattern": pat})
            frame.insert(1, "measure", name)
            parts.append(frame)
        if not parts:
            return pd.DataFrame({"cell": [], "measure": [], "pattern": []})
        return pd.concat(parts, ignore_index=True)


def _derive_keys(
    base: Grouping, base_keys: pd.DataFrame, target: Grouping
) -> tuple[IntArray, pd.DataFrame]:
    """The cell of ``target`` of each cell of ``base``, and ``target``'s keys."""
    columns: list[npt.NDArray[Any]] = []
    derived: list[Breakdown] = []
    for b in target.breakdowns:
        source = next(o for o in base.breakdowns if b.derives_from(o))
        labels = base_keys[source.name].to_numpy(dtype=object)
        if b.mapping is not None and source.mapping is None:
            mapping = b.mapping_dict() or {}
            missing = sorted(
                {lab for lab in labels if lab not in mapping and lab != UNKNOWN}, key=repr
            )
            if missing:
                raise UnmappedCodeError(b.column, missing)
            labels = np.asarray([mapping.get(lab, lab) for lab in labels], dtype=object)
        columns.append(labels)
        derived.append(Breakdown(b.column, b.name, None))
    return _cells(columns, derived, len(base_keys), apply_mappings=False)


def _derive_sums(
    base: CellSums,
    mapping: IntArray,
    keys: pd.DataFrame,
    n_units: int,
    unique_units: bool,
    same: Mapping[str, str] | None = None,
) -> CellSums:
    """The sums of a coarser grouping from a finer one's. With
    ``unique_units`` (every record is its own unit) each unit lies in one
    cell, so unit totals only change cell. ``same`` may name, for a measure,
    an earlier measure with the same sums (its unit totals are copied)."""
    ncells = len(keys)
    totals = pd.DataFrame(
        _group_sum(mapping, base.totals.to_numpy(dtype=np.float64), ncells),
        columns=base.totals.columns,
    )
    units: pd.DataFrame | None = None
    if base.units is not None and unique_units:
        units = base.units.assign(cell=mapping[base.units["cell"].to_numpy(dtype=np.int64)])
    elif base.units is not None:
        cell = mapping[base.units["cell"].to_numpy(dtype=np.int64)]
        unit = base.units["unit"].to_numpy(dtype=np.int64)
        width = max(n_units, 1)
        key = cell * width + unit
        vals = base.units.drop(columns=["cell", "unit"])
        if len(key) and all(dtype == np.float64 for dtype in vals.dtypes):
            # as groupby(key, sort=True).sum(): one bincount per column
            ids, k = _sorted_codes(key, ncells * width)
            summed_columns = np.empty((len(k), vals.shape[1]), dtype=np.float64)
            position: dict[object, int] = {}
            for j, name in enumerate(vals.columns):
                target = same.get(str(name)) if same is not None else None
                if target is not None and target != name and target in position:
                    summed_columns[:, j] = summed_columns[:, position[target]]
                    continue
                position.setdefault(name, j)
                column = np.ascontiguousarray(vals.iloc[:, j].to_numpy(dtype=np.float64))
                summed_columns[:, j] = _sum_by(ids, column, len(k))
            units = pd.DataFrame(summed_columns, columns=vals.columns, copy=False)
        else:
            summed = vals.groupby(key, sort=True).sum()
            k = summed.index.to_numpy(dtype=np.int64)
            units = summed.reset_index(drop=True)
        units.insert(0, "unit", k % width)
        units.insert(0, "cell", k // width)
    replicates: pd.DataFrame | None = None
    if base.replicates is not None:
        reps = np.zeros((ncells, base.replicates.shape[1]), dtype=np.float64)
        np.add.at(reps, mapping, base.replicates.to_numpy(dtype=np.float64))
        replicates = pd.DataFrame(reps, columns=base.replicates.columns, copy=False)
    patterns: pd.DataFrame | None = None
    if base.patterns is not None:
        patterns = base.patterns.assign(
            cell=mapping[base.patterns["cell"].to_numpy(dtype=np.int64)]
        ).drop_duplicates(ignore_index=True)
    return CellSums(keys=keys, totals=totals, units=units, replicates=replicates, patterns=patterns)


def _row_frames(
    plan: Plan,
    measures: Any,
    cells_of: Callable[[Any], Any],
    weights: Any,
    variance: str,
    finest: Any,
    replicated: bool,
    rep_values: Sequence[Any],
) -> list[pd.DataFrame]:
    """The records of each row request (quantiles): cell, value, weight, and
    the variance unit or the replicate values. Shared by the engines that
    hold records in pandas (in memory, and per partition for Dask)."""
    rows: list[pd.DataFrame] = []
    for req in plan.rows:
        mask = measures.record_mask(req.domain, req.nonmissing)
        idx = np.flatnonzero(mask)
        frame = pd.DataFrame(
            {
                "cell": cells_of(req.grouping)[idx],
                "value": measures.value(req.value)[idx],
                "weight": weights[idx],
            }
        )
        if variance == "taylor":
            frame["unit"] = finest[idx]
        elif replicated:
            rep_part = pd.DataFrame(
                np.stack([v[idx] for v in rep_values], axis=1)
                if rep_values
                else np.zeros((len(idx), 0)),
                columns=[f"rep{i}" for i in range(len(rep_values))],
                copy=False,
            )
            frame = pd.concat([frame, rep_part], axis=1)
        rows.append(frame)
    return rows


#: Engines by name. An engine class is registered here (``ENGINES["duckdb"] =
#: DuckDBEngine``) and chosen with :func:`get_engine`; ``"auto"`` is not an
#: engine but a rule (:func:`auto_engine_name`).
ENGINES: dict[str, Callable[[], Engine]] = {"pandas": PandasEngine}

#: The name that lets :func:`get_engine` choose the engine from the data.
AUTO = "auto"


@dataclass
class AutoSettings:
    """How ``engine="auto"`` chooses (:func:`auto_engine_name`).

    ``file_bytes``: files (Parquet or CSV, all inputs together) larger than
    this go to the out-of-core engine ``out_of_core``; smaller files are read
    into pandas. The default, 256 MiB on disk, is roughly 1-3 GB in pandas
    for a compressed Parquet census (the ratio depends on the columns); the
    environment variable ``MIGPROFILE_AUTO_FILE_BYTES`` sets it at import,
    ``AUTO_SETTINGS.file_bytes = ...`` at run time. Data in memory (a
    DataFrame) always go to pandas, a Dask DataFrame to ``dask``, Arrow
    tables and datasets to ``out_of_core``.
    """

    file_bytes: int = 256 * 2**20
    out_of_core: str = "duckdb"


def _default_auto_settings() -> AutoSettings:
    text = os.environ.get("MIGPROFILE_AUTO_FILE_BYTES", "").strip()
    if not text:
        return AutoSettings()
    try:
        value = int(text)
    except ValueError:
        raise EstimateError(
            f"MIGPROFILE_AUTO_FILE_BYTES must be a number of bytes, got {text!r}", "engine"
        ) from None
    return AutoSettings(file_bytes=value)


#: The settings of ``engine="auto"`` (see :class:`AutoSettings`).
AUTO_SETTINGS: AutoSettings = _default_auto_settings()


def _is_paths(data: Any) -> bool:
    """Whether ``data`` names files: a path, or a non-empty list of paths."""
    if isinstance(data, str | os.PathLike):
        return True
    return (
        isinstance(data, list | tuple)
        and len(data) > 0
        and all(isinstance(p, str | os.PathLike) for p in data)
    )


def input_files(data: Any) -> list[str]:
    """The files ``data`` names (paths, globs, directories of Parquet files),
    in order; see :class:`~migprofile.compute.engine_duckdb.DuckDBEngine`."""
    from migprofile.compute.engine_duckdb import _expand

    paths = [data] if isinstance(data, str | os.PathLike) else list(data)
    return _expand(paths)


def read_files(data: Any, plan: Plan | None = None, file_format: str | None = None) -> pd.DataFrame:
    """Parquet or CSV files as one DataFrame (as ``pandas.read_parquet`` /
    ``read_csv`` read them, in file order); with ``plan``, only the columns it
    and its design use."""
    from migprofile.compute.engine_duckdb import _format_of

    files = input_files(data)
    fmt = file_format or _format_of(files)
    columns: list[str] | None = None
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        if plan is not None:
            available = list(pq.read_schema(files[0]).names)
            columns = _needed_columns(plan, available)
        if len(files) == 1:
            return pd.read_parquet(files[0], columns=columns)
        import pyarrow as pa

        tables = [pq.read_table(f, columns=columns) for f in files]
        return typing.cast(pd.DataFrame, pa.concat_tables(tables).to_pandas())
    if plan is not None:
        available = list(pd.read_csv(files[0], nrows=0).columns)
        columns = _needed_columns(plan, available)
    frames = [pd.read_csv(f, usecols=columns) for f in files]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _needed_columns(plan: Plan, available: Sequence[str]) -> list[str]:
    """The columns of ``available`` the plan or its design reads, in the
    data's order (missing ones are left for the engine's checks)."""
    needed = set(plan.columns())
    design = plan.design
    if design is not None:
        needed |= {c for c in (design.weights,) if c}
        needed |= set(design.strata) | set(design.psu) | set(design.fpc)
        if design.variance == "replicate":
            needed |= set(design.replicate_columns(available))
    return [c for c in available if c in needed]


def _file_bytes(data: Any) -> int:
    return sum(Path(f).stat().st_size for f in input_files(data))


def auto_engine_name(data: Any = None, settings: AutoSettings | None = None) -> str:
    """The engine ``engine="auto"`` runs ``data`` with: ``pandas`` for a
    DataFrame (or no data), ``dask`` for a Dask DataFrame, the out-of-core
    engine for Arrow data and for files larger than ``settings.file_bytes``
    (default :data:`AUTO_SETTINGS`), ``pandas`` for smaller files (read into
    memory). The out-of-core engine falls back to pandas when its package
    (duckdb) is not installed."""
    chosen = settings if settings is not None else AUTO_SETTINGS
    if data is None or isinstance(data, pd.DataFrame):
        return "pandas"
    module = type(data).__module__
    if module.startswith(("dask.", "dask_expr")):
        return "dask"
    if _is_paths(data):
        large = _file_bytes(data) > chosen.file_bytes
        return chosen.out_of_core if large and _available(chosen.out_of_core) else "pandas"
    if module.startswith("pyarrow") and _available(chosen.out_of_core):
        return chosen.out_of_core
    return "pandas"


def _available(name: str) -> bool:
    if name != "duckdb":
        return name in ENGINES
    import importlib.util

    return importlib.util.find_spec("duckdb") is not None


def get_engine(name: str | Engine = "pandas", *, data: Any = None) -> Engine:
    """The engine registered as ``name`` (an engine object is returned as is).
    ``"auto"`` chooses from ``data`` (:func:`auto_engine_name`)."""
    if not isinstance(name, str):
        return name
    if name == AUTO:
        name = auto_engine_name(data)
    try:
        factory = ENGINES[name]
    except KeyError:
        raise EstimateError(
            f"unknown engine {name!r}; registered engines: {', '.join(sorted([*ENGINES, AUTO]))}",
            "engine",
        ) from None
    return factory()
