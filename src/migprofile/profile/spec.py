"""The profile spec: one YAML file that says what a profile holds.

.. code-block:: yaml

    profile:
      id: fictland-2024
      title: {en: "Extended Migration Profile of Fictland 2024", fr: "..."}
      country: XFL
      reference_period: "2024"
      languages: [en, fr]
      catalog: [catalog]              # extra catalogue folders (region codelist, ...)
      translations: [translations]    # extra translation files or folders
      parameters: {reporting_country: XFL}
      sources:
        census: {mapping: sources/census/mapping.yaml}
        lfs: {mapping: sources/lfs/mapping.yaml, engine: pandas}
      disclosure: {min_n: 5, cv_flag: 0.2, cv_suppress: 0.35}
      outputs: [csv, parquet, xlsx, sdmx, html]
      sections:
        - id: immigration
          indicators:
            - IMM_STOCK
            - {id: IMM_STOCK, by: [sex, "age:five_year"], chart: pyramid}
            - {id: EMIG_STOCK, by: [ref_area], source: un_bilateral, chart: bar,
               periods: [1990, 2000, 2010, 2020]}

Paths are relative to the spec file. Every field is checked by
:func:`load_spec` / :func:`spec_problems` without reading any data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from migprofile.catalog.models import LocalisedText
from migprofile.compute.disclosure import DisclosureRules

__all__ = [
    "OUTPUTS",
    "STANDARD_SECTIONS",
    "IndicatorItem",
    "ProfileSpec",
    "SectionSpec",
    "SourceRef",
    "load_spec",
]

Output = Literal["csv", "parquet", "xlsx", "sdmx", "html"]
OUTPUTS: tuple[Output, ...] = ("csv", "parquet", "xlsx", "sdmx", "html")

#: Section ids with a default title and introduction in the translation files.
STANDARD_SECTIONS: tuple[str, ...] = (
    "overview",
    "immigration",
    "flows",
    "emigration",
    "return",
    "labour",
    "education",
    "children",
    "remittances",
    "protection",
    "social",
    "propensity",
)

_ID = r"^[a-z][a-z0-9_-]*$"
SpecId = Annotated[str, Field(pattern=_ID, max_length=60)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class SourceRef(_Model):
    """A source of the profile: its mapping file and, optionally, the engine.
    ``scan: true`` harmonises the source inside DuckDB into Parquet files
    (:func:`migprofile.sources.scan_source`) instead of into memory: for
    sources larger than memory, computed then with the DuckDB engine."""

    mapping: str
    engine: str | None = None
    scan: bool = False


class IndicatorItem(_Model):
    """One table of a section: an indicator by some breakdowns."""

    id: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    #: Breakdowns: ``"sex"``, ``"age:five_year"``; ``None`` takes the
    #: indicator's default breakdowns.
    by: tuple[str, ...] | None = None
    #: The source's key in ``sources``; ``None`` picks the first source whose
    #: kind the indicator accepts and whose data has the tables it needs.
    source: str | None = None
    #: ``True`` (every combination), ``False`` or a list of combinations.
    margins: bool | tuple[tuple[str, ...], ...] = True
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: A filter (the catalogue's filter language) restricting the domain.
    where: str | None = None
    chart: Literal["bar", "pyramid", "line"] | None = None
    #: Several reference years of a series source (sets the ``ref_year``
    #: parameter for each and stacks the results): a trend.
    periods: tuple[int, ...] | None = None
    title: LocalisedText | None = None
    #: ``False`` leaves the table out of the SDMX-CSV dataflow, which holds one
    #: value per observation key: for a second source of the same figures or
    #: a table restricted by ``where`` (the other outputs keep it).
    sdmx: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"id": value}
        return value


class SectionSpec(_Model):
    id: SpecId
    title: LocalisedText | None = None
    intro: LocalisedText | None = None
    indicators: tuple[IndicatorItem, ...] = ()


class ProfileSpec(_Model):
    """The whole spec (the ``profile:`` mapping of the YAML file)."""

    id: SpecId
    title: LocalisedText
    country: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    reference_period: str
    languages: tuple[str, ...] = ("en",)
    catalog: tuple[str, ...] = ()
    translations: tuple[str, ...] = ()
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    sources: dict[str, SourceRef]
    disclosure: DisclosureRules = Field(default_factory=DisclosureRules)
    outputs: tuple[Output, ...] = OUTPUTS
    sections: tuple[SectionSpec, ...]
    notes: LocalisedText | None = None
    #: The folder the spec was read from; relative paths resolve against it.
    base_dir: Path = Field(default=Path("."), exclude=True)
    #: The spec file's path (for error messages and the manifest).
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one language is needed")
        for lang in value:
            if not re.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"{lang!r} is not a language code such as 'en' or 'fr'")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @field_validator("sources")
    @classmethod
    def _source_ids(cls, value: dict[str, SourceRef]) -> dict[str, SourceRef]:
        if not value:
            raise ValueError("at least one source is needed")
        for key in value:
            if not re.fullmatch(_ID, key):
                raise ValueError(f"source id {key!r} must be lower-case letters, digits, _ or -")
        return value

    @model_validator(mode="after")
    def _unique(self) -> ProfileSpec:
        ids = [s.id for s in self.sections]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"section ids must be unique; repeated: {', '.join(dup)}")
        if not self.sections:
            raise ValueError("at least one section is needed")
        return self

    def resolve(self, relative: str) -> Path:
        """A path of the spec, relative to the spec's folder."""
        path = Path(relative)
        return path if path.is_absolute() else (self.base_dir / path)


def _read_yaml(path: Path) -> Mapping[str, Any]:
    from migprofile.profile.errors import SpecError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(path, [("", "file", str(path), "the spec file does not exist")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            path, [("", "file", f"byte {exc.start}", "the spec must be UTF-8 text")]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise SpecError(path, [(where, "yaml", "", str(exc).splitlines()[0])]) from None
    if not isinstance(data, Mapping) or "profile" not in data or len(data) != 1:
        raise SpecError(
            path, [("", "profile", type(data).__name__, "a single top-level key 'profile:'")]
        )
    body = data["profile"]
    if not isinstance(body, Mapping):
        raise SpecError(path, [("", "profile", type(body).__name__, "a mapping")])
    return body


def load_spec(path: str | Path) -> ProfileSpec:
    """Read and check a profile spec's structure (fields, types, ids).

    Raises :class:`~migprofile.profile.errors.SpecError` naming the file and
    every field in error. Cross-checks against the catalogue and the sources
    (indicator ids, breakdowns, mapping files) are done by
    :func:`migprofile.profile.validate_spec`.
    """
    from migprofile.profile.errors import SpecError

    path = Path(path)
    body = _read_yaml(path)
    try:
        return ProfileSpec.model_validate({**body, "base_dir": path.parent, "path": path})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append((loc, err["type"], repr(err.get("input"))[:80], err["msg"]))
        raise SpecError(path, problems) from None
