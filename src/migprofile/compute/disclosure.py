"""Disclosure control and quality flags on result tables.

A result table is tidy and long: one row per indicator × reference period ×
area × breakdown cell, with the breakdown codes in one column per dimension
(``_T`` on margin rows), the estimate and its precision (``value``, ``se``,
``ci_lower``, ``ci_upper``, ``cv``, ``df``), the unweighted count ``n`` and the
SDMX ``obs_status`` and ``conf_status``. :func:`apply_disclosure` applies the
rules of a profile (:class:`DisclosureRules`) and returns a *new* table in
which

* cells with an unweighted ``n`` below ``min_n`` are suppressed (primary
  confidentiality, ``CONF_STATUS`` ``A``);
* cells with a coefficient of variation above ``cv_suppress`` are withheld
  (``CONF_STATUS`` ``N``), and those above ``cv_flag`` are kept but flagged
  ``OBS_STATUS`` ``U`` (low reliability);
* in tables of counts and totals, complementary cells are suppressed
  (secondary confidentiality, ``CONF_STATUS`` ``D``) so that no suppressed cell
  can be derived from the published cells and margins;
* counts and totals are optionally rounded to a base.

Suppressed cells lose their value and every number that could reveal it (the
estimate, its precision, ``n`` and ``df``): the value is absent from the
returned table, not hidden. Every row carries the codes of what was done to it
in ``findings``, and the function returns one :class:`Finding` per indicator
and rule with a reason, the threshold and example cells named by their codes.

``docs/disclosure.md`` describes the rules, the codes, the secondary
suppression algorithm, its guarantees and its limits.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Final, TypeAlias

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from migprofile.catalog.models import MEASURES, MeasureKind
from migprofile.errors import MigprofileError
from migprofile.sources.report import EXAMPLES, Finding, Severity

__all__ = [
    "ADDITIVE",
    "CONF_NOT_PUBLISHED",
    "CONF_SECONDARY",
    "CONF_SMALL_COUNTS",
    "FINDING_CODES",
    "FLAG_CV",
    "MARGIN",
    "NO_N",
    "OBS_LOW_RELIABILITY",
    "OBS_SUPPRESSED",
    "ROUNDED",
    "SEC_FACES",
    "SEC_UNSAFE",
    "SUPP_CONF",
    "SUPP_CV",
    "SUPP_N",
    "SUPP_SEC",
    "DisclosureError",
    "DisclosureRules",
    "apply_disclosure",
]

MARGIN: Final = "_T"
"""The SDMX code of a margin (total) in a breakdown column."""

ADDITIVE: Final[frozenset[str]] = frozenset({"count", "total"})
"""Measure kinds whose cells add up to their margins."""

# SDMX CL_CONF_STATUS 1.2 (metadata/codelists/conf_status.yaml).
CONF_FREE: Final = "F"
CONF_SMALL_COUNTS: Final = "A"  # primary confidentiality due to small counts
CONF_SECONDARY: Final = "D"  # secondary confidentiality set by the sender
CONF_NOT_PUBLISHED: Final = "N"  # not for publication (here: too unreliable)
# SDMX CL_OBS_STATUS 2.2 (metadata/codelists/obs_status.yaml).
OBS_NORMAL: Final = "A"
OBS_MISSING: Final = "O"
OBS_SUPPRESSED: Final = "Q"  # missing value; suppressed
OBS_LOW_RELIABILITY: Final = "U"

# Finding codes, on the rows (column ``findings``) and in the returned findings.
SUPP_CONF: Final = "SUPP_CONF"  # confidential in the input table already
SUPP_N: Final = "SUPP_N"  # primary: unweighted n below min_n
SUPP_CV: Final = "SUPP_CV"  # withheld: cv above cv_suppress
SUPP_SEC: Final = "SUPP_SEC"  # secondary (complementary) suppression
FLAG_CV: Final = "FLAG_CV"  # kept, low reliability: cv above cv_flag
ROUNDED: Final = "ROUNDED"  # rounded to the rounding base
NO_N: Final = "NO_N"  # min_n could not be checked: n missing
SEC_FACES: Final = "SEC_FACES"  # 3+ breakdowns: protected face by face
SEC_UNSAFE: Final = "SEC_UNSAFE"  # a suppressed cell could not be protected

FINDING_CODES: Final[tuple[str, ...]] = (
    SUPP_CONF,
    SUPP_N,
    SUPP_CV,
    SUPP_SEC,
    FLAG_CV,
    ROUNDED,
    NO_N,
    SEC_FACES,
    SEC_UNSAFE,
)
"""Every code this module writes, in the order they are listed on a row."""

KEY: Final[tuple[str, ...]] = ("indicator", "ref_period", "ref_area")
_MEASURE_COLUMNS: Final[tuple[str, ...]] = ("value", "se", "ci_lower", "ci_upper", "cv", "n", "df")
_DESCRIPTIVE: Final[frozenset[str]] = frozenset(
    {*KEY, "unit", "obs_status", "conf_status", "source", "findings", "measure"}
)
_ROUNDED_COLUMNS: Final[tuple[str, ...]] = ("value", "ci_lower", "ci_upper", "n")

Codes: TypeAlias = tuple[str, ...]


class DisclosureError(ValueError, MigprofileError):
    """A result table cannot be protected as given (missing columns, duplicate
    cells, an indicator without a measure kind, ...). ``problems`` lists every
    problem found, not only the first."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the result table:\n{lines}")


