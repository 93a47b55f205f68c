"""The population filter language: parser, expression tree and evaluators.

A filter such as ``age >= 25 and education in isced.high and country_of_birth !=
@reporting_country`` is parsed by :func:`parse_filter` into a small immutable
expression tree (:data:`Expr`). Nothing in the text is ever executed: Python's
parser is only used to build a syntax tree, which is walked with an explicit
allow-list of node kinds, and everything else is rejected with a
:class:`~migprofile.errors.FilterSyntaxError` that points into the original
text.

The tree is engine-neutral. :func:`to_pandas_mask` evaluates it on a
``pandas.DataFrame`` and :func:`to_sql` renders it as a parameterised SQL
``WHERE`` clause; both follow SQL's three-valued logic, so that they select
exactly the same rows, missing values included. See ``docs/filters.md``.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import numbers
import operator
import re
import typing
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

import numpy as np
import pandas as pd

from migprofile.errors import FilterSyntaxError, MigprofileError

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "CodeRef",
    "Column",
    "Compare",
    "CompareOp",
    "Expr",
    "FilterTypeError",
    "FilterValueError",
    "InSet",
    "IsMissing",
    "IsTrue",
    "Literal",
    "LiteralValue",
    "MaskEvaluator",
    "Not",
    "Or",
    "Param",
    "UnknownColumnError",
    "UnknownParameterError",
    "UnresolvedCodeRefError",
    "code_refs",
    "columns",
    "literal_uses",
    "params",
    "parse_filter",
    "quote_identifier",
    "to_pandas_mask",
    "to_sql",
    "walk",
]

#: Longest filter text accepted by :func:`parse_filter`, in characters.
MAX_LENGTH = 10_000
#: Deepest nesting of ``and`` / ``or`` / ``not`` accepted by :func:`parse_filter`.
MAX_DEPTH = 50

CompareOp: TypeAlias = typing.Literal["==", "!=", "<", "<=", ">", ">="]
#: The Python types a literal value may have.
LiteralValue: TypeAlias = str | int | float | bool

_COMPARE_OPS: frozenset[str] = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ORDERING_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
_FLIPPED: dict[CompareOp, CompareOp] = {
    "==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=",
}
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PARAM_CHARS_RE = re.compile(r"[A-Za-z0-9_]*")
_PARAM_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_TRUE_NAMES = frozenset({"true", "True"})
_FALSE_NAMES = frozenset({"false", "False"})
_NULL_NAMES = frozenset({"null", "NULL", "Null", "None", "none", "NaN", "nan", "NA"})
_RESERVED_NAMES = _TRUE_NAMES | _FALSE_NAMES | _NULL_NAMES
_IS_MISSING = "is_missing"


# --------------------------------------------------------------------------- exceptions


class UnknownColumnError(KeyError, MigprofileError):
    """A filter names a column that the data frame does not have."""

    def __init__(self, column: str, available: Iterable[object] = ()) -> None:
        self.column = column
        self.available: tuple[str, ...] = tuple(str(c) for c in available)
        super().__init__(column)

    def __str__(self) -> str:
        text = f"the filter uses column {self.column!r}, which the data does not have"
        if self.available:
            shown = ", ".join(self.available[:20])
            more = ", ..." if len(self.available) > 20 else ""
            text += f" (columns: {shown}{more})"
        return text


class UnknownParameterError(KeyError, MigprofileError):
    """A filter uses a ``@parameter`` for which no value was given."""

    def __init__(self, parameter: str) -> None:
        self.parameter = parameter
        super().__init__(parameter)

    def __str__(self) -> str:
        return f"the filter uses parameter @{self.parameter}, but no value was given for it"


class UnresolvedCodeRefError(KeyError, MigprofileError):
    """A ``codelist.name`` reference in a filter could not be turned into codes."""

    def __init__(self, ref: CodeRef, hint: str | None = None) -> None:
        self.ref = ref
        self.hint = hint
        super().__init__(str(ref))

    def __str__(self) -> str:
        text = f"cannot resolve the code set {self.ref} used in the filter"
        return f"{text}: {self.hint}" if self.hint else text


class FilterTypeError(TypeError, MigprofileError):
    """A filter compares a column with a value of the wrong type (a number with a
    text column, for instance), or a parameter has a value of the wrong type."""

    def __init__(self, message: str, column: str | None = None) -> None:
        self.column = column
        super().__init__(message)


class FilterValueError(ValueError, MigprofileError):
    """A parameter has a value that a filter cannot use (a missing value)."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message)


# --------------------------------------------------------------------------- the tree


def _check_name(name: object, what: str, *, allow_underscore: bool = False) -> str:
    """Raise ValueError unless ``name`` can be written as ``what`` in a filter."""
    if not isinstance(name, str) or not _IDENT_RE.match(name):
        raise ValueError(f"{what} name must be an ASCII identifier, got {name!r}")
    if keyword.iskeyword(name):
        raise ValueError(f"{what} name {name!r} is a reserved word")
    if name.startswith("__") or (name.startswith("_") and not allow_underscore):
        raise ValueError(f"{what} name {name!r} must not start with '_'")
    if not allow_underscore and name in _RESERVED_NAMES:
        raise ValueError(f"{what} name {name!r} is reserved")
    return name


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the table the filter applies to."""

    name: str

    def __post_init__(self) -> None:
        _check_name(self.name, "column")

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return self.name

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    """A constant: a string, an integer (64-bit), a finite float or a boolean.

    Equality takes the type into account: ``Literal(1) != Literal(1.0) !=
    Literal(True)``, unlike the Python values they hold.
    """

    value: LiteralValue

    def __post_init__(self) -> None:
        value = self.value
        if isinstance(value, bool):
            normal: LiteralValue = bool(value)
        elif isinstance(value, int):
            normal = int(value)
            if not _INT64_MIN <= normal <= _INT64_MAX:
                raise ValueError(f"integer literal out of the 64-bit range: {value}")
        elif isinstance(value, float):
            normal = float(value)
            if not math.isfinite(normal):
                raise ValueError(f"float literal must be finite, got {value!r}")
        elif isinstance(value, str):
            normal = str(value)
        else:
            raise TypeError(f"a literal is a str, int, float or bool, got {type(value).__name__}")
        object.__setattr__(self, "value", normal)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return type(self.value) is type(other.value) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self.value).__name__, self.value))

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        value = self.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, int):
            return str(value)
        return repr(value)

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class Param:
    """A reference to a parameter, written ``@name``; its value is given at
    evaluation time."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _PARAM_NAME_RE.match(self.name):
            raise ValueError(
                f"parameter name must be an ASCII identifier starting with a letter, "
                f"got {self.name!r}"
            )

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return f"@{self.name}"

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class CodeRef:
    """A named level or code set of a codelist, written ``namespace.name``
    (``isced.high``, ``geo.subregion``); resolved to codes at evaluation time."""

    namespace: str
    name: str

    def __post_init__(self) -> None:
        _check_name(self.namespace, "codelist")
        _check_name(self.name, "code set", allow_underscore=True)

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return f"{self.namespace}.{self.name}"

    def __str__(self) -> str:
        return self.to_text()


