"""Typed definitions of the catalogue.

These pydantic models are inert data: they describe codelists, dimensions,
parameters, populations, indicators and crosswalks, check their own internal
consistency, and compute nothing. Cross-references between definitions (an
indicator naming a population, a dimension naming a codelist, ...) are checked
by :func:`migprofile.load_catalog`, which sees the whole catalogue.

All models are frozen and strict: values are not coerced (``"1"`` is not an
integer), unknown fields are refused. Sequences are stored as tuples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from migprofile.catalog.filters import Expr, parse_filter
from migprofile.errors import UnknownCodeError

__all__ = [
    "MEASURES",
    "SOURCE_KINDS",
    "TABLES",
    "CalculatorInput",
    "Code",
    "Codelist",
    "Crosswalk",
    "CrosswalkEntry",
    "Dimension",
    "Indicator",
    "Level",
    "LocalisedText",
    "MeasureKind",
    "Parameter",
    "Population",
    "Reference",
    "SourceKind",
    "Table",
    "Term",
]

Table: TypeAlias = Literal["persons", "households", "events", "series"]
TABLES: tuple[Table, ...] = ("persons", "households", "events", "series")

MeasureKind: TypeAlias = Literal[
    "count", "total", "share", "ratio", "rate", "mean", "median", "derived"
]
MEASURES: tuple[MeasureKind, ...] = (
    "count",
    "total",
    "share",
    "ratio",
    "rate",
    "mean",
    "median",
    "derived",
)

SourceKind: TypeAlias = Literal[
    "census",
    "survey",
    "population_register",
    "residence_permits",
    "border_crossings",
    "consular_register",
    "balance_of_payments",
    "national_accounts",
    "published_table",
    "mirror_statistics",
    "asylum_records",
    "administrative",
]
SOURCE_KINDS: tuple[str, ...] = SourceKind.__args__  # type: ignore[attr-defined]

Domain: TypeAlias = Literal[
    "stocks",
    "flows",
    "emigration",
    "return",
    "labour",
    "education",
    "children",
    "remittances",
    "protection",
    "propensity",
    "social",
]

Sector: TypeAlias = Literal[
    "population",
    "migration_policy",
    "labour",
    "education",
    "health",
    "social_protection",
    "children",
    "diaspora",
    "development",
    "economy",
    "protection",
]

_ID = r"^[A-Za-z][A-Za-z0-9_]*$"
_CODE = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"

Id = Annotated[str, Field(pattern=_ID, max_length=80)]
CodeId = Annotated[str, Field(pattern=_CODE, max_length=40)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


def _tuple(value: Any) -> Any:
    """YAML gives lists; the models store tuples."""
    return tuple(value) if isinstance(value, list) else value


class LocalisedText(_Model):
    """A text in several languages; English (``en``) is required.

    In YAML, a plain string is the English text and a mapping gives the others:
    ``{en: Female, fr: Femme}``.
    """

    texts: dict[str, str]

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"texts": {"en": value}}
        if isinstance(value, Mapping) and "texts" not in value:
            return {"texts": dict(value)}
        return value

    @field_validator("texts")
    @classmethod
    def _check(cls, texts: dict[str, str]) -> dict[str, str]:
        if "en" not in texts:
            raise ValueError("an English text (key 'en') is required")
        for lang, text in texts.items():
            if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", lang):
                raise ValueError(f"{lang!r} is not a language code such as 'en' or 'fr'")
            if not text.strip():
                raise ValueError(f"the {lang!r} text is empty")
        return texts

    @model_serializer
    def _to_yaml(self) -> str | dict[str, str]:
        return self.texts["en"] if list(self.texts) == ["en"] else dict(self.texts)

    def get(self, lang: str = "en") -> str:
        """The text in ``lang``, falling back to English."""
        return self.texts.get(lang) or self.texts["en"]

    def __str__(self) -> str:
        return self.texts["en"]


Text = LocalisedText


# --------------------------------------------------------------------------- codelists


class Level(_Model):
    """A named level of a codelist hierarchy (``region``, ``five_year``, ...)."""

    id: Id
    name: Text


class Code(_Model):
    """One code of a codelist."""

    id: CodeId
    name: Text
    parent: CodeId | None = None
    level: Id | None = None
    description: Text | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class Codelist(_Model):
    """Codes with labels, an optional hierarchy (one parent per code) with
    named levels, and named sets of codes usable in filters."""

    id: Id
    name: Text
    description: Text | None = None
    sdmx_id: str | None = None
    agency: str | None = None
    version: str | None = None
    levels: tuple[Level, ...] = ()
    codes: tuple[Code, ...]
    sets: dict[Id, tuple[CodeId, ...]] = Field(default_factory=dict)

    _normalise = field_validator("levels", "codes", mode="before")(_tuple)

    @field_validator("sets", mode="before")
    @classmethod
    def _sets(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: _tuple(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check(self) -> Codelist:
        problems: list[str] = []
        seen: set[str] = set()
        for code in self.codes:
            if code.id in seen:
                problems.append(f"code {code.id!r} is listed twice")
            seen.add(code.id)
        level_ids = [lv.id for lv in self.levels]
        if len(set(level_ids)) != len(level_ids):
            problems.append("a level is declared twice")
        for code in self.codes:
            if code.parent is not None and code.parent not in seen:
                problems.append(f"code {code.id!r} has parent {code.parent!r}, not in the list")
            if code.level is not None and code.level not in level_ids:
                problems.append(
                    f"code {code.id!r} has level {code.level!r}; declared levels: {level_ids}"
                )
        parents = {c.id: c.parent for c in self.codes}
        for start in parents:
            path = [start]
            node = parents.get(start)
            while node is not None:
                if node in path:
                    problems.append(f"codes {' -> '.join([*path, node])} form a cycle")
                    break
                path.append(node)
                node = parents.get(node)
            if problems and "cycle" in problems[-1]:
                break
        for name, members in self.sets.items():
            if name in level_ids:
                problems.append(f"set {name!r} has the name of a level")
            for member in members:
                if member not in seen:
                    problems.append(f"set {name!r} names {member!r}, not a code of the list")
            if len(set(members)) != len(members):
                problems.append(f"set {name!r} names a code twice")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- look-ups (cached: the models are immutable)

    @cached_property
    def _by_id(self) -> dict[str, Code]:
        return {c.id: c for c in self.codes}

    @cached_property
    def _children(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for c in self.codes:
            if c.parent is not None:
                out.setdefault(c.parent, []).append(c.id)
        return {k: tuple(v) for k, v in out.items()}

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_id

    def __iter__(self) -> Iterator[Code]:  # type: ignore[override]
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.codes)

    def code(self, code: str) -> Code:
        """The code ``code``; :class:`UnknownCodeError` if it is not in the list."""
        try:
            return self._by_id[code]
        except KeyError:
            raise UnknownCodeError(code, self.id) from None

    def label(self, code: str, lang: str = "en") -> str:
        return self.code(code).name.get(lang)

    def children(self, code: str) -> tuple[str, ...]:
        self.code(code)
        return self._children.get(code, ())

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Parent, grandparent, ... of ``code`` (nearest first)."""
        out: list[str] = []
        node = self.code(code).parent
        while node is not None:
            out.append(node)
            node = self._by_id[node].parent
        return tuple(out)

    def descendants(self, code: str) -> tuple[str, ...]:
        """Every code below ``code``, depth first."""
        out: list[str] = []
        stack = list(reversed(self.children(code)))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(self._children.get(node, ())))
        return tuple(out)

    def leaves(self, code: str) -> tuple[str, ...]:
        """The codes without children below ``code`` (``code`` itself if it has none)."""
        below = self.descendants(code)
        if not below:
            return (code,)
        return tuple(c for c in below if c not in self._children)

    def at_level(self, level: str) -> tuple[str, ...]:
        if level not in {lv.id for lv in self.levels}:
            raise KeyError(f"codelist {self.id!r} has no level {level!r}")
        return tuple(c.id for c in self.codes if c.level == level)

    def group_codes(self, name: str) -> tuple[str, ...]:
        """The codes of the named set, or else of the level ``name`` (the
        groups a breakdown ``dim:name`` shows); ``KeyError`` if neither."""
        if name in self.sets:
            return tuple(self.sets[name])
        return self.at_level(name)

    def roll_up(self, code: str, level: str) -> str | None:
        """The ancestor of ``code`` at ``level`` (``code`` itself if it is at that
        level), or ``None`` when the hierarchy has none (Antarctica has no M49
        region)."""
        if self.code(code).level == level:
            return code
        for anc in self.ancestors(code):
            if self._by_id[anc].level == level:
                return anc
        return None

    def has_name(self, name: str) -> bool:
        """Whether ``name`` is a set or a level of the list (usable as ``list.name``
        in a filter)."""
        return name in self.sets or any(lv.id == name for lv in self.levels)

    def attribute_crosswalk(self, attribute: str) -> Crosswalk:
        """A crosswalk from one attribute of the codes to the codes, e.g. the
        M49 numbers of ``geo`` (``"498"`` and ``"0498"``-free ``498`` alike) to
        ISO alpha-3. Sources name it ``<codelist>.<attribute>`` (``geo.m49``).

        A value shared by two codes is left out (it would be ambiguous);
        numeric values also match without their leading zeros.
        """
        owners: dict[str, set[str]] = {}
        for code in self.codes:
            value = code.attributes.get(attribute)
            if value is None:
                continue
            keys = {value}
            if value.isdigit():
                keys.add(str(int(value)))
            for key in keys:
                owners.setdefault(key, set()).add(code.id)
        if not owners:
            raise KeyError(f"no code of codelist {self.id!r} has attribute {attribute!r}")
        entries = [
            CrosswalkEntry.model_validate({"from": key, "to": next(iter(ids))})
            for key, ids in sorted(owners.items())
            if len(ids) == 1
        ]
        # built from validated codes: constructed directly, since its dotted
        # name is not an id a file could use
        return Crosswalk.model_construct(
            id=f"{self.id}.{attribute}",
            name=LocalisedText.model_validate(f"{self.name} by {attribute}"),
            target=self.id,
            description=None,
            unmapped="fail",
            unknown_code=None,
            map=tuple(entries),
        )

    def resolve(self, name: str) -> frozenset[str]:
        """The codes a filter means by ``<list>.<name>``.

        A named set gives its members and every code below them in the
        hierarchy, so that ``occupation in isco.skill_high`` also selects the
        sub-major groups; a level gives every code at that level and below it.
        """
        if name in self.sets:
            roots: tuple[str, ...] = self.sets[name]
        elif any(lv.id == name for lv in self.levels):
            roots = self.at_level(name)
        else:
            raise KeyError(f"codelist {self.id!r} has no set or level {name!r}")
        out: set[str] = set()
        for root in roots:
            out.add(root)
            out.update(self.descendants(root))
        return frozenset(out)


