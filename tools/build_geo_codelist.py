#!/usr/bin/env python3
"""Build ``metadata/codelists/geo.yaml`` from the UN M49 table and pycountry.

Inputs (no network needed):

* ``tools/data/unsd_m49.csv`` — the UNSD M49 overview table (origin and vintage
  in ``tools/data/unsd_m49.README.md``): regions, sub-regions, intermediate
  regions, M49 codes, LDC / LLDC / SIDS flags;
* ``pycountry`` — ISO 3166-1 (alpha-2, alpha-3, numeric, English names),
  ISO 3166-3 (former countries) and the French translations it ships.

To these it adds two codes of the ISO 3166-1 user-assigned range XAA-XZZ
(``USER_ASSIGNED``): XKX Kosovo and XFL, Fictland, the fictional country of
the bundled example in ``examples/synthetic/``.

The output is deterministic: same inputs, same bytes. ``--check`` compares the
file on disk with a fresh build and exits with status 1 when they differ.

Usage::

    python tools/build_geo_codelist.py              # (re)write metadata/codelists/geo.yaml
    python tools/build_geo_codelist.py -o out.yaml  # write elsewhere
    python tools/build_geo_codelist.py --check      # fail if geo.yaml is stale
"""

from __future__ import annotations

import argparse
import csv
import gettext
import importlib.metadata
import json
import re
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pycountry
import yaml

ROOT = Path(__file__).resolve().parents[1]
M49_CSV = ROOT / "tools" / "data" / "unsd_m49.csv"
DEFAULT_OUTPUT = ROOT / "metadata" / "codelists" / "geo.yaml"

# French names of the M49 aggregates, in the usage of UN French-language
# statistical publications (the UNSD table copy used here is English only).
FRENCH_AGGREGATES = {
    "001": "Monde",
    "002": "Afrique",
    "005": "Amérique du Sud",
    "009": "Océanie",
    "011": "Afrique occidentale",
    "013": "Amérique centrale",
    "014": "Afrique orientale",
    "015": "Afrique septentrionale",
    "017": "Afrique centrale",
    "018": "Afrique australe",
    "019": "Amériques",
    "021": "Amérique septentrionale",
    "029": "Caraïbes",
    "030": "Asie orientale",
    "034": "Asie méridionale",
    "035": "Asie du Sud-Est",
    "039": "Europe méridionale",
    "053": "Australie et Nouvelle-Zélande",
    "054": "Mélanésie",
    "057": "Micronésie",
    "061": "Polynésie",
    "142": "Asie",
    "143": "Asie centrale",
    "145": "Asie occidentale",
    "150": "Europe",
    "151": "Europe orientale",
    "154": "Europe septentrionale",
    "155": "Europe occidentale",
    "202": "Afrique subsaharienne",
    "419": "Amérique latine et Caraïbes",
    "830": "Îles Anglo-Normandes",
}

# Countries or areas of ISO 3166-1 that the M49 table leaves without a region.
# They get no parent and are listed in the set `no_m49_region`.
NO_REGION_NOTES = {
    "ATA": (
        "Antarctica (M49 010) belongs to no M49 region, sub-region or intermediate "
        "region; it is deliberately left without a parent (set no_m49_region)."
    ),
}

# Countries or areas of ISO 3166-1 missing from the UNSD table, placed by override.
OVERRIDES = {
    "TWN": {
        "parent": "030",
        "note": (
            "Not in the UNSD M49 table. Placed under Eastern Asia (030) as UN DESA "
            "Population Division does ('China, Taiwan Province of China'); ISO 3166-1 "
            "numeric 158. Set not_in_unsd_m49."
        ),
    },
}

# EU member states since 1 February 2020 (Eurostat aggregate EU27_2020).
EU27_2020 = [
    "AUT", "BEL", "BGR", "CYP", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA", "GRC", "HRV",
    "HUN", "IRL", "ITA", "LTU", "LUX", "LVA", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN",
    "SWE",
]  # fmt: skip

# The 15 successor states of the USSR.
FORMER_USSR = [
    "ARM", "AZE", "BLR", "EST", "GEO", "KAZ", "KGZ", "LTU", "LVA", "MDA", "RUS", "TJK", "TKM",
    "UKR", "UZB",
]  # fmt: skip

