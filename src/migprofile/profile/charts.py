"""Charts of the HTML report, drawn as inline SVG.

Each function reads one :class:`~migprofile.profile.model.ProfileTable` and
returns an ``<svg>`` element as text, or ``None`` when the table does not
hold what the chart needs (a pyramid without age and sex, say). The SVG is
meant to sit inside an HTML5 document: it has no ``xmlns`` attribute, no
script, no external reference, and every text drawn in it is escaped. It is
accessible (``role="img"`` with a ``<title>`` and a ``<desc>`` that says
what is drawn and what was left out) and deterministic: coordinates are
written with a fixed number of decimals and series are ordered by code.

Three kinds, as the spec's ``chart:`` asks:

``pyramid``
    age groups up the middle, males to the left, females to the right. When
    the table has a ``migrant_status`` breakdown with foreign-born and
    native-born codes, the native-born are filled bars and the foreign-born
    outlined bars over them; otherwise one filled series.
``bar``
    one breakdown, horizontal bars sorted by value (largest first), at most
    :data:`MAX_BARS`; totals (``_T``) are left out.
``line``
    reference periods along the x axis, one line per code of the breakdown
    (at most :data:`MAX_LINES`).

Withheld values (disclosure control) are never drawn; the description says
how many were left out.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

import pandas as pd

from migprofile.catalog.loader import Catalog

__all__ = [
    "MAX_BARS",
    "MAX_LINES",
    "PALETTE",
    "ChartLabels",
    "NumberFormat",
    "ValueFormat",
    "bar_chart",
    "chart_svg",
    "code_order",
    "line_chart",
    "pyramid_chart",
]

#: At most this many bars in a bar chart (the largest values).
MAX_BARS = 15
#: At most this many lines in a line chart.
MAX_LINES = 6
#: Colour-blind-safe series colours (Okabe and Ito), darkest first.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
)
_MALE = ("#0072B2", "#A9CBE6")  # (dark, light)
_FEMALE = ("#D55E00", "#F2C1A1")
_TOTAL = "_T"
_FONT = 12
_CHAR = 6.6  # average width of a character at _FONT px, for layout only


class ChartLabels(Protocol):
    """What the charts need from :class:`migprofile.profile.i18n.Labels`."""

    def text(self, key: str, **values: object) -> str: ...

    def dimension(self, dimension_id: str) -> str: ...

    def code(self, dimension_id: str, code: str) -> str: ...

    def unit(self, unit: str) -> str: ...


@dataclass(frozen=True)
class NumberFormat:
    """Numbers as a language writes them: ``12,345.6`` or ``12 345,6``."""

    group: str = ","
    decimal: str = "."

    def format(self, value: float, decimals: int) -> str:
        """``value`` rounded to ``decimals`` places, with group separators."""
        if not math.isfinite(value):
            return ""
        rounded = round(value, decimals) + 0.0  # no "-0"
        if rounded == 0:
            rounded = 0.0
        text = f"{rounded:,.{decimals}f}"
        return text.replace(",", "\x00").replace(".", self.decimal).replace("\x00", self.group)


@dataclass(frozen=True)
class ValueFormat:
    """How a chart writes the values of its table: ``decimals`` places."""

    numbers: NumberFormat = NumberFormat()
    decimals: int = 0

    def __call__(self, value: float) -> str:
        return self.numbers.format(value, self.decimals)

    @property
    def min_step(self) -> float:
        """The smallest axis step worth drawing (1 for whole counts)."""
        return 10.0**-self.decimals

    def tick(self, value: float, ticks: Sequence[float]) -> str:
        """An axis label, with as many decimals as the step needs."""
        return self.numbers.format(value, _tick_decimals(ticks))


# --------------------------------------------------------------------------- helpers


def code_order(catalog: Catalog, dimension: str) -> dict[str, int]:
    """Position of every code of ``dimension``'s codelist (empty if it has none).

    Codes are ordered as the codelist lists them (ages young to old, sex as
    SDMX orders it); codes outside the list sort after, by their text.
    """
    dim = catalog.dimensions.get(dimension)
    if dim is None or dim.codelist is None or dim.codelist not in catalog.codelists:
        return {}
    return {code: i for i, code in enumerate(catalog.codelist(dim.codelist).ids)}


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key reading digit runs as numbers (``Y5T9`` before ``Y10T14``)."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def sort_codes(codes: Iterable[str], order: Mapping[str, int]) -> list[str]:
    """Codes in codelist order, unknown ones after in natural order."""
    big = len(order)
    return sorted(set(codes), key=lambda c: (order.get(c, big), _natural(c)))


def _n(x: float) -> str:
    """A coordinate: one decimal, no ``-0.0``."""
    value = round(x, 1) + 0.0
    return f"{0.0 if value == 0 else value:.1f}"


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def _clip(text: str, width: float) -> str:
    """``text`` shortened with an ellipsis to fit about ``width`` pixels."""
    most = max(4, int(width / _CHAR))
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def nice_ticks(low: float, high: float, count: int = 5, min_step: float = 0.0) -> list[float]:
    """Round tick values covering ``[low, high]``, at most about ``count``
    steps, none smaller than ``min_step``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    raw = max((high - low) / max(1, count), min_step)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def _tick_decimals(ticks: Sequence[float]) -> int:
    if len(ticks) < 2:
        return 0
    step = abs(ticks[1] - ticks[0])
    for decimals in range(7):
        scaled = step * 10**decimals
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, scaled):
            return decimals
    return 6