# --------------------------------------------------------------------------- dimensions


class Dimension(_Model):
    """A harmonised variable of one or more of the four tables."""

    id: Id
    name: Text
    kind: Literal["coded", "numeric", "boolean", "date", "text"]
    codelist: Id | None = None
    tables: tuple[Table, ...]
    description: Text | None = None
    unit: str | None = None

    _normalise = field_validator("tables", mode="before")(_tuple)

    @model_validator(mode="after")
    def _check(self) -> Dimension:
        if self.kind == "coded" and self.codelist is None:
            raise ValueError("a coded dimension needs a codelist")
        if self.kind in ("boolean", "date", "text") and self.codelist is not None:
            raise ValueError(f"a {self.kind} dimension has no codelist")
        if not self.tables:
            raise ValueError("a dimension belongs to at least one table")
        return self


class Parameter(_Model):
    """A definitional choice that filters refer to as ``@id``."""

    id: Id
    name: Text
    type: Literal["code", "integer", "number", "string", "boolean"]
    codelist: Id | None = None
    default: str | int | float | bool | None = None
    allowed: tuple[str | int | float | bool, ...] | None = None
    description: Text | None = None

    _normalise = field_validator("allowed", mode="before")(_tuple)

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.type == "code" and self.codelist is None:
            raise ValueError("a parameter of type code needs a codelist")
        if self.type != "code" and self.codelist is not None:
            raise ValueError("only a parameter of type code has a codelist")
        for value in (
            *(self.allowed or ()),
            *(() if self.default is None else (self.default,)),
        ):
            if not _value_has_type(value, self.type):
                raise ValueError(f"value {value!r} is not of type {self.type}")
        if (
            self.allowed is not None
            and self.default is not None
            and self.default not in self.allowed
        ):
            raise ValueError(f"default {self.default!r} is not among {list(self.allowed)}")
        return self


