"""The self-contained HTML report of a profile.

:func:`render_html` turns a computed :class:`~migprofile.profile.model.Profile`
into one HTML5 document that opens offline, in any browser, from a file or an
e-mail attachment:

- the stylesheet is inlined in a ``<style>`` element (``report.css`` beside
  this module); charts are inline SVG (:mod:`migprofile.profile.charts`);
  there is no script, no web font, no image file and no link out of the
  document — a Content-Security-Policy ``<meta>`` says so to the browser too,
  so nothing is fetched even if a text slipped through;
- every text that came from data or from users' files (labels, names, codes,
  notes, file names, findings) is HTML-escaped; ``http://`` and ``https://``
  prefixes in such texts are dropped, so the document holds no address;
- the output is deterministic: no time stamp, stable ordering, fixed number
  formats; the same profile renders to the same bytes.

The document: a title page (title, country, reference period, version), the
contents, one part per section (its introduction, then for each table the
indicator's name, the chart the spec asked for, the table with labelled
headers and units, its source, footnotes and the legend of its symbols), the
definitions of every indicator used, the data-quality annex (each source, its
input files with their checksums, its reconciliation report, and the cells
withheld or flagged by disclosure control) and the data-gaps page.

Every interface text comes from :attr:`Profile.labels` (the translation
files); the keys used are in :data:`UI_KEYS`, with the English text shown when
no translation file gives one.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from typing import Any, Protocol

import pandas as pd

from migprofile.catalog.loader import Catalog
from migprofile.catalog.models import Indicator
from migprofile.profile.charts import (
    ChartLabels,
    NumberFormat,
    ValueFormat,
    chart_svg,
    code_order,
    real,
    sort_codes,
)
from migprofile.profile.model import Gap, Profile, ProfileTable, Section, SourceSummary
from migprofile.sources.report import Finding, ReconciliationReport

__all__ = ["UI_KEYS", "ReportLabels", "number_format", "render_html"]


class ReportLabels(ChartLabels, Protocol):
    """What the report needs from :class:`migprofile.profile.i18n.Labels`."""

    language: str

    def indicator_name(self, ind: Indicator) -> str: ...

    def indicator_definition(self, ind: Indicator) -> str: ...

    def country(self, iso3: str) -> str: ...


#: Interface texts of the report: key -> English text (shown when no
#: translation file gives the key). Fields in braces are filled by the report.
UI_KEYS: Mapping[str, str] = {
    "report.title_page": "Title page",
    "report.contents": "Contents",
    "report.country": "Country",
    "report.reference_period": "Reference period",
    "report.version": "Produced with migprofile {version}",
    "report.definitions": "Definitions",
    "report.quality_annex": "Quality annex",
    "report.data_gaps": "Data gaps",
    "report.no_gaps": "Every indicator asked for could be computed.",
    "report.section_gaps": "Not available in this section:",
    "report.source_note": "Source: {source}.",
    "report.unit": "Unit",
    "report.measure": "Measure",
    "report.identifier": "Identifier",
    "report.standard": "Standard",
    "report.no_standard": "No international standard; national definition.",
    "report.parameters": "Parameters",
    "report.comparability": "Comparability",
    "report.indicator": "Indicator",
    "report.section": "Section",
    "report.table": "Table",
    "report.reason": "Reason",
    "report.kind": "Kind of source",
    "report.provider": "Provider",
    "report.licence": "Licence",
    "report.files": "Input files",
    "report.file": "File",
    "report.checksum": "Checksum (SHA-256)",
    "report.reconciliation": "Records read, kept and rejected",
    "report.rows_read": "Rows read",
    "report.rows_kept": "Rows kept",
    "report.rows_rejected": "Rows rejected",
    "report.rejections": "Rejected rows",
    "report.unmapped": "Unmapped codes",
    "report.invalid": "Invalid values",
    "report.missing": "Missing values",
    "report.column": "Column",
    "report.source_column": "Source column",
    "report.code": "Code",
    "report.count": "Rows",
    "report.records": "Example records",
    "report.outcome": "Outcome",
    "report.to_unknown": "Coded as unknown",
    "report.rejected": "Rejected",
    "report.findings": "Findings",
    "report.no_findings": "No findings.",
    "report.severity": "Severity",
    "report.message": "Message",
    "report.no_report": "No reconciliation report was recorded for this source.",
    "report.suppressions": "Withheld and flagged cells",
    "report.primary": "Withheld (primary)",
    "report.secondary": "Withheld (secondary)",
    "report.flagged": "Low reliability",
    "report.disclosure": "Disclosure rules",
    "report.min_n": "Minimum unweighted count of a published cell",
    "report.cv_flag": "Coefficient of variation above which a value is flagged",
    "report.cv_suppress": "Coefficient of variation above which a value is withheld",
    "report.secondary_rule": "Secondary suppression of counts and totals",
    "report.rounding": "Counts and totals rounded to a multiple of",
    "report.yes": "yes",
    "report.no": "no",
    "report.none": "none",
    "report.back_to_contents": "Back to contents",
    "table.value_unit": "Value ({unit})",
    "table.se": "Standard error",
    "table.ci_lower": "Lower 95% confidence limit",
    "table.ci_upper": "Upper 95% confidence limit",
    "table.ci_note": "In brackets: 95% confidence interval.",
    "table.n": "Unweighted count",
    "table.reference_period": "Reference period",
    "table.reference_area": "Reference area",
    "flag.legend": "Flags",
    "flag.suppressed": "Withheld to protect confidentiality or because too unreliable to publish",
    "flag.secondary": "Withheld so that another withheld cell cannot be derived from the totals",
    "flag.unreliable": "Low reliability; use with caution",
    "flag.missing": "Not available",
    "chart.total": "Total",
    "chart.pyramid_desc": "Population pyramid: {groups} age groups from {first} to {last}, "
    "males on the left, females on the right.",
    "chart.bar_desc": "Bar chart by {dimension}: the {shown} largest of {total} values, "
    "largest first.",
    "chart.line_desc": "Line chart from {first} to {last}, {lines} line(s).",
    "chart.withheld": "{count} withheld value(s) not drawn.",
    "measure.count": "Count",
    "measure.total": "Total",
    "measure.share": "Share",
    "measure.ratio": "Ratio",
    "measure.rate": "Rate",
    "measure.mean": "Mean",
    "measure.median": "Median",
    "severity.error": "Error",
    "severity.warning": "Warning",
    "severity.info": "Information",
}

# Symbols of cells without a published value, and of flagged values.
_SUPPRESSED, _SECONDARY, _UNRELIABLE, _MISSING = "c", "d", "u", ":"
_FLAG_KEYS = {
    _SUPPRESSED: "flag.suppressed",
    _SECONDARY: "flag.secondary",
    _UNRELIABLE: "flag.unreliable",
    _MISSING: "flag.missing",
}
_FLAG_ORDER = (_SUPPRESSED, _SECONDARY, _MISSING, _UNRELIABLE)
_TOTAL = "_T"
_NUM = ' class="num"'
_PIVOT_MAX = 8  # at most this many columns when a breakdown is spread across
_URL_SCHEME = re.compile(r"(?i)\b(?:https?|ftp)://")
_LANG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

_NUMBERS: Mapping[str, NumberFormat] = {
    "en": NumberFormat(",", "."),
    "fr": NumberFormat("\u202f", ","),
    "es": NumberFormat(".", ","),
    "pt": NumberFormat(".", ","),
    "ro": NumberFormat(".", ","),
    "de": NumberFormat(".", ","),
    "it": NumberFormat(".", ","),
    "ru": NumberFormat("\u00a0", ","),
    "uk": NumberFormat("\u00a0", ","),
}


def number_format(language: str) -> NumberFormat:
    """Group and decimal separators of ``language`` (English ones by default)."""
    return _NUMBERS.get(language.split("-")[0].lower(), _NUMBERS["en"])


# --------------------------------------------------------------------------- text helpers


def _esc(text: object) -> str:
    """Escape a text for HTML content or a quoted attribute; drop URL schemes."""
    return escape(_URL_SCHEME.sub("", str(text)), quote=True)


def _paragraphs(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p{attr}>{_esc(' '.join(p.split()))}</p>\n" for p in parts)


def _anchor(prefix: str, raw: str) -> str:
    """An HTML id from ``raw``: letters, digits, ``_`` and ``-`` only.

    A ``raw`` that had to be changed gets a short hash of itself, so two
    different ids never collapse into one.
    """
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-")[:60]
    if base != raw or not base:
        base = f"{base}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:8]}".lstrip("-")
    return f"{prefix}-{base}"


def _number(value: object) -> float | None:
    return real(value)


def _code(value: object) -> str:
    """A code of a result row as text; ``""`` for a missing one."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, numbers.Real) and not math.isfinite(float(value)):
        return ""
    return str(value)


