"""The unit registry of migprofile: units as checked metadata.

Units in migprofile are *metadata*. An indicator, a numeric dimension or a
result column carries a unit string (``person``, ``percent``, ``USD / person``,
``1e6 USD``); the numbers themselves stay plain floats in pandas columns. This
module owns the one :class:`pint.UnitRegistry` of the application, :data:`ureg`,
and the functions that read, compare, normalise and export those strings. No
pint quantity is ever attached to a pandas column (no pint-pandas).

Design
======

The registry is pint's default registry (SI, calendar units, ``percent``,
``permille``, ...) loaded once at import, case-sensitive, plus the definitions
below. It is deliberately *not* installed with
:func:`pint.set_application_registry`: importing a library should not change
process-wide pint state, and migprofile never pickles quantities.

Counting units, each its own base dimension (so that none converts into another):

* ``person`` ``[person]``; ``household`` ``[household]``; ``event`` ``[event]``.
  Administrative records such as residence permits or asylum applications are
  counted as *events*: one person may have several. Plurals (``persons``) are
  accepted. No short symbols are defined: ``PS`` would read as peta-siemens,
  ``PP`` as peta-poise and ``pp`` is already pint's typographic point, so the
  SDMX codes below are output codes, never input.

Pure numbers (dimensionless; equivalent when their scale is the same):

* ``1`` (or ``dimensionless``) for ratios, ``percent`` (``%``) = 1e-2,
  ``per_1000`` (``per_thousand``; pint's ``permille`` is the same unit)
  = 1e-3, ``per_10000`` = 1e-4, ``per_100000`` (``per_100k``) = 1e-5. So
  ``percent`` is equivalent to ``1e-2`` but not to ``per_1000``.

Percentage points: ``percentage_point`` is its own base dimension
``[percentage_point]``. Numerically a percentage point is 1e-2, but the gap
between two shares is not itself a share: making it a separate dimension means
``units_equivalent("percent", "percentage_point")`` is False and a
percentage-point unit is refused for ``share`` and ``rate`` measures.

Ages and durations of residence: ``year_of_age`` (``[age]``, with
``month_of_age`` = 1/12) and ``year_of_residence`` (``[residence_duration]``,
with ``month_of_residence`` = 1/12). They are not pint's ``year``: pint's year
is a length of time (365.25 days, convertible to seconds), while an age or a
duration of residence is counted in *completed* years; converting "34 years of
age" to seconds, or treating 12 completed months as exactly one completed year
of a 365.25-day calendar, is meaningless. Pint's calendar units (``year``,
``month``, ``day``, ``hour``) remain available for real lengths of time.

Currencies: every current ISO 4217 code in :mod:`pycountry` is a unit with its
own base dimension, ``USD`` = ``[currency_USD]``, so pint never converts USD
into EUR; only :func:`convert_currency` does, with exchange rates the caller
supplies. The codes that are not money are left out (:data:`EXCLUDED_CURRENCY_CODES`:
the precious metals XAU, XAG, XPD, XPT, the bond-market units XBA-XBD, the
testing code XTS and XXX "no currency"). Real currencies with an X code (XOF,
XAF, XCD, XCG, XPF), units of account (XDR, XSU, XUA, XAD) and the ISO fund
codes (BOV, CLF, USN, ...) are kept: each is an amount of money in a definite
unit. Codes are upper case, and the registry is case-sensitive: ``CUP`` is the
Cuban peso while ``cup`` stays pint's cup. In pint 0.25 no code is already an
exact unit name, symbol or prefixed unit in the case-sensitive registry, so
every code is its own unit name; :data:`CURRENCY_CLASHES` records any clash
found at import (a code that pint reads as a prefixed unit is still defined and
wins, pint trying exact names first; a code that is already an exact pint name
is defined as ``currency_<CODE>`` instead, see :data:`CURRENCY_UNITS`).

Scales: a unit string may start with a positive number, ``1e6 USD`` (millions
of US dollars) or ``1e3 person``; it has the dimension of ``USD`` but not its
scale. :func:`unit_multiplier` gives the SDMX UNIT_MULT exponent (6) and
:func:`canonical_unit` writes it back as ``1e6 USD``. Prefixed forms such as
``MUSD`` also parse, and mean the same.

Parsing is restricted before pint sees the text: names, numbers, ``*``, ``/``,
parentheses and integer exponents (``person ** -1``) only; no ``+``, no
unary minus, no quotes or brackets, at most 200 characters. Pint never calls
``eval``; the extra grammar check keeps strings such as ``__import__('os')``
or ``10**10**10`` (which would make pint compute a huge integer) out, and
turns every failure into :class:`~migprofile.errors.UnitError`. Offset and
logarithmic units (``degC``, ``dB``) are refused: only multiplicative units
can be compared by scale.

SDMX UNIT_MEASURE codes (:data:`SDMX_UNIT_CODES`): person ``PS``, household
``HH``, event ``NUMBER``, ratio ``1`` ``RATIO``, percent ``PT``, per_1000
``PER_1000``, per_10000 ``PER_10000``, per_100000 ``PER_100000``,
percentage_point ``PP``, year_of_age / year_of_residence / year ``YR``, the
months ``MONTH``, week ``WEEK``, day ``DAY``, hour ``HOUR``, a currency its ISO
code. A unit that is a power of ten times one of these gets that code and a
UNIT_MULT (``1e6 USD`` -> ``USD``, 6). A product or quotient of coded units
gets a composed code, numerator codes joined by ``_`` and ``_PER_`` before the
denominator (``USD / person`` -> ``USD_PER_PS``); that composition is a
migprofile convention, not a code of the SDMX global codelist.

The registry must not be changed after import (results are cached per string).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import pint
import pycountry

from migprofile.errors import UnitError

__all__ = [
    "CURRENCIES",
    "CURRENCY_CLASHES",
    "CURRENCY_UNITS",
    "EXCLUDED_CURRENCY_CODES",
    "MEASURE_KINDS",
    "SDMX_UNIT_CODES",
    "UnitError",
    "canonical_unit",
    "check_measure_unit",
    "convert_currency",
    "dimensionality",
    "dimensionless_scale",
    "parse_quantity",
    "parse_unit",
    "same_dimension",
    "sdmx_unit_measure",
    "unit_multiplier",
    "units_equivalent",
    "ureg",
]

# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------

#: ISO 4217 codes in pycountry that are not amounts of money.
EXCLUDED_CURRENCY_CODES: Final[frozenset[str]] = frozenset(
    {
        "XAG",  # silver
        "XAU",  # gold
        "XPD",  # palladium
        "XPT",  # platinum
        "XBA",  # bond markets unit EURCO
        "XBB",  # bond markets unit E.M.U.-6
        "XBC",  # bond markets unit E.U.A.-9
        "XBD",  # bond markets unit E.U.A.-17
        "XTS",  # reserved for testing
        "XXX",  # transactions where no currency is involved
    }
)

# Our own definitions. The registry is created with on_redefinition="raise":
# should a future pint define one of these names, import fails loudly instead
# of pint silently keeping its own (cached) meaning.
_DEFINITIONS: Final[tuple[str, ...]] = (
    "person = [person]",
    "household = [household]",
    "event = [event]",
    "per_1000 = 1e-3 = _ = per_thousand",
    "per_10000 = 1e-4",
    "per_100000 = 1e-5 = _ = per_100k",
    "percentage_point = [percentage_point]",
    "year_of_age = [age] = _ = years_of_age",
    "month_of_age = year_of_age / 12 = _ = months_of_age",
    "year_of_residence = [residence_duration] = _ = years_of_residence",
    "month_of_residence = year_of_residence / 12 = _ = months_of_residence",
)

_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def _define_currencies(
    registry: pint.UnitRegistry[float], codes: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Define one base dimension ``[currency_<CODE>]`` per code in ``registry``.

    Returns ``(units, clashes)``: the unit name of each code (the code itself,
    or ``currency_<CODE>`` when the code is already an exact pint name, symbol
    or alias) and, for each code that pint could already read, how it was
    resolved.
    """
    units: dict[str, str] = {}
    clashes: dict[str, str] = {}
    for code in sorted(set(codes)):
        readings = registry.parse_unit_name(code)
        exact = [unit for prefix, unit, suffix in readings if not prefix and not suffix]
        if exact:
            name = f"currency_{code}"
            clashes[code] = (
                f"{code!r} is already pint's unit {exact[0]!r}; the currency is the unit {name!r}"
            )
        else:
            name = code
            if readings:
                others = ", ".join(f"{p}{u}{s}" for p, u, s in readings)
                clashes[code] = f"{code!r} could be read as {others}; the currency wins"
        registry.define(f"{name} = [currency_{code}]")
        units[code] = name
    return units, clashes


