"""SDMX-style age codes: parse them, build them, check that groups partition ages.

Age groups are written with the convention used by SDMX producers (OECD, ILO,
the SDG database, INSEE...) on top of the unit ``Y`` (year) of ``SDMX:CL_AGE``:

=============  ==========================================  ===================
code           meaning                                     interval
=============  ==========================================  ===================
``_T``         all ages                                    ``[0, ∞)``
``Y{n}``       exactly ``n`` completed years               ``[n, n]``
``Y{a}T{b}``   ``a`` to ``b`` completed years, inclusive   ``[a, b]``, a < b
``Y_LT{n}``    under ``n`` years                           ``[0, n-1]``, n ≥ 1
``Y_GE{n}``    ``n`` years or over                         ``[n, ∞)``
=============  ==========================================  ===================

Ages are completed years (age at last birthday). Numbers have no sign and no
leading zero and are at most :data:`MAX_AGE`, which catches typos such as
``Y1564`` (a "single year 1564"). Anything else — ``_U`` (unknown age), the
Eurostat spelling ``Y15-64``, ``TOTAL``, spaces — raises :class:`AgeCodeError`.
Eurostat spellings are produced, not parsed: see :func:`eurostat_alias`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from migprofile.errors import MigprofileError

__all__ = [
    "MAX_AGE",
    "NON_INTERVAL_CODES",
    "AgeCodeError",
    "AgeInterval",
    "age_code",
    "eurostat_alias",
    "is_age_code",
    "is_partition",
    "parse_age_code",
    "partition_problems",
]

#: Largest age (in years) a code may name.
MAX_AGE = 150

#: Codes of the age codelist that are not age intervals (they never parse).
NON_INTERVAL_CODES = frozenset({"_U", "_Z", "_N", "_O", "_X"})

_NUM = r"(0|[1-9][0-9]*)"
_PATTERNS = (
    ("range", re.compile(rf"Y{_NUM}T{_NUM}")),
    ("lt", re.compile(rf"Y_LT{_NUM}")),
    ("ge", re.compile(rf"Y_GE{_NUM}")),
    ("single", re.compile(rf"Y{_NUM}")),
)


class AgeCodeError(ValueError, MigprofileError):
    """A string is not an age code of the grammar (or an interval is invalid).

    ``code`` is the offending value and ``reason`` says what is wrong with it.
    """

    def __init__(self, code: object, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code!r} is not a valid age code: {reason}")


@dataclass(frozen=True, order=True)
class AgeInterval:
    """Ages ``lo`` to ``hi`` in completed years, both included; ``hi=None`` is open."""

    lo: int
    hi: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("lo", self.lo), ("hi", self.hi)):
            if value is None and name == "hi":
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise AgeCodeError((self.lo, self.hi), f"{name} must be an integer")
            object.__setattr__(self, name, int(value))  # numpy integers -> int
            if not 0 <= value <= MAX_AGE:
                raise AgeCodeError((self.lo, self.hi), f"{name} must be between 0 and {MAX_AGE}")
        if self.hi is not None and self.hi < self.lo:
            raise AgeCodeError((self.lo, self.hi), "upper age is below lower age")

    @property
    def is_open(self) -> bool:
        """True when the interval has no upper bound (``Y_GE{n}``, ``_T``)."""
        return self.hi is None

    @property
    def code(self) -> str:
        """The canonical code of this interval (see :func:`age_code`)."""
        return age_code(self.lo, self.hi)

    def contains(self, age: float) -> bool:
        """Whether a person aged ``age`` belongs to the group.

        ``age`` is in years; a fractional exact age (``64.9``) belongs where its
        completed years (``64``) do. ``NaN`` and negative ages belong nowhere.
        """
        if isinstance(age, bool) or not isinstance(age, numbers.Real) or math.isnan(age):
            return False
        if age < self.lo:
            return False
        return self.hi is None or age < self.hi + 1

    def overlap(self, other: AgeInterval) -> AgeInterval | None:
        """The ages common to both intervals, or ``None``."""
        lo = max(self.lo, other.lo)
        his = [h for h in (self.hi, other.hi) if h is not None]
        hi = min(his) if his else None
        if hi is not None and hi < lo:
            return None
        return AgeInterval(lo, hi)

    def describe(self) -> str:
        """Words for the interval: ``"age 5"``, ``"ages 15 to 64"``, ``"ages 65 and over"``."""
        return _ages(self.lo, self.hi)

    def __str__(self) -> str:
        return self.describe()


def parse_age_code(code: str) -> AgeInterval:
    """The interval an age code stands for; :class:`AgeCodeError` if it is not one."""
    if not isinstance(code, str):
        raise AgeCodeError(code, f"expected a string, got {type(code).__name__}")
    if code == "_T":
        return AgeInterval(0, None)
    if code in NON_INTERVAL_CODES:
        raise AgeCodeError(code, "a special code (unknown, not applicable...), not an age interval")
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(code)
        if match is None:
            continue
        numbers = [int(g) for g in match.groups()]
        too_big = [n for n in numbers if n > MAX_AGE]
        if too_big:
            raise AgeCodeError(code, f"age {too_big[0]} is above the maximum of {MAX_AGE}")
        if kind == "range":
            lo, hi = numbers
            if lo >= hi:
                hint = f"; write Y{lo}" if lo == hi else ""
                raise AgeCodeError(code, f"the range Y{{a}}T{{b}} needs a < b{hint}")
            return AgeInterval(lo, hi)
        if kind == "lt":
            (n,) = numbers
            if n == 0:
                raise AgeCodeError(code, "Y_LT0 is empty")
            return AgeInterval(0, n - 1)
        if kind == "ge":
            return AgeInterval(numbers[0], None)
        return AgeInterval(numbers[0], numbers[0])
    raise AgeCodeError(
        code, "expected _T, Y{n}, Y{a}T{b}, Y_LT{n} or Y_GE{n} (n: age in years, no leading zero)"
    )


def is_age_code(code: object) -> bool:
    """True when ``code`` parses as an age interval."""
    try:
        parse_age_code(code)  # type: ignore[arg-type]
    except AgeCodeError:
        return False
    return True


def age_code(lo: int, hi: int | None = None, *, lt: bool = False) -> str:
    """The code of the ages ``lo`` to ``hi`` (inclusive; ``None`` = no upper bound).

    Canonical forms: ``_T`` for all ages, ``Y{n}`` for a single year,
    ``Y_GE{lo}`` when open, ``Y{lo}T{hi}`` otherwise. With ``lt=True`` a group
    starting at 0 is written ``Y_LT{hi+1}`` (``age_code(0, 14, lt=True) == "Y_LT15"``).
    """
    interval = AgeInterval(lo, hi)
    if interval.hi is None:
        return "_T" if interval.lo == 0 else f"Y_GE{interval.lo}"
    if interval.lo == interval.hi:
        return f"Y{interval.lo}"
    if lt and interval.lo == 0:
        return f"Y_LT{interval.hi + 1}"
    return f"Y{interval.lo}T{interval.hi}"


def eurostat_alias(code: str) -> str:
    """The Eurostat spelling of an age code.

    Eurostat writes ranges with a hyphen (``Y15-64``), the total ``TOTAL`` and
    unknown age ``UNK``; ``Y_LT{n}``, ``Y_GE{n}`` and single years are spelt as
    in SDMX. The code is validated first.
    """
    if code == "_U":
        return "UNK"
    interval = parse_age_code(code)
    if code == "_T":
        return "TOTAL"
    if code.startswith("Y_"):
        return code
    if interval.hi is not None and interval.lo != interval.hi:
        return f"Y{interval.lo}-{interval.hi}"
    return code


def partition_problems(
    codes: Iterable[str | AgeInterval], span: AgeInterval | None = None
) -> list[str]:
    """Gaps, overlaps and invalid codes among age groups, in words; ``[]`` if none.

    Without ``span`` the groups must only be contiguous and disjoint (they may
    start and end anywhere). With ``span`` they must also cover exactly the
    ages of ``span`` (e.g. ``AgeInterval(0, None)`` for all ages).
    """
    problems: list[str] = []
    parsed: list[tuple[str, AgeInterval]] = []
    seen: set[str] = set()
    for item in codes:
        if isinstance(item, AgeInterval):
            label, interval = item.code, item
        else:
            try:
                interval = parse_age_code(item)
            except AgeCodeError as exc:
                problems.append(f"{item!r} is not an age group: {exc.reason}")
                continue
            label = item
        if label in seen:
            problems.append(f"{label} is listed twice")
            continue
        seen.add(label)
        parsed.append((label, interval))
    if not parsed:
        if not problems:
            problems.append("no age groups given")
        return problems

    parsed.sort(key=lambda p: (p[1].lo, math.inf if p[1].hi is None else p[1].hi))
    for i, (label_a, a) in enumerate(parsed):
        for label_b, b in parsed[i + 1 :]:
            common = a.overlap(b)
            if common is not None:
                problems.append(
                    f"overlap: {_be(common.lo, common.hi)} in both {label_a} and {label_b}"
                )

    # Sweep for gaps between consecutive groups.
    reach: float = parsed[0][1].lo  # first age not yet covered
    previous = parsed[0][0]
    for label, interval in parsed:
        if interval.lo > reach:
            problems.append(
                f"gap: {_be(int(reach), interval.lo - 1)} in no group "
                f"(between {previous} and {label})"
            )
        end = math.inf if interval.hi is None else interval.hi + 1
        if end > reach:
            reach, previous = end, label

    if span is not None:
        first_label, first = parsed[0]
        if first.lo > span.lo:
            problems.append(f"gap: {_be(span.lo, first.lo - 1)} in no group (before {first_label})")
        elif first.lo < span.lo:
            problems.append(
                f"{first_label} starts at age {first.lo}, below the range ({span.describe()})"
            )
        top_label = previous
        if span.hi is None and reach != math.inf:
            problems.append(
                f"gap: {_be(int(reach), None)} in no group (after {top_label}); "
                "the groups should be open-ended"
            )
        elif span.hi is not None:
            if reach == math.inf:
                problems.append(f"{top_label} is open-ended, beyond the range ({span.describe()})")
            elif reach - 1 > span.hi:
                problems.append(
                    f"{top_label} ends at age {int(reach) - 1}, above the range ({span.describe()})"
                )
            elif reach - 1 < span.hi:
                problems.append(f"gap: {_be(int(reach), span.hi)} in no group (after {top_label})")
    return problems


def is_partition(codes: Iterable[str | AgeInterval], lo: int = 0, hi: int | None = None) -> bool:
    """True when the groups cover ages ``lo`` to ``hi`` (``None``: and over) exactly once."""
    return not partition_problems(codes, AgeInterval(lo, hi))


def _be(lo: int, hi: int | None) -> str:
    """``"age 5 is"`` / ``"ages 5 to 9 are"``."""
    return _ages(lo, hi) + (" is" if lo == hi else " are")


def _ages(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"ages {lo} and over"
    if lo == hi:
        return f"age {lo}"
    return f"ages {lo} to {hi}"


def bin_ages(
    ages: pd.Series, codes: Sequence[str], outside: str | None = None
) -> pd.Series:
    """Each numeric age (completed years) coded into the one of ``codes`` that
    contains it; missing ages stay missing. ``codes`` must partition the ages
    they cover (no overlap). An age that no code covers is an error, unless
    ``outside`` gives the code for such ages (``"_X"``, say, when the groups
    cover children only and the table holds adults too).

    Ages are floored: 4.9 completed years is 4.
    """
    overlaps = [p for p in partition_problems(codes) if "overlap" in p]
    if overlaps:
        raise AgeCodeError(list(codes), "; ".join(overlaps))
    intervals = sorted(((parse_age_code(c), c) for c in codes), key=lambda ic: ic[0].lo)
    values = np.floor(ages.to_numpy(dtype="float64", na_value=np.nan))
    out = np.full(len(values), None, dtype=object)
    covered = np.isnan(values)
    for interval, code in intervals:
        hi = np.inf if interval.hi is None else interval.hi
        hit = (values >= interval.lo) & (values <= hi)
        out[hit] = code
        covered |= hit
    if not covered.all() and outside is not None:
        out[~covered] = outside
        covered[:] = True
    if not covered.all():
        first = values[~covered][0]
        raise AgeCodeError(list(codes), f"age {first:g} is in none of these groups")
    return pd.Series(out, index=ages.index, dtype=object)