@dataclass(frozen=True)
class _Context:
    profile: Profile
    labels: ReportLabels
    catalog: Catalog
    numbers: NumberFormat

    def t(self, key: str, **values: object) -> str:
        """An interface text, escaped."""
        return _esc(self.raw(key, **values))

    def raw(self, key: str, **values: object) -> str:
        """An interface text, not escaped (for SVG, which escapes itself)."""
        text = self.labels.text(key, **values)
        if text == key and key in UI_KEYS:
            text = UI_KEYS[key].format_map(_Fields(values))
        return text

    def integer(self, value: object) -> str:
        number = _number(value)
        return "" if number is None else self.numbers.format(number, 0)


class _Fields(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _decimals(measure: str, unit: str) -> int:
    """Decimals shown for a value of this measure kind and unit."""
    unit = unit.strip()
    if unit in ("percent", "%") or unit.startswith("per_"):
        return 1
    if measure == "count":
        return 0
    if measure == "total":
        return 1 if unit[:1].isdigit() else 0
    if measure == "ratio":
        return 2
    return 1


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Cell:
    html: str
    flags: frozenset[str]


def _value_cell(row: Mapping[str, Any], fmt: NumberFormat, decimals: int) -> _Cell:
    value = _number(row.get("value"))
    conf = _code(row.get("conf_status"))
    obs = _code(row.get("obs_status"))
    if value is None:
        if conf == "D":
            symbol = _SECONDARY
        elif conf in ("A", "C", "N") or obs == "Q":
            symbol = _SUPPRESSED
        else:
            symbol = _MISSING
        return _Cell(
            f'<span class="sym sym-{_flag_class(symbol)}">{_esc(symbol)}</span>',
            frozenset({symbol}),
        )
    text = _esc(fmt.format(value, decimals))
    if obs == "U":
        return _Cell(
            f'{text}<sup class="sym sym-{_flag_class(_UNRELIABLE)}">{_UNRELIABLE}</sup>',
            frozenset({_UNRELIABLE}),
        )
    return _Cell(text, frozenset())


def _flag_class(symbol: str) -> str:
    return {
        _SUPPRESSED: "suppressed",
        _SECONDARY: "secondary",
        _UNRELIABLE: "unreliable",
        _MISSING: "missing",
    }[symbol]


def _has(data: pd.DataFrame, column: str) -> bool:
    return column in data.columns and bool(
        pd.to_numeric(data[column], errors="coerce").notna().any()
    )


class _TableView:
    """The rows and columns of one profile table as the report shows them."""

    def __init__(self, ctx: _Context, table: ProfileTable) -> None:
        self.ctx = ctx
        self.table = table
        data = table.data
        self.records: list[dict[str, Any]] = [
            {str(k): v for k, v in r.items()} for r in data.to_dict("records")
        ]
        dims = [d for d in table.breakdowns if d in data.columns]
        for extra in ("ref_area", "ref_period"):
            if extra in data.columns and extra not in dims and data[extra].nunique() > 1:
                dims.insert(0, extra)
        self.dims = dims
        self.orders = {d: self._order(d) for d in dims}
        unit = str(table.indicator.unit)
        self.decimals = _decimals(table.indicator.measure, unit)
        self.show_se = _has(data, "se")
        self.show_ci = _has(data, "ci_lower") and _has(data, "ci_upper")
        self.show_n = _has(data, "n")
        self.flags: set[str] = set()

    def _order(self, dim: str) -> dict[str, int]:
        codes = [_code(r.get(dim)) for r in self.records]
        if dim == "ref_period":
            return {c: i for i, c in enumerate(sort_codes(codes, {}))}
        if dim == "ref_area" and dim not in self.ctx.catalog.dimensions:
            return {c: i for i, c in enumerate(sort_codes(codes, {}))}
        return {c: i for i, c in enumerate(sort_codes(codes, code_order(self.ctx.catalog, dim)))}

    def header(self, dim: str) -> str:
        labels = self.ctx.labels
        if dim == "ref_period":
            return self.ctx.t("table.reference_period")
        if dim == "ref_area" and dim not in self.table.breakdowns:
            return self.ctx.t("table.reference_area")
        return _esc(labels.dimension(dim))

    def label(self, dim: str, code: str) -> str:
        if dim == "ref_period":
            return _esc(code)
        if dim == "ref_area":
            return _esc(self.ctx.labels.country(code))
        return _esc(self.ctx.labels.code(dim, code))

    def key(self, record: Mapping[str, Any], dims: Sequence[str]) -> tuple[str, ...]:
        return tuple(_code(record.get(d)) for d in dims)

    def sort_key(self, key: tuple[str, ...], dims: Sequence[str]) -> tuple[int, ...]:
        return tuple(
            self.orders[d].get(c, len(self.orders[d])) for d, c in zip(dims, key, strict=True)
        )

    def cell(self, record: Mapping[str, Any]) -> _Cell:
        cell = _value_cell(record, self.ctx.numbers, self.decimals)
        self.flags |= cell.flags
        return cell

    def fmt(self, value: object, decimals: int | None = None) -> str:
        number = _number(value)
        if number is None:
            return ""
        return _esc(
            self.ctx.numbers.format(number, self.decimals if decimals is None else decimals)
        )

    def pivot_dimension(self) -> str | None:
        """The breakdown spread across the columns, or ``None`` (a long table)."""
        if len(self.dims) < 2 and "ref_period" not in self.dims:
            return None
        if "ref_period" in self.dims and len(self.dims) >= 2:
            choice = "ref_period"
        elif "ref_period" in self.dims:
            return None
        else:
            choice = "sex" if "sex" in self.dims else self.dims[-1]
        if len(self.orders[choice]) > _PIVOT_MAX:
            return None
        keys = [self.key(r, self.dims) for r in self.records]
        if len(set(keys)) != len(keys):
            return None
        return choice

    # -- rendering

    def caption(self) -> str:
        ctx = self.ctx
        ind = self.table.indicator
        name = _esc(ctx.labels.indicator_name(ind))
        bits = [f"{ctx.t('report.unit')}: {_esc(ctx.labels.unit(str(ind.unit)))}"]
        for column, key in (
            ("ref_period", "table.reference_period"),
            ("ref_area", "report.country"),
        ):
            if column in self.table.data.columns and column not in self.dims:
                values = sorted({_code(r.get(column)) for r in self.records} - {""})
                if len(values) == 1:
                    shown = (
                        _esc(ctx.labels.country(values[0]))
                        if column == "ref_area"
                        else _esc(values[0])
                    )
                    bits.append(f"{ctx.t(key)}: {shown}")
        return (
            f'<caption><span class="caption-title">{name}</span>'
            f'<span class="caption-meta">{" · ".join(bits)}</span></caption>'
        )

    def render(self) -> str:
        pivot = self.pivot_dimension()
        return self._pivot(pivot) if pivot is not None else self._long()

    def _long(self) -> str:
        ctx = self.ctx
        heads = [f'<th scope="col">{self.header(d)}</th>' for d in self.dims]
        unit = ctx.labels.unit(str(self.table.indicator.unit))
        value_head = ctx.t("table.value_unit", unit=unit)
        heads.append(f'<th scope="col" class="num">{value_head}</th>')
        if self.show_se:
            heads.append(f'<th scope="col" class="num">{ctx.t("table.se")}</th>')
        if self.show_ci:
            heads.append(f'<th scope="col" class="num">{ctx.t("table.ci_lower")}</th>')
            heads.append(f'<th scope="col" class="num">{ctx.t("table.ci_upper")}</th>')
        if self.show_n:
            heads.append(f'<th scope="col" class="num">{ctx.t("table.n")}</th>')
        rows = sorted(self.records, key=lambda r: self.sort_key(self.key(r, self.dims), self.dims))
        body: list[str] = []
        for record in rows:
            key = self.key(record, self.dims)
            cls = ' class="total"' if _TOTAL in key else ""
            cells = [
                f'<th scope="row">{self.label(d, c)}</th>'
                for d, c in zip(self.dims, key, strict=True)
            ]
            cells.append(f'<td class="num">{self.cell(record).html}</td>')
            if self.show_se:
                cells.append(
                    f'<td class="num">{self.fmt(record.get("se"), self.decimals + 1)}</td>'
                )
            if self.show_ci:
                cells.append(f'<td class="num">{self.fmt(record.get("ci_lower"))}</td>')
                cells.append(f'<td class="num">{self.fmt(record.get("ci_upper"))}</td>')
            if self.show_n:
                cells.append(f'<td class="num">{self.fmt(record.get("n"), 0)}</td>')
            body.append(f"<tr{cls}>{''.join(cells)}</tr>")
        return (
            '<div class="table-wrap"><table class="data">'
            + self.caption()
            + f"<thead><tr>{''.join(heads)}</tr></thead>\n<tbody>\n"
            + "\n".join(body)
            + "\n</tbody></table></div>\n"
        )

    def _pivot(self, column: str) -> str:
        row_dims = [d for d in self.dims if d != column]
        col_codes = sorted(self.orders[column], key=lambda c: self.orders[column][c])
        cells: dict[tuple[tuple[str, ...], str], Mapping[str, Any]] = {}
        for record in self.records:
            cells[(self.key(record, row_dims), _code(record.get(column)))] = record
        row_keys = sorted({k for k, _ in cells}, key=lambda k: self.sort_key(k, row_dims))
        head1 = [f'<th scope="col" rowspan="2">{self.header(d)}</th>' for d in row_dims]
        head1.append(
            f'<th scope="colgroup" colspan="{len(col_codes)}" class="colgroup">'
            f"{self.header(column)}</th>"
        )
        head2 = [
            f'<th scope="col" class="num{" total" if c == _TOTAL else ""}">'
            f"{self.label(column, c)}</th>"
            for c in col_codes
        ]
        body: list[str] = []
        for key in row_keys:
            cls = ' class="total"' if _TOTAL in key else ""
            out = [
                f'<th scope="row">{self.label(d, c)}</th>'
                for d, c in zip(row_dims, key, strict=True)
            ]
            for code in col_codes:
                found = cells.get((key, code))
                total = " total" if code == _TOTAL else ""
                if found is None:
                    out.append(f'<td class="num{total}"></td>')
                    continue
                text = self.cell(found).html
                if self.show_ci and _number(found.get("value")) is not None:
                    low, high = self.fmt(found.get("ci_lower")), self.fmt(found.get("ci_upper"))
                    if low and high:
                        text += f'<span class="ci">[{low}; {high}]</span>'
                out.append(f'<td class="num{total}">{text}</td>')
            body.append(f"<tr{cls}>{''.join(out)}</tr>")
        return (
            '<div class="table-wrap"><table class="data pivot">'
            + self.caption()
            + f"<thead><tr>{''.join(head1)}</tr>\n<tr>{''.join(head2)}</tr></thead>\n<tbody>\n"
            + "\n".join(body)
            + "\n</tbody></table></div>\n"
        )


# --------------------------------------------------------------------------- document parts


def _head(ctx: _Context, css: str) -> str:
    profile = ctx.profile
    lang = profile.language if _LANG.fullmatch(profile.language) else "und"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_esc(_CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="migprofile {_esc(profile.version)}">\n'
        f"<title>{_esc(profile.title)}</title>\n<style>\n{css}</style>\n</head>\n<body>\n"
    )


def _title_page(ctx: _Context) -> str:
    p = ctx.profile
    country = ctx.labels.country(p.country)
    shown = _esc(country) if country == p.country else f"{_esc(country)} ({_esc(p.country)})"
    notes = "".join(_paragraphs(n, "profile-note") for n in p.notes)
    return (
        f'<header class="title-page" id="top" aria-label="{ctx.t("report.title_page")}">\n'
        f'<h1>{_esc(p.title)}</h1>\n<dl class="facts">\n'
        f"<dt>{ctx.t('report.country')}</dt><dd>{shown}</dd>\n"
        f"<dt>{ctx.t('report.reference_period')}</dt><dd>{_esc(p.reference_period)}</dd>\n"
        "</dl>\n"
        f'<p class="version">{ctx.t("report.version", version=p.version)}</p>\n'
        f"{notes}</header>\n"
    )


def _table_title(ctx: _Context, table: ProfileTable) -> str:
    if table.title:
        return table.title
    name = ctx.labels.indicator_name(table.indicator)
    shown = [b for b in table.breakdowns if b not in ("ref_period",)]
    if not shown:
        return name
    return f"{name} — {', '.join(ctx.labels.dimension(b) for b in shown)}"


def _contents(ctx: _Context) -> str:
    items: list[str] = []
    for section in ctx.profile.sections:
        sub = "".join(
            f'<li><a href="#{_anchor("t", t.id)}">{_esc(_table_title(ctx, t))}</a></li>'
            for t in section.tables
        )
        items.append(
            f'<li><a href="#{_anchor("s", section.id)}">{_esc(section.title)}</a>'
            + (f"<ol>{sub}</ol>" if sub else "")
            + "</li>"
        )
    for ident, key in (
        ("definitions", "report.definitions"),
        ("quality", "report.quality_annex"),
        ("gaps", "report.data_gaps"),
    ):
        items.append(f'<li><a href="#{ident}">{ctx.t(key)}</a></li>')
    return (
        '<nav class="contents" aria-labelledby="contents-title">\n'
        f'<h2 id="contents-title">{ctx.t("report.contents")}</h2>\n<ol>\n'
        + "\n".join(items)
        + "\n</ol>\n</nav>\n"
    )


def _source_name(ctx: _Context, source_id: str) -> str:
    summary = ctx.profile.sources.get(source_id)
    return summary.name if summary is not None else source_id


def _legend(ctx: _Context, flags: Iterable[str]) -> str:
    used = [f for f in _FLAG_ORDER if f in set(flags)]
    if not used:
        return ""
    items = "".join(
        f'<dt><span class="sym sym-{_flag_class(f)}">{_esc(f)}</span></dt>'
        f"<dd>{ctx.t(_FLAG_KEYS[f])}</dd>"
        for f in used
    )
    return f'<dl class="legend" aria-label="{ctx.t("flag.legend")}">{items}</dl>\n'


def _table_part(ctx: _Context, table: ProfileTable) -> str:
    view = _TableView(ctx, table)
    ident = _anchor("t", table.id)
    title = _table_title(ctx, table)
    parts = [f'<article class="profile-table" id="{ident}" aria-labelledby="{ident}-h">\n']
    parts.append(f'<h3 id="{ident}-h">{_esc(title)}</h3>\n')
    if table.chart is not None:
        svg = chart_svg(
            table.chart,
            _anchor("c", table.id),
            title,
            table.data,
            [d for d in table.breakdowns if d in table.data.columns],
            ctx.labels,
            ctx.catalog,
            ValueFormat(ctx.numbers, view.decimals),
        )
        if svg is not None:
            parts.append(f'<figure class="chart chart-{_esc(table.chart)}">\n{svg}\n</figure>\n')
    parts.append(view.render())
    notes: list[str] = []
    source = ctx.profile.sources.get(table.source)
    src_link = (
        f'<a href="#{_anchor("src", table.source)}">{_esc(_source_name(ctx, table.source))}</a>'
        if source is not None
        else _esc(table.source)
    )
    marker = "\ue000"  # a private-use character, replaced by the link after escaping
    note = ctx.t("report.source_note", source=marker).replace(marker, src_link)
    notes.append(f'<p class="source">{note}</p>')
    if view.show_ci and view.pivot_dimension() is not None:
        notes.append(f'<p class="note">{ctx.t("table.ci_note")}</p>')
    for note in table.notes:
        notes.append(_paragraphs(note, "note"))
    notes.append(_legend(ctx, view.flags))
    notes.append(
        f'<p class="def-link"><a href="#{_anchor("def", table.indicator.id)}">'
        f"{ctx.t('report.definitions')}</a> · "
        f'<a href="#top">{ctx.t("report.back_to_contents")}</a></p>'
    )
    parts.append('<div class="table-notes">\n' + "\n".join(n for n in notes if n) + "\n</div>\n")
    parts.append("</article>\n")
    return "".join(parts)


def _gap_indicator(ctx: _Context, gap: Gap) -> str:
    ind = ctx.catalog.indicators.get(gap.indicator)
    return ctx.labels.indicator_name(ind) if ind is not None else gap.indicator


def _section_part(ctx: _Context, section: Section) -> str:
    ident = _anchor("s", section.id)
    out = [
        f'<section class="profile-section" id="{ident}" aria-labelledby="{ident}-h">\n',
        f'<h2 id="{ident}-h">{_esc(section.title)}</h2>\n',
        _paragraphs(section.intro, "intro"),
    ]
    out.extend(_table_part(ctx, t) for t in section.tables)
    if section.gaps:
        items = "".join(
            f"<li>{_esc(_gap_indicator(ctx, g))}: {_esc(g.reason)}</li>" for g in section.gaps
        )
        out.append(
            f'<div class="section-gaps"><p>{ctx.t("report.section_gaps")}</p>'
            f"<ul>{items}</ul></div>\n"
        )
    out.append("</section>\n")
    return "".join(out)


def _parameter_values(profile: Profile, ind: Indicator) -> dict[str, list[str]]:
    """Parameter -> the values recorded in the result rows of ``ind``'s tables."""
    found: dict[str, set[str]] = {}
    for table in profile.tables:
        if table.indicator.id != ind.id or "parameters" not in table.data.columns:
            continue
        for text in table.data["parameters"].dropna().astype(str).unique():
            for part in text.split(";"):
                name, sep, value = part.partition("=")
                if sep and name.strip():
                    found.setdefault(name.strip(), set()).add(value.strip())
    return {k: sorted(v) for k, v in found.items()}


def _parameter_value(ctx: _Context, param_id: str, value: str) -> str:
    param = ctx.catalog.parameters.get(param_id)
    if param is not None and param.codelist is not None and param.codelist in ctx.catalog.codelists:
        codelist = ctx.catalog.codelist(param.codelist)
        if value in codelist:
            label = codelist.label(value, ctx.labels.language)
            return f"{_esc(label)} (<code>{_esc(value)}</code>)"
    return f"<code>{_esc(value)}</code>"


def _definitions(ctx: _Context) -> str:
    lang = ctx.labels.language
    out = [
        '<section class="definitions" id="definitions" aria-labelledby="definitions-h">\n',
        f'<h2 id="definitions-h">{ctx.t("report.definitions")}</h2>\n',
    ]
    for ind in ctx.profile.indicators():
        ident = _anchor("def", ind.id)
        rows = [
            f"<dt>{ctx.t('report.identifier')}</dt><dd><code>{_esc(ind.id)}</code></dd>",
            f"<dt>{ctx.t('report.unit')}</dt><dd>{_esc(ctx.labels.unit(str(ind.unit)))}</dd>",
            f"<dt>{ctx.t('report.measure')}</dt><dd>{ctx.t('measure.' + ind.measure)}</dd>",
        ]
        if ind.references:
            refs = []
            for ref in ind.references:
                bits = [f"<strong>{_esc(ref.short)}</strong>: " if ref.short else ""]
                bits.append(_esc(ref.document))
                if ref.year is not None:
                    bits.append(f" ({ref.year})")
                if ref.section:
                    bits.append(f", {_esc(ref.section)}")
                refs.append(f"<li>{''.join(bits)}</li>")
            rows.append(f"<dt>{ctx.t('report.standard')}</dt><dd><ul>{''.join(refs)}</ul></dd>")
        else:
            rows.append(
                f"<dt>{ctx.t('report.standard')}</dt><dd>{ctx.t('report.no_standard')}</dd>"
            )
        values = _parameter_values(ctx.profile, ind)
        names = [*ind.parameters, *sorted(set(values) - set(ind.parameters))]
        if names:
            items = []
            for pid in names:
                param = ctx.catalog.parameters.get(pid)
                label = _esc(param.name.get(lang)) if param is not None else _esc(pid)
                used = values.get(pid, [])
                if not used and param is not None and param.default is not None:
                    used = [str(param.default)]
                shown = ", ".join(_parameter_value(ctx, pid, v) for v in used)
                items.append(f"<li>{label}: {shown or '—'}</li>")
            rows.append(f"<dt>{ctx.t('report.parameters')}</dt><dd><ul>{''.join(items)}</ul></dd>")
        if ind.comparability is not None:
            rows.append(
                f"<dt>{ctx.t('report.comparability')}</dt>"
                f"<dd>{_esc(ind.comparability.get(lang))}</dd>"
            )
        out.append(
            f'<article class="definition" id="{ident}" aria-labelledby="{ident}-h">\n'
            f'<h3 id="{ident}-h">{_esc(ctx.labels.indicator_name(ind))}</h3>\n'
            f"{_paragraphs(ctx.labels.indicator_definition(ind))}"
            f'<dl class="facts">{"".join(rows)}</dl>\n</article>\n'
        )
    out.append("</section>\n")
    return "".join(out)


def _simple_table(
    caption: str, heads: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]
) -> str:
    """A small table: escaped ``caption``, headers (text, numeric) and cell HTML."""
    head = "".join(f'<th scope="col"{_NUM if num else ""}>{text}</th>' for text, num in heads)
    body = []
    for row in rows:
        cells = []
        for i, (cell, (_, num)) in enumerate(zip(row, heads, strict=True)):
            tag, scope = ("th", ' scope="row"') if i == 0 else ("td", "")
            cells.append(f"<{tag}{scope}{_NUM if num else ''}>{cell}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        return ""
    return (
        f'<div class="table-wrap"><table class="annex"><caption>{caption}</caption>'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></div>\n"
    )


def _finding_place(finding: Finding) -> str:
    """Where a finding is: ``table.column``, and the file under it."""
    place = _esc(".".join(x for x in (finding.table, finding.column) if x))
    if finding.file:
        place += f'<span class="file">{_esc(finding.file)}</span>'
    return place


def _records(records: Sequence[int]) -> str:
    return _esc(", ".join(str(r) for r in records))


def _reconciliation(ctx: _Context, report: ReconciliationReport) -> str:
    t, n = ctx.t, ctx.integer
    out = [
        _simple_table(
            t("report.reconciliation"),
            [
                (t("report.table"), False),
                (t("report.rows_read"), True),
                (t("report.rows_kept"), True),
                (t("report.rows_rejected"), True),
            ],
            (
                (_esc(tr.table), n(tr.rows_read), n(tr.rows_kept), n(tr.rows_rejected))
                for tr in report.tables
            ),
        ),
        _simple_table(
            t("report.rejections"),
            [
                (t("report.table"), False),
                (t("report.reason"), False),
                (t("report.count"), True),
                (t("report.records"), False),
            ],
            (
                (_esc(tr.table), _esc(r.reason), n(r.count), _records(r.records))
                for tr in report.tables
                for r in tr.rejected
            ),
        ),
    ]
    unmapped = [
        (
            f"<code>{_esc(c.table)}.{_esc(c.column)}</code>",
            _esc(c.source or ""),
            f"<code>{_esc(v.value)}</code>",
            n(v.count),
            _records(v.records),
            t("report.to_unknown") if c.to_unknown else t("report.rejected"),
        )
        for c in report.columns
        for v in c.unmapped
    ]
    out.append(
        _simple_table(
            t("report.unmapped"),
            [
                (t("report.column"), False),
                (t("report.source_column"), False),
                (t("report.code"), False),
                (t("report.count"), True),
                (t("report.records"), False),
                (t("report.outcome"), False),
            ],
            unmapped,
        )
    )
    out.append(
        _simple_table(
            t("report.invalid"),
            [
                (t("report.column"), False),
                (t("report.source_column"), False),
                (t("report.code"), False),
                (t("report.count"), True),
                (t("report.records"), False),
            ],
            (
                (
                    f"<code>{_esc(c.table)}.{_esc(c.column)}</code>",
                    _esc(c.source or ""),
                    f"<code>{_esc(v.value)}</code>",
                    n(v.count),
                    _records(v.records),
                )
                for c in report.columns
                for v in c.invalid
            ),
        )
    )
    out.append(
        _simple_table(
            t("report.missing"),
            [
                (t("report.column"), False),
                (t("report.source_column"), False),
                (t("report.count"), True),
            ],
            (
                (
                    f"<code>{_esc(c.table)}.{_esc(c.column)}</code>",
                    _esc(c.source or ""),
                    n(c.missing),
                )
                for c in report.columns
                if c.missing
            ),
        )
    )
    findings = _simple_table(
        t("report.findings"),
        [
            (t("report.severity"), False),
            (t("report.code"), False),
            (t("report.column"), False),
            (t("report.message"), False),
            (t("report.count"), True),
            (t("report.records"), False),
        ],
        (
            (
                f'<span class="sev sev-{_esc(f.severity)}">{t("severity." + f.severity)}</span>',
                f"<code>{_esc(f.code)}</code>",
                _finding_place(f),
                _esc(f.message)
                + (f" (<code>{_esc(f.value)}</code>)" if f.value is not None else ""),
                n(f.count),
                _records(f.records),
            )
            for f in report.findings
        ),
    )
    out.append(findings or f"<p>{t('report.no_findings')}</p>\n")
    out.extend(_paragraphs(note, "note") for note in report.notes)
    return "".join(out)


def _source_part(ctx: _Context, key: str, src: SourceSummary) -> str:
    t = ctx.t
    ident = _anchor("src", key)
    kind = ctx.raw(f"source_kind.{src.kind}")
    if kind == f"source_kind.{src.kind}":
        kind = src.kind.replace("_", " ")
    facts = [
        (t("report.kind"), _esc(kind)),
        (t("report.reference_period"), _esc(src.reference_period)),
    ]
    if src.provider:
        facts.append((t("report.provider"), _esc(src.provider)))
    if src.licence:
        facts.append((t("report.licence"), _esc(src.licence)))
    out = [
        f'<article class="source-annex" id="{ident}" aria-labelledby="{ident}-h">\n',
        f'<h3 id="{ident}-h">{_esc(src.name)}</h3>\n<dl class="facts">',
        "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts),
        "</dl>\n",
        _simple_table(
            t("report.files"),
            [(t("report.file"), False), (t("report.checksum"), False)],
            (
                (f"<code>{_esc(path)}</code>", f'<code class="hash">{_esc(digest)}</code>')
                for path, digest in src.files
            ),
        ),
    ]
    if src.report is None:
        out.append(f"<p>{t('report.no_report')}</p>\n")
    else:
        out.append(_reconciliation(ctx, src.report))
    out.append("</article>\n")
    return "".join(out)


def _disclosure(ctx: _Context) -> str:
    t = ctx.t
    rules = ctx.profile.spec.disclosure

    def percent(cv: float | None) -> str:
        if cv is None:
            return t("report.none")
        return _esc(ctx.numbers.format(cv * 100, 1)) + "\u00a0%"

    facts = [
        (
            t("report.min_n"),
            ctx.integer(rules.min_n) if rules.min_n is not None else t("report.none"),
        ),
        (t("report.cv_flag"), percent(rules.cv_flag)),
        (t("report.cv_suppress"), percent(rules.cv_suppress)),
        (t("report.secondary_rule"), t("report.yes") if rules.secondary else t("report.no")),
        (
            t("report.rounding"),
            ctx.integer(rules.rounding) if rules.rounding is not None else t("report.none"),
        ),
    ]
    table_ids = {tb.id for tb in ctx.profile.tables}
    frame = ctx.profile.suppressions()
    rows = []
    for record in frame.to_dict("records"):
        table_id = str(record["table"])
        ind = ctx.catalog.indicators.get(str(record["indicator"]))
        name = ctx.labels.indicator_name(ind) if ind is not None else str(record["indicator"])
        link = (
            f'<a href="#{_anchor("t", table_id)}">{_esc(table_id)}</a>'
            if table_id in table_ids
            else _esc(table_id)
        )
        rows.append(
            (
                link,
                _esc(name),
                ctx.integer(record["primary"]),
                ctx.integer(record["secondary"]),
                ctx.integer(record["flagged"]),
            )
        )
    return (
        '<article class="disclosure" id="disclosure" aria-labelledby="disclosure-h">\n'
        f'<h3 id="disclosure-h">{t("report.suppressions")}</h3>\n'
        f'<h4>{t("report.disclosure")}</h4>\n<dl class="facts">'
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        + "</dl>\n"
        + _simple_table(
            t("report.suppressions"),
            [
                (t("report.table"), False),
                (t("report.indicator"), False),
                (t("report.primary"), True),
                (t("report.secondary"), True),
                (t("report.flagged"), True),
            ],
            rows,
        )
        + "</article>\n"
    )


def _quality(ctx: _Context) -> str:
    parts = [
        '<section class="quality" id="quality" aria-labelledby="quality-h">\n',
        f'<h2 id="quality-h">{ctx.t("report.quality_annex")}</h2>\n',
    ]
    parts.extend(_source_part(ctx, key, src) for key, src in ctx.profile.sources.items())
    parts.append(_disclosure(ctx))
    parts.append("</section>\n")
    return "".join(parts)


def _gaps(ctx: _Context) -> str:
    titles = {s.id: s.title for s in ctx.profile.sections}
    rows = [
        (
            f'<a href="#{_anchor("s", g.section)}">{_esc(titles[g.section])}</a>'
            if g.section in titles
            else _esc(g.section),
            _esc(_gap_indicator(ctx, g)) + f" (<code>{_esc(g.indicator)}</code>)",
            _esc(g.reason),
        )
        for g in ctx.profile.gaps
    ]
    table = _simple_table(
        ctx.t("report.data_gaps"),
        [
            (ctx.t("report.section"), False),
            (ctx.t("report.indicator"), False),
            (ctx.t("report.reason"), False),
        ],
        rows,
    )
    return (
        '<section class="gaps" id="gaps" aria-labelledby="gaps-h">\n'
        f'<h2 id="gaps-h">{ctx.t("report.data_gaps")}</h2>\n'
        + (table or f"<p>{ctx.t('report.no_gaps')}</p>\n")
        + "</section>\n"
    )


def _stylesheet() -> str:
    css = (resources.files("migprofile") / "profile" / "report.css").read_text(encoding="utf-8")
    return css if css.endswith("\n") else css + "\n"


def render_html(profile: Profile) -> str:
    """The profile as one self-contained, deterministic HTML5 document.

    The document is in :attr:`Profile.language`, with every interface text
    from :attr:`Profile.labels`; it holds no script and no external
    reference. Write it as UTF-8.
    """
    labels: ReportLabels = profile.labels
    ctx = _Context(profile, labels, profile.catalog, number_format(profile.language))
    parts = [
        _head(ctx, _stylesheet()),
        _title_page(ctx),
        _contents(ctx),
        '<main id="main">\n',
        *(_section_part(ctx, s) for s in profile.sections),
        _definitions(ctx),
        _quality(ctx),
        _gaps(ctx),
        "</main>\n</body>\n</html>\n",
    ]
    return _URL_SCHEME.sub("", "".join(parts))