def _value_has_type(value: object, type_: str) -> bool:
    if type_ in ("code", "string"):
        return isinstance(value, str)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------- populations


def _parse_checked(text: str) -> str:
    parse_filter(text)  # raises FilterSyntaxError (a ValueError) with the position
    return text


class Population(_Model):
    """A named subpopulation of one table, defined by a filter."""

    id: Id
    name: Text
    table: Table = "persons"
    filter: str
    description: Text | None = None

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: str) -> str:
        return _parse_checked(value)

    @cached_property
    def expr(self) -> Expr:
        """The parsed filter."""
        return parse_filter(self.filter)


class Term(_Model):
    """Numerator or denominator of an indicator: a population (by reference or
    an inline filter) and, for sums, the variable summed."""

    population: Id | None = None
    filter: str | None = None
    table: Table | None = None
    variable: Id | None = None

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        return None if value is None else _parse_checked(value)

    @model_validator(mode="after")
    def _check(self) -> Term:
        if (self.population is None) == (self.filter is None):
            raise ValueError("give exactly one of 'population' and 'filter'")
        if self.population is not None and self.table is not None:
            raise ValueError("'table' goes with an inline 'filter'; a population has its own")
        return self

    @cached_property
    def expr(self) -> Expr:
        """The parsed inline filter; a term naming a population has none (the
        catalogue resolves it: :meth:`Catalog.expr_of`)."""
        if self.filter is None:
            raise ValueError(f"this term names population {self.population!r}, not a filter")
        return parse_filter(self.filter)


