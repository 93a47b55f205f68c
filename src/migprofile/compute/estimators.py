"""Estimators: pure functions from a design and sums to immutable estimates.

Every function takes a plan item (what to estimate), the sums an engine
returned for the plan (:class:`~migprofile.compute.engine.Sums`) and returns
:class:`Estimates`: one value, standard error, degrees of freedom and count
per cell of the item's grouping. The design travels in the plan
(``sums.plan.design``); ``None`` is a census (no sampling variance).

- :func:`total` (and :func:`count`, the total of 1): ``sum(w y)``;
- :func:`ratio` (and :func:`mean`, :func:`share`, :func:`rate`):
  ``sum(w y) / sum(w x)`` over the numerator and denominator domains;
- :func:`quantile`: R's ``qrule="math"`` with the Woodruff interval.

Variance: Taylor linearisation (:class:`~migprofile.compute.variance.TaylorLayout`,
R's ``svyrecvar``) or replicate weights (R's ``svrVar``). See
``docs/estimation.md`` for the formulas.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from migprofile.compute.design import Design
from migprofile.compute.engine import Sums
from migprofile.compute.plan import EstimateError, PlanItem
from migprofile.compute.variance import (
    TaylorLayout,
    cumulative_weights,
    interval_factor,
    quantile_math,
    replicate_rank,
    replicate_variance,
)

__all__ = [
    "CI_METHODS",
    "CiMethod",
    "Estimates",
    "count",
    "estimate_item",
    "intervals",
    "mean",
    "quantile",
    "rate",
    "ratio",
    "share",
    "total",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_T = TypeVar("_T")

CiMethod: TypeAlias = Literal["wald", "normal", "logit", "wilson", "korn_graubard"]
#: Interval methods: ``wald`` (t with the estimate's df when finite and
#: positive, else normal), ``normal`` (as R's ``confint`` default) and
#: ``logit`` (shares: as ``svyciprop(method="logit")``).
CI_METHODS: tuple[str, ...] = ("wald", "normal", "logit", "wilson", "korn_graubard")


def _frozen(values: npt.ArrayLike) -> FloatArray:
    arr: FloatArray = np.array(values, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


def _frozen_int(values: npt.ArrayLike) -> IntArray:
    arr: IntArray = np.array(values, dtype=np.int64, copy=True)
    arr.setflags(write=False)
    return arr


def _need(value: _T | None, what: str) -> _T:
    """``value``, which the plan guarantees; a clear error if a hand-made
    plan item lacks it."""
    if value is None:
        raise EstimateError(f"the plan item has no {what}")
    return value


@dataclass(frozen=True, eq=False)
class Estimates:
    """The estimates of one plan item, one entry per cell of its grouping.

    ``keys`` gives the cells (one column per breakdown); ``value``, ``se``,
    ``df`` (degrees of freedom of the cell's domain), ``n`` (records of the
    cell's domain) are read-only arrays in the same order. ``ci_lower`` and
    ``ci_upper`` are set by estimators that build their own interval
    (quantiles); :func:`intervals` fills them for the others.
    """

    item: PlanItem
    keys: pd.DataFrame
    value: FloatArray
    se: FloatArray
    df: FloatArray
    n: IntArray
    ci_lower: FloatArray | None = None
    ci_upper: FloatArray | None = None

    @staticmethod
    def make(
        item: PlanItem,
        keys: pd.DataFrame,
        value: npt.ArrayLike,
        se: npt.ArrayLike,
        df: npt.ArrayLike,
        n: npt.ArrayLike,
        ci_lower: npt.ArrayLike | None = None,
        ci_upper: npt.ArrayLike | None = None,
    ) -> Estimates:
        """Build with read-only copies of the arrays."""
        return Estimates(
            item=item,
            keys=keys.copy(),
            value=_frozen(value),
            se=_frozen(se),
            df=_frozen(df),
            n=_frozen_int(n),
            ci_lower=None if ci_lower is None else _frozen(ci_lower),
            ci_upper=None if ci_upper is None else _frozen(ci_upper),
        )


# --------------------------------------------------------------------------- shared pieces

_LAYOUTS: weakref.WeakKeyDictionary[Sums, dict[object, TaylorLayout]] = weakref.WeakKeyDictionary()


def _layout(sums: Sums, key: object, build: Callable[[], TaylorLayout]) -> TaylorLayout:
    """A memoised layout (layouts depend only on the sums, so this is a cache,
    not state)."""
    cache = _LAYOUTS.setdefault(sums, {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _unit_layout(sums: Sums, grouping: int) -> TaylorLayout:
    cs = sums.groupings[grouping]
    units = cs.units
    if units is None:
        raise EstimateError("the sums carry no unit totals for Taylor linearisation")

    def build() -> TaylorLayout:
        return TaylorLayout.build(
            units["cell"].to_numpy(dtype=np.int64),
            units["unit"].to_numpy(dtype=np.int64),
            cs.ncells,
            sums.stages,
        )

    return _layout(sums, ("units", grouping), build)


def _design(sums: Sums) -> Design | None:
    return sums.plan.design


def _replicate_setup(sums: Sums) -> tuple[float, FloatArray, bool]:
    design = _need(_design(sums), "design")
    scale, rscales = design.replicate_factors(len(sums.replicate_columns))
    return scale, np.asarray(rscales, dtype=np.float64), design.mse


def _replicate_matrix(sums: Sums, grouping: int, measure: str) -> FloatArray:
    reps = sums.groupings[grouping].replicates
    if reps is None:
        raise EstimateError("the sums carry no replicate totals")
    return np.asarray(reps[measure].to_numpy(dtype=np.float64), dtype=np.float64)


def _df(sums: Sums, item: PlanItem) -> FloatArray:
    """Degrees of freedom of each cell's domain (the item's support)."""
    cs = sums.groupings[item.grouping]
    design = _design(sums)
    if design is None:
        return np.full(cs.ncells, np.nan)
    if design.variance == "taylor":
        layout = _unit_layout(sums, item.grouping)
        present = _need(cs.units, "unit totals")[item.support].to_numpy(dtype=np.float64) > 0
        return layout.df(present)
    patterns = cs.patterns
    if patterns is None or sums.patterns is None:
        raise EstimateError("the sums carry no replicate-weight patterns")
    sel = patterns[patterns["measure"] == item.support]
    rank = replicate_rank(
        sel["cell"].to_numpy(dtype=np.int64),
        sel["pattern"].to_numpy(dtype=np.int64),
        sums.patterns.to_numpy(dtype=np.float64),
        cs.ncells,
    )
    return rank - 1.0


def _counts(sums: Sums, item: PlanItem) -> IntArray:
    totals = sums.groupings[item.grouping].totals
    counts: IntArray = np.rint(totals[item.support].to_numpy(dtype=np.float64)).astype(np.int64)
    return counts


def _check(item: PlanItem, kinds: tuple[str, ...], function: str) -> None:
    if item.kind not in kinds:
        raise EstimateError(f"{function}() estimates {', '.join(kinds)}, not a {item.kind}")


# --------------------------------------------------------------------------- totals and ratios


def total(item: PlanItem, sums: Sums) -> Estimates:
    """Totals ``sum(w y)`` per cell (counts when the value is 1).

    Taylor: the linearised variable is ``w y`` itself; replicate: the total
    under each replicate weight.
    """
    _check(item, ("total", "count"), "total")
    numerator = _need(item.numerator, "numerator")
    cs = sums.groupings[item.grouping]
    value = cs.totals[numerator].to_numpy(dtype=np.float64)
    var = np.zeros(cs.ncells)
    design = _design(sums)
    if design is not None and design.variance == "taylor":
        units = _need(cs.units, "unit totals")
        z = units[numerator].to_numpy(dtype=np.float64)
        present = units[item.support].to_numpy(dtype=np.float64) > 0
        var = _unit_layout(sums, item.grouping).variance(z, present, design.lonely_psu)
    elif design is not None:
        scale, rscales, mse = _replicate_setup(sums)
        thetas = _replicate_matrix(sums, item.grouping, numerator)
        var = replicate_variance(thetas, value, scale, rscales, mse)
    m = item.multiplier
    return Estimates.make(
        item, cs.keys, value * m, np.sqrt(var) * abs(m), _df(sums, item), _counts(sums, item)
    )


def count(item: PlanItem, sums: Sums) -> Estimates:
    """Weighted counts of the records of the domain (the total of 1)."""
    _check(item, ("count",), "count")
    return total(item, sums)


def ratio(item: PlanItem, sums: Sums) -> Estimates:
    """Ratios ``R = sum(w y) / sum(w x)`` per cell, numerator and denominator
    over their own domains (a mean is the ratio of ``y`` to 1, a share that of
    an indicator to 1, a rate a ratio times a multiplier).

    Taylor: the linearised variable is ``(w y - R w x) / sum(w x)``, as R's
    ``svyratio`` and ``svymean``; replicate: the ratio under each replicate
    weight.
    """
    _check(item, ("ratio", "rate", "mean", "share"), "ratio")
    numerator = _need(item.numerator, "numerator")
    denominator = _need(item.denominator, "denominator")
    cs = sums.groupings[item.grouping]
    num = cs.totals[numerator].to_numpy(dtype=np.float64)
    den = cs.totals[denominator].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = num / den
    var = np.zeros(cs.ncells)
    design = _design(sums)
    if design is not None and design.variance == "taylor":
        units = _need(cs.units, "unit totals")
        cell = units["cell"].to_numpy(dtype=np.int64)
        a = units[numerator].to_numpy(dtype=np.float64)
        b = units[denominator].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (a - value[cell] * b) / den[cell]
        present = units[item.support].to_numpy(dtype=np.float64) > 0
        var = _unit_layout(sums, item.grouping).variance(z, present, design.lonely_psu)
    elif design is not None:
        scale, rscales, mse = _replicate_setup(sums)
        a_r = _replicate_matrix(sums, item.grouping, numerator)
        b_r = _replicate_matrix(sums, item.grouping, denominator)
        with np.errstate(divide="ignore", invalid="ignore"):
            thetas = a_r / b_r
        var = replicate_variance(thetas, value, scale, rscales, mse)
    m = item.multiplier
    return Estimates.make(
        item, cs.keys, value * m, np.sqrt(var) * abs(m), _df(sums, item), _counts(sums, item)
    )


def mean(item: PlanItem, sums: Sums) -> Estimates:
    """Means ``sum(w y) / sum(w)`` over the records where ``y`` is present."""
    _check(item, ("mean",), "mean")
    return ratio(item, sums)


def share(item: PlanItem, sums: Sums) -> Estimates:
    """Shares: the mean of the indicator of the numerator condition over the
    denominator domain (records where the condition is unknown left out)."""
    _check(item, ("share",), "share")
    return ratio(item, sums)


def rate(item: PlanItem, sums: Sums) -> Estimates:
    """Rates: a ratio times the item's multiplier."""
    _check(item, ("rate",), "rate")
    return ratio(item, sums)


