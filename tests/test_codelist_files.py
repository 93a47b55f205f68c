"""Checks of the bundled codelist and crosswalk YAML files.

The files are read with ``yaml.safe_load`` only (not with the catalogue loader),
so these tests check the files themselves against docs/catalog-format.md and
against the standards they encode.
"""

from __future__ import annotations

import csv
import importlib.metadata
import keyword
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pycountry
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CODELIST_DIR = ROOT / "metadata" / "codelists"
CROSSWALK_DIR = ROOT / "metadata" / "crosswalks"
IMS_TABLE1 = Path("/work/shared/data/un_ims2020_destination/ims2020_dest_table1.csv")

FILES = sorted(CODELIST_DIR.glob("*.yaml"))
IDENT = re.compile(r"[a-z][a-z0-9_]*")
LANG = re.compile(r"[a-z]{2}")
CODELIST_KEYS = {
    "id",
    "sdmx_id",
    "agency",
    "version",
    "name",
    "description",
    "levels",
    "codes",
    "sets",
}
CODE_KEYS = {"id", "name", "parent", "level", "description", "attributes"}


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def codelist(name: str) -> dict[str, Any]:
    return load(CODELIST_DIR / f"{name}.yaml")["codelists"][0]


ALL = {path.stem: load(path)["codelists"][0] for path in FILES}


def by_id(cl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in cl["codes"]}


def ancestors(codes: dict[str, dict[str, Any]], code: str) -> list[str]:
    chain: list[str] = []
    while "parent" in codes[code]:
        code = codes[code]["parent"]
        chain.append(code)
    return chain


def check_text(value: Any, where: str) -> None:
    if isinstance(value, str):
        assert value.strip(), f"{where}: empty text"
        return
    assert isinstance(value, dict), f"{where}: text must be a string or a language mapping"
    assert "en" in value, f"{where}: English is required"
    for lang, text in value.items():
        assert isinstance(lang, str), f"{where}: bad language {lang!r}"
        assert LANG.fullmatch(lang), f"{where}: bad language {lang!r}"
        assert isinstance(text, str), f"{where}: {lang} text is not a string"
        assert text.strip(), f"{where}: empty {lang} text"


# --------------------------------------------------------------------------- every file


def test_there_are_codelist_files() -> None:
    expected = {
        "sex", "age", "isced", "isco", "geo", "undesa_area", "lf_status", "migrant_status",
        "citizenship_acq", "years_since_arrival", "reason_migration", "parent_loc",
        "urbanisation", "event_type", "decision_outcome", "obs_status", "conf_status", "region",
    }  # fmt: skip
    assert expected <= set(ALL)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_file_structure(path: Path) -> None:
    doc = load(path)
    assert isinstance(doc, dict)
    assert set(doc) == {"codelists"}, "only a codelists: key"
    assert isinstance(doc["codelists"], list)
    assert len(doc["codelists"]) == 1, "one codelist per file"
    cl = doc["codelists"][0]
    assert isinstance(cl, dict)
    assert set(cl) <= CODELIST_KEYS, set(cl) - CODELIST_KEYS
    assert cl["id"] == path.stem, "file name = codelist id"
    assert IDENT.fullmatch(cl["id"])
    check_text(cl["name"], f"{path.stem}.name")
    assert "description" in cl, "every codelist has a description citing its standard"
    check_text(cl["description"], f"{path.stem}.description")
    for key in ("sdmx_id", "agency", "version"):
        if key in cl:
            assert isinstance(cl[key], str), key
            assert cl[key], key
    for level in cl.get("levels", []):
        assert set(level) == {"id", "name"}, level
        assert isinstance(level["id"], str)
        assert IDENT.fullmatch(level["id"]), level["id"]
        assert not keyword.iskeyword(level["id"])
        check_text(level["name"], f"{path.stem}.levels.{level['id']}")
    assert isinstance(cl["codes"], list)
    assert cl["codes"]
    for code in cl["codes"]:
        assert isinstance(code, dict)
        assert set(code) <= CODE_KEYS, code
        assert isinstance(code["id"], str), code
        assert code["id"], code
        assert code["id"] == code["id"].strip()
        check_text(code["name"], f"{path.stem}.{code['id']}")
        if "description" in code:
            check_text(code["description"], f"{path.stem}.{code['id']}.description")
        for key in ("parent", "level"):
            if key in code:
                assert isinstance(code[key], str), (code["id"], key)
        attrs = code.get("attributes", {})
        assert isinstance(attrs, dict)
        for key, value in attrs.items():
            assert isinstance(key, str), (code["id"], key)
            assert IDENT.fullmatch(key), (code["id"], key)
            assert isinstance(value, str), f"{code['id']}.{key} must be a string, not {value!r}"
    sets = cl.get("sets", {})
    assert isinstance(sets, dict)
    for name, members in sets.items():
        assert isinstance(name, str), name
        assert IDENT.fullmatch(name), name
        assert not keyword.iskeyword(name)
        assert isinstance(members, list), name
        assert members, name
        assert all(isinstance(m, str) for m in members), name


