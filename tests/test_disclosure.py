"""Disclosure control and quality flags on result tables.

Hand-made tables whose suppression pattern is worked out in the test, then
properties for random one- and two-way tables of counts: after
``apply_disclosure`` no suppressed cell can be derived from the published
cells and the margin equations. Two independent oracles check that:

* linear algebra: a suppressed cell is determined over the reals when its unit
  vector lies in the row space of the margin equations restricted to the
  suppressed cells (``numpy.linalg.matrix_rank``; scipy is not installed);
* an exact search for a second non-negative integer completion: starting from
  the true table, change the cell by ±1 and keep re-balancing the first
  unbalanced margin equation with ±1 changes of other suppressed cells; the
  completion found is verified directly against every equation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import REPO
from migprofile.compute.disclosure import (
    DisclosureError,
    DisclosureRules,
    apply_disclosure,
)
from migprofile.errors import MigprofileError

T = "_T"
Cell = tuple[str, ...]
Equation = dict[Cell, int]


# --------------------------------------------------------------------------- builders


def frame(
    cells: Mapping[Cell, float],
    dims: Sequence[str],
    *,
    indicator: str = "IMM_STOCK",
    n: Mapping[Cell, float] | None = None,
    cv: Mapping[Cell, float] | None = None,
    period: int = 2020,
    area: str = "XKX",
) -> pd.DataFrame:
    """A result table; ``n`` defaults to the value (a census count)."""
    rows = []
    for codes, value in cells.items():
        row: dict[str, Any] = {"indicator": indicator, "ref_period": period, "ref_area": area}
        row.update(zip(dims, codes, strict=True))
        c = (cv or {}).get(codes, math.nan)
        row.update(
            value=float(value),
            unit="PS",
            se=value * c if not math.isnan(c) else math.nan,
            ci_lower=math.nan,
            ci_upper=math.nan,
            cv=c,
            df=math.nan,
            n=float((n or {}).get(codes, value)),
            obs_status="A",
            conf_status="F",
            source="census",
            findings="",
        )
        rows.append(row)
    return pd.DataFrame(rows)


def one_way(values: Mapping[str, float]) -> dict[Cell, float]:
    """Cells of one breakdown and their margin."""
    cells: dict[Cell, float] = {(code,): v for code, v in values.items()}
    cells[(T,)] = sum(values.values())
    return cells


def two_way(
    grid: Sequence[Sequence[float]], rows: Sequence[str], cols: Sequence[str]
) -> dict[Cell, float]:
    """Cells of rows × columns with both margins and the grand total."""
    cells: dict[Cell, float] = {}
    for r, line in zip(rows, grid, strict=True):
        for c, v in zip(cols, line, strict=True):
            cells[(r, c)] = v
        cells[(r, T)] = sum(line)
    for j, c in enumerate(cols):
        cells[(T, c)] = sum(line[j] for line in grid)
    cells[(T, T)] = sum(sum(line) for line in grid)
    return cells


def status(out: pd.DataFrame, dims: Sequence[str]) -> dict[Cell, str]:
    return {tuple(r[d] for d in dims): r["conf_status"] for _, r in out.iterrows()}


def suppressed(out: pd.DataFrame, dims: Sequence[str]) -> set[Cell]:
    return {c for c, s in status(out, dims).items() if s != "F"}


def secondary(out: pd.DataFrame, dims: Sequence[str]) -> set[Cell]:
    return {c for c, s in status(out, dims).items() if s == "D"}


COUNT = {"IMM_STOCK": "count"}


# --------------------------------------------------------------------------- oracles


def equations(cells: Mapping[Cell, float], ndim: int) -> list[Equation]:
    """Every line with a margin: its ordinary cells minus the margin = 0."""
    lines: dict[tuple[int, Cell], Equation] = {}
    for codes in cells:
        for k in range(ndim):
            eq = lines.setdefault((k, codes[:k] + codes[k + 1 :]), {})
            eq[codes] = -1 if codes[k] == T else 1
    return [eq for eq in lines.values() if -1 in eq.values() and 1 in eq.values()]


def determined_over_reals(eqs: list[Equation], unknown: list[Cell], cell: Cell) -> bool:
    """The unit vector of ``cell`` is in the row space of the equations."""
    m = np.array([[eq.get(u, 0) for u in unknown] for eq in eqs], dtype=float)
    unit = np.array([[1.0 if u == cell else 0.0 for u in unknown]])
    return bool(np.linalg.matrix_rank(np.vstack([m, unit])) == np.linalg.matrix_rank(m))


def second_completion(
    eqs: list[Equation], x: Mapping[Cell, float], unknown: set[Cell], cell: Cell
) -> dict[Cell, float] | None:
    """Another non-negative integer table, equal on every published cell and
    satisfying every equation, in which ``cell`` differs; None if none is
    found by ±1 re-balancing (complete for margin equations: every feasible
    change contains such a cycle)."""

    def imbalance(eq: Equation, delta: Mapping[Cell, int]) -> int:
        return sum(coef * delta.get(k, 0) for k, coef in eq.items())

    def search(delta: dict[Cell, int]) -> dict[Cell, int] | None:
        open_eqs = [eq for eq in eqs if imbalance(eq, delta)]
        if not open_eqs:
            return delta
        eq = open_eqs[0]
        need = -imbalance(eq, delta)
        for k in sorted(eq):
            if k in delta or k not in unknown:
                continue
            step = need * eq[k]  # coefficients are ±1
            if abs(step) != 1 or x[k] + step < 0:
                continue
            found = search({**delta, k: step})
            if found:
                return found
        return None

    for start in (1, -1):
        if x[cell] + start < 0:
            continue
        delta = search({cell: start})
        if delta:
            other = {k: x[k] + delta.get(k, 0) for k in x}
            assert all(other[k] == x[k] for k in x if k not in unknown)
            assert all(sum(c * other[k] for k, c in eq.items()) == 0 for eq in eqs)
            assert all(v >= 0 for v in other.values())
            assert other[cell] != x[cell]
            return other
    return None


def assert_safe(cells: Mapping[Cell, float], hidden: set[Cell], ndim: int) -> None:
    """No hidden cell is determined by the published cells and the margins."""
    eqs = equations(cells, ndim)
    unknown = sorted(hidden)
    for cell in unknown:
        assert not determined_over_reals(eqs, unknown, cell), f"{cell} is determined"
        assert second_completion(eqs, cells, hidden, cell) is not None, f"{cell} is pinned"


def assert_lines(cells: Mapping[Cell, float], hidden: set[Cell], ndim: int) -> None:
    """Every line, margins included, has 0 or at least 2 suppressed cells."""
    for eq in equations(cells, ndim):
        assert len(hidden & set(eq)) != 1, sorted(eq)


# --------------------------------------------------------------------------- rules


def test_rules_from_a_yaml_profile_section() -> None:
    text = """
    disclosure:
      min_n: 10
      min_n_applies_to: [count, total, share]
      cv_flag: 0.15
      cv_suppress: 0.3
      secondary: true
      rounding: 5
    """
    rules = DisclosureRules.model_validate(yaml.safe_load(text)["disclosure"])
    assert rules.min_n == 10
    assert rules.min_n_applies_to == ("count", "total", "share")
    assert rules.rounding == 5
    with pytest.raises(ValidationError):
        rules.min_n = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "section",
    [
        {"min_n": "5"},  # strict: a quoted number is not a number
        {"min_n": 0},
        {"min_n_applies_to": ["share"]},  # counts and totals are always protected
        {"min_n_applies_to": ["count", "total", "percentage"]},
        {"cv_flag": 0.4, "cv_suppress": 0.3},
        {"rounding": 0},
        {"dominance": 0.8},  # unknown fields are refused
    ],
)
def test_rules_refuse_bad_sections(section: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DisclosureRules.model_validate(section)


def test_rule_defaults() -> None:
    rules = DisclosureRules()
    assert (rules.min_n, rules.cv_flag, rules.cv_suppress) == (5, 0.2, 0.35)
    assert rules.secondary is True
    assert rules.rounding is None
    assert {"count", "total", "share", "mean"} <= set(rules.min_n_applies_to)


# --------------------------------------------------------------------------- one-way


def test_one_way_complement_is_the_smallest_ordinary_cell() -> None:
    # F = 3 is below min_n = 5. Alone in its line, it would be the margin minus
    # the other cells (55 - 40 - 12). The smallest other ordinary cell is _U
    # (12 < 40; the margin is never chosen while an ordinary cell is left):
    # a reader then knows only F + _U = 15.
    cells = one_way({"F": 3, "M": 40, "_U": 12})
    out, findings = apply_disclosure(
        frame(cells, ["sex"]), DisclosureRules(), ["sex"], measures=COUNT
    )
    assert status(out, ["sex"]) == {("F",): "A", ("M",): "F", ("_U",): "D", (T,): "F"}
    by = out.set_index("sex")
    assert by.loc["F", "findings"] == "SUPP_N"
    assert by.loc["_U", "findings"] == "SUPP_SEC"
    assert by.loc["M", "findings"] == ""
    assert by.loc["F", "obs_status"] == by.loc["_U", "obs_status"] == "Q"
    assert by.loc["M", "value"] == 40 and by.loc[T, "value"] == 55
    assert [f.code for f in findings] == ["SUPP_N", "SUPP_SEC"]
    assert_safe(cells, suppressed(out, ["sex"]), 1)


def test_one_way_two_small_cells_protect_each_other() -> None:
    cells = one_way({"F": 3, "M": 2, "_U": 30})
    out, _ = apply_disclosure(frame(cells, ["sex"]), DisclosureRules(), ["sex"], measures=COUNT)
    assert suppressed(out, ["sex"]) == {("F",), ("M",)}
    assert secondary(out, ["sex"]) == set()
    assert_safe(cells, suppressed(out, ["sex"]), 1)


def test_one_way_empty_cells_get_a_non_empty_complement() -> None:
    # F and M are empty (n = 0 < 5): two suppressed cells in the line, but
    # F + M = 55 - 25 - 30 = 0 pins both at 0. A third, non-empty cell is
    # needed; the smallest is X (25 < 30).
    cells = one_way({"F": 0, "M": 0, "X": 25, "_U": 30})
    out, _ = apply_disclosure(frame(cells, ["sex"]), DisclosureRules(), ["sex"], measures=COUNT)
    assert suppressed(out, ["sex"]) == {("F",), ("M",), ("X",)}
    assert secondary(out, ["sex"]) == {("X",)}
    assert_safe(cells, suppressed(out, ["sex"]), 1)


def test_small_margin_is_suppressed_and_protected() -> None:
    cells = one_way({"F": 1, "M": 2})  # margin n = 3 < 5: everything is small
    out, _ = apply_disclosure(frame(cells, ["sex"]), DisclosureRules(), ["sex"], measures=COUNT)
    assert suppressed(out, ["sex"]) == {("F",), ("M",), (T,)}
    assert secondary(out, ["sex"]) == set()


# --------------------------------------------------------------------------- two-way


def test_two_way_line_rule_pattern() -> None:
    #          F    M  | _T
    #   A1     2   30  |  32     (A1, F) = 2 is small.
    #   A2    40   45  |  85     Row A1: complement (A1, M), the only ordinary cell.
    #   A3    20   25  |  45     Column F: (A3, F) = 20 < 40. Column M now has
    #   _T    62  100  | 162     one: (A3, M) = 25 < 45. Row A3 has two. Done:
    # a rectangle, every line with 0 or 2 suppressed cells, margins published.
    rows, cols = ["A1", "A2", "A3"], ["F", "M"]
    cells = two_way([[2, 30], [40, 45], [20, 25]], rows, cols)
    dims = ["age", "sex"]
    out, _ = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    assert suppressed(out, dims) == {("A1", "F"), ("A1", "M"), ("A3", "F"), ("A3", "M")}
    assert secondary(out, dims) == {("A1", "M"), ("A3", "F"), ("A3", "M")}
    assert_lines(cells, suppressed(out, dims), 2)
    assert_safe(cells, suppressed(out, dims), 2)


def test_two_way_small_row_total_is_a_cell_of_its_column() -> None:
    #          F    M  | _T
    #   A1     3    1  |   4     The whole row A1 is small, its total too.
    #   A2    50   60  | 110     Each column (the total column included) then
    #   _T    53   61  | 114     has one suppressed cell: complement in row A2,
    # preferring (A2, _T) to the grand total.
    rows, cols = ["A1", "A2"], ["F", "M"]
    cells = two_way([[3, 1], [50, 60]], rows, cols)
    dims = ["age", "sex"]
    out, _ = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    assert secondary(out, dims) == {("A2", "F"), ("A2", "M"), ("A2", T)}
    assert (T, T) not in suppressed(out, dims)
    assert_safe(cells, suppressed(out, dims), 2)


BRIDGE_GRID = [[2, 3, 1, 20], [4, 2, 11, 12], [15, 6, 3, 2], [13, 17, 4, 1]]


def test_cell_bridging_two_suppression_cycles_is_protected() -> None:
    # Small cells form two rectangles, {r1, r2} × {c1, c2} and {r3, r4} ×
    # {c3, c4}, joined by (r1, c3) = 1: every line has 0, 2 or 3 suppressed
    # cells, so the line rule is satisfied, yet rows r1 + r2 minus columns c1 +
    # c2 leave (r1, c3) alone: (26 + 29 - 20 - 11 - 12) - (34 + 28 - 15 - 6 - 13
    # - 17) = 12 - 11 = 1. One more cell joining the two sides puts it on a
    # cycle; the cheapest is (r3, c2) = 6.
    rows, cols = ["r1", "r2", "r3", "r4"], ["c1", "c2", "c3", "c4"]
    cells = two_way(BRIDGE_GRID, rows, cols)
    dims = ["age", "sex"]
    primary = {k for k, v in cells.items() if v < 5}
    eqs = equations(cells, 2)
    assert_lines(cells, primary, 2)  # the line rule has nothing to do ...
    assert determined_over_reals(eqs, sorted(primary), ("r1", "c3"))  # ... yet
    out, findings = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    assert secondary(out, dims) == {("r3", "c2")}
    assert_safe(cells, suppressed(out, dims), 2)
    sec = next(f for f in findings if f.code == "SUPP_SEC")
    assert sec.count == 1
    assert "age=r3 sex=c2" in sec.message


def test_unknown_code_is_an_ordinary_cell() -> None:
    rows, cols = ["Y15T64", "_U"], ["F", "M", "_U"]
    cells = two_way([[50, 60, 30], [2, 40, 35]], rows, cols)
    dims = ["age", "sex"]
    out, _ = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    assert ("_U", "F") in suppressed(out, dims)
    assert_lines(cells, suppressed(out, dims), 2)
    assert_safe(cells, suppressed(out, dims), 2)


def test_three_way_table_every_face_obeys_the_line_rule() -> None:
    dims = ["sex", "age", "region"]
    sexes, ages, regions = ["F", "M"], ["A1", "A2"], ["R1", "R2", "R3"]
    base = {
        (s, a, r): float(10 + 7 * i + 3 * j + k)
        for i, s in enumerate(sexes)
        for j, a in enumerate(ages)
        for k, r in enumerate(regions)
    }
    base[("F", "A1", "R2")] = 2.0
    cells = dict(base)
    for s, a, r in product([*sexes, T], [*ages, T], [*regions, T]):
        if T in (s, a, r):
            cells[(s, a, r)] = sum(
                v
                for (s2, a2, r2), v in base.items()
                if s in (s2, T) and a in (a2, T) and r in (r2, T)
            )
    out, findings = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    hidden = suppressed(out, dims)
    assert ("F", "A1", "R2") in hidden
    assert_lines(cells, hidden, 3)
    faces = [f for f in findings if f.code == "SEC_FACES"]
    assert len(faces) == 1 and "3 breakdowns" in faces[0].message


def test_tables_are_protected_one_period_and_area_at_a_time() -> None:
    a = frame(one_way({"F": 3, "M": 40, "_U": 12}), ["sex"], period=2020)
    b = frame(one_way({"F": 30, "M": 40, "_U": 12}), ["sex"], period=2021)
    c = frame(one_way({"F": 30, "M": 40, "_U": 12}), ["sex"], area="XKX_R1")
    out, _ = apply_disclosure(
        pd.concat([a, b, c], ignore_index=True), DisclosureRules(), ["sex"], measures=COUNT
    )
    hit = out[out["conf_status"] != "F"]
    assert set(zip(hit["ref_period"], hit["ref_area"], hit["sex"], strict=True)) == {
        (2020, "XKX", "F"),
        (2020, "XKX", "_U"),
    }


def test_secondary_can_be_turned_off() -> None:
    cells = one_way({"F": 3, "M": 40, "_U": 12})
    rules = DisclosureRules(secondary=False)
    out, _ = apply_disclosure(frame(cells, ["sex"]), rules, ["sex"], measures=COUNT)
    assert suppressed(out, ["sex"]) == {("F",)}


# --------------------------------------------------------------------------- kinds and CV


def test_non_additive_measures_get_primary_rules_only() -> None:
    # The same cells as a share (n is the denominator's): F is suppressed for
    # its small n, nothing else, because shares do not add up to a margin.
    cells = {("F",): 37.5, ("M",): 52.0, ("_U",): 41.0, (T,): 48.0}
    n = {("F",): 3, ("M",): 40, ("_U",): 12, (T,): 55}
    table = frame(cells, ["sex"], indicator="IMM_SHARE", n=n)
    out, findings = apply_disclosure(
        table, DisclosureRules(), ["sex"], measures={"IMM_SHARE": "share"}
    )
    assert status(out, ["sex"]) == {("F",): "A", ("M",): "F", ("_U",): "F", (T,): "F"}
    assert [f.code for f in findings] == ["SUPP_N"]
    # min_n may leave shares alone; counts stay protected.
    rules = DisclosureRules(min_n_applies_to=("count", "total"))
    out, findings = apply_disclosure(table, rules, ["sex"], measures={"IMM_SHARE": "share"})
    assert suppressed(out, ["sex"]) == set() and findings == []


def test_cv_flag_keeps_the_value_cv_suppress_withholds_it() -> None:
    cells = {("F",): 12.0, ("M",): 15.0, ("_U",): 30.0, (T,): 14.0}
    cv = {("F",): 0.1, ("M",): 0.25, ("_U",): 0.5, (T,): 0.05}
    n = {("F",): 400, ("M",): 380, ("_U",): 20, (T,): 800}
    table = frame(cells, ["sex"], indicator="IMM_RECENT_SHARE", n=n, cv=cv)
    out, findings = apply_disclosure(
        table, DisclosureRules(), ["sex"], measures={"IMM_RECENT_SHARE": "share"}
    )
    by = out.set_index("sex")
    assert by.loc["F", ["obs_status", "conf_status", "findings"]].tolist() == ["A", "F", ""]
    assert by.loc["M", ["obs_status", "conf_status", "findings"]].tolist() == ["U", "F", "FLAG_CV"]
    assert by.loc["M", "value"] == 15.0 and by.loc["M", "cv"] == 0.25
    assert by.loc["_U", ["obs_status", "conf_status", "findings"]].tolist() == ["Q", "N", "SUPP_CV"]
    assert by.loc["_U", ["value", "se", "cv", "n"]].isna().all()
    codes = {f.code: f for f in findings}
    assert set(codes) == {"FLAG_CV", "SUPP_CV"}
    assert codes["FLAG_CV"].severity == codes["SUPP_CV"].severity == "warning"
    assert "cv_flag = 0.2" in codes["FLAG_CV"].message
    assert "cv_suppress = 0.35" in codes["SUPP_CV"].message


def test_unreliable_cell_hides_a_small_one_but_is_not_protected_itself() -> None:
    # F is small, M too unreliable: both are withheld, so F cannot be derived
    # from the margin and no complement is needed. A line whose only withheld
    # cell is unreliable gets no complement: it is not confidential.
    cells = one_way({"F": 3, "M": 40, "_U": 12, "X": 25})
    cv = {("M",): 0.9, ("X",): 0.1}
    out, _ = apply_disclosure(
        frame(cells, ["sex"], cv=cv), DisclosureRules(), ["sex"], measures=COUNT
    )
    assert status(out, ["sex"]) == {("F",): "A", ("M",): "N", ("_U",): "F", ("X",): "F", (T,): "F"}
    cells = one_way({"F": 30, "M": 40, "_U": 12})
    out, _ = apply_disclosure(
        frame(cells, ["sex"], cv={("M",): 0.9}), DisclosureRules(), ["sex"], measures=COUNT
    )
    assert status(out, ["sex"]) == {("F",): "F", ("M",): "N", ("_U",): "F", (T,): "F"}


def test_measure_kind_from_a_column() -> None:
    table = frame(one_way({"F": 3, "M": 40, "_U": 12}), ["sex"])
    table["measure"] = "count"
    out, _ = apply_disclosure(table, DisclosureRules(), ["sex"])
    assert secondary(out, ["sex"]) == {("_U",)}
    table["measure"] = "share"
    out, _ = apply_disclosure(table, DisclosureRules(), ["sex"])
    assert secondary(out, ["sex"]) == set()


# --------------------------------------------------------------------------- rounding


def test_rounding_counts_to_a_base() -> None:
    cells = one_way({"F": 3, "M": 47, "_U": 13, "X": 25})  # margin 88
    table = frame(cells, ["sex"])
    table["ci_lower"] = table["value"] - 4
    table["ci_upper"] = table["value"] + 4
    rules = DisclosureRules(rounding=10)
    out, findings = apply_disclosure(table, rules, ["sex"], measures=COUNT)
    by = out.set_index("sex")
    assert by.loc["M", ["value", "ci_lower", "ci_upper", "n"]].tolist() == [50, 40, 50, 50]
    assert by.loc["X", "value"] == 30  # halves go away from zero: 25 -> 30
    assert by.loc[T, "value"] == 90  # rounded on its own: 50 + 30 != 90
    assert math.isnan(by.loc["F", "value"]) and math.isnan(by.loc["_U", "value"])
    assert by.loc["M", "findings"] == "ROUNDED"
    assert by.loc["F", "findings"] == "SUPP_N"
    assert "ROUNDED" not in by.loc["_U", "findings"]
    rounded = next(f for f in findings if f.code == "ROUNDED")
    assert rounded.count == 3 and "multiple of 10" in rounded.message


def test_rounding_leaves_shares_alone() -> None:
    cells = {("F",): 37.5, ("M",): 52.0, (T,): 48.0}
    table = frame(cells, ["sex"], indicator="SHARE", n={("F",): 40, ("M",): 40, (T,): 80})
    out, _ = apply_disclosure(
        table, DisclosureRules(rounding=10), ["sex"], measures={"SHARE": "share"}
    )
    assert out["value"].tolist() == [37.5, 52.0, 48.0]
    assert (out["findings"] == "").all()


# --------------------------------------------------------------------------- absence and findings


def test_suppressed_values_are_absent_from_the_table_and_the_findings() -> None:
    # Distinctive numbers on the cells that end up suppressed: none may be
    # found in any cell of any column, as a number or inside a text.
    cells = one_way({"F": 3.217, "M": 40.5, "_U": 12.883, "X": 29.75})
    n = {("F",): 3, ("M",): 41, ("_U",): 17, ("X",): 33, (T,): 94}
    cv = dict.fromkeys(cells, 0.05)
    table = frame(cells, ["sex"], n=n, cv=cv)
    table["ci_lower"] = table["value"] * 0.9
    table["ci_upper"] = table["value"] * 1.1
    table["df"] = table["n"] - 1
    table["weighted_share"] = table["value"] / 86.35
    table["note"] = "checked"
    secret: list[float] = []
    for code in ("F", "_U"):
        row = table[table["sex"] == code].iloc[0]
        secret += [
            float(row[c])
            for c in ("value", "se", "ci_lower", "ci_upper", "n", "df", "weighted_share")
        ]
    out, findings = apply_disclosure(table, DisclosureRules(), ["sex"], measures=COUNT)
    assert suppressed(out, ["sex"]) == {("F",), ("_U",)}
    published = {float(x) for x in table.loc[out["conf_status"] == "F", "value"]}
    secret = [s for s in secret if s not in published]
    for column in out.columns:
        for cell in out[column].tolist():
            if isinstance(cell, int | float) and not isinstance(cell, bool):
                assert not any(math.isclose(cell, s) for s in secret), (column, cell)
            else:
                text = str(cell)
                assert not any(f"{s:g}" in text for s in secret if s >= 10 or s % 1), (column, text)
    for f in findings:
        assert not any(f"{s:g}" in str(f) for s in secret if s % 1), str(f)
    hidden = out[out["conf_status"] != "F"]
    assert (
        hidden[["value", "se", "ci_lower", "ci_upper", "cv", "n", "df", "weighted_share"]]
        .isna()
        .all()
        .all()
    )
    assert hidden["note"].tolist() == ["checked", "checked"]  # text is descriptive
    assert table.loc[table["sex"] == "F", "value"].item() == 3.217  # the input is untouched


def test_findings_are_data_with_codes_thresholds_and_examples() -> None:
    cells = one_way({"F": 3, "M": 40, "_U": 12})
    _, findings = apply_disclosure(
        frame(cells, ["sex"]), DisclosureRules(min_n=4), ["sex"], measures=COUNT
    )
    n = findings[0]
    assert (n.code, n.severity, n.table, n.column, n.count) == (
        "SUPP_N",
        "info",
        "IMM_STOCK",
        "n",
        1,
    )
    assert n.expected == "n >= 4"
    assert "min_n = 4" in n.message and "2020 XKX sex=F" in n.message


def test_existing_findings_and_statuses_are_kept() -> None:
    table = frame(one_way({"F": 30, "M": 40, "_U": 12}), ["sex"])
    table["findings"] = ["IMPUTED", "", "", ""]
    table["obs_status"] = ["E", "P", "A", "A"]
    table.loc[1, "cv"] = 0.3
    out, _ = apply_disclosure(table, DisclosureRules(), ["sex"], measures=COUNT)
    assert out["findings"].tolist() == ["IMPUTED", "FLAG_CV", "", ""]
    assert out["obs_status"].tolist() == ["E", "U", "A", "A"]


def test_confidential_input_cells_stay_confidential_and_are_protected() -> None:
    table = frame(one_way({"F": 30, "M": 40, "_U": 12}), ["sex"])
    table.loc[table["sex"] == "M", "conf_status"] = "C"
    out, findings = apply_disclosure(table, DisclosureRules(), ["sex"], measures=COUNT)
    assert status(out, ["sex"]) == {("F",): "F", ("M",): "C", ("_U",): "D", (T,): "F"}
    assert {f.code for f in findings} == {"SUPP_CONF", "SUPP_SEC"}


def test_missing_n_is_reported() -> None:
    table = frame(one_way({"F": 30, "M": 40}), ["sex"])
    table["n"] = math.nan
    out, findings = apply_disclosure(table, DisclosureRules(), ["sex"], measures=COUNT)
    assert suppressed(out, ["sex"]) == set()
    assert [f.code for f in findings] == ["NO_N"] and findings[0].count == 3


def test_problems_are_collected_and_raised_once() -> None:
    table = frame(one_way({"F": 3, "M": 40}), ["sex"])
    twice = pd.concat([table, table.iloc[[0]]], ignore_index=True)
    with pytest.raises(DisclosureError) as err:
        apply_disclosure(twice, DisclosureRules(), ["sex"], measures=COUNT)
    assert isinstance(err.value, ValueError) and isinstance(err.value, MigprofileError)
    assert "same cell" in str(err.value)
    two = pd.concat([table, table.assign(indicator="OTHER")], ignore_index=True)
    with pytest.raises(DisclosureError, match="'OTHER': no measure kind"):
        apply_disclosure(two, DisclosureRules(), ["sex"], measures=COUNT)
    with pytest.raises(DisclosureError, match="missing column"):
        apply_disclosure(
            table.drop(columns=["n"]), DisclosureRules(), ["sex", "age"], measures=COUNT
        )


# --------------------------------------------------------------------------- properties

small_or_large = st.one_of(st.integers(0, 6), st.integers(5, 60))


@given(st.lists(small_or_large, min_size=1, max_size=6))
def test_property_one_way_no_suppressed_cell_is_derivable(values: list[int]) -> None:
    codes = [*"abcde", "_U"][: len(values)]
    cells = one_way(dict(zip(codes, map(float, values), strict=True)))
    out, _ = apply_disclosure(frame(cells, ["sex"]), DisclosureRules(), ["sex"], measures=COUNT)
    hidden = suppressed(out, ["sex"])
    assert {k for k, v in cells.items() if v < 5} <= hidden
    assert_lines(cells, hidden, 1)
    assert_safe(cells, hidden, 1)


@st.composite
def grids(draw: st.DrawFn) -> tuple[list[list[int]], list[str], list[str]]:
    nrow = draw(st.integers(1, 4))
    ncol = draw(st.integers(1, 4))
    grid = draw(
        st.lists(
            st.lists(small_or_large, min_size=ncol, max_size=ncol), min_size=nrow, max_size=nrow
        )
    )
    return grid, ["r1", "r2", "r3", "_U"][:nrow], ["c1", "c2", "c3", "_U"][:ncol]


@given(grids())
def test_property_two_way_no_suppressed_cell_is_derivable(
    case: tuple[list[list[int]], list[str], list[str]],
) -> None:
    grid, rows, cols = case
    cells = two_way(grid, rows, cols)
    dims = ["age", "sex"]
    out, findings = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    hidden = suppressed(out, dims)
    assert {k for k, v in cells.items() if v < 5} <= hidden
    assert_lines(cells, hidden, 2)
    assert_safe(cells, hidden, 2)
    assert not [f for f in findings if f.code == "SEC_UNSAFE"]
    published = out[out["conf_status"] == "F"]
    for _, row in published.iterrows():
        assert row["value"] == cells[(row["age"], row["sex"])]


@given(grids(), st.randoms(use_true_random=False))
def test_property_pattern_does_not_depend_on_row_order(
    case: tuple[list[list[int]], list[str], list[str]], rnd: Any
) -> None:
    grid, rows, cols = case
    dims = ["age", "sex"]
    table = frame(two_way(grid, rows, cols), dims)
    order = list(range(len(table)))
    rnd.shuffle(order)
    shuffled = table.iloc[order]
    a, fa = apply_disclosure(table, DisclosureRules(), dims, measures=COUNT)
    b, fb = apply_disclosure(shuffled, DisclosureRules(), dims, measures=COUNT)
    assert list(b.index) == order  # the rows keep their order and index
    key = ["age", "sex", "conf_status", "findings"]
    assert sorted(map(tuple, a[key].to_numpy().tolist())) == sorted(
        map(tuple, b[key].to_numpy().tolist())
    )
    assert fa == fb


@st.composite
def cubes(draw: st.DrawFn) -> dict[Cell, float]:
    sizes = [draw(st.integers(1, 3)) for _ in range(3)]
    axes = [[f"{name}{i}" for i in range(size)] for name, size in zip("xyz", sizes, strict=True)]
    base = {codes: float(draw(small_or_large)) for codes in product(*axes)}
    cells: dict[Cell, float] = {}
    for codes in product(*([*axis, T] for axis in axes)):
        cells[codes] = sum(
            v for k, v in base.items() if all(c in (x, T) for c, x in zip(codes, k, strict=True))
        )
    return cells


@given(cubes())
def test_property_three_way_every_line_has_zero_or_two_suppressed(cells: dict[Cell, float]) -> None:
    # The guaranteed part for 3+ breakdowns: the line rule on every face.
    dims = ["sex", "age", "region"]
    out, findings = apply_disclosure(frame(cells, dims), DisclosureRules(), dims, measures=COUNT)
    hidden = suppressed(out, dims)
    assert {k for k, v in cells.items() if v < 5} <= hidden
    assert_lines(cells, hidden, 3)
    assert not [f for f in findings if f.code == "SEC_UNSAFE"]


# --------------------------------------------------------------------------- docs


def test_docs_example_runs() -> None:
    text = (REPO / "docs" / "disclosure.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/disclosure.md", "exec"), {})  # noqa: S102
