"""Calculators: registered functions for indicators that are not populations
and a measure kind (``measure: derived`` in the catalogue).

A derived indicator names a calculator and its inputs, which are other
indicators of the catalogue::

    - id: NET_MIGRATION
      measure: derived
      calculator: difference
      inputs:
        minuend: {indicator: IMMIGRATION_FLOW}
        subtrahend: {indicator: EMIGRATION_FLOW}

``compute()`` computes every input on the same data, with the same
breakdowns, margins and domain, then hands the estimates (one row per cell:
the breakdown codes, ``value``, ``se``, ``n``, ``findings``) to the
calculator, which returns one row per cell of the derived indicator. A
calculator never sees records, only estimates, so it works the same on a
census, a survey or a published table.

Standard errors: where the delta method gives one for independent inputs it
is computed (a difference: ``sqrt(se1² + se2²)``); otherwise it is NaN and the
row's ``findings`` say why (see :data:`FINDINGS`). Inputs without sampling
error (censuses, registers, published tables) give a derived value without
sampling error, whatever the formula.

A statistics office registers its own calculator with
:func:`register_calculator`; the catalogue loader refuses an indicator naming
an unregistered one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from migprofile import units
from migprofile.catalog.models import Indicator

__all__ = [
    "CALCULATORS",
    "FINDINGS",
    "CalcContext",
    "Calculator",
    "get_calculator",
    "register_calculator",
]

TOTAL = "_T"

#: Finding codes a calculator may add to a row, and what they mean.
FINDINGS: Mapping[str, str] = MappingProxyType(
    {
        "DERIVED": "computed by a calculator from other indicators' estimates",
        "SE_ASSUMES_INDEPENDENCE": (
            "the standard error combines the inputs' errors as if they were independent "
            "(delta method); estimates from domains of one sample may be correlated"
        ),
        "SE_NOT_DERIVED_DEPENDENT_INPUTS": (
            "no standard error: the inputs overlap (one is part of the other) and their "
            "covariance is not available"
        ),
        "SE_NOT_DERIVED_RANKING": (
            "no standard error: the value depends on a ranking of cells, which the delta "
            "method does not cover"
        ),
        "INPUT_MISSING": "an input has no value in this cell",
        "NON_POSITIVE_INPUT": "an input is zero or negative where the formula needs it positive",
    }
)

#: The columns of the rows a calculator receives (besides the breakdown keys)
#: and returns.
VALUE_COLUMNS = ("value", "se", "n", "findings")


@dataclass(frozen=True)
class CalcContext:
    """What a calculator works on.

    ``inputs`` maps each role to its estimates: the breakdown columns
    ``keys``, the column ``over`` of that role when it has one (codes of the
    extra dimension, ``_T`` on its margin rows), and ``value``, ``se``, ``n``,
    ``findings``. ``input_units`` gives each role's indicator unit.
    """

    indicator: Indicator
    inputs: Mapping[str, pd.DataFrame]
    keys: tuple[str, ...]
    over: Mapping[str, str]
    input_units: Mapping[str, str]
    options: Mapping[str, str | int | float | bool]


CheckFunction = Callable[[Indicator, Mapping[str, Sequence[Indicator]]], list[str]]


@dataclass(frozen=True)
class Calculator:
    """A registered calculator.

    ``roles`` are the names of its inputs (all required); ``over_roles`` the
    roles that must be broken down by one more dimension (``over``), which
    the calculator reduces (``keeps_over`` False: a ranking of destinations)
    or keeps (``keeps_over`` True: each cell against its margin). ``options``
    name the options it reads and their types. ``check`` returns problems of
    an indicator using it (units, options), given the indicators each role
    may be.
    """

    name: str
    summary: str
    roles: tuple[str, ...]
    function: Callable[[CalcContext], pd.DataFrame]
    options: Mapping[str, type] = field(default_factory=dict)
    over_roles: frozenset[str] = frozenset()
    keeps_over: bool = False
    check: CheckFunction | None = None


_REGISTRY: dict[str, Calculator] = {}
#: The registered calculators by name (read-only view).
CALCULATORS: Mapping[str, Calculator] = MappingProxyType(_REGISTRY)


def register_calculator(calculator: Calculator, *, replace: bool = False) -> Calculator:
    """Register a calculator under its name (an error if taken, unless ``replace``)."""
    if calculator.name in _REGISTRY and not replace:
        raise ValueError(f"a calculator named {calculator.name!r} is already registered")
    _REGISTRY[calculator.name] = calculator
    return calculator


def get_calculator(name: str) -> Calculator:
    """The registered calculator of that name (``KeyError`` naming the known ones)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"no calculator {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