def _value_kind(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class Compare:
    """``column op operand``. The column is always on the left: the parser turns
    ``5 < age`` into ``age > 5``."""

    op: CompareOp
    column: Column
    operand: Literal | Param

    def __post_init__(self) -> None:
        if self.op not in _COMPARE_OPS:
            raise ValueError(f"unknown comparison operator {self.op!r}")
        if not isinstance(self.column, Column):
            raise TypeError("Compare.column must be a Column")
        if not isinstance(self.operand, Literal | Param):
            raise TypeError("Compare.operand must be a Literal or a Param")
        if (
            isinstance(self.operand, Literal)
            and isinstance(self.operand.value, bool)
            and self.op in _ORDERING_OPS
        ):
            raise ValueError("true/false can only be compared with == or !=")

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return f"{self.column} {self.op} {self.operand}"

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class InSet:
    """``column in values`` (``not in`` when ``negated``). ``values`` is a
    non-empty tuple of literals of one type (integers and floats mix), a
    :class:`CodeRef` or a :class:`Param` whose value is a collection."""

    column: Column
    values: tuple[Literal, ...] | CodeRef | Param
    negated: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.column, Column):
            raise TypeError("InSet.column must be a Column")
        values = self.values
        if isinstance(values, list):
            values = tuple(values)
            object.__setattr__(self, "values", values)
        if isinstance(values, tuple):
            if not values:
                raise ValueError("the list of values after 'in' must not be empty")
            if not all(isinstance(v, Literal) for v in values):
                raise TypeError("InSet.values must hold Literal objects")
            if len({_value_kind(v.value) for v in values}) > 1:
                raise ValueError("the values after 'in' must all have the same type")
        elif not isinstance(values, CodeRef | Param):
            raise TypeError("InSet.values must be a tuple of Literal, a CodeRef or a Param")
        if not isinstance(self.negated, bool):
            raise TypeError("InSet.negated must be a bool")

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        word = "not in" if self.negated else "in"
        if isinstance(self.values, tuple):
            rendered = "[" + ", ".join(v.to_text() for v in self.values) + "]"
        else:
            rendered = self.values.to_text()
        return f"{self.column} {word} {rendered}"

    def __str__(self) -> str:
        return self.to_text()


def _check_items(items: object, what: str) -> tuple[Expr, ...]:
    if not isinstance(items, tuple | list):
        raise TypeError(f"{what}.items must be a tuple of expressions")
    if len(items) < 2:
        raise ValueError(f"{what} needs at least two items")
    for item in items:
        if not isinstance(item, _EXPR_TYPES):
            raise TypeError(f"{what}.items must hold expressions, got {type(item).__name__}")
    return tuple(items)