@pytest.mark.parametrize("name", sorted(ALL))
def test_ids_unique(name: str) -> None:
    counts = Counter(c["id"] for c in ALL[name]["codes"])
    assert [c for c, n in counts.items() if n > 1] == []
    level_counts = Counter(level["id"] for level in ALL[name].get("levels", []))
    assert [c for c, n in level_counts.items() if n > 1] == []


@pytest.mark.parametrize("name", sorted(ALL))
def test_parents_exist_and_no_cycles(name: str) -> None:
    codes = by_id(ALL[name])
    for code in codes.values():
        if "parent" not in code:
            continue
        assert code["parent"] in codes, f"{code['id']}: unknown parent {code['parent']}"
        seen = {code["id"]}
        current = code
        while "parent" in current:
            assert current["parent"] not in seen, f"cycle through {code['id']}"
            seen.add(current["parent"])
            current = codes[current["parent"]]


@pytest.mark.parametrize("name", sorted(ALL))
def test_levels_declared_and_ordered(name: str) -> None:
    cl = ALL[name]
    order = {level["id"]: i for i, level in enumerate(cl.get("levels", []))}
    codes = by_id(cl)
    for code in codes.values():
        if "level" in code:
            assert code["level"] in order, f"{code['id']}: undeclared level {code['level']}"
        parent = codes.get(code.get("parent", ""))
        if parent is not None and "level" in parent and "level" in code:
            assert order[code["level"]] > order[parent["level"]], (
                f"{code['id']} (level {code['level']}) is not finer than its parent "
                f"{parent['id']} (level {parent['level']})"
            )


@pytest.mark.parametrize("name", sorted(ALL))
def test_sets(name: str) -> None:
    cl = ALL[name]
    codes = by_id(cl)
    levels = {level["id"] for level in cl.get("levels", [])}
    for set_name, members in cl.get("sets", {}).items():
        assert set_name not in levels, f"set {set_name} clashes with a level"
        unknown = [m for m in members if m not in codes]
        assert unknown == [], f"set {set_name}: unknown codes {unknown}"
        assert len(members) == len(set(members)), f"set {set_name} repeats a code"


@pytest.mark.parametrize("name", sorted(ALL))
def test_hierarchy_partitions(name: str) -> None:
    """For every parent, the leaf descendants of its children are disjoint and
    together are exactly the parent's leaf descendants (no gap, no overlap)."""
    codes = by_id(ALL[name])
    chains = {cid: ancestors(codes, cid) for cid in codes}
    children: dict[str, list[str]] = {}
    for cid, code in codes.items():
        if "parent" in code:
            children.setdefault(code["parent"], []).append(cid)
    leaves = [cid for cid in codes if cid not in children]

    def leaf_descendants(cid: str) -> set[str]:
        if cid not in children:
            return {cid}
        return {leaf for leaf in leaves if cid in chains[leaf]}

    for parent, kids in children.items():
        parts = [leaf_descendants(kid) for kid in kids]
        union: set[str] = set().union(*parts)
        assert sum(len(p) for p in parts) == len(union), f"{parent}: children overlap"
        assert union == leaf_descendants(parent), f"{parent}: children do not cover it"


def test_referenced_codelists_exist() -> None:
    referenced = set()
    for file in ("dimensions.yaml", "parameters.yaml"):
        doc = load(ROOT / "metadata" / file)
        for item in next(iter(doc.values())):
            if item.get("codelist"):
                referenced.add(item["codelist"])
    assert referenced - set(ALL) == set()


def test_sets_close_over_hierarchy() -> None:
    """Sets of isco and isced that name an aggregate also name everything under it,
    and every sub-major group of isco is in a set only together with its major group."""
    for name in ("isco", "isced"):
        codes = by_id(ALL[name])
        for set_name, members in ALL[name]["sets"].items():
            chosen = set(members)
            for member in members:
                below = {c for c in codes if member in ancestors(codes, c)}
                assert below <= chosen, f"{name}.{set_name}: {member} without {below - chosen}"
            if name == "isco":
                for member in members:
                    parent = codes[member].get("parent")
                    if parent and parent != "_T":
                        assert parent in chosen, f"isco.{set_name}: {member} without {parent}"