SPECIAL_CODES = [
    ("_T", "Total", "Total", "All countries and areas (SDMX generic code for totals)."),
    ("_U", "Unknown", "Inconnu", "Country or area not known (SDMX generic code)."),
    (
        "_X",
        "Not allocated",
        "Non attribué",
        "Not allocated / unspecified country or area (SDMX generic code).",
    ),
    (
        "_Z",
        "Not applicable",
        "Sans objet",
        "Not applicable, e.g. country of previous residence of a person who never moved "
        "(SDMX generic code).",
    ),
    (
        "XXX",
        "Other or unknown origin",
        "Autre origine ou origine inconnue",
        "Residual 'other / unknown' origin of UN DESA bilateral migrant-stock tables "
        "(International Migrant Stock 2020). ICAO Doc 9303 also uses XXX for a person "
        "of unspecified nationality.",
    ),
]

# User-assigned codes: ISO 3166-1 reserves the alpha-3 range XAA-XZZ (and
# alpha-2 XA-XZ) for users; ISO never assigns them to a country. Each entry:
# id, English name, French name, parent (an M49 aggregate or None), alpha-2
# (or None), note.
USER_ASSIGNED = [
    (
        "XKX",
        "Kosovo",
        "Kosovo",
        "039",
        "XK",
        "Kosovo (under UN Security Council resolution 1244/1999) has no ISO 3166-1 "
        "code; XKX (alpha-2 XK) is the user-assigned code the World Bank and the "
        "European Commission use. The UNSD M49 table does not list it; placed under "
        "Southern Europe (039), the sub-region of the other Western Balkan states.",
    ),
    (
        "XFL",
        "Fictland (fictional country of migprofile's bundled example)",
        "Fictlande (pays fictif de l'exemple livré avec migprofile)",
        None,
        "XF",
        "Not a real country: the fictional reporting country of the synthetic "
        "example profile shipped in examples/synthetic/. No M49 region (no parent); "
        "alpha-2 XF, also from the user-assigned range.",
    ),
]

LEVELS = [
    ("world", "World", "Monde"),
    ("region", "M49 region", "Région M49"),
    ("subregion", "M49 sub-region", "Sous-région M49"),
    ("intermediate", "M49 intermediate region", "Région intermédiaire M49"),
    ("country", "Country or area (ISO 3166-1)", "Pays ou zone (ISO 3166-1)"),
    ("former_state", "Former country or area (ISO 3166-3)", "Ancien pays ou zone (ISO 3166-3)"),
    ("special", "Special code", "Code spécial"),
]

DESCRIPTION = (
    "Countries and areas of ISO 3166-1 (all 249 of pycountry {pycountry}), coded by "
    "ISO 3166-1 alpha-3, arranged in the UN M49 geographic hierarchy (UN Statistics "
    "Division, Standard Country or Area Codes for Statistical Use, Series M No. 49): "
    "World 001, regions, sub-regions, intermediate regions (where M49 has them), "
    "countries. Aggregates use their 3-digit M49 code with leading zeros. Country "
    "attributes: m49 (3-digit M49 code = ISO 3166-1 numeric; unique in this list), "
    "alpha2, unsd_name (name in the UNSD table), common_name (pycountry, when it has "
    "one), and ldc / lldc / sids ('true'/'false') as flagged by the UNSD table in "
    "tools/data/unsd_m49.csv (a 2019-2020 vintage: Vanuatu, Bhutan and Sao Tome and "
    "Principe have since graduated from LDC status). Exceptions: Antarctica (ATA) has "
    "no M49 region and no parent (set no_m49_region); Taiwan (TWN) is not in the UNSD "
    "table and is placed under Eastern Asia as UN DESA does (set not_in_unsd_m49); "
    "Sark (M49 680) has no ISO code and is covered by Guernsey (GGY). Former countries "
    "of ISO 3166-3 are codes of level former_state without parent, under their "
    "alpha-3 (FQHH, the ISO 3166-3 code, for the former French Southern and Antarctic "
    "Territories, whose alpha-3 ATF is the current French Southern Territories); their "
    "numeric code is the attribute iso_numeric, not m49, because renamed states share "
    "it with their successor (BUR/MMR 104, ZAR/COD 180, ...) and YUG/SCG share 891. "
    "User-assigned codes of the ISO 3166-1 range XAA-XZZ (set user_assigned, attribute "
    "user_assigned 'true', level country so that country filters keep them): XKX Kosovo "
    "(World Bank and European Commission usage; under Southern Europe) and XFL Fictland, "
    "the fictional country of the bundled example (alpha-2 XF, no parent). "
    "Special codes: _T, _U, _X, _Z (SDMX generic codes) and XXX (UN DESA 'other'). "
    "Codes relative to the reporting country (NAT, FOR) are not codes of geo. "
    "Order: the M49 tree depth-first (aggregates before countries, aggregates by "
    "code, countries by alpha-3), then countries without region, former states by "
    "code, user-assigned codes, special codes. Generated by tools/build_geo_codelist.py; do "
    "not edit."
)


