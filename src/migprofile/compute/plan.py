"""The aggregation plan: every requested estimate x breakdown as one set of sums.

The planner turns :class:`Request` objects (an estimate kind, its variables,
its domain, its breakdowns) into one :class:`Plan`:

- **measures** (:class:`Measure`): row-level columns, each the weight times the
  indicator of a domain (a parsed filter) times a value column (or 1). Two
  requests that need the same measure share it. Unweighted measures count
  the records of a domain (the estimate's *support*, which gives ``n`` and
  the degrees of freedom);
- **groupings** (:class:`Grouping`): the breakdowns, each a column possibly
  mapped to a coarser level of its codelist (``{code: parent}``). A grouping
  whose breakdowns can be derived from another requested grouping is
  computed from that grouping's sums, not from the data;
- **items** (:class:`PlanItem`): each estimate, saying which measures form its
  numerator, denominator and support, and in which grouping;
- **row requests** (:class:`RowRequest`): quantiles need the records
  themselves, not sums; the engine returns the values, weights and design
  units of the records of the domain, per cell. This is the one exception to
  "an engine only filters and group-sums".

What variance needs follows from the design carried by the plan: for Taylor
linearisation, the measures summed per cell x sampling unit of the deepest
stage that enters the variance (the estimators derive strata, PSUs and
later stages from it); for replicate weights, the measures summed per cell
with each replicate weight. The plan is inert, frozen data;
:meth:`Plan.describe` gives a stable text of it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

from migprofile.catalog.filters import (
    And,
    Expr,
    Not,
    Or,
    parse_filter,
)
from migprofile.catalog.filters import columns as expr_columns
from migprofile.compute.design import Design
from migprofile.errors import MigprofileError

__all__ = [
    "KINDS",
    "Breakdown",
    "EstimateError",
    "Grouping",
    "Kind",
    "Measure",
    "Plan",
    "PlanItem",
    "Request",
    "RowRequest",
    "and_domains",
    "make_plan",
]

Kind: TypeAlias = Literal["total", "mean", "share", "ratio", "quantile", "count", "rate"]
#: The estimate kinds.
KINDS: tuple[str, ...] = get_args(Kind)


class EstimateError(ValueError, MigprofileError):
    """An estimate is asked for with arguments that do not fit (an unknown
    kind, a ratio without a denominator, a probability outside (0, 1), ...).
    ``argument`` names the argument at fault."""

    def __init__(self, message: str, argument: str | None = None) -> None:
        self.argument = argument
        super().__init__(message)


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Measure:
    """A row-level column to sum: ``weight x 1[domain] x value``.

    ``domain`` ``None`` means every record; ``value`` ``None`` means 1.
    Records where a column of ``nonmissing`` is missing count as outside the
    domain (this is how missing values are excluded, as R's ``na.rm=TRUE``).
    An unweighted measure (``weighted=False``) counts records: ``1[domain]``
    for the records of non-zero weight.
    """

    name: str
    domain: Expr | None = None
    value: str | None = None
    nonmissing: tuple[str, ...] = ()
    weighted: bool = True

    def key(self) -> tuple[Expr | None, str | None, tuple[str, ...], bool]:
        """What makes two measures the same sum (everything but the name)."""
        return (self.domain, self.value, self.nonmissing, self.weighted)

    def columns(self) -> frozenset[str]:
        """The data columns the measure reads (the weight aside)."""
        out = set(self.nonmissing)
        if self.value is not None:
            out.add(self.value)
        if self.domain is not None:
            out |= expr_columns(self.domain)
        return frozenset(out)

    def describe(self) -> str:
        """A stable one-line text of the measure."""
        factors = ["w"] if self.weighted else []
        if self.domain is not None:
            factors.append(f"1[{self.domain.to_text()}]")
        if self.value is not None:
            factors.append(self.value)
        if not factors:
            factors.append("1")
        text = f"{self.name} = sum " + " * ".join(factors)
        if self.nonmissing:
            text += "   (records with " + ", ".join(self.nonmissing) + " present)"
        return text


@dataclass(frozen=True)
class Breakdown:
    """A breakdown: group by ``column``, optionally recoded by ``mapping``.

    ``mapping`` is a tuple of ``(code, parent)`` pairs taking a code to the
    level the breakdown is shown at (single year of age to five-year group,
    country to region); every code present in the data must be mapped.
    ``name`` is the output column (default: ``column``). Missing values form
    their own cell, coded ``_U``.
    """

    column: str
    name: str = ""
    mapping: tuple[tuple[Hashable, Hashable], ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise EstimateError(f"a breakdown names a column, got {self.column!r}", "by")
        if not self.name:
            object.__setattr__(self, "name", self.column)
        if self.mapping is not None:
            object.__setattr__(self, "mapping", tuple((k, v) for k, v in self.mapping))

    @classmethod
    def of(
        cls,
        column: str,
        mapping: Mapping[Any, Any] | None = None,
        name: str | None = None,
    ) -> Breakdown:
        """A breakdown from a column and an optional ``{code: parent}`` dict."""
        pairs = None if mapping is None else tuple(mapping.items())
        return cls(column=column, name=name or column, mapping=pairs)

    def mapping_dict(self) -> dict[Hashable, Hashable] | None:
        """The mapping as a dict (``None`` when the codes are used as they are)."""
        return None if self.mapping is None else dict(self.mapping)

    def derives_from(self, other: Breakdown) -> bool:
        """Whether this breakdown's cells can be computed from ``other``'s."""
        return self.column == other.column and (
            other.mapping is None or other.mapping == self.mapping
        )

    def describe(self) -> str:
        text = self.name if self.name == self.column else f"{self.name}={self.column}"
        if self.mapping is not None:
            parents = len({v for _, v in self.mapping})
            text += f" (mapped: {len(self.mapping)} codes -> {parents})"
        return text


@dataclass(frozen=True)
class Grouping:
    """The breakdowns of a set of estimates (``()``: the total)."""

    breakdowns: tuple[Breakdown, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The output key columns."""
        return tuple(b.name for b in self.breakdowns)

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns grouped by."""
        return tuple(dict.fromkeys(b.column for b in self.breakdowns))

    def derives_from(self, other: Grouping) -> bool:
        """Whether every breakdown of this grouping derives from one of ``other``'s."""
        return all(any(b.derives_from(o) for o in other.breakdowns) for b in self.breakdowns)

    def describe(self) -> str:
        return "(" + ", ".join(b.describe() for b in self.breakdowns) + ")"


@dataclass(frozen=True)
class Request:
    """One estimate asked of the planner.

    ``y`` is the value column (total, mean, ratio numerator, rate numerator,
    quantile), or for ``share`` and ``count`` a condition (a parsed filter)
    selecting the records counted in the numerator (``None`` for ``count``:
    every record of the domain). ``x`` is the denominator column of a ratio or
    rate. ``where`` is the domain: records outside it get weight 0.
    ``denominator_where`` gives a ratio or rate a denominator domain that
    differs from the numerator's (``where``). ``by`` are the breakdowns.
    ``multiplier`` scales the value (rates per 1000, percentages).
    """

    kind: Kind
    y: str | Expr | None = None
    x: str | None = None
    by: tuple[Breakdown, ...] = ()
    where: Expr | None = None
    denominator_where: Expr | None = None
    prob: float | None = None
    multiplier: float = 1.0
    label: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EstimateError(
                f"unknown estimate kind {self.kind!r}; expected one of {', '.join(KINDS)}",
                "kind",
            )
        object.__setattr__(self, "by", tuple(self.by))
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int | float):
            raise EstimateError(
                f"multiplier must be a number, got {self.multiplier!r}", "multiplier"
            )
        if not math.isfinite(self.multiplier):
            raise EstimateError("multiplier must be finite", "multiplier")
        kind = self.kind
        if kind in ("total", "mean", "ratio", "rate", "quantile") and not isinstance(self.y, str):
            raise EstimateError(f"a {kind} needs y, the name of a value column", "y")
        if kind in ("ratio", "rate") and not isinstance(self.x, str):
            raise EstimateError(f"a {kind} needs x, the denominator column", "x")
        if kind not in ("ratio", "rate") and self.x is not None:
            raise EstimateError(f"x (a denominator) does not apply to a {kind}", "x")
        if kind == "share" and self.y is None:
            raise EstimateError("a share needs y, the condition counted in the numerator", "y")
        if kind not in ("ratio", "rate", "share") and self.denominator_where is not None:
            raise EstimateError(
                f"denominator_where does not apply to a {kind}", "denominator_where"
            )
        if kind == "quantile":
            prob = 0.5 if self.prob is None else self.prob
            if isinstance(prob, bool) or not isinstance(prob, int | float) or not 0 < prob < 1:
                raise EstimateError(f"prob must be in (0, 1), got {self.prob!r}", "prob")
            object.__setattr__(self, "prob", float(prob))
        elif self.prob is not None:
            raise EstimateError(f"prob applies to quantiles only, not to a {kind}", "prob")
        names = [b.name for b in self.by]
        if len(set(names)) != len(names):
            raise EstimateError(f"a breakdown is given twice: {names}", "by")