# --------------------------------------------------------------------------- small lists


def test_sex() -> None:
    cl = ALL["sex"]
    codes = by_id(cl)
    assert (cl["sdmx_id"], cl["agency"], cl["version"]) == ("CL_SEX", "SDMX", "2.1")
    assert set(codes) == {"F", "M", "_T", "_O", "_U", "_N", "_Z"}
    assert {c for c in codes if codes[c].get("parent") == "_T"} == {"F", "M", "_O", "_U", "_N"}
    assert cl["sets"]["known"] == ["F", "M"]


def test_lf_status() -> None:
    codes = by_id(ALL["lf_status"])
    assert codes["EMP"]["parent"] == codes["UNE"]["parent"] == "LF"
    assert codes["LF"]["parent"] == codes["OLF"]["parent"] == "_T"


def test_isco_structure() -> None:
    codes = by_id(ALL["isco"])
    majors = [c for c in codes.values() if c.get("level") == "major"]
    subs = [c for c in codes.values() if c.get("level") == "sub_major"]
    assert [c["id"] for c in majors] == [f"OC{i}" for i in range(10)]
    assert len(subs) == 43
    for sub in subs:
        assert re.fullmatch(r"OC\d\d", sub["id"])
        assert sub["parent"] == "OC" + sub["id"][2], sub["id"]
    sets = ALL["isco"]["sets"]
    majors_in = {name: {m for m in sets[name] if codes[m]["level"] == "major"} for name in sets}
    assert majors_in["skill_high"] == {"OC1", "OC2", "OC3"}
    assert majors_in["skill_medium"] == {"OC4", "OC5", "OC6", "OC7", "OC8"}
    assert majors_in["skill_low"] == {"OC9"}
    assert majors_in["isco_4_9"] == {f"OC{i}" for i in range(4, 10)}


def test_isced_structure() -> None:
    codes = by_id(ALL["isced"])
    assert [c for c in codes if codes[c].get("level") == "level"] == [f"ED{i}" for i in range(10)]
    under_total = ("ED0-2", "ED3_4", "ED5-8", "ED9", "_U")
    assert {c: codes[c]["parent"] for c in under_total} == dict.fromkeys(under_total, "_T")
    assert [c for c in codes if codes[c].get("parent") == "ED5-8"] == ["ED5", "ED6", "ED7", "ED8"]
    sets = ALL["isced"]["sets"]
    assert set(sets["tertiary"]) == {"ED5-8", "ED5", "ED6", "ED7", "ED8"}
    assert set(sets["low"]) & set(sets["medium"]) == set()
    assert "ED9" not in set().union(*map(set, sets.values()))


def test_parent_loc() -> None:
    cl = ALL["parent_loc"]
    codes = by_id(cl)
    assert cl["sets"]["elsewhere"] == ["ABROAD", "SAME_REGION", "OTHER_REGION", "INSTITUTION"]
    mics = {c["attributes"]["mics6"]: c["id"] for c in codes.values() if "attributes" in c}
    assert mics == {
        "1": "ABROAD", "2": "SAME_REGION", "3": "OTHER_REGION", "4": "INSTITUTION", "8": "DK",
    }  # fmt: skip


def test_obs_and_conf_status() -> None:
    obs = ALL["obs_status"]
    assert (obs["sdmx_id"], obs["version"]) == ("CL_OBS_STATUS", "2.2")
    assert [c["id"] for c in obs["codes"]] == list("ABDEFGHIJKLMNOPQSUVW")
    conf = ALL["conf_status"]
    assert (conf["sdmx_id"], conf["version"]) == ("CL_CONF_STATUS", "1.2")
    assert [c["id"] for c in conf["codes"]] == list("ACDEFGMNOST")


def test_region_is_a_placeholder() -> None:
    assert set(by_id(ALL["region"])) == {"_T", "_U"}


# --------------------------------------------------------------------------- geo

GEO = ALL["geo"]
GEO_CODES = by_id(GEO)


def test_geo_has_every_iso_country_once() -> None:
    user = set(GEO["sets"]["user_assigned"])
    countries = [c for c in GEO["codes"] if c.get("level") == "country" and c["id"] not in user]
    ids = [c["id"] for c in countries]
    assert len(ids) == len(set(ids)) == len(pycountry.countries)
    for country in pycountry.countries:
        code = GEO_CODES[country.alpha_3]
        assert code["level"] == "country"
        assert code["attributes"]["m49"] == country.numeric
        assert code["attributes"]["alpha2"] == country.alpha_2


