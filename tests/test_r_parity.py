"""Parity with R's ``survey`` package: every figure of ``tests/data/r_survey``.

``reference.csv`` and ``designs.json`` are written by ``tests/r/make_reference.R``
(R and survey versions in ``versions.txt``). Each reference case (one R call,
possibly several rows: groups of a ``svyby``, categories of a factor,
probabilities of a quantile) is re-estimated with :func:`migprofile.estimate`
on the same data and design, and the estimate and standard error must agree
to 1e-8 (relative; SEs that are 0 in exact arithmetic may differ by rounding
noise of 1e-10 of the estimate). Intervals are compared too: R's ``confint``
default is normal (``ci_method="normal"``); rows with ``ci_df`` use a t
quantile (``ci_method="wald"``, whose df is then R's).

Degrees of freedom: R's ``svyby`` attaches no df to its groups, and for a
variable with missing values R reports the design's df while the estimate
rests on the records without them. Our ``df`` is the domain's own: it is
checked against R's ``degf(subset(design, <domain>))``, pinned in
:data:`DOMAIN_DF` from this R code (run from the repository root)::

    library(survey); dir <- "tests/data/r_survey/"
    rd <- function(f) read.csv(file.path(dir, f))
    # designs exactly as in tests/r/make_reference.R, the replicate designs
    # rebuilt with svrepdesign(repweights = rep1..repR, weights = weight,
    # type, scale, rscales, rho, mse, combined.weights = TRUE) from designs.json
    for (g in c("E", "H", "M")) degf(subset(dstrat, stype == g))      # and so on
    degf(subset(dclus2, !is.na(enroll)))
    degf(subset(dclus2, stype == g & !is.na(enroll)))

One reference row is, by construction, R's full-design answer where we give
the domain answer: ``svytotal(~stype, dstrat_lonely)`` under
``lonely.psu="average"`` reports SE 0 for category H (all three strata are in
the data, H's lonely stratum is averaged away), whereas our counts by
category are domains, as ``svyby``: R's own
``svyby(~one, ~stype, dstrat_lonely, svytotal)`` (and
``svytotal(~one, subset(dstrat_lonely, stype == "H"))``) give SE NaN there,
which is what we give (see :data:`SVYBY_SE`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
from collections.abc import Hashable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from migprofile.compute.design import Design, LonelyPSUError
from migprofile.compute.estimate import estimate

DATA = Path(__file__).parent / "data" / "r_survey"

if not (DATA / "reference.csv").exists():  # pragma: no cover
    pytest.skip("tests/data/r_survey/reference.csv is missing", allow_module_level=True)

REFERENCE = pd.read_csv(DATA / "reference.csv", keep_default_na=False, na_values=["", "NaN"])
MESSAGES = pd.read_csv(DATA / "messages.csv", keep_default_na=False, na_values=[""])
META: dict[str, Any] = json.loads((DATA / "designs.json").read_text(encoding="utf-8"))
DESIGNS: dict[str, dict[str, Any]] = META["designs"]

REL = 1e-8
ABS_OF_ESTIMATE = 1e-10

#: R's degf(subset(<design>, <domain>)) (see the module docstring).
DOMAIN_DF: dict[tuple[str, str], int] = {
    ("dstrat", "stype == 'E'"): 99,
    ("dstrat", "stype == 'H'"): 49,
    ("dstrat", "stype == 'M'"): 49,
    ("dclus1", "stype == 'E'"): 14,
    ("dclus1", "stype == 'H'"): 7,
    ("dclus1", "stype == 'M'"): 11,
    ("dclus2", "stype == 'E'"): 34,
    ("dclus2", "stype == 'H'"): 13,
    ("dclus2", "stype == 'M'"): 20,
    ("dclus1_nofpc", "stype == 'E'"): 14,
    ("dclus1_nofpc", "stype == 'H'"): 7,
    ("dclus1_nofpc", "stype == 'M'"): 11,
    ("dstrat_lonely", "stype == 'E'"): 99,
    ("dstrat_lonely", "stype == 'H'"): 0,
    ("dstrat_lonely", "stype == 'M'"): 49,
    ("dclus1_jk1", "stype == 'E'"): 14,
    ("dclus1_jk1", "stype == 'H'"): 7,
    ("dclus1_jk1", "stype == 'M'"): 11,
    ("dstrat_jkn", "stype == 'E'"): 99,
    ("dstrat_jkn", "stype == 'H'"): 49,
    ("dstrat_jkn", "stype == 'M'"): 49,
    ("dclus1_boot", "stype == 'E'"): 14,
    ("dclus1_boot", "stype == 'H'"): 7,
    ("dclus1_boot", "stype == 'M'"): 11,
    ("dstrat_sdr", "stype == 'E'"): 65,
    ("dstrat_sdr", "stype == 'H'"): 41,
    ("dstrat_sdr", "stype == 'M'"): 39,
    ("scd_taylor", "ESA == 1"): 1,
    ("scd_taylor", "ESA == 2"): 1,
    ("scd_taylor", "ESA == 3"): 1,
    ("scd_brr", "ESA == 1"): 1,
    ("scd_brr", "ESA == 2"): 1,
    ("scd_brr", "ESA == 3"): 1,
    ("scd_fay", "ESA == 1"): 1,
    ("scd_fay", "ESA == 2"): 1,
    ("scd_fay", "ESA == 3"): 1,
    ("dclus2", "not is_missing(enroll)"): 37,
    ("dclus2", "stype == 'E' and not is_missing(enroll)"): 32,
    ("dclus2", "stype == 'H' and not is_missing(enroll)"): 13,
    ("dclus2", "stype == 'M' and not is_missing(enroll)"): 19,
}
#: Same replicate weights, same domains' df.
DF_ALIAS = {"dclus1_boot_mse": "dclus1_boot"}
#: Variables with missing values in a design's data (R used na.rm=TRUE).
WITH_MISSING = {("dclus2", "enroll")}

#: R's svyby value where the reference row is R's full-design svytotal(~factor):
#: svyby(~one, ~stype, dstrat_lonely, svytotal) under lonely.psu="average".
SVYBY_SE: dict[tuple[str, str], float] = {
    ("dstrat_lonely_average_count_stype", "H"): math.nan,
}


# --------------------------------------------------------------------------- data and designs


def _name(column: str) -> str:
    """R's column names with dots (api.stu) become filter-friendly (api_stu)."""
    return column.replace(".", "_")