class DisclosureRules(BaseModel):
    """The disclosure and reliability rules of a profile.

    Frozen and strict, so that a profile section in YAML maps onto it directly
    (``DisclosureRules.model_validate(yaml.safe_load(text)["disclosure"])``)
    and a typo or a quoted number is refused rather than ignored.

    * ``min_n``: primary suppression of cells whose unweighted ``n`` is below
      it (``None`` turns the rule off). Default 5. For a share, a ratio or a
      mean, ``n`` is the unweighted count of its denominator.
    * ``min_n_applies_to``: the measure kinds ``min_n`` applies to. Counts and
      totals are always included (a small count is the very thing to protect);
      by default every kind is.
    * ``cv_flag``: cells whose ``cv`` (a fraction: 0.2 is 20 %) is above it are
      kept and flagged low reliability (``OBS_STATUS`` ``U``). Default 0.2.
    * ``cv_suppress``: cells whose ``cv`` is above it are withheld as too
      unreliable (``CONF_STATUS`` ``N``). Default 0.35. Must not be below
      ``cv_flag``.
    * ``secondary``: suppress complementary cells in tables of counts and
      totals so that suppressed cells cannot be derived from the margins.
    * ``rounding``: ``None``, or a base (5, 10, 100, ...): published counts and
      totals are rounded to the nearest multiple of it, each cell on its own,
      so rounded cells need not add up to the rounded margins.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    min_n: int | None = Field(default=5, ge=1)
    min_n_applies_to: tuple[MeasureKind, ...] = MEASURES
    cv_flag: float | None = Field(default=0.2, gt=0)
    cv_suppress: float | None = Field(default=0.35, gt=0)
    secondary: bool = True
    rounding: int | None = Field(default=None, ge=1)

    @field_validator("min_n_applies_to", mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        """YAML gives lists; the model stores tuples."""
        return tuple(value) if isinstance(value, list) else value

    @field_validator("min_n_applies_to")
    @classmethod
    def _counts_always(cls, kinds: tuple[MeasureKind, ...]) -> tuple[MeasureKind, ...]:
        missing = [k for k in ("count", "total") if k not in kinds]
        if missing:
            raise ValueError(f"min_n always applies to counts and totals; add {', '.join(missing)}")
        return tuple(dict.fromkeys(kinds))

    @model_validator(mode="after")
    def _cv_order(self) -> DisclosureRules:
        if (
            self.cv_flag is not None
            and self.cv_suppress is not None
            and self.cv_flag > self.cv_suppress
        ):
            raise ValueError(
                f"cv_flag ({self.cv_flag}) must not be above cv_suppress ({self.cv_suppress})"
            )
        return self


# --------------------------------------------------------------------------- cells

# The state of a cell while the rules are applied.
PUBLISHED: Final = 0
PRIMARY: Final = 1  # n below min_n
CONFIDENTIAL: Final = 2  # confidential in the input
SECONDARY: Final = 3  # complementary suppression
UNRELIABLE: Final = 4  # cv above cv_suppress (absent, not confidential)
MISSING: Final = 5  # no value in the input (absent, not confidential)
_PROTECTED: Final = frozenset({PRIMARY, CONFIDENTIAL, SECONDARY})


@dataclass
class _Cell:
    """One cell of a table: its value, unweighted n and state."""

    value: float
    n: float
    state: int

    @property
    def absent(self) -> bool:
        """Not published: a reader does not know its value."""
        return self.state != PUBLISHED

    @property
    def protected(self) -> bool:
        """Its value must not be derivable from the published table."""
        return self.state in _PROTECTED


def _sign(code: str) -> int:
    """-1 for a margin, +1 for an ordinary cell (``_U`` included)."""
    return -1 if code == MARGIN else 1


@dataclass
class _Face:
    """A two-way table: dimension ``a`` × dimension ``b``, the others fixed.

    Nodes are its lines: node ``i < len(rows)`` is row ``rows[i]`` (the cells
    varying along ``b``), node ``len(rows) + j`` is column ``cols[j]``. A line
    has an equation (its ordinary cells add up to its margin) when it holds
    its margin and at least one ordinary cell; a line without one is *free*.
    """

    rows: list[str]
    cols: list[str]
    cells: list[tuple[int, int, Codes]]  # (row node, column node, codes), sorted by codes
    node: dict[Codes, tuple[int, int]]  # codes -> (row node, column node)
    free: list[bool]
    sign: dict[Codes, int] = field(default_factory=dict)

    @classmethod
    def build(cls, members: Sequence[tuple[str, str, Codes]]) -> _Face:
        rows = sorted({r for r, _, _ in members})
        cols = sorted({c for _, c, _ in members})
        row_of = {r: i for i, r in enumerate(rows)}
        col_of = {c: len(rows) + j for j, c in enumerate(cols)}
        cells = sorted(((row_of[r], col_of[c], k) for r, c, k in members), key=lambda t: t[2])
        has_margin = [False] * (len(rows) + len(cols))
        has_cell = [False] * (len(rows) + len(cols))
        for r, c, _ in members:
            (has_margin if c == MARGIN else has_cell)[row_of[r]] = True
            (has_margin if r == MARGIN else has_cell)[col_of[c]] = True
        free = [not (m and o) for m, o in zip(has_margin, has_cell, strict=True)]
        sign = {k: _sign(r) * _sign(c) for r, c, k in members}
        node = {k: (u, v) for u, v, k in cells}
        return cls(rows=rows, cols=cols, cells=cells, node=node, free=free, sign=sign)

    @property
    def constrained(self) -> bool:
        """At least one line of the face has an equation."""
        return not all(self.free)


# Directed edge of the perturbation graph: (next node, codes of the cell).
_Adjacency: TypeAlias = list[list[tuple[int, Codes]]]
# Cost of a complementary suppression: (margins, value, cells), compared in order.
_Cost: TypeAlias = tuple[int, float, int]


class _Protector:
    """Secondary suppression on one table (one indicator × period × area).

    ``cells`` maps the breakdown codes of every row to its cell; states are
    updated in place. See ``docs/disclosure.md`` for the algorithm.
    """

    def __init__(self, cells: dict[Codes, _Cell], ndim: int) -> None:
        self.cells = cells
        self.ndim = ndim
        self.lines = self._lines()
        self.effective_dims = len({k for k, _ in self.lines})
        self.faces = [f for f in self._faces() if f.constrained]
        self.added: list[Codes] = []
        self.unresolved: list[Codes] = []

    # -- structure

    def _lines(self) -> list[tuple[int, list[Codes]]]:
        """Every line with an equation: (dimension, cells sorted by codes)."""
        groups: dict[tuple[int, Codes], list[Codes]] = defaultdict(list)
        for codes in self.cells:
            for k in range(self.ndim):
                groups[(k, codes[:k] + codes[k + 1 :])].append(codes)
        lines = []
        for (k, _), members in sorted(groups.items()):
            margins = sum(1 for c in members if c[k] == MARGIN)
            if margins and len(members) > margins:
                lines.append((k, sorted(members)))
        return lines

    def _faces(self) -> list[_Face]:
        """Every two-way face; a one-way table is a face with one free column."""
        if self.ndim == 1:
            return [_Face.build([(c[0], "", c) for c in self.cells])]
        faces = []
        for a, b in combinations(range(self.ndim), 2):
            groups: dict[Codes, list[tuple[str, str, Codes]]] = defaultdict(list)
            for c in self.cells:
                rest = tuple(x for i, x in enumerate(c) if i not in (a, b))
                groups[rest].append((c[a], c[b], c))
            faces += [_Face.build(groups[rest]) for rest in sorted(groups)]
        return faces

    # -- the algorithm

    def run(self) -> None:
        """Line rule to a fixed point, then one cycle repair, until stable."""
        changed = True
        while changed:
            changed = False
            while self._line_step():
                changed = True
            if self._cycle_step():
                changed = True

    def _cost(self, codes: Codes) -> tuple[int, bool, float, float, Codes]:
        """Order of preference of complementary cells: fewest margins, then
        non-zero before zero, then the smallest value, then the smallest n,
        then the codes (so that the choice never depends on row order)."""
        cell = self.cells[codes]
        n = cell.n if not math.isnan(cell.n) else math.inf
        return (codes.count(MARGIN), not cell.value > 0, cell.value, n, codes)

    def _suppress(self, codes: Codes) -> None:
        self.cells[codes].state = SECONDARY
        self.added.append(codes)

    def _line_step(self) -> bool:
        """Every line whose only absent cell is protected gets a complement."""
        changed = False
        for _, members in self.lines:
            absent = [c for c in members if self.cells[c].absent]
            if len(absent) != 1 or not self.cells[absent[0]].protected:
                continue
            candidates = [c for c in members if not self.cells[c].absent]
            if candidates:
                self._suppress(min(candidates, key=self._cost))
                changed = True
        return changed

    def _cycle_step(self) -> bool:
        """Repair the first protected cell that cannot move (see ``_movable``)."""
        for face in self.faces:
            for _, _, codes in face.cells:
                cell = self.cells[codes]
                if not cell.protected or codes in self.unresolved:
                    continue
                if not self._movable(face, codes):
                    self._repair(face, codes)
                    return True
        return False

    # -- perturbations

    def _usable(self, codes: Codes, sign: int) -> tuple[bool, bool]:
        """Whether a unit perturbation may traverse the cell row→column and
        column→row. Row→column changes the cell by ``sign``, column→row by
        ``-sign``; a decrease needs a positive value (a missing value is
        assumed to be 0)."""
        positive = self.cells[codes].value > 0
        return (sign == 1 or positive, sign == -1 or positive)

    def _graph(self, face: _Face) -> _Adjacency:
        """The directions in which the absent cells of a face may be crossed."""
        fwd: _Adjacency = [[] for _ in range(len(face.free))]
        for u, v, codes in face.cells:
            if not self.cells[codes].absent:
                continue
            down, up = self._usable(codes, face.sign[codes])
            if down:
                fwd[u].append((v, codes))
            if up:
                fwd[v].append((u, codes))
        return fwd

    @staticmethod
    def _reach(face: _Face, adj: _Adjacency, start: int, without: Codes) -> set[int]:
        """Nodes reachable from ``start`` without the cell ``without``; free
        lines need no balance, so reaching one reaches them all."""
        seen = {start}
        stack = [start]
        jumped = False
        while stack:
            u = stack.pop()
            nxt = [v for v, codes in adj[u] if codes != without]
            if face.free[u] and not jumped:
                jumped = True
                nxt += [i for i, f in enumerate(face.free) if f]
            for v in nxt:
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        return seen

    def _ends(self, face: _Face, codes: Codes) -> list[tuple[int, int]]:
        """(head, tail) of each direction in which the cell may be perturbed:
        the cell moves if a path leads from the head back to the tail."""
        u, v = face.node[codes]
        down, up = self._usable(codes, face.sign[codes])
        return ([(v, u)] if down else []) + ([(u, v)] if up else [])

    def _movable(self, face: _Face, codes: Codes) -> bool:
        """The cell lies on a cycle of absent cells along which alternating
        +1/-1 changes keep every line of the face balanced and every cell
        non-negative: then two completions of the face differ in it."""
        fwd = self._graph(face)
        return any(t in self._reach(face, fwd, h, codes) for h, t in self._ends(face, codes))

    def _repair(self, face: _Face, codes: Codes) -> None:
        """Suppress the published cells of the cheapest path that closes a
        cycle through the cell (see ``_cheapest_path``)."""
        best: tuple[_Cost, list[Codes]] | None = None
        for head, tail in self._ends(face, codes):
            found = self._cheapest_path(face, head, tail, codes)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        for k in best[1] if best else []:
            self._suppress(k)
        if best is None or not self._movable(face, codes):
            self.unresolved.append(codes)

    def _cheapest_path(
        self, face: _Face, head: int, tail: int, without: Codes
    ) -> tuple[_Cost, list[Codes]] | None:
        """Dijkstra from ``head`` to ``tail`` over every cell of the face but
        ``without``, each in the directions a unit perturbation may take it:
        absent cells cost nothing, a published cell costs (its number of
        margins, its value, 1), compared in that order, so that margins are
        used only when no path avoids them. Returns the cost and the published
        cells of the path, or None when no path exists."""
        hub = len(face.free)  # free lines need no balance: join them at no cost
        zero: _Cost = (0, 0.0, 0)
        adj: list[list[tuple[int, Codes | None, _Cost]]] = [[] for _ in range(hub + 1)]
        for u, v, codes in face.cells:
            if codes == without:
                continue
            cell = self.cells[codes]
            cost = zero if cell.absent else (codes.count(MARGIN), cell.value, 1)
            down, up = self._usable(codes, face.sign[codes])
            if down:
                adj[u].append((v, codes, cost))
            if up:
                adj[v].append((u, codes, cost))
        for i, f in enumerate(face.free):
            if f:
                adj[i].append((hub, None, zero))
                adj[hub].append((i, None, zero))
        dist: dict[int, _Cost] = {head: zero}
        prev: dict[int, tuple[int, Codes | None]] = {}
        heap: list[tuple[_Cost, int]] = [(zero, head)]
        done: set[int] = set()
        while heap:
            d, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            if u == tail:
                break
            for v, k, c in adj[u]:
                nd = (d[0] + c[0], d[1] + c[1], d[2] + c[2])
                if v not in done and (v not in dist or nd < dist[v]):
                    dist[v] = nd
                    prev[v] = (u, k)
                    heapq.heappush(heap, (nd, v))
        if tail not in done:
            return None
        path: list[Codes] = []
        node = tail
        while node != head:
            node, step = prev[node]
            if step is not None and not self.cells[step].absent:
                path.append(step)
        return dist[tail], sorted(path)


# --------------------------------------------------------------------------- the table


def apply_disclosure(
    table: pd.DataFrame,
    rules: DisclosureRules,
    dims: Sequence[str],
    *,
    measures: Mapping[str, MeasureKind] | None = None,
) -> tuple[pd.DataFrame, list[Finding]]:
    """Apply disclosure control and reliability flags to a result table.

    ``table`` is a tidy result table (columns ``indicator``, ``ref_period``,
    ``ref_area``, the breakdown columns ``dims`` holding codes with ``_T`` on
    margin rows, ``value`` and ``n``; ``se``, ``ci_lower``, ``ci_upper``,
    ``cv``, ``df``, ``obs_status``, ``conf_status`` and ``findings`` are
    optional). The measure kind of each indicator comes from a ``measure``
    column or from ``measures`` (indicator id → kind); counts and totals are
    additive and get secondary suppression, other kinds only primary rules.

    Returns a new table, in the order and with the index of ``table``, and the
    findings (one per indicator and code). On suppressed rows ``value``,
    ``se``, ``ci_lower``, ``ci_upper``, ``cv``, ``n``, ``df`` and every other
    numeric column are set to missing, ``obs_status`` is ``Q`` and
    ``conf_status`` says why (``A`` small counts, ``D`` secondary, ``N`` too
    unreliable). ``findings`` holds the codes of the rules that acted on each
    row, separated by spaces (empty when none), after any codes already there.

    Raises :class:`DisclosureError` listing every problem of the table.
    """
    dims = list(dims)
    _check(table, dims)
    out = table.copy(deep=True)
    for col in _MEASURE_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
        try:
            out[col] = pd.to_numeric(out[col]).astype("float64")
        except (TypeError, ValueError) as exc:
            raise DisclosureError([f"column {col!r} is not numeric: {exc}"]) from exc
    size = len(out)
    value = out["value"].to_numpy(dtype="float64")
    n = out["n"].to_numpy(dtype="float64")
    cv = out["cv"].to_numpy(dtype="float64")
    kinds = _kinds(out, measures)
    indicators = [_text(x) for x in out["indicator"].tolist()]
    groups = list(zip(*(out[c].tolist() for c in KEY), strict=True))
    codes: list[Codes] = (
        list(zip(*([_text(x) for x in out[d].tolist()] for d in dims), strict=True))
        if dims
        else [()] * size
    )
    _check_unique(groups, codes)
    conf_in = (
        [_text(x) for x in out["conf_status"].tolist()] if "conf_status" in out else [""] * size
    )
    marks: list[list[str]] = [[] for _ in range(size)]

    # Primary rules.
    states = [PUBLISHED] * size
    min_n_kinds = set(rules.min_n_applies_to)
    for r in range(size):
        if conf_in[r] not in ("", CONF_FREE):
            states[r] = CONFIDENTIAL
            marks[r].append(SUPP_CONF)
            continue
        if math.isnan(value[r]):
            states[r] = MISSING
            continue
        if rules.min_n is not None and kinds[r] in min_n_kinds:
            if math.isnan(n[r]):
                marks[r].append(NO_N)
            elif n[r] < rules.min_n:
                states[r] = PRIMARY
                marks[r].append(SUPP_N)
        if rules.cv_suppress is not None and cv[r] > rules.cv_suppress:
            marks[r].append(SUPP_CV)
            if states[r] == PUBLISHED:
                states[r] = UNRELIABLE

    # Secondary suppression, table by table.
    extra: list[Finding] = []
    if rules.secondary and dims:
        rows_of: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for r in range(size):
            if kinds[r] in ADDITIVE:
                rows_of[_group_key(groups[r])].append(r)
        for key in sorted(rows_of, key=lambda k: tuple(map(_text, k))):
            rows = rows_of[key]
            cells = {codes[r]: _Cell(value[r], n[r], states[r]) for r in rows}
            if not any(c.protected for c in cells.values()):
                continue
            protector = _Protector(cells, len(dims))
            protector.run()
            where = {codes[r]: r for r in rows}
            for c in protector.added:
                states[where[c]] = SECONDARY
                marks[where[c]].append(SUPP_SEC)
            extra += _table_findings(protector, key, dims, indicators[rows[0]])

    # Reliability flags on what is published.
    for r in range(size):
        if states[r] == PUBLISHED and rules.cv_flag is not None and cv[r] > rules.cv_flag:
            marks[r].append(FLAG_CV)

    # Write the new table.
    suppressed = np.array([s in _PROTECTED or s == UNRELIABLE for s in states], dtype=bool)
    blank = [
        c
        for c in out.columns
        if c not in _DESCRIPTIVE and c not in dims and (c in _MEASURE_COLUMNS or _numeric(out[c]))
    ]
    for col in blank:
        out[col] = out[col].where(~suppressed)
    if rules.rounding is not None:
        rounded = np.array(
            [states[r] == PUBLISHED and kinds[r] in ADDITIVE for r in range(size)], dtype=bool
        )
        for col in _ROUNDED_COLUMNS:
            x = out[col].to_numpy(dtype="float64")
            out[col] = np.where(rounded, _round_to(x, rules.rounding), x)
        for r in range(size):
            if rounded[r]:
                marks[r].append(ROUNDED)
    obs_in = [_text(x) for x in out["obs_status"].tolist()] if "obs_status" in out else [""] * size
    obs = [
        o or (OBS_MISSING if math.isnan(v) else OBS_NORMAL)
        for o, v in zip(obs_in, value, strict=True)
    ]
    conf = [c or CONF_FREE for c in conf_in]
    for r in range(size):
        if suppressed[r]:
            obs[r] = OBS_SUPPRESSED
        elif FLAG_CV in marks[r]:
            obs[r] = OBS_LOW_RELIABILITY
        conf[r] = {
            PRIMARY: CONF_SMALL_COUNTS,
            SECONDARY: CONF_SECONDARY,
            UNRELIABLE: CONF_NOT_PUBLISHED,
        }.get(states[r], conf[r])
    out["obs_status"] = obs
    out["conf_status"] = conf
    before = [_text(x) for x in out["findings"].tolist()] if "findings" in out else [""] * size
    out["findings"] = [_merge(b, m) for b, m in zip(before, marks, strict=True)]
    return out, _findings(rules, indicators, groups, codes, dims, marks) + extra


# --------------------------------------------------------------------------- helpers


def _text(x: Any) -> str:
    """A code or key as text; missing values become the empty string."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    return str(x)