def test_geo_m49_attribute_unique() -> None:
    m49 = [c["attributes"]["m49"] for c in GEO["codes"] if "m49" in c.get("attributes", {})]
    assert len(m49) == len(set(m49))
    assert all(re.fullmatch(r"\d{3}", m) for m in m49)


def test_geo_levels() -> None:
    count = Counter(c.get("level") for c in GEO["codes"])
    assert count["world"] == 1
    assert count["region"] == 5
    assert count["subregion"] == 17
    assert count["intermediate"] == 8
    assert count["country"] == 249 + len(GEO["sets"]["user_assigned"])
    regions = {c["id"] for c in GEO["codes"] if c.get("level") == "region"}
    assert regions == {"002", "019", "142", "150", "009"}
    for code in GEO["codes"]:
        if code.get("level") in {"region", "subregion", "intermediate", "world"}:
            assert re.fullmatch(r"\d{3}", code["id"])


def test_every_country_has_one_subregion() -> None:
    no_region = set(GEO["sets"]["no_m49_region"])
    assert no_region == {"ATA"}
    for alpha3 in [*no_region, *GEO["sets"]["not_in_unsd_m49"]]:
        assert "description" in GEO_CODES[alpha3], f"{alpha3}: the exception is documented"
    for code in GEO["codes"]:
        if code.get("level") != "country" or code["id"] == "XFL":
            continue  # Fictland, the fictional example country, has no M49 region
        chain = ancestors(GEO_CODES, code["id"])
        levels = [GEO_CODES[a]["level"] for a in chain]
        if code["id"] in no_region:
            assert chain == [], code["id"]
            continue
        assert levels.count("subregion") == 1, (code["id"], chain)
        assert levels[-3:] == ["subregion", "region", "world"], (code["id"], chain)
        assert levels[0] in {"subregion", "intermediate"}


M49_EXPECTED = {
    "MDA": ["151", "150", "001"],
    "RUS": ["151", "150", "001"],
    "EST": ["154", "150", "001"],
    "GBR": ["154", "150", "001"],
    "GGY": ["830", "154", "150", "001"],
    "DEU": ["155", "150", "001"],
    "ITA": ["039", "150", "001"],
    "BRA": ["005", "419", "019", "001"],
    "MEX": ["013", "419", "019", "001"],
    "CUB": ["029", "419", "019", "001"],
    "USA": ["021", "019", "001"],
    "NGA": ["011", "202", "002", "001"],
    "ETH": ["014", "202", "002", "001"],
    "COD": ["017", "202", "002", "001"],
    "ZAF": ["018", "202", "002", "001"],
    "SDN": ["015", "002", "001"],
    "KAZ": ["143", "142", "001"],
    "ARM": ["145", "142", "001"],
    "CYP": ["145", "142", "001"],
    "CHN": ["030", "142", "001"],
    "TWN": ["030", "142", "001"],
    "IND": ["034", "142", "001"],
    "VNM": ["035", "142", "001"],
    "AUS": ["053", "009", "001"],
    "FJI": ["054", "009", "001"],
    "GUM": ["057", "009", "001"],
    "WSM": ["061", "009", "001"],
    "ATA": [],
}


@pytest.mark.parametrize(("alpha3", "chain"), sorted(M49_EXPECTED.items()))
def test_m49_membership(alpha3: str, chain: list[str]) -> None:
    assert ancestors(GEO_CODES, alpha3) == chain


def test_geo_sets() -> None:
    sets = GEO["sets"]
    assert len(sets["eu27_2020"]) == 27
    assert "GBR" not in sets["eu27_2020"]
    assert sets["former_ussr"] == [
        "ARM", "AZE", "BLR", "EST", "GEO", "KAZ", "KGZ", "LTU", "LVA", "MDA", "RUS", "TJK",
        "TKM", "UKR", "UZB",
    ]  # fmt: skip
    assert sets["not_in_unsd_m49"] == ["TWN"]
    for flag in ("ldc", "lldc", "sids"):
        flagged = {
            c["id"]
            for c in GEO["codes"]
            if c.get("level") == "country" and c["attributes"].get(flag) == "true"
        }
        assert set(sets[flag]) == flagged
        assert all(
            c["attributes"].get(flag, "false") in {"true", "false"}
            for c in GEO["codes"]
            if c.get("level") == "country"
        )
    assert "MDA" in sets["lldc"]
    assert "AFG" in sets["ldc"]
    assert "FJI" in sets["sids"]