def _build_registry() -> tuple[pint.UnitRegistry[float], dict[str, str], dict[str, str]]:
    registry: pint.UnitRegistry[float] = pint.UnitRegistry(
        case_sensitive=True, on_redefinition="raise"
    )
    for line in _DEFINITIONS:
        registry.define(line)
    codes = [
        c.alpha_3
        for c in pycountry.currencies
        if _CURRENCY_CODE.fullmatch(c.alpha_3) and c.alpha_3 not in EXCLUDED_CURRENCY_CODES
    ]
    units, clashes = _define_currencies(registry, codes)
    return registry, units, clashes


_registry, _currency_units, _currency_clashes = _build_registry()

#: The unit registry of migprofile (built once, at import).
ureg: Final[pint.UnitRegistry[float]] = _registry

#: The ISO 4217 codes defined as currencies.
CURRENCIES: Final[frozenset[str]] = frozenset(_currency_units)

#: ISO code -> name of its unit in :data:`ureg` (the code itself unless it clashed).
CURRENCY_UNITS: Final[Mapping[str, str]] = MappingProxyType(_currency_units)

#: ISO code -> how a clash with a pint name was resolved (empty with pint 0.25).
CURRENCY_CLASHES: Final[Mapping[str, str]] = MappingProxyType(_currency_clashes)