def _filter(r_condition: str) -> str:
    """An R condition (stype=="E", sch.wide=="Yes", ESA==1) in our filter language."""
    text = re.sub(
        r"\b([A-Za-z][A-Za-z0-9_.]*)\s*==", lambda m: _name(m.group(1)) + " ==", r_condition
    )
    return text.replace('"', "'").replace("==", " == ").replace("  ", " ").strip()


@cache
def _data(file: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / file)
    frame.columns = [_name(c) for c in frame.columns]
    return frame


@cache
def design_and_data(design_id: str, lonely: str | None = None) -> tuple[Design, pd.DataFrame]:
    """The data and our :class:`Design` for a design of designs.json."""
    meta = DESIGNS[design_id]
    data = _data(meta["data"]).copy()
    if meta["kind"] == "taylor":
        stages = meta["stages"]
        weights = meta["weights"]
        if meta.get("probs") == 1:  # prob=~1: every unit has weight 1
            data["one"] = 1.0
            weights = "one"
        design = Design(
            weights=weights,  # dclus2: None -> derived from the fpcs, as R
            strata=[s["strata"] for s in stages if s["strata"]] or None,
            psu=[s["ids"] for s in stages if s["ids"]] or None,
            fpc=[s["fpc"] for s in stages if s["fpc"]] or None,
            lonely_psu=lonely or "fail",  # type: ignore[arg-type]
        )
        return design, data
    reps = pd.read_csv(DATA / meta["replicate_weights"])
    assert (reps["row"].to_numpy() == np.arange(1, len(data) + 1)).all()
    rep_columns = [c for c in reps.columns if re.fullmatch(r"rep\d+", c)]
    data = pd.concat(
        [data, reps[["weight", *rep_columns]].rename(columns={"weight": "rep_weight"})], axis=1
    )
    method = {"successive-difference": "SDR"}.get(meta["type"], meta["type"])
    kwargs: dict[str, Any] = {
        "weights": "rep_weight",
        "replicate_weights": r"^rep\d+$",
        "replicate_method": method,
        "mse": meta["mse"],
    }
    if method == "Fay":
        kwargs["fay_rho"] = meta["rho"]
    if method == "JKn":
        kwargs["replicate_rscales"] = meta["rscales"]
    default_scale, _ = Design(**kwargs).replicate_factors(meta["n_replicates"])
    if not math.isclose(default_scale, meta["scale"], rel_tol=1e-15):
        kwargs["replicate_scale"] = meta["scale"]  # as.svrepdesign folds the fpc into the scale
    return Design(**kwargs), data