class Reference(_Model):
    """A reference to the standard or document an indicator follows."""

    document: str
    short: str | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    section: str | None = None
    url: str | None = None


IndicatorId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=60)]


class CalculatorInput(_Model):
    """One input of a derived indicator: another indicator of the catalogue,
    computed on the same data and breakdowns, optionally within a domain
    (``where``), with a parameter moved (``shift``: ``{ref_year: -5}``), or
    broken down by one more dimension (``over``) that the calculator uses.

    Instead of one ``indicator``, ``parameter`` and ``choices`` pick the input
    by the value of a definitional parameter (``{ALL_RESIDENTS: X,
    NATIVE_BORN: Y}``).
    """

    indicator: IndicatorId | None = None
    parameter: Id | None = None
    choices: dict[str, IndicatorId] | None = None
    where: str | None = None
    over: Id | None = None
    shift: dict[Id, int] = Field(default_factory=dict)

    @field_validator("where")
    @classmethod
    def _where(cls, value: str | None) -> str | None:
        return None if value is None else _parse_checked(value)

    @model_validator(mode="after")
    def _check(self) -> CalculatorInput:
        if (self.indicator is None) == (self.choices is None):
            raise ValueError("give exactly one of 'indicator' and 'choices'")
        if (self.parameter is None) != (self.choices is None):
            raise ValueError("'choices' go with the 'parameter' whose value picks one")
        if self.choices is not None and not self.choices:
            raise ValueError("'choices' is empty")
        return self

    def candidates(self) -> tuple[str, ...]:
        """Every indicator this input may be (one, or one per choice)."""
        if self.indicator is not None:
            return (self.indicator,)
        return tuple(dict.fromkeys((self.choices or {}).values()))

    def pick(self, params: Mapping[str, object]) -> str:
        """The indicator to compute under these parameter values."""
        if self.indicator is not None:
            return self.indicator
        value = params.get(self.parameter or "")
        choices = self.choices or {}
        if not isinstance(value, str) or value not in choices:
            raise KeyError(
                f"parameter {self.parameter!r} is {value!r}; expected one of {sorted(choices)}"
            )
        return choices[value]