@dataclass(frozen=True)
class PlanItem:
    """One estimate of the plan: names of its measures and its grouping.

    ``numerator``/``denominator`` are measure names (no denominator for totals
    and counts); ``support`` is the unweighted count of the records the
    estimate rests on (its ``n`` and the source of its degrees of freedom);
    ``rows`` the index of the :class:`RowRequest` of a quantile.
    """

    index: int
    kind: Kind
    grouping: int
    numerator: str | None
    denominator: str | None
    support: str
    multiplier: float = 1.0
    prob: float | None = None
    rows: int | None = None
    label: str | None = None

    def describe(self) -> str:
        parts = [f"e{self.index}: {self.kind}", f"by g{self.grouping}"]
        if self.numerator is not None:
            parts.append(f"num={self.numerator}")
        if self.denominator is not None:
            parts.append(f"den={self.denominator}")
        parts.append(f"support={self.support}")
        if self.rows is not None:
            parts.append(f"rows=q{self.rows}")
        if self.prob is not None:
            parts.append(f"prob={self.prob!r}")
        if self.multiplier != 1:
            parts.append(f"x{self.multiplier!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return "  ".join(parts)


@dataclass(frozen=True)
class RowRequest:
    """Records an estimator needs one by one (quantiles): the ``value`` of
    every record of ``domain`` where the ``nonmissing`` columns are present,
    with its weight and design units, per cell of grouping ``grouping``."""

    index: int
    value: str
    domain: Expr | None
    nonmissing: tuple[str, ...]
    grouping: int

    def describe(self) -> str:
        where = self.domain.to_text() if self.domain is not None else "(all records)"
        return f"q{self.index}: records of {self.value} where {where} by g{self.grouping}"


@dataclass(frozen=True)
class Plan:
    """Everything one engine run must compute (inert, frozen data).

    ``params`` are the values of the ``@parameters`` the domains use.
    """

    design: Design | None
    measures: tuple[Measure, ...]
    groupings: tuple[Grouping, ...]
    items: tuple[PlanItem, ...]
    rows: tuple[RowRequest, ...] = ()
    params: tuple[tuple[str, object], ...] = field(default=())

    @property
    def variance(self) -> Literal["none", "taylor", "replicate"]:
        """``none`` (no design: a census or register), ``taylor`` or ``replicate``."""
        return "none" if self.design is None else self.design.variance

    def measure(self, name: str) -> Measure:
        """The measure called ``name``."""
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)

    def bases(self) -> tuple[int, ...]:
        """For each grouping, the grouping whose sums it is computed from (itself
        for the groupings computed from the data).

        A grouping is derived from a finer requested grouping when each of its
        breakdowns is one of the finer grouping's, or a mapping of one of its
        unmapped columns; among equivalent groupings the first is computed.
        """
        groupings = self.groupings

        def above(i: int) -> int:
            for j, h in enumerate(groupings):
                if j != i and groupings[i].derives_from(h) and (
                    j < i or not h.derives_from(groupings[i])
                ):
                    return j
            return i

        out: list[int] = []
        for i in range(len(groupings)):
            k, seen = i, {i}
            while (j := above(k)) != k and j not in seen:
                seen.add(j)
                k = j
            out.append(k)
        return tuple(out)

    def columns(self) -> frozenset[str]:
        """Every data column the plan reads, the design's aside."""
        cols: set[str] = set()
        for m in self.measures:
            cols |= m.columns()
        for g in self.groupings:
            cols |= set(g.columns)
        for r in self.rows:
            cols.add(r.value)
            cols |= set(r.nonmissing)
            if r.domain is not None:
                cols |= expr_columns(r.domain)
        return frozenset(cols)

    def describe(self) -> str:
        """A stable, human-readable text of the plan."""
        lines = [
            f"plan: {len(self.items)} estimate(s), {len(self.measures)} measure(s), "
            f"{len(self.groupings)} grouping(s), {len(self.rows)} row request(s)",
            "design: " + (self.design.describe() if self.design is not None else "none (census)"),
        ]
        if self.params:
            lines.append("params: " + ", ".join(f"@{k}={v!r}" for k, v in self.params))
        lines.append("measures:")
        lines += [f"  {m.describe()}" for m in self.measures]
        lines.append("groupings:")
        bases = self.bases()
        for i, g in enumerate(self.groupings):
            source = "data" if bases[i] == i else f"derived from g{bases[i]}"
            lines.append(f"  g{i}: {g.describe()}   [{source}]")
        lines.append("estimates:")
        lines += [f"  {item.describe()}" for item in self.items]
        if self.rows:
            lines.append("row requests:")
            lines += [f"  {r.describe()}" for r in self.rows]
        lines.append("sums:")
        weighted = [m.name for m in self.measures if m.weighted]
        counts = [m.name for m in self.measures if not m.weighted]
        lines.append(f"  cell totals of {', '.join(weighted) or '-'}; counts {', '.join(counts)}")
        if self.variance == "taylor" and self.design is not None:
            stage = self.design.variance_stages
            unit = "record" if not self.design.psu else self.design.psu[stage - 1]
            lines.append(
                f"  unit totals per cell x stage-{stage} unit ({unit}) for Taylor linearisation"
            )
        elif self.variance == "replicate":
            lines.append(f"  replicate totals per cell of {', '.join(weighted) or '-'}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- planning


def and_domains(*domains: Expr | None) -> Expr | None:
    """The conjunction of the given domains (``None`` is "every record")."""
    items: list[Expr] = []
    for d in domains:
        if d is None:
            continue
        if isinstance(d, And):
            for item in d.items:
                if item not in items:
                    items.append(item)
        elif d not in items:
            items.append(d)
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return And(tuple(items))


def _or_domains(a: Expr | None, b: Expr | None) -> Expr | None:
    if a is None or b is None:
        return None
    if a == b:
        return a
    return Or((a, b))


def _known(condition: Expr) -> Expr:
    """True where ``condition`` is true or false, not unknown (SQL logic)."""
    return Or((condition, Not(condition)))


def _condition(y: str | Expr | None) -> Expr:
    if y is None:
        raise EstimateError("a condition is needed", "y")
    return parse_filter(y) if isinstance(y, str) else y


def _column(y: str | Expr | None, argument: str = "y") -> str:
    if not isinstance(y, str):
        raise EstimateError(f"{argument} must name a column, got {y!r}", argument)
    return y


class _Builder:
    def __init__(self) -> None:
        self.measures: list[Measure] = []
        self.by_key: dict[tuple[object, ...], str] = {}
        self.groupings: list[Grouping] = []
        self.items: list[PlanItem] = []
        self.rows: list[RowRequest] = []

    def measure(
        self,
        domain: Expr | None,
        value: str | None = None,
        nonmissing: Iterable[str] = (),
        weighted: bool = True,
    ) -> str:
        nm = tuple(dict.fromkeys(nonmissing))
        key = (domain, value, nm, weighted)
        name = self.by_key.get(key)
        if name is None:
            name = f"m{len(self.measures)}"
            self.measures.append(Measure(name, domain, value, nm, weighted))
            self.by_key[key] = name
        return name

    def grouping(self, by: tuple[Breakdown, ...]) -> int:
        g = Grouping(by)
        if g in self.groupings:
            return self.groupings.index(g)
        self.groupings.append(g)
        return len(self.groupings) - 1

    def add(self, req: Request) -> None:
        g = self.grouping(req.by)
        where = req.where
        kind = req.kind
        num: str | None
        den: str | None = None
        rows: int | None = None
        if kind == "total":
            y = _column(req.y)
            nm = (y,)
            num = self.measure(where, y, nm)
            support = self.measure(where, None, nm, weighted=False)
        elif kind == "count":
            domain = where if req.y is None else and_domains(where, _condition(req.y))
            num = self.measure(domain)
            support = self.measure(domain, weighted=False)
        elif kind == "mean":
            y = _column(req.y)
            nm = (y,)
            num = self.measure(where, y, nm)
            den = self.measure(where, None, nm)
            support = self.measure(where, None, nm, weighted=False)
        elif kind == "share":
            condition = _condition(req.y)
            den_where = req.denominator_where if req.denominator_where is not None else where
            base = and_domains(den_where, _known(condition))
            num = self.measure(and_domains(where, condition))
            den = self.measure(base)
            if den_where == where:
                support = self.measure(base, weighted=False)
            else:
                union = _or_domains(base, and_domains(where, condition))
                support = self.measure(union, weighted=False)
        elif kind in ("ratio", "rate"):
            y, x = _column(req.y), _column(req.x, "x")
            den_where = req.denominator_where if req.denominator_where is not None else where
            if den_where == where:
                nm_num: tuple[str, ...] = (y, x)
                nm_den: tuple[str, ...] = (y, x)
            else:
                nm_num, nm_den = (y,), (x,)
            num = self.measure(where, y, nm_num)
            den = self.measure(den_where, x, nm_den)
            if den_where == where:
                support = self.measure(where, None, nm_num, weighted=False)
            else:
                support = self.measure(_or_domains(where, den_where), weighted=False)
        else:  # quantile
            y = _column(req.y)
            nm = (y,)
            num = None
            support = self.measure(where, None, nm, weighted=False)
            rows = len(self.rows)
            self.rows.append(RowRequest(rows, y, where, nm, g))
        self.items.append(
            PlanItem(
                index=len(self.items),
                kind=kind,
                grouping=g,
                numerator=num,
                denominator=den,
                support=support,
                multiplier=float(req.multiplier),
                prob=req.prob,
                rows=rows,
                label=req.label,
            )
        )


def make_plan(
    requests: Sequence[Request],
    design: Design | None = None,
    params: Mapping[str, object] | None = None,
) -> Plan:
    """One :class:`Plan` for all ``requests`` under ``design`` (``None``: a
    census, no sampling variance). Measures and groupings shared by several
    requests appear once."""
    builder = _Builder()
    for req in requests:
        if not isinstance(req, Request):
            raise TypeError(f"make_plan takes Request objects, got {type(req).__name__}")
        builder.add(req)
    return Plan(
        design=design,
        measures=tuple(builder.measures),
        groupings=tuple(builder.groupings),
        items=tuple(builder.items),
        rows=tuple(builder.rows),
        params=tuple(sorted((params or {}).items())),
    )
