"""Labels in several languages: bundled English and French, fallbacks, extra
translation files, and strict checking of those files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import migprofile as mp
from migprofile.profile.i18n import (
    TranslationError,
    available_languages,
    load_labels,
    read_translation_file,
    template_problem,
)
from migprofile.profile.spec import STANDARD_SECTIONS

REQUIRED_UI_KEYS = (
    *(
        f"report.{k}"
        for k in [
            "contents",
            "title_page",
            "reference_period",
            "country",
            "version",
            "definitions",
            "quality_annex",
            "data_gaps",
            "no_gaps",
            "source",
            "sources",
            "notes",
            "unit",
            "measure",
            "standard",
            "parameters",
            "rows_read",
            "rows_kept",
            "rows_rejected",
            "unmapped",
            "findings",
            "suppressions",
            "file",
            "checksum",
        ]
    ),
    *(f"table.{k}" for k in ["value", "se", "ci_lower", "ci_upper", "cv", "n", "total"]),
    *(f"flag.{k}" for k in ["suppressed", "secondary", "unreliable", "legend"]),
    *(f"workbook.{k}" for k in ["contents", "metadata", "sheet", "table", "footnotes"]),
)


@pytest.fixture(scope="module")
def en(catalog: mp.Catalog) -> object:
    return load_labels("en", catalog)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_bundled_files_have_every_required_key(catalog: mp.Catalog, language: str) -> None:
    labels = load_labels(language, catalog)
    own = labels._layers[0].ui  # the language's own file, without the English fallback
    missing = [k for k in REQUIRED_UI_KEYS if k not in own]
    assert not missing
    assert any(k.startswith("gap.reason.") for k in own)
    for section in (*STANDARD_SECTIONS, "data_gaps"):
        assert f"section.{section}.title" in own
        assert f"section.{section}.intro" in own


def test_french_and_english_files_have_the_same_keys(catalog: mp.Catalog) -> None:
    fr = load_labels("fr", catalog)._layers
    assert set(fr[0].ui) == set(fr[1].ui)


def test_available_languages() -> None:
    assert available_languages() == ("en", "fr")


def test_french_labels(catalog: mp.Catalog) -> None:
    fr = load_labels("fr", catalog)
    assert fr.language == "fr"
    assert fr.name == "Français"
    assert fr.country("DEU") == "Allemagne"
    assert fr.code("country_of_birth", "DEU") == "Allemagne"
    assert fr.code("sex", "_T") == "Total"
    assert fr.code("sex", "F") == "Femme"
    assert fr.dimension("sex") == "Sexe"
    assert fr.dimension("head_sex") == "Sexe du chef de ménage"  # from fr.yaml
    assert fr.section_title("immigration") == "Les immigrés dans le pays"
    assert fr.section_intro("labour").startswith("L'activité")
    assert fr.unit("person") == "personnes"
    assert fr.unit("percent") == "%"
    assert fr.unit("1e6 USD") == "millions de dollars des États-Unis"
    assert fr.text("report.version", version="1.2") == "Produit avec migprofile 1.2"
    ind = catalog.indicator("IMM_STOCK")
    assert fr.indicator_name(ind) == ind.name.texts["fr"]
    # no French definition in the catalogue: English
    assert fr.indicator_definition(ind) == ind.definition.get("en")


def test_english_labels(catalog: mp.Catalog) -> None:
    en = load_labels("en", catalog)
    assert en.country("DEU") == "Germany"
    assert en.code("sex", "_T") == "Total"
    assert en.code("age", "Y0T4") == "0 to 4 years"
    assert en.unit("person") == "persons"
    assert en.unit("per_1000") == "per 1,000"
    assert en.section_title("data_gaps") == "Data gaps"


def test_unknown_codes_and_dimensions_give_the_code(catalog: mp.Catalog) -> None:
    fr = load_labels("fr", catalog)
    assert fr.code("sex", "ZZ") == "ZZ"
    assert fr.code("no_such_dimension", "ABC") == "ABC"
    assert fr.dimension("no_such_dimension") == "no_such_dimension"
    assert fr.unit("furlong") == "furlong"
    assert fr.section_title("my_section") == "my_section"
    assert fr.section_intro("my_section") == ""
    # a codelist id is accepted where a dimension id is expected
    assert fr.code("geo", "FRA") == "France"


def test_missing_key_falls_back_to_english_then_to_the_key(
    catalog: mp.Catalog, tmp_path: Path
) -> None:
    (tmp_path / "fr.yaml").write_text(
        "language: fr\nui:\n  report.contents: Table des matières\n", encoding="utf-8"
    )
    (tmp_path / "en.yaml").write_text(
        "language: en\nui:\n  custom.only_english: Only in English\n", encoding="utf-8"
    )
    fr = load_labels("fr", catalog, [tmp_path])
    assert fr.text("report.contents") == "Table des matières"  # overridden
    assert fr.text("report.sources") == "Sources"  # bundled French kept
    assert fr.text("custom.only_english") == "Only in English"  # English fallback
    assert fr.text("no.such.key") == "no.such.key"


def test_a_field_without_a_value_stays_visible(catalog: mp.Catalog) -> None:
    en = load_labels("en", catalog)
    assert en.text("report.version") == "Produced with migprofile {version}"
    assert en.text("report.version", version="1", other=2) == "Produced with migprofile 1"


def test_values_are_not_reinterpreted(catalog: mp.Catalog) -> None:
    en = load_labels("en", catalog)
    assert en.text("report.source_note", source="{version}") == "Source: {version}."


def test_an_extra_file_adds_romanian(catalog: mp.Catalog, tmp_path: Path) -> None:
    ro = tmp_path / "ro.yaml"
    ro.write_text(
        yaml.safe_dump(
            {
                "language": "ro",
                "name": "Română",
                "ui": {
                    "report": {"contents": "Cuprins", "version": "Realizat cu migprofile {version}"}
                },
                "sections": {"immigration": {"title": "Imigranții din țară"}},
                "dimensions": {"sex": "Sex"},
                "codes": {"sex": {"F": "Femei", "M": "Bărbați", "_T": "Total"}},
                "units": {"person": "persoane"},
                "indicators": {"IMM_STOCK": {"name": "Stocul de imigranți"}},
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    assert available_languages([ro]) == ("en", "fr", "ro")
    assert available_languages([tmp_path]) == ("en", "fr", "ro")
    labels = load_labels("ro", catalog, [ro])
    assert labels.name == "Română"
    assert labels.text("report.contents") == "Cuprins"
    assert labels.text("report.version", version="2") == "Realizat cu migprofile 2"
    assert labels.text("report.sources") == "Sources"  # not translated: English
    assert labels.section_title("immigration") == "Imigranții din țară"
    assert labels.code("sex", "F") == "Femei"
    assert labels.unit("person") == "persoane"
    assert labels.indicator_name(catalog.indicator("IMM_STOCK")) == "Stocul de imigranți"
    # countries from pycountry's Romanian translation
    assert labels.country("DEU") == "Germania"


def test_unknown_language_is_refused(catalog: mp.Catalog) -> None:
    with pytest.raises(TranslationError, match="no translation file gives language 'es'"):
        load_labels("es", catalog)
    with pytest.raises(TranslationError, match="ISO 639"):
        load_labels("French", catalog)


def _problems(tmp_path: Path, text: str) -> TranslationError:
    path = tmp_path / "ro.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TranslationError) as info:
        read_translation_file(path)
    assert str(path) in str(info.value)
    return info.value


def test_bad_file_names_file_key_and_value(tmp_path: Path) -> None:
    err = _problems(
        tmp_path,
        "language: ro\n"
        "colours: {}\n"
        "ui:\n"
        "  report.contents: 12\n"
        "  report:\n"
        "    version: 'Versiunea {v.__class__}'\n"
        "sections: {immigration: {titel: X}}\n"
        "codes: {geo: {001: Lume}}\n",
    )
    by_field = {p.field: p for p in err.problems}
    assert by_field["colours"].code == "unknown_key"
    assert by_field["ui.report.contents"].code == "not_text"
    assert by_field["ui.report.contents"].value == "12"
    assert by_field["ui.report.version"].code == "bad_placeholder"
    assert by_field["ui.report.version"].value == "Versiunea {v.__class__}"
    assert by_field["sections.immigration.titel"].code == "unknown_key"
    assert by_field["codes.geo.1"].code == "key_not_text"
    assert "ui.report.version" in str(err)


def test_a_file_needs_its_language(tmp_path: Path) -> None:
    err = _problems(tmp_path, "ui: {report.contents: Cuprins}\n")
    assert err.problems[0].field == "language"


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    err = _problems(tmp_path, "language: ro\nui: [unclosed\n")
    assert err.problems[0].code == "yaml"


def test_file_language_must_match_its_name(catalog: mp.Catalog, tmp_path: Path) -> None:
    (tmp_path / "ro.yaml").write_text("language: ru\n", encoding="utf-8")
    with pytest.raises(TranslationError, match=r"ro\.yaml"):
        load_labels("ro", catalog, [tmp_path])


def test_translation_may_not_use_fields_english_lacks(catalog: mp.Catalog, tmp_path: Path) -> None:
    (tmp_path / "ro.yaml").write_text(
        "language: ro\nui:\n  report.version: 'migprofile {versiune}'\n", encoding="utf-8"
    )
    with pytest.raises(TranslationError, match=r"\{versiune\}") as info:
        load_labels("ro", catalog, [tmp_path])
    assert info.value.problems[0].field == "ui.report.version"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("plain", True),
        ("{count} persons", True),
        ("{share:.1f} %", True),
        ("literal {{braces}}", True),
        ("{}", False),
        ("{0}", False),
        ("{a.b}", False),
        ("{a[0]}", False),
        ("{a!r}", False),
        ("{a:{b}}", False),
        ("{unclosed", False),
        ("closing}", False),
    ],
)
def test_template_check(text: str, ok: bool) -> None:
    assert (template_problem(text) is None) is ok


def test_missing_extra_path_is_an_error(catalog: mp.Catalog, tmp_path: Path) -> None:
    with pytest.raises(TranslationError, match="no translation file or folder"):
        load_labels("fr", catalog, [tmp_path / "nope"])
