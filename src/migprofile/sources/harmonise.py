"""Turning raw source tables into harmonised ones, chunk by chunk.

:func:`harmonise_chunk` is a pure step over one raw chunk: it renames columns,
recodes values through crosswalks, converts types, applies exclusions and
rejects rows that miss a required column. What it did is added to a
:class:`TableTally`, so that a whole file streamed in chunks gives the same
harmonised rows and the same report as one read.

Types of harmonised columns: coded dimensions are pandas categoricals whose
categories are the whole codelist (in codelist order); numeric columns are
float64 (missing = NaN); booleans are pandas' nullable ``boolean``; dates are
``datetime64[ns]``; text is pandas' ``string``. ``_record`` holds the source
record number of each row while the dataset is checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from migprofile.catalog.filters import columns, parse_filter, to_pandas_mask
from migprofile.catalog.loader import Catalog
from migprofile.catalog.models import Codelist, Crosswalk, Dimension
from migprofile.sources.mapping import ColumnMap, TableMapping
from migprofile.sources.readers import RawTable
from migprofile.sources.report import (
    EXAMPLES,
    ColumnReport,
    Finding,
    Rejection,
    ValueTally,
)

__all__ = ["RECORD", "ColumnTally", "Context", "TableTally", "harmonise_chunk", "source_text"]

RECORD = "_record"

_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "no", "n"})


def source_text(value: object) -> str:
    """How a source value is shown and matched: integers without ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Context:
    """What harmonisation needs from outside the chunk."""

    catalog: Catalog
    crosswalks: Mapping[str, Crosswalk]
    params: Mapping[str, object]


@dataclass
class ColumnTally:
    table: str
    column: str
    source: str | None
    kind: str
    missing: int = 0
    to_unknown: int = 0
    unmapped: ValueTally = field(default_factory=ValueTally)
    invalid: ValueTally = field(default_factory=ValueTally)

    def freeze(self) -> ColumnReport:
        return ColumnReport(
            table=self.table,
            column=self.column,
            source=self.source,
            kind=self.kind,
            missing=self.missing,
            unmapped=self.unmapped.freeze(),
            invalid=self.invalid.freeze(),
            to_unknown=self.to_unknown,
        )


@dataclass
class TableTally:
    """Running account of one table while its chunks are harmonised."""

    table: str
    rows_read: int = 0
    rows_kept: int = 0
    rejected: dict[str, ValueTally] = field(default_factory=dict)
    columns: dict[str, ColumnTally] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def reject(self, reason: str, records: pd.Series) -> None:
        tally = self.rejected.setdefault(reason, ValueTally())
        tally.add(reason, len(records), records.iloc[:EXAMPLES].tolist())

    def rejections(self) -> tuple[Rejection, ...]:
        out = []
        for reason, tally in self.rejected.items():
            (vc,) = tally.freeze()
            out.append(Rejection(reason=reason, count=vc.count, records=vc.records))
        return tuple(out)


def _unknown_code(codelist: Codelist, crosswalk: Crosswalk | None) -> str | None:
    if crosswalk is not None and crosswalk.unknown_code is not None:
        return crosswalk.unknown_code
    return "_U" if "_U" in codelist else None


def _tally_values(
    tally: ValueTally, values: pd.Series, records: pd.Series, mask: pd.Series
) -> None:
    """Add the values of ``values[mask]`` to ``tally`` with example records."""
    if not mask.any():
        return
    picked = pd.DataFrame({"v": values[mask].map(source_text), "r": records[mask]})
    for value, group in picked.groupby("v", sort=True):
        tally.add(str(value), len(group), group["r"].iloc[:EXAMPLES].tolist())