# --------------------------------------------------------------------------- helpers


def _join_findings(*parts: Any) -> str:
    codes: list[str] = []
    for part in parts:
        if part is None or (isinstance(part, float) and math.isnan(part)):
            continue
        for code in str(part).split():
            if code and code not in codes:
                codes.append(code)
    return " ".join(codes)


def _aligned(ctx: CalcContext) -> pd.DataFrame:
    """The inputs side by side, one row per cell: ``value_<role>``, ``se_<role>``,
    ``n_<role>``, ``findings_<role>``. Cells missing from an input are NaN."""
    keys = list(ctx.keys)
    merged: pd.DataFrame | None = None
    for role, frame in ctx.inputs.items():
        renamed = {c: f"{c}_{role}" for c in VALUE_COLUMNS}
        part = frame[[*keys, *VALUE_COLUMNS]].rename(columns=renamed)
        if merged is None:
            merged = part
        elif keys:
            merged = merged.merge(part, on=keys, how="outer")
        else:
            merged = pd.concat([merged.reset_index(drop=True), part.reset_index(drop=True)], axis=1)
    if merged is None:  # a calculator has at least one role (checked at registration)
        raise ValueError("a calculator needs inputs")
    merged = merged.reset_index(drop=True)
    # An input with no row at all (a year the series lacks) leaves its columns
    # as objects after the outer merge: make the numbers numbers again.
    for role in ctx.inputs:
        for column in ("value", "se", "n"):
            name = f"{column}_{role}"
            if name in merged.columns:
                merged[name] = pd.to_numeric(merged[name], errors="coerce").astype("float64")
    return merged


def _finish(
    frame: pd.DataFrame,
    keys: Sequence[str],
    roles: Sequence[str],
    value: Any,
    se: Any,
    codes: Any,
) -> pd.DataFrame:
    """Rows of a cell-wise calculator: value, se, n (the smallest input's), findings."""
    value = np.asarray(value, dtype=float)
    se = np.asarray(se, dtype=float)
    n = frame[[f"n_{r}" for r in roles]].min(axis=1, skipna=False)
    inputs_missing = frame[[f"value_{r}" for r in roles]].isna().any(axis=1).to_numpy()
    codes_list = list(codes) if not isinstance(codes, str) else [codes] * len(frame)
    findings = [
        _join_findings(
            *(frame[f"findings_{r}"].iloc[i] for r in roles),
            "DERIVED",
            codes_list[i],
            "INPUT_MISSING" if inputs_missing[i] else "",
        )
        for i in range(len(frame))
    ]
    out = frame[list(keys)].copy()
    out["value"] = value
    out["se"] = se
    out["n"] = n.to_numpy()
    out["findings"] = findings
    return out


def _sampling(frame: pd.DataFrame, roles: Sequence[str]) -> np.ndarray:
    """Cells where some input has a sampling error (a finite se)."""
    finite = np.zeros(len(frame), dtype=bool)
    for r in roles:
        finite |= np.isfinite(frame[f"se_{r}"].to_numpy(dtype=float))
    return finite


def _option(ctx: CalcContext, name: str, default: Any) -> Any:
    return ctx.options.get(name, default)


def _units_of(candidates: Sequence[Indicator]) -> set[str]:
    return {units.canonical_unit(c.unit) for c in candidates}


