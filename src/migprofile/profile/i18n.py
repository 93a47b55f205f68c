"""Labels of a profile in one language: interface texts, section titles,
indicator, dimension, code and unit names.

Texts come from translation files (YAML, one per language; the format is
described in ``docs/translations.md``) and from the catalogue. English and
French ship with migprofile (``translations/en.yaml`` and ``fr.yaml`` next to
this module); a statistics office adds a language, or overrides a bundled
text, with its own files (``extra``), without touching the package.

Every look-up falls back, in order, to the language's files, the catalogue's
text in that language, the English files, the catalogue's English text, and
finally the key or code itself, so that a missing translation never stops a
report: it shows up in English.

Interface texts may hold named fields (``"Page {page} of {pages}"``), filled
by :meth:`Labels.text` with :meth:`str.format_map`. The fields are checked when
a file is read: only plain names are allowed, so a translation file cannot
reach attributes or items of the values (``{value.__class__}``,
``{value[0]}``) or ask for positional arguments.
"""

from __future__ import annotations

import gettext
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Final

import pycountry
import yaml

from migprofile.catalog.loader import Catalog
from migprofile.catalog.models import Indicator
from migprofile.errors import Problem, ProblemsError

__all__ = [
    "Labels",
    "TranslationError",
    "Translations",
    "available_languages",
    "load_labels",
    "read_translation_file",
]

#: The top-level keys of a translation file.
TOP_LEVEL_KEYS: Final[tuple[str, ...]] = (
    "language",
    "name",
    "ui",
    "sections",
    "indicators",
    "dimensions",
    "codes",
    "units",
)
_SECTION_FIELDS: Final = ("title", "intro")
_INDICATOR_FIELDS: Final = ("name", "definition")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_KEY_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A format spec without nested fields: fill, alignment, sign, width, grouping,
# precision and type (``{count:,}``, ``{share:.1f}``).
_FORMAT_SPEC = re.compile(r"[^{}]{0,20}")
_TOTAL: Final = "_T"
_GEO: Final = "geo"
_SCALED_UNIT = re.compile(r"1e(\d+)\s+(.+)")


class TranslationError(ProblemsError):
    """A translation file is invalid, or no file gives the language asked for.
    ``problems`` names the file, the key and the value of every problem."""

    about = "the translation files"


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Translations:
    """The texts of one language, read from one file or merged from several.

    ``ui`` holds the interface texts by dotted key; section titles and
    introductions are stored there too, as ``section.<id>.title`` and
    ``section.<id>.intro``. ``codes`` maps a codelist id to its code labels.
    """

    language: str
    name: str
    ui: Mapping[str, str] = field(default_factory=dict)
    indicators: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    dimensions: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    #: The files these texts were read from, in the order they were applied.
    files: tuple[str, ...] = ()

    def merged(self, other: Translations) -> Translations:
        """These texts with ``other``'s added on top (``other`` wins)."""
        indicators = {k: dict(v) for k, v in self.indicators.items()}
        for key, texts in other.indicators.items():
            indicators.setdefault(key, {}).update(texts)
        codes = {k: dict(v) for k, v in self.codes.items()}
        for key, labels in other.codes.items():
            codes.setdefault(key, {}).update(labels)
        return Translations(
            language=self.language,
            name=other.name or self.name,
            ui={**self.ui, **other.ui},
            indicators=indicators,
            dimensions={**self.dimensions, **other.dimensions},
            codes=codes,
            units={**self.units, **other.units},
            files=(*self.files, *other.files),
        )