def _pinned(data: pd.DataFrame, keep: Sequence[str], breakdowns: Sequence[str]) -> pd.DataFrame:
    """Rows whose breakdowns other than ``keep`` are at the total (``_T``).

    A breakdown without any ``_T`` row is left free (a table asked without
    margins); the caller then sees several rows per cell and keeps the first.
    """
    rows = data
    for dim in breakdowns:
        if dim in keep or dim not in rows.columns:
            continue
        at_total = rows[rows[dim].astype(str) == _TOTAL]
        if not at_total.empty:
            rows = at_total
    return rows


def _latest_period(data: pd.DataFrame) -> pd.DataFrame:
    if "ref_period" not in data.columns or data.empty:
        return data
    periods = sorted(data["ref_period"].astype(str).unique(), key=_natural)
    latest: pd.DataFrame = data.loc[data["ref_period"].astype(str) == periods[-1]]
    return latest


def _first_area(data: pd.DataFrame, breakdowns: Sequence[str]) -> pd.DataFrame:
    if "ref_area" in breakdowns or "ref_area" not in data.columns or data.empty:
        return data
    areas = sorted(data["ref_area"].astype(str).unique())
    first: pd.DataFrame = data.loc[data["ref_area"].astype(str) == areas[0]]
    return first


def real(value: object) -> float | None:
    """``value`` as a finite float, or ``None`` (missing, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _value(row: pd.Series) -> float | None:
    return real(row.get("value"))


def _svg(
    width: float, height: float, ident: str, title: str, desc: str, body: Sequence[str]
) -> str:
    """The ``<svg>`` element around ``body`` (no ``xmlns``: it sits in HTML5)."""
    tid, did = f"{ident}-title", f"{ident}-desc"
    head = (
        f'<svg class="chart" role="img" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}" aria-labelledby="{tid} {did}" '
        f'font-size="{_FONT}" preserveAspectRatio="xMinYMin meet">'
    )
    return "\n".join(
        [
            head,
            f'<title id="{tid}">{_esc(title)}</title>',
            f'<desc id="{did}">{_esc(desc)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _text(
    x: float, y: float, text: str, anchor: str = "start", cls: str = "", size: int | None = None
) -> str:
    attrs = f' class="{cls}"' if cls else ""
    if size is not None:
        attrs += f' font-size="{size}"'
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{attrs}>{_esc(text)}</text>'


def _legend(items: Sequence[tuple[str, str, bool]], x: float, y: float) -> tuple[list[str], float]:
    """Legend swatches (label, colour, outlined) in one row; returns its height."""
    out: list[str] = []
    cursor = x
    for label, colour, outline in items:
        if outline:
            out.append(
                f'<rect x="{_n(cursor)}" y="{_n(y)}" width="12" height="12" fill="none" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
        else:
            out.append(
                f'<rect x="{_n(cursor)}" y="{_n(y)}" width="12" height="12" fill="{colour}"/>'
            )
        out.append(_text(cursor + 16, y + 10, label))
        cursor += 16 + len(label) * _CHAR + 18
    return out, 20.0


def _withheld_note(labels: ChartLabels, withheld: int) -> str:
    return " " + labels.text("chart.withheld", count=withheld) if withheld else ""


# --------------------------------------------------------------------------- pyramid


def pyramid_chart(
    ident: str,
    title: str,
    data: pd.DataFrame,
    breakdowns: Sequence[str],
    labels: ChartLabels,
    catalog: Catalog,
    fmt: ValueFormat,
) -> str | None:
    """An age-sex pyramid; ``None`` if the table has no age and sex breakdowns."""
    if "age" not in breakdowns or "sex" not in breakdowns:
        return None
    two = "migrant_status" in breakdowns
    keep = ["age", "sex", *(["migrant_status"] if two else [])]
    rows = _first_area(_latest_period(_pinned(data, keep, breakdowns)), breakdowns)
    rows = rows[rows["age"].astype(str) != _TOTAL]
    rows = rows[rows["sex"].astype(str).isin(["M", "F"])]
    series: list[str] = [_TOTAL]
    if two:
        present = set(rows["migrant_status"].astype(str))
        series = [c for c in ("NB", "FB") if c in present]
        if not series:
            return None
        rows = rows[rows["migrant_status"].astype(str).isin(series)]
    if rows.empty:
        return None
    ages = sort_codes(rows["age"].astype(str), code_order(catalog, "age"))
    values: dict[tuple[str, str, str], float] = {}
    withheld = 0
    for _, row in rows.iterrows():
        key = (
            str(row["migrant_status"]) if two else _TOTAL,
            str(row["sex"]),
            str(row["age"]),
        )
        value = _value(row)
        if key in values:
            continue
        if value is None:
            withheld += 1
            continue
        values[key] = abs(value)
    if not values:
        return None
    top = max(values.values())
    ticks = [t for t in nice_ticks(0.0, top, 3, fmt.min_step) if t >= 0]
    top = ticks[-1] if ticks and ticks[-1] > 0 else (top or 1.0)

    age_labels = {a: labels.code("age", a) for a in ages}
    mid = min(190.0, max(60.0, max(len(t) for t in age_labels.values()) * _CHAR + 12))
    half = 250.0
    left, top_y = 12.0 + len(fmt(top)) * _CHAR / 2, 12.0
    bar_h = max(8.0, min(18.0, 360.0 / len(ages)))
    gap = 2.0 if bar_h > 10 else 1.0
    legend_items: list[tuple[str, str, bool]] = []
    if two:
        legend_items = [
            (labels.code("migrant_status", code), "#555555", code == "FB") for code in series
        ]
    else:
        legend_items = [
            (labels.code("sex", "M"), _MALE[0], False),
            (labels.code("sex", "F"), _FEMALE[0], False),
        ]
    body, legend_h = _legend(legend_items, left, top_y)
    head_y = top_y + legend_h + 14
    body.append(_text(left + half, head_y, labels.code("sex", "M"), "end", "axis-title"))
    body.append(_text(left + half + mid, head_y, labels.code("sex", "F"), "start", "axis-title"))
    plot_y = head_y + 8
    width = left * 2 + half * 2 + mid
    male_zero = left + half
    female_zero = left + half + mid
    scale = half / top
    for i, age in enumerate(reversed(ages)):
        y = plot_y + i * bar_h
        shown = _clip(age_labels[age], mid - 10)
        body.append(_text(left + half + mid / 2, y + bar_h * 0.75, shown, "middle"))
        for code in series:
            for sex, zero, sign, colours in (
                ("M", male_zero, -1, _MALE),
                ("F", female_zero, 1, _FEMALE),
            ):
                value = values.get((code, sex, age))
                if value is None:
                    continue
                length = value * scale
                x = zero - length if sign < 0 else zero
                label = f"{labels.code('sex', sex)}, {age_labels[age]}: {fmt(value)}"
                if two and code == "FB":
                    attrs = f'fill="none" stroke="{colours[0]}" stroke-width="1.5"'
                    label = f"{labels.code('migrant_status', code)}, {label}"
                elif two:
                    attrs = f'fill="{colours[1]}"'
                    label = f"{labels.code('migrant_status', code)}, {label}"
                else:
                    attrs = f'fill="{colours[0]}"'
                body.append(
                    f'<rect x="{_n(x)}" y="{_n(y + gap / 2)}" width="{_n(length)}" '
                    f'height="{_n(bar_h - gap)}" {attrs}><title>{_esc(label)}</title></rect>'
                )
    axis_y = plot_y + len(ages) * bar_h
    body.append(
        f'<line x1="{_n(left)}" y1="{_n(axis_y)}" x2="{_n(male_zero)}" y2="{_n(axis_y)}" '
        'stroke="#666666"/>'
    )
    body.append(
        f'<line x1="{_n(female_zero)}" y1="{_n(axis_y)}" x2="{_n(width - left)}" '
        f'y2="{_n(axis_y)}" stroke="#666666"/>'
    )
    for tick in ticks:
        text = fmt.tick(tick, ticks)
        for x in (male_zero - tick * scale, female_zero + tick * scale):
            body.append(
                f'<line x1="{_n(x)}" y1="{_n(axis_y)}" x2="{_n(x)}" y2="{_n(axis_y + 4)}" '
                'stroke="#666666"/>'
            )
            body.append(_text(x, axis_y + 16, text, "middle", "tick"))
    height = axis_y + 24
    desc = labels.text(
        "chart.pyramid_desc", groups=len(ages), first=age_labels[ages[0]], last=age_labels[ages[-1]]
    ) + _withheld_note(labels, withheld)
    return _svg(width, height, ident, title, desc, body)


# --------------------------------------------------------------------------- bar


def _free_dimension(data: pd.DataFrame, breakdowns: Sequence[str]) -> str | None:
    """The first breakdown with a code other than the total."""
    for dim in breakdowns:
        if dim in data.columns and (data[dim].astype(str) != _TOTAL).any():
            return dim
    return None


def bar_chart(
    ident: str,
    title: str,
    data: pd.DataFrame,
    breakdowns: Sequence[str],
    labels: ChartLabels,
    catalog: Catalog,
    fmt: ValueFormat,
) -> str | None:
    """Horizontal bars of one breakdown, largest first; ``None`` if none."""
    dim = _free_dimension(data, breakdowns)
    if dim is None:
        return None
    rows = _first_area(_latest_period(_pinned(data, [dim], breakdowns)), breakdowns)
    rows = rows[rows[dim].astype(str) != _TOTAL]
    order = code_order(catalog, dim)
    big = len(order)
    values: dict[str, float] = {}
    withheld = 0
    for _, row in rows.iterrows():
        code = str(row[dim])
        if code in values:
            continue
        value = _value(row)
        if value is None:
            withheld += 1
            continue
        values[code] = value
    if not values:
        return None
    ranked = sorted(values, key=lambda c: (-values[c], order.get(c, big), _natural(c)))
    shown = ranked[:MAX_BARS]
    names = {c: labels.code(dim, c) for c in shown}
    label_w = min(220.0, max(60.0, max(len(t) for t in names.values()) * _CHAR + 8))
    low = min(0.0, *(values[c] for c in shown))
    high = max(0.0, *(values[c] for c in shown))
    ticks = nice_ticks(low, high, 4, fmt.min_step)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    plot_w = 400.0
    left, top_y = 12.0, 12.0
    value_w = 80.0
    width = left + label_w + plot_w + value_w
    bar_h = 20.0
    scale = plot_w / (high - low) if high > low else 1.0
    x0 = left + label_w + (0.0 - low) * scale
    body: list[str] = []
    for i, code in enumerate(shown):
        y = top_y + i * bar_h
        value = values[code]
        x = x0 if value >= 0 else x0 + value * scale
        length = abs(value) * scale
        body.append(_text(left + label_w - 6, y + 14, _clip(names[code], label_w - 8), "end"))
        body.append(
            f'<rect x="{_n(x)}" y="{_n(y + 3)}" width="{_n(length)}" height="{_n(bar_h - 6)}" '
            f'fill="{PALETTE[0]}"><title>{_esc(names[code])}: {_esc(fmt(value))}</title></rect>'
        )
        end = x + length + 4 if value >= 0 else x - 4
        body.append(_text(end, y + 14, fmt(value), "start" if value >= 0 else "end", "value"))
    axis_y = top_y + len(shown) * bar_h + 2
    body.append(
        f'<line x1="{_n(x0)}" y1="{_n(top_y)}" x2="{_n(x0)}" y2="{_n(axis_y)}" stroke="#666666"/>'
    )
    for tick in ticks:
        x = x0 + tick * scale
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(axis_y)}" x2="{_n(x)}" y2="{_n(axis_y + 4)}" '
            'stroke="#666666"/>'
        )
        body.append(_text(x, axis_y + 16, fmt.tick(tick, ticks), "middle", "tick"))
    height = axis_y + 24
    desc = labels.text(
        "chart.bar_desc", dimension=labels.dimension(dim), shown=len(shown), total=len(values)
    ) + _withheld_note(labels, withheld)
    return _svg(width, height, ident, title, desc, body)


# --------------------------------------------------------------------------- line


def line_chart(
    ident: str,
    title: str,
    data: pd.DataFrame,
    breakdowns: Sequence[str],
    labels: ChartLabels,
    catalog: Catalog,
    fmt: ValueFormat,
) -> str | None:
    """Values over reference periods, one line per code; ``None`` if one period."""
    if "ref_period" not in data.columns:
        return None
    periods = sorted(set(data["ref_period"].astype(str)), key=_natural)
    if len(periods) < 2:
        return None
    free = [d for d in breakdowns if d != "ref_period"]
    dim = _free_dimension(data, free)
    rows = _first_area(_pinned(data, [dim] if dim else [], free), free)
    if dim is not None:
        rows = rows[rows[dim].astype(str) != _TOTAL]
    points: dict[str, dict[str, float]] = {}
    withheld = 0
    for _, row in rows.iterrows():
        code = str(row[dim]) if dim else _TOTAL
        period = str(row["ref_period"])
        series = points.setdefault(code, {})
        if period in series:
            continue
        value = _value(row)
        if value is None:
            withheld += 1
            continue
        series[period] = value
    points = {c: s for c, s in points.items() if s}
    if not points:
        return None
    order = code_order(catalog, dim) if dim else {}
    codes = sort_codes(points, order)
    if len(codes) > MAX_LINES:
        last = {c: points[c][max(points[c], key=_natural)] for c in codes}
        kept = sorted(codes, key=lambda c: (-last[c], _natural(c)))[:MAX_LINES]
        codes = [c for c in codes if c in kept]
    names = {c: labels.code(dim, c) if dim else labels.text("chart.total") for c in codes}
    all_values = [v for c in codes for v in points[c].values()]
    ticks = nice_ticks(min(0.0, *all_values), max(0.0, *all_values), 4, fmt.min_step)
    low, high = ticks[0], ticks[-1]
    numeric = all(re.fullmatch(r"\d{4}", p) for p in periods)
    left, top_y = 12.0, 12.0
    tick_w = max(len(fmt.tick(t, ticks)) for t in ticks) * _CHAR + 10
    plot_x = left + tick_w
    plot_w, plot_h = 480.0, 220.0
    width = plot_x + plot_w + 24
    legend_items = [(names[c], PALETTE[i % len(PALETTE)], False) for i, c in enumerate(codes)]
    body, legend_h = _legend(legend_items, left, top_y) if dim else ([], 0.0)
    plot_y = top_y + legend_h + 10

    def x_of(period: str) -> float:
        if numeric:
            first, last = int(periods[0]), int(periods[-1])
            return plot_x + (int(period) - first) / (last - first) * plot_w
        return plot_x + periods.index(period) / (len(periods) - 1) * plot_w

    def y_of(value: float) -> float:
        return plot_y + plot_h - (value - low) / (high - low) * plot_h

    for tick in ticks:
        y = y_of(tick)
        body.append(
            f'<line x1="{_n(plot_x)}" y1="{_n(y)}" x2="{_n(plot_x + plot_w)}" y2="{_n(y)}" '
            'stroke="#dddddd"/>'
        )
        body.append(_text(plot_x - 6, y + 4, fmt.tick(tick, ticks), "end", "tick"))
    axis_y = plot_y + plot_h
    for period in periods:
        x = x_of(period)
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(axis_y)}" x2="{_n(x)}" y2="{_n(axis_y + 4)}" '
            'stroke="#666666"/>'
        )
        body.append(_text(x, axis_y + 16, period, "middle", "tick"))
    for i, code in enumerate(codes):
        colour = PALETTE[i % len(PALETTE)]
        segments: list[list[tuple[float, float]]] = [[]]
        for period in periods:
            if period in points[code]:
                segments[-1].append((x_of(period), y_of(points[code][period])))
            elif segments[-1]:
                segments.append([])
        for segment in segments:
            if len(segment) > 1:
                path = " ".join(
                    f"{'M' if j == 0 else 'L'}{_n(x)},{_n(y)}" for j, (x, y) in enumerate(segment)
                )
                body.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for period in periods:
            if period in points[code]:
                value = points[code][period]
                body.append(
                    f'<circle cx="{_n(x_of(period))}" cy="{_n(y_of(value))}" r="3" '
                    f'fill="{colour}"><title>{_esc(names[code])}, {_esc(period)}: '
                    f"{_esc(fmt(value))}</title></circle>"
                )
    body.append(
        f'<line x1="{_n(plot_x)}" y1="{_n(axis_y)}" x2="{_n(plot_x + plot_w)}" '
        f'y2="{_n(axis_y)}" stroke="#666666"/>'
    )
    height = axis_y + 24
    desc = labels.text(
        "chart.line_desc", first=periods[0], last=periods[-1], lines=len(codes)
    ) + _withheld_note(labels, withheld)
    return _svg(width, height, ident, title, desc, body)


# --------------------------------------------------------------------------- dispatch

_CHARTS = {"pyramid": pyramid_chart, "bar": bar_chart, "line": line_chart}


def chart_svg(
    kind: str,
    ident: str,
    title: str,
    data: pd.DataFrame,
    breakdowns: Sequence[str],
    labels: ChartLabels,
    catalog: Catalog,
    fmt: ValueFormat,
) -> str | None:
    """The chart ``kind`` (``pyramid``, ``bar``, ``line``) of a table's data.

    ``ident`` must be a valid, unique HTML id (the chart's title and
    description get ids derived from it); ``fmt`` writes a value as the
    table does. ``None`` when the data cannot make that chart.
    """
    draw = _CHARTS.get(kind)
    if draw is None or data.empty or "value" not in data.columns:
        return None
    return draw(ident, title, data, breakdowns, labels, catalog, fmt)
