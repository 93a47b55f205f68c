#!/usr/bin/env python3
"""Build ``metadata/codelists/age.yaml`` (SDMX-style age groups).

The codelist is regular (100 single years, 21 five-year groups, broad groups),
so it is generated rather than typed. Deterministic; no input files.

Usage::

    python tools/build_age_codelist.py              # (re)write metadata/codelists/age.yaml
    python tools/build_age_codelist.py -o out.yaml  # write elsewhere
    python tools/build_age_codelist.py --check      # fail if age.yaml is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "metadata" / "codelists" / "age.yaml"

TOP_FIVE_YEAR = 85  # Y_GE85 closes the standard five-year classification
TOP_SINGLE = 100  # Y_GE100 closes the single-year classification

# Broad groups: (lo, hi, extra words for the English name). No parent: they overlap.
BROAD = [
    (0, 14, None),
    (0, 17, "children, MICS"),
    (0, 17, "lt"),  # Y_LT18, same ages as Y0T17
    (15, 17, "MICS"),
    (15, 24, "youth"),
    (15, 64, "working age"),
    (15, 74, None),
    (15, None, None),
    (18, None, "adults"),
    (20, 34, None),
    (20, 64, None),
    (25, 54, "prime working age"),
    (25, 64, None),
    (25, None, None),
    (35, 64, None),
    (55, 64, None),
    (65, None, None),
    (75, None, "UN DESA migrant stock"),
]


def code_of(lo: int, hi: int | None, lt: bool = False) -> str:
    if hi is None:
        return "_T" if lo == 0 else f"Y_GE{lo}"
    if lo == hi:
        return f"Y{lo}"
    if lt or (lo == 0 and hi == 14):
        return f"Y_LT{hi + 1}"
    return f"Y{lo}T{hi}"


def name_of(lo: int, hi: int | None, extra: str | None = None) -> dict[str, str]:
    if hi is None:
        en, fr = f"{lo} years or over", f"{lo} ans ou plus"
    elif lo == hi:
        if lo == 0:
            en, fr = "Under 1 year", "Moins d'un an"
        elif lo == 1:
            en, fr = "1 year", "1 an"
        else:
            en, fr = f"{lo} years", f"{lo} ans"
    elif lo == 0 and (extra == "lt" or hi == 14):
        en, fr = f"Under {hi + 1} years", f"Moins de {hi + 1} ans"
    else:
        en, fr = f"{lo} to {hi} years", f"{lo} à {hi} ans"
    if extra and extra != "lt":
        en = f"{en} ({extra})"
    return {"en": en, "fr": fr}


def five_year_groups() -> list[tuple[int, int | None]]:
    return [(lo, lo + 4) for lo in range(0, TOP_FIVE_YEAR, 5)] + [(TOP_FIVE_YEAR, None)]


def build() -> dict[str, Any]:
    codes: list[dict[str, Any]] = [
        {"id": "_T", "name": {"en": "Total", "fr": "Total"}, "level": "total"}
    ]

    def single(n: int, parent: str) -> dict[str, Any]:
        return {"id": f"Y{n}", "name": name_of(n, n), "parent": parent, "level": "single"}

    for lo, hi in five_year_groups():
        group = code_of(lo, hi)
        codes.append({"id": group, "name": name_of(lo, hi), "parent": "_T", "level": "five_year"})
        if hi is not None:
            codes.extend(single(n, group) for n in range(lo, hi + 1))
            continue
        # Y_GE85: five-year groups 85-99, then the open group 100+.
        for sub_lo in range(TOP_FIVE_YEAR, TOP_SINGLE, 5):
            sub = code_of(sub_lo, sub_lo + 4)
            codes.append(
                {
                    "id": sub,
                    "name": name_of(sub_lo, sub_lo + 4),
                    "parent": group,
                    "level": "five_year_85_99",
                }
            )
            codes.extend(single(n, sub) for n in range(sub_lo, sub_lo + 5))
        codes.append(
            {
                "id": code_of(TOP_SINGLE, None),
                "name": name_of(TOP_SINGLE, None),
                "parent": group,
                "level": "single",
            }
        )

    for lo, hi, extra in BROAD:
        codes.append(
            {
                "id": code_of(lo, hi, lt=extra == "lt"),
                "name": name_of(lo, hi, extra),
                "level": "broad",
            }
        )
    codes.append(
        {
            "id": "_U",
            "name": {"en": "Unknown", "fr": "Inconnu"},
            "parent": "_T",
            "attributes": {"eurostat": "UNK"},
        }
    )

    five = [code_of(lo, hi) for lo, hi in five_year_groups()]
    sets = {
        "broad_3": ["Y_LT15", "Y15T64", "Y_GE65"],
        "lfs_5": ["Y_LT15", "Y15T24", "Y25T54", "Y55T64", "Y_GE65"],
        "children_adults": ["Y_LT18", "Y_GE18"],
        "five_year_to_100": [
            *five[:-1],
            *(code_of(a, a + 4) for a in range(85, 100, 5)),
            "Y_GE100",
        ],
        "undesa_ims": [*(code_of(a, a + 4) for a in range(0, 75, 5)), "Y_GE75"],
        "working_age_15_64": ["Y15T24", "Y25T54", "Y55T64"],
        "mics_child_groups": ["Y0T4", "Y5T9", "Y10T14", "Y15T17"],
    }
    ids = [c["id"] for c in codes]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate age codes")
    for name, members in sets.items():
        missing = [m for m in members if m not in ids]
        if missing:
            raise ValueError(f"set {name}: unknown codes {missing}")

    return {
        "id": "age",
        "name": {"en": "Age", "fr": "Âge"},
        "description": DESCRIPTION,
        "levels": [
            {"id": "total", "name": {"en": "Total", "fr": "Total"}},
            {"id": "broad", "name": {"en": "Broad age groups", "fr": "Grands groupes d'âge"}},
            {
                "id": "five_year",
                "name": {"en": "Five-year age groups", "fr": "Groupes quinquennaux d'âge"},
            },
            {
                "id": "five_year_85_99",
                "name": {
                    "en": "Five-year age groups 85-99 (subdivision of 85+)",
                    "fr": "Groupes quinquennaux d'âge 85-99 (subdivision de 85+)",
                },
            },
            {"id": "single", "name": {"en": "Single years of age", "fr": "Âge en années révolues"}},
        ],
        "codes": codes,
        "sets": sets,
    }


DESCRIPTION = (
    "Age in completed years, as SDMX-style composite codes built on the unit Y of "
    "SDMX:CL_AGE(1.0) (which itself only holds units): Y{n} exactly n years, Y{a}T{b} a to b "
    "years inclusive, Y_LT{n} under n, Y_GE{n} n or over, _T all ages, _U unknown "
    "(migprofile.catalog.age parses the grammar; Eurostat spellings such as Y15-64, TOTAL "
    "and UNK are derived by migprofile.catalog.age.eurostat_alias). Hierarchy: single "
    "years -> five-year groups -> _T. The level five_year (Y0T4 ... Y80T84, Y_GE85, the UN "
    "and Eurostat standard five-year classification) and the level single (Y0 ... Y99, "
    "Y_GE100) each partition all ages. Y_GE85 is subdivided into Y85T89, Y90T94, Y95T99 "
    "(level five_year_85_99) and Y_GE100. Broad groups overlap each other and the tree, so "
    "they are a level of their own without parents; Y0T17 and Y_LT18 are the same ages "
    "(the first is the MICS spelling). _U (unknown age) is a child of _T without level. "
    "Every named set is a list of disjoint groups without gap (checked by tests); "
    "broad_3, lfs_5, children_adults, five_year_to_100 and undesa_ims cover all ages, "
    "working_age_15_64 covers 15-64 and mics_child_groups 0-17 (MICS6 tables SR.11.x). "
    "Sources: SDMX CL_AGE(1.0) 2014; OECD/ILO/SDG SDMX practice; UNICEF MICS6 tabulation "
    "plan; UN DESA International Migrant Stock 2020 (five-year groups to 75+). Order: _T, "
    "the tree depth-first, broad groups by age, _U. Generated by tools/build_age_codelist.py."
)

# --------------------------------------------------------------------------- YAML

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none"}


def scalar(value: str) -> str:
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


def render(codelist: dict[str, Any]) -> str:
    pad = " " * 6
    body = textwrap.wrap(codelist["description"], width=92 - len(pad), break_on_hyphens=False)
    lines = [
        "# GENERATED FILE - do not edit by hand.",
        "# Regenerate with: python tools/build_age_codelist.py",
        "codelists:",
        f"  - id: {scalar(codelist['id'])}",
        f"    name: {flow(codelist['name'])}",
        "    description: >-",
        *(pad + line for line in body),
        "    levels:",
        *(f"      - {flow(level)}" for level in codelist["levels"]),
        "    codes:",
        *(f"      - {flow(code)}" for code in codelist["codes"]),
        "    sets:",
        *(f"      {name}: {flow(members)}" for name, members in codelist["sets"].items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)

    codelist = build()
    text = render(codelist)
    if yaml.safe_load(text) != {"codelists": [codelist]}:
        raise AssertionError("rendered YAML does not load back to the built structure")
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != text.encode("utf-8"):
            print(f"{args.output} is out of date; run tools/build_age_codelist.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(text.encode("utf-8"))
    print(f"wrote {args.output}: {len(codelist['codes'])} codes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