def _group_key(group: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_text(x) for x in group)


def _numeric(series: pd.Series) -> bool:
    """A column that may carry numbers (and so a suppressed value)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return False
    if pd.api.types.is_numeric_dtype(series.dtype):
        return True
    if series.dtype == object:
        return any(
            isinstance(x, int | float | np.number) and not isinstance(x, bool)
            for x in series.tolist()
        )
    return False


def _round_to(x: np.ndarray[Any, np.dtype[np.float64]], base: int) -> np.ndarray[Any, Any]:
    """Round to the nearest multiple of ``base``, halves away from zero."""
    rounded: np.ndarray[Any, Any] = np.sign(x) * np.floor(np.abs(x) / base + 0.5) * base
    return rounded


def _merge(before: str, codes: list[str]) -> str:
    """Codes already on a row, then the new ones, each once."""
    return " ".join(dict.fromkeys([*before.split(), *codes]))


def _check(table: pd.DataFrame, dims: list[str]) -> None:
    problems = []
    required = [*KEY, *dims, "value", "n"]
    missing = [c for c in required if c not in table.columns]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if len(set(dims)) != len(dims):
        problems.append(f"a breakdown is listed twice in dims: {dims}")
    clash = [d for d in dims if d in _DESCRIPTIVE or d in _MEASURE_COLUMNS]
    if clash:
        problems.append(f"not breakdown columns: {', '.join(clash)}")
    if problems:
        raise DisclosureError(problems)


def _check_unique(groups: list[tuple[Any, ...]], codes: list[Codes]) -> None:
    seen: dict[tuple[Any, ...], int] = {}
    dupes: list[str] = []
    for r, (g, c) in enumerate(zip(groups, codes, strict=True)):
        key = (*_group_key(g), *c)
        if key in seen:
            dupes.append(f"rows {seen[key]} and {r} are the same cell {' '.join(key)}")
        else:
            seen[key] = r
    if dupes:
        more = [f"... {len(dupes)} duplicate cells in all"] if len(dupes) > EXAMPLES else []
        raise DisclosureError(dupes[:EXAMPLES] + more)


def _kinds(out: pd.DataFrame, measures: Mapping[str, MeasureKind] | None) -> list[str]:
    """The measure kind of every row, from the ``measure`` column or ``measures``."""
    indicators = [_text(x) for x in out["indicator"].tolist()]
    column = (
        [_text(x) for x in out["measure"].tolist()] if "measure" in out.columns else [""] * len(out)
    )
    given = dict(measures or {})
    problems: dict[str, str] = {}
    kinds: list[str] = []
    for ind, col in zip(indicators, column, strict=True):
        kind = col or given.get(ind, "")
        if not kind:
            problems[ind] = f"indicator {ind!r}: no measure kind (a 'measure' column or measures=)"
        elif kind not in MEASURES:
            problems[ind] = f"indicator {ind!r}: unknown measure kind {kind!r} (one of {MEASURES})"
        elif col and ind in given and given[ind] != col:
            problems[ind] = (
                f"indicator {ind!r}: measure column says {col!r}, measures= {given[ind]!r}"
            )
        kinds.append(kind)
    for ind in set(indicators):
        if len({k for i, k in zip(indicators, kinds, strict=True) if i == ind}) > 1:
            problems.setdefault(ind, f"indicator {ind!r}: more than one measure kind")
    if problems:
        raise DisclosureError(problems[k] for k in sorted(problems))
    return kinds


def _describe(group: tuple[Any, ...], codes: Codes, dims: Sequence[str]) -> str:
    """A cell named by its codes (never by its values)."""
    cell = (f"{d}={c}" for d, c in zip(dims, codes, strict=True))
    parts = [_text(group[1]), _text(group[2]), *cell]
    return " ".join(p for p in parts if p)


def _fmt(x: float | int) -> str:
    return f"{x:g}"


def _findings(
    rules: DisclosureRules,
    indicators: list[str],
    groups: list[tuple[Any, ...]],
    codes: list[Codes],
    dims: Sequence[str],
    marks: list[list[str]],
) -> list[Finding]:
    """One finding per indicator and code, with examples named by codes."""
    rows: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r, row_marks in enumerate(marks):
        for m in row_marks:
            rows[(indicators[r], m)].append(r)
    text: dict[str, tuple[Severity, str | None, str | None, str]] = {
        SUPP_CONF: (
            "info",
            "conf_status",
            None,
            "confidential in the input (CONF_STATUS not F); value removed",
        ),
        SUPP_N: (
            "info",
            "n",
            f"n >= {rules.min_n}",
            f"primary suppression: unweighted n below min_n = {rules.min_n} "
            "(CONF_STATUS A, OBS_STATUS Q)",
        ),
        SUPP_CV: (
            "warning",
            "cv",
            f"cv <= {_fmt(rules.cv_suppress or 0)}",
            f"withheld as too unreliable: cv above cv_suppress = "
            f"{_fmt(rules.cv_suppress or 0)} (CONF_STATUS N, OBS_STATUS Q)",
        ),
        SUPP_SEC: (
            "info",
            "value",
            None,
            "secondary suppression: complementary cells withheld so that cells "
            "suppressed for confidentiality cannot be derived from the published "
            "cells and margins (CONF_STATUS D, OBS_STATUS Q)",
        ),
        FLAG_CV: (
            "warning",
            "cv",
            f"cv <= {_fmt(rules.cv_flag or 0)}",
            f"low reliability: cv above cv_flag = {_fmt(rules.cv_flag or 0)}; "
            "value published with OBS_STATUS U",
        ),
        ROUNDED: (
            "info",
            "value",
            None,
            f"rounded to the nearest multiple of {rules.rounding} (value, ci_lower, "
            "ci_upper, n); rounded cells need not add up to rounded margins",
        ),
        NO_N: ("warning", "n", None, f"min_n = {rules.min_n} not checked: unweighted n missing"),
    }
    found = []
    order = {c: i for i, c in enumerate(FINDING_CODES)}
    for ind, code in sorted(rows, key=lambda k: (k[0], order[k[1]])):
        severity, column, expected, reason = text[code]
        hits = rows[(ind, code)]
        examples = sorted((tuple(map(_text, groups[r])), codes[r]) for r in hits)[:EXAMPLES]
        named = ", ".join(_describe(g, c, dims) for g, c in examples)
        found.append(
            Finding(
                code=code,
                severity=severity,
                message=f"{reason}; e.g. {named}" if named else reason,
                table=ind,
                column=column,
                count=len(hits),
                expected=expected,
            )
        )
    return found


def _table_findings(
    protector: _Protector, key: tuple[Any, ...], dims: Sequence[str], indicator: str
) -> list[Finding]:
    """Findings about the secondary suppression of one table."""
    found = []
    where = f"{_text(key[1])} {_text(key[2])}".strip()
    if protector.effective_dims >= 3:
        found.append(
            Finding(
                code=SEC_FACES,
                severity="info",
                message=(
                    f"{where}: {protector.effective_dims} breakdowns; secondary suppression "
                    "made every two-way face safe on its own, which does not prove that "
                    "suppressed cells cannot be bounded or derived by combining faces "
                    "(e.g. by linear programming)"
                ),
                table=indicator,
            )
        )
    if protector.unresolved:
        named = ", ".join(_describe(key, c, dims) for c in sorted(protector.unresolved)[:EXAMPLES])
        found.append(
            Finding(
                code=SEC_UNSAFE,
                severity="error",
                message=(
                    f"secondary suppression could not make these suppressed cells "
                    f"underivable from the published cells: {named}; do not publish "
                    "this table as it is"
                ),
                table=indicator,
                count=len(protector.unresolved),
            )
        )
    return found
