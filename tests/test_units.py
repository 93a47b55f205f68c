"""Tests of migprofile.units: the unit registry and the unit-string functions."""

from __future__ import annotations

import math

import pint
import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from migprofile import units
from migprofile.errors import MigprofileError, UnitError
from migprofile.units import (
    CURRENCIES,
    CURRENCY_CLASHES,
    CURRENCY_UNITS,
    EXCLUDED_CURRENCY_CODES,
    MEASURE_KINDS,
    SDMX_UNIT_CODES,
    canonical_unit,
    check_measure_unit,
    convert_currency,
    dimensionality,
    dimensionless_scale,
    parse_quantity,
    parse_unit,
    same_dimension,
    sdmx_unit_measure,
    unit_multiplier,
    units_equivalent,
    ureg,
)

# --------------------------------------------------------------------------
# Dimensionality
# --------------------------------------------------------------------------

DIMENSIONALITY = [
    ("persons", "[person]"),
    ("person", "[person]"),
    ("households", "[household]"),
    ("household", "[household]"),
    ("event", "[event]"),
    ("events", "[event]"),
    ("percent", "dimensionless"),
    ("%", "dimensionless"),
    ("per_1000", "dimensionless"),
    ("per_thousand", "dimensionless"),
    ("permille", "dimensionless"),
    ("per_10000", "dimensionless"),
    ("per_100000", "dimensionless"),
    ("per_100k", "dimensionless"),
    ("percentage_point", "[percentage_point]"),
    ("percentage_points", "[percentage_point]"),
    ("1", "dimensionless"),
    ("dimensionless", "dimensionless"),
    ("1e-2", "dimensionless"),
    ("USD", "[currency_USD]"),
    ("EUR", "[currency_EUR]"),
    ("MDL", "[currency_MDL]"),
    ("XOF", "[currency_XOF]"),
    ("CUP", "[currency_CUP]"),
    ("1e6 USD", "[currency_USD]"),
    ("MUSD", "[currency_USD]"),
    ("USD / person", "[currency_USD] / [person]"),
    ("USD per person", "[currency_USD] / [person]"),
    ("EUR / household / year", "[currency_EUR] / ([household] * [time])"),
    ("person / household", "[person] / [household]"),
    ("1 / person", "1 / [person]"),
    ("person ** 2", "[person] ** 2"),
    ("person * year", "[person] * [time]"),
    ("year_of_age", "[age]"),
    ("years_of_age", "[age]"),
    ("month_of_age", "[age]"),
    ("year_of_residence", "[residence_duration]"),
    ("month_of_residence", "[residence_duration]"),
    ("months_of_residence", "[residence_duration]"),
    ("year", "[time]"),
    ("month", "[time]"),
    ("hour", "[time]"),
    ("cup", "[length] ** 3"),
    ("event / person", "[event] / [person]"),
]


@pytest.mark.parametrize(("text", "expected"), DIMENSIONALITY)
def test_dimensionality(text: str, expected: str) -> None:
    assert dimensionality(text) == expected


def test_dimensionality_table_is_large_enough() -> None:
    assert len(DIMENSIONALITY) >= 30


# --------------------------------------------------------------------------
# Bad strings
# --------------------------------------------------------------------------

BAD_UNITS = [
    "furlongs_of_zorg",  # pint knows furlong, not this
    "blorptastic",
    "__import__('os')",
    "__import__",
    "os.system",
    "",
    "   ",
    "1/0",
    "USD +",
    "USD + EUR",
    "person - person",
    "-USD",
    "0 USD",
    "1e400",
    "10**10**10",  # would make pint compute a gigantic integer
    "10**400",
    "USD**0.5",
    "(person",
    "person)",
    "[person]",
    "person; drop",
    "person, household",
    "'person'",
    "degC",  # offset unit
    "dB",  # logarithmic unit
    "usd",  # ISO codes are upper case
    "XAU",  # gold: excluded, not money
    "XXX",
    "x" * 201,
]


