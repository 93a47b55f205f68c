"""The SDMX-CSV file of a profile.

:func:`write_sdmx_csv` writes every table of a profile as one dataflow in the
SDMX-CSV 2.0 format: one observation per line, codes only (no labels, so the
file is the same in every language).

Columns, in order:

* ``STRUCTURE`` (``dataflow``), ``STRUCTURE_ID``
  (``MIGPROFILE:DF_<PROFILE ID>(1.0)``, the profile id upper-cased with every
  character other than a letter or digit replaced by ``_``), ``ACTION``
  (``I``, information);
* the dimensions ``INDICATOR`` (the catalogue's indicator id), ``REF_AREA``
  (ISO 3166-1 alpha-3 or an M49 aggregate, codelist ``geo``),
  ``TIME_PERIOD``, then one column per breakdown dimension used by some table
  of the profile, upper-cased (``SEX``, ``AGE``, ``COUNTRY_OF_BIRTH``), in
  order of first use. Cells carry the catalogue's codes, ``_T`` for totals;
  a table not broken down by a dimension has ``_T`` there when its indicator
  allows that breakdown (the figure is the total over it) and ``_Z`` (not
  applicable) when it does not;
* the measure ``OBS_VALUE`` and the attributes ``UNIT_MEASURE`` and
  ``UNIT_MULT`` (from :func:`migprofile.units.sdmx_unit_measure` and
  :func:`migprofile.units.unit_multiplier`), ``OBS_STATUS`` and
  ``CONF_STATUS`` (SDMX CL_OBS_STATUS and CL_CONF_STATUS codes).

A withheld cell (any confidentiality status other than ``F``) has an empty
``OBS_VALUE``. Numbers are written in the shortest form that reads back to the
same float (``2``, ``20.5``, ``0.125``); integers without a decimal point.
The file is UTF-8 with ``\\n`` line ends, and the same profile always gives
the same bytes.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading apostrophe, so that a spreadsheet opening the file does
not read it as a formula. Catalogue codes never start with those characters;
the guard is for codes that came from users' files unchecked.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pandas as pd

from migprofile.errors import MigprofileError
from migprofile.profile._io import write_atomically
from migprofile.profile.model import Profile, ProfileTable

__all__ = [
    "AGENCY",
    "FORMULA_PREFIXES",
    "SdmxError",
    "escape_text",
    "format_number",
    "sdmx_columns",
    "structure_id",
    "write_sdmx_csv",
]

AGENCY: Final = "MIGPROFILE"
VERSION: Final = "1.0"
NOT_APPLICABLE: Final = "_Z"
TOTAL: Final = "_T"
#: Text starting with one of these could be read as a formula by a spreadsheet.
FORMULA_PREFIXES: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")

_LEADING: Final = ("STRUCTURE", "STRUCTURE_ID", "ACTION")
_KEY: Final = ("INDICATOR", "REF_AREA", "TIME_PERIOD")
_TRAILING: Final = ("OBS_VALUE", "UNIT_MEASURE", "UNIT_MULT", "OBS_STATUS", "CONF_STATUS")
# Columns of the result tables that are already dimensions of the key.
_KEY_COLUMNS: Final = frozenset({"indicator", "ref_area", "ref_period", "time_period"})
_FREE: Final = "F"


class SdmxError(ValueError, MigprofileError):
    """The profile cannot be written as one SDMX dataset (two tables give
    different values for the same observation, a unit without an SDMX
    code, ...)."""


def structure_id(profile_id: str) -> str:
    """``MIGPROFILE:DF_<ID>(1.0)`` for a profile id (``fictland-2024`` ->
    ``MIGPROFILE:DF_FICTLAND_2024(1.0)``)."""
    flow = re.sub(r"[^A-Z0-9]", "_", profile_id.upper())
    return f"{AGENCY}:DF_{flow}({VERSION})"


def escape_text(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet could take it for
    a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def format_number(value: object) -> str:
    """A number in the shortest text that reads back to the same float:
    ``2.0`` -> ``2``, ``0.1`` -> ``0.1``; missing or infinite -> ``""``."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if not isinstance(value, numbers.Real):
        return ""
    number = float(value)
    if not math.isfinite(number):
        return ""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    return str(value)


