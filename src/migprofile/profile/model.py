"""What the builder hands to the renderers: a computed profile.

The builder (:mod:`migprofile.profile.build`) reads the spec and the sources,
computes every table, and produces one :class:`Profile`. The renderers
(workbook, SDMX-CSV, HTML) only read it: they never compute, so every output
shows the same figures. Every text a renderer shows comes from
:attr:`Profile.labels` (the profile's language) or from the data; text that
came from users' files is escaped by the renderer that writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pandas as pd

from migprofile.catalog.loader import Catalog
from migprofile.catalog.models import Indicator

if TYPE_CHECKING:
    from migprofile.profile.i18n import Labels
    from migprofile.profile.spec import ProfileSpec
    from migprofile.sources.report import ReconciliationReport

__all__ = [
    "ChartKind",
    "Gap",
    "Profile",
    "ProfileTable",
    "Section",
    "SourceSummary",
]

ChartKind = Literal["bar", "pyramid", "line"]


@dataclass(frozen=True)
class SourceSummary:
    """One source the profile read: what it is and how its records fared."""

    id: str
    name: str
    kind: str
    reference_period: str
    provider: str | None
    licence: str | None
    #: (file path relative to the spec's folder, sha256 hex) for every input file.
    files: tuple[tuple[str, str], ...]
    #: The reconciliation report of reading the source (rows read, kept,
    #: rejected, unmapped codes, findings).
    report: ReconciliationReport | None


@dataclass(frozen=True)
class ProfileTable:
    """One table of the profile: one indicator, from one source, by some
    breakdowns, for one or several reference periods.

    ``data`` is a slice of the result table of :func:`migprofile.compute`
    (columns ``indicator, ref_period, ref_area, <breakdowns...>, value, unit,
    se, ci_lower, ci_upper, cv, df, n, obs_status, conf_status, source,
    findings, parameters``), after disclosure control: withheld cells have
    ``value`` NaN and ``conf_status`` ``C`` (primary) or ``D`` (secondary).
    Rows are sorted; the ``_T`` code marks a total (margin).
    """

    #: File-safe id, unique in the profile: lower-case ASCII letters, digits
    #: and ``-`` (``"immigration-02-imm-stock-sex-age"``).
    id: str
    #: The section's id.
    section: str
    indicator: Indicator
    #: The breakdown dimensions, in order: the names of the breakdown columns
    #: of ``data`` (``"sex"``, ``"age"``, ``"country_of_birth"``); a
    #: breakdown asked at a level (``"age:five_year"``) has its dimension's
    #: name here and the level's codes in the column.
    breakdowns: tuple[str, ...]
    data: pd.DataFrame
    #: The source's id (a key of :attr:`Profile.sources`).
    source: str
    #: The chart the spec asked for, or ``None``.
    chart: ChartKind | None = None
    #: Footnotes specific to this table (already in the profile's language).
    notes: tuple[str, ...] = ()
    #: The spec's title for this table, in the profile's language, if any;
    #: renderers otherwise name the indicator and its breakdowns.
    title: str | None = None
    #: Whether the table goes into the SDMX-CSV dataflow.
    sdmx: bool = True


@dataclass(frozen=True)
class Gap:
    """An indicator the spec asked for that no source could supply."""

    section: str
    indicator: str
    #: Why, in the profile's language ("no census or survey source has the
    #: persons table with education").
    reason: str


@dataclass(frozen=True)
class Section:
    id: str
    #: Title and introduction in the profile's language (the spec's text, or
    #: the translation file's default for a standard section id).
    title: str
    intro: str
    tables: tuple[ProfileTable, ...]
    gaps: tuple[Gap, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A computed profile, ready to render."""

    spec: ProfileSpec
    catalog: Catalog
    labels: Labels
    #: ISO 3166-1 alpha-3 code of the reporting country.
    country: str
    title: str
    reference_period: str
    #: The language of this rendering (``"en"``, ``"fr"``).
    language: str
    sections: tuple[Section, ...]
    sources: dict[str, SourceSummary]
    #: Every gap of every section, in section order.
    gaps: tuple[Gap, ...]
    #: migprofile's version (recorded in the outputs' metadata).
    version: str
    #: Profile-level notes (e.g. which population estimates were used).
    notes: tuple[str, ...] = field(default=())

    @property
    def tables(self) -> tuple[ProfileTable, ...]:
        return tuple(t for s in self.sections for t in s.tables)

    def indicators(self) -> tuple[Indicator, ...]:
        """Every indicator that has a table, once, in order of appearance."""
        seen: dict[str, Indicator] = {}
        for table in self.tables:
            seen.setdefault(table.indicator.id, table.indicator)
        return tuple(seen.values())

    def suppressions(self) -> pd.DataFrame:
        """Cells withheld by disclosure control, per table: columns ``table,
        indicator, primary, secondary, flagged`` (counts of cells withheld
        as primary — conf_status A, C or N —, as secondary — D —, and of cells
        published but flagged as unreliable, obs_status U)."""
        rows = []
        for t in self.tables:
            conf = t.data["conf_status"].astype(str) if "conf_status" in t.data else pd.Series()
            obs = t.data["obs_status"].astype(str) if "obs_status" in t.data else pd.Series()
            rows.append(
                {
                    "table": t.id,
                    "indicator": t.indicator.id,
                    "primary": int(conf.isin(["A", "C", "N"]).sum()),
                    "secondary": int((conf == "D").sum()),
                    "flagged": int((obs == "U").sum()),
                }
            )
        return pd.DataFrame(rows, columns=["table", "indicator", "primary", "secondary", "flagged"])