@pytest.mark.parametrize("text", BAD_UNITS)
def test_bad_unit_strings_raise_unit_error(text: str) -> None:
    with pytest.raises(UnitError) as info:
        parse_quantity(text)
    assert info.value.unit == text
    assert "expected" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MigprofileError)


@pytest.mark.parametrize("text", BAD_UNITS)
def test_every_function_refuses_bad_strings_with_unit_error(text: str) -> None:
    for call in (
        lambda: parse_unit(text),
        lambda: dimensionality(text),
        lambda: canonical_unit(text),
        lambda: units_equivalent(text, "person"),
        lambda: same_dimension("person", text),
        lambda: sdmx_unit_measure(text),
        lambda: unit_multiplier(text),
    ):
        with pytest.raises(UnitError):
            call()
    message = check_measure_unit("mean", text)
    assert message is not None
    assert "expected" in message


def test_unknown_unit_message_names_the_unknown_word() -> None:
    with pytest.raises(UnitError, match="furlongs_of_zorg"):
        parse_unit("furlongs_of_zorg / person")


def test_non_string_unit_is_a_unit_error() -> None:
    with pytest.raises(UnitError, match="must be a string"):
        parse_quantity(["person"])  # type: ignore[arg-type]


def test_unit_error_is_reexported() -> None:
    assert units.UnitError is UnitError


# --------------------------------------------------------------------------
# parse_unit / parse_quantity
# --------------------------------------------------------------------------


def test_parse_unit_returns_a_unit_of_our_registry() -> None:
    unit = parse_unit("persons")
    assert isinstance(unit, pint.Unit)
    assert unit == ureg.person
    assert parse_unit("USD / person") == ureg.USD / ureg.person


def test_parse_unit_refuses_a_scale_and_parse_quantity_keeps_it() -> None:
    with pytest.raises(UnitError, match="parse_quantity"):
        parse_unit("1e6 USD")
    quantity = parse_quantity("1e6 USD")
    assert quantity.magnitude == 1e6
    assert quantity.units == ureg.USD
    assert parse_quantity("person").magnitude == 1


def test_parse_quantity_returns_a_fresh_object_each_time() -> None:
    first = parse_quantity("1e6 USD")
    first *= 2  # must not poison the cache
    assert parse_quantity("1e6 USD").magnitude == 1e6


# --------------------------------------------------------------------------
# Equivalence
# --------------------------------------------------------------------------

EQUIVALENCE = [
    ("persons", "person", True),
    ("households", "household", True),
    ("percent", "%", True),
    ("percent", "1e-2", True),
    ("percent", "0.01", True),
    ("per_1000", "permille", True),
    ("per_1000", "per_thousand", True),
    ("per_1000", "1e-3", True),
    ("per_100000", "per_100k", True),
    ("1", "dimensionless", True),
    ("1e6 USD", "MUSD", True),
    ("1e3 USD", "kUSD", True),
    ("USD / person", "USD per person", True),
    ("12 month_of_residence", "year_of_residence", True),
    ("12 month_of_age", "year_of_age", True),
    ("year", "12 month", True),
    ("percent", "per_1000", False),
    ("percent", "1", False),
    ("percent", "percentage_point", False),
    ("1e-2", "percentage_point", False),
    ("USD", "EUR", False),
    ("USD", "1e6 USD", False),
    ("USD", "USD / person", False),
    ("year_of_age", "year", False),
    ("year_of_residence", "year", False),
    ("year_of_age", "year_of_residence", False),
    ("person", "household", False),
    ("person", "event", False),
    ("person", "1", False),
    ("CUP", "cup", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), EQUIVALENCE)
def test_units_equivalent(a: str, b: str, expected: bool) -> None:
    assert units_equivalent(a, b) is expected
    assert units_equivalent(b, a) is expected