def _coded(
    raw: pd.Series,
    dim: Dimension,
    spec: ColumnMap,
    ctx: Context,
    tally: ColumnTally,
    records: pd.Series,
    policy: str,
) -> tuple[pd.Series, pd.Series]:
    """Recode to the dimension's codelist. Returns the categorical column and a
    mask of rows to reject (unmapped codes under the ``fail`` policy)."""
    codelist = ctx.catalog.codelist(dim.codelist or "")
    crosswalk = ctx.crosswalks.get(spec.crosswalk) if spec.crosswalk else None
    missing = raw.isna()
    # Factorise once, decide per distinct source value, then build the
    # categorical from integer codes: no per-row Python work.
    positions, uniques = pd.factorize(raw, use_na_sentinel=True)
    targets: list[str | None] = []
    for value in uniques:
        if crosswalk is not None:
            targets.append(crosswalk.lookup(value))
        else:
            text = source_text(value)
            targets.append(text if text in codelist else None)
    bad_targets = {t for t in targets if t is not None and t not in codelist}
    if bad_targets:  # the catalogue checks its crosswalks; a mapping's inline one may not
        raise ValueError(
            f"crosswalk {spec.crosswalk!r} maps to {sorted(bad_targets)}, "
            f"not codes of {codelist.id!r}"
        )
    unknown = _unknown_code(codelist, crosswalk)
    to_unknown = policy == "unknown" and unknown is not None
    category = {code: i for i, code in enumerate(codelist.ids)}
    target_codes = np.array(
        [
            category[t] if t is not None else (category[unknown] if to_unknown and unknown else -1)
            for t in targets
        ]
        + [-1],  # the missing-value sentinel (-1) indexes this last entry
        dtype=np.int64,
    )
    codes = target_codes[positions]
    unmapped_unique = np.array([t is None for t in targets] + [False], dtype=bool)
    unmapped = pd.Series(unmapped_unique[positions], index=raw.index)
    reject = pd.Series(False, index=raw.index)
    if unmapped.any():
        _tally_values(tally.unmapped, raw, records, unmapped)
        if to_unknown:
            tally.to_unknown += int(unmapped.sum())
        else:
            reject = unmapped
    tally.missing += int(missing.sum())
    column = pd.Categorical.from_codes(codes, categories=pd.Index(list(codelist.ids)))
    return pd.Series(column, index=raw.index), reject


def _text(raw: pd.Series) -> pd.Series:
    """Identifiers and free text as strings; whole numbers without ``.0``."""
    if pd.api.types.is_integer_dtype(raw.dtype):
        return raw.astype("string")
    if pd.api.types.is_float_dtype(raw.dtype):
        whole = raw.dropna()
        if bool((whole == np.floor(whole)).all()):
            return raw.astype("Int64").astype("string")
    if pd.api.types.is_string_dtype(raw.dtype):
        return raw.astype("string")
    return raw.map(source_text, na_action="ignore").astype("string")


def _numeric(raw: pd.Series, tally: ColumnTally, records: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        out = raw.astype("float64")
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        out = pd.to_numeric(raw, errors="coerce").astype("float64")
    else:
        text = raw.astype("string").str.strip()
        out = pd.to_numeric(text, errors="coerce").astype("float64")
    missing = raw.isna()
    invalid = ~missing & out.isna()
    _tally_values(tally.invalid, raw, records, invalid)
    tally.missing += int(missing.sum())
    return out


def _boolean(raw: pd.Series, spec: ColumnMap, tally: ColumnTally, records: pd.Series) -> pd.Series:
    true_values = {v.lower() for v in spec.true_values} or _TRUE
    false_values = {v.lower() for v in spec.false_values} or _FALSE
    missing = raw.isna()

    def convert(value: object) -> bool | None:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = source_text(value).strip().lower()
        if text in true_values:
            return True
        if text in false_values:
            return False
        return None

    uniques = {v: convert(v) for v in pd.unique(raw[~missing])}
    out = raw.map(uniques).astype("boolean")
    invalid = ~missing & out.isna()
    _tally_values(tally.invalid, raw, records, invalid)
    tally.missing += int(missing.sum())
    return out


def _date(raw: pd.Series, spec: ColumnMap, tally: ColumnTally, records: pd.Series) -> pd.Series:
    missing = raw.isna()
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        out = pd.to_datetime(raw)
    else:
        out = pd.to_datetime(
            raw.astype("string"), format=spec.date_format or "ISO8601", errors="coerce"
        )
    invalid = ~missing & out.isna()
    _tally_values(tally.invalid, raw, records, invalid)
    tally.missing += int(missing.sum())
    return out.astype("datetime64[ns]")


def _constant(spec: ColumnMap, dim: Dimension, n: int, index: pd.Index, ctx: Context) -> pd.Series:
    value = spec.value
    if dim.kind == "coded":
        codelist = ctx.catalog.codelist(dim.codelist or "")
        if not isinstance(value, str) or value not in codelist:
            raise ValueError(f"constant {value!r} is not a code of {codelist.id!r}")
        return pd.Series(pd.Categorical([value] * n, categories=list(codelist.ids)), index=index)
    if dim.kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"constant {value!r} for boolean {dim.id!r} is not true or false")
        return pd.Series([value] * n, index=index, dtype="boolean")
    if dim.kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"constant {value!r} for numeric {dim.id!r} is not a number")
        return pd.Series(np.full(n, float(value)), index=index)
    return pd.Series([value] * n, index=index, dtype="string")


