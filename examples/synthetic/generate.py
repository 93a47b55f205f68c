#!/usr/bin/env python3
"""Generate the synthetic input files of Fictland, migprofile's bundled example.

Fictland (ISO 3166-1 user-assigned code ``XFL``, alpha-2 ``XF``) is a
fictional lower-middle-income country of about 2.5 million people in
South-eastern Europe with five regions, large emigration to Western Europe,
sizeable remittances, some immigration from its Western Balkan neighbours and
Türkiye, and a small number of asylum seekers. Nothing here describes a real
country; the neighbours and destinations are real countries so that the
standard codelists (ISO 3166-1, M49) apply.

Every file of ``sources/`` is written by this script, from one seed, with
``numpy.random.default_rng``: each source draws from its own stream
``default_rng([SEED, k])`` so that changing one source leaves the others'
bytes unchanged. Running it again gives byte-identical files::

    python examples/synthetic/generate.py                 # rewrite sources/ in place
    python examples/synthetic/generate.py --out /tmp/x    # write elsewhere

The files imitate what a statistics office actually receives: national codes
(region ``01``-``05``, sex ``1``/``2``, a national country list, national
education levels, ISCO-08 unit groups, permit categories, ...) that the
hand-written ``mapping.yaml`` of each source recodes with crosswalks. How the
values are drawn is described next to each generator below and in README.md.

Sizes are kept small so that the whole profile builds in seconds: the census
is a 1 % household sample (9,500 households, about 24,000 persons), the
labour-force survey about 2,000 households, the registers a few thousand
events of 2024.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20240401
HERE = Path(__file__).resolve().parent
REF_YEAR = 2024

# --------------------------------------------------------------------------- the country

# Regions of Fictland: national code, share of households, share urban,
# probability that a household has a member abroad, share of immigrant
# households. The capital attracts immigrants; the poor rural south and the
# northern hills send emigrants.
REGIONS = {
    "01": {"hh": 0.34, "urban": 0.95, "abroad": 0.09, "imm": 0.11},  # Capital District
    "02": {"hh": 0.14, "urban": 0.35, "abroad": 0.24, "imm": 0.04},  # Northern Hills
    "03": {"hh": 0.22, "urban": 0.50, "abroad": 0.17, "imm": 0.05},  # River Valley
    "04": {"hh": 0.18, "urban": 0.62, "abroad": 0.13, "imm": 0.08},  # Coast
    "05": {"hh": 0.12, "urban": 0.30, "abroad": 0.27, "imm": 0.03},  # Southern Plains
}

# Countries of birth of immigrants (weights) and their main reason for coming.
ORIGINS = {
    "SRB": 0.20, "BIH": 0.11, "ALB": 0.11, "MKD": 0.09, "XKX": 0.09, "MNE": 0.03,
    "TUR": 0.10, "UKR": 0.09, "RUS": 0.04, "SYR": 0.05, "AFG": 0.02, "CHN": 0.03,
    "ITA": 0.015, "DEU": 0.015,
}  # fmt: skip
PROTECTION_ORIGINS = {"SYR", "AFG", "UKR"}

# Destinations of emigrants (weights), as in the census roster and the mirror data.
DESTINATIONS = {
    "DEU": 0.26, "AUT": 0.12, "ITA": 0.14, "CHE": 0.08, "FRA": 0.06, "SWE": 0.05,
    "USA": 0.08, "CAN": 0.04, "GBR": 0.05, "RUS": 0.06, "SRB": 0.03, "TUR": 0.03,
}  # fmt: skip

# The census's national country list: M49 numbers for foreign countries,
# 000 for Fictland, 901 for Kosovo (which has no M49 code), 999 not stated.
CENSUS_COUNTRY = {
    "XFL": "000", "SRB": "688", "BIH": "070", "ALB": "008", "MKD": "807", "XKX": "901",
    "MNE": "499", "TUR": "792", "UKR": "804", "RUS": "643", "SYR": "760", "AFG": "004",
    "CHN": "156", "ITA": "380", "DEU": "276", "AUT": "040", "CHE": "756", "FRA": "250",
    "SWE": "752", "USA": "840", "CAN": "124", "GBR": "826",
}  # fmt: skip

# ISO 3166-1 alpha-2 codes (the labour-force survey's country coding).
ALPHA2 = {
    "XFL": "XF", "SRB": "RS", "BIH": "BA", "ALB": "AL", "MKD": "MK", "XKX": "XK",
    "MNE": "ME", "TUR": "TR", "UKR": "UA", "RUS": "RU", "SYR": "SY", "AFG": "AF",
    "CHN": "CN", "ITA": "IT", "DEU": "DE", "AUT": "AT", "CHE": "CH", "FRA": "FR",
    "SWE": "SE", "USA": "US", "CAN": "CA", "GBR": "GB",
}  # fmt: skip

# National education levels (census and survey questionnaire) and their ISCED
# 2011 level: 1 no schooling (ED0), 2 primary (ED1), 3 gymnasium (ED2),
# 4 lyceum (ED3), 5 vocational school (ED3), 6 post-secondary college (ED4),
# 7 short-cycle tertiary (ED5), 8 bachelor (ED6), 9 master (ED7), 10 doctorate
# (ED8). The survey records ISCED directly (0-8).
EDU_TO_ISCED = {1: 0, 2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 6, 9: 7, 10: 8}

# ISCO-08 unit groups used, by skill: (code, weight).
ISCO_HIGH = [(1120, 2), (1420, 2), (2211, 2), (2310, 3), (2341, 3), (2411, 2), (2512, 2),
             (2611, 1), (3112, 2), (3313, 3), (3221, 2), (3343, 2)]  # fmt: skip
ISCO_MEDIUM = [(4110, 3), (4311, 2), (5120, 3), (5223, 5), (5321, 2), (6111, 4), (6121, 2),
               (7112, 3), (7126, 2), (7231, 2), (7411, 2), (7512, 1), (8322, 3), (8332, 2),
               (8160, 1)]  # fmt: skip
ISCO_LOW = [(9112, 3), (9211, 3), (9313, 3), (9329, 2), (9412, 2), (9621, 1)]


def _pick(rng: np.random.Generator, weights: dict[str, float], size: int | None = None) -> Any:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return rng.choice(keys, size=size, p=p / p.sum())


def _isco(rng: np.random.Generator, group: list[tuple[int, int]]) -> int:
    codes = [c for c, _ in group]
    p = np.array([w for _, w in group], dtype=float)
    return int(rng.choice(codes, p=p / p.sum()))


# --------------------------------------------------------------------------- writing


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "2"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A UTF-8 CSV with LF line ends and deterministic number formatting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])


# --------------------------------------------------------------------------- people


class Person:
    """One member of a generated household (resident or abroad)."""

    __slots__ = (
        "abroad12", "absent", "age", "cit", "cob", "dest", "edu", "fcob", "fline", "fwhere",
        "lf", "line", "mcob", "mline", "months", "mwhere", "occ", "prev", "reason", "res1y",
        "school", "sex", "stateless", "yarr", "yret",
    )  # fmt: skip

    def __init__(self, line: int, sex: int, age: int, cob: str) -> None:
        self.line, self.sex, self.age, self.cob = line, sex, age, cob
        self.cit: str | None = "XFL" if cob == "XFL" else cob
        self.stateless = False
        self.yarr: int | None = None
        self.reason: int | None = None
        self.res1y: str | None = "XFL" if age >= 1 else None
        self.abroad12: bool | None = False if age >= 15 else None
        self.prev: str | None = None
        self.yret: int | None = None
        self.mline: int | None = None
        self.fline: int | None = None
        self.mwhere: int | None = None
        self.fwhere: int | None = None
        self.mcob: str = "XFL"
        self.fcob: str = "XFL"
        self.edu: int | None = None
        self.school: bool | None = None
        self.lf: int | None = None
        self.occ: int | None = None
        self.absent = False
        self.months: int | None = None
        self.dest: str | None = None


class Household:
    __slots__ = ("hh_id", "members", "region", "remit", "urban")

    def __init__(self, hh_id: str, region: str, urban: bool) -> None:
        self.hh_id, self.region, self.urban = hh_id, region, urban
        self.members: list[Person] = []
        self.remit = False

    @property
    def residents(self) -> list[Person]:
        return [p for p in self.members if not p.absent]


def _head_age(rng: np.random.Generator) -> int:
    # household heads: few under 25, most 35-70
    ages = np.arange(18, 96)
    w = np.exp(-(((ages - 48) / 20.0) ** 2)) + 0.06
    w[ages < 25] *= 0.5
    return int(rng.choice(ages, p=w / w.sum()))


def _arrival(rng: np.random.Generator, age: int) -> int:
    """Year of arrival of an immigrant now aged ``age``: one in twelve in
    the last five years, the rest spread over the time since they were 16."""
    span = max(age - 16, 1)
    years_since = (
        int(rng.integers(0, min(5, span + 1)))
        if rng.random() < 0.08
        else int(rng.integers(0, min(span, 40) + 1))
    )
    return REF_YEAR - years_since


def _education(rng: np.random.Generator, age: int, cob: str) -> int | None:
    """National education level by age (younger cohorts better educated) and origin."""
    if age < 7:
        return None
    if age < 11:
        return 1  # primary not yet completed
    if age < 15:
        return 2 if age < 13 else 3
    if age < 19:
        return int(rng.choice([3, 4, 5], p=[0.55, 0.25, 0.20]))
    tertiary = 0.32 if age < 35 else 0.24 if age < 50 else 0.15 if age < 65 else 0.08
    if cob in {"CHN", "ITA", "DEU", "RUS", "UKR"}:
        tertiary += 0.15
    elif cob in {"AFG", "SYR", "XKX", "ALB"}:
        tertiary -= 0.07
    low = 0.10 if age < 35 else 0.18 if age < 65 else 0.40
    if cob in {"AFG", "SYR"}:
        low += 0.2
    medium = max(1.0 - tertiary - low, 0.05)
    p = np.array([low, medium, tertiary])
    band = rng.choice(["low", "medium", "tertiary"], p=p / p.sum())
    if band == "low":
        return int(rng.choice([1, 2, 3], p=[0.15, 0.35, 0.50]))
    if band == "medium":
        return int(rng.choice([4, 5, 6], p=[0.40, 0.48, 0.12]))
    return int(rng.choice([7, 8, 9, 10], p=[0.12, 0.55, 0.30, 0.03]))


def _labour(rng: np.random.Generator, p: Person) -> None:
    """Labour status (1 employed, 2 unemployed, 3 outside the labour force) and
    an ISCO-08 unit group for the employed, for persons aged 15 or over."""
    if p.age < 15:
        return
    if p.school and p.age < 25:
        active = 0.12
    elif p.age < 25:
        active = 0.55
    elif p.age < 55:
        active = 0.86 if p.sex == 1 else (0.48 if p.cob != "XFL" else 0.66)
    elif p.age < 65:
        active = 0.62 if p.sex == 1 else 0.42
    else:
        active = 0.06
    migrant = p.cob != "XFL"
    if not rng.random() < active:
        p.lf = 3
        return
    unemployment = 0.22 if p.age < 25 else 0.09
    if migrant:
        unemployment += 0.07
    if rng.random() < unemployment:
        p.lf = 2
        return
    p.lf = 1
    isced = EDU_TO_ISCED.get(p.edu or 1, 0)
    if isced >= 5:
        high = 0.70 if not migrant else 0.45  # brain waste: migrants' diplomas count less
        p.occ = _isco(rng, ISCO_HIGH if rng.random() < high else ISCO_MEDIUM)
    elif isced >= 3:
        r = rng.random()
        p.occ = _isco(rng, ISCO_HIGH if r < 0.12 else ISCO_MEDIUM if r < 0.85 else ISCO_LOW)
    else:
        p.occ = _isco(rng, ISCO_MEDIUM if rng.random() < 0.45 else ISCO_LOW)


def _school(rng: np.random.Generator, p: Person, parent_abroad: bool) -> None:
    if 6 <= p.age <= 14:
        p.school = bool(rng.random() < (0.93 if parent_abroad else 0.975))
    elif 15 <= p.age <= 17:
        p.school = bool(rng.random() < (0.76 if parent_abroad else 0.90))
    elif 18 <= p.age <= 24:
        p.school = bool(rng.random() < 0.45)
        if p.school and p.edu is not None and p.edu <= 3:
            p.edu = 4
    elif p.age >= 3:
        p.school = False if p.age >= 25 else bool(rng.random() < 0.6)


def make_households(rng: np.random.Generator, n: int, prefix: str) -> list[Household]:
    """``n`` households with members, parents' line numbers, migration
    histories and members living abroad.

    Heads are 18-95 (most 35-70). A household is an immigrant household with
    the region's probability; its head was born in one of ORIGINS and the
    spouse shares that origin three times in four; children born after the
    arrival are born in Fictland. Native households send members abroad with
    the region's probability: one parent of young children (the father two
    times in three), adult children, or both parents of grandchildren who live
    with their grandparents; those members are kept, with their line numbers,
    in the roster of members abroad. Adults born in Fictland have lived abroad
    for 12 months or more with probability 0.07 (return migrants).
    """
    codes = list(REGIONS)
    region_p = np.array([REGIONS[r]["hh"] for r in codes])
    out: list[Household] = []
    for i in range(n):
        region = str(rng.choice(codes, p=region_p / region_p.sum()))
        spec = REGIONS[region]
        hh = Household(f"{prefix}{i + 1:05d}", region, bool(rng.random() < spec["urban"]))
        immigrant = bool(rng.random() < spec["imm"])
        origin = str(_pick(rng, ORIGINS)) if immigrant else "XFL"
        head_age = _head_age(rng)
        if immigrant:
            head_age = min(head_age, 75)
        head_sex = 1 if rng.random() < 0.72 else 2
        head = Person(1, head_sex, head_age, origin)
        hh.members.append(head)
        arrival = _arrival(rng, head_age) if immigrant else None
        spouse: Person | None = None
        if head_age < 85 and rng.random() < (0.72 if head_sex == 1 else 0.25):
            gap = round(float(rng.normal(3, 3)))
            s_age = int(np.clip(head_age - gap if head_sex == 1 else head_age + gap, 18, 95))
            s_cob = origin if (immigrant and rng.random() < 0.75) else "XFL"
            spouse = Person(2, 3 - head_sex, s_age, s_cob)
            hh.members.append(spouse)
        mother = head if head_sex == 2 else spouse
        father = head if head_sex == 1 else spouse
        mother_age = mother.age if mother else head_age
        # children of the head
        n_kids = 0
        if 20 <= mother_age <= 60:
            n_kids = int(min(rng.poisson(1.4 if mother_age < 45 else 0.8), 5))
        for _ in range(n_kids):
            kid_age = int(rng.integers(0, max(min(mother_age - 18, 30), 1)))
            kid_cob = origin
            if immigrant and arrival is not None and REF_YEAR - kid_age >= arrival:
                kid_cob = "XFL"
            kid = Person(len(hh.members) + 1, int(rng.integers(1, 3)), kid_age, kid_cob)
            kid.mline = mother.line if mother else None
            kid.fline = father.line if father else None
            if mother is None or father is None:
                # the other parent is not in the household (MICS6 codes: 1 abroad,
                # 2 same region, 3 other region, 5 dead, 8 don't know)
                where = int(rng.choice([1, 2, 3, 5, 8], p=[0.35, 0.25, 0.15, 0.15, 0.10]))
                if mother is None:
                    kid.mwhere = where
                else:
                    kid.fwhere = where
            hh.members.append(kid)
        # an elderly parent of the head
        if head_age < 60 and rng.random() < 0.08:
            hh.members.append(
                Person(len(hh.members) + 1, 2 if rng.random() < 0.7 else 1, head_age + 27, origin)
            )
        # grandchildren whose parents (an adult child and partner) live abroad
        if not immigrant and 48 <= head_age <= 78 and rng.random() < 0.10:
            son = Person(len(hh.members) + 1, 1, head_age - 25, "XFL")
            son.absent = True
            hh.members.append(son)
            partner = Person(len(hh.members) + 1, 2, head_age - 27, "XFL")
            partner.absent = rng.random() < 0.55
            hh.members.append(partner)
            for _ in range(int(rng.integers(1, 3))):
                g = Person(len(hh.members) + 1, int(rng.integers(1, 3)), int(rng.integers(0, 16)),
                           "XFL")  # fmt: skip
                g.fline, g.mline = son.line, partner.line
                hh.members.append(g)
        # immigrants' arrival, citizenship and reason
        for p in hh.members:
            if p.cob != "XFL":
                p.yarr = arrival if arrival is not None and REF_YEAR - p.age <= arrival else None
                if p.yarr is None:
                    p.yarr = _arrival(rng, p.age)
                p.yarr = max(p.yarr, REF_YEAR - p.age)
                years = REF_YEAR - p.yarr
                if rng.random() < min(0.85, years / 22):
                    p.cit = "XFL"
                elif rng.random() < 0.04:
                    p.cit, p.stateless = None, True
                if origin in PROTECTION_ORIGINS and rng.random() < 0.6:
                    p.reason = 4
                else:
                    p.reason = int(rng.choice([1, 2, 3, 6], p=[0.42, 0.40, 0.10, 0.08]))
                if years <= 1 and p.age >= 1:
                    p.res1y = p.cob
            # parents' countries of birth: of the parents in the household, else
            # the person's own for immigrants, with some second generation
            if p.mline is not None:
                p.mcob = hh.members[p.mline - 1].cob
            elif p.cob != "XFL":
                p.mcob = p.cob
            elif rng.random() < 0.03:
                p.mcob = str(_pick(rng, ORIGINS))
            if p.fline is not None:
                p.fcob = hh.members[p.fline - 1].cob
            elif p.cob != "XFL":
                p.fcob = p.cob
            elif rng.random() < 0.03:
                p.fcob = str(_pick(rng, ORIGINS))
        # members abroad: a parent of young children and/or adult children
        if not immigrant and rng.random() < spec["abroad"]:
            kids = [p for p in hh.members if p.mline or p.fline]
            young = [k for k in kids if k.age < 18]
            adults = [k for k in kids if 19 <= k.age <= 45]
            if young and spouse is not None and rng.random() < 0.55:
                away = father if rng.random() < 0.67 else mother
                if away is not None and away is not head:
                    away.absent = True
            for k in adults:
                if rng.random() < 0.55:
                    k.absent = True
            if not any(p.absent for p in hh.members):
                extra = Person(len(hh.members) + 1, int(rng.integers(1, 3)),
                               int(rng.integers(19, 45)), "XFL")  # fmt: skip
                extra.absent = True
                hh.members.append(extra)
        for p in hh.members:
            if p.absent:
                p.dest = str(_pick(rng, DESTINATIONS))
                p.months = (
                    int(rng.integers(3, 12)) if rng.random() < 0.15 else int(rng.integers(12, 121))
                )
                p.reason = int(rng.choice([1, 2, 3, 6], p=[0.70, 0.15, 0.10, 0.05]))
                p.res1y = None
            elif p.cob == "XFL" and 20 <= p.age <= 70 and rng.random() < 0.07:
                p.abroad12 = True
                p.prev = str(_pick(rng, DESTINATIONS))
                p.yret = int(REF_YEAR - min(rng.geometric(0.04) - 1, p.age - 19))
                p.reason = 5  # return
                if p.yret >= REF_YEAR - 1:
                    p.res1y = p.prev
        # education, school, labour
        for p in hh.members:
            p.edu = _education(rng, p.age, p.cob)
            parent_abroad = any(
                line is not None and hh.members[line - 1].absent for line in (p.mline, p.fline)
            ) or 1 in (p.mwhere, p.fwhere)
            _school(rng, p, parent_abroad)
            if not p.absent:
                _labour(rng, p)
        has_abroad = any(p.absent for p in hh.members)
        hh.remit = bool(rng.random() < (0.72 if has_abroad else 0.06))
        out.append(hh)
    return out


# --------------------------------------------------------------------------- census


def census(rng: np.random.Generator, folder: Path) -> None:
    """A 1 % household sample of the 2024 census (weight 100 for every record):
    ``households.csv``, ``persons.csv`` (usual residents with their parents'
    line numbers and, for children, the parents' whereabouts) and
    ``absent.csv`` (members living abroad, with their line numbers)."""
    households = make_households(rng, 9500, "C")
    write_csv(
        folder / "households.csv",
        ["HHID", "REG", "URB", "HSEX", "NRES", "REMIT"],
        (
            (h.hh_id, h.region, 1 if h.urban else 2, h.members[0].sex, len(h.residents), h.remit)
            for h in households
        ),
    )
    header = ["HHID", "LINE", "SEX", "AGE", "REG", "URB", "POB", "CIT", "STL", "YARR", "RES1Y",
              "ABR12", "PREV", "YRET", "REASON", "MLINE", "FLINE", "MWHERE", "FWHERE", "MPOB",
              "FPOB", "EDU", "SCH", "ACT", "OCC"]  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    for h in households:
        for p in h.residents:
            rows.append(
                (
                    h.hh_id, p.line, p.sex, p.age, h.region, 1 if h.urban else 2,
                    CENSUS_COUNTRY[p.cob], CENSUS_COUNTRY[p.cit] if p.cit else None,
                    p.stateless, p.yarr, CENSUS_COUNTRY[p.res1y] if p.res1y else None,
                    p.abroad12, CENSUS_COUNTRY[p.prev] if p.prev else None, p.yret, p.reason,
                    p.mline, p.fline, p.mwhere if p.age < 18 else None,
                    p.fwhere if p.age < 18 else None, CENSUS_COUNTRY[p.mcob],
                    CENSUS_COUNTRY[p.fcob], p.edu, p.school, p.lf, p.occ,
                )
            )  # fmt: skip
    # a few answers a real census would have: a birthplace not stated, an age
    # not stated (coded 999, excluded by the mapping's na_values)
    for k in rng.choice(len(rows), size=25, replace=False):
        row = list(rows[int(k)])
        row[6] = "999"
        rows[int(k)] = tuple(row)
    write_csv(folder / "persons.csv", header, rows)
    write_csv(
        folder / "absent.csv",
        ["HHID", "LINE", "SEX", "AGE", "REG", "URB", "DEST", "MONTHS", "REASON", "EDU"],
        (
            (h.hh_id, p.line, p.sex, p.age, h.region, 1 if h.urban else 2,
             CENSUS_COUNTRY[p.dest or "XFL"], p.months, p.reason, p.edu)
            for h in households
            for p in h.members
            if p.absent
        ),
    )  # fmt: skip


# --------------------------------------------------------------------------- survey


def survey(rng: np.random.Generator, folder: Path) -> None:
    """The labour-force survey, second quarter of 2024.

    Design: 10 strata (region x urban/rural), enumeration areas (PSUs) of 12
    households each, 2,400 households. Weights: the stratum's
    households (800,000 in Fictland) over its sampled households, times a
    non-response adjustment per PSU (0.85-1.15). Replicate weights: a
    delete-a-group jackknife (JK1) with 16 groups of PSUs, ``RW01``-``RW16``
    (the group's PSUs get 0, the others the weight times 16/15).

    Persons carry ISCED levels, ISCO-08 unit groups, ILO labour status,
    intention to emigrate, health insurance, unmet medical need, social
    benefits, school attendance and, for household members working abroad for
    less than a year, their destination (they stay in the roster, as non-residents).
    """
    households = make_households(rng, 2400, "S")
    strata: dict[tuple[str, bool], list[Household]] = {}
    for h in households:
        strata.setdefault((h.region, h.urban), []).append(h)
    total_hh = 800_000
    groups = 16
    psu_of: dict[str, str] = {}
    weight_of: dict[str, float] = {}
    group_of: dict[str, int] = {}
    stratum_of: dict[str, str] = {}
    psu_counter = 0
    for (region, urban), members in sorted(strata.items()):
        stratum = f"{region}{'U' if urban else 'R'}"
        pop = (
            total_hh
            * REGIONS[region]["hh"]
            * (REGIONS[region]["urban"] if urban else 1 - REGIONS[region]["urban"])
        )
        base = pop / len(members)
        for start in range(0, len(members), 12):
            psu_counter += 1
            psu = f"EA{psu_counter:03d}"
            adjust = float(rng.uniform(0.85, 1.15))
            group = psu_counter % groups
            for h in members[start : start + 12]:
                psu_of[h.hh_id] = psu
                weight_of[h.hh_id] = round(base * adjust, 1)
                group_of[h.hh_id] = group
                stratum_of[h.hh_id] = stratum

    def replicates(hh_id: str) -> list[float]:
        w = weight_of[hh_id]
        return [0.0 if g == group_of[hh_id] else round(w * groups / (groups - 1), 1)
                for g in range(groups)]  # fmt: skip

    rw = [f"RW{g + 1:02d}" for g in range(groups)]
    hh_rows = []
    for h in households:
        income = float(np.round(rng.lognormal(9.3, 0.55), -1))
        amount = float(np.round(rng.lognormal(7.9, 0.7), -1)) if h.remit else 0.0
        hh_rows.append(
            (h.hh_id, stratum_of[h.hh_id], psu_of[h.hh_id], h.region, 1 if h.urban else 2,
             h.members[0].sex, h.remit, amount, income + amount, weight_of[h.hh_id],
             *replicates(h.hh_id))
        )  # fmt: skip
    write_csv(
        folder / "households.csv",
        ["HHID", "STRAT", "PSU", "REG", "URB", "HSEX", "REMIT", "REMAMT", "INCOME", "HHWT", *rw],
        hh_rows,
    )
    header = ["PID", "HHID", "LINE", "RES", "SEX", "AGE", "REG", "URB", "STRAT", "PSU", "COB",
              "CIT", "YARR", "REASON", "ABR12", "PREV", "MLINE", "FLINE", "MWHERE", "FWHERE",
              "ISCED", "SCH", "ILO", "ISCO", "WABR", "DEST", "INTENT", "INS", "UNMET", "BEN",
              "WT", *rw]  # fmt: skip
    rows = []
    for h in households:
        for p in h.members:
            if p.absent and not (p.months is not None and p.months < 12 and p.reason == 1):
                continue  # members abroad a year or more are not in the survey roster
            migrant = p.cob != "XFL"
            insured = 0.88 if not migrant else (0.55 if (p.yarr or 0) >= REF_YEAR - 4 else 0.78)
            intent = None
            if p.age >= 15 and not p.absent:
                base = 0.24 if p.age < 30 else 0.10 if p.age < 50 else 0.03
                if p.lf == 2:
                    base += 0.10
                intent = bool(rng.random() < base) if rng.random() > 0.03 else None
            rows.append(
                (
                    f"{h.hh_id}{p.line:02d}", h.hh_id, p.line, 2 if p.absent else 1, p.sex,
                    p.age, h.region, 1 if h.urban else 2, stratum_of[h.hh_id],
                    psu_of[h.hh_id], ALPHA2[p.cob], ALPHA2[p.cit] if p.cit else None, p.yarr,
                    p.reason, p.abroad12, ALPHA2[p.prev] if p.prev else None,
                    None if p.mline is None or h.members[p.mline - 1].absent else p.mline,
                    None if p.fline is None or h.members[p.fline - 1].absent else p.fline,
                    _survey_where(h, p, p.mline, p.mwhere), _survey_where(h, p, p.fline, p.fwhere),
                    EDU_TO_ISCED[p.edu] if p.edu else None, p.school, p.lf, p.occ,
                    p.absent if p.age >= 15 else None,
                    ALPHA2[p.dest] if p.dest else None, intent, bool(rng.random() < insured),
                    bool(rng.random() < (0.09 if migrant else 0.05)) if p.age >= 16 else None,
                    bool(rng.random() < (0.16 if migrant else 0.22)),
                    weight_of[h.hh_id], *replicates(h.hh_id),
                )
            )  # fmt: skip
    write_csv(folder / "persons.csv", header, rows)


def _survey_where(h: Household, p: Person, line: int | None, where: int | None) -> int | None:
    """Whereabouts of a child's parent not in the survey roster (MICS6 codes)."""
    if p.age >= 18:
        return None
    if line is not None and h.members[line - 1].absent:
        return 1
    return where if line is None else None


# --------------------------------------------------------------------------- events


def _dates(rng: np.random.Generator, n: int, sep: str | None = None) -> list[str]:
    """``n`` dates of the reference year: ISO ``yyyy-mm-dd``, or ``dd<sep>mm<sep>yyyy``."""
    days = rng.integers(0, 366, size=n)
    start = np.datetime64(f"{REF_YEAR}-01-01")
    out = []
    for d in days:
        iso = str(start + int(d))
        y, m, dd = iso.split("-")
        out.append(iso if sep is None else f"{dd}{sep}{m}{sep}{y}")
    return out


def _ages(rng: np.random.Generator, n: int, mean: float, sd: float, lo: int = 0) -> np.ndarray:
    return np.clip(np.round(rng.normal(mean, sd, size=n)), lo, 90).astype(int)


def register(rng: np.random.Generator, folder: Path) -> None:
    """Population-register events of 2024 (``events.csv``): immigration,
    emigration, return of citizens and acquisition of citizenship, with
    national event codes and dates as dd.mm.yyyy; and the stock of non-national
    residents on 1 January 2024 by citizenship, sex and age (``foreigners.csv``,
    one row per cell with its count)."""
    rows: list[tuple[Any, ...]] = []
    spec = [("1", 3000), ("2", 6500), ("3", 3000), ("4", 520)]
    regions = list(REGIONS)
    for code, n in spec:
        dates = _dates(rng, n, ".")  # the register writes dd.mm.yyyy
        ages = _ages(rng, n, 31, 11)
        for i in range(n):
            sex = 1 if rng.random() < (0.56 if code in "23" else 0.52) else 2
            region = str(rng.choice(regions, p=[0.45, 0.10, 0.18, 0.19, 0.08]))
            row: tuple[Any, ...]
            if code == "1":  # immigration of a non-citizen
                cit = str(_pick(rng, ORIGINS | {"UKR": 0.16}))
                cob = cit if rng.random() < 0.93 else str(_pick(rng, ORIGINS))
                row = (
                    code,
                    dates[i],
                    sex,
                    int(ages[i]),
                    cit,
                    cob,
                    cit,
                    None,
                    int(rng.choice([1, 2, 3, 4, 6], p=[0.38, 0.30, 0.12, 0.12, 0.08])),
                    region,
                )
            elif code == "2":  # emigration, mostly citizens
                cit = "XFL" if rng.random() < 0.9 else str(_pick(rng, ORIGINS))
                row = (
                    code,
                    dates[i],
                    sex,
                    int(ages[i]),
                    cit,
                    cit,
                    None,
                    str(_pick(rng, DESTINATIONS)),
                    int(rng.choice([1, 2, 3, 6], p=[0.62, 0.20, 0.12, 0.06])),
                    region,
                )
            elif code == "3":  # return of a citizen after a year or more abroad
                row = (
                    code,
                    dates[i],
                    sex,
                    int(ages[i]) + 4,
                    "XFL",
                    "XFL",
                    str(_pick(rng, DESTINATIONS)),
                    None,
                    5,
                    region,
                )
            else:  # naturalisation: citizenship before acquisition
                cit = str(_pick(rng, ORIGINS))
                row = (code, dates[i], sex, int(ages[i]) + 8, cit, cit, None, None, None, region)
            rows.append(row)
    order = np.argsort([f"{r[1][6:]}{r[1][3:5]}{r[1][:2]}{k:05d}" for k, r in enumerate(rows)])
    write_csv(
        folder / "events.csv",
        ["EVID", "EVTYPE", "DATE", "SEX", "AGE", "CIT", "COB", "FROM", "TO", "REASON", "REG"],
        ((f"E{n + 1:05d}", *rows[int(k)]) for n, k in enumerate(order)),
    )
    stock: list[tuple[Any, ...]] = []
    for cit, share in ORIGINS.items():
        for sex in (1, 2):
            for age in range(0, 86):
                mean = 22_000 * share * (0.53 if sex == 1 else 0.47)
                shape = np.exp(-(((age - 36) / 16.0) ** 2)) + 0.08 * (age < 18)
                count = int(rng.poisson(mean * shape / 26))
                if count:
                    stock.append((cit, False, sex, age, count))
    for sex in (1, 2):
        stock.append((None, True, sex, 45, int(rng.integers(60, 90))))  # stateless
    write_csv(folder / "foreigners.csv", ["CIT", "STL", "SEX", "AGE", "PERSONS"], stock)


def permits(rng: np.random.Generator, folder: Path) -> None:
    """First residence permits issued in 2024 by the migration office, with its
    permit categories (A1 employment, A2 seasonal work, A3 posted worker, B
    family, C study, H humanitarian, O other) and ICAO alpha-3 citizenship."""
    n = 1150
    cits = {"TUR": 0.22, "UKR": 0.14, "CHN": 0.10, "SRB": 0.10, "XKX": 0.08, "ALB": 0.08,
            "MKD": 0.06, "BIH": 0.06, "RUS": 0.05, "IND": 0.06, "SYR": 0.05}  # fmt: skip
    cat = {"A1": 0.30, "A2": 0.12, "A3": 0.05, "B": 0.30, "C": 0.12, "H": 0.06, "O": 0.05}
    dates = _dates(rng, n)
    ages = _ages(rng, n, 30, 10)
    rows = []
    for i in range(n):
        category = str(_pick(rng, cat))
        age = int(ages[i]) if category != "B" or rng.random() < 0.6 else int(rng.integers(0, 17))
        sex = 1 if rng.random() < 0.58 else 2
        months = int(rng.choice([12, 24, 36], p=[0.6, 0.3, 0.1]))
        rows.append((f"P{i + 1:05d}", dates[i], str(_pick(rng, cits)), sex, age, category, months))
    write_csv(
        folder / "first_permits.csv",
        ["PERMIT_NO", "ISSUED", "NAT", "SEX", "AGE", "CAT", "MONTHS"],
        rows,
    )


def asylum(rng: np.random.Generator, folder: Path, appeals: np.random.Generator) -> None:
    """Asylum applications (first and subsequent) and decisions of 2024, with
    national outcome codes (GC Geneva Convention status, SP subsidiary
    protection, HU humanitarian, RJ rejected, CL closed), the
    unaccompanied-minor flag and the instance of each decision (1 first
    instance, 2 final on appeal or review). The final decisions on appeal are
    drawn from their own stream ``appeals`` after the other records, so the
    records drawn before them do not depend on them; appeals succeed less
    often than first-instance claims (a third of the first-instance
    recognition probability)."""
    origins = {"SYR": 0.33, "AFG": 0.28, "IRQ": 0.10, "PAK": 0.10, "TUR": 0.07, "IRN": 0.05,
               "MAR": 0.04, "UKR": 0.03}  # fmt: skip
    recognition = {"SYR": 0.85, "AFG": 0.60, "IRQ": 0.35, "PAK": 0.08, "TUR": 0.20, "IRN": 0.40,
                   "MAR": 0.03, "UKR": 0.90}  # fmt: skip
    rows = []
    for kind, n in (("FIRST", 420), ("SUBS", 45), ("DEC", 385)):
        dates = _dates(rng, n)
        ages = _ages(rng, n, 27, 10)
        for i in range(n):
            cit = str(_pick(rng, origins))
            sex = 1 if rng.random() < 0.72 else 2
            age = int(ages[i])
            uam = bool(age < 18 and rng.random() < 0.35) if kind == "FIRST" else None
            outcome = None
            if kind == "DEC":
                if rng.random() < 0.06:
                    outcome = "CL"
                elif rng.random() < recognition[cit]:
                    outcome = str(rng.choice(["GC", "SP", "HU"], p=[0.55, 0.35, 0.10]))
                else:
                    outcome = "RJ"
            rows.append((kind, dates[i], cit, sex, age, uam, outcome, 1 if kind == "DEC" else None))
    n = 140
    dates = _dates(appeals, n)
    ages = _ages(appeals, n, 29, 9, lo=18)
    for i in range(n):
        cit = str(_pick(appeals, origins))
        sex = 1 if appeals.random() < 0.75 else 2
        if appeals.random() < 0.04:
            outcome = "CL"
        elif appeals.random() < recognition[cit] / 3:
            outcome = str(appeals.choice(["GC", "SP", "HU"], p=[0.40, 0.40, 0.20]))
        else:
            outcome = "RJ"
        rows.append(("DEC", dates[i], cit, sex, int(ages[i]), None, outcome, 2))
    write_csv(
        folder / "asylum.csv",
        ["CASE", "RECORD", "DATE", "NAT", "SEX", "AGE", "UAM", "OUTCOME", "INSTANCE"],
        ((f"AS{k + 1:05d}", *r) for k, r in enumerate(rows)),
    )


def border(rng: np.random.Generator, folder: Path) -> None:
    """Border police records of 2024: refusals of entry (with the country the
    person came from) and apprehensions of persons irregularly present."""
    refusals = {"TUR": 0.25, "XKX": 0.15, "ALB": 0.15, "UKR": 0.12, "MDA": 0.10, "SRB": 0.08,
                "GEO": 0.08, "MAR": 0.07}  # fmt: skip
    apprehended = {"AFG": 0.30, "PAK": 0.20, "SYR": 0.18, "MAR": 0.12, "TUR": 0.10,
                   "IRQ": 0.10}  # fmt: skip
    rows = []
    for code, n, pool in (("REF", 640, refusals), ("APP", 310, apprehended)):
        dates = _dates(rng, n, "/")  # the border police write dd/mm/yyyy
        ages = _ages(rng, n, 29, 9, lo=14)
        for i in range(n):
            cit = str(_pick(rng, pool))
            came_from = (cit if cit in {"SRB", "TUR", "XKX", "ALB", "MKD"} else "SRB") if (
                code == "REF") else None  # fmt: skip
            rows.append((code, dates[i], cit, 1 if rng.random() < 0.8 else 2, int(ages[i]),
                         came_from))  # fmt: skip
    write_csv(folder / "border.csv", ["TYPE", "DATE", "NAT", "SEX", "AGE", "FROM"], rows)


def deaths(rng: np.random.Generator, folder: Path) -> None:
    """Incidents in which migrants died or went missing on routes through
    Fictland in 2024 (a missing-migrants style log): one row per incident,
    with the number of dead and missing; sex is often not known."""
    rows = []
    for i in range(14):
        sex = rng.choice(["", "M", "F"], p=[0.5, 0.35, 0.15])
        rows.append((f"INC{i + 1:03d}", _dates(rng, 1)[0], int(rng.integers(1, 9)), str(sex),
                     str(rng.choice(["TUR", "SRB", "MKD"]))))  # fmt: skip
    write_csv(folder / "incidents.csv", ["INCIDENT", "DATE", "DEAD_MISSING", "SEX", "ROUTE_FROM"],
              rows)  # fmt: skip


# --------------------------------------------------------------------------- published series

YEARS = list(range(2014, REF_YEAR + 1))


def population_series(rng: np.random.Generator, folder: Path, census_total: int) -> None:
    """Mid-year population by sex (T both sexes, M, F), 2014-2024, as the
    statistics office publishes it. 2024 equals the census's weighted count of
    usual residents; earlier years add back a 0.5 % yearly decline."""
    rows = []
    for y in YEARS:
        total = round(census_total * 1.005 ** (REF_YEAR - y))
        female = round(total * (0.518 + 0.0004 * (REF_YEAR - y)))
        rows += [(y, "T", total), (y, "M", total - female), (y, "F", female)]
    write_csv(folder / "population.csv", ["year", "sex", "persons"], rows)


def bop_series(rng: np.random.Generator, folder: Path) -> None:
    """Balance of payments: personal remittances received and paid (US$,
    series codes REMIT_INFLOW and REMIT_OUTFLOW of the central bank's
    dissemination file), 2014-2024, with a dip in 2020; and GDP at current
    prices in US$ (the national accounts' file, ``national_accounts/gdp.csv``)."""
    inflow, outflow, gdp = 1.55e9, 1.2e8, 1.42e10
    rem, acc = [], []
    for y in YEARS:
        growth = 0.86 if y == 2020 else 1.0 + float(rng.uniform(0.03, 0.09))
        inflow *= growth
        outflow *= 1.0 + float(rng.uniform(0.0, 0.06))
        gdp *= 0.95 if y == 2020 else 1.0 + float(rng.uniform(0.03, 0.07))
        rem.append(("REMIT_INFLOW", y, int(round(inflow, -5))))
        rem.append(("REMIT_OUTFLOW", y, int(round(outflow, -5))))
        acc.append((y, int(round(gdp, -6))))
    write_csv(folder / "remittances.csv", ["SERIES", "YEAR", "VALUE"], rem)
    write_csv(folder.parent / "national_accounts" / "gdp.csv", ["year", "gdp_usd"], acc)


def remittance_cost_series(rng: np.random.Generator, folder: Path) -> None:
    """Average cost of sending US$ 200 to Fictland, by sending country and year
    (a Remittance Prices Worldwide style table), plus the published G20 average
    row the mapping leaves out."""
    corridors = {"DEU": 6.8, "AUT": 6.2, "ITA": 7.5, "CHE": 7.9, "FRA": 7.1, "USA": 6.0,
                 "RUS": 2.4, "TUR": 5.2}  # fmt: skip
    rows = []
    for y in range(2016, REF_YEAR + 1):
        for origin, start in corridors.items():
            cost = start * (1 - 0.035 * (y - 2016)) + float(rng.normal(0, 0.25))
            rows.append((y, origin, f"{cost:.2f}"))
        rows.append((y, "G20", f"{7.0 * (1 - 0.03 * (y - 2016)):.2f}"))
    write_csv(folder / "cost.csv", ["period", "source_country", "cost_pct_200usd"], rows)


def refugee_series(rng: np.random.Generator, folder: Path) -> None:
    """Refugees from Fictland under UNHCR's mandate by country of asylum,
    2014-2024 (a legacy of a conflict in the 1990s, slowly declining)."""
    asylum_countries = {"DEU": 900, "AUT": 450, "CHE": 380, "SWE": 300, "ITA": 150, "FRA": 120}
    rows = []
    for y in YEARS:
        for country, start in asylum_countries.items():
            rows.append((y, "XFL", country, int(start * 0.93 ** (y - 2014) + rng.integers(0, 15))))
    write_csv(folder / "refugees.csv", ["Year", "ISO_origin", "ISO_asylum", "Refugees"], rows)


def mirror_series(rng: np.random.Generator, folder: Path) -> None:
    """Destination countries' statistics on persons born in Fictland (the mirror
    source): stock by destination and sex, 2000-2020 every five years, 2023
    and 2024; and, for 2015, 2020 and 2024, the stock aged 25 or over by
    education (low, medium, high, not stated)."""
    years = [2000, 2005, 2010, 2015, 2020, 2023, 2024]
    stock_rows, edu_rows = [], []
    for dest, share in DESTINATIONS.items():
        for y in years:
            total = 640_000 * share * (0.45 + 0.55 * (y - 2000) / 24)
            female = 0.52 if dest in {"ITA", "AUT", "CHE"} else 0.47
            f = round(total * female)
            m = round(total * (1 - female))
            stock_rows += [(dest, y, "T", "_T", "TOTAL", f + m), (dest, y, "M", "_T", "TOTAL", m),
                           (dest, y, "F", "_T", "TOTAL", f)]  # fmt: skip
            if y in (2015, 2020, 2024):
                adults = (f + m) * 0.82
                high = 0.18 + 0.004 * (y - 2015) + (0.10 if dest in {"USA", "CAN", "GBR"} else 0)
                low = 0.30 - 0.003 * (y - 2015)
                shares = {"L": low, "M": 1 - high - low - 0.02, "H": high, "X": 0.02}
                for code, s in shares.items():
                    edu_rows.append((dest, y, "T", "Y_GE25", code, round(adults * s)))
    write_csv(folder / "emigrants_by_sex.csv", ["DEST", "YEAR", "SEX", "AGE", "EDU", "PERSONS"],
              stock_rows)  # fmt: skip
    write_csv(folder / "emigrants_25plus_education.csv",
              ["DEST", "YEAR", "SEX", "AGE", "EDU", "PERSONS"], edu_rows)  # fmt: skip


def undesa_series(rng: np.random.Generator, folder: Path, census_total: int) -> None:
    """International migrant stock in Fictland (foreign-born) and total
    population by sex, 1990-2020 every five years, 2019 and 2024, as a UN DESA style
    published table: wide, one column per year, one file per series."""
    years = [1990, 1995, 2000, 2005, 2010, 2015, 2019, 2020, 2024]
    stock_rows, pop_rows = [], []
    share = {y: 0.031 + 0.0009 * (y - 1990) for y in years}
    pop = {y: census_total * 1.005 ** (REF_YEAR - y) for y in years}
    for label, female in (("Both sexes", None), ("Males", False), ("Females", True)):
        stock, people = [], []
        for y in years:
            t = pop[y] * share[y]
            f = 0.47 * t
            stock.append(round(t if female is None else f if female else t - f, -2))
            p = pop[y]
            pf = 0.518 * p
            people.append(round(p if female is None else pf if female else p - pf, -3))
        stock_rows.append((label, *(int(v) for v in stock)))
        pop_rows.append((label, *(int(v) for v in people)))
    header = ["Sex", *(f"Year {y}" for y in years)]
    write_csv(folder / "migrant_stock.csv", header, stock_rows)
    write_csv(folder / "population.csv", header, pop_rows)


def consular_series(rng: np.random.Generator, folder: Path) -> None:
    """Citizens of Fictland registered with its consulates abroad at the end of
    2024, by host country (wide by sex, as the foreign ministry publishes it)."""
    rows = []
    for dest, share in DESTINATIONS.items():
        total = 210_000 * share * float(rng.uniform(0.8, 1.2))
        women = round(total * float(rng.uniform(0.44, 0.53)))
        men = round(total) - women
        rows.append((dest, men + women, men, women))
    write_csv(folder / "consulates.csv", ["host_country", "total", "men", "women"], rows)


# --------------------------------------------------------------------------- main


def generate(out: Path) -> None:
    """Write every source file under ``out/sources/`` (mappings excluded)."""
    src = out / "sources"
    census(np.random.default_rng([SEED, 1]), src / "census")
    survey(np.random.default_rng([SEED, 2]), src / "lfs")
    register(np.random.default_rng([SEED, 3]), src / "register")
    permits(np.random.default_rng([SEED, 4]), src / "permits")
    asylum(np.random.default_rng([SEED, 5]), src / "asylum", np.random.default_rng([SEED, 15]))
    border(np.random.default_rng([SEED, 6]), src / "border")
    deaths(np.random.default_rng([SEED, 7]), src / "missing_migrants")
    with (src / "census" / "persons.csv").open(encoding="utf-8") as handle:
        n_census = sum(1 for _ in handle) - 1
    population_series(np.random.default_rng([SEED, 8]), src / "population", 100 * n_census)
    bop_series(np.random.default_rng([SEED, 9]), src / "bop")
    remittance_cost_series(np.random.default_rng([SEED, 10]), src / "remittance_cost")
    refugee_series(np.random.default_rng([SEED, 11]), src / "refugees")
    mirror_series(np.random.default_rng([SEED, 12]), src / "mirror")
    consular_series(np.random.default_rng([SEED, 13]), src / "consular")
    undesa_series(np.random.default_rng([SEED, 14]), src / "undesa", 100 * n_census)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder to write sources/ into (default: here)"
    )
    args = parser.parse_args(argv)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