SAME_DIMENSION = [
    ("percent", "per_1000", True),
    ("percent", "1", True),
    ("USD", "1e6 USD", True),
    ("month_of_residence", "year_of_residence", True),
    ("percent", "percentage_point", False),
    ("USD", "EUR", False),
    ("year_of_age", "year", False),
    ("year_of_age", "second", False),
    ("person", "event", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), SAME_DIMENSION)
def test_same_dimension(a: str, b: str, expected: bool) -> None:
    assert same_dimension(a, b) is expected


def test_pint_itself_refuses_to_convert_ages_or_currencies() -> None:
    with pytest.raises(pint.DimensionalityError):
        parse_quantity("year_of_age").to("second")
    with pytest.raises(pint.DimensionalityError):
        parse_quantity("year_of_age").to("year")
    with pytest.raises(pint.DimensionalityError):
        parse_quantity("USD").to("EUR")
    assert parse_quantity("6 month_of_residence").to("year_of_residence").magnitude == 0.5


# --------------------------------------------------------------------------
# Canonical spelling
# --------------------------------------------------------------------------

CANONICAL = [
    ("persons", "person"),
    ("households", "household"),
    ("events", "event"),
    ("%", "percent"),
    ("1e-2", "percent"),
    ("permille", "per_1000"),
    ("‰", "per_1000"),
    ("per_thousand", "per_1000"),
    ("per_100k", "per_100000"),
    ("percentage_points", "percentage_point"),
    ("dimensionless", "1"),
    ("1", "1"),
    ("1e-6", "1e-6"),
    ("USD", "USD"),
    ("1e6 USD", "1e6 USD"),
    ("MUSD", "1e6 USD"),
    ("1000 USD", "1e3 USD"),
    ("10 USD", "10 USD"),
    ("0.1 USD", "1e-1 USD"),
    ("1e3", "1e3"),
    ("12 USD", "12 USD"),
    ("USD / person", "USD / person"),
    ("USD per persons", "USD / person"),
    ("kUSD / person", "1e3 USD / person"),
    ("1 / persons", "1 / person"),
    ("persons / households", "person / household"),
    ("person * person", "person ** 2"),
    ("years_of_age", "year_of_age"),
    ("months_of_residence", "month_of_residence"),
    ("EUR / month_of_residence", "EUR / month_of_residence"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL)
def test_canonical_unit(text: str, expected: str) -> None:
    canonical = canonical_unit(text)
    assert canonical == expected
    assert units_equivalent(canonical, text)
    assert canonical_unit(canonical) == canonical


_PARTS = ["person", "household", "event", "USD", "EUR", "percent", "year_of_age", "month"]


@given(
    parts=st.lists(
        st.tuples(st.sampled_from(_PARTS), st.integers(-2, 2).filter(bool)),
        min_size=1,
        max_size=3,
    ),
    power=st.integers(-6, 9),
)
def test_canonical_unit_round_trips(parts: list[tuple[str, int]], power: int) -> None:
    text = f"1e{power} " + " * ".join(f"{name} ** {exp}" for name, exp in parts)
    canonical = canonical_unit(text)
    assert units_equivalent(canonical, text)
    assert canonical_unit(canonical) == canonical
    assert dimensionality(canonical) == dimensionality(text)


# --------------------------------------------------------------------------
# Dimensionless scale
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scale"),
    [("1", 1.0), ("percent", 0.01), ("per_1000", 1e-3), ("per_100000", 1e-5), ("1e6", 1e6)],
)
def test_dimensionless_scale(text: str, scale: float) -> None:
    assert math.isclose(dimensionless_scale(text), scale)


def test_dimensionless_scale_refuses_units_with_a_dimension() -> None:
    with pytest.raises(UnitError, match="dimensionless"):
        dimensionless_scale("percentage_point")


# --------------------------------------------------------------------------
# Measure kinds
# --------------------------------------------------------------------------