class _Reader:
    """Checks one parsed translation file, collecting every problem."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, code: str, key: str, message: str, value: object = None) -> None:
        self.problems.append(
            Problem(
                code=code,
                message=message,
                file=self.file,
                field=key or None,
                value=None if value is None else _short(value),
            )
        )

    def text(self, key: str, value: object) -> str | None:
        if isinstance(value, str):
            return value
        self.problem(
            "not_text",
            key,
            f"a text is expected, not {_kind(value)}; quote it if it is meant as text",
            value,
        )
        return None

    def mapping(self, key: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.problem("not_mapping", key, f"a mapping is expected, not {_kind(value)}", value)
            return {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                self.problem(
                    "key_not_text",
                    f"{key}.{k}" if key else str(k),
                    f"keys are texts, not {_kind(k)}; quote the key",
                    k,
                )
                continue
            out[k] = v
        return out

    def template(self, key: str, value: object) -> str | None:
        text = self.text(key, value)
        if text is None:
            return None
        message = template_problem(text)
        if message is not None:
            self.problem("bad_placeholder", key, message, text)
            return None
        return text

    def flatten(self, dotted: str, value: object, out: dict[str, str]) -> None:
        """Store the texts of a (possibly nested) mapping of ``ui`` under
        dotted keys; ``dotted`` is the key of ``value`` ("" for ``ui``)."""
        where = f"ui.{dotted}" if dotted else "ui"
        for key, item in self.mapping(where, value).items():
            if not all(_KEY_PART.fullmatch(p) for p in key.split(".")):
                self.problem(
                    "bad_key",
                    f"{where}.{key}",
                    "a key is made of letters, digits, '_' and '-', parts joined by '.'",
                    key,
                )
                continue
            full = f"{dotted}.{key}" if dotted else key
            if isinstance(item, Mapping):
                self.flatten(full, item, out)
            else:
                self.store(full, item, out)

    def store(self, dotted: str, item: object, out: dict[str, str]) -> None:
        if dotted in out:
            self.problem("duplicate_key", f"ui.{dotted}", "the key is given twice", dotted)
            return
        text = self.template(f"ui.{dotted}", item)
        if text is not None:
            out[dotted] = text


def template_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable interface text, or ``None`` if it is.

    Fields must be plain names (``{count}``); ``{}``, ``{0}``, ``{a.b}``,
    ``{a[0]}``, conversions (``{a!r}``) and nested fields are refused, as are
    unbalanced braces (write ``{{`` and ``}}`` for literal braces).
    """
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"the braces do not balance ({exc}); write {{{{ and }}}} for literal braces"
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _FIELD_NAME.fullmatch(name):
            return (
                f"field {{{name}}} is not a plain name: only named fields such as "
                "{count} are allowed (no positions, attributes or indexes)"
            )
        if conversion is not None:
            return f"field {{{name}!{conversion}}} has a conversion; only plain fields are allowed"
        if spec and not _FORMAT_SPEC.fullmatch(spec):
            return f"the format of field {{{name}}} may not hold other fields"
    return None


def _fields(text: str) -> set[str]:
    return {name for _l, name, _s, _c in string.Formatter().parse(text) if name}