# --------------------------------------------------------------------------- input


def read_m49(path: Path = M49_CSV) -> list[dict[str, str]]:
    """Rows of the UNSD table with normalised keys and zero-padded codes."""
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    rows = []
    for raw in csv.DictReader(text.splitlines(), delimiter=delimiter):
        row = {k.strip(): (v or "").strip() for k, v in raw.items()}
        out = {
            "region_code": _pad(row["Region Code"]),
            "region_name": row["Region Name"],
            "subregion_code": _pad(row["Sub-region Code"]),
            "subregion_name": row["Sub-region Name"],
            "intermediate_code": _pad(row["Intermediate Region Code"]),
            "intermediate_name": row["Intermediate Region Name"],
            "name": row["Country or Area"],
            "m49": _pad(row["M49 Code"]),
            "alpha3": row["ISO-alpha3 Code"],
            "ldc": _flag(_column(row, "Least Developed Countries (LDC)", "LDC")),
            "lldc": _flag(_column(row, "Land Locked Developing Countries (LLDC)", "LLDC")),
            "sids": _flag(_column(row, "Small Island Developing States (SIDS)", "SIDS")),
        }
        rows.append(out)
    return rows


def _column(row: dict[str, str], *names: str) -> str:
    for name in names:
        if name in row:
            return row[name]
    raise KeyError(names[0])


def _pad(code: str) -> str:
    return code.zfill(3) if code else ""


def _flag(value: str) -> str:
    return "true" if value.lower() == "x" else "false"


# --------------------------------------------------------------------------- build