# --------------------------------------------------------------------------
# Named units: canonical spelling and SDMX code
# --------------------------------------------------------------------------

# Order matters: when a unit is a power of ten times a named unit but equal
# to none, the first such entry is used (so `1e-6` is RATIO with UNIT_MULT -6).
_NAMED_UNITS: Final[tuple[tuple[str, str], ...]] = (
    ("1", "RATIO"),
    ("percent", "PT"),
    ("per_1000", "PER_1000"),
    ("per_10000", "PER_10000"),
    ("per_100000", "PER_100000"),
    ("person", "PS"),
    ("household", "HH"),
    ("event", "NUMBER"),
    ("percentage_point", "PP"),
    ("year_of_age", "YR"),
    ("month_of_age", "MONTH"),
    ("year_of_residence", "YR"),
    ("month_of_residence", "MONTH"),
    ("year", "YR"),
    ("month", "MONTH"),
    ("week", "WEEK"),
    ("day", "DAY"),
    ("hour", "HOUR"),
)

#: Canonical unit string -> SDMX UNIT_MEASURE code (currencies: the ISO code).
SDMX_UNIT_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **dict(_NAMED_UNITS),
        **{name: code for code, name in sorted(_currency_units.items())},
    }
)

#: The measure kinds of the catalogue format.
MEASURE_KINDS: Final[tuple[str, ...]] = (
    "count",
    "total",
    "share",
    "ratio",
    "rate",
    "mean",
    "median",
)

# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