def _kind(value: object) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _short(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse(source: str, file: str) -> Translations:
    reader = _Reader(file)
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reader.problem("yaml", "", f"not valid YAML: {where}{str(exc).splitlines()[0]}")
        raise TranslationError(reader.problems) from None
    body = reader.mapping("", data)
    if not isinstance(data, Mapping):
        raise TranslationError(reader.problems)
    for key in body:
        if key not in TOP_LEVEL_KEYS:
            reader.problem(
                "unknown_key",
                key,
                f"unknown top-level key; expected one of {', '.join(TOP_LEVEL_KEYS)}",
                key,
            )
    language = ""
    if "language" not in body:
        reader.problem("missing_key", "language", "the file must say its language: 'language: ro'")
    else:
        lang = reader.text("language", body["language"])
        if lang is not None and not _LANGUAGE.fullmatch(lang):
            reader.problem(
                "bad_language",
                "language",
                "a language is a lower-case ISO 639 code of 2 or 3 letters such as 'ro'",
                lang,
            )
        elif lang is not None:
            language = lang
    name = ""
    if "name" in body:
        name = reader.text("name", body["name"]) or ""

    ui: dict[str, str] = {}
    if "ui" in body:
        reader.flatten("", body["ui"], ui)

    for section, texts in reader.mapping("sections", body.get("sections", {})).items():
        for part, value in reader.mapping(f"sections.{section}", texts).items():
            key = f"sections.{section}.{part}"
            if part not in _SECTION_FIELDS:
                reader.problem("unknown_key", key, "a section has 'title' and 'intro'", part)
                continue
            text = reader.template(key, value)
            if text is not None:
                ui[f"section.{section}.{part}"] = text

    indicators: dict[str, dict[str, str]] = {}
    for ind, texts in reader.mapping("indicators", body.get("indicators", {})).items():
        for part, value in reader.mapping(f"indicators.{ind}", texts).items():
            key = f"indicators.{ind}.{part}"
            if part not in _INDICATOR_FIELDS:
                reader.problem("unknown_key", key, "an indicator has 'name' and 'definition'", part)
                continue
            text = reader.text(key, value)
            if text is not None:
                indicators.setdefault(ind, {})[part] = text

    dimensions: dict[str, str] = {}
    for dim, value in reader.mapping("dimensions", body.get("dimensions", {})).items():
        text = reader.text(f"dimensions.{dim}", value)
        if text is not None:
            dimensions[dim] = text

    codes: dict[str, dict[str, str]] = {}
    for codelist, labels in reader.mapping("codes", body.get("codes", {})).items():
        for code, value in reader.mapping(f"codes.{codelist}", labels).items():
            text = reader.text(f"codes.{codelist}.{code}", value)
            if text is not None:
                codes.setdefault(codelist, {})[code] = text

    units: dict[str, str] = {}
    for unit, value in reader.mapping("units", body.get("units", {})).items():
        text = reader.text(f"units.{unit}", value)
        if text is not None:
            units[unit] = text

    if reader.problems:
        raise TranslationError(reader.problems)
    return Translations(
        language=language,
        name=name,
        ui=ui,
        indicators=indicators,
        dimensions=dimensions,
        codes=codes,
        units=units,
        files=(file,),
    )


def read_translation_file(path: str | Path) -> Translations:
    """Read and check one translation file.

    Raises :class:`TranslationError` naming the file, and the key and value of
    every problem (unknown keys, values that are not text, bad fields).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TranslationError(
            [Problem("missing_file", "the translation file does not exist", file=str(path))]
        ) from None
    except UnicodeDecodeError as exc:
        raise TranslationError(
            [Problem("not_utf8", f"not UTF-8 text (byte {exc.start})", file=str(path))]
        ) from None
    return _parse(text, str(path))


def _bundled_dir() -> Traversable:
    return resources.files("migprofile") / "profile" / "translations"


@cache
def _bundled() -> dict[str, Translations]:
    out: dict[str, Translations] = {}
    for item in sorted(_bundled_dir().iterdir(), key=lambda t: t.name):
        if item.name.endswith(".yaml"):
            tr = _parse(item.read_text(encoding="utf-8"), f"<bundled>/{item.name}")
            out[tr.language] = tr
    return out


def _extra_files(extra: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    problems: list[Problem] = []
    for entry in extra:
        path = Path(entry)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix == ".yaml" and _LANGUAGE.fullmatch(p.stem)
            )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                Problem("missing_file", "no translation file or folder here", file=str(path))
            )
    if problems:
        raise TranslationError(problems)
    return files


def _read_extra(extra: Sequence[str | Path]) -> list[Translations]:
    out: list[Translations] = []
    problems: list[Problem] = []
    for path in _extra_files(extra):
        try:
            tr = read_translation_file(path)
        except TranslationError as exc:
            problems.extend(exc.problems)
            continue
        if _LANGUAGE.fullmatch(path.stem) and path.stem != tr.language:
            problems.append(
                Problem(
                    "language_mismatch",
                    f"the file is named {path.name} but says 'language: {tr.language}'",
                    file=str(path),
                    field="language",
                    value=tr.language,
                    expected=path.stem,
                )
            )
            continue
        out.append(tr)
    if problems:
        raise TranslationError(problems)
    return out


def _merge(language: str, parts: Iterable[Translations]) -> Translations | None:
    merged: Translations | None = None
    for part in parts:
        if part.language != language:
            continue
        merged = part if merged is None else merged.merged(part)
    return merged


def _check_fields(tr: Translations, english: Translations) -> list[Problem]:
    """Fields a translated text uses that the English text does not offer
    (they would be shown as ``{name}``: the code fills only the English ones)."""
    problems: list[Problem] = []
    for key, text in tr.ui.items():
        reference = english.ui.get(key)
        if reference is None:
            continue
        unknown = sorted(_fields(text) - _fields(reference))
        if unknown:
            offered = ", ".join(f"{{{f}}}" for f in sorted(_fields(reference))) or "none"
            problems.append(
                Problem(
                    "unknown_field",
                    f"uses {', '.join('{' + f + '}' for f in unknown)}, which the English text "
                    f"does not provide (fields: {offered})",
                    file=", ".join(tr.files),
                    field=f"ui.{key}",
                    value=text,
                )
            )
    return problems


def available_languages(extra: Sequence[str | Path] = ()) -> tuple[str, ...]:
    """The languages with a translation file: the bundled ones and those of
    ``extra`` (files, or folders of ``<language>.yaml`` files), sorted."""
    langs = set(_bundled())
    langs.update(tr.language for tr in _read_extra(extra))
    return tuple(sorted(langs))


# --------------------------------------------------------------------------- labels


class _Values(dict[str, object]):
    """The values of a text's fields; a field without a value stays visible."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@cache
def _country_translator(language: str) -> gettext.NullTranslations | None:
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
    except OSError:
        return None


def pycountry_name(iso3: str, language: str) -> str | None:
    """The name of a country in ``language`` from pycountry's ISO 3166-1
    translations, or ``None`` when pycountry has no such code or language."""
    country = pycountry.countries.get(alpha_3=iso3)
    if country is None:
        return None
    translator = _country_translator(language)
    if translator is None:
        return None
    name = str(country.name)
    translated = translator.gettext(name)
    if translated == name and language != "en":
        return None
    return translated


class Labels:
    """The texts of a profile in one language (see the module docstring).

    Built by :func:`load_labels`; immutable.
    """

    def __init__(
        self,
        language: str,
        catalog: Catalog,
        own: Translations | None,
        english: Translations,
    ) -> None:
        self.language = language
        self.catalog = catalog
        self._layers: tuple[Translations, ...] = (
            (own, english) if own is not None and language != "en" else (english,)
        )
        #: The language's own name ("Français"), from its translation file.
        self.name = self._layers[0].name or language

    def __repr__(self) -> str:
        return f"Labels(language={self.language!r})"

    # -- interface texts

    def has_text(self, key: str) -> bool:
        """Whether some file (this language's or English) gives ``key``."""
        return any(key in layer.ui for layer in self._layers)

    def text(self, key: str, **values: object) -> str:
        """The interface text ``key`` with its fields filled from ``values``.

        Falls back to English, then to the key itself. A field without a
        value is left as ``{name}``.
        """
        for layer in self._layers:
            template = layer.ui.get(key)
            if template is not None:
                return template.format_map(_Values(values))
        return key

    def section_title(self, section_id: str) -> str:
        """The default title of a section (``section.<id>.title``); the id
        itself for a section no file names."""
        key = f"section.{section_id}.title"
        return self.text(key) if self.has_text(key) else section_id

    def section_intro(self, section_id: str) -> str:
        """The default introduction of a section, or ``""``."""
        key = f"section.{section_id}.intro"
        return self.text(key) if self.has_text(key) else ""

    # -- catalogue texts

    def _indicator_text(self, ind: Indicator, part: str) -> str:
        for layer in self._layers:
            text = layer.indicators.get(ind.id, {}).get(part)
            if text is not None:
                return text
            catalog_text = getattr(ind, part).texts.get(layer.language)
            if catalog_text:
                return str(catalog_text)
        return str(getattr(ind, part).get("en"))

    def indicator_name(self, ind: Indicator) -> str:
        """The indicator's name: a translation file's, else the catalogue's in
        this language, else English."""
        return self._indicator_text(ind, "name")

    def indicator_definition(self, ind: Indicator) -> str:
        return self._indicator_text(ind, "definition")

    def dimension(self, dimension_id: str) -> str:
        """The name of a dimension, as a column header."""
        known = self.catalog.dimensions.get(dimension_id)
        for layer in self._layers:
            text = layer.dimensions.get(dimension_id)
            if text is not None:
                return text
            if known is not None and layer.language in known.name.texts:
                return known.name.texts[layer.language]
        return dimension_id if known is None else known.name.get("en")

    def _codelist_of(self, dimension_id: str) -> str | None:
        known = self.catalog.dimensions.get(dimension_id)
        if known is not None:
            return known.codelist
        if dimension_id in self.catalog.codelists:
            return dimension_id
        return None

    def code(self, dimension_id: str, code: str) -> str:
        """The label of ``code`` of the codelist of ``dimension_id`` (a
        codelist id is accepted too). ``_T`` is the total; a code the
        catalogue does not know, or a dimension it does not know, gives the
        code itself."""
        codelist_id = self._codelist_of(dimension_id)
        if codelist_id is None:
            return self.text("table.total") if code == _TOTAL else code
        return self._code_label(codelist_id, code)

    def _code_label(self, codelist_id: str, code: str) -> str:
        codelist = self.catalog.codelists.get(codelist_id)
        entry = codelist.code(code) if codelist is not None and code in codelist else None
        for layer in self._layers:
            text = layer.codes.get(codelist_id, {}).get(code)
            if text is not None:
                return text
            if entry is not None and layer.language in entry.name.texts:
                return entry.name.texts[layer.language]
            if codelist_id == _GEO and layer.language != "en":
                translated = pycountry_name(code, layer.language)
                if translated is not None:
                    return translated
        if entry is not None:
            return entry.name.get("en")
        return self.text("table.total") if code == _TOTAL else code

    def country(self, iso3: str) -> str:
        """The name of a country or area (a code of the ``geo`` codelist)."""
        return self._code_label(_GEO, iso3)

    def unit(self, unit: str) -> str:
        """The name of a unit (``person`` -> ``persons``, ``percent`` -> ``%``).

        A scaled unit (``1e6 USD``) is named from its scale and its unit when
        a file gives ``unit.scale.<exponent>``; any other unknown unit is
        shown as written.
        """
        for layer in self._layers:
            text = layer.units.get(unit)
            if text is not None:
                return text
        scaled = _SCALED_UNIT.fullmatch(unit.strip())
        if scaled is not None:
            key = f"unit.scale.{int(scaled.group(1))}"
            if self.has_text(key):
                return self.text(key, unit=self.unit(scaled.group(2)))
        return unit


def load_labels(language: str, catalog: Catalog, extra: Sequence[str | Path] = ()) -> Labels:
    """The labels of ``language``: the bundled translation files, then the
    files of ``extra`` (translation files, or folders holding
    ``<language>.yaml`` files), each overriding and extending the ones
    before.

    Raises :class:`TranslationError` when a file is invalid or when no file
    gives ``language``.
    """
    if not _LANGUAGE.fullmatch(language):
        raise TranslationError(
            [
                Problem(
                    "bad_language",
                    "a language is a lower-case ISO 639 code of 2 or 3 letters",
                    value=language,
                )
            ]
        )
    bundled = _bundled()
    extras = _read_extra(extra)
    english = _merge("en", [bundled["en"], *extras]) or bundled["en"]
    own = _merge(language, [*([bundled[language]] if language in bundled else []), *extras])
    if own is None:
        known = sorted({*bundled, *(t.language for t in extras)})
        raise TranslationError(
            [
                Problem(
                    "unknown_language",
                    f"no translation file gives language {language!r}; available: "
                    f"{', '.join(known)} (add a file: see docs/translations.md)",
                    value=language,
                )
            ]
        )
    problems = _check_fields(own, english) if own.language != "en" else []
    if problems:
        raise TranslationError(problems)
    return Labels(language, catalog, own if language != "en" else None, english)