def build() -> dict[str, Any]:
    """The geo codelist as a plain Python structure (what the YAML must load to)."""
    fr1 = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    fr3 = gettext.translation("iso3166-3", pycountry.LOCALES_DIR, languages=["fr"])
    rows = read_m49()

    aggregates: dict[str, dict[str, Any]] = {
        "001": {"name": "World", "level": "world", "parent": None}
    }
    country_parent: dict[str, str | None] = {}
    m49_row: dict[str, dict[str, str]] = {}
    for row in rows:
        parent = "001"
        for level, code_key, name_key in (
            ("region", "region_code", "region_name"),
            ("subregion", "subregion_code", "subregion_name"),
            ("intermediate", "intermediate_code", "intermediate_name"),
        ):
            code = row[code_key]
            if not code:
                continue
            entry = {"name": row[name_key], "level": level, "parent": parent}
            if code in aggregates and aggregates[code] != entry:
                raise ValueError(f"M49 aggregate {code} is inconsistent in the table")
            aggregates[code] = entry
            parent = code
        if not row["alpha3"]:
            continue  # Sark: no ISO 3166-1 code, covered by Guernsey
        if row["alpha3"] in m49_row:
            raise ValueError(f"{row['alpha3']} appears twice in the M49 table")
        m49_row[row["alpha3"]] = row
        country_parent[row["alpha3"]] = parent if parent != "001" else None

    countries = sorted(pycountry.countries, key=lambda c: c.alpha_3)
    iso3 = {c.alpha_3 for c in countries}
    unknown = set(m49_row) - iso3
    if unknown:
        raise ValueError(f"M49 table has alpha-3 codes unknown to pycountry: {sorted(unknown)}")

    country_codes: dict[str, dict[str, Any]] = {}
    for c in countries:
        attrs: dict[str, str] = {"m49": c.numeric, "alpha2": c.alpha_2}
        row = m49_row.get(c.alpha_3)
        note = None
        if row is not None:
            if row["m49"] != c.numeric:
                raise ValueError(f"{c.alpha_3}: M49 {row['m49']} != ISO numeric {c.numeric}")
            parent = country_parent[c.alpha_3]
            attrs["unsd_name"] = re.sub(r"\s+", " ", row["name"])
        elif c.alpha_3 in OVERRIDES:
            parent = OVERRIDES[c.alpha_3]["parent"]
            note = OVERRIDES[c.alpha_3]["note"]
        else:
            raise ValueError(f"{c.alpha_3} is neither in the M49 table nor overridden")
        if parent is None:
            if c.alpha_3 not in NO_REGION_NOTES:
                raise ValueError(f"{c.alpha_3} has no M49 region and no documented exception")
            note = NO_REGION_NOTES[c.alpha_3]
        common = getattr(c, "common_name", None)
        if common:
            attrs["common_name"] = common
        if row is not None:
            attrs.update(ldc=row["ldc"], lldc=row["lldc"], sids=row["sids"])
        code: dict[str, Any] = {
            "id": c.alpha_3,
            "name": {"en": c.name, "fr": fr1.gettext(c.name)},
        }
        if parent is not None:
            code["parent"] = parent
        code["level"] = "country"
        code["attributes"] = attrs
        if note:
            code["description"] = note
        country_codes[c.alpha_3] = code

    # ----- ordering: depth-first over the M49 tree
    children: dict[str, list[str]] = {}
    for code, entry in aggregates.items():
        if entry["parent"] is not None:
            children.setdefault(entry["parent"], []).append(code)
    country_children: dict[str, list[str]] = {}
    for alpha3, code in country_codes.items():
        if "parent" in code:
            country_children.setdefault(code["parent"], []).append(alpha3)

    ordered: list[dict[str, Any]] = []

    def visit(code: str) -> None:
        entry = aggregates[code]
        item: dict[str, Any] = {
            "id": code,
            "name": {"en": entry["name"], "fr": FRENCH_AGGREGATES[code]},
        }
        if entry["parent"] is not None:
            item["parent"] = entry["parent"]
        item["level"] = entry["level"]
        item["attributes"] = {"m49": code}
        if code == "830":
            item["description"] = (
                "M49 intermediate region; Sark (M49 680, no ISO 3166-1 code) is covered "
                "by Guernsey (GGY)."
            )
        ordered.append(item)
        for child in sorted(children.get(code, [])):
            visit(child)
        for alpha3 in sorted(country_children.get(code, [])):
            ordered.append(country_codes[alpha3])

    visit("001")
    no_region = sorted(a for a, c in country_codes.items() if "parent" not in c)
    ordered.extend(country_codes[a] for a in no_region)

    # ----- former countries (ISO 3166-3)
    collisions = []
    former: list[dict[str, Any]] = []
    for h in pycountry.historic_countries:
        code_id = h.alpha_3
        attrs = {"alpha2": h.alpha_2, "alpha4": h.alpha_4}
        notes = []
        if h.alpha_3 in iso3:
            collisions.append(h.alpha_3)
            code_id = h.alpha_4
            notes.append(
                f"ISO 3166-3 code {h.alpha_4} used as id because alpha-3 {h.alpha_3} is "
                "a current ISO 3166-1 code"
            )
        numeric = getattr(h, "numeric", None)
        if numeric:
            attrs["iso_numeric"] = numeric
        withdrawal = getattr(h, "withdrawal_date", None)
        if withdrawal:
            attrs["withdrawal_date"] = withdrawal
        comment = getattr(h, "comment", None)
        if comment:
            notes.append("ISO 3166-3 (pycountry) comment: " + comment)
        item = {
            "id": code_id,
            "name": {"en": h.name, "fr": fr3.gettext(h.name)},
            "level": "former_state",
            "attributes": attrs,
        }
        if notes:
            item["description"] = "; ".join(notes) + "."
        former.append(item)
    ordered.extend(sorted(former, key=lambda c: c["id"]))

    for code_id, en, fr, above, alpha2, note in USER_ASSIGNED:
        if code_id in iso3 or not re.fullmatch(r"X[A-Z]{2}", code_id):
            raise ValueError(f"{code_id} is not a free user-assigned ISO 3166-1 code")
        if above is not None and above not in aggregates:
            raise ValueError(f"{code_id}: parent {above} is not an M49 aggregate")
        user: dict[str, Any] = {"id": code_id, "name": {"en": en, "fr": fr}}
        if code_id in country_codes:
            raise ValueError(f"{code_id} is already a country code")
        if above is not None:
            user["parent"] = above
        # level country, so that filters such as `ref_area in geo.country` keep
        # them; the set user_assigned tells them apart
        user["level"] = "country"
        attrs = {"alpha2": alpha2} if alpha2 is not None else {}
        attrs["user_assigned"] = "true"
        user["attributes"] = attrs
        user["description"] = note
        ordered.append(user)

    for code_id, en, fr, note in SPECIAL_CODES:
        ordered.append(
            {
                "id": code_id,
                "name": {"en": en, "fr": fr},
                "level": "special",
                "description": note,
            }
        )

    ids = [c["id"] for c in ordered]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate code ids in geo")

    def members(flag: str) -> list[str]:
        return sorted(a for a, c in country_codes.items() if c["attributes"].get(flag) == "true")

    sets = {
        "ldc": members("ldc"),
        "lldc": members("lldc"),
        "sids": members("sids"),
        "eu27_2020": sorted(EU27_2020),
        "former_ussr": sorted(FORMER_USSR),
        "no_m49_region": no_region,
        "not_in_unsd_m49": sorted(OVERRIDES),
    }
    user_ids = [u[0] for u in USER_ASSIGNED]
    for name, codes in sets.items():
        missing = [c for c in codes if c not in country_codes]
        if missing:
            raise ValueError(f"set {name}: unknown codes {missing}")
    sets["user_assigned"] = sorted(user_ids)

    return {
        "id": "geo",
        "name": {"en": "Countries and areas", "fr": "Pays et zones"},
        "description": DESCRIPTION.format(pycountry=_pycountry_version()),
        "levels": [{"id": i, "name": {"en": en, "fr": fr}} for i, en, fr in LEVELS],
        "codes": ordered,
        "sets": sets,
        "_collisions": collisions,
    }