_MAX_LENGTH: Final = 200
_REL_TOL: Final = 1e-9
_EXPECTED: Final = (
    "expected a unit expression such as 'person', 'percent', 'per_1000', "
    "'USD', '1e6 USD' or 'USD / person'"
)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[^\W\d]\w*|[%‰°])
  | (?P<power>\*\*|\^)
  | (?P<op>[*/()])
    """,
    re.VERBOSE,
)
_EXPONENT = re.compile(r"\s*[+-]?[0-9]{1,2}(?![\w.])")


def _check_grammar(text: str) -> None:
    """Refuse anything but names, numbers, ``* / ( )`` and small integer exponents."""
    if len(text) > _MAX_LENGTH:
        raise UnitError(
            f"unit string is {len(text)} characters long; expected at most {_MAX_LENGTH}",
            unit=text,
        )
    pos = 0
    previous = ""  # kind of the previous non-space token
    depth = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = "; a unit expression has no addition or subtraction" if char in "+-" else ""
            raise UnitError(
                f"unexpected character {char!r} at position {pos} in unit {text!r}{hint}; "
                f"{_EXPECTED}",
                unit=text,
            )
        kind = match.lastgroup or ""
        pos = match.end()
        if kind == "space":
            continue
        if kind == "power":
            exponent = _EXPONENT.match(text, pos)
            if previous not in ("name", "number") or exponent is None:
                raise UnitError(
                    f"bad exponent in unit {text!r}: expected a unit name or number "
                    "raised to an integer between -99 and 99 (e.g. 'person ** -1')",
                    unit=text,
                )
            pos = exponent.end()
            previous = "exponent"
            continue
        if kind == "op":
            depth += {"(": 1, ")": -1}.get(match.group(), 0)
            if depth < 0:
                raise UnitError(
                    f"unbalanced ')' in unit {text!r}; expected matching parentheses", unit=text
                )
        previous = kind
    if depth != 0:
        raise UnitError(
            f"unbalanced '(' in unit {text!r}; expected matching parentheses", unit=text
        )


@dataclass(frozen=True)
class _Parsed:
    """A parsed unit string: a positive scale times a pint unit."""

    text: str
    magnitude: float
    units: pint.Unit
    items: tuple[tuple[str, int], ...]  # (pint unit name, exponent)
    dimensionality: str

    def quantity(self) -> pint.Quantity[float]:
        return ureg.Quantity(self.magnitude, self.units)


def _format_dimensionality(items: Iterable[tuple[str, float]]) -> str:
    """A stable spelling: ``dimensionless``, ``[person]``, ``[currency_USD] / [person]``."""
    numerator: list[str] = []
    denominator: list[str] = []
    for name, exponent in sorted(items):
        if exponent == 0:
            continue
        power = abs(exponent)
        term = name if power == 1 else f"{name} ** {_format_number(power)}"
        (numerator if exponent > 0 else denominator).append(term)
    if not numerator and not denominator:
        return "dimensionless"
    text = " * ".join(numerator) or "1"
    if len(denominator) == 1:
        text += f" / {denominator[0]}"
    elif denominator:
        text += " / (" + " * ".join(denominator) + ")"
    return text


def _format_number(value: float) -> str:
    exponent = _power_of_ten(value)
    if exponent is not None and exponent not in (0, 1, 2):
        return f"1e{exponent}"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _real(value: object) -> float:
    """``value`` as a float; TypeError unless it is a real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"not a real number: {value!r}")
    return float(value)


def _power_of_ten(value: float) -> int | None:
    if not value > 0 or not math.isfinite(value):
        return None
    exponent = round(math.log10(value))
    if math.isclose(value, 10.0**exponent, rel_tol=_REL_TOL):
        return exponent
    return None


def _parse(text: str) -> _Parsed:
    if not isinstance(text, str):
        raise UnitError(
            f"a unit must be a string, not {type(text).__name__}; {_EXPECTED}",
            unit=repr(text),
        )
    return _parse_string(text)


