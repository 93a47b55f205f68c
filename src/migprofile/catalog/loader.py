"""Reading catalogue folders into one checked :class:`Catalog`.

A catalogue is the bundled folders (``metadata/`` and ``indicators/``) plus any
folders a user adds. Every YAML file may hold several kinds of definition
under top-level keys (``codelists``, ``dimensions``, ``parameters``,
``populations``, ``indicators``, ``crosswalks``). A definition in a later
folder overrides the one with the same kind and id in an earlier folder; the
same id twice within one folder is an error.

Loading collects every problem of every file (YAML syntax, forbidden tags,
fields, cross-references, units, codes named in filters) and raises them
together in one :class:`~migprofile.errors.CatalogError`; each problem names
its file, line, definition id and field.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from migprofile._resources import bundled_dirs
from migprofile.catalog import filters as flt
from migprofile.catalog.filters import parse_filter
from migprofile.catalog.models import (
    Codelist,
    Crosswalk,
    Dimension,
    Indicator,
    Parameter,
    Population,
    Table,
    Term,
)
from migprofile.errors import CatalogError, MigprofileError, Problem

__all__ = [
    "KINDS",
    "Catalog",
    "Origin",
    "UnknownDefinitionError",
    "catalog_problems",
    "load_catalog",
]

Kind: TypeAlias = Literal[
    "codelists", "dimensions", "parameters", "populations", "indicators", "crosswalks"
]
KINDS: dict[str, type[BaseModel]] = {
    "codelists": Codelist,
    "dimensions": Dimension,
    "parameters": Parameter,
    "populations": Population,
    "indicators": Indicator,
    "crosswalks": Crosswalk,
}
_SINGULAR = {
    "codelists": "codelist",
    "dimensions": "dimension",
    "parameters": "parameter",
    "populations": "population",
    "indicators": "indicator",
    "crosswalks": "crosswalk",
}

M = TypeVar("M", bound=BaseModel)
PathLike: TypeAlias = str | os.PathLike[str] | Traversable


class UnknownDefinitionError(KeyError, MigprofileError):
    """No definition of that kind and id in the catalogue."""

    def __init__(self, kind: str, id: str, known: Iterable[str] = ()) -> None:
        self.kind = kind
        self.id = id
        close = difflib.get_close_matches(id, list(known), n=5, cutoff=0.6)
        self.hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(id)

    def __str__(self) -> str:
        return f"no {self.kind} {self.id!r} in the catalogue{self.hint}"


@dataclass(frozen=True)
class Origin:
    """Where a definition came from."""

    file: str
    line: int | None
    folder: str


@dataclass(frozen=True)
class Catalog:
    """Every definition of the catalogue, checked, keyed by id."""

    codelists: Mapping[str, Codelist]
    dimensions: Mapping[str, Dimension]
    parameters: Mapping[str, Parameter]
    populations: Mapping[str, Population]
    indicators: Mapping[str, Indicator]
    crosswalks: Mapping[str, Crosswalk]
    origins: Mapping[tuple[str, str], Origin] = field(repr=False)
    folders: tuple[str, ...] = ()

    def _get(self, kind: Kind, id: str) -> Any:
        table: Mapping[str, Any] = getattr(self, kind)
        try:
            return table[id]
        except KeyError:
            raise UnknownDefinitionError(_SINGULAR[kind], id, table) from None

    def indicator(self, id: str) -> Indicator:
        return cast(Indicator, self._get("indicators", id))

    def codelist(self, id: str) -> Codelist:
        return cast(Codelist, self._get("codelists", id))

    def dimension(self, id: str) -> Dimension:
        return cast(Dimension, self._get("dimensions", id))

    def population(self, id: str) -> Population:
        return cast(Population, self._get("populations", id))

    def parameter(self, id: str) -> Parameter:
        return cast(Parameter, self._get("parameters", id))

    def crosswalk(self, id: str) -> Crosswalk:
        return cast(Crosswalk, self._get("crosswalks", id))

    def origin(self, kind: Kind, id: str) -> Origin:
        """The file and line a definition was read from."""
        self._get(kind, id)
        return self.origins[(kind, id)]

    def resolve(self, ref: flt.CodeRef) -> frozenset[str]:
        """The codes meant by ``list.name`` in a filter."""
        return self.codelist(ref.namespace).resolve(ref.name)

    def domains(self) -> tuple[str, ...]:
        return tuple(sorted({i.domain for i in self.indicators.values()}))

    def select(self, domain: str | None = None, sector: str | None = None) -> list[Indicator]:
        """Indicators of a domain and/or informing a policy sector, by id."""
        return [
            ind
            for _, ind in sorted(self.indicators.items())
            if (domain is None or ind.domain == domain)
            and (sector is None or sector in ind.sectors)
        ]

    def table_of(self, term: Term) -> Table:
        """The table a numerator or denominator is evaluated on."""
        if term.population is not None:
            return self.population(term.population).table
        return term.table or "persons"

    def expr_of(self, term: Term) -> flt.Expr:
        """The parsed filter of a numerator or denominator."""
        if term.population is not None:
            return self.population(term.population).expr
        return term.expr


# --------------------------------------------------------------------------- YAML with lines


class _Dict(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class _List(list[Any]):
    line: int = 0


class _Loader(yaml.SafeLoader):
    """The safe loader, keeping line numbers and refusing duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Dict:
    loader.flatten_mapping(node)
    out = _Dict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in out:
            loader.duplicates.append((str(key), key_node.start_mark.line + 1))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _List:
    out = _List(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _plain(value: Any) -> Any:
    """Drop the line bookkeeping: pydantic sees plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _line_at(node: Any, loc: Sequence[int | str]) -> int | None:
    """The line of the deepest node of ``loc`` that can be found."""
    line: int | None = getattr(node, "line", None)
    for part in loc:
        if isinstance(node, _Dict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, _List) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def _read_yaml(text: str, file: str, problems: list[Problem]) -> Any:
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        tag = str(exc.problem or "")
        forbidden = "constructor for the tag" in tag
        problems.append(
            Problem(
                code="forbidden_tag" if forbidden else "bad_yaml",
                message=(
                    "YAML tags that build objects are refused; files are read as plain data"
                    if forbidden
                    else f"YAML is not plain data: {tag}"
                ),
                file=file,
                line=None if mark is None else mark.line + 1,
                value=tag.split("'")[1] if forbidden and "'" in tag else None,
            )
        )
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(
            Problem(
                code="bad_yaml",
                message=f"malformed YAML: {getattr(exc, 'problem', None) or exc}",
                file=file,
                line=None if mark is None else mark.line + 1,
            )
        )
        return None
    finally:
        loader.dispose()
    for key, line in loader.duplicates:
        problems.append(
            Problem(
                code="duplicate_key",
                message="a key appears twice in one mapping; the first would be lost",
                file=file,
                line=line,
                value=key,
            )
        )
    return data


# --------------------------------------------------------------------------- files and folders


def _yaml_files(folder: Traversable) -> Iterator[Traversable]:
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _yaml_files(entry)
        elif entry.name.endswith((".yaml", ".yml")):
            yield entry


def _display(path: Traversable, folder: Traversable, label: str) -> str:
    try:
        return str(Path(str(path)).relative_to(Path(str(folder)).parent))
    except ValueError:
        return f"{label}/{path.name}"


@dataclass
class _Entry:
    kind: str
    model: BaseModel
    origin: Origin


def _read_folder(folder: Traversable, problems: list[Problem]) -> list[_Entry]:
    entries: list[_Entry] = []
    label = folder.name
    for path in _yaml_files(folder):
        file = _display(path, folder, label)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(
                    code="bad_encoding",
                    message=f"not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})",
                    file=file,
                )
            )
            continue
        before = len(problems)
        data = _read_yaml(text, file, problems)
        if data is None:
            if len(problems) == before:
                problems.append(Problem(code="empty_file", message="the file is empty", file=file))
            continue
        if not isinstance(data, dict):
            problems.append(
                Problem(
                    code="bad_structure",
                    message="a catalogue file is a mapping of kinds to lists of definitions",
                    file=file,
                    line=1,
                    expected=", ".join(KINDS),
                )
            )
            continue
        for kind, items in data.items():
            line = data.key_lines.get(kind) if isinstance(data, _Dict) else None
            if kind not in KINDS:
                problems.append(
                    Problem(
                        code="unknown_kind",
                        message="unknown top-level key",
                        file=file,
                        line=line,
                        value=str(kind),
                        expected="one of " + ", ".join(KINDS),
                    )
                )
                continue
            if not isinstance(items, list):
                problems.append(
                    Problem(
                        code="bad_structure",
                        message=f"{kind} holds a list of definitions",
                        file=file,
                        line=line,
                        field=kind,
                    )
                )
                continue
            model_type = KINDS[kind]
            for item in items:
                entry = _validate_item(kind, model_type, item, file, label, problems)
                if entry is not None:
                    entries.append(entry)
    return entries


def _validate_item(
    kind: str,
    model_type: type[BaseModel],
    item: Any,
    file: str,
    folder: str,
    problems: list[Problem],
) -> _Entry | None:
    line = getattr(item, "line", None)
    if not isinstance(item, dict):
        problems.append(
            Problem(
                code="bad_structure",
                message=f"each entry of {kind} is a mapping",
                file=file,
                line=line,
                value=repr(item)[:60],
            )
        )
        return None
    raw_id = item.get("id")
    ident = raw_id if isinstance(raw_id, str) else None
    try:
        model = model_type.model_validate(_plain(item))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            field_name = ".".join(str(p) for p in loc) or None
            value = err.get("input")
            shown = None if isinstance(value, dict | list) else repr(value)[:80]
            problems.append(
                Problem(
                    code=_pydantic_code(err["type"], loc),
                    message=_pydantic_message(err),
                    file=file,
                    line=_line_at(item, loc),
                    id=ident,
                    field=field_name,
                    value=shown if shown is None else str(value)[:80],
                )
            )
        return None
    return _Entry(kind, model, Origin(file=file, line=line, folder=folder))


def _pydantic_code(kind: str, loc: tuple[Any, ...]) -> str:
    if kind == "missing":
        return "missing_field"
    if kind == "extra_forbidden":
        return "unknown_field"
    if kind in ("literal_error", "enum"):
        return "not_allowed"
    if loc and loc[-1] == "unit":
        return "bad_unit"
    if loc and loc[-1] == "filter":
        return "bad_filter"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "wrong_type"
    return "invalid"


def _pydantic_message(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


# --------------------------------------------------------------------------- cross-checks


class _Checker:
    def __init__(
        self, defs: dict[str, dict[str, BaseModel]], origins: dict[tuple[str, str], Origin]
    ):
        self.codelists = cast(dict[str, Codelist], defs["codelists"])
        self.dimensions = cast(dict[str, Dimension], defs["dimensions"])
        self.parameters = cast(dict[str, Parameter], defs["parameters"])
        self.populations = cast(dict[str, Population], defs["populations"])
        self.indicators = cast(dict[str, Indicator], defs["indicators"])
        self.crosswalks = cast(dict[str, Crosswalk], defs["crosswalks"])
        self.origins = origins
        self.problems: list[Problem] = []

    def add(self, kind: str, id: str, code: str, message: str, **kw: Any) -> None:
        origin = self.origins.get((kind, id))
        self.problems.append(
            Problem(
                code=code,
                message=message,
                file=origin.file if origin else None,
                line=origin.line if origin else None,
                id=id,
                **kw,
            )
        )

    def run(self) -> list[Problem]:
        for dim in self.dimensions.values():
            if dim.codelist is not None and dim.codelist not in self.codelists:
                self.add(
                    "dimensions",
                    dim.id,
                    "unknown_codelist",
                    "unknown codelist",
                    field="codelist",
                    value=dim.codelist,
                )
            if dim.unit is not None:
                self._unit("dimensions", dim.id, dim.unit)
        for par in self.parameters.values():
            self._parameter(par)
        for pop in self.populations.values():
            self._filter("populations", pop.id, "filter", pop.expr, pop.table)
        for ind in self.indicators.values():
            self._indicator(ind)
        for cw in self.crosswalks.values():
            self._crosswalk(cw)
        return self.problems

    def _unit(self, kind: str, id: str, unit: str) -> None:
        from migprofile import units  # pint loads on first use, not on import

        try:
            units.parse_unit(unit)
        except units.UnitError as exc:
            self.add(kind, id, "bad_unit", str(exc), field="unit", value=unit)

    def _parameter(self, par: Parameter) -> None:
        if par.codelist is None:
            return
        codelist = self.codelists.get(par.codelist)
        if codelist is None:
            self.add(
                "parameters",
                par.id,
                "unknown_codelist",
                "unknown codelist",
                field="codelist",
                value=par.codelist,
            )
            return
        for value in (*(par.allowed or ()), *(() if par.default is None else (par.default,))):
            if value not in codelist:
                self.add(
                    "parameters",
                    par.id,
                    "unknown_code",
                    f"not a code of codelist {codelist.id!r}",
                    field="allowed",
                    value=str(value),
                )

    def _filter(self, kind: str, id: str, field_name: str, expr: flt.Expr, table: str) -> set[str]:
        """Check a parsed filter against the catalogue; return the parameters it uses."""
        for column in sorted(flt.columns(expr)):
            dim = self.dimensions.get(column)
            if dim is None:
                self.add(
                    kind,
                    id,
                    "unknown_column",
                    "the filter names an unknown dimension",
                    field=field_name,
                    value=column,
                )
            elif table not in dim.tables:
                self.add(
                    kind,
                    id,
                    "column_not_in_table",
                    f"dimension {column!r} is not a column of the {table} table",
                    field=field_name,
                    value=column,
                    expected=f"a column of {table}",
                )
        used = set(flt.params(expr))
        for name in sorted(used):
            if name not in self.parameters:
                self.add(
                    kind,
                    id,
                    "unknown_parameter",
                    "the filter names an unknown parameter",
                    field=field_name,
                    value=f"@{name}",
                )
        for ref in sorted(flt.code_refs(expr), key=lambda r: (r.namespace, r.name)):
            codelist = self.codelists.get(ref.namespace)
            if codelist is None:
                self.add(
                    kind,
                    id,
                    "unknown_codelist",
                    "the filter names an unknown codelist",
                    field=field_name,
                    value=ref.namespace,
                )
            elif not codelist.has_name(ref.name):
                self.add(
                    kind,
                    id,
                    "unknown_code_set",
                    f"codelist {ref.namespace!r} has no set or level {ref.name!r}",
                    field=field_name,
                    value=f"{ref.namespace}.{ref.name}",
                    expected="one of "
                    + ", ".join(sorted([*codelist.sets, *(lv.id for lv in codelist.levels)])),
                )
        for column, literal in flt.literal_uses(expr):
            self._literal(kind, id, field_name, column, literal.value)
        for node in _walk(expr):
            self._node(kind, id, field_name, node)
        return used

    def _literal(self, kind: str, id: str, field_name: str, column: str, value: object) -> None:
        dim = self.dimensions.get(column)
        if dim is None:
            return
        if dim.kind == "coded":
            codelist = self.codelists.get(dim.codelist or "")
            if codelist is None:
                return
            if not isinstance(value, str) or value not in codelist:
                self.add(
                    kind,
                    id,
                    "unknown_code",
                    f"{column!r} takes codes of codelist {codelist.id!r}",
                    field=field_name,
                    value=repr(value),
                    expected=f"a code of {codelist.id}",
                )
        elif dim.kind == "boolean" and not isinstance(value, bool):
            self.add(
                kind,
                id,
                "wrong_type",
                f"{column!r} is true or false",
                field=field_name,
                value=repr(value),
                expected="true or false",
            )
        elif dim.kind == "numeric" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            self.add(
                kind,
                id,
                "wrong_type",
                f"{column!r} is numeric",
                field=field_name,
                value=repr(value),
                expected="a number",
            )
        elif dim.kind in ("text", "date") and not isinstance(value, str):
            self.add(
                kind,
                id,
                "wrong_type",
                f"{column!r} is {dim.kind}",
                field=field_name,
                value=repr(value),
                expected="a quoted string",
            )

    def _node(self, kind: str, id: str, field_name: str, node: object) -> None:
        """Checks that need a node's context: a code set against the column's
        codelist, a parameter against the column's type."""
        column = getattr(node, "column", None)
        dim = self.dimensions.get(column.name) if isinstance(column, flt.Column) else None
        if dim is None:
            return
        operand = getattr(node, "values", None) or getattr(node, "operand", None)
        if isinstance(operand, flt.CodeRef) and dim.codelist not in (None, operand.namespace):
            self.add(
                kind,
                id,
                "codelist_mismatch",
                f"{dim.id!r} takes codes of {dim.codelist!r}, not of {operand.namespace!r}",
                field=field_name,
                value=f"{operand.namespace}.{operand.name}",
            )
        if isinstance(operand, flt.Param):
            par = self.parameters.get(operand.name)
            if par is None:
                return
            if dim.kind == "coded" and par.type == "code" and par.codelist != dim.codelist:
                self.add(
                    kind,
                    id,
                    "codelist_mismatch",
                    f"{dim.id!r} takes codes of {dim.codelist!r}; parameter "
                    f"@{par.id} is a code of {par.codelist!r}",
                    field=field_name,
                    value=f"@{par.id}",
                )
            expected = {
                "coded": ("code", "string"),
                "numeric": ("integer", "number"),
                "boolean": ("boolean",),
                "text": ("string", "code"),
                "date": ("string",),
            }[dim.kind]
            if par.type not in expected:
                self.add(
                    kind,
                    id,
                    "wrong_type",
                    f"{dim.id!r} is {dim.kind}; parameter @{par.id} is of type {par.type}",
                    field=field_name,
                    value=f"@{par.id}",
                )

    def _term(self, ind: Indicator, name: str, term: Term) -> tuple[str | None, set[str]]:
        if term.population is not None:
            pop = self.populations.get(term.population)
            if pop is None:
                self.add(
                    "indicators",
                    ind.id,
                    "unknown_population",
                    "unknown population",
                    field=f"{name}.population",
                    value=term.population,
                )
                return None, set()
            table: str = pop.table
            used = set(flt.params(pop.expr))
        else:
            table = term.table or "persons"
            used = self._filter("indicators", ind.id, f"{name}.filter", term.expr, table)
        if term.variable is not None:
            dim = self.dimensions.get(term.variable)
            if dim is None:
                self.add(
                    "indicators",
                    ind.id,
                    "unknown_column",
                    "unknown variable",
                    field=f"{name}.variable",
                    value=term.variable,
                )
            elif table not in dim.tables:
                self.add(
                    "indicators",
                    ind.id,
                    "column_not_in_table",
                    f"{term.variable!r} is not a column of the {table} table",
                    field=f"{name}.variable",
                    value=term.variable,
                )
            elif dim.kind not in ("numeric", "boolean"):
                self.add(
                    "indicators",
                    ind.id,
                    "wrong_type",
                    f"a {ind.measure} sums a numeric variable; {dim.id!r} is {dim.kind}",
                    field=f"{name}.variable",
                    value=term.variable,
                )
        return table, used

    def _indicator(self, ind: Indicator) -> None:
        if ind.numerator is None:  # a derived indicator: no terms of its own
            self._derived(ind)
            return
        num_table, used = self._term(ind, "numerator", ind.numerator)
        if ind.denominator is not None:
            den_table, den_used = self._term(ind, "denominator", ind.denominator)
            used |= den_used
            if (
                ind.measure == "share"
                and None not in (num_table, den_table)
                and num_table != den_table
            ):
                self.add(
                    "indicators",
                    ind.id,
                    "table_mismatch",
                    "a share's numerator lies within its denominator: both on one table",
                    field="denominator",
                    value=den_table,
                    expected=num_table,
                )
        for name in ind.breakdowns:
            dim = self.dimensions.get(name)
            if dim is None:
                self.add(
                    "indicators",
                    ind.id,
                    "unknown_dimension",
                    "unknown breakdown",
                    field="breakdowns",
                    value=name,
                )
            elif dim.codelist is None:
                self.add(
                    "indicators",
                    ind.id,
                    "not_a_breakdown",
                    f"{name!r} has no codelist to break down by",
                    field="breakdowns",
                    value=name,
                )
            elif num_table is not None and num_table not in dim.tables:
                self.add(
                    "indicators",
                    ind.id,
                    "column_not_in_table",
                    f"{name!r} is not a column of the {num_table} table",
                    field="breakdowns",
                    value=name,
                )
        for name in ind.parameters:
            if name not in self.parameters:
                self.add(
                    "indicators",
                    ind.id,
                    "unknown_parameter",
                    "unknown parameter",
                    field="parameters",
                    value=name,
                )
        for name in sorted(used - set(ind.parameters)):
            self.add(
                "indicators",
                ind.id,
                "undeclared_parameter",
                f"its populations use @{name}; list it in 'parameters' so results record it",
                field="parameters",
                value=name,
            )

    def _derived(self, ind: Indicator) -> None:
        """A derived indicator: a registered calculator, inputs that exist and
        suit it, breakdowns every input allows, no cycle."""
        from migprofile.compute.calculators import CALCULATORS

        def add(code: str, message: str, field: str, value: str | None = None) -> None:
            self.add("indicators", ind.id, code, message, field=field, value=value)

        for name in ind.parameters:
            if name not in self.parameters:
                add("unknown_parameter", "unknown parameter", "parameters", name)
        calc = CALCULATORS.get(ind.calculator or "")
        if calc is None:
            add(
                "unknown_calculator",
                "no calculator of that name is registered; registered: "
                + ", ".join(sorted(CALCULATORS)),
                "calculator",
                ind.calculator,
            )
            return
        missing = [r for r in calc.roles if r not in ind.inputs]
        extra = [r for r in ind.inputs if r not in calc.roles]
        if missing or extra:
            add(
                "bad_inputs",
                f"calculator {calc.name!r} takes the inputs {list(calc.roles)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else ""),
                "inputs",
            )
        for name, value in ind.options.items():
            wanted = calc.options.get(name)
            if wanted is None:
                add(
                    "unknown_option",
                    f"calculator {calc.name!r} reads the options {sorted(calc.options) or 'none'}",
                    f"options.{name}",
                    name,
                )
            elif not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                add("wrong_type", f"option {name!r} is a {wanted.__name__}", f"options.{name}")
        candidates: dict[str, list[Indicator]] = {}
        for role, spec in ind.inputs.items():
            where = f"inputs.{role}"
            found: list[Indicator] = []
            for target in spec.candidates():
                other = self.indicators.get(target)
                if other is None:
                    add("unknown_indicator", "unknown input indicator", where, target)
                    continue
                found.append(other)
                lacking = [b for b in ind.breakdowns if b not in other.breakdowns]
                if lacking:
                    add(
                        "breakdown_not_in_input",
                        f"breakdowns {lacking} are not allowed by input {target}",
                        "breakdowns",
                        ", ".join(lacking),
                    )
                if spec.over is not None and spec.over.split(":")[0] not in other.breakdowns:
                    add(
                        "breakdown_not_in_input",
                        f"input {target} cannot be broken down by {spec.over!r}",
                        f"{where}.over",
                        spec.over,
                    )
                if spec.where is not None:
                    table = self._table_of_indicator(other) if other.numerator is not None else None
                    if table is not None:
                        used = self._filter(
                            "indicators", ind.id, f"{where}.where", parse_filter(spec.where), table
                        )
                        for p in sorted(used - set(ind.parameters)):
                            add(
                                "undeclared_parameter",
                                f"input {role!r} uses @{p}; list it in 'parameters'",
                                "parameters",
                                p,
                            )
            candidates[role] = found
            if (spec.over is not None) != (role in calc.over_roles):
                add(
                    "bad_inputs",
                    f"input {role!r} of calculator {calc.name!r} "
                    + ("needs" if role in calc.over_roles else "takes no")
                    + " 'over' (the dimension it works across)",
                    f"{where}.over",
                )
            if spec.parameter is not None:
                par = self.parameters.get(spec.parameter)
                if par is None:
                    add(
                        "unknown_parameter",
                        "unknown parameter",
                        f"{where}.parameter",
                        spec.parameter,
                    )
                else:
                    if spec.parameter not in ind.parameters:
                        add(
                            "undeclared_parameter",
                            f"input {role!r} is chosen by @{spec.parameter}; list it in "
                            "'parameters' so results record it",
                            "parameters",
                            spec.parameter,
                        )
                    allowed = {str(v) for v in par.allowed or ()}
                    keys = set((spec.choices or {}).keys())
                    if allowed and keys != allowed:
                        add(
                            "bad_choices",
                            f"choices must cover the allowed values of {par.id}: {sorted(allowed)}",
                            f"{where}.choices",
                            ", ".join(sorted(keys)),
                        )
            for name in spec.shift:
                par = self.parameters.get(name)
                if par is None or par.type != "integer":
                    add(
                        "bad_shift",
                        "only an integer parameter can be shifted",
                        f"{where}.shift",
                        name,
                    )
        if calc.check is not None and all(candidates.get(r) for r in calc.roles):
            for message in calc.check(ind, candidates):
                add("bad_unit", message, "unit", ind.unit)
        cycle = self._cycle(ind.id, [])
        if cycle:
            add("input_cycle", "inputs lead back to the indicator: " + " -> ".join(cycle), "inputs")

    def _table_of_indicator(self, ind: Indicator) -> str | None:
        if ind.numerator is None:
            return None
        if ind.numerator.population is not None:
            pop = self.populations.get(ind.numerator.population)
            return None if pop is None else pop.table
        return ind.numerator.table or "persons"

    def _cycle(self, start: str, path: list[str]) -> list[str]:
        ind = self.indicators.get(path[-1] if path else start)
        if ind is None:
            return []
        for spec in ind.inputs.values():
            for target in spec.candidates():
                if target == start:
                    return [start, *path, start] if path else [start, start]
                if target in path or len(path) > 50:
                    continue
                found = self._cycle(start, [*path, target])
                if found:
                    return found
        return []

    def _crosswalk(self, cw: Crosswalk) -> None:
        target = self.codelists.get(cw.target)
        if target is None:
            self.add(
                "crosswalks",
                cw.id,
                "unknown_codelist",
                "unknown target codelist",
                field="target",
                value=cw.target,
            )
            return
        for i, entry in enumerate(cw.map):
            if entry.to not in target:
                self.add(
                    "crosswalks",
                    cw.id,
                    "unknown_code",
                    f"not a code of codelist {target.id!r}",
                    field=f"map.{i}.to",
                    value=entry.to,
                )
        if cw.unknown_code is not None and cw.unknown_code not in target:
            self.add(
                "crosswalks",
                cw.id,
                "unknown_code",
                f"not a code of codelist {target.id!r}",
                field="unknown_code",
                value=cw.unknown_code,
            )


def _walk(node: object) -> Iterator[object]:
    yield node
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, tuple):
                for item in value:
                    yield from _walk(item)
            elif dataclasses.is_dataclass(value):
                yield from _walk(value)


