"""``estimate()``: one estimate (or many, in one plan) as a result table.

The result table has one row per cell of the breakdown, with the columns of
DESIGN.md's *Result table*: ``indicator, ref_period, ref_area, <breakdowns>,
value, unit, se, ci_lower, ci_upper, cv, df, n, obs_status, conf_status,
source, findings``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from migprofile.catalog.filters import Expr, parse_filter
from migprofile.compute.design import Design
from migprofile.compute.engine import Engine, get_engine
from migprofile.compute.estimators import (
    CI_METHODS,
    CiMethod,
    Estimates,
    estimate_item,
    intervals,
)
from migprofile.compute.plan import KINDS, Breakdown, EstimateError, Kind, Request, make_plan

if TYPE_CHECKING:  # pragma: no cover
    from migprofile.sources.read import Dataset

__all__ = [
    "NO_SAMPLING_ERROR",
    "RESULT_COLUMNS",
    "complete_enumeration",
    "estimate",
    "estimate_many",
    "result_table",
]

#: The columns of a result table, breakdown columns going after ``ref_area``.
RESULT_COLUMNS: tuple[str, ...] = (
    "indicator", "ref_period", "ref_area",
    "value", "unit", "se", "ci_lower", "ci_upper", "cv", "df", "n",
    "obs_status", "conf_status", "source", "findings",
)
_HEAD = ("indicator", "ref_period", "ref_area")
_TOTAL_CODE = "_T"


def _breakdowns(by: str | Breakdown | Sequence[str | Breakdown] | None) -> tuple[Breakdown, ...]:
    if by is None:
        return ()
    items: Sequence[str | Breakdown] = [by] if isinstance(by, str | Breakdown) else by
    out: list[Breakdown] = []
    for b in items:
        if isinstance(b, Breakdown):
            out.append(b)
        elif isinstance(b, str):
            out.append(Breakdown(b))
        else:
            raise EstimateError(f"by takes column names or Breakdown objects, got {b!r}", "by")
    return tuple(out)


def _expr(text: str | Expr | None, argument: str) -> Expr | None:
    if text is None or not isinstance(text, str):
        return text
    return parse_filter(text)


def _unpack(
    frame: Any, design: Design | None
) -> tuple[Any, pd.DataFrame, Design | None, str | None, str | None]:
    """The data for the engine, a frame with its columns and dtypes (for the
    requests), the design, the reference period and the source."""
    from migprofile.sources.read import Dataset

    if isinstance(frame, Dataset):
        if design is None and frame.design is not None:
            design = Design.from_spec(frame.design)
        return frame.frame, frame.frame, design, frame.mapping.reference_period, frame.source
    if isinstance(frame, pd.DataFrame):
        return frame, frame, design, None, None
    schema = _schema(frame)
    if schema is None:
        raise TypeError(
            "estimate() takes a pandas.DataFrame, a Dataset, Parquet or CSV paths, Arrow data "
            f"or a Dask DataFrame, got {type(frame).__name__}"
        )
    return frame, schema, design, None, None


def _schema(data: Any) -> pd.DataFrame | None:
    """An empty frame with the columns and dtypes of ``data`` (files, Arrow
    data, a Dask DataFrame), or ``None`` for something else."""
    from migprofile.compute.engine import _is_paths, input_files

    if _is_paths(data):
        from migprofile.compute.engine_duckdb import _format_of

        files = input_files(data)
        if _format_of(files) == "parquet":
            import pyarrow.parquet as pq  # type: ignore[import-untyped]

            return cast(pd.DataFrame, pq.read_schema(files[0]).empty_table().to_pandas())
        return pd.read_csv(files[0], nrows=100).iloc[:0]
    module = type(data).__module__
    if module.startswith("pyarrow"):
        return cast(pd.DataFrame, data.schema.empty_table().to_pandas())
    if module.startswith(("dask.", "dask_expr")):
        return cast(pd.DataFrame, data._meta)
    return None


def _request(
    data: pd.DataFrame,
    kind: str,
    y: str | Expr | None,
    x: str | None,
    by: str | Breakdown | Sequence[str | Breakdown] | None,
    where: str | Expr | None,
    multiplier: float,
    prob: float | None,
    label: str | None = None,
    denominator_where: str | Expr | None = None,
) -> Request:
    if kind not in KINDS:
        raise EstimateError(
            f"unknown estimate kind {kind!r}; expected one of {', '.join(KINDS)}", "kind"
        )
    y_arg: str | Expr | None = y
    if kind in ("share", "count") and isinstance(y, str):
        dtype = data[y].dtype if y in data.columns else None
        numeric = (
            dtype is not None
            and pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        )
        if numeric and kind == "share":
            kind = "mean"  # a 0/1 numeric column: its mean is the share
        elif numeric:
            raise EstimateError(
                f"y of a count is a condition (a filter text) or a boolean column; "
                f"column {y!r} has type {dtype}",
                "y",
            )
        else:  # a filter, or a boolean column (the filter checks its type)
            y_arg = parse_filter(y)
    return Request(
        kind=cast(Kind, kind),
        y=y_arg,
        x=x,
        by=_breakdowns(by),
        where=_expr(where, "where"),
        denominator_where=_expr(denominator_where, "denominator_where"),
        prob=(0.5 if prob is None else prob) if kind == "quantile" else prob,
        multiplier=multiplier,
        label=label,
    )


def _check_level(level: float, ci_method: str) -> None:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise EstimateError(f"level must be in (0, 1), got {level!r}", "level")
    if ci_method not in CI_METHODS:
        raise EstimateError(
            f"ci_method must be one of {', '.join(CI_METHODS)}, got {ci_method!r}", "ci_method"
        )


def result_table(
    estimates: Sequence[Estimates],
    ref_period: str | None = None,
    source: str | None = None,
    breakdowns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The result table of a list of :class:`Estimates` (cells with no record
    in their domain are left out). ``breakdowns`` orders the breakdown columns;
    an estimate without one of them gets ``_T`` (total) there."""
    names: list[str] = list(breakdowns or [])
    for est in estimates:
        for col in est.keys.columns:
            if col not in names:
                names.append(str(col))
    parts: list[pd.DataFrame] = []
    for est in estimates:
        keep = np.asarray(est.n) > 0
        k = int(keep.sum())
        value = np.asarray(est.value)[keep]
        se = np.asarray(est.se)[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = se / np.abs(value)
        part: dict[str, Any] = {
            "indicator": pd.Series([est.item.label] * k, dtype=object),
            "ref_period": pd.Series([ref_period] * k, dtype=object),
            "ref_area": pd.Series([None] * k, dtype=object),
        }
        keys = est.keys.loc[keep].reset_index(drop=True)
        for name in names:
            if name in keys.columns:
                part[name] = keys[name].astype(object)
            else:
                part[name] = pd.Series([_TOTAL_CODE] * k, dtype=object)
        if est.ci_lower is None or est.ci_upper is None:
            est = intervals(est)
        lower = np.asarray(est.ci_lower, dtype=np.float64)
        upper = np.asarray(est.ci_upper, dtype=np.float64)
        part.update(
            value=value,
            unit=pd.Series([None] * k, dtype=object),
            se=se,
            ci_lower=lower[keep],
            ci_upper=upper[keep],
            cv=cv,
            df=np.asarray(est.df)[keep],
            n=np.asarray(est.n)[keep].astype(np.int64),
            obs_status=pd.Series(["A"] * k, dtype=object),
            conf_status=pd.Series(["F"] * k, dtype=object),
            source=pd.Series([source] * k, dtype=object),
            findings=pd.Series([""] * k, dtype=object),
        )
        parts.append(pd.DataFrame(part))
    columns = [*_HEAD, *names, *RESULT_COLUMNS[len(_HEAD):]]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def estimate(
    frame: pd.DataFrame | Dataset | Any,
    kind: Kind | str,
    y: str | Expr | None = None,
    x: str | None = None,
    by: str | Breakdown | Sequence[str | Breakdown] | None = None,
    where: str | Expr | None = None,
    design: Design | None = None,
    level: float = 0.95,
    ci_method: CiMethod | str = "wald",
    multiplier: float = 1.0,
    prob: float | None = None,
    *,
    engine: str | Engine = "pandas",
    params: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Estimate a total, mean, share, ratio, rate, count or quantile, with its
    standard error, confidence interval, CV and degrees of freedom, per cell
    of ``by``.

    ``frame`` is a ``pandas.DataFrame`` or a :class:`~migprofile.Dataset` (its
    main table; its mapping's design when ``design`` is ``None``; its
    reference period and source id). ``design`` ``None`` with a plain frame
    means a census or register: weights 1 and no sampling variance (se 0).

    - ``total``/``mean``/``quantile``: ``y`` is a numeric column;
    - ``ratio``/``rate``: ``y`` over ``x`` (both columns); a rate is a ratio
      times ``multiplier`` (which scales every kind's value);
    - ``share``: ``y`` is a condition (filter text, or a boolean column) or a
      0/1 numeric column; the share of the records of the domain meeting it;
    - ``count``: the weighted number of records of the domain, or of those
      meeting the condition ``y``.

    ``where`` (a filter text) is the domain: weights are zeroed outside it,
    rows are never dropped. ``by`` is a column, a list of them, or
    :class:`~migprofile.compute.plan.Breakdown` objects (a column mapped to a
    coarser codelist level); missing values form the cell ``_U``. Records with
    a missing ``y`` (or ``x``) are left out of numerator and denominator, like
    R's ``na.rm=TRUE``. ``prob`` is the quantile's probability (default 0.5).
    ``ci_method``: ``wald`` (t with the df when finite and positive),
    ``normal``, or for shares ``logit``, ``wilson`` or ``korn_graubard``.
    Without a design the data are a complete enumeration: no sampling error
    (``se`` empty, finding ``NO_SAMPLING_ERROR``). ``params`` gives the filters'
    ``@parameters``; ``engine`` names a registered engine (``pandas``,
    ``duckdb``, ``dask``), ``"auto"`` (chosen from the data, see
    :func:`~migprofile.compute.engine.auto_engine_name`) or is an engine object.
    ``frame`` may also be what the chosen engine reads: Parquet or CSV paths
    (pandas reads only the columns needed, DuckDB scans them out of core),
    Arrow data (DuckDB), a Dask DataFrame (Dask).
    """
    _check_level(level, ci_method)
    data, schema, design, ref_period, source = _unpack(frame, design)
    req = _request(schema, kind, y, x, by, where, multiplier, prob)
    plan = make_plan([req], design, params)
    sums = get_engine(engine, data=data).run(plan, data)
    est = estimate_item(plan.items[0], sums, level, cast(CiMethod, ci_method))
    table = result_table([est], ref_period, source)
    return complete_enumeration(table) if design is None else table


def estimate_many(
    frame: pd.DataFrame | Dataset | Any,
    requests: Sequence[Request | Mapping[str, Any]],
    design: Design | None = None,
    level: float = 0.95,
    ci_method: CiMethod | str = "wald",
    *,
    engine: str | Engine = "pandas",
    params: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Several estimates from one plan and one engine run, as one result table.

    Each request is a :class:`~migprofile.compute.plan.Request` or a dict of
    :func:`estimate`'s arguments (``kind``, ``y``, ``x``, ``by``, ``where``,
    ``multiplier``, ``prob``, plus ``label`` and ``denominator_where``). The
    table has the union of the breakdown columns; a row whose estimate is not
    broken down by a column has ``_T`` (total) there.
    """
    _check_level(level, ci_method)
    data, schema, design, ref_period, source = _unpack(frame, design)
    reqs: list[Request] = []
    for r in requests:
        if isinstance(r, Request):
            reqs.append(r)
            continue
        args = dict(r)
        unknown = set(args) - {
            "kind", "y", "x", "by", "where", "multiplier", "prob", "label", "denominator_where",
        }
        if unknown:
            raise EstimateError(f"unknown request argument(s): {sorted(unknown)}", "requests")
        reqs.append(
            _request(
                schema,
                str(args.get("kind")),
                args.get("y"),
                args.get("x"),
                args.get("by"),
                args.get("where"),
                float(args.get("multiplier", 1.0)),
                args.get("prob"),
                args.get("label"),
                args.get("denominator_where"),
            )
        )
    plan = make_plan(reqs, design, params)
    sums = get_engine(engine, data=data).run(plan, data)
    ests = [estimate_item(item, sums, level, cast(CiMethod, ci_method)) for item in plan.items]
    table = result_table(ests, ref_period, source)
    if design is None:
        table = complete_enumeration(table)
    return table


#: Finding code of estimates from a complete enumeration.
NO_SAMPLING_ERROR = "NO_SAMPLING_ERROR"


def complete_enumeration(table: pd.DataFrame) -> pd.DataFrame:
    """A complete enumeration (a census, a register, no design) has no sampling
    error, and says so: ``se``, the interval, ``cv`` and ``df`` are empty, not
    zero, and ``findings`` carries ``NO_SAMPLING_ERROR``."""
    if table.empty:
        return table
    table = table.assign(se=np.nan, cv=np.nan, df=np.nan, ci_lower=np.nan, ci_upper=np.nan)
    table["findings"] = (table["findings"].astype(str) + " " + NO_SAMPLING_ERROR).str.strip()
    return table