def _pycountry_version() -> str:
    return importlib.metadata.version("pycountry")


# --------------------------------------------------------------------------- YAML

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none"}


def scalar(value: str) -> str:
    """A YAML scalar for a string: plain when unambiguous, double-quoted otherwise."""
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def flow(value: Any) -> str:
    if isinstance(value, str):
        return scalar(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    raise TypeError(type(value))


def wrapped_list(key: str, items: Iterable[str], indent: int, width: int = 96) -> list[str]:
    """``key: [a, b, ...]`` folded over several lines (still one flow sequence)."""
    words = [scalar(i) for i in items]
    head = " " * indent + f"{key}: ["
    lines: list[str] = []
    line = head
    for n, word in enumerate(words):
        piece = word + ("," if n < len(words) - 1 else "]")
        if len(line) + len(piece) + 1 > width and line.strip() not in (f"{key}: [",):
            lines.append(line.rstrip())
            line = " " * (indent + 2) + piece
        else:
            line += ("" if line.endswith("[") else " ") + piece
    if not words:
        line += "]"
    lines.append(line)
    return lines


def folded(key: str, text: str, indent: int, width: int = 92) -> list[str]:
    pad = " " * (indent + 2)
    body = textwrap.wrap(text, width=width - len(pad), break_on_hyphens=False)
    return [" " * indent + f"{key}: >-", *(pad + line for line in body)]


def render(codelist: dict[str, Any]) -> str:
    lines = [
        "# GENERATED FILE - do not edit by hand.",
        "# Regenerate with: python tools/build_geo_codelist.py",
        "# Sources: tools/data/unsd_m49.csv (UNSD M49 table; origin in",
        "#   tools/data/unsd_m49.README.md) and pycountry "
        f"{_pycountry_version()} (ISO 3166-1, ISO 3166-3,",
        "#   French translations).",
        "codelists:",
        f"  - id: {scalar(codelist['id'])}",
        f"    name: {flow(codelist['name'])}",
        *folded("description", codelist["description"], 4),
        "    levels:",
        *(f"      - {flow(level)}" for level in codelist["levels"]),
        "    codes:",
        *(f"      - {flow(code)}" for code in codelist["codes"]),
        "    sets:",
    ]
    for name, members in codelist["sets"].items():
        lines.extend(wrapped_list(name, members, 6))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)

    codelist = build()
    collisions = codelist.pop("_collisions")
    text = render(codelist)
    loaded = yaml.safe_load(text)
    if loaded != {"codelists": [codelist]}:
        raise AssertionError("rendered YAML does not load back to the built structure")

    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != text.encode("utf-8"):
            print(f"{args.output} is out of date; run tools/build_geo_codelist.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(text.encode("utf-8"))
    n_levels: dict[str, int] = {}
    for code in codelist["codes"]:
        n_levels[code["level"]] = n_levels.get(code["level"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in n_levels.items())
    print(f"wrote {args.output}: {len(codelist['codes'])} codes ({summary})", file=sys.stderr)
    if collisions:
        print(f"ISO 3166-3 alpha-3 collisions (alpha-4 used): {collisions}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