# --------------------------------------------------------------------------- one case


def _cases() -> Iterator[str]:
    return iter(dict.fromkeys(REFERENCE["case"]))


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def run_case(rows: pd.DataFrame) -> pd.DataFrame:
    """Our estimates for the reference rows of one case, in the same order."""
    first = rows.iloc[0]
    design_id = str(first["design"])
    design, data = design_and_data(design_id, _text(first["lonely_psu"]))
    statistic = str(first["statistic"])
    variable = _text(first["variable"])
    by = _text(first["by"])
    subset = _text(first["subset"])
    where = _filter(subset) if subset else None
    ci_method = "normal" if math.isnan(float(first["ci_df"])) else "wald"
    common: dict[str, Any] = {"design": design, "where": where, "ci_method": ci_method}

    if statistic == "df":
        # the design's df does not depend on the lonely-PSU policy
        quiet = dataclasses.replace(design, lonely_psu="remove")
        res = estimate(data, "count", None, design=quiet)
        return res.assign(value=res["df"])
    if statistic == "quantile":
        parts = [
            estimate(data, "quantile", _name(str(variable)), prob=float(p), **common)
            for p in rows["prob"]
        ]
        return pd.concat(parts, ignore_index=True)
    if statistic == "count":
        res = estimate(data, "count", None, by=str(variable), **common)
        return _by_group(res, str(variable), rows)
    if statistic == "share":
        res = estimate(data, "share", _filter(str(variable)), by=by, **common)
    elif statistic == "ratio":
        res = estimate(
            data, "ratio", _name(str(variable)), x=_name(str(first["denominator"])), by=by,
            **common,
        )
    else:
        res = estimate(data, statistic, _name(str(variable)), by=by, **common)
    return _by_group(res, by, rows) if by else res


def _by_group(res: pd.DataFrame, column: str, rows: pd.DataFrame) -> pd.DataFrame:
    keyed = res.set_index(res[column].astype(str))
    return keyed.loc[[str(g) for g in rows["group"]]].reset_index(drop=True)


def expected_df(row: Mapping[Hashable, Any]) -> float:
    """R's df for the row's domain."""
    design_id = str(row["design"])
    statistic = str(row["statistic"])
    variable = _text(row["variable"])
    parts: list[str] = []
    if statistic == "count":
        parts.append(f"stype == '{row['group']}'")
    elif _text(row["by"]) is not None:
        group = str(row["group"])
        value = group if group.isdigit() else f"'{group}'"
        parts.append(f"{row['by']} == {value}")
    columns = {variable, _text(row["denominator"])} - {None}
    for col in sorted(c for c in columns if c is not None):
        if (design_id, col) in WITH_MISSING:
            parts.append(f"not is_missing({col})")
    if not parts:
        return float(row["df"])  # the design's, or the subset's when subset is given
    key = (DF_ALIAS.get(design_id, design_id), " and ".join(parts))
    return float(DOMAIN_DF[key])