MEASURE_UNITS: list[tuple[str, str, str | None]] = [
    # (measure, unit, None if accepted else a fragment of the message)
    ("count", "person", None),
    ("count", "persons", None),
    ("count", "households", None),
    ("count", "event", None),
    ("count", "1e3 person", "UNIT_MULT"),
    ("count", "percent", "'person', 'household' or 'event'"),
    ("count", "count", "pure number"),
    ("count", "USD", "'person', 'household' or 'event'"),
    ("count", "person / household", "'person', 'household' or 'event'"),
    ("share", "percent", None),
    ("share", "per_1000", None),
    ("share", "per_100000", None),
    ("share", "1", None),
    ("share", "person", "dimensionless"),
    ("share", "percentage_point", "percentage points"),
    ("rate", "per_1000", None),
    ("rate", "per_100000", None),
    ("rate", "percent", None),
    ("rate", "event", "dimensionless"),
    ("rate", "percentage_point", "dimensionless"),
    ("total", "USD", None),
    ("total", "1e6 USD", None),
    ("total", "person", None),
    ("total", "year_of_residence", None),
    ("total", "percent", "with a dimension"),
    ("total", "1", "with a dimension"),
    ("total", "percentage_point", "percentage points"),
    ("ratio", "percent", None),
    ("ratio", "1", None),
    ("ratio", "person / household", None),
    ("ratio", "percentage_point", None),
    ("mean", "year_of_age", None),
    ("mean", "USD / person", None),
    ("mean", "percentage_point", None),
    ("median", "year_of_residence", None),
    ("median", "EUR", None),
    ("mean", "furlongs_of_zorg", "furlongs_of_zorg"),
    ("average", "person", "unknown measure kind"),
    ("", "person", "unknown measure kind"),
]


@pytest.mark.parametrize(("measure", "unit", "fragment"), MEASURE_UNITS)
def test_check_measure_unit(measure: str, unit: str, fragment: str | None) -> None:
    message = check_measure_unit(measure, unit)
    if fragment is None:
        assert message is None
    else:
        assert message is not None
        assert fragment in message
        assert "expect" in message


def test_every_measure_kind_of_the_catalogue_format_is_known() -> None:
    assert set(MEASURE_KINDS) == {"count", "total", "share", "ratio", "rate", "mean", "median"}


# --------------------------------------------------------------------------
# SDMX codes
# --------------------------------------------------------------------------

SDMX = [
    ("person", "PS", 0),
    ("persons", "PS", 0),
    ("household", "HH", 0),
    ("event", "NUMBER", 0),
    ("percent", "PT", 0),
    ("%", "PT", 0),
    ("1e-2", "PT", 0),
    ("per_1000", "PER_1000", 0),
    ("permille", "PER_1000", 0),
    ("per_10000", "PER_10000", 0),
    ("per_100000", "PER_100000", 0),
    ("percentage_point", "PP", 0),
    ("1", "RATIO", 0),
    ("1e-6", "RATIO", -6),
    ("USD", "USD", 0),
    ("EUR", "EUR", 0),
    ("MDL", "MDL", 0),
    ("1e6 USD", "USD", 6),
    ("1e9 EUR", "EUR", 9),
    ("1e3 person", "PS", 3),
    ("year_of_age", "YR", 0),
    ("year_of_residence", "YR", 0),
    ("month_of_residence", "MONTH", 0),
    ("USD / person", "USD_PER_PS", 0),
    ("1e3 USD / person", "USD_PER_PS", 3),
    ("person / household", "PS_PER_HH", 0),
]


@pytest.mark.parametrize(("unit", "code", "mult"), SDMX)
def test_sdmx_unit_measure_and_multiplier(unit: str, code: str, mult: int) -> None:
    assert sdmx_unit_measure(unit) == code
    assert unit_multiplier(unit) == mult


@pytest.mark.parametrize("unit", ["12 USD", "person ** 2", "cup", "3"])
def test_units_without_an_sdmx_code_raise(unit: str) -> None:
    with pytest.raises(UnitError, match="expected"):
        sdmx_unit_measure(unit)