def _wrap(expr: Expr, parenthesise: tuple[type, ...]) -> str:
    text = expr.to_text()
    return f"({text})" if isinstance(expr, parenthesise) else text


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` (at least two)."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _check_items(self.items, "And"))

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return " and ".join(_wrap(item, (And, Or)) for item in self.items)

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items`` (at least two)."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _check_items(self.items, "Or"))

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return " or ".join(_wrap(item, (Or,)) for item in self.items)

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class Not:
    """The negation of ``item`` (three-valued: ``not unknown`` is unknown)."""

    item: Expr

    def __post_init__(self) -> None:
        if not isinstance(self.item, _EXPR_TYPES):
            raise TypeError("Not.item must be an expression")

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return "not " + _wrap(self.item, (And, Or, Compare, InSet))

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class IsMissing:
    """``is_missing(column)``: true where the value is missing, never unknown."""

    column: Column

    def __post_init__(self) -> None:
        if not isinstance(self.column, Column):
            raise TypeError("IsMissing.column must be a Column")

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return f"{_IS_MISSING}({self.column})"

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class IsTrue:
    """A bare boolean column used as a condition (``usual_resident``); the same
    as ``column == true``."""

    column: Column

    def __post_init__(self) -> None:
        if not isinstance(self.column, Column):
            raise TypeError("IsTrue.column must be a Column")

    def to_text(self) -> str:
        """The canonical filter text of this node (also ``str(node)``)."""
        return self.column.to_text()

    def __str__(self) -> str:
        return self.to_text()


#: A filter expression: one of the condition nodes.
Expr: TypeAlias = Compare | InSet | And | Or | Not | IsMissing | IsTrue
_EXPR_TYPES = (Compare, InSet, And, Or, Not, IsMissing, IsTrue)


# --------------------------------------------------------------------------- walking


def walk(expr: Expr) -> Iterator[Expr]:
    """Every condition node of ``expr``, depth first, left to right, ``expr``
    itself first."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, And | Or):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.item)


def columns(expr: Expr) -> frozenset[str]:
    """The names of the columns that ``expr`` reads."""
    out: set[str] = set()
    for node in walk(expr):
        if isinstance(node, Compare | InSet | IsMissing | IsTrue):
            out.add(node.column.name)
    return frozenset(out)


def params(expr: Expr) -> frozenset[str]:
    """The names of the ``@parameters`` that ``expr`` uses (without the ``@``)."""
    out: set[str] = set()
    for node in walk(expr):
        if isinstance(node, Compare) and isinstance(node.operand, Param):
            out.add(node.operand.name)
        elif isinstance(node, InSet) and isinstance(node.values, Param):
            out.add(node.values.name)
    return frozenset(out)


def code_refs(expr: Expr) -> frozenset[CodeRef]:
    """The ``codelist.name`` references that ``expr`` uses."""
    return frozenset(
        node.values
        for node in walk(expr)
        if isinstance(node, InSet) and isinstance(node.values, CodeRef)
    )


def literal_uses(expr: Expr) -> tuple[tuple[str, Literal], ...]:
    """Each column paired with each literal compared with it or listed for it,
    in order of appearance, without repetitions.

    ``IsTrue`` (a bare boolean column) is not listed: it holds no literal.
    """
    seen: dict[tuple[str, Literal], None] = {}
    for node in walk(expr):
        if isinstance(node, Compare) and isinstance(node.operand, Literal):
            seen.setdefault((node.column.name, node.operand), None)
        elif isinstance(node, InSet) and isinstance(node.values, tuple):
            for value in node.values:
                seen.setdefault((node.column.name, value), None)
    return tuple(seen)


# --------------------------------------------------------------------------- parsing


def parse_filter(text: str) -> Expr:
    """Parse a filter into an expression tree.

    Raises :class:`~migprofile.errors.FilterSyntaxError` (a ``ValueError``) for
    anything outside the filter language, with ``offset`` and ``length``
    marking the offending part of ``text``. Nothing in ``text`` is executed.
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter is a string, got {type(text).__name__}")
    return _parse(text)


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> Expr:
    # Trees are immutable, so one parse can be shared; errors are not cached.
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(
            f"the filter is too long ({len(text)} characters; at most {MAX_LENGTH} are allowed)",
            text, MAX_LENGTH, len(text) - MAX_LENGTH,
        )
    nul = text.find("\x00")
    if nul >= 0:
        raise FilterSyntaxError("the filter contains a NUL character", text, nul, 1)
    surrogate = _SURROGATE_RE.search(text)
    if surrogate is not None:
        raise FilterSyntaxError(
            "the filter contains a lone surrogate character, which is not valid text",
            text, surrogate.start(), 1,
        )
    source, param_at = _prepare(text)
    body = source.lstrip(" \t\f")
    lead = len(source) - len(body)
    if not body.strip():
        raise FilterSyntaxError("the filter is empty", text, 0, len(text))
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(exc, text, body, lead) from None
    except (RecursionError, MemoryError):
        raise FilterSyntaxError(
            "the filter is nested too deeply", text, 0, len(text)
        ) from None
    except ValueError as exc:  # e.g. characters that cannot be encoded
        raise FilterSyntaxError(f"syntax error: {exc}", text, 0, len(text)) from None
    parser = _Parser(text, body, lead, param_at)
    expr = parser.condition(tree.body, 0)
    parser.check_all_params_used()
    return expr


def _prepare(text: str) -> tuple[str, dict[int, str]]:
    """Replace each ``@name`` outside string literals by ``_name`` (same length,
    so that offsets stay valid) and each line break outside string literals by
    a space. Return the new text and the parameter names by offset."""
    out = list(text)
    param_at: dict[int, str] = {}
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n:
                if text[j] == "\\":
                    j += 2
                elif text.startswith(quote, j):
                    j += len(quote)
                    break
                elif len(quote) == 1 and text[j] in "\r\n":
                    break  # unterminated: Python reports it
                else:
                    j += 1
            i = j
            continue
        if ch == "#":
            end = _NEWLINE_RE.search(text, i)
            stop = n if end is None else end.start()
            raise FilterSyntaxError("comments (#) are not allowed", text, i, stop - i)
        if ch in "\r\n":
            out[i] = " "
        elif ch == "@":
            if i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_."):
                raise FilterSyntaxError(
                    "a @parameter must be separated from the name or number before it",
                    text, i, 1,
                )
            match = _PARAM_CHARS_RE.match(text, i + 1)
            name = match.group() if match else ""
            if not name:
                raise FilterSyntaxError(
                    "'@' must be followed directly by a parameter name, as in @reporting_country",
                    text, i, 1,
                )
            if not _PARAM_NAME_RE.match(name):
                raise FilterSyntaxError(
                    "a parameter name must start with a letter", text, i, len(name) + 1
                )
            out[i] = "_"
            param_at[i] = name
            i += 1 + len(name)
            continue
        i += 1
    return "".join(out), param_at


def _syntax_error(exc: SyntaxError, text: str, body: str, lead: int) -> FilterSyntaxError:
    message = exc.msg or "invalid syntax"
    lineno = exc.lineno or 0
    if lineno < 1 or not exc.offset or exc.offset < 1:
        end = len(text.rstrip())
        return FilterSyntaxError(
            f"syntax error: {message} (the filter seems incomplete)", text, end, 1
        )
    starts = _line_starts(body)
    line = min(lineno, len(starts)) - 1
    start = lead + starts[line] + exc.offset - 1  # SyntaxError offsets count characters
    length = 1
    if exc.end_lineno == exc.lineno and exc.end_offset and exc.end_offset > exc.offset:
        length = exc.end_offset - exc.offset
    return FilterSyntaxError(f"syntax error: {message}", text, start, length)


def _line_starts(source: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE_RE.finditer(source))]


_REJECTED: dict[type[ast.AST], str] = {
    ast.BinOp: "arithmetic is not allowed in a filter",
    ast.UnaryOp: "arithmetic is not allowed in a filter",
    ast.Subscript: "subscripts (x[...]) are not allowed in a filter",
    ast.Slice: "slices are not allowed in a filter",
    ast.Attribute: "attribute access is not allowed; a dot is only allowed in "
                   "'column in codelist.name'",
    ast.Call: f"function calls are not allowed; the only function is {_IS_MISSING}(column)",
    ast.Lambda: "lambda is not allowed in a filter",
    ast.ListComp: "comprehensions are not allowed in a filter",
    ast.SetComp: "comprehensions are not allowed in a filter",
    ast.DictComp: "comprehensions are not allowed in a filter",
    ast.GeneratorExp: "comprehensions are not allowed in a filter",
    ast.JoinedStr: "f-strings are not allowed in a filter",
    ast.FormattedValue: "f-strings are not allowed in a filter",
    ast.NamedExpr: "assignment expressions (:=) are not allowed in a filter",
    ast.Starred: "starred expressions (*x) are not allowed in a filter",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed in a filter",
    ast.Dict: "dict literals are not allowed; use a list [...] after 'in'",
    ast.Set: "set literals are not allowed; use a list [...] after 'in'",
    ast.List: "a list is only allowed after 'in' or 'not in'",
    ast.Tuple: "a tuple is only allowed after 'in' or 'not in'",
    ast.Await: "await is not allowed in a filter",
    ast.Yield: "yield is not allowed in a filter",
    ast.YieldFrom: "yield is not allowed in a filter",
}

_AST_COMPARE: dict[type[ast.cmpop], CompareOp] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
}
_OP_PATTERN: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: r"\bin\b", ast.NotIn: r"\bnot\s+in\b", ast.Is: r"\bis\b", ast.IsNot: r"\bis\s+not\b",
}

_Operand: TypeAlias = Column | Literal | Param


class _Parser:
    """Walks a Python syntax tree, building an :data:`Expr` or rejecting it."""

    def __init__(self, text: str, body: str, lead: int, param_at: dict[int, str]) -> None:
        self.text = text
        self.body = body
        self.lead = lead
        self.param_at = param_at
        self.used: set[int] = set()
        self.starts = _line_starts(body)
        self.lines = [
            body[start:end]
            for start, end in zip(self.starts, [*self.starts[1:], len(body)], strict=True)
        ]

    # ---- positions

    def _pos(self, lineno: int, col: int) -> int:
        """Character offset in the original text of an ast (line, byte column)."""
        index = max(0, min(lineno, len(self.starts)) - 1)
        line = self.lines[index].encode("utf-8", "surrogatepass")
        chars = len(line[:col].decode("utf-8", "replace"))
        return self.lead + self.starts[index] + chars

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self._pos(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        end = start + 1 if end_line is None or end_col is None else self._pos(end_line, end_col)
        return start, max(end, start + 1)

    def fail(self, reason: str, node: ast.AST) -> NoReturn:
        start, end = self.span(node)
        raise FilterSyntaxError(reason, self.text, start, end - start)

    def fail_between(self, reason: str, first: ast.AST, last: ast.AST) -> NoReturn:
        start = self.span(first)[0]
        end = self.span(last)[1]
        raise FilterSyntaxError(reason, self.text, start, end - start)

    def reject(self, node: ast.AST) -> NoReturn:
        reason = _REJECTED.get(type(node), f"{type(node).__name__} is not allowed in a filter")
        self.fail(reason, node)

    def check_all_params_used(self) -> None:
        for offset in sorted(set(self.param_at) - self.used):
            name = self.param_at[offset]
            raise FilterSyntaxError(
                "a @parameter is not allowed here", self.text, offset, len(name) + 1
            )

    # ---- conditions

    def condition(self, node: ast.expr, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            self.fail(f"the filter is nested too deeply (more than {MAX_DEPTH} levels)", node)
        if isinstance(node, ast.BoolOp):
            items = tuple(self.condition(value, depth + 1) for value in node.values)
            if isinstance(node.op, ast.And):
                return And(items)
            return Or(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Not(self.condition(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            operand = self.name(node)
            if isinstance(operand, Column):
                return IsTrue(operand)
            if isinstance(operand, Param):
                self.fail(
                    "a @parameter cannot be a condition on its own; compare a column "
                    "with it (column == @parameter)", node,
                )
            self.fail("a constant cannot be a condition on its own", node)
        if isinstance(node, ast.Constant):
            self.constant(node)  # rejects None, bytes, complex with their own message
            self.fail("a constant cannot be a condition on its own", node)
        self.reject(node)

    def call(self, node: ast.Call) -> Expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id == _IS_MISSING and not self._is_param(func):
            arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
            if isinstance(arg, ast.Name):
                operand = self.name(arg)
                if isinstance(operand, Column):
                    return IsMissing(operand)
            self.fail(f"{_IS_MISSING}() takes exactly one column name", node)
        self.reject(node)

    # ---- comparisons

    def compare(self, node: ast.Compare) -> Expr:
        nodes = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot):
                self.fail_op(
                    "'is' and 'is not' are not allowed; use == or != to compare with a "
                    f"value and {_IS_MISSING}(column) to test for a missing value",
                    nodes[i], nodes[i + 1], op,
                )
        if len(node.ops) > 1:
            for i, op in enumerate(node.ops):
                if isinstance(op, ast.In | ast.NotIn):
                    self.fail_op(
                        "'in' cannot be chained with other comparisons",
                        nodes[i], nodes[i + 1], op,
                    )
        first = node.ops[0]
        if isinstance(first, ast.In | ast.NotIn):
            return self.in_set(node.left, node.comparators[0], isinstance(first, ast.NotIn))
        pairs = [
            self.pair(nodes[i], _AST_COMPARE[type(op)], nodes[i + 1])
            for i, op in enumerate(node.ops)
        ]
        return pairs[0] if len(pairs) == 1 else And(tuple(pairs))

    def fail_op(self, reason: str, left: ast.AST, right: ast.AST, op: ast.cmpop) -> NoReturn:
        gap_start = self.span(left)[1]
        gap_end = self.span(right)[0]
        match = re.search(_OP_PATTERN[type(op)], self.text[gap_start:gap_end])
        if match is None:
            self.fail_between(reason, left, right)
        raise FilterSyntaxError(
            reason, self.text, gap_start + match.start(), match.end() - match.start()
        )

    def pair(self, left_node: ast.expr, op: CompareOp, right_node: ast.expr) -> Compare:
        left = self.operand(left_node)
        right = self.operand(right_node)
        if isinstance(left, Column) and isinstance(right, Column):
            self.fail(
                f"cannot compare column {left.name!r} with column {right.name!r}: a "
                "comparison needs a column on one side and a value or a @parameter on the "
                "other", right_node,
            )
        if isinstance(left, Column):
            column, value, value_node = left, right, right_node
        elif isinstance(right, Column):
            column, value, value_node = right, left, left_node
            op = _FLIPPED[op]
        else:
            for side, side_node in ((left, left_node), (right, right_node)):
                if isinstance(side, Param):
                    self.fail(
                        "a @parameter can only be compared with a column "
                        "(column == @parameter)", side_node,
                    )
            self.fail_between(
                "a comparison needs a column on one side", left_node, right_node
            )
        if isinstance(value, Column):  # pragma: no cover - excluded above
            raise AssertionError("unreachable")
        if isinstance(value, Literal) and isinstance(value.value, bool) and op in _ORDERING_OPS:
            self.fail("true and false can only be compared with == or !=", value_node)
        return Compare(op, column, value)

    def in_set(self, left_node: ast.expr, right_node: ast.expr, negated: bool) -> InSet:
        left = self.operand(left_node)
        if not isinstance(left, Column):
            self.fail("the left side of 'in' must be a column", left_node)
        values: tuple[Literal, ...] | CodeRef | Param
        if isinstance(right_node, ast.List | ast.Tuple):
            values = self.literal_list(right_node)
        elif isinstance(right_node, ast.Attribute):
            values = self.code_ref(right_node)
        elif isinstance(right_node, ast.Name) and self._is_param(right_node):
            param = self.name(right_node)
            if not isinstance(param, Param):  # pragma: no cover - _is_param checked it
                raise AssertionError("unreachable")
            values = param
        elif isinstance(right_node, ast.Name | ast.Constant):
            if isinstance(right_node, ast.Constant):
                self.constant(right_node)
            else:
                self.name(right_node)
            self.fail(
                "'in' needs a list of values [...], a codelist reference "
                "(codelist.name) or a @parameter", right_node,
            )
        else:
            self.reject(right_node)
        return InSet(left, values, negated)

    def literal_list(self, node: ast.List | ast.Tuple) -> tuple[Literal, ...]:
        if not node.elts:
            self.fail("the list after 'in' must not be empty", node)
        values: list[Literal] = []
        kind: str | None = None
        for elt in node.elts:
            if isinstance(elt, ast.List | ast.Tuple):
                self.fail("lists cannot be nested", elt)
            value = self.operand(elt)
            if isinstance(value, Column):
                self.fail(
                    f"the list after 'in' must hold values, not column names ({value.name!r}"
                    " would be a column; quote a string value)", elt,
                )
            if isinstance(value, Param):
                self.fail(
                    "the list after 'in' must hold literal values; write 'column in "
                    "@parameter' for a parameter holding a set", elt,
                )
            this = _value_kind(value.value)
            if kind is None:
                kind = this
            elif this != kind:
                self.fail(
                    f"all values in the list must have the same type (a {this} among "
                    f"{kind}s)", elt,
                )
            values.append(value)
        return tuple(values)

    def code_ref(self, node: ast.Attribute) -> CodeRef:
        base = node.value
        if not isinstance(base, ast.Name):
            if isinstance(base, ast.Attribute):
                self.fail(
                    "only 'codelist.name' (one dot) is allowed after 'in'", node
                )
            self.reject(base)
        if self._is_param(base):
            self.fail("a @parameter cannot be used as a codelist", base)
        self._identifier(base, "codelist")
        start, end = self.span(node)
        attr = node.attr
        if not self.text[start:end].endswith(attr) or not _IDENT_RE.match(attr):
            self.fail("names must be written with ASCII letters, digits and '_'", node)
        if attr.startswith("__"):
            self.fail("names starting with '__' are not allowed", node)
        return CodeRef(base.id, attr)

    # ---- operands

    def _is_param(self, node: ast.Name) -> bool:
        return self.span(node)[0] in self.param_at

    def operand(self, node: ast.expr) -> _Operand:
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            return self.constant(node.operand, negate=True, whole=node)
        if isinstance(node, ast.BoolOp | ast.Compare) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
        ):
            self.fail("expected a column or a value here, not a condition", node)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == _IS_MISSING:
                self.fail(
                    f"{_IS_MISSING}(...) is a condition; it cannot be compared", node
                )
        self.reject(node)

    def name(self, node: ast.Name) -> _Operand:
        start, end = self.span(node)
        if start in self.param_at:
            pname = self.param_at[start]
            if node.id != "_" + pname or end - start != len(pname) + 1:
                self.fail("a parameter name must be written with ASCII letters, digits and "
                          "'_'", node)
            self.used.add(start)
            return Param(pname)
        ident = node.id
        if ident in _TRUE_NAMES:
            return Literal(True)
        if ident in _FALSE_NAMES:
            return Literal(False)
        self._identifier(node, "column")
        return Column(ident)

    def _identifier(self, node: ast.Name, what: str) -> None:
        start, end = self.span(node)
        ident = node.id
        if self.text[start:end] != ident or not _IDENT_RE.match(ident):
            self.fail("names must be written with ASCII letters, digits and '_'", node)
        if ident.startswith("__"):
            self.fail("names starting with '__' are not allowed", node)
        if ident.startswith("_"):
            self.fail(f"a {what} name must not start with '_'", node)
        if ident in _NULL_NAMES:
            self.fail(
                f"{ident} is not supported; use {_IS_MISSING}(column) to test for a "
                "missing value", node,
            )
        if ident in _RESERVED_NAMES:
            self.fail(f"{ident!r} cannot be used as a {what} name", node)

    def constant(
        self, node: ast.Constant, *, negate: bool = False, whole: ast.AST | None = None
    ) -> Literal:
        value = node.value
        where = whole or node
        if value is None:
            self.fail(
                f"None is not supported; use {_IS_MISSING}(column) to test for a missing "
                "value", node,
            )
        if isinstance(value, bytes):
            self.fail("bytes literals are not allowed; use a string", node)
        if isinstance(value, complex):
            self.fail("complex numbers are not allowed", where)
        if isinstance(value, bool):
            return Literal(value)
        if isinstance(value, int):
            number = -value if negate else value
            if not _INT64_MIN <= number <= _INT64_MAX:
                self.fail("integer out of range (at most 64 bits)", where)
            return Literal(number)
        if isinstance(value, float):
            real = -value if negate else value
            if not math.isfinite(real):
                self.fail("number out of range", where)
            return Literal(real)
        if isinstance(value, str):
            start, end = self.span(node)
            if "\n" in self.text[start:end] or "\r" in self.text[start:end]:
                self.fail("a string cannot span several lines", node)
            return Literal(value)
        self.fail(f"{type(value).__name__} literals are not allowed", node)


# --------------------------------------------------------------------------- values


_Scalar: TypeAlias = str | int | float | bool


def _is_missing_scalar(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _scalar(value: object, param: str) -> _Scalar:
    """A parameter value as a plain Python scalar; reject missing and odd values."""
    if _is_missing_scalar(value):
        raise FilterValueError(
            f"parameter @{param} has a missing value ({value!r}); filters cannot compare "
            f"with a missing value (use {_IS_MISSING}(column))", param,
        )
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    raise FilterTypeError(
        f"parameter @{param} must be a string, a number or a boolean, got "
        f"{type(value).__name__} {value!r}"
    )


def _operand_value(operand: Literal | Param, params: Mapping[str, object]) -> _Scalar:
    if isinstance(operand, Literal):
        return operand.value
    if operand.name not in params:
        raise UnknownParameterError(operand.name)
    value = params[operand.name]
    if isinstance(value, Collection) and not isinstance(value, str):
        raise FilterTypeError(
            f"parameter @{operand.name} holds several values; use 'column in "
            f"@{operand.name}' to test membership"
        )
    return _scalar(value, operand.name)


def _set_values(
    values: tuple[Literal, ...] | CodeRef | Param,
    params: Mapping[str, object],
    resolve: Callable[[CodeRef], Collection[object]] | None,
) -> tuple[_Scalar, ...]:
    if isinstance(values, tuple):
        return tuple(v.value for v in values)
    if isinstance(values, CodeRef):
        if resolve is None:
            raise UnresolvedCodeRefError(values, "no resolver was given")
        try:
            resolved = resolve(values)
        except UnresolvedCodeRefError:
            raise
        except KeyError as exc:
            hint = str(exc.args[0]) if exc.args else None
            raise UnresolvedCodeRefError(values, hint) from exc
        if resolved is None:
            raise UnresolvedCodeRefError(values, "the resolver returned nothing")
        items: Iterable[object] = resolved
        label = str(values)
    else:
        if values.name not in params:
            raise UnknownParameterError(values.name)
        value = params[values.name]
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise FilterTypeError(
                f"parameter @{values.name} is used after 'in' and must be a collection "
                f"of values (a list, a set, ...), got {type(value).__name__}"
            )
        items = value
        label = values.name
    out: list[_Scalar] = []
    for item in items:
        if _is_missing_scalar(item):
            raise FilterValueError(
                f"{'code set ' if isinstance(values, CodeRef) else 'parameter @'}{label} "
                "contains a missing value; sets used with 'in' cannot hold missing values",
                None if isinstance(values, CodeRef) else label,
            )
        out.append(_scalar(item, label))
    # A stable order helps SQL plans and makes the output reproducible.
    if isinstance(items, Sequence):
        return tuple(out)
    return tuple(sorted(out, key=lambda v: (_value_kind(v), v)))


# --------------------------------------------------------------------------- pandas


_PY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}

_BoolArray: TypeAlias = np.ndarray[Any, np.dtype[np.bool_]]
#: A three-valued result: (``true``, ``maybe``), where ``true`` marks the rows
#: where the condition is true and ``maybe`` those where it is true or unknown
#: (``maybe`` *is* ``true`` when no row is unknown). ``not`` swaps and negates
#: them; ``and``/``or`` combine each side separately (Kleene logic).
_Truth: TypeAlias = tuple[_BoolArray, _BoolArray]


@dataclass(frozen=True, slots=True, eq=False)
class _ColumnData:
    """A column as the evaluator reads it.

    ``values`` holds the values compared: a categorical column's categories
    (then ``codes`` gives each row's category, -1 where missing, and ``used``
    the categories that occur), otherwise the whole column (rows where it is
    missing are never selected). ``value_dtype`` is the dtype of the values,
    ``dtype`` the column's own dtype (for messages).
    """

    name: str
    kind: str  # number | string | boolean | datetime | empty | mixed | other
    missing: _BoolArray
    has_missing: bool
    values: pd.Series[Any]
    codes: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] | None
    used: _BoolArray | None
    value_dtype: Any
    dtype: str


def _kind_of(dtype: Any, present: np.ndarray[Any, Any] | None) -> str:
    """The kind of values of ``dtype`` (``present``: the non-missing values of
    an object column, to infer theirs)."""
    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_complex_dtype(dtype):
        return "other"
    if types.is_numeric_dtype(dtype):
        return "number"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype) or (
        dtype != np.dtype(object) and types.is_string_dtype(dtype)
    ):
        return "string"
    if dtype == np.dtype(object):
        inferred = types.infer_dtype(present, skipna=True)
        return {
            "string": "string", "integer": "number", "floating": "number",
            "mixed-integer-float": "number", "boolean": "boolean", "empty": "empty",
        }.get(inferred, "mixed" if inferred.startswith("mixed") else "other")
    return "other"


_FEW_CODES = 12


def _by_codes(
    codes: np.ndarray[Any, np.dtype[np.signedinteger[Any]]], hit: _BoolArray
) -> _BoolArray:
    """Each row's entry of ``hit`` (one per category) through its category
    code; false where the code is -1 (missing)."""
    hits = np.flatnonzero(hit)
    misses = np.flatnonzero(~hit)
    if len(hits) == 0:
        return np.zeros(len(codes), dtype=bool)
    if len(hits) <= _FEW_CODES and len(hits) <= len(misses):
        # a few codes: comparisons are cheaper than a gather
        true: _BoolArray = codes == int(hits[0])
        for code in hits[1:].tolist():
            true |= codes == code
        return true
    if len(misses) <= _FEW_CODES:
        false = codes < 0  # missing
        for code in misses.tolist():
            false |= codes == code
        return np.logical_not(false, out=false)
    table = np.zeros(len(hit) + 1, dtype=bool)  # the last entry: code -1
    table[:-1] = hit
    gathered: _BoolArray = table[codes]
    return gathered


class MaskEvaluator:
    """Evaluates filter expressions on one ``pandas.DataFrame``, as
    :func:`to_pandas_mask` does, sharing work between expressions.

    Every column is read once, and every sub-expression is evaluated once and
    remembered (``params`` and ``resolve`` are fixed for the evaluator's
    life), so evaluating the many domains of an estimation plan with one
    evaluator costs little more than evaluating their distinct conditions.
    Categorical columns are compared on their categories; each row then takes
    the result of its category through the integer codes.

    :meth:`mask` returns read-only arrays owned by the evaluator. The frame
    must not change while the evaluator is in use.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        params: Mapping[str, object] | None = None,
        resolve: Callable[[CodeRef], Collection[object]] | None = None,
    ) -> None:
        self.frame = frame
        self.params: Mapping[str, object] = params or {}
        self.resolve = resolve
        self.n = len(frame)
        self._columns: dict[str, _ColumnData] = {}
        self._memo: dict[Expr, _Truth] = {}
        self._present: dict[str, pd.Series[Any]] = {}
        self._known: dict[str, _BoolArray] = {}

    def mask(self, expr: Expr) -> _BoolArray:
        """The rows ``expr`` selects (true, not unknown), as a read-only numpy
        ``bool`` array."""
        return self.truth(expr)[0]

    # ---- columns

    def column(self, name: str) -> _ColumnData:
        cached = self._columns.get(name)
        if cached is not None:
            return cached
        if name not in self.frame.columns:
            raise UnknownColumnError(name, self.frame.columns)
        series = self.frame[name]
        if isinstance(series, pd.DataFrame):
            raise FilterTypeError(f"the data has several columns named {name!r}", name)
        codes: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] | None = None
        used: _BoolArray | None = None
        if isinstance(series.dtype, pd.CategoricalDtype):
            categorical = typing.cast(pd.Categorical, series.array)
            codes = np.asarray(categorical.codes)
            missing = codes < 0
            values = pd.Series(categorical.categories)
            value_dtype = series.dtype.categories.dtype
            if value_dtype == np.dtype(object):
                # only the categories that occur count (as the values would)
                counts = np.bincount(codes[~missing].astype(np.intp), minlength=len(values))
                used = counts > 0
                values = values[used]
        else:
            missing = np.asarray(series.isna().to_numpy(dtype=bool), dtype=bool)
            values = series
            value_dtype = series.dtype
            if value_dtype == np.dtype(object):
                self._present[name] = series[~missing]
        missing.flags.writeable = False
        present: np.ndarray[Any, Any] | None = None
        if value_dtype == np.dtype(object):
            present = (values if codes is not None else self._present[name]).to_numpy(
                dtype=object
            )
        kind = _kind_of(value_dtype, present)
        data = _ColumnData(
            name, kind, missing, bool(missing.any()), values, codes, used, value_dtype,
            str(series.dtype),
        )
        self._columns[name] = data
        return data

    def present(self, data: _ColumnData) -> pd.Series[Any]:
        """The non-missing values of a column that is not categorical."""
        if data.name not in self._present:
            self._present[data.name] = data.values[~data.missing]
        return self._present[data.name]

    def known(self, data: _ColumnData) -> _BoolArray:
        """Rows where the column has a value."""
        if data.name not in self._known:
            self._known[data.name] = ~data.missing
        return self._known[data.name]

    def check(self, data: _ColumnData, value: _Scalar, op: str) -> object:
        """Check that ``value`` can be compared with the column; return it in the
        form the comparison needs."""
        kind = _value_kind(value)
        if data.kind == "empty":
            return value
        if data.kind == "mixed":
            raise FilterTypeError(
                f"column {data.name!r} holds values of several types; filters need a "
                "column of one type", data.name,
            )
        if data.kind == "other":
            raise FilterTypeError(
                f"column {data.name!r} has type {data.dtype}, which filters cannot compare "
                "(only test it with is_missing)", data.name,
            )
        if data.kind == "datetime" and kind == "string":
            try:
                stamp = pd.Timestamp(str(value))
            except (ValueError, TypeError) as exc:
                raise FilterTypeError(
                    f"column {data.name!r} holds dates; {value!r} is not a date", data.name
                ) from exc
            tz = getattr(data.value_dtype, "tz", None)
            if tz is not None and stamp.tz is None:
                stamp = stamp.tz_localize(tz)
            elif tz is None and stamp.tz is not None:
                raise FilterTypeError(
                    f"column {data.name!r} holds dates without a time zone; {value!r} has one",
                    data.name,
                )
            return stamp
        if data.kind != kind:
            raise FilterTypeError(
                f"cannot compare column {data.name!r} ({data.kind}, dtype {data.dtype}) with "
                f"the {kind} value {value!r}", data.name,
            )
        if kind == "boolean" and op in _ORDERING_OPS:
            raise FilterTypeError(
                f"boolean column {data.name!r} can only be compared with == or !=", data.name
            )
        return value

    # ---- evaluation

    def truth(self, expr: Expr) -> _Truth:
        """``expr``'s three-valued result (remembered)."""
        found = self._memo.get(expr)
        if found is not None:
            return found
        result = self._compute(expr)
        for part in result:
            part.flags.writeable = False
        self._memo[expr] = result
        return result

    def _compute(self, expr: Expr) -> _Truth:
        if isinstance(expr, Compare):
            value = _operand_value(expr.operand, self.params)
            return self.compare(expr.column.name, expr.op, value)
        if isinstance(expr, IsTrue):
            return self.compare(expr.column.name, "==", True)
        if isinstance(expr, IsMissing):
            data = self.column(expr.column.name)
            return data.missing, data.missing
        if isinstance(expr, InSet):
            values = _set_values(expr.values, self.params, self.resolve)
            return self.in_set(expr.column.name, values, expr.negated)
        if isinstance(expr, Not):
            true, maybe = self.truth(expr.item)
            if maybe is true:
                negated = ~true
                return negated, negated
            return ~maybe, ~true
        parts = [self.truth(item) for item in expr.items]
        combine = np.logical_and if isinstance(expr, And) else np.logical_or
        true = combine(parts[0][0], parts[1][0])
        for part in parts[2:]:
            combine(true, part[0], out=true)
        if all(m is t for t, m in parts):
            return true, true
        maybe = combine(parts[0][1], parts[1][1])
        for part in parts[2:]:
            combine(maybe, part[1], out=maybe)
        return true, maybe

    def _result(self, data: _ColumnData, hit: _BoolArray) -> _Truth:
        """The truth of a test on a column from ``hit`` (the test on every
        value; rows where the column is missing are unknown)."""
        if data.codes is not None:
            if data.used is not None:
                full = np.zeros(len(data.used), dtype=bool)
                full[data.used] = hit
                hit = full
            true = _by_codes(data.codes, hit)
        elif data.has_missing and len(hit) != self.n:
            true = np.zeros(self.n, dtype=bool)
            true[self.known(data)] = hit
        elif data.has_missing:
            true = hit & self.known(data)
        else:
            true = hit  # a new array (the result of the test)
        if not data.has_missing:
            return true, true
        return true, true | data.missing

    def _targets(self, data: _ColumnData) -> pd.Series[Any] | None:
        """The values a test runs on (``None``: there are none)."""
        if data.codes is not None:
            return data.values if len(data.values) and not bool(data.missing.all()) else None
        if not data.has_missing:
            return data.values if self.n else None
        if bool(data.missing.all()):
            return None
        dtype = data.values.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufM":
            return data.values  # numpy values: rows with NaN or NaT are masked out after
        return self.present(data)

    def compare(self, name: str, op: str, value: _Scalar) -> _Truth:
        data = self.column(name)
        target = self.check(data, value, op)
        on = self._targets(data)
        if on is None:
            nothing = np.zeros(self.n, dtype=bool)
            return nothing, (data.missing if data.has_missing else nothing)
        try:
            hit = _PY_OPS[op](on, target)
        except TypeError as exc:  # pragma: no cover - guarded by check()
            raise FilterTypeError(
                f"cannot compare column {name!r} with {value!r}: {exc}", name
            ) from exc
        return self._result(data, np.asarray(hit, dtype=bool))

    def in_set(self, name: str, values: tuple[_Scalar, ...], negated: bool) -> _Truth:
        if not values:  # SQL: x IN (<empty>) is false, whatever x
            everything = np.full(self.n, negated)
            return everything, everything
        data = self.column(name)
        targets = [self.check(data, value, "==") for value in values]
        on = self._targets(data)
        if on is None:
            nothing = np.zeros(self.n, dtype=bool)
            return nothing, (data.missing if data.has_missing else nothing)
        hit = np.asarray(on.isin(targets).to_numpy(dtype=bool), dtype=bool)
        return self._result(data, ~hit if negated else hit)


def to_pandas_mask(
    expr: Expr,
    frame: pd.DataFrame,
    params: Mapping[str, object] | None = None,
    resolve: Callable[[CodeRef], Collection[object]] | None = None,
) -> pd.Series[bool]:
    """The rows of ``frame`` that ``expr`` selects, as a boolean Series (numpy
    ``bool`` dtype, same index as ``frame``).

    Evaluation follows SQL's three-valued logic: a comparison or an ``in`` test
    on a missing value (None, NaN, ``pd.NA``, ``NaT``) is *unknown*;
    ``and``/``or``/``not`` combine unknowns as in SQL (Kleene logic), and the
    rows still unknown at the end are not selected. ``is_missing`` is never
    unknown. Categorical columns are compared on their values.

    ``params`` gives the value of each ``@parameter`` (a single value, or a
    collection for ``column in @parameter``); ``resolve`` turns a
    ``codelist.name`` reference into its codes. To evaluate several
    expressions on one frame, :class:`MaskEvaluator` shares the work.

    Raises :class:`UnknownColumnError`, :class:`UnknownParameterError` and
    :class:`UnresolvedCodeRefError` (all ``KeyError``) for names that cannot be
    found, :class:`FilterTypeError` (a ``TypeError``) when a column and a value
    have different types, and :class:`FilterValueError` (a ``ValueError``) for
    a parameter with a missing value.
    """
    mask = MaskEvaluator(frame, params or {}, resolve).mask(expr)
    return pd.Series(np.array(mask, dtype=bool, copy=True), index=frame.index, dtype=bool)


# --------------------------------------------------------------------------- SQL


_SQL_OPS: dict[str, str] = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def to_sql(
    expr: Expr,
    params: Mapping[str, object] | None = None,
    resolve: Callable[[CodeRef], Collection[object]] | None = None,
    quote_ident: Callable[[str], str] = quote_identifier,
) -> tuple[str, list[object]]:
    """``expr`` as a parameterised SQL condition, for a ``WHERE`` clause.

    Returns the SQL text, with a ``?`` placeholder for each value, and the
    values to bind, in order; no value is ever written into the text. The
    output is accepted by SQLite (any version) and DuckDB, and selects the same
    rows as :func:`to_pandas_mask`, provided missing values are stored as
    ``NULL`` (booleans are bound as Python ``True``/``False``, which SQLite
    stores as 1/0).

    ``params``, ``resolve`` and the exceptions are as in :func:`to_pandas_mask`
    (no column is looked up, so :class:`UnknownColumnError` is not raised).
    """
    values: list[object] = []
    parameters = params or {}

    def render(node: Expr) -> str:
        if isinstance(node, Compare):
            values.append(_operand_value(node.operand, parameters))
            return f"{quote_ident(node.column.name)} {_SQL_OPS[node.op]} ?"
        if isinstance(node, IsTrue):
            values.append(True)
            return f"{quote_ident(node.column.name)} = ?"
        if isinstance(node, IsMissing):
            return f"{quote_ident(node.column.name)} IS NULL"
        if isinstance(node, InSet):
            members = _set_values(node.values, parameters, resolve)
            if not members:
                return "1 = 1" if node.negated else "1 = 0"
            values.extend(members)
            word = "NOT IN" if node.negated else "IN"
            marks = ", ".join("?" for _ in members)
            return f"{quote_ident(node.column.name)} {word} ({marks})"
        if isinstance(node, Not):
            return f"NOT ({render(node.item)})"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(render(item) for item in node.items) + ")"

    return render(expr), values