def _same(ours: float, theirs: float, scale: float) -> bool:
    if math.isnan(theirs):
        return math.isnan(ours)
    return abs(ours - theirs) <= REL * abs(theirs) + ABS_OF_ESTIMATE * abs(scale)


@pytest.mark.parametrize("case", list(_cases()))
def test_case_matches_r(case: str) -> None:
    rows = REFERENCE[REFERENCE["case"] == case].reset_index(drop=True)
    ours = run_case(rows)
    assert len(ours) == len(rows)
    problems: list[str] = []
    for ref, got in zip(rows.to_dict("records"), ours.to_dict("records"), strict=True):
        label = f"{case} group={_text(ref['group'])} prob={_text(ref['prob'])}"
        estimate_r = float(ref["estimate"])
        if not _same(float(got["value"]), estimate_r, estimate_r):
            problems.append(f"{label}: estimate {got['value']!r} vs R {estimate_r!r}")
        if ref["statistic"] == "df":
            continue
        se_r = SVYBY_SE.get((case, str(ref["group"])), float(ref["se"]))
        if not _same(float(got["se"]), se_r, estimate_r):
            problems.append(f"{label}: se {got['se']!r} vs R {se_r!r}")
        if float(got["df"]) != expected_df(ref):
            problems.append(f"{label}: df {got['df']!r} vs R {expected_df(ref)!r}")
        if (case, str(ref["group"])) in SVYBY_SE:
            continue
        for end in ("ci_lower", "ci_upper"):
            if not _same(float(got[end]), float(ref[end]), estimate_r):
                problems.append(f"{label}: {end} {got[end]!r} vs R {ref[end]!r}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- designs and errors


@pytest.mark.parametrize("design_id", sorted(DESIGNS))
def test_design_df_and_replicate_factors(design_id: str) -> None:
    meta = DESIGNS[design_id]
    design, data = design_and_data(design_id, "remove" if "lonely" in design_id else None)
    res = estimate(data, "count", None, design=design)
    assert res["df"].iloc[0] == meta["degf"]
    if meta["kind"] == "replicate":
        scale, rscales = design.replicate_factors(meta["n_replicates"])
        assert math.isclose(scale, meta["scale"], rel_tol=1e-15)
        np.testing.assert_allclose(rscales, meta["rscales"], rtol=1e-15)


ERRORS = MESSAGES[MESSAGES["kind"] == "error"]


@pytest.mark.parametrize("case", list(ERRORS["case"]))
def test_lonely_psu_fail_raises_as_r(case: str) -> None:
    message = str(ERRORS.loc[ERRORS["case"] == case, "message"].iloc[0])
    found = re.search(r"Stratum \((\w+)\) has only one PSU at stage (\d+)", message)
    assert found is not None, message
    stratum, stage = found.groups()
    # the same battery ran under the other policies: take its call's arguments
    twin = case.replace("_fail_", "_remove_")
    rows = REFERENCE[REFERENCE["case"] == twin].assign(lonely_psu="fail")
    assert len(rows), f"no reference case {twin} to mirror {case}"
    with pytest.raises(LonelyPSUError) as info:
        run_case(rows.reset_index(drop=True))
    assert info.value.stratum == stratum
    assert info.value.stage == int(stage)
    assert f"Stratum ({stratum}) has only one PSU at stage {stage}" in str(info.value)


def test_every_reference_row_is_covered() -> None:
    """No statistic of the reference file is left without a check."""
    assert set(REFERENCE["statistic"]) <= {"total", "mean", "share", "ratio", "quantile", "df",
                                           "count"}
    assert set(ERRORS["lonely_psu"]) == {"fail"}


# --------------------------------------------------------------------------- three stages

#: A three-stage sample (strata h; PSUs p, SSUs s, TSUs t; fpcs at every
#: stage; some PSUs with a single SSU, so stage 2 has lonely units),
#: generated once and written here; the weights are derived from the fpcs.
THREE_STAGE_CSV = """\
h,p,s,t,N1,N2,N3,y,g,x
0,0-0,0-0-0,0-0-0-0,10,6,8,47.25862144637782,b,1.9008287599623674
0,0-0,0-0-0,0-0-0-1,10,6,8,45.45329214828278,a,1.021061218262299
0,0-0,0-0-0,0-0-0-2,10,6,8,63.402152455545334,b,4.188277715008185
0,0-0,0-0-1,0-0-1-0,10,6,8,54.89842050185198,a,2.1137024484030933
0,0-1,0-1-0,0-1-0-0,10,6,8,40.69531955291795,a,3.21398940829797
0,0-1,0-1-1,0-1-1-0,10,6,8,36.55785452714918,b,3.4887169177646506
0,0-1,0-1-1,0-1-1-1,10,6,8,37.10462260215024,b,1.8612347929423958
0,0-1,0-1-2,0-1-2-0,10,6,8,37.32553518556297,a,1.1757680318455335
0,0-1,0-1-2,0-1-2-1,10,6,8,51.56751086624225,a,2.8648241013011564
0,0-1,0-1-2,0-1-2-2,10,6,8,44.61307104153364,b,3.5169050179640418
0,0-2,0-2-0,0-2-0-0,10,6,8,34.698642344946066,a,1.0471761021700234
0,0-2,0-2-0,0-2-0-1,10,6,8,40.214809219433604,a,3.7681284835273567
0,0-2,0-2-1,0-2-1-0,10,6,8,41.92465324668103,a,1.0149369682083038
0,0-2,0-2-1,0-2-1-1,10,6,8,58.84389867383174,b,2.070397218255142
0,0-2,0-2-1,0-2-1-2,10,6,8,51.10464143249481,a,3.0391632394736927
1,1-0,1-0-0,1-0-0-0,10,7,8,63.588234217415376,b,1.3659824202521826
1,1-0,1-0-0,1-0-0-1,10,7,8,58.593826880215985,b,4.485357506771523
1,1-0,1-0-0,1-0-0-2,10,7,8,70.00416546342423,b,3.3927362688288523
1,1-0,1-0-1,1-0-1-0,10,7,8,50.745162287714635,a,2.2921453850328266
1,1-0,1-0-2,1-0-2-0,10,7,8,56.82910267195206,a,2.51778468620125
1,1-1,1-1-0,1-1-0-0,10,7,8,64.38522591656152,a,3.551986323153329
1,1-1,1-1-0,1-1-0-1,10,7,8,45.36692423461585,b,1.6031520766734748
1,1-1,1-1-0,1-1-0-2,10,7,8,38.1280547214986,a,2.6099931924159265
1,1-1,1-1-1,1-1-1-0,10,7,8,58.987638721004075,a,1.8600161494235201
1,1-2,1-2-0,1-2-0-0,10,7,8,56.46903422573422,b,4.496308104598018
1,1-2,1-2-1,1-2-1-0,10,7,8,49.02713074329911,b,4.380297283498212
1,1-2,1-2-2,1-2-2-0,10,7,8,46.72786579777802,b,3.278876591437109
1,1-2,1-2-2,1-2-2-1,10,7,8,47.49804599482075,b,4.711622738978098
2,2-0,2-0-0,2-0-0-0,10,8,8,53.525890672852654,a,3.566286820889923
2,2-0,2-0-0,2-0-0-1,10,8,8,38.85932856848944,b,2.5051513445196805
2,2-1,2-1-0,2-1-0-0,10,8,8,61.66127776190223,b,4.504875232437084
2,2-1,2-1-0,2-1-0-1,10,8,8,56.68381023267344,a,3.190540796854941
2,2-1,2-1-1,2-1-1-0,10,8,8,49.94600439328374,a,1.1007874832070415
2,2-1,2-1-1,2-1-1-1,10,8,8,37.09106754676513,b,1.4915684088200374
2,2-1,2-1-2,2-1-2-0,10,8,8,29.646710550600677,a,2.7128809855579252
"""

#: R (survey 4.1.1) on THREE_STAGE_CSV, for each lonely-PSU policy:
#:
#:     d <- read.csv("three.csv"); options(survey.lonely.psu = opt)
#:     des <- svydesign(id = ~p + s + t, strata = ~h, fpc = ~N1 + N2 + N3, data = d)
#:     svytotal(~y, des); svymean(~y, des); svyby(~y, ~g, des, svymean)
#:     svyratio(~y, ~x, subset(des, g == "a"))
#:
#: ("average" gives NaN: a lonely SSU is the only stratum of its PSU at stage 2.)
THREE_STAGE_R: dict[tuple[str, str], tuple[float, float]] = {
    ("adjust", "total"): (81288.766784529595, 7319.9983988962103),
    ("adjust", "mean"): (48.386170705077099, 1.4180678503717701),
    ("adjust", "mean_a"): (48.495873995073197, 2.8223848898042001),
    ("adjust", "mean_b"): (48.231747602598602, 3.0155582082480898),
    ("adjust", "ratio_a"): (19.101363307799598, 1.4640780973163701),
    ("average", "total"): (81288.766784529595, math.nan),
    ("average", "mean"): (48.386170705077099, math.nan),
    ("average", "mean_a"): (48.495873995073197, math.nan),
    ("average", "mean_b"): (48.231747602598602, math.nan),
    ("average", "ratio_a"): (19.101363307799598, math.nan),
    ("remove", "total"): (81288.766784529595, 2268.4383874072801),
    ("remove", "mean"): (48.386170705077099, 1.35026094488528),
    ("remove", "mean_a"): (48.495873995073197, 2.7235773565643302),
    ("remove", "mean_b"): (48.231747602598602, 2.8677646811890098),
    ("remove", "ratio_a"): (19.101363307799598, 1.34898875734104),
    ("certainty", "total"): (81288.766784529595, 2268.4383874072801),
    ("certainty", "mean"): (48.386170705077099, 1.35026094488528),
    ("certainty", "mean_a"): (48.495873995073197, 2.7235773565643302),
    ("certainty", "mean_b"): (48.231747602598602, 2.8677646811890098),
    ("certainty", "ratio_a"): (19.101363307799598, 1.34898875734104),
}


@pytest.mark.parametrize("policy", ["adjust", "average", "remove", "certainty"])
def test_three_stage_design_matches_r(policy: str) -> None:
    data = pd.read_csv(io.StringIO(THREE_STAGE_CSV))
    design = Design(psu=["p", "s", "t"], strata="h", fpc=["N1", "N2", "N3"],
                    lonely_psu=policy)  # type: ignore[arg-type]
    by = estimate(data, "mean", "y", by="g", design=design)
    ours = {
        "total": estimate(data, "total", "y", design=design).iloc[0],
        "mean": estimate(data, "mean", "y", design=design).iloc[0],
        "mean_a": by[by["g"] == "a"].iloc[0],
        "mean_b": by[by["g"] == "b"].iloc[0],
        "ratio_a": estimate(data, "ratio", "y", x="x", where="g == 'a'", design=design).iloc[0],
    }
    for what, row in ours.items():
        value, se = THREE_STAGE_R[(policy, what)]
        assert _same(float(row["value"]), value, value), (what, row["value"], value)
        assert _same(float(row["se"]), se, value), (what, row["se"], se)