# --------------------------------------------------------------------------- difference


def _difference(ctx: CalcContext) -> pd.DataFrame:
    frame = _aligned(ctx)
    a, b = frame["value_minuend"], frame["value_subtrahend"]
    sa, sb = frame["se_minuend"], frame["se_subtrahend"]
    value = a - b
    # an input without sampling error (a census) contributes no error
    se = np.sqrt(sa.fillna(0.0) ** 2 + sb.fillna(0.0) ** 2)
    sampled = _sampling(frame, ("minuend", "subtrahend"))
    se = np.where(sampled, se, np.nan)
    codes = np.where(sampled, "SE_ASSUMES_INDEPENDENCE", "")
    return _finish(frame, ctx.keys, ("minuend", "subtrahend"), value, se, codes)


def _check_difference(ind: Indicator, roles: Mapping[str, Sequence[Indicator]]) -> list[str]:
    found = _units_of([*roles.get("minuend", ()), *roles.get("subtrahend", ())])
    if len(found) != 1:
        return [f"a difference needs inputs in one unit; got {sorted(found)}"]
    (unit,) = found
    wanted = "percentage_point" if units.units_equivalent(unit, "percent") else unit
    if units.canonical_unit(ind.unit) != units.canonical_unit(wanted):
        why = " (a difference of percentages is in percentage points)" if wanted != unit else ""
        return [f"the unit of a difference of {unit!r} inputs is {wanted!r}{why}, not {ind.unit!r}"]
    return []


# --------------------------------------------------------------------------- quotient


def _quotient(ctx: CalcContext) -> pd.DataFrame:
    frame = _aligned(ctx)
    a, b = frame["value_numerator"], frame["value_denominator"]
    sa, sb = frame["se_numerator"], frame["se_denominator"]
    mult = float(ctx.indicator.multiplier)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(b != 0, a / b * mult, np.nan)
        rel = np.sqrt((sa.fillna(0.0) / a) ** 2 + (sb.fillna(0.0) / b) ** 2)
        se = np.abs(value) * rel
    sampled = _sampling(frame, ("numerator", "denominator"))
    if bool(_option(ctx, "independent", False)):
        se = np.where(sampled, se, np.nan)
        codes = np.where(sampled, "SE_ASSUMES_INDEPENDENCE", "")
    else:
        se = np.full(len(frame), np.nan)
        codes = np.where(sampled, "SE_NOT_DERIVED_DEPENDENT_INPUTS", "")
    return _finish(frame, ctx.keys, ("numerator", "denominator"), value, se, codes)


# --------------------------------------------------------------------------- rate from E / N


