"""The HTML report (migprofile.profile.html): self-contained, escaped,
deterministic, accessible.

The profile is built by hand from the real catalogue and a real reconciliation
report, with hostile texts planted wherever users' files reach the report
(titles, notes, codes, source names, file names, gap reasons).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

import migprofile as mp
from migprofile.profile.charts import (
    NumberFormat,
    ValueFormat,
    bar_chart,
    line_chart,
    nice_ticks,
    pyramid_chart,
)
from migprofile.profile.html import UI_KEYS, number_format, render_html
from migprofile.profile.i18n import Labels, load_labels
from migprofile.profile.model import Gap, Profile, ProfileTable, Section, SourceSummary
from migprofile.profile.spec import ProfileSpec

TESTS = Path(__file__).parent
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
AGES = ["Y0T4", "Y5T9", "Y10T14", "Y15T19", "Y20T24", "Y25T29", "Y30T34", "Y35T39"]
FMT = ValueFormat(NumberFormat(), 0)
PARAMS = "reporting_country=MDA;residence_rule=AT_LEAST_12M"


def _row(indicator: str, unit: str, source: str, **cells: object) -> dict[str, object]:
    row: dict[str, object] = {
        "indicator": indicator,
        "ref_period": "2024",
        "ref_area": "MDA",
        "value": float("nan"),
        "unit": unit,
        "se": float("nan"),
        "ci_lower": float("nan"),
        "ci_upper": float("nan"),
        "cv": float("nan"),
        "df": float("nan"),
        "n": float("nan"),
        "obs_status": "A",
        "conf_status": "F",
        "source": source,
        "findings": "",
        "parameters": PARAMS,
    }
    row.update(cells)
    return row


def _pyramid_data() -> pd.DataFrame:
    rows = []
    for i, age in enumerate(AGES):
        for sex, factor in (("M", 1.0), ("F", 1.1)):
            value = round((1200 + 350 * i - 40 * i * i) * factor, 0)
            rows.append(
                _row("IMM_STOCK", "person", "census", sex=sex, age=age, value=value, n=value)
            )
    frame = pd.DataFrame(rows)
    # one primary, one secondary suppression, one low-reliability flag
    frame.loc[(frame["sex"] == "F") & (frame["age"] == "Y0T4"), ["value", "n"]] = float("nan")
    frame.loc[(frame["sex"] == "F") & (frame["age"] == "Y0T4"), ["obs_status", "conf_status"]] = [
        "Q",
        "A",
    ]
    frame.loc[(frame["sex"] == "F") & (frame["age"] == "Y5T9"), ["value", "n"]] = float("nan")
    frame.loc[(frame["sex"] == "F") & (frame["age"] == "Y5T9"), ["obs_status", "conf_status"]] = [
        "Q",
        "D",
    ]
    frame.loc[(frame["sex"] == "M") & (frame["age"] == "Y35T39"), "obs_status"] = "U"
    margins = []
    for sex in ("M", "F"):
        part = frame[frame["sex"] == sex]
        margins.append(
            _row(
                "IMM_STOCK", "person", "census", sex=sex, age="_T", value=part["value"].sum() + 2000
            )
        )
    for age in AGES:
        part = frame[frame["age"] == age]
        margins.append(
            _row(
                "IMM_STOCK", "person", "census", sex="_T", age=age, value=part["value"].sum() + 900
            )
        )
    margins.append(_row("IMM_STOCK", "person", "census", sex="_T", age="_T", value=123456.0))
    return pd.concat([frame, pd.DataFrame(margins)], ignore_index=True)


def _bar_data() -> pd.DataFrame:
    values = {
        "ROU": 51234.0,
        "UKR": 40210.0,
        "RUS": 30111.0,
        IMG: 99.0,
        "BGR": 1200.0,
        "_T": 125000.0,
    }
    return pd.DataFrame(
        [
            _row("IMM_STOCK", "person", "census", country_of_birth=c, value=v, n=v)
            for c, v in values.items()
        ]
    )


def _line_data() -> pd.DataFrame:
    rows = []
    for year, (area, base) in product(
        (1990, 2000, 2010, 2020),
        (("ITA", 1000.0), ("RUS", 90000.0), ("DEU", 5000.0), ("_T", 200000.0)),
    ):
        growth = {"ITA": 40.0, "RUS": 0.6, "DEU": 3.0, "_T": 1.5}[area]
        value = base * growth ** ((year - 1990) / 30)
        rows.append(
            _row(
                "EMIG_STOCK",
                "person",
                "un_bilateral",
                ref_period=str(year),
                ref_area=area,
                value=round(value),
            )
        )
    rows[5]["value"] = float("nan")  # a withheld point
    rows[5]["obs_status"], rows[5]["conf_status"] = "Q", "N"
    return pd.DataFrame(rows)


def _survey_data() -> pd.DataFrame:
    rows = []
    for i, (status, sex) in enumerate(product(("_T", "FB", "NB"), ("_T", "M", "F"))):
        value = 55.0 + 3.25 * i
        se = 1.0 + 0.5 * i
        rows.append(
            _row(
                "LFPR_BY_MIG",
                "percent",
                "census",
                migrant_status=status,
                sex=sex,
                value=value,
                se=se,
                ci_lower=value - 1.96 * se,
                ci_upper=value + 1.96 * se,
                cv=se / value,
                n=200.0 + i,
                obs_status="U" if status == "FB" and sex == "F" else "A",
            )
        )
    return pd.DataFrame(rows)


def _spec() -> ProfileSpec:
    return ProfileSpec.model_validate(
        {
            "id": "fictland-2024",
            "title": {"en": "Migration profile", "fr": "Profil migratoire"},
            "country": "MDA",
            "reference_period": "2024",
            "languages": ["en", "fr"],
            "sources": {"census": {"mapping": "census/mapping.yaml"}},
            "sections": [{"id": "immigration"}],
        }
    )


def sample_profile(language: str = "en", labels: Labels | None = None) -> Profile:
    """A small profile with every part the report draws and hostile texts in it."""
    catalog = mp.load_catalog()
    labels = labels or load_labels(language, catalog)
    ind = catalog.indicator
    census_report = mp.read_source(TESTS / "data" / "census" / "mapping.yaml").report
    tables = (
        ProfileTable(
            id="immigration-01-imm-stock-sex-age",
            section="immigration",
            indicator=ind("IMM_STOCK"),
            breakdowns=("sex", "age"),
            data=_pyramid_data(),
            source="census",
            chart="pyramid",
            notes=(f"Note with {SCRIPT} inside.",),
        ),
        ProfileTable(
            id="immigration-02-imm-stock-cob",
            section="immigration",
            indicator=ind("IMM_STOCK"),
            breakdowns=("country_of_birth",),
            data=_bar_data(),
            source="census",
            chart="bar",
        ),
        ProfileTable(
            id="labour-01-lfpr",
            section="labour",
            indicator=ind("LFPR_BY_MIG"),
            breakdowns=("migrant_status", "sex"),
            data=_survey_data(),
            source="census",
        ),
    )
    trend = ProfileTable(
        id="emigration-01-emig-stock",
        section="emigration",
        indicator=ind("EMIG_STOCK"),
        breakdowns=("ref_area",),
        data=_line_data(),
        source="un_bilateral",
        chart="line",
    )
    gap = Gap("immigration", "IMM_RECENT_SHARE", f"No source has year of arrival {SCRIPT}")
    sections = (
        Section(
            "immigration",
            labels.section_title("immigration"),
            f"Intro with {SCRIPT}.\n\nSecond paragraph.",
            tables[:2],
            (gap,),
        ),
        Section(
            "labour", labels.section_title("labour"), labels.section_intro("labour"), tables[2:]
        ),
        Section("emigration", f"Emigration {SCRIPT}", "", (trend,)),
    )
    sources = {
        "census": SourceSummary(
            id="census",
            name="Tiny census 2024",
            kind="census",
            reference_period="2024",
            provider="National Bureau of Statistics (https://statistica.example)",
            licence="CC BY 4.0",
            files=(("census/persons.csv", "ab" * 32), (f"census/{IMG}.csv", "cd" * 32)),
            report=census_report,
        ),
        "un_bilateral": SourceSummary(
            id="un_bilateral",
            name=f"UN DESA bilateral stocks {SCRIPT}",
            kind="mirror_statistics",
            reference_period="1990-2020",
            provider=None,
            licence=None,
            files=(),
            report=None,
        ),
    }
    return Profile(
        spec=_spec(),
        catalog=catalog,
        labels=labels,
        country="MDA",
        title=f"Extended Migration Profile {SCRIPT}",
        reference_period="2024",
        language=language,
        sections=sections,
        sources=sources,
        gaps=(gap,),
        version="0.1.0",
        notes=("Population estimates of 1 January 2024.",),
    )


class _StrictParser(HTMLParser):
    """Collects tags and checks that every element is closed in order."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "col", "wbr", "source"})
    SVG_EMPTY = frozenset({"rect", "line", "circle", "path"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        ident = dict(attrs).get("id")
        if ident is not None:
            self.ids.append(ident)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID and tag not in self.SVG_EMPTY:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(document: str) -> _StrictParser:
    parser = _StrictParser()
    parser.feed(document)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def profile() -> Profile:
    return sample_profile()


@pytest.fixture(scope="module")
def document(profile: Profile) -> str:
    return render_html(profile)


def test_the_document_parses_and_every_element_is_closed(document: str) -> None:
    parser = _parse(document)
    assert parser.errors == []
    assert parser.stack == []
    assert document.startswith('<!DOCTYPE html>\n<html lang="en">')
    ids = parser.ids
    assert len(ids) == len(set(ids)), "ids must be unique"
    hrefs = [a.get("href") or "" for tag, a in parser.tags if tag == "a"]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert {h[1:] for h in hrefs} <= set(ids), "every link points at an anchor of the document"


def test_the_report_is_offline_and_has_no_address(document: str) -> None:
    lowered = document.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert "xmlns" not in lowered
    parser = _parse(document)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "img", "link", "iframe", "object", "embed", "base"}
    for _tag, attrs in parser.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler attribute {name}"
            if name in ("src", "href"):
                assert (value or "").startswith("#")
    assert "Content-Security-Policy" in document
    # the provider's address is kept, without its scheme
    assert "statistica.example" in document


def test_texts_from_data_and_files_are_escaped(document: str) -> None:
    assert SCRIPT not in document
    assert "<img" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in document
    text = "".join(_parse(document).text)
    assert SCRIPT in text, "the hostile text is shown as text"


def test_every_section_and_part_is_there(profile: Profile, document: str) -> None:
    labels = profile.labels
    for section in profile.sections:
        assert f'id="s-{section.id}"' in document
    for title in ("Immigrants in the country", "Migrants and the labour market"):
        assert title in document
    for key in (
        "report.contents",
        "report.definitions",
        "report.quality_annex",
        "report.data_gaps",
    ):
        assert labels.text(key) in document
    for ind in profile.indicators():
        assert f'id="def-{ind.id}"' in document
    assert "Moldova" in document
    assert "Produced with migprofile 0.1.0" in document


def test_tables_are_labelled_and_accessible(profile: Profile, document: str) -> None:
    parser = _parse(document)
    tables = document.count("<table")
    assert tables == document.count("<caption>")
    scopes = [a.get("scope") for tag, a in parser.tags if tag == "th"]
    assert scopes and all(s in ("col", "row", "colgroup") for s in scopes)
    # labels, not codes: the column header and code labels
    assert "Country of birth" in document and "Romania" in document
    assert ">ROU<" not in document
    assert "0 to 4 years" in document and "Female" in document
    # counts with thousands separators, percents with one decimal
    assert "123,456" in document
    assert "51,234" in document
    assert re.search(r">55\.0<", document)


def test_withheld_and_flagged_cells_are_marked_with_a_legend(document: str) -> None:
    assert 'class="sym sym-suppressed">c</span>' in document
    assert 'class="sym sym-secondary">d</span>' in document
    assert 'class="sym sym-unreliable">u</sup>' in document
    assert UI_KEYS["flag.suppressed"] in document
    assert UI_KEYS["flag.secondary"] in document
    assert UI_KEYS["flag.unreliable"] in document


def test_charts_are_inline_svg_with_title_and_description(document: str) -> None:
    assert document.count("<svg") == 3
    for svg in re.findall(r"<svg.*?</svg>", document, flags=re.S):
        assert 'role="img"' in svg and "aria-labelledby" in svg
        assert "<title id=" in svg and "<desc id=" in svg
    assert "chart-pyramid" in document and "chart-bar" in document and "chart-line" in document


def test_quality_annex_and_gaps(profile: Profile, document: str) -> None:
    report = profile.sources["census"].report
    assert report is not None
    for table in report.tables:
        assert f'<th scope="row">{table.table}</th>' in document
    assert "unmapped_code" in document and "77" in document
    assert "ab" * 32 in document and "census/persons.csv" in document
    assert "No reconciliation report" in document
    assert "Disclosure rules" in document
    assert 'id="gaps"' in document
    assert "No source has year of arrival &lt;script&gt;" in document


def test_rendering_is_deterministic(profile: Profile, document: str) -> None:
    assert render_html(profile) == document
    assert render_html(sample_profile()) == document


def test_french_report(document: str) -> None:
    french = render_html(sample_profile("fr"))
    assert french.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert _parse(french).errors == []
    assert "123\u202f456" in french
    labels = load_labels("fr", mp.load_catalog())
    assert f">{labels.text('report.contents')}<" in french
    assert labels.text("report.contents") != "Contents"
    assert "Femme" in french  # the catalogue's French code labels
    assert french != document


class _FakeLabels:
    """The smallest duck-typed Labels: keys and codes as they are."""

    language = "xx"

    def text(self, key: str, **values: object) -> str:
        return key

    def section_title(self, section_id: str) -> str:
        return section_id

    def section_intro(self, section_id: str) -> str:
        return ""

    def indicator_name(self, ind: mp.Indicator) -> str:
        return ind.id

    def indicator_definition(self, ind: mp.Indicator) -> str:
        return str(ind.definition)

    def dimension(self, dimension_id: str) -> str:
        return dimension_id

    def code(self, dimension_id: str, code: str) -> str:
        return code

    def unit(self, unit: str) -> str:
        return unit

    def country(self, iso3: str) -> str:
        return iso3


def test_missing_ui_texts_fall_back_to_english_not_to_keys() -> None:
    document = render_html(sample_profile("en", labels=_FakeLabels()))  # type: ignore[arg-type]
    assert 'lang="en"' in document
    assert "Withheld to protect confidentiality" in document
    assert ">report.contents<" not in document
    assert _parse(document).errors == []


def test_number_formats() -> None:
    assert number_format("en").format(1234567.891, 1) == "1,234,567.9"
    assert number_format("fr").format(1234567.891, 1) == "1\u202f234\u202f567,9"
    assert number_format("zz").format(-0.04, 1) == "0.0"
    assert NumberFormat().format(float("nan"), 0) == ""


def test_pyramid_with_migrant_status_has_two_series() -> None:
    catalog = mp.load_catalog()
    labels = load_labels("en", catalog)
    rows = [
        _row("IMM_STOCK", "person", "census", sex=s, age=a, migrant_status=m, value=100.0 + i)
        for i, (s, a, m) in enumerate(product(("M", "F", "_T"), AGES, ("FB", "NB", "_T")))
    ]
    svg = pyramid_chart(
        "c-x", "t", pd.DataFrame(rows), ("sex", "age", "migrant_status"), labels, catalog, FMT
    )
    assert svg is not None
    assert 'fill="none"' in svg  # foreign-born outlined
    assert "Foreign-born" in svg and "Native-born" in svg
    assert svg.count("<rect") == 2 * 2 * len(AGES) + 2  # bars + legend swatches


def test_charts_decline_tables_they_cannot_draw() -> None:
    catalog = mp.load_catalog()
    labels = load_labels("en", catalog)
    one = pd.DataFrame([_row("IMM_STOCK", "person", "census", sex="_T", value=5.0)])
    assert pyramid_chart("c", "t", one, ("sex",), labels, catalog, FMT) is None
    assert bar_chart("c", "t", one, ("sex",), labels, catalog, FMT) is None
    assert line_chart("c", "t", one, ("sex",), labels, catalog, FMT) is None


def test_bar_chart_sorts_and_keeps_the_largest() -> None:
    catalog = mp.load_catalog()
    labels = load_labels("en", catalog)
    svg = bar_chart("c", "t", _bar_data(), ("country_of_birth",), labels, catalog, FMT)
    assert svg is not None
    order = [svg.index(name) for name in ("Romania", "Ukraine", "Russian", "Bulgaria")]
    assert order == sorted(order)
    assert ">125,000<" not in svg, "the total is not a bar"


def test_axis_ticks_of_small_counts_are_whole_numbers() -> None:
    assert nice_ticks(0.0, 1.0, 3, FMT.min_step) == [0.0, 1.0]
    assert nice_ticks(0.0, 7.0, 3, 0.1) == [0.0, 2.5, 5.0, 7.5]
    ticks = nice_ticks(0.0, 0.6, 3, 0.1)
    assert [FMT.tick(t, ticks) for t in ticks] == ["0.0", "0.2", "0.4", "0.6"]
