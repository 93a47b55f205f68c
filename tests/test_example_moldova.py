"""The Moldova example (examples/moldova/): its extracts of real public data,
read through the example's mappings, reproduce the published figures; the
extracts are what extract.py cuts from the full files; the spec builds.

Only the committed copies under examples/moldova/ are read, except by the
extract check, which runs when the shared data folder exists."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

import migprofile as mp
from conftest import REPO, cell_value

EXAMPLE = REPO / "examples" / "moldova"
SOURCES = EXAMPLE / "sources"
SHARED = Path("/work/shared/data")
MDA_2020 = {"reporting_country": "MDA", "ref_year": 2020}


@pytest.fixture(scope="module")
def example_catalog() -> mp.Catalog:
    return mp.load_catalog(EXAMPLE / "catalog")


@pytest.fixture(scope="module")
def bilateral() -> mp.Dataset:
    return mp.read_source(SOURCES / "un_bilateral" / "mapping.yaml")


@pytest.fixture(scope="module")
def destination() -> mp.Dataset:
    return mp.read_source(SOURCES / "un_destination" / "mapping.yaml")


@pytest.fixture(scope="module")
def wdi() -> mp.Dataset:
    return mp.read_source(SOURCES / "wdi_gdiviz" / "mapping.yaml")


@pytest.fixture(scope="module")
def knomad() -> mp.Dataset:
    return mp.read_source(SOURCES / "wb_knomad" / "mapping.yaml")


def _extract_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("moldova_extract", EXAMPLE / "extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- emigration
def test_persons_born_in_moldova_living_abroad(bilateral: mp.Dataset) -> None:
    stock = mp.compute(bilateral, "EMIG_STOCK", params=MDA_2020)
    assert cell_value(stock) == 1_159_443
    by_sex = mp.compute(bilateral, "EMIG_STOCK_BY_SEX", by=["sex"], params=MDA_2020)
    assert cell_value(by_sex, sex="F") == 605_123
    assert cell_value(by_sex, sex="M") == 554_320
    assert cell_value(by_sex, sex="_T") == 1_159_443
    female = mp.compute(bilateral, "EMIG_FEMALE_SHARE", params=MDA_2020)
    assert cell_value(female) == pytest.approx(100 * 605_123 / 1_159_443)


def test_largest_destinations(bilateral: mp.Dataset) -> None:
    table = mp.compute(bilateral, "EMIG_STOCK", by=["ref_area"], params=MDA_2020)
    countries = table[table["ref_area"] != "MDA"]  # MDA: the margin row
    top = countries.set_index(countries["ref_area"].astype(str))["value"].nlargest(6)
    assert top.to_dict() == {
        "RUS": 294_152,
        "ROU": 285_364,
        "ITA": 194_480,
        "UKR": 152_249,
        "USA": 45_713,
        "DEU": 25_733,
    }
    assert countries["value"].sum() == 1_159_443


def test_emigrant_stock_trend(bilateral: mp.Dataset) -> None:
    values = {
        year: cell_value(mp.compute(bilateral, "EMIG_STOCK", params={**MDA_2020, "ref_year": year}))
        for year in (1990, 2000, 2020)
    }
    # rises after 2000; 1990 already counts persons born in Moldova living
    # in other Soviet republics
    assert values[2000] < values[2020]
    assert values[1990] > 0


# --------------------------------------------------------------------------- immigration
def test_immigrant_stock_and_its_published_shares(
    destination: mp.Dataset, example_catalog: mp.Catalog
) -> None:
    ids = [
        "IMM_STOCK_PUBLISHED",
        "IMM_FEMALE_SHARE_PUBLISHED",
        "IMM_STOCK_PCT_PUBLISHED",
        "IMM_STOCK_CHANGE_RATE",
    ]
    table = mp.compute(destination, ids, params=MDA_2020, catalog=example_catalog)
    assert cell_value(table, "IMM_STOCK_PUBLISHED", ref_area="MDA") == 104_438
    # Table 4 = 100 female / both; computed from Table 1's rows
    female = cell_value(table, "IMM_FEMALE_SHARE_PUBLISHED")
    assert female == pytest.approx(100 * 61_695 / 104_438, rel=1e-12)
    series = destination["series"]
    table4 = series[(series.series_id == "MIGRANT_STOCK_FEMALE_PCT") & (series.time_period == 2020)]
    assert female == pytest.approx(float(table4["value"].iloc[0]), rel=1e-12)
    # Table 3 = 100 stock / (Table 2 x 1000): the population is in thousands
    pop = series[(series.series_id == "POPULATION") & (series.sex == "_T")]
    pop = pop[pop.time_period == 2020]
    assert (pop["unit"] == "1e3 person").all()
    assert cell_value(table, "IMM_STOCK_PCT_PUBLISHED") == pytest.approx(
        100 * 104_438 / (float(pop["value"].iloc[0]) * 1000), rel=1e-12
    )
    # the catalogue's rate of change reproduces Table 5: 100 ln(S2020 / S2015) / 5
    rate = cell_value(table, "IMM_STOCK_CHANGE_RATE", ref_area="MDA")
    assert rate == pytest.approx(100 * math.log(104_438 / 106_374) / 5, rel=1e-12)
    table5 = series[(series.series_id == "MIGRANT_STOCK_GROWTH_PCT") & (series.sex == "_T")]
    assert rate == pytest.approx(float(table5.loc[table5.time_period == 2020, "value"].iloc[0]))
    # the catalogue's share wants the population in persons: none from thousands
    share = mp.compute(destination, "IMM_STOCK_SHARE_PUBLISHED", by=[], params=MDA_2020)
    assert share.empty or not share["value"].notna().any()


def test_immigrants_by_origin_add_up_to_the_published_stock(
    bilateral: mp.Dataset, example_catalog: mp.Catalog
) -> None:
    table = mp.compute(
        bilateral, "IMM_STOCK_BY_ORIGIN", by=["origin"], params=MDA_2020, catalog=example_catalog
    )
    by_origin = table.set_index(table["origin"].astype(str))["value"]
    assert by_origin["_T"] == 104_438  # UN DESA Table 1, Moldova 2020
    assert by_origin["UKR"] == 42_436
    assert by_origin["RUS"] == 40_018
    assert by_origin["XXX"] == 5_029  # other or unknown origin


# ------------------------------------------------------------------ population, remittances
def test_wdi_population_and_remittances(wdi: mp.Dataset) -> None:
    s = wdi["series"]
    pop = s[(s.series_id == "POPULATION") & (s.time_period == 2020)]
    assert float(pop["value"].iloc[0]) == 2_635_130
    table = mp.compute(
        wdi, ["REMIT_INFLOW_USD", "REMIT_OUTFLOW_USD", "REMIT_PER_CAPITA"], params=MDA_2020
    )
    assert cell_value(table, "REMIT_INFLOW_USD") == 1_876_620_000
    assert cell_value(table, "REMIT_PER_CAPITA") == pytest.approx(1_876_620_000 / 2_635_130)
    outflow_2022 = mp.compute(wdi, "REMIT_OUTFLOW_USD", params={**MDA_2020, "ref_year": 2022})
    assert cell_value(outflow_2022) == 519_170_000
    # no GDP series in the WDI extract: no share of GDP
    share = mp.compute(wdi, "REMIT_GDP_PCT", params=MDA_2020)
    assert share.empty or not share["value"].notna().any()


def test_knomad_remittances_in_millions(knomad: mp.Dataset, example_catalog: mp.Catalog) -> None:
    params = {"reporting_country": "MDA", "ref_year": 2017}
    table = mp.compute(knomad, "REMIT_INFLOW_MUSD", params=params, catalog=example_catalog)
    assert cell_value(table) == pytest.approx(1_639.659968, abs=1e-9)
    assert (table["unit"] == "1e6 USD").all()
    # the catalogue's US$ indicator never reads the millions
    usd = mp.compute(knomad, "REMIT_INFLOW_USD", params=params)
    assert usd.empty or not usd["value"].notna().any()
    s = knomad["series"]
    estimate = s[(s.series_id == "REMIT_INFLOW_MUSD") & (s.time_period == 2018)]
    assert (estimate["obs_status"] == "E").all()


def test_knomad_share_of_gdp_is_a_fraction_made_a_percentage(
    knomad: mp.Dataset, example_catalog: mp.Catalog
) -> None:
    params = {"reporting_country": "MDA", "ref_year": 2018}
    table = mp.compute(knomad, "REMIT_GDP_PCT_PUBLISHED", params=params, catalog=example_catalog)
    assert cell_value(table) == pytest.approx(20.49129497065855)
    assert (table["unit"] == "percent").all()
    report = knomad.report.table("series")
    assert report.rows_read == report.rows_kept + report.rows_rejected == 100


def test_net_migration_sources(example_catalog: mp.Catalog) -> None:
    wdi = mp.read_source(SOURCES / "wdi_net_migration" / "mapping.yaml")
    net = wdi["series"].set_index("time_period")["value"]
    assert net[2015] == -59_404
    assert net[2019] == -28_328
    assert net[2023] == -125_204
    table = mp.compute(wdi, "NET_MIGRATION_PUBLISHED", params=MDA_2020, catalog=example_catalog)
    assert cell_value(table) == -14_278
    later = {**MDA_2020, "ref_year": 2022}
    assert (
        cell_value(
            mp.compute(wdi, "NET_MIGRATION_PUBLISHED", params=later, catalog=example_catalog)
        )
        == 462_866
    )
    wpp = mp.read_source(SOURCES / "wpp2022_net_migration" / "mapping.yaml")
    s = wpp["series"]
    # published in thousands (-14.278 for 2020), read in persons (scale: 1000)
    assert (s["unit"] == "person").all()
    assert (s.loc[s.time_period > 2021, "obs_status"] == "F").all()
    persons = mp.compute(wpp, "NET_MIGRATION_PUBLISHED", params=MDA_2020, catalog=example_catalog)
    assert cell_value(persons) == pytest.approx(-14_278)  # = WDI's SM.POP.NETM for 2020


def test_diaspora_concentration(bilateral: mp.Dataset) -> None:
    table = mp.compute(bilateral, "DIASPORA_TOP5_SHARE", params=MDA_2020)
    top5 = 294_152 + 285_364 + 194_480 + 152_249 + 45_713
    assert cell_value(table) == pytest.approx(100 * top5 / 1_159_443)


def test_every_mapping_reads_without_errors() -> None:
    for mapping in sorted(SOURCES.glob("*/mapping.yaml")):
        ds = mp.read_source(mapping)
        assert ds.report.ok, mapping
        for name in ds.tables:
            table = ds.report.table(name)
            assert table.rows_read == table.rows_kept + table.rows_rejected


# --------------------------------------------------------------------------- the files
def test_example_is_small() -> None:
    size = sum(p.stat().st_size for p in EXAMPLE.rglob("*") if p.is_file())
    assert size < 2_000_000


def test_every_shipped_file_is_attributed() -> None:
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    for path in (EXAMPLE / "data").iterdir():
        assert path.name in readme, path.name


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared data folder is not here")
def test_extracts_are_what_extract_py_cuts() -> None:
    cut = _extract_module().extracts(SHARED)
    shipped = {p.name for p in (EXAMPLE / "data").iterdir()}
    assert shipped == set(cut)
    for name, content in cut.items():
        assert (EXAMPLE / "data" / name).read_bytes() == content, name


# --------------------------------------------------------------------------- the profile
def test_spec_is_valid() -> None:
    from migprofile.profile.build import validate_spec

    spec = validate_spec(EXAMPLE / "profile.yaml")
    assert spec.country == "MDA"
    assert {s.id for s in spec.sections} >= {
        "overview", "immigration", "emigration", "remittances", "flows",
        "labour", "children", "return", "education",
    }  # fmt: skip


def test_profile_builds_with_its_gaps(tmp_path: Path) -> None:
    from migprofile.profile.build import build_profile

    result = build_profile(EXAMPLE / "profile.yaml", tmp_path, languages=["en"])
    tables = result.tables
    assert cell_value(tables["overview-02-emig-stock"]) == 1_159_443
    assert cell_value(tables["overview-06-net-migration-published"]) == -14_278
    trend = tables["emigration-02-emig-stock"]
    assert sorted(trend["ref_period"].astype(str)) == [str(y) for y in range(1990, 2021, 5)]
    assert cell_value(trend, ref_period="2020") == 1_159_443
    gaps = {(g.section, g.indicator) for g in result.gaps}
    for section in ("labour", "children", "return"):
        assert any(s == section for s, _ in gaps), section
    assert ("education", "EMIG_TERTIARY_SHARE_25PLUS") in gaps
    assert (tmp_path / "report.en.html").is_file()