def test_every_currency_is_its_own_sdmx_code() -> None:
    assert all(sdmx_unit_measure(code) == code for code in CURRENCIES)
    assert all(SDMX_UNIT_CODES[CURRENCY_UNITS[code]] == code for code in CURRENCIES)


# --------------------------------------------------------------------------
# Currencies
# --------------------------------------------------------------------------


def test_currencies_are_pycountry_codes_minus_those_that_are_not_money() -> None:
    iso = {c.alpha_3 for c in pycountry.currencies}
    assert iso - EXCLUDED_CURRENCY_CODES == CURRENCIES
    assert EXCLUDED_CURRENCY_CODES.issubset(iso)  # the exclusion list names real ISO codes
    assert {"XOF", "XAF", "XCD", "XPF", "XDR", "USD", "EUR", "MDL"} <= CURRENCIES
    assert not {"XAU", "XAG", "XPD", "XPT", "XTS", "XXX"} & CURRENCIES
    assert len(CURRENCIES) > 150


def test_every_iso_code_parses_to_its_own_dimension() -> None:
    seen: set[str] = set()
    for code in sorted(CURRENCIES):
        expected = f"[currency_{code}]"
        assert dimensionality(code) == expected, code
        assert canonical_unit(code) == CURRENCY_UNITS[code]
        assert ureg.parse_unit_name(code) == (("", CURRENCY_UNITS[code], ""),), code
        seen.add(dimensionality(code))
    assert len(seen) == len(CURRENCIES)


# Codes that pint could read as something else if the registry were
# case-insensitive or if the code were written in lower case, and the codes
# the brief suspected. In pint 0.25's case-sensitive registry none of them is
# taken: each upper-case code is the currency, the lower-case word keeps its
# pint meaning (or stays unknown).
CURRENCY_CLASH_TABLE: list[tuple[str, str, str | None]] = [
    # (code, what pint reads case-insensitively / in lower case, lower-case dimensionality)
    ("CUP", "cup (volume)", "[length] ** 3"),
    ("GBP", "giga-point, case-insensitively", None),
    ("GYD", "giga-yard, case-insensitively", None),
    ("MYR", "mega-year case-insensitively; 'myr' = milli-year", "[time]"),
    (
        "PHP",
        "peta-horsepower case-insensitively; 'php' = pico-horsepower",
        dimensionality("horsepower"),
    ),
    ("TRY", "tera-rydberg, case-insensitively", None),
    ("TTD", "tera-townsend, case-insensitively", None),
    ("KHR", "'khr' = kilo-hour", "[time]"),
    ("KYD", "'kyd' = kilo-yard", "[length]"),
    ("ALL", "nothing", None),
    ("GEL", "nothing", None),
    ("BAM", "nothing", None),
    ("MOP", "nothing", None),
    ("TOP", "nothing", None),
    ("PEN", "nothing", None),
    ("BOB", "nothing", None),
    ("CAD", "nothing", None),
]


@pytest.mark.parametrize(("code", "pint_reading", "lower_dims"), CURRENCY_CLASH_TABLE)
def test_currency_clash_table(code: str, pint_reading: str, lower_dims: str | None) -> None:
    assert pint_reading
    assert code in CURRENCIES
    assert CURRENCY_UNITS[code] == code  # the code itself is the unit name: it wins
    assert dimensionality(code) == f"[currency_{code}]"
    assert sdmx_unit_measure(code) == code
    if lower_dims is None:
        with pytest.raises(UnitError):
            parse_quantity(code.lower())
    else:
        assert dimensionality(code.lower()) == lower_dims


def test_no_currency_clashes_with_this_pint() -> None:
    # If a pint upgrade makes a code an existing unit name, this fails and the
    # clash table above needs a new row (the code is then `currency_<CODE>`).
    assert dict(CURRENCY_CLASHES) == {}
    assert all(name == code for code, name in CURRENCY_UNITS.items())