@lru_cache(maxsize=2048)
def _parse_string(text: str) -> _Parsed:
    stripped = text.strip()
    if not stripped:
        raise UnitError(f"empty unit string; {_EXPECTED} (use '1' for a pure number)", unit=text)
    _check_grammar(stripped)
    try:
        parsed = ureg.parse_expression(stripped)
    except pint.UndefinedUnitError as exc:
        names = ", ".join(repr(n) for n in exc.unit_names) or repr(stripped)
        raise UnitError(
            f"unknown unit {names} in {text!r}; {_EXPECTED} "
            "(ISO 4217 currency codes are upper case)",
            unit=text,
        ) from None
    except Exception as exc:  # pint raises many kinds of errors for bad syntax
        raise UnitError(
            f"{text!r} is not a unit expression ({type(exc).__name__}: {exc}); {_EXPECTED}",
            unit=text,
        ) from None
    if not isinstance(parsed, pint.Quantity):
        raise UnitError(f"{text!r} is not a unit expression; {_EXPECTED}", unit=text)
    magnitude: object = parsed.magnitude
    try:
        scale = _real(magnitude)
    except OverflowError:
        scale = math.inf
    except TypeError:
        raise UnitError(f"{text!r} does not have a real scale; {_EXPECTED}", unit=text) from None
    if not (math.isfinite(scale) and scale > 0):
        raise UnitError(
            f"the scale of unit {text!r} is {magnitude!r}; expected a positive finite number",
            unit=text,
        )
    units = parsed.units
    items: list[tuple[str, int]] = []
    for name, exponent in parsed.unit_items():
        if not _real(exponent).is_integer():
            raise UnitError(
                f"unit {text!r} has the non-integer exponent {exponent} on {name!r}; "
                "expected integer exponents",
                unit=text,
            )
        items.append((name, int(_real(exponent))))
    try:
        multiplicative = ureg.Quantity(0.0, units).to_root_units().magnitude == 0
    except Exception:
        multiplicative = False
    if not multiplicative:
        raise UnitError(
            f"unit {text!r} is an offset or logarithmic unit (such as degC or dB); "
            "expected a multiplicative unit",
            unit=text,
        )
    dims = ureg.get_dimensionality(units)
    return _Parsed(
        text=text,
        magnitude=scale,
        units=ureg.Unit(units),
        items=tuple(items),
        dimensionality=_format_dimensionality((n, _real(e)) for n, e in dims.items()),
    )


def parse_quantity(text: str) -> pint.Quantity[float]:
    """Parse a unit string that may carry a scale, e.g. ``"1e6 USD"`` -> 1e6 USD.

    The magnitude is the scale (1 for a plain unit). Raises :class:`UnitError`.
    """
    return _parse(text).quantity()


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit string without a scale, e.g. ``"USD / person"``.

    A string with a scale other than 1 (``"1e6 USD"``) is refused: a
    :class:`pint.Unit` cannot hold it; use :func:`parse_quantity`. Raises
    :class:`UnitError`.
    """
    parsed = _parse(text)
    if not math.isclose(parsed.magnitude, 1.0, rel_tol=_REL_TOL):
        raise UnitError(
            f"unit {text!r} has the scale {_format_number(parsed.magnitude)}; expected a unit "
            "without a numeric factor (use parse_quantity for scaled units such as '1e6 USD')",
            unit=text,
        )
    return parsed.units


def dimensionality(text: str) -> str:
    """The dimensionality of a unit as a stable string.

    ``dimensionless``, ``[person]``, ``[currency_USD] / [person]``,
    ``[person] ** 2``; several denominator dimensions are grouped,
    ``[person] / ([household] * [time])``. Raises :class:`UnitError`.
    """
    return _parse(text).dimensionality


def same_dimension(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are convertible (same dimensionality, any scale)."""
    return _parse(a).dimensionality == _parse(b).dimensionality


def _ratio(parsed: _Parsed, target: pint.Unit | str) -> float:
    """How many ``target`` one ``parsed`` is (same dimensionality assumed)."""
    return float(parsed.quantity().to(target).magnitude)