def _breakdowns(profile: Profile) -> list[str]:
    """The breakdown dimensions of every table, once, in order of first use."""
    seen: dict[str, None] = {}
    for table in profile.tables:
        if not table.sdmx:
            continue
        for dim in table.breakdowns:
            if dim not in _KEY_COLUMNS:
                seen.setdefault(dim, None)
    return list(seen)


def sdmx_columns(profile: Profile) -> tuple[str, ...]:
    """The header of the profile's SDMX-CSV file."""
    return (*_LEADING, *_KEY, *(d.upper() for d in _breakdowns(profile)), *_TRAILING)


def _unit_attributes(unit: str, table: ProfileTable) -> tuple[str, str]:
    from migprofile import units

    try:
        return units.sdmx_unit_measure(unit), str(units.unit_multiplier(unit))
    except units.UnitError as exc:
        raise SdmxError(f"table {table.id!r} ({table.indicator.id}): {exc}") from None


def _code(record: dict[Any, Any], dim: str, table: ProfileTable) -> str:
    """A breakdown cell: the table's code; for a dimension the table is not
    broken down by, ``_T`` when the indicator could be (the figure is the
    total over it) and ``_Z`` when the dimension does not apply to it."""
    if dim in table.breakdowns:
        return _text(record.get(dim))
    return TOTAL if dim in table.indicator.breakdowns else NOT_APPLICABLE


def _rows(profile: Profile, dims: list[str]) -> Iterator[tuple[tuple[str, ...], list[str], str]]:
    """(key, row, table id) of every observation, tables in profile order."""
    struct = structure_id(profile.spec.id)
    for table in profile.tables:
        if not table.sdmx:
            continue
        records: list[dict[Any, Any]] = table.data.to_dict("records")
        for record in records:
            indicator = _text(record.get("indicator")) or table.indicator.id
            area = _text(record.get("ref_area")) or profile.country
            period = _text(record.get("ref_period")) or profile.reference_period
            codes = [_code(record, d, table) for d in dims]
            unit = _text(record.get("unit")) or table.indicator.unit
            measure, multiplier = _unit_attributes(unit, table)
            conf = _text(record.get("conf_status")) or _FREE
            value = "" if conf != _FREE else format_number(record.get("value"))
            key = (indicator, area, period, *codes)
            row = [
                "dataflow",
                struct,
                "I",
                *key,
                value,
                measure,
                multiplier,
                _text(record.get("obs_status")),
                conf,
            ]
            yield key, row, table.id


def write_sdmx_csv(profile: Profile, path: Path) -> None:
    """Write every table of the profile as one SDMX-CSV 2.0 dataset at
    ``path`` (see the module docstring).

    An observation that two tables both give (same key) is written once if
    the rows agree; if they differ, :class:`SdmxError` names both tables.
    """
    dims = _breakdowns(profile)
    header = sdmx_columns(profile)
    value_columns = {"OBS_VALUE", "UNIT_MULT"}
    numeric = [i for i, name in enumerate(header) if name in value_columns]
    seen: dict[tuple[str, ...], tuple[list[str], str]] = {}
    buffer = io.StringIO(newline="")
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(header)
    for key, row, table_id in _rows(profile, dims):
        previous = seen.get(key)
        if previous is not None:
            if previous[0] != row:
                raise SdmxError(
                    f"tables {previous[1]!r} and {table_id!r} give different values for "
                    f"the observation {', '.join(key)}; one SDMX dataset holds one value "
                    "per observation (give one of the two items 'sdmx: false' in the spec "
                    "to keep it out of the dataflow)"
                )
            continue
        seen[key] = (row, table_id)
        out.writerow([cell if i in numeric else escape_text(cell) for i, cell in enumerate(row)])
    write_atomically(Path(path), buffer.getvalue().encode("utf-8"))