# --------------------------------------------------------------------------- quantiles


def quantile(
    item: PlanItem, sums: Sums, level: float = 0.95, ci_method: CiMethod = "wald"
) -> Estimates:
    """Weighted quantiles per cell, as R's ``svyquantile`` (survey 4.x defaults).

    The estimate is ``qrule="math"``: the smallest value whose weighted CDF
    reaches ``prob``. The interval is Woodruff's (``interval.type="mean"``):
    the estimated CDF at the quantile, ``m = sum(w 1[y <= q]) / sum(w)``, has
    an interval ``m -/+ t se(m)`` (t with the domain's df; normal for
    ``ci_method="normal"``), whose ends are turned back into values by the
    same rule (NaN when an end falls outside [0, 1]); the standard error
    reported is, as in R, ``(upper - lower) / (2 t)``.
    """
    _check(item, ("quantile",), "quantile")
    row_request = _need(item.rows, "row request")
    cs = sums.groupings[item.grouping]
    ncells = cs.ncells
    rows = sums.rows[row_request]
    cell = rows["cell"].to_numpy(dtype=np.int64)
    x = rows["value"].to_numpy(dtype=np.float64)
    w = rows["weight"].to_numpy(dtype=np.float64)
    p = float(_need(item.prob, "probability"))

    order = np.lexsort((x, cell))  # by cell, then value; stable for ties
    bounds = np.searchsorted(cell[order], np.arange(ncells + 1))
    by_cell: list[tuple[FloatArray, FloatArray, float]] = []
    qhat = np.full(ncells, np.nan)
    for c in range(ncells):
        idx = order[bounds[c] : bounds[c + 1]]
        idx = idx[w[idx] != 0]
        if len(idx) == 0:
            by_cell.append((np.zeros(0), np.zeros(0), math.nan))
            continue
        in_data_order = np.sort(idx)
        total_w = float(cumulative_weights(w[in_data_order])[-1])
        xs = x[idx]
        cumw = cumulative_weights(w[idx])
        by_cell.append((xs, cumw, total_w))
        qhat[c] = quantile_math(xs, cumw, total_w, p)

    design = _design(sums)
    df = _df(sums, item)
    n = _counts(sums, item)
    m = item.multiplier
    if design is None:
        return Estimates.make(item, cs.keys, qhat * m, np.zeros(ncells), df, n, qhat * m, qhat * m)

    below = (x <= qhat[cell]).astype(np.float64)
    sum_w = np.bincount(cell, weights=w, minlength=ncells)
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = np.bincount(cell, weights=w * below, minlength=ncells) / sum_w
    if design.variance == "taylor":
        with np.errstate(divide="ignore", invalid="ignore"):
            z = w * (below - cdf[cell]) / sum_w[cell]

        def build() -> TaylorLayout:
            return TaylorLayout.build(
                cell, rows["unit"].to_numpy(dtype=np.int64), ncells, sums.stages
            )

        layout = _layout(sums, ("rows", row_request), build)
        var = layout.variance(z, np.ones(len(z), dtype=bool), design.lonely_psu)
    else:
        scale, rscales, mse = _replicate_setup(sums)
        reps = rows[[f"rep{i}" for i in range(len(sums.replicate_columns))]].to_numpy(
            dtype=np.float64
        )
        num_r = np.zeros((ncells, reps.shape[1]))
        den_r = np.zeros((ncells, reps.shape[1]))
        np.add.at(num_r, cell, reps * below[:, None])
        np.add.at(den_r, cell, reps)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = replicate_variance(num_r / den_r, cdf, scale, rscales, mse)
    se_cdf = np.sqrt(var)

    lower = np.full(ncells, np.nan)
    upper = np.full(ncells, np.nan)
    factors = np.array(
        [interval_factor(level, float(d), ci_method != "normal") for d in df], dtype=np.float64
    )
    for c in range(ncells):
        xs, cumw, total_w = by_cell[c]
        if len(xs) == 0:
            continue
        lo_p = cdf[c] - factors[c] * se_cdf[c]
        hi_p = cdf[c] + factors[c] * se_cdf[c]
        if not (math.isnan(lo_p) or lo_p < 0):
            lower[c] = quantile_math(xs, cumw, total_w, lo_p)
        if not (math.isnan(hi_p) or hi_p > 1):
            upper[c] = quantile_math(xs, cumw, total_w, hi_p)
    se = (upper - lower) / (2 * factors)
    return Estimates.make(item, cs.keys, qhat * m, se * abs(m), df, n, lower * m, upper * m)