_NEEDS_DENOMINATOR = {"share", "ratio", "rate"}
_NEEDS_VARIABLE = {"total", "mean", "median"}


class Indicator(_Model):
    """An indicator of the profile: what it measures, how, in which unit, by
    which breakdowns, from which sources, and after which standard."""

    id: IndicatorId
    name: Text
    domain: Domain
    definition: Text
    measure: MeasureKind
    numerator: Term | None = None
    denominator: Term | None = None
    calculator: Id | None = None
    inputs: dict[Id, CalculatorInput] = Field(default_factory=dict)
    options: dict[Id, str | int | float | bool] = Field(default_factory=dict)
    multiplier: float = 1.0
    unit: str
    breakdowns: tuple[Id, ...] = ()
    default_breakdowns: tuple[Id, ...] = ()
    source_kinds: tuple[SourceKind, ...]
    references: tuple[Reference, ...] = ()
    standard: Literal["none"] | None = None
    sectors: tuple[Sector, ...] = ()
    sdg: tuple[str, ...] = ()
    mics: tuple[str, ...] = ()
    parameters: tuple[Id, ...] = ()
    comparability: Text | None = None

    _normalise = field_validator(
        "breakdowns",
        "default_breakdowns",
        "source_kinds",
        "references",
        "sectors",
        "sdg",
        "mics",
        "parameters",
        mode="before",
    )(_tuple)

    @field_validator("multiplier", mode="before")
    @classmethod
    def _multiplier(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str, info: ValidationInfo) -> str:
        from migprofile import units  # pint loads on first use, not on import

        measure = info.data.get("measure")
        if measure is None:  # the measure itself is invalid; reported on its own
            return value
        if measure == "derived":
            # the calculator decides which units suit it (checked by the loader)
            try:
                units.parse_unit(value)
            except units.UnitError as exc:
                raise ValueError(str(exc)) from None
            return value
        message = units.check_measure_unit(measure, value)
        if message:
            raise ValueError(message)
        return value

    @field_validator("sdg")
    @classmethod
    def _sdg(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"\d{1,2}\.[0-9a-z]{1,2}\.\d{1,2}", code):
                raise ValueError(f"{code!r} is not an SDG indicator number such as '10.7.4'")
        return value

    @model_validator(mode="after")
    def _check(self) -> Indicator:
        problems: list[str] = []
        if self.measure == "derived":
            if self.calculator is None or not self.inputs:
                problems.append("a derived indicator names its 'calculator' and its 'inputs'")
            if self.numerator is not None or self.denominator is not None:
                problems.append(
                    "a derived indicator is computed from its inputs; it has no "
                    "numerator or denominator"
                )
        else:
            if self.numerator is None:
                problems.append(f"a {self.measure} needs a numerator")
            if self.calculator is not None or self.inputs or self.options:
                problems.append(
                    "only a derived indicator (measure: derived) has a calculator, "
                    "inputs and options"
                )
        if self.measure in _NEEDS_DENOMINATOR and self.denominator is None:
            problems.append(f"a {self.measure} needs a denominator")
        if self.measure not in _NEEDS_DENOMINATOR and self.denominator is not None:
            problems.append(f"a {self.measure} has no denominator")
        variable = None if self.numerator is None else self.numerator.variable
        if self.measure in _NEEDS_VARIABLE and self.numerator is not None and variable is None:
            problems.append(f"a {self.measure} needs numerator.variable (the column summed)")
        if self.measure in ("count", "share") and variable is not None:
            problems.append(f"a {self.measure} counts weighted units; it has no variable")
        if not math.isfinite(self.multiplier) or self.multiplier <= 0:
            problems.append("the multiplier must be a positive number")
        if self.measure == "share" and self.multiplier not in (1.0, 100.0, 1000.0, 100000.0):
            problems.append("a share's multiplier is 1, 100, 1000 or 100000")
        extra = [b for b in self.default_breakdowns if b not in self.breakdowns]
        if extra:
            problems.append(f"default_breakdowns {extra} are not among breakdowns")
        for name in ("breakdowns", "parameters", "source_kinds", "sectors"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                problems.append(f"{name} lists a value twice")
        if self.standard == "none" and self.comparability is None:
            problems.append(
                "an indicator without an international standard explains its own "
                "definition in 'comparability'"
            )
        if self.standard is None and not self.references:
            problems.append("cite the standard in 'references', or say standard: none")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def terms(self) -> tuple[Term, ...]:
        """Numerator and denominator; none for a derived indicator."""
        return tuple(t for t in (self.numerator, self.denominator) if t is not None)

    @property
    def is_derived(self) -> bool:
        """Computed by a registered calculator from other indicators."""
        return self.measure == "derived"


# --------------------------------------------------------------------------- crosswalks


class CrosswalkEntry(_Model):
    """One rule of a crosswalk: a source code, or an inclusive numeric range."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(default=None, alias="from")
    from_range: tuple[float, float] | None = None
    to: CodeId

    @field_validator("from_", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        # Source codes are compared as text: 1 and "1" are the same code.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("from_range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(float(v) if isinstance(v, int) else v for v in value)
        return value

    @model_validator(mode="after")
    def _check(self) -> CrosswalkEntry:
        if (self.from_ is None) == (self.from_range is None):
            raise ValueError("give exactly one of 'from' and 'from_range'")
        if self.from_range is not None and self.from_range[0] > self.from_range[1]:
            raise ValueError(f"range {list(self.from_range)} is empty: its start is after its end")
        return self


class Crosswalk(_Model):
    """Source codes (or numeric ranges) to the codes of a standard codelist;
    many-to-one."""

    id: Id
    name: Text
    target: Id
    description: Text | None = None
    unmapped: Literal["fail", "unknown"] = "fail"
    unknown_code: CodeId | None = None
    map: tuple[CrosswalkEntry, ...]

    _normalise = field_validator("map", mode="before")(_tuple)

    @model_validator(mode="after")
    def _check(self) -> Crosswalk:
        problems: list[str] = []
        if self.unmapped == "unknown" and self.unknown_code is None:
            problems.append("unmapped: unknown needs an unknown_code")
        seen: dict[str, str] = {}
        for entry in self.map:
            if entry.from_ is None:
                continue
            if entry.from_ in seen and seen[entry.from_] != entry.to:
                problems.append(
                    f"source code {entry.from_!r} maps to both {seen[entry.from_]!r} "
                    f"and {entry.to!r}"
                )
            seen[entry.from_] = entry.to
        ranges = sorted(e.from_range for e in self.map if e.from_range is not None)
        for (lo1, hi1), (lo2, hi2) in pairwise(ranges):
            if lo2 <= hi1:
                problems.append(f"ranges [{lo1:g}, {hi1:g}] and [{lo2:g}, {hi2:g}] overlap")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def _exact(self) -> dict[str, str]:
        return {e.from_: e.to for e in self.map if e.from_ is not None}

    @cached_property
    def _ranges(self) -> tuple[tuple[float, float, str], ...]:
        return tuple(
            (e.from_range[0], e.from_range[1], e.to) for e in self.map if e.from_range is not None
        )

    def lookup(self, value: object) -> str | None:
        """The standard code of one source value, or ``None`` if unmapped.

        Exact source codes are compared as text; a numeric value that no exact
        code matches is tried against the ranges.
        """
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        key = _source_text(value)
        if key in self._exact:
            return self._exact[key]
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is not None:
            for lo, hi, to in self._ranges:
                if lo <= number <= hi:
                    return to
        return None


def _source_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