def test_a_clashing_code_is_renamed_and_a_prefixed_reading_loses() -> None:
    registry: pint.UnitRegistry[float] = pint.UnitRegistry(None)
    registry.define("giga- = 1e9 = G-")
    registry.define("cupful = [volume] = CUP")  # CUP already an exact symbol
    registry.define("BP = [basis]")  # GBP readable as giga-BP
    names, clashes = units._define_currencies(registry, ["CUP", "GBP", "USD"])
    assert names == {"CUP": "currency_CUP", "GBP": "GBP", "USD": "USD"}
    assert set(clashes) == {"CUP", "GBP"}
    assert "currency_CUP" in clashes["CUP"]
    assert "wins" in clashes["GBP"]
    assert str(registry.get_dimensionality("currency_CUP")) == "[currency_CUP]"
    assert str(registry.get_dimensionality("GBP")) == "[currency_GBP]"


def test_currencies_are_never_converted_by_pint() -> None:
    assert not same_dimension("USD", "EUR")
    assert not units_equivalent("USD", "EUR")


RATES = {("USD", "EUR"): 0.9, ("MDL", "USD"): 0.05}


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (10.0, "USD", "EUR", 9.0),  # direct
        (9.0, "EUR", "USD", 10.0),  # inverse pair
        (100.0, "MDL", "USD", 5.0),
        (5.0, "USD", "MDL", 100.0),
        (2.0, "1e6 USD", "1e6 EUR", 1.8),  # scaled on both sides
        (2.0, "1e6 USD", "EUR", 1.8e6),  # scaled source
        (1.8e6, "EUR", "1e6 USD", 2.0),  # scaled target
        (3.0, "kUSD", "USD", 3000.0),  # same currency, no rate needed
        (10.0, "USD / person", "EUR / person", 9.0),
        (10.0, "USD / person", "EUR / household * household / person", 9.0),
    ],
)
def test_convert_currency(value: float, source: str, target: str, expected: float) -> None:
    assert math.isclose(convert_currency(value, source, target, RATES), expected)


def test_convert_currency_same_currency_needs_no_rates() -> None:
    assert convert_currency(5.0, "1e6 MDL", "MDL", {}) == 5e6


def test_convert_currency_missing_rate_names_the_pair() -> None:
    with pytest.raises(UnitError, match=r"EUR to MDL") as info:
        convert_currency(1.0, "EUR", "MDL", RATES)
    assert "('EUR', 'MDL')" in str(info.value)
    assert "('MDL', 'EUR')" in str(info.value)
    assert info.value.unit == "EUR"


@pytest.mark.parametrize("rate", [0.0, -1.0, math.inf, math.nan])
def test_convert_currency_refuses_bad_rates(rate: float) -> None:
    with pytest.raises(UnitError, match="positive finite"):
        convert_currency(1.0, "USD", "EUR", {("USD", "EUR"): rate})


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("person", "EUR"),  # not money
        ("USD", "percent"),
        ("USD * EUR", "EUR"),  # two currencies
        ("USD ** 2", "EUR ** 2"),
        ("USD / person", "EUR"),  # differs in more than the currency
    ],
)
def test_convert_currency_refuses_non_currency_units(source: str, target: str) -> None:
    with pytest.raises(UnitError, match="expected"):
        convert_currency(1.0, source, target, {("USD", "EUR"): 0.9})


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------


def test_registry_is_case_sensitive_and_keeps_pint_defaults() -> None:
    assert isinstance(ureg, pint.UnitRegistry)
    assert math.isclose(parse_quantity("year").to("day").magnitude, 365.25)
    assert dimensionality("cup") == "[length] ** 3"
    assert dimensionality("CUP") == "[currency_CUP]"


def test_sdmx_code_table_covers_the_named_units() -> None:
    for name in ("person", "household", "event", "percent", "per_1000", "per_100000"):
        assert name in SDMX_UNIT_CODES
    assert SDMX_UNIT_CODES["percentage_point"] == "PP"
    assert SDMX_UNIT_CODES["year_of_age"] == "YR"
