"""Validation checks of a harmonised dataset; they collect, never stop.

Each check returns findings (code, severity, message, table, column, value,
expected, count and example record numbers). Severities:

=========================== ========= =============================================
code                        severity  what
=========================== ========= =============================================
duplicate_key               error     two rows share the table's key
age_out_of_range            error     age outside 0–120
weight_missing              error     a row without a weight
weight_negative             error     a negative weight
weight_zero                 warning   a zero weight (the row counts for nothing)
single_psu_stratum          warning   a stratum with one PSU; the design's
                                      ``lonely_psu`` policy decides what it means
household_without_members   warning   a household no person belongs to
person_without_household    error     a person whose household is not in households
future_date                 error     a date after the reference date (or today)
=========================== ========= =============================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pandas as pd

from migprofile.sources.harmonise import RECORD, source_text
from migprofile.sources.report import EXAMPLES, Finding, Severity

if TYPE_CHECKING:
    from migprofile.sources.read import Dataset

__all__ = ["CHECKS", "run_checks"]

AGE_MIN, AGE_MAX = 0, 120


def _records(frame: pd.DataFrame, mask: pd.Series) -> tuple[int, ...]:
    if RECORD not in frame.columns:
        return ()
    return tuple(int(r) for r in frame.loc[mask, RECORD].iloc[:EXAMPLES])


def _finding(
    code: str,
    severity: Severity,
    message: str,
    table: str,
    frame: pd.DataFrame,
    mask: pd.Series,
    column: str | None = None,
    value: str | None = None,
    expected: str | None = None,
) -> list[Finding]:
    count = int(mask.sum())
    if not count:
        return []
    return [
        Finding(
            code,
            severity,
            message,
            table=table,
            column=column,
            count=count,
            value=value,
            expected=expected,
            records=_records(frame, mask),
        )
    ]


def _duplicate_keys(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    out: list[Finding] = []
    for name, tm in ds.mapping.tables.items():
        if not tm.key or name not in ds.tables:
            continue
        frame = ds.tables[name]
        key = list(tm.key)
        if name == "absent":
            continue
        dup = frame.duplicated(subset=key, keep=False) & frame[key].notna().all(axis=1)
        if dup.any():
            first = frame.loc[dup, key].iloc[0]
            out += _finding(
                "duplicate_key",
                "error",
                f"rows share the key ({', '.join(key)})",
                name,
                frame,
                dup,
                column=",".join(key),
                value="/".join(source_text(v) for v in first),
                expected="a unique key",
            )
    return out


def _age(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    out: list[Finding] = []
    for name in ("persons", "events"):
        frame = ds.tables.get(name)
        if frame is None or "age" not in frame.columns:
            continue
        age = frame["age"]
        bad = age.notna() & ((age < AGE_MIN) | (age > AGE_MAX))
        if bad.any():
            out += _finding(
                "age_out_of_range",
                "error",
                "age outside the possible range",
                name,
                frame,
                bad,
                column="age",
                value=source_text(age[bad].iloc[0]),
                expected=f"{AGE_MIN} to {AGE_MAX}",
            )
    return out


def _weights(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    design = ds.mapping.design
    column = design.weights if design is not None and design.weights else "weight"
    out: list[Finding] = []
    for name, frame in ds.tables.items():
        if column not in frame.columns:
            continue
        w = frame[column]
        out += _finding(
            "weight_missing",
            "error",
            "row without a weight",
            name,
            frame,
            w.isna(),
            column=column,
            expected="a positive number",
        )
        neg = w.notna() & (w < 0)
        out += _finding(
            "weight_negative",
            "error",
            "negative weight",
            name,
            frame,
            neg,
            column=column,
            value=source_text(w[neg].iloc[0]) if neg.any() else None,
            expected="a positive number",
        )
        out += _finding(
            "weight_zero",
            "warning",
            "zero weight: the row counts for nothing",
            name,
            frame,
            w.notna() & (w == 0),
            column=column,
        )
    return out


def _single_psu(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    design = ds.mapping.design
    if design is None or not design.strata or not design.psu:
        return []
    out: list[Finding] = []
    for name, frame in ds.tables.items():
        if design.strata not in frame.columns or design.psu[0] not in frame.columns:
            continue
        n_psu = frame.groupby(design.strata, observed=True, dropna=False)[design.psu[0]].nunique()
        lonely = n_psu[n_psu == 1]
        if len(lonely):
            mask = frame[design.strata].isin(lonely.index)
            out += _finding(
                "single_psu_stratum",
                "warning",
                f"{len(lonely)} stratum/strata with a single PSU "
                f"(e.g. {source_text(lonely.index[0])}); lonely_psu policy: {design.lonely_psu}",
                name,
                frame,
                mask,
                column=design.strata,
            )
    return out


def _households(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    persons, households = ds.tables.get("persons"), ds.tables.get("households")
    if persons is None or households is None:
        return []
    if "hh_id" not in persons.columns or "hh_id" not in households.columns:
        return []
    member_ids = set(persons["hh_id"].dropna())
    empty = ~households["hh_id"].isin(member_ids)
    orphan = persons["hh_id"].notna() & ~persons["hh_id"].isin(set(households["hh_id"].dropna()))
    out = _finding(
        "household_without_members",
        "warning",
        "no person belongs to this household",
        "households",
        households,
        empty,
        column="hh_id",
        value=source_text(households.loc[empty, "hh_id"].iloc[0]) if empty.any() else None,
    )
    out += _finding(
        "person_without_household",
        "error",
        "the person's household is not in the households table",
        "persons",
        persons,
        orphan,
        column="hh_id",
        value=source_text(persons.loc[orphan, "hh_id"].iloc[0]) if orphan.any() else None,
    )
    return out


def _future_dates(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    limit_text = ds.mapping.reference_date
    limit = pd.Timestamp(limit_text) if limit_text else pd.Timestamp(dt.date.today())
    out: list[Finding] = []
    for name, frame in ds.tables.items():
        for column in frame.columns:
            if not pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
                continue
            late = frame[column].notna() & (frame[column] > limit)
            if late.any():
                out += _finding(
                    "future_date",
                    "error",
                    "date after the reference date" if limit_text else "date in the future",
                    name,
                    frame,
                    late,
                    column=column,
                    value=str(frame.loc[late, column].iloc[0].date()),
                    expected=f"on or before {limit.date()}",
                )
    return out


CHECKS: dict[str, Callable[[Dataset, Mapping[str, object]], list[Finding]]] = {
    "duplicate_key": _duplicate_keys,
    "age_range": _age,
    "weights": _weights,
    "single_psu": _single_psu,
    "households": _households,
    "future_dates": _future_dates,
}


def run_checks(ds: Dataset, params: Mapping[str, object]) -> list[Finding]:
    """Every check, on every table; findings in check order."""
    findings: list[Finding] = []
    for check in CHECKS.values():
        findings.extend(check(ds, params))
    return findings