def units_equivalent(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` denote the same unit: same dimensionality and scale.

    ``persons`` = ``person``, ``percent`` = ``%`` = ``1e-2``, ``per_1000`` =
    ``permille``; but ``percent`` != ``per_1000`` (other scale), ``percent``
    != ``percentage_point`` and ``USD`` != ``EUR`` (other dimension),
    ``year_of_age`` != ``year``. Raises :class:`UnitError` for a bad string.
    """
    pa, pb = _parse(a), _parse(b)
    if pa.dimensionality != pb.dimensionality:
        return False
    return math.isclose(_ratio(pa, pb.units), pb.magnitude, rel_tol=_REL_TOL)


def dimensionless_scale(text: str) -> float:
    """The value of a dimensionless unit as a pure number (``percent`` -> 0.01).

    Useful to check an indicator's multiplier against its unit (multiplier
    100 with ``percent``). Raises :class:`UnitError` if the unit has a dimension.
    """
    parsed = _parse(text)
    if parsed.dimensionality != "dimensionless":
        raise UnitError(
            f"unit {text!r} has the dimension {parsed.dimensionality}; expected a "
            "dimensionless unit such as '1', 'percent' or 'per_1000'",
            unit=text,
        )
    return _ratio(parsed, "dimensionless")


# --------------------------------------------------------------------------
# Canonical spelling and SDMX codes
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _named_by_dimensionality() -> dict[str, list[tuple[str, str]]]:
    """Named units grouped by dimensionality (built on first use)."""
    index: dict[str, list[tuple[str, str]]] = {}
    for name, code in SDMX_UNIT_CODES.items():
        index.setdefault(_parse(name).dimensionality, []).append((name, code))
    return index


def _match_named(parsed: _Parsed, *, exact_only: bool) -> tuple[str, str, int] | None:
    """(canonical name, SDMX code, power of ten) of a named unit equal to ``parsed``.

    An exact match wins; otherwise the first named unit of the same dimension
    that ``parsed`` is a power of ten of.
    """
    candidates = _named_by_dimensionality().get(parsed.dimensionality, [])
    scaled: tuple[str, str, int] | None = None
    for name, code in candidates:
        ratio = _ratio(parsed, name)
        if math.isclose(ratio, 1.0, rel_tol=_REL_TOL):
            return name, code, 0
        exponent = _power_of_ten(ratio)
        if exponent is not None and scaled is None and not exact_only:
            scaled = (name, code, exponent)
    return scaled


@dataclass(frozen=True)
class _Component:
    name: str  # canonical name (or pint's name when it has none)
    code: str | None  # SDMX code, None when it has none
    exponent: int


def _components(parsed: _Parsed) -> list[_Component]:
    """The parts of a compound unit under their canonical names.

    A part that is a power of ten of a named unit (``kiloUSD``) is named after
    it; the power goes into the overall scale. Pure-number parts are dropped.
    """
    out: list[_Component] = []
    for name, exponent in parsed.items:
        match = _match_named(_parse(name), exact_only=False)
        canonical, code = (match[0], match[1]) if match else (name, None)
        if canonical != "1":
            out.append(_Component(canonical, code, exponent))
    return out


def _compose(terms: Iterable[tuple[str, int]], sep: str, per: str, power: str) -> str:
    numerator: list[str] = []
    denominator: list[str] = []
    for name, exponent in sorted(terms):
        term = name if abs(exponent) == 1 else f"{name}{power}{abs(exponent)}"
        (numerator if exponent > 0 else denominator).append(term)
    text = sep.join(numerator)
    if denominator:
        text = f"{text or '1'}{per}{per.join(denominator)}"
    return text


@lru_cache(maxsize=2048)
def _canonical(text: str) -> str:
    parsed = _parse(text)
    match = _match_named(parsed, exact_only=False)
    if match is not None:
        name, _, exponent = match
        if exponent == 0:
            return name
        scale = _format_number(10.0**exponent)
        return scale if name == "1" else f"{scale} {name}"
    components = _components(parsed)
    body = _compose(((c.name, c.exponent) for c in components), " * ", " / ", " ** ")
    if not body:
        return _format_number(_ratio(parsed, "dimensionless"))
    factor = _ratio(parsed, body)
    if math.isclose(factor, 1.0, rel_tol=_REL_TOL):
        return body
    if body.startswith("1 / "):
        return f"{_format_number(factor)}{body[1:]}"
    return f"{_format_number(factor)} {body}"


def canonical_unit(text: str) -> str:
    """The canonical spelling of a unit, for display and storage.

    Named units keep their name (``persons`` -> ``person``, ``%`` ->
    ``percent``, ``permille`` -> ``per_1000``, ``1e-2`` -> ``percent``); a
    power of ten of one is written ``1e6 USD``; other units are the product
    and quotient of their canonical parts, sorted by name (``USD / person``).
    Equivalent simple units get the same spelling, and the result parses
    back to an equivalent unit. Raises :class:`UnitError`.
    """
    return _canonical(text)


@lru_cache(maxsize=2048)
def _sdmx(text: str) -> tuple[str, int]:
    parsed = _parse(text)
    match = _match_named(parsed, exact_only=False)
    if match is not None:
        return match[1], match[2]
    components = _components(parsed)
    missing = [c.name for c in components if c.code is None]
    if missing or not components:
        raise UnitError(
            f"no SDMX UNIT_MEASURE code for unit {text!r} "
            f"(no code for {', '.join(repr(m) for m in missing) or 'its scale'}); expected "
            "units built from " + ", ".join(repr(n) for n, _ in _NAMED_UNITS) + " or currencies",
            unit=text,
        )
    if any(abs(c.exponent) != 1 for c in components):
        raise UnitError(
            f"no SDMX UNIT_MEASURE code for unit {text!r}: expected exponents of 1 or -1",
            unit=text,
        )
    code = _compose(((c.code or "", c.exponent) for c in components), "_", "_PER_", "")
    code = code.removeprefix("1_")  # nothing in the numerator: PER_PS
    unit_text = _compose(((c.name, c.exponent) for c in components), " * ", " / ", " ** ")
    exponent = _power_of_ten(_ratio(parsed, unit_text))
    if exponent is None:
        raise UnitError(
            f"unit {text!r} has a scale that is not a power of ten; expected a scale such "
            "as 1e3 or 1e6 that SDMX UNIT_MULT can express",
            unit=text,
        )
    return code, exponent


def sdmx_unit_measure(unit: str) -> str:
    """The SDMX UNIT_MEASURE code of a unit (see the module docstring).

    ``person`` -> ``PS``, ``percent`` -> ``PT``, ``1e6 USD`` -> ``USD``,
    ``USD / person`` -> ``USD_PER_PS``. Raises :class:`UnitError` when the unit
    has no code.
    """
    return _sdmx(unit)[0]


def unit_multiplier(unit: str) -> int:
    """The SDMX UNIT_MULT exponent of a unit: ``1e6 USD`` -> 6, ``person`` -> 0.

    Raises :class:`UnitError` when the unit has no SDMX code or its scale is
    not a power of ten.
    """
    return _sdmx(unit)[1]


# --------------------------------------------------------------------------
# Measure kinds
# --------------------------------------------------------------------------

_COUNT_UNITS: Final[tuple[str, ...]] = ("person", "household", "event")


def check_measure_unit(measure: str, unit: str) -> str | None:
    """None if ``unit`` suits an indicator of kind ``measure``, else what was expected.

    * ``count``: exactly ``person``, ``household`` or ``event`` (no scale).
    * ``share``, ``rate``: dimensionless (``percent``, ``per_1000``,
      ``per_100000``, ``1``, ...). ``percentage_point`` is not a share.
    * ``total``: a unit with a dimension (``USD``, ``person``, ...); neither a
      dimensionless unit nor one involving percentage points (a sum of
      percentage points means nothing).
    * ``ratio``, ``mean``, ``median``: any valid unit, ``percentage_point``
      included (a mean gap between two shares is in percentage points).

    A unit string that cannot be read gives its :class:`UnitError` message.
    """
    if measure not in MEASURE_KINDS:
        return f"unknown measure kind {measure!r}; expected one of {', '.join(MEASURE_KINDS)}"
    try:
        parsed = _parse(unit)
    except UnitError as exc:
        return str(exc)
    dims = parsed.dimensionality
    got = f"got {unit!r} ({dims})"
    if measure == "count":
        if any(units_equivalent(unit, ok) for ok in _COUNT_UNITS):
            return None
        scaled = any(dims == _parse(ok).dimensionality for ok in _COUNT_UNITS)
        hint = (
            "; counts are stored unscaled, use UNIT_MULT for thousands"
            if scaled
            else "; pint's 'count' is a pure number"
            if dims == "dimensionless"
            else ""
        )
        return f"measure 'count' expects 'person', 'household' or 'event'; {got}{hint}"
    if measure in ("share", "rate"):
        if dims == "dimensionless":
            return None
        hint = (
            "; a difference between two shares is in percentage points: use measure "
            "'ratio' or 'mean' for it"
            if "[percentage_point]" in dims
            else ""
        )
        return (
            f"measure {measure!r} expects a dimensionless unit "
            f"('percent', 'per_1000', 'per_100000' or '1'); {got}{hint}"
        )
    if measure == "total":
        if dims == "dimensionless" or "[percentage_point]" in dims:
            return (
                "measure 'total' expects a unit with a dimension (e.g. 'USD', 'person', "
                f"'year_of_residence'), not a rate, share or percentage points; {got}"
            )
        return None
    return None  # ratio, mean, median: any valid unit


# --------------------------------------------------------------------------
# Currencies
# --------------------------------------------------------------------------

_CURRENCY_DIM = re.compile(r"\[currency_([A-Z]{3})\]")


def _currency_of(parsed: _Parsed) -> str:
    dims = ureg.get_dimensionality(parsed.units)
    codes = [m.group(1) for name in dims if (m := _CURRENCY_DIM.fullmatch(name))]
    if len(codes) != 1 or _real(dims[f"[currency_{codes[0]}]"]) != 1:
        raise UnitError(
            f"unit {parsed.text!r} ({parsed.dimensionality}) is not an amount in one currency; "
            "expected a unit with one ISO 4217 currency to the power 1, "
            "e.g. 'USD', '1e6 USD' or 'EUR / person'",
            unit=parsed.text,
        )
    return codes[0]


def _rate(rates: Mapping[tuple[str, str], float], source: str, target: str, unit: str) -> float:
    if (source, target) in rates:
        rate, pair = float(rates[(source, target)]), (source, target)
        inverse = False
    elif (target, source) in rates:
        rate, pair = float(rates[(target, source)]), (target, source)
        inverse = True
    else:
        raise UnitError(
            f"no exchange rate from {source} to {target}: expected "
            f"rates[({source!r}, {target!r})] ({target} per {source}) "
            f"or rates[({target!r}, {source!r})]",
            unit=unit,
        )
    if not (math.isfinite(rate) and rate > 0):
        raise UnitError(
            f"exchange rate rates[{pair!r}] is {rate!r}; expected a positive finite number",
            unit=unit,
        )
    return 1.0 / rate if inverse else rate


def convert_currency(
    value: float,
    from_unit: str,
    to_unit: str,
    rates: Mapping[tuple[str, str], float],
) -> float:
    """Convert ``value`` from ``from_unit`` to ``to_unit`` with the caller's rates.

    ``rates[(a, b)]`` is the number of units of currency ``b`` per unit of
    ``a`` (ISO codes); when only ``(b, a)`` is given its inverse is used. Scales
    and the rest of the unit are converted by pint: ``2`` in ``1e6 USD`` is
    ``1.8`` in ``1e6 EUR`` at 0.9 EUR per USD, and ``USD / person`` converts to
    ``EUR / person``. Converting within one currency needs no rate. Raises
    :class:`UnitError` (with ``from_unit`` as ``.unit``) for a unit that is not
    an amount in one currency, for units that differ in more than the currency,
    and for a missing pair (the message names it).
    """
    source_parsed, target_parsed = _parse(from_unit), _parse(to_unit)
    source = _currency_of(source_parsed)
    target = _currency_of(target_parsed)
    rate = 1.0 if source == target else _rate(rates, source, target, from_unit)
    swap = ureg.Unit(_currency_units[target]) / ureg.Unit(_currency_units[source])
    amount = source_parsed.quantity() * rate * swap
    try:
        converted = amount.to(target_parsed.units)
    except pint.DimensionalityError:
        raise UnitError(
            f"cannot convert {from_unit!r} ({source_parsed.dimensionality}) to {to_unit!r} "
            f"({target_parsed.dimensionality}): expected units that differ only in currency",
            unit=from_unit,
        ) from None
    return float(value) * float(converted.magnitude) / target_parsed.magnitude