def unpivot(frame: pd.DataFrame, pattern: str, value: str) -> pd.DataFrame:
    """Wide to long: columns matching ``pattern`` become rows."""
    regex = re.compile(pattern)
    matched = [c for c in frame.columns if isinstance(c, str) and regex.fullmatch(c)]
    if not matched:
        raise ValueError(f"no column matches the unpivot pattern {pattern!r}")
    ids = [c for c in frame.columns if c not in matched]
    long = frame.melt(id_vars=ids, value_vars=matched, var_name="_wide_column", value_name=value)
    groups: dict[str, dict[str, str | None]] = {}
    for column in matched:
        found = regex.fullmatch(column)
        groups[column] = found.groupdict() if found is not None else {}
    for group in regex.groupindex:
        long[group] = long["_wide_column"].map({c: g[group] for c, g in groups.items()})
    return long.drop(columns="_wide_column")


def _numeric_view(frame: pd.DataFrame, names: frozenset[str]) -> pd.DataFrame:
    """Source columns read as text, as numbers where every value is one, so
    that a source filter such as ``code >= 900`` works on a CSV file too."""
    view = frame
    for name in names:
        if name not in frame.columns or pd.api.types.is_numeric_dtype(frame[name].dtype):
            continue
        converted = pd.to_numeric(frame[name], errors="coerce")
        if converted[frame[name].notna()].notna().all():
            view = view.assign(**{name: converted})
    return view


def harmonise_chunk(
    raw: RawTable, name: str, tm: TableMapping, ctx: Context, tally: TableTally
) -> pd.DataFrame:
    """Harmonise one chunk of a raw table; update ``tally``; return kept rows."""
    frame = raw.frame
    records = pd.Series(
        np.arange(raw.first_record, raw.first_record + len(frame), dtype="int64"),
        index=frame.index,
    )
    if tm.unpivot is not None:
        frame = frame.assign(**{RECORD: records})
        frame = unpivot(frame, tm.unpivot.columns, tm.unpivot.value)
        records = frame.pop(RECORD)
    tally.rows_read += len(frame)
    for rule in tm.exclude:
        if rule.source_where is None:
            continue
        expr = parse_filter(rule.source_where)
        view = _numeric_view(frame, columns(expr))
        mask = to_pandas_mask(expr, view, params=ctx.params, resolve=ctx.catalog.resolve)
        if mask.any():
            tally.reject(f"excluded: {rule.reason}", records[mask])
            frame, records = frame[~mask], records[~mask]
    n = len(frame)
    out: dict[str, pd.Series] = {}
    reject = pd.Series(False, index=frame.index)
    reasons: list[tuple[str, pd.Series]] = []
    for column, spec in tm.columns.items():
        dim = ctx.catalog.dimension(column)
        col_tally = tally.columns.setdefault(
            column, ColumnTally(name, column, spec.source, dim.kind)
        )
        if spec.value is not None:
            out[column] = _constant(spec, dim, n, frame.index, ctx)
            continue
        raw_col = frame[spec.source]
        policy = spec.unmapped or tm.unmapped
        if dim.kind == "coded":
            out[column], bad = _coded(raw_col, dim, spec, ctx, col_tally, records, policy)
            if bad.any():
                reasons.append((f"unmapped code in {column} ({spec.source})", bad))
        elif dim.kind == "numeric":
            out[column] = _numeric(raw_col, col_tally, records)
            if spec.scale is not None:
                out[column] = out[column] * spec.scale
        elif dim.kind == "boolean":
            out[column] = _boolean(raw_col, spec, col_tally, records)
        elif dim.kind == "date":
            out[column] = _date(raw_col, spec, col_tally, records)
        else:
            col_tally.missing += int(raw_col.isna().sum())
            out[column] = _text(raw_col)
    if tm.replicates is not None:
        names = tm.replicates.matching(frame.columns)
        rep_tally = tally.columns.setdefault(
            "replicate_weights",
            ColumnTally(name, "replicate_weights", tm.replicates.source, "numeric"),
        )
        for i, source in enumerate(names, start=1):
            out[f"{tm.replicates.prefix}{i}"] = _numeric(frame[source], rep_tally, records)
    result = pd.DataFrame(out, index=frame.index)
    for column in tm.required:
        missing = result[column].isna()
        if missing.any():
            reasons.append((f"missing or invalid required {column}", missing))
    for rule in tm.exclude:
        if rule.where is None:
            continue
        mask = to_pandas_mask(
            parse_filter(rule.where), result, params=ctx.params, resolve=ctx.catalog.resolve
        )
        reasons.append((f"excluded: {rule.reason}", mask))
    # A row is rejected once, for the first reason that applies to it.
    for reason, mask in reasons:
        hit = mask & ~reject
        if hit.any():
            tally.reject(reason, records[hit])
            reject |= hit
    kept = result[~reject].copy()
    kept[RECORD] = records[~reject].to_numpy()
    tally.rows_kept += len(kept)
    return kept.reset_index(drop=True)