# --------------------------------------------------------------------------- entry points


def _as_traversable(folder: PathLike) -> Traversable:
    if isinstance(folder, str | os.PathLike):
        return Path(folder)
    return folder


def _collect(
    folders: Sequence[PathLike], include_bundled: bool
) -> tuple[Catalog | None, list[Problem]]:
    problems: list[Problem] = []
    all_folders: list[Traversable] = list(bundled_dirs()) if include_bundled else []
    for folder in folders:
        trav = _as_traversable(folder)
        if not trav.is_dir():
            problems.append(
                Problem(code="missing_folder", message="not a folder", file=str(folder))
            )
            continue
        all_folders.append(trav)
    defs: dict[str, dict[str, BaseModel]] = {kind: {} for kind in KINDS}
    origins: dict[tuple[str, str], Origin] = {}
    for index, folder in enumerate(all_folders):
        seen_here: dict[tuple[str, str], Origin] = {}
        for entry in _read_folder(folder, problems):
            ident = cast(str, entry.model.id)  # type: ignore[attr-defined]
            key = (entry.kind, ident)
            if key in seen_here:
                first = seen_here[key]
                problems.append(
                    Problem(
                        code="duplicate_id",
                        message=(
                            f"{_SINGULAR[entry.kind]} defined twice in one catalogue folder "
                            f"(first at {first.file}:{first.line})"
                        ),
                        file=entry.origin.file,
                        line=entry.origin.line,
                        id=ident,
                        field="id",
                        value=ident,
                    )
                )
                continue
            seen_here[key] = entry.origin
            defs[entry.kind][ident] = entry.model
            origins[key] = Origin(entry.origin.file, entry.origin.line, f"{index}:{folder.name}")
    problems.extend(_Checker(defs, origins).run())
    if problems:
        return None, problems
    catalog = Catalog(
        codelists=MappingProxyType(cast(dict[str, Codelist], defs["codelists"])),
        dimensions=MappingProxyType(cast(dict[str, Dimension], defs["dimensions"])),
        parameters=MappingProxyType(cast(dict[str, Parameter], defs["parameters"])),
        populations=MappingProxyType(cast(dict[str, Population], defs["populations"])),
        indicators=MappingProxyType(cast(dict[str, Indicator], defs["indicators"])),
        crosswalks=MappingProxyType(cast(dict[str, Crosswalk], defs["crosswalks"])),
        origins=MappingProxyType(origins),
        folders=tuple(str(f) for f in all_folders),
    )
    return catalog, problems