# --------------------------------------------------------------------------- dispatch


def estimate_item(
    item: PlanItem, sums: Sums, level: float = 0.95, ci_method: CiMethod = "wald"
) -> Estimates:
    """The estimates of ``item``, with their intervals."""
    if item.kind in ("total", "count"):
        est = total(item, sums)
    elif item.kind == "quantile":
        return quantile(item, sums, level, ci_method)
    else:
        est = ratio(item, sums)
    return intervals(est, level, ci_method)


def _proportion_interval(
    p: npt.NDArray[np.float64],
    se: npt.NDArray[np.float64],
    n: npt.NDArray[np.float64],
    df: npt.NDArray[np.float64],
    level: float,
    method: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Intervals for proportions near 0 or 1, on the effective sample size
    ``n_eff = p (1 - p) / se**2`` (the design effect folded in).

    ``wilson``: the Wilson score interval at ``n_eff`` with the t quantile of
    the cell's df. ``korn_graubard``: Korn and Graubard (1998), R's
    ``svyciprop(method="beta")``: ``n_eff`` scaled by
    ``(qt(a/2, n - 1) / qt(a/2, df))**2``, then the Clopper–Pearson limits
    ``qbeta(a/2, n_eff p, n_eff (1 - p) + 1)`` and
    ``qbeta(1 - a/2, n_eff p + 1, n_eff (1 - p))`` (needs scipy: extra
    ``stats``). A cell with no sampling error gets ``[p, p]``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / se**2
    degenerate = ~np.isfinite(n_eff) | (se == 0)
    if method == "wilson":
        z = np.array([interval_factor(level, float(d), True) for d in df], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = (p + z**2 / (2 * n_eff)) / (1 + z**2 / n_eff)
            half = z * np.sqrt(p * (1 - p) / n_eff + z**2 / (4 * n_eff**2)) / (1 + z**2 / n_eff)
        lo, hi = centre - half, centre + half
    else:
        try:
            from scipy.stats import beta
        except ImportError:  # pragma: no cover - depends on the environment
            raise EstimateError(
                "ci_method 'korn_graubard' needs scipy: pip install \"migprofile[stats]\"",
                "ci_method",
            ) from None
        alpha = 1 - level
        q_n = np.array([interval_factor(level, float(k) - 1, True) for k in n], dtype=np.float64)
        q_df = np.array([interval_factor(level, float(d), True) for d in df], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = n_eff * (q_n / q_df) ** 2
            lo = beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)
            hi = beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))
        lo = np.where(p <= 0, 0.0, lo)
        hi = np.where(p >= 1, 1.0, hi)
    lo = np.where(degenerate, p, lo)
    hi = np.where(degenerate, p, hi)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def intervals(est: Estimates, level: float = 0.95, ci_method: CiMethod = "wald") -> Estimates:
    """``est`` with its confidence intervals at ``level``.

    ``wald``: ``value -/+ t se`` with t the ``(1 + level) / 2`` quantile of
    Student's t with the cell's df when it is finite and positive, else of the
    normal; ``normal``: always the normal quantile (R's ``confint`` default);
    ``logit`` (shares, or means of 0/1 variables, as R's
    ``svyciprop(method="logit")``): the Wald
    interval of ``logit(p)``, whose standard error is ``se / (p (1 - p))``,
    transformed back (``[p, p]`` when ``p`` is 0 or 1).
    """
    if ci_method not in CI_METHODS:
        raise EstimateError(
            f"ci_method must be one of {', '.join(CI_METHODS)}, got {ci_method!r}", "ci_method"
        )
    if est.ci_lower is not None and est.ci_upper is not None:
        return est
    use_t = ci_method != "normal"
    factors = np.array([interval_factor(level, float(d), use_t) for d in est.df], dtype=np.float64)
    value = np.asarray(est.value, dtype=np.float64)
    se = np.asarray(est.se, dtype=np.float64)
    if ci_method in ("logit", "wilson", "korn_graubard") and est.item.kind not in (
        "share",
        "mean",
    ):
        raise EstimateError(
            f"ci_method {ci_method!r} applies to shares (and means of 0/1 variables) only",
            "ci_method",
        )
    if ci_method in ("wilson", "korn_graubard"):
        m = est.item.multiplier or 1.0
        lo, hi = _proportion_interval(
            value / m,
            se / abs(m),
            np.asarray(est.n, dtype=np.float64),
            np.asarray(est.df, dtype=np.float64),
            level,
            ci_method,
        )
        return Estimates.make(est.item, est.keys, est.value, est.se, est.df, est.n, lo * m, hi * m)
    if ci_method == "logit":
        m = est.item.multiplier or 1.0
        p = value / m
        se_p = se / abs(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.log(p / (1 - p))
            half = factors * se_p / (p * (1 - p))
            lo = 1 / (1 + np.exp(-(logit - half)))
            hi = 1 / (1 + np.exp(-(logit + half)))
        edge = (p <= 0) | (p >= 1)
        lo = np.where(edge, p, lo) * m
        hi = np.where(edge, p, hi) * m
    else:
        lo = value - factors * se
        hi = value + factors * se
    return Estimates.make(est.item, est.keys, est.value, est.se, est.df, est.n, lo, hi)