def _emigration_rate(ctx: CalcContext) -> pd.DataFrame:
    frame = _aligned(ctx)
    x = frame["value_ratio"].to_numpy(dtype=float)  # E / N × 100
    sx = frame["se_ratio"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 * x / (100.0 + x)
        # d/dX [100 X / (100 + X)] = 100² / (100 + X)²
        se = sx * 1e4 / (100.0 + x) ** 2
    codes = np.where(np.isfinite(se), "SE_ASSUMES_INDEPENDENCE", "")
    return _finish(frame, ctx.keys, ("ratio",), value, se, codes)


def _check_emigration_rate(ind: Indicator, roles: Mapping[str, Sequence[Indicator]]) -> list[str]:
    problems = []
    for cand in roles.get("ratio", ()):
        if not units.units_equivalent(cand.unit, "percent"):
            problems.append(f"input {cand.id} must be emigrants per 100 residents (percent)")
    if not units.units_equivalent(ind.unit, "percent"):
        problems.append("an emigration rate is in percent")
    return problems


# --------------------------------------------------------------------------- choose one input


def _select(ctx: CalcContext) -> pd.DataFrame:
    frame = _aligned(ctx)
    return _finish(frame, ctx.keys, ("input",), frame["value_input"], frame["se_input"], "")


def _check_same_unit(ind: Indicator, roles: Mapping[str, Sequence[Indicator]]) -> list[str]:
    found = _units_of(list(roles.get("input", ())))
    if found != {units.canonical_unit(ind.unit)}:
        return [f"the inputs' unit {sorted(found)} must be the indicator's unit {ind.unit!r}"]
    return []


# --------------------------------------------------------------------------- annual rate of change


def _annual_change(ctx: CalcContext) -> pd.DataFrame:
    frame = _aligned(ctx)
    years = float(_option(ctx, "years", 5))
    s1 = frame["value_current"].to_numpy(dtype=float)
    s0 = frame["value_earlier"].to_numpy(dtype=float)
    ok = (s1 > 0) & (s0 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(ok, 100.0 * np.log(s1 / s0) / years, np.nan)
        rel = np.sqrt(
            (frame["se_current"].fillna(0.0) / s1) ** 2
            + (frame["se_earlier"].fillna(0.0) / s0) ** 2
        )
        se = 100.0 / years * rel
    sampled = _sampling(frame, ("current", "earlier"))
    se = np.where(sampled & ok, se, np.nan)
    codes = [
        ("SE_ASSUMES_INDEPENDENCE" if s else "")
        + ("" if k or np.isnan(a) or np.isnan(b) else " NON_POSITIVE_INPUT")
        for s, k, a, b in zip(sampled, ok, s1, s0, strict=True)
    ]
    return _finish(frame, ctx.keys, ("current", "earlier"), value, se, codes)


def _check_annual_change(ind: Indicator, roles: Mapping[str, Sequence[Indicator]]) -> list[str]:
    problems = []
    years = ind.options.get("years")
    if not isinstance(years, int) or isinstance(years, bool) or years <= 0:
        problems.append("option 'years' (a positive integer: the length of the period) is required")
    earlier = ind.inputs.get("earlier")
    current = ind.inputs.get("current")
    if earlier is not None and current is not None and isinstance(years, int):
        gap = {p: current.shift.get(p, 0) - earlier.shift.get(p, 0) for p in earlier.shift}
        if gap.get("ref_year") != years:
            problems.append(
                f"input 'earlier' must be {years} years before 'current' "
                "(shift: {ref_year: -" + str(years) + "})"
            )
    if not units.units_equivalent(ind.unit, "percent"):
        problems.append("an annual rate of change is in percent")
    return problems


# --------------------------------------------------------------------------- distributions


def _cells_by_group(ctx: CalcContext, role: str) -> tuple[pd.DataFrame, str]:
    frame = ctx.inputs[role]
    over = ctx.over[role]
    return frame[frame[over].astype(str) != TOTAL], over


def _reduce(ctx: CalcContext, role: str, reducer: Callable[[np.ndarray], float]) -> pd.DataFrame:
    cells, _ = _cells_by_group(ctx, role)
    keys = list(ctx.keys)
    rows: list[dict[str, Any]] = []
    groups = cells.groupby(keys, dropna=False, observed=True, sort=True) if keys else [((), cells)]
    for key, part in groups:
        key_tuple = key if isinstance(key, tuple) else (key,)
        values = part["value"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        value = reducer(values) if len(values) and values.sum() > 0 else np.nan
        rows.append(
            {
                **dict(zip(keys, key_tuple, strict=True)),
                "value": value,
                "se": np.nan,
                "n": int(part["n"].min()) if len(part) else 0,
                "findings": _join_findings(*part["findings"], "DERIVED", "SE_NOT_DERIVED_RANKING"),
            }
        )
    if not rows:
        return pd.DataFrame(columns=[*keys, *VALUE_COLUMNS])
    return pd.DataFrame(rows)


def _top_share(ctx: CalcContext) -> pd.DataFrame:
    top = int(_option(ctx, "top", 5))
    mult = float(ctx.indicator.multiplier)

    def reducer(values: np.ndarray) -> float:
        return float(np.sort(values)[::-1][:top].sum() / values.sum() * mult)

    return _reduce(ctx, "stock", reducer)


def _herfindahl(ctx: CalcContext) -> pd.DataFrame:
    mult = float(ctx.indicator.multiplier)

    def reducer(values: np.ndarray) -> float:
        shares = values / values.sum()
        return float((shares**2).sum() * mult)

    return _reduce(ctx, "stock", reducer)


def _relative_to_total(ctx: CalcContext) -> pd.DataFrame:
    frame = ctx.inputs["share"]
    over = ctx.over["share"]
    keys = [k for k in ctx.keys if k != over]
    is_total = frame[over].astype(str) == TOTAL
    totals = frame[is_total][[*keys, "value", "se"]].rename(
        columns={"value": "value_total", "se": "se_total"}
    )
    cells = frame[~is_total]
    if keys:
        merged = cells.merge(totals, on=keys, how="left")
    else:
        merged = cells.assign(
            value_total=float(totals["value_total"].iloc[0]) if len(totals) else np.nan,
            se_total=float(totals["se_total"].iloc[0]) if len(totals) else np.nan,
        )
    mult = float(ctx.indicator.multiplier)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(
            merged["value_total"] != 0, merged["value"] / merged["value_total"] * mult, np.nan
        )
    sampled = np.isfinite(merged["se"].to_numpy(dtype=float))
    out = merged[list(ctx.keys)].copy()
    out["value"] = value
    out["se"] = np.nan
    out["n"] = merged["n"].to_numpy()
    out["findings"] = [
        _join_findings(f, "DERIVED", "SE_NOT_DERIVED_DEPENDENT_INPUTS" if s else "")
        for f, s in zip(merged["findings"], sampled, strict=True)
    ]
    return out.reset_index(drop=True)


def _check_dimensionless(ind: Indicator, roles: Mapping[str, Sequence[Indicator]]) -> list[str]:
    try:
        dims = units.parse_unit(ind.unit).dimensionality
    except units.UnitError as exc:
        return [str(exc)]
    return [] if not dims else [f"{ind.calculator} gives a pure number; {ind.unit!r} is not one"]


for _calc in (
    Calculator(
        name="difference",
        summary="minuend − subtrahend, cell by cell",
        roles=("minuend", "subtrahend"),
        function=_difference,
        check=_check_difference,
    ),
    Calculator(
        name="quotient",
        summary="numerator / denominator × multiplier, cell by cell",
        roles=("numerator", "denominator"),
        function=_quotient,
        options={"independent": bool},
    ),
    Calculator(
        name="emigration_rate",
        summary="E / (E + N) × 100 from the ratio X = E / N × 100: 100·X / (100 + X)",
        roles=("ratio",),
        function=_emigration_rate,
        check=_check_emigration_rate,
    ),
    Calculator(
        name="select",
        summary="the input chosen by a definitional parameter, unchanged",
        roles=("input",),
        function=_select,
        check=_check_same_unit,
    ),
    Calculator(
        name="annual_rate_of_change",
        summary="100 · ln(current / earlier) / years",
        roles=("current", "earlier"),
        function=_annual_change,
        options={"years": int},
        check=_check_annual_change,
    ),
    Calculator(
        name="top_share",
        summary="share of the `top` largest cells of the `over` dimension in their sum",
        roles=("stock",),
        function=_top_share,
        options={"top": int},
        over_roles=frozenset({"stock"}),
        check=_check_dimensionless,
    ),
    Calculator(
        name="herfindahl",
        summary="Σ (cell / sum)² over the `over` dimension × multiplier",
        roles=("stock",),
        function=_herfindahl,
        over_roles=frozenset({"stock"}),
        check=_check_dimensionless,
    ),
    Calculator(
        name="relative_to_total",
        summary="each cell of the `over` dimension divided by its margin (_T) × multiplier",
        roles=("share",),
        function=_relative_to_total,
        over_roles=frozenset({"share"}),
        keeps_over=True,
        check=_check_dimensionless,
    ),
):
    register_calculator(_calc)