def catalog_problems(*folders: PathLike, include_bundled: bool = True) -> list[Problem]:
    """Every problem of the catalogue made of the bundled folders and ``folders``;
    an empty list when it is valid."""
    return _collect(folders, include_bundled)[1]


def load_catalog(*folders: PathLike, include_bundled: bool = True) -> Catalog:
    """Read the bundled catalogue plus user ``folders`` and check it whole.

    Definitions in later folders override those with the same kind and id in
    earlier ones (a statistics office adds or replaces indicators, codelists
    and crosswalks for its country). Raises :class:`CatalogError` listing every
    problem of every file.
    """
    key = _signature(folders, include_bundled)
    cached = _BUNDLED_CACHE.get(key)
    if cached is not None:
        return cached
    catalog, problems = _collect(folders, include_bundled)
    if catalog is None:
        raise CatalogError(problems)
    if len(_BUNDLED_CACHE) >= 8:
        _BUNDLED_CACHE.pop(next(iter(_BUNDLED_CACHE)))
    _BUNDLED_CACHE[key] = catalog
    return catalog


# A catalogue is immutable once loaded; each combination of folders is read
# once per process and read again only when one of its files changes (an
# editable checkout, an office editing its own folder). A few are kept.
_BUNDLED_CACHE: dict[tuple[object, ...], Catalog] = {}


def _signature(folders: Sequence[PathLike], include_bundled: bool) -> tuple[object, ...]:
    out: list[object] = [include_bundled]
    if include_bundled:
        out.extend(_bundled_signature())
    for folder in folders:
        root = Path(str(folder)).resolve()
        out.append(str(root))
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.suffix in (".yaml", ".yml") and path.is_file():
                    stat = path.stat()
                    out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


def _bundled_signature() -> tuple[tuple[str, int, int], ...]:
    out: list[tuple[str, int, int]] = []
    for folder in bundled_dirs():
        for path in _yaml_files(folder):
            if isinstance(path, Path):
                stat = path.stat()
                out.append((str(path), stat.st_mtime_ns, stat.st_size))
            else:  # inside a wheel or zip: immutable
                out.append((str(path), 0, 0))
    return tuple(out)
