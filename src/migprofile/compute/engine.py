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

:class:`PandasEngine` computes everything in memory in one pass of
``groupby`` per grouping computed from the data; coarser groupings are
derived from those sums. ``ENGINES`` registers engines by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from migprofile.catalog.filters import (
    Expr,
    UnknownColumnError,
    to_pandas_mask,
)
from migprofile.compute.design import Design, DesignColumnError, DesignError
from migprofile.compute.plan import Breakdown, EstimateError, Grouping, Plan
from migprofile.errors import MigprofileError

__all__ = [
    "ENGINES",
    "UNKNOWN",
    "CellSums",
    "Engine",
    "PandasEngine",
    "StageTable",
    "Sums",
    "UnmappedCodeError",
    "get_engine",
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
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    try:
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
    except TypeError:  # values of several types that do not sort together
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def _factorize(
    values: pd.Series[Any] | npt.NDArray[Any],
    mapping: Mapping[Any, Any] | None = None,
    column: str = "",
) -> tuple[IntArray, list[object]]:
    """Cell codes of a breakdown column and their labels: codes sorted by
    value (after ``mapping``, when given), missing values and ``_U`` last,
    labelled ``_U``."""
    codes, labels = _raw_codes(values)
    if mapping is not None:
        unmapped = [lab for lab in labels if lab not in mapping and not _unknown_label(lab)]
        if unmapped:
            raise UnmappedCodeError(column, unmapped)
        parents = np.empty(len(labels), dtype=object)
        parents[:] = [mapping.get(lab, lab) for lab in labels]
        pcodes, labels = _raw_codes(parents)
        codes = np.where(codes >= 0, np.append(pcodes, -1)[codes], -1)
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
    return label is None or label is pd.NA or label is pd.NaT or (
        isinstance(label, float) and label != label
    )


def _combine(
    codes: Sequence[IntArray], sizes: Sequence[int], n: int
) -> tuple[IntArray, list[IntArray]]:
    """Compact codes (in lexicographic order) of the combinations of
    ``codes`` that occur, and each compact code's component codes."""
    if not codes:
        return np.zeros(n, dtype=np.int64), []
    total = 1
    for size in sizes:
        total *= max(size, 1)
    if total < 2**62:
        combined = np.zeros(n, dtype=np.int64)
        for c, size in zip(codes, sizes, strict=True):
            combined = combined * max(size, 1) + c
        uniq, inverse = np.unique(combined, return_inverse=True)
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


# --------------------------------------------------------------------------- the design


def _check_design_columns(design: Design, data: pd.DataFrame) -> None:
    available = list(data.columns)
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
                units=pd.DataFrame(
                    {"stratum": u_g, "parent": unit_parent, "label": unit_labels}
                ),
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


def _replicate_patterns(reps: FloatArray, rows: IntArray) -> tuple[IntArray, pd.DataFrame]:
    """A code for the replicate-weight pattern of each of ``rows`` (its row of
    replicate weights divided by its sum; -1 for a row of zeros) and the table
    of patterns (the first of ``rows`` with each, in order).

    Proportional rows share a pattern, so the rank of a set of records'
    replicate weights is the rank of their distinct patterns. Patterns are
    matched on their values rounded to single precision: this only decides
    which rows are stored once, never the rank (near-duplicates that are kept
    apart add no rank). ``reps`` is best column-major (each column is read
    contiguously).
    """
    n, r = len(rows), reps.shape[1]
    if n == 0 or r == 0:
        return np.full(n, -1, dtype=np.int64), pd.DataFrame(np.zeros((0, r)))
    every = n == reps.shape[0]  # all records: read columns without gathering

    def column(j: int) -> FloatArray:
        return reps[:, j] if every else reps[rows, j]

    scale = np.zeros(n, dtype=np.float64)
    for j in range(r):
        scale += column(j)
    zero_sum = scale == 0
    if zero_sum.any():
        scale[zero_sum] = np.abs(reps[rows[zero_sum]]).max(axis=1)
    zero = scale == 0
    scale[zero] = 1.0
    inverse = 1.0 / scale
    # A linear hash, modulo 2**64 with fixed odd multipliers, of the bits of
    # the normalised weights in single precision.
    drawn = np.random.default_rng(20261128).integers(0, 2**62, size=r, dtype=np.uint64)
    multipliers = np.asarray(drawn * np.uint64(2) + np.uint64(1), dtype=np.uint64)
    hashed = np.zeros(n, dtype=np.uint64)
    for j in range(r):
        single = (column(j) * inverse).astype(np.float32)
        single[single == 0] = 0.0  # no negative zeros
        hashed += single.view(np.uint32).astype(np.uint64) * multipliers[j]
    codes, _ = pd.factorize(hashed)
    codes = np.asarray(codes, dtype=np.int64)
    codes[zero] = -1
    valid = np.flatnonzero(~zero)
    _, first = np.unique(codes[valid], return_index=True)
    first_rows = valid[first]
    remap = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    remap[codes[first_rows]] = np.arange(len(first_rows))
    codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    source = rows[first_rows]
    normal = np.empty((len(first_rows), r), dtype=np.float64)
    for j in range(r):
        normal[:, j] = reps[source, j] * inverse[first_rows]
    return codes, pd.DataFrame(normal, copy=False)


# --------------------------------------------------------------------------- pandas


@dataclass
class _Base:
    """A grouping computed from the data, during one run."""

    cells: IntArray
    keys: pd.DataFrame


class PandasEngine:
    """The in-memory engine: the data is a ``pandas.DataFrame``.

    All measure columns are built at once; each grouping computed from the
    data is aggregated with one ``groupby(cell, unit).sum()`` (Taylor) or one
    ``groupby(cell).sum()`` plus one matrix product per cell with the
    replicate weights; the other groupings are derived from those sums.
    """

    name: ClassVar[str] = "pandas"

    def run(self, plan: Plan, data: Any) -> Sums:
        """The sums of ``plan`` over ``data`` (a ``pandas.DataFrame``)."""
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"the pandas engine runs on a pandas.DataFrame, got {type(data).__name__}"
            )
        n = len(data)
        design = plan.design
        variance = plan.variance
        available = list(data.columns)
        if design is not None:
            _check_design_columns(design, data)
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
        reps: FloatArray | None = None
        if design is not None and variance == "replicate":
            rep_columns = design.replicate_columns(available)
            reps = np.empty((n, len(rep_columns)), dtype=np.float64, order="F")
            for j, c in enumerate(rep_columns):
                reps[:, j] = _numeric(data[c], c, "replicate_weights")
                if np.isnan(reps[:, j]).any():
                    raise DesignError(
                        f"the replicate weight column {c!r} has missing values",
                        "replicate_weights",
                        c,
                    )

        # ---- measures: one column each, built at once
        params = dict(plan.params)
        masks: dict[Expr | None, BoolArray] = {}
        present: dict[str, BoolArray] = {}
        values: dict[str, FloatArray] = {}

        def domain_mask(expr: Expr | None) -> BoolArray:
            if expr not in masks:
                if expr is None:
                    masks[expr] = np.ones(n, dtype=bool)
                else:
                    masks[expr] = to_pandas_mask(expr, data, params).to_numpy(dtype=bool)
            return masks[expr]

        def value_of(col: str) -> FloatArray:
            if col not in values:
                values[col] = _numeric(data[col], col, "value")
            return values[col]

        def notna(col: str) -> BoolArray:
            if col not in present:
                present[col] = ~np.asarray(data[col].isna().to_numpy(), dtype=bool)
            return present[col]

        def record_mask(domain: Expr | None, nonmissing: Sequence[str]) -> BoolArray:
            mask = domain_mask(domain)
            for col in nonmissing:
                mask = mask & notna(col)
            return mask

        measures = plan.measures
        m_count = len(measures)
        unweighted = np.zeros((n, m_count), dtype=np.float64)
        for j, m in enumerate(measures):
            mask = record_mask(m.domain, m.nonmissing)
            if m.value is not None:
                unweighted[:, j] = np.where(mask, value_of(m.value), 0.0)
            else:
                unweighted[:, j] = mask
        weighted_idx = [j for j, m in enumerate(measures) if m.weighted]
        count_idx = [j for j, m in enumerate(measures) if not m.weighted]
        table = unweighted.copy()
        if weighted_idx:
            table[:, weighted_idx] *= weights[:, None]
        if count_idx and (weights == 0).any():
            # a record of weight 0 is not part of the sample: it is not counted
            # (as R's degf leaves it out)
            table[np.ix_(weights == 0, count_idx)] = 0.0
            unweighted[np.ix_(weights == 0, count_idx)] = 0.0
        active = (table != 0).any(axis=1) if m_count else np.zeros(n, dtype=bool)
        active_rows = np.flatnonzero(active)
        names = [m.name for m in measures]

        patterns: pd.DataFrame | None = None
        active_pattern: IntArray | None = None
        if reps is not None:
            active_pattern, patterns = _replicate_patterns(reps, active_rows)

        rows_are_units = variance == "taylor" and (
            not (design and design.psu) or len(stages[-1].units) == n
        )
        n_units = len(stages[-1].units) if stages else n

        # ---- groupings
        bases = plan.bases()
        computed: dict[int, _Base] = {}
        results: dict[int, CellSums] = {}
        for gi, grouping in enumerate(plan.groupings):
            if bases[gi] != gi:
                continue
            cells, keys = _cells(
                [data[b.column] for b in grouping.breakdowns], grouping.breakdowns, n
            )
            computed[gi] = _Base(cells, keys)
            ncells = len(keys)
            a_cells = cells[active]
            units_frame: pd.DataFrame | None = None
            if variance == "taylor":
                a_units = finest[active]
                if rows_are_units:
                    unit_sums = table[active]
                    u_cell, u_unit = a_cells, a_units
                else:
                    key = a_cells * max(n_units, 1) + a_units
                    summed = pd.DataFrame(table[active], copy=False).groupby(key, sort=True).sum()
                    k = summed.index.to_numpy(dtype=np.int64)
                    u_cell, u_unit = k // max(n_units, 1), k % max(n_units, 1)
                    unit_sums = summed.to_numpy(dtype=np.float64)
                units_frame = pd.DataFrame(unit_sums, columns=names, copy=False)
                units_frame.insert(0, "unit", u_unit.astype(np.int64))
                units_frame.insert(0, "cell", u_cell.astype(np.int64))
                totals = _group_sum(u_cell.astype(np.int64), unit_sums, ncells)
            else:
                totals = _group_sum(a_cells, table[active], ncells)
            rep_frame: pd.DataFrame | None = None
            pat_frame: pd.DataFrame | None = None
            if reps is not None and active_pattern is not None:
                rep_frame = self._replicate_totals(
                    a_cells, active_rows, unweighted[:, weighted_idx], reps, ncells,
                    [names[j] for j in weighted_idx],
                )
                pat_frame = self._pattern_pairs(
                    a_cells, unweighted[active_rows][:, count_idx], active_pattern,
                    [names[j] for j in count_idx],
                )
            results[gi] = CellSums(
                keys=keys,
                totals=pd.DataFrame(totals, columns=names, copy=False),
                units=units_frame,
                replicates=rep_frame,
                patterns=pat_frame,
            )
        for gi, grouping in enumerate(plan.groupings):
            if bases[gi] == gi:
                continue
            base = bases[gi]
            mapping, keys = _derive_keys(plan.groupings[base], results[base].keys, grouping)
            computed[gi] = _Base(mapping[computed[base].cells], keys)
            results[gi] = _derive_sums(results[base], mapping, keys, n_units, rows_are_units)

        # ---- row requests (quantiles)
        rows: list[pd.DataFrame] = []
        for req in plan.rows:
            mask = record_mask(req.domain, req.nonmissing)
            idx = np.flatnonzero(mask)
            frame = pd.DataFrame(
                {
                    "cell": computed[req.grouping].cells[idx],
                    "value": value_of(req.value)[idx],
                    "weight": weights[idx],
                }
            )
            if variance == "taylor":
                frame["unit"] = finest[idx]
            elif reps is not None:
                rep_part = pd.DataFrame(
                    reps[idx], columns=[f"rep{i}" for i in range(reps.shape[1])], copy=False
                )
                frame = pd.concat([frame, rep_part], axis=1)
            rows.append(frame)

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
    def _replicate_totals(
        cells: IntArray,
        rows: IntArray,
        unweighted: FloatArray,
        reps: FloatArray,
        ncells: int,
        names: Sequence[str],
    ) -> pd.DataFrame:
        """Totals of each measure under each replicate weight, per cell: one
        matrix product per cell (``cells[i]`` is the cell of record
        ``rows[i]``)."""
        r = reps.shape[1]
        out = np.zeros((ncells, len(names), r), dtype=np.float64)
        if len(cells) and names:
            order = np.argsort(cells, kind="stable")
            bounds = np.searchsorted(cells[order], np.arange(ncells + 1))
            for c in range(ncells):
                idx = rows[order[bounds[c]:bounds[c + 1]]]
                if len(idx):
                    out[c] = unweighted[idx].T @ reps[idx]
        columns = pd.MultiIndex.from_product(
            [list(names), range(r)], names=["measure", "replicate"]
        )
        return pd.DataFrame(out.reshape(ncells, len(names) * r), columns=columns, copy=False)

    @staticmethod
    def _pattern_pairs(
        cells: IntArray,
        counts: FloatArray,
        pattern: IntArray,
        names: Sequence[str],
    ) -> pd.DataFrame:
        parts: list[pd.DataFrame] = []
        for j, name in enumerate(names):
            sel = (counts[:, j] > 0) & (pattern >= 0)
            pairs = pd.DataFrame({"cell": cells[sel], "pattern": pattern[sel]}).drop_duplicates()
            pairs.insert(1, "measure", name)
            parts.append(pairs)
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
    base: CellSums, mapping: IntArray, keys: pd.DataFrame, n_units: int, unique_units: bool
) -> CellSums:
    """The sums of a coarser grouping from a finer one's. With
    ``unique_units`` (every record is its own unit) each unit lies in one
    cell, so unit totals only change cell."""
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
        key = cell * max(n_units, 1) + unit
        vals = base.units.drop(columns=["cell", "unit"])
        summed = vals.groupby(key, sort=True).sum()
        k = summed.index.to_numpy(dtype=np.int64)
        units = summed.reset_index(drop=True)
        units.insert(0, "unit", k % max(n_units, 1))
        units.insert(0, "cell", k // max(n_units, 1))
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


#: Engines by name. An engine class is registered here (``ENGINES["duckdb"] =
#: DuckDBEngine``) and chosen with :func:`get_engine`.
ENGINES: dict[str, Callable[[], Engine]] = {"pandas": PandasEngine}


def get_engine(name: str | Engine = "pandas") -> Engine:
    """The engine registered as ``name`` (an engine object is returned as is)."""
    if not isinstance(name, str):
        return name
    try:
        factory = ENGINES[name]
    except KeyError:
        raise EstimateError(
            f"unknown engine {name!r}; registered engines: {', '.join(sorted(ENGINES))}",
            "engine",
        ) from None
    return factory()
