"""Census microdata as it really comes: households, parents' line numbers and
the roster of members living abroad; and the derived dimensions a mapping asks
for by name in ``derive:``.

Derivations never overwrite a column the mapping made directly; each reports
what it could not derive as findings.

``parent_location``
    ``mother_loc`` / ``father_loc`` of every person from ``mother_line`` /
    ``father_line``: the parent's line number inside the same household
    (``hh_id``). A line that points at a usual resident gives ``HOUSEHOLD``; at
    a member of the absent roster living abroad, ``ABROAD``. A line that
    points at nobody is reported (``broken_parent_pointer``) and left missing.
    Where the line is missing, a whereabouts code mapped from the source
    (MICS HL15/HL19 style) is kept.
``migrant_status``
    on the basis of the parameter ``migrant_basis``: ``COB`` (default) gives
    ``FB`` when ``country_of_birth`` differs from ``@reporting_country`` and
    ``NB`` when equal; ``CIT`` gives ``FC``/``NAT`` from ``citizenship``
    (``STL`` when ``stateless``); ``_U`` when unknown (missing or a special code).
``age_group``
    the age codelist's groups of the numeric age: the five-year level, or the
    set or level named by the parameter ``age_groups`` (``mics_child_groups``).
``recent_immigrant``
    lived in another country one year earlier (``country_1y_ago``); unknown
    when that country is unknown or the person is under one year old.
``years_since_arrival``
    bins of ``ref_year - year_of_arrival`` for the foreign-born: ``Y_LT1``,
    ``Y1T4``, ``Y5T9``, ``Y10T19``, ``Y_GE20``; ``_U`` when the year is missing.
``n_members_abroad``
    per household, the number of persons of the absent roster (or of persons
    with ``absent_abroad``) in it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from migprofile.catalog.loader import Catalog
from migprofile.sources.harmonise import RECORD
from migprofile.sources.mapping import SourceMapping
from migprofile.sources.report import EXAMPLES, Finding

__all__ = ["DERIVATIONS", "attach_absent", "derive"]

Derive = Callable[
    [dict[str, pd.DataFrame], SourceMapping, Catalog, Mapping[str, object]], list[Finding]
]


def _cannot(message: str, **fields: Any) -> list[Finding]:
    """A derivation that cannot run: one error finding."""
    return [Finding("cannot_derive", "error", message, **fields)]


def _categorical(values: pd.Series | np.ndarray, catalog: Catalog, codelist: str) -> pd.Categorical:
    return pd.Categorical(values, categories=list(catalog.codelist(codelist).ids))


def attach_absent(tables: dict[str, pd.DataFrame], mapping: SourceMapping) -> None:
    """Append the absent-member roster to ``persons``: its rows are persons
    with ``absent_abroad`` true and ``usual_resident`` false (unless mapped)."""
    if "absent" not in tables or "persons" not in tables:
        return
    absent = tables.pop("absent").copy()
    persons = tables["persons"]
    if "absent_abroad" not in absent.columns:
        absent["absent_abroad"] = pd.array([True] * len(absent), dtype="boolean")
    if "usual_resident" not in absent.columns:
        absent["usual_resident"] = pd.array([False] * len(absent), dtype="boolean")
    if "absent_abroad" not in persons.columns:
        persons = persons.assign(absent_abroad=pd.array([False] * len(persons), dtype="boolean"))
    # the roster's record numbers are kept negative so they never collide
    if RECORD in absent.columns:
        absent[RECORD] = -absent[RECORD]
    combined = pd.concat([persons, absent], ignore_index=True)
    for column in combined.columns:  # concat loses categoricals whose columns differ
        for part in (persons, absent):
            if column in part.columns and isinstance(part[column].dtype, pd.CategoricalDtype):
                combined[column] = pd.Categorical(
                    combined[column], categories=part[column].cat.categories
                )
                break
    tables["persons"] = combined


def _parent_location(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    persons = tables.get("persons")
    if persons is None:
        return _cannot("parent_location needs a persons table")
    needed = {"hh_id", "line_no"}
    if not needed <= set(persons.columns):
        return [
            Finding(
                "cannot_derive",
                "error",
                "parent_location needs hh_id and line_no in persons",
                table="persons",
                expected="columns hh_id, line_no",
            )
        ]
    findings: list[Finding] = []
    absent = (
        persons["absent_abroad"].fillna(False).astype(bool)
        if "absent_abroad" in persons.columns
        else pd.Series(False, index=persons.index)
    )
    key = pd.MultiIndex.from_arrays([persons["hh_id"], persons["line_no"]])
    status = pd.Series(np.where(absent, "ABROAD", "HOUSEHOLD"), index=key)
    status = status[~key.duplicated(keep=False)]  # ambiguous lines are reported by checks
    for parent in ("mother", "father"):
        line_col, loc_col = f"{parent}_line", f"{parent}_loc"
        if line_col not in persons.columns:
            continue
        lines = persons[line_col]
        has_line = lines.notna()
        probe = pd.MultiIndex.from_arrays([persons["hh_id"], lines])
        found = pd.Series(status.reindex(probe).to_numpy(), index=persons.index)
        broken = has_line & found.isna()
        if broken.any():
            records = persons.loc[broken, RECORD] if RECORD in persons else pd.Series(dtype=int)
            findings.append(
                Finding(
                    "broken_parent_pointer",
                    "warning",
                    f"{line_col} points at no member of the household; {loc_col} left missing",
                    table="persons",
                    column=line_col,
                    count=int(broken.sum()),
                    records=tuple(int(r) for r in records.iloc[:EXAMPLES]),
                )
            )
        derived = found.where(has_line & ~broken)
        if loc_col in persons.columns:  # keep mapped whereabouts where no line was given
            mapped = persons[loc_col].astype("object")
            derived = derived.where(has_line, mapped)
        persons[loc_col] = _categorical(derived, catalog, "parent_loc")
    tables["persons"] = persons
    return findings


def _migrant_status(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    persons = tables.get("persons")
    if persons is None:
        return _cannot("migrant_status needs persons")
    if "migrant_status" in persons.columns:
        return [
            Finding(
                "derivation_skipped",
                "info",
                "migrant_status is mapped from the source; not derived",
                table="persons",
            )
        ]
    country = params.get("reporting_country")
    if not isinstance(country, str):
        return _cannot("migrant_status needs the parameter reporting_country", table="persons")
    basis = str(params.get("migrant_basis", "COB"))
    column = {"COB": "country_of_birth", "CIT": "citizenship"}.get(basis)
    if column is None or column not in persons.columns:
        return [
            Finding(
                "cannot_derive",
                "error",
                "migrant_status is derived on the basis COB (country_of_birth: FB/NB) or "
                "CIT (citizenship: FC/NAT, STL when stateless), from that column",
                table="persons",
                value=basis,
                expected="COB or CIT, with its column mapped",
            )
        ]
    geo = catalog.codelist("geo")
    special = set(geo.sets.get("special", ())) | {c for c in geo.ids if c.startswith("_")}
    values = persons[column].astype("object")
    unknown = values.isna() | values.isin(special)
    native, foreign = ("NB", "FB") if column == "country_of_birth" else ("NAT", "FC")
    status = np.where(unknown, "_U", np.where(values == country, native, foreign))
    if column == "citizenship" and "stateless" in persons.columns:
        status = np.where(persons["stateless"].fillna(False).astype(bool), "STL", status)
    persons["migrant_status"] = _categorical(status, catalog, "migrant_status")
    return []


def _age_group(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    from migprofile.catalog.age import AgeCodeError, bin_ages

    ages = catalog.codelist("age")
    groups = str(params.get("age_groups", "five_year"))
    try:
        codes = ages.group_codes(groups)
    except KeyError:
        return _cannot("age_groups names no set or level of the age codelist", value=groups)
    findings: list[Finding] = []
    for name in ("persons", "events"):
        frame = tables.get(name)
        if frame is None or "age" not in frame.columns or "age_group" in frame.columns:
            continue
        try:
            grouped = bin_ages(frame["age"], list(codes))
        except AgeCodeError as exc:
            findings.append(
                Finding(
                    "cannot_derive",
                    "error",
                    f"age groups {groups!r}: {exc.reason}",
                    table=name,
                    column="age",
                )
            )
            continue
        frame["age_group"] = _categorical(grouped, catalog, "age")
    return findings


def _recent_immigrant(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    """Lived in another country one year before the reference date (PR-Rev3):
    ``country_1y_ago`` known and not the reporting country; unknown for persons
    under one year old (they were not born)."""
    persons = tables.get("persons")
    country = params.get("reporting_country")
    if persons is None or "country_1y_ago" not in persons.columns or not isinstance(country, str):
        return _cannot(
            "recent_immigrant needs persons.country_1y_ago and reporting_country", table="persons"
        )
    if "recent_immigrant" in persons.columns:
        return []
    geo = catalog.codelist("geo")
    before = persons["country_1y_ago"].astype("object")
    unknown = before.isna() | before.isin([c for c in geo.ids if c.startswith("_")])
    value = pd.Series((before != country).to_numpy(), index=persons.index, dtype="boolean")
    value[unknown] = pd.NA
    if "age" in persons.columns:
        value[persons["age"] < 1] = pd.NA
    persons["recent_immigrant"] = value
    return []


_ARRIVAL_BINS = ((0, 0, "Y_LT1"), (1, 4, "Y1T4"), (5, 9, "Y5T9"), (10, 19, "Y10T19"))


def _years_since_arrival(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    persons = tables.get("persons")
    if persons is None or "year_of_arrival" not in persons.columns:
        return _cannot("years_since_arrival needs persons.year_of_arrival", table="persons")
    if "years_since_arrival" in persons.columns:
        return []
    years = mapping.year - persons["year_of_arrival"]
    codes = pd.Series("_U", index=persons.index, dtype="object")
    codes[years >= 20] = "Y_GE20"
    for lo, hi, code in _ARRIVAL_BINS:
        codes[(years >= lo) & (years <= hi)] = code
    findings: list[Finding] = []
    future = years < 0
    if future.any():
        findings.append(
            Finding(
                "arrival_after_reference",
                "warning",
                "year of arrival after the reference year; coded unknown",
                table="persons",
                column="year_of_arrival",
                count=int(future.sum()),
                records=tuple(int(r) for r in persons.loc[future, RECORD].iloc[:EXAMPLES])
                if RECORD in persons
                else (),
            )
        )
        codes[future] = "_U"
    codes[persons["year_of_arrival"].isna()] = None
    persons["years_since_arrival"] = _categorical(codes, catalog, "years_since_arrival")
    return findings


def _n_members_abroad(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    persons, households = tables.get("persons"), tables.get("households")
    if persons is None or households is None or "absent_abroad" not in persons.columns:
        return _cannot(
            "n_members_abroad needs households and persons with absent_abroad", table="households"
        )
    if "n_members_abroad" in households.columns:
        return []
    abroad = persons.loc[persons["absent_abroad"].fillna(False).astype(bool), "hh_id"]
    counts = abroad.value_counts()
    households["n_members_abroad"] = households["hh_id"].map(counts).fillna(0).astype("float64")
    return []


DERIVATIONS: dict[str, Derive] = {
    "age_group": _age_group,
    "recent_immigrant": _recent_immigrant,
    "parent_location": _parent_location,
    "migrant_status": _migrant_status,
    "years_since_arrival": _years_since_arrival,
    "n_members_abroad": _n_members_abroad,
}


def derive(
    tables: dict[str, pd.DataFrame],
    mapping: SourceMapping,
    catalog: Catalog,
    params: Mapping[str, object],
) -> list[Finding]:
    """Apply the mapping's derivations in order; return their findings."""
    findings: list[Finding] = []
    for name in mapping.derive:
        rule = DERIVATIONS.get(name)
        if rule is None:
            findings.append(
                Finding(
                    "unknown_derivation",
                    "error",
                    "no such derivation",
                    value=name,
                    expected="one of " + ", ".join(DERIVATIONS),
                )
            )
            continue
        findings.extend(rule(tables, mapping, catalog, params))
    return findings