def test_geo_former_and_special_codes() -> None:
    former = {c["id"]: c for c in GEO["codes"] if c.get("level") == "former_state"}
    assert {"SUN", "YUG", "CSK", "SCG", "DDR", "ANT"} <= set(former)
    assert all("parent" not in c for c in former.values())
    for historic in pycountry.historic_countries:
        code_id = historic.alpha_3 if historic.alpha_3 in former else historic.alpha_4
        assert former[code_id]["attributes"]["alpha4"] == historic.alpha_4
    assert len(former) == len(pycountry.historic_countries)
    assert "FQHH" in former  # ATF is the current French Southern Territories
    special = {c["id"] for c in GEO["codes"] if c.get("level") == "special"}
    assert special == {"_T", "_U", "_X", "_Z", "XXX"}
    assert "NAT" not in GEO_CODES
    assert "FOR" not in GEO_CODES


def _recorded_pycountry_version() -> str | None:
    head = (CODELIST_DIR / "geo.yaml").read_text(encoding="utf-8")[:1000]
    match = re.search(r"pycountry (\S+) \(", head)
    return match.group(1) if match else None


@pytest.mark.parametrize("builder", ["build_geo_codelist", "build_age_codelist"])
def test_generated_files_are_reproducible(builder: str, tmp_path: Path) -> None:
    if builder == "build_geo_codelist":
        recorded = _recorded_pycountry_version()
        installed = importlib.metadata.version("pycountry")
        if recorded != installed:
            pytest.skip(f"geo.yaml was built with pycountry {recorded}, {installed} installed")
    target = {"build_geo_codelist": "geo", "build_age_codelist": "age"}[builder]
    out = tmp_path / f"{target}.yaml"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / f"{builder}.py"), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (CODELIST_DIR / f"{target}.yaml").read_bytes()


# --------------------------------------------------------------------------- undesa_area


def _ims_rows() -> list[dict[str, str]]:
    if not IMS_TABLE1.exists():
        pytest.skip(f"{IMS_TABLE1} not available")
    with IMS_TABLE1.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_undesa_area_codes_match_the_table() -> None:
    rows = _ims_rows()
    aggregates = {r["code"] for r in rows if int(r["code"]) >= 900}
    assert set(by_id(ALL["undesa_area"])) == aggregates
    names = {r["code"]: r["area"] for r in rows if int(r["code"]) >= 900}
    for code in ALL["undesa_area"]["codes"]:
        assert code["attributes"]["ims2020_name"] == names[code["id"]]
    assert all(not r["type_of_data"] for r in rows if int(r["code"]) >= 900)


def test_undesa_area_groupings_sum_to_world() -> None:
    rows = _ims_rows()
    stock = {r["code"]: float(r["both_2020"]) for r in rows if int(r["code"]) >= 900}
    sets = ALL["undesa_area"]["sets"]
    world = stock["900"]
    assert world == 280_598_105
    assert sets["continents"] == ["903", "935", "908", "905", "904", "909"]
    for name in ("continents", "sdg_regions", "development_groups"):
        assert sum(stock[c] for c in sets[name]) == world, name
    codes = by_id(ALL["undesa_area"])
    children: dict[str, list[str]] = {}
    for cid, code in codes.items():
        if "parent" in code:
            children.setdefault(code["parent"], []).append(cid)
    for parent, kids in children.items():
        assert sum(stock[k] for k in kids) == pytest.approx(stock[parent], abs=0.5), parent


# --------------------------------------------------------------------------- crosswalks

CROSSWALK_FILES = sorted(CROSSWALK_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", CROSSWALK_FILES, ids=lambda p: p.stem)
def test_crosswalk_file(path: Path) -> None:
    doc = load(path)
    assert set(doc) == {"crosswalks"}
    for cw in doc["crosswalks"]:
        assert set(cw) <= {
            "id", "name", "description", "target", "unmapped", "unknown_code", "map",
        }  # fmt: skip
        assert cw["unmapped"] in {"fail", "unknown"}
        target = by_id(ALL[cw["target"]])
        sources = [m["from"] for m in cw["map"] if "from" in m]
        assert all(isinstance(s, str) for s in sources)
        assert len(sources) == len(set(sources))
        for entry in cw["map"]:
            assert entry["to"] in target, entry


def test_isced97_crosswalk() -> None:
    cw = load(CROSSWALK_DIR / "isced97_to_isced11.yaml")["crosswalks"][0]
    mapping = {m["from"]: m["to"] for m in cw["map"]}
    assert (mapping["5B"], mapping["5A"], mapping["6"]) == ("ED5", "ED6", "ED8")
    assert [mapping[str(i)] for i in range(5)] == ["ED0", "ED1", "ED2", "ED3", "ED4"]
